# Pester 5 tests of the paths an admin gives (Send-PostureSnapshot.ps1's -DataPath, -ConfigPath,
# -OutFile, -ManifestPath; Install-PostureCollector.ps1's -InstallPath and -DataPath) and the file
# paths a manifest or a registry value names: each is made full, or %NAME%-expanded, exactly once.
# A full path made full again is the same path; a %NAME% is expanded once, whatever the value holds;
# and the scheduled task, which expands %NAME% in its arguments itself, is never given a folder
# that holds one.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:source = Split-Path -Parent $PSScriptRoot
    $script:systemRoot = $env:SystemRoot
    if (-not $env:SystemRoot) { $env:SystemRoot = 'C:\Windows' }
}

AfterAll {
    $env:SystemRoot = $script:systemRoot
}

Describe 'Paths given as parameters are made full once' {
    BeforeEach {
        $script:root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        # Where the admin typed the command, and the process's own directory (which cd does not move).
        $script:typedIn = Join-Path -Path $script:root -ChildPath 'admin'
        $script:processDir = Join-Path -Path $script:root -ChildPath 'system32'
        foreach ($d in @($script:typedIn, $script:processDir)) { [void](New-Item -ItemType Directory -Path $d -Force) }
    }

    It 'ConvertTo-PostureFullPath of its own result is that result: <Path>' -ForEach @(
        @{ Path = 'Posture' }
        @{ Path = './a/../b' }
        @{ Path = '~' }
        @{ Path = '~/Posture' }
        @{ Path = 'a[1]/b' }
        @{ Path = 'a`[1`]' }
        @{ Path = '%ProgramData%/Posture' }
    ) {
        Push-Location -LiteralPath $script:typedIn
        try {
            $once = ConvertTo-PostureFullPath -Path $Path
        } finally {
            Pop-Location
        }
        [System.IO.Path]::IsPathRooted($once) | Should -BeTrue
        # From anywhere else: a full path does not depend on where it is made full again.
        Push-Location -LiteralPath $script:processDir
        try {
            ConvertTo-PostureFullPath -Path $once | Should -Be $once
        } finally {
            Pop-Location
        }
    }

    It 'a dry run with relative -OutFile, -ManifestPath and -DataPath reads and writes each under where it was typed, once' {
        [void](New-Item -ItemType Directory -Path (Join-Path -Path $script:typedIn -ChildPath 'in') -Force)
        [System.IO.File]::WriteAllText((Join-Path -Path $script:typedIn -ChildPath 'in/manifest.json'), '{"schema":"fleet-posture/manifest@1","version":"1","registry":[],"services":[],"files":[]}')
        $processBefore = [System.Environment]::CurrentDirectory
        Push-Location -LiteralPath $script:typedIn
        try {
            [System.Environment]::CurrentDirectory = $script:processDir
            $run = Invoke-PostureSnapshot -OutFile 'out/snapshot.json' -ManifestPath 'in/manifest.json' -DataPath 'data' -WarningAction SilentlyContinue
        } finally {
            [System.Environment]::CurrentDirectory = $processBefore
            Pop-Location
        }
        $run.ExitCode | Should -Be 0
        $written = Join-Path -Path (Join-Path -Path $script:typedIn -ChildPath 'out') -ChildPath 'snapshot.json'
        ($run.Lines -join "`n") | Should -Match ([regex]::Escape(('written to {0} (' -f $written)))
        Test-Path -LiteralPath $written | Should -BeTrue
        @(Get-ChildItem -LiteralPath $script:processDir -Recurse -Force).Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path -Path $script:typedIn -ChildPath 'admin') | Should -BeFalse
    }
}

Describe 'Paths with %NAME% are expanded once' {
    BeforeEach {
        # A variable whose value spells another's name: expanding twice would give the second's value.
        $env:POSTURE_TEST_OUTER = '%POSTURE_TEST_INNER%'
        $env:POSTURE_TEST_INNER = 'twice'
    }
    AfterEach {
        $env:POSTURE_TEST_OUTER = $null
        $env:POSTURE_TEST_INNER = $null
        $env:FLEET_POSTURE_FIXTURE = $null
    }

    It 'a manifest file path and a REG_EXPAND_SZ value naming one: the path read and reported is expanded once' -ForEach @(
        @{ Source = 'the manifest''s path'; FromRegistry = $false }
        @{ Source = 'a REG_EXPAND_SZ value'; FromRegistry = $true }
    ) {
        $bb = 'HKLM\SOFTWARE\McAfee\SystemCore\VSCore\On Access Scanner\BehaviourBlocking'
        $values = @()
        if ($FromRegistry) { $values = @(@{ name = 'szLogFileName'; type = 'REG_EXPAND_SZ'; data = 'C:\%POSTURE_TEST_OUTER%\apl.txt' }) }
        $fixturePath = Join-Path -Path $TestDrive -ChildPath ('fixture-{0}.json' -f [guid]::NewGuid())
        [System.IO.File]::WriteAllText($fixturePath, (ConvertTo-PostureJson -InputObject @{ registry = @(@{ path = $bb; view = '32'; exists = $true; values = $values }); services = @(); files = @() }))
        $env:FLEET_POSTURE_FIXTURE = $fixturePath
        $file = @{ path = 'C:\%POSTURE_TEST_OUTER%\default.txt'; tailBytes = 1024; pathFrom = @(@{ registryPath = $bb; valueName = 'szLogFileName' }) }
        $manifest = @{ registry = @(@{ path = $bb; recurse = $false }); files = @($file) }
        $registry = Get-PostureRegistrySnapshot -Manifest $manifest
        $files = Get-PostureFileSnapshot -Manifest $manifest -Registry $registry
        $expected = 'C:\%POSTURE_TEST_INNER%\default.txt'
        if ($FromRegistry) { $expected = 'C:\%POSTURE_TEST_INNER%\apl.txt' }
        @($files).Count | Should -Be 1
        $files[0]['path'] | Should -Be $expected
    }

    It 'Expand-PosturePath of an expanded path that still holds a name is not the same as expanding once' {
        # The guard the test above relies on: this value would show a second expansion.
        Expand-PosturePath -Path '%POSTURE_TEST_OUTER%' | Should -Be '%POSTURE_TEST_INNER%'
        Expand-PosturePath -Path (Expand-PosturePath -Path '%POSTURE_TEST_OUTER%') | Should -Be 'twice'
    }
}

Describe 'The installer never hands the task a folder that Task Scheduler would expand again' {
    BeforeEach {
        $script:root = Join-Path -Path $TestDrive -ChildPath ([guid]::NewGuid().ToString())
        $env:POSTURE_TEST_FOLDER = 'Elsewhere'
        Mock Test-PostureAdministrator { $true }
        Mock Register-PostureTask { $null }
        Mock Set-PostureRestrictedAcl { $null }
        Mock Protect-PostureSecret { , [byte[]](1, 2, 3) }
    }
    AfterEach {
        $env:POSTURE_TEST_FOLDER = $null
    }

    It 'the <Which> folder whose path holds %POSTURE_TEST_FOLDER% is refused before anything changes' -ForEach @(
        @{ Which = 'data'; Install = 'Program Files/FleetPosture'; Data = '%POSTURE_TEST_FOLDER%/FleetPosture' }
        @{ Which = 'install'; Install = '%POSTURE_TEST_FOLDER%/FleetPosture'; Data = 'ProgramData/FleetPosture' }
    ) {
        $install = Join-Path -Path $script:root -ChildPath $Install
        $data = Join-Path -Path $script:root -ChildPath $Data
        { Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath $install -DataPath $data } | Should -Throw '*holds an environment variable''s name between % signs, which Task Scheduler would replace*'
        Should -Invoke Register-PostureTask -Times 0 -Exactly
        Test-Path -LiteralPath $script:root | Should -BeFalse
    }

    It 'a % that names no variable is only a character: installed, and the task gets the folder as it is' {
        $script:xml = $null
        Mock Register-PostureTask { $script:xml = [xml]$Xml }
        $data = Join-Path -Path (Join-Path -Path $script:root -ChildPath '100%') -ChildPath 'FleetPosture'
        $null = Register-PostureCollector -Endpoint 'https://posture.contoso.net' -ApiKey 'secret' -WarningAction SilentlyContinue -SourcePath $script:source -InstallPath (Join-Path -Path $script:root -ChildPath 'Program Files/FleetPosture') -DataPath $data
        $script:xml.OuterXml | Should -Match ([regex]::Escape(('-DataPath "{0}"' -f $data)))
    }
}
