// Hosts rows for many servers at once (the projector after a collector upgrade or a patch wave):
// per bucket one range read and a transaction per 100 rows, under putHost's rules — the first-seen
// time kept, a row of a newer snapshot never replaced by an older one — and a transaction that
// meets another writer falls back to the one-server path for its servers only. The stale-host
// bookkeeping of those refreshes is batched too. Against real Azurite.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StaleHosts } from '../../src/app/stale-hosts';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { bucketOf, encodeKey, EventStore, HostStore, LifecycleStore, seenPartition, type HostRecord, type PostureStore, type StoragePolicy } from '../../src/store';
import { hostToEntity } from '../../src/store/entities';
import { createTestStore, createTestTables } from '../support/stack';

const HOST_BUCKETS = 16;

/** Runs once, just before the next transaction sent to the Hosts table: another writer's move. */
let beforeNextHostsBatch: ((body: string) => Promise<void>) | undefined;
const interleave: StoragePolicy = {
  name: 'testInterleaveWriter',
  async sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const hook = beforeNextHostsBatch;
    if (hook && request.url.endsWith('$batch') && /\/Hosts\(/.test(body)) {
      beforeNextHostsBatch = undefined;
      await hook(body);
    }
    return next(request);
  },
};

let azurite: AzuriteHandle;
let store: PostureStore;
let hostStore: HostStore;
let eventStore: EventStore;
let hosts: TableClient;
let lifecycleTable: TableClient;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1, policies: [interleave] });
  await store.ensureTables();
  hostStore = new HostStore(store);
  eventStore = new EventStore(store);
  ({ hosts, lifecycle: lifecycleTable } = createTestTables({ connectionString: azurite.connectionString }));
});
afterAll(async () => azurite?.stop());
beforeEach(() => {
  beforeNextHostsBatch = undefined;
});

const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const HOUR = 3_600_000;

function host(server: string, collectedHours: number, collectorVersion = '1.0.0', firstSeenHours = collectedHours): HostRecord {
  return {
    server,
    hostName: server.split('.')[0]!.toUpperCase(),
    fqdn: server,
    osCaption: 'Microsoft Windows Server 2003 R2 Enterprise Edition',
    osVersion: '5.2.3790',
    osArchitecture: '32-bit',
    utcOffsetMinutes: 540,
    collectorName: 'Send-PostureSnapshot',
    collectorVersion,
    firstSeen: T0 + firstSeenHours * HOUR,
    lastSeen: T0 + collectedHours * HOUR + 1000,
    lastSnapshotId: `snap-${server}-${collectedHours}`,
    lastCollectedAt: T0 + collectedHours * HOUR,
    hostHash: `hash-${collectorVersion}`,
  };
}

const fleet = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}.corp.example`);

describe('Hosts rows for many servers', () => {
  it('300 servers cost one read per bucket and a transaction per bucket of ≤ 100 rows, first write and upgrade alike', async () => {
    const servers = fleet('up', 300);
    const buckets = new Set(servers.map((s) => bucketOf(s, HOST_BUCKETS))).size;
    expect(buckets).toBe(HOST_BUCKETS);
    // The bound asserted: 16 range reads + 16 transactions + ⌈300/100⌉ for buckets above 100 rows.
    const bound = 2 * HOST_BUCKETS + Math.ceil(servers.length / 100);

    store.counter.reset();
    await hostStore.putHosts(servers.map((s) => host(s, 1)));
    const firstReads = store.counter.count - store.counter.writes;
    expect(firstReads).toBe(HOST_BUCKETS);
    expect(store.counter.writes).toBeGreaterThanOrEqual(HOST_BUCKETS);
    expect(store.counter.writes).toBeLessThanOrEqual(HOST_BUCKETS + Math.ceil(servers.length / 100));
    expect(store.counter.count).toBeLessThanOrEqual(bound);

    // Every server's collector changes at once (a rollout): the same bound, not two calls per server.
    store.counter.reset();
    await hostStore.putHosts(servers.map((s) => host(s, 2, '1.1.0', 2)));
    expect(store.counter.count - store.counter.writes).toBe(HOST_BUCKETS);
    expect(store.counter.count).toBeLessThanOrEqual(bound);

    for (const s of [servers[0]!, servers[151]!, servers[299]!]) {
      const row = await hostStore.getHost(s);
      expect(row?.collectorVersion, s).toBe('1.1.0');
      expect(row?.lastCollectedAt, s).toBe(T0 + 2 * HOUR);
      // First seen is the first write's, not the upgrade's.
      expect(row?.firstSeen, s).toBe(T0 + HOUR);
    }
    const all: HostRecord[] = [];
    for (let token: string | undefined, first = true; first || token; first = false) {
      const page = await hostStore.listHosts(1000, token);
      all.push(...page.items.filter((h) => h.server.startsWith('up')));
      token = page.continuationToken;
    }
    expect(all).toHaveLength(300);
    expect(all.every((h) => h.collectorVersion === '1.1.0' && h.firstSeen === T0 + HOUR)).toBe(true);
  });

  it('a bucket above 100 rows splits into transactions of at most 100', async () => {
    // 250 servers that all fall in one bucket.
    const servers = fleet('one', 4000).filter((s) => bucketOf(s, HOST_BUCKETS) === 'b03').slice(0, 250);
    expect(servers).toHaveLength(250);
    store.counter.reset();
    await hostStore.putHosts(servers.map((s) => host(s, 1)));
    expect(store.counter.count - store.counter.writes).toBe(1);
    expect(store.counter.writes).toBe(3);
    expect((await hostStore.getHost(servers[249]!))?.lastCollectedAt).toBe(T0 + HOUR);
  });

  it('an older snapshot does not replace a newer row; first seen is the earliest; a server twice in a list counts once', async () => {
    const servers = fleet('order', 40);
    await hostStore.putHosts(servers.map((s) => host(s, 5, '2.0.0')));
    // Half of them get an older snapshot's facts (a late replay), the other half a newer one that
    // claims a later first-seen time; one server comes twice, the older entry last.
    const older = servers.slice(0, 20).map((s) => host(s, 3, '1.0.0', 0));
    const newer = servers.slice(20).map((s) => host(s, 6, '2.1.0', 6));
    const twice = servers[39]!;
    await hostStore.putHosts([...older, ...newer, host(twice, 4, '1.9.0', 4)]);
    for (const s of servers.slice(0, 20)) {
      const row = await hostStore.getHost(s);
      expect([row?.collectorVersion, row?.lastCollectedAt, row?.firstSeen], s).toEqual(['2.0.0', T0 + 5 * HOUR, T0 + 5 * HOUR]);
    }
    for (const s of servers.slice(20, 39)) {
      const row = await hostStore.getHost(s);
      expect([row?.collectorVersion, row?.lastCollectedAt, row?.firstSeen], s).toEqual(['2.1.0', T0 + 6 * HOUR, T0 + 5 * HOUR]);
    }
    // The newer entry's facts, the older entry's earlier first-seen time.
    const row = await hostStore.getHost(twice);
    expect([row?.collectorVersion, row?.lastCollectedAt, row?.firstSeen]).toEqual(['2.1.0', T0 + 6 * HOUR, T0 + 4 * HOUR]);
  });

  it('a transaction that meets another writer falls back for its servers only; the end state is the newest of both', async () => {
    const servers = fleet('race', 200);
    await hostStore.putHosts(servers.map((s) => host(s, 1)));
    // The concurrent writer changes one row of the first transaction sent, after the batch read it:
    // a newer snapshot's facts, which must survive; and creates a row for a new server of that
    // transaction, with an earlier first-seen time, which must be kept.
    let touched: { bucket: string; changed: string; created: string } | undefined;
    // New servers, one in each bucket.
    const fresh = [...new Map(fleet('racenew', 400).map((s) => [bucketOf(s, HOST_BUCKETS), s])).values()];
    expect(fresh).toHaveLength(HOST_BUCKETS);
    beforeNextHostsBatch = async (body) => {
      const inBatch = [...servers, ...fresh].filter((s) => body.includes(encodeKey(s)));
      const changed = inBatch.find((s) => servers.includes(s))!;
      const created = inBatch.find((s) => fresh.includes(s))!;
      touched = { bucket: bucketOf(changed, HOST_BUCKETS), changed, created };
      await hosts.upsertEntity(hostToEntity(host(changed, 9, 'other-writer', 1), bucketOf(changed, HOST_BUCKETS)), 'Replace');
      await hosts.createEntity(hostToEntity(host(created, 1, 'other-writer', 0), bucketOf(created, HOST_BUCKETS)));
    };
    store.counter.reset();
    await hostStore.putHosts([...servers.map((s) => host(s, 2, '3.0.0', 2)), ...fresh.map((s) => host(s, 2, '3.0.0', 2))]);
    const calls = store.counter.count;
    expect(touched).toBeDefined();
    expect(beforeNextHostsBatch).toBeUndefined();
    const { bucket, changed, created } = touched!;
    expect(bucketOf(created, HOST_BUCKETS)).toBe(bucket);

    // The other writer's newer row stands; the created row carries this batch's facts with the other writer's earlier first seen.
    expect(await hostStore.getHost(changed)).toMatchObject({ collectorVersion: 'other-writer', lastCollectedAt: T0 + 9 * HOUR });
    expect(await hostStore.getHost(created)).toMatchObject({ collectorVersion: '3.0.0', lastCollectedAt: T0 + 2 * HOUR, firstSeen: T0 });
    for (const s of [...servers, ...fresh].filter((x) => x !== changed)) {
      const row = await hostStore.getHost(s);
      expect(row?.collectorVersion, s).toBe('3.0.0');
      expect(row?.firstSeen, s).toBe(s === created ? T0 : servers.includes(s) ? T0 + HOUR : T0 + 2 * HOUR);
    }
    // Only the refused transaction's servers took the one-server path (a read and a write each, at
    // most a few retries): the other buckets stayed within their per-bucket cost.
    const inBucket = [...servers, ...fresh].filter((s) => bucketOf(s, HOST_BUCKETS) === bucket).length;
    const batched = 2 * HOST_BUCKETS + Math.ceil((servers.length + fresh.length) / 100);
    expect(calls).toBeGreaterThan(batched);
    expect(calls).toBeLessThanOrEqual(batched + 2 * Math.min(inBucket, 100) + 4);
  });
});

describe('the stale-host bookkeeping of many refreshes', () => {
  it('moves 300 last-seen rows in transactions per hour, clears only the stale markers there are, and reports those servers back', async () => {
    const lifecycle = new LifecycleStore(store);
    const servers = fleet('seen', 300);
    const sync1 = T0 + 10 * HOUR + 60_000;
    const sync2 = T0 + 11 * HOUR + 60_000;
    await lifecycle.recordSeenMany(servers.map((server) => ({ server, sync: sync1 })));
    const back = [servers[3]!, servers[150]!, servers[299]!];
    for (const s of back) expect(await lifecycle.markStale({ server: s, lastSeen: T0, staleSince: T0 + HOUR, lastSnapshotId: `snap-${s}` })).toBe(true);
    // A marker of a server outside the batch stays.
    expect(await lifecycle.markStale({ server: 'other.corp.example', lastSeen: T0, staleSince: T0 + HOUR, lastSnapshotId: 'snap-other' })).toBe(true);

    const lines: string[] = [];
    const stale = new StaleHosts({ events: eventStore, lifecycle, clock: () => sync2 + 1000, staleAfterMinutes: 60 });
    store.counter.reset();
    await stale.hostsSynced(
      servers.map((server) => ({ server, previous: sync1, now: sync2, snapshotId: `snap-${server}-2` })),
      { log: (m) => lines.push(m) },
    );
    // 3 upsert transactions + 3 delete transactions + 1 marker read + 3 marker claims and 3
    // deletes + the Returned events (one Events transaction and History by bucket, at most 3 here).
    const perServerBefore = 3 * servers.length;
    expect(store.counter.count).toBeLessThanOrEqual(3 + 3 + 1 + 2 * back.length + 1 + back.length);
    expect(store.counter.count).toBeLessThan(perServerBefore / 20);

    const keys = async (pk: string) => {
      const out: string[] = [];
      for await (const e of lifecycleTable.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'`, select: ['RowKey'] } })) out.push(String(e.rowKey));
      return out.sort();
    };
    expect(await keys(seenPartition(sync1))).toEqual([]);
    expect(await keys(seenPartition(sync2))).toEqual(servers.map(encodeKey).sort());
    expect((await lifecycle.listStale()).map((m) => m.server)).toEqual(['other.corp.example']);
    const returned = lines.filter((l) => l.includes('FleetPosture.ServerReturned'));
    expect(returned).toHaveLength(back.length);
    for (const s of back) expect(returned.some((l) => l.includes(s))).toBe(true);
    const events = await eventStore.listEvents({ causes: ['returned'] }, 100);
    expect(events.items.map((e) => e.server).sort()).toEqual([...back].sort());

    // Again (a replay of the same batch): the rows stay, no marker to clear, nothing reported twice.
    await stale.hostsSynced(
      servers.map((server) => ({ server, previous: sync1, now: sync2, snapshotId: `snap-${server}-2` })),
      { log: (m) => lines.push(m) },
    );
    expect(await keys(seenPartition(sync2))).toHaveLength(300);
    expect(lines.filter((l) => l.includes('FleetPosture.ServerReturned'))).toHaveLength(back.length);
  });

  it('a delete transaction that meets a row already gone still deletes the rest', async () => {
    const lifecycle = new LifecycleStore(store);
    const servers = fleet('gone', 30);
    const sync1 = T0 + 20 * HOUR;
    const sync2 = T0 + 21 * HOUR;
    await lifecycle.recordSeenMany(servers.map((server) => ({ server, sync: sync1 })));
    await lifecycleTable.deleteEntity(seenPartition(sync1), encodeKey(servers[7]!));
    await lifecycle.recordSeenMany(servers.map((server) => ({ server, sync: sync2, previousSync: sync1 })));
    const left: string[] = [];
    for await (const e of lifecycleTable.listEntities({ queryOptions: { filter: `PartitionKey eq '${seenPartition(sync1)}'` } })) left.push(String(e.rowKey));
    expect(left).toEqual([]);
  });
});
