# Local state under %ProgramData%\FleetPosture: the spool of unsent snapshots, the copies of
# refused ones, the log, the last good manifest, and the DPAPI-protected configuration written by
# Install-PostureCollector.ps1.

$script:PostureLogPath = $null

function Get-PostureDataPath {
    <#
    .SYNOPSIS
        %ProgramData%\FleetPosture (CommonApplicationData, which is also right on Windows 2003).
    .EXAMPLE
        Get-PostureDataPath
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    return (Join-Path -Path ([System.Environment]::GetFolderPath('CommonApplicationData')) -ChildPath 'FleetPosture')
}

function Get-PostureDataItemName {
    <#
    .SYNOPSIS
        The name of what the collector keeps in its data folder: with -Item, that one (Config:
        config.dat, ManifestCache: manifest.json, Log: collector.log, Spool: spool\, Rejected:
        rejected\); without, everything the collector may leave there: those five, the .tmp files
        of writes to config.dat and manifest.json cut short (each is written beside its place,
        then moved into it) and the previous log, collector.log.old (Write-PostureLog). Writers
        take their names from here (Get-PostureDataItemPath) and the uninstaller removes these and
        nothing else: a data folder may be one other tools share.
        With -Unfinished, the names a write cut short leaves, relative to the data folder:
        config.dat.tmp, manifest.json.tmp, spool\*.json.tmp and rejected\*.json.tmp (the two
        folders hold only .json files, each written through its .tmp). Each run removes the old
        ones (Remove-PostureUnfinishedWrite).
    .EXAMPLE
        Get-PostureDataItemName -Item Spool
    .EXAMPLE
        Get-PostureDataItemName -Unfinished
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [ValidateSet('Config', 'ManifestCache', 'Log', 'Spool', 'Rejected')]
        [string]$Item = '',
        [switch]$Unfinished
    )
    $names = [ordered]@{ Config = 'config.dat'; ManifestCache = 'manifest.json'; Log = 'collector.log'; Spool = 'spool'; Rejected = 'rejected' }
    if ($Item) { return $names[$Item] }
    $tmp = @(
        (Get-PostureTempPath -Path $names['Config']),
        (Get-PostureTempPath -Path $names['ManifestCache']),
        (Get-PostureTempPath -Path (Join-Path -Path $names['Spool'] -ChildPath '*.json')),
        (Get-PostureTempPath -Path (Join-Path -Path $names['Rejected'] -ChildPath '*.json')))
    if ($Unfinished) { return $tmp }
    $names.Values
    # Those in the folders go with their folder.
    $tmp[0]
    $tmp[1]
    $names['Log'] + '.old'
}

function Get-PostureDataItemPath {
    <#
    .SYNOPSIS
        Where the collector keeps one thing (Get-PostureDataItemName -Item) in the data folder.
    .EXAMPLE
        Get-PostureDataItemPath -DataPath 'C:\ProgramData\FleetPosture' -Item Spool
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$DataPath,
        [Parameter(Mandatory = $true)]
        [ValidateSet('Config', 'ManifestCache', 'Log', 'Spool', 'Rejected')]
        [string]$Item
    )
    return (Join-Path -Path $DataPath -ChildPath (Get-PostureDataItemName -Item $Item))
}

function ConvertTo-PostureFullPath {
    <#
    .SYNOPSIS
        The full path of a path given by the admin, relative ones taken from the PowerShell location
        (where the command was typed). .NET file calls resolve a relative path against the process's
        directory instead, which Set-Location does not move, so every user path is made full first.
    .EXAMPLE
        ConvertTo-PostureFullPath -Path 'Tools\FleetPosture'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

function Get-PostureTempPath {
    <#
    .SYNOPSIS
        The temporary file a write to -Path goes through: <Path>.tmp beside it, moved into its
        place once whole (Move-PostureFileIntoPlace). Every such writer takes the name from here,
        so a run can find the one a write cut short left (Remove-PostureUnfinishedWrite).
    .EXAMPLE
        Get-PostureTempPath -Path 'D:\Posture\posture.dat'
        Returns D:\Posture\posture.dat.tmp.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    return ($Path + '.tmp')
}

function Write-PostureTextFile {
    <#
    .SYNOPSIS
        Writes UTF-8 text (no BOM) through a temporary file, so a reader never sees half a file.
    .EXAMPLE
        Write-PostureTextFile -Path 'C:\ProgramData\FleetPosture\manifest.json' -Text $json
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Text
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Write')) { return }
    Write-PostureFileBytes -Path $Path -Bytes ((New-Object System.Text.UTF8Encoding($false)).GetBytes($Text))
}

function Write-PostureFileBytes {
    <#
    .SYNOPSIS
        Writes bytes as they are through a temporary file (<Path>.tmp), so a reader never sees
        half a file; Write-PostureTextFile's UTF-8 text comes here too.
    .EXAMPLE
        Write-PostureFileBytes -Path 'C:\ProgramData\FleetPosture\rejected\0b6f.json' -Bytes ([System.IO.File]::ReadAllBytes($spoolFile))
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [byte[]]$Bytes
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Write')) { return }
    $dir = Split-Path -Parent $Path
    if ($dir -and -not [System.IO.Directory]::Exists($dir)) { [void][System.IO.Directory]::CreateDirectory($dir) }
    $tmp = Get-PostureTempPath -Path $Path
    [System.IO.File]::WriteAllBytes($tmp, $Bytes)
    Move-PostureFileIntoPlace -Source $tmp -Path $Path
}

function Move-PostureFileIntoPlace {
    <#
    .SYNOPSIS
        Puts a fully written file in the place of -Path in one step: File.Replace over an existing
        file, so there is no moment without one (a delete, then a move that fails or is cut short,
        would leave the key and the enrolment secret gone), a move where there is none yet.
    .EXAMPLE
        Move-PostureFileIntoPlace -Source 'C:\ProgramData\FleetPosture\config.dat.tmp' -Path 'C:\ProgramData\FleetPosture\config.dat'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Source,
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    if ([System.IO.File]::Exists($Path)) { [System.IO.File]::Replace($Source, $Path, [NullString]::Value) } else { [System.IO.File]::Move($Source, $Path) }
}

function Write-PostureLog {
    <#
    .SYNOPSIS
        Writes a line to the verbose or warning stream and appends it to the log file (kept under
        1 MB: the previous log is kept as collector.log.old).
    .EXAMPLE
        Write-PostureLog -Level Warning -Message 'Service unreachable; snapshot spooled.'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Message,
        [ValidateSet('Verbose', 'Info', 'Warning', 'Error')]
        [string]$Level = 'Info'
    )
    if ($Level -eq 'Warning' -or $Level -eq 'Error') { Write-Warning $Message } else { Write-Verbose $Message }
    if (-not $script:PostureLogPath) { return }
    try {
        $dir = Split-Path -Parent $script:PostureLogPath
        if (-not [System.IO.Directory]::Exists($dir)) { [void][System.IO.Directory]::CreateDirectory($dir) }
        if ([System.IO.File]::Exists($script:PostureLogPath) -and (New-Object System.IO.FileInfo($script:PostureLogPath)).Length -gt 1048576) {
            $old = $script:PostureLogPath + '.old'
            if ([System.IO.File]::Exists($old)) { [System.IO.File]::Delete($old) }
            [System.IO.File]::Move($script:PostureLogPath, $old)
        }
        $line = '{0} {1,-7} {2}{3}' -f (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture), $Level.ToUpperInvariant(), $Message, [Environment]::NewLine
        [System.IO.File]::AppendAllText($script:PostureLogPath, $line, (New-Object System.Text.UTF8Encoding($false)))
    } catch {
        Write-Verbose ("Log not written: {0}" -f $_.Exception.Message)
    }
}

function Save-PostureSpoolItem {
    <#
    .SYNOPSIS
        Keeps an unsent snapshot in the spool folder. File names start with the UTC time, so the
        oldest sorts first.
    .EXAMPLE
        Save-PostureSpoolItem -SpoolPath 'C:\ProgramData\FleetPosture\spool' -SnapshotId $id -Json $json
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$SpoolPath,
        [Parameter(Mandatory = $true)]
        [string]$SnapshotId,
        [Parameter(Mandatory = $true)]
        [string]$Json,
        [datetime]$Now = (Get-Date)
    )
    $name = '{0}_{1}.json' -f $Now.ToUniversalTime().ToString('yyyyMMddTHHmmssfffZ', [System.Globalization.CultureInfo]::InvariantCulture), $SnapshotId
    $path = Join-Path -Path $SpoolPath -ChildPath $name
    if ($PSCmdlet.ShouldProcess($path, 'Spool snapshot')) {
        Write-PostureTextFile -Path $path -Text $Json
    }
    return $path
}

function Get-PostureSpoolItem {
    <#
    .SYNOPSIS
        The spooled snapshots, oldest first.
    .EXAMPLE
        Get-PostureSpoolItem -SpoolPath 'C:\ProgramData\FleetPosture\spool'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$SpoolPath
    )
    if (-not [System.IO.Directory]::Exists($SpoolPath)) { return }
    # Written to the pipeline one by one: callers collect them with @().
    Get-ChildItem -LiteralPath $SpoolPath -Filter '*.json' | Where-Object { -not $_.PSIsContainer } | Sort-Object -Property Name
}

function Read-PostureSpoolFile {
    <#
    .SYNOPSIS
        The text of one spooled snapshot. Throws when the file cannot be read (held open by a
        scanner, access denied); the run then leaves it in the spool for a later run.
    .EXAMPLE
        Read-PostureSpoolFile -Path 'C:\ProgramData\FleetPosture\spool\20261201T010000000Z_0b6f.json'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    return [System.IO.File]::ReadAllText($Path)
}

function Remove-PostureSpoolFile {
    <#
    .SYNOPSIS
        Deletes one file the run keeps (a spool file, or an old copy in rejected\); True when it
        is gone. A file another process holds open (a backup or virus scanner) or a folder the run
        may not change is logged, not thrown: one stuck file must not stop the run from sending
        the others, and a delivered one left behind is only sent again (the service answers
        "duplicate").
    .EXAMPLE
        Remove-PostureSpoolFile -Path 'C:\ProgramData\FleetPosture\spool\20261201T010000000Z_0b6f.json' -Why 'delivered'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Why
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Remove spool file')) { return $false }
    try {
        Remove-Item -LiteralPath $Path -Force -ErrorAction Stop
        return $true
    } catch {
        Write-PostureLog -Level Warning -Message ("{0} ({1}) could not be removed: {2}" -f $Path, $Why, $_.Exception.Message)
        return $false
    }
}

function Limit-PostureSpool {
    <#
    .SYNOPSIS
        Deletes spooled snapshots older than MaxAgeDays, then the oldest beyond MaxCount. The files
        named in KeepName (the run's own new snapshot) are never deleted but count toward MaxCount:
        the limit drops older ones in their place. The .tmp files of writes cut short go with the
        others of the data folder (Remove-PostureUnfinishedWrite).
    .EXAMPLE
        Limit-PostureSpool -SpoolPath 'C:\ProgramData\FleetPosture\spool' -MaxCount 168 -MaxAgeDays 7 -KeepName $newName
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$SpoolPath,
        [int]$MaxCount = 168,
        [int]$MaxAgeDays = 7,
        [datetime]$Now = (Get-Date),
        [string[]]$KeepName = @()
    )
    $items = @(Get-PostureSpoolItem -SpoolPath $SpoolPath)
    $cutoff = $Now.ToUniversalTime().AddDays(-$MaxAgeDays)
    $kept = New-Object System.Collections.ArrayList
    foreach ($item in $items) {
        $when = $item.LastWriteTimeUtc
        $stamp = Get-PostureSpoolStamp -Name $item.Name
        if ($null -ne $stamp) { $when = $stamp }
        if ($KeepName -contains $item.Name) {
            [void]$kept.Add($item)
        } elseif ($when -lt $cutoff) {
            if ($PSCmdlet.ShouldProcess($item.FullName, 'Remove expired spooled snapshot') -and (Remove-PostureSpoolFile -Path $item.FullName -Why 'expired')) {
                Write-PostureLog -Level Warning -Message ("Spooled snapshot {0} is older than {1} days and was dropped." -f $item.Name, $MaxAgeDays)
            }
        } else {
            [void]$kept.Add($item)
        }
    }
    $excess = $kept.Count - $MaxCount
    foreach ($item in @($kept)) {
        if ($excess -le 0) { break }
        if ($KeepName -contains $item.Name) { continue }
        $excess--
        if ($PSCmdlet.ShouldProcess($item.FullName, 'Remove spooled snapshot beyond the count limit') -and (Remove-PostureSpoolFile -Path $item.FullName -Why 'beyond the count limit')) {
            Write-PostureLog -Level Warning -Message ("Spool holds more than {0} snapshots; dropped the oldest, {1}." -f $MaxCount, $item.Name)
        }
    }
}

function Remove-PostureUnfinishedWrite {
    <#
    .SYNOPSIS
        Removes the .tmp files that writes cut short (the task stopped, a kill, a power cut) left
        in the data folder, only those Get-PostureDataItemName -Unfinished names, and with
        -ConfigPath the configuration's own (Get-PostureTempPath: <ConfigPath>.tmp beside it,
        wherever it is), only once last written more than MinAgeHours ago; one log line per file
        removed. Nothing else in either folder is touched. A folder that cannot be listed, or a
        file that cannot be removed, is logged, not thrown: the run goes on, and a later run tries
        again.
    .EXAMPLE
        Remove-PostureUnfinishedWrite -DataPath 'C:\ProgramData\FleetPosture'
    .EXAMPLE
        Remove-PostureUnfinishedWrite -DataPath 'C:\ProgramData\FleetPosture' -ConfigPath 'D:\Posture\posture.dat'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$DataPath,
        [string]$ConfigPath = '',
        [datetime]$Now = (Get-Date),
        [double]$MinAgeHours = 1
    )
    # Nothing locks the data folder: Task Scheduler starts no second scheduled run while one runs
    # (IgnoreNew), but a run by hand or the installer may write at the same time. A .tmp lives for
    # one write and its move, well under a second, and a run is stopped after 30 minutes: one last
    # written an hour ago belongs to no write still going on.
    $cutoff = $Now.ToUniversalTime().AddHours(-$MinAgeHours)
    $stale = New-Object System.Collections.ArrayList
    foreach ($name in @(Get-PostureDataItemName -Unfinished)) {
        $folder = $DataPath
        $sub = Split-Path -Parent $name
        if ($sub) { $folder = Join-Path -Path $DataPath -ChildPath $sub }
        $leaf = Split-Path -Leaf $name
        if (-not [System.IO.Directory]::Exists($folder)) { continue }
        try {
            # -like as well: on Windows a -Filter ending in .tmp also matches longer extensions (.tmpx).
            $found = @(Get-ChildItem -LiteralPath $folder -Filter $leaf -Force | Where-Object { -not $_.PSIsContainer -and $_.Name -like $leaf -and $_.LastWriteTimeUtc -lt $cutoff })
        } catch {
            Write-PostureLog -Level Warning -Message ("{0} cannot be listed to remove what writes cut short left there ({1}): {2}" -f $folder, $leaf, $_.Exception.Message)
            continue
        }
        foreach ($file in $found) { [void]$stale.Add($file) }
    }
    # A -ConfigPath outside the data folder (or named otherwise) leaves its .tmp where none of the
    # names above look. Only that one exact name: the folder may be anyone's (D:\Tools), and a
    # config name may hold [ ], which -Filter and -like would take for a pattern.
    $configTmp = ''
    if ($ConfigPath) { $configTmp = Get-PostureTempPath -Path (ConvertTo-PostureFullPath -Path $ConfigPath) }
    $defaultTmp = Get-PostureTempPath -Path (ConvertTo-PostureFullPath -Path (Get-PostureDataItemPath -DataPath $DataPath -Item Config))
    # The default one was looked at above; twice would log a file that cannot be removed twice.
    if ($configTmp -and -not $configTmp.Equals($defaultTmp, [System.StringComparison]::OrdinalIgnoreCase)) {
        $folder = Split-Path -Parent $configTmp
        $leaf = Split-Path -Leaf $configTmp
        try {
            # FileInfo.Exists is false for a folder of that name, which is left alone.
            $file = New-Object System.IO.FileInfo($configTmp)
            if ($file.Exists -and $file.LastWriteTimeUtc -lt $cutoff) { [void]$stale.Add($file) }
        } catch {
            Write-PostureLog -Level Warning -Message ("{0} cannot be listed to remove what writes cut short left there ({1}): {2}" -f $folder, $leaf, $_.Exception.Message)
        }
    }
    foreach ($file in $stale) {
        if ($PSCmdlet.ShouldProcess($file.FullName, 'Remove the file of a write cut short') -and (Remove-PostureSpoolFile -Path $file.FullName -Why 'a write cut short')) {
            Write-PostureLog -Message ("Removed {0}, left by a write cut short (last written {1})." -f $file.FullName, $file.LastWriteTimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture))
        }
    }
}

function Move-PostureRejectedSnapshot {
    <#
    .SYNOPSIS
        What a run does with a snapshot the service refused for good (400 invalid_snapshot or invalid_json, 413, 415: Test-PostureSnapshotRefused),
        spooled or its own: keeps a copy as <DataPath>\rejected\<SnapshotId>.json for a support case
        (only the MaxCount newest copies are kept), deletes its spool file, and logs one line.
        Returns the line for the run's output; both name the copy. When the copy cannot be written
        the spool file stays, so the next run offers it again rather than losing it unseen; when
        the spool file is gone meanwhile, both lines say so instead.
        The copy is Json as UTF-8, or with AsSpooled the spool file's bytes as they are: what an
        earlier run spooled is the evidence, not the text this run read and sent. Repaired (how
        many escaped half characters the sent text had replaced, Repair-PostureJsonEscape) is said
        in both lines, as the service refused the repaired text, not the copy.
    .EXAMPLE
        Move-PostureRejectedSnapshot -DataPath $DataPath -SnapshotId $id -Json $json -SpoolFile $path -Why 'HTTP 400 invalid_snapshot: ...'
    .EXAMPLE
        Move-PostureRejectedSnapshot -DataPath $DataPath -SnapshotId $id -Json $sent -SpoolFile $item.FullName -AsSpooled -Repaired 1 -Why 'HTTP 400 invalid_snapshot: ...' -What 'Spooled snapshot'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$DataPath,
        [Parameter(Mandatory = $true)]
        [string]$SnapshotId,
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Json,
        [AllowEmptyString()]
        [string]$SpoolFile = '',
        [Parameter(Mandatory = $true)]
        [string]$Why,
        [ValidateSet('Snapshot', 'Spooled snapshot')]
        [string]$What = 'Snapshot',
        [switch]$AsSpooled,
        [int]$Repaired = 0,
        [int]$MaxCount = 20
    )
    $folder = Get-PostureDataItemPath -DataPath $DataPath -Item Rejected
    $copy = Join-Path -Path $folder -ChildPath ($SnapshotId + '.json')
    if (-not $PSCmdlet.ShouldProcess($copy, 'Keep refused snapshot')) { return '' }
    $sent = ''
    if ($Repaired -gt 0) {
        $halves = '{0} escaped halves of UTF-16 surrogate pairs' -f $Repaired
        if ($Repaired -eq 1) { $halves = '1 escaped half of a UTF-16 surrogate pair' }
        $sent = ' It was sent with {0} replaced by U+FFFD' -f $halves
    }
    try {
        if ($AsSpooled) {
            Write-PostureFileBytes -Path $copy -Bytes ([System.IO.File]::ReadAllBytes($SpoolFile))
        } else {
            Write-PostureTextFile -Path $copy -Text $Json
        }
    } catch {
        $kept = 'it stays in the spool'
        if (-not $SpoolFile) {
            $kept = 'it was not spooled either and is lost'
        } elseif (-not [System.IO.File]::Exists($SpoolFile)) {
            # Gone between this run reading it and copying it (another run sent or moved it, or an admin deleted it).
            $kept = 'it is no longer in the spool either (removed meanwhile, by another run or by hand)'
        }
        if ($sent) { $sent += '.' }
        Write-PostureLog -Level Error -Message ("{0} {1} refused, not retried: {2}. No copy could be written to {3} ({4}); {5}.{6}" -f $What, $SnapshotId, $Why, $folder, $_.Exception.Message, $kept, $sent)
        return ('{0} {1} refused by the service: {2}. No copy could be written to {3}; {4}.{5}' -f $What, $SnapshotId, $Why, $folder, $kept, $sent)
    }
    if ($sent) { $sent += '; the copy is the file as spooled, before that repair.' }
    # A file that cannot be deleted is logged, not thrown: the refusal is recorded either way, and
    # the run goes on with the other snapshots. A spool file left behind is refused again later.
    if ($SpoolFile -and [System.IO.File]::Exists($SpoolFile)) { $null = Remove-PostureSpoolFile -Path $SpoolFile -Why 'refused, a copy kept' }
    # Newest first; the name breaks a tie, so copies written in the same instant sort the same way each time.
    $old = @(Get-ChildItem -LiteralPath $folder -Filter '*.json' | Where-Object { -not $_.PSIsContainer } |
            Sort-Object -Property @{ Expression = 'LastWriteTimeUtc'; Descending = $true }, @{ Expression = 'Name'; Descending = $true }) |
        Select-Object -Skip $MaxCount
    foreach ($o in @($old)) { $null = Remove-PostureSpoolFile -Path $o.FullName -Why ('beyond the {0} refused copies kept' -f $MaxCount) }
    Write-PostureLog -Level Error -Message ("{0} {1} refused, not retried: {2}. A copy is in {3}.{4}" -f $What, $SnapshotId, $Why, $copy, $sent)
    return ('{0} {1} refused by the service: {2}. A copy is in {3}.{4}' -f $What, $SnapshotId, $Why, $copy, $sent)
}

function Get-PostureSpoolSnapshotId {
    <#
    .SYNOPSIS
        The snapshot id in a spool file's name (<UTC time>_<snapshotId>.json), read from the name
        because a refused file's JSON may be what is wrong with it.
    .EXAMPLE
        Get-PostureSpoolSnapshotId -Name '20261201T010000000Z_0b6f....json'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Name
    )
    return (($Name -replace '\.json$', '') -replace '^\d{8}T\d{9}Z_', '')
}

function Get-PostureSpoolStamp {
    <#
    .SYNOPSIS
        The UTC time in a spool file's name (this host's clock when the run spooled it), or $null
        for a name without one.
    .EXAMPLE
        Get-PostureSpoolStamp -Name '20261201T010000000Z_0b6f....json'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Name
    )
    $stamp = [datetime]::MinValue
    if ($Name.Length -ge 19 -and [datetime]::TryParseExact($Name.Substring(0, 19), 'yyyyMMddTHHmmssfffZ', [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal', [ref]$stamp)) { return $stamp }
    return $null
}

function Protect-PostureSecret {
    <#
    .SYNOPSIS
        Encrypts text with DPAPI in machine scope (any account on this machine can decrypt it,
        hence the file's ACL: SYSTEM and Administrators only).
    .EXAMPLE
        Protect-PostureSecret -Text '{"endpoint":"https://..."}'
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Text
    )
    if (Test-PostureFixtureProtection) { return , (Protect-PostureFixtureSecret -Text $Text) }
    Add-Type -AssemblyName System.Security
    $entropy = [System.Text.Encoding]::UTF8.GetBytes('FleetPosture.Collector.v1')
    $plain = [System.Text.Encoding]::UTF8.GetBytes($Text)
    return , [System.Security.Cryptography.ProtectedData]::Protect($plain, $entropy, [System.Security.Cryptography.DataProtectionScope]::LocalMachine)
}

function Unprotect-PostureSecret {
    <#
    .SYNOPSIS
        Decrypts what Protect-PostureSecret wrote.
    .EXAMPLE
        Unprotect-PostureSecret -Bytes ([System.IO.File]::ReadAllBytes($path))
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [byte[]]$Bytes
    )
    if (Test-PostureFixtureProtection) { return (Unprotect-PostureFixtureSecret -Bytes $Bytes) }
    Add-Type -AssemblyName System.Security
    $entropy = [System.Text.Encoding]::UTF8.GetBytes('FleetPosture.Collector.v1')
    $plain = [System.Security.Cryptography.ProtectedData]::Unprotect($Bytes, $entropy, [System.Security.Cryptography.DataProtectionScope]::LocalMachine)
    return [System.Text.Encoding]::UTF8.GetString($plain)
}

function Read-PostureConfig {
    <#
    .SYNOPSIS
        The endpoint, credential header name and credential stored by Install-PostureCollector.ps1
        (and by runs that enrolled again), the enrolment secret, the claim of a re-enrolment
        request waiting for approval and the request secret its resends carry, and whether the default proxy may be given this account's
        Windows credentials; $null when the file does not exist.
    .EXAMPLE
        Read-PostureConfig -Path 'C:\ProgramData\FleetPosture\config.dat'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    if (-not [System.IO.File]::Exists($Path)) { return $null }
    $json = Unprotect-PostureSecret -Bytes ([System.IO.File]::ReadAllBytes($Path))
    $c = ConvertFrom-PostureJson -Json $json
    return @{
        Endpoint   = [string](Get-PostureMember -InputObject $c -Name 'endpoint')
        HeaderName = [string](Get-PostureMember -InputObject $c -Name 'headerName' -Default 'x-api-key')
        ApiKey     = [string](Get-PostureMember -InputObject $c -Name 'apiKey')
        EnrolmentSecret = [string](Get-PostureMember -InputObject $c -Name 'enrolmentSecret' -Default '')
        KeyId      = [string](Get-PostureMember -InputObject $c -Name 'keyId' -Default '')
        EnrolmentClaim = [string](Get-PostureMember -InputObject $c -Name 'enrolmentClaim' -Default '')
        EnrolmentRequest = [string](Get-PostureMember -InputObject $c -Name 'enrolmentRequest' -Default '')
        ProxyUseDefaultCredentials = ((Get-PostureMember -InputObject $c -Name 'proxyUseDefaultCredentials' -Default $false) -eq $true)
    }
}

function Save-PostureConfig {
    <#
    .SYNOPSIS
        Writes the protected configuration (DPAPI, machine scope): endpoint, header name, the key
        (the server key from enrolment, or the legacy shared key; empty while a first key waits
        for approval), its id, the enrolment secret, and the claim of a re-enrolment request
        waiting for an admin's approval (it collects the key, so it is as secret as the key), the
        request secret (x-enrolment-request) of an enrolment not yet answered with a key (only its
        holder's resend takes the place of its pending request), and
        with ProxyUseDefaultCredentials that the default proxy may authenticate the runs with the
        machine's Windows credentials (Install-PostureCollector.ps1's opt-in). The folder's ACL (SYSTEM and Administrators only) is set by the installer.
    .EXAMPLE
        Save-PostureConfig -Path 'C:\ProgramData\FleetPosture\config.dat' -Endpoint $uri -ApiKey $key -EnrolmentSecret $secret
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$ApiKey,
        [string]$HeaderName = 'x-api-key',
        [string]$EnrolmentSecret = '',
        [string]$KeyId = '',
        [string]$EnrolmentClaim = '',
        [string]$EnrolmentRequest = '',
        [switch]$ProxyUseDefaultCredentials
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Store the protected configuration')) { return }
    $config = New-Object System.Collections.Specialized.OrderedDictionary
    $config['endpoint'] = $Endpoint
    $config['headerName'] = $HeaderName
    $config['apiKey'] = $ApiKey
    if ($KeyId) { $config['keyId'] = $KeyId }
    if ($EnrolmentSecret) { $config['enrolmentSecret'] = $EnrolmentSecret }
    if ($EnrolmentClaim) { $config['enrolmentClaim'] = $EnrolmentClaim }
    if ($EnrolmentRequest) { $config['enrolmentRequest'] = $EnrolmentRequest }
    if ($ProxyUseDefaultCredentials) { $config['proxyUseDefaultCredentials'] = $true }
    $bytes = Protect-PostureSecret -Text (ConvertTo-PostureJson -InputObject $config)
    $tmp = Get-PostureTempPath -Path $Path
    [System.IO.File]::WriteAllBytes($tmp, $bytes)
    Move-PostureFileIntoPlace -Source $tmp -Path $Path
}
