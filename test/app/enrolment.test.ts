// Server keys without storage: a key issued at enrolment or an admin's rotation (what it replaces,
// whose tags are cleared, the audit record saying why), a key revoked, a presented key checked
// against its row (forged, damaged, replaced, revoked, not on record), the refusals of a genuine
// revoked key recorded at most every ten minutes per server, and the authorizer in front of it all
// (rows that vouch for a key, the buckets of refused keys and of posting servers). The ServerKeys
// rows, the key tags, the rate limiters and the audit log are fakes that record every call in
// order; the service tests run the same paths over HTTP and Azurite.
import { createHash, createHmac } from 'node:crypto';
import { RestError } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { KeyRing, type Access, type HeaderSource } from '../../src/app/auth';
import {
  audit,
  Authorizer,
  blockedError,
  Enrolment,
  enrolmentRequestSchema,
  formatServerKey,
  hashSecret,
  KEY_LOG_RECORDS,
  logRefusal,
  parseServerKey,
  secretMatches,
  SERVER_KEY_PREFIX,
  serverKeyTag,
  serverOfFacts,
  type EnrolmentDeps,
  type ParsedServerKey,
} from '../../src/app/enrolment';
import { ApiError } from '../../src/app/errors';
import { isoInstant } from '../../src/app/iso-time';
import type { RateDecision, RateLimiter } from '../../src/app/rate-limit';
import { StorageUnavailableError, type KeyPartition, type KeyRefusal, type ServerKeyRecord } from '../../src/store';
import { refusalOf } from '../support/api-request';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const SERVER = 'exch01.corp.contoso.com';
const OTHER = 'exch02.corp.contoso.com';
const KEY_ID = 'AAAAAAAAAAAAAAAA';
const SECRET = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cwA';
const SALT = Buffer.alloc(16, 7);
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const hmac = (salt: Buffer, secret: string) => createHmac('sha256', salt).update(secret).digest();

/** A key row as ServerKeys holds it, for `secret` under SALT. */
const keyRow = (over: Partial<ServerKeyRecord> = {}, secret = SECRET): ServerKeyRecord => ({
  server: SERVER,
  keyId: KEY_ID,
  salt: SALT.toString('base64'),
  hash: hmac(SALT, secret).toString('base64'),
  status: 'active',
  issuedAt: NOW - 60 * MINUTE,
  issuedBy: 'enrolment',
  ...over,
});

type IssueAnswer = { replaced: string[]; settled: string[]; enrolledBefore: boolean } | { blocked: true };

/**
 * The ServerKeys rows of every server in memory, the key tags, and every call made, in order. A
 * key issued replaces the server's active keys and counts its server as enrolled before for the
 * next one; `blocked` servers refuse keys except an admin's rotation.
 */
function world() {
  let now = NOW;
  const rows = new Map<string, ServerKeyRecord>();
  const enrolled = new Set<string>();
  const blocked = new Set<string>();
  const calls: unknown[][] = [];
  const lines: string[] = [];
  /** The request ids the next issues settle, one list each. */
  const settles: string[][] = [];
  /** What the next revocations answer (undefined: the server never enrolled). */
  const revocations: ({ revoked: string[]; settled: string[] } | undefined)[] = [];
  /** What the next refusal records, key reads and tag clearings throw (undefined: they answer). */
  const refusalFailures: (Error | undefined)[] = [];
  const readFailures: (Error | undefined)[] = [];
  const tagFailures: (Error | undefined)[] = [];
  const put = (r: ServerKeyRecord) => void rows.set(`${r.server} ${r.keyId}`, r);
  const keyStore = {
    getKey: async (server: string, keyId: string) => {
      calls.push(['getKey', server, keyId]);
      const failure = readFailures.shift();
      if (failure) throw failure;
      return rows.get(`${server} ${keyId}`);
    },
    issue: async (record: ServerKeyRecord, options: { overrideBlock?: boolean; basis?: KeyPartition }): Promise<IssueAnswer> => {
      calls.push(['issue', record, options]);
      if (blocked.has(record.server) && !options.overrideBlock) return { blocked: true };
      blocked.delete(record.server);
      const replaced = [...rows.values()].filter((r) => r.server === record.server && r.status === 'active').map((r) => r.keyId);
      for (const keyId of replaced) put({ ...rows.get(`${record.server} ${keyId}`)!, status: 'revoked', revokedReason: 'replaced', revokedAt: record.issuedAt });
      put(record);
      const enrolledBefore = enrolled.has(record.server);
      enrolled.add(record.server);
      return { replaced, settled: settles.shift() ?? [], enrolledBefore };
    },
    revokeAll: async (server: string, at: number, block: boolean) => {
      calls.push(['revokeAll', server, at, block]);
      return revocations.shift();
    },
    recordRefusal: async (refusal: KeyRefusal) => {
      calls.push(['recordRefusal', refusal]);
      const failure = refusalFailures.shift();
      if (failure) throw failure;
    },
  };
  const keyTags = {
    clearKeyTags: async (server: string) => {
      calls.push(['clearKeyTags', server]);
      const failure = tagFailures.shift();
      if (failure) throw failure;
    },
  };
  const enrolment = new Enrolment({ keyStore, keyTags, clock: () => now } as unknown as EnrolmentDeps);
  const log = { log: (l: string) => void lines.push(l) };
  return {
    enrolment,
    rows,
    enrolled,
    blocked,
    calls,
    lines,
    settles,
    revocations,
    refusalFailures,
    readFailures,
    tagFailures,
    put,
    log,
    at: (t: number) => void (now = t),
    /** The calls by name. */
    steps: () => calls.map((c) => c[0]),
    /** The audit records written, as name and fields. */
    records: () => lines.map((l) => [l.slice(0, l.indexOf(' ')), JSON.parse(l.slice(l.indexOf(' ') + 1)) as unknown]),
  };
}

/** A key issued by enrolment to SERVER in `w`, parsed. */
async function enrolled(w: ReturnType<typeof world>, server = SERVER): Promise<ParsedServerKey> {
  const issued = await w.enrolment.issue(server, { hostName: 'EXCH01' }, 'enrolment', w.log);
  return parseServerKey(issued.key)!;
}

describe('the server key format', () => {
  const key = { server: SERVER, keyId: KEY_ID, secret: SECRET };
  const text = `fp1.${b64url(SERVER)}.${KEY_ID}.${SECRET}`;

  it('is fp1, the server id in base64url, the key id and the secret, dot-separated, and reads back', () => {
    expect(SERVER_KEY_PREFIX).toBe('fp1.');
    expect(formatServerKey(key)).toBe(text);
    expect(parseServerKey(text)).toStrictEqual(key);
  });

  it('takes every character base64url has, in the key id and the secret', () => {
    const keyId = 'Az09_-Az09_-Az09';
    const secret = 'Zz-_'.repeat(10) + 'a0_';
    expect(parseServerKey(`fp1.${b64url(SERVER)}.${keyId}.${secret}`)).toStrictEqual({ server: SERVER, keyId, secret });
  });

  it('refuses a key of another prefix, more or fewer parts, or parts of the wrong length', () => {
    for (const bad of [
      `fp2.${b64url(SERVER)}.${KEY_ID}.${SECRET}`,
      `${b64url(SERVER)}.${KEY_ID}.${SECRET}`,
      `FP1.${b64url(SERVER)}.${KEY_ID}.${SECRET}`,
      `${text}.x`,
      `${text}.`,
      `fp1.${b64url(SERVER)}.${KEY_ID}`,
      `fp1.${b64url(SERVER)}.${KEY_ID}${SECRET}`,
      `fp1.${b64url(SERVER)}.${KEY_ID.slice(1)}.${SECRET}`,
      `fp1.${b64url(SERVER)}.${KEY_ID}A.${SECRET}`,
      `fp1.${b64url(SERVER)}.${KEY_ID}.${SECRET.slice(1)}`,
      `fp1.${b64url(SERVER)}.${KEY_ID}.${SECRET}A`,
      `fp1..${KEY_ID}.${SECRET}`,
      '',
    ]) {
      expect(parseServerKey(bad), bad).toBeUndefined();
    }
  });

  it('refuses a character outside base64url at either end of the key id or the secret', () => {
    for (const [keyId, secret] of [
      ['+AAAAAAAAAAAAAAA', SECRET],
      ['AAAAAAAAAAAAAAA/', SECRET],
      ['AAAAAAA=AAAAAAAA', SECRET],
      [KEY_ID, '!' + SECRET.slice(1)],
      [KEY_ID, SECRET.slice(0, -1) + '='],
      [KEY_ID, SECRET.slice(0, 20) + ' ' + SECRET.slice(21)],
    ]) {
      expect(parseServerKey(`fp1.${b64url(SERVER)}.${keyId}.${secret}`), `${keyId}.${secret}`).toBeUndefined();
    }
  });

  it('refuses a server part that is not the one spelling of a server id', () => {
    for (const serverPart of [
      b64url('EXCH01.corp.contoso.com'),
      b64url('exch01..contoso.com'),
      b64url('exch01.corp.contoso.com.'),
      // The same bytes, spelt with padding, with other trailing bits, or in base64's alphabet.
      `${b64url('exch1')}=`,
      'ZXhjaDF',
      Buffer.from('exch1.a>').toString('base64'),
      `!${b64url(SERVER)}`,
      `${b64url(SERVER)}!`,
    ]) {
      expect(parseServerKey(`fp1.${serverPart}.${KEY_ID}.${SECRET}`), serverPart).toBeUndefined();
    }
    expect(b64url('exch1')).toBe('ZXhjaDE');
    expect(parseServerKey(`fp1.ZXhjaDE.${KEY_ID}.${SECRET}`)?.server).toBe('exch1');
  });

  it('refuses a key of any length that is not one, without throwing', () => {
    expect(parseServerKey(`fp1.${'A'.repeat(100_000)}.${KEY_ID}.${SECRET}`)).toBeUndefined();
    expect(parseServerKey(`${text}${'.'.repeat(100_000)}`)).toBeUndefined();
    expect(parseServerKey(`fp1.${b64url(SERVER)}.${KEY_ID}.${SECRET.repeat(1000)}`)).toBeUndefined();
  });

  it('reads the longest server id there is', () => {
    const longest = [0, 1, 2].map((i) => String(i).repeat(63)).join('.') + '.' + 'x'.repeat(61);
    expect(longest).toHaveLength(253);
    expect(parseServerKey(formatServerKey({ ...key, server: longest }))?.server).toBe(longest);
    expect(parseServerKey(formatServerKey({ ...key, server: longest + 'x' }))).toBeUndefined();
  });

  it('tags a key by the SHA-256 of its whole text, in base64url', () => {
    expect(serverKeyTag(key)).toBe(createHash('sha256').update(text).digest('base64url'));
    expect(serverKeyTag({ ...key, secret: 'd' + SECRET.slice(1) })).not.toBe(serverKeyTag(key));
  });
});

describe('stored secrets', () => {
  it('are an HMAC-SHA256 of the secret under the salt', () => {
    expect(hashSecret(SALT, SECRET)).toStrictEqual(hmac(SALT, SECRET));
    expect(hashSecret(SALT, 'é').toString('hex')).toBe(createHmac('sha256', SALT).update(Buffer.from([0xc3, 0xa9])).digest('hex'));
  });

  it('match only the secret that was stored, under its own salt', () => {
    const salt = SALT.toString('base64');
    const hash = hmac(SALT, SECRET).toString('base64');
    expect(secretMatches(salt, hash, SECRET)).toBe(true);
    expect(secretMatches(salt, hash, SECRET.slice(1))).toBe(false);
    expect(secretMatches(Buffer.alloc(16, 8).toString('base64'), hash, SECRET)).toBe(false);
  });

  it('never match a stored hash of another length (damaged), and do not throw', () => {
    const salt = SALT.toString('base64');
    expect(secretMatches(salt, hmac(SALT, SECRET).subarray(0, 16).toString('base64'), SECRET)).toBe(false);
    expect(secretMatches(salt, '', SECRET)).toBe(false);
  });
});

describe('the enrolment request and its server', () => {
  it('keeps the host name and fqdn and the collector it names, in part or not at all', () => {
    const host = { name: 'EXCH01', fqdn: 'exch01.corp.contoso.com' };
    expect(enrolmentRequestSchema.parse({ host: { ...host, os: { caption: 'Windows' } } })).toStrictEqual({ host });
    expect(enrolmentRequestSchema.parse({ host: { name: 'EXCH01' }, collector: { version: '1.2' } })).toStrictEqual({ host: { name: 'EXCH01' }, collector: { version: '1.2' } });
    expect(enrolmentRequestSchema.parse({ host, collector: { name: 'Send-PostureSnapshot', version: '1.2' } })).toStrictEqual({ host, collector: { name: 'Send-PostureSnapshot', version: '1.2' } });
  });

  it('refuses a request without a host name, or with a collector that is not one', () => {
    expect(enrolmentRequestSchema.safeParse({ host: { fqdn: 'exch01.corp.contoso.com' } }).success).toBe(false);
    expect(enrolmentRequestSchema.safeParse({ host: { name: 'EXCH01' }, collector: { version: 12 } }).success).toBe(false);
    expect(enrolmentRequestSchema.safeParse({ host: { name: 'EXCH01' }, collector: 'Send-PostureSnapshot' }).success).toBe(false);
  });

  it('names the server by its fqdn, else its name, in lower case without a final dot', () => {
    expect(serverOfFacts({ name: 'EXCH01', fqdn: 'EXCH01.Corp.Contoso.com.' })).toBe('exch01.corp.contoso.com');
    expect(serverOfFacts({ name: 'EXCH01' })).toBe('exch01');
  });
});

describe('audit records', () => {
  it('are the record name and its fields as JSON, one line', () => {
    const w = world();
    audit(w.log, KEY_LOG_RECORDS.keyIssued, { server: SERVER, n: 1, ok: true, none: null });
    expect(w.lines).toStrictEqual([`FleetPosture.ServerKeyIssued {"server":"${SERVER}","n":1,"ok":true,"none":null}`]);
    expect(KEY_LOG_RECORDS).toStrictEqual({ keyIssued: 'FleetPosture.ServerKeyIssued', keyRevoked: 'FleetPosture.ServerKeyRevoked', keyRefused: 'FleetPosture.ServerKeyRefused' });
  });

  it('name a refused server and why, with any fields given', () => {
    const w = world();
    logRefusal(w.log, SERVER, 'enrolment-denied');
    logRefusal(w.log, SERVER, 'revoked', { keyId: KEY_ID, access: 'ingest' });
    expect(w.records()).toStrictEqual([
      ['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'enrolment-denied' }],
      ['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'revoked', keyId: KEY_ID, access: 'ingest' }],
    ]);
  });
});

describe('issuing a key', () => {
  it('at a first enrolment stores only a salted hash of a new secret, clears no tags and records the enrolment', async () => {
    const w = world();
    const issued = await w.enrolment.issue(SERVER, { hostName: 'EXCH01', fqdn: SERVER }, 'enrolment', w.log);
    const key = parseServerKey(issued.key)!;
    expect(key.server).toBe(SERVER);
    expect(issued).toStrictEqual({ server: SERVER, keyId: key.keyId, key: formatServerKey(key), issuedAt: isoInstant(NOW), replaced: [] });
    expect(issued.issuedAt).toBe('2026-12-06T12:00:00.000Z');
    const [, record, options] = w.calls[0] as [string, ServerKeyRecord, unknown];
    expect(record).toStrictEqual({
      server: SERVER,
      keyId: key.keyId,
      salt: record.salt,
      hash: hmac(Buffer.from(record.salt, 'base64'), key.secret).toString('base64'),
      status: 'active',
      issuedAt: NOW,
      issuedBy: 'enrolment',
      hostName: 'EXCH01',
      fqdn: SERVER,
    });
    expect(Buffer.from(record.salt, 'base64')).toHaveLength(16);
    expect(options).toStrictEqual({ overrideBlock: false, basis: undefined });
    expect(w.steps()).toStrictEqual(['issue']);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyIssued', { server: SERVER, keyId: key.keyId, reason: 'enrolment', grant: null, replaced: null, settled: null }]]);
  });

  it('makes a new key id, secret and salt each time', async () => {
    const w = world();
    const a = await enrolled(w, SERVER);
    const b = await enrolled(w, OTHER);
    expect(a.keyId).not.toBe(b.keyId);
    expect(a.secret).not.toBe(b.secret);
    const [first, second] = w.calls.map((c) => c[1] as ServerKeyRecord);
    expect(first!.salt).not.toBe(second!.salt);
  });

  it('keeps the request secret of the enrolment with its key, with when that enrolment was first asked, else now', async () => {
    const w = world();
    const request = { requestSalt: 'c2FsdA==', requestHash: 'aGFzaA==' };
    await w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { request, requestAt: NOW - 5 * MINUTE });
    await w.enrolment.issue(OTHER, {}, 'enrolment', w.log, { request });
    const [first, second] = w.calls.map((c) => c[1] as ServerKeyRecord);
    expect([first!.requestSalt, first!.requestHash, first!.requestAt]).toStrictEqual(['c2FsdA==', 'aGFzaA==', NOW - 5 * MINUTE]);
    expect([second!.requestSalt, second!.requestHash, second!.requestAt]).toStrictEqual(['c2FsdA==', 'aGFzaA==', NOW]);
    expect(Object.keys(second!)).toContain('requestAt');
  });

  it('again replaces the active key, clears the tags of the server and records a re-enrolment on the open policy', async () => {
    const w = world();
    const first = await enrolled(w);
    w.settles.push(['r1', 'r2']);
    w.lines.length = 0;
    const issued = await w.enrolment.issue(SERVER, { hostName: 'EXCH01' }, 'enrolment', w.log);
    expect(issued.replaced).toStrictEqual([first.keyId]);
    expect(w.steps()).toStrictEqual(['issue', 'issue', 'clearKeyTags']);
    expect(w.calls[2]).toStrictEqual(['clearKeyTags', SERVER]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyIssued', { server: SERVER, keyId: issued.keyId, reason: 're-enrolment', grant: 'open', replaced: first.keyId, settled: 'r1,r2' }]]);
  });

  it('names every key it replaced, comma-separated', async () => {
    const w = world();
    w.put(keyRow({ keyId: 'k1' }));
    w.put(keyRow({ keyId: 'k2' }));
    const issued = await w.enrolment.issue(SERVER, {}, 'enrolment', w.log);
    expect(issued.replaced).toStrictEqual(['k1', 'k2']);
    expect(w.records()[0]![1]).toMatchObject({ reason: 're-enrolment', replaced: 'k1,k2', settled: null });
  });

  it('for a server enrolled before whose key was revoked (its head in the partition decided on) replaces nothing, yet clears its tags and records a re-enrolment', async () => {
    const w = world();
    w.enrolled.add(SERVER);
    const head = { currentKeyId: '', blocked: false, updatedAt: NOW - MINUTE, etag: 'h1' };
    const basis = { server: SERVER, rows: [], head, requests: [], replaced: [], unknown: [] } as KeyPartition;
    const issued = await w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { basis });
    expect(issued.replaced).toStrictEqual([]);
    expect(w.steps()).toStrictEqual(['issue', 'clearKeyTags']);
    expect(w.records()[0]![1]).toMatchObject({ reason: 're-enrolment', grant: 'open', replaced: null });
  });

  it('by a rotation of a server whose key was revoked replaces nothing, yet clears its tags', async () => {
    const w = world();
    w.enrolled.add(SERVER);
    await w.enrolment.issue(SERVER, {}, 'admin-rotation', w.log);
    expect(w.steps()).toStrictEqual(['issue', 'clearKeyTags']);
    expect(w.records()[0]![1]).toMatchObject({ reason: 'admin-rotation', grant: null, replaced: null });
  });

  it('replacing a key the store does not count as enrolled before still clears its tags', async () => {
    const w = world();
    w.put(keyRow());
    await w.enrolment.issue(SERVER, {}, 'enrolment', w.log);
    expect(w.steps()).toStrictEqual(['issue', 'clearKeyTags']);
  });

  it('on the partition decided on passes it to the store, and is a re-enrolment when that partition has a head', async () => {
    const w = world();
    const head = { currentKeyId: '', blocked: false, updatedAt: NOW - MINUTE, etag: 'h1' };
    const withHead = { server: SERVER, rows: [], head, requests: [], replaced: [], unknown: [] } as KeyPartition;
    await w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { basis: withHead });
    expect(w.calls[0]![2]).toStrictEqual({ overrideBlock: false, basis: withHead });
    const withoutHead = { ...withHead, server: OTHER, head: undefined };
    await w.enrolment.issue(OTHER, {}, 'enrolment', w.log, { basis: withoutHead });
    expect(w.records().map(([, f]) => (f as { reason: string; grant: string | null }).reason + ' ' + String((f as { grant: unknown }).grant))).toStrictEqual(['re-enrolment open', 'enrolment null']);
  });

  it('records the grant that allowed a re-enrolment, even one that replaces nothing', async () => {
    const w = world();
    await w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { grant: 'current-key' });
    await w.enrolment.issue(OTHER, {}, 'enrolment', w.log, { grant: 'admin-approval' });
    expect(w.records().map(([, f]) => f)).toMatchObject([
      { reason: 're-enrolment', grant: 'current-key' },
      { reason: 're-enrolment', grant: 'admin-approval' },
    ]);
  });

  it('for the resend of an enrolment is that enrolment still, granted as the same request, though it replaces the key first issued', async () => {
    const w = world();
    const first = await enrolled(w);
    w.lines.length = 0;
    const head = { currentKeyId: first.keyId, blocked: false, updatedAt: NOW, etag: 'h1' };
    const basis = { server: SERVER, rows: [], head, requests: [], replaced: [], unknown: [] } as KeyPartition;
    const issued = await w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { basis, grant: 'same-request' });
    expect(issued.replaced).toStrictEqual([first.keyId]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyIssued', { server: SERVER, keyId: issued.keyId, reason: 'enrolment', grant: 'same-request', replaced: first.keyId, settled: null }]]);
  });

  it('by an admin rotation overrides a block and records the rotation, whatever it replaced', async () => {
    const w = world();
    const first = await enrolled(w);
    w.blocked.add(SERVER);
    w.lines.length = 0;
    const issued = await w.enrolment.issue(SERVER, {}, 'admin-rotation', w.log);
    expect(w.calls[1]![2]).toStrictEqual({ overrideBlock: true, basis: undefined });
    expect((w.calls[1]![1] as ServerKeyRecord).issuedBy).toBe('admin-rotation');
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyIssued', { server: SERVER, keyId: issued.keyId, reason: 'admin-rotation', grant: null, replaced: first.keyId, settled: null }]]);
    // A rotation of a server never enrolled: still a rotation.
    await w.enrolment.issue(OTHER, {}, 'admin-rotation', w.log);
    expect(w.records()[1]![1]).toMatchObject({ reason: 'admin-rotation', grant: null });
  });

  it('for a blocked server is refused with 403, recorded, and changes nothing', async () => {
    const w = world();
    w.blocked.add(SERVER);
    w.enrolled.add(SERVER);
    expect(await refusalOf(() => w.enrolment.issue(SERVER, {}, 'enrolment', w.log, { grant: 'open' }))).toStrictEqual([
      'forbidden',
      `An admin blocked the enrolment of ${SERVER}; only an admin's rotation of its key can issue it a key now.`,
    ]);
    expect(w.steps()).toStrictEqual(['issue']);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'enrolment-blocked' }]]);
    expect(blockedError(OTHER).status).toBe(403);
  });

  it('fails when the tags cannot be cleared, before recording the key', async () => {
    const w = world();
    w.enrolled.add(SERVER);
    w.tagFailures.push(new RestError('unavailable', { statusCode: 503 }));
    await expect(w.enrolment.issue(SERVER, {}, 'enrolment', w.log)).rejects.toThrow('unavailable');
    expect(w.lines).toStrictEqual([]);
  });
});

describe('revoking the keys of a server', () => {
  it('revokes at the time of the clock, clears the tags after, and records what it revoked and closed', async () => {
    const w = world();
    w.revocations.push({ revoked: ['k1', 'k2'], settled: ['r1', 'r2'] });
    expect(await w.enrolment.revoke(SERVER, w.log)).toStrictEqual({ revoked: ['k1', 'k2'], settled: ['r1', 'r2'] });
    expect(w.calls).toStrictEqual([
      ['revokeAll', SERVER, NOW, false],
      ['clearKeyTags', SERVER],
    ]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRevoked', { server: SERVER, revoked: 'k1,k2', settled: 'r1,r2', reenrolment: 'allowed' }]]);
  });

  it('with a block says that enrolment is blocked, and names nothing when nothing was revoked or closed', async () => {
    const w = world();
    w.at(NOW + MINUTE);
    w.revocations.push({ revoked: [], settled: [] });
    await w.enrolment.revoke(SERVER, w.log, true);
    expect(w.calls[0]).toStrictEqual(['revokeAll', SERVER, NOW + MINUTE, true]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRevoked', { server: SERVER, revoked: null, settled: null, reenrolment: 'blocked' }]]);
  });

  it('of a server never enrolled answers undefined, clears nothing and records nothing', async () => {
    const w = world();
    w.revocations.push(undefined);
    expect(await w.enrolment.revoke(SERVER, w.log)).toBeUndefined();
    expect(w.steps()).toStrictEqual(['revokeAll']);
    expect(w.lines).toStrictEqual([]);
  });
});

/** The code, message and challenge of what `run` refuses with. */
async function refused(run: () => Promise<unknown>): Promise<[string, string, Readonly<Record<string, string>>]> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ApiError) return [error.code, error.message, error.headers];
    throw error;
  }
  throw new Error('answered instead of refusing');
}

const INVALID: [string, string, Record<string, string>] = ['unauthorized', 'The key is not valid.', { 'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token"' }];
const revokedAnswer = (why: string): [string, string, Record<string, string>] => [
  'key_revoked',
  why,
  { 'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token", error_description="key_revoked"' },
];
const REPLACED_WHY = 'This server key was replaced by a newer one; enrol again with the enrolment secret.';
const REVOKED_WHY = 'This server key was revoked; enrol again with the enrolment secret.';
const UNKNOWN_WHY = 'This server key is not on record (replaced long ago, or its record was lost); enrol again with the enrolment secret.';
const KEY = { server: SERVER, keyId: KEY_ID, secret: SECRET };

describe('checking a key', () => {
  it('answers the server of its active key, by one read of its row', async () => {
    const w = world();
    const key = await enrolled(w);
    w.calls.length = 0;
    expect(await w.enrolment.verify(key, { log: w.log, access: 'ingest' })).toBe(SERVER);
    expect(w.calls).toStrictEqual([['getKey', SERVER, key.keyId]]);
    w.put(keyRow());
    expect(await w.enrolment.verify(KEY)).toBe(SERVER);
  });

  it('refuses another secret under a key id on record as not valid, without a refusal record', async () => {
    const w = world();
    w.put(keyRow());
    for (const secret of [SECRET.slice(0, -1) + 'B', 'A'.repeat(43)]) {
      expect(await refused(() => w.enrolment.verify({ ...KEY, secret }, { log: w.log, access: 'ingest' }))).toStrictEqual(INVALID);
    }
    // A revoked key with another secret: forged, not revoked.
    w.put(keyRow({ keyId: 'BBBBBBBBBBBBBBBB', status: 'revoked', revokedReason: 'revoked' }));
    expect(await refused(() => w.enrolment.verify({ ...KEY, keyId: 'BBBBBBBBBBBBBBBB', secret: 'A'.repeat(43) }, { log: w.log, access: 'ingest' }))).toStrictEqual(INVALID);
    expect(w.steps()).toStrictEqual(['getKey', 'getKey', 'getKey']);
    expect(w.lines).toStrictEqual([]);
  });

  it('refuses a row whose stored hash is damaged (another length) as not valid', async () => {
    const w = world();
    w.put(keyRow({ hash: hmac(SALT, SECRET).subarray(0, 31).toString('base64') }));
    expect(await refused(() => w.enrolment.verify(KEY))).toStrictEqual(INVALID);
  });

  it('refuses a row of another server under the key id as not valid', async () => {
    const w = world();
    w.rows.set(`${SERVER} ${KEY_ID}`, keyRow({ server: OTHER }));
    expect(await refused(() => w.enrolment.verify(KEY, { log: w.log, access: 'ingest' }))).toStrictEqual(INVALID);
    expect(w.lines).toStrictEqual([]);
  });

  it('refuses a key id not on record as revoked (unknown), recorded in the log but not in ServerKeys', async () => {
    const w = world();
    expect(await refused(() => w.enrolment.verify(KEY, { log: w.log, access: 'collector' }))).toStrictEqual(revokedAnswer(UNKNOWN_WHY));
    expect(await refused(() => w.enrolment.verify(KEY))).toStrictEqual(revokedAnswer(UNKNOWN_WHY));
    expect(w.steps()).toStrictEqual(['getKey', 'getKey']);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'unknown', keyId: KEY_ID, access: 'collector' }]]);
  });

  it('refuses a replaced key and a revoked one as revoked, saying which, and records each refusal', async () => {
    const w = world();
    w.put(keyRow({ status: 'revoked', revokedReason: 'replaced' }));
    w.put(keyRow({ server: OTHER, status: 'revoked', revokedReason: 'revoked' }));
    expect(await refused(() => w.enrolment.verify(KEY, { log: w.log, access: 'ingest' }))).toStrictEqual(revokedAnswer(REPLACED_WHY));
    expect(await refused(() => w.enrolment.verify({ ...KEY, server: OTHER }, { log: w.log, access: 'collector' }))).toStrictEqual(revokedAnswer(REVOKED_WHY));
    expect(w.records()).toStrictEqual([
      ['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'replaced', keyId: KEY_ID, access: 'ingest' }],
      ['FleetPosture.ServerKeyRefused', { server: OTHER, reason: 'revoked', keyId: KEY_ID, access: 'collector' }],
    ]);
    expect(w.calls).toStrictEqual([
      ['getKey', SERVER, KEY_ID],
      ['recordRefusal', { server: SERVER, keyId: KEY_ID, reason: 'replaced', refusedAt: NOW }],
      ['getKey', OTHER, KEY_ID],
      ['recordRefusal', { server: OTHER, keyId: KEY_ID, reason: 'revoked', refusedAt: NOW }],
    ]);
  });

  it('calls a revoked key without a reason revoked', async () => {
    const w = world();
    w.put(keyRow({ status: 'revoked' }));
    expect(await refused(() => w.enrolment.verify(KEY, { log: w.log, access: 'ingest' }))).toStrictEqual(revokedAnswer(REVOKED_WHY));
    expect(w.records()[0]![1]).toMatchObject({ reason: 'revoked' });
  });

  it('without a log to record in refuses a revoked key the same, recording nothing', async () => {
    const w = world();
    w.put(keyRow({ status: 'revoked', revokedReason: 'replaced' }));
    expect(await refused(() => w.enrolment.verify(KEY))).toStrictEqual(revokedAnswer(REPLACED_WHY));
    expect(w.steps()).toStrictEqual(['getKey']);
    expect(w.lines).toStrictEqual([]);
  });

  it('fails as the store fails when the row cannot be read', async () => {
    const w = world();
    w.readFailures.push(new RestError('unavailable', { statusCode: 503 }));
    await expect(w.enrolment.verify(KEY)).rejects.toBeInstanceOf(RestError);
  });
});

describe('refusals of a revoked key recorded in ServerKeys', () => {
  const revokedWorld = () => {
    const w = world();
    w.put(keyRow({ status: 'revoked', revokedReason: 'revoked' }));
    w.put(keyRow({ server: OTHER, status: 'revoked', revokedReason: 'revoked' }));
    return w;
  };
  const refuse = (w: ReturnType<typeof world>, server = SERVER) => refused(() => w.enrolment.verify({ ...KEY, server }, { log: w.log, access: 'ingest' }));
  const recorded = (w: ReturnType<typeof world>) => w.calls.filter((c) => c[0] === 'recordRefusal').map((c) => [(c[1] as KeyRefusal).server, (c[1] as KeyRefusal).refusedAt - NOW]);

  it('are recorded at most every ten minutes per server, each refusal still logged', async () => {
    const w = revokedWorld();
    await refuse(w);
    w.at(NOW + 10 * MINUTE - 1);
    await refuse(w);
    await refuse(w, OTHER);
    w.at(NOW + 10 * MINUTE);
    await refuse(w);
    await refuse(w, OTHER);
    w.at(NOW + 20 * MINUTE - 1);
    await refuse(w);
    expect(recorded(w)).toStrictEqual([
      [SERVER, 0],
      [OTHER, 10 * MINUTE - 1],
      [SERVER, 10 * MINUTE],
    ]);
    expect(w.lines).toHaveLength(6);
  });

  it('a failed record is tried again at the next refusal, and never fails the answer', async () => {
    const w = revokedWorld();
    w.refusalFailures.push(new RestError('unavailable', { statusCode: 503 }));
    expect(await refuse(w)).toStrictEqual(revokedAnswer(REVOKED_WHY));
    expect(await refuse(w)).toStrictEqual(revokedAnswer(REVOKED_WHY));
    await refuse(w);
    expect(recorded(w)).toStrictEqual([
      [SERVER, 0],
      [SERVER, 0],
    ]);
  });

  it('are remembered for ten thousand servers; the memory is emptied when more come', async () => {
    const w = revokedWorld();
    const servers = Array.from({ length: 10_000 }, (_, i) => `s${i}`);
    const revoked = keyRow({ status: 'revoked', revokedReason: 'revoked' });
    for (const server of servers) w.put({ ...revoked, server });
    for (const server of servers) await refuse(w, server);
    // All ten thousand remembered: none recorded again.
    await refuse(w, 's0');
    await refuse(w, 's9999');
    expect(recorded(w)).toHaveLength(10_000);
    // One more empties the memory: s0 is recorded again, then remembered.
    await refuse(w, SERVER);
    await refuse(w, 's0');
    await refuse(w, SERVER);
    await refuse(w, 's0');
    expect(recorded(w).slice(10_000)).toStrictEqual([
      [SERVER, 0],
      ['s0', 0],
    ]);
  });
});

/** What the next checks and takes of a rate limiter answer (ok unless queued), each call recorded in `calls`. */
function limiter(name: string, calls: unknown[][]) {
  const checks: RateDecision[] = [];
  const takes: RateDecision[] = [];
  const fake = {
    check: (bucket: string) => (calls.push([`${name}.check`, bucket]), checks.shift() ?? { ok: true }),
    take: (bucket: string) => (calls.push([`${name}.take`, bucket]), takes.shift() ?? { ok: true }),
  };
  return { limiter: fake as unknown as RateLimiter, checks, takes };
}

const KEYS = new KeyRing({ ingestKeys: ['shared'], readerKeys: ['reader'], adminKeys: ['admin'], enrolmentSecrets: ['enrol'] });
const headers = (key?: string): HeaderSource => ({ get: (n) => (n === 'x-api-key' ? (key ?? null) : null) });

/** An authorizer over a world's enrolment and fake rate limiters, the limiters' calls recorded with the store's. */
function gate(allowSharedIngestKeys = false) {
  const w = world();
  const posts = limiter('limiter', w.calls);
  const refusals = limiter('refusals', w.calls);
  const auth = new Authorizer({ keys: KEYS, enrolment: w.enrolment, limiter: posts.limiter, refusals: refusals.limiter, allowSharedIngestKeys });
  return { w, auth, posts, refusals };
}

const RATE_LIMITED = (seconds: number): [string, string, Record<string, string>] => [
  'rate_limited',
  `Too many requests for this server; retry after ${seconds} seconds.`,
  { 'Retry-After': String(seconds) },
];

describe('the authorizer', () => {
  it('claims the server a server key names before anything is checked, and none for other keys', () => {
    const { auth } = gate();
    expect(auth.claimedServer(headers(formatServerKey(KEY)))).toBe(SERVER);
    expect(auth.claimedServer(headers('admin'))).toBeUndefined();
    expect(auth.claimedServer(headers())).toBeUndefined();
  });

  it('lets a server key post, counted against its server, and read what a collector reads, uncounted', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    w.calls.length = 0;
    const principal = { kind: 'server', server: SERVER, keyTag: serverKeyTag(key) };
    expect(await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log)).toStrictEqual(principal);
    expect(await auth.authorize(headers(formatServerKey(key)), 'collector', w.log)).toStrictEqual(principal);
    const bucket = `refused:${SERVER}:${key.keyId}`;
    expect(w.calls).toStrictEqual([
      ['refusals.check', bucket],
      ['getKey', SERVER, key.keyId],
      ['limiter.take', `server:${SERVER}`],
      ['refusals.check', bucket],
      ['getKey', SERVER, key.keyId],
    ]);
  });

  it('does not count a post already counted, unless told it was not', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    w.calls.length = 0;
    await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log, undefined, { rateLimited: false });
    await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log, undefined, { rateLimited: true });
    expect(w.steps()).toStrictEqual(['refusals.check', 'getKey', 'refusals.check', 'getKey', 'limiter.take']);
  });

  it('answers 429 with Retry-After for a server past its rate', async () => {
    const { w, auth, posts } = gate();
    const key = await enrolled(w);
    posts.takes.push({ ok: false, retryAfterSeconds: 7 });
    expect(await refused(() => auth.authorize(headers(formatServerKey(key)), 'ingest', w.log))).toStrictEqual(RATE_LIMITED(7));
  });

  it('refuses a server key anything but posting and collecting, with 403 naming its server', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    for (const access of ['read', 'admin', 'enrol'] as const) {
      expect(await refusalOf(() => auth.authorize(headers(formatServerKey(key)), access, w.log)), access).toStrictEqual([
        'forbidden',
        `This is the server key of ${SERVER}; it can post that server's snapshots and read the manifest and rules, nothing else.`,
      ]);
    }
    expect(w.steps().filter((s) => s === 'limiter.take')).toStrictEqual([]);
  });

  it('takes a post whose key the rows of its server carry as verified without reading ServerKeys', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    w.calls.length = 0;
    const tag = serverKeyTag(key);
    expect(await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log, tag)).toStrictEqual({ kind: 'server', server: SERVER, keyTag: tag });
    expect(w.steps()).toStrictEqual(['limiter.take']);
  });

  it('checks the key in ServerKeys when the rows carry another tag (of any length), or the access is not a post', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    w.calls.length = 0;
    const tag = serverKeyTag(key);
    const other = serverKeyTag({ ...key, secret: 'A'.repeat(43) });
    expect(other).toHaveLength(tag.length);
    await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log, other);
    await auth.authorize(headers(formatServerKey(key)), 'ingest', w.log, tag.slice(1));
    await auth.authorize(headers(formatServerKey(key)), 'collector', w.log, tag);
    expect(w.steps().filter((s) => s === 'getKey')).toHaveLength(3);
    // A revoked key is refused though the rows still carry its tag, for anything but a post.
    w.put({ ...w.rows.get(`${SERVER} ${key.keyId}`)!, status: 'revoked', revokedReason: 'revoked' });
    expect(await refused(() => auth.authorize(headers(formatServerKey(key)), 'collector', w.log, tag))).toStrictEqual(revokedAnswer(REVOKED_WHY));
  });

  it('spends the bucket of a refused key, and past it answers 429 without reading ServerKeys', async () => {
    const { w, auth, refusals } = gate();
    const bucket = `refused:${SERVER}:${KEY_ID}`;
    expect(await refused(() => auth.authorize(headers(formatServerKey(KEY)), 'ingest', w.log))).toStrictEqual(revokedAnswer(UNKNOWN_WHY));
    refusals.checks.push({ ok: false, retryAfterSeconds: 42 });
    expect(await refused(() => auth.authorize(headers(formatServerKey(KEY)), 'ingest', w.log))).toStrictEqual(RATE_LIMITED(42));
    expect(w.calls).toStrictEqual([
      ['refusals.check', bucket],
      ['getKey', SERVER, KEY_ID],
      ['refusals.take', bucket],
      ['refusals.check', bucket],
    ]);
    expect(w.records()).toStrictEqual([['FleetPosture.ServerKeyRefused', { server: SERVER, reason: 'unknown', keyId: KEY_ID, access: 'ingest' }]]);
  });

  it('spends the bucket of a forged key too, and without a log records nothing', async () => {
    const { w, auth } = gate();
    w.put(keyRow({}, 'A'.repeat(43)));
    expect(await refused(() => auth.authorize(headers(formatServerKey(KEY)), 'collector'))).toStrictEqual(INVALID);
    w.rows.clear();
    expect(await refused(() => auth.authorize(headers(formatServerKey(KEY)), 'collector'))).toStrictEqual(revokedAnswer(UNKNOWN_WHY));
    expect(w.steps()).toStrictEqual(['refusals.check', 'getKey', 'refusals.take', 'refusals.check', 'getKey', 'refusals.take']);
    expect(w.lines).toStrictEqual([]);
  });

  it('spends no bucket when ServerKeys cannot be read', async () => {
    const { w, auth } = gate();
    w.readFailures.push(new StorageUnavailableError('Table Storage is unavailable (reading a server key): busy'), new RestError('forbidden', { statusCode: 401 }));
    await expect(auth.authorize(headers(formatServerKey(KEY)), 'ingest', w.log)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(auth.authorize(headers(formatServerKey(KEY)), 'ingest', w.log)).rejects.toBeInstanceOf(RestError);
    expect(w.steps()).toStrictEqual(['refusals.check', 'getKey', 'refusals.check', 'getKey']);
  });

  it('leaves other keys to the key ring', async () => {
    const { auth } = gate();
    expect(await auth.authorize(headers('reader'), 'read')).toStrictEqual({ kind: 'reader' });
    expect(await auth.authorize(headers('admin'), 'admin')).toStrictEqual({ kind: 'admin' });
    expect(await auth.authorize(headers('shared'), 'collector')).toStrictEqual({ kind: 'ingest' });
    expect(await refused(() => auth.authorize(headers('guess'), 'read'))).toStrictEqual(INVALID);
    expect(await refusalOf(() => auth.authorize(headers(), 'ingest'))).toStrictEqual([
      'unauthorized',
      'A key is required: send it in the x-api-key header (or Authorization: Bearer, or x-functions-key).',
    ]);
  });

  it('refuses a shared ingest key a post unless the migration switch allows it', async () => {
    expect(await refusalOf(() => gate(false).auth.authorize(headers('shared'), 'ingest'))).toStrictEqual([
      'forbidden',
      'Shared ingest keys can no longer post snapshots (unless POSTURE_ALLOW_SHARED_INGEST_KEYS=true, a switch for migrating collectors); enrol the server for its own key and post with that.',
    ]);
    const { w, auth } = gate(true);
    expect(await auth.authorize(headers('shared'), 'ingest')).toStrictEqual({ kind: 'ingest' });
    // A shared key is counted against no server.
    expect(w.calls).toStrictEqual([]);
  });
});

describe('rate limits', () => {
  it('take a token from the bucket named, or answer 429', () => {
    const { w, auth, posts } = gate();
    auth.limit('enrol:1.2.3.4');
    posts.takes.push({ ok: false, retryAfterSeconds: 3 });
    let error: unknown;
    try {
      auth.limit('enrol:1.2.3.4');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect([(error as ApiError).code, (error as ApiError).message, (error as ApiError).headers]).toStrictEqual(RATE_LIMITED(3));
    expect(w.calls).toStrictEqual([
      ['limiter.take', 'enrol:1.2.3.4'],
      ['limiter.take', 'enrol:1.2.3.4'],
    ]);
  });

  it('ask for a proof only once the bucket is spent, and then spend the bucket of that proof', async () => {
    const { w, auth, posts } = gate();
    const asked: string[] = [];
    const proven = async () => (asked.push('asked'), 'p1');
    await auth.limitUnlessProven('poll', proven);
    expect(asked).toStrictEqual([]);
    posts.takes.push({ ok: false, retryAfterSeconds: 9 });
    await auth.limitUnlessProven('poll', proven);
    expect(asked).toStrictEqual(['asked']);
    expect(w.calls).toStrictEqual([
      ['limiter.take', 'poll'],
      ['limiter.take', 'poll'],
      ['limiter.take', 'poll:proven:p1'],
    ]);
    // The bucket of the proof spent too: 429 with its own wait.
    posts.takes.push({ ok: false, retryAfterSeconds: 9 }, { ok: false, retryAfterSeconds: 4 });
    expect(await refused(() => auth.limitUnlessProven('poll', proven))).toStrictEqual(RATE_LIMITED(4));
  });

  it('answer 429 with the wait of the bucket when there is no proof', async () => {
    const { w, auth, posts } = gate();
    posts.takes.push({ ok: false, retryAfterSeconds: 9 });
    expect(await refused(() => auth.limitUnlessProven('poll', async () => undefined))).toStrictEqual(RATE_LIMITED(9));
    expect(w.steps()).toStrictEqual(['limiter.take']);
  });
});

describe('access a server key has', () => {
  it('is posting and collecting only', async () => {
    const { w, auth } = gate();
    const key = await enrolled(w);
    const outcome = async (access: Access) => auth.authorize(headers(formatServerKey(key)), access, w.log).then(
      () => 'allowed',
      (e: unknown) => (e as ApiError).code,
    );
    const all: Access[] = ['ingest', 'collector', 'read', 'admin', 'enrol'];
    expect(await Promise.all(all.map(outcome))).toStrictEqual(['allowed', 'allowed', 'forbidden', 'forbidden', 'forbidden']);
  });
});
