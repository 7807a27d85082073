// Drift's old-layout members (`m|<server>`, no anchor) and the layout migration, against real
// Azurite. Members are written directly as a version before the keyed layout wrote them (the row,
// and the counter row it is counted in), beside servers already in the keyed layout; the job moves
// them a few at a time, and the drift (clusters, counters, each server's member) reads the same
// before, between batches and after; a run that dies leaves nothing half done; a move of the same
// server landing between the migration's read and its transaction (by this version, or by an
// older one rewriting the old row) leaves the counts right; once none is left and recorded, a
// process that reads the record asks one request per server's members instead of two.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mergeClusters } from '../../src/app/drift';
import { LayoutMigration } from '../../src/app/layout-migration';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import {
  DriftStore,
  driftCountsEntity,
  driftCountsKey,
  driftShardOf,
  encodeKey,
  OlderDriftMembers,
  OlderLayoutStore,
  tableNames,
  type DriftMove,
  type DriftPlace,
  type StoragePolicy,
} from '../../src/store';
import { injectedError, lostAnswers } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { OLDER_LAYOUTS_RECHECK_MS } from '../../src/store/recorded-empty';
import { untilEmpty } from '../support/layout-migration';

/**
 * Runs once before the migration store's next drift transaction that deletes a row, then lets it go
 * (or fails it, while `failBatches`); while `filters` is set, the filter of each Drift query is kept there.
 */
const hooks: { beforeBatch?: () => Promise<void>; failBatches: boolean; filters?: string[] } = { failBatches: false };
const hookPolicy: StoragePolicy = {
  name: 'testDriftMigrationHooks',
  async sendRequest(request, next) {
    const url = new URL(request.url);
    const filter = url.searchParams.get('$filter');
    if (hooks.filters && request.method === 'GET' && /Drift\(\)$/.test(url.pathname) && filter !== null) hooks.filters.push(filter);
    const body = typeof request.body === 'string' ? request.body : '';
    if (request.url.endsWith('$batch') && /^DELETE .*Drift\(/m.test(body)) {
      if (hooks.failBatches) throw injectedError(request, 503);
      const hook = hooks.beforeBatch;
      hooks.beforeBatch = undefined;
      if (hook) await hook();
    }
    return next(request);
  },
};

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startAzurite({});
});
afterAll(async () => azurite?.stop());

/** A fresh set of tables (its own prefix): a store for the tests and projector, one for the migration (with the hooks), and the Drift table itself. */
async function tables(prefix: string) {
  const options = { connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1, tablePrefix: prefix };
  const store = createTestStore(options);
  const migrationStore = createTestStore({ ...options, policies: [hookPolicy] });
  await store.ensureTables();
  await migrationStore.ensureTables();
  const names = tableNames(prefix);
  const direct = createTestTables({ connectionString: azurite.connectionString, tablePrefix: prefix });
  const table = direct.drift;
  const migration = (batches: { driftKeysBatch?: number; driftMemberBatch?: number } = {}) =>
    new LayoutMigration({ older: new OlderLayoutStore(migrationStore), drift: new OlderDriftMembers(migrationStore), clock: Date.now, ...batches });
  return { store, migrationStore, names, table, lifecycle: direct.lifecycle, migration, drift: new DriftStore(store) };
}

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const quiet = { log: () => undefined };
const facts = (fingerprint: string) => JSON.stringify({ fp: fingerprint });
const place = (fingerprint: string, status: string): DriftPlace => ({ fingerprint, status });
const servers = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}.corp.contoso.com`);
const oldKey = (server: string) => `m|${encodeKey(server)}`;
const snapshotId = (minutes: number) => `snap-${String(minutes).padStart(6, '0')}`;

function move(rule: string, server: string, to: DriftPlace, minutes: number, from?: DriftPlace | null): DriftMove {
  const m = { ruleId: rule, server, ...to, factsJson: facts(to.fingerprint), sourceSnapshotId: snapshotId(minutes), sourceCollectedAt: T0 + minutes * 60_000 };
  return from === undefined ? m : { ...m, from };
}

/** Adds `delta` servers at `at` to the counter row of `server`'s shard, under its ETag, as every version does. */
async function count(table: TableClient, rule: string, server: string, at: DriftPlace, delta: number): Promise<void> {
  const key = driftCountsKey(at.fingerprint, driftShardOf(server));
  const row = await table.getEntity<Record<string, unknown>>(encodeKey(rule), key).catch(() => undefined);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, Number(row?.[s] ?? 0) + (s === at.status ? delta : 0)]));
  const before = String(row?.Sample ?? '').split(' ').filter((s) => s !== '');
  const sample = delta > 0 ? (before.includes(server) || before.length >= 5 ? before : [...before, server]) : before.filter((s) => s !== server);
  const entity = driftCountsEntity(rule, key, at.fingerprint, counts, facts(at.fingerprint), sample);
  if (row) await table.updateEntity(entity, 'Replace', { etag: String(row.etag) });
  else await table.createEntity(entity);
}

/** A member as a version before the keyed layout wrote it, counted (create: a first count; else the row is replaced). */
async function writeOld(table: TableClient, rule: string, server: string, at: DriftPlace, minutes: number): Promise<void> {
  await table.upsertEntity(
    { partitionKey: encodeKey(rule), rowKey: oldKey(server), Server: server, Fingerprint: at.fingerprint, FactsJson: facts(at.fingerprint), Status: at.status, SourceSnapshotId: snapshotId(minutes), SourceCollectedAt: new Date(T0 + minutes * 60_000) },
    'Replace',
  );
  await count(table, rule, server, at, 1);
}

type Row = Record<string, unknown>;
async function rowsOf(table: TableClient, rule: string): Promise<Row[]> {
  const out: Row[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(rule)}'` } })) out.push(e);
  return out.sort((a, b) => String(a.rowKey).localeCompare(String(b.rowKey)));
}

/**
 * What the drift of a rule answers: its clusters (as the drift route merges them) and each
 * server's member; read by a store that asks both layouts, so every state reads right. Also checks
 * the counters equal the member rows, one member per server.
 */
async function driftView(t: Awaited<ReturnType<typeof tables>>, rule: string, names: readonly string[]) {
  const reader = new DriftStore(t.store, { oldLayoutMembers: 'always' });
  const { rows } = await reader.listCounts(rule);
  const clusters = mergeClusters(rows.map((r) => ({ ...r, facts: JSON.parse(r.factsJson) as Record<string, string> })));
  const members = await Promise.all(names.map((s) => reader.getMember(rule, s)));

  const all = await rowsOf(t.table, rule);
  const memberRows = all.filter((r) => String(r.rowKey).startsWith('m|'));
  const perServer = new Map<string, number>();
  const expected = new Map<string, Record<string, number>>();
  for (const m of memberRows) {
    perServer.set(String(m.Server), (perServer.get(String(m.Server)) ?? 0) + 1);
    const key = driftCountsKey(String(m.Fingerprint), driftShardOf(String(m.Server)));
    const c = expected.get(key) ?? {};
    c[String(m.Status)] = (c[String(m.Status)] ?? 0) + 1;
    expected.set(key, c);
  }
  const counted = new Map<string, Record<string, number>>();
  for (const r of all.filter((x) => String(x.rowKey).startsWith('c|'))) {
    const c = Object.fromEntries(STATUSES.map((s) => [s, Number(r[s] ?? 0)]).filter(([, n]) => n !== 0));
    if (Object.keys(c).length > 0) counted.set(String(r.rowKey), c);
  }
  expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(expected));
  expect([...perServer.values()].every((n) => n === 1)).toBe(true);
  return { clusters, members };
}

const oldKeysOf = async (table: TableClient, rule: string) => (await rowsOf(table, rule)).map((r) => String(r.rowKey)).filter((k) => k.split('|').length === 2 && k.startsWith('m|'));

describe("drift's old-layout members in the layout migration", () => {
  it('are moved a few at a time into the keyed layout; the drift reads the same before, between batches and after; a run that dies changes nothing; a rerun moves nothing', async () => {
    const t = await tables('dmone');
    const rule = 'old-rule';
    const other = 'other-rule';
    const places = [place('fp-a', 'Pass'), place('fp-a', 'Warning'), place('fp-b', 'Pass'), place('fp-c', 'Error')];
    const olds = servers('old', 26);
    const keyed = servers('new', 14);
    // Servers already keyed (first joins through the store), then the old layout beside them, sharing counter rows.
    await t.drift.applyMoves(rule, keyed.map((s, i) => move(rule, s, places[i % places.length]!, 1, null)));
    for (const [i, s] of olds.entries()) await writeOld(t.table, rule, s, places[(i * 3) % places.length]!, 1 + (i % 5));
    const others = servers('oth', 5);
    for (const s of others) await writeOld(t.table, other, s, place('fp-z', 'Warning'), 2);

    const before = await driftView(t, rule, [...olds, ...keyed]);
    const beforeOther = await driftView(t, other, others);
    expect(before.clusters.reduce((n, c) => n + c.servers, 0)).toBe(40);
    expect(before.members.every((m) => m !== undefined)).toBe(true);
    expect(await oldKeysOf(t.table, rule)).toHaveLength(26);

    const m = t.migration({ driftKeysBatch: 8, driftMemberBatch: 3 });
    // A run that dies at its first drift transaction (storage gone) moves nothing and loses nothing.
    hooks.failBatches = true;
    try {
      for (let i = 0; i < 3; i++) await m.run(quiet).catch(() => undefined);
    } finally {
      hooks.failBatches = false;
    }
    expect(await driftView(t, rule, [...olds, ...keyed])).toEqual(before);
    expect(await oldKeysOf(t.table, rule)).toHaveLength(26);

    hooks.filters = [];
    const runs = await untilEmpty(m, async () => {
      expect(await driftView(t, rule, [...olds, ...keyed])).toEqual(before);
      expect(await driftView(t, other, others)).toEqual(beforeOther);
    });
    // Batches resumed inside a rule's partition and after it, each as its own query: none joins partitions by `or`.
    const filters = hooks.filters;
    hooks.filters = undefined;
    expect(filters.some((f) => /^PartitionKey eq '[^']*' and RowKey gt 'm\|/.test(f))).toBe(true);
    expect(filters.some((f) => /^PartitionKey gt '/.test(f))).toBe(true);
    expect(filters.filter((f) => / or /i.test(f))).toEqual([]);
    expect(runs.length).toBeGreaterThan(31 / 3);
    expect(runs.reduce((n, r) => n + r.moved.driftMembers, 0)).toBe(31);
    expect(runs.reduce((n, r) => n + r.left, 0)).toBe(0);
    const firstEmpty = runs.findIndex((r) => r.remainingDriftMembers === 0);
    expect(runs.slice(0, firstEmpty).every((r) => r.remainingDriftMembers > 0 && r.driftEmptyAt === null)).toBe(true);
    const last = runs[runs.length - 1]!;
    expect(last.driftEmptyAt).not.toBeNull();

    // Every member keyed by its place, with its anchor; the record for the readers.
    expect(await oldKeysOf(t.table, rule)).toEqual([]);
    expect(await oldKeysOf(t.table, other)).toEqual([]);
    const rows = await rowsOf(t.table, rule);
    for (const [i, s] of olds.entries()) {
      const at = places[(i * 3) % places.length]!;
      expect(rows.map((r) => r.rowKey)).toContain(`m|${s}|${at.fingerprint}|${at.status}`);
      expect(rows.map((r) => r.rowKey)).toContain(`s|${s}`);
    }
    const record = await t.lifecycle.getEntity('layout', 'older-layouts');
    expect(new Date(record.DriftEmptyAt as Date).toISOString()).toBe(last.driftEmptyAt);

    // Again: nothing is moved, and no drift row is written (ETags included).
    const settled = await rowsOf(t.table, rule);
    const again = await t.migration().run(quiet, 60_000);
    expect(again).toMatchObject({ moved: { driftMembers: 0 }, left: 0, remaining: 0, remainingDriftMembers: 0, driftEmptyAt: last.driftEmptyAt });
    expect(await rowsOf(t.table, rule)).toEqual(settled);
  });

  it('a move of the server landing between the migration reading its old member and its transaction: one of the two wins, the counts stay right', async () => {
    const t = await tables('dmtwo');
    const rule = 'race-rule';
    const P = place('fp-p', 'Pass');
    const Q = place('fp-q', 'Warning');
    const R = place('fp-r', 'Error');
    const [byStore, byOlder, bystander] = servers('race', 3) as [string, string, string];
    for (const s of [byStore, byOlder, bystander]) await writeOld(t.table, rule, s, P, 1);
    const older = new OlderDriftMembers(t.migrationStore);

    // This version's projector moves the server (through read-and-compare, as the member is in the
    // old layout) just before the migration's transaction: the old row is gone, the transaction fails
    // whole, and the migration finds nothing left to move.
    hooks.beforeBatch = () => t.drift.applyMoves(rule, [move(rule, byStore, Q, 2, P)]);
    t.migrationStore.counter.reset();
    expect(await older.move([{ partitionKey: encodeKey(rule), rowKey: oldKey(byStore) }])).toEqual({ moved: 0, resolved: 0, gone: 1, left: 0 });
    expect(t.migrationStore.counter.byTable.get('$batch')).toBe(1);
    expect((await driftView(t, rule, [byStore])).members[0]).toMatchObject({ fingerprint: 'fp-q', status: 'Warning' });

    // An instance of an older version rewrites the old row elsewhere (and its counters) meanwhile:
    // the delete in the transaction could not tell, but the counter row's ETag does; the next
    // attempt reads the row again and moves it where it is now.
    hooks.beforeBatch = async () => {
      await writeOld(t.table, rule, byOlder, R, 3);
      await count(t.table, rule, byOlder, P, -1);
    };
    t.migrationStore.counter.reset();
    expect(await older.move([{ partitionKey: encodeKey(rule), rowKey: oldKey(byOlder) }])).toEqual({ moved: 1, resolved: 0, gone: 0, left: 0 });
    expect(t.migrationStore.counter.byTable.get('$batch')).toBe(2);
    const view = await driftView(t, rule, [byStore, byOlder, bystander]);
    expect(view.members.map((m) => m && `${m.fingerprint}/${m.status}/${m.sourceSnapshotId}`)).toEqual(['fp-q/Warning/snap-000002', 'fp-r/Error/snap-000003', 'fp-p/Pass/snap-000001']);
    expect((await rowsOf(t.table, rule)).map((r) => r.rowKey)).toContain(`m|${byOlder}|fp-r|Error`);

    // The migration first, then the projector's batch that believes the server is at P: now the
    // fast path finds the keyed row and moves it.
    await older.move([{ partitionKey: encodeKey(rule), rowKey: oldKey(bystander) }]);
    await t.drift.applyMoves(rule, [move(rule, bystander, Q, 4, P)]);
    expect((await driftView(t, rule, [bystander])).members[0]).toMatchObject({ fingerprint: 'fp-q', status: 'Warning' });
  });

  it('moves of many servers side by side with the migration of the same servers: every server counted once, where its move put it', async () => {
    const t = await tables('dmthree');
    const rule = 'side-rule';
    const P = place('fp-p', 'Pass');
    const Q = place('fp-q', 'Warning');
    const m = t.migration({ driftMemberBatch: 7 });
    for (let round = 0; round < 3; round++) {
      const names = servers(`side${round}-`, 24);
      for (const s of names) await writeOld(t.table, rule, s, P, 1);
      // Half move with a known previous place (their transaction fails on the old row, then read
      // and compare), half with none known (read and compare at once), while the job runs.
      await Promise.all([m.run(quiet, 60_000), t.drift.applyMoves(rule, names.map((s, i) => move(rule, s, Q, 2, i % 2 ? P : undefined)))]);
      await untilEmpty(m);
      const view = await driftView(t, rule, names);
      expect(view.members.map((x) => x && `${x.fingerprint}/${x.status}`)).toEqual(names.map(() => 'fp-q/Warning'));
      expect(await oldKeysOf(t.table, rule)).toEqual([]);
    }
    const clusters = (await driftView(t, rule, [])).clusters;
    expect(clusters.map((c) => [c.fingerprint, c.servers])).toEqual([['fp-q', 72]]);
  });

  it('a server counted in both layouts (a first join that never met its old row) ends counted once, under its newest member', async () => {
    const t = await tables('dmfour');
    const rule = 'both-rule';
    const [keyedNewer, oldNewer] = servers('both', 2) as [string, string];
    await t.drift.applyMoves(rule, [move(rule, keyedNewer, place('fp-k', 'Pass'), 5, null), move(rule, oldNewer, place('fp-k', 'Pass'), 2, null)]);
    await writeOld(t.table, rule, keyedNewer, place('fp-o', 'Warning'), 1);
    await writeOld(t.table, rule, oldNewer, place('fp-o', 'Warning'), 9);
    // Servers counted per configuration, over its shards.
    const counted = async () => Object.fromEntries(mergeClusters((await t.drift.listCounts(rule)).rows.map((r) => ({ ...r, facts: {} }))).map((c) => [c.fingerprint, c.servers]));
    expect(await counted()).toEqual({ 'fp-k': 2, 'fp-o': 2 });

    const runs = await untilEmpty(t.migration());
    expect(runs.reduce((n, r) => n + r.moved.driftMembers, 0)).toBe(2);
    const view = await driftView(t, rule, [keyedNewer, oldNewer]);
    expect(view.members.map((x) => x && `${x.fingerprint}/${x.sourceSnapshotId}`)).toEqual(['fp-k/snap-000005', 'fp-o/snap-000009']);
    expect(await counted()).toEqual({ 'fp-k': 1, 'fp-o': 1 });
  });

  it('a move whose answer was lost after it landed (its resend refused, the old row gone) is counted moved, by the store and by the run', async () => {
    const t = await tables('dmlost');
    const rule = 'lost-rule';
    const P = place('fp-p', 'Pass');
    const [alone, inRun] = servers('lost', 2) as [string, string];
    for (const s of [alone, inRun]) await writeOld(t.table, rule, s, P, 1);
    const before = await driftView(t, rule, [alone, inRun]);
    const lose = lostAnswers('testDriftMoveLoseAnswer');
    const lossy = createTestStore({ connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1, tablePrefix: 'dmlost', policies: [lose.policy] });
    const moving = (r: { url: string; body: string }) => r.url.endsWith('$batch') && /^DELETE .*Drift\(/m.test(r.body);

    lose.when = moving;
    expect(await new OlderDriftMembers(lossy).move([{ partitionKey: encodeKey(rule), rowKey: oldKey(alone) }])).toEqual({ moved: 1, resolved: 0, gone: 0, left: 0 });
    expect(lose.when).toBeUndefined();

    lose.when = moving;
    const run = await new LayoutMigration({ older: new OlderLayoutStore(lossy), drift: new OlderDriftMembers(lossy), clock: Date.now }).run(quiet);
    expect(lose.when).toBeUndefined();
    expect(run).toMatchObject({ moved: { driftMembers: 1 }, left: 0, remainingDriftMembers: 0 });
    // Each moved once: keyed where it was, the counts as they were.
    expect(await oldKeysOf(t.table, rule)).toEqual([]);
    expect(await driftView(t, rule, [alone, inRun])).toEqual(before);
  });

  it('once recorded, a process that reads the record asks one request for a server\'s members instead of two; one that has not read it still asks both', async () => {
    const t = await tables('dmfive');
    const rule = 'cost-rule';
    const names = servers('cost', 3);
    for (const s of names) await writeOld(t.table, rule, s, place('fp-a', 'Pass'), 1);
    const drift = t.names.drift;
    const lifecycle = t.names.lifecycle;
    const calls = (table: string) => t.store.counter.byTable.get(table) ?? 0;

    // Before the migration: a range read and a point read per server, and the record once.
    const early = new DriftStore(t.store);
    t.store.counter.reset();
    const answers = await Promise.all(names.map((s) => early.getMember(rule, s)));
    expect(answers.every((a) => a?.fingerprint === 'fp-a')).toBe(true);
    expect([calls(drift), calls(lifecycle)]).toEqual([6, 1]);

    const runs = await untilEmpty(t.migration());
    expect(runs[runs.length - 1]!.driftEmptyAt).not.toBeNull();

    // The process that read the record before it was written still asks both (until it reads it again).
    t.store.counter.reset();
    for (const s of names) await early.getMember(rule, s);
    expect([calls(drift), calls(lifecycle)]).toEqual([6, 0]);

    // A process that reads the record: one request per server, the same answers.
    const fresh = new DriftStore(t.store);
    t.store.counter.reset();
    expect(await Promise.all(names.map((s) => fresh.getMember(rule, s)))).toEqual(answers);
    expect([calls(drift), calls(lifecycle)]).toEqual([3, 1]);
    t.store.counter.reset();
    for (const s of names) await fresh.getMember(rule, s);
    // A replayed move reads the members and the counter row it joins, and writes nothing: two requests, not three.
    await fresh.syncMember({ ...answers[0]! });
    expect([calls(drift), calls(lifecycle), t.store.counter.writes]).toEqual([3 + 2, 0, 0]);
  });

  it('once recorded empty, runs keep looking for late old-layout members for a day, then stop listing the members at all', async () => {
    const t = await tables('dmsix');
    const rule = 'settle-rule';
    const [first, late, later] = servers('settle', 3) as [string, string, string];
    await writeOld(t.table, rule, first, place('fp-a', 'Pass'), 1);
    let now = T0;
    const migration = new LayoutMigration({ older: new OlderLayoutStore(t.migrationStore), drift: new OlderDriftMembers(t.migrationStore), clock: () => now });
    const runs = await untilEmpty(migration);
    expect(runs[runs.length - 1]!.driftEmptyAt).toBe(new Date(T0).toISOString());
    const driftCalls = async () => {
      t.migrationStore.counter.reset();
      const run = await migration.run(quiet);
      return { run, calls: t.migrationStore.counter.byTable.get(t.names.drift) ?? 0 };
    };

    // Within the day: a member written late in the old layout (an instance of an older release) is still found and moved.
    now = T0 + 60 * 60_000;
    await writeOld(t.table, rule, late, place('fp-a', 'Pass'), 2);
    const within = await driftCalls();
    expect(within.calls).toBeGreaterThan(0);
    expect(within.run.moved.driftMembers).toBe(1);
    expect(await oldKeysOf(t.table, rule)).toEqual([]);

    // A day after the first empty record: the run reads no Drift row, and the record stands.
    now = T0 + 24 * 60 * 60_000;
    const settled = await driftCalls();
    expect(settled.calls).toBe(0);
    expect(settled.run.driftEmptyAt).toBe(new Date(T0).toISOString());
    expect(settled.run.remainingDriftMembers).toBe(0);
    // History and Snapshots are still looked at (their ranges are their own, so that costs little).
    expect(settled.run.continuation).toBeNull();
    await writeOld(t.table, rule, later, place('fp-a', 'Pass'), 3);
    expect((await driftCalls()).calls).toBe(0);
  });

  it('a process that read the record before it was written stops asking the old layout once it reads it again, a quarter hour later', async () => {
    const t = await tables('dmseven');
    const rule = 'recheck-rule';
    const [server] = servers('recheck', 1) as [string];
    await writeOld(t.table, rule, server, place('fp-a', 'Pass'), 1);
    const calls = (table: string) => t.store.counter.byTable.get(table) ?? 0;
    // Only Date is faked: the process's idea of "now", nothing that waits.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const early = new DriftStore(t.store);
      await early.getMember(rule, server);
      await untilEmpty(t.migration());
      vi.setSystemTime(Date.now() + OLDER_LAYOUTS_RECHECK_MS + 1);
      t.store.counter.reset();
      expect((await early.getMember(rule, server))?.fingerprint).toBe('fp-a');
      expect([calls(t.names.drift), calls(t.names.lifecycle)]).toEqual([1, 1]);
      t.store.counter.reset();
      await early.getMember(rule, server);
      expect([calls(t.names.drift), calls(t.names.lifecycle)]).toEqual([1, 0]);
    } finally {
      vi.useRealTimers();
    }
  });
});
