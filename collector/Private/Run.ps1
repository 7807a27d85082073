# One run of the collector: manifest, collect, dry run or spool and send (the spool oldest first,
# the new snapshot last, within the run's time budget), print the verdicts, choose the exit code.

function Format-PostureVerdict {
    <#
    .SYNOPSIS
        One line per rule verdict from the service's answer, e.g.
        "Warning       mcafee-port25-blocked  SmtpNotExcluded  McAfee VirusScan may block ...".
    .EXAMPLE
        Format-PostureVerdict -Content $response.Content
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Content
    )
    $lines = New-Object System.Collections.Generic.List[string]
    try {
        $answer = ConvertFrom-PostureJson -Json $Content
    } catch {
        $lines.Add('The service answered without a readable verdict list.')
        return , $lines.ToArray()
    }
    $lines.Add(('Snapshot {0} for {1}: {2}' -f (Get-PostureMember -InputObject $answer -Name 'snapshotId'), (Get-PostureMember -InputObject $answer -Name 'server'), (Get-PostureMember -InputObject $answer -Name 'outcome')))
    foreach ($r in @(Get-PostureMember -InputObject $answer -Name 'results' -Default @())) {
        $message = [string](Get-PostureMember -InputObject $r -Name 'message' -Default '')
        $message = ($message -replace '\s+', ' ').Trim()
        $lines.Add(('{0,-13} {1}  {2}  {3}' -f (Get-PostureMember -InputObject $r -Name 'status'), (Get-PostureMember -InputObject $r -Name 'ruleId'), (Get-PostureMember -InputObject $r -Name 'reasonCode'), $message))
    }
    return , $lines.ToArray()
}

function Format-PostureRejection {
    <#
    .SYNOPSIS
        One line for a refused snapshot: status, error code, message and the first issues of the
        service's answer. An answer without the service's error code at its status is not the
        service's and is never shown as if it were, nor raw: Format-PostureAnswerProblem words it
        (something in front of the service, with a short excerpt without the values sent, Redact).
    .EXAMPLE
        Format-PostureRejection -StatusCode 400 -Content '{"error":"invalid_snapshot","message":"..."}'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [AllowEmptyString()]
        [string]$Content = '',
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @()
    )
    if (-not (Get-PostureErrorCode -Content $Content -StatusCode $StatusCode)) {
        return (Format-PostureAnswerProblem -Answer @{ StatusCode = $StatusCode; Content = $Content } -Redact $Redact)
    }
    # Get-PostureErrorCode parsed it already: the service's answer is a JSON object.
    $e = ConvertFrom-PostureJson -Json $Content
    $text = 'HTTP {0} {1}: {2}' -f $StatusCode, (Get-PostureMember -InputObject $e -Name 'error'), (Get-PostureMember -InputObject $e -Name 'message')
    $issues = @(Get-PostureMember -InputObject $e -Name 'issues' -Default @())
    $shown = 0
    foreach ($i in $issues) {
        if ($shown -ge 3) { $text += (' (+{0} more)' -f ($issues.Count - 3)); break }
        $text += ('; {0}: {1}' -f (Get-PostureMember -InputObject $i -Name 'path'), (Get-PostureMember -InputObject $i -Name 'message'))
        $shown++
    }
    return $text
}

function Get-PostureRefusedForGood {
    <#
    .SYNOPSIS
        Why an answer of Send-PostureDocument refuses a snapshot for good, so that it goes to
        rejected\ rather than stay in the spool: the service refused the snapshot itself
        (Format-PostureRejection), or it is dated more than an hour ahead of the service's clock
        (Test-PostureFarAhead, with the spool file's name SpoolName; FarAheadWhy says so). '' for
        any other answer: a refused key (401, 403) is renewed or waits, the rest is sent again.
    .EXAMPLE
        Get-PostureRefusedForGood -Answer $r -ClockCheck $check -Redact @($headers.Values) -FarAheadWhy 'HTTP 400 collected_in_future: ...'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Answer,
        [AllowNull()]
        [psobject]$ClockCheck = $null,
        [string]$SpoolName = '',
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @(),
        [Parameter(Mandatory = $true)]
        [string]$FarAheadWhy
    )
    $code = [int]$Answer['StatusCode']
    $content = [string]$Answer['Content']
    if ($Answer['Outcome'] -eq 'Rejected' -and $code -ne 401 -and $code -ne 403) {
        return (Format-PostureRejection -StatusCode $code -Content $content -Redact $Redact)
    }
    if ($Answer['Outcome'] -ne 'Sent' -and (Get-PostureClockAheadNote -StatusCode $code -Content $content) -and (Test-PostureFarAhead -ClockCheck $ClockCheck -SpoolName $SpoolName)) { return $FarAheadWhy }
    return ''
}

function Invoke-PostureSnapshot {
    <#
    .SYNOPSIS
        The whole collector run; Send-PostureSnapshot.ps1 calls it with its own parameters.
        Returns @{ ExitCode; Lines } (Lines: what to print).
    .EXAMPLE
        $run = Invoke-PostureSnapshot -OutFile C:\Temp\snapshot.json -ManifestPath C:\Temp\manifest.json
    #>
    [CmdletBinding()]
    param(
        [string]$Endpoint,
        [string]$ApiKey,
        [string]$HeaderName = 'x-api-key',
        [string]$OutFile,
        [string]$ManifestPath,
        [string]$DataPath,
        [string]$ConfigPath,
        [string]$Language = 'en',
        [int]$MaxAttempts = 4,
        [double]$BaseDelaySeconds = 2,
        [double]$MaxDelaySeconds = 60,
        [ValidateRange(0, 86400)]
        [double]$MaxRetryAfterSeconds = 300,
        [int]$MaxSpoolCount = 168,
        [int]$MaxSpoolAgeDays = 7,
        [int]$TimeoutSec = 60,
        [int]$RunBudgetSeconds = 1500,
        [ValidateRange(1, 86400)]
        [double]$MaxClockSkewSeconds = 120,
        [switch]$ProxyUseDefaultCredentials,
        [string]$CollectorVersion = (Get-PostureCollectorVersion)
    )
    $lines = New-Object System.Collections.Generic.List[string]
    # .NET file calls resolve relative paths against the process directory, not the PowerShell location.
    if ($OutFile) { $OutFile = ConvertTo-PostureFullPath -Path $OutFile }
    if ($ManifestPath) { $ManifestPath = ConvertTo-PostureFullPath -Path $ManifestPath }
    if (-not $DataPath) { $DataPath = Get-PostureDataPath }
    $DataPath = ConvertTo-PostureFullPath -Path $DataPath
    if (-not $ConfigPath) { $ConfigPath = Get-PostureDataItemPath -DataPath $DataPath -Item Config }
    $ConfigPath = ConvertTo-PostureFullPath -Path $ConfigPath
    $spoolPath = Get-PostureDataItemPath -DataPath $DataPath -Item Spool
    $cachePath = Get-PostureDataItemPath -DataPath $DataPath -Item ManifestCache
    $dryRun = [bool]$OutFile
    if (-not $dryRun) { $script:PostureLogPath = Get-PostureDataItemPath -DataPath $DataPath -Item Log }
    # The .tmp files of writes cut short, the configuration's among them wherever it is: first, so
    # that a run ending early (no endpoint, no manifest) removes them too. A dry run changes
    # nothing in the data folder, nor beside the configuration.
    if (-not $dryRun) { Remove-PostureUnfinishedWrite -DataPath $DataPath -ConfigPath $ConfigPath }
    # The scheduled task is stopped after 30 minutes; the budget ends the run's requests before
    # that. A dry run is started by hand and has none.
    $deadline = $null
    if (-not $dryRun) { $deadline = (Get-PostureUtcNow).AddSeconds($RunBudgetSeconds) }
    # Every answer of the run carries the service's clock; the first that is off by more than
    # -MaxClockSkewSeconds says so in the log and the output, once.
    $clockCheck = New-PostureClockCheck -MaxSkewSeconds $MaxClockSkewSeconds -Lines $lines
    # Every request of the run (enrolment, manifest, posts) follows this one policy.
    $retryPolicy = New-PostureRetryPolicy -TimeoutSec $TimeoutSec -MaxAttempts $MaxAttempts -BaseDelaySeconds $BaseDelaySeconds -MaxDelaySeconds $MaxDelaySeconds -MaxRetryAfterSeconds $MaxRetryAfterSeconds -Deadline $deadline -ClockCheck $clockCheck

    # Endpoint and credential: parameters first, else the installer's protected configuration.
    # The enrolment secret (and a re-enrolment request's claim and request secret) only ever come from the
    # configuration, and are used only with its key. A dry run sends nothing, so never enrols.
    $enrolmentSecret = ''
    $enrolmentClaim = ''
    $enrolmentRequest = ''
    $keyId = ''
    # The opt-in the installation stored is what a re-enrolment stores again; -ProxyUseDefaultCredentials
    # given to a run by hand only applies to that run, so it never becomes the installation's setting.
    $storedProxyCredentials = $false
    if (-not $Endpoint -or -not $ApiKey) {
        $config = $null
        try { $config = Read-PostureConfig -Path $ConfigPath } catch {
            Write-PostureLog -Level Error -Message ("The configuration {0} cannot be read: {1}" -f $ConfigPath, $_.Exception.Message)
        }
        if ($null -ne $config) {
            if (-not $Endpoint) { $Endpoint = $config.Endpoint }
            if (-not $ApiKey) {
                $ApiKey = $config.ApiKey
                if (-not $dryRun -and (-not $PSBoundParameters.ContainsKey('Endpoint') -or $Endpoint -eq $config.Endpoint)) {
                    $enrolmentSecret = $config.EnrolmentSecret
                    $enrolmentClaim = $config.EnrolmentClaim
                    $enrolmentRequest = [string]$config['EnrolmentRequest']
                    $keyId = $config.KeyId
                }
            }
            if (-not $PSBoundParameters.ContainsKey('HeaderName') -and $config.HeaderName) { $HeaderName = $config.HeaderName }
            if ($config['ProxyUseDefaultCredentials']) { $storedProxyCredentials = $true }
        }
    }
    $needsNetwork = -not ($dryRun -and $ManifestPath)
    if ($needsNetwork -and -not $Endpoint) {
        # In the log too: a configuration gone missing makes every scheduled run end here.
        $noEndpoint = 'No endpoint: pass -Endpoint and -ApiKey, or run Install-PostureCollector.ps1 (looked for {0}).' -f $ConfigPath
        Write-PostureLog -Level Error -Message $noEndpoint
        $lines.Add($noEndpoint)
        return @{ ExitCode = 2; Lines = $lines.ToArray() }
    }
    # One headers table for every request: a key issued on the way (re-enrolment) is used from then on.
    $headers = @{ 'Accept-Language' = $Language }
    if ($ApiKey) { $headers[$HeaderName] = $ApiKey }
    if ($needsNetwork) { $null = Initialize-PostureWebRequest -ProxyUseDefaultCredentials:($ProxyUseDefaultCredentials -or $storedProxyCredentials) }
    $enrolment = New-PostureEnrolmentState -Endpoint ([string]$Endpoint) -HeaderName $HeaderName -ConfigPath $ConfigPath -Secret $enrolmentSecret -ApiKey ([string]$ApiKey) -KeyId $keyId -Claim $enrolmentClaim -RequestSecret $enrolmentRequest -ProxyUseDefaultCredentials $storedProxyCredentials -RetryPolicy $retryPolicy

    # 0. A stored claim means the key was refused and a re-enrolment waits for approval; no stored
    # key means the first one does. Either way, ask for the key before anything needs it.
    if ($enrolment.Secret -and ($enrolment.Claim -or -not $ApiKey)) {
        $null = Request-PostureServerKey -Enrolment $enrolment -Headers $headers
    }

    # 1. The manifest. Without a usable key, only the last good copy (the key would be refused).
    try {
        if ($ManifestPath) {
            $manifest = ConvertFrom-PostureJson -Json ([System.IO.File]::ReadAllText($ManifestPath))
            if (-not (Test-PostureManifest -Manifest $manifest)) { throw ('{0} is not a fleet-posture/manifest@1 document.' -f $ManifestPath) }
        } elseif (-not (Test-PostureServerKeyUsable -Enrolment $enrolment)) {
            $manifest = Read-PostureCachedManifest -CachePath $cachePath -Why (Format-PostureEnrolmentState -Enrolment $enrolment)
        } else {
            $recovery = @{}
            if (-not $dryRun) { $recovery['Enrolment'] = $enrolment }
            $manifest = Get-PostureManifest -Endpoint $Endpoint -Headers $headers -CachePath $cachePath -RetryPolicy $retryPolicy @recovery
        }
    } catch {
        Write-PostureLog -Level Error -Message $_.Exception.Message
        $lines.Add(('Nothing collected: {0}' -f $_.Exception.Message))
        return @{ ExitCode = (Get-PostureEnrolmentExitCode -Enrolment $enrolment); Lines = $lines.ToArray() }
    }

    # 2. Collect.
    $snapshot = New-PostureSnapshot -Manifest $manifest -CollectorVersion $CollectorVersion
    # Half a character in one value would have every snapshot of this host refused: it is sent as
    # U+FFFD, and the output and the log say which value held it.
    foreach ($warning in (Repair-PostureSnapshotText -Snapshot $snapshot)) {
        Write-PostureLog -Level Warning -Message $warning
        $lines.Add($warning)
    }
    $json = ConvertTo-PostureJson -InputObject $snapshot
    $id = [string]$snapshot['snapshotId']

    # 3. Dry run: write the file, post nothing.
    if ($dryRun) {
        $null = Write-PostureTextFile -Path $OutFile -Text $json
        $lines.Add(('Snapshot {0} written to {1} ({2} registry entries, {3} services, {4} files); nothing was sent.' -f $id, $OutFile, @($snapshot['registry']).Count, @($snapshot['services']).Count, @($snapshot['files']).Count))
        return @{ ExitCode = 0; Lines = $lines.ToArray() }
    }

    # 4. Send. The new snapshot is written to the spool before any request, so a run stopped at any
    # point (Task Scheduler's time limit, a reboot) leaves it there; a file leaves the spool only
    # once the service answered for it (a snapshot sent twice is answered "duplicate"). The spool
    # goes oldest first, the new snapshot last; the first that cannot be delivered stops the run.
    # Without a usable key nothing is sent.
    $uri = Get-PostureApiUri -Endpoint $Endpoint -Route 'snapshots'
    $sendArgs = @{ Uri = $uri; Headers = $headers; RetryPolicy = $retryPolicy }
    # A spool that cannot be written (disk full, permissions) must not stop the send as well.
    $path = $null
    $newName = ''
    try {
        $path = Save-PostureSpoolItem -SpoolPath $spoolPath -SnapshotId $id -Json $json
        $newName = Split-Path -Leaf $path
    } catch {
        Write-PostureLog -Level Error -Message ("Snapshot {0} could not be written to the spool {1}: {2}" -f $id, $spoolPath, $_.Exception.Message)
    }
    $blocked = -not (Test-PostureServerKeyUsable -Enrolment $enrolment)
    $queue = @()
    # A spool folder the run cannot read must not stop the send either: the new snapshot goes alone.
    try {
        $null = Limit-PostureSpool -SpoolPath $spoolPath -MaxCount $MaxSpoolCount -MaxAgeDays $MaxSpoolAgeDays -KeepName $newName
        # The new snapshot last, whatever the clock said when the older files were named.
        if (-not $blocked) { $queue = @(Get-PostureSpoolItem -SpoolPath $spoolPath | Where-Object { $_.Name -ne $newName }) }
    } catch {
        Write-PostureLog -Level Error -Message ("The spool {0} cannot be read: {1}; earlier snapshots in it wait for a later run." -f $spoolPath, $_.Exception.Message)
    }
    $outOfTime = $false
    # Set when the service asked for a wait this run will not make: the output says how long.
    $waitNote = ''
    # Set when a spooled snapshot is dated ahead of the service's clock: the output says so.
    $aheadNote = ''
    # Set when something in front of the service refused a spooled snapshot: the output says so.
    $interceptNote = ''
    # A spooled snapshot refused for good makes the run exit 2 even when its own is delivered:
    # monitoring that watches the task's result must see that a snapshot was lost to a refusal.
    $refusedSpooled = 0
    foreach ($item in $queue) {
        # One file the run cannot read (held open by a scanner, access denied) must not block the
        # spool for good: it stays for a later run (or until the age limit drops it), the others go on.
        try {
            $spooled = Read-PostureSpoolFile -Path $item.FullName
        } catch {
            Write-PostureLog -Level Warning -Message ("Spooled snapshot {0} cannot be read ({1}); it stays in the spool for a later run." -f $item.Name, $_.Exception.Message)
            continue
        }
        # An empty file (a write the disk lost, as a power cut can leave one) holds nothing to send
        # and cannot be posted: it must not stop the run either; the age limit drops it.
        if ($spooled.Length -eq 0) {
            Write-PostureLog -Level Warning -Message ("Spooled snapshot {0} is empty; there is nothing to send, and it stays in the spool until the age limit drops it." -f $item.Name)
            continue
        }
        # An older collector spooled a half character as its \udXXX escape, which the service now
        # refuses: the snapshot, taken by the host, would be lost to rejected\ for one character.
        $repaired = Repair-PostureJsonEscape -Json $spooled
        if ($repaired.Replaced -gt 0) {
            $spooled = $repaired.Json
            $warning = Format-PostureHalfCharacterWarning -What ('Spooled snapshot {0} (written by an older collector)' -f $item.Name) -Count $repaired.Replaced
            Write-PostureLog -Level Warning -Message $warning
            $lines.Add($warning)
        }
        $r = Send-PostureDocumentEnrolled -Json $spooled -SendArgs $sendArgs -Enrolment $enrolment
        if ($r.Outcome -eq 'Sent') {
            $null = Remove-PostureSpoolFile -Path $item.FullName -Why 'delivered'
            Write-PostureLog -Message ("Spooled snapshot {0} delivered (HTTP {1}, {2})." -f $item.Name, $r.StatusCode, $r['ServiceOutcome'])
        } else {
            $refusal = Get-PostureRefusedForGood -Answer $r -ClockCheck $clockCheck -SpoolName $item.Name -Redact @($headers.Values) -FarAheadWhy 'HTTP 400 collected_in_future: dated more than an hour ahead of the service''s clock, so its time is wrong; fix this host''s time sync (w32tm /resync)'
            if ($refusal) {
                # The copy is the file as spooled, byte for byte: the evidence, not this run's reading or repair of it.
                $lines.Add((Move-PostureRejectedSnapshot -DataPath $DataPath -SnapshotId (Get-PostureSpoolSnapshotId -Name $item.Name) -Json $spooled -SpoolFile $item.FullName -AsSpooled -Repaired $repaired.Replaced -Why $refusal -What 'Spooled snapshot'))
                $refusedSpooled++
                continue
            }
            # Dated ahead of the service: the log must say the fix is this host's clock. The service
            # answered, so the next snapshots are tried.
            $ahead = Get-PostureClockAheadNote -StatusCode $r.StatusCode -Content ([string]$r.Content) -ClockCheck $clockCheck
            if ($ahead) {
                $aheadNote = $ahead
                Write-PostureLog -Level Warning -Message ("Spooled snapshot {0} not delivered ({1})." -f $item.Name, $ahead)
                continue
            }
            $blocked = $true
            $outOfTime = [bool]$r['OutOfTime']
            $waitNote = [string]$r['WaitNote']
            $what = 'HTTP {0}' -f $r.StatusCode
            if (($r.StatusCode -ge 200 -and $r.StatusCode -lt 300) -or $r['Intercepted']) { $what = [string]$r.Error }
            if ($r['Intercepted']) { $interceptNote = $what }
            if ($waitNote) { $what = $waitNote }
            Write-PostureLog -Level Warning -Message ("Spooled snapshot {0} not delivered ({1}); the spool is kept for the next run." -f $item.Name, $what)
            break
        }
    }

    if ($outOfTime) {
        $r = @{ Outcome = 'Failed'; StatusCode = 0; Content = ''; Error = ('the run''s time budget of {0} s was spent on earlier spooled snapshots' -f $RunBudgetSeconds); OutOfTime = $true }
    } elseif ($blocked) {
        $r = @{ Outcome = 'Failed'; StatusCode = 0; Content = ''; Error = 'earlier spooled snapshots could not be delivered' }
        if ($waitNote) { $r['Error'] += ': ' + $waitNote }
        if ($interceptNote) { $r['Error'] += ': ' + $interceptNote }
    } else {
        $r = Send-PostureDocumentEnrolled -Json $json -SendArgs $sendArgs -Enrolment $enrolment
        if ($r['OutOfTime']) { $r['Error'] = ('the run''s time budget of {0} s was spent' -f $RunBudgetSeconds) }
    }

    if ($r.Outcome -eq 'Sent') {
        if ($path) { $null = Remove-PostureSpoolFile -Path $path -Why 'delivered' }
        Write-PostureLog -Message ("Snapshot {0} delivered (HTTP {1}, {2})." -f $id, $r.StatusCode, $r['ServiceOutcome'])
        foreach ($l in (Format-PostureVerdict -Content ([string]$r.Content))) { $lines.Add($l) }
        if ($aheadNote) { $lines.Add(('Spooled snapshots dated ahead of the service stay in the spool ({0}).' -f $aheadNote)) }
        $code = 0
        if ($refusedSpooled -gt 0) { $code = 2 }
        return @{ ExitCode = $code; Lines = $lines.ToArray() }
    }
    # The snapshot is wrong, not the network (or this host's clock is more than an hour ahead, so
    # its time is wrong, not only early): sending it again cannot help.
    $refusal = Get-PostureRefusedForGood -Answer $r -ClockCheck $clockCheck -Redact @($headers.Values) -FarAheadWhy 'HTTP 400 collected_in_future: this host''s clock is more than an hour ahead of the service''s, so the snapshot''s time is wrong; fix this host''s time sync (w32tm /resync)'
    if ($refusal) {
        $lines.Add((Move-PostureRejectedSnapshot -DataPath $DataPath -SnapshotId $id -Json $json -SpoolFile ([string]$path) -Why $refusal -What 'Snapshot'))
        return @{ ExitCode = 2; Lines = $lines.ToArray() }
    }
    if ($r['OutOfTime']) {
        $left = @(Get-PostureSpoolItem -SpoolPath $spoolPath).Count
        Write-PostureLog -Level Warning -Message ("The run's time budget of {0} s is spent: no further request started; {1} snapshot(s) stay in the spool for the next run." -f $RunBudgetSeconds, $left)
        $lines.Add(('Time budget of {0} s spent: {1} snapshot(s) stay in the spool for the next run.' -f $RunBudgetSeconds, $left))
    }
    $why = Format-PostureEnrolmentState -Enrolment $enrolment
    if (-not $why) {
        $why = [string]$r['Error']
        # An answer of something in front of the service is not read as the service's refusal.
        if ($r.StatusCode -ne 0 -and -not $r['OutOfTime'] -and -not $r['Intercepted'] -and ($r.StatusCode -lt 200 -or $r.StatusCode -ge 300)) { $why = Format-PostureRejection -StatusCode $r.StatusCode -Content ([string]$r.Content) -Redact @($headers.Values) }
        if ($r['WaitNote']) { $why = [string]$r['WaitNote'] }
        # Dated ahead of the service: the log must say the fix is this host's clock.
        $ahead = Get-PostureClockAheadNote -StatusCode $r.StatusCode -Content ([string]$r.Content) -ClockCheck $clockCheck
        if ($ahead) { $why = $ahead }
    }
    if (-not $path) {
        Write-PostureLog -Level Error -Message ("Snapshot {0} not delivered ({1}) and not spooled: it is lost." -f $id, $why)
        $lines.Add(('Snapshot {0} not delivered ({1}) and the spool could not be written: see {2}.' -f $id, $why, $script:PostureLogPath))
        return @{ ExitCode = 1; Lines = $lines.ToArray() }
    }
    Write-PostureLog -Level Warning -Message ("Snapshot {0} not delivered ({1}); spooled to {2}." -f $id, $why, $path)
    $lines.Add(('Snapshot {0} not delivered ({1}); spooled for the next run.' -f $id, $why))
    return @{ ExitCode = (Get-PostureEnrolmentExitCode -Enrolment $enrolment); Lines = $lines.ToArray() }
}
