# Pester 5 tests of half of a UTF-16 surrogate pair in what a run collects: the service refuses a
# snapshot holding one, so the collector sends U+FFFD in its place, keeps whole pairs, and says in
# its output and log which registry value, service or file held it and how many it replaced. The
# reads come from the fixture seam (Private/Fixture.ps1), given as objects: a JSON fixture file
# cannot carry a half character through PowerShell 7's ConvertFrom-Json, which makes it U+FFFD.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:high = [string][char]0xD800
    $script:low = [string][char]0xDC00
    $script:pair = [string][char]0xD83D + [string][char]0xDE00
    $script:fffd = [string][char]0xFFFD
    $script:bb = 'HKLM\SOFTWARE\McAfee\SystemCore\VSCore\On Access Scanner\BehaviourBlocking'
    # Each text holds a lone high half, a lone low half and a whole pair.
    $script:halves = { param([string]$Before, [string]$Between, [string]$After) $Before + $script:high + $Between + $script:low + $After + $script:pair }
    $script:repaired = { param([string]$Before, [string]$Between, [string]$After) $Before + $script:fffd + $Between + $script:fffd + $After + $script:pair }
    $script:logPath = & $script:halves 'C:\Logs\a' 'b' 'c'
    $script:logPathSent = & $script:repaired 'C:\Logs\a' 'b' 'c'
    $script:servicePath = & $script:halves 'C:\Program Files\McAfee\' 'Mcshield' '.exe '
    $script:servicePathSent = & $script:repaired 'C:\Program Files\McAfee\' 'Mcshield' '.exe '

    $local = Join-Path -Path $TestDrive -ChildPath 'apl.txt'
    [System.IO.File]::WriteAllText($local, "11/30/2026`t10:00:00 PM`tBlocked by port blocking rule`r`n", (New-Object System.Text.UTF8Encoding($false)))
    $script:fixture = @{
        host     = @{ os = @{ caption = 'Microsoft Windows Server 2019 Standard'; version = '10.0.17763'; architecture = '64-bit' } }
        registry = @(
            @{ path = $script:bb; view = '32'; exists = $true; values = @(
                    @{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:logPath },
                    @{ name = 'Whole'; type = 'REG_SZ'; data = ('fine ' + $script:pair) }
                ) }
        )
        services = @(@{ name = 'McShield'; displayName = 'McAfee McShield'; state = 'Running'; started = $true; startMode = 'Auto'; pathName = $script:servicePath; processId = 1432 })
        files    = @(@{ path = $script:logPath; file = $local })
    }
    $script:manifestPath = Join-Path -Path $TestDrive -ChildPath 'manifest.json'
    $manifest = [ordered]@{
        schema   = 'fleet-posture/manifest@1'
        version  = 'sha256:' + ('0' * 64)
        registry = @([ordered]@{ path = $script:bb; recurse = $false })
        services = @('McShield')
        files    = @([ordered]@{ path = 'C:\default.txt'; tailBytes = 4096; pathFrom = @([ordered]@{ registryPath = $script:bb; valueName = 'szLogFileName' }) })
    }
    [System.IO.File]::WriteAllText($script:manifestPath, (ConvertTo-PostureJson -InputObject $manifest))
    $script:halfPattern = 'halves of UTF-16 surrogate pairs'
    # The JSON text as sent: no \ud800-\udfff escape, each value as repaired, the pair as it was.
    $script:assertSentText = {
        param([string]$Json)
        $Json | Should -Not -Match '\\ud[89a-f][0-9a-f]{2}'
        $Json.Contains((ConvertTo-PostureJsonString -Value $script:logPathSent)) | Should -BeTrue
        $Json.Contains((ConvertTo-PostureJsonString -Value $script:servicePathSent)) | Should -BeTrue
        $Json.Contains('"fine ' + $script:pair + '"') | Should -BeTrue
    }
    $script:assertWarnings = {
        param([string[]]$Said)
        $Said.Count | Should -Be 3
        $Said[0] | Should -Be ('Registry value "szLogFileName" of {0} (view 32): 2 characters were halves of UTF-16 surrogate pairs (characters cut in two) and are sent as U+FFFD, as the service refuses a snapshot holding one; the rest is sent as read.' -f $script:bb)
        $Said[1] | Should -Be 'Service "McShield" (pathName): 2 characters were halves of UTF-16 surrogate pairs (characters cut in two) and are sent as U+FFFD, as the service refuses a snapshot holding one; the rest is sent as read.'
        $Said[2] | Should -Be ('File {0} (path): 2 characters were halves of UTF-16 surrogate pairs (characters cut in two) and are sent as U+FFFD, as the service refuses a snapshot holding one; the rest is sent as read.' -f $script:logPathSent)
    }
}

Describe 'ConvertTo-PostureJson and half of a surrogate pair' {
    It 'writes a lone high or low half as \ufffd, and a whole pair as it is' -ForEach @(
        @{ Why = 'a high half alone'; Text = ('a' + [char]0xD800 + 'b'); Json = '"a\ufffdb"' }
        @{ Why = 'a high half at the end'; Text = ('a' + [char]0xDBFF); Json = '"a\ufffd"' }
        @{ Why = 'a low half alone'; Text = ([string][char]0xDC00 + 'b'); Json = '"\ufffdb"' }
        @{ Why = 'a low half before a high half'; Text = ([string][char]0xDFFF + [char]0xD800); Json = '"\ufffd\ufffd"' }
        @{ Why = 'a whole pair'; Text = ([string][char]0xD83D + [char]0xDE00); Json = ('"' + [char]0xD83D + [char]0xDE00 + '"') }
    ) {
        ConvertTo-PostureJson -InputObject $Text | Should -Be $Json
    }
}

Describe 'Repair-PostureSnapshotText' {
    It 'replaces every half in the snapshot''s strings, keeps whole pairs, and names each value once with its count' {
        $s = New-FakeSnapshot
        $key = [ordered]@{ path = ($script:bb + '\K' + $script:low); view = '64'; exists = $true; values = @(
                [ordered]@{ name = ('n' + $script:high); type = 'REG_MULTI_SZ'; data = [string[]]@(('x' + $script:low), ('y' + $script:pair)) },
                [ordered]@{ name = 'ok'; type = 'REG_DWORD'; data = 1 }
            ) }
        $s['registry'] = @($key)
        $s['services'] = @([ordered]@{ name = 'Svc'; displayName = ('D' + $script:high); state = 'Running'; started = $true; startMode = 'Auto'; pathName = $null })
        $s['files'] = @([ordered]@{ path = 'C:\x.txt'; exists = $true; tail = ('t' + $script:high + $script:pair) })
        # One array, as the function returns it (no @() around it).
        $said = Repair-PostureSnapshotText -Snapshot $s
        $said.Count | Should -Be 4
        $said[0] | Should -BeLike ('Registry key {0}\K{1} (view 64): 1 character was half of a UTF-16 surrogate pair (a character cut in two) and is sent as U+FFFD, *' -f $script:bb, $script:fffd)
        $said[1] | Should -BeLike ('Registry value "n{0}" of {1}\K{0} (view 64): 2 characters were halves *' -f $script:fffd, $script:bb)
        $said[2] | Should -BeLike 'Service "Svc" (displayName): 1 character was half *'
        $said[3] | Should -BeLike 'File C:\x.txt (tail): 1 character was half *'
        @($key['values'][0]['data']) | Should -Be @(('x' + $script:fffd), ('y' + $script:pair))
        $s['services'][0]['pathName'] | Should -BeNullOrEmpty
        $s['files'][0]['tail'] | Should -Be ('t' + $script:fffd + $script:pair)
        (Repair-PostureSnapshotText -Snapshot $s).Count | Should -Be 0
    }
}

Describe 'A run that collects half of a surrogate pair' {
    BeforeEach {
        Mock Get-PostureFixture { $script:fixture }
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
    }

    It 'dry run: the file written holds U+FFFD for each half and the pair as it was; the output says which values, with their counts' {
        $out = Join-Path -Path $script:data -ChildPath 'snapshot.json'
        $run = Invoke-PostureSnapshot -OutFile $out -ManifestPath $script:manifestPath -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 0
        & $script:assertSentText ([System.IO.File]::ReadAllText($out, [System.Text.Encoding]::UTF8))
        & $script:assertWarnings @($run.Lines | Where-Object { $_ -match $script:halfPattern })
    }

    It 'a run that sends: the service gets the repaired snapshot and takes it; the log holds the same warnings' {
        Mock Set-PostureTlsProtocol { $null }
        $script:sent = ''
        Mock Invoke-PostureHttpRequest {
            $script:sent = [System.Text.Encoding]::UTF8.GetString($Body)
            New-AcceptedAnswer -Body $Body
        }
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -ManifestPath $script:manifestPath -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 0
        & $script:assertSentText $script:sent
        & $script:assertWarnings @($run.Lines | Where-Object { $_ -match $script:halfPattern })
        $logged = @(Get-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') -Encoding UTF8 | Where-Object { $_ -match $script:halfPattern })
        $logged.Count | Should -Be 3
        foreach ($l in $logged) { $l | Should -Match '^\S+ WARNING ' }
        & $script:assertWarnings @($logged | ForEach-Object { $_ -replace '^\S+ WARNING +', '' })
        @(Get-ChildItem -LiteralPath (Join-Path -Path $script:data -ChildPath 'spool') -Filter '*.json').Count | Should -Be 0
    }
}

Describe 'A spooled snapshot an older collector wrote with an escaped half character' {
    BeforeEach {
        Mock Set-PostureTlsProtocol { $null }
        Mock New-PostureSnapshot { New-FakeSnapshot -Sequence 1 }
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:bodies = New-Object System.Collections.Generic.List[string]
        # The service: a snapshot holding an escaped half character is refused for good.
        Mock Invoke-PostureHttpRequest {
            $text = [System.Text.Encoding]::UTF8.GetString($Body)
            $script:bodies.Add($text)
            if ($text -match '(?i)(?<!\\)\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})(?<!\\)\\ud[c-f][0-9a-f]{2}') {
                return @{ StatusCode = 400; Content = '{"error":"invalid_snapshot","message":"lone surrogate","issues":[]}'; RetryAfter = $null; Error = 'Bad Request' }
            }
            # ...and so is one that is wrong for another reason, repaired or not.
            if ($text.Contains('"refuse":true')) {
                return @{ StatusCode = 400; Content = '{"error":"invalid_snapshot","message":"wrong for another reason","issues":[]}'; RetryAfter = $null; Error = 'Bad Request' }
            }
            New-AcceptedAnswer -Body $Body
        }
        $script:spooledJson = {
            param([string]$Data)
            '{"schema":"fleet-posture/snapshot@1","snapshotId":"00000000-0000-4000-8000-000000000007","registry":[{"path":"HKLM\\SOFTWARE\\X","view":"64","exists":true,"values":[{"name":"v","type":"REG_SZ","data":"' + $Data + '"}]}],"services":[],"files":[]}'
        }
    }

    It '<Why>: sent as <Sent>, <Replaced> replaced, delivered' -ForEach @(
        @{ Why = 'a high half alone'; Written = 'a\ud800b'; Sent = 'a\ufffdb'; Replaced = 1 }
        @{ Why = 'a high half in upper case at the end'; Written = 'a\uDBFF'; Sent = 'a\ufffd'; Replaced = 1 }
        @{ Why = 'a low half alone'; Written = '\udc00b'; Sent = '\ufffdb'; Replaced = 1 }
        @{ Why = 'a low half before a high half'; Written = '\uDFFF\uD800'; Sent = '\ufffd\ufffd'; Replaced = 2 }
        @{ Why = 'a high half before a whole pair, then a low half'; Written = '\ud800\ud83d\ude00\udc00'; Sent = '\ufffd\ud83d\ude00\ufffd'; Replaced = 2 }
        @{ Why = 'a whole pair'; Written = 'x\uD83D\uDE00'; Sent = 'x\uD83D\uDE00'; Replaced = 0 }
        @{ Why = 'an escaped backslash before the text udc00'; Written = 'C:\\udc00'; Sent = 'C:\\udc00'; Replaced = 0 }
    ) {
        $spool = Join-Path -Path $script:data -ChildPath 'spool'
        $file = Save-PostureSpoolItem -SpoolPath $spool -SnapshotId '00000000-0000-4000-8000-000000000007' -Json (& $script:spooledJson $Written) -Now (Get-Date).AddHours(-1)
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -ManifestPath $script:manifestPath -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 0
        $script:bodies.Count | Should -Be 2
        $script:bodies[0] | Should -BeExactly (& $script:spooledJson $Sent)
        @(Get-ChildItem -LiteralPath $spool -Filter '*.json').Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'rejected') | Should -BeFalse
        $name = Split-Path -Leaf $file
        $said = @($run.Lines | Where-Object { $_ -like 'Spooled snapshot*' })
        $logged = @(Get-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Where-Object { $_ -match ' WARNING +Spooled snapshot .* U\+FFFD' })
        if ($Replaced -eq 0) {
            $said.Count | Should -Be 0
            $logged.Count | Should -Be 0
        } else {
            $said.Count | Should -Be 1
            $said[0] | Should -Be (Format-PostureHalfCharacterWarning -What ('Spooled snapshot {0} (written by an older collector)' -f $name) -Count $Replaced)
            $logged.Count | Should -Be 1
        }
    }

    It 'repaired, then refused for another reason: rejected\ holds the spool file byte for byte, and the log and output say what the service was sent' {
        $spool = Join-Path -Path $script:data -ChildPath 'spool'
        $id = '00000000-0000-4000-8000-000000000007'
        $written = (& $script:spooledJson 'a\ud800b\uDC00') -replace '^\{', '{"refuse":true,'
        $file = Save-PostureSpoolItem -SpoolPath $spool -SnapshotId $id -Json $written -Now (Get-Date).AddHours(-1)
        $original = [System.IO.File]::ReadAllBytes($file)
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -ManifestPath $script:manifestPath -DataPath $script:data -WarningAction SilentlyContinue
        # Its own snapshot delivered after it; the refusal still shows in the exit code.
        $run.ExitCode | Should -Be 2
        $script:bodies.Count | Should -Be 2
        $script:bodies[0] | Should -BeExactly ($written.Replace('\ud800', '\ufffd').Replace('\uDC00', '\ufffd'))
        @(Get-ChildItem -LiteralPath $spool -Filter '*.json').Count | Should -Be 0
        $copy = Join-Path -Path $script:data -ChildPath ('rejected\{0}.json' -f $id)
        # The evidence is what the collector spooled, not the text this run made of it.
        [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($copy)) | Should -BeExactly ([System.Convert]::ToBase64String($original))
        $repairedNote = 'It was sent with 2 escaped halves of UTF-16 surrogate pairs replaced by U+FFFD; the copy is the file as spooled, before that repair.'
        $said = @($run.Lines | Where-Object { $_ -like ('Spooled snapshot {0} refused*' -f $id) })
        $said.Count | Should -Be 1
        $said[0] | Should -BeExactly ('Spooled snapshot {0} refused by the service: HTTP 400 invalid_snapshot: wrong for another reason. A copy is in {1}. {2}' -f $id, $copy, $repairedNote)
        $logged = @(Get-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Where-Object { $_ -match (' ERROR +Spooled snapshot {0} refused' -f $id) })
        $logged.Count | Should -Be 1
        $logged[0] | Should -BeLike ('* ERROR   Spooled snapshot {0} refused, not retried: HTTP 400 invalid_snapshot: wrong for another reason. A copy is in {1}. {2}' -f $id, $copy, $repairedNote)
    }

    It 'repaired, refused, and no copy can be written: the file stays in the spool as it was, and the output says what the service was sent' {
        $spool = Join-Path -Path $script:data -ChildPath 'spool'
        $id = '00000000-0000-4000-8000-000000000007'
        $written = (& $script:spooledJson 'a\ud800b') -replace '^\{', '{"refuse":true,'
        $file = Save-PostureSpoolItem -SpoolPath $spool -SnapshotId $id -Json $written -Now (Get-Date).AddHours(-1)
        $original = [System.IO.File]::ReadAllBytes($file)
        Mock Write-PostureFileBytes { throw 'There is not enough space on the disk.' } -ParameterFilter { $Path -like '*rejected*' }
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -ManifestPath $script:manifestPath -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 2
        [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($file)) | Should -BeExactly ([System.Convert]::ToBase64String($original))
        $said = @($run.Lines | Where-Object { $_ -like ('Spooled snapshot {0} refused*' -f $id) })
        $said.Count | Should -Be 1
        $said[0] | Should -BeLike ('Spooled snapshot {0} refused by the service: * No copy could be written to *; it stays in the spool. It was sent with 1 escaped half of a UTF-16 surrogate pair replaced by U+FFFD.' -f $id)
    }
}
