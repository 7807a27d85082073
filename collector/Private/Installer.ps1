# Installation: copy the scripts, store the endpoint and credential (DPAPI, machine scope) in a
# folder only SYSTEM and Administrators can read, and register an hourly SYSTEM task with a random
# delay so a fleet does not post in the same second.

function Test-PostureAdministrator {
    <#
    .SYNOPSIS
        True when this process runs elevated as a member of Administrators.
    .EXAMPLE
        if (-not (Test-PostureAdministrator)) { throw 'Run as Administrator.' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object System.Security.Principal.WindowsPrincipal($identity)
    return $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
}

function New-PostureTaskXml {
    <#
    .SYNOPSIS
        The Task Scheduler 2.0 definition: SYSTEM, highest privileges, every hour with a random
        delay, no overlapping runs, stopped after 30 minutes.
        With DataPath (a full path), the runs are given -DataPath: an installation whose data
        folder is not the default must have its runs read the configuration it stored there.
    .EXAMPLE
        New-PostureTaskXml -ScriptPath 'C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1' -RandomDelayMinutes 50
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds a string; changes nothing.')]
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$ScriptPath,
        [ValidateRange(0, 59)]
        [int]$RandomDelayMinutes = 50,
        [datetime]$Start = (Get-Date).Date,
        [string]$DataPath = ''
    )
    # A Windows path built as text: Join-Path would use this machine's separator and refuse a null root.
    $powershell = '{0}\System32\WindowsPowerShell\v1.0\powershell.exe' -f $env:SystemRoot
    $arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}"' -f $ScriptPath
    # Backslashes before a closing quote are doubled, as Windows splits a command line: "D:\" would
    # otherwise quote the rest of the line.
    if ($DataPath) { $arguments += (' -DataPath "{0}"' -f ($DataPath -replace '(\\+)$', '$1$1')) }
    $esc = { param($s) [System.Security.SecurityElement]::Escape($s) }
    $startText = $Start.ToString("yyyy-MM-dd'T'HH:mm:ss", [System.Globalization.CultureInfo]::InvariantCulture)
    # ExecutionTimeLimit PT30M: the collector's own time budget (-RunBudgetSeconds, 25 minutes)
    # ends its requests first, and its snapshot is spooled before any of them, so a stop loses nothing.
    return @"
<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>fleet-posture: sends this server's configuration snapshot every hour.</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>$startText</StartBoundary>
      <Enabled>true</Enabled>
      <Repetition>
        <Interval>PT1H</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <RandomDelay>PT$($RandomDelayMinutes)M</RandomDelay>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <ExecutionTimeLimit>PT30M</ExecutionTimeLimit>
    <Enabled>true</Enabled>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>$(& $esc $powershell)</Command>
      <Arguments>$(& $esc $arguments)</Arguments>
    </Exec>
  </Actions>
</Task>
"@
}

function Invoke-PostureTaskCommand {
    <#
    .SYNOPSIS
        Runs schtasks.exe (Windows Server 2008/2008 R2, where the ScheduledTasks module is missing).
    .EXAMPLE
        Invoke-PostureTaskCommand -ArgumentList '/Query', '/TN', 'FleetPosture Collector'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string[]]$ArgumentList
    )
    $output = & schtasks.exe @ArgumentList 2>&1
    return @{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
}

function Register-PostureTask {
    <#
    .SYNOPSIS
        Registers (or replaces) the scheduled task from its XML definition.
    .EXAMPLE
        Register-PostureTask -TaskName 'FleetPosture Collector' -Xml $xml
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$TaskName,
        [Parameter(Mandatory = $true)]
        [string]$Xml
    )
    if (-not $PSCmdlet.ShouldProcess($TaskName, 'Register scheduled task')) { return }
    if (Get-Command -Name Register-ScheduledTask -ErrorAction SilentlyContinue) {
        [void](Register-ScheduledTask -TaskName $TaskName -Xml $Xml -Force)
        return
    }
    $file = [System.IO.Path]::GetTempFileName()
    try {
        [System.IO.File]::WriteAllText($file, $Xml, [System.Text.Encoding]::Unicode)
        $r = Invoke-PostureTaskCommand -ArgumentList @('/Create', '/TN', $TaskName, '/XML', $file, '/F')
        if ($r.ExitCode -ne 0) { throw ('schtasks /Create failed: {0}' -f $r.Output) }
    } finally {
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
    }
}

function Unregister-PostureTask {
    <#
    .SYNOPSIS
        Removes the scheduled task if it exists.
    .EXAMPLE
        Unregister-PostureTask -TaskName 'FleetPosture Collector'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$TaskName
    )
    if (-not $PSCmdlet.ShouldProcess($TaskName, 'Unregister scheduled task')) { return }
    if (Get-Command -Name Unregister-ScheduledTask -ErrorAction SilentlyContinue) {
        if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
            Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
        }
        return
    }
    $q = Invoke-PostureTaskCommand -ArgumentList @('/Query', '/TN', $TaskName)
    if ($q.ExitCode -eq 0) {
        $r = Invoke-PostureTaskCommand -ArgumentList @('/Delete', '/TN', $TaskName, '/F')
        if ($r.ExitCode -ne 0) { throw ('schtasks /Delete failed: {0}' -f $r.Output) }
    }
}

function Assert-PostureNotLink {
    <#
    .SYNOPSIS
        Throws when the item is a link (junction or symbolic link): what it points to lies outside
        the folder being protected.
    .EXAMPLE
        Assert-PostureNotLink -Item (Get-Item -LiteralPath 'C:\ProgramData\FleetPosture' -Force)
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.IO.FileSystemInfo]$Item,
        [string]$Refusal = 'remove it and install again: what it points to cannot be protected.'
    )
    if ($Item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
        throw ('{0} is a link (junction or symbolic link); {1}' -f $Item.FullName, $Refusal)
    }
}

function Assert-PostureFolderNotLink {
    <#
    .SYNOPSIS
        Throws when one of the folders exists as a link: the installer would write into, and the
        uninstaller delete, whatever it points to. Folders that do not exist yet pass.
    .EXAMPLE
        Assert-PostureFolderNotLink -Path 'C:\Program Files\FleetPosture', 'C:\ProgramData\FleetPosture'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string[]]$Path,
        [string]$Refusal = 'remove it and install again: what it points to cannot be protected.'
    )
    foreach ($p in $Path) {
        # Get-Item rather than Test-Path: a link whose target is gone is still a link.
        $item = Get-Item -LiteralPath $p -Force -ErrorAction SilentlyContinue
        if ($null -ne $item) { Assert-PostureNotLink -Item $item -Refusal $Refusal }
    }
}

function Set-PostureRestrictedAcl {
    <#
    .SYNOPSIS
        Replaces a folder's ACL: inheritance off, owner Administrators, full control for SYSTEM
        and Administrators, read and execute for the SIDs in ReadAndExecuteSid, all inherited by
        everything inside. What is already inside loses its own entries and owner and inherits
        only these: a file or folder someone created there before the installation must not keep
        a way to change what the SYSTEM task reads or runs.
    .EXAMPLE
        Set-PostureRestrictedAcl -Path 'C:\ProgramData\FleetPosture'
        Configuration, spool, log and manifest cache: SYSTEM and Administrators only.
    .EXAMPLE
        Set-PostureRestrictedAcl -Path 'D:\Tools\FleetPosture' -ReadAndExecuteSid 'S-1-5-32-545'
        The scripts: Users may read and run them, not change them.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [string[]]$ReadAndExecuteSid = @()
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Restrict changes to SYSTEM and Administrators')) { return }
    # The folder itself first: one an ordinary user created as a link before the installation
    # would have the installer protect, and write into, whatever it points to.
    Assert-PostureNotLink -Item (Get-Item -LiteralPath $Path -Force -ErrorAction Stop)
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    $none = [System.Security.AccessControl.PropagationFlags]::None
    $allow = [System.Security.AccessControl.AccessControlType]::Allow
    $rights = @{ 'S-1-5-18' = 'FullControl'; 'S-1-5-32-544' = 'FullControl' }
    foreach ($sid in $ReadAndExecuteSid) { $rights[$sid] = 'ReadAndExecute' }
    $administrators = New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-544')
    foreach ($sid in $rights.Keys) {
        $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $right = [System.Security.AccessControl.FileSystemRights]$rights[$sid]
        $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($identity, $right, $inherit, $none, $allow)))
    }
    $acl.SetOwner($administrators)
    Set-Acl -LiteralPath $Path -AclObject $acl -ErrorAction Stop
    # Each item inside gets an empty, unprotected ACL: it keeps only what it inherits from above.
    # Walked by hand, never through a link: a junction someone left inside would otherwise have
    # the installer rewrite the ACLs of whatever it points to, or copy the scripts there.
    # A scheduled run may be working at the same moment (a startup script reinstalling at boot)
    # and move spool files or rotate its log: an item gone since it was listed has nothing left
    # to protect and is skipped; any other failure still stops the installation.
    $folders = New-Object System.Collections.Queue
    $folders.Enqueue($Path)
    while ($folders.Count -gt 0) {
        $folder = $folders.Dequeue()
        $items = @()
        try { $items = @(Get-ChildItem -LiteralPath $folder -Force -ErrorAction Stop) } catch {
            if (Test-Path -LiteralPath $folder) { throw }
        }
        foreach ($item in $items) {
            Assert-PostureNotLink -Item $item
            if ($item.PSIsContainer) { $own = New-Object System.Security.AccessControl.DirectorySecurity } else { $own = New-Object System.Security.AccessControl.FileSecurity }
            $own.SetAccessRuleProtection($false, $false)
            $own.SetOwner($administrators)
            try { Set-Acl -LiteralPath $item.FullName -AclObject $own -ErrorAction Stop } catch {
                if (Test-Path -LiteralPath $item.FullName) { throw }
                continue
            }
            if ($item.PSIsContainer) { $folders.Enqueue($item.FullName) }
        }
    }
}

function Test-PostureEndpoint {
    <#
    .SYNOPSIS
        True when the installer may store this endpoint: https://, or with -AllowLoopbackHttp an
        http:// URL of this machine (localhost, 127.0.0.0/8, ::1), for trying the collector against
        a local service. Keys never cross a network in the clear.
    .EXAMPLE
        Test-PostureEndpoint -Endpoint 'http://127.0.0.1:7071/api' -AllowLoopbackHttp
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [switch]$AllowLoopbackHttp
    )
    $uri = $null
    if (-not [System.Uri]::TryCreate($Endpoint, [System.UriKind]::Absolute, [ref]$uri)) { return $false }
    if ($uri.Scheme -eq 'https') { return $true }
    return ($AllowLoopbackHttp -and $uri.Scheme -eq 'http' -and $uri.IsLoopback)
}

function Test-PostureSameFolder {
    <#
    .SYNOPSIS
        True when two paths name one folder: compared as full paths (ConvertTo-PostureFullPath),
        case-insensitively as Windows does, without a trailing separator.
    .EXAMPLE
        Test-PostureSameFolder -Path 'C:\ProgramData\FleetPosture\' -Other 'c:\programdata\fleetposture'
        Returns $true.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Other
    )
    $a = (ConvertTo-PostureFullPath -Path $Path).TrimEnd('\', '/')
    $b = (ConvertTo-PostureFullPath -Path $Other).TrimEnd('\', '/')
    return $a.Equals($b, [System.StringComparison]::OrdinalIgnoreCase)
}

function Test-PostureForeignFolder {
    <#
    .SYNOPSIS
        True when the folder holds something but no Send-PostureSnapshot.ps1: not an earlier
        installation of the collector, most likely a folder other tools share (D:\Tools).
    .EXAMPLE
        if (Test-PostureForeignFolder -Path 'D:\Tools') { throw 'Choose a folder of its own.' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return $false }
    if (Test-Path -LiteralPath (Join-Path -Path $Path -ChildPath 'Send-PostureSnapshot.ps1') -PathType Leaf) { return $false }
    $items = @(Get-ChildItem -LiteralPath $Path -Force)
    if ($items.Count -eq 0) { return $false }
    # An installation stopped partway (by an older installer, which made Private\ first) leaves
    # only Private\ with some of the helpers: the collector's own, to be completed or removed.
    $private = $items[0]
    if ($items.Count -eq 1 -and $private.PSIsContainer -and $private.Name -eq 'Private' -and -not ($private.Attributes -band [System.IO.FileAttributes]::ReparsePoint)) {
        $other = @(Get-ChildItem -LiteralPath $private.FullName -Force | Where-Object { $_.PSIsContainer -or $_.Extension -ne '.ps1' })
        return ($other.Count -gt 0)
    }
    return $true
}

function Assert-PostureInstallTarget {
    <#
    .SYNOPSIS
        Throws, before anything is changed, when a folder's full path holds %NAME% of an
        environment variable (the task would run with another path), or when the installation
        would reset the owner and ACL of files that are not the collector's: an install folder
        holding other files and no earlier installation, or install and data folders that are the
        same or one inside the other (each gets its own ACL, and the inner one would end up with
        the wrong one).
    .EXAMPLE
        Assert-PostureInstallTarget -InstallPath 'D:\Tools\FleetPosture' -DataPath 'C:\ProgramData\FleetPosture'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$InstallPath,
        [Parameter(Mandatory = $true)]
        [string]$DataPath
    )
    # Task Scheduler expands %NAME% in the task's arguments when it runs it: a folder whose full
    # path holds one (-DataPath '%ProgramData%\x' in single quotes is a relative folder named so)
    # would be a different folder for the runs than the one installed.
    foreach ($p in @($InstallPath, $DataPath)) {
        $full = ConvertTo-PostureFullPath -Path $p
        if ([System.Environment]::ExpandEnvironmentVariables($full) -ne $full) {
            throw ('The folder {0} holds an environment variable''s name between % signs, which Task Scheduler would replace with its value when it runs the collector; give the folder without it (in PowerShell, "$env:ProgramData\FleetPosture" rather than ''%ProgramData%\FleetPosture'').' -f $full)
        }
    }
    $separator = [System.IO.Path]::DirectorySeparatorChar
    # Compared as full paths, case-insensitively as Windows does, without a trailing separator.
    $full = @($InstallPath, $DataPath) | ForEach-Object { (ConvertTo-PostureFullPath -Path $_).TrimEnd('\', '/') }
    $ignoreCase = [System.StringComparison]::OrdinalIgnoreCase
    if ($full[0].Equals($full[1], $ignoreCase) -or ($full[0] + $separator).StartsWith($full[1] + $separator, $ignoreCase) -or ($full[1] + $separator).StartsWith($full[0] + $separator, $ignoreCase)) {
        throw ('The install folder {0} and the data folder {1} must be two separate folders, neither inside the other.' -f $InstallPath, $DataPath)
    }
    # A folder that is a link would have the installer create, protect and copy into its target.
    Assert-PostureFolderNotLink -Path $InstallPath, $DataPath
    if (Test-PostureForeignFolder -Path $InstallPath) {
        throw ('The install folder {0} already holds other files and no earlier installation of the collector; choose a new or empty folder, as the installer resets the owner and ACL of everything in it.' -f $InstallPath)
    }
}

function Register-PostureCollector {
    <#
    .SYNOPSIS
        Installs the collector: scripts to InstallPath (ACL'd: only SYSTEM and Administrators may
        change them, Users read and run them), protected configuration to DataPath (ACL'd to SYSTEM
        and Administrators), and the hourly SYSTEM task. When the enrolment's answers
        show this host's clock off from the service's, writes the collector's clock warning once
        (New-PostureClockCheck, its default threshold); what is installed stays the same.
    .EXAMPLE
        Register-PostureCollector -Endpoint https://posture.contoso.net -EnrolmentSecret $secret -SourcePath .\collector
        Enrols this server (POST /api/enroll) and stores its server key and the enrolment secret.
        -ApiKey (a shared ingest key) is the legacy path, for migration only.
        -ProxyUseDefaultCredentials lets the default proxy authenticate the installer and the runs
        with Windows credentials (stored in the configuration; off by default).
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [string]$ApiKey = '',
        [string]$EnrolmentSecret = '',
        [string]$HeaderName = 'x-api-key',
        [Parameter(Mandatory = $true)]
        [string]$SourcePath,
        [Parameter(Mandatory = $true)]
        [string]$InstallPath,
        [Parameter(Mandatory = $true)]
        [string]$DataPath,
        [string]$TaskName = 'FleetPosture Collector',
        [int]$RandomDelayMinutes = 50,
        [switch]$AllowLoopbackHttp,
        [switch]$Reenrol,
        [switch]$ProxyUseDefaultCredentials
    )
    if (-not (Test-PostureEndpoint -Endpoint $Endpoint -AllowLoopbackHttp:$AllowLoopbackHttp)) {
        throw ('The endpoint must be an https:// URL, not {0} (http:// is allowed only for this machine, with -AllowLoopbackHttp).' -f $Endpoint)
    }
    if (-not (Test-PostureAdministrator)) { throw 'Run Install-PostureCollector.ps1 from an elevated (Administrator) PowerShell.' }
    if (-not $EnrolmentSecret -and -not $ApiKey) { throw 'Pass -EnrolmentSecret (or, for migration only, the legacy shared -ApiKey).' }
    # .NET file calls (the configuration, removing a folder a refused install made) resolve a relative
    # path against the process's directory, not where the admin typed the command: full paths only.
    $SourcePath = ConvertTo-PostureFullPath -Path $SourcePath
    $InstallPath = ConvertTo-PostureFullPath -Path $InstallPath
    $DataPath = ConvertTo-PostureFullPath -Path $DataPath
    Assert-PostureInstallTarget -InstallPath $InstallPath -DataPath $DataPath

    # Enrol (or confirm the stored key) first: a wrong secret must fail the installation before anything is copied.
    $keyId = ''
    $claim = ''
    $requestSecret = ''
    $pending = $null
    $kept = $false
    $dataReady = $false
    $configPath = Get-PostureDataItemPath -DataPath $DataPath -Item Config
    $previous = @{ ApiKey = ''; KeyId = ''; EnrolmentClaim = ''; EnrolmentRequest = ''; Stored = $null; Other = $null }
    if ($EnrolmentSecret) { $previous = Read-PosturePreviousEnrolment -Path $configPath -Endpoint $Endpoint }
    # Reinstalling over a key the service still takes keeps it: a startup script runs the installer at
    # every restart, and a new key each time would raise a re-enrolment alert per server per restart.
    if ($EnrolmentSecret -and -not $Reenrol -and $previous.ApiKey) {
        $null = Initialize-PostureWebRequest -ProxyUseDefaultCredentials:$ProxyUseDefaultCredentials
        $check = Get-PostureServerKeyState -Endpoint $Endpoint -ApiKey $previous.ApiKey -HeaderName $HeaderName
        if ($check.State -eq 'Works') {
            $ApiKey = $previous.ApiKey
            $keyId = $previous.KeyId
            $kept = $true
            Write-Verbose 'The stored server key still works: kept (-Reenrol gets a new one).'
        } elseif ($check.State -ne 'Refused') {
            # Enrolling on a proxy's or a firewall's 401/403, or on no answer, would replace a key
            # that may well work and raise a re-enrolment alert: only the service's refusal may.
            throw ('Nothing was changed and the stored server key stays: checking it with GET {0} got no answer of the service that says whether it takes the key ({1}). Install again once the service answers; the earlier installation''s task goes on meanwhile.' -f $check.Uri, $check.Problem)
        }
    }
    if ($EnrolmentSecret -and -not $kept -and $PSCmdlet.ShouldProcess($Endpoint, 'Enrol this server (POST /api/enroll)')) {
        $null = Initialize-PostureWebRequest -ProxyUseDefaultCredentials:$ProxyUseDefaultCredentials
        # Reinstalling: the current key renews itself where re-enrolment needs an admin's approval,
        # and a request already waiting is followed up with its claim rather than a second request.
        # The admin installing is the one person watching: the enrolment's answers carry the
        # service's clock, so they go through a run's clock check, which warns once, on the
        # console (the installer keeps no log). The other retry rules stay a run's defaults.
        $policy = New-PostureRetryPolicy -ClockCheck (New-PostureClockCheck)
        # The request secret of a request still waiting is its own; the runs resend with it.
        $requestSecret = $previous.EnrolmentRequest
        if (-not $requestSecret) { $requestSecret = New-PostureEnrolmentRequestSecret }
        # Stored before its first send, as a run stores it: when every answer is lost, the next
        # install or run resends with the same secret, so the service takes that for this
        # collector's own request instead of keeping the lost one pending beside a new one.
        $before = $null
        $dataMade = @(Get-PostureMissingFolder -Path $DataPath)
        try {
            if ($null -eq $previous.Other) {
                Initialize-PostureDataFolder -Path $DataPath
                $dataReady = $true
                $before = Save-PostureRequestSecret -Path $configPath -Endpoint $Endpoint -HeaderName $HeaderName -EnrolmentSecret $EnrolmentSecret -RequestSecret $requestSecret -Stored $previous.Stored -ProxyUseDefaultCredentials:$ProxyUseDefaultCredentials
            }
            $enrolment = Invoke-PostureEnrolment -Endpoint $Endpoint -EnrolmentSecret $EnrolmentSecret -HeaderName $HeaderName -CurrentKey $previous.ApiKey -Claim $previous.EnrolmentClaim -RequestSecret $requestSecret -RetryPolicy $policy
        } catch {
            # A refusal is an answer: nothing waits under the secret, and a refused install changes
            # nothing, except a claim and request secret the refusal ended, cleared as a run clears them.
            $code = 0
            if ($_.Exception.Data.Contains('StatusCode')) { $code = [int]$_.Exception.Data['StatusCode'] }
            if ($null -ne $before -and $code -ge 400 -and -not (Test-PostureRetryableCode -StatusCode $code)) {
                $cleared = $false
                if ($null -ne $previous.Stored -and (Test-PostureEnrolmentEnded -Exception $_.Exception)) {
                    $cleared = Clear-PostureStoredClaim -Path $configPath -Endpoint $Endpoint -Stored $previous.Stored
                }
                if (-not $cleared) { Restore-PostureConfigBytes -Path $configPath -Before $before }
            }
            # A first install that stops here leaves no trace: the data folder it made goes if nothing is
            # kept in it, and so do the parents a custom -DataPath made it create (deepest first, so
            # one that stays, holding something, keeps those above it).
            foreach ($folder in $dataMade) { Remove-PostureEmptyFolder -Path $folder }
            throw
        }
        if ($enrolment.Status -eq 'Pending') {
            $pending = $enrolment
            $ApiKey = ''
            $claim = $enrolment.Claim
            Write-Warning ('The service keeps the re-enrolment of {0} waiting for an admin''s approval (request {1}); the collector collects its key at the first run after the approval.' -f $enrolment.Server, $enrolment.RequestId)
        } else {
            $ApiKey = $enrolment.Key
            $keyId = $enrolment.KeyId
            $requestSecret = ''
            Write-Verbose ('Enrolled as {0} (key id {1}).' -f $enrolment.Server, $keyId)
        }
    } elseif (-not $EnrolmentSecret) {
        Write-Warning 'Installing with a shared ingest key (-ApiKey): migration only. The service refuses snapshots posted with shared ingest keys once migration ends; reinstall with -EnrolmentSecret.'
    }

    if ($PSCmdlet.ShouldProcess($InstallPath, 'Copy collector scripts')) {
        [void](New-Item -ItemType Directory -Path $InstallPath -Force)
        # The SYSTEM task runs these scripts: only SYSTEM and Administrators may change them, Users
        # (S-1-5-32-545) only read and run them. %ProgramFiles% gives that by inheritance, a folder
        # such as D:\Tools may let any user write. Set before the copy, so no copy is ever open to change.
        $null = Set-PostureRestrictedAcl -Path $InstallPath -ReadAndExecuteSid 'S-1-5-32-545'
        # Send-PostureSnapshot.ps1 first: it marks the folder as the collector's, so an installation
        # stopped after this point is recognised by the next installation and by the uninstaller.
        Copy-Item -LiteralPath (Join-Path -Path $SourcePath -ChildPath 'Send-PostureSnapshot.ps1') -Destination $InstallPath -Force
        $privateTarget = Join-Path -Path $InstallPath -ChildPath 'Private'
        [void](New-Item -ItemType Directory -Path $privateTarget -Force)
        # Both scripts load every Private\*.ps1 they find: a helper an upgrade dropped must not stay behind and run.
        foreach ($old in @(Get-ChildItem -LiteralPath $privateTarget -Filter '*.ps1')) { Remove-Item -LiteralPath $old.FullName -Force }
        foreach ($f in @(Get-ChildItem -LiteralPath (Join-Path -Path $SourcePath -ChildPath 'Private') -Filter '*.ps1')) {
            Copy-Item -LiteralPath $f.FullName -Destination (Join-Path -Path $InstallPath -ChildPath 'Private') -Force
        }
    }

    if ($PSCmdlet.ShouldProcess($DataPath, 'Store the protected configuration')) {
        if (-not $dataReady) { Initialize-PostureDataFolder -Path $DataPath }
        $null = Save-PostureConfig -Path $configPath -Endpoint $Endpoint -ApiKey $ApiKey -HeaderName $HeaderName -EnrolmentSecret $EnrolmentSecret -KeyId $keyId -EnrolmentClaim $claim -EnrolmentRequest $requestSecret -ProxyUseDefaultCredentials:$ProxyUseDefaultCredentials
    }

    # The task's runs know only the default data folder: any other is passed to them, as the full
    # path resolved above (a relative one would be taken from the task's own directory).
    $taskData = @{}
    if (-not (Test-PostureSameFolder -Path $DataPath -Other (Get-PostureDataPath))) { $taskData['DataPath'] = $DataPath }
    $xml = New-PostureTaskXml -ScriptPath (Join-Path -Path $InstallPath -ChildPath 'Send-PostureSnapshot.ps1') -RandomDelayMinutes $RandomDelayMinutes @taskData
    $null = Register-PostureTask -TaskName $TaskName -Xml $xml
    $done = 'Installed: task "{0}" runs {1} hourly as SYSTEM (random delay up to {2} min); configuration in {3}.' -f $TaskName, (Join-Path -Path $InstallPath -ChildPath 'Send-PostureSnapshot.ps1'), $RandomDelayMinutes, $DataPath
    if ($kept) { $done += ' The server key stored before still works and is kept (-Reenrol gets a new one).' }
    if ($null -ne $pending) {
        $done += (' The server key waits for an admin''s approval of re-enrolment request {0} (POST /api/servers/{1}/enrolments/{0}/approve); until then each run spools its snapshot and exits 3.' -f $pending.RequestId, $pending.Server)
    }
    return $done
}

function Get-PostureServerKeyState {
    <#
    .SYNOPSIS
        Whether the service takes this server key now, from GET /api/manifest with it: State Works
        (the service's manifest, as a run reads it: Read-PostureManifestAnswer; a 200 of a proxy's
        sign-in page, a captive portal or a wrong URL is no check of the key), Refused (the
        service's own refusal of the key, Test-PostureKeyRefused: 401 unauthorized or key_revoked,
        403 forbidden; the installer then enrols, as on a first install) or Unknown (anything else:
        a proxy's, a firewall's or a front end's answer, a busy service or none), with Uri and
        Problem (what answered, from Read-PostureManifestAnswer; '' for Works). A busy
        service or no answer is asked again as a run's requests are (a startup script often runs
        before the network is up). Only Refused lets the installer replace the key: enrolling
        otherwise would replace a working key and raise a re-enrolment alert.
    .EXAMPLE
        Get-PostureServerKeyState -Endpoint 'https://posture.contoso.net/api' -ApiKey $key
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [Parameter(Mandatory = $true)]
        [string]$ApiKey,
        [string]$HeaderName = 'x-api-key'
    )
    $uri = Get-PostureApiUri -Endpoint $Endpoint -Route 'manifest'
    $headers = @{ $HeaderName = $ApiKey }
    $r = Invoke-PostureHttpRequestWithRetry -Method Get -Uri $uri -Headers $headers -RetryPolicy (New-PostureRetryPolicy)
    $read = Read-PostureManifestAnswer -Answer $r -Redact @($headers.Values)
    $state = 'Unknown'
    if ($null -ne $read.Manifest) {
        $state = 'Works'
    } elseif (Test-PostureKeyRefused -StatusCode $r.StatusCode -Content ([string]$r.Content)) {
        $state = 'Refused'
    }
    return @{ State = $state; Uri = $uri; Problem = $read.Problem }
}

function Read-PosturePreviousEnrolment {
    <#
    .SYNOPSIS
        What an earlier installation for the same endpoint left to prove this server's identity:
        its server key (a legacy shared key is no proof), and the claim and request secret of a
        re-enrolment request waiting for approval. Empty strings when there is none or it cannot be read.
        Stored is the whole configuration read for this endpoint, Other one read for another endpoint
        ($null when there is none).
    .EXAMPLE
        Read-PosturePreviousEnrolment -Path 'C:\ProgramData\FleetPosture\config.dat' -Endpoint 'https://posture.contoso.net/api'
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Endpoint
    )
    $previous = @{ ApiKey = ''; KeyId = ''; EnrolmentClaim = ''; EnrolmentRequest = ''; Stored = $null; Other = $null }
    $config = $null
    try { $config = Read-PostureConfig -Path $Path } catch {
        Write-Verbose ('The earlier configuration {0} cannot be read ({1}); enrolling without it.' -f $Path, $_.Exception.Message)
    }
    if ($null -eq $config) { return $previous }
    if ($config.Endpoint -ne $Endpoint) {
        $previous.Other = $config
        return $previous
    }
    $previous.Stored = $config
    if ($config.ApiKey -like 'fp1.*') {
        $previous.ApiKey = $config.ApiKey
        $previous.KeyId = [string]$config.KeyId
    }
    $previous.EnrolmentClaim = $config.EnrolmentClaim
    $previous.EnrolmentRequest = [string]$config['EnrolmentRequest']
    return $previous
}

function Initialize-PostureDataFolder {
    <#
    .SYNOPSIS
        Creates the data folder and restricts it to SYSTEM and Administrators before anything
        secret is written into it.
    .EXAMPLE
        Initialize-PostureDataFolder -Path 'C:\ProgramData\FleetPosture'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    [void](New-Item -ItemType Directory -Path $Path -Force)
    $null = Set-PostureRestrictedAcl -Path $Path
}

function Save-PostureRequestSecret {
    <#
    .SYNOPSIS
        Stores the enrolment secret and the request secret (x-enrolment-request) of the installer's
        enrolment before it is sent, keeping what the configuration for this endpoint already
        held (its key, key id, claim, header name and proxy opt-in), so an enrolment that fails
        leaves a working key in place. Returns the file's bytes before (an empty array when there
        was none), for Restore-PostureConfigBytes; throws when the configuration cannot be stored.
    .EXAMPLE
        $before = Save-PostureRequestSecret -Path $configPath -Endpoint $uri -EnrolmentSecret $secret -RequestSecret $request -Stored $previous.Stored
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [string]$HeaderName = 'x-api-key',
        [Parameter(Mandatory = $true)]
        [string]$EnrolmentSecret,
        [Parameter(Mandatory = $true)]
        [string]$RequestSecret,
        [hashtable]$Stored = $null,
        [switch]$ProxyUseDefaultCredentials
    )
    $before = [byte[]]@()
    if ([System.IO.File]::Exists($Path)) { $before = [System.IO.File]::ReadAllBytes($Path) }
    if ($null -eq $Stored) {
        $state = New-PostureEnrolmentState -Endpoint $Endpoint -ConfigPath $Path -HeaderName $HeaderName -Secret $EnrolmentSecret -RequestSecret $RequestSecret -ProxyUseDefaultCredentials ([bool]$ProxyUseDefaultCredentials)
    } else {
        $state = New-PostureEnrolmentState -Endpoint $Endpoint -ConfigPath $Path -HeaderName $Stored.HeaderName -Secret $EnrolmentSecret -ApiKey $Stored.ApiKey -KeyId $Stored.KeyId -Claim $Stored.EnrolmentClaim -RequestSecret $RequestSecret -ProxyUseDefaultCredentials $Stored.ProxyUseDefaultCredentials
    }
    if (-not (Save-PostureEnrolmentState -Enrolment $state)) {
        throw ('The configuration {0} could not be stored, so nothing was sent to enrol this server.' -f $Path)
    }
    return , $before
}

function Clear-PostureStoredClaim {
    <#
    .SYNOPSIS
        Stores the configuration read before the installation (Stored) without its claim and
        request secret: the refusal ended that request (or enrolment), and the next installation or run files a
        new one with a new secret. Everything else stays as it was. Returns $false (and warns
        why) when it cannot be stored.
    .EXAMPLE
        Clear-PostureStoredClaim -Path $configPath -Endpoint $uri -Stored $previous.Stored
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [Parameter(Mandatory = $true)]
        [hashtable]$Stored
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Clear the refused claim')) { return $false }
    $state = New-PostureEnrolmentState -Endpoint $Endpoint -ConfigPath $Path -HeaderName $Stored.HeaderName -Secret $Stored.EnrolmentSecret -ApiKey $Stored.ApiKey -KeyId $Stored.KeyId -ProxyUseDefaultCredentials ([bool]$Stored.ProxyUseDefaultCredentials)
    if (-not (Save-PostureEnrolmentState -Enrolment $state)) { return $false }
    if ($Stored.EnrolmentClaim) {
        Write-Warning ('The claim of re-enrolment request {0} was cleared; the next installation or run files a new request.' -f ($Stored.EnrolmentClaim -split '\.')[0])
    }
    return $true
}

function Get-PostureMissingFolder {
    <#
    .SYNOPSIS
        The folders creating Path would make: Path and each of its parents that does not exist yet,
        deepest first (none when Path exists), so a failed installation removes exactly those.
    .EXAMPLE
        Get-PostureMissingFolder -Path 'D:\Tools\FleetPosture\Data'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    $folder = $Path
    while ($folder -and -not (Test-Path -LiteralPath $folder)) {
        $folder
        $folder = Split-Path -Parent $folder
    }
}

function Remove-PostureEmptyFolder {
    <#
    .SYNOPSIS
        Removes the folder only if it is empty (one step, so nothing put there meanwhile is lost);
        a folder holding anything, or gone, stays as it is.
    .EXAMPLE
        Remove-PostureEmptyFolder -Path 'C:\ProgramData\FleetPosture'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    if (-not $PSCmdlet.ShouldProcess($Path, 'Remove the empty folder')) { return }
    # Directory.Delete without recursion refuses a folder that is not empty.
    try { [System.IO.Directory]::Delete($Path, $false) } catch {
        Write-Verbose ('{0} stays: {1}' -f $Path, $_.Exception.Message)
    }
}

function Restore-PostureConfigBytes {
    <#
    .SYNOPSIS
        Puts back the configuration as it was before Save-PostureRequestSecret (removes it when
        there was none).
    .EXAMPLE
        Restore-PostureConfigBytes -Path $configPath -Before $before
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path,
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [byte[]]$Before
    )
    if ($Before.Length -eq 0) {
        if ([System.IO.File]::Exists($Path)) { [System.IO.File]::Delete($Path) }
        return
    }
    $tmp = Get-PostureTempPath -Path $Path
    [System.IO.File]::WriteAllBytes($tmp, $Before)
    Move-PostureFileIntoPlace -Source $tmp -Path $Path
}

function ConvertFrom-PostureTaskArgument {
    <#
    .SYNOPSIS
        The -DataPath a task's arguments give its runs (as New-PostureTaskXml writes it: quoted,
        backslashes before the closing quote doubled), or '' when they give none.
    .EXAMPLE
        ConvertFrom-PostureTaskArgument -Arguments '-NoProfile -File "C:\x\Send-PostureSnapshot.ps1" -DataPath "D:\\"'
        Returns D:\.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Arguments
    )
    if (-not $Arguments) { return '' }
    $m = [System.Text.RegularExpressions.Regex]::Match($Arguments, '(?:^|\s)-DataPath\s+"([^"]*)"', 'IgnoreCase')
    if (-not $m.Success) { return '' }
    $path = $m.Groups[1].Value
    $tail = [System.Text.RegularExpressions.Regex]::Match($path, '\\+$')
    if ($tail.Success) { $path = $path.Substring(0, $path.Length - [int][Math]::Floor($tail.Length / 2)) }
    return $path
}

function Get-PostureTaskDataPath {
    <#
    .SYNOPSIS
        The data folder the installed task's runs are given (-DataPath in its arguments), read
        with Get-ScheduledTask, else schtasks.exe /Query /XML (Windows Server 2008/2008 R2); ''
        when there is no such task or its runs use the default folder.
    .EXAMPLE
        Get-PostureTaskDataPath -TaskName 'FleetPosture Collector'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$TaskName
    )
    # A task that cannot be read (Task Scheduler stopped, no schtasks.exe) must not stop the
    # uninstallation: the caller then falls back to the default folder and says so.
    try {
        if (Get-Command -Name Get-ScheduledTask -ErrorAction SilentlyContinue) {
            $task = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
            if ($null -eq $task) { return '' }
            $arguments = [string]((@($task.Actions) | ForEach-Object { $_.Arguments }) -join ' ')
        } else {
            $q = Invoke-PostureTaskCommand -ArgumentList @('/Query', '/TN', $TaskName, '/XML')
            if ($q.ExitCode -ne 0) { return '' }
            $xml = [xml]([string]$q.Output).Trim()
            $arguments = [string]((@($xml.GetElementsByTagName('Arguments')) | ForEach-Object { $_.InnerText }) -join ' ')
        }
    } catch {
        Write-Verbose ("The task {0} could not be read: {1}" -f $TaskName, $_.Exception.Message)
        return ''
    }
    return (ConvertFrom-PostureTaskArgument -Arguments $arguments)
}

function Resolve-PostureUninstallDataPath {
    <#
    .SYNOPSIS
        The data folder an uninstallation removes, and a Note for what it leaves: DataPath when
        given, else the one the installed task's runs are given (Get-PostureTaskDataPath), else
        %ProgramData%\FleetPosture. Note names a data folder left behind (the task's, when
        DataPath names another; or, with no task to ask and no default folder, that a custom one
        may remain) and how to remove it; '' when there is none to name.
    .EXAMPLE
        Resolve-PostureUninstallDataPath -DataPath '' -TaskName 'FleetPosture Collector'
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$DataPath,
        [Parameter(Mandatory = $true)]
        [string]$TaskName
    )
    $fromTask = Get-PostureTaskDataPath -TaskName $TaskName
    if ($fromTask) { $fromTask = ConvertTo-PostureFullPath -Path $fromTask }
    if ($DataPath) {
        $DataPath = ConvertTo-PostureFullPath -Path $DataPath
        $note = ''
        if ($fromTask -and -not (Test-PostureSameFolder -Path $fromTask -Other $DataPath)) {
            $note = 'The task''s runs used the data folder {0} (key, secret, spool), which was left: remove it with -Uninstall -DataPath "{0}".' -f $fromTask
        }
        return @{ DataPath = $DataPath; Note = $note }
    }
    if ($fromTask) { return @{ DataPath = $fromTask; Note = '' } }
    $default = ConvertTo-PostureFullPath -Path (Get-PostureDataPath)
    $note = ''
    if (-not (Test-Path -LiteralPath $default)) {
        $note = 'No data folder at {0} and no task naming another: if the installation used -DataPath, its folder (key, secret, spool) was left; remove it with -Uninstall -DataPath <that folder>.' -f $default
    }
    return @{ DataPath = $default; Note = $note }
}

function Remove-PostureDataFolder {
    <#
    .SYNOPSIS
        Removes what the collector keeps in the data folder (Get-PostureDataItemName: configuration,
        spool, refused copies, log, manifest cache), then the folder itself if nothing else is
        left in it. Returns '' when the folder is gone (or never was), else one sentence naming the
        folder kept and what it still holds: -DataPath may be a folder other tools share (D:\Data).
    .EXAMPLE
        Remove-PostureDataFolder -Path 'D:\Data'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return '' }
    foreach ($name in @(Get-PostureDataItemName)) {
        $item = Join-Path -Path $Path -ChildPath $name
        if ((Test-Path -LiteralPath $item) -and $PSCmdlet.ShouldProcess($item, 'Remove')) {
            Remove-Item -LiteralPath $item -Recurse -Force
        }
    }
    if (-not $PSCmdlet.ShouldProcess($Path, 'Remove the folder if nothing else is in it')) { return '' }
    # Directory.Delete without recursion refuses a folder that is not empty: what another tool
    # put there meanwhile is never lost.
    try { [System.IO.Directory]::Delete($Path, $false) } catch {
        Write-Verbose ('{0} stays: {1}' -f $Path, $_.Exception.Message)
    }
    if (-not (Test-Path -LiteralPath $Path)) { return '' }
    $left = @(Get-ChildItem -LiteralPath $Path -Force | ForEach-Object { $_.Name } | Sort-Object)
    $shown = ($left | Select-Object -First 5) -join ', '
    if ($left.Count -gt 5) { $shown += (' and {0} more' -f ($left.Count - 5)) }
    return ('The data folder {0} was kept because it also holds files that are not the collector''s ({1}).' -f $Path, $shown)
}

function Unregister-PostureCollector {
    <#
    .SYNOPSIS
        Removes the task, the scripts, and the configuration, spool, log and manifest cache
        (Remove-PostureDataFolder: the data folder itself only when nothing else is in it).
        Without DataPath, the data folder is the one the installed task's runs are given, else
        the default (Resolve-PostureUninstallDataPath); what is left behind is named in the
        message returned.
    .EXAMPLE
        Unregister-PostureCollector -InstallPath 'C:\Program Files\FleetPosture' -DataPath 'C:\ProgramData\FleetPosture'
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)]
        [string]$InstallPath,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$DataPath = '',
        [string]$TaskName = 'FleetPosture Collector'
    )
    if (-not (Test-PostureAdministrator)) { throw 'Run Install-PostureCollector.ps1 -Uninstall from an elevated (Administrator) PowerShell.' }
    # The same folders the installation resolved, whatever the process's directory. The task is
    # asked before it is removed: an installation with its own -DataPath keeps the key there.
    $InstallPath = ConvertTo-PostureFullPath -Path $InstallPath
    $found = Resolve-PostureUninstallDataPath -DataPath $DataPath -TaskName $TaskName
    $DataPath = $found.DataPath
    # Windows PowerShell 5.1 removing a link with -Recurse deletes what the link points to: refused,
    # for the folders and for what the collector keeps in the data folder (spool\, rejected\).
    $dataItems = @(Get-PostureDataItemName | ForEach-Object { Join-Path -Path $DataPath -ChildPath $_ })
    Assert-PostureFolderNotLink -Path (@($InstallPath, $DataPath) + $dataItems) -Refusal 'nothing was removed: delete the link itself (rmdir), then uninstall again.'
    # Removing the install folder removes everything in it: never a folder the collector does not own.
    if (Test-PostureForeignFolder -Path $InstallPath) {
        throw ('The install folder {0} holds other files and no installation of the collector; nothing was removed.' -f $InstallPath)
    }
    $null = Unregister-PostureTask -TaskName $TaskName
    if ((Test-Path -LiteralPath $InstallPath) -and $PSCmdlet.ShouldProcess($InstallPath, 'Remove')) {
        Remove-Item -LiteralPath $InstallPath -Recurse -Force
    }
    # The data folder may be one other tools share: only the collector's own files go.
    $kept = Remove-PostureDataFolder -Path $DataPath
    if ($kept) {
        $done = 'Removed task "{0}", {1} and the collector''s files in {2}. {3}' -f $TaskName, $InstallPath, $DataPath, $kept
    } else {
        $done = 'Removed task "{0}", {1} and {2}.' -f $TaskName, $InstallPath, $DataPath
    }
    if ($found.Note) { $done += ' ' + $found.Note }
    return $done
}
