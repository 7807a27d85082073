# Pester 5 tests of the clock skew warning: a run compares this host's clock with the Date header of
# the service's answers and says once when they differ by more than -MaxClockSkewSeconds. The
# service is a real HTTP server on the loopback interface, so the Date header goes through the
# collector's request wrapper and the PowerShell edition's own web stack; only this host's clock
# (a simulated one) and the wait between attempts are mocked.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHttpServer.ps1')
    $script:withDate = {
        param([int]$StatusCode, [string]$Body, [string]$Date)
        $headers = @{}
        if ($Date) { $headers['Date'] = $Date }
        New-TestHttpResponse -StatusCode $StatusCode -Headers $headers -Body $Body
    }
    $script:manifestBody = '{"schema":"fleet-posture/manifest@1","version":"2026-12-01"}'
    $script:acceptedBody = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'
    $script:busyBody = '{"error":"storage_unavailable","message":"busy"}'
    $script:skewPattern = 'This host''s clock is .* the service''s'
}

Describe 'Get-PostureClockOffset and Format-PostureClockSkewWarning' {
    BeforeEach {
        $script:t = [datetime]::SpecifyKind([datetime]'2026-12-01T01:00:00', 'Utc')
    }
    It 'a Date between sending and receiving (to the second a Date is given in) is no offset, whatever the request took' {
        Get-PostureClockOffset -ServerDate $script:t.AddSeconds(20) -SentAt $script:t -ReceivedAt $script:t.AddSeconds(30) | Should -Be 0
        Get-PostureClockOffset -ServerDate $script:t -SentAt $script:t.AddMilliseconds(700) -ReceivedAt $script:t.AddSeconds(1) | Should -Be 0
    }
    It 'a Date after the answer arrived is the service ahead (this host behind) by as much; one before the request was sent, this host ahead' {
        Get-PostureClockOffset -ServerDate $script:t.AddSeconds(630) -SentAt $script:t -ReceivedAt $script:t.AddSeconds(30) | Should -Be 600
        Get-PostureClockOffset -ServerDate $script:t.AddSeconds(-600) -SentAt $script:t -ReceivedAt $script:t.AddSeconds(30) | Should -Be -600
    }
    It 'the warning says how far, which way, and what to do' {
        $ahead = Format-PostureClockSkewWarning -OffsetSeconds -600
        $ahead | Should -Match '^This host''s clock is 600 s \(10 min\) ahead of the service''s'
        $ahead | Should -Match 'refuses a snapshot dated more than 5 minutes ahead'
        $ahead | Should -Match 'w32tm /resync'
        $behind = Format-PostureClockSkewWarning -OffsetSeconds 150.4
        $behind | Should -Match '^This host''s clock is 150 s \(3 min\) behind the service''s'
        $behind | Should -Match 'stale'
        $behind | Should -Match 'w32tm /resync'
        Format-PostureClockSkewWarning -OffsetSeconds -90 | Should -Match '^This host''s clock is 90 s ahead of'
    }
}

Describe 'Test-PostureServiceAnswer' {
    It 'takes the service''s codes at their statuses, its verdict on the snapshot sent, its documents and enrolment answers; nothing else' {
        Test-PostureServiceAnswer -StatusCode 503 -Content '{"error":"storage_unavailable"}' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 401 -Content '{"error":"key_revoked"}' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 403 -Content '{"error":"key_revoked"}' | Should -BeFalse
        Test-PostureServiceAnswer -StatusCode 503 -Content '<html>Service Unavailable</html>' | Should -BeFalse
        Test-PostureServiceAnswer -StatusCode 200 -Content '{"schema":"fleet-posture/manifest@1","version":"1"}' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 200 -Content '<html>Sign in</html>' | Should -BeFalse
        Test-PostureServiceAnswer -StatusCode 200 -Content '' | Should -BeFalse
        Test-PostureServiceAnswer -StatusCode 201 -Content '{"snapshotId":"a","outcome":"accepted","results":[]}' -SnapshotId 'a' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 201 -Content '{"snapshotId":"b","outcome":"accepted","results":[]}' -SnapshotId 'a' | Should -BeFalse
        Test-PostureServiceAnswer -StatusCode 201 -Content '{"server":"exch01","keyId":"k2","key":"fp1.new"}' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 202 -Content '{"status":"pending","requestId":"r1","claim":"c"}' | Should -BeTrue
        Test-PostureServiceAnswer -StatusCode 202 -Content '' | Should -BeFalse
    }
}

Describe 'Invoke-PostureHttpRequest reads the Date of a real HTTP answer' {
    BeforeEach {
        Use-SimulatedClock
        $script:server = $null
    }
    AfterEach {
        if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
    }
    It 'of a success and of a busy answer, as UTC; none when it is missing or no HTTP date' {
        $script:server = Start-TestHttpServer -Responses @(
            (& $script:withDate 200 $script:manifestBody (Get-SimulatedHttpDate 600)),
            (& $script:withDate 503 $script:busyBody (Get-SimulatedHttpDate -600)),
            (& $script:withDate 200 $script:manifestBody 'Mon, 99 Foo 2026 99:99:99 GMT'),
            (& $script:withDate 200 $script:manifestBody ''))
        $uri = $script:server.Uri + '/api/manifest'
        $ok = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $ok.StatusCode | Should -Be 200
        $ok.ServerDate | Should -Be $script:clock.AddSeconds(600)
        $ok.ServerDate.Kind | Should -Be 'Utc'
        $ok.SentAt | Should -Be $script:clock
        $ok.ReceivedAt | Should -Be $script:clock
        $busy = Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10
        $busy.StatusCode | Should -Be 503
        $busy.ServerDate | Should -Be $script:clock.AddSeconds(-600)
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).ServerDate | Should -BeNullOrEmpty
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).ServerDate | Should -BeNullOrEmpty
        @($script:server.Requests).Count | Should -Be 4
    }

    It 'the Age header of a success and of a busy answer, as sent; '''' when there is none' {
        $script:server = Start-TestHttpServer -Responses @(
            (New-TestHttpResponse -StatusCode 200 -Headers @{ Date = (Get-SimulatedHttpDate 0); Age = '600' } -Body $script:manifestBody),
            (New-TestHttpResponse -StatusCode 503 -Headers @{ Date = (Get-SimulatedHttpDate 0); Age = '30' } -Body $script:busyBody),
            (New-TestHttpResponse -StatusCode 200 -Headers @{ Date = (Get-SimulatedHttpDate 0) } -Body $script:manifestBody))
        $uri = $script:server.Uri + '/api/manifest'
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).Age | Should -BeExactly '600'
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).Age | Should -BeExactly '30'
        (Invoke-PostureHttpRequest -Method Get -Uri $uri -TimeoutSec 10).Age | Should -BeExactly ''
    }
}

Describe 'A run warns once when this host''s clock is off from the service''s' {
    BeforeEach {
        Use-TestServerRun
        # The manifest fetch, then the post, each answered with the Date given (the service's
        # clock), or none.
        $script:answers = {
            param([string]$ManifestDate, [string]$PostDate)
            @((& $script:withDate 200 $script:manifestBody $ManifestDate), (& $script:withDate 201 $script:acceptedBody $PostDate))
        }
        $script:logLines = {
            $path = Join-Path -Path $script:data -ChildPath 'collector.log'
            if (-not (Test-Path -LiteralPath $path)) { return @() }
            @(Get-Content -LiteralPath $path)
        }
        $script:warnings = { param($Run) @(@($Run.Lines) | Where-Object { $_ -match $script:skewPattern }) }
    }
    AfterEach {
        if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
    }

    It 'this host 10 minutes ahead: one warning in the output and one WARNING line in the log, naming the offset and the fix; the snapshot is sent as ever' {
        $r = & $script:run (& $script:answers (Get-SimulatedHttpDate -600) (Get-SimulatedHttpDate -600))
        $r.ExitCode | Should -Be 0
        @($script:server.Requests) | Should -Be @('GET /api/manifest HTTP/1.1', 'POST /api/snapshots HTTP/1.1')
        $said = @(& $script:warnings $r)
        $said.Count | Should -Be 1
        $said[0] | Should -Match 'This host''s clock is 600 s \(10 min\) ahead of the service''s'
        $said[0] | Should -Match 'w32tm /resync'
        $logged = @(& $script:logLines | Where-Object { $_ -match $script:skewPattern })
        $logged.Count | Should -Be 1
        $logged[0] | Should -Match '^\S+ WARNING +This host''s clock is 600 s \(10 min\) ahead'
        ($r.Lines -join "`n") | Should -Match 'Snapshot 00000000-0000-4000-8000-000000000001 for exch01: accepted'
        @(Get-PostureSpoolItem -SpoolPath (Join-Path -Path $script:data -ChildPath 'spool')).Count | Should -Be 0
    }

    It 'this host 10 minutes behind: the warning says behind' {
        $r = & $script:run (& $script:answers (Get-SimulatedHttpDate 600) (Get-SimulatedHttpDate 600))
        $r.ExitCode | Should -Be 0
        $said = @(& $script:warnings $r)
        $said.Count | Should -Be 1
        $said[0] | Should -Match 'This host''s clock is 600 s \(10 min\) behind the service''s'
    }

    It 'a skew seen only on a busy answer counts too, and once: a later answer off the other way adds nothing' {
        $responses = @(
            (& $script:withDate 200 $script:manifestBody (Get-SimulatedHttpDate 0)),
            (& $script:withDate 503 $script:busyBody (Get-SimulatedHttpDate -400)),
            (& $script:withDate 201 $script:acceptedBody (Get-SimulatedHttpDate 900)))
        $r = & $script:run $responses @{ BaseDelaySeconds = 0 }
        $r.ExitCode | Should -Be 0
        @($script:server.Requests).Count | Should -Be 3
        $said = @(& $script:warnings $r)
        $said.Count | Should -Be 1
        $said[0] | Should -Match '400 s \(7 min\) ahead'
        @(& $script:logLines | Where-Object { $_ -match $script:skewPattern }).Count | Should -Be 1
    }

    It 'within -MaxClockSkewSeconds (120 s by default) either way: no warning' {
        $r = & $script:run (& $script:answers (Get-SimulatedHttpDate 120) (Get-SimulatedHttpDate -120))
        $r.ExitCode | Should -Be 0
        @(& $script:warnings $r).Count | Should -Be 0
        @(& $script:logLines | Where-Object { $_ -match $script:skewPattern }).Count | Should -Be 0
    }

    It '-MaxClockSkewSeconds sets where the warning starts' {
        $r = & $script:run (& $script:answers (Get-SimulatedHttpDate 90) (Get-SimulatedHttpDate 90)) @{ MaxClockSkewSeconds = 60 }
        @(& $script:warnings $r).Count | Should -Be 1
        @(& $script:warnings $r)[0] | Should -Match '90 s behind'
    }

    It 'the Date of <Who> (HTTP <Code>) is not the service''s clock: <Said>' -ForEach @(
        @{ Who = 'a firewall''s refusal'; Code = 403; Body = '<html><head><title>Access Denied</title></head></html>'; Said = 'no warning'; Warned = 0 }
        @{ Who = 'a gateway with no service behind it'; Code = 502; Body = '<html><head><title>502 Bad Gateway</title></head></html>'; Said = 'no warning'; Warned = 0 }
        @{ Who = 'a captive portal''s sign-in page'; Code = 200; Body = '<html><head><title>Sign in</title></head></html>'; Said = 'no warning'; Warned = 0 }
        @{ Who = 'a cache replaying another snapshot''s verdict'; Code = 201; Body = '{"snapshotId":"5f0c9d1e-0000-4000-8000-000000000099","server":"exch01","outcome":"accepted","results":[]}'; Said = 'no warning'; Warned = 0 }
        @{ Who = 'a front end''s JSON error'; Code = 503; Body = '{"error":{"code":"ServiceUnavailable","message":"The service is unavailable."}}'; Said = 'no warning'; Warned = 0 }
        @{ Who = 'the service, busy'; Code = 503; Body = '{"error":"storage_unavailable","message":"busy"}'; Said = 'one warning'; Warned = 1 }
        @{ Who = 'the service, refusing the snapshot'; Code = 400; Body = '{"error":"invalid_snapshot","message":"bad","issues":[]}'; Said = 'one warning'; Warned = 1 }
    ) {
        # The manifest comes from the service with its clock in step; the post's answer is 10 minutes off.
        $r = & $script:run @((& $script:withDate 200 $script:manifestBody (Get-SimulatedHttpDate 0)), (& $script:withDate $Code $Body (Get-SimulatedHttpDate -600))) @{ MaxAttempts = 1 }
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:warnings $r).Count | Should -Be $Warned
        @(& $script:logLines | Where-Object { $_ -match $script:skewPattern }).Count | Should -Be $Warned
    }

    It 'the service''s <What> replayed by a cache with Age: <Age> carries the Date it was made with: <Said>' -ForEach @(
        @{ What = 'verdict'; Code = 201; Body = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'; Age = '600'; Said = 'no warning'; Warned = 0 }
        @{ What = 'verdict'; Code = 201; Body = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'; Age = '1'; Said = 'no warning'; Warned = 0 }
        @{ What = 'verdict'; Code = 201; Body = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'; Age = 'soon'; Said = 'no warning'; Warned = 0 }
        @{ What = 'busy answer'; Code = 503; Body = '{"error":"storage_unavailable","message":"busy"}'; Age = '600'; Said = 'no warning'; Warned = 0 }
        @{ What = 'verdict'; Code = 201; Body = '{"snapshotId":"00000000-0000-4000-8000-000000000001","server":"exch01","outcome":"accepted","results":[]}'; Age = '0'; Said = 'one warning (a fresh answer passed on)'; Warned = 1 }
    ) {
        # The manifest comes from the service with its clock in step; the post's answer is dated
        # 10 minutes before this host's clock.
        $post = New-TestHttpResponse -StatusCode $Code -Headers @{ Date = (Get-SimulatedHttpDate -600); Age = $Age } -Body $Body
        $r = & $script:run @((& $script:withDate 200 $script:manifestBody (Get-SimulatedHttpDate 0)), $post) @{ MaxAttempts = 1 }
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:warnings $r).Count | Should -Be $Warned
        @(& $script:logLines | Where-Object { $_ -match $script:skewPattern }).Count | Should -Be $Warned
    }

    It 'a manifest from a cache (Age: 3600, an hour old Date), then the service''s verdict in step: no warning' {
        $manifest = New-TestHttpResponse -StatusCode 200 -Headers @{ Date = (Get-SimulatedHttpDate -3600); Age = '3600' } -Body $script:manifestBody
        $r = & $script:run @($manifest, (& $script:withDate 201 $script:acceptedBody (Get-SimulatedHttpDate 0)))
        $r.ExitCode | Should -Be 0
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:warnings $r).Count | Should -Be 0
    }

    It 'a manifest from a captive portal, then the service''s verdict: only the verdict''s Date counts' {
        $portal = '<html><head><title>Guest Wi-Fi</title></head><body>Accept the terms</body></html>'
        $cache = Join-Path -Path $script:data -ChildPath 'manifest.json'
        [void](New-Item -ItemType Directory -Path $script:data -Force)
        [System.IO.File]::WriteAllText($cache, $script:manifestBody)
        # A 200 is not asked again: the run collects with the last good copy and posts.
        $r = & $script:run @((& $script:withDate 200 $portal (Get-SimulatedHttpDate 3600)), (& $script:withDate 201 $script:acceptedBody (Get-SimulatedHttpDate 0)))
        $r.ExitCode | Should -Be 0
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:warnings $r).Count | Should -Be 0
    }

    It 'a Date that is missing or no HTTP date: no warning' {
        $r = & $script:run (& $script:answers '' 'Mon, 99 Foo 2026 99:99:99 GMT')
        $r.ExitCode | Should -Be 0
        @($script:server.Requests).Count | Should -Be 2
        @(& $script:warnings $r).Count | Should -Be 0
        @(& $script:logLines | Where-Object { $_ -match $script:skewPattern }).Count | Should -Be 0
    }
}
