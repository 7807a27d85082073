# HTTP: TLS 1.2+ and the default proxy's credentials, one request wrapper (the only place that
# calls Invoke-WebRequest, so tests can mock it), retries with exponential back-off and jitter, and
# the manifest with its last-good copy.

function Set-PostureTlsProtocol {
    <#
    .SYNOPSIS
        Allows TLS 1.2 (and TLS 1.3 when already allowed) and nothing older for this process.
    .EXAMPLE
        Set-PostureTlsProtocol
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    # 3072 = Tls12, 12288 = Tls13; numbers because .NET 4.0 does not name Tls12.
    $current = [int][System.Net.ServicePointManager]::SecurityProtocol
    $wanted = 3072 -bor ($current -band 12288)
    if ($PSCmdlet.ShouldProcess('ServicePointManager.SecurityProtocol', 'Allow TLS 1.2+ only')) {
        try {
            [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.SecurityProtocolType]$wanted
        } catch {
            Write-Warning ("TLS 1.2 is not available on this .NET Framework ({0}); install .NET 4.5 or later." -f $_.Exception.Message)
        }
    }
}

function Set-PostureProxyCredential {
    <#
    .SYNOPSIS
        Lets the default proxy authenticate this process with its own Windows credentials: for the
        SYSTEM task on a domain member, the computer account (Kerberos or NTLM; no password is
        sent). Without them, a proxy that asks for authentication (HTTP 407) fails every request.
        The default proxy (WebRequest.DefaultWebProxy, which Invoke-WebRequest uses when given no
        -Proxy) is machine.config's defaultProxy, else the account's Internet Options; credentials
        already set there (useDefaultCredentials, or given explicitly) are kept.
    .EXAMPLE
        Set-PostureProxyCredential
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    try {
        $proxy = [System.Net.WebRequest]::DefaultWebProxy
        if ($null -eq $proxy -or $null -ne $proxy.Credentials) { return }
        if ($PSCmdlet.ShouldProcess('WebRequest.DefaultWebProxy', 'Authenticate with this account''s Windows credentials')) {
            $proxy.Credentials = [System.Net.CredentialCache]::DefaultNetworkCredentials
        }
    } catch {
        # A proxy that does not ask for authentication works without them: the requests go on.
        Write-PostureLog -Level Warning -Message ("The default proxy cannot be given this account's Windows credentials: {0}" -f $_.Exception.Message)
    }
}

function Initialize-PostureWebRequest {
    <#
    .SYNOPSIS
        What every process that calls the service sets first: TLS 1.2+ (Set-PostureTlsProtocol)
        and, only with ProxyUseDefaultCredentials, the default proxy's credentials
        (Set-PostureProxyCredential).
    .EXAMPLE
        Initialize-PostureWebRequest -ProxyUseDefaultCredentials
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [switch]$ProxyUseDefaultCredentials
    )
    $null = Set-PostureTlsProtocol
    # Opt-in: the default proxy may be one WPAD discovered, and answering WPAD is open to anyone
    # on the LAN, who would then receive (and could relay) the computer account's authentication.
    if ($ProxyUseDefaultCredentials) { $null = Set-PostureProxyCredential }
}

function Get-PostureApiUri {
    <#
    .SYNOPSIS
        The URL of an API route. The endpoint may be the site (https://x.azurewebsites.net) or the
        API base that azd prints as API_BASE_URL (https://x.azurewebsites.net/api).
    .EXAMPLE
        Get-PostureApiUri -Endpoint 'https://x.azurewebsites.net/api' -Route 'snapshots'
        Returns https://x.azurewebsites.net/api/snapshots.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [Parameter(Mandatory = $true)]
        [string]$Route
    )
    $base = $Endpoint.TrimEnd('/')
    if ($base -notmatch '/api$') { $base = $base + '/api' }
    return ($base + '/' + $Route)
}

function Invoke-PostureHttpRequest {
    <#
    .SYNOPSIS
        One HTTP request. Never throws for an HTTP status: returns StatusCode (0 when no response
        arrived), Content (the body as UTF-8 text), RetryAfter (seconds to wait, from either form
        of the header, a date counted from the answer's own Date header - ConvertFrom-PostureRetryAfter -
        or $null), Error, ServerDate (the answer's Date header as UTC, the service's clock; $null
        when there is none or it is no HTTP date), and SentAt and ReceivedAt (this host's clock,
        Get-PostureUtcNow, before the request and once it ended), and Age (the answer's Age header
        as sent, '' when there is none: a cache answered with a stored answer, RFC 9111).
    .EXAMPLE
        Invoke-PostureHttpRequest -Method Get -Uri 'https://posture.example.net/api/manifest' -Headers @{ 'x-api-key' = $key }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [ValidateSet('Get', 'Post')]
        [string]$Method,
        [Parameter(Mandatory = $true)]
        [string]$Uri,
        [hashtable]$Headers = @{},
        [byte[]]$Body = $null,
        [string]$ContentType = 'application/json; charset=utf-8',
        [int]$TimeoutSec = 60
    )
    $result = @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = $null; ServerDate = $null; SentAt = (Get-PostureUtcNow); ReceivedAt = $null; Age = '' }
    $params = @{ Uri = $Uri; Method = $Method; Headers = $Headers; UseBasicParsing = $true; TimeoutSec = $TimeoutSec; ErrorAction = 'Stop' }
    if ($null -ne $Body) { $params['Body'] = $Body; $params['ContentType'] = $ContentType }
    try {
        $response = Invoke-WebRequest @params
        $result.ReceivedAt = Get-PostureUtcNow
        $result.StatusCode = [int]$response.StatusCode
        $result.ServerDate = ConvertFrom-PostureHttpDate -Value (Get-PostureResponseHeader -Response $response -Name 'Date')
        $result.Age = Get-PostureResponseHeader -Response $response -Name 'Age'
        $raw = $null
        if ($null -ne $response.PSObject.Properties['RawContentStream'] -and $null -ne $response.RawContentStream) { $raw = $response.RawContentStream.ToArray() }
        if ($null -ne $raw) { $result.Content = [System.Text.Encoding]::UTF8.GetString($raw) } else { $result.Content = [string]$response.Content }
    } catch {
        $result.ReceivedAt = Get-PostureUtcNow
        $ex = $_.Exception
        $response = $null
        if ($null -ne $ex.PSObject.Properties['Response']) { $response = $ex.Response }
        if ($null -eq $response) {
            $result.Error = $ex.Message
            return $result
        }
        $result.StatusCode = [int]$response.StatusCode
        if ($null -ne $_.ErrorDetails -and $_.ErrorDetails.Message) { $result.Content = [string]$_.ErrorDetails.Message }
        if ($response -is [System.Net.WebResponse] -and -not $result.Content) {
            try {
                $reader = New-Object System.IO.StreamReader($response.GetResponseStream(), [System.Text.Encoding]::UTF8)
                $result.Content = $reader.ReadToEnd()
                $reader.Dispose()
            } catch {
                Write-Verbose ("No error body: {0}" -f $_.Exception.Message)
            }
        }
        $serverDate = Get-PostureResponseHeader -Response $response -Name 'Date'
        $result.RetryAfter = ConvertFrom-PostureRetryAfter -Value (Get-PostureResponseHeader -Response $response -Name 'Retry-After') -ServerDate $serverDate
        $result.ServerDate = ConvertFrom-PostureHttpDate -Value $serverDate
        $result.Age = Get-PostureResponseHeader -Response $response -Name 'Age'
        $result.Error = $ex.Message
    }
    return $result
}

function Get-PostureResponseHeader {
    <#
    .SYNOPSIS
        The first value of one header of an answer as sent, or '' when there is none: from
        Invoke-WebRequest's answer (its Headers: each a string in Windows PowerShell, a list of
        them in PowerShell 7) or from the Response of its error (a WebResponse in Windows
        PowerShell; in PowerShell 7 an HttpResponseMessage, read with TryGetValues so that
        .NET's parsed forms of Retry-After and Date never stand in for the text sent).
    .EXAMPLE
        Get-PostureResponseHeader -Response $response -Name 'Retry-After'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        $Response,
        [Parameter(Mandatory = $true)]
        [string]$Name
    )
    if ($null -eq $Response -or $null -eq $Response.PSObject.Properties['Headers'] -or $null -eq $Response.Headers) { return '' }
    $headers = $Response.Headers
    if ($null -ne $headers.PSObject.Methods['TryGetValues']) {
        $values = $null
        if ($headers.TryGetValues($Name, [ref]$values)) { return [string]@($values)[0] }
        return ''
    }
    return [string]@($headers[$Name])[0]
}

function ConvertFrom-PostureHttpDate {
    <#
    .SYNOPSIS
        The UTC time of an HTTP date (IMF-fixdate "Wed, 21 Oct 2026 07:28:00 GMT", or the obsolete
        RFC 850 and asctime forms RFC 9110 also lets a recipient accept), or $null for no value or
        one that is none of them.
    .EXAMPLE
        ConvertFrom-PostureHttpDate -Value 'Wed, 21 Oct 2026 07:28:00 GMT'
    #>
    [CmdletBinding()]
    [OutputType([datetime])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Value
    )
    if (-not $Value) { return $null }
    # All three in GMT (RFC 9110 section 5.6.7); English names whatever the machine's culture.
    $formats = [string[]]@('ddd, dd MMM yyyy HH:mm:ss \G\M\T', 'dddd, dd-MMM-yy HH:mm:ss \G\M\T', 'ddd MMM d HH:mm:ss yyyy')
    $styles = [System.Globalization.DateTimeStyles]::AllowWhiteSpaces -bor [System.Globalization.DateTimeStyles]::AssumeUniversal -bor [System.Globalization.DateTimeStyles]::AdjustToUniversal
    $date = [datetime]::MinValue
    if (-not [datetime]::TryParseExact($Value.Trim(), $formats, [System.Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$date)) { return $null }
    return $date
}

function ConvertFrom-PostureRetryAfter {
    <#
    .SYNOPSIS
        Seconds to wait from a Retry-After header: its delay in seconds ("120"), or an HTTP date
        ("Wed, 21 Oct 2026 07:28:00 GMT"; RFC 9110 also allows the obsolete RFC 850 and asctime
        forms) less the time the server answered, rounded up and never below 0. The time the
        server answered is its Date header (ServerDate) when that is a valid HTTP date, so a host
        whose clock is off by minutes still waits what the service meant; else Now (the run's
        clock). $null for no value or one that is neither form, so the caller backs off as if none
        came.
    .EXAMPLE
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:26:30 GMT'
        Returns 90, whatever this host's clock says.
    .EXAMPLE
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -Now ([datetime]'2026-10-21T07:26:30Z').ToUniversalTime()
        Returns 90.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Value,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$ServerDate = $null,
        [Nullable[datetime]]$Now = $null
    )
    if (-not $Value) { return $null }
    $text = $Value.Trim()
    $seconds = 0
    if ([int]::TryParse($text, [System.Globalization.NumberStyles]::AllowLeadingSign, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$seconds)) { return $seconds }
    $date = ConvertFrom-PostureHttpDate -Value $text
    if ($null -eq $date) { return $null }
    # The service meant its own clock: against the host's, any skew would lengthen or shorten the
    # wait by as much. The answer's Date header is that clock when it answered (RFC 9110 section
    # 6.6.1); a missing or malformed one leaves the host's clock as the only one there is.
    $answered = ConvertFrom-PostureHttpDate -Value $ServerDate
    if ($null -eq $answered) { $answered = $Now }
    if ($null -eq $answered) { $answered = Get-PostureUtcNow }
    $left = [Math]::Ceiling(([datetime]$date - [datetime]$answered).TotalSeconds)
    return [int][Math]::Min([int]::MaxValue, [Math]::Max(0, $left))
}

function Get-PostureRetryDelay {
    <#
    .SYNOPSIS
        Seconds to wait before attempt Attempt+1: exponential back-off (Base * 2^(Attempt-1), capped
        at Max) with jitter (a random point in its upper half), or, when the server sent Retry-After,
        that many seconds in full (waiting less would ask sooner than the service said; whether to
        wait that long at all is Invoke-PostureHttpRequestWithRetry's decision).
    .EXAMPLE
        Get-PostureRetryDelay -Attempt 3 -BaseDelaySeconds 2 -MaxDelaySeconds 60
    #>
    [CmdletBinding()]
    [OutputType([double])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$Attempt,
        [double]$BaseDelaySeconds = 2,
        [double]$MaxDelaySeconds = 60,
        $RetryAfter = $null
    )
    if ($null -ne $RetryAfter) { return [double][Math]::Max([double]$RetryAfter, 0) }
    $cap = [Math]::Min($MaxDelaySeconds, $BaseDelaySeconds * [Math]::Pow(2, $Attempt - 1))
    $half = $cap / 2
    return [double]($half + (Get-Random -Minimum 0.0 -Maximum ([Math]::Max($half, 0.001))))
}

function Get-PostureRetryAfterRefusal {
    <#
    .SYNOPSIS
        Why a Retry-After is not waited for, in a sentence for the run's output and log: it is
        longer than MaxRetryAfterSeconds, or than the time left before Deadline (less the second a
        request needs). '' when there is no Retry-After, when it fits, or when the budget is spent
        anyway (then the run says its budget is spent, whatever the service asked).
    .EXAMPLE
        Get-PostureRetryAfterRefusal -RetryAfter 400 -StatusCode 503 -MaxRetryAfterSeconds 300
        Returns "the service asked to wait 400 s (HTTP 503), longer than the 300 s a retry may wait (-MaxRetryAfterSeconds)".
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        $RetryAfter = $null,
        [int]$StatusCode = 0,
        [double]$MaxRetryAfterSeconds = 300,
        [Nullable[datetime]]$Deadline = $null
    )
    if ($null -eq $RetryAfter) { return '' }
    $asked = [double]$RetryAfter
    $what = 'the service asked to wait {0} s (HTTP {1})' -f $asked, $StatusCode
    if ($asked -gt $MaxRetryAfterSeconds) {
        return ('{0}, longer than the {1} s a retry may wait (-MaxRetryAfterSeconds)' -f $what, $MaxRetryAfterSeconds)
    }
    if ($null -ne $Deadline) {
        $left = ($Deadline - (Get-PostureUtcNow)).TotalSeconds
        if ($left -ge 1 -and (Get-PostureUtcNow).AddSeconds($asked + 1) -ge $Deadline) {
            return ('{0}, longer than the {1} s left of the run''s time budget' -f $what, [int][Math]::Floor($left))
        }
    }
    return ''
}

function Get-PostureUtcNow {
    <#
    .SYNOPSIS
        The current UTC time: the run's clock for its budget (a function of its own so tests can
        mock it).
    .EXAMPLE
        Get-PostureUtcNow
    #>
    [CmdletBinding()]
    [OutputType([datetime])]
    param()
    return [datetime]::UtcNow
}

function Wait-PostureRetry {
    <#
    .SYNOPSIS
        Sleeps between attempts (a function of its own so tests can mock it).
    .EXAMPLE
        Wait-PostureRetry -Seconds 1.5
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [double]$Seconds
    )
    Start-Sleep -Milliseconds ([int]($Seconds * 1000))
}

function Test-PostureRetryableCode {
    <#
    .SYNOPSIS
        True for "try again" answers: no response, 408, 429 and 5xx. Other 4xx mean the request
        itself is wrong and repeating it cannot help.
    .EXAMPLE
        Test-PostureRetryableCode -StatusCode 503
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode
    )
    return ($StatusCode -eq 0 -or $StatusCode -eq 408 -or $StatusCode -eq 429 -or $StatusCode -ge 500)
}

function Invoke-PostureHttpRequestWithRetry {
    <#
    .SYNOPSIS
        One request of a run, repeated while the service says "try again" (no answer, 408, 429,
        5xx) as -RetryPolicy says (New-PostureRetryPolicy; its defaults when none is given): up to
        MaxAttempts attempts of at most TimeoutSec each, waiting Get-PostureRetryDelay between them
        (back-off with jitter capped at MaxDelaySeconds, or the Retry-After the service sent, in
        full). Any other answer ends it at once. With a Deadline (UTC, the end of the run's
        budget) no request starts within a second of it, a request's timeout never reaches past
        it, and a back-off whose wait would reach it is not made: the answer then has OutOfTime
        set. A Retry-After longer than MaxRetryAfterSeconds, or than the time left before the
        Deadline, is not waited for and not answered sooner either: the request ends there, with
        WaitAsked (the seconds the service asked for) and WaitNote (a sentence saying so).
        Each answer goes through the run's clock check (the policy's ClockCheck,
        Write-PostureClockSkewWarning; SnapshotId, the snapshot a post sends, tells it whether a
        verdict answers this post). Returns the last answer of
        Invoke-PostureHttpRequest (StatusCode, Content, RetryAfter, Error) with Attempts, the
        number of requests made (0 when the budget was spent before the first), OutOfTime,
        WaitAsked and WaitNote.
    .EXAMPLE
        Invoke-PostureHttpRequestWithRetry -Method Get -Uri 'https://posture.example.net/api/manifest' -Headers @{ 'x-api-key' = $key } -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 2 -MaxDelaySeconds 10)
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [ValidateSet('Get', 'Post')]
        [string]$Method,
        [Parameter(Mandatory = $true)]
        [string]$Uri,
        [hashtable]$Headers = @{},
        [byte[]]$Body = $null,
        [string]$ContentType = 'application/json; charset=utf-8',
        [psobject]$RetryPolicy = $null,
        [string]$SnapshotId = ''
    )
    if ($null -eq $RetryPolicy) { $RetryPolicy = New-PostureRetryPolicy }
    $timeoutSec = [int]$RetryPolicy.TimeoutSec
    $maxAttempts = [int]$RetryPolicy.MaxAttempts
    $deadline = $RetryPolicy.Deadline
    $request = @{ Method = $Method; Uri = $Uri; Headers = $Headers; ContentType = $ContentType; TimeoutSec = $timeoutSec }
    if ($null -ne $Body) { $request['Body'] = $Body }
    $verb = $Method.ToUpperInvariant()
    $last = @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'the run''s time budget is spent'; Attempts = 0; OutOfTime = $true; WaitAsked = $null; WaitNote = '' }
    for ($attempt = 1; $attempt -le $maxAttempts; $attempt++) {
        if ($null -ne $deadline) {
            # Task Scheduler kills a run at its time limit: a request must end before the budget does.
            $left = ($deadline - (Get-PostureUtcNow)).TotalSeconds
            if ($left -lt 1) {
                Write-Verbose ("{0} {1}: not attempted, the run's time budget is spent" -f $verb, $Uri)
                $last['OutOfTime'] = $true
                return $last
            }
            $request['TimeoutSec'] = [int][Math]::Min($timeoutSec, [Math]::Floor($left))
        }
        $last = Invoke-PostureHttpRequest @request
        $clockCheck = $null
        if ($null -ne $RetryPolicy.PSObject.Properties['ClockCheck']) { $clockCheck = $RetryPolicy.ClockCheck }
        Write-PostureClockSkewWarning -ClockCheck $clockCheck -Answer $last -SnapshotId $SnapshotId
        $code = [int]$last.StatusCode
        $last['Attempts'] = $attempt
        $last['OutOfTime'] = $false
        $last['WaitAsked'] = $null
        $last['WaitNote'] = ''
        if (-not (Test-PostureRetryableCode -StatusCode $code)) {
            Write-Verbose ("{0} {1}: {2} on attempt {3}" -f $verb, $Uri, $code, $attempt)
            return $last
        }
        $why = $last.Error
        if ($code -ne 0) { $why = "HTTP $code" }
        if ($attempt -lt $maxAttempts) {
            $note = Get-PostureRetryAfterRefusal -RetryAfter $last.RetryAfter -StatusCode $code -MaxRetryAfterSeconds $RetryPolicy.MaxRetryAfterSeconds -Deadline $deadline
            if ($note) {
                # Asking sooner than the service said would be impolite, and waiting that long is
                # more than this request may take: it ends here, and the caller keeps what it sends.
                Write-Verbose ("{0} {1}: {2} on attempt {3} of {4}; {5}, giving up" -f $verb, $Uri, $why, $attempt, $maxAttempts, $note)
                $last['WaitAsked'] = [double]$last.RetryAfter
                $last['WaitNote'] = $note
                return $last
            }
            $delay = Get-PostureRetryDelay -Attempt $attempt -BaseDelaySeconds $RetryPolicy.BaseDelaySeconds -MaxDelaySeconds $RetryPolicy.MaxDelaySeconds -RetryAfter $last.RetryAfter
            # Waiting into the last second of the budget would leave no time for the next attempt.
            if ($null -ne $deadline -and (Get-PostureUtcNow).AddSeconds($delay + 1) -ge $deadline) {
                Write-Verbose ("{0} {1}: {2} on attempt {3} of {4}; a retry in {5:N1} s would pass the run's time budget, giving up" -f $verb, $Uri, $why, $attempt, $maxAttempts, $delay)
                $last['OutOfTime'] = $true
                return $last
            }
            Write-Verbose ("{0} {1}: {2} on attempt {3} of {4}; retrying in {5:N1} s" -f $verb, $Uri, $why, $attempt, $maxAttempts, $delay)
            $null = Wait-PostureRetry -Seconds $delay
        } else {
            Write-Verbose ("{0} {1}: {2} on attempt {3} of {4}; giving up" -f $verb, $Uri, $why, $attempt, $maxAttempts)
        }
    }
    return $last
}

function Send-PostureDocument {
    <#
    .SYNOPSIS
        Posts one snapshot (JSON text) with retries as -RetryPolicy says
        (Invoke-PostureHttpRequestWithRetry). Returns Outcome 'Sent' (the service's answer for the
        snapshot: ServiceOutcome accepted, duplicate or stale), 'Rejected' (not retried: the
        snapshot itself refused for good, Test-PostureSnapshotRefused, or the key refused by the
        service, Test-PostureKeyRefused), or 'Failed' (kept for another try: every attempt failed,
        the policy's Deadline stopped the attempts: OutOfTime, the service asked to wait longer
        than MaxRetryAfterSeconds or the time left: WaitAsked, WaitNote, or an answer that is not
        the service's verdict on the snapshot, such as a 2xx without the service's outcome (a
        proxy's sign-in page; Error from Format-PostureForeignAnswer) or with a verdict whose
        snapshotId is not the one sent or is missing (a cache or a replayed answer; Error from
        Format-PostureOtherVerdict), or any 4xx other than 408
        and 429 without the service's code (a 401, 403, 404, 405, 413 or 415 from a proxy, a
        firewall, a front end whose functions did not load or a wrong URL): Intercepted, with Error
        saying so (Format-PostureForeignAnswer), or 400 collected_in_future for a snapshot
        dated ahead of the service's clock), with StatusCode and Content of the last answer, and
        Error saying what went wrong when no answer of the service says it.
    .EXAMPLE
        Send-PostureDocument -Uri 'https://posture.example.net/api/snapshots' -Json $json -Headers @{ 'x-api-key' = $key }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Uri,
        [Parameter(Mandatory = $true)]
        [string]$Json,
        [hashtable]$Headers = @{},
        [psobject]$RetryPolicy = $null
    )
    $body = (New-Object System.Text.UTF8Encoding($false)).GetBytes($Json)
    $sentId = Get-PostureSnapshotIdOfJson -Json $Json
    # The id also tells the clock check whether a verdict is the service's answer to this post.
    $last = Invoke-PostureHttpRequestWithRetry -Method Post -Uri $Uri -Headers $Headers -Body $body -RetryPolicy $RetryPolicy -SnapshotId $sentId
    $code = [int]$last.StatusCode
    $content = [string]$last.Content
    $outcome = 'Failed'
    $errorText = $last.Error
    $serviceOutcome = ''
    $intercepted = $false
    if ($code -ge 200 -and $code -lt 300) {
        # Only the service's verdict on this very snapshot lets it go: a proxy's or a sign-in
        # page's 200 does not, nor a verdict on another snapshot (a cache or a replayed answer).
        $serviceOutcome = Get-PostureIngestOutcome -Content $content
        if (-not $serviceOutcome) {
            $errorText = Format-PostureForeignAnswer -StatusCode $code -Content $content -Redact @($Headers.Values)
        } elseif (-not (Test-PostureVerdictFor -Content $content -SnapshotId $sentId)) {
            $serviceOutcome = ''
            $errorText = Format-PostureOtherVerdict -StatusCode $code -Content $content -Redact @($Headers.Values)
        } else {
            $outcome = 'Sent'
            $errorText = $null
        }
    } elseif ((Test-PostureKeyRefused -StatusCode $code -Content $content) -or (Test-PostureSnapshotRefused -StatusCode $code -Content $content)) {
        $outcome = 'Rejected'
    } elseif (Test-PostureForeignRefusal -StatusCode $code -Content $content) {
        # A proxy, a firewall or a front end refused the request before the service saw it (a
        # gateway's body limit answers 413, a wrong URL 404, a proxy blocking the method 405): the
        # key and the snapshot may both be fine, so the snapshot stays in the spool, and the run
        # says what is in the way, never its page as the service's words.
        $intercepted = $true
        $errorText = Format-PostureForeignAnswer -StatusCode $code -Content $content -Redact @($Headers.Values)
    }
    return @{ Outcome = $outcome; ServiceOutcome = $serviceOutcome; StatusCode = $code; Content = $last.Content; Error = $errorText; Attempts = $last.Attempts; OutOfTime = [bool]$last['OutOfTime']; WaitAsked = $last['WaitAsked']; WaitNote = [string]$last['WaitNote']; Intercepted = $intercepted }
}

function Get-PostureSnapshotIdOfJson {
    <#
    .SYNOPSIS
        The snapshotId of a snapshot's JSON text (its first "snapshotId" member), or '' when it
        has none. Read with a pattern rather than parsed: a snapshot of up to 1 MiB would be read
        a second time for one member, and in the collector's own JSON it comes second, before any
        value read on the server.
    .EXAMPLE
        Get-PostureSnapshotIdOfJson -Json '{"schema":"fleet-posture/snapshot@1","snapshotId":"0b6f3a2e-..."}'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Json
    )
    if (-not $Json) { return '' }
    # A quote inside a JSON string is escaped, so an unescaped "snapshotId" followed by a colon is a member name.
    $m = [System.Text.RegularExpressions.Regex]::Match($Json, '"snapshotId"\s*:\s*"([^"\\]*)"')
    if ($m.Success) { return $m.Groups[1].Value }
    return ''
}

function Test-PostureVerdictFor {
    <#
    .SYNOPSIS
        True when a verdict answer (Content) names the snapshot sent (SnapshotId) in its
        snapshotId, as the service's answer to a post does; false when it names another one or
        none. Compared without regard to case: the service answers the id lower-cased.
    .EXAMPLE
        Test-PostureVerdictFor -Content '{"snapshotId":"0b6f...","outcome":"accepted","results":[]}' -SnapshotId '0b6f...'
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [AllowNull()]
        [AllowEmptyString()]
        [string]$SnapshotId
    )
    $answered = Get-PostureAnswerText -Content $Content -Name 'snapshotId'
    if (-not $answered -or -not $SnapshotId) { return $false }
    return [string]::Equals($answered, $SnapshotId, [System.StringComparison]::OrdinalIgnoreCase)
}

function Format-PostureOtherVerdict {
    <#
    .SYNOPSIS
        What to log for a 2xx verdict whose snapshotId is not the snapshot's that was sent, or
        that names none: the service answers a post with the id it was sent, so this came from
        something in front of it (a cache, a proxy replaying an answer, a misrouted request), and
        the snapshot stays in the spool. One line, worded as Format-PostureForeignAnswer's, with
        the id it named (an excerpt, the values sent, Redact, blanked out).
    .EXAMPLE
        Format-PostureOtherVerdict -StatusCode 201 -Content '{"snapshotId":"5f0c...","outcome":"accepted","results":[]}'
        Returns "HTTP 201 from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: a verdict on snapshot 5f0c..., not on the one sent".
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
    $answered = Get-PostureAnswerExcerpt -Content (Get-PostureAnswerText -Content $Content -Name 'snapshotId') -Redact $Redact -MaxLength 60
    $what = 'a verdict that names no snapshot'
    if ($answered) { $what = 'a verdict on snapshot ' + $answered + ', not on the one sent' }
    return ('HTTP {0} from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: {1}' -f $StatusCode, $what)
}

function Test-PostureKeyRefused {
    <#
    .SYNOPSIS
        True when the service itself refused the key: 401 unauthorized (no key, or not a valid
        one), 401 key_revoked (revoked, replaced, or not on record) or 403 forbidden (a key that
        may not do this). A 401 or 403 without one of these codes (a proxy's or a firewall's page,
        an Azure front end's {"error":{"code":"Forbidden",...}}) is not the service's answer and
        says nothing about the key.
    .EXAMPLE
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":"unauthorized","message":"The key is not valid."}'
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
    # Get-PostureErrorCode takes each code only at its own status (Get-PostureServiceErrorTable).
    return (@('unauthorized', 'key_revoked', 'forbidden') -contains (Get-PostureErrorCode -Content $Content -StatusCode $StatusCode))
}

function Get-PostureAnswerExcerpt {
    <#
    .SYNOPSIS
        A short excerpt of an answer that is not the service's, for the log: the title of an HTML
        page (else its text without tags), or the text itself; on one line, without control
        characters, at most MaxLength characters, any value of Redact (what the request sent: a
        page may echo it) replaced by [redacted]. '' for an empty answer.
    .EXAMPLE
        Get-PostureAnswerExcerpt -Content '<html><head><title>Web App - Stopped</title></head></html>'
        Returns "Web App - Stopped".
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @(),
        [int]$MaxLength = 200
    )
    if (-not $Content) { return '' }
    $text = $Content
    if ($text -match '^\s*<') {
        $title = [System.Text.RegularExpressions.Regex]::Match($text, '<title[^>]*>(.*?)</title\s*>', 'IgnoreCase, Singleline')
        if ($title.Success -and $title.Groups[1].Value.Trim()) {
            $text = $title.Groups[1].Value
        } else {
            $text = $text -replace '(?is)<(script|style)\b.*?</\1\s*>', ' ' -replace '(?s)<[^>]*>', ' '
        }
    }
    # Keys and secrets are long; a short header value (Accept-Language: en) would blank out words.
    foreach ($value in @($Redact)) {
        $secret = [string]$value
        if ($secret.Length -ge 8) { $text = $text.Replace($secret, '[redacted]') }
    }
    $text = ($text -replace '[\s\x00-\x1f\x7f-\x9f]+', ' ').Trim()
    if ($text.Length -gt $MaxLength) {
        $cut = $MaxLength - 3
        # Never half of a surrogate pair.
        if ([char]::IsHighSurrogate($text[$cut - 1])) { $cut-- }
        $text = $text.Substring(0, $cut) + '...'
    }
    return $text
}

function Format-PostureForeignAnswer {
    <#
    .SYNOPSIS
        What to log for an answer without the service's error code, which came from something in
        front of the service (a proxy, a firewall, an Azure front end, a stopped web app), not the
        service: one line with the HTTP status, saying so, what that status usually means where it
        points at the cause (404, 405, or a 2xx that is not the service's answer), and a short
        excerpt of what it answered (Get-PostureAnswerExcerpt, with the values sent, Redact,
        blanked out).
    .EXAMPLE
        Format-PostureForeignAnswer -StatusCode 403 -Content '<html><head><title>Access Denied</title></head></html>'
        Returns "HTTP 403 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: Access Denied".
    .EXAMPLE
        Format-PostureForeignAnswer -StatusCode 404 -Content ''
        Returns "HTTP 404 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means the service URL or path is wrong".
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
    $text = 'HTTP {0} from something in front of the service, not the service (a proxy, firewall or front end?)' -f $StatusCode
    $means = Get-PostureForeignAnswerMeaning -StatusCode $StatusCode
    if ($means) { $text += ', ' + $means }
    $excerpt = Get-PostureAnswerExcerpt -Content $Content -Redact $Redact
    if ($excerpt) { $text += '; it answered: ' + $excerpt }
    return $text
}

function Get-PostureForeignAnswerMeaning {
    <#
    .SYNOPSIS
        What an answer without the service's error code usually means, where its status points at
        the cause ("which usually means ..."), or '' where it does not. The service answers 404
        only with its code and 405 never: such an answer points at the endpoint (or a proxy's
        rules), not at the key, the enrolment or the snapshot, and an administrator should be told
        where to look.
    .EXAMPLE
        Get-PostureForeignAnswerMeaning -StatusCode 404
        Returns "which usually means the service URL or path is wrong".
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode
    )
    if ($StatusCode -eq 404) { return 'which usually means the service URL or path is wrong' }
    if ($StatusCode -eq 405) { return 'which usually means the service URL or path is wrong or a proxy blocks the request''s method' }
    if ($StatusCode -ge 200 -and $StatusCode -lt 300) { return 'which usually means a sign-in page, a captive portal or a wrong URL answered' }
    return ''
}

function Test-PostureForeignRefusal {
    <#
    .SYNOPSIS
        True for a refusal that is not the service's: a 4xx other than 408 and 429 (which a busy
        service answers too, and are asked again) without the service's error code at its status,
        from a proxy, a firewall, a front end or a wrong URL. It says nothing about the key or the
        snapshot.
    .EXAMPLE
        Test-PostureForeignRefusal -StatusCode 404 -Content '<html>...</html>'
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
    return ($StatusCode -ge 400 -and -not (Test-PostureRetryableCode -StatusCode $StatusCode) -and -not (Get-PostureErrorCode -Content $Content -StatusCode $StatusCode))
}

function Format-PostureAnswerProblem {
    <#
    .SYNOPSIS
        Why a request of Invoke-PostureHttpRequestWithRetry got no answer it could use, for a log
        line: the error when nothing answered, "HTTP <status>" for the service's answer or a busy
        one (408, 429, 5xx), and for a refusal without the service's error code that it came from
        something in front of the service, with an excerpt of it (Format-PostureForeignAnswer); then
        how many attempts were made and the wait that was not made (WaitNote).
    .EXAMPLE
        Format-PostureAnswerProblem -Answer $r -Redact @($headers.Values)
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Answer,
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @()
    )
    $code = [int]$Answer.StatusCode
    $content = [string]$Answer['Content']
    if ($code -eq 0) {
        $problem = [string]$Answer['Error']
    } elseif (Test-PostureForeignRefusal -StatusCode $code -Content $content) {
        $problem = Format-PostureForeignAnswer -StatusCode $code -Content $content -Redact $Redact
    } else {
        $problem = 'HTTP ' + $code
    }
    if ($Answer['Attempts'] -gt 1) { $problem += (' on each of {0} attempts' -f $Answer['Attempts']) }
    if ($Answer['WaitNote']) { $problem += (' ({0})' -f $Answer['WaitNote']) }
    return $problem
}

function Test-PostureSnapshotRefused {
    <#
    .SYNOPSIS
        True when the service refused the snapshot itself, so sending it again cannot help: 400
        invalid_snapshot or invalid_json, 409 snapshot_id_reused (its id names a snapshot
        collected at another time), 413 too_large or 415 unsupported_media_type. Any other
        answer says nothing against the snapshot (a 404 from a front end whose functions did not
        load, a 413 or 415 from a front end without the service's code, such as an application
        gateway's body limit, 400 incomplete_body after a stalled upload, 400 invalid_query from an
        endpoint with a query in it, 400 collected_in_future for a snapshot dated ahead of the
        service's clock, which it takes once its clock has caught up): the snapshot stays in the
        spool.
    .EXAMPLE
        Test-PostureSnapshotRefused -StatusCode 400 -Content '{"error":"invalid_snapshot","message":"..."}'
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
    # Get-PostureErrorCode takes each code only at its own status (too_large is 413, ...).
    return (@('invalid_snapshot', 'invalid_json', 'snapshot_id_reused', 'too_large', 'unsupported_media_type') -contains (Get-PostureErrorCode -Content $Content -StatusCode $StatusCode))
}

function Get-PostureClockAheadNote {
    <#
    .SYNOPSIS
        For the answer 400 collected_in_future (nothing is wrong with the snapshot but its date,
        more than 5 minutes ahead of the service's clock): why it was not delivered, for the run's
        log and output, saying that this host's clock is ahead, by how much when the run's clock check
        measured it (ClockCheck.OffsetSeconds, from the Date of the service's answers), and that the
        snapshot stays in the spool. '' for any other answer.
    .EXAMPLE
        Get-PostureClockAheadNote -StatusCode 400 -Content '{"error":"collected_in_future","message":"..."}' -ClockCheck $check
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
        [psobject]$ClockCheck = $null
    )
    if ((Get-PostureErrorCode -Content $Content -StatusCode $StatusCode) -ne 'collected_in_future') { return '' }
    $by = ''
    # Only an offset that shows this host ahead is named: a clock put right since the snapshot was
    # collected shows none, and the snapshot is still dated ahead.
    $offset = Get-PostureMeasuredClockOffset -ClockCheck $ClockCheck
    if ($null -ne $offset -and $offset -lt 0) {
        $by = ' by ' + (Format-PostureClockOffset -OffsetSeconds $offset)
    }
    return ('HTTP 400 collected_in_future: this host''s clock is ahead of the service''s{0}: the snapshot stays in the spool and is sent again by a later run, taken once it is less than 5 minutes ahead; fix this host''s time sync (w32tm /resync)' -f $by)
}

function Test-PostureFarAhead {
    <#
    .SYNOPSIS
        True for a snapshot the service answered collected_in_future that is dated more than
        MaxAheadSeconds ahead: by this host's clock against the service's (the run's clock check),
        or by its spool name against this host's clock now (a clock put right since). Taken later,
        once real time caught up, it would be the server's newest snapshot and every snapshot
        after it would be refused as older: it is refused for good instead.
    .EXAMPLE
        Test-PostureFarAhead -ClockCheck $check -SpoolName '20261203T120000000Z-1234.json'
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [AllowNull()]
        [psobject]$ClockCheck = $null,
        [string]$SpoolName = '',
        [datetime]$Now = (Get-Date),
        [int]$MaxAheadSeconds = 3600
    )
    $offset = Get-PostureMeasuredClockOffset -ClockCheck $ClockCheck
    if ($null -ne $offset -and -$offset -gt $MaxAheadSeconds) { return $true }
    $stamp = Get-PostureSpoolStamp -Name $SpoolName
    if ($null -eq $stamp) { return $false }
    return ($stamp - $Now.ToUniversalTime()).TotalSeconds -gt $MaxAheadSeconds
}

function Get-PostureIngestOutcome {
    <#
    .SYNOPSIS
        The "outcome" of the service's answer to a snapshot (accepted, duplicate or stale), or ''
        when the answer is not one (not JSON, or no such outcome).
    .EXAMPLE
        Get-PostureIngestOutcome -Content '{"snapshotId":"...","outcome":"accepted","results":[]}'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content
    )
    $outcome = Get-PostureAnswerText -Content $Content -Name 'outcome'
    if (@('accepted', 'duplicate', 'stale') -contains $outcome) { return $outcome }
    return ''
}

function Get-PostureErrorCode {
    <#
    .SYNOPSIS
        The service's error code in a JSON error answer (its "error" member, e.g. key_revoked), or ''
        when there is none. Only a code the service answers with counts
        (Get-PostureServiceErrorTable), and with StatusCode only at the status the service answers
        it with: any other "error" (an OAuth proxy's "invalid_token" or "access_denied", an object
        such as a front end's {"code":"...","message":"..."}, an array such as ["key_revoked"], a
        text such as "Forbidden", or the service's code at another status) is another server's
        answer, not the service's refusal.
    .EXAMPLE
        Get-PostureErrorCode -Content '{"error":"key_revoked","message":"..."}' -StatusCode 401
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [int]$StatusCode = 0
    )
    $code = Get-PostureAnswerText -Content $Content -Name 'error'
    if (-not $code) { return '' }
    $known = Get-PostureServiceErrorTable
    # -ccontains: a hashtable's own lookup ignores case, and "Forbidden" is not one of the service's codes.
    if (-not ($known.Keys -ccontains $code)) { return '' }
    if ($StatusCode -ne 0 -and $known[$code] -ne $StatusCode) { return '' }
    return $code
}

function Get-PostureAnswerText {
    <#
    .SYNOPSIS
        One text member of a JSON object answer, or '' when the answer is no JSON object (a proxy's
        page, an empty body, an array), has no such member, or the member is not text (an object,
        an array, a number: the service answers text there).
    .EXAMPLE
        Get-PostureAnswerText -Content '{"snapshotId":"...","outcome":"accepted","results":[]}' -Name 'outcome'
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string]$Content,
        [Parameter(Mandatory = $true)]
        [string]$Name
    )
    # Parsing would unroll a one-element array, [{"error":"key_revoked"}], into the object in it.
    if (-not $Content -or $Content -notmatch '^\s*\{') { return '' }
    try {
        $answer = ConvertFrom-PostureJson -Json $Content
    } catch {
        return ''
    }
    # Read in place, not through Get-PostureMember: a function's return unrolls a one-element
    # array, and ["key_revoked"] would come back as the text key_revoked.
    $value = $null
    if ($answer -is [System.Collections.IDictionary]) {
        if ($answer.Contains($Name)) { $value = $answer[$Name] }
    } elseif ($null -ne $answer) {
        $member = $answer.PSObject.Properties[$Name]
        if ($null -ne $member) { $value = $member.Value }
    }
    if ($value -is [string]) { return $value }
    return ''
}

function Test-PostureManifest {
    <#
    .SYNOPSIS
        True when a parsed document looks like a collection manifest v1.
    .EXAMPLE
        Test-PostureManifest -Manifest (ConvertFrom-PostureJson -Json $text)
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [AllowNull()]
        $Manifest
    )
    if ($null -eq $Manifest) { return $false }
    return ((Get-PostureMember -InputObject $Manifest -Name 'schema') -eq 'fleet-posture/manifest@1')
}

function Read-PostureManifestAnswer {
    <#
    .SYNOPSIS
        The manifest in an answer to GET /api/manifest (Invoke-PostureHttpRequestWithRetry's), or
        why there is none: Manifest, the parsed document when the answer is a 2xx whose body is a
        fleet-posture/manifest@1 document (Test-PostureManifest), else $null; Problem, '' with a
        manifest, else one line saying what answered. Only the service answers with its manifest: a
        proxy's sign-in page, a captive portal or a wrong URL may answer 200 too, and is said to
        come from something in front of the service (Format-PostureForeignAnswer, the values sent,
        Redact, blanked out); any other status is worded by Format-PostureAnswerProblem.
    .EXAMPLE
        Read-PostureManifestAnswer -Answer $r -Redact @($headers.Values)
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable]$Answer,
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]$Redact = @()
    )
    $code = [int]$Answer.StatusCode
    $content = [string]$Answer['Content']
    if ($code -lt 200 -or $code -ge 300) { return @{ Manifest = $null; Problem = (Format-PostureAnswerProblem -Answer $Answer -Redact $Redact) } }
    $m = $null
    try { $m = ConvertFrom-PostureJson -Json $content } catch { $m = $null }
    if (Test-PostureManifest -Manifest $m) { return @{ Manifest = $m; Problem = '' } }
    # A document of the service's own family (a newer manifest) is not a stranger's page: saying
    # "in front of the service" would send the administrator to the wrong place.
    $schema = Get-PostureAnswerText -Content $content -Name 'schema'
    if ($schema -like 'fleet-posture/*') {
        $problem = 'HTTP {0} with a {1} document, not the fleet-posture/manifest@1 this collector reads' -f $code, (Get-PostureAnswerExcerpt -Content $schema -Redact $Redact -MaxLength 60)
    } else {
        $problem = Format-PostureForeignAnswer -StatusCode $code -Content $content -Redact $Redact
    }
    return @{ Manifest = $null; Problem = $problem }
}

function Get-PostureManifest {
    <#
    .SYNOPSIS
        GET /api/manifest; on success the answer is also saved as the last good copy, on failure
        that copy is used. Throws when there is neither. A busy service (no answer, 408, 429, 5xx)
        is asked again (Invoke-PostureHttpRequestWithRetry): with a last good copy at most
        CachedMaxAttempts times, no wait longer than CachedMaxDelaySeconds (the copy is good
        enough, the run need not wait for a fresh one; a Retry-After longer than that is not
        waited for either); without one as a post is (-RetryPolicy, the run's), since without a
        manifest nothing is collected. With -Enrolment, an answer of 401 key_revoked first gets the
        run's one re-enrolment (Restore-PostureServerKey) and, when that gave a new key, the fetch
        is tried again with it. The policy's Deadline bounds every attempt as in
        Invoke-PostureHttpRequestWithRetry.
    .EXAMPLE
        Get-PostureManifest -Endpoint 'https://posture.example.net' -Headers @{ 'x-api-key' = $key } -CachePath 'C:\ProgramData\FleetPosture\manifest.json'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Endpoint,
        [hashtable]$Headers = @{},
        [Parameter(Mandatory = $true)]
        [string]$CachePath,
        [hashtable]$Enrolment = $null,
        [psobject]$RetryPolicy = $null,
        [int]$CachedMaxAttempts = 2,
        [double]$CachedMaxDelaySeconds = 10
    )
    if ($null -eq $RetryPolicy) { $RetryPolicy = New-PostureRetryPolicy }
    $uri = Get-PostureApiUri -Endpoint $Endpoint -Route 'manifest'
    $policy = $RetryPolicy
    if (Test-PostureCachedManifest -CachePath $CachePath) {
        # A copy of the run's policy, shortened: the run's own stays as it is for the posts.
        $policy = New-PostureRetryPolicy -TimeoutSec $RetryPolicy.TimeoutSec -MaxAttempts ([Math]::Min($RetryPolicy.MaxAttempts, $CachedMaxAttempts)) -BaseDelaySeconds $RetryPolicy.BaseDelaySeconds -MaxDelaySeconds ([Math]::Min($RetryPolicy.MaxDelaySeconds, $CachedMaxDelaySeconds)) -MaxRetryAfterSeconds ([Math]::Min($RetryPolicy.MaxRetryAfterSeconds, $CachedMaxDelaySeconds)) -Deadline $RetryPolicy.Deadline -ClockCheck $RetryPolicy.ClockCheck
    }
    $request = @{ Method = 'Get'; Uri = $uri; Headers = $Headers; RetryPolicy = $policy }
    $r = Invoke-PostureHttpRequestWithRetry @request
    if ($null -ne $Enrolment -and (Restore-PostureServerKey -Enrolment $Enrolment -StatusCode $r.StatusCode -Content ([string]$r.Content) -Headers $Headers)) {
        $r = Invoke-PostureHttpRequestWithRetry @request
    }
    $read = Read-PostureManifestAnswer -Answer $r -Redact @($Headers.Values)
    if ($null -ne $read.Manifest) {
        $m = $read.Manifest
        # A full disk or a folder the run may not write must not cost it the manifest it
        # holds: the run collects with it, and the copy is saved by a later run.
        try {
            $null = Write-PostureTextFile -Path $CachePath -Text $r.Content
        } catch {
            Write-PostureLog -Level Warning -Message ("Manifest from {0} used, but not saved as the last good copy {1}: {2}" -f $uri, $CachePath, $_.Exception.Message)
        }
        Write-Verbose ("Manifest {0} from {1}" -f (Get-PostureMember -InputObject $m -Name 'version'), $uri)
        return $m
    }
    $problem = $read.Problem
    Write-PostureLog -Level Warning -Message ("Manifest not fetched from {0} ({1}); using the last good copy." -f $uri, $problem)
    return (Read-PostureCachedManifest -CachePath $CachePath -Why ('{0} answered {1}' -f $uri, $problem))
}

function Test-PostureCachedManifest {
    <#
    .SYNOPSIS
        True when the last good copy exists and is a manifest Read-PostureCachedManifest can use.
    .EXAMPLE
        Test-PostureCachedManifest -CachePath 'C:\ProgramData\FleetPosture\manifest.json'
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string]$CachePath
    )
    if (-not [System.IO.File]::Exists($CachePath)) { return $false }
    try {
        return (Test-PostureManifest -Manifest (ConvertFrom-PostureJson -Json ([System.IO.File]::ReadAllText($CachePath))))
    } catch {
        Write-Verbose ("The last good copy {0} cannot be read: {1}" -f $CachePath, $_.Exception.Message)
        return $false
    }
}

function Read-PostureCachedManifest {
    <#
    .SYNOPSIS
        The last good manifest (what Get-PostureManifest saved); throws, saying Why there is no
        fresh one, when there is no usable copy.
    .EXAMPLE
        Read-PostureCachedManifest -CachePath 'C:\ProgramData\FleetPosture\manifest.json' -Why 'the service is unreachable'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$CachePath,
        [Parameter(Mandatory = $true)]
        [string]$Why
    )
    if (Test-PostureCachedManifest -CachePath $CachePath) {
        return (ConvertFrom-PostureJson -Json ([System.IO.File]::ReadAllText($CachePath)))
    }
    throw ("No manifest: {0} and there is no last good copy at {1}." -f $Why, $CachePath)
}
