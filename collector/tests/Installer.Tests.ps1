# Pester 5 tests of Install-PostureCollector.ps1's functions: the task definition, the protected
# configuration and its ACL, install and uninstall, and the warning about this host's clock that
# the enrolment's answers give (against a real HTTP server on the loopback interface). Task
# registration, elevation and DPAPI are mocked.

BeforeDiscovery {
    # -Skip conditions are evaluated at discovery, before BeforeAll has loaded the functions.
    $onWindows = $env:OS -eq 'Windows_NT'
    $isAdmin = $false
    if ($onWindows) {
        $isAdmin = (New-Object System.Security.Principal.WindowsPrincipal([System.Security.Principal.WindowsIdentity]::GetCurrent())).IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
    }
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHttpServer.ps1')
    $script:source = Split-Path -Parent $PSScriptRoot
    # What the service answers GET /api/manifest with: the only answer that shows it takes a key.
    $script:manifestJson = Get-Content -Raw -LiteralPath (Join-Path -Path $script:source -ChildPath 'examples/manifest.reference.json')
    # The task runs Windows PowerShell from %SystemRoot%; give machines without it a Windows value.
    $script:systemRoot = $env:SystemRoot
    if (-not $env:SystemRoot) { $env:SystemRoot = 'C:\Windows' }
}

AfterAll {
    $env:SystemRoot = $script:systemRoot
}

Describe 'New-PostureTaskXml' {
    It 'runs under Set-StrictMode -Version Latest' {
        { $null = $script:thisVariableDoesNotExist } | Should -Throw
    }
    It 'runs the script as SYSTEM every hour with a random delay, one instance at a time' {
        $xml = [xml](New-PostureTaskXml -ScriptPath 'C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1' -RandomDelayMinutes 50)
        $ns = New-Object System.Xml.XmlNamespaceManager($xml.NameTable)
        $ns.AddNamespace('t', 'http://schemas.microsoft.com/windows/2004/02/mit/task')
        $xml.SelectSingleNode('//t:Principal/t:UserId', $ns).InnerText | Should -Be 'S-1-5-18'
        $xml.SelectSingleNode('//t:Principal/t:RunLevel', $ns).InnerText | Should -Be 'HighestAvailable'
        $xml.SelectSingleNode('//t:TimeTrigger/t:Repetition/t:Interval', $ns).InnerText | Should -Be 'PT1H'
        $xml.SelectSingleNode('//t:TimeTrigger/t:RandomDelay', $ns).InnerText | Should -Be 'PT50M'
        $xml.SelectSingleNode('//t:Settings/t:MultipleInstancesPolicy', $ns).InnerText | Should -Be 'IgnoreNew'
        $xml.SelectSingleNode('//t:Exec/t:Command', $ns).InnerText | Should -Be ($env:SystemRoot + '\System32\WindowsPowerShell\v1.0\powershell.exe')
        $xml.SelectSingleNode('//t:Exec/t:Arguments', $ns).InnerText | Should -Be '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1"'
    }
    It 'gives the runs a data folder <DataPath> as one argument: <Arguments>' -ForEach @(
        @{ DataPath = 'D:\Posture Data'; Arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1" -DataPath "D:\Posture Data"' }
        # "D:\" would escape its closing quote when Windows splits the command line.
        @{ DataPath = 'D:\'; Arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1" -DataPath "D:\\"' }
        @{ DataPath = 'D:\Posture & <Data>'; Arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1" -DataPath "D:\Posture & <Data>"' }
    ) {
        $xml = [xml](New-PostureTaskXml -ScriptPath 'C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1' -DataPath $DataPath)
        $ns = New-Object System.Xml.XmlNamespaceManager($xml.NameTable)
        $ns.AddNamespace('t', 'http://schemas.microsoft.com/windows/2004/02/mit/task')
        $xml.SelectSingleNode('//t:Exec/t:Arguments', $ns).InnerText | Should -Be $Arguments
    }
}

Describe 'Register-PostureCollector' {
    BeforeAll {
        # An earlier installation's protected configuration (DPAPI mocked: the JSON is what it holds).
        function Set-PreviousInstallation([string]$Config) {
            [void](New-Item -ItemType Directory -Path $script:data -Force)
            [System.IO.File]::WriteAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat'), [byte[]](9))
            $script:previousConfig = $Config
            Mock Unprotect-PostureSecret { $script:previousConfig }
        }
    }

    BeforeEach {
        # TestDrive lives as long as the Describe: a folder of its own per test.
        $root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:install = Join-Path -Path $root -ChildPath 'Program Files\FleetPosture'
        $script:data = Join-Path -Path $root -ChildPath 'ProgramData\FleetPosture'
        Mock Test-PostureAdministrator { $true }
        Mock Register-PostureTask { $null }
        Mock Set-PostureRestrictedAcl { $null }
        Mock Protect-PostureSecret { , [byte[]](1, 2, 3) }
    }

    It 'the task''s runs read the configuration where it was stored: a <Which> data folder <Passed>' -ForEach @(
        @{ Which = 'custom'; Passed = 'is passed to them as a full path'; Relative = $false; Default = $false }
        @{ Which = 'relative'; Passed = 'is passed to them as the full path it was resolved to, never as typed'; Relative = $true; Default = $false }
        @{ Which = 'default'; Passed = 'is not passed (the runs default to it)'; Relative = $false; Default = $true }
    ) {
        if ($Default) { Mock Get-PostureDataPath { $script:data } }
        $script:xml = $null
        Mock Register-PostureTask { $script:xml = [xml]$Xml }
        $data = $script:data
        $typedIn = Split-Path -Parent $script:data
        if ($Relative) { $data = Split-Path -Leaf $script:data }
        [void](New-Item -ItemType Directory -Path $typedIn -Force)
        Push-Location -LiteralPath $typedIn
        try {
            $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $data
        } finally {
            Pop-Location
        }
        Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'config.dat') | Should -BeTrue
        $ns = New-Object System.Xml.XmlNamespaceManager($script:xml.NameTable)
        $ns.AddNamespace('t', 'http://schemas.microsoft.com/windows/2004/02/mit/task')
        $arguments = $script:xml.SelectSingleNode('//t:Exec/t:Arguments', $ns).InnerText
        $sendScript = Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1'
        if ($Default) {
            $arguments | Should -Be ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}"' -f $sendScript)
        } else {
            $arguments | Should -Be ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -DataPath "{1}"' -f $sendScript, $script:data)
        }
    }

    It 'copies the scripts, stores the protected configuration and registers the task (legacy -ApiKey)' {
        $message = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        $message | Should -Match 'hourly as SYSTEM'
        Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Private\Run.ps1') | Should -BeTrue
        [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(1, 2, 3)
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"secret"}' }
        Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $script:data }
        Should -Invoke Register-PostureTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'FleetPosture Collector' -and $Xml -match 'S-1-5-18' }
    }

    It 'protects the install folder before copying into it: SYSTEM and Administrators may change it, Users only read and run (a custom -InstallPath such as D:\Tools)' {
        $script:install = Join-Path -Path $TestDrive -ChildPath ('{0}\Tools\FleetPosture' -f [guid]::NewGuid())
        # What the folder held when its ACL was set: nothing copied may be open to change.
        $script:atProtection = $null
        Mock Set-PostureRestrictedAcl { $script:atProtection = @(Get-ChildItem -LiteralPath $Path -Recurse -File) } -ParameterFilter { $Path -eq $script:install }
        $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $script:install -and @($ReadAndExecuteSid) -join ',' -eq 'S-1-5-32-545' }
        # The data folder stays SYSTEM and Administrators only.
        Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $script:data -and -not $ReadAndExecuteSid }
        @($script:atProtection).Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Private\Run.ps1') | Should -BeTrue
    }

    It 'leaves no helper of an older version behind in Private\ (the scripts load every file there)' {
        $private = Join-Path -Path $script:install -ChildPath 'Private'
        [void](New-Item -ItemType Directory -Path $private -Force)
        Set-Content -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') -Value '# an older version'
        Set-Content -LiteralPath (Join-Path -Path $private -ChildPath 'Dropped.ps1') -Value 'throw "an old helper ran"'
        Set-Content -LiteralPath (Join-Path -Path $private -ChildPath 'notes.txt') -Value 'kept'
        $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        Test-Path -LiteralPath (Join-Path -Path $private -ChildPath 'Dropped.ps1') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path -Path $private -ChildPath 'notes.txt') | Should -BeTrue
        $copied = @(Get-ChildItem -LiteralPath $private -Filter '*.ps1' | ForEach-Object { $_.Name } | Sort-Object)
        $shipped = @(Get-ChildItem -LiteralPath (Join-Path -Path $script:source -ChildPath 'Private') -Filter '*.ps1' | ForEach-Object { $_.Name } | Sort-Object)
        $copied | Should -Be $shipped
    }

    It 'enrols with -EnrolmentSecret and stores the server key and the secret' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h['fqdn'] = 'exch01.contoso.com'; $h }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{"server":"exch01.contoso.com","keyId":"k1","key":"fpk_server_key","issuedAt":"2026-11-28T00:00:00.000Z","replaced":[]}'; RetryAfter = $null; Error = $null } }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter {
            $Method -eq 'Post' -and $Uri -eq 'https://posture.contoso.net/api/enroll' -and $Headers['x-api-key'] -eq 'enrol-secret' -and
            [System.Text.Encoding]::UTF8.GetString($Body) -eq ('{"host":{"name":"EXCH01","fqdn":"exch01.contoso.com"},"collector":{"name":"Send-PostureSnapshot","version":"' + (Get-PostureCollectorVersion) + '"}}')
        }
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fpk_server_key","keyId":"k1","enrolmentSecret":"enrol-secret"}' }
        Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $script:data }
        [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(1, 2, 3)
    }

    It 'gives the proxy Windows credentials and stores that for the runs only with -ProxyUseDefaultCredentials' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Set-PostureProxyCredential { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{"server":"exch01","keyId":"k1","key":"fp1.key","issuedAt":"2026-11-28T00:00:00.000Z","replaced":[]}'; RetryAfter = $null; Error = $null } }
        $script:stored = @()
        Mock Protect-PostureSecret { $script:stored += $Text; , [byte[]](1, 2, 3) }
        $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        Should -Invoke Set-PostureProxyCredential -Times 0 -Exactly
        $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -Reenrol -ProxyUseDefaultCredentials -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        Should -Invoke Set-PostureProxyCredential -Times 1 -Exactly
        # Each install stores its request secret before enrolling, then the key.
        $script:stored.Count | Should -Be 4
        $script:stored[0..1] | Should -Not -Match 'proxyUseDefaultCredentials'
        # What a scheduled run reads back.
        Mock Unprotect-PostureSecret { $script:stored[3] }
        (Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')).ProxyUseDefaultCredentials | Should -BeTrue
        Mock Unprotect-PostureSecret { $script:stored[1] }
        (Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')).ProxyUseDefaultCredentials | Should -BeFalse
    }

    It 'fails clearly, before copying anything, when enrolment is refused or the service is unreachable' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Wait-PostureRetry { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 401; Content = '{"error":"unauthorized","message":"The key is not valid."}'; RetryAfter = $null; Error = $null } }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'wrong' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*enrolment secret is wrong*'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; RetryAfter = $null; Error = $null } }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*HTTP 403*Service said: forbidden: An admin blocked the enrolment of exch01.'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'The remote name could not be resolved' } }
        # A refusal is asked once; no answer is asked again, as a post is, before the installer gives up.
        Should -Invoke Wait-PostureRetry -Times 0 -Exactly
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*on each of 4 attempts*'
        Should -Invoke Wait-PostureRetry -Times 3 -Exactly
        Test-Path -LiteralPath $script:install | Should -BeFalse
        # Only the request secret is stored (the runs resend with it); no key.
        Should -Invoke Protect-PostureSecret -Times 0 -Exactly -ParameterFilter { $Text -match '"apiKey":"[^"]' }
        Should -Invoke Register-PostureTask -Times 0 -Exactly
    }

    Context 'the request secret (x-enrolment-request) when no answer of the enrolment arrives' {
        BeforeEach {
            Mock Set-PostureTlsProtocol { $null }
            Mock Wait-PostureRetry { $null }
            Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
            # What is sent and what is stored, in order; the configuration reads back what was stored last.
            $script:sent = @()
            $script:stored = @()
            Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-request']; @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'timed out' } }
            Mock Protect-PostureSecret { $script:stored += $Text; , [byte[]](1, 2, 3) }
            Mock Unprotect-PostureSecret { $script:stored[-1] }
        }

        It 'a second install after a first whose every answer was lost resends the first one''s request secret' {
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*'
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*'
            $script:sent.Count | Should -Be 8
            @($script:sent | Select-Object -Unique).Count | Should -Be 1
            # Stored in the protected folder before the first send, where the runs find it too.
            Should -Invoke Set-PostureRestrictedAcl -ParameterFilter { $Path -eq $script:data }
            $config = Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')
            $config.EnrolmentRequest | Should -Be $script:sent[0]
            $config.EnrolmentSecret | Should -Be 's'
            $config.ApiKey | Should -Be ''
            Test-Path -LiteralPath $script:install | Should -BeFalse
        }

        It 'a -Reenrol whose every answer was lost keeps the working key and claim stored before, beside the request secret the next install resends' {
            Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"old-secret","enrolmentClaim":"r1.claim","proxyUseDefaultCredentials":true}'
            $script:stored = @($script:previousConfig)
            Mock Unprotect-PostureSecret { $script:stored[-1] }
            Mock Set-PostureProxyCredential { $null }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -Reenrol -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*'
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -Reenrol -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*'
            @($script:sent | Select-Object -Unique).Count | Should -Be 1
            $config = Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')
            $config.ApiKey | Should -Be 'fp1.current'
            $config.KeyId | Should -Be 'k1'
            $config.EnrolmentClaim | Should -Be 'r1.claim'
            $config.ProxyUseDefaultCredentials | Should -BeTrue
            $config.EnrolmentSecret | Should -Be 's'
            $config.EnrolmentRequest | Should -Be $script:sent[0]
        }

        It 'an enrolment refused outright leaves the configuration as it was: none on a first install, the earlier one on a reinstall' {
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 401; Content = '{"error":"unauthorized","message":"The key is not valid."}'; RetryAfter = $null; Error = $null } }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'wrong' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*enrolment secret is wrong*'
            Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'config.dat') | Should -BeFalse
            Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}'
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'wrong' -Reenrol -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*enrolment secret is wrong*'
            [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(9)
        }

        It 'a reinstall whose stored claim is refused clears the claim and request secret exactly when a run would (the service''s 403 denied or blocked, 400, 409 request_closed); 401, other 409s and a 400 or 403 not from the service keep them' {
            $waiting = '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"","enrolmentSecret":"enrol-secret","enrolmentClaim":"R1.claim","enrolmentRequest":"waiting-request-secret-1","proxyUseDefaultCredentials":true}'
            $cases = @(
                @{ Status = 403; Body = '{"error":"forbidden","message":"An admin denied the re-enrolment request R1 of exch01."}'; Cleared = $true }
                @{ Status = 403; Body = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; Cleared = $true }
                @{ Status = 400; Body = '{"error":"invalid_query","message":"The x-enrolment-claim header must be the claim a 202 answer of enrolment handed out, unchanged."}'; Cleared = $true }
                @{ Status = 409; Body = '{"error":"request_closed","message":"The re-enrolment request R1 was closed."}'; Cleared = $true }
                @{ Status = 401; Body = '{"error":"unauthorized","message":"The key is not valid."}'; Cleared = $false }
                @{ Status = 409; Body = '{"error":"unknown_request_state","message":"Not known here."}'; Cleared = $false }
                # A stopped web app's page and a firewall's refusal: the approved request may still be collected.
                @{ Status = 403; Body = '<html><head><title>Web App - Stopped</title></head><body>Error 403 - This web app is stopped.</body></html>'; Cleared = $false }
                @{ Status = 400; Body = 'Request blocked by the web application firewall.'; Cleared = $false }
            )
            Mock Set-PostureProxyCredential { $null }
            foreach ($case in $cases) {
                $script:answer = $case
                Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-claim']; @{ StatusCode = $script:answer.Status; Content = $script:answer.Body; RetryAfter = $null; Error = $null } }
                Set-PreviousInstallation -Config $waiting
                $script:stored = @($waiting)
                $script:sent = @()
                Mock Unprotect-PostureSecret { $script:stored[-1] }
                { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw "*HTTP $($case.Status)*"
                $script:sent | Should -Be @('R1.claim') -Because $case.Body
                $config = Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')
                if ($case.Cleared) {
                    $config.EnrolmentClaim | Should -Be '' -Because $case.Body
                    $config.EnrolmentRequest | Should -Be '' -Because $case.Body
                    # Everything else stays as it was.
                    $config.EnrolmentSecret | Should -Be 'enrol-secret'
                    $config.ProxyUseDefaultCredentials | Should -BeTrue
                } else {
                    [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(9) -Because $case.Body
                }
                Test-Path -LiteralPath $script:install | Should -BeFalse
                # A run holding the same claim decides the same.
                $run = New-PostureEnrolmentState -Endpoint 'https://posture.contoso.net' -ConfigPath (Join-Path -Path $TestDrive -ChildPath 'run-config.dat') -Secret 'enrol-secret' -Claim 'R1.claim' -RequestSecret 'waiting-request-secret-1'
                $null = Request-PostureServerKey -Enrolment $run -Headers @{} -WarningAction SilentlyContinue
                ($run.Claim -eq '') | Should -Be $case.Cleared -Because $case.Body
            }
        }

        It 'a reinstall refused without a claim (403 blocked or denied, 400) clears the stored request secret as a run would; 401 keeps it' {
            $waiting = '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"","enrolmentSecret":"enrol-secret","enrolmentClaim":"","enrolmentRequest":"lost-request-secret-1","proxyUseDefaultCredentials":true}'
            $cases = @(
                @{ Status = 403; Body = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; Cleared = $true }
                @{ Status = 403; Body = '{"error":"forbidden","message":"An admin denied the re-enrolment request R1 of exch01."}'; Cleared = $true }
                @{ Status = 400; Body = '{"error":"invalid_enrolment","message":"The x-enrolment-request header must be 22 to 128 letters."}'; Cleared = $true }
                @{ Status = 401; Body = '{"error":"unauthorized","message":"The key is not valid."}'; Cleared = $false }
            )
            Mock Set-PostureProxyCredential { $null }
            foreach ($case in $cases) {
                $script:answer = $case
                Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-request']; @{ StatusCode = $script:answer.Status; Content = $script:answer.Body; RetryAfter = $null; Error = $null } }
                Set-PreviousInstallation -Config $waiting
                $script:stored = @($waiting)
                $script:sent = @()
                Mock Unprotect-PostureSecret { $script:stored[-1] }
                { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw "*HTTP $($case.Status)*"
                $script:sent | Should -Be @('lost-request-secret-1') -Because $case.Body
                if ($case.Cleared) {
                    $config = Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')
                    $config.EnrolmentRequest | Should -Be '' -Because $case.Body
                    $config.EnrolmentSecret | Should -Be 'enrol-secret'
                    $config.ProxyUseDefaultCredentials | Should -BeTrue
                } else {
                    [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(9) -Because $case.Body
                }
                # A run holding the same secret decides the same.
                $run = New-PostureEnrolmentState -Endpoint 'https://posture.contoso.net' -ConfigPath (Join-Path -Path $TestDrive -ChildPath 'run-config.dat') -Secret 'enrol-secret' -RequestSecret 'lost-request-secret-1'
                $null = Request-PostureServerKey -Enrolment $run -Headers @{} -WarningAction SilentlyContinue
                ($run.Request -eq '') | Should -Be $case.Cleared -Because $case.Body
            }
        }

        It 'a first install refused outright removes the data folder it made, and never one it did not make or one holding the request secret' {
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; RetryAfter = $null; Error = $null } }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*HTTP 403*'
            # It was there, protected, for the request secret before the send.
            Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $script:data }
            Test-Path -LiteralPath $script:data | Should -BeFalse
            # An empty folder the admin made beforehand stays.
            [void](New-Item -ItemType Directory -Path $script:data -Force)
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 401; Content = '{"error":"unauthorized","message":"The key is not valid."}'; RetryAfter = $null; Error = $null } }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'wrong' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*enrolment secret is wrong*'
            Test-Path -LiteralPath $script:data -PathType Container | Should -BeTrue
            @(Get-ChildItem -LiteralPath $script:data -Force).Count | Should -Be 0
            # No answer: the folder it made keeps the request secret the next attempt resends.
            Remove-Item -LiteralPath $script:data
            Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-request']; @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'timed out' } }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*cannot be reached*'
            (Read-PostureConfig -Path (Join-Path -Path $script:data -ChildPath 'config.dat')).EnrolmentRequest | Should -Be $script:sent[0]
        }

        It 'a first install refused outright with a custom -DataPath removes every folder it made on the way, and none that was there before' {
            Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; RetryAfter = $null; Error = $null } }
            $root = Split-Path -Parent (Split-Path -Parent $script:data)
            $existing = Join-Path -Path $root -ChildPath 'D'
            [void](New-Item -ItemType Directory -Path $existing -Force)
            $custom = Join-Path -Path $existing -ChildPath 'Tools\Posture\Data'
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $custom } | Should -Throw '*HTTP 403*'
            Should -Invoke Set-PostureRestrictedAcl -Times 1 -Exactly -ParameterFilter { $Path -eq $custom }
            Test-Path -LiteralPath (Join-Path -Path $existing -ChildPath 'Tools') | Should -BeFalse
            Test-Path -LiteralPath $existing -PathType Container | Should -BeTrue
            # A folder it made that someone filled meanwhile stays, and so do those above it.
            Mock Set-PostureRestrictedAcl { if ($Path -eq $custom) { Set-Content -LiteralPath (Join-Path -Path (Split-Path -Parent $custom) -ChildPath 'notes.txt') -Value 'mine' } }
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath $custom } | Should -Throw '*HTTP 403*'
            Test-Path -LiteralPath $custom | Should -BeFalse
            Test-Path -LiteralPath (Join-Path -Path $existing -ChildPath 'Tools\Posture\notes.txt') | Should -BeTrue
        }

        It 'a relative -DataPath is the folder under where the admin typed the command, never under the process''s directory (C:\Windows\system32 for a console)' {
            $root = Split-Path -Parent (Split-Path -Parent $script:data)
            # The process's directory (which Set-Location does not move) holds an empty Tools folder of its own.
            $processDir = Join-Path -Path $root -ChildPath 'system32'
            [void](New-Item -ItemType Directory -Path (Join-Path -Path $processDir -ChildPath 'Tools') -Force)
            $typedIn = Join-Path -Path $root -ChildPath 'admin'
            [void](New-Item -ItemType Directory -Path $typedIn -Force)
            $script:sent = @()
            Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-request']; @{ StatusCode = 403; Content = '{"error":"forbidden","message":"An admin blocked the enrolment of exch01."}'; RetryAfter = $null; Error = $null } }
            $processBefore = [System.Environment]::CurrentDirectory
            Push-Location -LiteralPath $typedIn
            try {
                [System.Environment]::CurrentDirectory = $processDir
                { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath 'Tools/Posture' } | Should -Throw '*HTTP 403*'
                # The refusal removes what it made under the typed-in folder, and nothing of the process's directory.
                Test-Path -LiteralPath (Join-Path -Path $processDir -ChildPath 'Tools') -PathType Container | Should -BeTrue
                Test-Path -LiteralPath (Join-Path -Path $typedIn -ChildPath 'Tools') | Should -BeFalse
                # No answer: the request secret is kept where the admin asked for it, for the next attempt to resend.
                Mock Invoke-PostureHttpRequest { $script:sent += $Headers['x-enrolment-request']; @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'timed out' } }
                { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 's' -SourcePath $script:source -InstallPath $script:install -DataPath 'Tools/Posture' } | Should -Throw '*cannot be reached*'
                (Read-PostureConfig -Path (Join-Path -Path $typedIn -ChildPath 'Tools/Posture/config.dat')).EnrolmentRequest | Should -Be $script:sent[-1]
                @(Get-ChildItem -LiteralPath (Join-Path -Path $processDir -ChildPath 'Tools') -Force).Count | Should -Be 0
            } finally {
                [System.Environment]::CurrentDirectory = $processBefore
                Pop-Location
            }
        }
    }

    It 'reinstalling keeps a stored key the service still takes: no enrolment, the same key stored, and says so' {
        Mock Set-PostureTlsProtocol { $null }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null } } -ParameterFilter { $Method -eq 'Get' }
        Mock Invoke-PostureHttpRequest { throw 'no enrolment expected' } -ParameterFilter { $Method -ne 'Get' }
        $message = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        $message | Should -Match 'stored before still works and is kept'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Method -eq 'Get' -and $Uri -eq 'https://posture.contoso.net/api/manifest' -and $Headers['x-api-key'] -eq 'fp1.current' }
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}' }
        Should -Invoke Register-PostureTask -Times 1 -Exactly
    }

    It 'reinstalling while the service is busy or the network not up yet asks the key check again and keeps the key' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Wait-PostureRetry { $null }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        $script:checks = 0
        Mock Invoke-PostureHttpRequest {
            $script:checks++
            if ($script:checks -eq 1) { return @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'The remote name could not be resolved' } }
            if ($script:checks -eq 2) { return @{ StatusCode = 503; Content = '{"error":"storage_unavailable"}'; RetryAfter = $null; Error = $null } }
            @{ StatusCode = 200; Content = $script:manifestJson; RetryAfter = $null; Error = $null }
        } -ParameterFilter { $Method -eq 'Get' }
        Mock Invoke-PostureHttpRequest { throw 'no enrolment expected' } -ParameterFilter { $Method -ne 'Get' }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'stored before still works and is kept'
        $script:checks | Should -Be 3
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -like '*"apiKey":"fp1.current"*' }
    }

    It 'reinstalling over a key the service refuses (401) enrols again, as a first install would' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.revoked","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 401; Content = '{"error":"key_revoked"}'; RetryAfter = $null; Error = $null } } -ParameterFilter { $Method -eq 'Get' }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{"server":"exch01","keyId":"k2","key":"fp1.new","issuedAt":"2026-11-28T00:00:00.000Z","replaced":["k1"]}'; RetryAfter = $null; Error = $null } } -ParameterFilter { $Method -ne 'Get' }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Not -Match 'is kept'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Method -ne 'Get' -and $Uri -eq 'https://posture.contoso.net/api/enroll' }
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.new","keyId":"k2","enrolmentSecret":"enrol-secret"}' }
    }

    # Enrolling again would replace a key that may well work and raise a re-enrolment alert: only
    # the service's own refusal of the key may make the installer enrol.
    It 'reinstalling when <Case> answers the key check: no enrolment, nothing changed, the installation stops saying what answered' -ForEach @(
        @{ Case = 'a front end''s 403 page'; Answer = @{ StatusCode = 403; Content = '<html><head><title>403 Forbidden</title></head><body>Microsoft-Azure-Application-Gateway/v2</body></html>'; RetryAfter = $null; Error = $null }; Said = 'HTTP 403 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: 403 Forbidden' }
        @{ Case = 'an OAuth proxy''s 401'; Answer = @{ StatusCode = 401; Content = '{"error":"invalid_token"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 401 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: {"error":"invalid_token"}' }
        @{ Case = 'a front end''s 401 in JSON'; Answer = @{ StatusCode = 401; Content = '{"error":{"code":"Unauthorized","message":"fp1.current rejected"}}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 401 from something in front of the service, not the service (a proxy, firewall or front end?); it answered: {"error":{"code":"Unauthorized","message":"[redacted] rejected"}}' }
        @{ Case = 'nothing, on every attempt,'; Answer = @{ StatusCode = 0; Content = ''; RetryAfter = $null; Error = 'The remote name could not be resolved' }; Said = 'The remote name could not be resolved on each of 4 attempts' }
        # Only the manifest shows the service took the key: any other 200 was never a check of it.
        @{ Case = 'a proxy''s sign-in page with 200'; Answer = @{ StatusCode = 200; Content = "<!DOCTYPE html>`r`n<html><head><title>Sign in - Contoso web proxy</title></head><body><form>fp1.current</form></body></html>"; RetryAfter = $null; Error = $null }; Said = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered; it answered: Sign in - Contoso web proxy' }
        @{ Case = 'a captive portal with 200 and no body'; Answer = @{ StatusCode = 200; Content = ''; RetryAfter = $null; Error = $null }; Said = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered' }
        @{ Case = 'a wrong URL''s JSON with 200'; Answer = @{ StatusCode = 200; Content = '{"status":"ok","headers":{"x-api-key":"fp1.current"}}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 200 from something in front of the service, not the service (a proxy, firewall or front end?), which usually means a sign-in page, a captive portal or a wrong URL answered; it answered: {"status":"ok","headers":{"x-api-key":"[redacted]"}}' }
        @{ Case = 'a manifest this collector does not read'; Answer = @{ StatusCode = 200; Content = '{"schema":"fleet-posture/manifest@2","version":"sha256:x"}'; RetryAfter = $null; Error = $null }; Said = 'HTTP 200 with a fleet-posture/manifest@2 document, not the fleet-posture/manifest@1 this collector reads' }
    ) {
        Mock Set-PostureTlsProtocol { $null }
        Mock Wait-PostureRetry { $null }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        $script:answer = $Answer
        Mock Invoke-PostureHttpRequest { $script:answer } -ParameterFilter { $Method -eq 'Get' }
        Mock Invoke-PostureHttpRequest { throw 'no enrolment expected' } -ParameterFilter { $Method -ne 'Get' }
        $failure = ''
        try {
            Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        } catch {
            $failure = $_.Exception.Message
        }
        $failure | Should -BeLike 'Nothing was changed and the stored server key stays: checking it with GET https://posture.contoso.net/api/manifest got no answer of the service that says whether it takes the key (*'
        $failure | Should -BeLike ('*({0}).*' -f [System.Management.Automation.WildcardPattern]::Escape($Said))
        $failure | Should -Not -Match 'fp1\.current'
        Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly -ParameterFilter { $Method -ne 'Get' }
        Should -Invoke Protect-PostureSecret -Times 0 -Exactly
        Should -Invoke Register-PostureTask -Times 0 -Exactly
        [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(9)
    }

    It 'reinstalling over a key the service refuses with its own 403 forbidden enrols again' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.other","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = '{"error":"forbidden","message":"This key may not do this."}'; RetryAfter = $null; Error = $null } } -ParameterFilter { $Method -eq 'Get' }
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{"server":"exch01","keyId":"k2","key":"fp1.new","issuedAt":"2026-11-28T00:00:00.000Z","replaced":["k1"]}'; RetryAfter = $null; Error = $null } } -ParameterFilter { $Method -ne 'Get' }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Not -Match 'is kept'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Method -ne 'Get' -and $Uri -eq 'https://posture.contoso.net/api/enroll' }
    }

    It 'reinstalling with -Reenrol proves the server with its stored key (x-server-key) and follows up a waiting request with its claim' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret","enrolmentClaim":"R1.c","enrolmentRequest":"waiting-request-secret-1"}'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 201; Content = '{"server":"exch01","keyId":"k2","key":"fp1.renewed","issuedAt":"2026-11-28T00:00:00.000Z","replaced":["k1"]}'; RetryAfter = $null; Error = $null } }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -Reenrol -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly -ParameterFilter { $Method -eq 'Get' }
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Headers['x-server-key'] -eq 'fp1.current' -and $Headers['x-enrolment-claim'] -eq 'R1.c' -and $Headers['x-enrolment-request'] -eq 'waiting-request-secret-1' -and $Headers['x-api-key'] -eq 'enrol-secret' }
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.renewed","keyId":"k2","enrolmentSecret":"enrol-secret"}' }
        # Another endpoint's key proves nothing here: not sent.
        Register-PostureCollector -Endpoint 'https://other.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Uri -like 'https://other.*' -and -not $Headers.ContainsKey('x-server-key') -and -not $Headers.ContainsKey('x-enrolment-claim') }
    }

    It 'reinstalling with -Reenrol when a proxy answers 403: the stored key is not dropped (no second request without it), the installation stops saying whose refusal it was and keeps the configuration' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Set-PreviousInstallation -Config '{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"fp1.current","keyId":"k1","enrolmentSecret":"enrol-secret"}'
        Mock Invoke-PostureHttpRequest { @{ StatusCode = 403; Content = 'Forbidden by proxy policy.'; RetryAfter = $null; Error = $null } }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -Reenrol -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*HTTP 403) by something other than the service*'
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly
        Should -Invoke Invoke-PostureHttpRequest -Times 1 -Exactly -ParameterFilter { $Headers['x-server-key'] -eq 'fp1.current' }
        [System.IO.File]::ReadAllBytes((Join-Path -Path $script:data -ChildPath 'config.dat')) | Should -Be @(9)
    }

    It 'a re-enrolment waiting for approval (202) installs with the claim, the request secret it sent and no key, and says so' {
        Mock Set-PostureTlsProtocol { $null }
        Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
        Mock Invoke-PostureHttpRequest { $script:sentRequest = $Headers['x-enrolment-request']; @{ StatusCode = 202; Content = '{"server":"exch01","status":"pending","requestId":"R7","claim":"R7.secret","requestedAt":"2026-11-28T00:00:00.000Z","message":"waits"}'; RetryAfter = $null; Error = $null } }
        $message = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data
        $message | Should -Match 'waits for an admin''s approval of re-enrolment request R7 \(POST /api/servers/exch01/enrolments/R7/approve\).*exits 3'
        $script:sentRequest | Should -Match '^[A-Za-z0-9_-]{43}$'
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq ('{"endpoint":"https://posture.contoso.net","headerName":"x-api-key","apiKey":"","enrolmentSecret":"enrol-secret","enrolmentClaim":"R7.secret","enrolmentRequest":"' + $script:sentRequest + '"}') }
        Should -Invoke Register-PostureTask -Times 1 -Exactly
    }

    It 'refuses a non-https endpoint and a non-elevated session' {
        { Register-PostureCollector -Endpoint 'http://posture.contoso.net' -ApiKey 'k' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*https*'
        Mock Test-PostureAdministrator { $false }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*elevated*'
        Should -Invoke Register-PostureTask -Times 0 -Exactly
    }

    It 'accepts http:// only for this machine and only with -AllowLoopbackHttp' {
        Test-PostureEndpoint -Endpoint 'https://posture.contoso.net/api' | Should -BeTrue
        Test-PostureEndpoint -Endpoint 'http://127.0.0.1:7071/api' | Should -BeFalse
        foreach ($local in @('http://127.0.0.1:7071/api', 'http://localhost:7071', 'http://127.10.0.1/api', 'http://[::1]:7071/api')) {
            Test-PostureEndpoint -Endpoint $local -AllowLoopbackHttp | Should -BeTrue -Because $local
        }
        foreach ($remote in @('http://posture.contoso.net/api', 'http://192.0.2.5:7071', 'http://127.0.0.1.example.com/', 'ftp://127.0.0.1/', 'not a url')) {
            Test-PostureEndpoint -Endpoint $remote -AllowLoopbackHttp | Should -BeFalse -Because $remote
        }
    }

    It 'installs against the local service with -AllowLoopbackHttp, and refuses a remote http:// endpoint even then' {
        Register-PostureCollector -Endpoint 'http://127.0.0.1:7071/api' -ApiKey 'k' -AllowLoopbackHttp -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -like '{"endpoint":"http://127.0.0.1:7071/api"*' }
        { Register-PostureCollector -Endpoint 'http://posture.contoso.net/api' -ApiKey 'k' -AllowLoopbackHttp -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*https*'
    }

    It 'refuses, before enrolling or changing anything, an install folder other tools share (files, no earlier installation)' {
        [void](New-Item -ItemType Directory -Path $script:install -Force)
        Set-Content -LiteralPath (Join-Path -Path $script:install -ChildPath 'other-tool.exe') -Value 'x'
        Mock Invoke-PostureHttpRequest { throw 'no request expected' }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw ('The install folder {0} already holds other files and no earlier installation of the collector*' -f $script:install)
        Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly
        Should -Invoke Set-PostureRestrictedAcl -Times 0 -Exactly
        @(Get-ChildItem -LiteralPath $script:install -Force | ForEach-Object { $_.Name }) | Should -Be @('other-tool.exe')
        Test-Path -LiteralPath $script:data | Should -BeFalse
    }

    It 'refuses install and data folders that are the same or one inside the other, before changing anything' {
        $inside = Join-Path -Path $script:install -ChildPath 'data'
        $outer = Split-Path -Parent $script:install
        foreach ($pair in @(@($script:install, ($script:install + [System.IO.Path]::DirectorySeparatorChar)), @($script:install, $inside), @($script:install, $outer))) {
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $pair[0] -DataPath $pair[1] } | Should -Throw '*must be two separate folders, neither inside the other.'
        }
        Should -Invoke Set-PostureRestrictedAcl -Times 0 -Exactly
        Test-Path -LiteralPath $script:install | Should -BeFalse
    }

    It 'an installation stopped by a failure before the copy leaves no Private\ behind, and installing again completes it' {
        Mock Set-PostureRestrictedAcl { throw 'Access denied.' } -ParameterFilter { $Path -eq $script:install }
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw 'Access denied.'
        @(Get-ChildItem -LiteralPath $script:install -Force) | Should -BeNullOrEmpty
        Mock Set-PostureRestrictedAcl { $null } -ParameterFilter { $Path -eq $script:install }
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Private\Run.ps1') | Should -BeTrue
    }

    It 'completes an installation an older installer left with only Private\ (empty, or some helpers), and still refuses Private\ holding anything else' {
        $private = Join-Path -Path $script:install -ChildPath 'Private'
        [void](New-Item -ItemType Directory -Path $private -Force)
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Remove-Item -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1')
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data | Should -Match 'hourly as SYSTEM'
        Remove-Item -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1')
        Set-Content -LiteralPath (Join-Path -Path $private -ChildPath 'tool.exe') -Value 'x'
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw '*already holds other files and no earlier installation*'
        Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') | Should -BeFalse
    }

    It 'refuses an install or data folder that is a link before enrolling or creating anything in its target' {
        $target = Join-Path -Path (Split-Path -Parent $script:install) -ChildPath 'elsewhere'
        [void](New-Item -ItemType Directory -Path $target -Force)
        [void](New-Item -ItemType Directory -Path (Split-Path -Parent $script:data) -Force)
        Mock Invoke-PostureHttpRequest { throw 'no request expected' }
        foreach ($link in @($script:install, $script:data)) {
            [void](New-Item -ItemType SymbolicLink -Path $link -Value $target)
            { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -EnrolmentSecret 'enrol-secret' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data } | Should -Throw ('{0} is a link (junction or symbolic link)*' -f $link)
            @(Get-ChildItem -LiteralPath $target -Force) | Should -BeNullOrEmpty -Because $link
            Remove-Item -LiteralPath $link -Force
        }
        Should -Invoke Invoke-PostureHttpRequest -Times 0 -Exactly
        Should -Invoke Set-PostureRestrictedAcl -Times 0 -Exactly
    }

    It 'changes nothing with -WhatIf' {
        Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'k' -SourcePath $script:source -InstallPath $script:install -DataPath $script:data -WhatIf | Out-Null
        Test-Path -LiteralPath $script:install | Should -BeFalse
        Test-Path -LiteralPath $script:data | Should -BeFalse
    }

    Context 'this host''s clock against the service''s, from the enrolment''s answers (a real loopback service)' {
        BeforeEach {
            Use-SimulatedClock
            Mock Set-PostureTlsProtocol { $null }
            Mock Get-PostureHostFact { $h = New-Object System.Collections.Specialized.OrderedDictionary; $h['name'] = 'EXCH01'; $h }
            $script:server = $null
            $script:issued = '{"server":"exch01","keyId":"k1","key":"fp1.key","issuedAt":"2026-12-01T01:00:00.000Z","replaced":[]}'
            $script:busy = '{"error":"storage_unavailable","message":"busy"}'
            $script:dated = { param([int]$StatusCode, [string]$Body, [double]$Seconds) New-TestHttpResponse -StatusCode $StatusCode -Headers @{ Date = (Get-SimulatedHttpDate -Seconds $Seconds) } -Body $Body }
            # Installs against a service answering Responses in turn: the installer's warnings, its
            # other output and its error ('' when it installed), apart.
            $script:installAgainst = {
                param([string[]]$Responses)
                $script:server = Start-TestHttpServer -Responses $Responses
                # Collected as it comes, so what came before a refusal is kept.
                $output = New-Object System.Collections.ArrayList
                $failure = ''
                try {
                    Register-PostureCollector -Endpoint ($script:server.Uri + '/api') -EnrolmentSecret 'enrol-secret' -AllowLoopbackHttp -SourcePath $script:source -InstallPath $script:install -DataPath $script:data 3>&1 | ForEach-Object { [void]$output.Add($_) }
                } catch {
                    $failure = $_.Exception.Message
                }
                return @{
                    Warnings = @($output | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object { $_.Message })
                    Output   = @($output | Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] })
                    Error    = $failure
                }
            }
        }
        AfterEach {
            if ($null -ne $script:server) { Stop-TestHttpServer -Server $script:server }
        }

        It 'this host 10 minutes ahead: one warning, the collector''s sentence with its fix; installed as without it' {
            $r = & $script:installAgainst @((& $script:dated 201 $script:issued -600))
            $r.Error | Should -Be ''
            $r.Warnings | Should -Be @((Format-PostureClockSkewWarning -OffsetSeconds -600))
            $r.Warnings[0] | Should -Match '^This host''s clock is 600 s \(10 min\) ahead of the service''s.*w32tm /resync'
            $r.Output | Should -Match 'hourly as SYSTEM'
            @($script:server.Requests) | Should -Be @('POST /api/enroll HTTP/1.1')
            $stored = '{"endpoint":"' + $script:server.Uri + '/api","headerName":"x-api-key","apiKey":"fp1.key","keyId":"k1","enrolmentSecret":"enrol-secret"}'
            Should -Invoke Protect-PostureSecret -Times 1 -Exactly -ParameterFilter { $Text -eq $stored }
            Should -Invoke Register-PostureTask -Times 1 -Exactly
            # The installer keeps no log: the warning is for the admin watching, not a file installed.
            Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'collector.log') | Should -BeFalse
        }

        It 'once per install: a busy answer showing it and a retried answer off the other way give one warning, for the first' {
            $r = & $script:installAgainst @((& $script:dated 503 $script:busy -400), (& $script:dated 201 $script:issued 900))
            $r.Error | Should -Be ''
            @($script:server.Requests).Count | Should -Be 2
            $r.Warnings.Count | Should -Be 1
            $r.Warnings[0] | Should -Match '^This host''s clock is 400 s \(7 min\) ahead of the service''s'
        }

        It 'a refused enrolment still says the clock is off, before the refusal stops the installation' {
            $r = & $script:installAgainst @((& $script:dated 401 '{"error":"unauthorized","message":"The key is not valid."}' 600))
            $r.Error | Should -Match 'enrolment secret is wrong'
            $r.Warnings.Count | Should -Be 1
            $r.Warnings[0] | Should -Match '^This host''s clock is 600 s \(10 min\) behind the service''s.*w32tm /resync'
            Should -Invoke Register-PostureTask -Times 0 -Exactly
        }

        It 'within 120 s either way (the collector''s default): no warning' {
            # The wait between the two moves this host's clock on: the second answer is at most 120 s off.
            $r = & $script:installAgainst @((& $script:dated 503 $script:busy -120), (& $script:dated 201 $script:issued 120))
            $r.Error | Should -Be ''
            @($script:server.Requests).Count | Should -Be 2
            $r.Warnings.Count | Should -Be 0
            $r.Output | Should -Match 'hourly as SYSTEM'
        }
    }
}

Describe 'Install-PostureCollector.ps1 as the admin runs it, against a service whose clock is off' {
    It 'shows the clock warning once in its output, and installs (exit 0)' {
        # The script loads its own copy of the functions: this host's clock is the real one here,
        # and the service's Date 10 minutes behind it.
        Mock Test-PostureAdministrator { $true }
        Mock Register-PostureTask { $null }
        Mock Set-PostureRestrictedAcl { $null }
        Mock Protect-PostureSecret { , [byte[]](1, 2, 3) }
        Mock Set-PostureTlsProtocol { $null }
        $date = [datetime]::UtcNow.AddSeconds(-600).ToString('r', [System.Globalization.CultureInfo]::InvariantCulture)
        $server = Start-TestHttpServer -Responses @((New-TestHttpResponse -StatusCode 201 -Headers @{ Date = $date } -Body '{"server":"exch01","keyId":"k1","key":"fp1.key"}'))
        try {
            $root = Join-Path -Path $TestDrive -ChildPath 'script'
            $installer = Join-Path -Path $script:source -ChildPath 'Install-PostureCollector.ps1'
            $output = @(& $installer -Endpoint ($server.Uri + '/api') -EnrolmentSecret 'enrol-secret' -AllowLoopbackHttp -InstallPath (Join-Path -Path $root -ChildPath 'install') -DataPath (Join-Path -Path $root -ChildPath 'data') 3>&1 2>&1)
            $exit = $LASTEXITCODE
        } finally {
            Stop-TestHttpServer -Server $server
        }
        $warnings = @($output | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object { $_.Message })
        @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $exit | Should -Be 0
        $warnings.Count | Should -Be 1
        $warnings[0] | Should -Match '^This host''s clock is 60\d s \(10 min\) ahead of the service''s.*w32tm /resync'
        Should -Invoke Register-PostureTask -Times 1 -Exactly
    }
}

Describe 'Unregister-PostureCollector' {
    It 'removes the task, the scripts, the configuration and the spool' {
        $install = Join-Path -Path $TestDrive -ChildPath 'u\install'
        $data = Join-Path -Path $TestDrive -ChildPath 'u\data'
        [void](New-Item -ItemType Directory -Path (Join-Path -Path $data -ChildPath 'spool') -Force)
        [void](New-Item -ItemType Directory -Path $install -Force)
        Set-Content -LiteralPath (Join-Path -Path $data -ChildPath 'spool\x.json') -Value '{}'
        Mock Test-PostureAdministrator { $true }
        Mock Unregister-PostureTask { $null }
        Unregister-PostureCollector -InstallPath $install -DataPath $data | Should -Match 'Removed task'
        Test-Path -LiteralPath $install | Should -BeFalse
        Test-Path -LiteralPath $data | Should -BeFalse
        Should -Invoke Unregister-PostureTask -Times 1 -Exactly
    }
    Context 'a data folder that is not only the collector''s (-DataPath D:\Data, shared with other tools)' {
        BeforeEach {
            $root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
            $script:install = Join-Path -Path $root -ChildPath 'install'
            $script:data = Join-Path -Path $root -ChildPath 'Data'
            [void](New-Item -ItemType Directory -Path $script:install -Force)
            Set-Content -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') -Value '#'
            # Everything the collector may leave there, each written as its writers name it.
            foreach ($folder in @('Spool', 'Rejected')) { [void](New-Item -ItemType Directory -Path (Get-PostureDataItemPath -DataPath $script:data -Item $folder) -Force) }
            Set-Content -LiteralPath (Join-Path -Path (Get-PostureDataItemPath -DataPath $script:data -Item Spool) -ChildPath 'x.json') -Value '{}'
            Set-Content -LiteralPath (Join-Path -Path (Get-PostureDataItemPath -DataPath $script:data -Item Rejected) -ChildPath 'y.json') -Value '{}'
            foreach ($name in @('config.dat', 'config.dat.tmp', 'manifest.json', 'manifest.json.tmp', 'collector.log', 'collector.log.old')) {
                Set-Content -LiteralPath (Join-Path -Path $script:data -ChildPath $name) -Value 'x'
            }
            Mock Test-PostureAdministrator { $true }
            Mock Unregister-PostureTask { $null }
        }

        It 'keeps another tool''s files and the folder, removes the collector''s, and says which folder was kept and why' {
            Set-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'other-tool.ini') -Value 'keep'
            [void](New-Item -ItemType Directory -Path (Join-Path -Path $script:data -ChildPath 'reports') -Force)
            Set-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'reports\r.csv') -Value 'keep'
            $said = Unregister-PostureCollector -InstallPath $script:install -DataPath $script:data
            $said | Should -Be ('Removed task "FleetPosture Collector", {0} and the collector''s files in {1}. The data folder {1} was kept because it also holds files that are not the collector''s (other-tool.ini, reports).' -f $script:install, $script:data)
            @(Get-ChildItem -LiteralPath $script:data -Force | ForEach-Object { $_.Name } | Sort-Object) | Should -Be @('other-tool.ini', 'reports')
            Get-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'reports\r.csv') | Should -Be 'keep'
            Test-Path -LiteralPath $script:install | Should -BeFalse
        }

        It 'removes a folder that holds only the collector''s files, and the folder itself' {
            Unregister-PostureCollector -InstallPath $script:install -DataPath $script:data | Should -Be ('Removed task "FleetPosture Collector", {0} and {1}.' -f $script:install, $script:data)
            Test-Path -LiteralPath $script:data | Should -BeFalse
        }

        It 'removes nothing with -WhatIf' {
            Set-Content -LiteralPath (Join-Path -Path $script:data -ChildPath 'other-tool.ini') -Value 'keep'
            $before = @(Get-ChildItem -LiteralPath $script:data -Recurse -Force | ForEach-Object { $_.FullName } | Sort-Object)
            Unregister-PostureCollector -InstallPath $script:install -DataPath $script:data -WhatIf | Out-Null
            @(Get-ChildItem -LiteralPath $script:data -Recurse -Force | ForEach-Object { $_.FullName } | Sort-Object) | Should -Be $before
            $before.Count | Should -Be 11
            Test-Path -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') | Should -BeTrue
        }

        It 'removes nothing through a spool folder that is a link: what it points to stays' {
            $target = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
            [void](New-Item -ItemType Directory -Path $target -Force)
            Set-Content -LiteralPath (Join-Path -Path $target -ChildPath 'keep.txt') -Value 'x'
            $spool = Get-PostureDataItemPath -DataPath $script:data -Item Spool
            Remove-Item -LiteralPath $spool -Recurse -Force
            [void](New-Item -ItemType SymbolicLink -Path $spool -Value $target)
            { Unregister-PostureCollector -InstallPath $script:install -DataPath $script:data } | Should -Throw ('{0} is a link (junction or symbolic link); nothing was removed*' -f $spool)
            Test-Path -LiteralPath (Join-Path -Path $target -ChildPath 'keep.txt') | Should -BeTrue
            Test-Path -LiteralPath (Join-Path -Path $script:data -ChildPath 'config.dat') | Should -BeTrue
            Should -Invoke Unregister-PostureTask -Times 0 -Exactly
        }
    }
    It 'removes an installation stopped partway that left only Private\ (empty, or some helpers)' {
        Mock Test-PostureAdministrator { $true }
        Mock Unregister-PostureTask { $null }
        foreach ($helpers in @(@(), @('Run.ps1', 'Storage.ps1'))) {
            $half = Join-Path -Path $TestDrive -ChildPath ('u3\{0}\FleetPosture' -f $helpers.Count)
            $private = Join-Path -Path $half -ChildPath 'Private'
            [void](New-Item -ItemType Directory -Path $private -Force)
            foreach ($h in $helpers) { Set-Content -LiteralPath (Join-Path -Path $private -ChildPath $h) -Value '#' }
            Unregister-PostureCollector -InstallPath $half -DataPath (Join-Path -Path $TestDrive -ChildPath 'u3\data') | Should -Match 'Removed task'
            Test-Path -LiteralPath $half | Should -BeFalse
        }
    }
    It 'removes nothing through an install or data folder that is a link: what it points to stays' {
        $target = Join-Path -Path $TestDrive -ChildPath 'u4\target'
        [void](New-Item -ItemType Directory -Path $target -Force)
        Set-Content -LiteralPath (Join-Path -Path $target -ChildPath 'Send-PostureSnapshot.ps1') -Value '#'
        Set-Content -LiteralPath (Join-Path -Path $target -ChildPath 'keep.txt') -Value 'x'
        $install = Join-Path -Path $TestDrive -ChildPath 'u4\install'
        $data = Join-Path -Path $TestDrive -ChildPath 'u4\data'
        Mock Test-PostureAdministrator { $true }
        Mock Unregister-PostureTask { $null }
        foreach ($link in @($install, $data)) {
            [void](New-Item -ItemType SymbolicLink -Path $link -Value $target)
            { Unregister-PostureCollector -InstallPath $install -DataPath $data } | Should -Throw ('{0} is a link (junction or symbolic link); nothing was removed*' -f $link)
            Test-Path -LiteralPath $link | Should -BeTrue
            Remove-Item -LiteralPath $link -Force
        }
        @(Get-ChildItem -LiteralPath $target -Force | ForEach-Object { $_.Name } | Sort-Object) | Should -Be @('keep.txt', 'Send-PostureSnapshot.ps1')
        Should -Invoke Unregister-PostureTask -Times 0 -Exactly
    }
    It 'removes nothing from an install folder holding other files and no collector (-InstallPath D:\Tools by mistake)' {
        $shared = Join-Path -Path $TestDrive -ChildPath 'u2\Tools'
        [void](New-Item -ItemType Directory -Path $shared -Force)
        Set-Content -LiteralPath (Join-Path -Path $shared -ChildPath 'other-tool.exe') -Value 'x'
        Mock Test-PostureAdministrator { $true }
        Mock Unregister-PostureTask { $null }
        { Unregister-PostureCollector -InstallPath $shared -DataPath (Join-Path -Path $TestDrive -ChildPath 'u2\data') } | Should -Throw '*holds other files and no installation of the collector; nothing was removed.'
        Test-Path -LiteralPath (Join-Path -Path $shared -ChildPath 'other-tool.exe') | Should -BeTrue
        Should -Invoke Unregister-PostureTask -Times 0 -Exactly
    }
}

Describe 'Unregister-PostureCollector without -DataPath: the data folder the installation used' {
    BeforeAll {
        # Off Windows there is no Get-ScheduledTask to mock: a stand-in for this Describe only.
        $script:stubbedGetTask = $false
        if (-not (Get-Command -Name Get-ScheduledTask -ErrorAction SilentlyContinue)) {
            function global:Get-ScheduledTask {
                param($TaskName, $ErrorAction)
                $null
            }
            $script:stubbedGetTask = $true
        }
    }
    AfterAll {
        if ($script:stubbedGetTask) { Remove-Item -LiteralPath 'Function:\Get-ScheduledTask' -Force }
    }
    BeforeEach {
        $root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $script:install = Join-Path -Path $root -ChildPath 'Program Files\FleetPosture'
        $script:default = Join-Path -Path $root -ChildPath 'ProgramData\FleetPosture'
        $script:custom = Join-Path -Path $root -ChildPath 'D\Posture Data'
        foreach ($p in @($script:install, $script:default, (Join-Path -Path $script:custom -ChildPath 'spool'))) { [void](New-Item -ItemType Directory -Path $p -Force) }
        Set-Content -LiteralPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') -Value '#'
        Set-Content -LiteralPath (Join-Path -Path $script:custom -ChildPath 'config.dat') -Value 'key'
        Mock Test-PostureAdministrator { $true }
        Mock Unregister-PostureTask { $null }
        Mock Get-PostureDataPath { $script:default }
        # The task's arguments as the installer wrote them.
        $script:xml = New-PostureTaskXml -ScriptPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1') -DataPath $script:custom
        $script:arguments = ([xml]$script:xml).Task.Actions.Exec.Arguments
    }

    It 'reads it from the task''s arguments (<With>): removes it, and leaves %ProgramData%\FleetPosture alone' -ForEach @(
        @{ With = 'Get-ScheduledTask'; Module = $true }
        @{ With = 'schtasks.exe /Query /XML, Windows 2008 R2'; Module = $false }
    ) {
        if ($Module) {
            Mock Get-ScheduledTask { [pscustomobject]@{ TaskName = $TaskName; Actions = @([pscustomobject]@{ Execute = 'powershell.exe'; Arguments = $script:arguments }) } }
        } else {
            Mock Get-Command { $null } -ParameterFilter { $Name -eq 'Get-ScheduledTask' }
            Mock Invoke-PostureTaskCommand { @{ ExitCode = 0; Output = $script:xml } } -ParameterFilter { $ArgumentList[0] -eq '/Query' }
        }
        $said = Unregister-PostureCollector -InstallPath $script:install
        $said | Should -Be ('Removed task "FleetPosture Collector", {0} and {1}.' -f $script:install, $script:custom)
        Test-Path -LiteralPath $script:custom | Should -BeFalse
        Test-Path -LiteralPath $script:install | Should -BeFalse
        Test-Path -LiteralPath $script:default | Should -BeTrue
        Should -Invoke Unregister-PostureTask -Times 1 -Exactly
    }

    It 'a task whose runs use the default folder: removes %ProgramData%\FleetPosture' {
        $plain = ([xml](New-PostureTaskXml -ScriptPath (Join-Path -Path $script:install -ChildPath 'Send-PostureSnapshot.ps1'))).Task.Actions.Exec.Arguments
        Mock Get-ScheduledTask { [pscustomobject]@{ TaskName = $TaskName; Actions = @([pscustomobject]@{ Execute = 'powershell.exe'; Arguments = $plain }) } }
        Unregister-PostureCollector -InstallPath $script:install | Should -Be ('Removed task "FleetPosture Collector", {0} and {1}.' -f $script:install, $script:default)
        Test-Path -LiteralPath $script:default | Should -BeFalse
        Test-Path -LiteralPath $script:custom | Should -BeTrue
    }

    It 'no task and no default folder: says a custom data folder may be left, and how to remove it' {
        Remove-Item -LiteralPath $script:default -Recurse -Force
        Mock Get-ScheduledTask { $null }
        $said = Unregister-PostureCollector -InstallPath $script:install
        $said | Should -BeLike ('Removed task "FleetPosture Collector", {0} and {1}. No data folder at {1} and no task naming another: if the installation used -DataPath, its folder (key, secret, spool) was left; remove it with -Uninstall -DataPath <that folder>.' -f $script:install, $script:default)
        Test-Path -LiteralPath $script:custom | Should -BeTrue
    }

    It '-DataPath naming another folder than the task''s: removes the one given and names the task''s, left' {
        Mock Get-ScheduledTask { [pscustomobject]@{ TaskName = $TaskName; Actions = @([pscustomobject]@{ Execute = 'powershell.exe'; Arguments = $script:arguments }) } }
        $said = Unregister-PostureCollector -InstallPath $script:install -DataPath $script:default
        $said | Should -Be ('Removed task "FleetPosture Collector", {0} and {1}. The task''s runs used the data folder {2} (key, secret, spool), which was left: remove it with -Uninstall -DataPath "{2}".' -f $script:install, $script:default, $script:custom)
        Test-Path -LiteralPath $script:default | Should -BeFalse
        Test-Path -LiteralPath $script:custom | Should -BeTrue
    }

    It 'reads -DataPath back from arguments as written: <Arguments>' -ForEach @(
        @{ Arguments = '-NoProfile -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1" -DataPath "D:\Posture Data"'; DataPath = 'D:\Posture Data' }
        @{ Arguments = '-NoProfile -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1" -DataPath "D:\\"'; DataPath = 'D:\' }
        @{ Arguments = '-NoProfile -File "C:\Program Files\FleetPosture\Send-PostureSnapshot.ps1"'; DataPath = '' }
    ) {
        ConvertFrom-PostureTaskArgument -Arguments $Arguments | Should -BeExactly $DataPath
    }
}

Describe 'Register-PostureTask without the ScheduledTasks module (Windows 2008 R2)' {
    It 'imports the XML with schtasks.exe /Create /XML' {
        Mock Get-Command { $null } -ParameterFilter { $Name -eq 'Register-ScheduledTask' }
        Mock Invoke-PostureTaskCommand { @{ ExitCode = 0; Output = 'SUCCESS' } }
        Register-PostureTask -TaskName 'FleetPosture Collector' -Xml '<Task/>'
        Should -Invoke Invoke-PostureTaskCommand -Times 1 -Exactly -ParameterFilter { $ArgumentList[0] -eq '/Create' -and $ArgumentList -contains '/XML' }
    }
}

Describe 'Set-PostureRestrictedAcl: what it walks (ACL objects and Set-Acl mocked, any platform)' {
    BeforeAll {
        # PowerShell on Linux has no Set-Acl to mock: a stand-in for this Describe only.
        $script:addedSetAcl = -not (Get-Command -Name Set-Acl -ErrorAction SilentlyContinue)
        if ($script:addedSetAcl) {
            function global:Set-Acl {
                [CmdletBinding()]
                param($LiteralPath, $AclObject)
            }
        }
    }
    AfterAll {
        if ($script:addedSetAcl) { Remove-Item -LiteralPath 'Function:\Set-Acl' -Force }
    }
    BeforeEach {
        $script:root = Join-Path -Path $TestDrive -ChildPath ('{0}/FleetPosture' -f [guid]::NewGuid())
        [void](New-Item -ItemType Directory -Path $script:root)
        $script:touched = New-Object System.Collections.ArrayList
        # Security descriptors exist only on Windows: stand-ins that accept what the function sets.
        Mock New-Object {
            $o = [pscustomobject]@{ TypeName = $TypeName }
            foreach ($m in 'SetAccessRuleProtection', 'AddAccessRule', 'SetOwner') { $o | Add-Member -MemberType ScriptMethod -Name $m -Value { $null } }
            $o
        } -ParameterFilter { $TypeName -like 'System.Security.*' }
        Mock Set-Acl { [void]$script:touched.Add($LiteralPath) }
    }

    It 'refuses a folder that is itself a link, before changing any ACL' {
        $target = Join-Path -Path $script:root -ChildPath 'System32'
        [void](New-Item -ItemType Directory -Path $target)
        Set-Content -LiteralPath (Join-Path -Path $target -ChildPath 'sam') -Value 'x'
        $link = Join-Path -Path $script:root -ChildPath 'FleetPosture'
        [void](New-Item -ItemType SymbolicLink -Path $link -Value $target)
        { Set-PostureRestrictedAcl -Path $link -ReadAndExecuteSid 'S-1-5-32-545' } | Should -Throw '*FleetPosture is a link (junction or symbolic link)*'
        Should -Invoke Set-Acl -Times 0 -Exactly
    }

    It 'skips a spool file a run sent and removed meanwhile, and protects everything else' {
        $spool = Join-Path -Path $script:root -ChildPath 'spool'
        [void](New-Item -ItemType Directory -Path $spool)
        foreach ($f in 'a.json', 'b.json', 'c.json') { Set-Content -LiteralPath (Join-Path -Path $spool -ChildPath $f) -Value '{}' }
        Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath 'collector.log') -Value 'log'
        # b.json goes between the listing and its ACL.
        Mock Set-Acl {
            if ($LiteralPath -like '*b.json') {
                Remove-Item -LiteralPath $LiteralPath
                throw [System.Management.Automation.ItemNotFoundException]::new(('Cannot find path ''{0}'' because it does not exist.' -f $LiteralPath))
            }
            [void]$script:touched.Add($LiteralPath)
        }
        Set-PostureRestrictedAcl -Path $script:root
        @($script:touched | ForEach-Object { Split-Path -Leaf $_ } | Sort-Object) | Should -Be @('a.json', 'c.json', 'collector.log', 'FleetPosture', 'spool')
    }

    It 'skips a folder moved away between its own ACL and the listing of what it holds' {
        $rejected = Join-Path -Path $script:root -ChildPath 'rejected'
        [void](New-Item -ItemType Directory -Path $rejected)
        Set-Content -LiteralPath (Join-Path -Path $rejected -ChildPath 'r.json') -Value '{}'
        Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath 'z.log') -Value 'log'
        Mock Set-Acl {
            [void]$script:touched.Add($LiteralPath)
            if ($LiteralPath -eq $rejected) { Remove-Item -LiteralPath $rejected -Recurse }
        }
        Set-PostureRestrictedAcl -Path $script:root
        @($script:touched | ForEach-Object { Split-Path -Leaf $_ } | Sort-Object) | Should -Be @('FleetPosture', 'rejected', 'z.log')
    }

    It 'still stops on any other failure (the item is there)' {
        Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath 'config.dat') -Value 'x'
        Mock Set-Acl { throw [System.UnauthorizedAccessException]::new('Access denied.') } -ParameterFilter { $LiteralPath -like '*config.dat' }
        { Set-PostureRestrictedAcl -Path $script:root } | Should -Throw 'Access denied.'
    }
}

Describe 'DPAPI and the ACL (Windows only)' -Skip:(-not $onWindows) {
    It 'round-trips the configuration through DPAPI machine scope' {
        $path = Join-Path -Path $TestDrive -ChildPath 'config.dat'
        [System.IO.File]::WriteAllBytes($path, (Protect-PostureSecret -Text '{"endpoint":"https://x","headerName":"x-api-key","apiKey":"k"}'))
        $c = Read-PostureConfig -Path $path
        $c.Endpoint | Should -Be 'https://x'
        $c.ApiKey | Should -Be 'k'
        [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($path)) | Should -Not -Match 'https://x'
    }
    It 'lets Users only read and run the install folder, and strips what an earlier item inside had of its own' -Skip:(-not $isAdmin) {
        $dir = Join-Path -Path $TestDrive -ChildPath 'acl-install'
        $planted = Join-Path -Path $dir -ChildPath 'Private'
        [void](New-Item -ItemType Directory -Path $planted -Force)
        $everyone = New-Object System.Security.Principal.SecurityIdentifier('S-1-1-0')
        $open = Get-Acl -LiteralPath $planted
        $open.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($everyone, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')))
        Set-Acl -LiteralPath $planted -AclObject $open
        Set-PostureRestrictedAcl -Path $dir -ReadAndExecuteSid 'S-1-5-32-545'
        $acl = Get-Acl -LiteralPath $dir
        $acl.AreAccessRulesProtected | Should -BeTrue
        $users = @($acl.Access | Where-Object { $_.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value -eq 'S-1-5-32-545' })
        $users.Count | Should -Be 1
        ($users[0].FileSystemRights -band [System.Security.AccessControl.FileSystemRights]::Write) | Should -Be 0
        $inside = Get-Acl -LiteralPath $planted
        @($inside.Access | Where-Object { -not $_.IsInherited }).Count | Should -Be 0
        $inside.GetOwner([System.Security.Principal.SecurityIdentifier]).Value | Should -Be 'S-1-5-32-544'
    }
    It 'refuses a folder holding a junction, and leaves what it points to as it was' -Skip:(-not $isAdmin) {
        $dir = Join-Path -Path $TestDrive -ChildPath 'acl-link'
        $elsewhere = Join-Path -Path $TestDrive -ChildPath 'acl-elsewhere'
        [void](New-Item -ItemType Directory -Path $dir -Force)
        [void](New-Item -ItemType Directory -Path $elsewhere -Force)
        $before = (Get-Acl -LiteralPath $elsewhere).Sddl
        [void](New-Item -ItemType Junction -Path (Join-Path -Path $dir -ChildPath 'Private') -Value $elsewhere)
        { Set-PostureRestrictedAcl -Path $dir -ReadAndExecuteSid 'S-1-5-32-545' } | Should -Throw '*Private is a link*'
        (Get-Acl -LiteralPath $elsewhere).Sddl | Should -Be $before
    }
    It 'leaves only SYSTEM and Administrators on the data folder' -Skip:(-not $isAdmin) {
        $dir = Join-Path -Path $TestDrive -ChildPath 'acl'
        [void](New-Item -ItemType Directory -Path $dir)
        Set-PostureRestrictedAcl -Path $dir
        $acl = Get-Acl -LiteralPath $dir
        $acl.AreAccessRulesProtected | Should -BeTrue
        $sids = @($acl.Access | ForEach-Object { $_.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value } | Sort-Object -Unique)
        $sids | Should -Be @('S-1-5-18', 'S-1-5-32-544')
    }
}
