// The projector's drain loop without storage: the outbox drained in batches under the lease, each
// entry's commit proven (or waited for, dropped, set aside), its writes, alert records and removal
// in that order, the run that fails or finds the lease gone, and the drains of one process one
// after another. The Outbox table is the shared in-memory one (test/support/memory-outbox.ts), the
// Events table the shared one (memory-events.ts), the other stores fakes; every call is recorded
// in order, and a clock the test moves times the run. test/service/projector*.test.ts run the
// same over Azurite.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeWork, type AlertWork, type ProjectionWork } from '../../src/app/projection-work';
import { PROJECTOR_GRACE_MS, Projector, verdictOf, type ProjectorDeps } from '../../src/app/projector';
import { FencedOutError, LeaseLostError, StorageUnavailableError, type EventRecord, type IndexChange, type IndexMove, type RawSnapshotMeta, type StoredOutboxEntry, type StoredResult } from '../../src/store';
import { memoryEvents } from '../support/memory-events';
import { memoryOutbox } from '../support/memory-outbox';
import { namedSnapshotId as sid } from '../support/snapshots';

const T = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
/** Commits a Results row remembers. */
const REMEMBERED = 4;
const LEASE_MS = 60_000;
const BYTES = 16 * 1024 * 1024;

/** The event an entry owes: its commit id as the reason, so the tests can tell whose it is. */
const eventOf = (server: string, commitId: string) => ({ server, ruleId: 'r1', reasonCode: commitId, snapshotId: sid(commitId) }) as unknown as EventRecord;
const alertOf = (server: string, commitId: string): AlertWork => ({ server, ruleId: 'r1', status: 'Warning', reasonCode: 'StateWarning', previousStatus: 'Pass', snapshotId: sid(commitId), firstSeen: T, cause: 'snapshot' });
const moveOf = (server: string): IndexMove => ({ record: { server, ruleId: 'r1', status: 'Warning' } as never, from: 'Pass' });

/** The work of `server`'s commit `commitId`: one event, one alert record, one index move, unless told. */
const workOf = (server: string, commitId: string, over: Partial<ProjectionWork> = {}): ProjectionWork => ({ v: 1, server, commitId, proofRule: 'r1', events: [eventOf(server, commitId)], alerts: [alertOf(server, commitId)], index: [moveOf(server)], ...over });

interface Options {
  readonly batchSize?: number;
  readonly batchBytes?: number;
  readonly graceMs?: number;
  readonly parallel?: number;
  readonly leaseMs?: number;
  /** Milliseconds the clock moves at each call of that name (store calls, `waivers`). */
  readonly durations?: Readonly<Record<string, number>>;
  /** Proof reads and index writes wait a turn of the event loop, so those that may overlap do. */
  readonly overlap?: boolean;
}

/** The projector over stores in memory, and what it did. */
function world(o: Options = {}) {
  const calls: unknown[][] = [];
  const lines: string[] = [];
  const clock = { now: T };
  const advance = (name: string) => {
    clock.now += o.durations?.[name] ?? 0;
  };
  // Under fake timers their clock is the one.
  if (!vi.isFakeTimers()) vi.spyOn(Date, 'now').mockImplementation(() => clock.now);
  const outbox = memoryOutbox(calls, { onCall: advance });
  const events = memoryEvents(calls);
  /** Each server's Results rows. */
  const rows = new Map<string, StoredResult[]>();
  /** Each server's newest raw body, and staged bodies by commit id. */
  const latestRaw = new Map<string, RawSnapshotMeta>();
  const stagedMeta = new Map<string, RawSnapshotMeta>();
  /** Run before a call of that name, once each. */
  const before = new Map<string, (() => unknown)[]>();
  /** What a call of that name throws, given its arguments (undefined: it answers). */
  const failing = new Map<string, (...args: unknown[]) => unknown>();
  let inFlight = 0;
  const most = { reads: 0 };
  const rec = async (name: string, ...args: unknown[]) => {
    calls.push([name, ...args]);
    advance(name);
    await before.get(name)?.shift()?.();
    const failure = failing.get(name)?.(...args);
    if (failure !== undefined) throw failure;
  };
  const read = async <R>(name: string, args: unknown[], answer: () => R): Promise<R> => {
    most.reads = Math.max(most.reads, ++inFlight);
    try {
      await rec(name, ...args);
      if (o.overlap) await new Promise((resolve) => setImmediate(resolve));
      return answer();
    } finally {
      inFlight--;
    }
  };
  const deps = {
    store: {
      readResultRow: (server: string, ruleId: string) => read('readResultRow', [server, ruleId], () => rows.get(server)?.find((r) => r.ruleId === ruleId)),
      readServer: (server: string) => read('readServer', [server], () => rows.get(server) ?? []),
    },
    outbox: outbox.store,
    events: {
      putEvents: async (list: readonly EventRecord[]) => {
        advance('putEvents');
        const written = events.store.putEvents(list);
        await before.get('putEvents')?.shift()?.();
        return written;
      },
    },
    ruleIndex: { applyIndexMoves: (ruleId: string, moves: readonly IndexChange[], fence: number) => rec('applyIndexMoves', ruleId, moves, fence) },
    hosts: { putHosts: (...args: unknown[]) => rec('putHosts', ...args), removeHosts: (...args: unknown[]) => rec('removeHosts', ...args) },
    rawSnapshots: {
      putRawSnapshots: (list: readonly { record: { snapshotId: string }; slot: number }[]) => rec('putRawSnapshots', list.map((r) => `${r.record.snapshotId}@${r.slot}`)),
      getLatestRaw: (server: string) => read('getLatestRaw', [server], () => latestRaw.get(server)),
    },
    staged: {
      copyStagedRaw: (server: string, commitId: string, slot: number) => rec('copyStagedRaw', server, commitId, slot).then(() => true),
      deleteStagedRaw: (list: readonly { commitId: string }[]) => rec('deleteStagedRaw', list.map((s) => s.commitId)),
      readStagedMeta: (server: string, commitId: string) => read('readStagedMeta', [server, commitId], () => stagedMeta.get(commitId)),
    },
    waivers: async () => {
      calls.push(['waivers']);
      advance('waivers');
      return () => undefined;
    },
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    ...(o.batchBytes === undefined ? {} : { batchBytes: o.batchBytes }),
    ...(o.graceMs === undefined ? {} : { graceMs: o.graceMs }),
    ...(o.parallel === undefined ? {} : { parallel: o.parallel }),
    ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
  };
  const fresh = () => new Projector(deps as unknown as ProjectorDeps, REMEMBERED);
  const projector = fresh();
  const log = { log: (line: string) => void lines.push(line) };
  /** Commit ids by their snapshot id, to name whose alert record a line is. */
  const commitOf = new Map<string, string>();
  const w = {
    clock,
    calls,
    lines,
    outbox,
    events,
    rows,
    latestRaw,
    stagedMeta,
    before,
    failing,
    most,
    projector,
    log,
    /** Another process's projector over the same stores (another instance, or this one restarted). */
    fresh,
    drain: (budgetMs?: number, p: Projector = projector) => p.drain(log, budgetMs),
    /**
     * Writes an entry of `server`'s commit `commitId`, stored ten minutes ago (past the grace)
     * unless told; `payload` replaces its work's JSON (text this version cannot read).
     */
    put(server: string, commitId: string, e: { work?: Partial<ProjectionWork>; payload?: string; storedAt?: number; writtenAt?: number; requeued?: boolean; proven?: boolean } = {}): StoredOutboxEntry {
      commitOf.set(sid(commitId), commitId);
      const { work, payload, ...rest } = e;
      return outbox.seed({ server, commitId, payload: payload ?? encodeWork(workOf(server, commitId, work)), storedAt: T - 10 * MINUTE, writtenAt: T - 10 * MINUTE, ...rest });
    },
    /** `server`'s row of rule r1 (its newest) remembers these commits, each made a minute ago. */
    remembers(server: string, ...commitIds: string[]) {
      rows.set(server, [{ server, ruleId: 'r1', status: 'Warning', firstSeen: T, collectedAt: T, snapshotId: sid(`${server}-row`), recentCommits: commitIds.map((id) => ({ id, at: T - MINUTE })) } as unknown as StoredResult]);
    },
    /** The commit ids of the events written, in order (a rewrite shows twice). */
    written: () => events.events.map((e) => e.reasonCode),
    /** The commit ids of the alert records logged, in order. */
    findings: () => lines.filter((l) => l.startsWith('FleetPosture.NewFinding ')).map((l) => commitOf.get((JSON.parse(l.slice(l.indexOf(' ') + 1)) as { snapshotId: string }).snapshotId)),
    /** The names of the calls, in order. */
    names: () => calls.map((c) => c[0]),
    named: (name: string) => calls.filter((c) => c[0] === name).map((c) => c.slice(1)),
    /** This projector's lease owner (its first lease taken). */
    owner: () => calls.find((c) => c[0] === 'holdLease')![1] as string,
  };
  return w;
}

/** The drain's summary line. */
const summary = (s: { projected: number; events: number; alerts: number; dropped?: number; waiting?: number; held?: number; ms: number; phases: string }) =>
  `projector: projected ${s.projected} outbox entries (${s.events} events, ${s.alerts} alert records, ${s.dropped ?? 0} dropped, ${s.waiting ?? 0} waiting${s.held ? `, ${s.held} held` : ''}) in ${s.ms} ms (ms per phase: ${s.phases}).`;
const backlogLine = (waiting: number, oldestAt?: number, server?: string, now = T) =>
  `FleetPosture.ProjectorBacklog ${JSON.stringify({ waiting, more: false, oldestWaitingAt: oldestAt === undefined ? null : new Date(oldestAt).toISOString(), oldestServer: server ?? null, oldestWaitingMinutes: oldestAt === undefined ? 0 : Math.floor((now - oldestAt) / MINUTE) })}`;
const failedLine = (error: string, errorKind: string, since: number, minutes: number) => `FleetPosture.ProjectionFailed ${JSON.stringify({ error, errorKind, failingSince: new Date(since).toISOString(), failingMinutes: minutes })}`;
const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};
/** A promise and the function that settles it. */
function gate() {
  let open = () => undefined as void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
const ZERO = { entries: 0, projected: 0, waiting: 0, dropped: 0, held: 0, events: 0, alertRecords: 0 };
const LOST = 'Another projector took the lease while this one worked: this one stops, and that one projects what is left.';

// Spies first: one put on a fake timer function would otherwise restore that fake after the real
// timers came back, and the next files in this worker (isolate: false) would have no timers.
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('verdictOf', () => {
  const entry = { commitId: 'c1', writtenAt: T - 10 * MINUTE, storedAt: T - 10 * MINUTE };
  const row = (commits: [string, number][]) => ({ recentCommits: commits.map(([id, at]) => ({ id, at })) }) as unknown as StoredResult;
  const GRACE = 5 * MINUTE;

  it('is committed when the row remembers the commit, whenever the entry was stored', () => {
    expect(verdictOf(entry, row([['c1', T]]), T, GRACE, 16)).toBe('committed');
    expect(verdictOf({ ...entry, storedAt: T }, row([['c0', T], ['c1', T]]), T, GRACE, 1)).toBe('committed');
  });

  it('waits while the grace since the entry was stored runs, and only until it has run', () => {
    expect(verdictOf({ ...entry, storedAt: T - GRACE + 1 }, undefined, T, GRACE, 16)).toBe('wait');
    expect(verdictOf({ ...entry, storedAt: T - GRACE }, undefined, T, GRACE, 16)).toBe('never');
  });

  it('is never when no row, a row without commits or one remembering fewer than it can holds it', () => {
    expect(verdictOf(entry, undefined, T, GRACE, 16)).toBe('never');
    expect(verdictOf(entry, {} as StoredResult, T, GRACE, 1)).toBe('never');
    expect(verdictOf(entry, row([['c2', T], ['c3', T]]), T, GRACE, 3)).toBe('never');
  });

  it('is never when the row remembers as many as it can back to the grace before the entry was written, unknown when not that far', () => {
    const full = (oldest: number): [string, number][] => [['c2', T], ['c3', oldest]];
    expect(verdictOf(entry, row(full(entry.writtenAt - GRACE)), T, GRACE, 2)).toBe('never');
    expect(verdictOf(entry, row(full(entry.writtenAt - GRACE + 1)), T, GRACE, 2)).toBe('unknown');
    expect(verdictOf(entry, row([['c3', entry.writtenAt - GRACE + 1], ['c2', T]]), T, GRACE, 2)).toBe('unknown');
    expect(verdictOf(entry, row([]), T, GRACE, 0)).toBe('unknown');
  });
});

describe('a drain', () => {
  it('of an empty outbox reads one key and nothing else: no lease, no log', async () => {
    const w = world();
    expect(await w.drain()).toStrictEqual({ status: 'done', ...ZERO });
    expect(w.calls).toStrictEqual([['list', 1]]);
    expect(w.lines).toStrictEqual([]);
  });

  it('of one committed entry: the lease, the batch, the proof, the writes under its generation, the alert record, the removal, the lease back, the backlog', async () => {
    const w = world({ durations: { list: 3, readResultRow: 5, putEvents: 7, waivers: 11, remove: 13 } });
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    const run = await w.drain();
    const owner = w.owner();
    expect(w.calls).toStrictEqual([
      ['list', 1],
      ['holdLease', owner, T + 3, T + 3 + LEASE_MS, 0],
      ['list', 500, BYTES],
      ['readResultRow', 'a', 'r1'],
      ['putEvents', [eventOf('a', 'a1')]],
      ['applyIndexMoves', 'r1', [moveOf('a')], T + 3],
      ['putRawSnapshots', []],
      ['deleteStagedRaw', []],
      ['waivers'],
      ['remove', ['a1']],
      ['releaseLease', owner],
      ['oldestWaiting', 1000],
    ]);
    const phases = { read: 8, events: 7, index: 7, drift: 7, raw: 7, hosts: 7, alerts: 11, clear: 13 };
    expect(run).toStrictEqual({ status: 'done', entries: 1, projected: 1, waiting: 0, dropped: 0, held: 0, events: 1, alertRecords: 1, phaseMs: phases });
    expect(w.lines).toStrictEqual([
      `FleetPosture.NewFinding {"server":"a","rule":"r1","status":"Warning","reasonCode":"StateWarning","previousStatus":"Pass","snapshotId":"${sid('a1')}","recordId":"a|r1|${sid('a1')}|${T}|Warning","waived":false,"waiverId":null,"cause":"snapshot"}`,
      summary({ projected: 1, events: 1, alerts: 1, ms: 39, phases: 'read 8, drift 7, hosts 7, events 7, index 7, raw 7, alerts 11, clear 13' }),
      backlogLine(0, undefined, undefined, T + 42),
    ]);
    expect(w.outbox.waiting()).toStrictEqual([]);
    expect(w.outbox.state.lease).toStrictEqual({ owner: '', until: 0, generation: T + 3 });
  });

  it('run again after it finished finds nothing: no write, no record twice', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    await w.drain();
    const after = w.calls.length;
    expect(await w.drain()).toStrictEqual({ status: 'done', ...ZERO });
    expect(w.calls.slice(after)).toStrictEqual([['list', 1]]);
    expect(w.written()).toStrictEqual(['a1']);
    expect(w.findings()).toStrictEqual(['a1']);
  });

  it('takes the lease for as long as it is told, and lists as many entries and bytes as it is told', async () => {
    const w = world({ leaseMs: 5000, batchSize: 7, batchBytes: 9000 });
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    await w.drain();
    expect(w.calls.slice(1, 3)).toStrictEqual([
      ['holdLease', w.owner(), T, T + 5000, 0],
      ['list', 7, 9000],
    ]);
  });

  it('counts every event and alert record of the batch, and names the held, dropped and waiting ones in its summary', async () => {
    const w = world({ durations: { remove: 2 } });
    w.put('a', 'a1', { work: { events: [eventOf('a', 'a1'), eventOf('a', 'a1b')], alerts: [alertOf('a', 'a1'), alertOf('b', 'a1b')] } });
    w.put('b', 'b1');
    w.put('c', 'c1', { payload: 'not json' });
    w.put('d', 'd1', { storedAt: T - MINUTE });
    w.remembers('a', 'a1');
    w.remembers('c', 'c1');
    const run = await w.drain();
    expect(run).toMatchObject({ status: 'done', entries: 4, projected: 1, waiting: 1, dropped: 1, held: 1, events: 2, alertRecords: 2 });
    expect(w.lines.filter((l) => l.startsWith('projector: projected'))).toStrictEqual([summary({ projected: 1, events: 2, alerts: 2, dropped: 1, waiting: 1, held: 1, ms: 2, phases: 'read 0, drift 0, hosts 0, events 0, index 0, raw 0, alerts 0, clear 2' })]);
  });

  it('that only dropped or only held entries still says so; one that only found entries waiting says nothing but the backlog', async () => {
    const dropped = world();
    dropped.put('a', 'a1');
    await dropped.drain();
    expect(dropped.lines.filter((l) => l.startsWith('projector: projected'))).toStrictEqual([summary({ projected: 0, events: 0, alerts: 0, dropped: 1, ms: 0, phases: 'read 0, events 0, drift 0, hosts 0, index 0, raw 0, alerts 0, clear 0' })]);
    const held = world();
    held.put('a', 'a1', { payload: '{}' });
    held.remembers('a', 'a1');
    await held.drain();
    expect(held.lines.filter((l) => l.startsWith('projector: projected'))).toStrictEqual([summary({ projected: 0, events: 0, alerts: 0, held: 1, ms: 0, phases: 'read 0, events 0, drift 0, hosts 0, index 0, raw 0, alerts 0, clear 0' })]);
    const waiting = world();
    waiting.put('a', 'a1', { storedAt: T });
    expect(await waiting.drain()).toStrictEqual({ status: 'done', ...ZERO, entries: 1, waiting: 1, phaseMs: { read: 0, events: 0, index: 0, drift: 0, raw: 0, hosts: 0, alerts: 0, clear: 0 } });
    expect(waiting.lines).toStrictEqual([backlogLine(1, T, 'a')]);
  });

  it('that finds the batch empty once it holds the lease (another instance drained it meanwhile) gives the lease back and logs nothing', async () => {
    const w = world();
    w.put('a', 'a1');
    w.outbox.fault('list', { before: () => undefined });
    w.outbox.fault('list', { before: () => w.outbox.entries.clear() });
    expect(await w.drain()).toStrictEqual({ status: 'done', ...ZERO, phaseMs: {} });
    expect(w.names()).toStrictEqual(['list', 'holdLease', 'list', 'releaseLease']);
    expect(w.lines).toStrictEqual([]);
  });
});

describe('batches', () => {
  it('a full batch leaves out the server listed last, which may go on in the next one; the run goes on until a batch is not full', async () => {
    const w = world({ batchSize: 2, durations: { remove: 4 } });
    w.put('a', 'a1');
    w.put('b', 'b1');
    w.put('b', 'b2');
    w.remembers('a', 'a1');
    w.remembers('b', 'b1', 'b2');
    const run = await w.drain();
    expect(w.named('list')).toStrictEqual([[1], [2, BYTES], [2, BYTES], [2, BYTES]]);
    expect(w.named('remove')).toStrictEqual([[['a1']], [['b1', 'b2']]]);
    expect(w.named('holdLease')).toHaveLength(3);
    expect(run).toStrictEqual({ status: 'done', entries: 3, projected: 3, waiting: 0, dropped: 0, held: 0, events: 3, alertRecords: 3, phaseMs: { read: 0, events: 0, index: 0, drift: 0, raw: 0, hosts: 0, alerts: 0, clear: 8 } });
    expect(w.written()).toStrictEqual(['a1', 'b1', 'b2']);
  });

  it('a full batch of one server goes whole, its earliest entries first', async () => {
    const w = world({ batchSize: 2 });
    for (const id of ['a1', 'a2', 'a3']) w.put('a', id);
    w.remembers('a', 'a1', 'a2', 'a3');
    expect(await w.drain()).toMatchObject({ status: 'done', entries: 3, projected: 3 });
    expect(w.named('remove')).toStrictEqual([[['a1', 'a2']], [['a3']]]);
  });

  it('a batch is full once its payloads reach the bytes allowed, and not before', async () => {
    const size = encodeWork(workOf('a', 'a1')).length;
    for (const [bytes, removed] of [
      [2 * size, [[['a1']], [['b1']], [[]]]],
      [2 * size + 1, [[['a1', 'b1']], [[]]]],
    ] as const) {
      const w = world({ batchBytes: bytes });
      w.put('a', 'a1');
      w.put('b', 'b1');
      w.put('c', 'c1', { storedAt: T });
      w.remembers('a', 'a1');
      w.remembers('b', 'b1');
      await w.drain();
      expect(w.named('remove'), String(bytes)).toStrictEqual(removed);
    }
  });

  it('a full batch that projected nothing ends the run (its entries wait), one that only dropped entries does not', async () => {
    const waiting = world({ batchSize: 1 });
    waiting.put('a', 'a1', { storedAt: T });
    expect(await waiting.drain()).toMatchObject({ status: 'done', entries: 1, waiting: 1 });
    expect(waiting.named('list')).toHaveLength(2);
    const dropped = world({ batchSize: 1 });
    dropped.put('a', 'a1');
    expect(await dropped.drain()).toMatchObject({ status: 'done', entries: 1, dropped: 1 });
    expect(dropped.named('list')).toStrictEqual([[1], [1, BYTES], [1, BYTES]]);
    const held = world({ batchSize: 1 });
    held.put('a', 'a1', { payload: 'x' });
    held.remembers('a', 'a1');
    expect(await held.drain()).toMatchObject({ status: 'done', entries: 1, held: 1 });
    expect(held.named('list')).toHaveLength(3);
  });

  it('stops once the time it was given has passed, not when it is just spent, and says there is more', async () => {
    const w = world({ batchSize: 1, durations: { remove: 5 } });
    for (const s of ['a', 'b', 'c', 'd']) {
      w.put(s, `${s}1`);
      w.remembers(s, `${s}1`);
    }
    const run = await w.drain(10);
    expect(run).toMatchObject({ status: 'progress', entries: 3, projected: 3 });
    expect(w.outbox.waiting()).toStrictEqual(['d1']);
    expect(w.names().at(-2)).toBe('releaseLease');
    expect(w.lines.at(-1)).toBe(backlogLine(1, T - 10 * MINUTE, 'd', T + 15));
  });
});

describe('the proof of a commit', () => {
  it('is not read for a commit this process saw, nor for a requeued entry proven before it was held', async () => {
    const w = world();
    w.put('a', 'a1');
    w.put('b', 'b1', { requeued: true, proven: true });
    w.projector.committed('a1');
    expect(await w.drain()).toMatchObject({ projected: 2 });
    expect(w.named('readResultRow')).toStrictEqual([['b', 'r1']]);
  });

  it('is read for a requeued entry not proven, and an entry proven but not requeued', async () => {
    const w = world();
    w.put('a', 'a1', { requeued: true });
    w.put('b', 'b1', { proven: true });
    expect(await w.drain()).toMatchObject({ projected: 0, dropped: 2 });
    expect(w.named('readResultRow')).toStrictEqual([
      ['a', 'r1'],
      ['b', 'r1'],
    ]);
  });

  it('is read once per server that has an entry not proven, from the row of its entries proof rule', async () => {
    const w = world();
    w.put('a', 'a1', { payload: 'x' });
    w.put('a', 'a2', { work: { proofRule: 'r7' } });
    w.put('a', 'a3', { work: { proofRule: 'r8' } });
    w.put('b', 'b1');
    w.put('b', 'b2');
    w.projector.committed('b1');
    w.rows.set('a', [{ server: 'a', ruleId: 'r7', collectedAt: T, snapshotId: sid('a-row'), recentCommits: [{ id: 'a1', at: T }, { id: 'a2', at: T }, { id: 'a3', at: T }] } as unknown as StoredResult]);
    w.remembers('b', 'b2');
    expect(await w.drain()).toMatchObject({ projected: 4, held: 1 });
    expect(w.named('readResultRow')).toStrictEqual([
      ['a', 'r7'],
      ['b', 'r1'],
    ]);
    expect(w.named('hold')).toStrictEqual([['a1', 'This version cannot read the entry (written by another release, or damaged).', true, T]]);
  });

  it('of entries this version cannot read is the newest row of the server', async () => {
    const w = world();
    w.put('a', 'a1', { payload: 'x' });
    const older = { server: 'a', ruleId: 'r1', collectedAt: T - MINUTE, snapshotId: sid('older'), recentCommits: [] } as unknown as StoredResult;
    const newest = { server: 'a', ruleId: 'r2', collectedAt: T, snapshotId: sid('newest'), recentCommits: [{ id: 'a1', at: T }] } as unknown as StoredResult;
    w.rows.set('a', [older, newest]);
    expect(await w.drain()).toMatchObject({ held: 1, dropped: 0 });
    expect(w.named('readServer')).toStrictEqual([['a']]);
    expect(w.named('readResultRow')).toStrictEqual([]);
    expect(w.lines[0]).toBe('FleetPosture.ProjectionHeld {"server":"a","commitId":"a1","error":"This version cannot read the entry (written by another release, or damaged)."}');
  });

  it('is read for sixteen servers at once unless told otherwise', async () => {
    for (const [parallel, most] of [
      [undefined, 16],
      [3, 3],
    ] as const) {
      const w = world({ overlap: true, ...(parallel === undefined ? {} : { parallel }) });
      for (let i = 0; i < 20; i++) w.put(`s${String(i).padStart(2, '0')}`, `c${i}`);
      expect(await w.drain()).toMatchObject({ dropped: 20 });
      expect(w.named('readResultRow')).toHaveLength(20);
      expect(w.most.reads, String(parallel)).toBe(most);
    }
  });

  it('a commit this projector projected needs no proof read when its entry comes again', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    await w.drain();
    w.rows.clear();
    w.put('a', 'a1');
    expect(await w.drain()).toMatchObject({ projected: 1, dropped: 0 });
    expect(w.named('readResultRow')).toHaveLength(1);
  });
});

describe('the entries of one server', () => {
  it('are projected requeued ones first, then in the order storage wrote them, then the order their requests did', async () => {
    const w = world();
    w.put('a', 'a1', { storedAt: T - 5 * MINUTE });
    w.put('a', 'a2', { storedAt: T - 7 * MINUTE });
    w.put('a', 'a3', { storedAt: T - MINUTE, requeued: true, proven: true });
    w.put('a', 'a4', { storedAt: T - 6 * MINUTE, writtenAt: T - 6 * MINUTE + 2 });
    w.put('a', 'a5', { storedAt: T - 6 * MINUTE, writtenAt: T - 6 * MINUTE + 1 });
    w.remembers('a', 'a1', 'a2', 'a4', 'a5');
    await w.drain();
    expect(w.written()).toStrictEqual(['a3', 'a2', 'a5', 'a4', 'a1']);
  });

  it('wait behind the first whose commit may still land, and are counted waiting', async () => {
    const w = world();
    w.put('a', 'a1');
    w.put('a', 'a2', { storedAt: T - MINUTE });
    w.put('a', 'a3', { storedAt: T - MINUTE });
    w.put('b', 'b1');
    w.remembers('a', 'a1');
    w.remembers('b', 'b1');
    expect(await w.drain()).toMatchObject({ status: 'done', entries: 4, projected: 2, waiting: 2 });
    expect(w.outbox.waiting()).toStrictEqual(['a2', 'a3']);
  });

  it('wait the grace they are told, or five minutes', async () => {
    expect(PROJECTOR_GRACE_MS).toBe(5 * MINUTE);
    const fiveMinutes = world();
    fiveMinutes.put('a', 'a1', { storedAt: T - 5 * MINUTE + 1 });
    expect(await fiveMinutes.drain()).toMatchObject({ waiting: 1, dropped: 0 });
    const impatient = world({ graceMs: 1000 });
    impatient.put('a', 'a1', { storedAt: T - 1000 });
    expect(await impatient.drain()).toMatchObject({ waiting: 0, dropped: 1 });
  });

  it('an attempt still in its grace before a proven commit of its server never landed: dropped with its staging row, the commit projected', async () => {
    const w = world();
    w.put('a', 'a1', { storedAt: T - MINUTE, work: { staged: { slot: 1 } } });
    w.put('a', 'a2', { storedAt: T - MINUTE });
    w.remembers('a', 'a2');
    expect(await w.drain()).toMatchObject({ projected: 1, dropped: 1, waiting: 0 });
    expect(w.written()).toStrictEqual(['a2']);
    expect(w.named('remove')).toStrictEqual([[['a2', 'a1']]]);
    expect(w.named('deleteStagedRaw')).toStrictEqual([[['a1']]]);
    expect(w.lines.filter((l) => l.startsWith('projector: the commit'))).toStrictEqual([]);
  });

  it('that can no longer be proven are removed unprojected, said in the log, their staging rows removed too', async () => {
    const w = world();
    w.put('a', 'a1', { work: { staged: { slot: 0 } } });
    w.put('a', 'a2');
    // The row remembers as many commits as it can, all made since the entries were written.
    w.remembers('a', 'x1', 'x2', 'x3', 'x4');
    expect(await w.drain()).toMatchObject({ projected: 0, dropped: 2 });
    expect(w.lines.slice(0, 2)).toStrictEqual([
      "projector: the commit of a's outbox entry a1 can no longer be proven (its rows changed many times since); removed unprojected.",
      "projector: the commit of a's outbox entry a2 can no longer be proven (its rows changed many times since); removed unprojected.",
    ]);
    expect(w.named('deleteStagedRaw')).toStrictEqual([[['a1']]]);
    expect(w.written()).toStrictEqual([]);
    expect(w.findings()).toStrictEqual([]);
  });

  it('this version cannot read are set aside when committed or unknown, dropped when never committed, and wait in their grace', async () => {
    const w = world();
    w.put('a', 'a1', { payload: '{"v":2}' });
    w.put('b', 'b1', { payload: 'x' });
    w.put('c', 'c1', { payload: 'x' });
    w.put('d', 'd1', { payload: 'x', storedAt: T - MINUTE });
    w.remembers('a', 'a1');
    w.remembers('b', 'x1', 'x2', 'x3', 'x4');
    expect(await w.drain()).toMatchObject({ entries: 4, projected: 0, held: 2, dropped: 1, waiting: 1 });
    const why = 'This version cannot read the entry (written by another release, or damaged).';
    expect(w.named('hold')).toStrictEqual([
      ['a1', why, true, T],
      ['b1', why, false, T],
    ]);
    expect(w.named('remove')).toStrictEqual([[['c1']]]);
    expect(w.named('deleteStagedRaw')).toStrictEqual([[[]]]);
    expect(w.outbox.waiting()).toStrictEqual(['d1']);
    expect([...w.outbox.held.keys()]).toStrictEqual(['a|a1', 'b|b1']);
  });
});

describe('requeued entries', () => {
  it('move the index reading where the server is first, and their alert record goes out only while it is still the current status', async () => {
    const w = world();
    w.put('a', 'a1', { requeued: true, proven: true });
    w.put('b', 'b1', { requeued: true, proven: true });
    w.put('c', 'c1');
    w.projector.committed('c1');
    w.remembers('a');
    w.rows.set('b', [{ server: 'b', ruleId: 'r1', status: 'Pass', firstSeen: T } as unknown as StoredResult]);
    expect(await w.drain()).toMatchObject({ projected: 3, alertRecords: 2 });
    expect(w.named('applyIndexMoves')).toStrictEqual([['r1', [{ record: moveOf('a').record, reread: true }, { record: moveOf('b').record, reread: true }, moveOf('c')], T]]);
    expect(w.named('readResultRow')).toStrictEqual([
      ['a', 'r1'],
      ['b', 'r1'],
    ]);
    expect(w.findings()).toStrictEqual(['a1', 'c1']);
    expect(w.lines).toContain(`projector: the Warning record of b / r1 (snapshot ${sid('b1')}) was superseded by a later change while its entry was held; not logged as an alert.`);
  });

  it('leave out a raw body older than the one their server holds now, beside an entry that is not requeued', async () => {
    const w = world();
    const raw = (server: string, commitId: string, collectedAt: number) => ({ record: { server, snapshotId: sid(commitId), collectedAt, receivedAt: collectedAt, contentHash: 'h', body: '{}' }, slot: 0 });
    w.put('a', 'a1', { requeued: true, proven: true, work: { raw: raw('a', 'a1', T - 2 * MINUTE) } });
    w.put('b', 'b1', { work: { raw: raw('b', 'b1', T - 2 * MINUTE) } });
    w.projector.committed('b1');
    w.remembers('a');
    w.latestRaw.set('a', { server: 'a', snapshotId: sid('newer'), collectedAt: T - MINUTE } as RawSnapshotMeta);
    w.latestRaw.set('b', { server: 'b', snapshotId: sid('newer-b'), collectedAt: T - MINUTE } as RawSnapshotMeta);
    await w.drain();
    expect(w.named('getLatestRaw')).toStrictEqual([['a']]);
    expect(w.named('putRawSnapshots')).toStrictEqual([[[`${sid('b1')}@0`]]]);
  });
});

describe('the lease', () => {
  it('held by another instance: the run is busy, writes nothing, gives nothing back, and logs the backlog', async () => {
    const w = world();
    w.put('a', 'a1');
    w.outbox.takenBy('other', T + 1);
    expect(await w.drain()).toStrictEqual({ status: 'busy', ...ZERO, phaseMs: {} });
    expect(w.names()).toStrictEqual(['list', 'holdLease', 'oldestWaiting']);
    expect(w.lines).toStrictEqual([backlogLine(1, T - 10 * MINUTE, 'a')]);
    expect(w.outbox.state.lease).toStrictEqual({ owner: 'other', until: T + 1, generation: 1 });
  });

  it('another instance of this app: one drains at a time', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    const other = w.fresh();
    const writing = gate();
    w.before.set('putEvents', [() => writing.opened]);
    const first = w.drain();
    await flush();
    expect(await w.drain(undefined, other)).toMatchObject({ status: 'busy' });
    writing.open();
    expect(await first).toMatchObject({ status: 'done', projected: 1 });
    expect(w.findings()).toStrictEqual(['a1']);
  });

  it('is not renewed between steps while most of it is ahead, and is when a step finds half of it spent', async () => {
    const quick = world();
    quick.put('a', 'a1');
    quick.remembers('a', 'a1');
    await quick.drain();
    expect(quick.named('renewLease')).toStrictEqual([]);
    const slow = world({ leaseMs: 1000, durations: { putEvents: 500 } });
    slow.put('a', 'a1');
    slow.remembers('a', 'a1');
    expect(await slow.drain()).toMatchObject({ projected: 1 });
    expect(slow.named('renewLease')).toStrictEqual([[slow.owner(), T, T + 1500]]);
    expect(slow.names().slice(-5)).toStrictEqual(['renewLease', 'waivers', 'remove', 'releaseLease', 'oldestWaiting']);
  });

  it('lost while the batch wrote: no alert record, no removal, the lease not given back, the run busy; the next run projects the entry once', async () => {
    const w = world({ leaseMs: 1000, durations: { putEvents: 500 } });
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.before.set('putEvents', [() => w.outbox.takenBy('other', T + 60_000)]);
    expect(await w.drain()).toStrictEqual({ status: 'busy', ...ZERO, phaseMs: {} });
    expect(w.names().slice(-2)).toStrictEqual(['renewLease', 'oldestWaiting']);
    expect(w.lines).toStrictEqual([`projector: ${LOST}`, backlogLine(1, T - 10 * MINUTE, 'a', T + 500)]);
    expect(w.outbox.waiting()).toStrictEqual(['a1']);
    // The other instance gives it back without finishing: this one projects the entry; its event is written again (keyed by its change), its record once.
    w.outbox.state.lease = { owner: '', until: 0, generation: 2 };
    expect(await w.drain()).toMatchObject({ status: 'done', projected: 1 });
    expect(w.written()).toStrictEqual(['a1', 'a1']);
    expect(w.findings()).toStrictEqual(['a1']);
    expect(w.outbox.waiting()).toStrictEqual([]);
  });

  it('lost as a write says (a lease error from storage): the run is busy and says why', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.failing.set('applyIndexMoves', () => new LeaseLostError('the lease went elsewhere'));
    expect(await w.drain()).toMatchObject({ status: 'busy', projected: 0 });
    expect(w.lines[0]).toBe('projector: the lease went elsewhere');
    expect(w.named('releaseLease')).toStrictEqual([]);
  });

  it('refused by a fence above its generation while it still holds it: the run fails, and the next takes a generation above the highest fence seen', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    const fences = [T + 500, T + 200];
    w.failing.set('applyIndexMoves', () => (fences.length > 0 ? new FencedOutError('refused', fences.shift()!) : undefined));
    const message = (generation: number, fence: number) => `The rule index or drift refused this projector's lease generation ${generation} (it was written under ${fence}) while it held the lease; the next run takes a higher one.`;
    const failure = (await w.drain().catch((error: unknown) => error)) as Error;
    expect(failure).toStrictEqual(new Error(message(T, T + 500)));
    expect(failure.cause).toBeInstanceOf(FencedOutError);
    expect(w.names().slice(-5)).toStrictEqual(['putRawSnapshots', 'deleteStagedRaw', 'renewLease', 'releaseLease', 'oldestWaiting']);
    expect(w.lines).toStrictEqual([failedLine(`Error: ${message(T, T + 500)}`, 'Error', T, 0), backlogLine(1, T - 10 * MINUTE, 'a')]);
    await expect(w.drain()).rejects.toThrow(message(T + 501, T + 200));
    expect(await w.drain()).toMatchObject({ status: 'done', projected: 1 });
    expect(w.named('holdLease').map((c) => c[3])).toStrictEqual([0, T + 500, T + 500]);
    expect(w.named('applyIndexMoves').map((c) => c[2])).toStrictEqual([T, T + 501, T + 502]);
  });

  it('refused by a fence after the lease passed on: the run is busy, and the next asks for no higher generation', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.failing.set('applyIndexMoves', () => {
      w.failing.delete('applyIndexMoves');
      w.outbox.takenBy('other', T + 60_000);
      return new FencedOutError('refused under a later lease', T + 9);
    });
    expect(await w.drain()).toMatchObject({ status: 'busy' });
    expect(w.lines[0]).toBe('projector: refused under a later lease');
    w.outbox.state.lease = { owner: '', until: 0, generation: T + 9 };
    expect(await w.drain()).toMatchObject({ status: 'done', projected: 1 });
    expect(w.named('holdLease').map((c) => c[3])).toStrictEqual([0, 0]);
  });

  it('refused by a fence when storage cannot say whose the lease is: the run fails with the storage error', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.failing.set('applyIndexMoves', () => new FencedOutError('refused', T + 9));
    const down = new StorageUnavailableError('storage down');
    w.outbox.fault('renewLease', { fail: down });
    await expect(w.drain()).rejects.toBe(down);
    expect(w.lines[0]).toBe(failedLine('StorageUnavailableError: storage down', 'StorageUnavailableError', T, 0));
  });

  it('leaves no heartbeat behind once a run is over, whether it succeeded or failed', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    await w.drain();
    expect(vi.getTimerCount()).toBe(0);
    w.put('b', 'b1');
    w.failing.set('readResultRow', () => new StorageUnavailableError('down'));
    await expect(w.drain()).rejects.toThrow('down');
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });
});

describe('a batch that fails', () => {
  it('on an outage while writing: the run fails, nothing is removed or logged as an alert, and the next run projects it all once', async () => {
    const w = world();
    w.put('a', 'a1');
    w.put('b', 'b1');
    w.remembers('a', 'a1');
    w.remembers('b', 'b1');
    const down = new StorageUnavailableError('storage down');
    w.events.eventWrites.push(down);
    await expect(w.drain()).rejects.toBe(down);
    expect(w.findings()).toStrictEqual([]);
    expect(w.named('remove')).toStrictEqual([]);
    expect(w.named('releaseLease')).toHaveLength(1);
    expect(w.lines).toStrictEqual([failedLine('StorageUnavailableError: storage down', 'StorageUnavailableError', T, 0), backlogLine(2, T - 10 * MINUTE, 'a')]);
    expect(await w.drain()).toMatchObject({ status: 'done', projected: 2 });
    expect(w.written()).toStrictEqual(['a1', 'b1']);
    expect(w.findings()).toStrictEqual(['a1', 'b1']);
  });

  it('on an outage clearing the outbox after the records: the next run writes the same rows again and logs no record twice; a restarted projector logs it again under its id', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.outbox.fault('remove', { fail: new StorageUnavailableError('storage down') });
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(w.outbox.waiting()).toStrictEqual(['a1']);
    expect(await w.drain()).toMatchObject({ projected: 1, alertRecords: 0 });
    expect(w.written()).toStrictEqual(['a1', 'a1']);
    expect(w.findings()).toStrictEqual(['a1']);
    w.put('a', 'a1');
    expect(await w.drain(undefined, w.fresh())).toMatchObject({ projected: 1, alertRecords: 1 });
    const ids = w.lines.filter((l) => l.startsWith('FleetPosture.NewFinding ')).map((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { recordId: string }).recordId);
    expect(ids).toStrictEqual([`a|r1|${sid('a1')}|${T}|Warning`, `a|r1|${sid('a1')}|${T}|Warning`]);
  });

  it('whose removal landed but its answer was lost: the next run finds nothing to do again', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.outbox.fault('remove', { lost: new StorageUnavailableError('connection reset') });
    await expect(w.drain()).rejects.toThrow('connection reset');
    const after = w.calls.length;
    expect(await w.drain()).toStrictEqual({ status: 'done', ...ZERO });
    expect(w.calls.slice(after)).toStrictEqual([['list', 1]]);
    expect(w.written()).toStrictEqual(['a1']);
    expect(w.findings()).toStrictEqual(['a1']);
  });

  it('on an outage reading a proof or setting an entry aside: the run fails before any write', async () => {
    const proof = world();
    proof.put('a', 'a1');
    proof.failing.set('readResultRow', () => new StorageUnavailableError('down'));
    await expect(proof.drain()).rejects.toThrow('down');
    const hold = world();
    hold.put('a', 'a1', { payload: 'x' });
    hold.remembers('a', 'a1');
    hold.outbox.fault('hold', { fail: new StorageUnavailableError('down') });
    await expect(hold.drain()).rejects.toThrow('down');
    for (const w of [proof, hold]) {
      expect(w.names()).not.toContain('putEvents');
      expect(w.names()).not.toContain('applyIndexMoves');
    }
  });

  it('with an error that is not an outage: the entries are tried one at a time, the one that fails alone set aside', async () => {
    const w = world({ durations: { applyIndexMoves: 3, remove: 2 } });
    w.put('a', 'a1');
    w.put('b', 'b1', { payload: 'x' });
    w.put('c', 'c1');
    w.remembers('a', 'a1');
    w.remembers('b', 'b1');
    w.remembers('c', 'c1');
    w.failing.set('applyIndexMoves', (_rule, moves) => ((moves as IndexChange[]).some((m) => 'record' in m && m.record.server === 'c') ? new TypeError('cannot move c\nat line 2') : undefined));
    const run = await w.drain();
    expect(run).toStrictEqual({ status: 'done', entries: 3, projected: 1, waiting: 0, dropped: 0, held: 2, events: 1, alertRecords: 1, phaseMs: { read: 0, events: 3, index: 3, drift: 3, raw: 3, hosts: 3, oneByOne: 10 } });
    expect(w.named('hold')).toStrictEqual([
      ['b1', 'This version cannot read the entry (written by another release, or damaged).', true, T],
      ['c1', 'TypeError: cannot move c', true, T + 13],
    ]);
    expect(w.findings()).toStrictEqual(['a1']);
    expect(w.outbox.waiting()).toStrictEqual([]);
    expect(w.lines).toStrictEqual([
      'FleetPosture.ProjectionHeld {"server":"b","commitId":"b1","error":"This version cannot read the entry (written by another release, or damaged)."}',
      'projector: a batch of 2 entries failed (TypeError: cannot move c); projecting them one at a time.',
      expect.stringMatching(/^FleetPosture\.NewFinding /),
      'FleetPosture.ProjectionHeld {"server":"c","commitId":"c1","error":"TypeError: cannot move c"}',
      summary({ projected: 1, events: 1, alerts: 1, held: 2, ms: 13, phases: 'read 0, drift 3, hosts 3, events 3, index 3, raw 3, oneByOne 10' }),
      backlogLine(0, undefined, undefined, T + 13),
    ]);
  });
});

describe('a run that fails', () => {
  it('logs since when every run of this process has failed; a busy run changes nothing, a run that succeeds ends it', async () => {
    const w = world();
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    const failOnce = () => w.outbox.fault('list', { fail: new Error('storage down\nsecond line') });
    const failures = () => w.lines.filter((l) => l.startsWith('FleetPosture.ProjectionFailed '));
    failOnce();
    await expect(w.drain()).rejects.toThrow('storage down');
    w.clock.now = T + MINUTE;
    w.outbox.takenBy('other', T + 2 * MINUTE);
    expect(await w.drain()).toMatchObject({ status: 'busy' });
    w.clock.now = T + 2 * MINUTE + 59_999;
    failOnce();
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(failures()).toStrictEqual([failedLine('Error: storage down', 'Error', T, 0), failedLine('Error: storage down', 'Error', T, 2)]);
    w.clock.now = T + 3 * MINUTE;
    expect(await w.drain()).toMatchObject({ status: 'done', projected: 1 });
    w.clock.now = T + 4 * MINUTE;
    failOnce();
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(failures().at(-1)).toBe(failedLine('Error: storage down', 'Error', T + 4 * MINUTE, 0));
  });

  it('a run that finds the outbox empty ends the failing too', async () => {
    const w = world();
    w.outbox.fault('list', { fail: new Error('storage down') });
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(await w.drain()).toStrictEqual({ status: 'done', ...ZERO });
    w.clock.now = T + 5 * MINUTE;
    w.outbox.fault('list', { fail: new Error('storage down') });
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(w.lines.filter((l) => l.startsWith('FleetPosture.ProjectionFailed ')).at(-1)).toBe(failedLine('Error: storage down', 'Error', T + 5 * MINUTE, 0));
  });

  it('with a thrown value that is not an error names its type', async () => {
    const w = world();
    w.outbox.fault('list', { fail: 'text\nmore' });
    await expect(w.drain()).rejects.toBe('text\nmore');
    expect(w.lines[0]).toBe(failedLine('text', 'string', T, 0));
  });

  it('whose backlog cannot be read either only notes it', async () => {
    const w = world();
    w.outbox.fault('list', { fail: new Error('storage down') });
    w.outbox.fault('oldestWaiting', { fail: new Error('still down\nat line 2') });
    await expect(w.drain()).rejects.toThrow('storage down');
    expect(w.lines).toStrictEqual([failedLine('Error: storage down', 'Error', T, 0), 'projector: the outbox backlog could not be read (Error: still down).']);
  });
});

describe('the drains of one process', () => {
  it('run one after another; one asked for while another waits is that one', async () => {
    const w = world();
    const first = gate();
    const second = gate();
    w.outbox.fault('list', { before: () => first.opened }, { before: () => second.opened });
    const a = w.drain();
    const b = w.drain();
    // The first one is under way (waiting for storage) and the second waits for it.
    await flush();
    const c = w.drain();
    await flush();
    expect(w.named('list')).toStrictEqual([[1]]);
    first.open();
    await a;
    await flush();
    expect(w.named('list')).toStrictEqual([[1], [1]]);
    // The queued one started: a drain asked for now comes after it.
    const d = w.drain();
    await flush();
    expect(w.named('list')).toHaveLength(2);
    let idle = false;
    const waited = w.projector.idle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false);
    second.open();
    expect(await b).toBe(await c);
    await d;
    await waited;
    expect(w.named('list')).toHaveLength(3);
  });

  it('go on after one that failed, and none is waited for once they are done', async () => {
    const w = world();
    const first = gate();
    w.outbox.fault('list', { before: () => first.opened, fail: new Error('x') } as never);
    const a = w.drain();
    const b = w.drain();
    first.open();
    await expect(a).rejects.toThrow('x');
    expect(await b).toStrictEqual({ status: 'done', ...ZERO });
    await w.projector.idle();
    const c = w.drain();
    await w.projector.idle();
    expect(await c).toStrictEqual({ status: 'done', ...ZERO });
    expect(w.named('list')).toHaveLength(3);
  });

  it('are waited for by idle until the last is done, the first one failing included', async () => {
    const w = world();
    const first = gate();
    w.outbox.fault('list', { before: () => first.opened, fail: new Error('down') } as never);
    const a = w.drain().catch(() => 'failed');
    let idle = false;
    const waited = w.projector.idle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false);
    first.open();
    await waited;
    expect(await a).toBe('failed');
  });
});

describe('kicks', () => {
  const listed = (w: ReturnType<typeof world>) => w.calls.filter((c) => c[0] === 'list' && c.length === 2).length;

  it('do nothing while no host is attached', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.kick();
    expect(w.projector.kickPending).toBe(false);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(w.calls).toStrictEqual([]);
    vi.useRealTimers();
  });

  it('start a drain once commits paused for the quiet time', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.attach(w.log, 300, 1000);
    w.projector.kick();
    expect(w.projector.kickPending).toBe(true);
    await vi.advanceTimersByTimeAsync(299);
    expect(listed(w)).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(listed(w)).toBe(1);
    expect(w.projector.kickPending).toBe(false);
    vi.useRealTimers();
  });

  it('in a steady stream start one drain at the longest delay after the first, and the next burst counts its own delay', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.attach(w.log, 300, 1000);
    for (let i = 0; i < 5; i++) {
      w.projector.kick();
      await vi.advanceTimersByTimeAsync(200);
    }
    // Kicked at 0, 200, 400, 600 and 800: the drain is due at 1000.
    expect(listed(w)).toBe(1);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(listed(w)).toBe(1);
    w.projector.kick();
    await vi.advanceTimersByTimeAsync(299);
    expect(listed(w)).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(listed(w)).toBe(2);
    vi.useRealTimers();
  });

  it('past the longest delay start the drain at once', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.attach(w.log, 300, 1000);
    w.projector.kick();
    await vi.advanceTimersByTimeAsync(200);
    vi.setSystemTime(T + 5000);
    w.projector.kick();
    await vi.advanceTimersByTimeAsync(0);
    expect(listed(w)).toBe(1);
    vi.useRealTimers();
  });

  it('drain with the log of the host attached last; its release hands pending work to the host left, and a failed drain is logged there', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const first: string[] = [];
    const second: string[] = [];
    w.projector.attach({ log: (l) => void first.push(l) }, 300, 1000);
    const release = w.projector.attach({ log: (l) => void second.push(l) }, 100, 1000);
    w.outbox.fault('list', { fail: new Error('storage down') });
    w.projector.kick();
    // Only the host attached last waits to drain.
    expect(w.projector.kickPending).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(second).toStrictEqual([failedLine('Error: storage down', 'Error', T + 100, 0), backlogLine(0, undefined, undefined, T + 100), 'projector: storage down']);
    w.put('a', 'a1');
    w.remembers('a', 'a1');
    w.projector.kick();
    release();
    expect(w.projector.kickPending).toBe(true);
    await vi.advanceTimersByTimeAsync(299);
    expect(listed(w)).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.filter((l) => l.startsWith('projector: projected 1 '))).toHaveLength(1);
    expect(second).toHaveLength(3);
    vi.useRealTimers();
  });

  it('a host released with no drain pending starts none, and a second release of it changes nothing', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    const lines: string[] = [];
    w.projector.attach({ log: (l) => void lines.push(l) }, 300, 1000);
    const release = w.projector.attach(w.log, 300, 1000);
    release();
    expect(w.projector.kickPending).toBe(false);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(w.calls).toStrictEqual([]);
    release();
    w.outbox.fault('list', { fail: new Error('storage down') });
    w.projector.kick();
    await vi.advanceTimersByTimeAsync(300);
    expect(lines.at(-1)).toBe('projector: storage down');
    vi.useRealTimers();
  });

  it('start no drain for a host once it is released', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.attach(w.log, 300, 1000)();
    w.projector.kick();
    expect(w.projector.kickPending).toBe(false);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(w.calls).toStrictEqual([]);
    vi.useRealTimers();
  });

  it('do not keep the process alive, and work where timers cannot be unreferenced', async () => {
    vi.useFakeTimers({ now: T });
    const started = vi.spyOn(globalThis, 'setTimeout');
    const w = world();
    w.projector.attach(w.log, 300, 1000);
    w.projector.kick();
    expect((started.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
    started.mockRestore();
    vi.useRealTimers();
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(() => ({}) as NodeJS.Timeout);
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(() => undefined);
    const other = world();
    other.projector.attach(other.log, 300, 1000);
    other.projector.kick();
    other.projector.kick();
    expect(other.projector.kickPending).toBe(true);
  });
});

describe('held entries and the backlog', () => {
  it('lists the held entries up to the number asked, saying when more are held', async () => {
    const w = world();
    w.put('a', 'a1', { payload: 'x' });
    w.put('b', 'b1', { payload: 'x' });
    w.remembers('a', 'a1');
    w.remembers('b', 'b1');
    await w.drain();
    const listedHeld = await w.projector.held(1);
    expect(listedHeld).toStrictEqual({ entries: [{ server: 'a', commitId: 'a1', writtenAt: T - 10 * MINUTE, heldAt: T, error: 'This version cannot read the entry (written by another release, or damaged).', proven: true }], more: true });
    expect(w.named('listHeld')).toStrictEqual([[2]]);
  });

  it('requeues them and kicks a drain, and kicks none when none was requeued', async () => {
    vi.useFakeTimers({ now: T });
    const w = world();
    w.projector.attach(w.log, 300, 1000);
    expect(await w.projector.requeueHeld(w.log)).toStrictEqual({ requeued: 0, more: false });
    expect(w.projector.kickPending).toBe(false);
    w.outbox.held.set('a|a1', { server: 'a', commitId: 'a1', writtenAt: T, heldAt: T, error: 'bug', proven: true, payload: encodeWork(workOf('a', 'a1')) });
    w.remembers('a');
    expect(await w.projector.requeueHeld(w.log)).toStrictEqual({ requeued: 1, more: false });
    expect(w.projector.kickPending).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(w.lines.filter((l) => l.startsWith('FleetPosture.NewFinding ') && l.includes(sid('a1')))).toHaveLength(1);
    vi.useRealTimers();
  });

  it('reads what waits for the status route', async () => {
    const w = world();
    w.put('a', 'a1', { storedAt: T - 3 * MINUTE });
    expect(await w.projector.backlog()).toStrictEqual({ waiting: 1, more: false, oldestAt: T - 3 * MINUTE, oldestServer: 'a' });
    expect(w.calls).toStrictEqual([['oldestWaiting', 1000]]);
  });
});
