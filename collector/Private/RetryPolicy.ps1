# The run's retry policy: how many times, how long apart and how long at most a request to the
# service is made, and when the run's time budget ends. Built once from the public parameters and
# handed down as one value, so every request of a run (manifest, enrolment, posts) follows the
# same rules and no function repeats them.

function New-PostureRetryPolicy {
    <#
    .SYNOPSIS
        One retry policy: TimeoutSec (one request), MaxAttempts (per request while the service is
        busy), BaseDelaySeconds and MaxDelaySeconds (the back-off when no Retry-After came),
        MaxRetryAfterSeconds (the longest Retry-After waited for) and Deadline (UTC end of the
        run's time budget, $null for none), and ClockCheck (New-PostureClockCheck: the run's one
        warning about this host's clock, $null for none). The defaults are the collector's.
    .EXAMPLE
        $policy = New-PostureRetryPolicy -MaxAttempts 3 -Deadline ([datetime]::UtcNow.AddSeconds(1500))
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an object in memory; changes nothing.')]
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [ValidateRange(1, 86400)]
        [int]$TimeoutSec = 60,
        [ValidateRange(1, 100)]
        [int]$MaxAttempts = 4,
        [ValidateRange(0, 86400)]
        [double]$BaseDelaySeconds = 2,
        [ValidateRange(0, 86400)]
        [double]$MaxDelaySeconds = 60,
        [ValidateRange(0, 86400)]
        [double]$MaxRetryAfterSeconds = 300,
        [Nullable[datetime]]$Deadline = $null,
        [psobject]$ClockCheck = $null
    )
    return [pscustomobject]@{
        TimeoutSec           = $TimeoutSec
        MaxAttempts          = $MaxAttempts
        BaseDelaySeconds     = $BaseDelaySeconds
        MaxDelaySeconds      = $MaxDelaySeconds
        MaxRetryAfterSeconds = $MaxRetryAfterSeconds
        Deadline             = $Deadline
        ClockCheck           = $ClockCheck
    }
}
