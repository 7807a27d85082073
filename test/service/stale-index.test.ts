// The last-seen index (Lifecycle 'seen-<hour>' rows) holds one current row per server. The
// projector moves a server's row when its Hosts row is refreshed; a failed delete of the old hour
// keeps the outbox entry, so the next run finishes the move. A row left behind all the same is
// pruned by the stale-hosts job once the server's current row is elsewhere; a current row never.
// Several refreshes of one server projected together move its row once, from the stored hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleStore, seenPartition, type StoragePolicy } from '../../src/store';
import { injectedError } from '../support/faults';
import { alertRecords, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

const MIN = 60_000;
const T0 = Date.parse('2026-11-28T00:05:00.000Z');
let now = T0;
let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

/** Fails deletes of last-seen index rows while on. */
let failSeenDeletes = false;
const faultPolicy: StoragePolicy = {
  name: 'seenDeleteFault',
  sendRequest(request, next) {
    if (failSeenDeletes && request.method === 'DELETE' && /Lifecycle\(PartitionKey='seen-/.test(decodeURIComponent(request.url))) {
      throw injectedError(request, 503);
    }
    return next(request);
  },
};

const postAt = (host: string) => post(stack, snapshot({ host, collectedAt: now - MIN }));
const runStaleHosts = async () => {
  const r = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
  expect(r.status).toBe(200);
  return ((await r.json()) as { result: Record<string, number> }).result;
};
/** The index rows of a server: their partitions (hours), sorted. */
const seenRows = async (id: string) =>
  (await dumpTables(stack)).lifecycle!.map((r) => JSON.parse(r) as { partitionKey: string; Server?: string }).filter((r) => r.partitionKey.startsWith('seen-') && r.Server === id).map((r) => r.partitionKey).sort();

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [faultPolicy] });
});
afterAll(async () => stack?.stop());

describe('last-seen index clean-up', () => {
  it('a failed move is finished by the projector\'s next run; a row left behind anyway is pruned by the job', async () => {
    expect((await postAt('ORPHAN1')).status).toBe(201);
    expect(await seenRows(server('ORPHAN1'))).toEqual([seenPartition(T0)]);

    // An hour later the Hosts row is refreshed and the index row moves, but deleting the old one fails.
    now = T0 + 61 * MIN;
    failSeenDeletes = true;
    expect((await post(stack, snapshot({ host: 'ORPHAN1', collectedAt: now - MIN }))).status).toBe(201);
    await expect(stack.projected()).rejects.toThrow();
    expect(await seenRows(server('ORPHAN1'))).toEqual([seenPartition(T0), seenPartition(now)].sort());
    failSeenDeletes = false;
    // The outbox kept the work: the next run finishes the move.
    await stack.projected();
    expect(await seenRows(server('ORPHAN1'))).toEqual([seenPartition(now)]);

    // A row left behind all the same (an older version moved rows from the request, and a failed
    // delete stayed failed): the job prunes it once the server's current row is elsewhere.
    await new LifecycleStore(stack.app.store).recordSeen(server('ORPHAN1'), T0, undefined);
    now = T0 + 3 * 60 * MIN + 10 * MIN;
    expect((await postAt('ORPHAN1')).status).toBe(201);
    const run = await runStaleHosts();
    expect(run).toMatchObject({ markedStale: 0, pruned: 1 });
    expect(await seenRows(server('ORPHAN1'))).not.toContain(seenPartition(T0));
    expect((await seenRows(server('ORPHAN1'))).length).toBe(1);
  });

  it('a current row in an old hour (posting within the hour of its refresh) is kept and later marks the server stale', async () => {
    now = T0 + 5 * 60 * MIN;
    expect((await postAt('STEADY1')).status).toBe(201);
    const refreshed = now;
    now += 15 * MIN; // posts again within the hour: no refresh, the row stays at its hour
    expect((await postAt('STEADY1')).status).toBe(201);
    now = refreshed + 3 * 60 * MIN + 10 * MIN; // past the interval since the refresh, not since the last post
    const staleServers = async () => ((await stack.request('servers?stale=true').then((r) => r.json())) as { items: { server: string }[] }).items.map((i) => i.server);
    await runStaleHosts();
    expect(await staleServers()).not.toContain(server('STEADY1'));
    expect(await seenRows(server('STEADY1'))).toEqual([seenPartition(refreshed)]);
    now = refreshed + 3 * 60 * MIN + 20 * MIN;
    await runStaleHosts();
    expect(await staleServers()).toContain(server('STEADY1'));
  });

  it('two refreshes of one server projected in one batch move its row once: from the stored hour to the newest', async () => {
    now = T0 + 10 * 60 * MIN;
    expect((await postAt('TWICE1')).status).toBe(201);
    const stored = now;
    expect(await seenRows(server('TWICE1'))).toEqual([seenPartition(stored)]);
    // Two hourly refreshes before the projector runs: the second entry's previous sync is the
    // first's, whose index row was never written; the row to move is the one of the stored hour.
    now = stored + 61 * MIN;
    expect((await post(stack, snapshot({ host: 'TWICE1', collectedAt: now - MIN }), { drain: false })).status).toBe(201);
    now = stored + 122 * MIN;
    expect((await post(stack, snapshot({ host: 'TWICE1', collectedAt: now - MIN }), { drain: false })).status).toBe(201);
    await stack.projected();
    expect(await seenRows(server('TWICE1'))).toEqual([seenPartition(now)]);
  });
});

describe('a silent server with a row left behind in an older hour', () => {
  it('is marked stale once, with one ServerStale record, though both of its rows come up in one run', async () => {
    now = Date.parse('2026-11-30T00:05:00.000Z');
    expect((await postAt('TWOROWS')).status).toBe(201);
    // A row of an earlier hour that a failed move left behind.
    await new LifecycleStore(stack.app.store).recordSeen(server('TWOROWS'), now - 2 * 60 * MIN, undefined);
    now += 4 * 60 * MIN;
    await runStaleHosts();
    expect(alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerStale' && r.fields.server === server('TWOROWS'))).toHaveLength(1);
  });
});

describe('the stale scan of the index', () => {
  it('reads only rows synced before the threshold: rows of its hour synced after it take no place in the bounded scan', async () => {
    const lifecycle = new LifecycleStore(stack.app.store);
    const threshold = Date.parse('2026-11-29T10:30:00.000Z');
    // 520 servers synced in the threshold's hour, after it, whose ids sort before the silent one's.
    await lifecycle.recordSeenMany(Array.from({ length: 520 }, (_, i) => ({ server: `busy${String(i).padStart(3, '0')}.corp.contoso.com`, sync: threshold + 60_000 })));
    await lifecycle.recordSeenMany([{ server: 'zz-silent.corp.contoso.com', sync: threshold - 60_000 }]);
    const found = await lifecycle.listSeenUpTo(threshold, 500);
    expect(found.map((e) => e.server)).toContain('zz-silent.corp.contoso.com');
    expect(found.every((e) => e.sync <= threshold)).toBe(true);
  });
});
