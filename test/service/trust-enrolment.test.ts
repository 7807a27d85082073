// Trust: enrolment (enrolment secret → per-server key), the binding of a key to its server,
// revocation, rotation and re-enrolment, the least-privilege matrix of every credential kind
// against every route, and the per-server rate limit. Refused requests change no table.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_LOG_RECORDS, parseServerKey } from '../../src/app/enrolment';
import { loadSettings } from '../../src/app/settings';
import { parseSnapshot } from '../../src/snapshot/parse';
import { get, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';
import { loadedTimeout } from '../support/load-timeouts';

const BURST = 5;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_RATE_LIMIT_BURST: String(BURST), POSTURE_RATE_LIMIT_PER_MINUTE: '6' } });
});
afterAll(async () => stack?.stop());

const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

async function enrol(host: string, secret: string = TEST_KEYS.enrolment, body?: unknown) {
  const res = await fetch(`${stack.baseUrl}/api/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': secret },
    body: JSON.stringify(body === undefined ? { host: { name: host, fqdn: fqdn(host) }, collector: { name: "Send-PostureSnapshot", version: "1.0.0" } } : body),
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

async function postWith(key: string, doc: unknown) {
  const res = await fetch(`${stack.baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: typeof doc === 'string' ? doc : JSON.stringify(doc),
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

async function call(method: string, path: string, key: string | null, body?: unknown) {
  const res = await fetch(`${stack.baseUrl}/api/${path}`, {
    method,
    headers: { ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json, headers: res.headers };
}

describe('enrolment', () => {
  it('the enrolment secret and host facts give a per-server key that posts for that server only', async () => {
    const e = await enrol('ENR01');
    expect(e.status).toBe(201);
    expect(e.headers.get('cache-control')).toBe('no-store');
    expect(e.body).toMatchObject({ server: fqdn('ENR01'), replaced: [] });
    const parsed = parseServerKey(e.body.key);
    expect(parsed?.server).toBe(fqdn('ENR01'));
    expect(Buffer.from(parsed!.secret, 'base64url')).toHaveLength(32);

    expect((await postWith(e.body.key, snapshot({ host: 'ENR01' }))).status).toBe(201);
    // Another host's snapshot with this key: 403, and no table changes.
    const before = await dumpTables(stack);
    const other = await postWith(e.body.key, snapshot({ host: 'ENR02' }));
    expect(other.status).toBe(403);
    expect(other.body.error).toBe('forbidden');
    expect(other.body.message).toContain(fqdn('ENR01'));
    // Same name, other fqdn; and an fqdn-less snapshot of the same name: other server ids.
    expect((await postWith(e.body.key, snapshot({ host: 'ENR01', fqdn: 'enr01.evil.example' }))).status).toBe(403);
    expect((await postWith(e.body.key, snapshot({ host: 'ENR01', fqdn: null }))).status).toBe(403);
    expect(await dumpTables(stack)).toEqual(before);
  });

  it('stores only a salted hash: no column holds the secret or its plain SHA-256, salts differ', async () => {
    const a = await enrol('HASH01');
    const b = await enrol('HASH02');
    const dump = (await dumpTables(stack)).serverKeys!.join('\n');
    for (const k of [a.body.key, b.body.key]) {
      const { secret } = parseServerKey(k)!;
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(createHash('sha256').update(secret).digest('base64'));
      expect(dump).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
    const rows = (await dumpTables(stack)).serverKeys!.map((r) => JSON.parse(r) as Json).filter((r) => r.KeyId === a.body.keyId || r.KeyId === b.body.keyId);
    expect(rows).toHaveLength(2);
    expect(rows[0].Salt).not.toBe(rows[1].Salt);
  });

  it('wrong, malformed and tampered server keys are 401; a key moved to another server id is 401', async () => {
    const e = await enrol('TAMP01');
    const p = parseServerKey(e.body.key)!;
    const flip = p.secret.slice(0, -1) + (p.secret.endsWith('A') ? 'B' : 'A');
    // A key id on record with another secret is forged: unauthorized. A well-formed key the
    // service has no record of answers key_revoked (enrol again): its holder may be a collector
    // whose key record was pruned or lost, and enrolling needs the enrolment secret anyway.
    const variants: [string, string][] = [
      [`fp1.${Buffer.from(p.server).toString('base64url')}.${p.keyId}.${flip}`, 'unauthorized'],
      [`fp1.${Buffer.from(fqdn('TAMP02')).toString('base64url')}.${p.keyId}.${p.secret}`, 'key_revoked'],
      ['fp1.garbage', 'unauthorized'],
      [`fp1.${Buffer.from("x' or '1' eq '1").toString('base64url')}.${p.keyId}.${p.secret}`, 'unauthorized'],
      [e.body.key + 'x', 'unauthorized'],
    ];
    for (const [key, code] of variants) {
      const r = await postWith(key, snapshot({ host: 'TAMP01' }));
      expect(r.status, key).toBe(401);
      expect(r.body.error, key).toBe(code);
    }
  });

  it('revocation takes effect on the next post (401 key_revoked); the server re-enrols once and posts again', async () => {
    const e = await enrol('REV01');
    expect((await postWith(e.body.key, snapshot({ host: 'REV01' }))).status).toBe(201);
    const revoke = await call('DELETE', `servers/${fqdn('REV01')}/key`, TEST_KEYS.admin);
    expect(revoke.status).toBe(200);
    expect(revoke.body).toEqual({ server: fqdn('REV01'), revoked: [e.body.keyId], settled: [], reenrol: 'allow' });
    const before = await dumpTables(stack);
    const r = await postWith(e.body.key, snapshot({ host: 'REV01' }));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('key_revoked');
    expect(r.headers.get('www-authenticate')).toContain('key_revoked');
    expect((await call('GET', 'manifest', e.body.key)).body.error).toBe('key_revoked');
    // Nothing changed but the refusal record of the genuine revoked key (ServerKeys, its own server).
    const after = await dumpTables(stack);
    expect({ ...after, serverKeys: [] }).toEqual({ ...before, serverKeys: [] });
    const added = after.serverKeys!.filter((row) => !before.serverKeys!.includes(row)).map((row) => JSON.parse(row) as Json);
    expect(added.map((row) => [row.partitionKey, row.rowKey])).toEqual([[fqdn('REV01'), '~refused']]);
    // The collector's reaction: enrol again with the enrolment secret, retry with the new key.
    const again = await enrol('REV01');
    expect(again.status).toBe(201);
    expect((await postWith(again.body.key, snapshot({ host: 'REV01' }))).status).toBe(201);
    expect((await postWith(e.body.key, snapshot({ host: 'REV01' }))).body.error).toBe('key_revoked');
    expect(stack.logs.some((l) => l.message.startsWith(`${KEY_LOG_RECORDS.keyRevoked} `) && l.message.includes(fqdn('REV01')))).toBe(true);
  });

  it('re-enrolment replaces the key (the old one answers key_revoked) and is audited', async () => {
    const first = await enrol('REENR01');
    const second = await enrol('REENR01');
    expect(second.status).toBe(201);
    expect(second.body.replaced).toEqual([first.body.keyId]);
    expect((await postWith(first.body.key, snapshot({ host: 'REENR01' }))).body.error).toBe('key_revoked');
    expect((await postWith(second.body.key, snapshot({ host: 'REENR01' }))).status).toBe(201);
    const audit = stack.logs.filter((l) => l.message.startsWith(`${KEY_LOG_RECORDS.keyIssued} `) && l.message.includes(fqdn('REENR01')));
    expect(audit.map((l) => JSON.parse(l.message.slice(KEY_LOG_RECORDS.keyIssued.length + 1)).reason)).toEqual(['enrolment', 're-enrolment']);
  });

  it('revocation with reenrol=deny blocks the enrolment secret for that server until an admin rotation', async () => {
    const e = await enrol('BLOCK01');
    const revoke = await call('DELETE', `servers/${fqdn('BLOCK01')}/key?reenrol=deny`, TEST_KEYS.admin);
    expect(revoke.body).toMatchObject({ reenrol: 'deny', revoked: [e.body.keyId] });
    const before = await dumpTables(stack);
    const again = await enrol('BLOCK01');
    expect(again.status).toBe(403);
    expect(again.body.error).toBe('forbidden');
    expect(await dumpTables(stack)).toEqual(before);
    expect((await call('DELETE', `servers/${fqdn('BLOCK01')}/key?reenrol=maybe`, TEST_KEYS.admin)).status).toBe(400);
    const rot = await call('POST', `servers/${fqdn('BLOCK01')}/key/rotate`, TEST_KEYS.admin);
    expect(rot.status).toBe(201);
    expect((await postWith(rot.body.key, snapshot({ host: 'BLOCK01' }))).status).toBe(201);
    expect((await enrol('BLOCK01')).status).toBe(201); // the rotation lifted the block
  });

  it('admin rotation issues a new key and revokes the old one at once', async () => {
    const e = await enrol('ROT01');
    const rot = await call('POST', `servers/${fqdn('ROT01')}/key/rotate`, TEST_KEYS.admin);
    expect(rot.status).toBe(201);
    expect(rot.body.replaced).toEqual([e.body.keyId]);
    expect((await postWith(e.body.key, snapshot({ host: 'ROT01' }))).body.error).toBe('key_revoked');
    expect((await postWith(rot.body.key, snapshot({ host: 'ROT01' }))).status).toBe(201);
  });

  it('bad host facts are 400 invalid_enrolment, each issue in the words the snapshot contract uses, and write nothing', async () => {
    const before = await dumpTables(stack);
    const missing = await enrol('X', TEST_KEYS.enrolment, { name: 'X' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_enrolment');
    const { host: _host, ...noHost } = snapshot();
    const contract = parseSnapshot(noHost);
    expect(contract.ok).toBe(false);
    expect(missing.body.issues).toEqual(contract.ok ? [] : contract.issues.filter((i) => i.path === 'host'));
    const badName = await enrol('X', TEST_KEYS.enrolment, { host: { name: 'a b' } });
    expect(badName.body.error).toBe('invalid_enrolment');
    expect(badName.body.issues.map((i: Json) => i.path)).toEqual(['host.name']);
    expect(await dumpTables(stack)).toEqual(before);
  });

  it('rotation refuses a server id no collector could post as (empty label, hyphen at a label edge, label over 63) and writes nothing', async () => {
    const before = await dumpTables(stack);
    for (const id of ['a..b', 'a-.b', 'a.-b', '-a.b', 'l'.repeat(64), `${'l'.repeat(63)}.${'m'.repeat(64)}`]) {
      const r = await call('POST', `servers/${id}/key/rotate`, TEST_KEYS.admin);
      expect(r.status, id).toBe(400);
      expect(r.body.error, id).toBe('invalid_query');
      expect(r.body.message, id).toMatch(/^The server in the path must be a server id/);
    }
    expect(await dumpTables(stack)).toEqual(before);
  });

  it('concurrent enrolments of one server leave exactly one working key', async () => {
    const all = await Promise.all(Array.from({ length: 5 }, () => enrol('RACE01')));
    for (const r of all) expect(r.status).toBe(201);
    const results = await Promise.all(all.map((r) => call('GET', 'manifest', r.body.key)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401 && r.body.error === 'key_revoked')).toHaveLength(4);
  });

  it('every secret of the list enrols; removing a secret keeps the servers it enrolled working', async () => {
    const viaSecond = await enrol('SEC02', TEST_KEYS.enrolment2);
    expect(viaSecond.status).toBe(201);
    const viaFirst = await enrol('SEC01', TEST_KEYS.enrolment);
    // A second app over the same storage whose settings hold only the new secret.
    const rotated = createTestApp({
      settings: loadSettings({ ...envOf(stack), POSTURE_ENROLMENT_SECRETS: 'a-brand-new-secret' }),
      rules: TEST_RULES,
    });
    expect(await rotated.enrolment.verify(parseServerKey(viaFirst.body.key)!)).toBe(fqdn('SEC01'));
    expect(await rotated.enrolment.verify(parseServerKey(viaSecond.body.key)!)).toBe(fqdn('SEC02'));
    const hdr = (k: string) => ({ get: (n: string) => (n === 'x-api-key' ? k : null) });
    await expect(rotated.auth.authorize(hdr(TEST_KEYS.enrolment), 'enrol')).rejects.toMatchObject({ status: 401 });
    await expect(rotated.auth.authorize(hdr('a-brand-new-secret'), 'enrol')).resolves.toEqual({ kind: 'enrolment' });
  });

  it('bad enrolment requests are 4xx and write nothing', async () => {
    const before = await dumpTables(stack);
    expect((await enrol('X', 'not-the-secret')).status).toBe(401);
    expect((await enrol('X', TEST_KEYS.reader)).status).toBe(403);
    for (const body of [{}, { host: { name: 'bad name' } }, { host: { name: "a'b" } }, { host: { name: 'ok', fqdn: 'a/b' } }, { host: { name: 'a#b' } }, [], 'x', null]) {
      const r = await enrol('X', TEST_KEYS.enrolment, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const raw = await fetch(`${stack.baseUrl}/api/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEYS.enrolment }, body: '{"host":' });
    expect(raw.status).toBe(400);
    const huge = await fetch(`${stack.baseUrl}/api/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEYS.enrolment },
      body: JSON.stringify({ host: { name: 'BIG' }, pad: 'x'.repeat(40_000) }),
    });
    expect(huge.status).toBe(413);
    expect((await call('DELETE', `servers/never-enrolled.example/key`, TEST_KEYS.admin)).status).toBe(404);
    for (const bad of ['a%2Fb', 'a%5Cb', 'a%23b', 'a%3Fb', 'a%00b', "a'%20or%20'1'%20eq%20'1", '%E2%80%AE']) {
      const r = await call('DELETE', `servers/${bad}/key`, TEST_KEYS.admin);
      expect(r.status, bad).toBeGreaterThanOrEqual(400);
      expect(r.status, bad).toBeLessThan(500);
      expect([400, 404]).toContain(r.status);
    }
    expect(await dumpTables(stack)).toEqual(before);
  });
});

function envOf(s: TestStack): Record<string, string> {
  return {
    POSTURE_STORAGE_CONNECTION_STRING: s.settings.storageConnectionString ?? '',
    POSTURE_READER_KEYS: TEST_KEYS.reader,
    POSTURE_ADMIN_KEYS: TEST_KEYS.admin,
  };
}

// 60 route × credential calls plus table dumps: measured 4.5 s in a full run at load 6-7, 6.4 s at 7.5.
describe('least privilege: every credential kind against every route', { timeout: loadedTimeout(6_400) }, () => {
  type Who = 'server' | 'shared' | 'reader' | 'admin' | 'enrolment' | 'none';
  const WHO: Who[] = ['server', 'shared', 'reader', 'admin', 'enrolment', 'none'];
  /** route → the kinds allowed (2xx); every other kind gets 403 (401 with no key). */
  const ROUTES: { name: string; allowed: Who[]; send: (key: string | null) => Promise<{ status: number; body: Json }> }[] = [
    { name: 'POST snapshots', allowed: ['server'], send: (k) => call('POST', 'snapshots', k, snapshot()) },
    { name: 'POST enroll', allowed: ['enrolment'], send: (k) => call('POST', 'enroll', k, { host: { name: 'LP-ENROL' } }) },
    { name: 'DELETE servers/{s}/key', allowed: ['admin'], send: (k) => call('DELETE', `servers/${fqdn('LPVICTIM')}/key`, k) },
    { name: 'POST servers/{s}/key/rotate', allowed: ['admin'], send: (k) => call('POST', `servers/${fqdn('LPVICTIM')}/key/rotate`, k) },
    { name: 'GET results', allowed: ['reader', 'admin'], send: (k) => call('GET', 'results', k) },
    { name: 'GET summary', allowed: ['reader', 'admin'], send: (k) => call('GET', 'summary', k) },
    { name: 'GET events', allowed: ['reader', 'admin'], send: (k) => call('GET', 'events', k) },
    { name: 'GET servers/{s}', allowed: ['reader', 'admin'], send: (k) => call('GET', `servers/${DEFAULT_SERVER}`, k) },
    { name: 'GET manifest', allowed: ['server', 'shared', 'reader', 'admin'], send: (k) => call('GET', 'manifest', k) },
    { name: 'GET rules', allowed: ['server', 'shared', 'reader', 'admin'], send: (k) => call('GET', 'rules', k) },
  ];

  it(`${ROUTES.length} routes × ${WHO.length} credentials: allowed → 2xx, else 403 (401 without a key), refused ones change no table`, async () => {
    await enrol('LPVICTIM');
    expect((await post(stack, snapshot())).status).toBe(201);
    const keys: Record<Who, string | null> = {
      server: await stack.serverKey(DEFAULT_SERVER),
      shared: TEST_KEYS.ingest,
      reader: TEST_KEYS.reader,
      admin: TEST_KEYS.admin,
      enrolment: TEST_KEYS.enrolment,
      none: null,
    };
    let refused = 0;
    for (const route of ROUTES) {
      for (const who of WHO) {
        const allowed = route.allowed.includes(who);
        const before = allowed ? undefined : await dumpTables(stack);
        const r = await route.send(keys[who]);
        const label = `${route.name} as ${who}: ${r.status} ${JSON.stringify(r.body)?.slice(0, 120)}`;
        if (allowed) expect(r.status, label).toBeLessThan(300);
        else {
          expect(r.status, label).toBe(who === 'none' ? 401 : 403);
          expect(await dumpTables(stack), label).toEqual(before);
          refused++;
        }
      }
    }
    expect(refused).toBe(ROUTES.length * WHO.length - ROUTES.reduce((n, r) => n + r.allowed.length, 0));
  });

  it('a shared ingest key posting is told which switch would let it, and to enrol instead', async () => {
    const r = await call('POST', 'snapshots', TEST_KEYS.ingest, snapshot({ host: 'SHARED01' }));
    expect(r.status).toBe(403);
    expect(r.body.message).toContain('POSTURE_ALLOW_SHARED_INGEST_KEYS=true');
    expect(r.body.message).toMatch(/enrol the server for its own key/);
  });

  it('a server key cannot read even its own server', async () => {
    const r = await get(stack, `servers/${DEFAULT_SERVER}`, { key: 'ingest' });
    expect(r.status).toBe(403);
  });
});

describe('per-server rate limit', () => {
  it(`a collector stuck in a loop gets 429 with Retry-After after ${BURST} requests; other servers are not affected`, async () => {
    const e = await enrol('LOOP01');
    const doc = snapshot({ host: 'LOOP01' });
    const statuses: number[] = [];
    let limited: { status: number; body: Json; headers: Headers } | undefined;
    for (let i = 0; i < BURST + 3; i++) {
      const r = await postWith(e.body.key, doc);
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, BURST).every((s) => s === 201 || s === 200)).toBe(true);
    expect(statuses.slice(BURST)).toEqual([429, 429, 429]);
    expect(limited!.body.error).toBe('rate_limited');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A rate-limited request writes nothing.
    const before = await dumpTables(stack);
    expect((await postWith(e.body.key, snapshot({ host: 'LOOP01' }))).status).toBe(429);
    expect(await dumpTables(stack)).toEqual(before);
    expect((await post(stack, snapshot({ host: 'LOOP02' }))).status).toBe(201);
  });

  it(`a collector looping on a revoked key gets 429 after ${BURST} refusals, with no storage read or refusal record; the server's new key still posts`, async () => {
    const old = await enrol('REVLOOP01');
    expect((await postWith(old.body.key, snapshot({ host: 'REVLOOP01' }))).status).toBe(201);
    const rotated = await call('POST', `servers/${fqdn('REVLOOP01')}/key/rotate`, TEST_KEYS.admin);
    expect(rotated.status).toBe(201);
    const refusals = () => stack.logs.filter((l) => l.message.startsWith('FleetPosture.ServerKeyRefused ') && l.message.includes(fqdn('REVLOOP01'))).length;
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 3; i++) statuses.push((await postWith(old.body.key, snapshot({ host: 'REVLOOP01' }))).status);
    expect(statuses).toEqual([...Array<number>(BURST).fill(401), 429, 429, 429]);
    expect(refusals()).toBe(BURST);
    const reads = stack.app.keyStore.counter.count;
    const limited = await postWith(old.body.key, snapshot({ host: 'REVLOOP01' }));
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(stack.app.keyStore.counter.count).toBe(reads);
    expect(refusals()).toBe(BURST);
    expect((await postWith(rotated.body.key, snapshot({ host: 'REVLOOP01' }))).status).toBe(201);
  });

  it('an enrolment loop is limited per server too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 1; i++) statuses.push((await enrol('ENRLOOP01')).status);
    expect(statuses.slice(0, BURST).every((s) => s === 201)).toBe(true);
    expect(statuses[BURST]).toBe(429);
  });
});
