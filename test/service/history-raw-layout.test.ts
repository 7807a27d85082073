// History rows and raw snapshots live in partitions of many servers (16 buckets), so a burst of
// servers costs about one transaction per bucket, not one call per server. Against real Azurite:
// what a batch of 300 servers costs, a raw batch above the 4 MiB transaction limit split and all of
// it stored, replays writing the same rows, and rows of the older layout (a partition per server)
// still read: history pages across both layouts with one token, the newest raw of either wins.
import { randomBytes } from 'node:crypto';
import { TableTransaction, type TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { bucketOf, encodeKey, EventStore, RawSnapshotStore, type EventRecord, type PostureStore, type RawSnapshotRecord, type StoragePolicy } from '../../src/store';
import { HISTORY_BUCKETS_RANGE, historyToEntity, rawToEntity, SERVER_BUCKETS, type Entity } from '../../src/store/entities';
import { MAX_TRANSACTION_BYTES, requestBytes, transactionChunks } from '../../src/store/transactions';
import { oncePerRequest } from '../support/faults';
import { changeAt, legacyHistory, legacyRaw, legacyRawTimeKey } from '../support/older-layout-rows';
import { createTestStore, createTestTables } from '../support/stack';

/** The size of every transaction's request body the store sends (once: a retry of one is not another). */
const batchBytes: number[] = [];
const firstAttempt = oncePerRequest();
const measure: StoragePolicy = {
  name: 'testMeasureBatches',
  sendRequest(request, next) {
    if (request.url.endsWith('$batch') && firstAttempt(request)) batchBytes.push(typeof request.body === 'string' ? Buffer.byteLength(request.body, 'utf8') : -1);
    return next(request);
  },
};

let azurite: AzuriteHandle;
let store: PostureStore;
let eventStore: EventStore;
let rawSnapshots: RawSnapshotStore;
let history: TableClient;
let snapshots: TableClient;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1, policies: [measure] });
  await store.ensureTables();
  eventStore = new EventStore(store);
  rawSnapshots = new RawSnapshotStore(store);
  ({ history, snapshots } = createTestTables({ connectionString: azurite.connectionString }));
});
afterAll(async () => azurite?.stop());

const T0 = Date.parse('2026-11-01T00:00:00.000Z');

const change = changeAt(T0);

function raw(server: string, minutes: number, body = JSON.stringify({ server, minutes })): RawSnapshotRecord {
  return { server, snapshotId: `snap-${server}-${minutes}`, collectedAt: T0 + minutes * 60_000, receivedAt: T0 + minutes * 60_000 + 500, contentHash: `sha256:${server}-${minutes}`, body };
}

async function keysOf(table: TableClient, filter?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })) out.push(`${e.partitionKey}/${e.rowKey}`);
  return out.sort();
}

/** Every page of one server's history, as the API walks it. */
async function allHistory(server: string, top: number, ruleId?: string): Promise<{ items: EventRecord[]; pages: number }> {
  const items: EventRecord[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await eventStore.listHistory(server, ruleId, top, token);
    items.push(...page.items);
    token = page.continuationToken;
    pages++;
  } while (token);
  return { items, pages };
}

/** `n` server ids that all fall in one bucket (so one partition's transactions are exercised). */
function serversInOneBucket(prefix: string, n: number): string[] {
  const out: string[] = [];
  const target = bucketOf(`${prefix}-0.example`, SERVER_BUCKETS);
  for (let i = 0; out.length < n; i++) if (bucketOf(`${prefix}-${i}.example`, SERVER_BUCKETS) === target) out.push(`${prefix}-${i}.example`);
  return out;
}

describe('History and Snapshots by bucket of servers', () => {
  it('a batch of 300 servers costs a number of calls bounded by the buckets, and every row lands in its server range', async () => {
    const servers = Array.from({ length: 300 }, (_, i) => `burst-${String(i).padStart(3, '0')}.corp.example`);
    const events = servers.flatMap((s) => [change(s, 10), change(s, 11, 'rule-b', 'Error')]);
    store.counter.reset();
    await eventStore.putEvents(events);
    // 600 events: 6 Events transactions; 600 History rows over 16 buckets: ≤ 100 rows each.
    const eventsCalls = Math.ceil(events.length / 100);
    const historyCalls = store.counter.count - eventsCalls;
    expect(historyCalls).toBeGreaterThanOrEqual(SERVER_BUCKETS);
    expect(historyCalls).toBeLessThanOrEqual(SERVER_BUCKETS + Math.ceil(events.length / 100));
    expect(store.counter.count).toBe(store.counter.writes);

    store.counter.reset();
    await rawSnapshots.putRawSnapshots(servers.map((s) => ({ record: raw(s, 10), slot: 1 })));
    // 300 small bodies: ≤ 100 rows per transaction, at most one partial transaction per bucket.
    expect(store.counter.count).toBeGreaterThanOrEqual(SERVER_BUCKETS);
    expect(store.counter.count).toBeLessThanOrEqual(SERVER_BUCKETS + Math.ceil(servers.length / 100));

    // Every server's rows in its own range, read back through the readers.
    for (const s of [servers[0]!, servers[137]!, servers[299]!]) {
      const { items } = await allHistory(s, 50);
      expect(items.map((e) => [e.ruleId, e.toStatus, e.snapshotId])).toEqual([
        ['rule-b', 'Error', `snap-${s}-11`],
        ['rule-a', 'Warning', `snap-${s}-10`],
      ]);
      expect((await rawSnapshots.getLatestRaw(s, true))?.body).toBe(JSON.stringify({ server: s, minutes: 10 }));
    }
    const historyRows = await keysOf(history, `PartitionKey ge '${HISTORY_BUCKETS_RANGE.from}' and PartitionKey lt '${HISTORY_BUCKETS_RANGE.to}'`);
    expect(historyRows).toHaveLength(events.length);
    expect(new Set(historyRows.map((k) => k.split('/')[0])).size).toBe(SERVER_BUCKETS);
    expect(await keysOf(snapshots, "PartitionKey ge 's|' and PartitionKey lt 's}'")).toHaveLength(servers.length);
  });

  it('a replay writes the same rows; one key twice in a batch is one row, the later write', async () => {
    const servers = ['replay-1.example', 'replay-2.example'];
    const events = servers.map((s) => change(s, 20));
    await eventStore.putEvents(events);
    await rawSnapshots.putRawSnapshots(servers.map((s) => ({ record: raw(s, 20), slot: 0 })));
    const filter = (s: string) => `RowKey ge '${encodeKey(s)}|' and RowKey lt '${encodeKey(s)}}'`;
    const before = await Promise.all(servers.map(async (s) => [await keysOf(history, filter(s)), await keysOf(snapshots, filter(s))]));

    await eventStore.putEvents([...events, ...events]);
    await rawSnapshots.putRawSnapshots(servers.map((s) => ({ record: raw(s, 20), slot: 0 })));
    const after = await Promise.all(servers.map(async (s) => [await keysOf(history, filter(s)), await keysOf(snapshots, filter(s))]));
    expect(after).toEqual(before);
    expect(before.map(([h, r]) => [h!.length, r!.length])).toEqual([
      [1, 1],
      [1, 1],
    ]);

    // The same slot twice in one batch: the later content is what stays.
    await rawSnapshots.putRawSnapshots([
      { record: raw('replay-1.example', 30, '{"v":"first"}'), slot: 1 },
      { record: raw('replay-1.example', 31, '{"v":"second"}'), slot: 1 },
    ]);
    expect((await rawSnapshots.getLatestRaw('replay-1.example', true))?.body).toBe('{"v":"second"}');
  });

  it('raw bodies above 4 MiB in one bucket are split by bytes, and every body lands', async () => {
    // Random text barely compresses: ~600 KiB of gzip per body, 8 bodies in one partition.
    const servers = serversInOneBucket('big', 8);
    const bodies = servers.map((s) => JSON.stringify({ server: s, noise: randomBytes(600 * 1024).toString('base64') }));
    const list = servers.map((s, i) => ({ record: raw(s, 40, bodies[i]), slot: 0 }));
    const entities = list.map((r) => rawToEntity(r.record, r.slot));
    const total = entities.reduce((n, e) => n + requestBytes(e), 0);
    expect(total).toBeGreaterThan(4 * 1024 * 1024);
    expect(new Set(entities.map((e) => e.partitionKey)).size).toBe(1);

    // Storage refuses the whole partition's rows in one transaction (413, as Azure answers a payload
    // over 4 MiB): the split is what makes them land.
    const tx = new TableTransaction();
    for (const e of entities) tx.upsertEntity(e, 'Replace');
    await expect(snapshots.submitTransaction(tx.actions)).rejects.toMatchObject({ statusCode: 413 });
    expect(await rawSnapshots.getLatestRaw(servers[0]!)).toBeUndefined();

    store.counter.reset();
    batchBytes.length = 0;
    await rawSnapshots.putRawSnapshots(list);
    // The estimate holds against what was sent: every request under 4 MiB.
    expect(batchBytes.length).toBe(store.counter.count);
    for (const n of batchBytes) expect(n).toBeGreaterThan(0);
    for (const n of batchBytes) expect(n).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(store.counter.count).toBeGreaterThanOrEqual(Math.ceil(total / MAX_TRANSACTION_BYTES));
    expect(store.counter.count).toBeLessThan(servers.length);
    for (const [i, s] of servers.entries()) expect((await rawSnapshots.getLatestRaw(s, true))?.body, s).toBe(bodies[i]);
  });

  it('one server’s history pages across both layouts with one token, newest first, filtered by rule', async () => {
    const server = 'mixed-01.corp.example';
    // Written before the buckets: three changes in the server's own partition.
    const old = [change(server, 1), change(server, 2, 'rule-b'), change(server, 3)];
    for (const e of old) await history.createEntity(legacyHistory(e));
    // A neighbour in the old layout, and one whose id begins with this one's, must not show.
    await history.createEntity(legacyHistory(change('mixed-02.corp.example', 4)));
    await eventStore.putEvents([change(`${server}.x`, 9)]);
    // Written since: three more, in the bucket.
    await eventStore.putEvents([change(server, 5), change(server, 6, 'rule-b'), change(server, 7)]);

    const { items, pages } = await allHistory(server, 2);
    expect(items.map((e) => e.firstSeen)).toEqual([7, 6, 5, 3, 2, 1].map((m) => T0 + m * 60_000));
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(items.every((e) => e.server === server)).toBe(true);
    const ruleB = await allHistory(server, 1, 'rule-b');
    expect(ruleB.items.map((e) => e.snapshotId)).toEqual([`snap-${server}-6`, `snap-${server}-2`]);
    // A token of one query does not resume another.
    const first = await eventStore.listHistory(server, undefined, 2);
    await expect(eventStore.listHistory(server, 'rule-b', 2, first.continuationToken)).rejects.toThrow(/continuation token/);
  });

  it('the newest raw snapshot wins across layouts, with or without the body', async () => {
    const server = 'mixed-raw.corp.example';
    // The older layouts: a time-keyed row and a slot row in the server's own partition.
    const timeKeyed = raw(server, 50, '{"v":"time-keyed"}');
    await snapshots.createEntity(legacyRaw(timeKeyed, legacyRawTimeKey(timeKeyed)));
    await snapshots.createEntity(legacyRaw(raw(server, 55, '{"v":"old-slot"}'), 'slot1'));
    await rawSnapshots.putRawSnapshots([{ record: raw(server, 40, '{"v":"bucket-older"}'), slot: 0 }]);
    expect((await rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"old-slot"}');

    await rawSnapshots.putRawSnapshots([{ record: raw(server, 60, '{"v":"bucket-newer"}'), slot: 1 }]);
    const latest = await rawSnapshots.getLatestRaw(server);
    expect(latest?.snapshotId).toBe(`snap-${server}-60`);
    expect(latest && 'body' in latest ? latest.body : undefined).toBeUndefined();
    expect((await rawSnapshots.getLatestRaw(server, true))?.body).toBe('{"v":"bucket-newer"}');
    // The bucket row sits in its server's range; the older rows stay where they were.
    expect(await keysOf(snapshots, `PartitionKey eq 's|${bucketOf(server, SERVER_BUCKETS)}' and RowKey ge '${server}|' and RowKey lt '${server}}'`)).toEqual([
      `s|${bucketOf(server, SERVER_BUCKETS)}/${server}|slot0`,
      `s|${bucketOf(server, SERVER_BUCKETS)}/${server}|slot1`,
    ]);
    expect(await keysOf(snapshots, `PartitionKey eq '${server}'`)).toHaveLength(2);
  });
});

describe('splitting rows into transactions', () => {
  const row = (pk: string, rk: string, extra: Record<string, string> = {}): Entity => ({ partitionKey: pk, rowKey: rk, ...extra });

  it('one partition per transaction, at most 100 rows, the later of two rows with one key', () => {
    const rows = [...Array.from({ length: 250 }, (_, i) => row('p1', `r${i}`)), row('p2', 'x', { v: 'first' }), row('p2', 'y'), row('p2', 'x', { v: 'second' })];
    const chunks = transactionChunks(rows);
    expect(chunks.map((c) => [c[0]!.partitionKey, c.length])).toEqual([
      ['p1', 100],
      ['p1', 100],
      ['p1', 50],
      ['p2', 2],
    ]);
    for (const c of chunks) expect(new Set(c.map((e) => e.partitionKey)).size).toBe(1);
    expect(chunks[3]!.find((e) => e.rowKey === 'x')?.v).toBe('second');
  });

  it('splits by bytes, and refuses a row above 1 MiB before anything is written', () => {
    const big = 'x'.repeat(400 * 1024);
    const chunks = transactionChunks(Array.from({ length: 30 }, (_, i) => row('p', `r${i}`, { big })));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.reduce((n, e) => n + requestBytes(e), 0)).toBeLessThanOrEqual(MAX_TRANSACTION_BYTES);
    expect(chunks.flat()).toHaveLength(30);
    expect(() => transactionChunks([row('p', 'ok'), row('p', 'huge', { a: big, b: big })])).toThrow(/above the 1 MiB entity limit/);
  });

  it('a History row carries its server range; a raw row too', () => {
    const e = historyToEntity(change('a.example', 1));
    expect(e.partitionKey).toBe(`h|${bucketOf('a.example', SERVER_BUCKETS)}`);
    expect(e.rowKey.startsWith('a.example|')).toBe(true);
    const r = rawToEntity(raw('a|b.example', 1), 1);
    expect([r.partitionKey, r.rowKey]).toEqual([`s|${bucketOf('a|b.example', SERVER_BUCKETS)}`, 'a%7Cb.example|slot1']);
  });
});
