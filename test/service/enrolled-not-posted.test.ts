// A server that enrolled and has not posted yet, over real HTTP on Azurite: every read of one
// server (by id or host name) answers 404 saying it enrolled and has no snapshot accepted yet,
// and where it and a refused snapshot show, instead of "no server is known"; a name that never
// enrolled keeps the plain answer; its removal says there is nothing to remove but its key, and
// names the route that revokes it. None of these changes anything. Two hours after its key was
// issued with still nothing stored, readers' GET /api/servers?neverPosted=true (which writes
// nothing) and GET /api/refused-servers list it (never-posted), and every stale-hosts run logs
// FleetPosture.ServerNeverPosted for it, which an alert counts, for as long as it has an active
// key and has not posted: a month or a year later too. The stale-hosts run marks
// a server's key head once it finds a snapshot stored, so later listings do not hold it; a listing
// marks nothing, and the mark outlasts key rotation and revocation. A head written before heads
// said so is looked at by the stale-hosts run within 30 days of its key, as all were then, and
// given the mark it lacks, by which the listings then find it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fqdn } from '../support/enrolment-client';
import { alertRecords, get, type Json } from '../support/http';
import { snapshot } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';
import { encodeKey } from '../../src/store';

let stack: TestStack;
const WAITING = fqdn('WAIT01');
const POSTED = fqdn('POST01');
const HOUR = 60 * 60_000;
/** The service's clock, moved on by the last test. */
let now = Date.now();
let enrolledAt = 0;

beforeAll(async () => {
  stack = await startTestStack({ clock: () => now });
  enrolledAt = now;
  await stack.serverKey(WAITING);
  const r = await fetch(`${stack.baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(POSTED) },
    body: JSON.stringify(snapshot({ host: 'POST01', collectedAt: now - 60_000 })),
  });
  expect(r.status).toBe(201);
  await r.text();
}, 120_000);
afterAll(async () => stack?.stop());

/** GET /api/servers?neverPosted=true with the reader's key: WAIT01 and POST01 only (the stack's own default server never posted either). */
async function readersList(): Promise<Json[]> {
  const before = await dumpTables(stack);
  const r = await get(stack, 'servers?neverPosted=true');
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ truncated: false });
  // Reading the list writes nothing, not even the mark of a server found to have posted.
  expect(await dumpTables(stack)).toEqual(before);
  const items = r.body.items as Json[];
  expect(items.map((i) => Date.parse(String(i.keyIssuedAt)))).toEqual(items.map((i) => Date.parse(String(i.keyIssuedAt))).sort((a, b) => a - b));
  return items.filter((i) => i.server === WAITING || i.server === POSTED);
}

const READS = (name: string) => [`servers/${name}`, `servers/${name}/history`, `servers/${name}/drift?rule=mcafee-port25-blocked`, `results?server=${name}`, `events?server=${name}`];

describe('a server that enrolled and has not posted', () => {
  it('is a 404 that says it enrolled and has no snapshot yet, by its id and by its host name', async () => {
    const said =
      `Server "${WAITING}" has enrolled but no snapshot of it has been accepted yet: its results, history and drift appear with its first one ` +
      `(GET /api/servers?neverPosted=true lists it once two hours pass without one, and GET /api/refused-servers says why its collector is refused; ` +
      `a refused snapshot is logged as FleetPosture.SnapshotRejected).`;
    for (const name of [WAITING, 'WAIT01', 'wait01']) {
      for (const path of READS(name)) {
        const r = await get(stack, path);
        expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 404, body: { error: 'not_found', message: said } });
      }
    }
  });

  it('refuses a never-posted list asked for with another list or a page, and one asked false, in one sentence', async () => {
    const cases: [string, string][] = [
      ['servers?neverPosted=false', '"neverPosted" may only be true (the servers that enrolled and never posted); leave it out for every server.'],
      ['servers?neverPosted=true&stale=true', 'Ask for stale=true or neverPosted=true, not both: a stale server has posted.'],
      ['servers?neverPosted=true&top=5', 'The answer to neverPosted=true comes whole: "top" and "continuationToken" do not apply to it.'],
      ['servers?stale=true&continuationToken=abc', 'The answer to stale=true comes whole: "top" and "continuationToken" do not apply to it.'],
      ['servers?neverPosted=maybe', 'The query parameter "neverPosted" must be true or false, not "maybe".'],
    ];
    for (const [path, message] of cases) {
      const r = await get(stack, path);
      expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 400, body: { error: 'invalid_query', message } });
    }
  });

  it('leaves the plain answer for a name that never enrolled', async () => {
    for (const path of READS('nowhere01')) {
      const r = await get(stack, path);
      expect(r.status).toBe(404);
      expect(r.body.message).toBe('No server "nowhere01" is known: no server has that id (its FQDN, lower case) or a host name that begins one.');
    }
  });

  it('is removed as nothing, naming the route that revokes its key, and stays enrolled', async () => {
    const before = await dumpTables(stack);
    const r = await stack.request(`servers/${WAITING}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: 'not_found',
      message: `No snapshot from server "${WAITING}" has been stored, so there is nothing to remove; a key issued to it is revoked with DELETE /api/servers/${WAITING}/key.`,
    });
    expect(await dumpTables(stack)).toEqual(before);
  });

  it('lists the servers awaiting their first post oldest key first, up to the time asked, and says when it stopped at its limit', async () => {
    const extra = [fqdn('SPAN01'), fqdn('SPAN02'), fqdn('SPAN03')];
    const issued: number[] = [];
    for (const [i, server] of extra.entries()) {
      now = enrolledAt + (i + 1) * 60_000;
      issued.push(now);
      await stack.serverKey(server);
    }
    const awaiting = async (to: number, max: number) => {
      const r = await stack.app.keyStore.keysAwaitingFirstPost(to, to, max);
      return { ...r, servers: r.servers.filter((s) => extra.includes(s.server)) };
    };
    // Marked heads are listed whenever their key was issued: the span's start is for unmarked ones.
    expect(await awaiting(issued[2]!, 10)).toEqual({ servers: extra.map((server, i) => ({ server, issuedAt: issued[i] })), truncated: false });
    const all = await stack.app.keyStore.keysAwaitingFirstPost(issued[2]!, issued[2]!, 100);
    const cut = await stack.app.keyStore.keysAwaitingFirstPost(issued[2]!, issued[2]!, all.servers.length - 1);
    expect(cut.truncated).toBe(true);
    expect(cut.servers).toHaveLength(all.servers.length - 1);
    expect(cut.servers.map((s) => s.issuedAt)).toEqual([...cut.servers.map((s) => s.issuedAt)].sort((a, b) => a - b));
    // Keys issued after the time asked are not listed.
    expect((await awaiting(issued[1]!, 10)).servers).toEqual(extra.slice(0, 2).map((server, i) => ({ server, issuedAt: issued[i] })));
    for (const server of extra) expect((await stack.request(`servers/${server}/key`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
    // A revoked key awaits nothing.
    expect((await awaiting(issued[2]!, 10)).servers).toEqual([]);
    now = enrolledAt;
  });

  it('is listed by GET /api/refused-servers and logged by the stale-hosts run once two hours pass without a snapshot, as long as its key is active, a year on too; one that posted never is', async () => {
    const listed = async () => {
      const r = await stack.request('refused-servers', { key: 'admin' });
      expect(r.status).toBe(200);
      // The stack's own default server enrolled and never posted either: only these two are looked at.
      return ((await r.json()) as { items: Json[] }).items.filter((i) => i.server === WAITING || i.server === POSTED);
    };
    // The stale-hosts run logs one record per server listed, each run, for the alert.
    const staleRun = async () => {
      const r = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
      expect(r.status).toBe(200);
      return ((await r.json()) as Json).result as Json;
    };
    const recordsOf = (server: string) => alertRecords(stack).filter((a) => a.name === 'FleetPosture.ServerNeverPosted' && a.fields.server === server);
    expect(await listed()).toEqual([]);
    expect(await readersList()).toEqual([]);
    now = enrolledAt + 2 * HOUR - 60_000;
    expect(await listed()).toEqual([]);
    expect(await readersList()).toEqual([]);
    await staleRun();
    expect(recordsOf(WAITING)).toEqual([]);
    now = enrolledAt + 2 * HOUR + 60_000;
    expect(await listed()).toEqual([
      { server: WAITING, reasons: ['never-posted'], keyRevokedAt: null, keyIssuedAt: new Date(enrolledAt).toISOString(), lastRefusal: null, requests: [] },
    ]);
    expect(await readersList()).toEqual([{ server: WAITING, keyIssuedAt: new Date(enrolledAt).toISOString() }]);
    expect(await staleRun()).toMatchObject({ neverPosted: expect.any(Number), neverPostedAtLeast: false });
    expect(await staleRun()).toMatchObject({ neverPosted: expect.any(Number), neverPostedAtLeast: false });
    const record = { name: 'FleetPosture.ServerNeverPosted', fields: { server: WAITING, keyIssuedAt: new Date(enrolledAt).toISOString() } };
    expect(recordsOf(WAITING)).toEqual([record, record]);
    expect(recordsOf(POSTED)).toEqual([]);
    // POST01's head is marked by those runs, WAIT01's still says it has not posted.
    const heads = async () => {
      const out: Record<string, unknown> = {};
      for await (const e of stackTables(stack).serverKeys.listEntities<{ Server: string; Posted?: boolean }>({ queryOptions: { filter: "RowKey eq '~head'" } })) out[e.Server] = e.Posted;
      return out;
    };
    expect(await heads()).toMatchObject({ [WAITING]: false, [POSTED]: true });
    for (const days of [31, 400]) {
      now = enrolledAt + days * 24 * HOUR;
      expect(await listed()).toEqual([
        { server: WAITING, reasons: ['never-posted'], keyRevokedAt: null, keyIssuedAt: new Date(enrolledAt).toISOString(), lastRefusal: null, requests: [] },
      ]);
      expect(await readersList()).toEqual([{ server: WAITING, keyIssuedAt: new Date(enrolledAt).toISOString() }]);
      await staleRun();
    }
    expect(recordsOf(WAITING)).toEqual([record, record, record, record]);
    expect(recordsOf(POSTED)).toEqual([]);
    // The admin gives up on it: a revoked key is listed as such, and no longer as never-posted.
    expect((await stack.request(`servers/${WAITING}/key`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
    expect((await listed()).map((i) => i.reasons)).toEqual([['no-active-key']]);
    expect(await readersList()).toEqual([]);
    await staleRun();
    expect(recordsOf(WAITING)).toHaveLength(4);
  });

  it('leaves a head written before heads said whether the server posted to the stale-hosts run, which marks it within 30 days of its key, so the listings find it', async () => {
    const older = [fqdn('OLDHEAD1'), fqdn('OLDHEAD2'), fqdn('OLDHEAD3')];
    const base = enrolledAt + 24 * HOUR;
    now = base;
    for (const server of older) await stack.serverKey(server);
    const keys = stackTables(stack).serverKeys;
    const heads = new Map<string, { partitionKey: string; UpdatedAt: unknown }>();
    for await (const e of keys.listEntities<{ Server: string; UpdatedAt: unknown }>({ queryOptions: { filter: "RowKey eq '~head'" } })) {
      if (older.includes(e.Server)) heads.set(e.Server, { partitionKey: e.partitionKey!, UpdatedAt: e.UpdatedAt });
    }
    // As an earlier version wrote them: no Posted column. OLDHEAD3's key is 40 days old.
    for (const [server, head] of heads) {
      const { etag: _etag, timestamp: _ts, Posted: _posted, ...rest } = await keys.getEntity<Record<string, unknown>>(head.partitionKey, '~head');
      const updatedAt = server === older[2] ? new Date(base - 40 * 24 * HOUR) : rest.UpdatedAt;
      await keys.updateEntity({ ...rest, partitionKey: head.partitionKey, rowKey: '~head', UpdatedAt: updatedAt }, 'Replace');
    }
    const posted = await fetch(`${stack.baseUrl}/api/snapshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(older[1]!) },
      body: JSON.stringify(snapshot({ host: 'OLDHEAD2', collectedAt: now - 60_000 })),
    });
    expect(posted.status).toBe(201);
    await posted.text();
    const headOf = async (server: string) => (await keys.getEntity<Record<string, unknown>>(heads.get(server)!.partitionKey, '~head')).Posted;
    // The post rewrote nothing of the head: whether it posted is learnt by the stale-hosts run.
    expect(await headOf(older[1]!)).toBeUndefined();
    now = base + 3 * HOUR;
    const listed = async () => {
      const r = await stack.request('refused-servers', { key: 'admin' });
      return ((await r.json()) as { items: Json[] }).items.map((i) => i.server).filter((s) => older.includes(String(s)));
    };
    // A listing reads the heads marked not posted alone: these wait for the run.
    expect(await listed()).toEqual([]);
    const readers = async () => ((await get(stack, 'servers?neverPosted=true')).body.items as Json[]).map((i) => String(i.server)).filter((s) => older.includes(s));
    expect(await readers()).toEqual([]);
    expect(await headOf(older[1]!)).toBeUndefined();
    const run = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
    expect(run.status).toBe(200);
    expect(alertRecords(stack).filter((a) => a.name === 'FleetPosture.ServerNeverPosted' && older.includes(String(a.fields.server))).map((a) => a.fields.server)).toEqual([older[0]]);
    // The run gave each head of the last 30 days the mark it lacked; the head of a 40-day-old key stays as it was.
    expect([await headOf(older[0]!), await headOf(older[1]!), await headOf(older[2]!)]).toEqual([false, true, undefined]);
    expect(await listed()).toEqual([older[0]]);
    expect(await readers()).toEqual([older[0]]);
  });
  it('keeps the mark through every change of the server\'s keys, and gives a server without a head none', async () => {
    const server = fqdn('MARKED01');
    await stack.serverKey(server);
    const keys = stackTables(stack).serverKeys;
    const head = async () => {
      const { etag: _etag, timestamp: _ts, ...rest } = await keys.getEntity<Record<string, unknown>>(encodeKey(server), '~head');
      return rest;
    };
    const before = await head();
    expect(before.Posted).toBe(false);
    await stack.app.keyStore.markPosted(server);
    // Only the column changes.
    expect(await head()).toEqual({ ...before, Posted: true });
    const rotated = await stack.request(`servers/${server}/key/rotate`, { method: 'POST', key: 'admin' });
    expect(rotated.status).toBe(201);
    expect(await head()).toMatchObject({ Posted: true, CurrentKeyId: expect.not.stringMatching(String(before.CurrentKeyId)) });
    expect((await stack.request(`servers/${server}/key`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
    expect(await head()).toMatchObject({ Posted: true, CurrentKeyId: '' });
    // The "not posted" mark is given only to the head as it was read: this one changed since.
    const marked = await head();
    await stack.app.keyStore.markNotPosted(server, 'W/"datetime\'2026-01-01T00%3A00%3A00.0000000Z\'"');
    expect(await head()).toEqual(marked);
    const nowhere = fqdn('NOHEAD01');
    await stack.app.keyStore.markNotPosted(nowhere, '*');
    await stack.app.keyStore.markPosted(nowhere);
    const rows: unknown[] = [];
    for await (const e of keys.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(nowhere)}'` } })) rows.push(e);
    expect(rows).toEqual([]);
  });
});
