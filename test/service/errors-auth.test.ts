// Every error code of the contract, over HTTP, and that none of them touches storage; the
// authorization rules (401 missing/wrong, 403 wrong kind, rotation, accepted headers).
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { get, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const LIMIT = 64 * 1024;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_MAX_SNAPSHOT_BYTES: String(LIMIT) } });
});
afterAll(async () => stack?.stop());
beforeEach(() => stack.roundTrips.reset());

/** One sentence: starts with a capital (or quote), ends with a full stop, no line breaks. */
function expectOneSentence(message: unknown) {
  expect(typeof message).toBe('string');
  expect(message as string).toMatch(/^["A-Z][^\n]*\.$/);
}

/** Nothing written; at most one read per post: the key check against the tag on the server's rows. */
function expectNothingWritten(posts = 1): void {
  expect(stack.roundTrips.writes).toBe(0);
  expect(stack.roundTrips.count).toBeLessThanOrEqual(posts);
}

describe('contract errors write nothing', () => {
  it('400 invalid_json for malformed JSON', async () => {
    const r = await post(stack, '{"schema": ');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_json');
    expectOneSentence(r.body.message);
    expectNothingWritten();
  });

  it('400 invalid_json for an empty body and for bytes that are not UTF-8', async () => {
    expect((await post(stack, '')).body.error).toBe('invalid_json');
    const res = await stack.request('snapshots', { method: 'POST', key: 'ingest', headers: { 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error).toBe('invalid_json');
    expectNothingWritten(2);
  });

  it('400 invalid_snapshot with issues (path + message)', async () => {
    const doc = snapshot();
    (doc.registry as Json[])[0].values[0].type = 'REG_WHATEVER';
    delete (doc as Json).collector;
    const r = await post(stack, doc);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_snapshot');
    expectOneSentence(r.body.message);
    const paths = r.body.issues.map((i: Json) => i.path);
    expect(paths).toContain('collector');
    expect(paths.some((p: string) => p.startsWith('registry[0].values[0]'))).toBe(true);
    for (const i of r.body.issues) expect(typeof i.message).toBe('string');
    expectNothingWritten();
  });

  it('400 collected_in_future when collectedAt is 6 minutes ahead and nothing else is wrong, saying by how much; nothing is stored', async () => {
    const server = 'fastclock.corp.contoso.com';
    await stack.serverKey(server);
    stack.roundTrips.reset();
    const r = await post(stack, snapshot({ host: 'FASTCLOCK', collectedAt: Date.now() + 6 * 60_000 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('collected_in_future');
    expectOneSentence(r.body.message);
    // 6 minutes less the time the post took, rounded up to the second.
    expect(r.body.message).toMatch(
      /^The snapshot's collectedAt is (6 minutes|5 minutes 5\d seconds) ahead of the service's clock: it can be sent again once it is less than 5 minutes ahead, and the host's clock should be corrected\.$/,
    );
    expect(r.body.issues).toEqual([{ path: 'collectedAt', message: "collectedAt is more than 5 minutes in the future of the receiver's clock" }]);
    expectNothingWritten();
    expect(await stack.app.store.readServer(server)).toEqual([]);
  });

  it('400 invalid_snapshot when collectedAt is 6 minutes ahead and something else is wrong too (alone, it is collected_in_future)', async () => {
    const collectedAt = Date.now() + 6 * 60_000;
    const doc = snapshot({ collectedAt });
    (doc.services as Json[]).push({ name: 'smtpsvc', state: 'Running', started: true });
    const r = await post(stack, doc);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_snapshot');
    expectOneSentence(r.body.message);
    expect(r.body.issues.map((i: Json) => i.path)).toEqual(['collectedAt', 'services[1].name']);
    (doc.services as Json[]).pop();
    expect((await post(stack, doc)).body.error).toBe('collected_in_future');
    expectNothingWritten(2);
  });

  it('400 invalid_snapshot when collectedAt is before 2000, and nothing is stored', async () => {
    const s = snapshot({ host: 'OLDCLOCK', collectedAt: Date.parse('1969-12-31T23:59:59.999Z') });
    const r = await post(stack, s);
    expect(r.status).toBe(400);
    expect(r.body.issues).toEqual([{ path: 'collectedAt', message: "collectedAt is before 2000-01-01, so the host's clock is wrong" }]);
    expect(await stack.app.store.readServer('oldclock.corp.contoso.com')).toEqual([]);
  });

  it('415 for another media type, a missing Content-Type, or a charset other than UTF-8', async () => {
    const body = JSON.stringify(snapshot());
    for (const ct of ['text/plain', 'application/xml', 'application/json; charset=iso-8859-1', undefined]) {
      const res = await stack.request('snapshots', { method: 'POST', key: 'ingest', headers: ct ? { 'content-type': ct } : {}, body: ct ? body : new Blob([body]) });
      expect(res.status, String(ct)).toBe(415);
      const j = (await res.json()) as Json;
      expect(j.error).toBe('unsupported_media_type');
      expectOneSentence(j.message);
    }
    const ok = await post(stack, snapshot(), { headers: { 'content-type': 'Application/JSON; charset="UTF-8"' } });
    expect(ok.status).toBe(201);
  });

  it('415 names the body each route takes, not the snapshot', async () => {
    for (const [method, path, key, subject] of [
      ['POST', 'snapshots', 'ingest', 'the snapshot'],
      ['PUT', 'waivers/w1', 'admin', 'a waiver'],
      ['POST', 'enroll', 'enrolment', 'the enrolment request'],
    ] as const) {
      const res = await stack.request(path, { method, key, headers: { 'content-type': 'text/plain' }, body: '{}' });
      expect(res.status, path).toBe(415);
      expect(((await res.json()) as Json).message, path).toBe(`Send ${subject} as Content-Type: application/json (UTF-8), not "text/plain".`);
    }
  });

  it('415 for a compressed body, naming its coding and the one taken; nothing is stored', async () => {
    const doc = snapshot();
    const gz = gzipSync(JSON.stringify(doc));
    for (const coding of ['gzip', 'br', 'deflate, gzip']) {
      const res = await stack.request('snapshots', { method: 'POST', key: 'ingest', headers: { 'content-type': 'application/json', 'content-encoding': coding }, body: gz });
      expect(res.status, coding).toBe(415);
      expect(res.headers.get('accept-encoding')).toBe('identity');
      const j = (await res.json()) as Json;
      expect(j).toEqual({ error: 'unsupported_media_type', message: `Send the snapshot uncompressed: a body with Content-Encoding ${JSON.stringify(coding)} is not read.` });
    }
    // Each post's key was checked (a read); nothing was written.
    expectNothingWritten(3);
    const waiver = await stack.request('waivers/w1', { method: 'PUT', key: 'admin', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{}') });
    expect(((await waiver.json()) as Json).message).toBe('Send a waiver uncompressed: a body with Content-Encoding "gzip" is not read.');
    // "identity" is no coding at all: the same body sent plainly is taken.
    const plain = await stack.request('snapshots', { method: 'POST', key: 'ingest', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, body: JSON.stringify(doc) });
    expect(plain.status, await plain.text()).toBe(201);
  });

  it('413 when Content-Length says too much', async () => {
    const big = JSON.stringify(snapshot({ tail: 'x'.repeat(LIMIT) }));
    const r = await post(stack, big);
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('too_large');
    expectOneSentence(r.body.message);
    expectNothingWritten();
  });

  it('413 when a chunked body (no Content-Length) grows past the limit', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${stack.baseUrl}/api/snapshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(DEFAULT_SERVER) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as Json).error).toBe('too_large');
    expectNothingWritten();
  });

  it('a snapshot just under the limit is accepted', async () => {
    const doc = snapshot({ tail: '' });
    const overhead = JSON.stringify(doc).length;
    const r = await post(stack, snapshot({ tail: 'y'.repeat(LIMIT - overhead - 200) }));
    expect(r.status).toBe(201);
  });

  it('no input produces a 500 (random JSON values and strings)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ ...snapshot(), host: v }))), async (body) => {
        const r = await stack.request('snapshots', { method: 'POST', key: 'ingest', headers: { 'content-type': 'application/json' }, body });
        await r.text();
        expect(r.status).toBeLessThan(500);
      }),
      { numRuns: 40 },
    );
  });
});

describe('authorization', () => {
  const reads = ['results', 'summary', 'events', 'servers/exch01.corp.contoso.com'];

  it('401 without a key, with a wrong key, or with a malformed Authorization header', async () => {
    const variants: Record<string, string>[] = [{}, { 'x-api-key': 'nope' }, { authorization: 'Basic abc' }, { authorization: `Bearer ${TEST_KEYS.ingest}x` }];
    for (const headers of variants) {
      const r = await post(stack, snapshot(), { key: null, headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.body.error).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expectOneSentence(r.body.message);
    }
    for (const path of [...reads, 'manifest', 'rules']) expect((await get(stack, path, { key: null })).status).toBe(401);
    expect(stack.roundTrips.count).toBe(0);
  });

  it('403 for a key of the wrong kind: a reader cannot post, an ingest key cannot read the fleet', async () => {
    const r = await post(stack, snapshot(), { key: 'reader' });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('forbidden');
    expectOneSentence(r.body.message);
    expect((await post(stack, snapshot(), { key: 'admin' })).status).toBe(403);
    for (const path of reads) {
      const g = await get(stack, path, { key: 'ingest' });
      expect(g.status, path).toBe(403);
      expect(g.body.error).toBe('forbidden');
    }
    expect(stack.roundTrips.count).toBe(0);
  });

  it('collectors (ingest keys) may read the manifest and the rule catalogue; readers and admins may read everything', async () => {
    for (const key of ['ingest', 'reader', 'admin'] as const) {
      expect((await get(stack, 'manifest', { key })).status).toBe(200);
      expect((await get(stack, 'rules', { key })).status).toBe(200);
    }
    for (const path of ['results', 'summary', 'events']) {
      expect((await get(stack, path, { key: 'reader' })).status).toBe(200);
      expect((await get(stack, path, { key: 'admin' })).status).toBe(200);
    }
  });

  it('accepts the key as x-api-key, Authorization: Bearer or x-functions-key', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    const headerSets: Record<string, string>[] = [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }, { 'x-functions-key': key }];
    for (const headers of headerSets) expect((await post(stack, snapshot(), { key: null, headers })).status).toBe(201);
  });
});

describe('a key in the URL', () => {
  // Request URLs, query string included, land in request logs (Application Insights, proxies), so
  // a key is taken from a header only, even under the names Power BI's ApiKeyName or the Functions
  // host would use (docs/power-bi.md, "Who can see the reader key").
  it('is never taken as the credential, under any name, on a JSON route or the CSV export', async () => {
    for (const path of ['summary', 'events', 'export/results.csv']) {
      for (const name of ['code', 'key', 'api-key', 'x-api-key']) {
        const res = await stack.request(`${path}?${name}=${encodeURIComponent(TEST_KEYS.reader)}`, { key: null });
        // 401 (no key), or 400 for a parameter the route does not take: never the data.
        expect([400, 401], `${path}?${name}=`).toContain(res.status);
      }
    }
    expect(stack.roundTrips.count).toBe(0);
  });
});

describe('a host clock ahead of the service\'s', () => {
  // The service's clock, moved on by the test: what a collector meets when it sends a spooled
  // snapshot again at a later run.
  let movedOn = 0;
  let later: TestStack;
  beforeAll(async () => {
    later = await startTestStack({ rules: TEST_RULES, clock: () => Date.now() + movedOn });
  });
  afterAll(async () => later?.stop());

  it('the snapshot answered collected_in_future 6 minutes ahead is accepted, the same, once it is 4 minutes ahead', async () => {
    const server = 'slowpost.corp.contoso.com';
    const body = JSON.stringify(snapshot({ host: 'SLOWPOST', collectedAt: Date.now() + 6 * 60_000 }));
    const refused = await post(later, body);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('collected_in_future');
    expect(await later.app.store.readServer(server)).toEqual([]);

    movedOn = 2 * 60_000;
    const taken = await post(later, body);
    expect(taken.status).toBe(201);
    expect(taken.body.outcome).toBe('accepted');
    const rows = await later.app.store.readServer(server);
    expect(rows.length).toBe(TEST_RULES.length);
    expect(rows.every((r) => r.snapshotId === JSON.parse(body).snapshotId)).toBe(true);
  });
});
