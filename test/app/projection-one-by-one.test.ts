// The projector's pass after a failed batch, without storage: the entries again one at a time, an
// entry that cannot be projected set aside while the others go on, and the run stopped with every
// entry kept when the cause is not in one entry (an outage, or the same failure wherever the batch
// is probed). The writes, alert records, held entries and outbox are fakes recording every call;
// test/service/projector-*.test.ts run the same over Azurite.
import { RestError } from '@azure/data-tables';
import { describe, expect, it, vi } from 'vitest';
import type { Ready } from '../../src/app/held-entries';
import { firstLine, projectOneByOne, stopsTheRun, type OneByOneDeps } from '../../src/app/projection-one-by-one';
import type { ProjectionWork } from '../../src/app/projection-work';
import type { ProjectorLease } from '../../src/app/projector-lease';
import { bucketOf, ConcurrencyConflictError, COUNT_SHARDS, LeaseLostError, StorageUnavailableError, type StoredOutboxEntry } from '../../src/store';

const T = Date.parse('2026-12-06T12:00:00.000Z');
const GENERATION = 5;

/** An entry of `server`'s commit `commitId`, owing `events` events and `alerts` alert records and one index move. */
function ready(server: string, commitId: string, options: { events?: number; alerts?: number; requeued?: boolean } = {}): Ready {
  const work: ProjectionWork = {
    v: 1,
    server,
    commitId,
    proofRule: 'r1',
    events: Array.from({ length: options.events ?? 1 }, () => ({ server }) as never),
    alerts: Array.from({ length: options.alerts ?? 0 }, () => ({ server }) as never),
    index: [{ record: { server, ruleId: 'r1', status: 'Warning' } as never, from: 'Pass' }],
  };
  const entry = { server, commitId, writtenAt: T, payload: '', etag: 'e', storedAt: T, partitionKey: 'p', rowKey: commitId, requeued: options.requeued ?? false, proven: false } as StoredOutboxEntry;
  return { entry, work };
}

/** Servers s0, s1, … with one entry each. */
const servers = (n: number) => Array.from({ length: n }, (_, i) => ready(`s${i}`, `c${i}`));

/** The pass over fakes: `failing` says what projecting an entry (by commit id) throws. */
function world(failing: Record<string, unknown> = {}, options: { parallel?: number; gate?: boolean } = {}) {
  const calls: string[] = [];
  const lines: string[] = [];
  const projected: ProjectionWork[] = [];
  const requeuedSeen: string[][] = [];
  let inFlight = 0;
  const most = { inFlight: 0, sameShard: 0 };
  const shardsInFlight = new Map<string, number>();
  const deps: OneByOneDeps = {
    outbox: { remove: async (entries: readonly StoredOutboxEntry[]) => void calls.push(`remove ${entries.map((e) => e.commitId).join(',')}`) } as never,
    writes: {
      raw: async (works: readonly ProjectionWork[], dropped: readonly ProjectionWork[]) => void calls.push(`raw ${works.length} dropped ${dropped.map((w) => w.commitId).join(',')}`),
      project: async (works: readonly ProjectionWork[], dropped: readonly ProjectionWork[], _log: unknown, fence: number) => {
        const [w] = works;
        calls.push(`project ${w!.commitId} fence ${fence}${dropped.length > 0 ? ' with dropped' : ''}`);
        const shard = bucketOf(w!.server, COUNT_SHARDS);
        most.inFlight = Math.max(most.inFlight, ++inFlight);
        shardsInFlight.set(shard, (shardsInFlight.get(shard) ?? 0) + 1);
        most.sameShard = Math.max(most.sameShard, shardsInFlight.get(shard)!);
        // A turn of the event loop, so writes that may overlap do.
        if (options.gate) await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        shardsInFlight.set(shard, shardsInFlight.get(shard)! - 1);
        if (w!.commitId in failing) throw failing[w!.commitId];
        projected.push(w!);
      },
    } as never,
    alerts: {
      log: async (works: readonly ProjectionWork[], _log: unknown, requeued: ReadonlySet<string>) => {
        requeuedSeen.push([...requeued]);
        return works[0]!.alerts.length;
      },
    } as never,
    held: { hold: async (entry: StoredOutboxEntry, error: string, proven: boolean) => void calls.push(`hold ${entry.commitId} ${proven ? 'proven' : 'unproven'}: ${error}`) } as never,
    ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
  };
  const lease = { generation: GENERATION, keep: async () => void calls.push('keep') } as unknown as ProjectorLease;
  return {
    calls,
    lines,
    projected,
    requeuedSeen,
    most,
    /** The commit ids projected or tried, in order. */
    tried: () => calls.filter((c) => c.startsWith('project ')).map((c) => c.split(' ')[1]),
    run: (entries: readonly Ready[], drop: readonly StoredOutboxEntry[] = [], droppedStaged: readonly ProjectionWork[] = []) => projectOneByOne(deps, entries, drop, droppedStaged, lease, { log: (l: string) => void lines.push(l) }),
  };
}

const bug = (message = 'bug') => new TypeError(message);

describe('a batch whose entries all project', () => {
  it('first removes the staging rows of dropped entries and the dropped entries, then projects each entry alone under the lease and removes it', async () => {
    const w = world();
    const [a] = servers(1);
    const dropped = ready('x', 'cx');
    const outcome = await w.run([a!], [dropped.entry], [dropped.work]);
    expect(w.calls).toStrictEqual(['raw 0 dropped cx', 'remove cx', 'keep', `project c0 fence ${GENERATION}`, 'remove c0']);
    expect(outcome).toStrictEqual({ projected: 1, held: 0, events: 1, alertRecords: 0 });
  });

  it('counts the events and alert records of every entry projected', async () => {
    const w = world();
    const outcome = await w.run([ready('a', 'c1', { events: 2, alerts: 1 }), ready('b', 'c2', { events: 3, alerts: 2 }), ready('a', 'c3', { events: 0 })]);
    expect(outcome).toStrictEqual({ projected: 3, held: 0, events: 5, alertRecords: 3 });
  });

  it('projects each server in commit order', async () => {
    const w = world();
    await w.run([ready('a', 'a1'), ready('b', 'b1'), ready('a', 'a2'), ready('c', 'c1'), ready('a', 'a3'), ready('b', 'b2')]);
    const tried = w.tried();
    for (const order of [['a1', 'a2', 'a3'], ['b1', 'b2']]) expect(tried.filter((id) => order.includes(id!))).toStrictEqual(order);
    expect(tried).toHaveLength(6);
  });

  it('projects a requeued entry reading first, and tells the alert records it is requeued', async () => {
    const w = world();
    await w.run([ready('a', 'c1', { requeued: true }), ready('b', 'c2')]);
    const byId = new Map(w.projected.map((p) => [p.commitId, p]));
    expect(byId.get('c1')!.index).toStrictEqual([{ record: { server: 'a', ruleId: 'r1', status: 'Warning' }, reread: true }]);
    expect(byId.get('c2')!.index[0]).toMatchObject({ from: 'Pass' });
    expect(w.requeuedSeen.sort()).toStrictEqual([[], ['c1']]);
  });

  it('writes at most `parallel` servers at once, and never two servers whose counts share a shard', async () => {
    const w = world({}, { parallel: 3, gate: true });
    await w.run(servers(60));
    expect(w.projected).toHaveLength(60);
    expect(w.most.inFlight).toBe(3);
    expect(w.most.sameShard).toBe(1);
  });

  it('writes up to sixteen servers at once unless told otherwise', async () => {
    const w = world({}, { gate: true });
    await w.run(servers(400));
    expect(w.most.inFlight).toBe(16);
  });
});

describe('an entry that cannot be projected while others can', () => {
  it('is set aside with the first line of its error, as proven; its server goes on reading first, and the others are projected', async () => {
    const w = world({ a1: bug('cannot read this\nsecond line') });
    const outcome = await w.run([ready('a', 'a1'), ready('b', 'b1'), ready('a', 'a2'), ready('c', 'c1')]);
    expect(w.calls).toContain('hold a1 proven: TypeError: cannot read this');
    expect(outcome).toStrictEqual({ projected: 3, held: 1, events: 3, alertRecords: 0 });
    const a2 = w.projected.find((p) => p.commitId === 'a2')!;
    expect(a2.index[0]).toStrictEqual({ record: { server: 'a', ruleId: 'r1', status: 'Warning' }, reread: true });
    // The entries behind it wait until it is held.
    expect(w.calls.indexOf('hold a1 proven: TypeError: cannot read this')).toBeLessThan(w.calls.indexOf(`project a2 fence ${GENERATION}`));
    expect(w.calls).not.toContain('remove a1');
    expect(w.calls).toContain('remove a2');
  });

  it('sets aside an entry behind a held one that fails too, and stops the run on an outage there', async () => {
    const w = world({ b1: bug('first'), b2: bug('second') });
    const outcome = await w.run([ready('a', 'a1'), ready('b', 'b1'), ready('b', 'b2'), ready('b', 'b3')]);
    expect(w.calls.filter((c) => c.startsWith('hold'))).toStrictEqual(['hold b1 proven: TypeError: first', 'hold b2 proven: TypeError: second']);
    expect(outcome).toMatchObject({ projected: 2, held: 2 });
    const outage = new StorageUnavailableError('down');
    const stopped = world({ b1: bug(), b2: outage });
    await expect(stopped.run([ready('a', 'a1'), ready('b', 'b1'), ready('b', 'b2'), ready('b', 'b3')])).rejects.toBe(outage);
    expect(stopped.tried()).not.toContain('b3');
  });

  it('a batch of one entry that fails: it is set aside', async () => {
    const w = world({ c0: bug() });
    expect(await w.run(servers(1))).toStrictEqual({ projected: 0, held: 1, events: 0, alertRecords: 0 });
  });

  it('a batch of two entries that both fail, even unalike: the run stops and keeps them', async () => {
    const w = world({ c0: bug(), c1: new RangeError('other') });
    await expect(w.run(servers(2))).rejects.toThrow('bug');
    expect(w.lines).toStrictEqual(['projector: all 2 entries tried failed and none succeeded; the run stops and keeps them (the cause is not in one entry).']);
    expect(w.calls.filter((c) => c.startsWith('hold'))).toStrictEqual([]);
  });
});

describe('a failure that is not in one entry', () => {
  it('an outage, denied access, a contended write or a lost lease stops the run at once, every entry kept', async () => {
    for (const error of [new RestError('busy', { statusCode: 503 }), new RestError('denied', { statusCode: 403 }), new ConcurrencyConflictError('contended'), new LeaseLostError('lost')]) {
      const w = world({ c1: error });
      await expect(w.run(servers(5))).rejects.toBe(error);
      expect(w.calls.filter((c) => c.startsWith('hold'))).toStrictEqual([]);
      expect(stopsTheRun(error)).toBe(true);
    }
    expect(stopsTheRun(bug())).toBe(false);
  });

  it('probes the first, middle and last server one after another, and stops when they fail alike and no further probe succeeds', async () => {
    const failing = Object.fromEntries(servers(6).map((r) => [r.entry.commitId, bug()]));
    const w = world(failing);
    await expect(w.run(servers(6))).rejects.toThrow('bug');
    // Three probes, then three more at random among the rest: here, all of them.
    expect(w.tried().slice(0, 3)).toStrictEqual(['c0', 'c3', 'c5']);
    expect(w.tried().sort()).toStrictEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    expect(w.lines).toStrictEqual(['projector: the 6 entries probed across the batch failed and none succeeded; the run stops and keeps them (the cause is not in one entry).']);
    expect(w.calls.filter((c) => c.startsWith('hold') || c.startsWith('remove'))).toStrictEqual(['remove ']);
  });

  it('tries no more than six servers of a larger batch that fails alike', async () => {
    const all = servers(20);
    const w = world(Object.fromEntries(all.map((r) => [r.entry.commitId, bug()])));
    await expect(w.run(all)).rejects.toThrow('bug');
    expect(w.tried()).toHaveLength(6);
    expect(w.tried().slice(0, 3)).toStrictEqual(['c0', 'c10', 'c19']);
  });

  it('stops probing at the first success: the rest go on, and the failed probes are set aside', async () => {
    const w = world({ c0: bug() });
    const outcome = await w.run(servers(9));
    // The last probe (c8) is not tried next: the rest go side by side, the first of them first.
    expect(w.tried().slice(0, 3)).toStrictEqual(['c0', 'c4', 'c1']);
    expect(outcome).toMatchObject({ projected: 8, held: 1 });
  });

  it('draws no further probes when the first probe succeeds', async () => {
    // Were further probes drawn, this would pick the last server first.
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const w = world();
    await w.run(servers(9));
    expect(w.tried().slice(0, 2)).toStrictEqual(['c0', 'c1']);
  });

  it('a further probe that succeeds ends the probing: the failed ones are set aside, the rest projected side by side', async () => {
    // Further probes are drawn from the front: c1 first, which succeeds.
    vi.spyOn(Math, 'random').mockReturnValue(0);
    // The first, middle and last fail alike; every other entry projects.
    const w = world({ c0: bug(), c3: bug(), c6: bug() }, { gate: true });
    const outcome = await w.run(servers(7));
    expect(outcome).toMatchObject({ projected: 4, held: 3 });
    expect(w.lines).toStrictEqual([]);
    expect(w.tried().slice(0, 4)).toStrictEqual(['c0', 'c3', 'c6', 'c1']);
    // c2, c4 and c5 went side by side, not as further probes one after another.
    const shards = new Set(['s2', 's4', 's5'].map((s) => bucketOf(s, COUNT_SHARDS)));
    expect(shards.size).toBeGreaterThan(1);
    expect(w.most.inFlight).toBe(shards.size);
  });

  it('probes that fail unalike are not a global cause: the rest are tried, and stop the run only if all fail', async () => {
    const w = world({ c0: bug(), c2: new RangeError('other'), c4: bug() });
    const outcome = await w.run(servers(5));
    expect(outcome).toMatchObject({ projected: 2, held: 3 });
    const all = world({ c0: bug(), c1: bug(), c2: new RangeError('other'), c3: bug(), c4: bug() });
    await expect(all.run(servers(5))).rejects.toThrow('bug');
    expect(all.tried()).toHaveLength(5);
    expect(all.lines[0]).toMatch(/^projector: all 5 entries tried failed/);
  });

  it('failures alike by class and code stop the run after the probes; one of another code among them lets the rest be tried', async () => {
    const coded = (code?: string) => (code === undefined ? bug() : Object.assign(bug(), { code }));
    for (const [first, message] of [
      // No code and an empty code are alike.
      ['', /^projector: the 6 entries probed across the batch failed/],
      ['A', /^projector: all 7 entries tried failed/],
    ] as const) {
      const all = servers(7);
      const w = world(Object.fromEntries(all.map((r, i) => [r.entry.commitId, coded(i === 0 ? first : undefined)])));
      await expect(w.run(all)).rejects.toThrow('bug');
      expect(w.lines[0], first).toMatch(message);
    }
  });

  it('failures of one class with different storage codes are unalike', async () => {
    const coded = (code: string) => Object.assign(bug(), { code });
    const w = world({ c0: coded('A'), c2: coded('B'), c4: coded('A') });
    expect(await w.run(servers(5))).toMatchObject({ projected: 2, held: 3 });
  });

  it('failures that are not errors are alike by their type', async () => {
    const w = world(Object.fromEntries(servers(5).map((r) => [r.entry.commitId, 'text'])));
    await expect(w.run(servers(5))).rejects.toBe('text');
    expect(w.lines[0]).toMatch(/^projector: the 5 entries probed across the batch failed/);
  });
});

describe('firstLine', () => {
  it('is the error name and message up to its first line, at most 500 characters; a thrown value that is not an error as text', () => {
    expect(firstLine(new RangeError('out\nof range'))).toBe('RangeError: out');
    expect(firstLine(new Error('x'.repeat(600)))).toBe(`Error: ${'x'.repeat(493)}`);
    expect(firstLine('plain\ntext')).toBe('plain');
    expect(firstLine(42)).toBe('42');
  });
});
