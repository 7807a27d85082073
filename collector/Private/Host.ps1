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

function Repair-PostureHalfCharacter {
    <#
    .SYNOPSIS
        Text with each half of a UTF-16 surrogate pair (a high one with no low one after it, a low
        one with no high one before it) replaced by U+FFFD, and how many were: @{ Text; Count }.
        Whole pairs are kept as they are.
    .EXAMPLE
        Repair-PostureHalfCharacter -Text ('a' + [char]0xD800 + 'b')
        Returns @{ Text = "a<U+FFFD>b"; Count = 1 }.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Text
    )
    $count = [System.Text.RegularExpressions.Regex]::Matches($Text, $script:PostureHalfCharacterPattern).Count
    if ($count -eq 0) { return @{ Text = $Text; Count = 0 } }
    return @{ Text = [System.Text.RegularExpressions.Regex]::Replace($Text, $script:PostureHalfCharacterPattern, [string][char]0xFFFD); Count = $count }
}

function Repair-PostureEntryText {
    <#
    .SYNOPSIS
        Repairs (Repair-PostureHalfCharacter) the named text members of one snapshot entry (a
        dictionary) in place: a string, or each string of an array (REG_MULTI_SZ data). Returns
        @{ Count = <characters replaced>; Fields = <names of the members that held any> }.
    .EXAMPLE
        Repair-PostureEntryText -Entry $service -Name 'name', 'displayName', 'pathName'
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [AllowNull()]
        $Entry,
        [Parameter(Mandatory = $true)]
        [string[]]$Name
    )
    $total = 0
    $fields = New-Object System.Collections.Generic.List[string]
    if ($Entry -isnot [System.Collections.IDictionary]) { return @{ Count = 0; Fields = $fields.ToArray() } }
    foreach ($n in $Name) {
        if (-not $Entry.Contains($n)) { continue }
        $v = $Entry[$n]
        $count = 0
        if ($v -is [string]) {
            $r = Repair-PostureHalfCharacter -Text $v
            if ($r.Count -gt 0) { $Entry[$n] = $r.Text; $count = $r.Count }
        } elseif ($v -is [string[]]) {
            for ($i = 0; $i -lt $v.Length; $i++) {
                if ($null -eq $v[$i]) { continue }
                $r = Repair-PostureHalfCharacter -Text $v[$i]
                if ($r.Count -gt 0) { $v[$i] = $r.Text; $count += $r.Count }
            }
        }
        if ($count -gt 0) { $total += $count; $fields.Add($n) }
    }
    return @{ Count = $total; Fields = $fields.ToArray() }
}

function Format-PostureHalfCharacterWarning {
    <#
    .SYNOPSIS
        The warning for one collected value whose text held Count halves of UTF-16 surrogate
        pairs, now U+FFFD: What names it (a registry value, a service, a file path).
    .EXAMPLE
        Format-PostureHalfCharacterWarning -What 'Registry value "x" of HKLM\SOFTWARE\y (view 64)' -Count 2
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$What,
        [Parameter(Mandatory = $true)]
        [int]$Count
    )
    $how = '{0} characters were halves of UTF-16 surrogate pairs (characters cut in two) and are sent as U+FFFD' -f $Count
    if ($Count -eq 1) { $how = '1 character was half of a UTF-16 surrogate pair (a character cut in two) and is sent as U+FFFD' }
    return ('{0}: {1}, as the service refuses a snapshot holding one; the rest is sent as read.' -f $What, $how)
}

function Repair-PostureSnapshotText {
    <#
    .SYNOPSIS
        Replaces, in place, each half of a UTF-16 surrogate pair in a collected snapshot's strings
        by U+FFFD, and returns one warning (Format-PostureHalfCharacterWarning) per value that
        held any: each registry key (its path, its read error) and each of its values (name and
        data), each service, each file (path, tail, read error), the host's os. The service
        refuses a snapshot holding one (invalid_snapshot), and every later run would collect the
        same value again: replaced, the host keeps reporting. A rule looks only for whole
        characters, so no verdict changes.
    .EXAMPLE
        foreach ($w in (Repair-PostureSnapshotText -Snapshot $snapshot)) { Write-PostureLog -Level Warning -Message $w }
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary]$Snapshot
    )
    $warnings = New-Object System.Collections.Generic.List[string]
    $listOf = { param($name) if ($Snapshot.Contains($name) -and $null -ne $Snapshot[$name]) { @($Snapshot[$name]) } else { @() } }
    foreach ($e in (& $listOf 'registry')) {
        if ($e -isnot [System.Collections.IDictionary]) { continue }
        $count = (Repair-PostureEntryText -Entry $e -Name 'path').Count
        if ($e.Contains('error')) { $count += (Repair-PostureEntryText -Entry $e['error'] -Name 'message').Count }
        $key = '{0} (view {1})' -f $e['path'], $e['view']
        if ($count -gt 0) { $warnings.Add((Format-PostureHalfCharacterWarning -What ('Registry key ' + $key) -Count $count)) }
        if (-not $e.Contains('values') -or $null -eq $e['values']) { continue }
        foreach ($v in @($e['values'])) {
            $r = Repair-PostureEntryText -Entry $v -Name 'name', 'data'
            if ($r.Count -gt 0) { $warnings.Add((Format-PostureHalfCharacterWarning -What ('Registry value "{0}" of {1}' -f $v['name'], $key) -Count $r.Count)) }
        }
    }
    foreach ($s in (& $listOf 'services')) {
        $r = Repair-PostureEntryText -Entry $s -Name 'name', 'displayName', 'state', 'startMode', 'pathName'
        if ($r.Count -gt 0) { $warnings.Add((Format-PostureHalfCharacterWarning -What ('Service "{0}" ({1})' -f $s['name'], ($r.Fields -join ', ')) -Count $r.Count)) }
    }
    foreach ($f in (& $listOf 'files')) {
        if ($f -isnot [System.Collections.IDictionary]) { continue }
        $r = Repair-PostureEntryText -Entry $f -Name 'path', 'tail'
        $count = $r.Count
        $fields = New-Object System.Collections.Generic.List[string]
        foreach ($n in $r.Fields) { $fields.Add($n) }
        if ($f.Contains('error')) {
            $m = Repair-PostureEntryText -Entry $f['error'] -Name 'message'
            if ($m.Count -gt 0) { $count += $m.Count; $fields.Add('error') }
        }
        if ($count -gt 0) { $warnings.Add((Format-PostureHalfCharacterWarning -What ('File {0} ({1})' -f $f['path'], ($fields.ToArray() -join ', ')) -Count $count)) }
    }
    if ($Snapshot.Contains('host') -and $Snapshot['host'] -is [System.Collections.IDictionary] -and $Snapshot['host'].Contains('os')) {
        $r = Repair-PostureEntryText -Entry $Snapshot['host']['os'] -Name 'caption', 'version', 'architecture'
        if ($r.Count -gt 0) { $warnings.Add((Format-PostureHalfCharacterWarning -What ('The host''s operating system ({0})' -f ($r.Fields -join ', ')) -Count $r.Count)) }
    }
    return , $warnings.ToArray()
}
