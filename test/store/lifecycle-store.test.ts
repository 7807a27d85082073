// The Lifecycle table as src/store/lifecycle-store.ts keeps it, on Azurite: the last-seen index by
// hour (one row a server, moved alone or many at once, listed up to a time, removed), a server's
// last post from its Results rows, the stale markers (made once and known as one's own after a
// lost answer, claimed for the return that ends them, listed, removed), and the re-evaluation
// state whose lease a write whose answer was lost recognises as its own. What storage holds
// afterwards is read with a table client of the test's own; a policy on the store's pipeline
// records what the store sends, refuses what a test names, and lets another writer act just
// before a request goes.
import type { TableEntityResult } from '@azure/data-tables';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { LifecycleStore, seenPartition, StorageUnavailableError, tableNames, type PostureStore, type ReevalState, type StaleMarker } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { REMOVED_STATUS } from '../../src/store/records';
import { encodeKey } from '../../src/store/keys';
import { lostAnswers } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { emptyTables, outage, storeWire, type Sent } from '../support/store-wire';

const PREFIX = 'Lifecyc';
const NAMES = tableNames(PREFIX);
const STATUSES = ['Pass', 'Warning', 'Fail'];
const HOUR = 3_600_000;
/** 05:00 on the day, to the millisecond. */
const T = Date.parse('2026-12-07T05:00:00.000Z');

type Row = TableEntityResult<Record<string, unknown>>;
/** The store's requests to Lifecycle and Results, as sent; what a test refuses, runs first, or answers instead. */
const { wire, policy: onWire } = storeWire('testLifecycleWire', [NAMES.lifecycle, NAMES.results]);
const lose = lostAnswers('testLifecycleLoseAnswer');

let azurite: AzuriteHandle | undefined;
let tables: TableClients;
let stores: { readonly plain: PostureStore; readonly retrying: PostureStore };
/** No retries: a refused request fails at once, as after the SDK's retries. */
let lifecycle: LifecycleStore;
/** The SDK's retries: a write whose answer was lost is sent again. */
let retrying: LifecycleStore;
let fresh = 0;

beforeAll(async () => {
  azurite = await startAzurite({});
  const connectionString = azurite.connectionString;
  tables = createTestTables({ connectionString, tablePrefix: PREFIX });
  stores = {
    plain: createTestStore({ connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 0, policies: [onWire] }),
    retrying: createTestStore({ connectionString, tablePrefix: PREFIX, statuses: STATUSES, policies: [onWire, lose.policy] }),
  };
  await stores.plain.ensureTables();
});
afterAll(async () => azurite?.stop());
beforeEach(async () => {
  // Built for each test, not once before them all: what building one runs is then part of a test.
  lifecycle = new LifecycleStore(stores.plain);
  retrying = new LifecycleStore(stores.retrying);
  await emptyTables(tables.lifecycle, tables.results);
  wire.reset();
});
afterEach(() => {
  lose.when = undefined;
});

async function rows(partition?: string): Promise<Row[]> {
  const out: Row[] = [];
  const queryOptions = partition === undefined ? {} : { filter: `PartitionKey eq '${partition}'` };
  for await (const e of tables.lifecycle.listEntities({ queryOptions })) out.push(e as Row);
  return out;
}
const keysOf = (list: readonly Row[]) => list.map((r) => `${r.partitionKey}/${r.rowKey}`);
const row = (pk: string, rk: string) => tables.lifecycle.getEntity<Record<string, unknown>>(pk, rk) as Promise<Row>;
const timeOf = (v: unknown) => new Date(v as string | Date).getTime();
const isBatch = (r: Sent) => r.url.endsWith('$batch');
const writes = () => wire.sent.filter((r) => r.method !== 'GET');
/** The requests since the wire was cleared, as method and kind. */
const shapes = () => writes().map((r) => (isBatch(r) ? 'batch' : r.method));

/** `call` fails with storage's refusal as it came (not an outage). */
async function refusal(call: () => Promise<unknown>, status: number): Promise<void> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).not.toBeInstanceOf(StorageUnavailableError);
  expect((error as { statusCode?: number }).statusCode).toBe(status);
}

describe('the last-seen index', () => {
  it('names its partitions by the hour, in UTC', () => {
    expect(seenPartition(Date.parse('2026-12-07T05:59:59.999Z'))).toBe('seen-2026120705');
    expect(seenPartition(Date.parse('2026-01-31T23:00:00.000Z'))).toBe('seen-2026013123');
  });

  it("recordSeen writes the server's row in the hour of its sync, whole, and moves it from another hour", async () => {
    await tables.lifecycle.createEntity({ partitionKey: seenPartition(T), rowKey: encodeKey('Ex|01'), Server: 'Ex|01', Extra: 'left' });
    await lifecycle.recordSeen('Ex|01', T + 10, undefined);
    const [first, ...others] = await rows();
    expect(others).toEqual([]);
    expect([first!.partitionKey, first!.rowKey, first!.Server, timeOf(first!.Sync), first!.Extra]).toStrictEqual([seenPartition(T), encodeKey('Ex|01'), 'Ex|01', T + 10, undefined]);
    expect(shapes()).toStrictEqual(['PUT']);

    // The same hour: nothing to move.
    wire.sent = [];
    await lifecycle.recordSeen('Ex|01', T + 20, T + 10);
    expect(shapes()).toStrictEqual(['PUT']);
    expect(keysOf(await rows())).toStrictEqual([`${seenPartition(T)}/${encodeKey('Ex|01')}`]);

    // The next hour: the row of the hour before goes.
    wire.sent = [];
    await lifecycle.recordSeen('Ex|01', T + HOUR, T + 20);
    expect(shapes()).toStrictEqual(['PUT', 'DELETE']);
    expect(keysOf(await rows())).toStrictEqual([`${seenPartition(T + HOUR)}/${encodeKey('Ex|01')}`]);

    // A row of the hour before already gone is no error.
    await lifecycle.recordSeen('Ex|01', T + 2 * HOUR, T);
    expect(keysOf(await rows())).toStrictEqual([`${seenPartition(T + HOUR)}/${encodeKey('Ex|01')}`, `${seenPartition(T + 2 * HOUR)}/${encodeKey('Ex|01')}`]);
  });

  it('recordSeen: an outage of the write or of the removal names it; another refusal of the removal is passed on', async () => {
    wire.refuse = (r) => (r.method === 'PUT' ? 503 : undefined);
    await outage(() => lifecycle.recordSeen('ex02', T, undefined), 'writing the last-seen index');
    expect(await rows()).toEqual([]);
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => lifecycle.recordSeen('ex02', T + HOUR, T), 'deleting a lifecycle row');
    wire.refuse = (r) => (r.method === 'DELETE' ? 403 : undefined);
    await refusal(() => lifecycle.recordSeen('ex02', T + HOUR, T), 403);
  });

  it('recordSeenMany writes one row alone as itself, more of an hour in one transaction, each whole', async () => {
    await tables.lifecycle.createEntity({ partitionKey: seenPartition(T), rowKey: 'ex10', Server: 'ex10', Extra: 'left' });
    await tables.lifecycle.createEntity({ partitionKey: seenPartition(T + HOUR), rowKey: 'ex13', Server: 'ex13', Extra: 'left' });
    await lifecycle.recordSeenMany([
      { server: 'ex10', sync: T + 1 },
      { server: 'ex11', sync: T + 2 },
      { server: 'ex12', sync: T + 3 },
      { server: 'ex13', sync: T + HOUR + 4 },
    ]);
    expect(shapes().sort()).toStrictEqual(['PUT', 'batch']);
    const stored = await rows();
    expect(stored.map((r) => [r.partitionKey, r.rowKey, r.Server, timeOf(r.Sync), r.Extra])).toStrictEqual([
      [seenPartition(T), 'ex10', 'ex10', T + 1, undefined],
      [seenPartition(T), 'ex11', 'ex11', T + 2, undefined],
      [seenPartition(T), 'ex12', 'ex12', T + 3, undefined],
      [seenPartition(T + HOUR), 'ex13', 'ex13', T + HOUR + 4, undefined],
    ]);
    wire.sent = [];
    await lifecycle.recordSeenMany([]);
    expect(wire.sent).toEqual([]);
  });

  it('recordSeenMany removes the rows of other hours it replaces, in one transaction an hour; not those of the same hour', async () => {
    await lifecycle.recordSeenMany(['ex20', 'ex21', 'ex22', 'ex23'].map((server) => ({ server, sync: T })));
    wire.sent = [];
    await lifecycle.recordSeenMany([
      { server: 'ex20', sync: T + HOUR, previousSync: T },
      { server: 'ex21', sync: T + HOUR, previousSync: T },
      { server: 'ex22', sync: T + 5, previousSync: T },
      { server: 'ex23', sync: T + HOUR },
    ]);
    // The writes of both hours go at once, then the removals.
    expect(shapes().slice(0, 2).sort()).toStrictEqual(['PUT', 'batch']);
    expect(shapes().slice(2)).toStrictEqual(['batch']);
    expect(writes()[2]!.body.match(/DELETE /g)).toHaveLength(2);
    expect(keysOf(await rows())).toStrictEqual([`${seenPartition(T)}/ex22`, `${seenPartition(T)}/ex23`, ...['ex20', 'ex21', 'ex23'].map((s) => `${seenPartition(T + HOUR)}/${s}`)]);
  });

  it('recordSeenMany removes a single replaced row by itself, and when a removal transaction meets a row already gone, the rows one by one', async () => {
    await lifecycle.recordSeenMany(['ex30', 'ex31', 'ex32'].map((server) => ({ server, sync: T })));
    await tables.lifecycle.deleteEntity(seenPartition(T), 'ex31');
    wire.sent = [];
    await lifecycle.recordSeenMany(['ex30', 'ex31', 'ex32'].map((server) => ({ server, sync: T + HOUR, previousSync: T })));
    expect(shapes()).toStrictEqual(['batch', 'batch', 'DELETE', 'DELETE', 'DELETE']);
    expect(keysOf(await rows())).toStrictEqual(['ex30', 'ex31', 'ex32'].map((s) => `${seenPartition(T + HOUR)}/${s}`));

    wire.sent = [];
    await lifecycle.recordSeenMany([{ server: 'ex30', sync: T + 2 * HOUR, previousSync: T + HOUR }]);
    expect(shapes()).toStrictEqual(['PUT', 'DELETE']);
    expect(keysOf(await rows(seenPartition(T + HOUR)))).toStrictEqual(['ex31', 'ex32'].map((s) => `${seenPartition(T + HOUR)}/${s}`));
  });

  it('recordSeenMany: an outage of a write, alone or in a transaction, or of a removal names it', async () => {
    wire.refuse = (r) => (r.method !== 'GET' ? 503 : undefined);
    await outage(() => lifecycle.recordSeenMany([{ server: 'ex40', sync: T }]), 'writing the last-seen index');
    await outage(() => lifecycle.recordSeenMany(['ex40', 'ex41'].map((server) => ({ server, sync: T }))), 'writing the last-seen index');
    wire.refuse = undefined;
    await lifecycle.recordSeenMany(['ex40', 'ex41'].map((server) => ({ server, sync: T })));
    wire.refuse = (r) => (isBatch(r) && r.body.includes('DELETE ') ? 503 : undefined);
    await outage(() => lifecycle.recordSeenMany(['ex40', 'ex41'].map((server) => ({ server, sync: T + HOUR, previousSync: T }))), 'deleting last-seen rows');
    expect(keysOf(await rows(seenPartition(T)))).toStrictEqual(['ex40', 'ex41'].map((s) => `${seenPartition(T)}/${s}`));
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => lifecycle.recordSeenMany([{ server: 'ex40', sync: T + HOUR, previousSync: T }]), 'deleting a lifecycle row');
  });

  it('listSeenUpTo lists the rows synced at or before a time, oldest hours first, at most `max`, in one query', async () => {
    await lifecycle.recordSeenMany([
      { server: 'ex50', sync: T - 2 * HOUR },
      { server: 'ex51', sync: T - HOUR + 5 },
      { server: 'ex52', sync: T + 10 },
      { server: 'ex53', sync: T + 20 },
      { server: 'ex54', sync: T + 21 },
      { server: 'ex55', sync: T + HOUR },
    ]);
    await lifecycle.markStale({ server: 'ex50', lastSeen: T, staleSince: T, lastSnapshotId: 's' });
    await tables.lifecycle.createEntity({ partitionKey: 'reeval', rowKey: 'other', Server: 'ex56', Sync: new Date(T - 3 * HOUR) });
    wire.sent = [];
    const entry = (server: string, sync: number) => ({ server, sync, partitionKey: seenPartition(sync) });
    const upTo = [entry('ex50', T - 2 * HOUR), entry('ex51', T - HOUR + 5), entry('ex52', T + 10), entry('ex53', T + 20)];
    expect(await lifecycle.listSeenUpTo(T + 20, 10)).toStrictEqual(upTo);
    const [query, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(query!.url).toContain(`$filter=PartitionKey ge 'seen-' and PartitionKey le '${seenPartition(T)}' and Sync le datetime'${new Date(T + 20).toISOString()}'`);
    expect(await lifecycle.listSeenUpTo(T + 20, 3)).toStrictEqual(upTo.slice(0, 3));
    expect(await lifecycle.listSeenUpTo(T + 20, 1)).toStrictEqual(upTo.slice(0, 1));
    expect(await lifecycle.listSeenUpTo(T - 3 * HOUR, 10)).toStrictEqual([]);
  });

  it('listSeenUpTo: an outage names the read; deleteSeen removes an entry, one already gone is no error', async () => {
    await lifecycle.recordSeenMany(['ex60', 'Ex|61'].map((server) => ({ server, sync: T })));
    const [first, second] = await lifecycle.listSeenUpTo(T, 10);
    // Encoded, the upper-case name sorts first.
    expect([first!.server, second!.server]).toStrictEqual(['Ex|61', 'ex60']);
    await lifecycle.deleteSeen(first!);
    await lifecycle.deleteSeen(first!);
    expect(await lifecycle.listSeenUpTo(T, 10)).toStrictEqual([second]);
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => lifecycle.listSeenUpTo(T, 10), 'reading the last-seen index');
  });
});

describe("a server's last post", () => {
  const result = (server: string, ruleId: string, over: Record<string, unknown>) => tables.results.createEntity({ partitionKey: encodeKey(server), rowKey: ruleId, Status: 'Pass', ...over });

  it('is the newest LastSeen among its live rows (the first of a tie), with the hours of every row\'s host refresh', async () => {
    await result('ex70', 'rule-a', { LastSeen: new Date(T), SnapshotId: 's1', HostSyncedAt: new Date(T - HOUR) });
    await result('ex70', 'rule-b', { LastSeen: new Date(T + 5), SnapshotId: 's2' });
    await result('ex70', 'rule-c', { LastSeen: new Date(T + 5), SnapshotId: 's3', HostSyncedAt: new Date(T + 1) });
    await result('ex70', 'rule-d', { LastSeen: new Date(T + 1), SnapshotId: 's4', HostSyncedAt: new Date(T + 2) });
    await result('ex70', 'rule-e', { LastSeen: new Date(T + 9), SnapshotId: 's9', Status: REMOVED_STATUS });
    await result('ex71', 'rule-a', { LastSeen: new Date(T + 9), SnapshotId: 's8' });
    expect(await lifecycle.lastSeenOf('ex70')).toStrictEqual({ lastSeen: T + 5, snapshotId: 's2', seenPartitions: new Set([seenPartition(T - HOUR), seenPartition(T)]) });
    expect(await lifecycle.lastSeenOf('ex72')).toBeUndefined();
  });
});

describe('stale markers', () => {
  const marker = (server: string, over: Partial<StaleMarker> = {}): StaleMarker => ({ server, lastSeen: T - 3 * HOUR, staleSince: T, lastSnapshotId: `snap-${server}`, ...over });

  it('markStale creates the marker, named for the call, once: a second marking is false and changes nothing', async () => {
    expect(await lifecycle.markStale(marker('Ex|80'))).toBe(true);
    const [only, ...others] = await rows();
    expect(others).toEqual([]);
    expect([only!.partitionKey, only!.rowKey, only!.Server, timeOf(only!.LastSeen), timeOf(only!.StaleSince), only!.LastSnapshotId]).toStrictEqual(['stale', encodeKey('Ex|80'), 'Ex|80', T - 3 * HOUR, T, 'snap-Ex|80']);
    expect(only!.MarkedBy).toMatch(/^[0-9a-f-]{36}$/);
    expect(await lifecycle.markStale(marker('Ex|80', { staleSince: T + 1 }))).toBe(false);
    expect(await row('stale', encodeKey('Ex|80'))).toMatchObject({ etag: only!.etag, MarkedBy: only!.MarkedBy });
    expect(await lifecycle.getStale('Ex|80')).toStrictEqual(marker('Ex|80'));
    expect(await lifecycle.getStale('ex81')).toBeUndefined();
  });

  it('markStale: a create whose answer was lost is its own when read back; another call\'s marker is not', async () => {
    lose.when = (r) => r.method === 'POST' && r.url.includes(`/${NAMES.lifecycle}`);
    expect(await retrying.markStale(marker('ex82'))).toBe(true);
    expect(lose.when).toBeUndefined();
    lose.when = (r) => r.method === 'POST' && r.url.includes(`/${NAMES.lifecycle}`);
    await tables.lifecycle.createEntity({ partitionKey: 'stale', rowKey: 'ex83', Server: 'ex83', MarkedBy: 'someone else' });
    expect(await retrying.markStale(marker('ex83'))).toBe(false);
    // A refused create whose marker then went: not this call's.
    wire.refuse = (r) => (r.method === 'POST' ? 409 : undefined);
    expect(await lifecycle.markStale(marker('ex84'))).toBe(false);
    expect(keysOf(await rows())).toStrictEqual(['stale/ex82', 'stale/ex83']);
  });

  it('markStale: an outage of the create or of the read back names it; another refusal is passed on', async () => {
    wire.refuse = (r) => (r.method === 'POST' ? 503 : undefined);
    await outage(() => lifecycle.markStale(marker('ex85')), 'marking a server stale');
    wire.refuse = (r) => (r.method === 'POST' ? 409 : r.method === 'GET' ? 503 : undefined);
    await outage(() => lifecycle.markStale(marker('ex85')), 'reading a stale marker');
    wire.refuse = (r) => (r.method === 'POST' ? 400 : undefined);
    await refusal(() => lifecycle.markStale(marker('ex85')), 400);
    wire.refuse = (r) => (r.method === 'POST' ? 409 : r.method === 'GET' ? 403 : undefined);
    await refusal(() => lifecycle.markStale(marker('ex85')), 403);
    expect(await rows()).toEqual([]);
  });

  it('listStale lists every marker and nothing else; getStale reads missing columns as empty; removeStale removes, one gone is no error', async () => {
    for (const s of ['ex90', 'Ex|91', 'ex92']) await lifecycle.markStale(marker(s));
    await tables.lifecycle.createEntity({ partitionKey: 'stale', rowKey: 'ex93' });
    await lifecycle.recordSeen('ex94', T, undefined);
    expect(await lifecycle.listStale()).toStrictEqual([marker('Ex|91'), marker('ex90'), marker('ex92'), { server: '', lastSeen: 0, staleSince: 0, lastSnapshotId: '' }]);
    expect(await lifecycle.getStale('ex93')).toStrictEqual({ server: '', lastSeen: 0, staleSince: 0, lastSnapshotId: '' });
    await lifecycle.removeStale(['ex90', 'Ex|91', 'ex95']);
    expect(keysOf(await rows())).toStrictEqual([`${seenPartition(T)}/ex94`, 'stale/ex92', 'stale/ex93']);
    await lifecycle.removeStale([]);
  });

  it('outages of listing, reading and removing markers name them; other refusals are passed on', async () => {
    await lifecycle.markStale(marker('ex96'));
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => lifecycle.listStale(), 'listing stale servers');
    await outage(() => lifecycle.getStale('ex96'), 'reading a stale marker');
    wire.refuse = (r) => (r.method === 'GET' ? 403 : undefined);
    await refusal(() => lifecycle.getStale('ex96'), 403);
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => lifecycle.removeStale(['ex96']), 'deleting a lifecycle row');
    wire.refuse = (r) => (r.method === 'DELETE' ? 403 : undefined);
    await refusal(() => lifecycle.removeStale(['ex96']), 403);
    expect(keysOf(await rows())).toStrictEqual(['stale/ex96']);
  });
});

describe('claiming markers for a return', () => {
  const marker = (server: string): StaleMarker => ({ server, lastSeen: T - 3 * HOUR, staleSince: T, lastSnapshotId: `snap-${server}` });
  const claimOf = (server: string, at: number, snapshotId: string) => ({ ...marker(server), returnedAt: at, returnedSnapshotId: snapshotId });
  const byServer = <T extends { server: string }>(list: readonly T[]) => [...list].sort((a, b) => (a.server < b.server ? -1 : 1));

  it('claims the markers of the servers named, in one range read and a write each under its ETag, keeping their columns', async () => {
    for (const s of ['ex100', 'ex101', 'ex102', 'Ex|103']) await lifecycle.markStale(marker(s));
    const before = await row('stale', 'ex100');
    wire.sent = [];
    const back = new Map([
      ['ex100', { at: T + 1, snapshotId: 'r100' }],
      ['ex102', { at: T + 2, snapshotId: 'r102' }],
      ['Ex|103', { at: T + 3, snapshotId: 'r103' }],
      ['ex104', { at: T + 4, snapshotId: 'r104' }],
    ]);
    expect(byServer(await lifecycle.claimReturned(back))).toStrictEqual(byServer([claimOf('ex100', T + 1, 'r100'), claimOf('ex102', T + 2, 'r102'), claimOf('Ex|103', T + 3, 'r103')]));
    const [query, ...claims] = wire.sent;
    const sorted = ['ex100', 'ex102', 'Ex|103', 'ex104'].map(encodeKey).sort();
    expect(query!.url).toContain(`$filter=PartitionKey eq 'stale' and RowKey ge '${sorted[0]}' and RowKey le '${sorted[3]}'`);
    expect(claims.map((c) => c.method)).toStrictEqual(['MERGE', 'MERGE', 'MERGE'].map(() => claims[0]!.method));
    expect(claims.find((c) => c.url.includes("RowKey='ex100'"))!.ifMatch).toBe(before.etag);
    const after = await row('stale', 'ex100');
    expect([after.MarkedBy, after.LastSnapshotId, timeOf(after.ReturnedAt), after.ReturnedSnapshotId]).toStrictEqual([before.MarkedBy, 'snap-ex100', T + 1, 'r100']);
    expect((await row('stale', 'ex101')).ReturnedAt).toBeUndefined();
  });

  it('returns an earlier claim as it was, without writing; nothing for no servers', async () => {
    await lifecycle.markStale(marker('ex110'));
    await lifecycle.claimReturned(new Map([['ex110', { at: T + 1, snapshotId: 'first' }]]));
    wire.sent = [];
    expect(await lifecycle.claimReturned(new Map([['ex110', { at: T + 2, snapshotId: 'second' }]]))).toStrictEqual([claimOf('ex110', T + 1, 'first')]);
    expect(writes()).toEqual([]);
    expect(await lifecycle.claimReturned(new Map())).toStrictEqual([]);
    expect(wire.sent.length).toBe(1);
  });

  it("a marker claimed meanwhile is returned with that claim; one gone meanwhile, or changed without a claim, is not returned", async () => {
    for (const s of ['ex120', 'ex121', 'ex122']) await lifecycle.markStale(marker(s));
    wire.before = async () => {
      await tables.lifecycle.updateEntity({ partitionKey: 'stale', rowKey: 'ex120', ReturnedAt: new Date(T + 7), ReturnedSnapshotId: 'other' }, 'Merge');
    };
    expect(await lifecycle.claimReturned(new Map([['ex120', { at: T + 1, snapshotId: 'mine' }]]))).toStrictEqual([claimOf('ex120', T + 7, 'other')]);
    const claimBefore = (change: () => Promise<unknown>) => {
      wire.before = async (r) => {
        if (r.method === 'GET') wire.before = async () => void (await change());
      };
    };
    claimBefore(() => tables.lifecycle.deleteEntity('stale', 'ex121'));
    expect(await lifecycle.claimReturned(new Map([['ex121', { at: T + 1, snapshotId: 'mine' }]]))).toStrictEqual([]);
    claimBefore(() => tables.lifecycle.updateEntity({ partitionKey: 'stale', rowKey: 'ex122', Note: 'touched' }, 'Merge'));
    expect(await lifecycle.claimReturned(new Map([['ex122', { at: T + 1, snapshotId: 'mine' }]]))).toStrictEqual([]);
    expect((await row('stale', 'ex122')).ReturnedAt).toBeUndefined();
  });

  it('a claim whose answer was lost is its own when read back', async () => {
    await lifecycle.markStale(marker('ex130'));
    lose.when = (r) => r.method !== 'GET' && r.url.includes(`/${NAMES.lifecycle}`);
    expect(await retrying.claimReturned(new Map([['ex130', { at: T + 1, snapshotId: 'mine' }]]))).toStrictEqual([claimOf('ex130', T + 1, 'mine')]);
    expect(lose.when).toBeUndefined();
  });

  it('outages of the read, the claim and its read back name them; another refusal of the claim is passed on', async () => {
    await lifecycle.markStale(marker('ex140'));
    const back = new Map([['ex140', { at: T + 1, snapshotId: 'mine' }]]);
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => lifecycle.claimReturned(back), 'reading stale markers');
    let listed = false;
    wire.refuse = (r) => (r.method === 'GET' ? (listed ? 503 : ((listed = true), undefined)) : 412);
    await outage(() => lifecycle.claimReturned(back), 'reading a stale marker');
    wire.refuse = (r) => (r.method === 'GET' ? undefined : 503);
    await outage(() => lifecycle.claimReturned(back), 'claiming a stale marker');
    wire.refuse = (r) => (r.method === 'GET' ? undefined : 409);
    await refusal(() => lifecycle.claimReturned(back), 409);
    expect((await row('stale', 'ex140')).ReturnedAt).toBeUndefined();
  });
});

describe('the re-evaluation state', () => {
  const state = (over: Partial<ReevalState> = {}): ReevalState => ({
    targetVersion: 'v2',
    ruleVersions: { 'rule-a': '1.0.0', 'rule-b': '2.0.0' },
    fromRuleVersions: { 'rule-a': '0.9.0' },
    retired: ['rule-x'],
    cursor: 'cursor-1',
    done: false,
    leaseOwner: 'owner-1',
    leaseUntil: T + 60_000,
    startedAt: T,
    finishedAt: T + 1,
    activeAt: T + 2,
    evaluated: 3,
    changed: 4,
    unavailable: 5,
    ...over,
  });

  it('is created when absent, read back as written, and replaced whole under its ETag', async () => {
    expect(await lifecycle.getReevalState()).toBeUndefined();
    const etag = await lifecycle.putReevalState(state(), undefined);
    const stored = await row('reeval', 'state');
    expect(etag).toBe(stored.etag);
    expect([stored.TargetVersion, stored.RuleVersionsJson, stored.FromRuleVersionsJson, stored.RetiredJson, stored.Cursor, stored.Done, stored.LeaseOwner]).toStrictEqual(['v2', '{"rule-a":"1.0.0","rule-b":"2.0.0"}', '{"rule-a":"0.9.0"}', '["rule-x"]', 'cursor-1', false, 'owner-1']);
    expect([stored.LeaseUntil, stored.StartedAt, stored.FinishedAt, stored.ActiveAt].map(timeOf)).toStrictEqual([T + 60_000, T, T + 1, T + 2]);
    expect([stored.Evaluated, stored.Changed, stored.Unavailable]).toStrictEqual([3, 4, 5]);
    expect(await lifecycle.getReevalState()).toStrictEqual({ state: state(), etag });
    expect(shapes()).toStrictEqual(['POST']);

    wire.sent = [];
    const next = state({ fromRuleVersions: undefined, done: true, cursor: '', leaseOwner: '', evaluated: 10 });
    const etag2 = await lifecycle.putReevalState(next, etag);
    expect(etag2).toBe((await row('reeval', 'state')).etag);
    expect(etag2).not.toBe(etag);
    expect([shapes(), writes()[0]!.ifMatch]).toStrictEqual([['PUT'], etag]);
    expect((await row('reeval', 'state')).FromRuleVersionsJson).toBeUndefined();
    expect(await lifecycle.getReevalState()).toStrictEqual({ state: next, etag: etag2 });
  });

  it('reads damaged or missing columns as empty: no rules, none retired, zeros; Done only when true', async () => {
    await tables.lifecycle.createEntity({ partitionKey: 'reeval', rowKey: 'state', RuleVersionsJson: '{broken', RetiredJson: '{"a":1}', Done: 'true' });
    const empty = { targetVersion: '', ruleVersions: {}, fromRuleVersions: undefined, retired: [], cursor: '', done: false, leaseOwner: '', leaseUntil: 0, startedAt: 0, finishedAt: 0, activeAt: 0, evaluated: 0, changed: 0, unavailable: 0 };
    expect((await lifecycle.getReevalState())!.state).toStrictEqual(empty);
    const read = async (columns: Record<string, unknown>) => {
      await tables.lifecycle.upsertEntity({ partitionKey: 'reeval', rowKey: 'state', ...columns }, 'Replace');
      return (await lifecycle.getReevalState())!.state;
    };
    // Only the string entries and items count: the others are left out, not kept as they came.
    const lists = ({ ruleVersions, fromRuleVersions, retired }: ReevalState) => ({ ruleVersions, fromRuleVersions, retired });
    expect(lists(await read({ RuleVersionsJson: '{"a":"1","b":2,"c":null}', FromRuleVersionsJson: '["a"]', RetiredJson: '["x",3,null,"y"]' }))).toStrictEqual({ ruleVersions: { a: '1' }, fromRuleVersions: {}, retired: ['x', 'y'] });
    expect(lists(await read({ RuleVersionsJson: 'null', FromRuleVersionsJson: '"text"', RetiredJson: '"x"' }))).toStrictEqual({ ruleVersions: {}, fromRuleVersions: {}, retired: [] });
    expect(lists(await read({ RuleVersionsJson: '["a"]', FromRuleVersionsJson: 'null' }))).toStrictEqual({ ruleVersions: {}, fromRuleVersions: {}, retired: [] });
    expect(lists(await read({ FromRuleVersionsJson: '{"a":"0.1","b":false}' }))).toStrictEqual({ ruleVersions: {}, fromRuleVersions: { a: '0.1' }, retired: [] });
  });

  it('a write another instance beat is refused: a create over a row, a replace under an old ETag or of a row gone', async () => {
    const etag = await lifecycle.putReevalState(state(), undefined);
    expect(await lifecycle.putReevalState(state({ leaseOwner: 'owner-2' }), undefined)).toBeUndefined();
    await lifecycle.putReevalState(state({ cursor: 'moved' }), etag);
    expect(await lifecycle.putReevalState(state({ leaseOwner: 'owner-3' }), etag)).toBeUndefined();
    // The same owner, another lease time: an earlier write of its own, not this one.
    expect(await lifecycle.putReevalState(state({ leaseUntil: T + 120_000 }), etag)).toBeUndefined();
    expect((await row('reeval', 'state')).Cursor).toBe('moved');
    await tables.lifecycle.deleteEntity('reeval', 'state');
    expect(await lifecycle.putReevalState(state(), etag)).toBeUndefined();
    expect(await rows()).toEqual([]);
  });

  it('a write whose answer names no ETag still landed: its ETag is empty text, not a lost race', async () => {
    wire.after = (r, response) => {
      if (r.method !== 'GET') response.headers.delete('ETag');
      return response;
    };
    expect(await lifecycle.putReevalState(state(), undefined)).toBe('');
    expect((await row('reeval', 'state')).LeaseOwner).toBe('owner-1');
  });

  it('a refused write without an owner (a lease given back) is refused without a read', async () => {
    const etag = await lifecycle.putReevalState(state({ leaseOwner: '' }), undefined);
    await lifecycle.putReevalState(state({ leaseOwner: '', cursor: 'moved' }), etag);
    wire.sent = [];
    expect(await lifecycle.putReevalState(state({ leaseOwner: '' }), etag)).toBeUndefined();
    expect(wire.sent.map((r) => r.method)).toStrictEqual(['PUT']);
  });

  it('a write whose answer was lost finds its own owner and lease time on the row: the lease is held', async () => {
    lose.when = (r) => r.method === 'POST' && r.url.includes(`/${NAMES.lifecycle}`);
    const etag = await retrying.putReevalState(state(), undefined);
    expect(lose.when).toBeUndefined();
    expect(etag).toBe((await row('reeval', 'state')).etag);
    lose.when = (r) => r.method === 'PUT' && r.url.includes(`/${NAMES.lifecycle}`);
    const etag2 = await retrying.putReevalState(state({ leaseUntil: T + 90_000 }), etag);
    expect(lose.when).toBeUndefined();
    expect(etag2).toBe((await row('reeval', 'state')).etag);
    expect(etag2).not.toBe(etag);
  });

  it('outages of the read and the write name them; another refusal is passed on', async () => {
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => lifecycle.getReevalState(), 'reading the re-evaluation state');
    wire.refuse = (r) => (r.method === 'GET' ? undefined : 503);
    await outage(() => lifecycle.putReevalState(state(), undefined), 'writing the re-evaluation state');
    wire.refuse = (r) => (r.method === 'GET' ? undefined : 403);
    await refusal(() => lifecycle.putReevalState(state(), undefined), 403);
    expect(await rows()).toEqual([]);
  });
});

describe('a store whose tables were never created', () => {
  // Each read first creates the tables (once per process): the first read of a new deployment finds nothing, and fails on nothing.
  const freshStore = () => {
    fresh++;
    return new LifecycleStore(createTestStore({ connectionString: azurite!.connectionString, tablePrefix: `LifeFresh${fresh}`, statuses: STATUSES, maxRetries: 0 }));
  };

  it('lists and reads nothing', async () => {
    expect(await freshStore().listSeenUpTo(T, 10)).toStrictEqual([]);
    expect(await freshStore().getStale('ex150')).toBeUndefined();
    expect(await freshStore().listStale()).toStrictEqual([]);
    expect(await freshStore().getReevalState()).toBeUndefined();
  });
});
