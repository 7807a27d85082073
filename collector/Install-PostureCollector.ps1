<#
.SYNOPSIS
    Installs (or with -Uninstall removes) the fleet-posture collector on this server.

.DESCRIPTION
    Copies Send-PostureSnapshot.ps1 and its Private\ folder to -InstallPath (which only SYSTEM and
    Administrators may change, Users only read and run), stores the endpoint and the credential
    protected with DPAPI (machine scope) in <DataPath>\config.dat, restricts <DataPath> to SYSTEM
    and Administrators, and registers the scheduled task "FleetPosture
    Collector": runs as SYSTEM every hour with a random delay (so a fleet does not post in the
    same second), never two runs at once, stopped after 30 minutes.

    Every answer of the service carries its clock (the Date header). When the enrolment's answers
    show this host's clock off from it by more than 120 s (the scheduled runs' default
    -MaxClockSkewSeconds), the installer writes one warning, the collector's own, saying how far,
    which way and what to do (w32tm /resync): a snapshot dated too far ahead is refused, and one
    dated behind makes the server look stale. It installs as it would without it. -ApiKey does not
    enrol, so that installation makes no request and cannot tell.

    -Uninstall removes the task, the scripts, the configuration, the spool, the log and the
    manifest cache. Without -DataPath it removes them from the data folder the task's runs are
    given (an installation's own -DataPath), else from %ProgramData%\FleetPosture. It removes the
    data folder itself only when nothing else is in it: one other tools share keeps their files.

    Needs an elevated PowerShell. Windows Server 2008 and later (Task Scheduler 2.0; the
    ScheduledTasks module is used where present, schtasks.exe /XML elsewhere).

.PARAMETER Endpoint
    Base URL of the service (https only; see -AllowLoopbackHttp): API_BASE_URL from "azd env get-values", e.g.
    https://func-posture-xxxx.azurewebsites.net/api (the site URL without /api works too).

.PARAMETER EnrolmentSecret
    The fleet's enrolment secret. The installer enrols this server (POST /api/enroll with its name
    and fqdn) and stores the returned server key and the secret, encrypted, so the collector can
    enrol again by itself when its key is revoked or replaced. Prefer passing it from a variable or
    a software distribution secret rather than typing it on a shared console.
    Run again over an installation for the same endpoint, it keeps the stored server key when the
    service still takes it (a startup script that reinstalls at every restart then changes no key
    and raises no re-enrolment alert). When anything but the service answers that check (a
    proxy's, a firewall's or a front end's 401 or 403), or the service is busy or silent on every
    attempt, it stops
    with exit 1, changing nothing, and says what answered: only the service's own refusal of the
    key may replace it. When the service refuses the key, or with -Reenrol, it enrols again, proving the
    server with the stored key (x-server-key) and following up a waiting re-enrolment request with
    its claim. Where the service
    keeps the re-enrolment for an admin's approval (HTTP 202), it installs with the claim and no
    key and says so; the scheduled runs collect the key once the request is approved.

.PARAMETER Reenrol
    Enrol again even when the stored server key still works: a new key replaces it (the service
    records a re-enrolment).

.PARAMETER ApiKey
    Legacy, for migration only: a shared ingest key, stored instead of a server key (no
    enrolment). Use -EnrolmentSecret for new installations.

.PARAMETER HeaderName
    HTTP header carrying the credential. Default: x-api-key.

.PARAMETER InstallPath
    Where the scripts go. Default: %ProgramFiles%\FleetPosture. Wherever it is, the installer sets
    its ACL (inheritance off; SYSTEM and Administrators full control, Users read and execute): the
    SYSTEM task runs these scripts, so no one else may change them. It must be a new or empty
    folder, or an earlier installation (it holds Send-PostureSnapshot.ps1), and neither -DataPath
    nor inside or around it; either folder being a link (junction or symbolic link) is refused.
    Its parent must not be writable by ordinary users.

.PARAMETER DataPath
    Configuration, spool, log and manifest cache. Default: %ProgramData%\FleetPosture. Another
    folder is given to the task's runs (-DataPath, as a full path). Neither folder's full path may
    hold an environment variable's name between % signs: Task Scheduler would replace it. With
    -Uninstall, the default is the folder the task's runs are given, else the one above.

.PARAMETER TaskName
    Name of the scheduled task. Default: FleetPosture Collector.

.PARAMETER RandomDelayMinutes
    Upper bound of the random delay added to each hourly run. Default: 50.

.PARAMETER AllowLoopbackHttp
    Accept an http:// endpoint on this machine only (localhost, 127.0.0.0/8, ::1), e.g. the local
    service that `npm start` runs, for trying the collector out. Any other http:// endpoint is
    still refused: the keys must not cross a network in the clear.

.PARAMETER ProxyUseDefaultCredentials
    Let the default proxy (the one .NET finds: machine.config, else the account's Internet
    Options) authenticate the installer and every scheduled run with this machine's Windows
    credentials: for the SYSTEM task, the computer account (Kerberos or NTLM). Stored in the
    configuration; off by default. Only for a proxy that answers 407 Proxy Authentication
    Required, and only with a proxy set explicitly: a proxy found by WPAD auto-detection can be
    answered by anyone on the network, who would receive the computer account's authentication.

.PARAMETER Uninstall
    Remove everything the installation created.

.EXAMPLE
    .\Install-PostureCollector.ps1 -Endpoint https://posture.contoso.net -EnrolmentSecret $secret
    Enrols this server and installs with the defaults; the first run happens within the hour.

.EXAMPLE
    .\Install-PostureCollector.ps1 -Endpoint https://posture.contoso.net -ApiKey $key
    Legacy shared-key installation, for migration only.

.EXAMPLE
    .\Install-PostureCollector.ps1 -Endpoint https://posture.contoso.net -EnrolmentSecret $secret -WhatIf
    Shows what would be installed (task, folders) without changing anything.

.EXAMPLE
    .\Install-PostureCollector.ps1 -Uninstall
    Removes the task, the scripts and all collector data.
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Install')]
param(
    [Parameter(Mandatory = $true, ParameterSetName = 'Install')]
    [Parameter(Mandatory = $true, ParameterSetName = 'Legacy')]
    [string]$Endpoint,
    [Parameter(Mandatory = $true, ParameterSetName = 'Install')]
    [ValidateNotNullOrEmpty()]
    [string]$EnrolmentSecret,
    [Parameter(Mandatory = $true, ParameterSetName = 'Legacy')]
    [ValidateNotNullOrEmpty()]
    [string]$ApiKey,
    [Parameter(ParameterSetName = 'Install')]
    [Parameter(ParameterSetName = 'Legacy')]
    [string]$HeaderName = 'x-api-key',
    [string]$InstallPath = (Join-Path -Path $env:ProgramFiles -ChildPath 'FleetPosture'),
    [string]$DataPath,
    [string]$TaskName = 'FleetPosture Collector',
    [Parameter(ParameterSetName = 'Install')]
    [Parameter(ParameterSetName = 'Legacy')]
    [ValidateRange(0, 59)]
    [int]$RandomDelayMinutes = 50,
    [Parameter(ParameterSetName = 'Install')]
    [Parameter(ParameterSetName = 'Legacy')]
    [switch]$AllowLoopbackHttp,
    [Parameter(ParameterSetName = 'Install')]
    [switch]$Reenrol,
    [Parameter(ParameterSetName = 'Install')]
    [Parameter(ParameterSetName = 'Legacy')]
    [switch]$ProxyUseDefaultCredentials,
    [Parameter(Mandatory = $true, ParameterSetName = 'Uninstall')]
    [switch]$Uninstall
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$here = Split-Path -Parent $MyInvocation.MyCommand.Definition
foreach ($file in @(Get-ChildItem -LiteralPath (Join-Path -Path $here -ChildPath 'Private') -Filter '*.ps1' | Sort-Object -Property Name)) {
    . $file.FullName
}

try {
    if ($Uninstall) {
        # Without -DataPath, the data folder the task's runs are given (a custom one), else the default.
        $removing = (Resolve-PostureUninstallDataPath -DataPath $DataPath -TaskName $TaskName).DataPath
        if ($PSCmdlet.ShouldProcess(('task "{0}", {1}, {2}' -f $TaskName, $InstallPath, $removing), 'Uninstall the fleet-posture collector')) {
            Unregister-PostureCollector -InstallPath $InstallPath -DataPath $DataPath -TaskName $TaskName
        }
    } else {
        if (-not $DataPath) { $DataPath = Get-PostureDataPath }
        if ($PSCmdlet.ShouldProcess(('task "{0}" (SYSTEM, hourly), {1}, {2}' -f $TaskName, $InstallPath, $DataPath), 'Install the fleet-posture collector')) {
            if ($EnrolmentSecret) { $credential = @{ EnrolmentSecret = $EnrolmentSecret; Reenrol = $Reenrol } } else { $credential = @{ ApiKey = $ApiKey } }
            Register-PostureCollector @credential -Endpoint $Endpoint -HeaderName $HeaderName -SourcePath $here -InstallPath $InstallPath -DataPath $DataPath -TaskName $TaskName -RandomDelayMinutes $RandomDelayMinutes -AllowLoopbackHttp:$AllowLoopbackHttp -ProxyUseDefaultCredentials:$ProxyUseDefaultCredentials
        }
    }
} catch {
    Write-Error -Message $_.Exception.Message -ErrorAction Continue
    exit 1
}
exit 0
