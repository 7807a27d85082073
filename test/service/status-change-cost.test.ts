// What a status change costs in storage. The request: the server's partition (one query, which
// also checks the server key), the outbox entry (one upsert) and the commit (one transaction) —
// three round trips, with no ServerKeys read once the key is tagged. The projector then writes the
// fleet-wide tables for many servers at once: one Events transaction for the whole batch, and the
// rule index, History, raw snapshots and Hosts one transaction per bucket of servers. A request the
// SDK sends again (a dropped connection, a 503) is still one round trip: its retries count apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { bucketOf } from '../../src/store';
import { connectionReset, droppedAttempts, failedFirstAttempts, injectedError, oncePerRequest } from '../support/faults';
import { alertRecords, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { loadedTimeout } from '../support/load-timeouts';

/** The requests sent (each once: a retry of one is not another call). */
const seen: { method: string; path: string; query: boolean; table?: string }[] = [];
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'testRecordRequests',
  sendRequest(request, next) {
    if (!firstAttempt(request)) return next(request);
    const url = new URL(request.url);
    const path = decodeURIComponent(url.pathname).replace(/^\/devstoreaccount1/, '');
    // A query is `Table()` (with or without $filter); a point operation names its keys.
    // A transaction names its table in each operation's request line.
    const table = path === '/$batch' && typeof request.body === 'string' ? /\/([A-Za-z0-9]+)\(/.exec(request.body)?.[1] : undefined;
    seen.push({ method: request.method, path, query: request.method === 'GET' && /^\/[A-Za-z0-9]+\(\)$/.test(path), table });
    return next(request);
  },
};

const firstAttempts = failedFirstAttempts('testFailedFirstAttempts');
/** Below the injected faults: a connection a loaded machine drops costs a retry of its own. */
const dropped = droppedAttempts('testDroppedAttempts');

let stack: TestStack;
beforeAll(async () => {
  // The projector runs only when the test drains it, so what each side costs is measured apart.
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [recorder, firstAttempts.policy, dropped.policy], projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

const minutesAgo = (m: number) => Date.now() - m * 60_000;

/** Posts without draining the projector (what the request costs is measured apart from it). */
const postOnly = async (doc: Record<string, unknown>): Promise<number> => (await post(stack, doc, { drain: false })).status;

// Fleet-wide posts and projector drains through Azurite: measured 4.1 s and 4.7 s in a full run at load 6-7.
describe('storage cost of a status change', { timeout: loadedTimeout(4_700) }, () => {
  it('the request: one partition query, one outbox upsert, one commit transaction', async () => {
    const host = 'COST01';
    for (const [i, state] of ['Pass', 'Pass'].entries()) expect((await post(stack, snapshot({ host, testState: state, collectedAt: minutesAgo(30 - i) }))).status).toBe(201);
    stack.roundTrips.reset();
    stack.app.keyStore.counter.reset();
    expect(await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }))).toBe(201);

    expect(stack.roundTrips.count).toBe(3);
    expect(Object.fromEntries(stack.roundTrips.byTable)).toEqual({ Results: 1, Outbox: 1, $batch: 1 });
    expect(stack.app.keyStore.counter.count).toBe(0);
    // Nothing fleet-wide yet: the change's event appears when the projector runs.
    const warnings = async () =>
      ((await (await stack.request('events?server=cost01.corp.contoso.com&rule=test-alpha&status=Warning')).json()) as { items: { toStatus: string }[] }).items;
    expect(await warnings()).toHaveLength(0);
    await stack.projected();
    expect(await warnings()).toHaveLength(1);
  });

  it('an unchanged snapshot: two round trips, no outbox entry', async () => {
    const host = 'COST02';
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    stack.roundTrips.reset();
    expect(await postOnly(snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(20) }))).toBe(201);
    expect(stack.roundTrips.count).toBe(2);
    expect(stack.roundTrips.byTable.get('Outbox')).toBeUndefined();
  });

  it('a status change whose read meets a dropped connection and whose outbox upsert a 503: still three round trips, the two retries counted apart', async () => {
    const host = 'COST03';
    for (const [i, state] of ['Pass', 'Pass'].entries()) expect((await post(stack, snapshot({ host, testState: state, collectedAt: minutesAgo(30 - i) }))).status).toBe(201);
    stack.roundTrips.reset();
    dropped.count = 0;
    const path = (url: string) => decodeURIComponent(new URL(url).pathname);
    firstAttempts.next.push(
      (r) => (r.method === 'GET' && /\/Results\(/.test(path(r.url)) ? connectionReset(r) : undefined),
      (r) => (r.method !== 'GET' && /\/Outbox\(/.test(path(r.url)) ? injectedError(r, 503, 'Server busy') : undefined),
    );
    expect(await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }))).toBe(201);

    expect(firstAttempts.next).toHaveLength(0);
    expect(stack.roundTrips.count).toBe(3);
    expect(stack.roundTrips.writes).toBe(2);
    expect(Object.fromEntries(stack.roundTrips.byTable)).toEqual({ Results: 1, Outbox: 1, $batch: 1 });
    expect(stack.roundTrips.retries).toBe(2 + dropped.count);
    stack.roundTrips.reset();
    expect(stack.roundTrips.retries).toBe(0);
  });

  it('the projector: one Events transaction, and index, History and raw transactions per bucket of servers, for a burst', async () => {
    const hosts = Array.from({ length: 24 }, (_, i) => `BURST${String(i).padStart(2, '0')}`);
    for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    // The burst: every server changes status; nothing is projected yet.
    for (const host of hosts) expect(await postOnly(snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) }))).toBe(201);
    const counter = stack.app.projectorStore.counter;
    counter.reset();
    seen.length = 0;
    const run = await stack.projected();
    expect(run).toMatchObject({ status: 'done', projected: hosts.length, dropped: 0, waiting: 0, events: hosts.length, alertRecords: hosts.length });

    const writes = seen.filter((s) => s.method !== 'GET');
    // No History or raw row costs a call of its own: both go in transactions by bucket.
    expect(writes.filter((s) => s.path.startsWith('/Snapshots(') || s.path.startsWith('/History(')).length).toBe(0);
    const batches = writes.filter((s) => s.path === '/$batch').length;
    const buckets = new Set(hosts.map((h) => bucketOf(`${h.toLowerCase()}.corp.contoso.com`, 16))).size;
    expect(buckets).toBeLessThan(hosts.length);
    // events (1) + History and raw snapshots (one per bucket of servers each) + rule index (one per
    // counts shard of test-alpha) + outbox removal (one per 100 entries): all by bucket, none per server.
    expect(batches).toBeLessThanOrEqual(1 + buckets + buckets + buckets + buckets);
    const batchesOf = (table: string) => writes.filter((s) => s.path === '/$batch' && s.table === table).length;
    expect(batchesOf('History')).toBe(buckets);
    expect(batchesOf('Snapshots')).toBe(buckets);
    expect(batchesOf('Events')).toBe(1);
    // No proof reads (this process saw the commits), one outbox listing, no Results reads at all.
    expect(seen.filter((s) => s.path.startsWith('/Results')).length).toBe(0);
    // A look whether anything waits (an idle tick stops there), the batch's listing, and after the
    // run the read of what still waits (keys and times only: the backlog it logs).
    expect(seen.filter((s) => s.query && s.path === '/Outbox()').length).toBe(3);
    // Every change's alert record, once.
    const records = alertRecords(stack).filter((a) => String(a.fields.server).startsWith('burst') && a.name === 'FleetPosture.NewFinding');
    expect(records).toHaveLength(hosts.length);
    expect(new Set(records.map((r) => r.fields.recordId)).size).toBe(hosts.length);
  });
  it('a collector upgrade across the fleet: one drain shows every server\'s new version, Hosts and the last-seen index written per bucket', async () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `UPGRADE${String(i).padStart(2, '0')}`);
    const serverOf = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
    for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
    // The Hosts data as the API pages through it (Power BI's Hosts table).
    const fleet = async () => new Map((await getAll(stack, 'servers')).items.filter((i: Json) => String(i.server).startsWith('upgrade')).map((i: Json) => [i.server as string, i]));
    const before = await fleet();
    expect(before.size).toBe(hosts.length);
    for (const host of hosts) expect(before.get(serverOf(host))?.collectorVersion).toBe('1.0.0');
    // The rollout: every server posts with the new collector (its host facts change; no status does).
    for (const host of hosts) expect(await postOnly(snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(5), collectorVersion: '1.1.0' }))).toBe(201);
    seen.length = 0;
    const run = await stack.projected();
    expect(run).toMatchObject({ status: 'done', projected: hosts.length, dropped: 0, waiting: 0 });
    const drained = [...seen];

    const after = await fleet();
    expect(after.size).toBe(hosts.length);
    for (const host of hosts) {
      expect(after.get(serverOf(host))?.collectorVersion, host).toBe('1.1.0');
      expect(after.get(serverOf(host))?.firstSeen, host).toBe(before.get(serverOf(host))?.firstSeen);
    }
    const buckets = new Set(hosts.map((h) => bucketOf(serverOf(h), 16))).size;
    const onTable = (table: string) => drained.filter((s) => s.path.startsWith(`/${table}(`) || (s.path === '/$batch' && s.table === table));
    // Hosts: a range read and one write (a transaction, or a single write for a lone server) per bucket, no read per server.
    const hostCalls = onTable('Hosts');
    expect(hostCalls.filter((s) => s.query)).toHaveLength(buckets);
    expect(hostCalls.filter((s) => s.method === 'GET' && !s.query)).toHaveLength(0);
    expect(hostCalls.length).toBeLessThanOrEqual(2 * buckets);
    // The last-seen index: upserts by hour (40 rows: one transaction, two if the hour turned since
    // the first posts, and the old hour's deletes), and one read of the stale markers.
    const lifecycleCalls = onTable('Lifecycle');
    expect(lifecycleCalls.filter((s) => s.query)).toHaveLength(1);
    expect(lifecycleCalls.length).toBeLessThanOrEqual(3);
  });
});
