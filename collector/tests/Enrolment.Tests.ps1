# Pester 5 tests of the server key's recovery and of re-enrolment in approval mode. Only the edges
# are replaced: the web (Invoke-PostureHttpRequest answers as the service's enrolment and key
# routes do), DPAPI off Windows, and collection (New-PostureSnapshot). Configuration storage,
# the spool, the manifest cache, enrolment and the run are the collector's own code.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:manifestJson = Get-Content -Raw -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '..\examples\manifest.reference.json')
    $script:secret = 'enrol-secret'
    $script:server = 'exch01.contoso.com'

    function Use-FakeService {
        # The web replaced by the fake service (every call recorded in it) and the waits between
        # attempts recorded in $script:waits instead of slept. Called from a BeforeEach, directly
        # or through Initialize-FakeRun, so the mocks belong to that block.
        param([hashtable]$Service)
        $script:svc = $Service
        $script:waits = New-Object System.Collections.ArrayList
        Mock Invoke-PostureHttpRequest { Invoke-FakeService -Svc $script:svc -Method $Method -Uri $Uri -Headers $Headers -Body $Body }
        Mock Wait-PostureRetry { [void]$script:waits.Add($Seconds) }
    }

    function Initialize-FakeRun {
        # A run's own data folder, the fake service (Use-FakeService) and the other edges replaced
        # (TLS, host facts, collection, DPAPI off Windows), and what the tests of a run share:
        #   & $script:saveConfig [-Key k] [-Claim c] [-Secret s] [-WithLastGoodCopy]: the stored
        #     configuration (key 'old-key' and the enrolment secret unless given), and the last good
        #     manifest beside it when asked;
        #   & $script:run: one run; & $script:callList: the calls the service got, 'GET manifest
        #     <key>', with ' claim=<claim>' after those that sent one under -ShowClaims;
        #   & $script:spooled: the ids in the spool; & $script:log: collector.log.
        # Called by each Describe's BeforeEach, so the mocks belong to that block.
        param([hashtable]$Service, [switch]$ShowClaims)
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        [void](New-Item -ItemType Directory -Path $script:data)
        $script:config = Join-Path -Path $script:data -ChildPath 'config.dat'
        $script:cache = Join-Path -Path $script:data -ChildPath 'manifest.json'
        $script:spool = Join-Path -Path $script:data -ChildPath 'spool'
        $script:seq = 0
        $script:showClaims = [bool]$ShowClaims
        Use-FakeService -Service $Service
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h['fqdn'] = $script:server; $h }
        Mock New-PostureSnapshot { $script:seq++; New-FakeSnapshot -Sequence $script:seq }
        if ($env:OS -ne 'Windows_NT') {
            # DPAPI exists only on Windows; there the real one is used.
            Mock Protect-PostureSecret { , [System.Text.Encoding]::UTF8.GetBytes('dpapi:' + $Text) }
            Mock Unprotect-PostureSecret { [System.Text.Encoding]::UTF8.GetString($Bytes).Substring(6) }
        }
        $script:saveConfig = {
            param([string]$Key = 'old-key', [string]$Claim = '', [string]$Secret = $script:secret, [switch]$WithLastGoodCopy)
            Save-PostureConfig -Path $script:config -Endpoint 'https://x/api' -ApiKey $Key -EnrolmentSecret $Secret -KeyId 'k0' -EnrolmentClaim $Claim
            if ($WithLastGoodCopy) { Set-Content -LiteralPath $script:cache -Value $script:manifestJson }
        }
        $script:run = { Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue }
        $script:callList = { @($script:svc.Calls | ForEach-Object { '{0} {1}{2}' -f $_.Call, $_.Key, $(if ($script:showClaims -and $_.Claim) { ' claim=' + $_.Claim } else { '' }) }) }
        $script:spooled = { @(Get-PostureSpoolItem -SpoolPath $script:spool | ForEach-Object { $_.Name -replace '^.*_|\.json$', '' }) }
        $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
    }

    function New-FakeAnswer {
        param([int]$Status, $Body)
        $content = ''
        if ($null -ne $Body) { $content = ConvertTo-PostureJson -InputObject $Body }
        return @{ StatusCode = $Status; Content = $content; RetryAfter = $null; Error = $null }
    }

    function New-FakeService {
        # What the service holds: keys (active or revoked), its re-enrolment policy, one request.
        param([string]$Mode = 'open', [hashtable]$Keys = @{ 'old-key' = 'revoked' })
        # Busy: per route ('enroll', 'manifest', 'snapshots'), answers given before the service answers itself.
        # LoseEnrol: enrolments answered 503 after the service acted on them (the answer lost on the way).
        # KeyRequests: the request secret (x-enrolment-request) each first-enrolment key was issued to.
        # Blocked: an admin blocked the server's enrolment (reenrol=deny).
        return @{ Mode = $Mode; Keys = $Keys; Request = $null; Blocked = $false; Issued = 0; Requests = 0; RevokeOnPost = $false; Busy = @{}; LoseEnrol = 0; KeyRequests = @{}; Calls = (New-Object System.Collections.ArrayList); Posted = (New-Object System.Collections.ArrayList) }
    }

    function Invoke-FakeEnrol {
        # POST /api/enroll as src/app/reenrolment.ts answers it.
        param([hashtable]$Svc, [hashtable]$Headers)
        if ($Headers['x-api-key'] -ne $script:secret) { return (New-FakeAnswer 401 @{ error = 'unauthorized'; message = 'The key is not valid.' }) }
        $issue = {
            $Svc.Issued++
            $replaced = @($Svc.Keys.Keys | Where-Object { $Svc.Keys[$_] -eq 'active' })
            foreach ($k in $replaced) { $Svc.Keys[$k] = 'revoked' }
            $key = 'key-{0}' -f $Svc.Issued
            $Svc.Keys[$key] = 'active'
            if ($firstRequest) { $Svc.KeyRequests[$key] = $firstRequest }
            $Svc.Request = $null
            New-FakeAnswer 201 ([ordered]@{ server = $script:server; keyId = ('k{0}' -f $Svc.Issued); key = $key; issuedAt = '2026-11-28T00:00:00.000Z'; replaced = $replaced })
        }
        if ($Svc.Blocked) { return (New-FakeAnswer 403 @{ error = 'forbidden'; message = "An admin blocked the enrolment of $script:server; only an admin's rotation of its key can issue it a key now." }) }
        $request = [string]$Headers['x-enrolment-request']
        # A first enrolment gets a key and keeps its request secret; a resend with that secret gets the key again.
        $firstRequest = $(if ($Svc.Keys.Count -eq 0) { $request } else { '' })
        if ($firstRequest) { return (& $issue) }
        $active = @($Svc.Keys.Keys | Where-Object { $Svc.Keys[$_] -eq 'active' })
        if ($request -and $active.Count -eq 1 -and $Svc.KeyRequests[$active[0]] -eq $request) { $firstRequest = $request; return (& $issue) }
        if ($Svc.Mode -eq 'open') { return (& $issue) }
        $current = $Headers['x-server-key']
        if ($current) {
            if ($Svc.Keys[$current] -eq 'active') { return (& $issue) }
            return (New-FakeAnswer 403 @{ error = 'forbidden'; message = "The key in x-server-key is not the current key of $script:server; without it an admin must approve the re-enrolment." })
        }
        $claim = $Headers['x-enrolment-claim']
        # Without the claim, the request secret that filed a decided request gets that decision, as the claim would.
        $decided = -not $claim -and $request -and $null -ne $Svc.Request -and $Svc.Request.Secret -eq $request -and $Svc.Request.State -ne 'pending'
        if ($decided) { $claim = $Svc.Request.Claim }
        if ($claim -and $null -ne $Svc.Request -and $claim -eq $Svc.Request.Claim) {
            switch ($Svc.Request.State) {
                'approved' { return (& $issue) }
                'denied' { return (New-FakeAnswer 403 @{ error = 'forbidden'; message = ('An admin denied the re-enrolment request {0} of {1}; ask an admin to approve a new one or rotate its key.' -f $Svc.Request.Id, $script:server) }) }
                'closed' { return (New-FakeAnswer 409 @{ error = 'request_closed'; message = ('The re-enrolment request "{0}" of {1} was closed when an admin revoked the keys of the server at 2026-11-28T01:00:00.000Z, so it yields no key; enrol again without the claim to file a new request.' -f $Svc.Request.Id, $script:server) }) }
                'collected' { return (New-FakeAnswer 409 @{ error = 'unknown_request_state'; message = ('The re-enrolment request "{0}" of {1} is in the state "collected", which this version of the service does not know, so it cannot be collected here and nothing was changed.' -f $Svc.Request.Id, $script:server) }) }
                default { return (New-FakeAnswer 202 ([ordered]@{ server = $script:server; status = 'pending'; requestId = $Svc.Request.Id; requestedAt = '2026-11-28T00:00:00.000Z'; message = 'waits' })) }
            }
        }
        if ($claim) { return (New-FakeAnswer 403 @{ error = 'forbidden'; message = 'The claim does not belong to this request.' }) }
        $Svc.Requests++
        $id = 'R{0}' -f $Svc.Requests
        $Svc.Request = @{ Id = $id; Claim = ('{0}.claim{1}' -f $id, $Svc.Requests); State = 'pending'; Secret = $request }
        return (New-FakeAnswer 202 ([ordered]@{ server = $script:server; status = 'pending'; requestId = $id; claim = $Svc.Request.Claim; requestedAt = '2026-11-28T00:00:00.000Z'; message = ('The re-enrolment of {0} waits for an admin''s approval (request {1}).' -f $script:server, $id) }))
    }

    function Invoke-FakeService {
        # Records every call, then answers as the service would.
        param([hashtable]$Svc, [string]$Method, [string]$Uri, [hashtable]$Headers, [byte[]]$Body)
        $route = $Uri -replace '^.*/api/', ''
        [void]$Svc.Calls.Add(@{ Call = ('{0} {1}' -f $Method.ToUpperInvariant(), $route); Key = [string]$Headers['x-api-key']; Claim = [string]$Headers['x-enrolment-claim']; ServerKey = [string]$Headers['x-server-key']; Request = [string]$Headers['x-enrolment-request'] })
        if ($Svc.Busy.ContainsKey($route) -and $Svc.Busy[$route].Count -gt 0) {
            $busy = $Svc.Busy[$route][0]
            $Svc.Busy[$route].RemoveAt(0)
            return $busy
        }
        if ($route -eq 'enroll' -and $Svc.LoseEnrol -gt 0) {
            $Svc.LoseEnrol--
            $null = Invoke-FakeEnrol -Svc $Svc -Headers $Headers
            return (New-FakeAnswer 503 @{ error = 'storage_unavailable'; message = 'Table Storage is unavailable; retry after 5 seconds (part of the request may have been stored; sending it again is safe).' })
        }
        if ($route -eq 'enroll') { return (Invoke-FakeEnrol -Svc $Svc -Headers $Headers) }
        $key = [string]$Headers['x-api-key']
        if ($route -eq 'snapshots' -and $Svc.RevokeOnPost -and $Svc.Keys[$key] -eq 'active') {
            # An admin revokes the key between the manifest fetch and the first post.
            $Svc.Keys[$key] = 'revoked'
            $Svc.RevokeOnPost = $false
        }
        if ($Svc.Keys[$key] -eq 'revoked') { return (New-FakeAnswer 401 @{ error = 'key_revoked'; message = 'This server key was revoked; enrol again with the enrolment secret.' }) }
        if ($Svc.Keys[$key] -ne 'active') { return (New-FakeAnswer 401 @{ error = 'unauthorized'; message = 'The key is not valid.' }) }
        if ($route -eq 'manifest') { return @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        $id = (ConvertFrom-PostureJson -Json ([System.Text.Encoding]::UTF8.GetString($Body))).snapshotId
        [void]$Svc.Posted.Add(@{ Id = $id; Key = $key })
        return (New-FakeAnswer 201 ([ordered]@{ snapshotId = $id; server = $script:server; outcome = 'accepted'; results = @() }))
    }
}

Describe 'Recovery from 401 key_revoked and approval mode, against a fake service at the HTTP edge' {
    BeforeEach {
        Initialize-FakeRun -Service (New-FakeService) -ShowClaims
    }

    Context 'open re-enrolment: every authenticated call recovers' {
        It 'a manifest fetch answered key_revoked, without a cached manifest: enrols again, fetches again, then sends the spool and the new snapshot with the new key' {
            & $script:saveConfig
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'spooled-1' -Json '{"snapshotId":"spooled-1"}' -Now (Get-Date).AddHours(-1))
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret', 'GET manifest key-1', 'POST snapshots key-1', 'POST snapshots key-1')
            @($script:svc.Posted | ForEach-Object { $_.Id }) | Should -Be @('spooled-1', '00000000-0000-4000-8000-000000000001')
            $c = Read-PostureConfig -Path $script:config
            $c.ApiKey | Should -Be 'key-1'
            $c.KeyId | Should -Be 'k1'
            $c.EnrolmentSecret | Should -Be $script:secret
            Test-Path -LiteralPath $script:cache | Should -BeTrue
            & $script:spooled | Should -Be @()
        }

        It 'a post answered key_revoked (the manifest still worked): enrols again once and retries that post' {
            $script:svc.Keys = @{ 'old-key' = 'active' }
            $script:svc.RevokeOnPost = $true
            & $script:saveConfig
            (& $script:run).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'POST snapshots old-key', 'POST enroll enrol-secret', 'POST snapshots key-1')
        }

        It 'a dry run (-OutFile) never enrols: the refused key falls back to the cached manifest' {
            & $script:saveConfig -WithLastGoodCopy
            $out = Join-Path -Path $script:data -ChildPath 'dry.json'
            (Invoke-PostureSnapshot -DataPath $script:data -OutFile $out -WarningAction SilentlyContinue).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key')
            (Read-PostureConfig -Path $script:config).ApiKey | Should -Be 'old-key'
        }
    }

    Context 'approval mode (POSTURE_REENROLMENT=approval)' {
        BeforeEach {
            $script:svc.Mode = 'approval'
            Set-Content -LiteralPath $script:cache -Value $script:manifestJson
        }

        It 'key_revoked, then 202: the claim is stored protected with the configuration, nothing is sent with the refused key, the snapshot is spooled, exit 3' {
            & $script:saveConfig
            $r = & $script:run
            $r.ExitCode | Should -Be 3
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret')
            ($r.Lines -join "`n") | Should -Match 'waits for an admin''s approval \(request R1\)\); spooled for the next run'
            $c = Read-PostureConfig -Path $script:config
            $c.EnrolmentClaim | Should -Be 'R1.claim1'
            $c.ApiKey | Should -Be 'old-key'
            [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($script:config)) | Should -Not -Match '^\{'
            & $script:spooled | Should -Be @('00000000-0000-4000-8000-000000000001')
            & $script:log | Should -Match 'Re-enrolment request R1 filed.*waits for an admin.s approval'
        }

        It 'while the request is pending, each later run asks with the claim first and keeps it; still exit 3, every snapshot spooled' {
            & $script:saveConfig
            [void](& $script:run)
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be 3
            (& $script:run).ExitCode | Should -Be 3
            & $script:callList | Should -Be @('POST enroll enrol-secret claim=R1.claim1', 'POST enroll enrol-secret claim=R1.claim1')
            $script:svc.Requests | Should -Be 1
            (Read-PostureConfig -Path $script:config).EnrolmentClaim | Should -Be 'R1.claim1'
            @(& $script:spooled).Count | Should -Be 3
        }

        It 'the answer to a request lost: the next run resends with the request secret stored before the first attempt; once the key is collected the secret is gone' {
            & $script:saveConfig
            # Every attempt of the first run is filed by the service, its answer lost on the way.
            $script:svc.LoseEnrol = 99
            (Invoke-PostureSnapshot -DataPath $script:data -MaxAttempts 2 -WarningAction SilentlyContinue).ExitCode | Should -Be 1
            $c = Read-PostureConfig -Path $script:config
            $c.EnrolmentClaim | Should -Be ''
            $c.EnrolmentRequest | Should -Match '^[A-Za-z0-9_-]{43}$'
            [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($script:config)) | Should -Not -Match '^\{'
            $script:svc.LoseEnrol = 0
            (& $script:run).ExitCode | Should -Be 3
            (Read-PostureConfig -Path $script:config).EnrolmentRequest | Should -Be $c.EnrolmentRequest
            $script:svc.Request.State = 'approved'
            (& $script:run).ExitCode | Should -Be 0
            # Every enrolment call of the three runs, the claim's included, carried the one secret.
            $sent = @($script:svc.Calls | Where-Object { $_.Call -eq 'POST enroll' } | ForEach-Object { $_.Request })
            $sent.Count | Should -Be 4
            @($sent | Select-Object -Unique) | Should -Be @($c.EnrolmentRequest)
            $after = Read-PostureConfig -Path $script:config
            $after.ApiKey | Should -Be 'key-1'
            $after.EnrolmentRequest | Should -Be ''
        }

        It 'approved: the next run collects the key with the claim, stores it, clears the claim and delivers the spool oldest first, then its own snapshot, each once' {
            & $script:saveConfig
            [void](& $script:run)
            [void](& $script:run)
            $script:svc.Request.State = 'approved'
            $script:svc.Calls.Clear()
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('POST enroll enrol-secret claim=R1.claim1', 'GET manifest key-1', 'POST snapshots key-1', 'POST snapshots key-1', 'POST snapshots key-1')
            @($script:svc.Posted | ForEach-Object { $_.Id }) | Should -Be @('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003')
            $c = Read-PostureConfig -Path $script:config
            $c.ApiKey | Should -Be 'key-1'
            $c.EnrolmentClaim | Should -Be ''
            & $script:spooled | Should -Be @()
            # The next run posts only its own snapshot, with the stored key.
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest key-1', 'POST snapshots key-1')
        }

        # An admin's refusal of the request, and a revocation that closed it: the same handling.
        It '<Case>: the service''s message is logged, the claim cleared, the snapshot spooled, exit 2; the run after files a new request' -ForEach @(
            @{ Case = 'denied'; State = 'denied'; Said = 'HTTP 403.*Service said: forbidden: An admin denied the re-enrolment request R1 of exch01\.contoso\.com'; Output = 'refused to enrol this server again' }
            @{ Case = 'closed by a revocation (409 request_closed)'; State = 'closed'; Said = 'HTTP 409.*Service said: request_closed: The re-enrolment request "R1" of exch01\.contoso\.com was closed when an admin revoked'; Output = $null }
        ) {
            & $script:saveConfig
            [void](& $script:run)
            $first = (Read-PostureConfig -Path $script:config).EnrolmentRequest
            $first | Should -Not -BeNullOrEmpty
            $script:svc.Request.State = $State
            $script:svc.Calls.Clear()
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            & $script:callList | Should -Be @('POST enroll enrol-secret claim=R1.claim1')
            & $script:log | Should -Match $Said
            & $script:log | Should -Match 'claim of re-enrolment request R1 was cleared'
            if ($Output) { ($r.Lines -join "`n") | Should -Match $Output }
            (Read-PostureConfig -Path $script:config).EnrolmentClaim | Should -Be ''
            (Read-PostureConfig -Path $script:config).EnrolmentRequest | Should -Be ''
            @(& $script:spooled).Count | Should -Be 2
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be 3
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret')
            # The new request is a new enrolment: a secret of its own, kept for its resends.
            $script:svc.Calls[1].Request | Should -Not -Be $first
            (Read-PostureConfig -Path $script:config).EnrolmentRequest | Should -Be $script:svc.Calls[1].Request
            (Read-PostureConfig -Path $script:config).EnrolmentClaim | Should -Be 'R2.claim2'
            @(& $script:spooled).Count | Should -Be 3
        }

        # The 202 answer (and its claim) lost, then the admin decides: the resend carries only the request secret.
        It 'the answer to a request lost, then <Case>: the next run gets the decision with the request secret alone' -ForEach @(
            @{ Case = 'approved'; State = 'approved'; Exit = 0 }
            @{ Case = 'denied'; State = 'denied'; Exit = 2 }
        ) {
            & $script:saveConfig
            $script:svc.LoseEnrol = 99
            (Invoke-PostureSnapshot -DataPath $script:data -MaxAttempts 1 -WarningAction SilentlyContinue).ExitCode | Should -Be 1
            $secret = (Read-PostureConfig -Path $script:config).EnrolmentRequest
            $script:svc.LoseEnrol = 0
            $script:svc.Request.State = $State
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be $Exit
            $script:svc.Calls[1].Request | Should -Be $secret
            $script:svc.Requests | Should -Be 1
            # Either way the secret is spent: the key answered it, or the denial ended its request.
            (Read-PostureConfig -Path $script:config).EnrolmentRequest | Should -Be ''
            if ($State -eq 'denied') {
                & $script:log | Should -Match 'HTTP 403.*An admin denied the re-enrolment request R1'
                $script:svc.Calls.Clear()
                (& $script:run).ExitCode | Should -Be 3
                # A new request, with a secret of its own.
                $script:svc.Requests | Should -Be 2
                $script:svc.Calls[1].Request | Should -Not -Be $secret
            } else {
                (Read-PostureConfig -Path $script:config).ApiKey | Should -Be 'key-1'
            }
        }

        It 'an enrolment blocked by an admin (403, no claim sent): the request secret is cleared as a refused claim is, exit 2; a wrong enrolment secret (401) keeps it' {
            & $script:saveConfig
            $script:svc.Blocked = $true
            (& $script:run).ExitCode | Should -Be 2
            & $script:log | Should -Match 'HTTP 403.*blocked the enrolment'
            $script:svc.Calls[1].Claim | Should -Be ''
            $c = Read-PostureConfig -Path $script:config
            $c.EnrolmentRequest | Should -Be ''
            $c.EnrolmentSecret | Should -Be $script:secret
            $c.ApiKey | Should -Be 'old-key'
            & $script:saveConfig -Secret 'wrong-secret'
            (& $script:run).ExitCode | Should -Be 2
            (Read-PostureConfig -Path $script:config).EnrolmentRequest | Should -Match '^[A-Za-z0-9_-]{43}$'
        }

        # Not the service's answer: its approved request is still there to collect.
        It 'a <Case> in front of the service: the claim and request secret are kept, exit 1; once approved, the next run collects the key with them' -ForEach @(
            @{ Case = '403 page of a stopped web app'; Answer = @{ StatusCode = 403; Content = '<html><head><title>Web App - Stopped</title></head><body>Error 403 - This web app is stopped.</body></html>'; RetryAfter = $null; Error = $null }; Said = 'HTTP 403\) by something other than the service \(a stopped web app'; Excerpt = 'Web App - Stopped' }
            @{ Case = '400 of a firewall'; Answer = @{ StatusCode = 400; Content = 'Request blocked by the web application firewall.'; RetryAfter = $null; Error = $null }; Said = 'HTTP 400\) by something other than the service'; Excerpt = 'Request blocked by the web application firewall.' }
            # JSON with an "error" that is not one of the service's codes: an object, or other text.
            @{ Case = '403 of a front end in JSON'; Answer = @{ StatusCode = 403; Content = '{"error":{"code":"Forbidden","message":"The request is blocked by the front end."}}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 403\) by something other than the service'; Excerpt = '{"error":{"code":"Forbidden","message":"The request is blocked by the front end."}}' }
            @{ Case = '400 of a gateway in JSON'; Answer = @{ StatusCode = 400; Content = '{"error":"Bad Request","message":"Invalid URL"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 400\) by something other than the service'; Excerpt = '{"error":"Bad Request","message":"Invalid URL"}' }
            # An OAuth proxy's codes look like the service's but are none of them; nor is one of the service's at another status.
            @{ Case = '401 of an OAuth proxy'; Answer = @{ StatusCode = 401; Content = '{"error":"invalid_token","error_description":"The access token is missing"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 401\) by something other than the service'; Excerpt = '{"error":"invalid_token","error_description":"The access token is missing"}' }
            @{ Case = '403 of an OAuth proxy'; Answer = @{ StatusCode = 403; Content = '{"error":"access_denied"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 403\) by something other than the service'; Excerpt = '{"error":"access_denied"}' }
            @{ Case = '401 with the service''s 403 code'; Answer = @{ StatusCode = 401; Content = '{"error":"forbidden"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 401\) by something other than the service'; Excerpt = '{"error":"forbidden"}' }
            # A wrong path or a proxy's rules: the sentence says where to look.
            @{ Case = '404 of a wrong path'; Answer = @{ StatusCode = 404; Content = '<html><head><title>404 - File or directory not found.</title></head></html>'; RetryAfter = $null; Error = $null }; Said = 'HTTP 404\) by something other than the service \([^)]*\), which usually means the service URL or path is wrong; the enrolment is kept'; Excerpt = '404 - File or directory not found.' }
            @{ Case = '405 of a proxy'; Answer = @{ StatusCode = 405; Content = '<html><head><title>405 Not Allowed</title></head></html>'; RetryAfter = $null; Error = $null }; Said = 'HTTP 405\) by something other than the service \([^)]*\), which usually means the service URL or path is wrong or a proxy blocks the request''s method; the enrolment is kept'; Excerpt = '405 Not Allowed' }
        ) {
            & $script:saveConfig
            [void](& $script:run)
            $stored = Read-PostureConfig -Path $script:config
            $stored.EnrolmentClaim | Should -Be 'R1.claim1'
            $script:svc.Busy['enroll'] = New-Object System.Collections.ArrayList
            [void]$script:svc.Busy['enroll'].Add($Answer)
            # Not delivered, as when the service cannot be reached: a later run sends it.
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            ($r.Lines -join "`n") | Should -Match 'refused by something other than the service'
            ($r.Lines -join "`n") | Should -Not -Match 'the service refused'
            & $script:log | Should -Match $Said
            & $script:log | Should -Match ('It answered: ' + [regex]::Escape($Excerpt))
            & $script:log | Should -Not -Match 'something other than the service[^\r\n]*(Service said|@\{code)'
            & $script:log | Should -Not -Match 'was cleared'
            $kept = Read-PostureConfig -Path $script:config
            $kept.EnrolmentClaim | Should -Be 'R1.claim1'
            $kept.EnrolmentRequest | Should -Be $stored.EnrolmentRequest
            $script:svc.Request.State = 'approved'
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be 0
            @(& $script:callList)[0] | Should -Be 'POST enroll enrol-secret claim=R1.claim1'
            $script:svc.Requests | Should -Be 1
            (Read-PostureConfig -Path $script:config).ApiKey | Should -Be 'key-1'
        }

        It 'a request state the service does not know (409 unknown_request_state): the claim is kept, exit 2; the next run asks again with it' {
            & $script:saveConfig
            [void](& $script:run)
            $script:svc.Request.State = 'collected'
            $script:svc.Calls.Clear()
            (& $script:run).ExitCode | Should -Be 2
            (& $script:run).ExitCode | Should -Be 2
            & $script:callList | Should -Be @('POST enroll enrol-secret claim=R1.claim1', 'POST enroll enrol-secret claim=R1.claim1')
            & $script:log | Should -Not -Match 'was cleared'
            (Read-PostureConfig -Path $script:config).EnrolmentClaim | Should -Be 'R1.claim1'
            $script:svc.Requests | Should -Be 1
        }

        It 'pending without a cached manifest: nothing collected, exit 3, the claim kept for the next run' {
            Remove-Item -LiteralPath $script:cache
            & $script:saveConfig
            $r = & $script:run
            $r.ExitCode | Should -Be 3
            ($r.Lines -join "`n") | Should -Match '^Nothing collected: .*no last good copy'
            (Read-PostureConfig -Path $script:config).EnrolmentClaim | Should -Be 'R1.claim1'
        }

        It 'a post answered key_revoked that goes pending keeps the spooled snapshot and spools the new one; exit 3' {
            $script:svc.Keys = @{ 'old-key' = 'active' }
            $script:svc.RevokeOnPost = $true
            & $script:saveConfig
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'spooled-1' -Json '{"snapshotId":"spooled-1"}' -Now (Get-Date).AddHours(-1))
            (& $script:run).ExitCode | Should -Be 3
            & $script:callList | Should -Be @('GET manifest old-key', 'POST snapshots old-key', 'POST enroll enrol-secret')
            & $script:spooled | Should -Be @('spooled-1', '00000000-0000-4000-8000-000000000001')
        }

        It 'no stored key (the installer''s own request waits): the run asks first, with the claim or, once it was cleared, without' {
            & $script:saveConfig -Key '' -Claim 'R1.claim1'
            $script:svc.Request = @{ Id = 'R1'; Claim = 'R1.claim1'; State = 'approved' }
            (& $script:run).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('POST enroll enrol-secret claim=R1.claim1', 'GET manifest key-1', 'POST snapshots key-1')
            $script:svc.Calls.Clear()
            & $script:saveConfig -Key ''
            $script:svc.Keys['key-1'] = 'revoked'
            (& $script:run).ExitCode | Should -Be 3
            & $script:callList | Should -Be @('POST enroll enrol-secret')
        }
    }
}

Describe 'Invoke-PostureEnrolment: 202, the claim and the current key' {
    BeforeEach {
        Use-FakeService -Service (New-FakeService -Mode 'approval' -Keys @{ 'fp1.old' = 'revoked'; 'fp1.current' = 'active' })
        $script:facts = @{ name = 'EXCH01'; fqdn = $script:server }
    }

    It 'answers Pending with the request id and the claim; asked again with the claim, the claim it sent' {
        $a = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts
        $a.Status | Should -Be 'Pending'
        $a.RequestId | Should -Be 'R1'
        $a.Claim | Should -Be 'R1.claim1'
        $a.Server | Should -Be $script:server
        $again = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -Claim $a.Claim
        $again.Status | Should -Be 'Pending'
        $again.Claim | Should -Be 'R1.claim1'
        $script:svc.Calls[1].Claim | Should -Be 'R1.claim1'
    }

    It 'sends the current key in x-server-key (a key at once); a key that is not current is dropped after the 403 and a request filed' {
        $a = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -CurrentKey 'fp1.current'
        $a.Status | Should -Be 'Issued'
        $a.Replaced | Should -Be @('fp1.current')
        $script:svc.Calls[0].ServerKey | Should -Be 'fp1.current'
        $script:svc.Calls.Clear()
        $p = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -CurrentKey 'fp1.old'
        $p.Status | Should -Be 'Pending'
        @($script:svc.Calls | ForEach-Object { $_.ServerKey }) | Should -Be @('fp1.old', '')
    }

    # Only the service's own 403 says the key is not current; a front end's says nothing about it.
    It 'a 403 <Case> in front of the service keeps the current key: not resent without it, no request filed; the next call renews with it' -ForEach @(
        @{ Case = 'page of a stopped web app'; Content = '<html><head><title>Web App - Stopped</title></head><body>Error 403 - This web app is stopped.</body></html>' }
        @{ Case = 'of a proxy (plain text)'; Content = 'Forbidden by proxy policy.' }
        @{ Case = 'of an Azure front end in JSON'; Content = '{"error":{"code":"Forbidden","message":"The request is blocked."}}' }
    ) {
        $script:svc.Busy['enroll'] = New-Object System.Collections.ArrayList
        [void]$script:svc.Busy['enroll'].Add(@{ StatusCode = 403; Content = $Content; RetryAfter = $null; Error = $null })
        $e = { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -CurrentKey 'fp1.current' } | Should -Throw -PassThru
        $e.Exception.Message | Should -Match 'HTTP 403\) by something other than the service'
        # Whose answer it was is said once, and never as the service's.
        $e.Exception.Message | Should -Not -Match 'Service said'
        @($script:svc.Calls | ForEach-Object { $_.ServerKey }) | Should -Be @('fp1.current')
        $script:svc.Requests | Should -Be 0
        $a = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -CurrentKey 'fp1.current'
        $a.Status | Should -Be 'Issued'
        $a.Replaced | Should -Be @('fp1.current')
    }

    It 'a first enrolment whose answer was lost: the retry sends the same request secret and gets the key that landed, not a request' {
        Use-FakeService -Service (New-FakeService -Mode 'approval' -Keys @{})
        $script:svc.LoseEnrol = 1
        $a = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts
        $a.Status | Should -Be 'Issued'
        $a.Key | Should -Be 'key-2'
        $requests = @($script:svc.Calls | ForEach-Object { $_.Request })
        $requests.Count | Should -Be 2
        $requests[0] | Should -Match '^[A-Za-z0-9_-]{43}$'
        $requests[1] | Should -Be $requests[0]
        # The key nobody got is replaced; no request waits for an admin.
        $script:svc.Keys['key-1'] | Should -Be 'revoked'
        $script:svc.Requests | Should -Be 0
        # Another enrolment makes a secret of its own.
        $script:svc.Calls.Clear()
        $null = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts
        $script:svc.Calls[0].Request | Should -Not -Be $requests[0]
    }

    It 'throws with the HTTP status: 403 with the service''s message, 401, no answer, and a 202 without a claim' {
        $script:svc.Request = @{ Id = 'R9'; Claim = 'R9.x'; State = 'denied' }
        $e = { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts -Claim 'R9.x' } | Should -Throw -PassThru
        $e.Exception.Data['StatusCode'] | Should -Be 403
        $e.Exception.Message | Should -Match 'Service said: forbidden: An admin denied the re-enrolment request R9'
        $e = { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret 'wrong' -HostFacts $script:facts } | Should -Throw -PassThru
        $e.Exception.Data['StatusCode'] | Should -Be 401
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'Unable to connect' } }
        $e = { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts } | Should -Throw -PassThru '*cannot be reached (Unable to connect) on each of 4 attempts*'
        $e.Exception.Data['StatusCode'] | Should -Be 0
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 202; Content = '{"status":"pending","requestId":"R1"}'; RetryAfter = $null; Error = $null } }
        { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts $script:facts } | Should -Throw '*202 without a pending request and its claim*'
    }
}

Describe 'A busy service (no answer, 408, 429, 5xx): the manifest and enrolment are asked again, refusals never' {
    BeforeEach {
        Initialize-FakeRun -Service (New-FakeService -Keys @{ 'old-key' = 'active' })
        $script:busy = {
            param([string]$Route, [int]$Status, $RetryAfter = $null, [int]$Times = 1)
            $list = New-Object System.Collections.ArrayList
            foreach ($i in 1..$Times) {
                $why = $null
                if ($Status -eq 0) { $why = 'Unable to connect to the remote server' }
                [void]$list.Add(@{ StatusCode = $Status; Content = $(if ($Status -eq 0) { '' } else { '{"error":"busy","message":"busy"}' }); RetryAfter = $RetryAfter; Error = $why })
            }
            $script:svc.Busy[$Route] = $list
        }
    }

    Context 'the manifest' {
        It 'a first run (no last good copy): 503 with Retry-After, then 200; waits that long, collects, posts once, keeps the copy' {
            & $script:saveConfig
            & $script:busy -Route 'manifest' -Status 503 -RetryAfter 3
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'GET manifest old-key', 'POST snapshots old-key')
            @($script:waits) | Should -Be @(3)
            @($script:svc.Posted | ForEach-Object { $_.Id }) | Should -Be @('00000000-0000-4000-8000-000000000001')
            Test-PostureCachedManifest -CachePath $script:cache | Should -BeTrue
        }

        It 'a first run the service stays busy through: as many attempts as a post (-MaxAttempts), then nothing collected, exit 1, the log says why' {
            & $script:saveConfig
            & $script:busy -Route 'manifest' -Status 429 -Times 10
            $r = Invoke-PostureSnapshot -DataPath $script:data -MaxAttempts 3 -WarningAction SilentlyContinue
            $r.ExitCode | Should -Be 1
            & $script:callList | Should -Be @('GET manifest old-key', 'GET manifest old-key', 'GET manifest old-key')
            $script:waits.Count | Should -Be 2
            ($r.Lines -join "`n") | Should -Match '^Nothing collected: No manifest: https://x/api/manifest answered HTTP 429 on each of 3 attempts and there is no last good copy'
            & $script:log | Should -Match 'HTTP 429 on each of 3 attempts'
        }

        It 'with a last good copy: asked twice at most, a wait of 10 s at most, then the copy; the snapshot still goes out' {
            & $script:saveConfig -WithLastGoodCopy
            & $script:busy -Route 'manifest' -Status 503 -RetryAfter 8 -Times 10
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'GET manifest old-key', 'POST snapshots old-key')
            @($script:waits) | Should -Be @(8)
            & $script:log | Should -Match 'Manifest not fetched .*HTTP 503 on each of 2 attempts.*using the last good copy'
        }

        It 'with a last good copy: a Retry-After of 120 s is not waited for, nor asked again sooner; the copy is used and the log says why' {
            & $script:saveConfig -WithLastGoodCopy
            & $script:busy -Route 'manifest' -Status 503 -RetryAfter 120 -Times 10
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'POST snapshots old-key')
            $script:waits.Count | Should -Be 0
            & $script:log | Should -Match 'Manifest not fetched .*HTTP 503 \(the service asked to wait 120 s \(HTTP 503\), longer than the 10 s.*using the last good copy'
        }

        It 'a 400 is not asked again' {
            & $script:saveConfig -WithLastGoodCopy
            & $script:busy -Route 'manifest' -Status 400
            (& $script:run).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'POST snapshots old-key')
            $script:waits.Count | Should -Be 0
        }
    }

    Context 'enrolment' {
        It 'the first key (none stored): 429 with Retry-After, then 201; the key is stored and used the same run' {
            & $script:saveConfig -Key ''
            & $script:busy -Route 'enroll' -Status 429 -RetryAfter 5
            $r = & $script:run
            $r.ExitCode | Should -Be 0
            & $script:callList | Should -Be @('POST enroll enrol-secret', 'POST enroll enrol-secret', 'GET manifest key-1', 'POST snapshots key-1')
            @($script:waits) | Should -Be @(5)
            (Read-PostureConfig -Path $script:config).ApiKey | Should -Be 'key-1'
        }

        It 're-enrolment after key_revoked: no answer, then 201; the manifest is fetched with the new key' {
            $script:svc.Keys = @{ 'old-key' = 'revoked' }
            & $script:saveConfig
            & $script:busy -Route 'enroll' -Status 0
            (& $script:run).ExitCode | Should -Be 0
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret', 'POST enroll enrol-secret', 'GET manifest key-1', 'POST snapshots key-1')
            $script:waits.Count | Should -Be 1
        }

        It 'a refused enrolment (401: wrong enrolment secret) is asked once: state Refused, exit 2, no wait' {
            & $script:saveConfig -Key '' -Secret 'wrong-secret'
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            & $script:callList | Should -Be @('POST enroll wrong-secret')
            $script:waits.Count | Should -Be 0
            & $script:log | Should -Match 'Enrolment refused \(HTTP 401\)'
        }

        It 'busy through the whole bound: -MaxAttempts requests, then state Failed, the snapshot spooled, exit 1' {
            $script:svc.Keys = @{ 'old-key' = 'revoked' }
            & $script:saveConfig -WithLastGoodCopy
            & $script:busy -Route 'enroll' -Status 503 -RetryAfter 2 -Times 10
            $r = Invoke-PostureSnapshot -DataPath $script:data -MaxAttempts 3 -WarningAction SilentlyContinue
            $r.ExitCode | Should -Be 1
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret', 'POST enroll enrol-secret', 'POST enroll enrol-secret')
            @($script:waits) | Should -Be @(2, 2)
            & $script:log | Should -Match 'Enrolment not possible now \(HTTP 503 on each of 3 attempts\); try again in 2 seconds'
            @(& $script:spooled).Count | Should -Be 1
        }

        It 'a Retry-After longer than -MaxRetryAfterSeconds: asked once, no wait, state Failed, the snapshot spooled, exit 1' {
            $script:svc.Keys = @{ 'old-key' = 'revoked' }
            & $script:saveConfig -WithLastGoodCopy
            & $script:busy -Route 'enroll' -Status 429 -RetryAfter 400 -Times 10
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            & $script:callList | Should -Be @('GET manifest old-key', 'POST enroll enrol-secret')
            $script:waits.Count | Should -Be 0
            & $script:log | Should -Match 'Enrolment not possible now \(HTTP 429\); try again in 400 seconds'
            @(& $script:spooled).Count | Should -Be 1
        }

        It 'the installer''s call (Invoke-PostureEnrolment): 429 then 201 gives the key; a 403 is not asked again' {
            & $script:busy -Route 'enroll' -Status 429 -RetryAfter 4
            $a = Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts @{ name = 'EXCH01' }
            $a.Status | Should -Be 'Issued'
            $a.Key | Should -Be 'key-1'
            @($script:waits) | Should -Be @(4)
            $script:svc.Calls.Clear()
            $script:svc.Mode = 'approval'
            $script:svc.Request = @{ Id = 'R9'; Claim = 'R9.x'; State = 'denied' }
            { Invoke-PostureEnrolment -Endpoint 'https://x/api' -EnrolmentSecret $script:secret -HostFacts @{ name = 'EXCH01' } -Claim 'R9.x' } | Should -Throw '*HTTP 403*'
            & $script:callList | Should -Be @('POST enroll enrol-secret')
            $script:waits.Count | Should -Be 1
        }
    }
}
