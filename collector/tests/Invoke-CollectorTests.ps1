<#
.SYNOPSIS
    Runs the collector's Pester suite (every *.Tests.ps1 beside this script) in strict mode and
    prints "collector: N passed, N failed, N skipped".

.DESCRIPTION
    npm run test:collector and npm test call this under PowerShell 7 with the Pester module that
    npm run tools installed. A failed BeforeAll or a test file that cannot be loaded counts as a
    failure. -ResultPath writes one JSON record per test (name, result, message) for npm test.

.PARAMETER PesterPath
    Pester.psd1 to import (Pester 5).

.PARAMETER ResultPath
    Optional JSON file for the per-test results.

.EXAMPLE
    pwsh -NoProfile -File collector/tests/Invoke-CollectorTests.ps1 -PesterPath .tools/nuget/pester/5.7.1/tools/Pester.psd1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$PesterPath,
    [string]$ResultPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

Import-Module -Name $PesterPath -Force
$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Normal'
$run = Invoke-Pester -Configuration $config

$records = New-Object System.Collections.ArrayList
foreach ($t in $run.Tests) {
    $message = ''
    if ($t.ErrorRecord.Count -gt 0) { $message = [string]$t.ErrorRecord[0] }
    [void]$records.Add([ordered]@{ name = $t.ExpandedPath; file = (Split-Path -Leaf $t.ScriptBlock.File); result = [string]$t.Result; message = $message })
}
# A block whose BeforeAll/AfterAll failed, or a file that did not load, is a failure of its own.
foreach ($c in $run.Containers) {
    if ($c.Result -eq 'Failed' -and $c.ErrorRecord.Count -gt 0) {
        [void]$records.Add([ordered]@{ name = ('{0} (file setup)' -f $c.Item); file = (Split-Path -Leaf ([string]$c.Item)); result = 'Failed'; message = [string]$c.ErrorRecord[0] })
    }
}
$failed = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount

if ($ResultPath) {
    $dir = Split-Path -Parent $ResultPath
    if ($dir -and -not (Test-Path -LiteralPath $dir)) { [void](New-Item -ItemType Directory -Path $dir -Force) }
    $json = ConvertTo-Json -InputObject @($records) -Depth 4
    [System.IO.File]::WriteAllText($ResultPath, $json, (New-Object System.Text.UTF8Encoding($false)))
}
if ($run.SkippedCount -gt 0) {
    Write-Output ('{0} test(s) need Windows (registry, DPAPI, ACLs) and run in the collector workflow on Windows.' -f $run.SkippedCount)
}
Write-Output ('collector: {0} passed, {1} failed, {2} skipped' -f $run.PassedCount, $failed, $run.SkippedCount)
if ($failed -gt 0) { exit 1 }
exit 0
