# PSScriptAnalyzer settings for the collector (used by .github/workflows/collector.yml).
# Rules are suppressed where needed in the code itself, with a justification, never here.
@{
    Severity     = @('Error', 'Warning')
    IncludeDefaultRules = $true
    Rules        = @{
        PSUseCompatibleSyntax = @{
            Enable         = $true
            TargetVersions = @('5.1', '7.0')
        }
    }
}
