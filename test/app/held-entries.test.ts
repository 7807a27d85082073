// Outbox entries set aside, without storage: holding one logs the record that alerts on it, the
// operator's listing says when more are held, a requeue reports what it moved, and a requeued
// entry (projected after its server's later changes) reads before it moves and leaves out a raw
// body older than the one its server's slots hold now. The service tests hold and requeue real
// entries in Azurite.
import { describe, expect, it } from 'vitest';
import { HeldEntries, workOf, type HeldEntriesDeps, type Ready } from '../../src/app/held-entries';
import type { ProjectionWork } from '../../src/app/projection-work';
import type { HeldOutboxEntry, IndexMove, RawSnapshotRecord, StoredOutboxEntry } from '../../src/store';

const entry = (over: Partial<StoredOutboxEntry> = {}): StoredOutboxEntry =>
  ({ server: 'exch1', commitId: 'c1', etag: 'e', storedAt: 1, partitionKey: 'p', rowKey: 'r', requeued: false, proven: true, ...over }) as StoredOutboxEntry;

const raw = (snapshotId: string, collectedAt: number): RawSnapshotRecord => ({ server: 'exch1', snapshotId, collectedAt, receivedAt: collectedAt, contentHash: 'h', body: '{}' });

const work = (over: Partial<ProjectionWork> = {}): ProjectionWork => ({ v: 1, server: 'exch1', commitId: 'c1', proofRule: 'r', events: [], alerts: [], index: [], ...over });

const lines = () => {
  const out: string[] = [];
  return { log: { log: (l: string) => void out.push(l) }, out };
};

/** Deps that record their calls; `latest` is the server's newest raw body, `staged` the staging rows by commit id. */
function deps(opts: { held?: HeldOutboxEntry[]; requeue?: { requeued: number; more: boolean }; latest?: Record<string, { snapshotId: string; collectedAt: number }>; staged?: Record<string, { snapshotId: string; collectedAt: number }> } = {}) {
  const calls: unknown[][] = [];
  const d = {
    outbox: {
      hold: async (...args: unknown[]) => void calls.push(['hold', ...args]),
      listHeld: async (max: number) => (calls.push(['listHeld', max]), (opts.held ?? []).slice(0, max)),
      requeueHeld: async () => opts.requeue ?? { requeued: 0, more: false },
    },
    rawSnapshots: { getLatestRaw: async (server: string) => (calls.push(['latest', server]), opts.latest?.[server]) },
    staged: { readStagedMeta: async (server: string, commitId: string) => (calls.push(['staged', server, commitId]), opts.staged?.[commitId]) },
  } as unknown as HeldEntriesDeps;
  return { d, calls };
}

const heldRow = (commitId: string): HeldOutboxEntry => ({ server: 'exch1', commitId, writtenAt: 1, heldAt: 2, error: 'bad', proven: true });

describe('hold', () => {
  it('sets the entry aside with its error, when, and whether its commit was proven, then logs the record that alerts', async () => {
    const { d, calls } = deps();
    const { log, out } = lines();
    const before = Date.now();
    const e = entry({ server: 'exch9', commitId: 'c9' });
    await new HeldEntries(d).hold(e, 'cannot read v2', false, log);
    const [call] = calls as [unknown[]];
    expect(call.slice(0, 4)).toStrictEqual(['hold', e, 'cannot read v2', false]);
    expect(call[4]).toBeGreaterThanOrEqual(before);
    expect(call[4]).toBeLessThanOrEqual(Date.now());
    expect(out).toStrictEqual(['FleetPosture.ProjectionHeld {"server":"exch9","commitId":"c9","error":"cannot read v2"}']);
  });
});

describe('list', () => {
  it('lists up to 100 entries by default, reading one more to tell whether others are held', async () => {
    const held = Array.from({ length: 101 }, (_, i) => heldRow(`c${i}`));
    const { d, calls } = deps({ held });
    expect(await new HeldEntries(d).list()).toStrictEqual({ entries: held.slice(0, 100), more: true });
    expect(calls).toStrictEqual([['listHeld', 101]]);
  });

  it('says no more when all fit', async () => {
    const held = [heldRow('a'), heldRow('b')];
    expect(await new HeldEntries(deps({ held }).d).list(2)).toStrictEqual({ entries: held, more: false });
    expect(await new HeldEntries(deps({ held }).d).list(1)).toStrictEqual({ entries: [held[0]], more: true });
  });
});

describe('requeue', () => {
  it('reports what it moved, and whether more are held, in a line when it moved any', async () => {
    for (const [result, expected] of [
      [{ requeued: 3, more: false }, ['projector: 3 held outbox entries requeued.']],
      [{ requeued: 300, more: true }, ['projector: 300 held outbox entries requeued (more are held).']],
      [{ requeued: 0, more: false }, []],
    ] as const) {
      const { log, out } = lines();
      expect(await new HeldEntries(deps({ requeue: result }).d).requeue(log)).toStrictEqual(result);
      expect(out).toStrictEqual(expected);
    }
  });
});

describe('workOf', () => {
  it('makes a requeued entry read where its server is before it moves it, and leaves others as they are', () => {
    const move = { record: { server: 'exch1', ruleId: 'r', status: 'Warning' }, from: 'Pass' } as unknown as IndexMove;
    const w = work({ index: [move] });
    expect(workOf({ entry: entry(), work: w })).toBe(w);
    expect(workOf({ entry: entry({ requeued: true }), work: w }).index).toStrictEqual([{ record: move.record, reread: true }]);
  });
});

describe('keepNewerRaw', () => {
  const T = 1_000_000;

  it('keeps the raw body of a requeued entry while its server holds none newer', async () => {
    const ready: Ready[] = [
      { entry: entry({ requeued: true }), work: work({ raw: { record: raw('s2', T), slot: 0 } }) },
      { entry: entry({ requeued: true, server: 'exch2' }), work: work({ server: 'exch2', raw: { record: raw('s5', T), slot: 1 } }) },
    ];
    const { d } = deps({ latest: { exch1: { snapshotId: 's2', collectedAt: T }, exch2: { snapshotId: 's4', collectedAt: T } } });
    const dropped: ProjectionWork[] = [];
    const out = await new HeldEntries(d).keepNewerRaw(ready, dropped, 4);
    expect(out).toStrictEqual(ready);
    expect(dropped).toStrictEqual([]);
  });

  it('leaves out the raw body of a requeued entry when its server holds a newer one, and never for an entry not requeued', async () => {
    const ready: Ready[] = [
      { entry: entry({ requeued: true }), work: work({ raw: { record: raw('s2', T), slot: 0 } }) },
      { entry: entry({ requeued: true, server: 'exch2' }), work: work({ server: 'exch2', raw: { record: raw('s2', T), slot: 0 } }) },
      { entry: entry({ server: 'exch3' }), work: work({ server: 'exch3', raw: { record: raw('s1', T), slot: 0 } }) },
    ];
    const { d, calls } = deps({ latest: { exch1: { snapshotId: 's1', collectedAt: T + 1 }, exch2: { snapshotId: 's3', collectedAt: T }, exch3: { snapshotId: 's9', collectedAt: T + 9 } } });
    const dropped: ProjectionWork[] = [];
    const out = await new HeldEntries(d).keepNewerRaw(ready, dropped, 4);
    expect(out.map((r) => r.work.raw)).toStrictEqual([undefined, undefined, ready[2]!.work.raw]);
    expect(out.map((r) => 'staged' in r.work && r.work.staged)).toStrictEqual([undefined, undefined, false]);
    expect(out[0]!.entry).toBe(ready[0]!.entry);
    expect(ready[0]!.work.raw).toBeDefined();
    expect(dropped).toStrictEqual([]);
    expect(calls.filter((c) => c[0] === 'latest').map((c) => c[1])).toStrictEqual(['exch1', 'exch2']);
    expect(calls.filter((c) => c[0] === 'staged')).toStrictEqual([]);
  });

  it('orders a staged body by its staging row, and drops its staging row with it when a newer body is held', async () => {
    const staged = work({ commitId: 'c7', staged: { slot: 1 } });
    const ready: Ready[] = [
      { entry: entry({ requeued: true, commitId: 'c7' }), work: staged },
      { entry: entry({ requeued: true, commitId: 'c8' }), work: work({ commitId: 'c8', staged: { slot: 0 } }) },
    ];
    const { d, calls } = deps({ staged: { c7: { snapshotId: 's2', collectedAt: T } }, latest: { exch1: { snapshotId: 's3', collectedAt: T } } });
    const dropped: ProjectionWork[] = [];
    const out = await new HeldEntries(d).keepNewerRaw(ready, dropped, 1);
    expect(out[0]!.work).toStrictEqual({ ...staged, raw: undefined, staged: undefined });
    expect(dropped).toStrictEqual([staged]);
    // No staging row left (c8): nothing to compare, the work stays as it was.
    expect(out[1]).toBe(ready[1]);
    expect(calls).toStrictEqual([['staged', 'exch1', 'c7'], ['latest', 'exch1'], ['staged', 'exch1', 'c8']]);
  });

  it('keeps the body when the server holds no raw body at all, and reads nothing for an entry without one', async () => {
    const ready: Ready[] = [
      { entry: entry({ requeued: true }), work: work({ raw: { record: raw('s2', T), slot: 0 } }) },
      { entry: entry({ requeued: true, commitId: 'c2' }), work: work({ commitId: 'c2' }) },
    ];
    const { d, calls } = deps();
    expect(await new HeldEntries(d).keepNewerRaw(ready, [], 2)).toStrictEqual(ready);
    expect(calls).toStrictEqual([['latest', 'exch1']]);
  });

  it('reads at most as many servers at once as it is given', async () => {
    let now = 0;
    let peak = 0;
    const d = {
      rawSnapshots: {
        getLatestRaw: async () => {
          peak = Math.max(peak, ++now);
          await new Promise((resolve) => setTimeout(resolve, 1));
          now--;
          return undefined;
        },
      },
    } as unknown as HeldEntriesDeps;
    const ready: Ready[] = Array.from({ length: 10 }, (_, i) => ({ entry: entry({ requeued: true, commitId: `c${i}` }), work: work({ raw: { record: raw(`s${i}`, T), slot: 0 } }) }));
    await new HeldEntries(d).keepNewerRaw(ready, [], 3);
    expect(peak).toBe(3);
  });
});
