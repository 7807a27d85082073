# File tails: the last tailBytes of each manifest file, decoded by its byte-order mark (UTF-16LE,
# UTF-16BE, UTF-8), else the system ANSI code page, and cut at the start of a line. A file entry
# with pathFrom is read where a registry value names it (VirusScan's szLogFileName), else at its
# default path.

function Expand-PosturePath {
    <#
    .SYNOPSIS
        Expands %VAR% references (e.g. %ProgramData%, %ALLUSERSPROFILE%) in a manifest file path.
    .EXAMPLE
        Expand-PosturePath -Path '%ProgramData%\McAfee\DesktopProtection\AccessProtectionLog.txt'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    return [System.Environment]::ExpandEnvironmentVariables($Path)
}

function Get-PostureAnsiEncoding {
    <#
    .SYNOPSIS
        The system ANSI code page (e.g. 1252, 932), as Windows PowerShell's Encoding.Default is.
    .EXAMPLE
        Get-PostureAnsiEncoding
    #>
    [CmdletBinding()]
    [OutputType([System.Text.Encoding])]
    param()
    try {
        $cp = [System.Globalization.CultureInfo]::CurrentCulture.TextInfo.ANSICodePage
        return [System.Text.Encoding]::GetEncoding($cp)
    } catch {
        return [System.Text.Encoding]::Default
    }
}

function ConvertFrom-PostureTailByte {
    <#
    .SYNOPSIS
        Decodes the tail of a file. Head holds the file's first bytes (for the BOM), Bytes the tail,
        Offset where the tail starts in the file. The text starts at a line start: unless the tail
        is the whole file, everything up to the first line feed is dropped.
    .EXAMPLE
        ConvertFrom-PostureTailByte -Head $head -Bytes $tail -Offset 1024
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [byte[]]$Head,
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [byte[]]$Bytes,
        [long]$Offset = 0
    )
    $encoding = $null
    $bomLength = 0
    $unit = 1
    $bigEndian = $false
    if ($Head.Length -ge 2 -and $Head[0] -eq 0xFF -and $Head[1] -eq 0xFE) {
        $encoding = New-Object System.Text.UnicodeEncoding($false, $false); $bomLength = 2; $unit = 2
    } elseif ($Head.Length -ge 2 -and $Head[0] -eq 0xFE -and $Head[1] -eq 0xFF) {
        $encoding = New-Object System.Text.UnicodeEncoding($true, $false); $bomLength = 2; $unit = 2; $bigEndian = $true
    } elseif ($Head.Length -ge 3 -and $Head[0] -eq 0xEF -and $Head[1] -eq 0xBB -and $Head[2] -eq 0xBF) {
        $encoding = New-Object System.Text.UTF8Encoding($false); $bomLength = 3
    } else {
        $encoding = Get-PostureAnsiEncoding
    }
    $start = 0
    if ($Offset -lt $bomLength) { $start = [int]($bomLength - $Offset) }
    # UTF-16: align to a whole code unit counted from the start of the file.
    if ($unit -eq 2 -and (($Offset + $start) % 2) -ne 0) { $start += 1 }
    if ($Offset + $start -gt $bomLength) {
        # Not the start of the file: skip to just after the first line feed.
        $lf = -1
        for ($i = $start; $i + $unit - 1 -lt $Bytes.Length; $i += $unit) {
            $isLf = $false
            if ($unit -eq 1) { $isLf = ($Bytes[$i] -eq 0x0A) }
            elseif ($bigEndian) { $isLf = ($Bytes[$i] -eq 0x00 -and $Bytes[$i + 1] -eq 0x0A) }
            else { $isLf = ($Bytes[$i] -eq 0x0A -and $Bytes[$i + 1] -eq 0x00) }
            if ($isLf) { $lf = $i; break }
        }
        if ($lf -lt 0) { return '' }
        $start = $lf + $unit
    }
    if ($start -ge $Bytes.Length) { return '' }
    return $encoding.GetString($Bytes, $start, $Bytes.Length - $start)
}

function Read-PostureFileTail {
    <#
    .SYNOPSIS
        One files[] entry of the snapshot: existence, size, last write time and the decoded tail.
        Opens the file with full sharing so the writer (e.g. McShield) is never disturbed.
    .EXAMPLE
        Read-PostureFileTail -Path '%ProgramData%\McAfee\DesktopProtection\AccessProtectionLog.txt' -TailBytes 65536
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [int]$TailBytes = 65536
    )
    $expanded = Expand-PosturePath -Path $Path
    $entry = New-Object System.Collections.Specialized.OrderedDictionary
    $entry['path'] = $expanded
    # Where the bytes come from: the file itself, or its stand-in when a fixture answers the reads.
    $source = $expanded
    $fixture = Get-PostureFixture
    if ($null -ne $fixture) { $source = Resolve-PostureFixtureFile -Fixture $fixture -Path $expanded }
    $stream = $null
    try {
        if (-not [System.IO.File]::Exists($source)) {
            $entry['exists'] = $false
            Write-Verbose ("File {0}: not present" -f $expanded)
            return $entry
        }
        $entry['exists'] = $true
        $info = New-Object System.IO.FileInfo($source)
        $entry['lastWriteTime'] = $info.LastWriteTimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
        $share = [System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete
        $stream = New-Object System.IO.FileStream($source, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, $share)
        $length = $stream.Length
        $entry['size'] = $length
        $head = New-Object byte[] ([int][Math]::Min(3, $length))
        [void]$stream.Read($head, 0, $head.Length)
        $offset = [long][Math]::Max(0, $length - $TailBytes)
        $count = [int]($length - $offset)
        $bytes = New-Object byte[] $count
        [void]$stream.Seek($offset, [System.IO.SeekOrigin]::Begin)
        $read = 0
        while ($read -lt $count) {
            $n = $stream.Read($bytes, $read, $count - $read)
            if ($n -le 0) { break }
            $read += $n
        }
        if ($read -lt $count) {
            $short = New-Object byte[] $read
            [System.Array]::Copy($bytes, $short, $read)
            $bytes = $short
        }
        $entry['tail'] = ConvertFrom-PostureTailByte -Head $head -Bytes $bytes -Offset $offset
        Write-Verbose ("File {0}: {1} bytes, tail of {2} characters" -f $expanded, $length, $entry['tail'].Length)
    } catch {
        $entry['exists'] = $true
        $entry['error'] = New-PostureReadError -Exception $_.Exception
        if ($entry['error']['code'] -eq 'NotFound') { $entry['exists'] = $false }
        if ($entry.Contains('tail')) { $entry.Remove('tail') }
        Write-Verbose ("File {0}: {1}" -f $expanded, $entry['error']['message'])
    } finally {
        if ($null -ne $stream) { $stream.Dispose() }
    }
    return $entry
}

function Find-PostureRegistryValue {
    <#
    .SYNOPSIS
        A value of a key in one view, from registry entries already collected (the snapshot's
        registry[]): the value object, or $null when the key or the value is not there. Key paths
        compare as Windows does (HKLM = HKEY_LOCAL_MACHINE, any case); value names any case.
    .EXAMPLE
        Find-PostureRegistryValue -Registry $snapshot['registry'] -Path 'HKLM\SOFTWARE\x' -View 64 -Name 'szLogFileName'
    #>
    [CmdletBinding()]
    param(
        [AllowEmptyCollection()]
        [object[]]$Registry = @(),
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$View,
        [Parameter(Mandatory = $true)]
        [string]$Name
    )
    $hive, $sub = Split-PostureRegistryPath -Path $Path
    foreach ($e in $Registry) {
        if ([string](Get-PostureMember -InputObject $e -Name 'view') -ne $View) { continue }
        if (-not [bool](Get-PostureMember -InputObject $e -Name 'exists' -Default $false)) { continue }
        $h, $s = Split-PostureRegistryPath -Path ([string](Get-PostureMember -InputObject $e -Name 'path'))
        if ($h -ne $hive -or -not [string]::Equals($s, $sub, [System.StringComparison]::OrdinalIgnoreCase)) { continue }
        foreach ($v in @(Get-PostureMember -InputObject $e -Name 'values' -Default @())) {
            if ([string]::Equals([string](Get-PostureMember -InputObject $v -Name 'name'), $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $v }
        }
    }
    return $null
}

function Resolve-PostureFilePath {
    <#
    .SYNOPSIS
        Which file a manifest files[] entry names. Its pathFrom items are tried in order, each in
        view "64" then "32" (only "32" on 32-bit Windows): the first value that exists as a
        non-empty REG_SZ or REG_EXPAND_SZ names the file. Else the entry's own path. Returns
        @{ Path = <unexpanded path>; From = <pathFrom record, or $null> }.
    .EXAMPLE
        Resolve-PostureFilePath -File $manifest.files[0] -Registry $snapshot['registry']
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $File,
        [AllowEmptyCollection()]
        [object[]]$Registry = @()
    )
    $views = @(Get-PostureRegistryView)
    foreach ($item in @(Get-PostureMember -InputObject $File -Name 'pathFrom' -Default @())) {
        $registryPath = [string](Get-PostureMember -InputObject $item -Name 'registryPath')
        $valueName = [string](Get-PostureMember -InputObject $item -Name 'valueName')
        if (-not $registryPath -or -not $valueName) { continue }
        foreach ($view in $views) {
            $v = Find-PostureRegistryValue -Registry $Registry -Path $registryPath -View $view -Name $valueName
            if ($null -eq $v) { continue }
            $type = [string](Get-PostureMember -InputObject $v -Name 'type')
            $data = Get-PostureMember -InputObject $v -Name 'data'
            if (($type -ne 'REG_SZ' -and $type -ne 'REG_EXPAND_SZ') -or $data -isnot [string] -or $data -eq '') { continue }
            $from = New-Object System.Collections.Specialized.OrderedDictionary
            $from['registryPath'] = $registryPath
            $from['view'] = $view
            $from['valueName'] = $valueName
            Write-Verbose ('File path from {0} (view {1}) {2}: {3}' -f $registryPath, $view, $valueName, $data)
            return @{ Path = $data; From = $from }
        }
    }
    return @{ Path = [string](Get-PostureMember -InputObject $File -Name 'path'); From = $null }
}

function Get-PostureFileSnapshot {
    <#
    .SYNOPSIS
        Reads the tail of every file of the manifest, each at the path its pathFrom registry values
        name (from the registry entries already collected), else at its default path. Two entries
        that come to the same file (any case) are read once: the first wins.
    .EXAMPLE
        Get-PostureFileSnapshot -Manifest $manifest -Registry $snapshot['registry']
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Manifest,
        [AllowEmptyCollection()]
        [object[]]$Registry = @()
    )
    $out = New-Object System.Collections.ArrayList
    $seen = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($f in @(Get-PostureMember -InputObject $Manifest -Name 'files' -Default @())) {
        $tailBytes = [int](Get-PostureMember -InputObject $f -Name 'tailBytes' -Default 65536)
        $resolved = Resolve-PostureFilePath -File $f -Registry $Registry
        if (-not $seen.Add((Expand-PosturePath -Path $resolved.Path))) {
            Write-Verbose ('File {0}: named by an earlier entry too; read once.' -f $resolved.Path)
            continue
        }
        $entry = Read-PostureFileTail -Path $resolved.Path -TailBytes $tailBytes
        if ($null -ne $resolved.From) { $entry.Insert(1, 'pathFrom', $resolved.From) }
        [void]$out.Add($entry)
    }
    return , $out.ToArray()
}
