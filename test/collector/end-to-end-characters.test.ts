// The real collector under pwsh, its reads answered from a fixture, on a machine whose registry
// value (and the log file it names) and service path hold half of a UTF-16 surrogate pair: the
// snapshot it writes is one the service's parser takes, with U+FFFD for each half and whole pairs
// as they were, and its output names each value that held one. The service refuses a snapshot
// with a half character (invalid_snapshot), so without this such a host would never report.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeText } from '../../src/cli/io';
import { parseSnapshot } from '../../src/snapshot/parse';
import { COLLECTOR, pwshTimeout, runPwsh } from './collector-process';

const work = mkdtempSync(path.join(tmpdir(), 'posture-halves-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BB = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';
const PAIR = '\u{1F600}';
// PowerShell 7's ConvertFrom-Json reads a JSON \ud800 escape as U+FFFD, so the fixture file spells
// each half as a token that the script below puts back as the character itself.
const withTokens = (before: string, between: string, after: string) => `${before}{HIGH}${between}{LOW}${after}${PAIR}`;
const asSent = (before: string, between: string, after: string) => `${before}\uFFFD${between}\uFFFD${after}${PAIR}`;

describe('half of a surrogate pair, collected by Send-PostureSnapshot', () => {
  it('the snapshot written is one parseSnapshot takes: U+FFFD for each half, the pair kept; the output names the values', async () => {
    const log = path.join(work, 'apl.txt');
    writeFileSync(log, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('11/30/2026\t10:00:00 PM\tBlocked by port blocking rule\r\n', 'utf16le')]));
    const fixture = path.join(work, 'fixture.json');
    writeFileSync(
      fixture,
      JSON.stringify({
        host: { name: 'EXCH01', os: { caption: 'Microsoft Windows Server 2019 Standard', version: '10.0.17763', architecture: '64-bit' } },
        registry: [
          { path: BB, view: '64', exists: false },
          { path: BB, view: '32', exists: true, values: [{ name: 'szLogFileName', type: 'REG_SZ', data: withTokens('C:\\Logs\\a', 'b', 'c') }] },
        ],
        services: [{ name: 'McShield', displayName: 'McAfee McShield', state: 'Running', started: true, startMode: 'Auto', pathName: withTokens('C:\\McAfee\\', 'Mcshield', '.exe '), processId: 1432 }],
        files: [{ path: withTokens('C:\\Logs\\a', 'b', 'c'), file: log }],
      }),
    );
    const manifest = path.join(work, 'manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        schema: 'fleet-posture/manifest@1',
        version: `sha256:${'0'.repeat(64)}`,
        registry: [{ path: BB, recurse: false }],
        services: ['McShield'],
        files: [{ path: 'C:\\default.txt', tailBytes: 4096, pathFrom: [{ registryPath: BB, valueName: 'szLogFileName' }] }],
      }),
    );
    const out = path.join(work, 'snapshot.json');
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const script = path.join(work, 'collect.ps1');
    writeFileSync(
      script,
      [
        "$ErrorActionPreference = 'Stop'",
        'Set-StrictMode -Version Latest',
        `foreach ($f in Get-ChildItem -LiteralPath ${q(path.join(COLLECTOR, 'Private'))} -Filter '*.ps1') { . $f.FullName }`,
        'function Set-Half {',
        '    param($Node)',
        '    $swap = { param([string]$s) $s.Replace("{HIGH}", [string][char]0xD800).Replace("{LOW}", [string][char]0xDC00) }',
        '    if ($Node -is [System.Management.Automation.PSCustomObject]) {',
        '        foreach ($p in $Node.PSObject.Properties) { if ($p.Value -is [string]) { $p.Value = & $swap $p.Value } else { Set-Half -Node $p.Value } }',
        '    } elseif ($Node -is [object[]]) {',
        '        foreach ($item in $Node) { Set-Half -Node $item }',
        '    }',
        '}',
        // The fixture is parsed once and kept: the collection below reads this very object.
        'Set-Half -Node (Get-PostureFixture)',
        `$run = Invoke-PostureSnapshot -OutFile ${q(out)} -ManifestPath ${q(manifest)} -DataPath ${q(path.join(work, 'data'))} -WarningAction SilentlyContinue`,
        '$run.Lines',
        'exit $run.ExitCode',
      ].join('\n'),
    );
    const run = await runPwsh(['-File', script], { FLEET_POSTURE_FIXTURE: fixture, COMPUTERNAME: 'EXCH01', PROCESSOR_ARCHITECTURE: 'AMD64' });
    expect(run.code, run.stdout + run.stderr).toBe(0);

    const text = decodeText(readFileSync(out));
    const parsed = parseSnapshot(JSON.parse(text), { now: Date.parse('2100-01-01T00:00:00Z') });
    expect(parsed.ok ? '' : JSON.stringify(parsed.issues)).toBe('');
    expect(text).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    if (!parsed.ok) return;
    const s = parsed.snapshot;
    const value = s.registry.find((e) => e.view === '32')?.values?.find((v) => v.name === 'szLogFileName');
    expect(value?.data).toBe(asSent('C:\\Logs\\a', 'b', 'c'));
    expect(s.services[0]?.pathName).toBe(asSent('C:\\McAfee\\', 'Mcshield', '.exe '));
    expect(s.files[0]?.path).toBe(asSent('C:\\Logs\\a', 'b', 'c'));
    expect(s.files[0]?.exists).toBe(true);

    const said = run.stdout.split(/\r?\n/).filter((l) => l.includes('halves of UTF-16 surrogate pairs'));
    expect(said).toEqual([
      expect.stringMatching(/^Registry value "szLogFileName" of HKLM\\SOFTWARE\\.*\\BehaviourBlocking \(view 32\): 2 characters were halves/),
      expect.stringMatching(/^Service "McShield" \(pathName\): 2 characters were halves/),
      expect.stringMatching(/^File C:\\Logs\\a\uFFFDb\uFFFDc\u{1F600} \(path\): 2 characters were halves/u),
    ]);
  }, pwshTimeout(1));
});
