<#
.SYNOPSIS
    Collects this Exchange server's posture snapshot (registry, services, log tails) and sends it to
    the fleet-posture service.

.DESCRIPTION
    Send-PostureSnapshot asks the service what to collect (GET /api/manifest; the last good copy is
    kept in %ProgramData%\FleetPosture\manifest.json and used when the service is unreachable),
    reads it, and posts one JSON snapshot (POST /api/snapshots) over TLS 1.2 or later.

    What it reads, and nothing else:
      - each registry key of the manifest, in both registry views on 64-bit Windows ("64" and "32",
        the latter being what 32-bit programs such as McAfee VirusScan see under Wow6432Node),
        recursing as deep as the manifest says; a key it cannot read is reported as an error, not
        skipped;
      - the manifest's services from Win32_Service (CIM, else WMI);
      - the last bytes of the manifest's log files (%VAR% expanded; UTF-16/UTF-8 BOMs detected,
        else the ANSI code page), each where the registry value the manifest names says (e.g.
        VirusScan's szLogFileName, view 64 before 32), else at its default path.

    A busy service (no answer, 408, 429, 5xx) is asked again with exponential back-off and jitter,
    or after the Retry-After it sent (seconds, or an HTTP date counted from the answer's Date; in full, up to -MaxRetryAfterSeconds
    and the time budget left; a longer one is not waited for and the request ends there): each snapshot post,
    enrolment, and the manifest fetch, up to -MaxAttempts attempts (the manifest only twice, 10 s
    apart at most, when a last good copy is there to fall back on). A run that gets no manifest and has no copy collects nothing (exit 1);
    an enrolment that stays busy leaves the snapshot spooled (exit 1). Every snapshot is written to
    %ProgramData%\FleetPosture\spool before anything is sent, and the run then sends the spool oldest
    first, its own snapshot last, deleting each file only once the service has answered for it:
    a run that is stopped (the task's time limit, a reboot) loses nothing, and what it did not send
    goes at the next run (at most -MaxSpoolCount files, none older than -MaxSpoolAgeDays; the run's
    own snapshot is never the one dropped). Requests stop when -RunBudgetSeconds is spent. A snapshot the service refuses for
    good (HTTP 400 invalid_snapshot or invalid_json, 413 too_large, 415 unsupported_media_type;
    the same status from a proxy or a front end without the service's code keeps it in the spool)
    is not retried: it is logged to
    %ProgramData%\FleetPosture\collector.log and a copy is kept in %ProgramData%\FleetPosture\rejected
    (the 20 newest), whether it was this run's snapshot or a spooled one (a spooled one's copy is
    its spool file byte for byte, even when the run sent it with escaped half characters an older
    collector wrote replaced by U+FFFD; the log line says so). A snapshot dated more than
    5 minutes ahead of the service's clock (HTTP 400 collected_in_future) stays in the spool: the
    log says this host's clock is ahead, and a later run sends it again until the service takes it.

    When the service answers 401 key_revoked to any call (manifest or post), the collector enrols
    again once per run with the stored enrolment secret, stores the new key and retries that call
    once. Where re-enrolment needs an admin's approval (the service answers 202 with a claim), it
    stores the claim with the configuration, spools the snapshot and exits 3; each later run asks
    again with the claim (x-enrolment-claim), collects the key once approved and sends the spool;
    a denial (403) is logged and clears the claim.

    Every answer of the service carries its clock (the Date header); a proxy's, a front end's or
    a captive portal's answer is not counted. When this host's clock is
    off from it by more than -MaxClockSkewSeconds, the run writes one warning to its output and
    the log saying how far, which way and what to do (w32tm /resync): a snapshot dated too far
    ahead is refused until the service's clock catches up (it waits in the spool), and one dated
    behind makes the server look stale. Nothing else changes.

    Prints one line per rule verdict the service answered. Exit codes: 0 delivered (or written with
    -OutFile); 1 not delivered (spooled, a later run sends it) or nothing collected; 2 refused (the
    snapshot, or an older spooled one, kept in rejected\; or this server's re-enrolment: wrong
    enrolment secret, blocked, denied) or not configured; 3 waiting for an admin's approval of this server's re-enrolment
    (spooled).

    Runs on Windows PowerShell 5.1 (and PowerShell 7). Collection with -OutFile -ManifestPath needs
    no network; sending needs Windows PowerShell 3.0+ with .NET Framework 4.5+ for TLS 1.2.

.PARAMETER Endpoint
    Base URL of the service: the site (https://posture.contoso.net) or its API base, as azd prints
    it in API_BASE_URL (https://func-posture-xxxx.azurewebsites.net/api). Default: from the
    configuration that Install-PostureCollector.ps1 stored.

.PARAMETER ApiKey
    The credential: this server's key from enrolment (or, migration only, a shared ingest key).
    Default: from the stored configuration. Only with the stored key does the collector enrol
    again by itself (once per run, with the stored enrolment secret) when the service answers
    401 key_revoked, and follow up a re-enrolment request waiting for approval.

.PARAMETER HeaderName
    The HTTP header that carries the credential. Default: x-api-key.

.PARAMETER OutFile
    Dry run: write the snapshot to this file (UTF-8 JSON) and send nothing.

.PARAMETER ManifestPath
    Read the manifest from this file instead of the service (e.g. the output of
    "npx fleet-posture manifest"). With -OutFile, the run needs no network at all.

.PARAMETER DataPath
    Folder for the spool, the log, the manifest cache and the configuration.
    Default: %ProgramData%\FleetPosture.

.PARAMETER ConfigPath
    The DPAPI-protected configuration file. Default: <DataPath>\config.dat. It is written
    through <ConfigPath>.tmp beside it; each run (not -OutFile) removes that file once it is
    more than an hour old, the leftover of a write cut short, and nothing else in that folder.

.PARAMETER Language
    Language of the verdict messages (Accept-Language): en or ja.

.PARAMETER MaxAttempts
    Attempts per request while the service is busy: per snapshot before it is spooled, per
    enrolment, and for the manifest when there is no last good copy. Default: 4.

.PARAMETER BaseDelaySeconds
    First back-off delay; it doubles with each attempt (with jitter). Default: 2.

.PARAMETER MaxDelaySeconds
    Upper bound of one back-off delay, when the service sent no Retry-After. Default: 60.

.PARAMETER MaxRetryAfterSeconds
    Longest Retry-After (of a 429/503; a delay in seconds, or an HTTP date counted from the
    answer's Date header, the service's clock, or from now when it has none) the
    run waits for before asking again; it waits what the service asked, in full, never less. A longer one, or one that would pass -RunBudgetSeconds,
    is not waited for: the snapshot stays spooled for the next run and the output says how long
    the service asked to wait. Default: 300.

.PARAMETER MaxSpoolCount
    Most snapshots the spool keeps; the oldest are dropped first. Default: 168 (a week, hourly).

.PARAMETER MaxSpoolAgeDays
    Spooled snapshots older than this are dropped. Default: 7.

.PARAMETER TimeoutSec
    Timeout of one HTTP request. Default: 60.

.PARAMETER RunBudgetSeconds
    Time the run may spend, counted from its start: no request or retry starts, and no request
    outlasts it, once it is spent; what was not sent stays in the spool for the next run. Default:
    1500 (25 minutes, under the scheduled task's 30-minute limit). A dry run (-OutFile) has none.

.PARAMETER MaxClockSkewSeconds
    Largest difference between this host's clock and the service's (the Date header of each
    answer, allowing for the time the request took) that passes without a word. Past it the run writes
    one warning to its output and collector.log, e.g. "This host's clock is 600 s (10 min) ahead
    of the service's (the Date of its answer): the service refuses a snapshot dated more than 5
    minutes ahead of its own clock. Fix this host's time sync (w32tm /resync; ...)": a
    snapshot's collectedAt is this host's clock, so one ahead is refused and one behind looks old
    (the server may be reported stale). Once per run; what is sent is unchanged. Default: 120
    (2 minutes, inside the 5 minutes the service allows ahead).

.PARAMETER ProxyUseDefaultCredentials
    Let the default proxy authenticate this run with the account's Windows credentials (for a
    proxy that answers 407). A run that reads the stored configuration also does so when the
    installation was given -ProxyUseDefaultCredentials; otherwise it is off.

.EXAMPLE
    .\Send-PostureSnapshot.ps1
    The scheduled run: endpoint and credential from the stored configuration; prints the verdicts.

.EXAMPLE
    .\Send-PostureSnapshot.ps1 -OutFile C:\Temp\snapshot.json -Verbose
    Dry run for a support case: fetch the manifest, collect, write the snapshot, send nothing, and
    explain every key, service and file read.

.EXAMPLE
    .\Send-PostureSnapshot.ps1 -OutFile C:\Temp\snapshot.json -ManifestPath C:\Temp\manifest.json
    Fully offline: no network at all. Evaluate the file elsewhere with
    "npx fleet-posture evaluate snapshot.json".

.EXAMPLE
    .\Send-PostureSnapshot.ps1 -Endpoint https://posture.contoso.net -ApiKey $key -Language ja
    A run by hand with an explicit endpoint and credential, verdicts in Japanese.

.OUTPUTS
    System.String. One line per rule verdict, e.g.
    "Warning       mcafee-port25-blocked  SmtpNotExcluded  McAfee VirusScan ... blocks port 25 ..."

.NOTES
    Project: fleet-posture. Layout in the style of Microsoft CSS-Exchange HealthChecker: this
    script only binds parameters; the functions live in Private\*.ps1, one concern per file.
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
    [ValidateSet('en', 'ja')]
    [string]$Language = 'en',
    [ValidateRange(1, 10)]
    [int]$MaxAttempts = 4,
    [ValidateRange(0, 600)]
    [double]$BaseDelaySeconds = 2,
    [ValidateRange(0, 3600)]
    [double]$MaxDelaySeconds = 60,
    [ValidateRange(0, 86400)]
    [double]$MaxRetryAfterSeconds = 300,
    [ValidateRange(1, 10000)]
    [int]$MaxSpoolCount = 168,
    [ValidateRange(1, 365)]
    [int]$MaxSpoolAgeDays = 7,
    [ValidateRange(1, 600)]
    [int]$TimeoutSec = 60,
    [ValidateRange(1, 86400)]
    [int]$RunBudgetSeconds = 1500,
    # The service refuses a snapshot dated more than 5 minutes (300 s) ahead of its clock: 2 minutes
    # warns while a drifting host's snapshots are still accepted, and is far above the second an
    # HTTP Date is rounded to (the time a request takes is allowed for separately).
    [ValidateRange(1, 86400)]
    [double]$MaxClockSkewSeconds = 120,
    [switch]$ProxyUseDefaultCredentials
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$here = Split-Path -Parent $MyInvocation.MyCommand.Definition
foreach ($file in @(Get-ChildItem -LiteralPath (Join-Path -Path $here -ChildPath 'Private') -Filter '*.ps1' | Sort-Object -Property Name)) {
    . $file.FullName
}
$collectorVersion = Get-PostureCollectorVersion

try {
    $run = Invoke-PostureSnapshot @PSBoundParameters -CollectorVersion $collectorVersion
} catch {
    Write-PostureLog -Level Error -Message ('Collector failed: {0}' -f $_.Exception.Message)
    Write-Output ('Collector failed: {0}' -f $_.Exception.Message)
    exit 1
}
foreach ($line in $run.Lines) { Write-Output $line }
exit $run.ExitCode
