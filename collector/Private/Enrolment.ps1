# Enrolment and the server key's recovery: POST /api/enroll (a key at once, or a re-enrolment
# request an admin must approve first), and the run's one re-enrolment when the service answers
# 401 key_revoked, on any authenticated call (the manifest fetch, each snapshot post).
#
# A run's enrolment state (New-PostureEnrolmentState) says whether the stored key may still be
# used: once the run has enrolled again and did not get a key (waiting for approval, refused,
# service unreachable), the key it holds is known to be refused, so the run sends nothing more
# with it and spools its snapshot.

function Test-PostureKeyRevoked {
    <#
    .SYNOPSIS
        True when an answer is 401 with error "key_revoked": the server key was revoked or
        replaced, and enrolling again with the enrolment secret gives a new one.
    .EXAMPLE
        Test-PostureKeyRevoked -StatusCode 401 -Content '{"error":"key_revoked"}'
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content
    )
    return ((Get-PostureErrorCode -Content $Content -StatusCode $StatusCode) -eq 'key_revoked')
}

function New-PostureEnrolmentError {
    <#
    .SYNOPSIS
        The exception Invoke-PostureEnrolment throws: the message, the HTTP status in
        Exception.Data['StatusCode'] (0 when no answer arrived), so a caller can tell a refusal
        from an outage, and the service's error code in Exception.Data['Error'] ('' when none).
    .EXAMPLE
        throw (New-PostureEnrolmentError -StatusCode 403 -Message 'Enrolment refused (HTTP 403).')
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds an exception object; changes nothing.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [Parameter(Mandatory = $true)]
        [string]$Message,
        [string]$ErrorCode = ''
    )
    $e = New-Object System.InvalidOperationException($Message)
    $e.Data['StatusCode'] = $StatusCode
    $e.Data['Error'] = $ErrorCode
    return $e
}

function New-PostureEnrolmentRequestSecret {
    <#
    .SYNOPSIS
        A random secret (256 bits, base64url) for one enrolment, sent in x-enrolment-request with
        every attempt of it: when the service issued a key but its answer was lost, the attempt
        after it proves the same caller and gets the key instead of a request for an admin.
    .EXAMPLE
        $headers['x-enrolment-request'] = New-PostureEnrolmentRequestSecret
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Returns a string; changes nothing.')]
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $bytes = New-Object byte[] 32
    $rng = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    try { $rng.GetBytes($bytes) } finally { $rng.Dispose() }
    return [Convert]::ToBase64String($bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
}

function Invoke-PostureEnrolment {
    <#
    .SYNOPSIS
        POST /api/enroll with the enrolment secret and this host's name and fqdn. Returns
        @{ Status = 'Issued'; Server; KeyId; Key; IssuedAt; Replaced } (HTTP 201), or, when the
        service wants an admin's approval first (POSTURE_REENROLMENT=approval, HTTP 202),
        @{ Status = 'Pending'; Server; RequestId; Claim; RequestedAt; Message }.
        Every attempt of one call carries the same request secret (header x-enrolment-request,
        -RequestSecret or a new one): an attempt after one whose answer was lost (a timeout, a 5xx
        after the key was stored) gets the key that landed rather than a request for approval.
        -Claim sends the claim of an earlier 202 (header x-enrolment-claim), to collect the key
        once an admin approved the request. -CurrentKey sends this server's key (header
        x-server-key), with which a service in approval mode renews the key at once; when the
        service does not take it as the server's current key (HTTP 403 forbidden, the service's own
        code), the request is sent once more without it; a 403 of anything in front of the service
        keeps it. A busy service (no answer, 408, 429, 5xx) is asked again as -RetryPolicy
        says (the run's, as for a post: Invoke-PostureHttpRequestWithRetry, which its Deadline
        bounds); a refusal never is. Throws a clear error otherwise (401 wrong secret,
        403 enrolment blocked or re-enrolment denied, an answer without the service's error code from
        something in front of it, still busy after the last attempt or out of time, no network),
        with the HTTP status in Exception.Data['StatusCode'].
    .EXAMPLE
        Invoke-PostureEnrolment -Endpoint 'https://posture.contoso.net/api' -EnrolmentSecret $secret
    .EXAMPLE
        Invoke-PostureEnrolment -Endpoint 'https://posture.contoso.net/api' -EnrolmentSecret $secret -Claim $config.EnrolmentClaim
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [Parameter(Mandatory = $true)]
        [string]$EnrolmentSecret,
        [string]$HeaderName = 'x-api-key',
        [hashtable]$HostFacts = $null,
        [string]$Claim = '',
        [string]$CurrentKey = '',
        [string]$RequestSecret = '',
        [psobject]$RetryPolicy = $null
    )
    if (-not $RequestSecret) { $RequestSecret = New-PostureEnrolmentRequestSecret }
    if ($null -eq $HostFacts) {
        $facts = Get-PostureHostFact
        $HostFacts = @{ name = [string]$facts['name'] }
        if ($facts.Contains('fqdn') -and $facts['fqdn']) { $HostFacts['fqdn'] = [string]$facts['fqdn'] }
    }
    $hostObject = New-Object System.Collections.Specialized.OrderedDictionary
    $hostObject['name'] = [string]$HostFacts['name']
    if ($HostFacts.ContainsKey('fqdn') -and $HostFacts['fqdn']) { $hostObject['fqdn'] = [string]$HostFacts['fqdn'] }
    $request = New-Object System.Collections.Specialized.OrderedDictionary
    $request['host'] = $hostObject
    # The collector's release tells the service that this one keeps its request secret across runs.
    $collector = New-Object System.Collections.Specialized.OrderedDictionary
    $collector['name'] = 'Send-PostureSnapshot'
    $collector['version'] = Get-PostureCollectorVersion
    $request['collector'] = $collector
    $body = (New-Object System.Text.UTF8Encoding($false)).GetBytes((ConvertTo-PostureJson -InputObject $request))
    $uri = Get-PostureApiUri -Endpoint $Endpoint -Route 'enroll'
    $headers = @{ $HeaderName = $EnrolmentSecret; 'x-enrolment-request' = $RequestSecret }
    if ($Claim) { $headers['x-enrolment-claim'] = $Claim }
    if ($CurrentKey) { $headers['x-server-key'] = $CurrentKey }
    # A busy service (no answer, 408, 429, 5xx) is asked again as a post is; a refusal never is.
    $request = @{ Method = 'Post'; Uri = $uri; Headers = $headers; Body = $body; RetryPolicy = $RetryPolicy }
    $r = Invoke-PostureHttpRequestWithRetry @request
    if ($CurrentKey -and (Get-PostureErrorCode -Content ([string]$r.Content) -StatusCode ([int]$r.StatusCode)) -eq 'forbidden') {
        # A key the service no longer takes as current (revoked, replaced) is no proof: ask without
        # it. Only the service's own refusal says so; a front end's 403 says nothing about the key,
        # and dropping it would turn a renewal into a request an admin must approve.
        Write-Verbose ('The service did not take the stored key as this server''s current key ({0}); enrolling without it.' -f (Format-PostureEnrolmentError -StatusCode 403 -Content ([string]$r.Content)))
        $headers.Remove('x-server-key')
        $r = Invoke-PostureHttpRequestWithRetry @request
    }
    $code = [int]$r.StatusCode
    $a = $null
    if ($code -eq 200 -or $code -eq 201 -or $code -eq 202) {
        try { $a = ConvertFrom-PostureJson -Json ([string]$r.Content) } catch { $a = $null }
    }
    if ($code -eq 200 -or $code -eq 201) {
        $key = ''
        if ($null -ne $a) { $key = [string](Get-PostureMember -InputObject $a -Name 'key' -Default '') }
        if (-not $key) { throw (New-PostureEnrolmentError -StatusCode $code -Message ('Enrolment at {0} answered HTTP {1} without a key.' -f $uri, $code)) }
        return @{
            Status   = 'Issued'
            Server   = [string](Get-PostureMember -InputObject $a -Name 'server' -Default '')
            KeyId    = [string](Get-PostureMember -InputObject $a -Name 'keyId' -Default '')
            Key      = $key
            IssuedAt = [string](Get-PostureMember -InputObject $a -Name 'issuedAt' -Default '')
            Replaced = @(Get-PostureMember -InputObject $a -Name 'replaced' -Default @())
        }
    }
    if ($code -eq 202) {
        $status = ''
        $requestId = ''
        $newClaim = ''
        if ($null -ne $a) {
            $status = [string](Get-PostureMember -InputObject $a -Name 'status' -Default '')
            $requestId = [string](Get-PostureMember -InputObject $a -Name 'requestId' -Default '')
            # Only the answer that files a request carries the claim; later answers repeat its id.
            $newClaim = [string](Get-PostureMember -InputObject $a -Name 'claim' -Default '')
        }
        if (-not $newClaim) { $newClaim = $Claim }
        if ($status -ne 'pending' -or -not $requestId -or -not $newClaim) {
            throw (New-PostureEnrolmentError -StatusCode $code -Message ('Enrolment at {0} answered HTTP 202 without a pending request and its claim.' -f $uri))
        }
        return @{
            Status      = 'Pending'
            Server      = [string](Get-PostureMember -InputObject $a -Name 'server' -Default '')
            RequestId   = $requestId
            Claim       = $newClaim
            RequestedAt = [string](Get-PostureMember -InputObject $a -Name 'requestedAt' -Default '')
            Message     = [string](Get-PostureMember -InputObject $a -Name 'message' -Default '')
        }
    }
    $detail = ''
    if ($code -ne 0) { $detail = Format-PostureEnrolmentError -StatusCode $code -Content ([string]$r.Content) -Redact @($headers.Values) }
    $tries = ''
    if ($r.Attempts -gt 1) { $tries = ' on each of {0} attempts' -f $r.Attempts }
    if ($code -eq 0) { throw (New-PostureEnrolmentError -StatusCode 0 -Message ('Enrolment failed: {0} cannot be reached ({1}){2}.' -f $uri, $r.Error, $tries)) }
    # The service's error code ('' for a page of a stopped web app, a firewall or a proxy) tells
    # whose refusal this is: only the service's ends an enrolment.
    $errorCode = Get-PostureErrorCode -Content ([string]$r.Content) -StatusCode $code
    if (-not $errorCode -and -not (Test-PostureRetryableCode -StatusCode $code)) {
        # The sentence says whose answer it was; only what it answered is added.
        $said = Get-PostureAnswerExcerpt -Content ([string]$r.Content) -Redact @($headers.Values)
        if ($said) { $said = ' It answered: ' + $said }
        $means = Get-PostureForeignAnswerMeaning -StatusCode $code
        if ($means) { $means = ', ' + $means }
        throw (New-PostureEnrolmentError -StatusCode $code -Message ('Enrolment refused (HTTP {0}) by something other than the service (a stopped web app, a firewall, a proxy or a wrong path in the endpoint: its answer carries none of the service''s error codes){2}; the enrolment is kept for the next attempt.{1}' -f $code, $said, $means))
    }
    if ($code -eq 401) { throw (New-PostureEnrolmentError -StatusCode $code -ErrorCode $errorCode -Message ('Enrolment refused (HTTP 401): the enrolment secret is wrong or was rotated. {0}' -f $detail)) }
    if ($code -eq 403 -and $errorCode -eq 'forbidden') { throw (New-PostureEnrolmentError -StatusCode $code -ErrorCode $errorCode -Message ('Enrolment refused (HTTP 403): an admin blocked the enrolment of this server or denied its re-enrolment. {0}' -f $detail)) }
    if (Test-PostureRetryableCode -StatusCode $code) {
        $after = 'later'
        if ($null -ne $r.RetryAfter) { $after = 'in {0} seconds' -f $r.RetryAfter }
        throw (New-PostureEnrolmentError -StatusCode $code -ErrorCode $errorCode -Message ('Enrolment not possible now (HTTP {0}{1}); try again {2}. {3}' -f $code, $tries, $after, $detail))
    }
    throw (New-PostureEnrolmentError -StatusCode $code -Message ('Enrolment failed (HTTP {0}). {1}' -f $code, $detail) -ErrorCode $errorCode)
}

function Format-PostureEnrolmentError {
    <#
    .SYNOPSIS
        The error code and message of an enrolment refusal, for the installer's and the log's text:
        "Service said: <code>: <message>" when the answer carries the service's error code
        (Get-PostureErrorCode), else that the answer came from something in front of the service,
        with a short excerpt of it (Format-PostureForeignAnswer; the values sent, Redact, blanked out).
    .EXAMPLE
        Format-PostureEnrolmentError -StatusCode 401 -Content '{"error":"unauthorized","message":"..."}'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @()
    )
    $code = Get-PostureErrorCode -Content $Content -StatusCode $StatusCode
    # Whatever else answered is not the service, and its "error" may be an object or a page.
    if (-not $code) { return (Format-PostureForeignAnswer -StatusCode $StatusCode -Content $Content -Redact $Redact) }
    return ('Service said: {0}: {1}' -f $code, (Get-PostureAnswerText -Content $Content -Name 'message'))
}

function New-PostureEnrolmentState {
    <#
    .SYNOPSIS
        One run's enrolment state: what re-enrolling needs (endpoint, header, enrolment secret,
        where the configuration is stored), the stored key, claim and request secret
        (x-enrolment-request, kept while no key answered it), and what happened:
        Tried (the run enrolled once already) and State - None (not enrolled in this run), Issued
        (a new key), Pending (waiting for an admin's approval), Refused (HTTP 4xx with the
        service's error code), Intercepted (a refusal without one: a stopped web app, a firewall or
        a proxy answered, not the service), Failed (no
        answer, 408, 429, 5xx on every attempt, or a Retry-After too long to wait for, under
        RetryPolicy: the run's, as for a post, with the end of its time budget). Without a Secret
        the run never enrols.
    .EXAMPLE
        $enrolment = New-PostureEnrolmentState -Endpoint $endpoint -ConfigPath $configPath -Secret $config.EnrolmentSecret -ApiKey $config.ApiKey -Claim $config.EnrolmentClaim
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds a hashtable in memory; changes nothing.')]
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [string]$Endpoint = '',
        [string]$HeaderName = 'x-api-key',
        [Parameter(Mandatory = $true)]
        [string]$ConfigPath,
        [string]$Secret = '',
        [string]$ApiKey = '',
        [string]$KeyId = '',
        [string]$Claim = '',
        [string]$RequestSecret = '',
        [bool]$ProxyUseDefaultCredentials = $false,
        [psobject]$RetryPolicy = $null
    )
    if ($null -eq $RetryPolicy) { $RetryPolicy = New-PostureRetryPolicy }
    return @{
        Endpoint = $Endpoint; HeaderName = $HeaderName; ConfigPath = $ConfigPath; Secret = $Secret
        ApiKey = $ApiKey; KeyId = $KeyId; Claim = $Claim; Request = $RequestSecret; RetryPolicy = $RetryPolicy
        ProxyUseDefaultCredentials = $ProxyUseDefaultCredentials
        Tried = $false; State = 'None'; RequestId = ''
    }
}

function Test-PostureServerKeyUsable {
    <#
    .SYNOPSIS
        False once the run enrolled again without getting a key: the key it holds was refused, so
        nothing more is sent with it in this run (the snapshot is spooled).
    .EXAMPLE
        if (Test-PostureServerKeyUsable -Enrolment $enrolment) { 'send' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment
    )
    return ($Enrolment.State -eq 'None' -or $Enrolment.State -eq 'Issued')
}

function Save-PostureEnrolmentState {
    <#
    .SYNOPSIS
        Stores the state's key, key id, enrolment secret, claim and request secret in the protected configuration,
        keeping the proxy opt-in it was read with.
        Returns $false (and logs why) when it cannot.
    .EXAMPLE
        $null = Save-PostureEnrolmentState -Enrolment $enrolment
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment
    )
    try {
        $null = Save-PostureConfig -Path $Enrolment.ConfigPath -Endpoint $Enrolment.Endpoint -ApiKey $Enrolment.ApiKey -HeaderName $Enrolment.HeaderName -EnrolmentSecret $Enrolment.Secret -KeyId $Enrolment.KeyId -EnrolmentClaim $Enrolment.Claim -EnrolmentRequest ([string]$Enrolment['Request']) -ProxyUseDefaultCredentials:([bool]$Enrolment['ProxyUseDefaultCredentials'])
        return $true
    } catch {
        Write-PostureLog -Level Error -Message ('The configuration {0} could not be stored: {1}' -f $Enrolment.ConfigPath, $_.Exception.Message)
        return $false
    }
}

function Test-PostureEnrolmentEnded {
    <#
    .SYNOPSIS
        True when the service itself ended an enrolment for good: 403 forbidden (the request was
        denied, the enrolment blocked), 400 invalid_enrolment or invalid_query (the request secret
        or the claim is not valid), or 409 request_closed (a revocation closed the request). Its
        request secret, and its claim if it sent one, are then worth nothing, and are cleared so the
        next enrolment starts anew with a new secret. Any other failure keeps them: 401 wrong
        enrolment secret, another 409 or 400, no answer, and a 400 or 403 that is not the service's
        (a stopped web app's page, a firewall, a proxy), after which the approved request may still
        be collected. The one decision for a run and the installer alike.
    .EXAMPLE
        if (Test-PostureEnrolmentEnded -Exception $_.Exception) { $Enrolment.Request = '' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Exception]$Exception
    )
    $code = 0
    if ($Exception.Data.Contains('StatusCode')) { $code = [int]$Exception.Data['StatusCode'] }
    $errorCode = [string]$Exception.Data['Error']
    # The codes the service's enrolment answers with when the request itself is over or unusable.
    $ending = @{ 400 = @('invalid_enrolment', 'invalid_query'); 403 = @('forbidden'); 409 = @('request_closed') }
    return ($ending.ContainsKey($code) -and $ending[$code] -contains $errorCode)
}

function Request-PostureServerKey {
    <#
    .SYNOPSIS
        Enrols again with the stored enrolment secret (and the stored claim, if a request waits for
        approval) - once per run. Every attempt, in this run and the next ones, carries the one
        request secret (x-enrolment-request) stored before its first use. On a key (201): stores
        it, clears the claim and the request secret, puts the key in Headers. On 202: stores the
        claim a new request hands out (DPAPI, with the configuration).
        When the service ended the enrolment (Test-PostureEnrolmentEnded: the request denied, the
        enrolment blocked, the claim not valid, or 409 request_closed after an admin revoked the
        server's keys): logs the service's message and clears the claim (if it sent one) and the
        request secret, so the next run files a new request with a new secret. Any other refusal
        (another 409, a 400 or 403 page that is not the service's) keeps the claim. Returns
        the new State: Issued, Pending, Refused (the service's own refusal), Intercepted (a refusal
        from something in front of it) or Failed.
    .EXAMPLE
        Request-PostureServerKey -Enrolment $enrolment -Headers $headers
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment,
        [Parameter(Mandatory = $true)]
        [hashtable]$Headers
    )
    $Enrolment.Tried = $true
    $claim = [string]$Enrolment.Claim
    # The request secret outlives the run, stored before it is first sent: when the answer to a
    # request is lost, the next run resends with it, and the service takes that resend for this
    # collector's own (it replaces the pending request rather than listing a second one beside it).
    if (-not $Enrolment['Request']) {
        $Enrolment.Request = New-PostureEnrolmentRequestSecret
        $null = Save-PostureEnrolmentState -Enrolment $Enrolment
    }
    try {
        $a = Invoke-PostureEnrolment -Endpoint $Enrolment.Endpoint -EnrolmentSecret $Enrolment.Secret -HeaderName $Enrolment.HeaderName -Claim $claim -RequestSecret $Enrolment.Request -RetryPolicy $Enrolment['RetryPolicy']
    } catch {
        $code = 0
        if ($_.Exception.Data.Contains('StatusCode')) { $code = [int]$_.Exception.Data['StatusCode'] }
        Write-PostureLog -Level Error -Message ('Enrolling again failed: {0}' -f $_.Exception.Message)
        # A refusal without a claim (blocked, or a request secret whose request was denied) spends the secret too.
        if (Test-PostureEnrolmentEnded -Exception $_.Exception) {
            $Enrolment.Claim = ''
            $Enrolment.Request = ''
            if ((Save-PostureEnrolmentState -Enrolment $Enrolment) -and $claim) {
                Write-PostureLog -Level Warning -Message ('The claim of re-enrolment request {0} was cleared; the next run files a new request.' -f ($claim -split '\.')[0])
            }
        }
        $Enrolment.State = 'Failed'
        if ($code -ge 400 -and -not (Test-PostureRetryableCode -StatusCode $code)) {
            # Only the service's own refusal is one; a front end's answer did not reach it.
            $Enrolment.State = 'Intercepted'
            if ([string]$_.Exception.Data['Error']) { $Enrolment.State = 'Refused' }
        }
        return $Enrolment.State
    }
    if ($a.Status -eq 'Pending') {
        $Enrolment.State = 'Pending'
        $Enrolment.RequestId = $a.RequestId
        if ($a.Claim -ne $claim) {
            $Enrolment.Claim = $a.Claim
            $null = Save-PostureEnrolmentState -Enrolment $Enrolment
            Write-PostureLog -Level Warning -Message ('Re-enrolment request {0} filed: it waits for an admin''s approval (POST /api/servers/{1}/enrolments/{0}/approve); the next runs collect the key. Service said: {2}' -f $a.RequestId, $a.Server, $a.Message)
        } else {
            Write-PostureLog -Level Warning -Message ('Re-enrolment request {0} still waits for an admin''s approval.' -f $a.RequestId)
        }
        return $Enrolment.State
    }
    $Enrolment.ApiKey = $a.Key
    $Enrolment.KeyId = $a.KeyId
    $Enrolment.Claim = ''
    $Enrolment.Request = ''
    $Enrolment.State = 'Issued'
    # Without the stored key the next run would enrol again; this run uses the new key anyway.
    $null = Save-PostureEnrolmentState -Enrolment $Enrolment
    $Headers[$Enrolment.HeaderName] = $a.Key
    Write-PostureLog -Message ('Enrolled again as {0} (key id {1}).' -f $a.Server, $a.KeyId)
    return $Enrolment.State
}

function Restore-PostureServerKey {
    <#
    .SYNOPSIS
        The recovery from 401 key_revoked, for any authenticated call: when the answer is
        key_revoked and the configuration holds the enrolment secret, enrol again ONCE per run
        (Request-PostureServerKey). Returns $true when Headers now carry a new key, so the caller
        retries its request once; $false for any other answer, a second key_revoked, no secret,
        or a re-enrolment that gave no key (waiting for approval, refused, failed).
    .EXAMPLE
        if (Restore-PostureServerKey -Enrolment $enrolment -StatusCode $r.StatusCode -Content $r.Content -Headers $headers) { 'retry' }
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment,
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [Parameter(Mandatory = $true)]
        [hashtable]$Headers
    )
    if (-not (Test-PostureKeyRevoked -StatusCode $StatusCode -Content $Content)) { return $false }
    if (-not $Enrolment.Secret) {
        Write-PostureLog -Level Error -Message 'The server key was revoked or replaced (HTTP 401 key_revoked) and no enrolment secret is stored; reinstall with -EnrolmentSecret.'
        return $false
    }
    if ($Enrolment.Tried) {
        Write-PostureLog -Level Error -Message 'The server key was refused as revoked again after enrolling again in this run; not enrolling a second time.'
        return $false
    }
    Write-PostureLog -Level Warning -Message 'The server key was revoked or replaced (HTTP 401 key_revoked); enrolling again with the stored enrolment secret.'
    return ((Request-PostureServerKey -Enrolment $Enrolment -Headers $Headers) -eq 'Issued')
}

function Send-PostureDocumentEnrolled {
    <#
    .SYNOPSIS
        Send-PostureDocument, plus the recovery from 401 key_revoked (Restore-PostureServerKey):
        with a new key the request is retried once. Any other refusal, or a second key_revoked, is
        returned as it is (the caller spools the snapshot).
    .EXAMPLE
        Send-PostureDocumentEnrolled -Json $json -SendArgs $sendArgs -Enrolment $enrolment
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Json,
        [Parameter(Mandatory = $true)]
        [hashtable]$SendArgs,
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment
    )
    $r = Send-PostureDocument -Json $Json @SendArgs
    if ($r.Outcome -ne 'Rejected') { return $r }
    if (-not (Restore-PostureServerKey -Enrolment $Enrolment -StatusCode $r.StatusCode -Content ([string]$r.Content) -Headers $SendArgs['Headers'])) { return $r }
    Write-PostureLog -Message 'Retrying once with the new server key.'
    $r = Send-PostureDocument -Json $Json @SendArgs
    if ($r.Outcome -ne 'Sent') {
        Write-PostureLog -Level Error -Message ('The retry with the new server key failed too (HTTP {0}).' -f $r.StatusCode)
    }
    return $r
}

function Get-PostureEnrolmentExitCode {
    <#
    .SYNOPSIS
        The exit code of a run that did not deliver: 3 while this server's re-enrolment waits for
        an admin's approval, 2 when the service refused to enrol it again (wrong enrolment secret,
        enrolment blocked, request denied), else 1 (spooled, will be sent by a later run; also
        when something in front of the service refused the enrolment).
    .EXAMPLE
        Get-PostureEnrolmentExitCode -Enrolment $enrolment
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment
    )
    if ($Enrolment.State -eq 'Pending') { return 3 }
    if ($Enrolment.State -eq 'Refused') { return 2 }
    return 1
}

function Format-PostureEnrolmentState {
    <#
    .SYNOPSIS
        Why the run holds no usable key, in a few words for its output; '' while the key is usable.
    .EXAMPLE
        Format-PostureEnrolmentState -Enrolment $enrolment
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Enrolment
    )
    switch ($Enrolment.State) {
        'Pending' { return ('the re-enrolment of this server waits for an admin''s approval (request {0})' -f $Enrolment.RequestId) }
        'Refused' { return 'the service refused to enrol this server again (see collector.log)' }
        'Failed' { return 'the server key was refused and enrolling again failed (see collector.log)' }
        'Intercepted' { return 'enrolling again was refused by something other than the service (a stopped web app, a firewall or a proxy); a later run tries again (see collector.log)' }
    }
    return ''
}
