// npm test's share of the collector checks: every .ps1 under collector/ parses with a real
// PowerShell grammar and stays Windows PowerShell 5.1 compatible; and the checker itself can fail.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile, checkSource, formatFindings, listPs1 } from './ps-check';

const ROOT = join(__dirname, '..', '..');
const FILES = listPs1(join(ROOT, 'collector'));

describe('collector PowerShell scripts', () => {
  it('include the two entry scripts, their private functions and Pester tests', () => {
    const names = FILES.map((f) => f.slice(ROOT.length + 1).replace(/\\/g, '/'));
    expect(names).toContain('collector/Send-PostureSnapshot.ps1');
    expect(names).toContain('collector/Install-PostureCollector.ps1');
    expect(names.some((n) => n.startsWith('collector/Private/'))).toBe(true);
    expect(names.some((n) => /^collector\/tests\/.+\.Tests\.ps1$/.test(n))).toBe(true);
  });

  for (const full of FILES) {
    const rel = full.slice(ROOT.length + 1).replace(/\\/g, '/');
    it(`${rel}: parses, no PowerShell 7-only constructs, help, approved verbs, ASCII`, async () => {
      const findings = await checkFile(ROOT, full);
      expect(formatFindings(findings)).toBe('');
    });
  }
});

describe('the checker catches what it must', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['null-coalescing', '$a = $b ?? 1\n', /syntax error|PowerShell 7/],
    ['null-coalescing assignment', '$a ??= 1\n', /syntax error|PowerShell 7/],
    ['null-conditional member access', '$x = $y?.Name\n', /syntax error|PowerShell 7/],
    ['ternary', '$a = $b ? 1 : 2\n', /syntax error|PowerShell 7/],
    ['pipeline chain &&', 'Get-Item x && Remove-Item y\n', /pipeline chain operator "&&"/],
    ['pipeline chain ||', 'Get-Item x || Write-Warning y\n', /pipeline chain operator "\|\|"/],
    ['ForEach-Object -Parallel', '1..3 | ForEach-Object -Parallel { $_ }\n', /foreach-object -parallel/i],
    ['alias % -Parallel', '1..3 | % -Parallel { $_ }\n', /-parallel is PowerShell 7/],
    ['Invoke-RestMethod -SkipCertificateCheck', 'Invoke-RestMethod -Uri $u -SkipCertificateCheck\n', /-skipcertificatecheck/],
    ['Invoke-RestMethod -StatusCodeVariable', 'irm -Uri $u -StatusCodeVariable sc\n', /-statuscodevariable/],
    ['Invoke-WebRequest -MaximumRetryCount (abbreviated)', 'Invoke-WebRequest -Uri $u -MaximumRetry 3\n', /-maximumretrycount/],
    ['ConvertFrom-Json -AsHashtable', '$h = $t | ConvertFrom-Json -AsHashtable\n', /-ashashtable/],
    ['ConvertFrom-Json -Depth', '$h = ConvertFrom-Json -InputObject $t -Depth 5\n', /-depth/],
    ['Get-Content -AsByteStream', '$b = Get-Content -Path x -AsByteStream\n', /-asbytestream/],
    ['-Encoding utf8NoBOM', 'Set-Content -Path x -Value y -Encoding utf8NoBOM\n', /-Encoding utf8nobom/],
    ['PS7-only cmdlet', 'Get-Error\n', /does not exist in Windows PowerShell 5.1/],
    ['PS6+ variable', 'if ($IsWindows) { 1 }\n', /\$IsWindows/],
    ['`u{} escape', '$s = "caf`u{00E9}"\n', /`u\{\.\.\.\} escape/],
    ['clean block', 'function Get-A {\n    process { 1 }\n    clean { 2 }\n}\n', /clean|syntax error/],
    ['unclosed brace', 'function Get-A {\n    param()\n    if ($true) {\n        1\n}\n', /syntax error/],
    ['unclosed array', '$x = @(1, 2\n$y = 3\n', /syntax error/],
    ['unterminated string', '$x = "abc\n', /syntax error/],
  ];
  for (const [what, source, pattern] of bad) {
    it(`flags ${what}`, async () => {
      const findings = await checkSource('snippet.ps1', source, 'test');
      expect(formatFindings(findings)).toMatch(pattern);
      expect(findings[0]?.line).toBeGreaterThan(0);
    });
  }

  it('reports file and line', async () => {
    const findings = await checkSource('x.ps1', '$a = 1\n$b = 2\n$c = $a ?? $b\n', 'test');
    expect(formatFindings(findings)).toMatch(/^x\.ps1:3: /m);
  });

  it('flags an unapproved verb and a function without help', async () => {
    const findings = await checkSource('x.ps1', 'function Fetch-Thing {\n    param()\n    1\n}\n', 'private');
    const text = formatFindings(findings);
    expect(text).toMatch(/"Fetch" is not an approved verb/);
    expect(text).toMatch(/no comment-based help/);
  });

  it('flags an entry script without help or Set-StrictMode', async () => {
    const findings = await checkSource('collector/X.ps1', 'param()\n$a = 1\n', 'entry');
    const text = formatFindings(findings);
    expect(text).toMatch(/no comment-based help/);
    expect(text).toMatch(/Set-StrictMode/);
  });

  it('accepts Windows PowerShell 5.1 idioms (strings and comments that mention && or ??)', async () => {
    const ok = [
      '# a && b ?? c',
      '$s = "a && b ?? c"',
      "$t = 'x || y'",
      '[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12',
      'Invoke-WebRequest -Uri $u -UseBasicParsing -TimeoutSec 30 -ErrorAction Stop',
      'ConvertTo-Json -InputObject $o -Depth 10',
      'Get-Content -Path x -Encoding UTF8',
      'Get-ChildItem -Path x | Select-Object -Skip 20 -First 3',
      '$leaf = Split-Path -Leaf $p',
      'Invoke-WebRequest -Uri $u -TimeoutSec 5 -UseBasicParsing',
      '$k = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry32)',
    ].join('\n');
    expect(formatFindings(await checkSource('ok.ps1', ok + '\n', 'test'))).toBe('');
  });
});
