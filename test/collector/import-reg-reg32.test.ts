// An export of the 32-bit view taken on 64-bit Windows (`reg export <key> <file> /reg:32`, or the
// 32-bit regedit in SysWOW64) spells its keys without Wow6432Node, as a 32-bit program sees them.
// Given with --reg32, import-reg reads its keys in view "32" of a 64-bit host, exactly as it reads
// the same keys exported under Wow6432Node.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileGivenTwice } from '../../src/cli/import-reg';
import { main } from '../../src/cli/main';
import { asWow64Export, decodeRegBytes, parseRegExport } from '../../src/snapshot/reg-export';
import { fakeIo, fakeIoWith, regFile } from './cli-io';

const FIX = join(__dirname, '..', 'fixtures', 'reg');
const SERVICES = join(FIX, 'services-ex2016.csv');

interface Imported {
  code: number;
  stdout: string;
  stderr: string;
}

async function importReg(files: Readonly<Record<string, Buffer>>, args: string[]): Promise<Imported> {
  const io = fakeIoWith(files);
  const code = await main(['import-reg', ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

async function verdict(snapshot: string): Promise<string> {
  const io = fakeIo(snapshot);
  expect(await main(['evaluate', '-'], io)).toBe(0);
  return JSON.parse(io.stdout).results[0].reasonCode;
}

function registryOf(r: Imported): unknown {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).registry;
}

// The agent alone, as each view of a 64-bit server holds it: the keys that say whether VirusScan
// is installed are missing, inside exported branches.
const AGENT_ONLY = [
  '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]',
  '',
  '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Agent]',
  '"AgentVersion"="5.7.9.139"',
  '',
  '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Network Associates]',
  '',
  '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Network Associates\\ePolicy Orchestrator]',
  '',
];

describe('import-reg --reg32: a 32-bit-view export from 64-bit Windows, whose keys lack Wow6432Node', () => {
  it('reads its keys in view "32" of a 64-bit host, as the same keys exported under Wow6432Node', async () => {
    const reg32 = await importReg({}, ['--reg32', join(FIX, 'EXCH16-vse88-reg32.reg'), '--host', 'EXCH16', '--services', SERVICES]);
    const wow = await importReg({}, [join(FIX, 'EXCH16-vse88-not-excluded.reg'), '--host', 'EXCH16', '--services', SERVICES]);
    expect(registryOf(reg32)).toEqual(registryOf(wow));
    expect(registryOf(reg32)).toContainEqual(expect.objectContaining({ path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32', exists: true }));
    expect(JSON.parse(reg32.stdout).host).toMatchObject({ name: 'EXCH16', os: { architecture: '64-bit' } });
    expect(await verdict(reg32.stdout)).toBe('SmtpNotExcluded');
  });

  it('takes the host name from a --reg32 file when it is the only file', async () => {
    const r = await importReg({}, ['--reg32', join(FIX, 'EXCH16-vse88-reg32.reg'), '--services', SERVICES]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).host.name).toBe('EXCH16-vse88-reg32');
  });

  it('with an export of the native view, covers both views: the agent alone means VirusScan is not installed', async () => {
    const r = await importReg({ 'native.reg': regFile(...AGENT_ONLY), 'wow.reg': regFile(...AGENT_ONLY) }, [
      'native.reg',
      '--reg32',
      'wow.reg',
      '--host',
      'EXCH16',
      '--services',
      SERVICES,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const registry = JSON.parse(r.stdout).registry as Array<{ path: string; view: string; exists: boolean }>;
    const desktopProtection = registry.filter((e) => e.path === 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection');
    expect(desktopProtection.map((e) => [e.view, e.exists]).sort()).toEqual([
      ['32', false],
      ['64', false],
    ]);
    expect(await verdict(r.stdout)).toBe('NotInstalled');
  });

  it('alone, without the native view, is refused naming the native keys it leaves out', async () => {
    const r = await importReg({ 'wow.reg': regFile(...AGENT_ONLY) }, ['--reg32', 'wow.reg', '--host', 'EXCH16', '--services', SERVICES]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(
      'the files do not reach HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion and HKLM\\SOFTWARE\\McAfee\\DesktopProtection: ',
    );
  });

  it('keeps its place on the command line: the host name comes from the first file, a value twice from the later file', async () => {
    // The same value in view "32": under Wow6432Node in a plain file, and in a --reg32 file.
    const files = {
      'EXCHB32.reg': regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]', '"szProductVer"="8.8.0.2"'),
      'EXCHA.reg': regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection]', '"szProductVer"="8.8.0.1"'),
    };
    const r = await importReg(files, ['--reg32', 'EXCHB32.reg', 'EXCHA.reg', '--services', SERVICES]);
    expect(JSON.parse(r.stdout).host.name).toBe('EXCHB32');
    expect(registryOf(r)).toContainEqual(
      expect.objectContaining({ path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32', values: [expect.objectContaining({ name: 'szProductVer', data: '8.8.0.1' })] }),
    );
  });

  it('the same file given twice (plain and with --reg32, or twice either way) is refused in one line', async () => {
    const reg32 = join(FIX, 'EXCH16-vse88-reg32.reg');
    for (const args of [[reg32, '--reg32', reg32], ['--reg32', reg32, '--reg32', reg32], [reg32, reg32]]) {
      const r = await importReg({}, [...args, '--host', 'EXCH16', '--services', SERVICES]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([`${reg32}: given twice; give each file once, after --reg32 if it is an export of the 32-bit view`]);
    }
  });

  it('given twice in another case is the same file on Windows, whose file names ignore case, and two files elsewhere', () => {
    const files = [{ file: 'C:\\Exports\\EXCH16.reg' }, { file: 'exch16-32.reg' }, { file: 'c:/exports/exch16.REG' }];
    expect(fileGivenTwice(files, 'win32')).toBe(files[2]);
    expect(fileGivenTwice([{ file: 'A.reg' }, { file: 'a.reg' }], 'win32')).toEqual({ file: 'a.reg' });
    expect(fileGivenTwice([{ file: 'A.reg' }, { file: 'a.reg' }], 'linux')).toBeUndefined();
    expect(fileGivenTwice([{ file: 'A.reg' }, { file: 'sub/../A.reg' }], 'linux')).toEqual({ file: 'sub/../A.reg' });
  });

  it('given as a plain file instead, is refused with a line that names --reg32', async () => {
    const r = await importReg({ 'wow.reg': regFile(...AGENT_ONLY) }, ['wow.reg', '--host', 'EXCH16', '--services', SERVICES]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('a file written by reg export /reg:32 or the 32-bit regedit goes after --reg32');
  });

  it('leaves keys already under Wow6432Node, and keys outside HKLM\\SOFTWARE (which WOW64 does not redirect), where they are', () => {
    const text = regFile(
      '[HKEY_LOCAL_MACHINE\\SOFTWARE]',
      '',
      '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]',
      '',
      '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent]',
      '',
      '[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\McShield]',
      '"Start"=dword:00000002',
      '',
    );
    expect(asWow64Export(parseRegExport(decodeRegBytes(text))).keys.map((k) => k.rawPath)).toEqual([
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent',
      'HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\McShield',
    ]);
  });

  it('on 32-bit Windows (--arch x86) is read like any other file: its view is the only one', async () => {
    const r = await importReg({}, ['--reg32', join(FIX, 'EXCH16-vse88-reg32.reg'), '--arch', 'x86', '--host', 'EXCH16', '--services', SERVICES]);
    const doc = JSON.parse(r.stdout);
    expect(registryOf(r)).toContainEqual(expect.objectContaining({ path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32', exists: true }));
    expect(doc.host.os.architecture).toBe('32-bit');
  });
});
