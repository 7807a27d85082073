# Host facts and the snapshot document.

function Get-PostureOperatingSystem {
    <#
    .SYNOPSIS
        Win32_OperatingSystem through CIM, else WMI; $null when neither answers.
    .EXAMPLE
        Get-PostureOperatingSystem
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidUsingWMICmdlet', '', Justification = 'WMI is the fallback where CIM is missing (Windows PowerShell 2.0) or WinRM is off.')]
    [CmdletBinding()]
    param()
    $fixture = Get-PostureFixture
    if ($null -ne $fixture) { return (Get-PostureFixtureOperatingSystem -Fixture $fixture) }
    if (Get-Command -Name Get-CimInstance -ErrorAction SilentlyContinue) {
        try { return (Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop | Select-Object -First 1) } catch { Write-Verbose ("CIM: {0}" -f $_.Exception.Message) }
    }
    try { return (Get-WmiObject -Class Win32_OperatingSystem -ErrorAction Stop | Select-Object -First 1) } catch { Write-Verbose ("WMI: {0}" -f $_.Exception.Message) }
    return $null
}

function Get-PostureHostFact {
    <#
    .SYNOPSIS
        The snapshot's host object: name, fqdn, os (caption, version, architecture) and
        utcOffsetMinutes at the given time.
    .EXAMPLE
        Get-PostureHostFact -At (Get-Date)
    #>
    [CmdletBinding()]
    param(
        [datetime]$At = (Get-Date)
    )
    $h = New-Object System.Collections.Specialized.OrderedDictionary
    $h['name'] = [string]$env:COMPUTERNAME
    $fixture = Get-PostureFixture
    if ($null -ne $fixture) {
        $fqdn = Get-PostureMember -InputObject (Get-PostureMember -InputObject $fixture -Name 'host') -Name 'fqdn'
        if ($fqdn) { $h['fqdn'] = [string]$fqdn }
    } else {
        try {
            $ip = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
            if ($ip.DomainName) { $h['fqdn'] = ('{0}.{1}' -f $ip.HostName, $ip.DomainName).ToLowerInvariant() }
        } catch {
            Write-Verbose ("No DNS domain: {0}" -f $_.Exception.Message)
        }
    }
    $os = New-Object System.Collections.Specialized.OrderedDictionary
    $w = Get-PostureOperatingSystem
    $arch = '32-bit'
    if (Test-PostureOs64Bit) { $arch = '64-bit' }
    if ($null -ne $w) {
        if ($w.Caption) { $os['caption'] = ([string]$w.Caption).Trim() }
        if ($w.Version) { $os['version'] = [string]$w.Version }
        # OSArchitecture is missing on Windows Server 2003: derive it from the environment.
        $prop = $w.PSObject.Properties['OSArchitecture']
        if ($null -ne $prop -and $prop.Value) { $arch = [string]$prop.Value }
    } else {
        $os['version'] = [System.Environment]::OSVersion.Version.ToString()
    }
    $os['architecture'] = $arch
    $h['os'] = $os
    # TimeZoneInfo where .NET has it (3.5+), the older TimeZone class otherwise.
    if ('System.TimeZoneInfo' -as [type]) {
        $offset = [System.TimeZoneInfo]::Local.GetUtcOffset($At)
    } else {
        $offset = [System.TimeZone]::CurrentTimeZone.GetUtcOffset($At)
    }
    $h['utcOffsetMinutes'] = [int][Math]::Round($offset.TotalMinutes)
    return $h
}

function New-PostureSnapshot {
    <#
    .SYNOPSIS
        Collects everything the manifest asks for into one snapshot (an ordered dictionary) with a
        new snapshotId.
    .EXAMPLE
        $snapshot = New-PostureSnapshot -Manifest $manifest
        ConvertTo-PostureJson -InputObject $snapshot
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an object in memory; changes nothing.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Manifest,
        [string]$CollectorVersion = (Get-PostureCollectorVersion)
    )
    $now = Get-Date
    $s = New-Object System.Collections.Specialized.OrderedDictionary
    $s['schema'] = 'fleet-posture/snapshot@1'
    $s['snapshotId'] = [System.Guid]::NewGuid().ToString()
    $s['collectedAt'] = $now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
    $c = New-Object System.Collections.Specialized.OrderedDictionary
    $c['name'] = 'Send-PostureSnapshot'
    $c['version'] = $CollectorVersion
    $mv = Get-PostureMember -InputObject $Manifest -Name 'version'
    if ($mv) { $c['manifestVersion'] = [string]$mv }
    $s['collector'] = $c
    $s['host'] = Get-PostureHostFact -At $now
    $s['registry'] = Get-PostureRegistrySnapshot -Manifest $Manifest
    $serviceNames = [string[]]@(Get-PostureMember -InputObject $Manifest -Name 'services' -Default @())
    $s['services'] = Get-PostureServiceSnapshot -Name $serviceNames
    # After the registry: a file's path may come from a registry value read just now.
    $s['files'] = Get-PostureFileSnapshot -Manifest $Manifest -Registry @($s['registry'])
    Write-Verbose ("Snapshot {0}: {1} registry entries, {2} services, {3} files" -f $s['snapshotId'], @($s['registry']).Count, @($s['services']).Count, @($s['files']).Count)
    return $s
}
