# Shared by the Pester tests: load the collector's functions and build fake registry keys.
# The tests run under strict mode, as the collector's own entry scripts do.
Set-StrictMode -Version Latest

$collectorRoot = Split-Path -Parent $PSScriptRoot
foreach ($file in @(Get-ChildItem -LiteralPath (Join-Path -Path $collectorRoot -ChildPath 'Private') -Filter '*.ps1')) {
    . $file.FullName
}

# PowerShell 7 has no Get-WmiObject, and off Windows no Get-CimInstance either; Pester can only
# mock a command that exists. Defined in the global scope so the collector's own Get-Command
# checks see them as the commands Windows has.
if (-not (Get-Command -Name Get-WmiObject -ErrorAction SilentlyContinue)) {
    function global:Get-WmiObject {
        param($Class, $Filter, $ErrorAction)
        throw 'Get-WmiObject is not available'
    }
}
if (-not (Get-Command -Name Get-CimInstance -ErrorAction SilentlyContinue)) {
    function global:Get-CimInstance {
        param($ClassName, $Filter, $ErrorAction)
        throw 'Get-CimInstance is not available'
    }
}

function New-FakeRegistryKey {
    <#
    .SYNOPSIS
        An object that answers the RegistryKey methods the collector calls, from hashtables.
    .EXAMPLE
        New-FakeRegistryKey -Values @{ APEnabled = 1 } -Kinds @{ APEnabled = 'DWord' } -SubKeys @{ Child = (New-FakeRegistryKey) }
    #>
    param(
        [System.Collections.IDictionary]$Values = @{},
        [System.Collections.IDictionary]$Kinds = @{},
        [System.Collections.IDictionary]$SubKeys = @{},
        [System.Collections.IDictionary]$Expanded = @{}
    )
    $key = New-Object PSObject -Property @{ Values = $Values; Kinds = $Kinds; SubKeys = $SubKeys; Expanded = $Expanded; Calls = (New-Object System.Collections.ArrayList) }
    $key | Add-Member -MemberType ScriptMethod -Name GetValueNames -Value { [string[]]@($this.Values.Keys) }
    $key | Add-Member -MemberType ScriptMethod -Name GetValueKind -Value { param($name) [Microsoft.Win32.RegistryValueKind]$this.Kinds[$name] }
    $key | Add-Member -MemberType ScriptMethod -Name GetValue -Value {
        param($name, $default, $options)
        [void]$this.Calls.Add(@($name, $options))
        if ($null -eq $options -and $this.Expanded.Contains($name)) { return $this.Expanded[$name] }
        return $this.Values[$name]
    }
    $key | Add-Member -MemberType ScriptMethod -Name GetSubKeyNames -Value { [string[]]@($this.SubKeys.Keys) }
    $key | Add-Member -MemberType ScriptMethod -Name OpenSubKey -Value {
        param($path, $writable)
        $node = $this
        foreach ($segment in ($path -split '\\')) {
            if ($null -eq $node) { return $null }
            $next = $null
            foreach ($k in $node.SubKeys.Keys) { if ($k -eq $segment) { $next = $node.SubKeys[$k] } }
            if ($next -is [string] -and $next -eq 'denied') { throw (New-Object System.Security.SecurityException('Requested registry access is not allowed.')) }
            $node = $next
        }
        return $node
    }
    return $key
}

function New-FakeBranch {
    <#
    .SYNOPSIS
        Nests a fake key under the path segments given (e.g. SOFTWARE, McAfee, DesktopProtection).
    .EXAMPLE
        New-FakeBranch -Segments 'SOFTWARE', 'X' -Leaf (New-FakeRegistryKey)
    #>
    param(
        [string[]]$Segments,
        $Leaf
    )
    $node = $Leaf
    for ($i = $Segments.Count - 1; $i -ge 0; $i--) {
        $node = New-FakeRegistryKey -SubKeys @{ $Segments[$i] = $node }
    }
    return $node
}

function New-FakeSnapshot {
    <#
    .SYNOPSIS
        A minimal contract snapshot whose id ends in Sequence: what a mocked New-PostureSnapshot
        returns when a test is about sending, not collecting.
    .EXAMPLE
        Mock New-PostureSnapshot { $script:seq++; New-FakeSnapshot -Sequence $script:seq }
    #>
    param([int]$Sequence = 1)
    $s = New-Object System.Collections.Specialized.OrderedDictionary
    $s['schema'] = 'fleet-posture/snapshot@1'
    $s['snapshotId'] = ('00000000-0000-4000-8000-{0:D12}' -f $Sequence)
    $s['registry'] = @(); $s['services'] = @(); $s['files'] = @()
    return $s
}

function New-AcceptedAnswer {
    <#
    .SYNOPSIS
        What Invoke-PostureHttpRequest returns for the service's verdict on the snapshot posted in
        Body: its snapshotId echoed, as the service answers (a verdict naming another snapshot
        is not this one's).
    .EXAMPLE
        Mock Invoke-PostureHttpRequest { New-AcceptedAnswer -Body $Body }
    #>
    param(
        [byte[]]$Body,
        [string]$Outcome = 'accepted',
        [int]$StatusCode = 201
    )
    $id = (ConvertFrom-PostureJson -Json ([System.Text.Encoding]::UTF8.GetString($Body))).snapshotId
    $content = '{{"snapshotId":"{0}","server":"exch01","outcome":"{1}","results":[]}}' -f $id, $Outcome
    return @{ StatusCode = $StatusCode; Content = $content; RetryAfter = $null; Error = $null }
}

function Use-SimulatedClock {
    <#
    .SYNOPSIS
        Starts a simulated clock ($script:clock, from $script:start) that only the mocked wait
        between attempts moves, so a run's budget and an HTTP date are exact. Call it in BeforeEach.
    #>
    $script:clock = [datetime]::SpecifyKind([datetime]'2026-12-01T01:00:00', 'Utc')
    $script:start = $script:clock
    Mock Get-PostureUtcNow { $script:clock }
    Mock Wait-PostureRetry { $script:clock = $script:clock.AddSeconds($Seconds) }
}

function Get-SimulatedHttpDate {
    <#
    .SYNOPSIS
        The HTTP Date (RFC 1123) of the simulated clock of Use-SimulatedClock moved by Seconds: the
        Date header of a service whose clock is that far ahead of this host's (negative: behind).
    .EXAMPLE
        New-TestHttpResponse -StatusCode 201 -Headers @{ Date = (Get-SimulatedHttpDate -Seconds -600) } -Body '{}'
    #>
    param([double]$Seconds = 0)
    return $script:clock.AddSeconds($Seconds).ToString('r', [System.Globalization.CultureInfo]::InvariantCulture)
}

function Assert-WaitedOnceInFull {
    <#
    .SYNOPSIS
        A run that waited once, WaitSeconds in full (the simulated clock moved as much), and
        delivered everything: the spool is empty. Spooled is the test's own spool listing.
    .EXAMPLE
        Assert-WaitedOnceInFull -WaitSeconds 120 -Spooled $script:spooled
    #>
    param(
        [double]$WaitSeconds,
        [scriptblock]$Spooled
    )
    Should -Invoke Wait-PostureRetry -Times 1 -Exactly
    Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq $WaitSeconds }
    ($script:clock - $script:start).TotalSeconds | Should -Be $WaitSeconds
    @(& $Spooled).Count | Should -Be 0
}

function Invoke-UndeliveredRun {
    <#
    .SYNOPSIS
        A run (data in DataPath) that must end undelivered: exit 1, its snapshot the one file in
        the spool. Returns the run for the test's own checks.
    .EXAMPLE
        $run = Invoke-UndeliveredRun -DataPath $script:data
    #>
    param([string]$DataPath)
    $run = Invoke-PostureSnapshot -DataPath $DataPath -WarningAction SilentlyContinue
    $run.ExitCode | Should -Be 1
    @(Get-ChildItem -LiteralPath (Join-Path -Path $DataPath -ChildPath 'spool') -Filter '*.json').Count | Should -Be 1
    return $run
}

function Use-TestServerRun {
    <#
    .SYNOPSIS
        BeforeEach of the tests that run the collector against the loopback server of
        TestHttpServer.ps1: a fresh data folder ($script:data), the simulated clock, no TLS change,
        a fake snapshot, and $script:run, which starts $script:server with the responses given and
        runs the collector against it (Extra: more parameters). The test's AfterEach stops the server.
    .EXAMPLE
        $r = & $script:run @($accepted) @{ RunBudgetSeconds = 200 }
    #>
    $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
    Use-SimulatedClock
    Mock Set-PostureTlsProtocol { $null }
    Mock New-PostureSnapshot { New-FakeSnapshot -Sequence 1 }
    $script:server = $null
    $script:run = {
        param([string[]]$Responses, [hashtable]$Extra = @{})
        $script:server = Start-TestHttpServer -Responses $Responses
        Invoke-PostureSnapshot -Endpoint $script:server.Uri -ApiKey 'k' -DataPath $script:data -TimeoutSec 10 -WarningAction SilentlyContinue @Extra
    }
}
