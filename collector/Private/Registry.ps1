# Registry collection: each manifest key in both views on 64-bit Windows ("64" native, "32" what
# 32-bit programs see under Wow6432Node), once ("32") on 32-bit Windows; values encoded per the
# wire contract; key last-write time where it can be read; read errors recorded as data.
# All access to the registry goes through Open-PostureRegistryBaseKey and Open-PostureRegistrySubKey
# so that tests can mock them.

$script:PostureNativeRegistryLoaded = $null

function Test-PostureOs64Bit {
    <#
    .SYNOPSIS
        True on 64-bit Windows, whatever the bitness of this PowerShell process.
    .EXAMPLE
        if (Test-PostureOs64Bit) { 'read both views' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    if ($env:PROCESSOR_ARCHITEW6432) { return $true }
    return ($env:PROCESSOR_ARCHITECTURE -eq 'AMD64' -or $env:PROCESSOR_ARCHITECTURE -eq 'ARM64' -or $env:PROCESSOR_ARCHITECTURE -eq 'IA64')
}

function Get-PostureRegistryView {
    <#
    .SYNOPSIS
        The views to read: "64" and "32" on 64-bit Windows, "32" on 32-bit Windows.
    .EXAMPLE
        Get-PostureRegistryView
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param()
    if (Test-PostureOs64Bit) { return @('64', '32') }
    return @('32')
}

function Import-PostureNativeRegistry {
    <#
    .SYNOPSIS
        Compiles the small P/Invoke helper (RegQueryInfoKey, RegQueryValueEx) once. Returns $false
        when it cannot (no compiler, constrained language): callers then do without it.
    .EXAMPLE
        if (Import-PostureNativeRegistry) { [FleetPosture.NativeRegistry]::GetLastWriteTimeUtc($h) }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    if ($null -ne $script:PostureNativeRegistryLoaded) { return $script:PostureNativeRegistryLoaded }
    $source = @'
using System;
using System.Runtime.InteropServices;
namespace FleetPosture {
    public static class NativeRegistry {
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int RegQueryInfoKey(IntPtr hKey, IntPtr lpClass, IntPtr lpcClass, IntPtr lpReserved,
            IntPtr lpcSubKeys, IntPtr lpcMaxSubKeyLen, IntPtr lpcMaxClassLen, IntPtr lpcValues,
            IntPtr lpcMaxValueNameLen, IntPtr lpcMaxValueLen, IntPtr lpcbSecurityDescriptor, out long lpftLastWriteTime);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int RegQueryValueEx(IntPtr hKey, string lpValueName, IntPtr lpReserved,
            out int lpType, byte[] lpData, ref int lpcbData);

        // Last write time in UTC, or null when the call fails.
        public static object GetLastWriteTimeUtc(IntPtr hKey) {
            long ft;
            int rc = RegQueryInfoKey(hKey, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero,
                IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, out ft);
            if (rc != 0) return null;
            return DateTime.FromFileTimeUtc(ft);
        }

        // The raw type number and bytes of a value, or null when the call fails.
        public static byte[] GetRawValue(IntPtr hKey, string name, out int type) {
            int size = 0;
            int rc = RegQueryValueEx(hKey, name, IntPtr.Zero, out type, null, ref size);
            if (rc != 0) return null;
            byte[] data = new byte[size];
            rc = RegQueryValueEx(hKey, name, IntPtr.Zero, out type, data, ref size);
            if (rc != 0) return null;
            if (size < data.Length) Array.Resize(ref data, size);
            return data;
        }
    }
}
'@
    try {
        if (-not ('FleetPosture.NativeRegistry' -as [type])) {
            Add-Type -TypeDefinition $source -Language CSharp -ErrorAction Stop
        }
        $script:PostureNativeRegistryLoaded = $true
    } catch {
        Write-Verbose ("Key last-write times and rare value types are not available: {0}" -f $_.Exception.Message)
        $script:PostureNativeRegistryLoaded = $false
    }
    return $script:PostureNativeRegistryLoaded
}

function Get-PostureRegistryKeyHandle {
    <#
    .SYNOPSIS
        The native handle of an open RegistryKey (.NET 4+), or [IntPtr]::Zero.
    .EXAMPLE
        Get-PostureRegistryKeyHandle -Key $key
    #>
    [CmdletBinding()]
    [OutputType([IntPtr])]
    param(
        [Parameter(Mandatory = $true)]
        $Key
    )
    try {
        if ($Key -is [Microsoft.Win32.RegistryKey] -and $null -ne $Key.PSObject.Properties['Handle']) {
            return $Key.Handle.DangerousGetHandle()
        }
    } catch {
        Write-Verbose ("No native handle: {0}" -f $_.Exception.Message)
    }
    return [IntPtr]::Zero
}

function Get-PostureRegistryKeyLastWriteTime {
    <#
    .SYNOPSIS
        A key's last write time (UTC) via RegQueryInfoKey; $null when it cannot be read.
    .EXAMPLE
        Get-PostureRegistryKeyLastWriteTime -Key $key
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Key
    )
    # A fixture key (Fixture.ps1) knows its own time.
    if ($Key -isnot [Microsoft.Win32.RegistryKey] -and $null -ne $Key.PSObject.Properties['LastWriteTimeUtc']) { return $Key.LastWriteTimeUtc }
    if (-not (Import-PostureNativeRegistry)) { return $null }
    $handle = Get-PostureRegistryKeyHandle -Key $Key
    if ($handle -eq [IntPtr]::Zero) { return $null }
    try {
        return [FleetPosture.NativeRegistry]::GetLastWriteTimeUtc($handle)
    } catch {
        Write-Verbose ("Last write time not readable: {0}" -f $_.Exception.Message)
        return $null
    }
}

function Open-PostureRegistryBaseKey {
    <#
    .SYNOPSIS
        Opens a hive in a registry view. Uses RegistryKey.OpenBaseKey (.NET 4+); on .NET 2 (Windows
        PowerShell 2.0) falls back to the process's own view.
    .EXAMPLE
        Open-PostureRegistryBaseKey -Hive HKLM -View 32
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [ValidateSet('HKLM', 'HKCU', 'HKU', 'HKCR', 'HKCC')]
        [string]$Hive,
        [Parameter(Mandatory = $true)]
        [ValidateSet('64', '32')]
        [string]$View
    )
    $fixture = Get-PostureFixture
    if ($null -ne $fixture) { return (New-PostureFixtureRegistryKey -Fixture $fixture -Hive $Hive -View $View) }
    $hiveName = @{ HKLM = 'LocalMachine'; HKCU = 'CurrentUser'; HKU = 'Users'; HKCR = 'ClassesRoot'; HKCC = 'CurrentConfig' }[$Hive]
    if ($null -ne [Microsoft.Win32.RegistryKey].GetMethod('OpenBaseKey')) {
        $viewEnum = 'Registry32'
        if ($View -eq '64') { $viewEnum = 'Registry64' }
        return [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$hiveName, [Microsoft.Win32.RegistryView]$viewEnum)
    }
    return [Microsoft.Win32.Registry]::$hiveName
}

function Open-PostureRegistrySubKey {
    <#
    .SYNOPSIS
        Opens a subkey read-only: the key, $null when it does not exist; throws on access errors.
    .EXAMPLE
        Open-PostureRegistrySubKey -BaseKey $hklm -SubKey 'SOFTWARE\McAfee\DesktopProtection'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $BaseKey,
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$SubKey
    )
    if ($SubKey -eq '') { return $BaseKey }
    return $BaseKey.OpenSubKey($SubKey, $false)
}

function ConvertTo-PostureUInt32 {
    <#
    .SYNOPSIS
        A REG_DWORD as read by .NET (a signed Int32) as its unsigned value 0..4294967295.
    .EXAMPLE
        ConvertTo-PostureUInt32 -Value -1
        Returns 4294967295.
    #>
    [CmdletBinding()]
    [OutputType([uint32])]
    param(
        [Parameter(Mandatory = $true)]
        $Value
    )
    return [System.BitConverter]::ToUInt32([System.BitConverter]::GetBytes([int]$Value), 0)
}

function ConvertTo-PostureRegistryValue {
    <#
    .SYNOPSIS
        Encodes one registry value per the wire contract: REG_SZ and REG_EXPAND_SZ (unexpanded) as
        strings, REG_MULTI_SZ as an array, REG_DWORD as 0..4294967295, REG_QWORD as a string of
        decimal digits, everything else as base64.
    .EXAMPLE
        ConvertTo-PostureRegistryValue -Name 'APEnabled' -Kind DWord -Data 1
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Name,
        [Parameter(Mandatory = $true)]
        [string]$Kind,
        [AllowNull()]
        $Data,
        [int]$RawType = -1
    )
    $inv = [System.Globalization.CultureInfo]::InvariantCulture
    $value = New-Object System.Collections.Specialized.OrderedDictionary
    $value['name'] = $Name
    switch ($Kind) {
        'String' {
            $value['type'] = 'REG_SZ'
            $value['data'] = [string]$Data
        }
        'ExpandString' {
            $value['type'] = 'REG_EXPAND_SZ'
            $value['data'] = [string]$Data
        }
        'MultiString' {
            $value['type'] = 'REG_MULTI_SZ'
            $items = New-Object System.Collections.Generic.List[string]
            if ($null -ne $Data) { foreach ($s in $Data) { $items.Add([string]$s) } }
            $value['data'] = $items.ToArray()
        }
        'DWord' {
            $value['type'] = 'REG_DWORD'
            $value['data'] = ConvertTo-PostureUInt32 -Value $Data
        }
        'QWord' {
            $value['type'] = 'REG_QWORD'
            $value['data'] = [System.BitConverter]::ToUInt64([System.BitConverter]::GetBytes([long]$Data), 0).ToString($inv)
        }
        default {
            $names = @{ 0 = 'REG_NONE'; 3 = 'REG_BINARY'; 5 = 'REG_DWORD_BIG_ENDIAN'; 6 = 'REG_LINK'; 8 = 'REG_RESOURCE_LIST'; 9 = 'REG_FULL_RESOURCE_DESCRIPTOR'; 10 = 'REG_RESOURCE_REQUIREMENTS_LIST' }
            $type = 'REG_BINARY'
            if ($Kind -eq 'None' -or $Kind -eq 'Unknown') { $type = 'REG_NONE' }
            if ($names.ContainsKey($RawType)) { $type = $names[$RawType] }
            $bytes = [byte[]]@()
            if ($Data -is [byte[]]) { $bytes = $Data }
            $value['type'] = $type
            $value['data'] = [System.Convert]::ToBase64String($bytes)
        }
    }
    return $value
}

function Read-PostureRegistryValue {
    <#
    .SYNOPSIS
        Reads every value of an open key, encoded per the contract.
    .EXAMPLE
        Read-PostureRegistryValue -Key $key
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Key
    )
    $values = New-Object System.Collections.ArrayList
    foreach ($name in @($Key.GetValueNames())) {
        $kind = [string]$Key.GetValueKind($name)
        $rawType = -1
        if ($kind -eq 'ExpandString') {
            $data = $Key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        } else {
            $data = $Key.GetValue($name, $null)
        }
        if ($kind -eq 'Unknown' -or $kind -eq 'None') {
            # .NET reports REG_NONE and the rare types (REG_RESOURCE_LIST, ...) all as Unknown and
            # returns no data for some of them: ask the API for the type number and the bytes.
            $handle = [IntPtr]::Zero
            if (Import-PostureNativeRegistry) { $handle = Get-PostureRegistryKeyHandle -Key $Key }
            if ($handle -ne [IntPtr]::Zero) {
                $t = 0
                $raw = [FleetPosture.NativeRegistry]::GetRawValue($handle, $name, [ref]$t)
                if ($null -ne $raw) { $data = $raw; $rawType = $t }
            }
        }
        [void]$values.Add((ConvertTo-PostureRegistryValue -Name $name -Kind $kind -Data $data -RawType $rawType))
    }
    return , $values.ToArray()
}

function Get-PostureReadErrorCode {
    <#
    .SYNOPSIS
        Maps an exception to the contract's error codes.
    .EXAMPLE
        Get-PostureReadErrorCode -Exception $_.Exception
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Exception]$Exception
    )
    # Method calls wrap what .NET threw (MethodInvocationException, RuntimeException): look down the chain.
    for ($e = $Exception; $null -ne $e; $e = $e.InnerException) {
        if ($e -is [System.Security.SecurityException] -or $e -is [System.UnauthorizedAccessException]) { return 'AccessDenied' }
        if ($e -is [System.IO.FileNotFoundException] -or $e -is [System.IO.DirectoryNotFoundException]) { return 'NotFound' }
        if ($e -is [System.TimeoutException]) { return 'Timeout' }
        if ($e -is [System.IO.IOException]) { return 'IoError' }
    }
    return 'Other'
}

function New-PostureReadError {
    <#
    .SYNOPSIS
        The contract's error object for an exception.
    .EXAMPLE
        New-PostureReadError -Exception $_.Exception
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an object in memory; changes nothing.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Exception]$Exception
    )
    $e = $Exception
    while (($e -is [System.Management.Automation.MethodInvocationException] -or $e.GetType() -eq [System.Management.Automation.RuntimeException]) -and $null -ne $e.InnerException) { $e = $e.InnerException }
    $err = New-Object System.Collections.Specialized.OrderedDictionary
    $err['code'] = Get-PostureReadErrorCode -Exception $Exception
    $message = [string]$e.Message
    if ($message.Length -gt 1000) { $message = $message.Substring(0, 1000) }
    $err['message'] = $message
    return $err
}

function Read-PostureRegistryKey {
    <#
    .SYNOPSIS
        Reads one key in one view and, when asked, its subkeys down to MaxDepth levels. Returns one
        entry per key (flat), each with the full path as the manifest spells it.
    .EXAMPLE
        Read-PostureRegistryKey -Path 'HKLM\SOFTWARE\McAfee\DesktopProtection' -View 32
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [ValidateSet('64', '32')]
        [string]$View,
        [switch]$Recurse,
        [int]$MaxDepth = 0,
        [int]$Limit = 4000
    )
    $entries = New-Object System.Collections.ArrayList
    $hive, $sub = Split-PostureRegistryPath -Path $Path
    $base = $null
    try {
        $base = Open-PostureRegistryBaseKey -Hive $hive -View $View
    } catch {
        $entry = New-Object System.Collections.Specialized.OrderedDictionary
        $entry['path'] = $Path; $entry['view'] = $View; $entry['exists'] = $false
        $entry['error'] = New-PostureReadError -Exception $_.Exception
        [void]$entries.Add($entry)
        return , $entries.ToArray()
    }
    $depth = 0
    if ($Recurse) { $depth = $MaxDepth }
    Read-PostureRegistryBranch -BaseKey $base -SubKey $sub -Path $Path -View $View -Depth $depth -Entries $entries -Limit $Limit
    return , $entries.ToArray()
}

function Read-PostureRegistryBranch {
    <#
    .SYNOPSIS
        Adds the entry for one key and recurses into its subkeys while Depth > 0.
    .EXAMPLE
        Read-PostureRegistryBranch -BaseKey $hklm -SubKey 'SOFTWARE\x' -Path 'HKLM\SOFTWARE\x' -View 64 -Depth 2 -Entries $list
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $BaseKey,
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$SubKey,
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$View,
        [int]$Depth = 0,
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.ArrayList]$Entries,
        [int]$Limit = 4000
    )
    if ($Entries.Count -ge $Limit) {
        Write-Verbose ("Registry entry limit ({0}) reached; {1} not read." -f $Limit, $Path)
        return
    }
    $entry = New-Object System.Collections.Specialized.OrderedDictionary
    $entry['path'] = $Path
    $entry['view'] = $View
    [void]$Entries.Add($entry)
    $key = $null
    try {
        $key = Open-PostureRegistrySubKey -BaseKey $BaseKey -SubKey $SubKey
    } catch {
        $entry['exists'] = $true
        $entry['error'] = New-PostureReadError -Exception $_.Exception
        Write-Verbose ("{0} (view {1}): {2}" -f $Path, $View, $entry['error']['message'])
        return
    }
    if ($null -eq $key) {
        $entry['exists'] = $false
        Write-Verbose ("{0} (view {1}): not present" -f $Path, $View)
        return
    }
    $entry['exists'] = $true
    $children = @()
    try {
        $lastWrite = Get-PostureRegistryKeyLastWriteTime -Key $key
        if ($null -ne $lastWrite) { $entry['lastWriteTime'] = ([datetime]$lastWrite).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [System.Globalization.CultureInfo]::InvariantCulture) }
        $entry['values'] = Read-PostureRegistryValue -Key $key
        if ($Depth -gt 0) { $children = @($key.GetSubKeyNames()) }
        Write-Verbose ("{0} (view {1}): {2} values, {3} subkeys read" -f $Path, $View, @($entry['values']).Count, $children.Count)
    } catch {
        $entry['error'] = New-PostureReadError -Exception $_.Exception
        Write-Verbose ("{0} (view {1}): {2}" -f $Path, $View, $entry['error']['message'])
    } finally {
        if ($key -ne $BaseKey -and $key -is [System.IDisposable]) { $key.Close() }
    }
    foreach ($child in $children) {
        $childSub = $child
        if ($SubKey -ne '') { $childSub = $SubKey + '\' + $child }
        Read-PostureRegistryBranch -BaseKey $BaseKey -SubKey $childSub -Path ($Path + '\' + $child) -View $View -Depth ($Depth - 1) -Entries $Entries -Limit $Limit
    }
}

function Split-PostureRegistryPath {
    <#
    .SYNOPSIS
        Splits 'HKLM\SOFTWARE\x' (or 'HKEY_LOCAL_MACHINE\...') into the short hive and the subkey.
    .EXAMPLE
        $hive, $sub = Split-PostureRegistryPath -Path 'HKEY_LOCAL_MACHINE\SOFTWARE\McAfee'
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    $long = @{ HKEY_LOCAL_MACHINE = 'HKLM'; HKEY_CURRENT_USER = 'HKCU'; HKEY_USERS = 'HKU'; HKEY_CLASSES_ROOT = 'HKCR'; HKEY_CURRENT_CONFIG = 'HKCC' }
    $i = $Path.IndexOf('\')
    $first = $Path
    $rest = ''
    if ($i -ge 0) { $first = $Path.Substring(0, $i); $rest = $Path.Substring($i + 1) }
    $hive = $first.ToUpperInvariant()
    if ($long.ContainsKey($hive)) { $hive = $long[$hive] }
    return @($hive, $rest)
}

function Get-PostureRegistrySnapshot {
    <#
    .SYNOPSIS
        Reads every registry entry of the manifest in every view this machine has.
    .EXAMPLE
        Get-PostureRegistrySnapshot -Manifest $manifest
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Manifest,
        [int]$Limit = 4000
    )
    $all = New-Object System.Collections.ArrayList
    $views = @(Get-PostureRegistryView)
    foreach ($item in @(Get-PostureMember -InputObject $Manifest -Name 'registry' -Default @())) {
        $path = [string](Get-PostureMember -InputObject $item -Name 'path')
        $recurse = [bool](Get-PostureMember -InputObject $item -Name 'recurse' -Default $false)
        $maxDepth = [int](Get-PostureMember -InputObject $item -Name 'maxDepth' -Default 8)
        foreach ($view in $views) {
            # Read-PostureRegistryKey returns its array as one object (", $array"): no @() around it.
            $entries = Read-PostureRegistryKey -Path $path -View $view -Recurse:$recurse -MaxDepth $maxDepth -Limit ($Limit - $all.Count)
            foreach ($e in $entries) { [void]$all.Add($e) }
        }
    }
    return , $all.ToArray()
}
