# Pester 5 tests of the fixture seam (Private/Fixture.ps1): with FLEET_POSTURE_FIXTURE set, the
# collector's own registry, WMI, DNS and file code reads the fixture's data and produces what a
# server with that data would; without it, nothing comes from a fixture.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:dp = 'HKLM\SOFTWARE\McAfee\DesktopProtection'
    $script:log = Join-Path -Path $TestDrive -ChildPath 'apl.txt'
    [System.IO.File]::WriteAllText($script:log, "11/30/2026`t10:00:00 PM`tBlocked by port blocking rule`r`n", (New-Object System.Text.UnicodeEncoding($false, $true)))
    $fixture = @{
        host     = @{ name = 'IGNORED'; fqdn = 'exch01.corp.contoso.com'; os = @{ caption = 'Microsoft Windows Server 2012 R2 Standard'; version = '6.3.9600'; architecture = '64-bit' } }
        registry = @(
            @{ path = $script:dp; view = '64'; exists = $false },
            @{ path = $script:dp; view = '32'; exists = $true; lastWriteTime = '2026-10-01T08:12:00.000Z'; values = @(
                    @{ name = 'szProductVer'; type = 'REG_SZ'; data = '8.8.0.2024' },
                    @{ name = 'Max'; type = 'REG_DWORD'; data = 4294967295 },
                    @{ name = 'Big'; type = 'REG_QWORD'; data = '18446744073709551615' },
                    @{ name = 'One'; type = 'REG_MULTI_SZ'; data = @('only') },
                    @{ name = 'Dir'; type = 'REG_EXPAND_SZ'; data = '%SystemRoot%\x' },
                    @{ name = 'Rules'; type = 'REG_BINARY'; data = 'AAH+' }
                ) },
            @{ path = ($script:dp + '\Locked'); view = '32'; exists = $true; error = @{ code = 'AccessDenied'; message = 'Requested registry access is not allowed.' } },
            @{ path = ($script:dp + '\Child'); view = '32'; exists = $true; values = @() }
        )
        services = @(
            @{ name = 'McShield'; displayName = 'McAfee McShield'; state = 'Running'; started = $true; startMode = 'Auto'; pathName = 'C:\m.exe'; processId = 1432 },
            @{ name = 'MSExchangeTransport'; displayName = 'Microsoft Exchange Transport'; state = 'Running'; started = $true; startMode = 'Auto'; pathName = 'C:\t.exe'; processId = 2000 }
        )
        files    = @(@{ path = 'C:\ProgramData\McAfee\DesktopProtection\AccessProtectionLog.txt'; file = $script:log })
    }
    $script:fixturePath = Join-Path -Path $TestDrive -ChildPath 'fixture.json'
    [System.IO.File]::WriteAllText($script:fixturePath, (ConvertTo-PostureJson -InputObject $fixture))
}

Describe 'The fixture seam' {
    BeforeEach { $env:FLEET_POSTURE_FIXTURE = $script:fixturePath }
    AfterEach { $env:FLEET_POSTURE_FIXTURE = $null }

    It 'runs under Set-StrictMode -Version Latest' {
        { $null = $script:thisVariableDoesNotExist } | Should -Throw
    }

    It 'answers registry reads: every value type encoded as from a real key, the last write time, both views' {
        # Read-PostureRegistryKey returns its array as one object.
        $view64 = Read-PostureRegistryKey -Path $script:dp -View 64
        $view64[0]['exists'] | Should -BeFalse
        $e = (Read-PostureRegistryKey -Path $script:dp -View 32)[0]
        $e['exists'] | Should -BeTrue
        $e['lastWriteTime'] | Should -Be '2026-10-01T08:12:00.000Z'
        (ConvertTo-PostureJson -InputObject $e['values']) | Should -Be '[{"name":"szProductVer","type":"REG_SZ","data":"8.8.0.2024"},{"name":"Max","type":"REG_DWORD","data":4294967295},{"name":"Big","type":"REG_QWORD","data":"18446744073709551615"},{"name":"One","type":"REG_MULTI_SZ","data":["only"]},{"name":"Dir","type":"REG_EXPAND_SZ","data":"%SystemRoot%\\x"},{"name":"Rules","type":"REG_BINARY","data":"AAH+"}]'
    }

    It 'lists subkeys for recursion and turns an error entry into the same read error' {
        $entries = Read-PostureRegistryKey -Path $script:dp -View 32 -Recurse -MaxDepth 1
        @($entries | ForEach-Object { $_['path'] } | Sort-Object) | Should -Be @($script:dp, ($script:dp + '\Child'), ($script:dp + '\Locked'))
        $locked = $entries | Where-Object { $_['path'] -like '*\Locked' }
        $locked['exists'] | Should -BeTrue
        $locked['error']['code'] | Should -Be 'AccessDenied'
    }

    It 'answers Win32_Service for the names asked, in any case, and nothing else' {
        $s = Get-PostureServiceSnapshot -Name 'mcshield', 'SMTPSVC'
        @($s).Count | Should -Be 1
        $s[0]['name'] | Should -Be 'McShield'
        $s[0]['processId'] | Should -Be 1432
    }

    It 'answers the OS and the DNS name; the computer name is still the environment''s' {
        $env:COMPUTERNAME = 'EXCH01'
        $h = Get-PostureHostFact
        $h['name'] | Should -Be 'EXCH01'
        $h['fqdn'] | Should -Be 'exch01.corp.contoso.com'
        $h['os']['caption'] | Should -Be 'Microsoft Windows Server 2012 R2 Standard'
        $h['os']['architecture'] | Should -Be '64-bit'
    }

    It 'reads a file''s bytes from its stand-in and reports a file it does not have as absent' {
        $f = Read-PostureFileTail -Path 'c:\programdata\McAfee\DesktopProtection\AccessProtectionLog.txt'
        $f['path'] | Should -Be 'c:\programdata\McAfee\DesktopProtection\AccessProtectionLog.txt'
        $f['exists'] | Should -BeTrue
        $f['tail'] | Should -Match '^11/30/2026\t'
        (Read-PostureFileTail -Path 'C:\ProgramData\Other.txt')['exists'] | Should -BeFalse
    }

    It 'is not used when FLEET_POSTURE_FIXTURE is not set' {
        $env:FLEET_POSTURE_FIXTURE = $null
        Get-PostureFixture | Should -BeNullOrEmpty
        Mock Get-CimInstance { @([pscustomobject]@{ Name = 'SMTPSVC'; DisplayName = 'SMTP'; State = 'Stopped'; Started = $false; StartMode = 'Manual'; PathName = $null; ProcessId = 0 }) }
        (Get-PostureServiceSnapshot -Name 'McShield', 'SMTPSVC')[0]['name'] | Should -Be 'SMTPSVC'
        Should -Invoke Get-CimInstance -Times 1 -Exactly
    }
}
