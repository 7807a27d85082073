// A server that enrolled and has not posted yet, over real HTTP on Azurite: every read of one
// server (by id or host name) answers 404 saying it enrolled and has no snapshot accepted yet,
// and where it and a refused snapshot show, instead of "no server is known"; a name that never
// enrolled keeps the plain answer; its removal says there is nothing to remove but its key, and
// names the route that revokes it. None of these changes anything. Two hours after its key was
// issued with still nothing stored, GET /api/refused-servers lists it (never-posted) for 30 days,
// and every stale-hosts run logs FleetPosture.ServerNeverPosted for it, which an alert counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fqdn } from '../support/enrolment-client';
import { alertRecords, get, type Json } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

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

const READS = (name: string) => [`servers/${name}`, `servers/${name}/history`, `servers/${name}/drift?rule=mcafee-port25-blocked`, `results?server=${name}`, `events?server=${name}`];

describe('a server that enrolled and has not posted', () => {
  it('is a 404 that says it enrolled and has no snapshot yet, by its id and by its host name', async () => {
    const said =
      `Server "${WAITING}" has enrolled but no snapshot of it has been accepted yet: its results, history and drift appear with its first one ` +
      `(GET /api/refused-servers lists it once two hours pass without one; a refused snapshot is logged as FleetPosture.SnapshotRejected).`;
    for (const name of [WAITING, 'WAIT01', 'wait01']) {
      for (const path of READS(name)) {
        const r = await get(stack, path);
        expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 404, body: { error: 'not_found', message: said } });
      }
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

  it('reads the recently enrolled servers oldest key first, within the span asked, and says when it stopped at its limit', async () => {
    const extra = [fqdn('SPAN01'), fqdn('SPAN02'), fqdn('SPAN03')];
    const issued: number[] = [];
    for (const [i, server] of extra.entries()) {
      now = enrolledAt + (i + 1) * 60_000;
      issued.push(now);
      await stack.serverKey(server);
    }
    const span = (max: number) => stack.app.keyStore.activeKeysIssuedBetween(issued[0]!, issued[2]!, max);
    const all = await span(10);
    expect(all).toEqual({ servers: extra.map((server, i) => ({ server, issuedAt: issued[i] })), truncated: false });
    const cut = await span(2);
    expect(cut.truncated).toBe(true);
    expect(cut.servers).toHaveLength(2);
    expect(cut.servers.map((s) => s.issuedAt)).toEqual([...cut.servers.map((s) => s.issuedAt)].sort((a, b) => a - b));
    // Outside the span: the servers enrolled before it (the stack's own, WAIT01, POST01) are not read.
    expect((await stack.app.keyStore.activeKeysIssuedBetween(issued[1]!, issued[1]!, 10)).servers).toEqual([{ server: extra[1], issuedAt: issued[1] }]);
    now = enrolledAt;
  });

  it('is listed by GET /api/refused-servers and logged by the stale-hosts run once two hours pass without a snapshot, for 30 days; one that posted never is', async () => {
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
    now = enrolledAt + 2 * HOUR - 60_000;
    expect(await listed()).toEqual([]);
    await staleRun();
    expect(recordsOf(WAITING)).toEqual([]);
    now = enrolledAt + 2 * HOUR + 60_000;
    expect(await listed()).toEqual([
      { server: WAITING, reasons: ['never-posted'], keyRevokedAt: null, keyIssuedAt: new Date(enrolledAt).toISOString(), lastRefusal: null, requests: [] },
    ]);
    expect(await staleRun()).toMatchObject({ neverPosted: expect.any(Number), neverPostedAtLeast: false });
    expect(await staleRun()).toMatchObject({ neverPosted: expect.any(Number), neverPostedAtLeast: false });
    const record = { name: 'FleetPosture.ServerNeverPosted', fields: { server: WAITING, keyIssuedAt: new Date(enrolledAt).toISOString() } };
    expect(recordsOf(WAITING)).toEqual([record, record]);
    expect(recordsOf(POSTED)).toEqual([]);
    now = enrolledAt + 31 * 24 * HOUR;
    expect(await listed()).toEqual([]);
    await staleRun();
    expect(recordsOf(WAITING)).toHaveLength(2);
  });
});
