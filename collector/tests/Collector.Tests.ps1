# Pester 5 tests of Send-PostureSnapshot.ps1 and its Private\ functions. The registry, CIM/WMI and
# the web are mocked; nothing here needs McAfee, Exchange or a network.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:manifest = ConvertFrom-PostureJson -Json (Get-Content -Raw -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '..\examples\manifest.reference.json'))
}

Describe 'ConvertTo-PostureRegistryValue (contract encodings)' {
    It 'runs under Set-StrictMode -Version Latest' {
        { $null = $script:thisVariableDoesNotExist } | Should -Throw
    }
    It 'keeps REG_SZ and REG_EXPAND_SZ as strings' {
        (ConvertTo-PostureRegistryValue -Name 'a' -Kind String -Data 'x')['type'] | Should -Be 'REG_SZ'
        $v = ConvertTo-PostureRegistryValue -Name 'p' -Kind ExpandString -Data '%SystemRoot%\x'
        $v['type'] | Should -Be 'REG_EXPAND_SZ'
        $v['data'] | Should -Be '%SystemRoot%\x'
    }
    It 'writes REG_DWORD as 0..4294967295 (a .NET Int32 of -1 is 4294967295)' {
        (ConvertTo-PostureRegistryValue -Name 'd' -Kind DWord -Data ([int]-1))['data'] | Should -Be ([uint32]4294967295)
        (ConvertTo-PostureRegistryValue -Name 'd' -Kind DWord -Data 25)['data'] | Should -Be 25
    }
    It 'writes REG_QWORD as a decimal string without precision loss' {
        (ConvertTo-PostureRegistryValue -Name 'q' -Kind QWord -Data ([long]-1))['data'] | Should -Be '18446744073709551615'
        (ConvertTo-PostureRegistryValue -Name 'q' -Kind QWord -Data ([long]134089234870000000))['data'] | Should -Be '134089234870000000'
    }
    It 'writes REG_MULTI_SZ as an array, also with one or no item' {
        $one = ConvertTo-PostureRegistryValue -Name 'm' -Kind MultiString -Data ([string[]]@('only'))
        (ConvertTo-PostureJson -InputObject $one) | Should -Be '{"name":"m","type":"REG_MULTI_SZ","data":["only"]}'
        $none = ConvertTo-PostureRegistryValue -Name 'm' -Kind MultiString -Data ([string[]]@())
        (ConvertTo-PostureJson -InputObject $none) | Should -Be '{"name":"m","type":"REG_MULTI_SZ","data":[]}'
    }
    It 'writes binary, REG_NONE and rare types as base64' {
        $b = ConvertTo-PostureRegistryValue -Name 'b' -Kind Binary -Data ([byte[]](0, 1, 254))
        $b['type'] | Should -Be 'REG_BINARY'
        $b['data'] | Should -Be 'AAH+'
        (ConvertTo-PostureRegistryValue -Name 'n' -Kind Unknown -Data ([byte[]](1)))['type'] | Should -Be 'REG_NONE'
        (ConvertTo-PostureRegistryValue -Name 'r' -Kind Unknown -Data ([byte[]](1)) -RawType 8)['type'] | Should -Be 'REG_RESOURCE_LIST'
    }
    It 'reads REG_EXPAND_SZ unexpanded (DoNotExpandEnvironmentNames)' {
        $key = New-FakeRegistryKey -Values ([ordered]@{ Path = '%SystemRoot%\inetsrv' }) -Kinds @{ Path = 'ExpandString' } -Expanded @{ Path = 'C:\Windows\inetsrv' }
        $values = Read-PostureRegistryValue -Key $key
        $values[0]['data'] | Should -Be '%SystemRoot%\inetsrv'
        [string]$key.Calls[0][1] | Should -Be 'DoNotExpandEnvironmentNames'
    }
}

Describe 'Registry collection in both views' {
    BeforeAll {
        $script:dp = New-FakeRegistryKey -Values ([ordered]@{ szProductVer = '8.8.0.2024'; APEnabled = 1 }) -Kinds @{ szProductVer = 'String'; APEnabled = 'DWord' }
        $script:view32 = New-FakeBranch -Segments 'SOFTWARE', 'McAfee', 'DesktopProtection' -Leaf $script:dp
        $script:view64 = New-FakeRegistryKey -SubKeys @{ SOFTWARE = (New-FakeRegistryKey) }
        Mock Open-PostureRegistryBaseKey { if ($View -eq '64') { $script:view64 } else { $script:view32 } }
        Mock Get-PostureRegistryKeyLastWriteTime { [datetime]::SpecifyKind([datetime]'2026-10-01T08:12:00', 'Utc') }
    }

    It 'reads every manifest key in view 64 and view 32 on 64-bit Windows' {
        Mock Test-PostureOs64Bit { $true }
        $entries = Get-PostureRegistrySnapshot -Manifest $script:manifest
        $entries.Count | Should -Be (2 * @($script:manifest.registry).Count)
        $dp64 = $entries | Where-Object { $_['path'] -eq 'HKLM\SOFTWARE\McAfee\DesktopProtection' -and $_['view'] -eq '64' }
        $dp32 = $entries | Where-Object { $_['path'] -eq 'HKLM\SOFTWARE\McAfee\DesktopProtection' -and $_['view'] -eq '32' }
        $dp64['exists'] | Should -BeFalse
        $dp32['exists'] | Should -BeTrue
        $dp32['lastWriteTime'] | Should -Be '2026-10-01T08:12:00.000Z'
        ($dp32['values'] | Where-Object { $_['name'] -eq 'szProductVer' })['data'] | Should -Be '8.8.0.2024'
        Should -Invoke Open-PostureRegistryBaseKey -ParameterFilter { $View -eq '64' }
        Should -Invoke Open-PostureRegistryBaseKey -ParameterFilter { $View -eq '32' }
    }

    It 'reads only view 32 on 32-bit Windows' {
        Mock Test-PostureOs64Bit { $false }
        $entries = Get-PostureRegistrySnapshot -Manifest $script:manifest
        $entries.Count | Should -Be @($script:manifest.registry).Count
        @($entries | Where-Object { $_['view'] -ne '32' }).Count | Should -Be 0
        Should -Invoke Open-PostureRegistryBaseKey -Times 0 -ParameterFilter { $View -eq '64' }
    }

    It 'recurses to maxDepth, one flat entry per key with its full path' {
        $leaf = New-FakeRegistryKey -Values @{ x = 'deep' } -Kinds @{ x = 'String' }
        $child = New-FakeRegistryKey -Values @{ y = 1 } -Kinds @{ y = 'DWord' } -SubKeys @{ Grandchild = $leaf }
        $root = New-FakeBranch -Segments 'SOFTWARE', 'Branch' -Leaf (New-FakeRegistryKey -SubKeys @{ Child = $child })
        $script:root = $root
        Mock Open-PostureRegistryBaseKey { $script:root }
        $entries = Read-PostureRegistryKey -Path 'HKLM\SOFTWARE\Branch' -View 32 -Recurse -MaxDepth 1
        @($entries | ForEach-Object { $_['path'] }) | Should -Be @('HKLM\SOFTWARE\Branch', 'HKLM\SOFTWARE\Branch\Child')
        $deeper = Read-PostureRegistryKey -Path 'HKLM\SOFTWARE\Branch' -View 32 -Recurse -MaxDepth 2
        @($deeper).Count | Should -Be 3
        $flat = Read-PostureRegistryKey -Path 'HKLM\SOFTWARE\Branch' -View 32
        @($flat).Count | Should -Be 1
    }

    It 'records an access error as data and keeps going' {
        $root = New-FakeBranch -Segments 'SOFTWARE' -Leaf (New-FakeRegistryKey -SubKeys ([ordered]@{ Locked = 'denied'; Open = (New-FakeRegistryKey) }))
        $script:root = $root
        Mock Open-PostureRegistryBaseKey { $script:root }
        $entries = Read-PostureRegistryKey -Path 'HKLM\SOFTWARE' -View 64 -Recurse -MaxDepth 1
        $locked = $entries | Where-Object { $_['path'] -eq 'HKLM\SOFTWARE\Locked' }
        $locked['exists'] | Should -BeTrue
        $locked['error']['code'] | Should -Be 'AccessDenied'
        ($entries | Where-Object { $_['path'] -eq 'HKLM\SOFTWARE\Open' })['exists'] | Should -BeTrue
    }

    It 'omits lastWriteTime when it cannot be read' {
        Mock Get-PostureRegistryKeyLastWriteTime { $null }
        Mock Test-PostureOs64Bit { $false }
        $entries = Read-PostureRegistryKey -Path 'HKLM\SOFTWARE\McAfee\DesktopProtection' -View 32
        $entries[0].Contains('lastWriteTime') | Should -BeFalse
        $entries[0]['exists'] | Should -BeTrue
    }
}

Describe 'Services (CIM, falling back to WMI)' {
    It 'reads Win32_Service through CIM' {
        Mock Get-CimInstance { @([pscustomobject]@{ Name = 'McShield'; DisplayName = 'McAfee McShield'; State = 'Running'; Started = $true; StartMode = 'Auto'; PathName = 'C:\m.exe'; ProcessId = 1432 }) }
        $s = Get-PostureServiceSnapshot -Name 'McShield', 'SMTPSVC'
        @($s).Count | Should -Be 1
        $s[0]['started'] | Should -BeTrue
        $s[0]['processId'] | Should -Be 1432
        Should -Invoke Get-CimInstance -Times 1 -ParameterFilter { $Filter -eq "Name='McShield' OR Name='SMTPSVC'" }
    }
    It 'falls back to WMI when CIM fails' {
        Mock Get-CimInstance { throw 'The WinRM client cannot process the request.' }
        Mock Get-WmiObject { @([pscustomobject]@{ Name = 'SMTPSVC'; DisplayName = 'SMTP'; State = 'Stopped'; Started = $false; StartMode = 'Manual'; PathName = $null; ProcessId = 0 }) }
        $s = Get-PostureServiceSnapshot -Name 'SMTPSVC'
        $s[0]['state'] | Should -Be 'Stopped'
        $s[0]['pathName'] | Should -BeNullOrEmpty
        Should -Invoke Get-WmiObject -Times 1
    }
    It 'returns an empty list when neither answers' {
        Mock Get-CimInstance { throw 'no' }
        Mock Get-WmiObject { throw 'no' }
        $none = Get-PostureServiceSnapshot -Name 'McShield' -WarningAction SilentlyContinue
        $none.Count | Should -Be 0
        ConvertTo-PostureJson -InputObject $none | Should -Be '[]'
    }
}

Describe 'File tails' {
    BeforeAll {
        $script:lines = (1..200 | ForEach-Object { "11/27/2026`t10:02:{0:D2} PM`tBlocked by port blocking rule `tC:\x\EdgeTransport.exe`tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail`t203.0.113.40:25" -f ($_ % 60) }) -join "`r`n"
    }
    It 'decodes UTF-16LE with BOM and cuts at a line start' {
        $path = Join-Path -Path $TestDrive -ChildPath 'u16.txt'
        [System.IO.File]::WriteAllText($path, $script:lines + "`r`n", (New-Object System.Text.UnicodeEncoding($false, $true)))
        $f = Read-PostureFileTail -Path $path -TailBytes 1001
        $f['exists'] | Should -BeTrue
        $f['tail'] | Should -Match '^11/27/2026\t'
        $f['size'] | Should -Be (New-Object System.IO.FileInfo($path)).Length
    }
    It 'decodes UTF-16BE and UTF-8 with BOM' {
        $be = Join-Path -Path $TestDrive -ChildPath 'u16be.txt'
        [System.IO.File]::WriteAllText($be, $script:lines, (New-Object System.Text.UnicodeEncoding($true, $true)))
        (Read-PostureFileTail -Path $be -TailBytes 600)['tail'] | Should -Match '^11/27/2026\t'
        $u8 = Join-Path -Path $TestDrive -ChildPath 'u8.txt'
        [System.IO.File]::WriteAllText($u8, "caf$([char]0xE9)`r`n" + $script:lines, (New-Object System.Text.UTF8Encoding($true)))
        $whole = Read-PostureFileTail -Path $u8 -TailBytes 1000000
        $whole['tail'].Substring(0, 4) | Should -Be "caf$([char]0xE9)"
    }
    It 'reads a file without BOM in the ANSI code page' {
        $ansi = Join-Path -Path $TestDrive -ChildPath 'ansi.txt'
        [System.IO.File]::WriteAllBytes($ansi, [byte[]](0x61, 0x0D, 0x0A, 0x62, 0x63))
        (Read-PostureFileTail -Path $ansi -TailBytes 3)['tail'] | Should -Be 'bc'
    }
    It 'expands %VAR% and reports a missing file as exists=false' {
        $env:FLEET_POSTURE_TEST = $TestDrive
        $f = Read-PostureFileTail -Path '%FLEET_POSTURE_TEST%\missing.txt'
        # Only the reference is replaced: the rest of the path is kept as written.
        $f['path'] | Should -Be ($TestDrive + '\missing.txt')
        $f['exists'] | Should -BeFalse
        $f.Contains('tail') | Should -BeFalse
    }
}

Describe 'ConvertTo-PostureJson' {
    It 'escapes quotes, backslashes and control characters' {
        ConvertTo-PostureJson -InputObject "a`"b\c`r`n$([char]1)" | Should -Be '"a\"b\\c\r\n\u0001"'
    }
    It 'keeps key order, nests, and writes booleans, nulls and numbers' {
        $o = New-Object System.Collections.Specialized.OrderedDictionary
        $o['b'] = $true; $o['a'] = $null; $o['n'] = [uint32]4294967295; $o['list'] = @(1, 'x')
        ConvertTo-PostureJson -InputObject $o | Should -Be '{"b":true,"a":null,"n":4294967295,"list":[1,"x"]}'
    }
}

Describe 'Sending: retries, back-off, refusals' {
    BeforeEach {
        Mock Wait-PostureRetry { $null }
        $script:attempt = 0
    }
    It 'retries 503 and network errors, then succeeds' {
        Mock Invoke-PostureHttpRequest {
            $script:attempt++
            if ($script:attempt -eq 1) { return @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'The remote name could not be resolved' } }
            if ($script:attempt -eq 2) { return @{ StatusCode = 503; Content = '{"error":"storage_unavailable"}'; RetryAfter = 7; Error = $null } }
            return @{ StatusCode = 201; Content = '{"snapshotId":"x","outcome":"accepted","results":[]}'; RetryAfter = $null; Error = $null }
        }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{"snapshotId":"x"}' -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 4)
        $r.Outcome | Should -Be 'Sent'
        $r.Attempts | Should -Be 3
        Should -Invoke Wait-PostureRetry -Times 2 -Exactly
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 7 }
    }
    It 'takes a verdict only for the snapshot sent: another snapshotId, or none, is Failed with what came back; case does not matter' -ForEach @(
        @{ Answer = '{"snapshotId":"0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11","outcome":"accepted","results":[]}'; Outcome = 'Sent'; Said = $null }
        @{ Answer = '{"snapshotId":"0B6F3A2E-6A55-4F0E-9D47-2F7CFB7F4C11","outcome":"duplicate","results":[]}'; Outcome = 'Sent'; Said = $null }
        @{ Answer = '{"snapshotId":"5f0c9d1e-0000-4000-8000-000000000099","outcome":"accepted","results":[]}'; Outcome = 'Failed'; Said = 'HTTP 201 from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: a verdict on snapshot 5f0c9d1e-0000-4000-8000-000000000099, not on the one sent' }
        @{ Answer = '{"outcome":"stale","results":[]}'; Outcome = 'Failed'; Said = 'HTTP 201 from something in front of the service, not the service (a cache, a proxy or a front end?), which usually means a stored or misrouted answer: a verdict that names no snapshot' }
    ) {
        $script:answer = @{ StatusCode = 201; Content = $Answer; RetryAfter = $null; Error = $null }
        Mock Invoke-PostureHttpRequest { $script:answer }
        # A value that spells the member name inside a string does not count: only the member does.
        $json = '{"schema":"fleet-posture/snapshot@1","snapshotId":"0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11","registry":[{"data":"\"snapshotId\":\"5f0c9d1e-0000-4000-8000-000000000099\""}]}'
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json $json
        $r.Outcome | Should -Be $Outcome
        $r.Error | Should -Be $Said
        $r.Intercepted | Should -BeFalse
        if ($Outcome -eq 'Failed') { $r.ServiceOutcome | Should -Be '' }
    }
    It 'reads the snapshotId of the JSON sent from its member, whatever a value before it spells' {
        Get-PostureSnapshotIdOfJson -Json '{"schema":"fleet-posture/snapshot@1","snapshotId":"abc"}' | Should -Be 'abc'
        Get-PostureSnapshotIdOfJson -Json '{"note":"\"snapshotId\":\"evil\"","snapshotId" : "real"}' | Should -Be 'real'
        Get-PostureSnapshotIdOfJson -Json '{}' | Should -Be ''
    }
    It 'does not retry a 4xx other than 408/429' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 400; Content = '{"error":"invalid_snapshot"}'; RetryAfter = $null; Error = $null } }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}'
        $r.Outcome | Should -Be 'Rejected'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
    }
    It 'retries 408 and 429, and gives up after MaxAttempts' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 429; Content = ''; RetryAfter = $null; Error = $null } }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}' -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 3)
        $r.Outcome | Should -Be 'Failed'
        Should -Invoke Invoke-PostureHttpRequest -Times 3 -Exactly
        Test-PostureRetryableCode -StatusCode 408 | Should -BeTrue
        Test-PostureRetryableCode -StatusCode 401 | Should -BeFalse
    }
    It 'Invoke-PostureHttpRequestWithRetry: the last answer with its Attempts; MaxAttempts 1 asks once and never waits' {
        Mock Invoke-PostureHttpRequest { $script:attempt++; @{ StatusCode = 503; Content = 'busy'; RetryAfter = 3; Error = $null } }
        $r = Invoke-PostureHttpRequestWithRetry -Method Get -Uri 'https://x/api/manifest' -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 1)
        $r.StatusCode | Should -Be 503
        $r.Attempts | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        Mock Invoke-PostureHttpRequest { $script:attempt++; @{ StatusCode = 404; Content = '{"error":"not_found"}'; RetryAfter = $null; Error = $null } }
        $script:attempt = 0
        $r = Invoke-PostureHttpRequestWithRetry -Method Get -Uri 'https://x/api/manifest' -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 4)
        $r.StatusCode | Should -Be 404
        $r.Attempts | Should -Be 1
        $script:attempt | Should -Be 1
    }
    It 'backs off exponentially with jitter, capped; a Retry-After is waited in full, not capped by MaxDelaySeconds' {
        foreach ($n in 1..8) {
            $cap = [Math]::Min(60, 2 * [Math]::Pow(2, $n - 1))
            $d = Get-PostureRetryDelay -Attempt $n -BaseDelaySeconds 2 -MaxDelaySeconds 60
            $d | Should -BeGreaterOrEqual ($cap / 2)
            $d | Should -BeLessOrEqual $cap
        }
        Get-PostureRetryDelay -Attempt 1 -RetryAfter 120 -MaxDelaySeconds 60 | Should -Be 120
    }
    It 'posts UTF-8 bytes as application/json through Invoke-WebRequest -UseBasicParsing' {
        Mock Invoke-WebRequest {
            $stream = New-Object System.IO.MemoryStream(, [System.Text.Encoding]::UTF8.GetBytes('{"outcome":"accepted"}'))
            [pscustomobject]@{ StatusCode = 201; Content = ''; RawContentStream = $stream }
        }
        $r = Invoke-PostureHttpRequest -Method Post -Uri 'https://x/api/snapshots' -Headers @{ 'x-api-key' = 'k' } -Body ([System.Text.Encoding]::UTF8.GetBytes('{}'))
        $r.StatusCode | Should -Be 201
        $r.Content | Should -Be '{"outcome":"accepted"}'
        Should -Invoke Invoke-WebRequest -Times 1 -ParameterFilter { $UseBasicParsing -and $ContentType -like 'application/json*' -and $Headers['x-api-key'] -eq 'k' -and $Body -is [byte[]] }
    }
    It 'takes only the service''s own codes for its error code, and with a status only at the status the service answers it with' {
        # An OAuth proxy's or a gateway's codes look like the service's (lower snake case) but are not.
        Get-PostureErrorCode -Content '{"error":"invalid_token","error_description":"The access token expired"}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"access_denied"}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"payload_too_large"}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"unauthorized","message":"The key is not valid."}' -StatusCode 401 | Should -Be 'unauthorized'
        Get-PostureErrorCode -Content '{"error":"too_large","message":"..."}' -StatusCode 413 | Should -Be 'too_large'
        Get-PostureErrorCode -Content '{"error":"host_busy","message":"..."}' -StatusCode 429 | Should -Be 'host_busy'
        # The service answers each code with one status: the same text at another is not its answer.
        Get-PostureErrorCode -Content '{"error":"forbidden"}' -StatusCode 401 | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"unauthorized"}' -StatusCode 403 | Should -Be ''
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":"invalid_token"}' | Should -BeFalse
        Test-PostureKeyRefused -StatusCode 403 -Content '{"error":"access_denied"}' | Should -BeFalse
        # The key's refusals, each only at its own status.
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":"unauthorized"}' | Should -BeTrue
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":"key_revoked"}' | Should -BeTrue
        Test-PostureKeyRefused -StatusCode 403 -Content '{"error":"forbidden"}' | Should -BeTrue
        Test-PostureKeyRefused -StatusCode 403 -Content '{"error":"key_revoked"}' | Should -BeFalse
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":"forbidden"}' | Should -BeFalse
        Test-PostureKeyRefused -StatusCode 404 -Content '{"error":"not_found"}' | Should -BeFalse
        # A refusal from in front of the service: a 4xx without its code, but not the busy 408 and 429.
        Test-PostureForeignRefusal -StatusCode 404 -Content '<html><title>Not Found</title></html>' | Should -BeTrue
        Test-PostureForeignRefusal -StatusCode 401 -Content '{"error":"invalid_token"}' | Should -BeTrue
        Test-PostureForeignRefusal -StatusCode 401 -Content '{"error":"unauthorized"}' | Should -BeFalse
        Test-PostureForeignRefusal -StatusCode 408 -Content '' | Should -BeFalse
        Test-PostureForeignRefusal -StatusCode 429 -Content '' | Should -BeFalse
        Test-PostureForeignRefusal -StatusCode 502 -Content '<html></html>' | Should -BeFalse
        Test-PostureForeignRefusal -StatusCode 200 -Content '<html></html>' | Should -BeFalse
    }
    It 'takes a 409, 413 or 415 for the service''s refusal of the snapshot only with its code: HTTP <Code> <Content> is <Refused>' -ForEach @(
        @{ Code = 413; Content = '{"error":"too_large","message":"The body is larger than 4194304 bytes."}'; Refused = $true }
        @{ Code = 415; Content = '{"error":"unsupported_media_type","message":"Send application/json."}'; Refused = $true }
        @{ Code = 413; Content = "<html>`r`n<head><title>413 Request Entity Too Large</title></head>`r`n<body><center><h1>413 Request Entity Too Large</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body>`r`n</html>"; Refused = $false }
        @{ Code = 413; Content = ''; Refused = $false }
        @{ Code = 415; Content = 'Unsupported Media Type'; Refused = $false }
        @{ Code = 413; Content = '{"error":"payload_too_large"}'; Refused = $false }
        @{ Code = 400; Content = '{"error":"too_large"}'; Refused = $false }
        @{ Code = 409; Content = '{"error":"snapshot_id_reused","message":"Snapshot 5f0c... was accepted collected at ..."}'; Refused = $true }
        @{ Code = 409; Content = '{"error":"conflict"}'; Refused = $false }
    ) {
        Test-PostureSnapshotRefused -StatusCode $Code -Content $Content | Should -Be $Refused
    }
    It 'a 413 or 415 of something in front of the service: Failed, Intercepted, the error says so with an excerpt' -ForEach @(
        @{ Code = 413; Content = "<html>`r`n<head><title>413 Request Entity Too Large</title></head>`r`n<body><center><h1>413 Request Entity Too Large</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body>`r`n</html>"; Said = '413 Request Entity Too Large' }
        @{ Code = 415; Content = 'Unsupported Media Type'; Said = 'Unsupported Media Type' }
    ) {
        $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = 'Response status code does not indicate success.' }
        Mock Invoke-PostureHttpRequest { $script:answer }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}'
        $r.Outcome | Should -Be 'Failed'
        $r.Intercepted | Should -BeTrue
        $r.Error | Should -BeExactly ('HTTP {0} from something in front of the service, not the service (a proxy, firewall or front end?); it answered: {1}' -f $Code, $Said)
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    It 'takes only lower snake case text in "error" for the service''s error code, not a front end''s object or text' {
        Get-PostureErrorCode -Content '{"error":"key_revoked","message":"The key was revoked."}' | Should -Be 'key_revoked'
        Get-PostureErrorCode -Content '{"error":"collected_in_future","message":"..."}' | Should -Be 'collected_in_future'
        # What an Azure front end (Front Door, Application Gateway, the platform) answers.
        Get-PostureErrorCode -Content '{"error":{"code":"Forbidden","message":"The request is blocked."}}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":{"code":"forbidden"}}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"Forbidden","message":"..."}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"invalid request"}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":"_private"}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":403}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":true}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":""}' | Should -Be ''
        Get-PostureErrorCode -Content '<html><body>Error 403 - Forbidden</body></html>' | Should -Be ''
        Get-PostureErrorCode -Content '' | Should -Be ''
    }
    It 'takes no array for the service''s error code or outcome: a one-element array is not its text' {
        Get-PostureErrorCode -Content '{"error":["key_revoked"],"message":"..."}' | Should -Be ''
        Get-PostureErrorCode -Content '{"error":["key_revoked","unauthorized"]}' | Should -Be ''
        # An array of answers is none of the service's, which answers one object.
        Get-PostureErrorCode -Content '[{"error":"key_revoked"}]' | Should -Be ''
        Test-PostureKeyRevoked -StatusCode 401 -Content '{"error":["key_revoked"]}' | Should -BeFalse
        Test-PostureKeyRefused -StatusCode 401 -Content '{"error":["unauthorized"]}' | Should -BeFalse
        Get-PostureIngestOutcome -Content '{"snapshotId":"x","outcome":["accepted"],"results":[]}' | Should -Be ''
        Get-PostureIngestOutcome -Content '[{"snapshotId":"x","outcome":"accepted","results":[]}]' | Should -Be ''
        Get-PostureIngestOutcome -Content ' {"snapshotId":"x","outcome":"accepted","results":[]}' | Should -Be 'accepted'
    }
    It 'takes a 401 or 403 for the key''s refusal only with the service''s code for it: HTTP <Code> <Content>' -ForEach @(
        @{ Code = 401; Content = '{"error":"unauthorized","message":"The key is not valid."}' }
        @{ Code = 401; Content = '{"error":"key_revoked","message":"This server key was revoked; enrol again with the enrolment secret."}' }
        @{ Code = 403; Content = '{"error":"forbidden","message":"This server key belongs to exch02 and cannot post a snapshot of exch01."}' }
    ) {
        $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = 'Response status code does not indicate success.' }
        Mock Invoke-PostureHttpRequest { $script:answer }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}'
        $r.Outcome | Should -Be 'Rejected'
        $r['Intercepted'] | Should -BeFalse
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    It 'a 401 or 403 of <Case> is not the service''s refusal: Failed, Intercepted, the error says something in front of the service answered' -ForEach @(
        @{ Case = 'a front end''s page'; Code = 403; Content = "<html>`r`n<head><title>403 Forbidden</title></head>`r`n<body><center><h1>403 Forbidden</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body>`r`n</html>"; Said = '403 Forbidden' }
        @{ Case = 'a front end''s JSON, its error an object'; Code = 403; Content = '{"error":{"code":"Forbidden","message":"The request is blocked."}}'; Said = '{"error":{"code":"Forbidden","message":"The request is blocked."}}' }
        @{ Case = 'a proxy, in plain text'; Code = 403; Content = "Access denied by proxy policy.`n"; Said = 'Access denied by proxy policy.' }
        @{ Case = 'a sign-in in front of the service, without a body'; Code = 401; Content = ''; Said = '' }
        @{ Case = 'JSON whose error is an array'; Code = 401; Content = '{"error":["key_revoked"]}'; Said = '{"error":["key_revoked"]}' }
    ) {
        $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = 'Response status code does not indicate success.' }
        Mock Invoke-PostureHttpRequest { $script:answer }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}' -Headers @{ 'x-api-key' = 'fp1.exch01.k1.secretsecret' }
        $r.Outcome | Should -Be 'Failed'
        $r.Intercepted | Should -BeTrue
        $r.StatusCode | Should -Be $Code
        $expected = 'HTTP {0} from something in front of the service, not the service (a proxy, firewall or front end?)' -f $Code
        if ($Said) { $expected += '; it answered: ' + $Said }
        $r.Error | Should -BeExactly $expected
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    # A wrong URL or a proxy that blocks the method answers 404/405 with its own page; the service
    # answers 404 only with its code, and 405 never (only the local host does, with its code).
    It 'a <Code> of <Case>: Failed, Intercepted, one line saying what answered and what it usually means, a redacted excerpt' -ForEach @(
        @{ Case = 'IIS, a wrong path'; Code = 404; Content = "<!DOCTYPE html PUBLIC `"-//W3C//DTD XHTML 1.0 Strict//EN`">`r`n<html><head><title>404 - File or directory not found.</title></head>`r`n<body><h2>The resource you are looking for might have been removed (fp1.exch01.k1.secretsecret).</h2></body></html>"; Said = '404 - File or directory not found.' }
        @{ Case = 'a functions host without functions'; Code = 404; Content = ''; Said = '' }
        @{ Case = 'an Azure front end in JSON'; Code = 404; Content = '{"error":{"code":"NotFound","message":"fp1.exch01.k1.secretsecret not found"}}'; Said = '{"error":{"code":"NotFound","message":"[redacted] not found"}}' }
        @{ Case = 'a proxy that blocks the method'; Code = 405; Content = "<html>`r`n<head><title>405 Not Allowed</title></head>`r`n<body><center><h1>405 Not Allowed</h1></center><hr><center>nginx</center></body>`r`n</html>"; Said = '405 Not Allowed' }
        @{ Case = 'the service''s code at another status'; Code = 405; Content = '{"error":"not_found","message":"x"}'; Said = '{"error":"not_found","message":"x"}' }
    ) {
        $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = 'Response status code does not indicate success.' }
        Mock Invoke-PostureHttpRequest { $script:answer }
        $r = Send-PostureDocument -Uri 'https://x/api/snapshots' -Json '{}' -Headers @{ 'x-api-key' = 'fp1.exch01.k1.secretsecret' }
        $r.Outcome | Should -Be 'Failed'
        $r.Intercepted | Should -BeTrue
        $means = @{ 404 = 'which usually means the service URL or path is wrong'; 405 = 'which usually means the service URL or path is wrong or a proxy blocks the request''s method' }
        $expected = 'HTTP {0} from something in front of the service, not the service (a proxy, firewall or front end?), {1}' -f $Code, $means[$Code]
        if ($Said) { $expected += '; it answered: ' + $Said }
        $r.Error | Should -BeExactly $expected
        # The same words wherever a run prints an answer that is not the service's.
        Format-PostureRejection -StatusCode $Code -Content $Content -Redact @('fp1.exch01.k1.secretsecret') | Should -BeExactly $expected
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    It 'Format-PostureRejection: the service''s own refusal in full; any other answer never as the service''s and never raw' {
        Format-PostureRejection -StatusCode 404 -Content '{"error":"not_found","message":"No function is served at /api/snapshot."}' | Should -BeExactly 'HTTP 404 not_found: No function is served at /api/snapshot.'
        Format-PostureRejection -StatusCode 400 -Content '{"error":"invalid_snapshot","message":"Bad.","issues":[{"path":"/host","message":"missing"}]}' | Should -BeExactly 'HTTP 400 invalid_snapshot: Bad.; /host: missing'
        Format-PostureRejection -StatusCode 400 -Content "<html><head><title>400 Request Header Or Cookie Too Large</title></head><body>nginx</body></html>" | Should -BeExactly 'HTTP 400 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: 400 Request Header Or Cookie Too Large'
        # A busy answer without the service's code says its status, as a manifest fetch's does.
        Format-PostureRejection -StatusCode 502 -Content "<html><head><title>502 Bad Gateway</title></head>`r`n<body>nginx</body></html>" | Should -BeExactly 'HTTP 502'
        Format-PostureRejection -StatusCode 503 -Content '{"error":"storage_unavailable","message":"Try again."}' | Should -BeExactly 'HTTP 503 storage_unavailable: Try again.'
    }
    It 'an excerpt of an answer not the service''s: one line of at most 200 characters, a page''s title, never what the request sent' {
        Get-PostureAnswerExcerpt -Content "<!DOCTYPE html>`r`n<html><head><title>`n Access`tDenied `n</title><style>p{}</style></head><body>x</body></html>" | Should -BeExactly 'Access Denied'
        Get-PostureAnswerExcerpt -Content "<html><head><script>var a = '<b>';</script></head><body><h1>Blocked</h1>`n<p>Request blocked.</p></body></html>" | Should -BeExactly 'Blocked Request blocked.'
        $long = Get-PostureAnswerExcerpt -Content ("Forbidden`r`n" + ('x' * 500))
        $long.Length | Should -Be 200
        $long | Should -Match '^Forbidden x+\.\.\.$'
        # A page that echoes the request must not put the key in the log; short values stay.
        Get-PostureAnswerExcerpt -Content 'Denied: x-api-key fp1.exch01.k1.secretsecret (en)' -Redact @('fp1.exch01.k1.secretsecret', 'en') | Should -BeExactly 'Denied: x-api-key [redacted] (en)'
        Get-PostureAnswerExcerpt -Content '' | Should -BeExactly ''
        $r = Format-PostureForeignAnswer -StatusCode 403 -Content ('<html><body>' + ('y' * 1000) + "`n</body></html>")
        $r | Should -Not -Match '[\r\n]'
        ($r -replace '^.*; it answered: ', '').Length | Should -Be 200
    }
    It 'Format-PostureEnrolmentError: "Service said" only with the service''s code; any other answer is said to come from in front of the service' {
        Format-PostureEnrolmentError -StatusCode 403 -Content '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}' | Should -BeExactly 'Service said: forbidden: An admin blocked the enrolment of exch01.'
        $t = Format-PostureEnrolmentError -StatusCode 403 -Content '{"error":{"code":"Forbidden","message":"The request is blocked."}}'
        $t | Should -BeExactly 'HTTP 403 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: {"error":{"code":"Forbidden","message":"The request is blocked."}}'
        Format-PostureEnrolmentError -StatusCode 502 -Content "<html><head><title>502 Bad Gateway</title></head>`n<body>nginx</body></html>" | Should -BeExactly 'HTTP 502 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: 502 Bad Gateway'
        Format-PostureEnrolmentError -StatusCode 401 -Content '' | Should -BeExactly 'HTTP 401 from something in front of the service, not the service (a proxy, firewall or front end?)'
        Format-PostureEnrolmentError -StatusCode 401 -Content '{"error":["unauthorized"],"message":"x"}' | Should -Not -Match 'Service said'
    }
    It 'builds API URLs from the site or from API_BASE_URL' {
        Get-PostureApiUri -Endpoint 'https://x.azurewebsites.net' -Route 'manifest' | Should -Be 'https://x.azurewebsites.net/api/manifest'
        Get-PostureApiUri -Endpoint 'https://x.azurewebsites.net/api/' -Route 'snapshots' | Should -Be 'https://x.azurewebsites.net/api/snapshots'
    }
    It 'allows TLS 1.2' {
        Set-PostureTlsProtocol
        ([int][System.Net.ServicePointManager]::SecurityProtocol -band 3072) | Should -Be 3072
    }
}

Describe 'Manifest with a last good copy' {
    BeforeAll {
        $script:manifestJson = Get-Content -Raw -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '..\examples\manifest.reference.json')
    }
    BeforeEach {
        Mock Wait-PostureRetry { $null }
        $script:attempt = 0
        $script:cache = Join-Path -Path $TestDrive -ChildPath ('{0}\manifest.json' -f [guid]::NewGuid())
    }
    It 'saves the manifest it fetched and uses it when the service is unreachable' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache).schema | Should -Be 'fleet-posture/manifest@1'
        Test-Path -LiteralPath $script:cache | Should -BeTrue
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'Unable to connect' } }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -WarningAction SilentlyContinue).version | Should -Match '^sha256:'
    }
    It 'a fetched manifest that cannot be saved (disk full) is still used, with a warning; without a copy too' {
        Mock Write-PostureTextFile { throw 'There is not enough space on the disk.' }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        $m = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -WarningVariable warned -WarningAction SilentlyContinue
        $m.schema | Should -Be 'fleet-posture/manifest@1'
        "$warned" | Should -BeLike '*not saved as the last good copy*not enough space*'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    It 'a fetched manifest that cannot be saved is used rather than the older last good copy' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        $null = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache
        $newer = $script:manifestJson -replace '"version"\s*:\s*"sha256:[0-9a-f]+"', '"version":"sha256:newer"'
        $newer | Should -Not -Be $script:manifestJson
        Mock Write-PostureTextFile { throw 'Access to the path is denied.' }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $newer; RetryAfter = $null; Error = $null } }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -WarningAction SilentlyContinue).version | Should -Be 'sha256:newer'
    }
    It 'fails when there is neither a manifest nor a copy, after as many attempts as a post makes' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 503; Content = ''; RetryAfter = $null; Error = $null } }
        { Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 3) -WarningAction SilentlyContinue } | Should -Throw '*HTTP 503 on each of 3 attempts and there is no last good copy*'
        Should -Invoke Invoke-PostureHttpRequest -Times 3 -Exactly
        Should -Invoke Wait-PostureRetry -Times 2 -Exactly
    }
    It 'without a copy: a 503 with Retry-After, then 200, is fetched after waiting that long, and saved' {
        Mock Invoke-PostureHttpRequest {
            $script:attempt++
            if ($script:attempt -eq 1) { return @{ StatusCode = 503; Content = '{"error":"storage_unavailable"}'; RetryAfter = 7; Error = $null } }
            return @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null }
        }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache).schema | Should -Be 'fleet-posture/manifest@1'
        Should -Invoke Invoke-PostureHttpRequest -Times 2 -Exactly -ParameterFilter { $Method -eq 'Get' -and $Uri -eq 'https://x/api/manifest' }
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 7 }
        Test-Path -LiteralPath $script:cache | Should -BeTrue
    }
    It 'without a copy: 429 host_busy and no answer are retried too; a Retry-After past MaxDelaySeconds is still waited in full' {
        Mock Invoke-PostureHttpRequest {
            $script:attempt++
            if ($script:attempt -eq 1) { return @{ StatusCode = 429; Content = '{"error":"host_busy"}'; RetryAfter = 45; Error = $null } }
            if ($script:attempt -eq 2) { return @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'Unable to connect' } }
            return @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null }
        }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxDelaySeconds 30)).schema | Should -Be 'fleet-posture/manifest@1'
        Should -Invoke Invoke-PostureHttpRequest -Times 3 -Exactly
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 45 }
        Should -Invoke Wait-PostureRetry -Times 2 -Exactly
    }
    It 'without a copy: a Retry-After longer than MaxRetryAfterSeconds is not waited for, nor asked again sooner; the error says how long' {
        Mock Invoke-PostureHttpRequest { $script:attempt++; @{ StatusCode = 429; Content = '{"error":"host_busy"}'; RetryAfter = 600; Error = $null } }
        { Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxRetryAfterSeconds 300) -WarningAction SilentlyContinue } |
            Should -Throw '*answered HTTP 429 (the service asked to wait 600 s (HTTP 429), longer than the 300 s a retry may wait (-MaxRetryAfterSeconds)) and there is no last good copy*'
        $script:attempt | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
    }
    It 'the manifest fetch refused by something in front of the service says so, with an excerpt, not only the status' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '<html><head><title>Access Denied</title></head><body>fp1.exch01.k1.secretsecret</body></html>'; RetryAfter = $null; Error = $null } }
        { Get-PostureManifest -Endpoint 'https://x' -Headers @{ 'x-api-key' = 'fp1.exch01.k1.secretsecret' } -CachePath $script:cache -WarningAction SilentlyContinue } | Should -Throw '*answered HTTP 403 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: Access Denied and there is no last good copy*'
    }
    It 'a 200 that is not the manifest (<Case>) is not used and the log says what answered, never the page' -ForEach @(
        @{ Case = 'a proxy''s sign-in page'; Content = "<html><head><title>Sign in</title></head>`r`n<body>fp1.exch01.k1.secretsecret</body></html>"; Said = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered; it answered: Sign in' }
        @{ Case = 'JSON of something else'; Content = '{"ok":true}'; Said = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered; it answered: {"ok":true}' }
        @{ Case = 'a manifest of another schema'; Content = '{"schema":"fleet-posture/manifest@2"}'; Said = 'HTTP 200 with a fleet-posture/manifest@2 document, not the fleet-posture/manifest@1 this collector reads' }
    ) {
        $script:answer = @{ StatusCode = 200; Content = $Content; RetryAfter = $null; Error = $null }
        Mock Invoke-PostureHttpRequest { $script:answer }
        { Get-PostureManifest -Endpoint 'https://x' -Headers @{ 'x-api-key' = 'fp1.exch01.k1.secretsecret' } -CachePath $script:cache -WarningAction SilentlyContinue } | Should -Throw ('*answered {0} and there is no last good copy*' -f [System.Management.Automation.WildcardPattern]::Escape($Said))
        Test-Path -LiteralPath $script:cache | Should -BeFalse
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
    }
    It 'does not retry a 4xx other than 408/429 (a 400 or 401 cannot change by asking again)' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 400; Content = '{"error":"invalid_query"}'; RetryAfter = $null; Error = $null } }
        { Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -WarningAction SilentlyContinue } | Should -Throw '*answered HTTP 400 and there is no last good copy*'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
    }
    It 'with a copy: asks at most twice, waits no longer than 10 s, then uses the copy' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        $null = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache
        Mock Invoke-PostureHttpRequest { $script:attempt++; @{ StatusCode = 503; Content = ''; RetryAfter = $null; Error = $null } }
        $m = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 4 -BaseDelaySeconds 30 -MaxDelaySeconds 60) -WarningAction SilentlyContinue
        $m.schema | Should -Be 'fleet-posture/manifest@1'
        $script:attempt | Should -Be 2
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -le 10 }
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly
    }
    It 'with a copy: a Retry-After longer than 10 s is not waited for, nor asked again sooner: the copy is used at once' {
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } }
        $null = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache
        Mock Invoke-PostureHttpRequest { $script:attempt++; @{ StatusCode = 503; Content = ''; RetryAfter = 45; Error = $null } }
        $m = Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 4 -MaxDelaySeconds 60) -WarningAction SilentlyContinue -WarningVariable warned
        $m.schema | Should -Be 'fleet-posture/manifest@1'
        $script:attempt | Should -Be 1
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        ($warned -join "`n") | Should -Match 'the service asked to wait 45 s \(HTTP 503\), longer than the 10 s a retry may wait'
    }
    It 'with a copy: a busy answer then 200 gives the fresh manifest, which replaces the copy' {
        Set-Content -LiteralPath (New-Item -ItemType File -Path $script:cache -Force).FullName -Value ($script:manifestJson -replace '"version":\s*"sha256:[0-9a-f]+"', '"version":"sha256:old"')
        (Read-PostureCachedManifest -CachePath $script:cache -Why 'test').version | Should -Be 'sha256:old'
        Mock Invoke-PostureHttpRequest {
            $script:attempt++
            if ($script:attempt -eq 1) { return @{ StatusCode = 429; Content = ''; RetryAfter = 1; Error = $null } }
            return @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null }
        }
        (Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache).version | Should -Not -Be 'sha256:old'
        Should -Invoke Wait-PostureRetry -Times 1 -Exactly -ParameterFilter { $Seconds -eq 1 }
        (Read-PostureCachedManifest -CachePath $script:cache -Why 'test').version | Should -Not -Be 'sha256:old'
    }
    It 'an unreadable copy counts as none: the full bound applies and the error says there is no copy' {
        Set-Content -LiteralPath (New-Item -ItemType File -Path $script:cache -Force).FullName -Value '{ not json'
        (Test-PostureCachedManifest -CachePath $script:cache) | Should -BeFalse
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'Unable to connect' } }
        { Get-PostureManifest -Endpoint 'https://x' -CachePath $script:cache -RetryPolicy (New-PostureRetryPolicy -MaxAttempts 4) -WarningAction SilentlyContinue } | Should -Throw '*Unable to connect on each of 4 attempts and there is no last good copy*'
        Should -Invoke Invoke-PostureHttpRequest -Times 4 -Exactly
    }
}

Describe 'Invoke-PostureSnapshot: dry run, spool, verdicts' {
    BeforeEach {
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:seq = 0
        Mock Wait-PostureRetry { $null }
        Mock Get-PostureManifest { $script:manifest }
        Mock New-PostureSnapshot { $script:seq++; New-FakeSnapshot -Sequence $script:seq }
    }

    It '-OutFile writes the snapshot and sends nothing' {
        Mock Invoke-PostureHttpRequest { throw 'must not be called' }
        $out = Join-Path -Path $TestDrive -ChildPath 'snapshot.json'
        $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '..\examples\manifest.reference.json'
        $run = Invoke-PostureSnapshot -OutFile $out -ManifestPath $manifestPath -DataPath $script:data
        $run.ExitCode | Should -Be 0
        (Get-Content -Raw -LiteralPath $out) | Should -Match '"schema":"fleet-posture/snapshot@1"'
        Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly
        Should -Invoke Get-PostureManifest -Times 0 -Exactly
    }

    It 'spools a snapshot it cannot deliver, exits non-zero, and sends the spool oldest first next time' {
        Mock Send-PostureDocument { @{ Outcome = 'Failed'; StatusCode = 0; Content = ''; Error = 'Unable to connect' } }
        (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 1
        (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 1
        $spool = Join-Path -Path $script:data -ChildPath 'spool'
        @(Get-ChildItem -LiteralPath $spool -Filter '*.json').Count | Should -Be 2

        $script:sent = New-Object System.Collections.ArrayList
        Mock Send-PostureDocument {
            [void]$script:sent.Add((ConvertFrom-PostureJson -Json $Json).snapshotId)
            @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[{"ruleId":"mcafee-port25-blocked","status":"Warning","reasonCode":"SmtpNotExcluded","message":"blocks port 25"}]}' }
        }
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data
        $run.ExitCode | Should -Be 0
        @($script:sent) | Should -Be @('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003')
        @(Get-ChildItem -LiteralPath $spool -Filter '*.json').Count | Should -Be 0
        ($run.Lines -join "`n") | Should -Match 'Warning\s+mcafee-port25-blocked\s+SmtpNotExcluded\s+blocks port 25'
    }

    It 'keeps the spool and spools the new snapshot when the oldest still cannot be sent' {
        Mock Send-PostureDocument { @{ Outcome = 'Failed'; StatusCode = 503; Content = ''; Error = $null } }
        [void](Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue)
        [void](Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue)
        # The second run tried the spooled one only: one send per run.
        Should -Invoke Send-PostureDocument -Times 2 -Exactly
        @(Get-ChildItem -LiteralPath (Join-Path -Path $script:data -ChildPath 'spool') -Filter '*.json').Count | Should -Be 2
    }

    It 'does not retry or spool a refused snapshot, keeps a copy, exits 2' {
        Mock Send-PostureDocument { @{ Outcome = 'Rejected'; StatusCode = 400; Content = '{"error":"invalid_snapshot","message":"bad","issues":[{"path":"registry[0].values[0].type","message":"unknown"}]}' } }
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 2
        ($run.Lines -join ' ') | Should -Match 'invalid_snapshot: bad; registry\[0\]\.values\[0\]\.type: unknown'
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'spool\*.json') | Should -BeFalse
        @(Get-ChildItem -LiteralPath (Join-Path -Path $script:data -ChildPath 'rejected')).Count | Should -Be 1
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match 'refused, not retried'
    }

    Context 'behind a proxy that asks for authentication (HTTP 407)' {
        BeforeEach {
            # The process-wide default proxy, as machine.config or Internet Options would give it.
            $script:savedProxy = [System.Net.WebRequest]::DefaultWebProxy
            $script:proxy = New-Object System.Net.WebProxy('http://proxy.contoso.net:8080')
            [System.Net.WebRequest]::DefaultWebProxy = $script:proxy
        }
        AfterEach {
            [System.Net.WebRequest]::DefaultWebProxy = $script:savedProxy
        }

        It 'a run with -ProxyUseDefaultCredentials lets the default proxy authenticate it with this account''s Windows credentials before its first request' {
            $script:atSend = $null
            Mock Send-PostureDocument {
                $script:atSend = [System.Net.WebRequest]::DefaultWebProxy.Credentials
                @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[]}' }
            }
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ProxyUseDefaultCredentials).ExitCode | Should -Be 0
            [object]::ReferenceEquals($script:atSend, [System.Net.CredentialCache]::DefaultNetworkCredentials) | Should -BeTrue
        }

        It 'by default a run gives the proxy no credentials (it may be one WPAD found, answered by anyone on the LAN)' {
            $script:atSend = 'not sent'
            Mock Send-PostureDocument {
                $script:atSend = [System.Net.WebRequest]::DefaultWebProxy.Credentials
                @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[]}' }
            }
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data).ExitCode | Should -Be 0
            $script:atSend | Should -BeNullOrEmpty
        }

        Context 'a run whose key was replaced, so that it enrols again' {
            BeforeEach {
                Mock Save-PostureConfig { $null }
                Mock Invoke-PostureEnrolment { @{ Status = 'Issued'; Server = 'exch01'; KeyId = 'k2'; Key = 'new-key'; IssuedAt = '2026-11-28T00:00:00.000Z'; Replaced = @('k1') } }
                $script:atSend = $null
                Mock Send-PostureDocument {
                    $script:atSend = [System.Net.WebRequest]::DefaultWebProxy.Credentials
                    if ($Headers['x-api-key'] -eq 'old-key') { return @{ Outcome = 'Rejected'; StatusCode = 401; Content = '{"error":"key_revoked","message":"replaced"}' } }
                    @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[]}' }
                }
                # The installation's configuration, with the opt-in as each test stores it.
                $script:storedConfig = { param([bool]$OptIn) @{ Endpoint = 'https://x/api'; HeaderName = 'x-api-key'; ApiKey = 'old-key'; EnrolmentSecret = 'enrol-secret'; KeyId = 'k1'; EnrolmentClaim = ''; ProxyUseDefaultCredentials = $OptIn } }
            }

            It 'the scheduled run gives them when the installation stored the opt-in, and keeps it when it enrols again' {
                Mock Read-PostureConfig { & $script:storedConfig $true }
                (Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 0
                [object]::ReferenceEquals($script:atSend, [System.Net.CredentialCache]::DefaultNetworkCredentials) | Should -BeTrue
                Should -Invoke Save-PostureConfig -Times 1 -Exactly -ParameterFilter { $ApiKey -eq 'new-key' -and $ProxyUseDefaultCredentials }
            }

            It 'a run by hand with the switch that enrols again uses it for this run only: the stored opt-in stays off' {
                Mock Read-PostureConfig { & $script:storedConfig $false }
                (Invoke-PostureSnapshot -DataPath $script:data -ProxyUseDefaultCredentials -WarningAction SilentlyContinue).ExitCode | Should -Be 0
                [object]::ReferenceEquals($script:atSend, [System.Net.CredentialCache]::DefaultNetworkCredentials) | Should -BeTrue
                Should -Invoke Save-PostureConfig -Times 1 -Exactly -ParameterFilter { $ApiKey -eq 'new-key' -and -not $ProxyUseDefaultCredentials }
            }
        }

        It 'credentials the proxy was given already are kept' {
            $given = New-Object System.Net.NetworkCredential('svc-proxy', 'p', 'CONTOSO')
            $script:proxy.Credentials = $given
            Initialize-PostureWebRequest -ProxyUseDefaultCredentials
            [object]::ReferenceEquals([System.Net.WebRequest]::DefaultWebProxy.Credentials, $given) | Should -BeTrue
        }
    }

    It 'exits 2 without an endpoint' {
        (Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 2
    }
}

Describe 'Invoke-PostureSnapshot: re-enrolment on a revoked server key' {
    BeforeEach {
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:keysSent = New-Object System.Collections.ArrayList
        Mock Wait-PostureRetry { $null }
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureManifest { [pscustomobject]@{ schema = 'fleet-posture/manifest@1' } }
        Mock New-PostureSnapshot { New-FakeSnapshot }
        Mock Read-PostureConfig { @{ Endpoint = 'https://x/api'; HeaderName = 'x-api-key'; ApiKey = 'old-key'; EnrolmentSecret = 'enrol-secret'; KeyId = 'k1'; EnrolmentClaim = '' } }
        Mock Save-PostureConfig { $null }
        Mock Invoke-PostureEnrolment { @{ Status = 'Issued'; Server = 'exch01'; KeyId = 'k2'; Key = 'new-key'; IssuedAt = '2026-11-28T00:00:00.000Z'; Replaced = @('k1') } }
    }

    It 'enrols again once on 401 key_revoked, stores the new key and retries with it' {
        Mock Send-PostureDocument {
            [void]$script:keysSent.Add($Headers['x-api-key'])
            if ($Headers['x-api-key'] -eq 'old-key') { return @{ Outcome = 'Rejected'; StatusCode = 401; Content = '{"error":"key_revoked","message":"replaced"}' } }
            @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[]}' }
        }
        $run = Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue
        $run.ExitCode | Should -Be 0
        @($script:keysSent) | Should -Be @('old-key', 'new-key')
        Should -Invoke Invoke-PostureEnrolment -Times 1 -Exactly -ParameterFilter { $EnrolmentSecret -eq 'enrol-secret' -and $Endpoint -eq 'https://x/api' }
        Should -Invoke Save-PostureConfig -Times 1 -Exactly -ParameterFilter { $ApiKey -eq 'new-key' -and $EnrolmentSecret -eq 'enrol-secret' -and $KeyId -eq 'k2' }
        @(Get-ChildItem -LiteralPath (Join-Path -Path $script:data -ChildPath 'spool') -Filter '*.json' -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'does not loop: a second key_revoked after enrolling again spools the snapshot and exits non-zero' {
        Mock Send-PostureDocument {
            [void]$script:keysSent.Add($Headers['x-api-key'])
            @{ Outcome = 'Rejected'; StatusCode = 401; Content = '{"error":"key_revoked","message":"replaced"}' }
        }
        $null = Invoke-UndeliveredRun -DataPath $script:data
        @($script:keysSent) | Should -Be @('old-key', 'new-key')
        Should -Invoke Invoke-PostureEnrolment -Times 1 -Exactly
        Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -Match 'key_revoked'
    }

    It 'does not enrol again on any other 401' {
        Mock Send-PostureDocument { @{ Outcome = 'Rejected'; StatusCode = 401; Content = '{"error":"unauthorized","message":"The key is not valid."}' } }
        $null = Invoke-UndeliveredRun -DataPath $script:data
        Should -Invoke Invoke-PostureEnrolment -Times 0 -Exactly
        Should -Invoke Save-PostureConfig -Times 0 -Exactly
    }

    # A proxy, a firewall or a front end refused the post before the service saw it: the key may
    # well be good, and the snapshot too.
    Context 'a post refused 401/403/404/405/413 by something in front of the service' {
        BeforeEach {
            $script:spoolFiles = { @(Get-ChildItem -LiteralPath (Join-Path -Path $script:data -ChildPath 'spool') -Filter '*.json') }
            $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
        }

        It '<Case>: no re-enrolment, the key kept, the snapshots stay in the spool, the output and the log say what refused them' -ForEach @(
            @{ Case = 'a front end''s 403 page'; Means = ''; Code = 403; Content = "<html>`r`n<head><title>403 Forbidden</title></head>`r`n<body><center><h1>403 Forbidden</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body>`r`n</html>"; Said = '403 Forbidden' }
            @{ Case = 'a front end''s 403 in JSON, its error an object'; Means = ''; Code = 403; Content = '{"error":{"code":"Forbidden","message":"The request is blocked."}}'; Said = '{"error":{"code":"Forbidden","message":"The request is blocked."}}' }
            @{ Case = 'a 401 without a body'; Means = ''; Code = 401; Content = ''; Said = '' }
            @{ Case = 'an OAuth proxy''s 401'; Means = ''; Code = 401; Content = '{"error":"invalid_token"}'; Said = '{"error":"invalid_token"}' }
            # A gateway's body limit: only the service's 413 too_large refuses the snapshot for good.
            @{ Case = 'an application gateway''s 413 page'; Means = ''; Code = 413; Content = "<html>`r`n<head><title>413 Request Entity Too Large</title></head>`r`n<body><center><h1>413 Request Entity Too Large</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body>`r`n</html>"; Said = '413 Request Entity Too Large' }
            # A wrong URL or a proxy's rules: the sentence also says where to look.
            @{ Case = 'a wrong URL''s 404 page'; Code = 404; Content = "<!DOCTYPE html>`r`n<html><head><title>404 - File or directory not found.</title></head>`r`n<body><h2>Server Error</h2><p>x-api-key: old-key-echoed</p></body></html>"; Said = '404 - File or directory not found.'; Means = 'which usually means the service URL or path is wrong' }
            @{ Case = 'a proxy''s 405 for the method'; Code = 405; Content = "<html>`r`n<head><title>405 Not Allowed</title></head>`r`n<body><center><h1>405 Not Allowed</h1></center><hr><center>nginx</center></body>`r`n</html>"; Said = '405 Not Allowed'; Means = 'which usually means the service URL or path is wrong or a proxy blocks the request''s method' }
        ) {
            $script:answer = @{ StatusCode = $Code; Content = $Content; RetryAfter = $null; Error = 'Response status code does not indicate success.' }
            Mock Invoke-PostureHttpRequest { [void]$script:keysSent.Add($Headers['x-api-key']); $script:answer }
            $from = 'HTTP {0} from something in front of the service, not the service (a proxy, firewall or front end?)' -f $Code
            if ($Means) { $from += ', ' + $Means }
            if ($Said) { $from += '; it answered: ' + $Said }

            # The run's own snapshot.
            $run = Invoke-UndeliveredRun -DataPath $script:data
            $line = @($run.Lines | Where-Object { $_ -match 'not delivered' })
            $line.Count | Should -Be 1
            $id = [regex]::Match($line[0], '^Snapshot (\S+) ').Groups[1].Value
            $line[0] | Should -BeExactly ('Snapshot {0} not delivered ({1}); spooled for the next run.' -f $id, $from)
            & $script:log | Should -Match ('not delivered \({0}\); spooled to ' -f [regex]::Escape($from))

            # A later run: the spooled snapshot is refused the same way, and both stay.
            $run = Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue
            $run.ExitCode | Should -Be 1
            @(& $script:spoolFiles).Count | Should -Be 2
            ($run.Lines -join "`n") | Should -Match ('not delivered \(earlier spooled snapshots could not be delivered: {0}\); spooled for the next run\.' -f [regex]::Escape($from))
            & $script:log | Should -Match ('Spooled snapshot \S+ not delivered \({0}\); the spool is kept for the next run\.' -f [regex]::Escape($from))

            ($run.Lines -join '|') | Should -Not -Match '[\r\n]'
            # Never the page itself, only its title or a short excerpt.
            ($run.Lines -join '|') + (& $script:log) | Should -Not -Match '<|DOCTYPE|nginx</'
            & $script:log | Should -Not -Match 'Service said|@\{code|refused by the service'
            Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'rejected') | Should -BeFalse
            Should -Invoke Invoke-PostureEnrolment -Times 0 -Exactly
            Should -Invoke Save-PostureConfig -Times 0 -Exactly
            @($script:keysSent) | Should -Be @('old-key', 'old-key')
        }

        It 'the service''s own 403 forbidden is still its refusal of the key: no re-enrolment, the snapshot spooled, the output gives its message' {
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '{"error":"forbidden","message":"This server key belongs to exch02 and cannot post a snapshot of exch01."}'; RetryAfter = $null; Error = 'Response status code does not indicate success.' } }
            $run = Invoke-UndeliveredRun -DataPath $script:data
            ($run.Lines -join "`n") | Should -Match 'not delivered \(HTTP 403 forbidden: This server key belongs to exch02 and cannot post a snapshot of exch01\.\); spooled for the next run'
            ($run.Lines -join "`n") | Should -Not -Match 'in front of the service'
            Should -Invoke Invoke-PostureEnrolment -Times 0 -Exactly
        }
    }

    It 'keeps the snapshot spooled when enrolling again fails' {
        Mock Send-PostureDocument { @{ Outcome = 'Rejected'; StatusCode = 401; Content = '{"error":"key_revoked","message":"revoked"}' } }
        Mock Invoke-PostureEnrolment { throw 'Enrolment refused (HTTP 403): blocked' }
        $null = Invoke-UndeliveredRun -DataPath $script:data
        Should -Invoke Send-PostureDocument -Times 1 -Exactly
        # Only the request secret is stored, before the attempt (for the resend); the key stays.
        Should -Invoke Save-PostureConfig -Times 1 -Exactly
        Should -Invoke Save-PostureConfig -Times 1 -Exactly -ParameterFilter { $ApiKey -eq 'old-key' -and $EnrolmentRequest -match '^[A-Za-z0-9_-]{43}$' }
    }
}

Describe 'Files that must never be missing' {
    It 'a run without an endpoint (its configuration gone) says so in the log as well as the output, exit 2' {
        $data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        Mock Invoke-PostureHttpRequest { throw 'must not be called' }
        $r = Invoke-PostureSnapshot -DataPath $data -WarningAction SilentlyContinue
        $r.ExitCode | Should -Be 2
        $said = 'No endpoint: pass -Endpoint and -ApiKey, or run Install-PostureCollector.ps1 (looked for {0}).' -f (Join-Path -Path $data -ChildPath 'config.dat')
        ($r.Lines -join "`n") | Should -Be $said
        Get-Content -Raw -LiteralPath (Join-Path -Path $data -ChildPath 'collector.log') | Should -Match ('ERROR +' + [regex]::Escape($said))
    }

    It 'the configuration is replaced in one step: a replacement that fails leaves the stored one whole' {
        Mock Protect-PostureSecret { , [System.Text.Encoding]::UTF8.GetBytes('dpapi:' + $Text) }
        $config = Join-Path -Path $TestDrive -ChildPath ('{0}.dat' -f [guid]::NewGuid())
        Save-PostureConfig -Path $config -Endpoint 'https://x/api' -ApiKey 'key-1'
        Save-PostureConfig -Path $config -Endpoint 'https://x/api' -ApiKey 'key-2'
        [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($config)) | Should -Match '"apiKey":"key-2"'
        Test-Path -LiteralPath ($config + '.tmp') | Should -BeFalse
        # The new file is gone before it can take the old one's place (a scanner holding it, a kill).
        { Move-PostureFileIntoPlace -Source ($config + '.missing') -Path $config } | Should -Throw
        [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($config)) | Should -Match '"apiKey":"key-2"'
    }
}

Describe 'Limit-PostureSpool' {
    It 'drops snapshots older than MaxAgeDays, then the oldest beyond MaxCount' {
        $spool = Join-Path -Path $TestDrive -ChildPath 'limit'
        $now = [datetime]::SpecifyKind([datetime]'2026-11-28T12:00:00', 'Utc')
        foreach ($h in @(240, 5, 4, 3, 2, 1)) {
            [void](Save-PostureSpoolItem -SpoolPath $spool -SnapshotId ('id{0}' -f $h) -Json '{}' -Now $now.AddHours(-$h))
        }
        Limit-PostureSpool -SpoolPath $spool -MaxCount 3 -MaxAgeDays 7 -Now $now -WarningAction SilentlyContinue
        @(Get-PostureSpoolItem -SpoolPath $spool | ForEach-Object { $_.Name -replace '^.*_', '' }) | Should -Be @('id3.json', 'id2.json', 'id1.json')
    }
}

Describe 'Writes cut short: the .tmp files they leave' {
    BeforeEach {
        $script:data = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        # Writes a file last written Age ago (Age a TimeSpan), under the data folder.
        $script:leave = {
            param([string]$Name, [timespan]$Age)
            $file = Join-Path -Path $script:data -ChildPath $Name
            $dir = Split-Path -Parent $file
            if (-not (Test-Path -LiteralPath $dir)) { $null = New-Item -ItemType Directory -Path $dir }
            [System.IO.File]::WriteAllText($file, '{"half":')
            [System.IO.File]::SetLastWriteTimeUtc($file, [datetime]::UtcNow.Subtract($Age))
        }
        # Every file under the data folder, relative, '/'-separated, sorted.
        $script:left = {
            $root = (Get-Item -LiteralPath $script:data).FullName
            @(Get-ChildItem -LiteralPath $root -Recurse -File | ForEach-Object { $_.FullName.Substring($root.Length + 1).Replace('\', '/') } | Sort-Object)
        }
        $script:log = { Get-Content -Raw -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') }
        Mock Get-PostureManifest { $script:manifest }
        Mock New-PostureSnapshot { New-FakeSnapshot -Sequence 1 }
        Mock Send-PostureDocument { @{ Outcome = 'Sent'; StatusCode = 201; Content = '{"snapshotId":"x","server":"exch01","outcome":"accepted","results":[]}' } }
    }

    It 'a run removes those of the collector''s files last written more than an hour ago, in the data folder, spool\ and rejected\, one log line each; newer ones and other files stay' {
        $old = [timespan]::FromHours(2)
        $new = [timespan]::FromMinutes(5)
        foreach ($name in @('config.dat.tmp', 'manifest.json.tmp', 'spool/20261101T000000000Z_a.json.tmp', 'rejected/b.json.tmp')) { & $script:leave $name $old }
        # A write that may still be under way (a run by hand, the installer).
        foreach ($name in @('spool/20261201T000000000Z_c.json.tmp', 'rejected/d.json.tmp')) { & $script:leave $name $new }
        # Not names the collector writes through a .tmp: another tool's, or an admin's.
        foreach ($name in @('other.tmp', 'collector.log.tmp', 'config.dat.tmp.bak', 'spool/notes.tmp', 'rejected/e.txt.tmp', 'rejected/f.json')) { & $script:leave $name $old }
        $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data
        $run.ExitCode | Should -Be 0
        & $script:left | Should -Be @('collector.log', 'collector.log.tmp', 'config.dat.tmp.bak', 'other.tmp', 'rejected/d.json.tmp', 'rejected/e.txt.tmp', 'rejected/f.json', 'spool/20261201T000000000Z_c.json.tmp', 'spool/notes.tmp')
        $removed = @((& $script:log) -split "`n" | Where-Object { $_ -match 'left by a write cut short' })
        $removed.Count | Should -Be 4
        foreach ($name in @('config.dat.tmp', 'manifest.json.tmp', '20261101T000000000Z_a.json.tmp', 'b.json.tmp')) {
            @($removed | Where-Object { $_ -match ('INFO +Removed .*[\\/]{0}, left by a write cut short \(last written \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.' -f [regex]::Escape($name)) }).Count | Should -Be 1
        }
    }

    It 'one an hour old or newer stays; past the hour it goes' {
        $null = New-Item -ItemType Directory -Path $script:data
        $now = [datetime]::SpecifyKind([datetime]'2026-11-28T12:00:00', 'Utc')
        $file = Join-Path -Path $script:data -ChildPath 'config.dat.tmp'
        [System.IO.File]::WriteAllText($file, 'x')
        [System.IO.File]::SetLastWriteTimeUtc($file, $now.AddMinutes(-59))
        Remove-PostureUnfinishedWrite -DataPath $script:data -Now $now
        Test-Path -LiteralPath $file | Should -BeTrue
        Remove-PostureUnfinishedWrite -DataPath $script:data -Now $now.AddMinutes(2)
        Test-Path -LiteralPath $file | Should -BeFalse
    }

    It 'a run that ends early (no endpoint configured) removes them too' {
        & $script:leave 'rejected/b.json.tmp' ([timespan]::FromHours(2))
        (Invoke-PostureSnapshot -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 2
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'rejected/b.json.tmp') | Should -BeFalse
    }

    It 'a dry run (-OutFile) changes nothing in the data folder' {
        & $script:leave 'config.dat.tmp' ([timespan]::FromHours(2))
        $out = Join-Path -Path $TestDrive -ChildPath 'dry.json'
        (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -OutFile $out -DataPath $script:data).ExitCode | Should -Be 0
        & $script:left | Should -Be @('config.dat.tmp')
    }

    It 'a folder that cannot be listed is logged and the run goes on; the other places are still cleared' {
        & $script:leave 'rejected/b.json.tmp' ([timespan]::FromHours(2))
        & $script:leave 'manifest.json.tmp' ([timespan]::FromHours(2))
        Mock Get-ChildItem { throw 'Access to the path is denied.' } -ParameterFilter { $LiteralPath -like '*rejected' }
        (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -WarningAction SilentlyContinue).ExitCode | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'rejected/b.json.tmp') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'manifest.json.tmp') | Should -BeFalse
        & $script:log | Should -Match 'rejected cannot be listed to remove what writes cut short left there \(\*\.json\.tmp\): Access to the path is denied\.'
    }

    Context 'a -ConfigPath of its own, outside the data folder' {
        BeforeEach {
            # The admin's folder beside the configuration: other files there are not the collector's.
            $script:cfgDir = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
            $null = New-Item -ItemType Directory -Path $script:cfgDir
            $script:cfg = Join-Path -Path $script:cfgDir -ChildPath 'posture.dat'
            # Writes a file last written Age ago in that folder.
            $script:leaveBeside = {
                param([string]$Name, [timespan]$Age)
                $file = Join-Path -Path $script:cfgDir -ChildPath $Name
                [System.IO.File]::WriteAllText($file, 'half')
                [System.IO.File]::SetLastWriteTimeUtc($file, [datetime]::UtcNow.Subtract($Age))
            }
            $script:besides = { @(Get-ChildItem -LiteralPath $script:cfgDir -Force | ForEach-Object { $_.Name } | Sort-Object) }
        }

        It 'a run removes the .tmp the configuration''s own write left beside it, once past the hour, with the same log line' {
            Mock Protect-PostureSecret { , [System.Text.Encoding]::UTF8.GetBytes('dpapi:' + $Text) }
            # A write of the configuration cut short between its .tmp and the move: the name is the writer's own.
            Mock Move-PostureFileIntoPlace { throw 'The process was stopped.' } -ParameterFilter { $Path -eq $script:cfg }
            { Save-PostureConfig -Path $script:cfg -Endpoint 'https://x/api' -ApiKey 'k' } | Should -Throw
            & $script:besides | Should -Be @('posture.dat.tmp')
            [System.IO.File]::SetLastWriteTimeUtc(($script:cfg + '.tmp'), [datetime]::UtcNow.AddHours(-2))
            $run = Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg
            $run.ExitCode | Should -Be 0
            @(& $script:besides).Count | Should -Be 0
            $removed = @((& $script:log) -split "`n" | Where-Object { $_ -match 'left by a write cut short' })
            $removed.Count | Should -Be 1
            $removed[0] | Should -Match ('INFO +Removed {0}, left by a write cut short \(last written \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.' -f [regex]::Escape($script:cfg + '.tmp'))
        }

        It 'one written within the hour stays (a write by hand or the installer may be under way)' {
            & $script:leaveBeside 'posture.dat.tmp' ([timespan]::FromMinutes(5))
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            & $script:besides | Should -Be @('posture.dat.tmp')
            $now = [datetime]::UtcNow
            Remove-PostureUnfinishedWrite -DataPath $script:data -ConfigPath $script:cfg -Now $now.AddMinutes(54)
            & $script:besides | Should -Be @('posture.dat.tmp')
            Remove-PostureUnfinishedWrite -DataPath $script:data -ConfigPath $script:cfg -Now $now.AddMinutes(56)
            @(& $script:besides).Count | Should -Be 0
        }

        It 'only that one name goes: other old files beside it, however alike, stay' {
            # The configuration named with [ ], which a wildcard would read as a set of characters.
            $script:cfg = Join-Path -Path $script:cfgDir -ChildPath 'posture[1].dat'
            $old = [timespan]::FromHours(2)
            $alike = @('config.dat.tmp', 'manifest.json.tmp', 'posture.dat.tmp', 'posture1.dat.tmp', 'posture[1].dat.tmp.bak', 'posture[1].dat.tmpx', 'posture[1].tmp', 'Xposture[1].dat.tmp', 'posture[1].dat')
            foreach ($name in ($alike + 'posture[1].dat.tmp')) { & $script:leaveBeside $name $old }
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            & $script:besides | Should -Be @($alike | Sort-Object)
            @((& $script:log) -split "`n" | Where-Object { $_ -match 'left by a write cut short' }).Count | Should -Be 1
        }

        It 'a folder of that name stays' {
            $null = New-Item -ItemType Directory -Path ($script:cfg + '.tmp')
            [System.IO.Directory]::SetLastWriteTimeUtc(($script:cfg + '.tmp'), [datetime]::UtcNow.AddHours(-2))
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            & $script:besides | Should -Be @('posture.dat.tmp')
        }

        It 'a dry run (-OutFile) removes nothing beside the configuration either; the next run does' {
            & $script:leaveBeside 'posture.dat.tmp' ([timespan]::FromHours(2))
            $out = Join-Path -Path $TestDrive -ChildPath 'dry-config.json'
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -OutFile $out -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            & $script:besides | Should -Be @('posture.dat.tmp')
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            @(& $script:besides).Count | Should -Be 0
        }

        It 'the data folder''s own config.dat.tmp, given as -ConfigPath, is removed and logged once' {
            $script:cfg = Join-Path -Path $script:data -ChildPath 'config.dat'
            & $script:leave 'config.dat.tmp' ([timespan]::FromHours(2))
            Mock Remove-PostureSpoolFile { $false }
            (Invoke-PostureSnapshot -Endpoint 'https://x' -ApiKey 'k' -DataPath $script:data -ConfigPath $script:cfg).ExitCode | Should -Be 0
            Should -Invoke Remove-PostureSpoolFile -Times 1 -Exactly -ParameterFilter { $Path -like '*config.dat.tmp' }
        }
    }
}

Describe 'Send-PostureSnapshot.ps1 as a whole (real registry, services and host, -OutFile)' -Skip:(-not ($env:OS -eq 'Windows_NT')) {
    It 'writes a contract snapshot with both views on 64-bit Windows and exits 0' {
        $script = Join-Path -Path $PSScriptRoot -ChildPath '..\Send-PostureSnapshot.ps1'
        $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '..\examples\manifest.reference.json'
        $out = Join-Path -Path $TestDrive -ChildPath 'real.json'
        $engine = (Get-Process -Id $PID).Path
        $printed = & $engine -NoProfile -ExecutionPolicy Bypass -File $script -OutFile $out -ManifestPath $manifestPath
        $LASTEXITCODE | Should -Be 0
        ($printed -join ' ') | Should -Match 'nothing was sent'
        $s = Get-Content -Raw -LiteralPath $out | ConvertFrom-Json
        $s.schema | Should -Be 'fleet-posture/snapshot@1'
        $s.snapshotId | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        $s.host.name | Should -Be $env:COMPUTERNAME
        ($s.host.utcOffsetMinutes -is [int] -or $s.host.utcOffsetMinutes -is [long]) | Should -BeTrue
        $views = @($s.registry | ForEach-Object { $_.view } | Sort-Object -Unique)
        if (Test-PostureOs64Bit) { $views | Should -Be @('32', '64') } else { $views | Should -Be @('32') }
        @($s.files).Count | Should -Be 3
    }
}
