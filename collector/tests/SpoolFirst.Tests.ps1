# Pester 5 tests of a run's durability: the new snapshot is in the spool before any request, a run
# stopped at any point loses nothing, and the run's time budget ends its requests. The web, the
# wait between attempts and the clock are mocked (a simulated clock that requests and waits move).

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHttpServer.ps1')
}

Describe 'Invoke-PostureSnapshot: spool first, send from the spool' {
    BeforeEach {
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:spool = Join-Path -Path $script:data -ChildPath 'spool'
        $script:seq = 0
        $script:posted = New-Object System.Collections.ArrayList
        $script:spoolAtPost = New-Object System.Collections.ArrayList
        Use-SimulatedClock
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureManifest { [pscustomobject]@{ schema = 'fleet-posture/manifest@1' } }
        Mock New-PostureSnapshot { $script:seq++; New-FakeSnapshot -Sequence $script:seq }
        # What the service saw (snapshot ids, in order) and what the spool held at each post.
        $script:record = {
            param([byte[]]$Body)
            [void]$script:posted.Add((ConvertFrom-PostureJson -Json ([System.Text.Encoding]::UTF8.GetString($Body))).snapshotId)
            [void]$script:spoolAtPost.Add(@(& $script:spooled))
        }
        $script:spooled = { @(Get-PostureSpoolItem -SpoolPath $script:spool | ForEach-Object { $_.Name -replace '^.*_|\.json$', '' }) }
        $script:busy = @{ StatusCode = 503; Content = '{"error":"storage_unavailable"}'; RetryAfter = $null; Error = $null }
        $script:run = {
            param([hashtable]$Extra = @{})
            Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue @Extra
        }
        $script:id = { param([int]$n) '00000000-0000-4000-8000-{0:D12}' -f $n }
    }

    It 'the new snapshot is on disk in the spool before the first request, and leaves it once accepted' {
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        $r = & $script:run
        $r.ExitCode | Should -Be 0
        @($script:posted) | Should -Be @((& $script:id 1))
        @($script:spoolAtPost[0]) | Should -Be @((& $script:id 1))
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'sends the spool oldest first and the new snapshot last, even when an older file carries a later time' {
        # A clock set back since: the older file's name sorts after the new one's.
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-2))
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddYears(1))
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @('older-a', 'older-b', (& $script:id 1))
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'a run whose sends all fail keeps its snapshot in the spool exactly once, and the next run sends it once' {
        Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:busy }
        (& $script:run).ExitCode | Should -Be 1
        @(& $script:spooled) | Should -Be @((& $script:id 1))
        @($script:posted) | Should -Be @((& $script:id 1), (& $script:id 1), (& $script:id 1), (& $script:id 1))
        (& $script:run).ExitCode | Should -Be 1
        # The second run tried only the oldest; both snapshots are kept, each once.
        @(& $script:spooled) | Should -Be @((& $script:id 1), (& $script:id 2))

        $script:posted.Clear()
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @((& $script:id 1), (& $script:id 2), (& $script:id 3))
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'a relative -DataPath keeps the spool under where the run was started from, never under the process''s directory' {
        $processDir = Join-Path -Path $script:data -ChildPath 'system32'
        $typedIn = Join-Path -Path $script:data -ChildPath 'admin'
        foreach ($d in @($processDir, $typedIn)) { [void](New-Item -ItemType Directory -Path $d -Force) }
        Mock Invoke-PostureHttpRequest { $script:busy }
        $processBefore = [System.Environment]::CurrentDirectory
        Push-Location -LiteralPath $typedIn
        try {
            [System.Environment]::CurrentDirectory = $processDir
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath 'Posture' -WarningAction SilentlyContinue).ExitCode | Should -Be 1
        } finally {
            [System.Environment]::CurrentDirectory = $processBefore
            Pop-Location
        }
        @(Get-PostureSpoolItem -SpoolPath (Join-Path -Path $typedIn -ChildPath 'Posture/spool') | ForEach-Object { $_.Name -replace '^.*_|\.json$', '' }) | Should -Be @((& $script:id 1))
        @(Get-ChildItem -LiteralPath $processDir -Force).Count | Should -Be 0
    }

    It 'a run stopped during its first request leaves its snapshot in the spool, whole; the next run delivers it once' {
        Mock Invoke-PostureHttpRequest { & $script:record $Body; throw 'The process was stopped.' }
        { & $script:run } | Should -Throw '*stopped*'
        @(& $script:spooled) | Should -Be @((& $script:id 1))
        $file = @(Get-PostureSpoolItem -SpoolPath $script:spool)[0].FullName
        (ConvertFrom-PostureJson -Json ([System.IO.File]::ReadAllText($file))).schema | Should -Be 'fleet-posture/snapshot@1'

        $script:posted.Clear()
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @((& $script:id 1), (& $script:id 2))
        @(& $script:spooled).Count | Should -Be 0
    }

    It 'a run stopped between two spooled snapshots keeps what the service has not accepted, and drops what it has' {
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-2))
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddHours(-1))
        Mock Invoke-PostureHttpRequest {
            & $script:record $Body
            if ($script:posted.Count -eq 1) { return (New-AcceptedAnswer -Body $Body) }
            throw 'The process was stopped.'
        }
        { & $script:run } | Should -Throw '*stopped*'
        @(& $script:spooled) | Should -Be @('older-b', (& $script:id 1))
    }

    It 'the spool count limit drops an older snapshot, never the run''s own, even when the own one sorts first' {
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddYears(1))
        Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:busy }
        (& $script:run @{ MaxSpoolCount = 1; MaxAttempts = 1 }).ExitCode | Should -Be 1
        @(& $script:spooled) | Should -Be @((& $script:id 1))
        # Nothing older was left to send first: the run's own snapshot was tried.
        @($script:posted) | Should -Be @((& $script:id 1))
    }

    It 'Limit-PostureSpool keeps the named file even past the age limit, and counts it toward the count limit' {
        $now = [datetime]::SpecifyKind([datetime]'2026-11-28T12:00:00', 'Utc')
        $old = Split-Path -Leaf (Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'own' -Json '{}' -Now $now.AddDays(-30))
        foreach ($h in @(3, 2, 1)) { [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId ('id{0}' -f $h) -Json '{}' -Now $now.AddHours(-$h)) }
        Limit-PostureSpool -SpoolPath $script:spool -MaxCount 2 -MaxAgeDays 7 -Now $now -KeepName $old -WarningAction SilentlyContinue
        @(& $script:spooled) | Should -Be @('own', 'id1')
    }

    It 'a spool folder that cannot be listed (access denied) does not stop the send: the new snapshot is delivered, the log says why it was not spooled' {
        Mock Save-PostureSpoolItem { throw 'Access to the path is denied.' }
        Mock Get-PostureSpoolItem { throw 'Access to the path is denied.' }
        # Not $script:record: it lists the spool, which this test makes unreadable.
        Mock Invoke-PostureHttpRequest { [void]$script:posted.Add((ConvertFrom-PostureJson -Json ([System.Text.Encoding]::UTF8.GetString($Body))).snapshotId); (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @((& $script:id 1))
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match 'spool .*cannot be read.*Access to the path is denied'
    }

    It 'a spooled file that cannot be deleted (expired, or delivered) is logged and the run goes on: the new snapshot is delivered' {
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'locked' -Json '{"snapshotId":"locked"}' -Now (Get-Date).AddDays(-30))
        Mock Remove-Item { throw 'The process cannot access the file because it is being used by another process.' } -ParameterFilter { $LiteralPath -like '*_locked.json' }
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @('locked', (& $script:id 1))
        # Only the file that could not be deleted is left; a later run offers it again (answered duplicate).
        @(& $script:spooled) | Should -Be @('locked')
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match '_locked\.json.*could not be removed.*being used by another process'
    }

    It 'a spooled file that cannot be read is logged and left in the spool; the others and the new snapshot are delivered' {
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-3))
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'locked' -Json '{"snapshotId":"locked"}' -Now (Get-Date).AddHours(-2))
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddHours(-1))
        # Root on Linux reads any file: the read itself fails, as one held open by a scanner does.
        Mock Read-PostureSpoolFile { throw 'The process cannot access the file because it is being used by another process.' } -ParameterFilter { $Path -like '*_locked.json' }
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @('older-a', 'older-b', (& $script:id 1))
        @(& $script:spooled) | Should -Be @('locked')
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match '_locked\.json cannot be read \(.*being used by another process\.\); it stays in the spool'
    }

    It 'an empty spooled file is logged and left in the spool; the others and the new snapshot are delivered' {
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-3))
        $empty = Join-Path -Path $script:spool -ChildPath ('{0}_empty.json' -f (Get-Date).AddHours(-2).ToUniversalTime().ToString('yyyyMMddTHHmmssfffZ', [System.Globalization.CultureInfo]::InvariantCulture))
        [System.IO.File]::WriteAllBytes($empty, [byte[]]@())
        [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddHours(-1))
        Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
        (& $script:run).ExitCode | Should -Be 0
        @($script:posted) | Should -Be @('older-a', 'older-b', (& $script:id 1))
        @(& $script:spooled) | Should -Be @('empty')
        (New-Object System.IO.FileInfo($empty)).Length | Should -Be 0
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match '_empty\.json is empty; there is nothing to send, and it stays in the spool until the age limit drops it\.'
    }

    It 'a refused new snapshot leaves the spool for rejected\, exit 2' {
        Mock Invoke-PostureHttpRequest { & $script:record $Body; @{ StatusCode = 400; Content = '{"error":"invalid_snapshot","message":"bad"}'; RetryAfter = $null; Error = $null } }
        (& $script:run).ExitCode | Should -Be 2
        @(& $script:spooled).Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath ('rejected\{0}.json' -f (& $script:id 1))) | Should -BeTrue
    }

    Context 'a snapshot refused for good, spooled or the run''s own' {
        BeforeEach {
            $script:refused = @{ StatusCode = 400; Content = '{"error":"invalid_snapshot","message":"bad"}'; RetryAfter = $null; Error = $null }
            $script:rejected = Join-Path -Path $script:data -ChildPath 'rejected'
            $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
            # An older snapshot in the spool, and a service that refuses it and accepts the rest.
            $script:spoolOlderA = { param([string]$Json) [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json $Json -Now (Get-Date).AddHours(-1)) }
            # rejected\ full: 20 copies a month old, old01.json the oldest.
            $script:fillRejected = {
                $null = New-Item -ItemType Directory -Path $script:rejected
                foreach ($n in 1..20) {
                    $old = Join-Path -Path $script:rejected -ChildPath ('old{0:D2}.json' -f $n)
                    [System.IO.File]::WriteAllText($old, '{}')
                    [System.IO.File]::SetLastWriteTimeUtc($old, [datetime]::UtcNow.AddDays(-30).AddMinutes($n))
                }
            }
            $script:refusingOlderA = {
                param($Body)
                & $script:record $Body
                if ($script:posted[-1] -eq 'older-a') { return $script:refused }
                (New-AcceptedAnswer -Body $Body)
            }
        }

        It 'a refused spooled snapshot is kept in rejected\ as the run''s own would be; the log and the output name the copy' {
            & $script:spoolOlderA '{"snapshotId":"older-a","bad":true}'
            Mock Invoke-PostureHttpRequest { & $script:refusingOlderA $Body }
            $r = & $script:run
            # The run's own snapshot was delivered after it; the refusal still shows in the exit code.
            $r.ExitCode | Should -Be 2
            @($script:posted) | Should -Be @('older-a', (& $script:id 1))
            @(& $script:spooled).Count | Should -Be 0
            $copy = Join-Path -Path $script:rejected -ChildPath 'older-a.json'
            [System.IO.File]::ReadAllText($copy) | Should -Be '{"snapshotId":"older-a","bad":true}'
            ($r.Lines -join "`n") | Should -Match ([regex]::Escape(('Spooled snapshot older-a refused by the service: HTTP 400 invalid_snapshot: bad. A copy is in {0}.' -f $copy)))
            & $script:log | Should -Match ([regex]::Escape(('Spooled snapshot older-a refused, not retried: HTTP 400 invalid_snapshot: bad. A copy is in {0}.' -f $copy)))
        }

        It 'a refused spooled snapshot is kept byte for byte, whatever reading it as text would change (a BOM, a byte that is no UTF-8, CRLF)' {
            $file = Join-Path -Path $script:spool -ChildPath ('{0}_older-a.json' -f (Get-Date).AddHours(-1).ToUniversalTime().ToString('yyyyMMddTHHmmssfffZ', [System.Globalization.CultureInfo]::InvariantCulture))
            $null = New-Item -ItemType Directory -Path $script:spool -Force
            $text = [System.Text.Encoding]::ASCII.GetBytes('{"snapshotId":"older-a","note":"caf')
            $tail = [System.Text.Encoding]::ASCII.GetBytes('"}' + "`r`n")
            [System.IO.File]::WriteAllBytes($file, [byte[]](@(0xEF, 0xBB, 0xBF) + $text + @(0xC3, 0xA9, 0x20, 0xFF) + $tail))
            $original = [System.IO.File]::ReadAllBytes($file)
            Mock Invoke-PostureHttpRequest { & $script:refusingOlderA $Body }
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            @($script:posted) | Should -Be @('older-a', (& $script:id 1))
            @(& $script:spooled).Count | Should -Be 0
            $copy = Join-Path -Path $script:rejected -ChildPath 'older-a.json'
            [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($copy)) | Should -BeExactly ([System.Convert]::ToBase64String($original))
            # Nothing was repaired, so the lines say nothing of a repair.
            @($r.Lines | Where-Object { $_ -like 'Spooled snapshot older-a refused*' }) | Should -BeExactly @(('Spooled snapshot older-a refused by the service: HTTP 400 invalid_snapshot: bad. A copy is in {0}.' -f $copy))
            & $script:log | Should -Not -Match 'U\+FFFD'
        }

        It 'the run''s own refused snapshot: the output names the copy too, exit 2' {
            Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:refused }
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            $copy = Join-Path -Path $script:rejected -ChildPath ('{0}.json' -f (& $script:id 1))
            ($r.Lines -join "`n") | Should -Match ([regex]::Escape(('refused by the service: HTTP 400 invalid_snapshot: bad. A copy is in {0}.' -f $copy)))
        }

        It 'rejected\ keeps the 20 newest copies, whichever path wrote them' {
            & $script:fillRejected
            & $script:spoolOlderA '{"snapshotId":"older-a"}'
            Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:refused }
            (& $script:run).ExitCode | Should -Be 2
            $names = @(Get-ChildItem -LiteralPath $script:rejected -Filter '*.json' | ForEach-Object { $_.Name } | Sort-Object)
            $names.Count | Should -Be 20
            # The two oldest copies made room for the spooled one and the run's own.
            $names | Should -Not -Contain 'old01.json'
            $names | Should -Not -Contain 'old02.json'
            $names | Should -Contain 'old03.json'
            $names | Should -Contain 'older-a.json'
            $names | Should -Contain ('{0}.json' -f (& $script:id 1))
        }

        It 'an old copy in rejected\ that cannot be deleted is logged; the run goes on and delivers its own snapshot' {
            & $script:fillRejected
            & $script:spoolOlderA '{"snapshotId":"older-a"}'
            Mock Remove-Item { throw 'The process cannot access the file because it is being used by another process.' } -ParameterFilter { $LiteralPath -like '*old01.json' }
            Mock Invoke-PostureHttpRequest { & $script:refusingOlderA $Body }
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            @($script:posted) | Should -Be @('older-a', (& $script:id 1))
            @(& $script:spooled).Count | Should -Be 0
            Test-Path -LiteralPath (Join-Path -Path $script:rejected -ChildPath 'old01.json') | Should -BeTrue
            Test-Path -LiteralPath (Join-Path -Path $script:rejected -ChildPath 'older-a.json') | Should -BeTrue
            & $script:log | Should -Match 'old01\.json \(beyond the 20 refused copies kept\) could not be removed: .*being used by another process'
        }

        It 'a refused spooled snapshot whose copy cannot be written stays in the spool, and the output says so' {
            & $script:spoolOlderA '{"snapshotId":"older-a"}'
            Mock Write-PostureFileBytes { throw 'There is not enough space on the disk.' } -ParameterFilter { $Path -like '*rejected*' }
            Mock Invoke-PostureHttpRequest { & $script:refusingOlderA $Body }
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            @(& $script:spooled) | Should -Be @('older-a')
            ($r.Lines -join "`n") | Should -Match 'Spooled snapshot older-a refused by the service: .*No copy could be written to .*rejected; it stays in the spool\.'
            & $script:log | Should -Match 'not enough space on the disk'
        }

        It 'a refused spooled snapshot whose spool file is gone before its copy is made (another run, an admin): the output and the log say so, not that it stays' {
            & $script:spoolOlderA '{"snapshotId":"older-a"}'
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                if ($script:posted[-1] -eq 'older-a') {
                    Remove-Item -Path (Join-Path -Path $script:spool -ChildPath '*_older-a.json')
                    return $script:refused
                }
                (New-AcceptedAnswer -Body $Body)
            }
            $r = & $script:run
            $r.ExitCode | Should -Be 2
            @($script:posted) | Should -Be @('older-a', (& $script:id 1))
            $said = @($r.Lines | Where-Object { $_ -like 'Spooled snapshot older-a refused*' })
            $said.Count | Should -Be 1
            $said[0] | Should -Match 'No copy could be written to .*rejected; it is no longer in the spool either \(removed meanwhile, by another run or by hand\)\.$'
            $said[0] | Should -Not -Match 'stays in the spool'
            & $script:log | Should -Match 'Spooled snapshot older-a refused, not retried: .*No copy could be written to .*rejected \(.*\); it is no longer in the spool either \(removed meanwhile, by another run or by hand\)\.'
            & $script:log | Should -Not -Match 'stays in the spool'
            Test-Path -LiteralPath (Join-Path -Path $script:rejected -ChildPath 'older-a.json') | Should -BeFalse
        }

        It 'the run''s own refused snapshot whose copy cannot be written and whose spool file is gone: the line says it is no longer in the spool' {
            $gone = Join-Path -Path $script:spool -ChildPath '20261201T000000000Z_own.json'
            Mock Write-PostureTextFile { throw 'There is not enough space on the disk.' } -ParameterFilter { $Path -like '*rejected*' }
            $line = Move-PostureRejectedSnapshot -DataPath $script:data -SnapshotId 'own' -Json '{}' -SpoolFile $gone -Why 'HTTP 400 invalid_snapshot: bad' -WarningAction SilentlyContinue
            $line | Should -BeLike 'Snapshot own refused by the service: HTTP 400 invalid_snapshot: bad. No copy could be written to *rejected; it is no longer in the spool either (removed meanwhile, by another run or by hand).'
            # Still there: the old wording, true.
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'own2' -Json '{}')
            $here = @(Get-PostureSpoolItem -SpoolPath $script:spool)[0].FullName
            (Move-PostureRejectedSnapshot -DataPath $script:data -SnapshotId 'own2' -Json '{}' -SpoolFile $here -Why 'HTTP 400 invalid_snapshot: bad' -WarningAction SilentlyContinue) | Should -BeLike '*; it stays in the spool.'
        }
    }

    Context 'answers that are not the service''s verdict on the snapshot: the spool is kept' {
        BeforeEach {
            $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
            # A week of snapshots waiting, as after an outage.
            foreach ($n in 1..30) { [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId ('older-{0:D2}' -f $n) -Json ('{{"snapshotId":"older-{0:D2}"}}' -f $n) -Now (Get-Date).AddHours(-31 + $n)) }
            $script:rejected = Join-Path -Path $script:data -ChildPath 'rejected'
        }

        It '<Why> (HTTP <Code>): nothing moves to rejected\, the first file stops the run, all 31 stay for the next run' -TestCases @(
            @{ Why = 'a front end whose functions did not load'; Code = 404; Content = '<html><body>Not Found</body></html>' }
            @{ Why = 'an upload that stalled'; Code = 400; Content = '{"error":"incomplete_body","message":"The body did not arrive in full."}' }
            @{ Why = 'an endpoint with a query in it'; Code = 400; Content = '{"error":"invalid_query","message":"The snapshots route takes no query parameters."}' }
            @{ Why = 'a proxy''s sign-in page'; Code = 200; Content = '<html>Sign in</html>' }
            # Only the service's "outcome" (accepted, duplicate, stale) lets a snapshot leave the spool.
            @{ Why = 'a gateway that queued the request'; Code = 202; Content = '' }
            @{ Why = 'JSON that is not the service''s answer'; Code = 201; Content = '{"status":"accepted","id":"1"}' }
            @{ Why = 'the service''s outcome word that is not its verdict'; Code = 201; Content = '{"snapshotId":"older-01","outcome":"ok","results":[]}' }
            # A verdict lets only the snapshot it names leave the spool (a cache, a replayed answer).
            @{ Why = 'a verdict on another snapshot'; Code = 201; Content = '{"snapshotId":"older-02","server":"exch01","outcome":"accepted","results":[]}' }
            @{ Why = 'a verdict that names no snapshot'; Code = 200; Content = '{"server":"exch01","outcome":"duplicate","results":[]}' }
            @{ Why = 'a verdict whose snapshotId is not text'; Code = 201; Content = '{"snapshotId":["older-01"],"server":"exch01","outcome":"accepted","results":[]}' }
        ) {
            param($Code, $Content)
            $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = $null }
            Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:answer }
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            @($script:posted) | Should -Be @('older-01')
            @(& $script:spooled).Count | Should -Be 31
            Test-Path -LiteralPath $script:rejected | Should -BeFalse
            & $script:log | Should -Match 'older-01\.json not delivered'

            $script:posted.Clear()
            Mock Invoke-PostureHttpRequest { & $script:record $Body; (New-AcceptedAnswer -Body $Body) }
            (& $script:run).ExitCode | Should -Be 0
            @($script:posted).Count | Should -Be 32
            @(& $script:spooled).Count | Should -Be 0
        }

        It 'a verdict on another snapshot than the one sent says so in the output and the log, in the words used for answers from in front of the service; the snapshot stays' {
            [System.IO.Directory]::Delete($script:spool, $true)
            Mock Invoke-PostureHttpRequest { & $script:record $Body; @{ StatusCode = 201; Content = '{"snapshotId":"5f0c9d1e-0000-4000-8000-000000000099","server":"exch01","outcome":"accepted","results":[]}'; RetryAfter = $null; Error = $null } }
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            @(& $script:spooled) | Should -Be @((& $script:id 1))
            $from = 'HTTP 201 from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: a verdict on snapshot 5f0c9d1e-0000-4000-8000-000000000099, not on the one sent'
            @($r.Lines) | Should -Be @(('Snapshot {0} not delivered ({1}); spooled for the next run.' -f (& $script:id 1), $from))
            & $script:log | Should -Match ('Snapshot {0} not delivered \({1}\); spooled to ' -f (& $script:id 1), [regex]::Escape($from))
            & $script:log | Should -Not -Match '(?<!not )delivered \(HTTP 201'

            Mock Invoke-PostureHttpRequest { & $script:record $Body; @{ StatusCode = 201; Content = '{"server":"exch01","outcome":"accepted","results":[]}'; RetryAfter = $null; Error = $null } }
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            ($r.Lines -join "`n") | Should -Match ([regex]::Escape('earlier spooled snapshots could not be delivered'))
            & $script:log | Should -Match ([regex]::Escape('not delivered (HTTP 201 from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: a verdict that names no snapshot); the spool is kept for the next run.'))
            @(& $script:spooled) | Should -Be @((& $script:id 1), (& $script:id 2))
        }

        It 'the service''s verdict names the snapshot lower-cased: one sent in capitals is delivered' {
            [System.IO.Directory]::Delete($script:spool, $true)
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'OLDER-A' -Json '{"snapshotId":"OLDER-A"}' -Now (Get-Date).AddHours(-1))
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                $answer = New-AcceptedAnswer -Body $Body
                $answer['Content'] = $answer['Content'].ToLowerInvariant()
                $answer
            }
            (& $script:run).ExitCode | Should -Be 0
            @($script:posted) | Should -Be @('OLDER-A', (& $script:id 1))
            @(& $script:spooled).Count | Should -Be 0
        }

        It 'a 200 without a verdict says so in the log, not "delivered", in the words used for every answer from in front of the service' {
            [System.IO.Directory]::Delete($script:spool, $true)
            Mock Invoke-PostureHttpRequest { & $script:record $Body; @{ StatusCode = 200; Content = "<html><head><title>Sign in</title></head>`r`n<body>x-api-key: k1-echoed-by-the-page</body></html>"; RetryAfter = $null; Error = $null } }
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            $from = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered; it answered: Sign in'
            ($r.Lines -join "`n") | Should -Match ('not delivered \({0}\); spooled for the next run' -f [regex]::Escape($from))
            & $script:log | Should -Match ('not delivered \({0}\); spooled to ' -f [regex]::Escape($from))
            & $script:log | Should -Not -Match '(?<!not )delivered \(HTTP 200'
        }

        It 'the log names the service''s outcome of each delivered snapshot: accepted, duplicate, stale' {
            [System.IO.Directory]::Delete($script:spool, $true)
            $script:answers = [System.Collections.Queue]::new(@('accepted', 'duplicate', 'stale'))
            Mock Invoke-PostureHttpRequest { & $script:record $Body; New-AcceptedAnswer -Body $Body -Outcome $script:answers.Dequeue() -StatusCode 200 }
            foreach ($n in 1..3) { (& $script:run).ExitCode | Should -Be 0 }
            $log = & $script:log
            foreach ($n in 1..3) { $log | Should -Match ('Snapshot {0} delivered \(HTTP 200, {1}\)\.' -f (& $script:id $n), @('accepted', 'duplicate', 'stale')[$n - 1]) }
        }
    }

    Context 'a host clock ahead of the service''s: 400 collected_in_future keeps the snapshot in the spool' {
        BeforeEach {
            # A real HTTP answer (TestHttpServer.ps1), so its Date header reaches the run's clock check.
            Use-TestServerRun
            Mock New-PostureSnapshot { $script:seq++; New-FakeSnapshot -Sequence $script:seq }
            $script:spool = Join-Path -Path $script:data -ChildPath 'spool'
            $script:rejected = Join-Path -Path $script:data -ChildPath 'rejected'
            $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
            # The service's answer to a snapshot dated 7 minutes ahead of it, with its clock as Date (or none).
            $script:inFuture = {
                param([string]$Date)
                $headers = @{}
                if ($Date) { $headers['Date'] = $Date }
                $body = '{"error":"collected_in_future","message":"The snapshot''s collectedAt is 7 minutes ahead of the service''s clock: it can be sent again once it is less than 5 minutes ahead, and the host''s clock should be corrected.","issues":[{"path":"collectedAt","message":"collectedAt is more than 5 minutes in the future of the receiver''s clock"}]}'
                New-TestHttpResponse -StatusCode 400 -Reason 'Bad Request' -Headers $headers -Body $body
            }
            # The service's verdict names the snapshot it answers for.
            $script:acceptedFor = { param([string]$Id) New-TestHttpResponse -StatusCode 201 -Reason 'Created' -Body ('{"snapshotId":"' + $Id + '","server":"exch01","outcome":"accepted","results":[]}') }
            $script:kept = 'the snapshot stays in the spool and is sent again by a later run, taken once it is less than 5 minutes ahead; fix this host''s time sync (w32tm /resync)'
        }
        AfterEach {
            if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
        }

        It 'the run''s own snapshot: kept in the spool, nothing in rejected\, exit 1; the log says this host''s clock is ahead, by what the Date showed' {
            $r = & $script:run @((& $script:inFuture (Get-SimulatedHttpDate -420)))
            $r.ExitCode | Should -Be 1
            @($script:server.Requests) | Should -Be @('POST /api/snapshots HTTP/1.1')
            @(& $script:spooled) | Should -Be @((& $script:id 1))
            Test-Path -LiteralPath $script:rejected | Should -BeFalse
            $said = 'Snapshot {0} not delivered (HTTP 400 collected_in_future: this host''s clock is ahead of the service''s by 420 s (7 min): {1})' -f (& $script:id 1), $script:kept
            & $script:log | Should -Match ([regex]::Escape($said + '; spooled to '))
            ($r.Lines -join "`n") | Should -Match ([regex]::Escape($said + '; spooled for the next run.'))
        }

        It 'an answer without a Date: the log still says this host''s clock is ahead, without a number' {
            $r = & $script:run @((& $script:inFuture ''))
            $r.ExitCode | Should -Be 1
            @(& $script:spooled) | Should -Be @((& $script:id 1))
            Test-Path -LiteralPath $script:rejected | Should -BeFalse
            & $script:log | Should -Match ([regex]::Escape(('not delivered (HTTP 400 collected_in_future: this host''s clock is ahead of the service''s: {0})' -f $script:kept)))
        }

        It 'a spooled snapshot: it and the new one stay, in order, and the next run delivers both once the service takes them' {
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-1))
            $r = & $script:run @((& $script:inFuture (Get-SimulatedHttpDate -420)), (& $script:inFuture (Get-SimulatedHttpDate -420)))
            $r.ExitCode | Should -Be 1
            # The service answered the spooled one: the new one is sent too, not held behind it.
            @($script:server.Requests).Count | Should -Be 2
            @(& $script:spooled) | Should -Be @('older-a', (& $script:id 1))
            Test-Path -LiteralPath $script:rejected | Should -BeFalse
            & $script:log | Should -Match ('Spooled snapshot \S*older-a\.json not delivered \({0}\)\.' -f [regex]::Escape(('HTTP 400 collected_in_future: this host''s clock is ahead of the service''s by 420 s (7 min): {0}' -f $script:kept)))
            ($r.Lines -join "`n") | Should -Match ([regex]::Escape(('Snapshot {0} not delivered (HTTP 400 collected_in_future: this host''s clock is ahead' -f (& $script:id 1))))

            Stop-TestHttpServer -Server $script:server
            $r = & $script:run @((& $script:acceptedFor 'older-a'), (& $script:acceptedFor (& $script:id 1)), (& $script:acceptedFor (& $script:id 2)))
            $r.ExitCode | Should -Be 0
            @($script:server.Requests).Count | Should -Be 3
            @(& $script:spooled).Count | Should -Be 0
        }

        It 'a spooled snapshot dated days ahead (a clock put right since) is refused for good, and the run goes on to the new one' {
            # Taken once real time caught up, it would be the newest and make every later snapshot stale.
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'far-ahead' -Json '{"snapshotId":"far-ahead"}' -Now (Get-Date).AddDays(2))
            $r = & $script:run @((& $script:inFuture (Get-SimulatedHttpDate 0)), (& $script:acceptedFor (& $script:id 1)))
            $r.ExitCode | Should -Be 2
            @($script:server.Requests).Count | Should -Be 2
            @(& $script:spooled).Count | Should -Be 0
            Test-Path -LiteralPath (Join-Path -Path $script:rejected -ChildPath 'far-ahead.json') | Should -BeTrue
            & $script:log | Should -Match 'dated more than an hour ahead of the service''s clock'
        }

        It 'the run''s own snapshot from a clock more than an hour ahead is refused for good, not kept' {
            $r = & $script:run @((& $script:inFuture (Get-SimulatedHttpDate -7200)))
            $r.ExitCode | Should -Be 2
            @(& $script:spooled).Count | Should -Be 0
            Test-Path -LiteralPath (Join-Path -Path $script:rejected -ChildPath ('{0}.json' -f (& $script:id 1))) | Should -BeTrue
        }
    }

    Context 'Retry-After: waited in full, within a cap and the run''s budget' {
        BeforeEach {
            $script:busyFor = { param([double]$Seconds) @{ StatusCode = 503; Content = '{"error":"storage_unavailable"}'; RetryAfter = $Seconds; Error = $null } }
            $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
        }

        It 'a Retry-After of 120 s is waited in full, not cut to -MaxDelaySeconds (60); the snapshot is delivered once' {
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                if ($script:posted.Count -eq 1) { return (& $script:busyFor 120) }
                (New-AcceptedAnswer -Body $Body)
            }
            (& $script:run).ExitCode | Should -Be 0
            @($script:posted) | Should -Be @((& $script:id 1), (& $script:id 1))
            Assert-WaitedOnceInFull -WaitSeconds 120 -Spooled $script:spooled
        }

        It 'a Retry-After longer than -MaxRetryAfterSeconds (300 by default) is neither waited for nor answered sooner: spooled, exit 1, the output and log say how long' {
            Mock Invoke-PostureHttpRequest { & $script:record $Body; & $script:busyFor 400 }
            $r = & $script:run
            $r.ExitCode | Should -Be 1
            @($script:posted) | Should -Be @((& $script:id 1))
            Should -Invoke Wait-PostureRetry -Times 0 -Exactly
            @(& $script:spooled) | Should -Be @((& $script:id 1))
            $said = 'not delivered \(the service asked to wait 400 s \(HTTP 503\), longer than the 300 s a retry may wait \(-MaxRetryAfterSeconds\)\)'
            ($r.Lines -join "`n") | Should -Match ('Snapshot {0} {1}; spooled for the next run\.' -f (& $script:id 1), $said)
            & $script:log | Should -Match $said

            # A higher cap: the next run waits the 400 s and delivers both, each once.
            $script:posted.Clear()
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                if ($script:posted.Count -eq 1) { return (& $script:busyFor 400) }
                (New-AcceptedAnswer -Body $Body)
            }
            (& $script:run @{ MaxRetryAfterSeconds = 600 }).ExitCode | Should -Be 0
            Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 400 }
            @($script:posted) | Should -Be @((& $script:id 1), (& $script:id 1), (& $script:id 2))
            @(& $script:spooled).Count | Should -Be 0
        }

        It 'a Retry-After longer than the time left of the budget is not waited for: the spooled snapshot and the new one wait for the next run, and the output says so' {
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-1))
            # Each request takes 10 s: 190 s of the 200 s budget are left when 250 s are asked for.
            Mock Invoke-PostureHttpRequest { & $script:record $Body; $script:clock = $script:clock.AddSeconds(10); & $script:busyFor 250 }
            $r = & $script:run @{ RunBudgetSeconds = 200 }
            $r.ExitCode | Should -Be 1
            @($script:posted) | Should -Be @('older-a')
            Should -Invoke Wait-PostureRetry -Times 0 -Exactly
            @(& $script:spooled) | Should -Be @('older-a', (& $script:id 1))
            $said = 'the service asked to wait 250 s \(HTTP 503\), longer than the 190 s left of the run''s time budget'
            ($r.Lines -join "`n") | Should -Match ('Snapshot {0} not delivered \(earlier spooled snapshots could not be delivered: {1}\); spooled for the next run\.' -f (& $script:id 1), $said)
            & $script:log | Should -Match ('Spooled snapshot \S*older-a\.json not delivered \({0}\)' -f $said)
        }
    }

    Context 'the run''s time budget' {
        It 'stops retrying before the budget is passed, never lets a request outlast it, and leaves the rest spooled' {
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-2))
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddHours(-1))
            $script:timeouts = New-Object System.Collections.ArrayList
            # Each request takes its whole timeout and is answered 503 with Retry-After: 60.
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                [void]$script:timeouts.Add($TimeoutSec)
                $script:clock = $script:clock.AddSeconds($TimeoutSec)
                @{ StatusCode = 503; Content = ''; RetryAfter = 60; Error = $null }
            }
            $r = & $script:run @{ RunBudgetSeconds = 280; TimeoutSec = 60 }
            $r.ExitCode | Should -Be 1
            # 0-60 request, 60-120 wait, 120-180 request, 180-240 wait, 240-280 request cut to 40 s;
            # a fourth attempt would need another wait: not made.
            @($script:timeouts) | Should -Be @(60, 60, 40)
            @($script:posted) | Should -Be @('older-a', 'older-a', 'older-a')
            Should -Invoke Wait-PostureRetry -Times 2 -Exactly
            ($script:clock - $script:start).TotalSeconds | Should -BeLessOrEqual 280
            @(& $script:spooled) | Should -Be @('older-a', 'older-b', (& $script:id 1))
            ($r.Lines -join "`n") | Should -Match 'Time budget of 280 s spent: 3 snapshot\(s\) stay in the spool'
            ($r.Lines -join "`n") | Should -Match ('Snapshot {0} not delivered \(the run''s time budget of 280 s was spent on earlier spooled snapshots\)' -f (& $script:id 1))
            Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match 'time budget of 280 s is spent'
        }

        It 'sends what fits in the budget and starts no request after it; the next run sends the rest' {
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-a' -Json '{"snapshotId":"older-a"}' -Now (Get-Date).AddHours(-3))
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-b' -Json '{"snapshotId":"older-b"}' -Now (Get-Date).AddHours(-2))
            [void](Save-PostureSpoolItem -SpoolPath $script:spool -SnapshotId 'older-c' -Json '{"snapshotId":"older-c"}' -Now (Get-Date).AddHours(-1))
            # A slow service: each post takes 100 s and is accepted; a shorter timeout cuts it off.
            Mock Invoke-PostureHttpRequest {
                & $script:record $Body
                if ($TimeoutSec -lt 100) {
                    $script:clock = $script:clock.AddSeconds($TimeoutSec)
                    return @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'The operation has timed out.' }
                }
                $script:clock = $script:clock.AddSeconds(100)
                (New-AcceptedAnswer -Body $Body)
            }
            $r = & $script:run @{ RunBudgetSeconds = 250; TimeoutSec = 120 }
            $r.ExitCode | Should -Be 1
            # a 0-100, b 100-200, c 200-250 cut off at the budget's end; no retry, no further post.
            @($script:posted) | Should -Be @('older-a', 'older-b', 'older-c')
            @(& $script:spooled) | Should -Be @('older-c', (& $script:id 1))
            Should -Invoke Wait-PostureRetry -Times 0 -Exactly
            ($script:clock - $script:start).TotalSeconds | Should -Be 250

            $script:posted.Clear()
            (& $script:run @{ RunBudgetSeconds = 1500; TimeoutSec = 120 }).ExitCode | Should -Be 0
            @($script:posted) | Should -Be @('older-c', (& $script:id 1), (& $script:id 2))
            @(& $script:spooled).Count | Should -Be 0
        }

        It 'Invoke-PostureHttpRequestWithRetry with a spent deadline asks nothing: Attempts 0, OutOfTime' {
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{}'; RetryAfter = $null; Error = $null } }
            $r = Invoke-PostureHttpRequestWithRetry -Method Get -Uri 'https://x/api/manifest' -RetryPolicy (New-PostureRetryPolicy -Deadline $script:clock.AddMilliseconds(500))
            $r.Attempts | Should -Be 0
            $r.OutOfTime | Should -BeTrue
            Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly
            $r = Invoke-PostureHttpRequestWithRetry -Method Get -Uri 'https://x/api/manifest' -RetryPolicy (New-PostureRetryPolicy -Deadline $script:clock.AddSeconds(30) -TimeoutSec 60)
            $r.StatusCode | Should -Be 201
            $r.OutOfTime | Should -BeFalse
            Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $TimeoutSec -eq 30 }
        }

        It 'a dry run (-OutFile) has no budget and sends nothing' {
            Mock Invoke-PostureHttpRequest { throw 'must not be called' }
            $out = Join-Path -Path $TestDrive -ChildPath 'dry.json'
            $r = Invoke-PostureSnapshot -OutFile $out -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -RunBudgetSeconds 1
            $r.ExitCode | Should -Be 0
            Should -Invoke Get-PostureManifest -Times 1 -Exactly -ParameterFilter { $null -eq $RetryPolicy.Deadline }
            @(& $script:spooled).Count | Should -Be 0
        }
    }
}
