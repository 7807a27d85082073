import { describe, expect, it } from 'vitest';
import { canonicalRegistryPath, getKey, getService, getValue, keysBelow, registryKeyId, serverIdOf, shortHive } from '../../src/snapshot/normalise';
import { parseSnapshot } from '../../src/snapshot/parse';
import { sampleSnapshot } from './sample';

describe('normalisation', () => {
  it('shortens long hive names', () => {
    expect(canonicalRegistryPath('HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee', '64')).toEqual({ path: 'HKLM\\SOFTWARE\\McAfee', view: '64' });
    expect(canonicalRegistryPath('hkey_users\\S-1-5-18', '64').path).toBe('HKU\\S-1-5-18');
    expect(canonicalRegistryPath('hkcr\\x', '32').path).toBe('HKCR\\x');
  });

  it('folds a Wow6432Node segment into view 32', () => {
    expect(canonicalRegistryPath('HKLM\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection', '64')).toEqual({
      path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection',
      view: '32',
    });
    expect(registryKeyId('HKLM\\SOFTWARE\\WOW6432NODE\\McAfee', '64')).toBe(registryKeyId('hklm\\software\\mcafee', '32'));
  });

  it('gives the same ids when asked again, also after more paths than it remembers', () => {
    const plain = (path: string, view: '64' | '32'): string => {
      const c = canonicalRegistryPath(path, view);
      return `${c.view}:${c.path.toLowerCase()}`;
    };
    const paths = Array.from({ length: 3000 }, (_, i) => `HKEY_LOCAL_MACHINE\\SOFTWARE\\${i % 3 === 0 ? 'Wow6432Node\\' : ''}K${i % 1500}`);
    for (const round of [1, 2]) {
      for (const p of paths) {
        for (const view of ['64', '32'] as const) expect(registryKeyId(p, view), `${p} ${view} round ${round}`).toBe(plain(p, view));
      }
    }
  });

  it('looks keys, values and services up case-insensitively', () => {
    const r = parseSnapshot(sampleSnapshot(), { now: Date.parse('2026-11-28T02:00:00Z') });
    if (!r.ok) throw new Error('sample must parse');
    const s = r.normalised;
    const key = getKey(s, 'HKEY_LOCAL_MACHINE\\software\\network associates\\tvd\\virusscan enterprise\\currentversion', '32');
    expect(key?.exists).toBe(true);
    expect(key?.lastWriteTime).toBe(Date.parse('2026-10-01T08:12:00.000Z'));
    expect(getValue(key, 'SZPRODUCTVER')?.data).toBe('8.0.0.912');
    expect(getKey(s, 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', '64')).toBeUndefined();
    expect(getService(s, 'mcshield')?.started).toBe(true);
    expect(s.serverId).toBe('exch01.corp.contoso.com');
    expect(s.collectedAt).toBe(Date.parse('2026-11-28T01:00:00.000Z'));
  });

  it('lists the keys of a recursed branch below a path', () => {
    const snap = sampleSnapshot();
    snap.registry.push(
      { path: 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking', view: '32', exists: true, values: [] },
      { path: 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking\\Sub', view: '32', exists: true, values: [] },
      { path: 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlockingX', view: '32', exists: true, values: [] },
    );
    const r = parseSnapshot(snap, { now: Date.parse('2026-11-28T02:00:00Z') });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const below = keysBelow(r.normalised, 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking', '32');
    expect(below.map((k) => k.path)).toEqual(['HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking\\Sub']);
  });

  it('derives the server id from fqdn, else name, lower-cased', () => {
    expect(serverIdOf({ name: 'EXCH01', fqdn: 'Exch01.Corp.Contoso.com.' })).toBe('exch01.corp.contoso.com');
    expect(serverIdOf({ name: 'EXCH01' })).toBe('exch01');
  });
});

describe('normalisation, every hive and look-up', () => {
  it.each([
    ['HKEY_LOCAL_MACHINE\\X', 'HKLM\\X'],
    ['hkey_current_user\\X', 'HKCU\\X'],
    ['HKEY_USERS\\X', 'HKU\\X'],
    ['HKEY_CLASSES_ROOT\\X', 'HKCR\\X'],
    ['HKEY_CURRENT_CONFIG\\X', 'HKCC\\X'],
    ['hklm\\X', 'HKLM\\X'],
    ['hkcu\\X', 'HKCU\\X'],
    ['hku\\X', 'HKU\\X'],
    ['hkcr\\X', 'HKCR\\X'],
    ['hkcc\\X', 'HKCC\\X'],
    ['HKEY_LOCAL_MACHINE', 'HKLM'],
    ['hkxx\\Y', 'HKXX\\Y'],
  ])('%s → %s', (path, short) => {
    expect(shortHive(path)).toBe(short);
    expect(canonicalRegistryPath(path, '64')).toEqual({ path: short, view: '64' });
  });

  it('keeps the case of everything but the hive, and reads a snapshot id in lower case', () => {
    expect(shortHive('hklm\\Software\\McAfee')).toBe('HKLM\\Software\\McAfee');
    const s = sampleSnapshot();
    const r = parseSnapshot({ ...s, snapshotId: '0B6F3A2E-6A55-4F0E-9D47-2F7CFB7F4C11' }, { now: Date.parse('2026-11-28T02:00:00Z') });
    if (!r.ok) throw new Error('sample must parse');
    expect(r.normalised.snapshotId).toBe('0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11');
  });

  it('has no value to give for a key that is not there', () => {
    expect(getValue(undefined, 'x')).toBeUndefined();
  });
});
