// What the projector writes for a batch of works, all but alert records, without storage: one
// events call, one index and one drift call per rule, the raw bodies (the last per server and
// slot), staged copies a few at a time, and the Hosts rows with their stale-host bookkeeping. The
// stores are fakes recording every call; the service and projector tests run the same over Azurite.
import { describe, expect, it } from 'vitest';
import type { ProjectionWork } from '../../src/app/projection-work';
import { ProjectionWrites, type ProjectionWritesDeps } from '../../src/app/projection-writes';
import type { DriftLeave, DriftMove, EventRecord, HostRecord, IndexLeave, IndexMove, RawSnapshotRecord } from '../../src/store';

const T = Date.parse('2026-12-06T12:00:00.000Z');
const LOG = { log: () => undefined };

const event = (server: string, ruleId: string): EventRecord => ({ server, ruleId, ruleVersion: '1', fromStatus: 'Pass', toStatus: 'Warning', reasonCode: 'R', severity: 'Warning', message: { en: 'm', ja: 'm' }, firstSeen: T, snapshotId: 's', recordedAt: T }) as EventRecord;
const move = (server: string, ruleId: string, status: string, from?: string): IndexMove => ({ record: { server, ruleId, status } as never, ...(from === undefined ? {} : { from }) });
const leave = (server: string, ruleId: string, from?: string): IndexLeave => ({ leave: true, ruleId, server, ...(from === undefined ? {} : { from }), sourceSnapshotId: 's', sourceCollectedAt: T });
const driftMove = (server: string, ruleId: string, fingerprint: string): DriftMove => ({ ruleId, server, fingerprint, status: 'Pass', from: { fingerprint: 'sha256:old', status: 'Pass' } }) as DriftMove;
const driftLeave = (server: string, ruleId: string): DriftLeave => ({ leave: true, ruleId, server, from: { fingerprint: 'sha256:old', status: 'Pass' }, sourceSnapshotId: 's', sourceCollectedAt: T });
const rawOf = (server: string, commitId: string): RawSnapshotRecord => ({ server, snapshotId: commitId, body: `{"${commitId}":1}` }) as RawSnapshotRecord;
const hostOf = (server: string, hostName: string, previousSync: number | undefined, now: number) => ({ record: { server, hostName } as HostRecord, ...(previousSync === undefined ? {} : { previousSync }), now, snapshotId: `snap-${hostName}` });

/** A work of `server`'s commit `commitId` owing only what `over` says. */
const work = (server: string, commitId: string, over: Partial<ProjectionWork> = {}): ProjectionWork => ({ v: 1, server, commitId, proofRule: 'r1', events: [], alerts: [], index: [], ...over });

/** The writes over stores that record every call, in order; `failing` names store calls that reject. */
function world(options: { drift?: boolean; bookkeeping?: boolean; failing?: Record<string, Error> } = {}) {
  const calls: [string, ...unknown[]][] = [];
  const gates: (() => void)[] = [];
  let copying = 0;
  let mostCopying = 0;
  const call =
    (name: string) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
      const failure = options.failing?.[name];
      if (failure) throw failure;
    };
  const deps = {
    store: {},
    events: { putEvents: call('putEvents') },
    ruleIndex: { applyIndexMoves: call('applyIndexMoves') },
    rawSnapshots: { putRawSnapshots: call('putRawSnapshots') },
    staged: {
      copyStagedRaw: async (...args: unknown[]) => {
        calls.push(['copyStagedRaw', ...args]);
        mostCopying = Math.max(mostCopying, ++copying);
        // Each copy waits until the test lets it finish, so how many run at once shows.
        await new Promise<void>((resolve) => gates.push(resolve));
        copying--;
        return true;
      },
      deleteStagedRaw: call('deleteStagedRaw'),
    },
    hosts: { removeHosts: call('removeHosts'), putHosts: call('putHosts') },
    ...(options.drift === false ? {} : { drift: { applyMoves: call('applyMoves') } }),
    ...(options.bookkeeping === false ? {} : { hostsSynced: call('hostsSynced'), hostsRemoved: call('hostsRemoved') }),
  };
  const writes = new ProjectionWrites(deps as unknown as ProjectionWritesDeps);
  /** Lets every copy waiting now finish, until none is left and the promise settles. */
  const settled = async <R>(p: Promise<R>): Promise<R> => {
    let done = false;
    const out = p.finally(() => (done = true));
    // Its failure is the caller's to see, once the loop is done.
    out.catch(() => undefined);
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.splice(0).forEach((open) => open());
    }
    return out;
  };
  return {
    calls,
    named: (name: string) => calls.filter((c) => c[0] === name).map((c) => c.slice(1)),
    mostCopying: () => mostCopying,
    project: (works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[] = [], fence = 7, timed?: (name: string, p: Promise<void>) => Promise<void>) => settled(writes.project(works, droppedStaged, LOG, fence, timed)),
    raw: (works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[] = []) => settled(writes.raw(works, droppedStaged)),
  };
}

describe('events', () => {
  it('go in one call for the whole batch, in the works order', async () => {
    const w = world();
    const e = [event('a', 'r1'), event('a', 'r2'), event('b', 'r1')];
    await w.project([work('a', 'c1', { events: e.slice(0, 2) }), work('b', 'c2', { events: e.slice(2) })]);
    expect(w.named('putEvents')).toStrictEqual([[e]]);
  });

  it('are not written at all when no work owes one', async () => {
    const w = world();
    await w.project([work('a', 'c1')]);
    expect(w.named('putEvents')).toStrictEqual([]);
  });
});

describe('the rule index', () => {
  it('gets one call per rule with one move per server, each as its entry says, checked against the fence', async () => {
    const w = world();
    const a1 = move('a', 'r1', 'Warning', 'Pass');
    const b1 = move('b', 'r1', 'Pass', 'Warning');
    const a2 = leave('a', 'r2', 'Pass');
    await w.project([work('a', 'c1', { index: [a1], indexLeaves: [a2] }), work('b', 'c2', { index: [b1] })], [], 42);
    const calls = w.named('applyIndexMoves');
    expect(calls.map(([ruleId, moves, fence]) => [ruleId, moves, fence])).toStrictEqual([
      ['r1', [a1, b1], 42],
      ['r2', [a2], 42],
    ]);
    // Each call can read where the Results rows put a server, for moves it reads and compares.
    expect(calls.every((c) => typeof c[3] === 'function')).toBe(true);
  });

  it('puts a server with several changes of one rule in the batch where its last one says, reading where it is first', async () => {
    const w = world();
    await w.project([work('a', 'c1', { index: [move('a', 'r1', 'Warning', 'Pass')] }), work('a', 'c2', { index: [move('a', 'r1', 'Error', 'Warning')] }), work('a', 'c3', { indexLeaves: [leave('a', 'r2', 'Pass')] }), work('a', 'c4', { indexLeaves: [leave('a', 'r2', 'Warning')] })]);
    expect(w.named('applyIndexMoves').map(([ruleId, moves]) => [ruleId, moves])).toStrictEqual([
      ['r1', [{ record: { server: 'a', ruleId: 'r1', status: 'Error' }, reread: true }]],
      ['r2', [{ leave: true, ruleId: 'r2', server: 'a', from: undefined, sourceSnapshotId: 's', sourceCollectedAt: T }]],
    ]);
  });

  it('is not called when no work moves a server', async () => {
    const w = world();
    await w.project([work('a', 'c1', { events: [event('a', 'r1')] })]);
    expect(w.named('applyIndexMoves')).toStrictEqual([]);
  });
});

describe('fleet drift', () => {
  it('gets one call per rule with one move per server, moves and leaves alike, checked against the fence', async () => {
    const w = world();
    const a = driftMove('a', 'r1', 'sha256:aa');
    const b = driftLeave('b', 'r1');
    const c = driftMove('a', 'r2', 'sha256:bb');
    await w.project([work('a', 'c1', { drift: [a, c] }), work('b', 'c2', { driftLeaves: [b] })], [], 9);
    const calls = w.named('applyMoves');
    expect(calls.map(([ruleId, moves, , fence]) => [ruleId, moves, fence])).toStrictEqual([
      ['r1', [a, b], 9],
      ['r2', [c], 9],
    ]);
    expect(calls.every((call) => typeof call[2] === 'function')).toBe(true);
  });

  it('puts a server with several moves of one rule where its newest says, reading where it is first', async () => {
    const w = world();
    await w.project([work('a', 'c1', { drift: [driftMove('a', 'r1', 'sha256:aa')] }), work('a', 'c2', { drift: [driftMove('a', 'r1', 'sha256:bb')] }), work('a', 'c3', { driftLeaves: [driftLeave('a', 'r2')] }), work('a', 'c4', { driftLeaves: [driftLeave('a', 'r2')] })]);
    expect(w.named('applyMoves').map(([ruleId, moves]) => [ruleId, moves])).toStrictEqual([
      ['r1', [{ ruleId: 'r1', server: 'a', fingerprint: 'sha256:bb', status: 'Pass', from: undefined }]],
      ['r2', [{ leave: true, ruleId: 'r2', server: 'a', from: undefined, sourceSnapshotId: 's', sourceCollectedAt: T }]],
    ]);
  });

  it('is not projected where the instance counts no drift', async () => {
    const w = world({ drift: false });
    await w.project([work('a', 'c1', { drift: [driftMove('a', 'r1', 'sha256:aa')] })]);
    expect(w.calls.map((c) => c[0])).not.toContain('applyMoves');
  });
});

describe('raw bodies', () => {
  it('keep the last body per server and slot (works are in commit order), and go in one call', async () => {
    const w = world();
    await w.raw([work('a', 'c1', { raw: { record: rawOf('a', 'c1'), slot: 0 } }), work('a', 'c2', { raw: { record: rawOf('a', 'c2'), slot: 1 } }), work('a', 'c3', { raw: { record: rawOf('a', 'c3'), slot: 0 } }), work('b', 'c4', { raw: { record: rawOf('b', 'c4'), slot: 0 } }), work('b', 'c5')]);
    expect(w.named('putRawSnapshots')).toStrictEqual([
      [
        [
          { record: rawOf('a', 'c3'), slot: 0 },
          { record: rawOf('a', 'c2'), slot: 1 },
          { record: rawOf('b', 'c4'), slot: 0 },
        ],
      ],
    ]);
  });

  it('copy staged bodies into their slot unless a later body took it, then remove every staging row of the works and of dropped entries', async () => {
    const w = world();
    await w.raw([work('a', 'c1', { staged: { slot: 0 } }), work('a', 'c2', { raw: { record: rawOf('a', 'c2'), slot: 0 } }), work('b', 'c3', { staged: { slot: 1 } }), work('b', 'c4')], [work('c', 'c9', { staged: { slot: 0 } }), work('c', 'c8')]);
    expect(w.named('putRawSnapshots')).toStrictEqual([[[{ record: rawOf('a', 'c2'), slot: 0 }]]]);
    expect(w.named('copyStagedRaw')).toStrictEqual([['b', 'c3', 1]]);
    // The staging rows go once the copies are done.
    expect(w.calls.at(-1)).toStrictEqual([
      'deleteStagedRaw',
      [
        { server: 'a', commitId: 'c1' },
        { server: 'b', commitId: 'c3' },
        { server: 'c', commitId: 'c9' },
      ],
    ]);
  });

  it('copy at most two staged bodies at once, and every one of them', async () => {
    const w = world();
    const staged = Array.from({ length: 5 }, (_, i) => work(`s${i}`, `c${i}`, { staged: { slot: 0 } }));
    await w.raw(staged);
    expect(w.mostCopying()).toBe(2);
    expect(w.named('copyStagedRaw').map(([server]) => server)).toStrictEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('with none in the batch: an empty write and an empty removal (the stores skip both)', async () => {
    const w = world();
    await w.raw([work('a', 'c1')]);
    expect(w.calls).toStrictEqual([
      ['putRawSnapshots', []],
      ['deleteStagedRaw', []],
    ]);
  });

  it('keep the staging rows when a copy fails, for the next run to copy again', async () => {
    const w = world({ failing: { putRawSnapshots: new Error('down') } });
    await expect(w.raw([work('a', 'c1', { staged: { slot: 0 } }), work('b', 'c2', { raw: { record: rawOf('b', 'c2'), slot: 0 } })])).rejects.toThrow('down');
    // The copies beside the failed write still finish, but no staging row goes.
    expect(w.named('copyStagedRaw')).toStrictEqual([['a', 'c1', 0]]);
    expect(w.named('deleteStagedRaw')).toStrictEqual([]);
  });
});

describe('Hosts rows', () => {
  it('write the newest row per server in one call, its last-seen index row moving from before the earliest refresh', async () => {
    const w = world();
    await w.project([work('a', 'c1', { host: hostOf('a', 'A1', T - 7200_000, T - 60_000) }), work('b', 'c2', { host: hostOf('b', 'B1', undefined, T - 30_000) }), work('a', 'c3', { host: hostOf('a', 'A2', T - 60_000, T) })]);
    expect(w.named('putHosts')).toStrictEqual([[[{ server: 'a', hostName: 'A2' }, { server: 'b', hostName: 'B1' }]]]);
    expect(w.named('hostsSynced')).toStrictEqual([
      [
        [
          { server: 'a', previous: T - 7200_000, now: T, snapshotId: 'snap-A2' },
          { server: 'b', previous: undefined, now: T - 30_000, snapshotId: 'snap-B1' },
        ],
        LOG,
      ],
    ]);
    expect(w.calls.filter((c) => c[0].startsWith('host') || c[0].endsWith('Hosts')).map((c) => c[0])).toStrictEqual(['putHosts', 'hostsSynced']);
  });

  it('go for a removed server before any refresh, which is dropped if it came before the removal and written if after', async () => {
    const w = world();
    await w.project([work('a', 'c1', { host: hostOf('a', 'A1', undefined, T - 60_000) }), work('a', 'c2', { removal: { upTo: T - 120_000, hostSyncedAt: T - 3600_000 } }), work('b', 'c3', { removal: { upTo: T - 30_000 } }), work('b', 'c4', { host: hostOf('b', 'B2', undefined, T) })]);
    expect(w.calls.filter((c) => c[0].startsWith('host') || c[0].endsWith('Hosts'))).toStrictEqual([
      [
        'removeHosts',
        [
          { server: 'a', upTo: T - 120_000 },
          { server: 'b', upTo: T - 30_000 },
        ],
      ],
      [
        'hostsRemoved',
        [
          { server: 'a', hostSyncedAt: T - 3600_000 },
          { server: 'b', hostSyncedAt: undefined },
        ],
      ],
      ['putHosts', [{ server: 'b', hostName: 'B2' }]],
      ['hostsSynced', [{ server: 'b', previous: undefined, now: T, snapshotId: 'snap-B2' }], LOG],
    ]);
  });

  it('write nothing when no work refreshes or removes a host', async () => {
    const w = world();
    await w.project([work('a', 'c1', { events: [event('a', 'r1')] })]);
    expect(w.calls.map((c) => c[0]).filter((n) => /host/i.test(n))).toStrictEqual([]);
  });

  it('are written without the stale-host bookkeeping where the instance has none', async () => {
    const w = world({ bookkeeping: false });
    await w.project([work('a', 'c1', { removal: { upTo: T } }), work('b', 'c2', { host: hostOf('b', 'B1', undefined, T) })]);
    expect(w.calls.map((c) => c[0]).filter((n) => /host/i.test(n))).toStrictEqual(['removeHosts', 'putHosts']);
  });
});

describe('a batch', () => {
  it('names each of its five writes for timing', async () => {
    const w = world();
    const named: string[] = [];
    await w.project([work('a', 'c1', { events: [event('a', 'r1')] })], [], 1, async (name, p) => (named.push(name), p));
    expect(named).toStrictEqual(['events', 'index', 'drift', 'raw', 'hosts']);
  });

  it('lets every write finish when one fails, then fails with that error', async () => {
    const down = new Error('events down');
    const w = world({ failing: { putEvents: down } });
    const p = w.project([work('a', 'c1', { events: [event('a', 'r1')], index: [move('a', 'r1', 'Warning', 'Pass')], host: hostOf('a', 'A1', undefined, T) })]);
    await expect(p).rejects.toBe(down);
    expect(w.calls.map((c) => c[0]).sort()).toStrictEqual(['applyIndexMoves', 'deleteStagedRaw', 'hostsSynced', 'putEvents', 'putHosts', 'putRawSnapshots']);
  });
});
