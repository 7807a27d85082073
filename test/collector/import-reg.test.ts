// The import-reg command end to end: .reg files + services CSV → a contract snapshot on stdout,
// which `evaluate -` accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostFromFileName, whatIsAt } from '../../src/cli/import-reg';
import { main } from '../../src/cli/main';
import { parseSnapshot } from '../../src/snapshot/parse';
import { sampleSnapshot } from '../snapshot/sample';
import { fakeIo, fakeIoWith } from './cli-io';

const FIX = join(__dirname, '..', 'fixtures', 'reg');

async function importReg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = fakeIo();
  const code = await main(['import-reg', ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('fleet-posture import-reg', () => {
  it('writes a valid snapshot: keys of the files, services of the CSV, host from the file name', async () => {
    const r = await importReg([join(FIX, 'EXCH16-vse88-excluded.reg'), '--services', join(FIX, 'services-ex2016.csv')]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const parsed = parseSnapshot(doc);
    expect(parsed.ok).toBe(true);
    expect(doc.collector.name).toBe('import-reg');
    expect(doc.host.name).toBe('EXCH16-vse88-excluded');
    expect(doc.services.map((s: { name: string }) => s.name)).toEqual(['McShield', 'MSExchangeFrontEndTransport', 'MSExchangeTransport']);
    const bb = doc.registry.find((e: { path: string }) => /SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking$/.test(e.path));
    expect(bb).toMatchObject({ path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', view: '32', exists: true });
    expect(Buffer.from(bb.values.find((v: { name: string }) => v.name === 'AccessProtectionUserRules').data, 'base64').toString('latin1')).toContain('UserExclude AVO10 edgetransport.exe');
  });

  it('takes --host and --arch x86, and several files', async () => {
    const r = await importReg([join(FIX, 'EXCH03-vse80i-excluded.reg'), join(FIX, 'encodings.reg'), '--host', 'EXCH03', '--arch', 'x86']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.host).toMatchObject({ name: 'EXCH03', os: { architecture: '32-bit' } });
    expect(doc.registry.find((e: { path: string }) => e.path.endsWith('CurrentVersion')).view).toBe('32');
    expect(r.stderr).toMatch(/note: no --services file/);
    expect(r.stderr).toMatch(/deleted-key line/);
  });

  it('pipes into evaluate -', async () => {
    const r = await importReg([join(FIX, 'EXCH10-vse87i-defaults.reg'), '--services', join(FIX, 'services-ex2010.csv')]);
    const io = fakeIo(r.stdout);
    expect(await main(['evaluate', '-'], io)).toBe(0);
    expect(JSON.parse(io.stdout).results[0].ruleId).toBe('mcafee-port25-blocked');
  });

  it('fails with one clear line and exit 2 on bad input', async () => {
    const missing = await importReg([join(FIX, 'nope.reg')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope\.reg: no such file/);

    const notReg = await importReg([join(FIX, 'services-ex2016.csv')]);
    expect(notReg.code).toBe(2);
    expect(notReg.stderr).toMatch(/not a registry export/);

    const badCsv = await importReg([join(FIX, 'EXCH16-vse88-excluded.reg'), '--services', join(FIX, 'encodings.reg')]);
    expect(badCsv.code).toBe(2);
    expect(badCsv.stderr).toMatch(/encodings\.reg: .*column/);

    const badHost = await importReg([join(FIX, 'EXCH16-vse88-excluded.reg'), '--host', 'not a host', '--services', join(FIX, 'services-ex2016.csv')]);
    expect(badHost.code).toBe(2);
    expect(badHost.stderr).toMatch(/is not a host name/);
    // One line, the refusal alone, even where a file or a missing --services would have added notes.
    const badHostOnly = await importReg([join(FIX, 'EXCH16-vse88-excluded.reg'), '--host=-bad']);
    expect(badHostOnly.code).toBe(2);
    expect(badHostOnly.stderr).toBe('--host "-bad" is not a host name: use --host with 1-63 letters, digits, hyphens or underscores, not beginning or ending with a hyphen\n');

    const usage = await importReg([]);
    expect(usage.code).toBe(2);
  });

  it('refuses an export cut short, in one line, instead of writing a snapshot of what survived', async () => {
    const whole = readFileSync(join(FIX, 'EXCH16-vse88-not-excluded.reg'));
    // Cut right after a wrapped line of hex data (",\" and its line break), as a copy that stopped there would be.
    const wrapped = Buffer.from(',\\\r\n', 'utf16le');
    const atLine = whole.subarray(0, whole.indexOf(wrapped) + wrapped.length);
    const cuts = { 'at-a-line.reg': atLine, 'in-a-character.reg': whole.subarray(0, whole.length - 1) };
    for (const [name, bytes] of Object.entries(cuts)) {
      const io = fakeIoWith({ [name]: bytes });
      expect(await main(['import-reg', name, '--services', join(FIX, 'services-ex2016.csv')], io), name).toBe(2);
      expect(io.stdout, name).toBe('');
      expect(io.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(io.stderr, name).toMatch(new RegExp(`^${name.replace('.', '\\.')}: .*the file is cut short; export it again\n$`));
    }
  });

  it('derives a host name from the file name', () => {
    expect(hostFromFileName('C:\\exports\\EXCH01.reg')).toBe('EXCH01');
    expect(hostFromFileName('/tmp/mcafee export (1).reg')).toBe('mcafee-export-1');
  });
});

describe('realistic exports (test/fixtures/reg) give the verdicts of the decision table', () => {
  const cases: Array<[string, string, string, string, string]> = [
    ['EXCH03-vse80i-excluded.reg', 'services-ex2003.csv', 'x86', 'Pass', 'SmtpExcluded'],
    ['EXCH03-vse80i-not-excluded.reg', 'services-ex2003.csv', 'x86', 'Warning', 'SmtpNotExcluded'],
    ['EXCH03-vse80i-rule-disabled.reg', 'services-ex2003.csv', 'x86', 'Pass', 'RuleDisabled'],
    ['EXCH10-vse87i-defaults.reg', 'services-ex2010.csv', 'x64', 'Warning', 'SmtpNotExcluded'],
    ['EXCH16-vse88-ap-off.reg', 'services-ex2016.csv', 'x64', 'Pass', 'AccessProtectionOff'],
    ['EXCH16-vse88-excluded.reg', 'services-ex2016.csv', 'x64', 'Pass', 'SmtpExcluded'],
    ['EXCH16-vse88-no-behaviourblocking.reg', 'services-ex2016.csv', 'x64', 'Unknown', 'ConfigUnreadable'],
    ['EXCH16-vse88-not-excluded.reg', 'services-ex2016.csv', 'x64', 'Warning', 'SmtpNotExcluded'],
    ['EXCH16-vse88-rule-disabled.reg', 'services-ex2016.csv', 'x64', 'Pass', 'RuleDisabled'],
    ['EXCH19-agent-only.reg', 'services-ex2016.csv', 'x64', 'NotApplicable', 'NotInstalled'],
    ['EXCH16-vse88-excluded.reg', 'services-ex2016-mcshield-stopped.csv', 'x64', 'Pass', 'ScannerNotRunning'],
    ['EXCH16-vse88-excluded.reg', 'services-ex2016-no-mcshield.csv', 'x64', 'Unknown', 'ScannerStateUnknown'],
    ['EXCH16-vse88-excluded.reg', 'services-no-smtp.csv', 'x64', 'NotApplicable', 'NoSmtpService'],
  ];
  for (const [reg, csv, arch, status, reasonCode] of cases) {
    it(`${reg} + ${csv}: ${status} ${reasonCode}`, async () => {
      const r = await importReg([join(FIX, reg), '--services', join(FIX, csv), '--arch', arch]);
      expect(r.code, r.stderr).toBe(0);
      const io = fakeIo(r.stdout);
      expect(await main(['evaluate', '-'], io)).toBe(0);
      const result = JSON.parse(io.stdout).results.find((x: { ruleId: string }) => x.ruleId === 'mcafee-port25-blocked');
      expect({ status: result.status, reasonCode: result.reasonCode }).toEqual({ status, reasonCode });
    });
  }
});

describe('import-reg and keys no rule reads', () => {
  // A value longer than the contract allows (32,767 characters), in one more key of the export.
  const withKey = (key: string, value: string) =>
    Buffer.concat([readFileSync(join(FIX, 'EXCH16-vse88-excluded.reg')), Buffer.from(`[${key}]\r\n"${value}"="${'x'.repeat(40_000)}"\r\n\r\n`, 'utf16le')]);

  async function importOne(file: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
    const io = fakeIoWith({ 'EXCH16.reg': file });
    const code = await main(['import-reg', 'EXCH16.reg', '--services', join(FIX, 'services-ex2016.csv')], io);
    return { code, stdout: io.stdout, stderr: io.stderr };
  }

  it('leaves an oversized value in a key no rule reads out of the snapshot instead of refusing the export', async () => {
    const r = await importOne(withKey('HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent\\Logs', 'Trace'));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.registry.map((e: { path: string }) => e.path)).not.toContain('HKLM\\SOFTWARE\\McAfee\\Agent\\Logs');
    const io = fakeIo(r.stdout);
    expect(await main(['evaluate', '-'], io)).toBe(0);
    expect(JSON.parse(io.stdout).results[0]).toMatchObject({ status: 'Pass', reasonCode: 'SmtpExcluded' });
  });

  it('still refuses an oversized value in a key the rule reads, with one line', async () => {
    const r = await importOne(withKey('HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', 'szLogFileName'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^the files do not make a valid snapshot: registry\[\d+\]\.values\[\d+\]\.data \(value "szLogFileName" of HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking, view 32\): must be at most 32767 characters long\n$/,
    );
  });
});

describe('import-reg and half of a UTF-16 surrogate pair', () => {
  // One more key in the export, whose value holds a high surrogate with no low one after it.
  const withHalf = (key: string, value: string, data: string) =>
    Buffer.concat([readFileSync(join(FIX, 'EXCH16-vse88-excluded.reg')), Buffer.from(`[${key}]\r\n"${value}"=${data}\r\n\r\n`, 'utf16le')]);
  const hexOf = (text: string) => [...Buffer.from(text, 'utf16le')].map((b) => b.toString(16).padStart(2, '0')).join(',');
  const READ_KEY = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';

  async function importOne(file: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
    const io = fakeIoWith({ 'EXCH16.reg': file });
    const code = await main(['import-reg', 'EXCH16.reg', '--services', join(FIX, 'services-ex2016.csv')], io);
    return { code, stdout: io.stdout, stderr: io.stderr };
  }

  it('in a value a rule reads refuses the export in one line naming the value, as the service would, never writing U+FFFD in its place', async () => {
    for (const data of ['"C:\\logs\ud800\\scan.log"', `hex(2):${hexOf('C:\\logs\ud800\\scan.log\0')}`]) {
      const r = await importOne(withHalf(READ_KEY, 'szLogFileName', data));
      expect(r.code, data).toBe(2);
      expect(r.stdout, data).toBe('');
      expect(r.stderr, data).toMatch(
        /^the files do not make a valid snapshot: registry\[\d+\]\.values\[\d+\]\.data \(value "szLogFileName" of HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking, view 32\): must be whole characters: it holds half of a UTF-16 surrogate pair \(a character cut in two\), which strict JSON readers of the answers cannot decode\n$/,
      );
    }
  });

  it('names the key, value or service a refused path stands for, and nothing for other paths', () => {
    const s = sampleSnapshot();
    const key = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion, view 32';
    expect(whatIsAt(s, 'registry[0].values[1].data')).toBe(` (value "szInstallDir" of ${key})`);
    expect(whatIsAt(s, 'registry[0].path')).toBe(` (key ${key})`);
    expect(whatIsAt(s, 'registry[0].values[9].name')).toBe(` (key ${key})`);
    expect(whatIsAt(s, 'registry[1].values[0].name')).toBe(' (key HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking, view 64)');
    expect(whatIsAt(s, 'registry[9].path')).toBe('');
    expect(whatIsAt(s, 'services[1].state')).toBe(' (service "SMTPSVC")');
    expect(whatIsAt(s, 'services[9].state')).toBe('');
    expect(whatIsAt(s, 'host.name')).toBe('');
  });

  it('in a key no rule reads leaves that key out, as with any value the contract refuses', async () => {
    const r = await importOne(withHalf('HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent\\Logs', 'Trace', '"x\ud800"'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\\ud8|\uFFFD/i);
    expect(parseSnapshot(JSON.parse(r.stdout)).ok).toBe(true);
  });

  it('in the services CSV refuses it in one line naming the service\'s field', async () => {
    const csv = Buffer.from('\uFEFF"Name","DisplayName","State","Started","StartMode","PathName"\r\n"McShield","McAfee\udc00 McShield","Running","True","Auto","C:\\m.exe"\r\n', 'utf16le');
    const io = fakeIoWith({ 'EXCH16.reg': readFileSync(join(FIX, 'EXCH16-vse88-excluded.reg')), 'services.csv': csv });
    expect(await main(['import-reg', 'EXCH16.reg', '--services', 'services.csv'], io)).toBe(2);
    expect(io.stdout).toBe('');
    expect(io.stderr).toMatch(/^the files do not make a valid snapshot: services\[0\]\.displayName \(service "McShield"\): must be whole characters: it holds half of a UTF-16 surrogate pair/);
  });
});

describe('import-reg and ANSI code pages (REGEDIT4 from Japanese Windows is Shift-JIS, code page 932)', () => {
  const JA = join(FIX, 'EXCH03J-vse80i-regedit4-cp932.reg');
  const CSV = join(FIX, 'port25', 'vse80i-custom-rule-japanese-name.services.csv');
  const MASS_MAILING = 'マス メール型ワームによるメールの送信を防止する';

  it('--code-page 932 reads the Japanese rule names, and hex(2)/hex(7) data, as the server shows them', async () => {
    const r = await importReg([JA, '--services', CSV, '--arch', 'x86', '--code-page', '932']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/code page/);
    const bb = JSON.parse(r.stdout).registry.find((e: { path: string }) => e.path.endsWith('BehaviourBlocking'));
    const value = (name: string) => bb.values.find((v: { name: string }) => v.name === name);
    expect(value('PortBlockRuleName_1').data).toBe('IRC 通信を防止する');
    expect(value('szLogFileName')).toEqual({ name: 'szLogFileName', type: 'REG_EXPAND_SZ', data: 'D:\\ウイルス対策\\ログ\\AccessProtectionLog.txt' });
    expect(value('PortBlockExcludedProcesses_3').data).toEqual(['outlook.exe', 'msimn.exe', 'nlnotes.exe']);
    const io = fakeIo(r.stdout);
    expect(await main(['evaluate', '-'], io)).toBe(0);
    const result = JSON.parse(io.stdout).results[0];
    expect(result).toMatchObject({ status: 'Warning', reasonCode: 'SmtpNotExcluded' });
    expect(result.evidence.culprits[0]).toMatchObject({ image: 'inetinfo.exe', rule: MASS_MAILING });
  });

  it('without --code-page reads ANSI as 1252 and says so, naming the option', async () => {
    const r = await importReg([JA, '--services', CSV, '--arch', 'x86']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${JA}: note: read as code page 1252`);
    expect(r.stderr).toContain('--code-page (932 for Japanese)');
    expect(r.stdout).not.toContain(MASS_MAILING);
  });

  it('without --code-page notes the guess when only hex(2)/hex(7) string data goes beyond ASCII', async () => {
    // The quoted text is plain ASCII (so the file reads as UTF-8), but REGEDIT4 writes string data
    // in hex in the ANSI code page too: Shift-JIS "ログ" here.
    const sjis = [0x83, 0x8d, 0x83, 0x4f, 0].map((b) => b.toString(16).padStart(2, '0')).join(',');
    const file = (hex: string) =>
      Buffer.from(
        `REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]\r\n"szProductVer"="8.8.0.1804"\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking]\r\n"szLogFileName"=hex(2):${hex}\r\n\r\n`,
        'latin1',
      );
    const run = async (hex: string, ...args: string[]) => {
      const io = fakeIoWith({ 'EXCH03.reg': file(hex) });
      expect(await main(['import-reg', 'EXCH03.reg', '--arch', 'x86', '--services', CSV, ...args], io)).toBe(0);
      return io.stderr;
    };
    expect(await run(sjis)).toContain('EXCH03.reg: note: read as code page 1252 (English and Western European Windows); for a file from a Windows with another ANSI code page, give it with --code-page (932 for Japanese)\n');
    expect(await run(sjis, '--code-page', '932')).not.toMatch(/code page/);
    // ASCII string data decodes alike in every code page: nothing to note.
    expect(await run('41,42,00')).not.toMatch(/code page/);
  });

  it('refuses, in one line, a file that is not valid text in the code page given', async () => {
    const latin1 = Buffer.from('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n"Owner"="Caf\xe9"\r\n\r\n', 'latin1');
    const io = fakeIoWith({ 'EXCH03.reg': latin1 });
    expect(await main(['import-reg', 'EXCH03.reg', '--arch', 'x86', '--code-page', '932'], io)).toBe(2);
    expect(io.stdout).toBe('');
    expect(io.stderr).toBe('EXCH03.reg: the text is not valid in code page 932; give the ANSI code page of the Windows that wrote it with --code-page (932 for Japanese, 1252 for English and Western European)\n');
    // The default code page reads every byte: the same file imports.
    const io1252 = fakeIoWith({ 'EXCH03.reg': latin1 });
    expect(await main(['import-reg', 'EXCH03.reg', '--arch', 'x86'], io1252)).toBe(0);
  });
});
