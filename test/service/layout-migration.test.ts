// The layout migration against real Azurite. Rows are written in the layouts before the buckets
// with their old keys (History rows and raw snapshots in a partition per server), then the job
// moves them a batch at a time: every row stays readable before, during and after; the history
// walk returns the same records in the same order and the newest raw body stays the newest; a
// second run moves nothing; a run cut short between its copies and its deletes is finished by the
// next; a slot holding newer content is never replaced, with the projector and ingest writing
// meanwhile and two runs side by side; resumed after any row, it asks a query per partition range
// (never one joined by `or`) and copies each row once. Once it records the older layouts empty, a reader that has
// read the record asks one partition instead of two.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { LayoutMigration, type LayoutMigrationRun } from '../../src/app/layout-migration';
import { STATUSES } from '../../src/rules/types';
import { bucketOf, encodeKey, EventStore, OlderDriftMembers, OlderLayoutStore, RawSnapshotStore, tableNames, type EventRecord, type PostureStore, type RawSnapshotRecord, type StoragePolicy } from '../../src/store';
import { injectedError, oncePerRequest } from '../support/faults';
import { untilEmpty } from '../support/layout-migration';
import { changeAt, legacyHistory, legacyRaw, legacyRawTimeKey } from '../support/older-layout-rows';
import { post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { createTestStore, stackTables, startTestStack, type TestStack } from '../support/stack';

/** While on, every delete of an older-layout row fails as storage would when down: a crash between a run's copies and its deletes. */
const faults = { failOlderDeletes: false };
const faultPolicy: StoragePolicy = {
  name: 'testLayoutMigrationFaults',
  sendRequest(request, next) {
    if (faults.failOlderDeletes) {
      const url = decodeURIComponent(request.url);
      const pk = /(?:History|Snapshots)\(PartitionKey='([^']*)'/.exec(url)?.[1];
      const single = request.method === 'DELETE' && pk !== undefined && !/^[hs]\|/.test(pk);
      const body = typeof request.body === 'string' ? request.body : '';
      const batch = url.endsWith('$batch') && /^DELETE .*History\(/m.test(body);
      if (single || batch) throw injectedError(request, 503);
    }
    return next(request);
  },
};

/** While on, what the store asks of History and Snapshots: each query's filter, and each row a transaction writes. */
const seen = { on: false, filters: [] as string[], writes: [] as string[] };
/** A retry of a request asks and writes nothing more: it is seen once. */
const firstAttempt = oncePerRequest();
const capturePolicy: StoragePolicy = {
  name: 'testLayoutMigrationCapture',
  sendRequest(request, next) {
    if (seen.on && firstAttempt(request)) {
      const url = new URL(request.url);
      const filter = url.searchParams.get('$filter');
      if (request.method === 'GET' && /\/(?:\w*History|\w*Snapshots)\(\)$/.test(url.pathname) && filter !== null) seen.filters.push(filter);
      const body = typeof request.body === 'string' ? request.body : '';
      if (url.pathname.endsWith('$batch')) for (const m of body.matchAll(/^(?:PUT|PATCH|MERGE) \S*History\((PartitionKey='[^']*',RowKey='[^']*')\)/gm)) seen.writes.push(decodeURIComponent(m[1]!));
    }
    return next(request);
  },
};

let stack: TestStack;
let history: TableClient;
let snapshots: TableClient;
let lifecycle: TableClient;
beforeAll(async () => {
  stack = await startTestStack({ projectorIntervalMs: 0, storagePolicies: [faultPolicy, capturePolicy] });
  ({ history, snapshots, lifecycle } = stackTables(stack));
});
afterAll(async () => stack?.stop());

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const quiet = { log: () => undefined };

const change = changeAt(T0);

function raw(server: string, minutes: number, content: string): RawSnapshotRecord {
  return { server, snapshotId: `snap-${server}-${minutes}`, collectedAt: T0 + minutes * 60_000, receivedAt: T0 + minutes * 60_000 + 500, contentHash: `sha256:${content}`, body: JSON.stringify({ server, content }) };
}

async function seedHistory(events: readonly EventRecord[]): Promise<void> {
  for (const e of events) await history.createEntity(legacyHistory(e));
}

/** Every page of one server's history, as the route walks it. */
async function walk(events: EventStore, server: string, top = 2): Promise<EventRecord[]> {
  const items: EventRecord[] = [];
  let token: string | undefined;
  do {
    const page = await events.listHistory(server, undefined, top, token);
    items.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return items;
}

const bodyOf = async (server: string) => (await stack.app.rawSnapshots.getLatestRaw(server, true))?.body;

/** Keys of every row left in the older layouts of both tables. */
async function olderKeys(): Promise<string[]> {
  const out: string[] = [];
  for (const [table, bucket] of [
    [history, 'h'],
    [snapshots, 's'],
  ] as const) {
    for (const filter of [`PartitionKey lt '${bucket}|'`, `PartitionKey ge '${bucket}}'`]) {
      for await (const e of table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })) out.push(`${table.tableName}/${e.partitionKey}/${e.rowKey}`);
    }
  }
  return out.sort();
}

/** A server's bucket slots: slot number → snapshot id and ETag. */
async function slotsOf(server: string): Promise<Map<string, { snapshotId: string; etag: string }>> {
  const k = encodeKey(server);
  const filter = `PartitionKey eq 's|${bucketOf(server, 16)}' and RowKey ge '${k}|slot' and RowKey lt '${k}|slot~'`;
  const out = new Map<string, { snapshotId: string; etag: string }>();
  for await (const e of snapshots.listEntities({ queryOptions: { filter, select: ['RowKey', 'SnapshotId'] } })) out.set(String(e.rowKey).slice(k.length + 1), { snapshotId: String(e.SnapshotId), etag: String(e.etag) });
  return out;
}

/** A row's columns as stored, with their types, without the keys, ETag and Timestamp. */
async function storedColumns(table: TableClient, filter: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter }, disableTypeConversion: true })) {
    const { partitionKey: _pk, rowKey: _rk, etag: _etag, timestamp: _ts, ...columns } = e as Record<string, unknown>;
    out.push(columns);
  }
  return out;
}

const migration = (batches: { historyBatch?: number; serverBatch?: number } = {}) => new LayoutMigration({ older: new OlderLayoutStore(stack.app.projectorStore), drift: new OlderDriftMembers(stack.app.projectorStore), clock: Date.now, ...batches });

async function runJob(): Promise<LayoutMigrationRun> {
  const res = await stack.request('jobs/layout-migration/run', { method: 'POST', key: 'admin' });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { job: string; result: LayoutMigrationRun };
  expect(body.job).toBe('layout-migration');
  return body.result;
}

/** Runs single batches until a pass ends with nothing left; `check` after each. */
const sum = (runs: readonly LayoutMigrationRun[]) => ({
  history: runs.reduce((n, r) => n + r.moved.history, 0),
  snapshots: runs.reduce((n, r) => n + r.moved.snapshots, 0),
  deleted: runs.reduce((n, r) => n + r.deleted, 0),
  left: runs.reduce((n, r) => n + r.left, 0),
});

describe('the layout migration', () => {
  it('moves every older row a batch at a time; readers see the same records, in the same order, and the same newest body throughout', async () => {
    const h1 = 'legacy-h1.corp.example';
    const h2 = 'legacy-h2.corp.example';
    // Seven older changes of h1 over two rules, two newer ones in the buckets; three of h2.
    await seedHistory([1, 2, 3, 4, 5, 6, 7].map((m) => change(h1, m, m % 2 ? 'rule-a' : 'rule-b', m % 3 ? 'Warning' : 'Pass')));
    await stack.app.events.putEvents([change(h1, 20), change(h1, 21, 'rule-b', 'Error')]);
    await seedHistory([1, 2, 3].map((m) => change(h2, m)));
    const h1Columns = await storedColumns(history, `PartitionKey eq '${h1}'`);

    // r1: the older slots; r2: rows keyed by time (before the slots); r3: a newer bucket slot
    // beside two older slots; r4: both bucket slots newer; r5: an older row whose content a bucket slot holds.
    const [r1, r2, r3, r4, r5] = ['r1', 'r2', 'r3', 'r4', 'r5'].map((n) => `legacy-${n}.corp.example`) as [string, string, string, string, string];
    await snapshots.createEntity(legacyRaw(raw(r1, 1, 'r1-a'), 'slot0'));
    await snapshots.createEntity(legacyRaw(raw(r1, 2, 'r1-b'), 'slot1'));
    for (const m of [1, 2, 3]) await snapshots.createEntity(legacyRaw(raw(r2, m, `r2-${m}`), legacyRawTimeKey(raw(r2, m, ''))));
    await stack.app.rawSnapshots.putRawSnapshots([{ record: raw(r3, 10, 'r3-new'), slot: 0 }]);
    await snapshots.createEntity(legacyRaw(raw(r3, 3, 'r3-a'), 'slot0'));
    await snapshots.createEntity(legacyRaw(raw(r3, 4, 'r3-b'), 'slot1'));
    await stack.app.rawSnapshots.putRawSnapshots([
      { record: raw(r4, 10, 'r4-new0'), slot: 0 },
      { record: raw(r4, 11, 'r4-new1'), slot: 1 },
    ]);
    await snapshots.createEntity(legacyRaw(raw(r4, 3, 'r4-a'), 'slot0'));
    await snapshots.createEntity(legacyRaw(raw(r4, 4, 'r4-b'), 'slot1'));
    await stack.app.rawSnapshots.putRawSnapshots([{ record: raw(r5, 10, 'r5-same'), slot: 1 }]);
    await snapshots.createEntity(legacyRaw(raw(r5, 2, 'r5-same'), 'slot0'));

    const servers = [h1, h2];
    const raws = [r1, r2, r3, r4, r5];
    const walks = await Promise.all(servers.map((s) => walk(stack.app.events, s)));
    expect(walks.map((w) => w.length)).toEqual([9, 3]);
    expect(walks[0]!.map((e) => e.firstSeen)).toEqual([21, 20, 7, 6, 5, 4, 3, 2, 1].map((m) => T0 + m * 60_000));
    const bodies = await Promise.all(raws.map(bodyOf));
    expect(bodies.map((b) => JSON.parse(b ?? '{}').content)).toEqual(['r1-b', 'r2-3', 'r3-new', 'r4-new1', 'r5-same']);
    const untouched = { r3: (await slotsOf(r3)).get('slot0'), r4: await slotsOf(r4), r5: await slotsOf(r5) };
    expect(await olderKeys()).toHaveLength(10 + 2 + 3 + 2 + 2 + 1);

    // A batch at a time, small batches: after each, every reader answers as before.
    const runs = await untilEmpty(migration({ historyBatch: 3, serverBatch: 2 }), async () => {
      expect(await Promise.all(servers.map((s) => walk(stack.app.events, s)))).toEqual(walks);
      expect(await Promise.all(raws.map(bodyOf))).toEqual(bodies);
    });
    expect(runs.length).toBeGreaterThanOrEqual(6);
    expect(sum(runs)).toEqual({ history: 10, snapshots: 5, deleted: 5, left: 0 });
    // Rows remain, and nothing is recorded, until a run finds none; from then on every run keeps
    // that time (the pass ends with drift's members, of which there are none here).
    const firstEmpty = runs.findIndex((r) => r.remaining === 0);
    expect(firstEmpty).toBeGreaterThan(0);
    expect(runs.slice(0, firstEmpty).every((r) => r.remaining > 0 && r.emptyAt === null)).toBe(true);
    const last = runs[runs.length - 1]!;
    expect(last.emptyAt).not.toBeNull();
    expect(runs.slice(firstEmpty).map((r) => r.emptyAt)).toEqual(runs.slice(firstEmpty).map(() => last.emptyAt));
    expect(await olderKeys()).toEqual([]);

    // The same columns, with their types, under the bucket keys.
    const moved = await storedColumns(history, `PartitionKey eq 'h|${bucketOf(h1, 16)}' and RowKey ge '${h1}|' and RowKey lt '${h1}}'`);
    expect(moved).toHaveLength(9);
    for (const columns of h1Columns) expect(moved).toContainEqual(columns);
    // The slots keep their meaning: the older slot rows in their own slots, time-keyed rows newest
    // in slot 0; a slot holding newer content is left as it was (its ETag unchanged).
    const ids = async (s: string) => Object.fromEntries([...(await slotsOf(s))].map(([slot, v]) => [slot, v.snapshotId]));
    expect(await ids(r1)).toEqual({ slot0: `snap-${r1}-1`, slot1: `snap-${r1}-2` });
    expect(await ids(r2)).toEqual({ slot0: `snap-${r2}-3`, slot1: `snap-${r2}-2` });
    expect(await ids(r3)).toEqual({ slot0: `snap-${r3}-10`, slot1: `snap-${r3}-4` });
    expect((await slotsOf(r3)).get('slot0')).toEqual(untouched.r3);
    expect(await slotsOf(r4)).toEqual(untouched.r4);
    expect(await slotsOf(r5)).toEqual(untouched.r5);

    // Recorded for the readers; the job's route runs it again and finds nothing to move.
    const record = await lifecycle.getEntity('layout', 'older-layouts');
    expect(new Date(record.EmptyAt as Date).toISOString()).toBe(last.emptyAt);
    const again = await runJob();
    expect(again).toMatchObject({ moved: { history: 0, snapshots: 0 }, deleted: 0, left: 0, remaining: 0, remainingAtLeast: false, emptyAt: last.emptyAt });
    expect(await Promise.all(servers.map((s) => walk(stack.app.events, s)))).toEqual(walks);
    expect(await Promise.all(raws.map(bodyOf))).toEqual(bodies);
  });

  it('a run cut short between its copies and its deletes is finished by the next', async () => {
    const server = 'legacy-crash.corp.example';
    await seedHistory([1, 2, 3, 4].map((m) => change(server, m)));
    await snapshots.createEntity(legacyRaw(raw(server, 1, 'crash-a'), 'slot0'));
    await snapshots.createEntity(legacyRaw(raw(server, 2, 'crash-b'), 'slot1'));
    const before = await walk(stack.app.events, server);
    const body = await bodyOf(server);
    expect(JSON.parse(body ?? '{}').content).toBe('crash-b');
    const m = migration();
    const bucketRows = async () => (await storedColumns(history, `PartitionKey eq 'h|${bucketOf(server, 16)}' and RowKey ge '${server}|' and RowKey lt '${server}}'`)).length;

    faults.failOlderDeletes = true;
    try {
      // History first: copied into the bucket, still in the older partition.
      await expect(m.run(quiet)).rejects.toThrow();
      expect(await bucketRows()).toBe(4);
      expect((await olderKeys()).filter((k) => k.includes(server))).toHaveLength(6);
      // In both layouts at once the walk shows each change once, in order, at any page size; the body is the same.
      for (const top of [1, 2, 3, 4, 5, 50]) expect(await walk(stack.app.events, server, top), `top ${top}`).toEqual(before);
      expect(await bodyOf(server)).toBe(body);
    } finally {
      faults.failOlderDeletes = false;
    }
    const finished = await m.run(quiet);
    expect(finished.moved.history).toBe(4);
    expect(await walk(stack.app.events, server)).toEqual(before);
    expect(finished.continuation).toEqual({ table: 'snapshots' });

    // Then the raw rows: copied into the slots, and the run dies before removing them.
    faults.failOlderDeletes = true;
    try {
      await expect(m.run(quiet)).rejects.toThrow();
      expect(Object.fromEntries([...(await slotsOf(server))].map(([slot, v]) => [slot, v.snapshotId]))).toEqual({ slot0: `snap-${server}-1`, slot1: `snap-${server}-2` });
      expect((await olderKeys()).filter((k) => k.includes(server))).toHaveLength(2);
      expect(await bodyOf(server)).toBe(body);
    } finally {
      faults.failOlderDeletes = false;
    }
    const slotsBefore = await slotsOf(server);
    const rest = await untilEmpty(m);
    // The slots hold that content already: the rows only go, and the slots are not written again.
    expect(sum(rest)).toEqual({ history: 0, snapshots: 0, deleted: 2, left: 0 });
    expect(await slotsOf(server)).toEqual(slotsBefore);
    expect(await olderKeys()).toEqual([]);
    expect(await bodyOf(server)).toBe(body);
    expect(await walk(stack.app.events, server)).toEqual(before);
  });

  it('two runs side by side, with the projector and ingest writing meanwhile: nothing lost, nothing newer replaced', async () => {
    const servers = ['p1', 'p2', 'p3', 'p4'].map((n) => `legacy-${n}.corp.example`);
    // The server that posts meanwhile: its older rows are there when it posts.
    const posted = 'legacy9.corp.contoso.com';
    for (const s of [...servers, posted]) {
      await seedHistory([1, 2, 3, 4, 5].map((m) => change(s, m, m % 2 ? 'rule-a' : 'rule-b')));
      await snapshots.createEntity(legacyRaw(raw(s, 1, `${s}-a`), 'slot0'));
      await snapshots.createEntity(legacyRaw(raw(s, 2, `${s}-b`), 'slot1'));
    }
    const older = new Map(await Promise.all([...servers, posted].map(async (s) => [s, await walk(stack.app.events, s)] as const)));
    const p2 = servers[1]!;

    const doc = snapshot({ host: 'LEGACY9', testState: 'Warning', collectedAt: Date.now() - 60_000 });
    const [a, b] = await Promise.all([
      migration({ historyBatch: 4, serverBatch: 1 }).run(quiet, 60_000),
      migration({ historyBatch: 3, serverBatch: 2 }).run(quiet, 60_000),
      // The projector writes p2 newer content in both slots, and newer changes.
      (async () => {
        const projector = projectionStores(stack.app.projectorStore);
        await projector.rawSnapshots.putRawSnapshots([{ record: raw(p2, 30, 'p2-new0'), slot: 0 }]);
        await projector.events.putEvents([change(p2, 30)]);
        await projector.rawSnapshots.putRawSnapshots([{ record: raw(p2, 31, 'p2-new1'), slot: 1 }]);
      })(),
      // A post of the server whose rows are being moved, projected at once.
      post(stack, doc).then((r) => expect(r.status).toBe(201)),
    ]);
    expect(a.continuation).toBeNull();
    expect(b.continuation).toBeNull();
    // Whatever either left (a slot written while it looked) the next run finishes.
    const rest = await untilEmpty(migration());
    const all = [a, b, ...rest];
    expect(sum(all).history).toBeGreaterThanOrEqual(25);
    expect(await olderKeys()).toEqual([]);

    for (const s of servers.filter((x) => x !== p2)) {
      expect(await walk(stack.app.events, s), s).toEqual(older.get(s));
      expect(JSON.parse((await bodyOf(s)) ?? '{}').content, s).toBe(`${s}-b`);
    }
    // p2: its newer change first, then the older ones in order; its slots hold only the newer content.
    expect(await walk(stack.app.events, p2)).toEqual([change(p2, 30), ...older.get(p2)!]);
    expect(Object.fromEntries([...(await slotsOf(p2))].map(([slot, v]) => [slot, v.snapshotId]))).toEqual({ slot0: `snap-${p2}-30`, slot1: `snap-${p2}-31` });
    // The posting server: its new changes and body are the newest; every older change follows them.
    const postedWalk = await walk(stack.app.events, posted);
    const changes = postedWalk.filter((e) => e.snapshotId === String(doc.snapshotId).toLowerCase());
    expect(changes.length).toBeGreaterThan(0);
    expect(postedWalk).toEqual([...changes, ...older.get(posted)!]);
    expect((await stack.app.rawSnapshots.getLatestRaw(posted))?.snapshotId).toBe(String(doc.snapshotId).toLowerCase());
    const postedSlots = [...(await slotsOf(posted)).values()].map((v) => v.snapshotId);
    expect(postedSlots).toContain(String(doc.snapshotId).toLowerCase());
    expect(postedSlots).toContain(`snap-${posted}-2`);
  });

  it('a change in both layouts at once (copied, not yet deleted) is walked once, in order, at every page size, and with a rule', async () => {
    const server = 'legacy-both.corp.example';
    // Six older changes over two rules, and two newer ones written to the bucket.
    await seedHistory([1, 2, 3, 4, 5, 6].map((m) => change(server, m, m % 2 ? 'rule-a' : 'rule-b')));
    await stack.app.events.putEvents([change(server, 20), change(server, 21, 'rule-b', 'Error')]);
    const store = stack.app.store;
    const events = stack.app.events;
    const before = await walk(events, server, 100);
    const beforeA = (await events.listHistory(server, 'rule-a', 100)).items;
    expect(before).toHaveLength(8);
    expect(beforeA).toHaveLength(4);

    // The state a crash leaves: some older rows copied into the bucket and not deleted (not a
    // prefix, as copies of one batch go in parallel), the others not copied yet.
    const older = new OlderLayoutStore(stack.app.projectorStore);
    const rows = (await older.listRows('history', undefined, 1000)).rows.filter((r) => r.partitionKey === server);
    expect(rows).toHaveLength(6);
    await older.copyHistoryRows([rows[0]!, rows[2]!, rows[3]!, rows[5]!]);
    expect((await storedColumns(history, `PartitionKey eq 'h|${bucketOf(server, 16)}' and RowKey ge '${server}|' and RowKey lt '${server}}'`)).length).toBe(6);

    for (const top of [1, 2, 3, 4, 5, 7, 8, 9, 100]) {
      expect(await walk(events, server, top), `top ${top}`).toEqual(before);
      const byRule: EventRecord[] = [];
      let token: string | undefined;
      do {
        const page = await events.listHistory(server, 'rule-a', top, token);
        byRule.push(...page.items);
        token = page.continuationToken;
      } while (token);
      expect(byRule, `rule-a, top ${top}`).toEqual(beforeA);
    }

    // Through the bucket's newer rows, a page costs one request: the older partition is asked on
    // the first page and again only where its rows come next.
    const names = tableNames(stack.settings.tablePrefix);
    await untilEmpty(migration());
    await stack.app.events.putEvents([22, 23, 24, 25, 26, 27].map((m) => change(server, m)));
    await seedHistory([7, 8].map((m) => change('legacy-both2.corp.example', m)));
    await stack.app.events.putEvents([30, 31, 32, 33, 34, 35].map((m) => change('legacy-both2.corp.example', m)));
    store.counter.reset();
    let pages = 0;
    let token: string | undefined;
    const all: EventRecord[] = [];
    do {
      const page = await events.listHistory('legacy-both2.corp.example', undefined, 2, token);
      all.push(...page.items);
      token = page.continuationToken;
      pages++;
    } while (token);
    expect(all.map((e) => e.firstSeen)).toEqual([35, 34, 33, 32, 31, 30, 8, 7].map((m) => T0 + m * 60_000));
    expect(pages).toBe(4);
    // Both on the first page, the bucket alone on the next two, the older partition alone on the last.
    expect(store.counter.byTable.get(names.history)).toBe(pages + 1);
    await untilEmpty(migration());
    expect(await walk(events, server, 3)).toEqual(await walk(events, server, 100));
  });

  it('resumes with a query per partition range, never one joined by `or`: resumed after every row, or mid-partition, every row moves exactly once', async () => {
    // Servers below the buckets' partitions (`a…`, `g…`, `h…`) and above them (`m…`), a partition of
    // each size from one row to four, so batches end inside partitions, at their ends and across ranges.
    const sizes = { 'a-res.example': 4, 'g-res.example': 1, 'h0-res.example': 3, 'm-res.example': 2, 'mz-res.example': 4 };
    for (const [batch, serverBatch] of [
      [1, 1],
      [3, 2],
    ] as const) {
      const servers = Object.keys(sizes).map((s) => `b${batch}${s}`);
      const events = servers.flatMap((s, i) => Array.from({ length: Object.values(sizes)[i]! }, (_, m) => change(s, m + 1, m % 2 ? 'rule-a' : 'rule-b')));
      await seedHistory(events);
      for (const s of servers) {
        await snapshots.createEntity(legacyRaw(raw(s, 1, `${s}-a`), 'slot0'));
        await snapshots.createEntity(legacyRaw(raw(s, 2, `${s}-b`), 'slot1'));
      }
      const before = new Map(await Promise.all(servers.map(async (s) => [s, await walk(stack.app.events, s)] as const)));
      seen.filters = [];
      seen.writes = [];
      seen.on = true;
      let runs: LayoutMigrationRun[];
      try {
        runs = await untilEmpty(migration({ historyBatch: batch, serverBatch }));
      } finally {
        seen.on = false;
      }
      expect(await olderKeys()).toEqual([]);
      expect(sum(runs)).toEqual({ history: events.length, snapshots: servers.length * 2, deleted: 0, left: 0 });
      // Each History row copied once: no batch read a row again, none skipped one.
      const expected = events.map((e) => `PartitionKey='h|${bucketOf(e.server, 16)}',RowKey='${encodeKey(e.server)}|${legacyHistory(e).rowKey}'`);
      expect(seen.writes.filter((w) => servers.some((s) => w.includes(`RowKey='${encodeKey(s)}|`))).sort()).toEqual(expected.sort());
      // Resumed inside a partition and after one, each as its own query; no filter joins partitions by `or`.
      expect(seen.filters.some((f) => /^PartitionKey eq '[^']*' and RowKey gt '/.test(f))).toBe(true);
      expect(seen.filters.some((f) => /PartitionKey gt '/.test(f))).toBe(true);
      expect(seen.filters.filter((f) => / or /i.test(f))).toEqual([]);
      for (const s of servers) expect(await walk(stack.app.events, s), s).toEqual(before.get(s));
    }
  });

  it('once recorded empty, a reader that has read the record asks one partition; one that has not still asks both, with the same answers', async () => {
    const server = 'legacy-h1.corp.example';
    const rawServer = 'legacy-r1.corp.example';
    const recorded = await runJob();
    expect(recorded.remaining).toBe(0);
    expect(recorded.emptyAt).not.toBeNull();
    const names = tableNames(stack.settings.tablePrefix);
    const calls = (store: PostureStore, table: string) => store.counter.byTable.get(table) ?? 0;

    // The stack's store read the record before the migration finished: it still asks both.
    const seenBefore = stack.app.store;
    seenBefore.counter.reset();
    const walked = await stack.app.events.listHistory(server, undefined, 50);
    const latest = await stack.app.rawSnapshots.getLatestRaw(rawServer, true);
    expect([calls(seenBefore, names.history), calls(seenBefore, names.snapshots), calls(seenBefore, names.lifecycle)]).toEqual([2, 2, 0]);

    // A new process reads the record once, then asks the buckets alone.
    const fresh = createTestStore({
      connectionString: stack.settings.storageConnectionString,
      tablePrefix: stack.settings.tablePrefix,
      statuses: STATUSES,
      maxRetries: 1,
      continuationTokenSecret: stack.settings.continuationTokenSecret,
    });
    await fresh.ensureTables();
    const freshEvents = new EventStore(fresh);
    const freshRaw = new RawSnapshotStore(fresh);
    fresh.counter.reset();
    expect((await freshEvents.listHistory(server, undefined, 50)).items).toEqual(walked.items);
    expect(await freshRaw.getLatestRaw(rawServer, true)).toEqual(latest);
    expect([calls(fresh, names.history), calls(fresh, names.snapshots), calls(fresh, names.lifecycle)]).toEqual([1, 1, 1]);
    fresh.counter.reset();
    for (let i = 0; i < 3; i++) {
      await freshEvents.listHistory(server, undefined, 50);
      await freshRaw.getLatestRaw(rawServer, true);
    }
    // Three walks and three raw reads: a request each, where the other store pays two.
    expect([calls(fresh, names.history), calls(fresh, names.snapshots), calls(fresh, names.lifecycle)]).toEqual([3, 3, 0]);

    // A token the other store issued mid-walk, asking both, goes on at the store that asks the
    // buckets alone: the same changes follow, one request.
    const first = await stack.app.events.listHistory(server, undefined, 4);
    expect(first.items).toEqual(walked.items.slice(0, 4));
    fresh.counter.reset();
    expect(await freshEvents.listHistory(server, undefined, 50, first.continuationToken)).toEqual({ items: walked.items.slice(4), continuationToken: undefined });
    expect(calls(fresh, names.history)).toBe(1);
  });
});
