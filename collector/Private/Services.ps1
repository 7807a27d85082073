# Services: Win32_Service through CIM (Windows PowerShell 3.0+), falling back to WMI (DCOM) where
# CIM is missing or fails (Windows PowerShell 2.0, WinRM disabled).

function Get-PostureWin32Service {
    <#
    .SYNOPSIS
        Queries Win32_Service with a WQL filter: Get-CimInstance, else Get-WmiObject.
    .EXAMPLE
        Get-PostureWin32Service -Filter "Name='McShield'"
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingWMICmdlet', '', Justification = 'WMI is the fallback where CIM is missing (Windows PowerShell 2.0) or WinRM is off.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Filter
    )
    $fixture = Get-PostureFixture
    if ($null -ne $fixture) { return (Get-PostureFixtureService -Fixture $fixture -Filter $Filter) }
    if (Get-Command -Name Get-CimInstance -ErrorAction SilentlyContinue) {
        try {
            return @(Get-CimInstance -ClassName Win32_Service -Filter $Filter -ErrorAction Stop)
        } catch {
            Write-Verbose ("Get-CimInstance Win32_Service failed ({0}); trying WMI." -f $_.Exception.Message)
        }
    }
    return @(Get-WmiObject -Class Win32_Service -Filter $Filter -ErrorAction Stop)
}

function Get-PostureServiceSnapshot {
    <#
    .SYNOPSIS
        The manifest's services as the contract's service entries. A service that is not installed
        is simply absent; a failed query gives an empty list and a warning.
    .EXAMPLE
        Get-PostureServiceSnapshot -Name 'McShield', 'MSExchangeTransport'
    #>
    [CmdletBinding()]
    param(
        [AllowEmptyCollection()]
        [string[]]$Name = @()
    )
    $out = New-Object System.Collections.ArrayList
    if ($Name.Count -eq 0) { return , $out.ToArray() }
    $clauses = New-Object System.Collections.Generic.List[string]
    foreach ($n in $Name) { $clauses.Add(("Name='{0}'" -f ($n -replace '\\', '\\' -replace "'", "\'"))) }
    $found = @()
    try {
        $found = @(Get-PostureWin32Service -Filter ([string]::Join(' OR ', $clauses.ToArray())))
    } catch {
        Write-Warning ("Win32_Service could not be queried: {0}" -f $_.Exception.Message)
        return , $out.ToArray()
    }
    $seen = @{}
    foreach ($s in $found) {
        $svcName = [string]$s.Name
        if ($seen.ContainsKey($svcName.ToLowerInvariant())) { continue }
        $seen[$svcName.ToLowerInvariant()] = $true
        $entry = New-Object System.Collections.Specialized.OrderedDictionary
        $entry['name'] = $svcName
        $entry['displayName'] = $s.DisplayName
        $entry['state'] = [string]$s.State
        $entry['started'] = [bool]$s.Started
        $entry['startMode'] = $s.StartMode
        $entry['pathName'] = $s.PathName
        if ($null -ne $s.ProcessId) { $entry['processId'] = [uint32]$s.ProcessId } else { $entry['processId'] = $null }
        [void]$out.Add($entry)
        Write-Verbose ("Service {0}: {1}, started={2}" -f $svcName, $entry['state'], $entry['started'])
    }
    foreach ($n in $Name) {
        if (-not $seen.ContainsKey($n.ToLowerInvariant())) { Write-Verbose ("Service {0}: not installed" -f $n) }
    }
    return , $out.ToArray()
}
