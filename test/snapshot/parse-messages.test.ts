// The words a sender reads when a snapshot is refused: one sentence per problem, at its path.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssue, formatIssuePath, MAX_FUTURE_MS, onlyCollectedAhead, parseSnapshot } from '../../src/snapshot/parse';
import { sampleSnapshot } from './sample';

const NOW = Date.parse('2026-11-28T01:02:00.000Z');

function issuesOf(mutate: (s: Record<string, any>) => void, options = { now: NOW }): { path: string; message: string }[] {
  const s = sampleSnapshot() as Record<string, any>;
  mutate(s);
  const r = parseSnapshot(s, options);
  return r.ok ? [] : [...r.issues];
}

describe('issues the contract never raises itself, in words all the same', () => {
  const first = (schema: z.ZodType, value: unknown) => {
    const r = schema.safeParse(value);
    if (r.success) throw new Error('expected a failure');
    return describeIssue(r.error.issues[0]!);
  };
  it('names exclusive and inclusive bounds of numbers, and leaves other kinds to zod', () => {
    expect(first(z.number().gt(5), 5)).toBe('must be greater than 5');
    expect(first(z.number().lt(5), 5)).toBe('must be less than 5');
    expect(first(z.int().max(3), 4)).toBe('must be at most 3');
    expect(first(z.int(), 2 ** 60)).toBe(`must be at most ${Number.MAX_SAFE_INTEGER}`);
    expect(first(z.int(), -(2 ** 60))).toBe(`must be at least ${Number.MIN_SAFE_INTEGER}`);
    expect(first(z.string().min(2), 'a')).toBe('must be at least 2 characters long');
    expect(first(z.array(z.string()).min(1), [])).toBe('must have at least 1 item');
    const date = z.date().min(new Date(0));
    const r = date.safeParse(new Date(-1));
    expect(first(date, new Date(-1))).toBe(r.success ? '' : r.error.issues[0]!.message);
  });
  it('tells a missing field by zod\'s words when an issue carries no input', () => {
    const issue = (message: string) => ({ code: 'invalid_type', expected: 'string', path: ['x'], message }) as z.core.$ZodIssue;
    expect(describeIssue(issue('Invalid input: expected string, received undefined'))).toBe('is required (a string) but missing');
    expect(describeIssue(issue('Invalid input: expected string, received number'))).toBe('must be a string');
  });
  it('a union without a discriminator keeps zod\'s words', () => {
    const union = z.union([z.string(), z.number()]);
    const r = union.safeParse(true);
    expect(first(union, true)).toBe(r.success ? '' : r.error.issues[0]!.message);
    expect(first(union, true)).not.toBe('unknown value: expected one of the types the contract lists');
  });
});

describe('contract issues, word for word', () => {
  it.each([
    ['a wrong schema id', (s: any) => (s.schema = 'fleet-posture/snapshot@2'), 'schema', 'must be one of "fleet-posture/snapshot@1"'],
    ['a missing schema id', (s: any) => delete s.schema, 'schema', 'is required (one of "fleet-posture/snapshot@1") but missing'],
    ['a missing view', (s: any) => delete s.registry[0].view, 'registry[0].view', 'is required (one of "32", "64") but missing'],
    ['a missing object', (s: any) => delete s.host, 'host', 'is required (an object) but missing'],
    ['a missing array', (s: any) => delete s.registry, 'registry', 'is required (an array) but missing'],
    ['a missing string', (s: any) => delete s.host.name, 'host.name', 'is required (a string) but missing'],
    ['a missing boolean', (s: any) => delete s.services[0].started, 'services[0].started', 'is required (a boolean) but missing'],
    ['a string for a boolean', (s: any) => (s.services[0].started = 'True'), 'services[0].started', 'must be a boolean'],
    ['null for a string', (s: any) => (s.host.name = null), 'host.name', 'must be a string'],
    ['an object for an array', (s: any) => (s.registry = {}), 'registry', 'must be an array'],
    ['a string for an object', (s: any) => (s.host = 'x'), 'host', 'must be an object'],
    ['a fraction for a REG_DWORD', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_DWORD', data: 1.5 }), 'registry[0].values[0].data', 'must be an integer'],
    ['a view that is not 32 or 64', (s: any) => (s.registry[0].view = '16'), 'registry[0].view', 'must be one of "32", "64"'],
    ['an unknown value type', (s: any) => (s.registry[0].values[0].type = 'REG_STRING'), 'registry[0].values[0].type', 'unknown value: expected one of the types the contract lists'],
    ['an unknown read error', (s: any) => (s.registry[2].error.code = 'Denied'), 'registry[2].error.code', 'must be one of "AccessDenied", "NotFound", "IoError", "Timeout", "Other"'],
    ['an empty service name', (s: any) => (s.services[0].name = ''), 'services[0].name', 'must be at least 1 character long'],
    ['a service name too long', (s: any) => (s.services[0].name = 'x'.repeat(257)), 'services[0].name', 'must be at most 256 characters long'],
    ['too many services', (s: any) => (s.services = Array.from({ length: 501 }, (_, i) => ({ name: `s${i}`, state: 'Running', started: true }))), 'services', 'must have at most 500 items'],
    ['a negative REG_DWORD', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_DWORD', data: -1 }), 'registry[0].values[0].data', 'must be at least 0'],
    ['an offset beyond UTC+14', (s: any) => (s.host.utcOffsetMinutes = 841), 'host.utcOffsetMinutes', 'must be at most 840'],
    ['a time without offset', (s: any) => (s.collectedAt = '2026-11-28T01:00:00'), 'collectedAt', 'must be an ISO 8601 date and time with an offset, such as 2026-11-28T01:00:00Z'],
    ['binary data that is not base64', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_BINARY', data: 'not base64!' }), 'registry[0].values[0].data', 'must be base64'],
    ['a snapshot id that is not a UUID', (s: any) => (s.snapshotId = 'abc'), 'snapshotId', 'snapshotId must be a UUID'],
    ['a host name with a dot', (s: any) => (s.host.name = 'exch01.corp'), 'host.name', 'host name must be 1-63 letters, digits, hyphens or underscores, not starting or ending with a hyphen'],
    ['values on a key that does not exist', (s: any) => (s.registry[0].exists = false), 'registry[0].values', 'a key that does not exist cannot carry values'],
    ['a tail on a file that does not exist', (s: any) => (s.files[0].exists = false), 'files[0].tail', 'a file that does not exist cannot carry a tail'],
    ['a REG_QWORD that is not digits', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_QWORD', data: 'abc' }), 'registry[0].values[0].data', 'REG_QWORD data must be a string of decimal digits'],
    ['a REG_QWORD in exponent form', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_QWORD', data: '1e5' }), 'registry[0].values[0].data', 'REG_QWORD data must be a string of decimal digits'],
    ['an fqdn with an empty label', (s: any) => (s.host.fqdn = 'exch01..contoso.com'), 'host.fqdn', 'fqdn must be dot-separated host labels, at most 253 characters'],
    ['a registry path that does not start with its hive', (s: any) => (s.registry[0].path = 'XHKLM\\SOFTWARE'), 'registry[0].path', 'registry path must start with a hive (HKLM, HKCU, HKU, HKCR, HKCC or its long name) and have no empty segments'],
    ['a REG_QWORD above 64 bits', (s: any) => (s.registry[0].values[0] = { name: 'x', type: 'REG_QWORD', data: '18446744073709551616' }), 'registry[0].values[0].data', 'REG_QWORD data must not exceed 18446744073709551615'],
    ['a path source outside the registry', (s: any) => (s.files[0].pathFrom = { registryPath: 'C:\\x', view: '64', valueName: 'szLogFileName' }), 'files[0].pathFrom.registryPath', 'registry path must start with a hive (HKLM, HKCU, HKU, HKCR, HKCC or its long name) and have no empty segments'],
    ['a path source in a third view', (s: any) => (s.files[0].pathFrom = { registryPath: 'HKLM\\SOFTWARE\\X', view: '16', valueName: 'szLogFileName' }), 'files[0].pathFrom.view', 'must be one of "32", "64"'],
  ])('%s', (_name, mutate, path, message) => {
    expect(issuesOf(mutate)).toEqual([{ path, message }]);
  });

  it('says both things wrong with a path ending in a backslash', () => {
    expect(issuesOf((s) => (s.registry[0].path = 'HKLM\\SOFTWARE\\'))).toEqual([
      { path: 'registry[0].path', message: 'registry path must not end with a backslash' },
      { path: 'registry[0].path', message: 'registry path must start with a hive (HKLM, HKCU, HKU, HKCR, HKCC or its long name) and have no empty segments' },
    ]);
  });

  it('refuses a collectedAt more than 5 minutes ahead of the receiver, and names the margin it was given', () => {
    expect(MAX_FUTURE_MS).toBe(300_000);
    expect(issuesOf((s) => (s.collectedAt = '2026-11-28T01:07:00.001Z'))).toEqual([{ path: 'collectedAt', message: "collectedAt is more than 5 minutes in the future of the receiver's clock" }]);
    expect(issuesOf((s) => (s.collectedAt = '2026-11-28T01:07:00.000Z'))).toEqual([]);
    const s = sampleSnapshot();
    const r = parseSnapshot({ ...s, collectedAt: '2026-11-28T01:04:00.000Z' }, { now: NOW, maxFutureMs: 60_000 });
    expect(r.ok ? [] : r.issues).toEqual([{ path: 'collectedAt', message: "collectedAt is more than 1 minutes in the future of the receiver's clock" }]);
    expect(parseSnapshot({ ...s, collectedAt: '2026-11-28T01:03:00.000Z' }, { now: NOW, maxFutureMs: 60_000 }).ok).toBe(true);
  });

  it('tells a collectedAt too far ahead apart from the issues, by how much, and whether it is the only one', () => {
    const s = sampleSnapshot() as Record<string, any>;
    const ahead = parseSnapshot({ ...s, collectedAt: '2026-11-28T01:08:00.000Z' }, { now: NOW });
    if (ahead.ok) throw new Error('expected a failure');
    expect(ahead.collectedAhead).toEqual({ aheadMs: 6 * 60_000, maxFutureMs: MAX_FUTURE_MS });
    expect(onlyCollectedAhead(ahead)).toEqual({ aheadMs: 6 * 60_000, maxFutureMs: MAX_FUTURE_MS });
    // Something else wrong too: still told apart, but no longer the only issue.
    const both = parseSnapshot({ ...s, collectedAt: '2026-11-28T01:08:00.000Z', services: [...s.services, { ...s.services[0] }] }, { now: NOW });
    if (both.ok) throw new Error('expected a failure');
    expect(both.issues.length).toBe(2);
    expect(both.collectedAhead).toBeDefined();
    expect(onlyCollectedAhead(both)).toBeUndefined();
    // Other issues alone, and a time before 2000, carry none.
    const old = parseSnapshot({ ...s, collectedAt: '1999-12-31T23:59:59.999Z' }, { now: NOW });
    if (old.ok) throw new Error('expected a failure');
    expect('collectedAhead' in old).toBe(false);
    expect(onlyCollectedAhead(old)).toBeUndefined();
    expect(parseSnapshot({ ...s, collectedAt: '2026-11-28T01:06:00.000Z' }, { now: NOW }).ok).toBe(true);
  });

  it('refuses a collectedAt before 2000 (a wrong host clock; event keys count from 1970), and takes 2000 itself', () => {
    const wrong = [{ path: 'collectedAt', message: "collectedAt is before 2000-01-01, so the host's clock is wrong" }];
    for (const t of ['1999-12-31T23:59:59.999Z', '1969-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z', '2000-01-01T08:59:59.999+09:00']) {
      expect(issuesOf((s) => (s.collectedAt = t)), t).toEqual(wrong);
    }
    expect(issuesOf((s) => (s.collectedAt = '2000-01-01T00:00:00.000Z'))).toEqual([]);
  });

  it('uses the real clock when none is given', () => {
    const s = sampleSnapshot();
    expect(parseSnapshot({ ...s, collectedAt: new Date(Date.now() + 10 * 60_000).toISOString() }).ok).toBe(false);
    expect(parseSnapshot({ ...s, collectedAt: new Date(Date.now() + 60_000).toISOString() }).ok).toBe(true);
  });

  it('names duplicates after normalisation, each at the later entry', () => {
    expect(
      issuesOf((s) => {
        s.registry.push({ path: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', view: '64', exists: true });
        s.registry[0].values.push({ name: 'SZPRODUCTVER', type: 'REG_SZ', data: 'x' }, { name: 'szproductver', type: 'REG_SZ', data: 'y' });
        s.services.push({ ...s.services[0], name: 'mcshield' });
      }),
    ).toEqual([
      { path: 'registry[0].values[2].name', message: 'a value name may appear only once per key (names compare case-insensitively)' },
      { path: 'registry[0].values[3].name', message: 'a value name may appear only once per key (names compare case-insensitively)' },
      { path: 'registry[3]', message: 'the same key and view as registry[0] (paths compare case-insensitively, Wow6432Node means view "32")' },
      { path: 'services[2].name', message: 'a service may appear only once (names compare case-insensitively)' },
    ]);
  });

  it('accepts one key in two views, one value name in two keys, and keys without values', () => {
    expect(
      issuesOf((s) => {
        s.registry.push({ ...s.registry[0], view: '64' });
        s.registry[1] = { path: 'HKLM\\SOFTWARE\\X', view: '64', exists: true, values: [{ name: 'szProductVer', type: 'REG_SZ', data: '1' }] };
        s.registry.push({ path: 'HKLM\\SOFTWARE\\Y', view: '64', exists: true });
      }),
    ).toEqual([]);
  });

  it('gives back the snapshot, defaults filled, and its normalised form', () => {
    const s = sampleSnapshot();
    delete s.files;
    const r = parseSnapshot(s, { now: NOW });
    if (!r.ok) throw new Error('sample must parse');
    expect(r.snapshot.files).toEqual([]);
    expect(r.normalised.serverId).toBe('exch01.corp.contoso.com');
    expect(r.normalised.registry.size).toBe(3);
  });

  it('writes issue paths with dots and indices', () => {
    expect(formatIssuePath(['registry', 2, 'values', 0, 'type'])).toBe('registry[2].values[0].type');
    expect(formatIssuePath([0, 'a'])).toBe('[0].a');
    expect(formatIssuePath([])).toBe('');
    expect(formatIssuePath([Symbol.for('s'), 'x'])).toBe('Symbol(s).x');
  });

  it('refuses a document that is not an object, at the document', () => {
    expect(parseSnapshot(42, { now: NOW })).toEqual({ ok: false, issues: [{ path: '', message: 'must be an object' }] });
  });
});
