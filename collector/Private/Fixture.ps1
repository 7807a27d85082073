# The one seam for running the collector away from a real server (the project's end-to-end tests,
# a support engineer replaying a customer's snapshot): when FLEET_POSTURE_FIXTURE names a fixture
# file, the edge reads (registry keys, Win32_Service and Win32_OperatingSystem, the DNS name, the
# files to tail) are answered from it; everything else (what to read, encoding, the snapshot,
# sending, the spool) runs as on a server. Unset on servers: nothing here is used there.
#
# Fixture file (UTF-8 JSON): a snapshot's "host", "registry" and "services" as the collector
# writes them (collector/examples/*.json), plus "files": [{ "path": "<Windows path>",
# "file": "<local file holding its bytes>" }].

$script:PostureFixture = $null
$script:PostureFixturePath = $null

function Get-PostureFixture {
    <#
    .SYNOPSIS
        The fixture named by FLEET_POSTURE_FIXTURE (parsed once), or $null when it is not set.
    .EXAMPLE
        if ($null -ne (Get-PostureFixture)) { 'reads come from the fixture' }
    #>
    [CmdletBinding()]
    param()
    $path = [System.Environment]::GetEnvironmentVariable('FLEET_POSTURE_FIXTURE')
    if (-not $path) { return $null }
    if ($script:PostureFixturePath -ne $path) {
        $script:PostureFixture = ConvertFrom-PostureJson -Json ([System.IO.File]::ReadAllText($path))
        $script:PostureFixturePath = $path
        Write-Verbose ('Reads come from the fixture {0}, not from this machine.' -f $path)
    }
    return $script:PostureFixture
}

function ConvertTo-PostureFixtureValueData {
    <#
    .SYNOPSIS
        A snapshot registry value as RegistryKey.GetValue returns it: REG_DWORD as Int32,
        REG_QWORD as Int64, REG_MULTI_SZ as string[], binary types as byte[].
    .EXAMPLE
        ConvertTo-PostureFixtureValueData -Value $value -Expand
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Value,
        [switch]$Expand
    )
    $type = [string](Get-PostureMember -InputObject $Value -Name 'type')
    $data = Get-PostureMember -InputObject $Value -Name 'data'
    switch ($type) {
        'REG_SZ' { return [string]$data }
        'REG_EXPAND_SZ' { if ($Expand) { return [System.Environment]::ExpandEnvironmentVariables([string]$data) } else { return [string]$data } }
        'REG_MULTI_SZ' { return , [string[]]@($data) }
        'REG_DWORD' { return [System.BitConverter]::ToInt32([System.BitConverter]::GetBytes([uint32]$data), 0) }
        'REG_QWORD' { return [System.BitConverter]::ToInt64([System.BitConverter]::GetBytes([uint64]::Parse([string]$data, [System.Globalization.CultureInfo]::InvariantCulture)), 0) }
        default { return , [System.Convert]::FromBase64String([string]$data) }
    }
}

function Get-PostureFixtureValueKind {
    <#
    .SYNOPSIS
        The RegistryValueKind name .NET reports for a snapshot value type.
    .EXAMPLE
        Get-PostureFixtureValueKind -Type 'REG_DWORD'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Type
    )
    $kinds = @{ REG_SZ = 'String'; REG_EXPAND_SZ = 'ExpandString'; REG_MULTI_SZ = 'MultiString'; REG_DWORD = 'DWord'; REG_QWORD = 'QWord'; REG_BINARY = 'Binary'; REG_NONE = 'None' }
    if ($kinds.ContainsKey($Type)) { return $kinds[$Type] }
    return 'Unknown'
}

function New-PostureFixtureRegistryKey {
    <#
    .SYNOPSIS
        An object that answers the RegistryKey calls the collector makes (OpenSubKey, GetValueNames,
        GetValueKind, GetValue, GetSubKeyNames) from the fixture's registry entries of one view.
        A key whose entry carries an error throws the matching exception when opened.
    .EXAMPLE
        New-PostureFixtureRegistryKey -Fixture $fixture -Hive HKLM -View 64
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an object in memory; changes nothing.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Fixture,
        [Parameter(Mandatory = $true)]
        [string]$Hive,
        [Parameter(Mandatory = $true)]
        [string]$View,
        [AllowEmptyString()]
        [string]$SubKey = '',
        $Entry = $null
    )
    $key = New-Object PSObject -Property @{ Fixture = $Fixture; Hive = $Hive; View = $View; SubKey = $SubKey; Entry = $Entry; LastWriteTimeUtc = $null }
    if ($null -ne $Entry) {
        $lw = Get-PostureMember -InputObject $Entry -Name 'lastWriteTime'
        if ($lw) { $key.LastWriteTimeUtc = [datetime]::Parse([string]$lw, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal') }
    }
    $key | Add-Member -MemberType ScriptMethod -Name FullPath -Value {
        param($relative)
        $p = $this.Hive
        if ($this.SubKey) { $p = $p + '\' + $this.SubKey }
        if ($relative) { $p = $p + '\' + $relative }
        return $p
    }
    $key | Add-Member -MemberType ScriptMethod -Name OpenSubKey -Value {
        param($name, $writable)
        $null = $writable
        $full = $this.FullPath($name)
        foreach ($e in @(Get-PostureMember -InputObject $this.Fixture -Name 'registry' -Default @())) {
            if ([string](Get-PostureMember -InputObject $e -Name 'view') -ne $this.View) { continue }
            if (-not [string]::Equals([string](Get-PostureMember -InputObject $e -Name 'path'), $full, [System.StringComparison]::OrdinalIgnoreCase)) { continue }
            if (-not [bool](Get-PostureMember -InputObject $e -Name 'exists' -Default $false)) { return $null }
            $err = Get-PostureMember -InputObject $e -Name 'error'
            if ($null -ne $err) {
                $message = [string](Get-PostureMember -InputObject $err -Name 'message')
                switch ([string](Get-PostureMember -InputObject $err -Name 'code')) {
                    'AccessDenied' { throw (New-Object System.Security.SecurityException($message)) }
                    'Timeout' { throw (New-Object System.TimeoutException($message)) }
                    default { throw (New-Object System.IO.IOException($message)) }
                }
            }
            $sub = $full.Substring($this.Hive.Length + 1)
            return (New-PostureFixtureRegistryKey -Fixture $this.Fixture -Hive $this.Hive -View $this.View -SubKey $sub -Entry $e)
        }
        return $null
    }
    $key | Add-Member -MemberType ScriptMethod -Name GetValueNames -Value {
        return [string[]]@(Get-PostureMember -InputObject $this.Entry -Name 'values' -Default @() | ForEach-Object { [string](Get-PostureMember -InputObject $_ -Name 'name') })
    }
    $key | Add-Member -MemberType ScriptMethod -Name FindValue -Value {
        param($name)
        foreach ($v in @(Get-PostureMember -InputObject $this.Entry -Name 'values' -Default @())) {
            if ([string]::Equals([string](Get-PostureMember -InputObject $v -Name 'name'), $name, [System.StringComparison]::OrdinalIgnoreCase)) { return $v }
        }
        return $null
    }
    $key | Add-Member -MemberType ScriptMethod -Name GetValueKind -Value {
        param($name)
        return (Get-PostureFixtureValueKind -Type ([string](Get-PostureMember -InputObject $this.FindValue($name) -Name 'type')))
    }
    $key | Add-Member -MemberType ScriptMethod -Name GetValue -Value {
        param($name, $default, $options)
        $v = $this.FindValue($name)
        if ($null -eq $v) { return $default }
        $expand = -not ([string]$options -match 'DoNotExpandEnvironmentNames')
        # The comma keeps a byte[] or string[] one object, as RegistryKey.GetValue returns it.
        return , (ConvertTo-PostureFixtureValueData -Value $v -Expand:$expand)
    }
    $key | Add-Member -MemberType ScriptMethod -Name GetSubKeyNames -Value {
        $prefix = $this.FullPath('') + '\'
        $names = New-Object System.Collections.Generic.List[string]
        foreach ($e in @(Get-PostureMember -InputObject $this.Fixture -Name 'registry' -Default @())) {
            if ([string](Get-PostureMember -InputObject $e -Name 'view') -ne $this.View) { continue }
            $p = [string](Get-PostureMember -InputObject $e -Name 'path')
            if (-not $p.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) { continue }
            $child = $p.Substring($prefix.Length).Split('\')[0]
            if ($child -and -not $names.Contains($child)) { $names.Add($child) }
        }
        return [string[]]$names.ToArray()
    }
    return $key
}

function Get-PostureFixtureService {
    <#
    .SYNOPSIS
        The fixture's services as Win32_Service objects, for a WQL filter of Name='...' clauses.
    .EXAMPLE
        Get-PostureFixtureService -Fixture $fixture -Filter "Name='McShield' OR Name='SMTPSVC'"
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Fixture,
        [Parameter(Mandatory = $true)]
        [string]$Filter
    )
    $wanted = @([regex]::Matches($Filter, "Name='((?:[^'\\]|\\.)*)'") | ForEach-Object { $_.Groups[1].Value -replace "\\(.)", '$1' })
    $out = New-Object System.Collections.ArrayList
    foreach ($s in @(Get-PostureMember -InputObject $Fixture -Name 'services' -Default @())) {
        $name = [string](Get-PostureMember -InputObject $s -Name 'name')
        if (-not ($wanted | Where-Object { [string]::Equals($_, $name, [System.StringComparison]::OrdinalIgnoreCase) })) { continue }
        [void]$out.Add([pscustomobject]@{
                Name        = $name
                DisplayName = Get-PostureMember -InputObject $s -Name 'displayName'
                State       = Get-PostureMember -InputObject $s -Name 'state'
                Started     = Get-PostureMember -InputObject $s -Name 'started'
                StartMode   = Get-PostureMember -InputObject $s -Name 'startMode'
                PathName    = Get-PostureMember -InputObject $s -Name 'pathName'
                ProcessId   = Get-PostureMember -InputObject $s -Name 'processId'
            })
    }
    return , $out.ToArray()
}

function Get-PostureFixtureOperatingSystem {
    <#
    .SYNOPSIS
        The fixture's host.os as a Win32_OperatingSystem object (Caption, Version, OSArchitecture).
    .EXAMPLE
        Get-PostureFixtureOperatingSystem -Fixture $fixture
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Fixture
    )
    $os = Get-PostureMember -InputObject (Get-PostureMember -InputObject $Fixture -Name 'host') -Name 'os'
    if ($null -eq $os) { return $null }
    return [pscustomobject]@{
        Caption        = Get-PostureMember -InputObject $os -Name 'caption'
        Version        = Get-PostureMember -InputObject $os -Name 'version'
        OSArchitecture = Get-PostureMember -InputObject $os -Name 'architecture'
    }
}

function Resolve-PostureFixtureFile {
    <#
    .SYNOPSIS
        Where to read a (Windows) file path from: the fixture's local file for it, or a path that
        does not exist when the fixture has none (the file is absent on that machine).
    .EXAMPLE
        Resolve-PostureFixtureFile -Fixture $fixture -Path 'C:\ProgramData\McAfee\DesktopProtection\AccessProtectionLog.txt'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        $Fixture,
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    foreach ($f in @(Get-PostureMember -InputObject $Fixture -Name 'files' -Default @())) {
        if ([string]::Equals([string](Get-PostureMember -InputObject $f -Name 'path'), $Path, [System.StringComparison]::OrdinalIgnoreCase)) {
            return [string](Get-PostureMember -InputObject $f -Name 'file')
        }
    }
    return (Join-Path -Path (Split-Path -Parent $script:PostureFixturePath) -ChildPath ('absent-' + [guid]::NewGuid().ToString()))
}

# DPAPI is Windows only. Off Windows, with a fixture set, the configuration is kept in a marked,
# unprotected form so the end-to-end test can run the collector's own storage code; on Windows the
# real DPAPI is used, fixture or not.
$script:PostureFixtureProtectionMark = 'fleet-posture fixture, NOT protected:'

function Test-PostureFixtureProtection {
    <#
    .SYNOPSIS
        True when the fixture stands in for DPAPI: FLEET_POSTURE_FIXTURE is set and this is not
        Windows (which alone has DPAPI).
    .EXAMPLE
        if (Test-PostureFixtureProtection) { 'the configuration is not encrypted here' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    return ([System.Environment]::OSVersion.Platform -ne [System.PlatformID]::Win32NT -and $null -ne (Get-PostureFixture))
}

function Protect-PostureFixtureSecret {
    <#
    .SYNOPSIS
        The fixture's stand-in for DPAPI: the text, UTF-8, after a mark saying it is not protected.
    .EXAMPLE
        Protect-PostureFixtureSecret -Text '{"endpoint":"http://127.0.0.1:7071/api"}'
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Text
    )
    return , [System.Text.Encoding]::UTF8.GetBytes($script:PostureFixtureProtectionMark + $Text)
}

function Unprotect-PostureFixtureSecret {
    <#
    .SYNOPSIS
        Reads what Protect-PostureFixtureSecret wrote; throws for anything else (a real DPAPI blob).
    .EXAMPLE
        Unprotect-PostureFixtureSecret -Bytes ([System.IO.File]::ReadAllBytes($path))
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [byte[]]$Bytes
    )
    $text = [System.Text.Encoding]::UTF8.GetString($Bytes)
    if (-not $text.StartsWith($script:PostureFixtureProtectionMark, [System.StringComparison]::Ordinal)) {
        throw 'This configuration was not written under a fixture; it can only be read with DPAPI on Windows.'
    }
    return $text.Substring($script:PostureFixtureProtectionMark.Length)
}
