# This host's clock against the service's: a snapshot's collectedAt is this host's clock, and the
# service refuses one dated too far ahead of its own and reports a server stale by it. Every answer
# of the service carries its clock (its Date header), so a run can say when this host's is off, once.

function New-PostureClockCheck {
    <#
    .SYNOPSIS
        The run's clock check: the largest difference between this host's clock and the service's
        that passes without a word (MaxSkewSeconds), the run's output Lines the warning is added
        to, Warning, the warning once given ('' until then), and OffsetSeconds, what the latest
        answer with a Date showed (Get-PostureClockOffset; $null until one came). Handed to every
        request of the run through its retry policy (New-PostureRetryPolicy -ClockCheck).
    .EXAMPLE
        $check = New-PostureClockCheck -MaxSkewSeconds 120 -Lines $lines
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an object in memory; changes nothing.')]
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [ValidateRange(1, 86400)]
        [double]$MaxSkewSeconds = 120,
        [System.Collections.Generic.List[string]]$Lines = $null
    )
    if ($null -eq $Lines) { $Lines = New-Object System.Collections.Generic.List[string] }
    return [pscustomobject]@{ MaxSkewSeconds = $MaxSkewSeconds; Lines = $Lines; Warning = ''; OffsetSeconds = $null }
}

function Get-PostureMeasuredClockOffset {
    <#
    .SYNOPSIS
        The offset a run's clock check measured (its OffsetSeconds: seconds the service's clock is
        ahead of this host's), or $null when there is no clock check or no answer of the service
        has shown one yet.
    .EXAMPLE
        Get-PostureMeasuredClockOffset -ClockCheck $check
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        [psobject]$ClockCheck
    )
    if ($null -eq $ClockCheck -or $null -eq $ClockCheck.PSObject.Properties['OffsetSeconds'] -or $null -eq $ClockCheck.OffsetSeconds) { return $null }
    return [double]$ClockCheck.OffsetSeconds
}

function Get-PostureClockOffset {
    <#
    .SYNOPSIS
        Seconds the service's clock is ahead of this host's (negative: this host is ahead), from
        the service's Date header (ServerDate, UTC) and this host's clock when the request was sent
        (SentAt) and its answer arrived (ReceivedAt). 0 when the Date falls between the two (to the
        whole second a Date is given in): the clocks agree as far as one answer can tell.
    .EXAMPLE
        Get-PostureClockOffset -ServerDate $date -SentAt $sent -ReceivedAt $received
    #>
    [CmdletBinding()]
    [OutputType([double])]
    param(
        [Parameter(Mandatory = $true)]
        [datetime]$ServerDate,
        [Parameter(Mandatory = $true)]
        [datetime]$SentAt,
        [Parameter(Mandatory = $true)]
        [datetime]$ReceivedAt
    )
    # The service stamped its Date somewhere during the request, truncated to the second: only a
    # Date outside that window is a difference of clocks rather than of network time.
    if ($ServerDate -gt $ReceivedAt) { return [double]($ServerDate - $ReceivedAt).TotalSeconds }
    if ($ServerDate.AddSeconds(1) -lt $SentAt) { return [double]($ServerDate - $SentAt).TotalSeconds }
    return [double]0
}

function Format-PostureClockOffset {
    <#
    .SYNOPSIS
        How far apart the two clocks are, whichever is ahead: "90 s", and from 120 s on with the
        minutes too, "600 s (10 min)".
    .EXAMPLE
        Format-PostureClockOffset -OffsetSeconds -600
        Returns "600 s (10 min)".
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [double]$OffsetSeconds
    )
    $seconds = [long][Math]::Round([Math]::Abs($OffsetSeconds))
    $how = '{0} s' -f $seconds
    if ($seconds -ge 120) { $how += (' ({0} min)' -f [long][Math]::Round($seconds / 60.0, [MidpointRounding]::AwayFromZero)) }
    return $how
}

function Format-PostureClockSkewWarning {
    <#
    .SYNOPSIS
        The warning for a host whose clock is OffsetSeconds behind the service's (negative: ahead):
        how far, which way, what it does to its snapshots, and what to do about it.
    .EXAMPLE
        Format-PostureClockSkewWarning -OffsetSeconds -600
        Returns "This host's clock is 600 s (10 min) ahead of the service's: ...".
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [double]$OffsetSeconds
    )
    $how = Format-PostureClockOffset -OffsetSeconds $OffsetSeconds
    if ($OffsetSeconds -lt 0) {
        $way = 'ahead of'
        $effect = 'the service refuses a snapshot dated more than 5 minutes ahead of its own clock'
    } else {
        $way = 'behind'
        $effect = 'its snapshots look older than they are, and the service may report this server stale'
    }
    return ('This host''s clock is {0} {1} the service''s (the Date of its answer): {2}. Fix this host''s time sync (w32tm /resync; w32tm /query /status shows its time source).' -f $how, $way, $effect)
}

function Test-PostureServiceAnswer {
    <#
    .SYNOPSIS
        True when an answer is the service's own, by the tests the collector uses everywhere: one
        of its error codes at its status (Get-PostureErrorCode), or a 2xx that is its verdict on
        the snapshot sent (Get-PostureIngestOutcome and Test-PostureVerdictFor with SnapshotId),
        a document of its own (a "fleet-posture/..." schema, such as the manifest), or an
        enrolment's answer (a key; a pending request). A proxy's, a front end's or a captive
        portal's answer is none of these.
    .EXAMPLE
        Test-PostureServiceAnswer -StatusCode 200 -Content '{"schema":"fleet-posture/manifest@1","version":"sha256:..."}'
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$SnapshotId = ''
    )
    if (Get-PostureErrorCode -Content $Content -StatusCode $StatusCode) { return $true }
    if ($StatusCode -lt 200 -or $StatusCode -ge 300) { return $false }
    if (Get-PostureIngestOutcome -Content $Content) { return (Test-PostureVerdictFor -Content $Content -SnapshotId $SnapshotId) }
    if ((Get-PostureAnswerText -Content $Content -Name 'schema') -like 'fleet-posture/*') { return $true }
    if (($StatusCode -eq 200 -or $StatusCode -eq 201) -and (Get-PostureAnswerText -Content $Content -Name 'key')) { return $true }
    return ($StatusCode -eq 202 -and (Get-PostureAnswerText -Content $Content -Name 'status') -eq 'pending' -and (Get-PostureAnswerText -Content $Content -Name 'requestId'))
}

function Test-PostureCachedAnswer {
    <#
    .SYNOPSIS
        True when an answer's Age header (RFC 9111 section 5.1) says a cache (a CDN, a proxy)
        answered with a stored answer: any value but 0, or one that is no number of seconds. Its
        Date is then when the service made that answer, not the service's clock now. False for no
        Age header or "0" (a cache that passed on a fresh answer).
    .EXAMPLE
        Test-PostureCachedAnswer -Age '600'
        Returns $true.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Age
    )
    if (-not $Age -or -not $Age.Trim()) { return $false }
    $seconds = [long]0
    if ([long]::TryParse($Age.Trim(), [System.Globalization.NumberStyles]::None, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$seconds)) { return ($seconds -gt 0) }
    return $true
}

function Write-PostureClockSkewWarning {
    <#
    .SYNOPSIS
        Compares one answer of Invoke-PostureHttpRequest (its ServerDate, SentAt and ReceivedAt)
        with this host's clock, keeps the offset in the ClockCheck's OffsetSeconds and, when they
        differ by more than its MaxSkewSeconds, writes the warning (Format-PostureClockSkewWarning)
        to the log and the run's output Lines: once per run, whatever later answers say. Only the
        service's own answers count (Test-PostureServiceAnswer; SnapshotId is the snapshot a post
        sent): the Date of a proxy, a front end or a captive portal is its clock, not the
        service's. Nor does an answer a cache replayed (an Age header above 0,
        Test-PostureCachedAnswer): its Date is the service's clock when it made the answer. An
        answer without a valid Date, or no ClockCheck, changes nothing. Never touches what is
        sent.
    .EXAMPLE
        Write-PostureClockSkewWarning -ClockCheck $check -Answer $answer
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        [psobject]$ClockCheck,
        [Parameter(Mandatory = $true)]
        [hashtable]$Answer,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$SnapshotId = ''
    )
    if ($null -eq $ClockCheck) { return }
    $date = $Answer['ServerDate']
    if ($null -eq $date -or $null -eq $Answer['SentAt'] -or $null -eq $Answer['ReceivedAt']) { return }
    # Ignored rather than corrected by Age: Age is the cache's own estimate of the time since the
    # service made the answer (RFC 9111 section 5.1), in whole seconds and only as good as that
    # cache's bookkeeping, while a false warning sends an administrator to fix a clock that is
    # right; the run's other answers come from the service itself and show its clock.
    if (Test-PostureCachedAnswer -Age ([string]$Answer['Age'])) {
        Write-Verbose ('The Date of an answer a cache replayed (Age: {0}) is not taken for the service''s clock now.' -f $Answer['Age'])
        return
    }
    if (-not (Test-PostureServiceAnswer -StatusCode ([int]$Answer['StatusCode']) -Content ([string]$Answer['Content']) -SnapshotId $SnapshotId)) {
        Write-Verbose ('The Date of an answer that is not the service''s own (HTTP {0}) is not taken for its clock.' -f $Answer['StatusCode'])
        return
    }
    $offset = Get-PostureClockOffset -ServerDate $date -SentAt $Answer['SentAt'] -ReceivedAt $Answer['ReceivedAt']
    # Kept after the warning too: a snapshot the service finds dated ahead of it is logged with
    # how far ahead this host's clock is (Get-PostureClockAheadNote).
    $ClockCheck.OffsetSeconds = $offset
    if ($ClockCheck.Warning -or [Math]::Abs($offset) -le $ClockCheck.MaxSkewSeconds) { return }
    $ClockCheck.Warning = Format-PostureClockSkewWarning -OffsetSeconds $offset
    Write-PostureLog -Level Warning -Message $ClockCheck.Warning
    $ClockCheck.Lines.Add($ClockCheck.Warning)
}
