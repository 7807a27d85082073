# Pester 5 tests of the run's retry policy: one value, built once from the public parameters,
# that every request of the run follows.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'New-PostureRetryPolicy' {
    It 'its defaults are the public script''s, so a policy built without them retries as a run does' {
        $script = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'Send-PostureSnapshot.ps1'
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($script, [ref]$tokens, [ref]$errors)
        $defaults = @{}
        foreach ($p in $ast.ParamBlock.Parameters) {
            if ($null -ne $p.DefaultValue) { $defaults[$p.Name.VariablePath.UserPath] = $p.DefaultValue.SafeGetValue() }
        }
        $policy = New-PostureRetryPolicy
        foreach ($name in @('TimeoutSec', 'MaxAttempts', 'BaseDelaySeconds', 'MaxDelaySeconds', 'MaxRetryAfterSeconds')) {
            $policy.$name | Should -Be $defaults[$name] -Because "-$name defaults to $($defaults[$name]) in Send-PostureSnapshot.ps1"
        }
        $policy.Deadline | Should -BeNullOrEmpty
    }
    It 'refuses a policy that could never send: no attempt, or a request without time' {
        { New-PostureRetryPolicy -MaxAttempts 0 } | Should -Throw
        { New-PostureRetryPolicy -TimeoutSec 0 } | Should -Throw
        { New-PostureRetryPolicy -MaxRetryAfterSeconds -1 } | Should -Throw
    }
}

Describe 'Invoke-PostureSnapshot builds one policy from its parameters and hands it to every request' {
    BeforeEach {
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:clock = [datetime]::SpecifyKind([datetime]'2026-12-01T01:00:00', 'Utc')
        Mock Get-PostureUtcNow { $script:clock }
        Mock Set-PostureTlsProtocol { $null }
        Mock Wait-PostureRetry { $null }
        Mock New-PostureSnapshot { New-FakeSnapshot -Sequence 1 }
        $script:policies = New-Object System.Collections.ArrayList
        Mock Invoke-PostureHttpRequestWithRetry {
            [void]$script:policies.Add(@{ Uri = $Uri; Policy = $RetryPolicy })
            if ($Uri -like '*/manifest') { return @{ StatusCode = 200; Content = '{"schema":"fleet-posture/manifest@1","version":"1"}'; Attempts = 1; OutOfTime = $false; WaitAsked = $null; WaitNote = ''; RetryAfter = $null; Error = $null } }
            if ($Uri -like '*/enroll') { return @{ StatusCode = 201; Content = '{"server":"exch01","keyId":"k2","key":"fp1.new","issuedAt":"2026-12-01T01:00:00.000Z","replaced":[]}'; Attempts = 1; OutOfTime = $false; WaitAsked = $null; WaitNote = ''; RetryAfter = $null; Error = $null } }
            @{ StatusCode = 201; Content = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'; Attempts = 1; OutOfTime = $false; WaitAsked = $null; WaitNote = ''; RetryAfter = $null; Error = $null }
        }
        Mock Save-PostureConfig { $null }
    }

    It 'enrolment, the manifest and the post get the same policy: the run''s values and the end of its budget' {
        Mock Read-PostureConfig { @{ Endpoint = 'https://x'; ApiKey = ''; HeaderName = 'x-api-key'; EnrolmentSecret = 's'; EnrolmentClaim = ''; KeyId = '' } }
        $r = Invoke-PostureSnapshot -DataPath $script:data -MaxAttempts 3 -BaseDelaySeconds 5 -MaxDelaySeconds 40 -MaxRetryAfterSeconds 120 -TimeoutSec 30 -RunBudgetSeconds 900 -WarningAction SilentlyContinue
        $r.ExitCode | Should -Be 0
        @($script:policies | ForEach-Object { ($_.Uri -split '/')[-1] }) | Should -Be @('enroll', 'manifest', 'snapshots')
        $first = $script:policies[0].Policy
        foreach ($call in $script:policies) { [object]::ReferenceEquals($call.Policy, $first) | Should -BeTrue -Because "$($call.Uri) follows the run's one policy" }
        $first.MaxAttempts | Should -Be 3
        $first.BaseDelaySeconds | Should -Be 5
        $first.MaxDelaySeconds | Should -Be 40
        $first.MaxRetryAfterSeconds | Should -Be 120
        $first.TimeoutSec | Should -Be 30
        $first.Deadline | Should -Be $script:clock.AddSeconds(900)
    }
}
