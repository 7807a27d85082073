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

const WOW_NAI = 'HKLM\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion';
const WOW_MCAFEE = 'HKLM\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection';
const X86_NAI = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion';
// VirusScan writes under Wow6432Node on 64-bit Windows, but has been seen in the native view too.
const NATIVE_NAI = X86_NAI;
const NATIVE_MCAFEE = 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection';
const ALL_X64_KEYS = `${WOW_NAI}, ${WOW_MCAFEE}, ${NATIVE_NAI} and ${NATIVE_MCAFEE}`;

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
    expect(r.stderr).toContain(`the files do not reach ${ALL_X64_KEYS}: no key at or above them was exported`);
    expect(r.stderr).toContain('mcafee-port25-blocked');
  });

  it('refuses an export of the 64-bit view only on 64-bit Windows, where VirusScan writes under Wow6432Node', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Endpoint]', ''));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`the files do not reach ${WOW_NAI}, ${WOW_MCAFEE} and ${NATIVE_NAI}: `);
    expect(r.stderr).toContain('--arch x86');
  });

  it('refuses an export of the McAfee key alone from 32-bit Windows: VirusScan 8.0i writes under Network Associates', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Agent]', ''), '--arch', 'x86');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`the files do not reach ${X86_NAI}: no key at or above it was exported, so they cannot tell whether rule mcafee-port25-blocked's product is installed; export that key or a key above it\n`);
  });

  it('takes exports of both vendor keys from 32-bit Windows, in two files: neither product key is there', async () => {
    const io = fakeIoWith({
      'mcafee.reg': regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\Agent]', ''),
      'nai.reg': regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Network Associates]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Network Associates\\ePolicy Orchestrator]', ''),
    });
    const code = await main(['import-reg', 'mcafee.reg', 'nai.reg', '--host', 'EXCH03', '--arch', 'x86', '--services', join(FIX, 'services-ex2003.csv')], io);
    expect(code, io.stderr).toBe(0);
    expect(await verdict(io.stdout)).toBe('NotInstalled');
  });

  it('refuses a 32-bit export that reaches neither the McAfee nor the Network Associates key', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\SystemCore]', ''), '--arch', 'x86');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${X86_NAI} and ${NATIVE_MCAFEE}`);
    expect(r.stderr).not.toContain('--arch x86');
  });

  it('takes an export that holds an installed key in the other view: the product is found, not assumed absent', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]', '"szProductVer"="8.8.0.1804"', ''));
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).toBe('ConfigUnreadable');
  });

  it('refuses an export of Wow6432Node\\Network Associates holding only the agent: VirusScan 8.5i-8.8 could be under McAfee', async () => {
    // What an admin exports when the refusal names the Network Associates key first, on a VirusScan
    // 8.8 server whose McShield runs: "not installed" from it would be a false all-clear.
    const r = await importReg(
      regFile(
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates]',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\ePolicy Orchestrator]',
        '"Version"="5.10"',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\Shared Components\\Framework]',
        '',
      ),
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `the files do not reach ${WOW_MCAFEE}, ${NATIVE_NAI} and ${NATIVE_MCAFEE}: no key at or above them was exported, so they cannot tell whether rule mcafee-port25-blocked's product is installed; export those keys or a key above them (or, if the server runs 32-bit Windows, give --arch x86; a file written by reg export /reg:32 or the 32-bit regedit goes after --reg32)\n`,
    );
  });

  it('refuses an export of Wow6432Node\\McAfee holding only the agent, naming the Network Associates key alone', async () => {
    const r = await importReg(regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent]', ''));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the files do not reach ${WOW_NAI}, ${NATIVE_NAI} and ${NATIVE_MCAFEE}: `);
    expect(r.stderr).not.toContain(WOW_MCAFEE);
  });

  it('refuses an export of HKLM\\SOFTWARE\\Wow6432Node alone on 64-bit Windows: VirusScan has been seen in the native view too', async () => {
    const r = await importReg(
      regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]', '', '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent]', ''),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the files do not reach ${NATIVE_NAI} and ${NATIVE_MCAFEE}: `);
  });

  it('takes an export of HKLM\\SOFTWARE holding only the agent: VirusScan is not installed', async () => {
    const r = await importReg(
      regFile(
        '[HKEY_LOCAL_MACHINE\\SOFTWARE]',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node]',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]',
        '',
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\Agent]',
        '"AgentVersion"="5.7.9.139"',
        '',
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).toBe('NotInstalled');
  });

  it('takes an export holding one installed key whatever the other: the product is there', async () => {
    const r = await importReg(
      regFile('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection]', '"szProductVer"="8.8.0.1804"', ''),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await verdict(r.stdout)).not.toBe('NotInstalled');
  });

  it('refuses an export that holds no key at all', async () => {
    const r = await importReg(regFile());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(ALL_X64_KEYS);
  });
});
