import { describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../src/snapshot/parse';
import { sampleSnapshot } from './sample';

const NOW = Date.parse('2026-11-28T01:02:00.000Z');

function issuesOf(mutate: (s: Record<string, any>) => void): { path: string; message: string }[] {
  const s = sampleSnapshot() as Record<string, any>;
  mutate(s);
  const r = parseSnapshot(s, { now: NOW });
  return r.ok ? [] : [...r.issues];
}

describe('snapshot contract v1', () => {
  it('accepts the contract example', () => {
    const r = parseSnapshot(sampleSnapshot(), { now: NOW });
    expect(r.ok).toBe(true);
  });

  it.each([
    ['wrong schema id', (s: any) => (s.schema = 'fleet-posture/snapshot@2'), 'schema'],
    ['snapshotId not a UUID', (s: any) => (s.snapshotId = 'abc'), 'snapshotId'],
    ['collectedAt without offset', (s: any) => (s.collectedAt = '2026-11-28T01:00:00'), 'collectedAt'],
    ['collectedAt more than 5 minutes ahead', (s: any) => (s.collectedAt = '2026-11-28T01:07:01.000Z'), 'collectedAt'],
    ['host name too long', (s: any) => (s.host.name = 'A'.repeat(64)), 'host.name'],
    ['host name with a dot', (s: any) => (s.host.name = 'exch01.corp'), 'host.name'],
    ['host name with a slash', (s: any) => (s.host.name = 'ex/ch'), 'host.name'],
    ['host name empty', (s: any) => (s.host.name = ''), 'host.name'],
    ['fqdn longer than 253', (s: any) => (s.host.fqdn = ('a'.repeat(60) + '.').repeat(5) + 'com'), 'host.fqdn'],
    ['utcOffsetMinutes out of range', (s: any) => (s.host.utcOffsetMinutes = 900), 'host.utcOffsetMinutes'],
    ['unknown hive', (s: any) => (s.registry[0].path = 'HKXX\\SOFTWARE'), 'registry[0].path'],
    ['trailing backslash', (s: any) => (s.registry[0].path = 'HKLM\\SOFTWARE\\'), 'registry[0].path'],
    ['empty path segment', (s: any) => (s.registry[0].path = 'HKLM\\\\SOFTWARE'), 'registry[0].path'],
    ['view other than 32/64', (s: any) => (s.registry[0].view = '16'), 'registry[0].view'],
    ['unknown value type', (s: any) => (s.registry[0].values[0].type = 'REG_STRING'), 'registry[0].values[0].type'],
    ['REG_DWORD above 32 bits', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_DWORD', data: 4294967296 }), 'registry[0].values[0].data'],
    ['REG_DWORD negative', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_DWORD', data: -1 }), 'registry[0].values[0].data'],
    ['REG_DWORD fraction', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_DWORD', data: 1.5 }), 'registry[0].values[0].data'],
    ['REG_QWORD as number', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_QWORD', data: 5 }), 'registry[0].values[0].data'],
    ['REG_QWORD above 64 bits', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_QWORD', data: '18446744073709551616' }), 'registry[0].values[0].data'],
    ['REG_BINARY not base64', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_BINARY', data: 'not base64!' }), 'registry[0].values[0].data'],
    ['REG_MULTI_SZ as string', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_MULTI_SZ', data: 'a' }), 'registry[0].values[0].data'],
    ['REG_SZ as number', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_SZ', data: 1 }), 'registry[0].values[0].data'],
    ['values on a missing key', (s: any) => (s.registry[0].exists = false), 'registry[0].values'],
    ['unknown read error code', (s: any) => (s.registry[2].error.code = 'Denied'), 'registry[2].error.code'],
    ['duplicate key in another spelling', (s: any) => s.registry.push({ ...s.registry[0], path: s.registry[0].path.toUpperCase() }), 'registry[3]'],
    ['Wow6432Node spelling of a view-32 key already sent', (s: any) =>
      s.registry.push({ ...s.registry[0], view: '64', path: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion' }), 'registry[3]'],
    ['duplicate value name', (s: any) => s.registry[0].values.push({ name: 'SZPRODUCTVER', type: 'REG_SZ', data: 'x' }), 'registry[0].values[2].name'],
    ['duplicate service', (s: any) => s.services.push({ ...s.services[0], name: 'mcshield' }), 'services[2].name'],
    ['service started not boolean', (s: any) => (s.services[0].started = 'True'), 'services[0].started'],
    ['file tail on a missing file', (s: any) => (s.files[0].exists = false), 'files[0].tail'],
    ['too many services', (s: any) => (s.services = Array.from({ length: 501 }, (_, i) => ({ name: `s${i}`, state: 'Running', started: true }))), 'services'],
  ])('rejects %s with an issue at its path', (_name, mutate, path) => {
    const issues = issuesOf(mutate);
    expect(issues.map((i) => i.path)).toContain(path);
    for (const i of issues) expect(i.message.length).toBeGreaterThan(5);
  });

  it('accepts every registry value type in its encoding', () => {
    const issues = issuesOf((s) => {
      s.registry[0].values = [
        { name: '', type: 'REG_SZ', data: 'default' },
        { name: 'e', type: 'REG_EXPAND_SZ', data: '%ProgramData%\\x' },
        { name: 'm', type: 'REG_MULTI_SZ', data: ['a', 'b'] },
        { name: 'd', type: 'REG_DWORD', data: 4294967295 },
        { name: 'q', type: 'REG_QWORD', data: '18446744073709551615' },
        { name: 'b', type: 'REG_BINARY', data: 'QWNjZXNzUHJvdGVjdGlvbiB7DQp9DQoA' },
        { name: 'n', type: 'REG_NONE', data: '' },
      ];
    });
    expect(issues).toEqual([]);
  });

  it('accepts a long hive name and a path with Wow6432Node', () => {
    const issues = issuesOf((s) => {
      s.registry[0].path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection';
      s.registry[0].view = '64';
    });
    expect(issues).toEqual([]);
  });

  it('accepts a collectedAt up to 5 minutes ahead and an offset form', () => {
    expect(issuesOf((s) => (s.collectedAt = '2026-11-28T01:07:00.000Z'))).toEqual([]);
    expect(issuesOf((s) => (s.collectedAt = '2026-11-28T10:00:00+09:00'))).toEqual([]);
  });

  it('accepts a snapshot without fqdn, os, utcOffsetMinutes or files', () => {
    const issues = issuesOf((s) => {
      delete s.host.fqdn;
      delete s.host.os;
      delete s.host.utcOffsetMinutes;
      delete s.files;
    });
    expect(issues).toEqual([]);
  });

  it('ignores unknown fields (forward compatible) and prototype keys', () => {
    const raw = JSON.parse(JSON.stringify(sampleSnapshot()).replace('"schema"', '"__proto__":{"polluted":true},"extra":1,"schema"'));
    const r = parseSnapshot(raw, { now: NOW });
    expect(r.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects non-objects at the document level', () => {
    for (const doc of [null, 42, 'x', []]) {
      const r = parseSnapshot(doc, { now: NOW });
      expect(r.ok).toBe(false);
    }
  });
});
