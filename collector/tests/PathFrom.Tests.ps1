# Pester 5 tests of the access-protection log at its configured path: a manifest files[] entry
# with pathFrom is read where the registry value names it (view 64 before 32, %VAR% expanded),
# else at its default path; two entries naming one file are read once; the snapshot records
# where the path came from.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:bb = 'HKLM\SOFTWARE\McAfee\SystemCore\VSCore\On Access Scanner\BehaviourBlocking'
    $script:legacy = 'HKLM\SOFTWARE\Network Associates\TVD\Shared Components\On Access Scanner\BehaviourBlocking'

    function New-TestLog {
        param([string]$Name, [string]$Text = "line one`r`nline two`r`n")
        $path = Join-Path -Path $TestDrive -ChildPath $Name
        [System.IO.File]::WriteAllText($path, $Text, (New-Object System.Text.UnicodeEncoding($false, $true)))
        return $path
    }

    function New-TestRegistryEntry {
        param([string]$Path, [string]$View, [hashtable[]]$Values = @(), [bool]$Exists = $true)
        $e = New-Object System.Collections.Specialized.OrderedDictionary
        $e['path'] = $Path; $e['view'] = $View; $e['exists'] = $Exists
        if ($Exists) { $e['values'] = @($Values | ForEach-Object { $v = New-Object System.Collections.Specialized.OrderedDictionary; $v['name'] = $_.name; $v['type'] = $_.type; $v['data'] = $_.data; $v }) }
        return $e
    }

    function New-TestManifest {
        param([object[]]$Files)
        return (ConvertFrom-PostureJson -Json (ConvertTo-PostureJson -InputObject @{ schema = 'fleet-posture/manifest@1'; files = $Files }))
    }

    function New-PathFrom {
        param([string]$RegistryPath, [string]$ValueName = 'szLogFileName')
        $p = New-Object System.Collections.Specialized.OrderedDictionary
        $p['registryPath'] = $RegistryPath; $p['valueName'] = $ValueName
        return $p
    }

    function New-FileItem {
        param([string]$Path, [object[]]$PathFrom = @())
        $f = New-Object System.Collections.Specialized.OrderedDictionary
        $f['path'] = $Path; $f['tailBytes'] = 65536
        if ($PathFrom.Count -gt 0) { $f['pathFrom'] = $PathFrom }
        return $f
    }
}

Describe 'Get-PostureFileSnapshot with pathFrom' {
    BeforeEach {
        Mock Test-PostureOs64Bit { $true }
        $script:default = New-TestLog -Name ('default-{0}.txt' -f [guid]::NewGuid())
        $script:configured = New-TestLog -Name ('configured-{0}.txt' -f [guid]::NewGuid()) -Text "2026-11-30`tBlocked`r`n"
    }

    It 'runs under Set-StrictMode -Version Latest' {
        { $null = $script:thisVariableDoesNotExist } | Should -Throw
    }

    It 'reads the file the configured value names, with %VAR% expanded, and records where the path came from' {
        $env:FLEET_POSTURE_LOGDIR = Split-Path -Parent $script:configured
        $value = '%FLEET_POSTURE_LOGDIR%' + [System.IO.Path]::DirectorySeparatorChar + (Split-Path -Leaf $script:configured)
        $registry = @(New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_EXPAND_SZ'; data = $value }))
        $manifest = New-TestManifest -Files @(New-FileItem -Path $script:default -PathFrom @(New-PathFrom -RegistryPath $script:bb))
        $files = Get-PostureFileSnapshot -Manifest $manifest -Registry $registry
        @($files).Count | Should -Be 1
        $files[0]['path'] | Should -Be $script:configured
        $files[0]['tail'] | Should -Match 'Blocked'
        @($files[0].Keys) | Should -Be @('path', 'pathFrom', 'exists', 'lastWriteTime', 'size', 'tail')
        ConvertTo-PostureJson -InputObject $files[0]['pathFrom'] | Should -Be ('{"registryPath":"' + ($script:bb -replace '\\', '\\') + '","view":"64","valueName":"szLogFileName"}')
    }

    It 'takes view 64 before view 32' {
        $registry = @(
            (New-TestRegistryEntry -Path $script:bb -View '32' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:default })),
            (New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:configured }))
        )
        $manifest = New-TestManifest -Files @(New-FileItem -Path 'C:\nowhere.txt' -PathFrom @(New-PathFrom -RegistryPath $script:bb))
        $f = (Get-PostureFileSnapshot -Manifest $manifest -Registry $registry)[0]
        $f['path'] | Should -Be $script:configured
        $f['pathFrom']['view'] | Should -Be '64'
    }

    It 'falls back to view 32 when view 64 has no such value, and reads only view 32 on 32-bit Windows' {
        $registry = @(
            (New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'APEnabled'; type = 'REG_DWORD'; data = 1 })),
            (New-TestRegistryEntry -Path $script:bb -View '32' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:configured }))
        )
        $manifest = New-TestManifest -Files @(New-FileItem -Path $script:default -PathFrom @(New-PathFrom -RegistryPath $script:bb))
        $f = (Get-PostureFileSnapshot -Manifest $manifest -Registry $registry)[0]
        $f['pathFrom']['view'] | Should -Be '32'
        $f['path'] | Should -Be $script:configured

        Mock Test-PostureOs64Bit { $false }
        $only64 = @(New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:configured }))
        $g = (Get-PostureFileSnapshot -Manifest $manifest -Registry $only64)[0]
        $g['path'] | Should -Be $script:default
        $g.Contains('pathFrom') | Should -BeFalse
    }

    It 'tries the pathFrom items in order: the second names the file when the first has no value' {
        $registry = @(
            (New-TestRegistryEntry -Path $script:bb -View '64' -Exists $false),
            (New-TestRegistryEntry -Path $script:legacy -View '32' -Values @(@{ name = 'szLogFileName_Ent'; type = 'REG_SZ'; data = $script:configured }))
        )
        $manifest = New-TestManifest -Files @(New-FileItem -Path $script:default -PathFrom @((New-PathFrom -RegistryPath $script:bb), (New-PathFrom -RegistryPath $script:legacy -ValueName 'szLogFileName_Ent')))
        $f = (Get-PostureFileSnapshot -Manifest $manifest -Registry $registry)[0]
        $f['path'] | Should -Be $script:configured
        $f['pathFrom']['registryPath'] | Should -Be $script:legacy
        $f['pathFrom']['valueName'] | Should -Be 'szLogFileName_Ent'
    }

    It 'reads the default path when no value names a file (absent key, empty string, another type)' {
        $registry = @(
            (New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = '' })),
            (New-TestRegistryEntry -Path $script:bb -View '32' -Values @(@{ name = 'szLogFileName'; type = 'REG_DWORD'; data = 1 }))
        )
        $manifest = New-TestManifest -Files @(
            (New-FileItem -Path $script:default -PathFrom @(New-PathFrom -RegistryPath $script:bb)),
            (New-FileItem -Path $script:configured -PathFrom @(New-PathFrom -RegistryPath 'HKLM\SOFTWARE\Absent'))
        )
        $files = Get-PostureFileSnapshot -Manifest $manifest -Registry $registry
        @($files | ForEach-Object { $_['path'] }) | Should -Be @($script:default, $script:configured)
        @($files | Where-Object { $_.Contains('pathFrom') }).Count | Should -Be 0
    }

    It 'reads a file two entries name (in any case) once: the first entry wins' {
        $registry = @(New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = $script:default.ToUpperInvariant() }))
        $manifest = New-TestManifest -Files @(
            (New-FileItem -Path 'C:\first-default.txt' -PathFrom @(New-PathFrom -RegistryPath $script:bb)),
            (New-FileItem -Path $script:default),
            (New-FileItem -Path $script:configured)
        )
        $files = Get-PostureFileSnapshot -Manifest $manifest -Registry $registry
        @($files).Count | Should -Be 2
        $files[0]['path'] | Should -Be $script:default.ToUpperInvariant()
        $files[0].Contains('pathFrom') | Should -BeTrue
        $files[1]['path'] | Should -Be $script:configured
    }

    It 'matches the key as Windows does: long hive name and any case' {
        $registry = @(New-TestRegistryEntry -Path ('HKEY_LOCAL_MACHINE\' + $script:bb.Substring(5).ToLowerInvariant()) -View '64' -Values @(@{ name = 'SZLOGFILENAME'; type = 'REG_SZ'; data = $script:configured }))
        $manifest = New-TestManifest -Files @(New-FileItem -Path $script:default -PathFrom @(New-PathFrom -RegistryPath $script:bb))
        $f = (Get-PostureFileSnapshot -Manifest $manifest -Registry $registry)[0]
        $f['path'] | Should -Be $script:configured
        $f['pathFrom']['registryPath'] | Should -Be $script:bb
    }

    It 'New-PostureSnapshot reads the registry first and takes the log path from it' {
        $fixturePath = Join-Path -Path $TestDrive -ChildPath ('fixture-{0}.json' -f [guid]::NewGuid())
        $fixture = @{
            host     = @{ name = 'EXCH01'; fqdn = 'exch01.corp.contoso.com'; os = @{ caption = 'Windows Server 2019'; version = '10.0.17763'; architecture = '64-bit' } }
            registry = @((New-TestRegistryEntry -Path $script:bb -View '64' -Values @(@{ name = 'szLogFileName'; type = 'REG_SZ'; data = 'D:\Logs\AccessProtectionLog.txt' })))
            services = @()
            files    = @(@{ path = 'D:\Logs\AccessProtectionLog.txt'; file = $script:configured })
        }
        [System.IO.File]::WriteAllText($fixturePath, (ConvertTo-PostureJson -InputObject $fixture))
        $manifestJson = ConvertTo-PostureJson -InputObject @{
            schema   = 'fleet-posture/manifest@1'
            registry = @(@{ path = $script:bb; recurse = $false })
            services = @()
            files    = @((New-FileItem -Path 'C:\ProgramData\McAfee\DesktopProtection\AccessProtectionLog.txt' -PathFrom @(New-PathFrom -RegistryPath $script:bb)))
        }
        $env:FLEET_POSTURE_FIXTURE = $fixturePath
        try {
            $s = New-PostureSnapshot -Manifest (ConvertFrom-PostureJson -Json $manifestJson)
        } finally {
            $env:FLEET_POSTURE_FIXTURE = $null
        }
        $s['files'][0]['path'] | Should -Be 'D:\Logs\AccessProtectionLog.txt'
        $s['files'][0]['exists'] | Should -BeTrue
        $s['files'][0]['tail'] | Should -Match 'Blocked'
        $s['files'][0]['pathFrom']['view'] | Should -Be '64'
    }
}
