# Pester 5 tests of Retry-After in both forms RFC 9110 allows (a delay in seconds, or an HTTP date
# as proxies and App Service front ends send it) and of one that is neither. The service is a real
# HTTP server on the loopback interface, so the header goes through the same request wrapper and
# PowerShell edition as in production; the clock and the wait between attempts are mocked (a
# simulated clock the waits move), so an HTTP date is exact. A date is counted from the answer's
# Date header (the server's clock) when it has a valid one: some tests send one skewed from the
# simulated clock.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHttpServer.ps1')
    # The date a service sends for "Now plus Seconds" (IMF-fixdate, English names, GMT).
    $script:httpDate = { param([double]$Seconds) $script:clock.AddSeconds($Seconds).ToString('r', [System.Globalization.CultureInfo]::InvariantCulture) }
    # A busy answer; with Date, the server's clock when it answered (skewed from this host's in the
    # tests that give one).
    $script:busyWith = {
        param([string]$RetryAfter, [string]$Date = '')
        $headers = @{ 'Retry-After' = $RetryAfter }
        if ($Date) { $headers['Date'] = $Date }
        New-TestHttpResponse -StatusCode 503 -Reason 'Service Unavailable' -Headers $headers -Body '{"error":"storage_unavailable","message":"busy"}'
    }
    $script:acceptedResponse = New-TestHttpResponse -StatusCode 201 -Reason 'Created' -Body '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'
}

Describe 'ConvertFrom-PostureRetryAfter: the seconds to wait from either form' {
    BeforeEach {
        $script:now = [datetime]::SpecifyKind([datetime]'2026-10-21T07:26:30', 'Utc')
    }
    It 'a delay in seconds is taken as it is' {
        ConvertFrom-PostureRetryAfter -Value '120' -Now $script:now | Should -Be 120
        ConvertFrom-PostureRetryAfter -Value ' 0 ' -Now $script:now | Should -Be 0
    }
    It 'an HTTP date is the date less now, in each of the three forms RFC 9110 lets a recipient accept' {
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -Now $script:now | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Wednesday, 21-Oct-26 07:28:00 GMT' -Now $script:now | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Wed Oct 21 07:28:00 2026' -Now $script:now | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Thu Oct  1 07:26:30 2026' -Now ([datetime]::SpecifyKind([datetime]'2026-10-01T07:25:00', 'Utc')) | Should -Be 90
    }
    It 'part of a second is rounded up (never ask sooner than the date), and a date already past means no wait' {
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -Now $script:now.AddMilliseconds(300) | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:26:00 GMT' -Now $script:now | Should -Be 0
    }
    It 'is the same whatever the machine''s culture' {
        $before = [System.Threading.Thread]::CurrentThread.CurrentCulture
        try {
            [System.Threading.Thread]::CurrentThread.CurrentCulture = New-Object System.Globalization.CultureInfo('de-DE')
            ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -Now $script:now | Should -Be 90
        } finally {
            [System.Threading.Thread]::CurrentThread.CurrentCulture = $before
        }
    }
    It 'uses the run''s clock when no Now is given' {
        $script:clock = $script:now
        Mock Get-PostureUtcNow { $script:clock }
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' | Should -Be 90
    }
    It 'an HTTP date is counted from the server''s Date when it sent one, not from this host''s clock, whichever way the host is off' {
        # This host 10 minutes behind the server, then 10 minutes ahead: the service meant 90 s either way.
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:36:30 GMT' -Now $script:now | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:18:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:16:30 GMT' -Now $script:now | Should -Be 90
        # The Date in the obsolete forms a recipient accepts too.
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wednesday, 21-Oct-26 07:36:30 GMT' -Now $script:now | Should -Be 90
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wed Oct 21 07:36:30 2026' -Now $script:now | Should -Be 90
    }
    It 'against the server''s Date, a date one second after it is one second, and one at or before it no wait, never less' {
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:37:59 GMT' -Now $script:now | Should -Be 1
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:38:00 GMT' -Now $script:now | Should -Be 0
        ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:38:00 GMT' -ServerDate 'Wed, 21 Oct 2026 07:40:00 GMT' -Now $script:now | Should -Be 0
    }
    It 'a Date that is missing or not an HTTP date leaves the date counted from this host''s clock' {
        foreach ($bad in @($null, '', 'now', '2026-10-21T07:36:30Z', 'Wed, 21 Oct 2026 07:36:30 CET', 'Wed, 32 Oct 2026 07:36:30 GMT')) {
            ConvertFrom-PostureRetryAfter -Value 'Wed, 21 Oct 2026 07:28:00 GMT' -ServerDate $bad -Now $script:now | Should -Be 90 -Because "'$bad' is not a Date"
        }
    }
    It 'a delay in seconds is the same whatever the Date says' {
        ConvertFrom-PostureRetryAfter -Value '120' -ServerDate 'Wed, 21 Oct 2026 07:36:30 GMT' -Now $script:now | Should -Be 120
    }
    It 'nothing, or a value that is neither form, is $null (the caller backs off instead)' {
        foreach ($bad in @($null, '', 'soon', '1.5', '21 Oct 2026', 'Wed, 21 Oct 2026 07:28:00 CET', 'Wed, 32 Oct 2026 07:28:00 GMT', '99999999999')) {
            ConvertFrom-PostureRetryAfter -Value $bad -Now $script:now | Should -BeNullOrEmpty -Because "'$bad' is not a Retry-After"
        }
    }
}

Describe 'Invoke-PostureHttpRequest reads Retry-After from a real HTTP answer' {
    BeforeEach {
        $script:clock = [datetime]::SpecifyKind([datetime]'2026-12-01T01:00:00', 'Utc')
        Mock Get-PostureUtcNow { $script:clock }
        $script:server = $null
    }
    AfterEach {
        if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
    }
    It 'in seconds, as an HTTP date (less now), and not at all when it is neither' {
        $script:server = Start-TestHttpServer -Responses @((& $script:busyWith '120'), (& $script:busyWith (& $script:httpDate 90)), (& $script:busyWith (& $script:httpDate -30)), (& $script:busyWith 'soon'))
        $uri = $script:server.Uri + '/api/manifest'
        $seconds = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $seconds.StatusCode | Should -Be 503
        $seconds.RetryAfter | Should -Be 120
        $date = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $date.StatusCode | Should -Be 503
        $date.RetryAfter | Should -Be 90
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).RetryAfter | Should -Be 0
        $garbage = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $garbage.StatusCode | Should -Be 503
        $garbage.RetryAfter | Should -BeNullOrEmpty
        @($script:server.Requests).Count | Should -Be 4
    }
    It 'an HTTP date less the answer''s own Date header when it has a valid one, else less now' {
        # The server's clock 10 minutes ahead of this host's, then 10 minutes behind; then a Date
        # that is no date, then none at all: the date is counted from this host's clock.
        $script:server = Start-TestHttpServer -Responses @(
            (& $script:busyWith (& $script:httpDate 690) (& $script:httpDate 600)),
            (& $script:busyWith (& $script:httpDate -510) (& $script:httpDate -600)),
            (& $script:busyWith (& $script:httpDate 90) 'yesterday'),
            (& $script:busyWith (& $script:httpDate 90)))
        $uri = $script:server.Uri + '/api/manifest'
        $behind = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $behind.StatusCode | Should -Be 503
        $behind.RetryAfter | Should -Be 90
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).RetryAfter | Should -Be 90
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).RetryAfter | Should -Be 90
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).RetryAfter | Should -Be 90
        @($script:server.Requests).Count | Should -Be 4
    }
}

Describe 'A run honours a Retry-After date as it does seconds: waited in full, within the cap and the budget' {
    BeforeEach {
        Use-TestServerRun
        $script:spool = Join-Path -Path $script:data -ChildPath 'spool'
        Mock Get-PostureManifest { [pscustomobject]@{ schema = 'fleet-posture/manifest@1' } }
        $script:spooled = { @(Get-PostureSpoolItem -SpoolPath $script:spool) }
        $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
    }
    AfterEach {
        if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
    }

    It 'a date 120 s ahead is waited in full (not cut to -MaxDelaySeconds, 60): the snapshot is delivered once' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate 120)), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        @($script:server.Requests) | Should -Be @('POST /api/snapshots HTTP/1.1', 'POST /api/snapshots HTTP/1.1')
        Assert-WaitedOnceInFull -WaitSeconds 120 -Spooled $script:spooled
    }

    It 'a date already past is no wait at all, not a back-off' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate -5)), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 0 }
        @($script:server.Requests).Count | Should -Be 2
    }

    It 'a date further ahead than -MaxRetryAfterSeconds is neither waited for nor answered sooner: spooled, exit 1, the output and log say how long' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate 400)))
        $r.ExitCode | Should -Be 1
        @($script:server.Requests).Count | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        @(& $script:spooled).Count | Should -Be 1
        $said = 'not delivered \(the service asked to wait 400 s \(HTTP 503\), longer than the 300 s a retry may wait \(-MaxRetryAfterSeconds\)\)'
        ($r.Lines -join "`n") | Should -Match ('Snapshot 00000000-0000-4000-8000-000000000001 {0}; spooled for the next run\.' -f $said)
        & $script:log | Should -Match $said
    }

    It 'a date past the end of the run''s budget is not waited for either' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate 250))) @{ RunBudgetSeconds = 200 }
        $r.ExitCode | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        ($r.Lines -join "`n") | Should -Match 'the service asked to wait 250 s \(HTTP 503\), longer than the 200 s left of the run''s time budget'
        @(& $script:spooled).Count | Should -Be 1
    }

    It 'this host 10 minutes behind the service: a date 120 s after the answer''s Date is waited 120 s, not 720 s (which the cap would refuse)' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate 720) (& $script:httpDate 600)), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        @($script:server.Requests).Count | Should -Be 2
        Assert-WaitedOnceInFull -WaitSeconds 120 -Spooled $script:spooled
    }

    It 'this host 10 minutes ahead of the service: a date 120 s after the answer''s Date is still waited 120 s, not asked again at once' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate -480) (& $script:httpDate -600)), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 120 }
        ($script:clock - $script:start).TotalSeconds | Should -Be 120
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'the cap is on the wait counted from the answer''s Date: 400 s after it is refused, however near the date is by this host''s clock' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate -200) (& $script:httpDate -600)))
        $r.ExitCode | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        ($r.Lines -join "`n") | Should -Match 'the service asked to wait 400 s \(HTTP 503\), longer than the 300 s a retry may wait'
        @(& $script:spooled).Count | Should -Be 1
    }

    It 'an answer whose Date is not a date: the Retry-After date is counted from this host''s clock' {
        $r = & $script:run @((& $script:busyWith (& $script:httpDate 120) 'Mon, 99 Foo 2026 99:99:99 GMT'), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 120 }
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'a Retry-After that is neither form falls back to the back-off (-BaseDelaySeconds 2: 1 to 2 s), and the snapshot is delivered once' {
        $r = & $script:run @((& $script:busyWith 'in a while'), $script:acceptedResponse)
        $r.ExitCode | Should -Be 0
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -ge 1 -and $Seconds -le 2 }
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:spooled).Count | Should -Be 0
    }
}
