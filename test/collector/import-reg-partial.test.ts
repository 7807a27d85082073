// A .reg export that does not reach the keys a rule reads to tell whether its product is installed
// cannot show that it is not: import-reg refuses it (one line, exit 2) instead of letting
// "not installed" stand on keys nobody exported. Exports that do reach them still import.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import { fakeIo, fakeIoWith, regFile } from './cli-io';

const FIX = join(__dirname, '..', 'fixtures', 'reg');

async function importReg(file: Buffer, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = fakeIoWith({ 'export.reg': file });
  const code = await main(['import-reg', 'export.reg', '--host', 'EXCH16', '--services', join(FIX, 'services-ex2016.csv'), ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

async function verdict(snapshot: string): Promise<string> {
  const io = fakeIo(snapshot);
  expect(await main(['evaluate', '-'], io)).toBe(0);
  return JSON.parse(io.stdout).results[0].reasonCode;
}

const WOW_KEYS = 'HKLM\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion, HKLM\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection';

describe('import-reg and the keys that say whether the product is installed', () => {
  it('refuses an export of a sub-branch only (8.8 settings without DesktopProtection), naming the keys to export', async () => {
    const r = await importReg(
      regFile(
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\SystemCore]',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking]',
        '"APEnabled"=dword:00000001',
        '',
      ),
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`the files hold none of ${WOW_KEYS} and no key above them`);
    expect(r.stderr).toContain('mcafee-port25-blocked');
  });

  it('refuses an export of the 64-bit view only on 64-bit Windows, where VirusScan writes under Wow6432Node', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Endpoint]', ''));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(WOW_KEYS);
    expect(r.stderr).toContain('--arch x86');
  });

  it('takes the same export from 32-bit Windows, where that branch is the one VirusScan writes to', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Endpoint]', ''), '--arch', 'x86');
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).toBe('NotInstalled');
  });

  it('refuses a 32-bit export that reaches neither the McAfee nor the Network Associates key', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\SystemCore]', ''), '--arch', 'x86');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion, HKLM\\SOFTWARE\\McAfee\\DesktopProtection');
    expect(r.stderr).not.toContain('--arch x86');
  });

  it('takes an export that holds an installed key in the other view: the product is found, not assumed absent', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]', '"szProductVer"="8.8.0.1804"', ''));
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).toBe('ConfigUnreadable');
  });

  it('takes an export of Wow6432Node\\McAfee without DesktopProtection: VirusScan 8.5i-8.8 is not installed', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent]', ''));
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).toBe('NotInstalled');
  });

  it('refuses an export that holds no key at all', async () => {
    const r = await importReg(regFile());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(WOW_KEYS);
  });
});
