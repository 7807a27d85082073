// The layout migration's runs without storage: History rows, then each server's older raw rows,
// then drift's old-layout members, a batch at a time from where the last run stopped, over older
// layouts held in memory that record every call. Where a server's raw rows go is planOlderRaw's
// (test/app/layout-migration.test.ts); test/service/layout-migration.test.ts runs the job on Azurite.
import { describe, expect, it } from 'vitest';
import { DRIFT_EMPTY_SETTLED_MS, LayoutMigration, planOlderRaw, REMAINING_COUNT_LIMIT, type LayoutMigrationDeps } from '../../src/app/layout-migration';
import { encodeKey } from '../../src/store/keys';
import type { KeyPosition, OlderLayoutsState, OlderRow, RawSnapshotMeta, SlotContent } from '../../src/store';

const T = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;

const keyOf = (r: { partitionKey: string; rowKey?: string }) => `${r.partitionKey}\u0000${r.rowKey ?? ''}`;
/** Whether a row comes after a position: past its row, or past its whole partition when it names none. */
const isAfter = (r: { partitionKey: string; rowKey: string }, p: KeyPosition | undefined) => !p || r.partitionKey > p.partitionKey || (r.partitionKey === p.partitionKey && p.rowKey !== undefined && r.rowKey > p.rowKey);

const historyRow = (server: string, i: number): OlderRow => ({ partitionKey: encodeKey(server), rowKey: `h${String(i).padStart(3, '0')}`, etag: 'e', columns: {}, plain: {} });
/** An older raw row of `server`: `rowKey` slot0/slot1 or a time key, its content and when it was collected. */
const rawRow = (server: string, rowKey: string, content: string, minutesAgo: number): OlderRow => ({
  partitionKey: encodeKey(server),
  rowKey,
  etag: 'e',
  columns: {},
  plain: { Server: server, SnapshotId: `${server}-${rowKey}`, CollectedAt: new Date(T - minutesAgo * MINUTE).toISOString(), ReceivedAt: new Date(T - minutesAgo * MINUTE).toISOString(), ContentHash: content, RawBytes: 10, RawStored: true },
});
const meta = (server: string, content: string, minutesAgo: number): RawSnapshotMeta => ({ server, snapshotId: `${server}-new-${content}`, collectedAt: T - minutesAgo * MINUTE, receivedAt: T - minutesAgo * MINUTE, contentHash: content, rawBytes: 10, rawStored: true });
/** A drift member key: of the old layout (`m|<server>`) or the keyed one. */
const memberKey = (rule: string, server: string, old = true) => ({ partitionKey: rule, rowKey: old ? `m|${encodeKey(server)}` : `m|${encodeKey(server)}|sha256:ab|Pass` });

interface Options {
  history?: OlderRow[];
  raw?: OlderRow[];
  slots?: Record<string, Map<number, SlotContent>>;
  members?: { partitionKey: string; rowKey: string }[];
  state?: OlderLayoutsState;
  /** Row keys whose copy finds its slot changed, and whose delete finds the row changed. */
  conflictOn?: string[];
  changedOn?: string[];
  /** Members the move leaves for later, or finds settled already. */
  leftMembers?: number;
  resolvedMembers?: number;
  counts?: { older?: number; drift?: number };
  clock?: () => number;
  batches?: Partial<Pick<LayoutMigrationDeps, 'historyBatch' | 'serverBatch' | 'driftKeysBatch' | 'driftMemberBatch' | 'parallel'>>;
}

function world(o: Options = {}) {
  const history = new Map((o.history ?? []).map((r) => [keyOf(r), r]));
  const raw = new Map((o.raw ?? []).map((r) => [keyOf(r), r]));
  const slots = o.slots ?? {};
  let members = [...(o.members ?? [])];
  const calls: string[] = [];
  const written: { state: OlderLayoutsState; at: number }[] = [];
  const lines: string[] = [];
  const sorted = <R extends { partitionKey: string; rowKey: string }>(rows: Iterable<R>) => [...rows].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  const older = {
    // Each run reads what the last one wrote.
    readState: async () => written.at(-1)?.state ?? o.state ?? {},
    writeState: async (state: OlderLayoutsState, at: number) => void written.push({ state, at }),
    count: async (max: number) => (calls.push(`count older ${max}`), Math.min(max, o.counts?.older ?? history.size + raw.size)),
    listRows: async (table: string, after: KeyPosition | undefined, max: number, keysOnly = false) => {
      calls.push(`list ${table} ${max}${keysOnly ? ' keys' : ''} after ${after ? keyOf(after).replace('\u0000', '/') : '-'}`);
      const rows = sorted((table === 'history' ? history : raw).values()).filter((r) => isAfter(r, after));
      return { rows: rows.slice(0, max), more: rows.length > max };
    },
    copyHistoryRows: async (rows: OlderRow[]) => void calls.push(`copy history ${rows.map((r) => r.rowKey).join(',')}`),
    deleteHistoryRows: async (rows: OlderRow[]) => {
      rows.forEach((r) => history.delete(keyOf(r)));
      // The first row of a batch is found gone already (another run took it): it counts as moved.
      return { deleted: rows.length - 1, gone: 1 };
    },
    readPartition: async (table: string, pk: string) => {
      if (table !== 'snapshots') throw new Error(`read a partition of ${table}`);
      return sorted(raw.values()).filter((r) => r.partitionKey === pk);
    },
    readSlots: async (server: string) => slots[server] ?? new Map<number, SlotContent>(),
    copyToSlot: async (row: OlderRow, server: string, slot: number, etag: string | undefined) => {
      calls.push(`copy ${server}/${row.rowKey} to slot ${slot} under ${etag ?? 'none'}`);
      return o.conflictOn?.includes(row.rowKey) ? 'conflict' : 'copied';
    },
    deleteRawRow: async (row: OlderRow) => {
      calls.push(`delete ${row.rowKey}`);
      if (o.changedOn?.includes(row.rowKey)) return 'changed';
      raw.delete(keyOf(row));
      return 'deleted';
    },
  };
  const drift = {
    count: async (max: number) => (calls.push(`count drift ${max}`), Math.min(max, o.counts?.drift ?? members.filter((m) => !m.rowKey.includes('|sha')).length)),
    listMemberKeys: async (after: KeyPosition | undefined, max: number) => {
      calls.push(`list members ${max} after ${after ? after.rowKey : '-'}`);
      const keys = sorted(members).filter((k) => isAfter(k, after));
      return { keys: keys.slice(0, max), more: keys.length > max };
    },
    move: async (keys: { partitionKey: string; rowKey: string }[], parallel: number) => {
      calls.push(`move ${keys.map((k) => k.rowKey).join(',')} ${parallel} at once`);
      members = members.filter((m) => !keys.includes(m));
      const left = o.leftMembers ?? 0;
      const resolved = o.resolvedMembers ?? 0;
      return { moved: keys.length - left - resolved, resolved, left, gone: 0 };
    },
  };
  const migration = new LayoutMigration({ older, drift, clock: o.clock ?? (() => T), ...o.batches } as unknown as LayoutMigrationDeps);
  return { calls, written, lines, history, raw, run: (budgetMs = 0) => migration.run({ log: (l: string) => void lines.push(l) }, budgetMs) };
}

describe('one batch', () => {
  it('moves a batch of History rows, records where the next run goes on, and says what it did', async () => {
    const w = world({ history: [1, 2, 3].map((i) => historyRow('a.contoso.com', i)), batches: { historyBatch: 2 } });
    const run = await w.run();
    const after = { partitionKey: encodeKey('a.contoso.com'), rowKey: 'h002' };
    expect(w.calls).toStrictEqual(['list history 2 after -', 'copy history h001,h002', `count older ${REMAINING_COUNT_LIMIT}`, `count drift ${REMAINING_COUNT_LIMIT}`]);
    expect(run).toStrictEqual({ moved: { history: 2, snapshots: 0, driftMembers: 0 }, deleted: 0, left: 0, remaining: 1, remainingDriftMembers: 0, remainingAtLeast: false, continuation: { table: 'history', after }, emptyAt: null, driftEmptyAt: new Date(T).toISOString() });
    expect(w.written).toStrictEqual([{ state: { cursor: { table: 'history', after }, emptyAt: undefined, driftEmptyAt: T }, at: T }]);
    expect(w.lines).toStrictEqual(['layout migration: 2 history rows and 0 raw snapshots moved into the buckets, 0 older raw snapshots removed, 0 drift members moved into the keyed layout, 0 rows left for the next run; 1 rows left in the older layouts (0 of them drift members).']);
  });

  it('goes on where the last run stopped', async () => {
    const w = world({ history: [1, 2, 3].map((i) => historyRow('a.contoso.com', i)), state: { cursor: { table: 'history', after: { partitionKey: encodeKey('a.contoso.com'), rowKey: 'h002' } } }, batches: { historyBatch: 2 } });
    const run = await w.run();
    expect(w.calls[0]).toBe('list history 2 after a.contoso.com/h002');
    // The last History rows: the next batch starts the raw snapshots.
    expect(run.continuation).toStrictEqual({ table: 'snapshots' });
    expect(run.moved.history).toBe(1);
  });

  it('passes over a table with nothing left to the next within the same batch', async () => {
    const w = world({ raw: [rawRow('a.contoso.com', 'slot0', 'c1', 5)] });
    const run = await w.run();
    expect(w.calls.slice(0, 3)).toStrictEqual(['list history 500 after -', 'list snapshots 200 keys after -', 'copy a.contoso.com/slot0 to slot 0 under none']);
    expect(run.moved.snapshots).toBe(1);
    expect(run.continuation).toStrictEqual({ table: 'drift' });
  });

  it('writes nothing to the log when it did nothing and nothing became empty', async () => {
    const w = world({ state: { emptyAt: T - MINUTE, driftEmptyAt: T - MINUTE } });
    const run = await w.run();
    expect(w.lines).toStrictEqual([]);
    expect(run).toMatchObject({ remaining: 0, continuation: null, emptyAt: new Date(T - MINUTE).toISOString(), driftEmptyAt: new Date(T - MINUTE).toISOString() });
    expect(w.written[0]!.state).toStrictEqual({ cursor: undefined, emptyAt: T - MINUTE, driftEmptyAt: T - MINUTE });
  });
});

describe('a run with a time budget', () => {
  it('goes batch after batch through every table until the pass ends, and records the layouts empty', async () => {
    const w = world({
      history: [1, 2, 3].map((i) => historyRow('a.contoso.com', i)),
      raw: [rawRow('a.contoso.com', 'slot0', 'c1', 5), rawRow('b.contoso.com', 'slot1', 'c2', 5)],
      members: [memberKey('r1', 'a.contoso.com'), memberKey('r1', 'b.contoso.com', false)],
      batches: { historyBatch: 2 },
    });
    const run = await w.run(60_000);
    expect(run).toStrictEqual({ moved: { history: 3, snapshots: 2, driftMembers: 1 }, deleted: 0, left: 0, remaining: 0, remainingDriftMembers: 0, remainingAtLeast: false, continuation: null, emptyAt: new Date(T).toISOString(), driftEmptyAt: new Date(T).toISOString() });
    expect(w.lines[0]).toBe('layout migration: 3 history rows and 2 raw snapshots moved into the buckets, 0 older raw snapshots removed, 1 drift members moved into the keyed layout, 0 rows left for the next run; nothing is left in the older layouts.');
    expect(w.history.size + w.raw.size).toBe(0);
  });

  it('stops once its budget is spent, where a batch ends', async () => {
    let now = T;
    const w = world({ history: [1, 2, 3, 4, 5].map((i) => historyRow('a.contoso.com', i)), batches: { historyBatch: 1 }, clock: () => (now += 1000) - 1000 });
    const run = await w.run(2000);
    // Started at T; after the first batch the clock reads T+1s, after the second T+2s: the budget is spent.
    expect(run.moved.history).toBe(2);
    expect(run.continuation).toStrictEqual({ table: 'history', after: { partitionKey: encodeKey('a.contoso.com'), rowKey: 'h002' } });
  });

  it('without a budget, one batch even when the clock steps back', async () => {
    let now = T;
    const w = world({ history: [1, 2, 3].map((i) => historyRow('a.contoso.com', i)), batches: { historyBatch: 1 }, clock: () => (now -= 1000) });
    expect((await w.run()).moved.history).toBe(1);
  });
});

describe('raw snapshots', () => {
  it('plan a row that no slot can take as removed, naming no slot', () => {
    const slots = new Map([
      [0, meta('a.contoso.com', 'c8', 1)],
      [1, meta('a.contoso.com', 'c9', 2)],
    ]);
    const row = { rowKey: 't-old', meta: { ...meta('a.contoso.com', 'c1', 30), snapshotId: 'old' } };
    expect(planOlderRaw([row, { ...row, rowKey: 't-older', meta: { ...row.meta, snapshotId: 'older', collectedAt: row.meta.collectedAt - MINUTE } }], slots)).toStrictEqual([{ rowKey: 't-old' }, { rowKey: 't-older' }]);
  });

  it('move each server whole into its slots under their ETags, then leave the older layout', async () => {
    const w = world({ raw: [rawRow('a.contoso.com', 'slot0', 'c1', 10), rawRow('a.contoso.com', 'slot1', 'c2', 5)], slots: { 'a.contoso.com': new Map([[0, { meta: meta('a.contoso.com', 'c0', 20), etag: 'E0' }]]) } });
    const run = await w.run();
    expect(w.calls.filter((c) => c.startsWith('copy') || c.startsWith('delete'))).toStrictEqual(['copy a.contoso.com/slot1 to slot 1 under none', 'copy a.contoso.com/slot0 to slot 0 under E0', 'delete slot1', 'delete slot0']);
    expect(run).toMatchObject({ moved: { snapshots: 2 }, deleted: 0, left: 0 });
  });

  it('remove a row whose content a slot already holds, without a copy', async () => {
    const w = world({ raw: [rawRow('a.contoso.com', 'slot0', 'c1', 10)], slots: { 'a.contoso.com': new Map([[0, { meta: meta('a.contoso.com', 'c1', 5), etag: 'E0' }]]) } });
    const run = await w.run();
    expect(w.calls.filter((c) => c.startsWith('copy') || c.startsWith('delete'))).toStrictEqual(['delete slot0']);
    expect(run).toMatchObject({ moved: { snapshots: 0 }, deleted: 1 });
    expect(w.lines[0]).toContain('1 older raw snapshots removed');
  });

  it('leave a server alone from the first slot found changed: what it settled goes, the rest waits for the next run', async () => {
    const w = world({ raw: [rawRow('a.contoso.com', 'slot0', 'c1', 10), rawRow('a.contoso.com', 'slot1', 'c2', 5), rawRow('a.contoso.com', 't-old', 'c3', 30)], conflictOn: ['slot0'] });
    const run = await w.run();
    expect(w.calls.filter((c) => c.startsWith('copy') || c.startsWith('delete'))).toStrictEqual(['copy a.contoso.com/slot1 to slot 1 under none', 'copy a.contoso.com/slot0 to slot 0 under none', 'delete slot1']);
    expect(run).toMatchObject({ moved: { snapshots: 1 }, left: 2 });
    expect(w.lines[0]).toContain('2 rows left for the next run');
  });

  it('count a row changed before its delete as left', async () => {
    const w = world({ raw: [rawRow('a.contoso.com', 'slot0', 'c1', 10)], changedOn: ['slot0'] });
    expect(await w.run()).toMatchObject({ moved: { snapshots: 0 }, deleted: 0, left: 1 });
  });

  it('take at most a batch of servers, listing four keys a server, and go on after the last one taken', async () => {
    const servers = ['a', 'b', 'c'].map((s) => `${s}.contoso.com`);
    const w = world({ raw: servers.map((s) => rawRow(s, 'slot0', `c-${s}`, 5)), state: { cursor: { table: 'snapshots' } }, batches: { serverBatch: 2, parallel: 1 } });
    const run = await w.run();
    expect(w.calls[0]).toBe('list snapshots 8 keys after -');
    expect(run.continuation).toStrictEqual({ table: 'snapshots', after: { partitionKey: encodeKey('b.contoso.com') } });
    const next = await w.run();
    expect(w.calls.filter((c) => c.startsWith('list snapshots'))[1]).toBe('list snapshots 8 keys after b.contoso.com/');
    expect(next.moved.snapshots).toBe(1);
    expect(next.continuation).toStrictEqual({ table: 'drift' });
  });

  it('go on after the last server listed when the listing had more', async () => {
    // Two servers fit the batch, but the page of keys (four per server) was full: there is more.
    const rows = Array.from({ length: 9 }, (_, i) => rawRow(i < 8 ? 'a.contoso.com' : 'b.contoso.com', `t${i}`, `c${i}`, 100 - i));
    const w = world({ raw: rows, state: { cursor: { table: 'snapshots' } }, batches: { serverBatch: 2 } });
    const run = await w.run();
    expect(run.continuation).toStrictEqual({ table: 'snapshots', after: { partitionKey: encodeKey('a.contoso.com') } });
  });
});

describe('drift members of the old layout', () => {
  it('move a batch of them among the keys listed, and go on after the last moved', async () => {
    const members = ['a', 'b', 'c'].map((s) => memberKey('r1', `${s}.contoso.com`)).concat([memberKey('r1', 'd.contoso.com', false)]);
    const w = world({ members, state: { cursor: { table: 'drift' } }, batches: { driftMemberBatch: 2, driftKeysBatch: 10, parallel: 3 } });
    const run = await w.run();
    expect(w.calls[0]).toBe('list members 10 after -');
    expect(w.calls[1]).toBe(`move ${members[0]!.rowKey},${members[1]!.rowKey} 3 at once`);
    expect(run.continuation).toStrictEqual({ table: 'drift', after: members[1] });
    expect(run.moved.driftMembers).toBe(2);
  });

  it('go on after the page when none of it was old and there is more, and end the pass after the last page', async () => {
    const keyed = ['a', 'b', 'c'].map((s) => memberKey('r1', `${s}.contoso.com`, false));
    const w = world({ members: keyed, state: { cursor: { table: 'drift' } }, batches: { driftKeysBatch: 2 } });
    const first = await w.run();
    expect(first.continuation).toStrictEqual({ table: 'drift', after: keyed[1] });
    expect(w.calls.some((c) => c.startsWith('move'))).toBe(false);
    expect((await w.run()).continuation).toBeNull();
  });

  it('count members found settled as moved, and those left for later', async () => {
    const members = ['a', 'b', 'c', 'd'].map((s) => memberKey('r1', `${s}.contoso.com`));
    const w = world({ members, state: { cursor: { table: 'drift' } }, resolvedMembers: 1, leftMembers: 1 });
    expect(await w.run()).toMatchObject({ moved: { driftMembers: 3 }, left: 1 });
  });

  it('are no longer looked for a day after they were first found gone', async () => {
    for (const [ago, looked] of [
      [DRIFT_EMPTY_SETTLED_MS, false],
      [DRIFT_EMPTY_SETTLED_MS - 1, true],
    ] as const) {
      const w = world({ members: [memberKey('r1', 'a.contoso.com')], state: { cursor: { table: 'drift' }, driftEmptyAt: T - ago } });
      const run = await w.run();
      expect(w.calls.some((c) => c.startsWith('list members')), String(ago)).toBe(looked);
      expect(w.calls.includes(`count drift ${REMAINING_COUNT_LIMIT}`), String(ago)).toBe(looked);
      // A cursor left in the drift members starts a new pass once they are settled.
      if (!looked) expect(w.calls[0]).toBe('list history 500 after -');
      // Either way the time they were first found gone is kept.
      expect(run.driftEmptyAt, String(ago)).toBe(new Date(T - ago).toISOString());
    }
  });
});

describe('what is left', () => {
  it('is counted up to a page of keys in each part, and said to be at least that', async () => {
    const w = world({ history: [historyRow('a.contoso.com', 1)], counts: { older: 5000, drift: 5000 } });
    const run = await w.run();
    expect(run).toMatchObject({ remaining: 2 * REMAINING_COUNT_LIMIT, remainingDriftMembers: REMAINING_COUNT_LIMIT, remainingAtLeast: true, emptyAt: null, driftEmptyAt: null });
    expect(w.lines[0]).toMatch(/; 2000\+ rows left in the older layouts \(1000\+ of them drift members\)\.$/);
  });

  it('says at least when only the older rows reach the limit', async () => {
    const w = world({ history: [historyRow('a.contoso.com', 1)], counts: { older: 5000, drift: 3 } });
    const run = await w.run();
    expect(run.remainingAtLeast).toBe(true);
    expect(w.lines[0]).toMatch(/; 1003\+ rows left in the older layouts \(3 of them drift members\)\.$/);
  });

  it('says at least when only the drift members reach the limit, from exactly the limit', async () => {
    for (const drift of [REMAINING_COUNT_LIMIT, 5000]) {
      const w = world({ history: [historyRow('a.contoso.com', 1)], counts: { older: 3, drift } });
      expect((await w.run()).remainingAtLeast, String(drift)).toBe(true);
    }
    const under = world({ history: [historyRow('a.contoso.com', 1)], counts: { older: REMAINING_COUNT_LIMIT - 1, drift: REMAINING_COUNT_LIMIT - 1 } });
    expect((await under.run()).remainingAtLeast).toBe(false);
  });

  it('a run that did nothing while rows remain logs nothing, the layouts not yet empty', async () => {
    const w = world({ state: { cursor: { table: 'drift' } }, counts: { older: 4, drift: 2 } });
    const run = await w.run();
    expect(w.lines).toStrictEqual([]);
    expect(run).toMatchObject({ emptyAt: null, driftEmptyAt: null, remaining: 6 });
  });

  it('a run that did any one thing logs it, though rows remain', async () => {
    const server = 'a.contoso.com';
    const cases: [string, Options][] = [
      ['history', { history: [historyRow(server, 1)] }],
      ['copied', { raw: [rawRow(server, 'slot0', 'c1', 5)] }],
      ['removed', { raw: [rawRow(server, 'slot0', 'c1', 10)], slots: { [server]: new Map([[0, { meta: meta(server, 'c1', 5), etag: 'E0' }]]) } }],
      ['left', { raw: [rawRow(server, 'slot0', 'c1', 10)], changedOn: ['slot0'] }],
      ['drift', { members: [memberKey('r1', server)], state: { cursor: { table: 'drift' } } }],
    ];
    for (const [name, options] of cases) {
      const w = world({ ...options, counts: { older: 7, drift: 7 }, state: { ...options.state, emptyAt: T - MINUTE, driftEmptyAt: T - MINUTE } });
      await w.run();
      expect(w.lines, name).toHaveLength(1);
    }
  });

  it('is recorded empty at the first run that finds it so, and that time kept by later runs', async () => {
    const first = world({ clock: () => T });
    expect((await first.run()).emptyAt).toBe(new Date(T).toISOString());
    expect(first.lines[0]).toMatch(/nothing is left in the older layouts\.$/);
    const later = world({ state: { emptyAt: T - MINUTE }, clock: () => T });
    expect((await later.run()).emptyAt).toBe(new Date(T - MINUTE).toISOString());
  });

  it('logs a layout newly found empty although the run moved nothing', async () => {
    for (const state of [{ emptyAt: T - MINUTE }, { driftEmptyAt: T - MINUTE }]) {
      const w = world({ state });
      await w.run();
      expect(w.lines, JSON.stringify(state)).toHaveLength(1);
    }
  });
});
