// Ingest without storage: what a post writes (the outbox entry, then the commit) and answers, in
// the order the exactly-once design needs, over a server's rows held in memory. Conflicts, a lost
// answer, refusals and outages are played by the fake store; the service tests run the same paths
// over HTTP and Azurite.
import { RestError } from '@azure/data-tables';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/app/errors';
import { isoInstant as iso } from '../../src/app/iso-time';
import { contentHashOf, HOST_REFRESH_MS, hostHashOf, Ingest, RECENT_COMMITS, RECENT_SNAPSHOT_IDS, type BoundKey, type IngestDeps } from '../../src/app/ingest';
import { decodeWork } from '../../src/app/projection-work';
import type { Rule } from '../../src/rules/types';
import type { Snapshot } from '../../src/snapshot/schema';
import { ConcurrencyConflictError, OutboxEntryTooLargeError, REMOVED_STATUS, type StoredResult } from '../../src/store';
import { memoryPartition, type MemoryEntry } from '../support/memory-partition';
import { alphaRule, alphaRuleV2, betaRule, clockRule, factsRule, namedSnapshotId as sid, snapshot, TEST_RULES } from '../support/snapshots';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const SERVER = 'exch01.corp.contoso.com';

/** A snapshot of EXCH01 as posted: alpha's verdict follows `state`. */
const doc = (name: string, collectedAt: number, state = 'Pass', over: Record<string, unknown> = {}) => ({ ...snapshot({ snapshotId: sid(name), collectedAt, testState: state }), ...over });
const body = (d: Record<string, unknown>) => JSON.stringify(d);

/** A commit storage refused (the entry goes) and one lost in an outage (the entry stays), with the entries left. */
const failedCommits = () =>
  [
    [new RestError('bad request', { statusCode: 400 }), 0],
    [new RestError('unavailable', { statusCode: 503 }), 1],
  ] as const;

/** One server's rows in memory, the outbox and staging rows, and every call made, in order. */
function world(options: { rules?: readonly Rule[]; retired?: readonly string[]; rawTooLarge?: boolean | 'always'; entryFailure?: Error } = {}) {
  const p = memoryPartition();
  const staged = new Set<string>();
  const { calls } = p;
  const deps = {
    rules: options.rules ?? TEST_RULES,
    retiredRuleIds: options.retired ?? [],
    clock: () => NOW,
    store: {
      readServerRows: async (server: string, ruleIds: readonly string[]) => {
        calls.push(`read ${server}`);
        // A server's rows are read for the loaded rules (a one-rule read can be a point read).
        if (ruleIds.join() !== deps.rules.map((r) => r.id).join()) throw new Error(`read for ${ruleIds.join()}`);
        return p.read();
      },
      commitServer: p.commitServer,
    },
    outbox: {
      put: async (e: MemoryEntry) => {
        if (options.entryFailure) throw (calls.push('outbox failed'), options.entryFailure);
        if (options.rawTooLarge === 'always' || (options.rawTooLarge && decodeWork(e.payload)?.raw)) throw new OutboxEntryTooLargeError('too large');
        await p.outbox.put(e);
      },
      deleteOne: p.outbox.deleteOne,
    },
    staged: {
      putStagedRaw: async (_raw: unknown, commitId: string, slot: number) => (calls.push(`stage ${commitId} slot ${slot}`), staged.add(commitId)),
      deleteStagedRaw: async (keys: { commitId: string }[]) => keys.forEach((k) => (calls.push(`drop staged ${k.commitId}`), staged.delete(k.commitId))),
    },
    projector: { committed: (id: string) => calls.push(`committed ${id}`), kick: () => calls.push('kick') },
  };
  const ingest = new Ingest(deps as unknown as IngestDeps);
  const log = { log: () => undefined };
  return {
    ...p,
    staged,
    post: (text: string, bound?: BoundKey, lang: 'en' | 'ja' = 'en') => ingest.run(text, lang, log, bound),
  };
}

/** The code, message and extra headers an ingest is refused with. */
async function refusalOf(run: () => Promise<unknown>): Promise<[string, string, Record<string, string> | undefined]> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ApiError) return [error.code, error.message, error.headers];
    throw error;
  }
  throw new Error('accepted');
}

describe('a first snapshot', () => {
  it('writes its outbox entry, then commits one row per rule, then tells the projector, and answers accepted', async () => {
    const w = world();
    const r = await w.post(body(doc('s1', NOW - 5 * MINUTE, 'Warning')));
    expect(r).toMatchObject({ snapshotId: sid('s1'), server: SERVER, outcome: 'accepted' });
    expect(r.results.map((v) => [v.ruleId, v.status, v.firstSeen])).toStrictEqual([
      ['test-alpha', 'Warning', iso(NOW - 5 * MINUTE)],
      ['test-beta', 'Pass', iso(NOW - 5 * MINUTE)],
    ]);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', 'committed', 'kick']);
    const [entry] = [...w.entries.values()];
    const alpha = w.rows.get('test-alpha')!;
    // The commit remembers the entry's commit: the projector's proof that it landed.
    expect(alpha.recentCommits).toStrictEqual([{ id: entry!.commitId, at: NOW }]);
    expect(entry!.writtenAt).toBe(NOW);
    expect(alpha).toMatchObject({ server: SERVER, status: 'Warning', snapshotId: sid('s1'), collectedAt: NOW - 5 * MINUTE, lastSeen: NOW, firstSeen: NOW - 5 * MINUTE, previousStatus: undefined, recentSnapshotIds: [sid('s1')], changeCause: 'snapshot', rawSlot: 0, hostSyncedAt: NOW, eventPending: false, indexPending: false, syncPending: false, acceptPending: false });
  });

  it('owes every rule an event, index and drift move, the host row and the raw body, and an alert for a failing result only', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 5 * MINUTE, 'Error'));
    await w.post(text);
    const work = w.work();
    expect(work.server).toBe(SERVER);
    expect(work.proofRule).toBe('test-alpha');
    expect(work.events.map((e) => [e.ruleId, e.fromStatus, e.toStatus])).toStrictEqual([
      ['test-alpha', undefined, 'Error'],
      ['test-beta', undefined, 'Pass'],
    ]);
    expect(work.alerts.map((a) => [a.ruleId, a.status])).toStrictEqual([['test-alpha', 'Error']]);
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([
      ['test-alpha', undefined],
      ['test-beta', undefined],
    ]);
    expect(work.host?.record).toMatchObject({ server: SERVER, hostName: 'EXCH01', fqdn: SERVER, osVersion: '5.2.3790', utcOffsetMinutes: 540, collectorName: 'Send-PostureSnapshot', lastSnapshotId: sid('s1'), lastCollectedAt: NOW - 5 * MINUTE, firstSeen: NOW });
    expect(work.host?.previousSync).toBeUndefined();
    expect(work.raw).toMatchObject({ slot: 0, record: { server: SERVER, snapshotId: sid('s1'), receivedAt: NOW, body: text } });
    expect(work.raw?.record.contentHash).toBe(contentHashOf(JSON.parse(text) as Snapshot));
  });

  it('answers in the language asked', async () => {
    const r = await world().post(body(doc('s1', NOW - MINUTE, 'Error')), undefined, 'ja');
    expect(r.results[0]!.message).toBe('アルファは Error');
  });
});

describe('the next snapshots', () => {
  it('commit an unchanged server with no entry at all, and tell the projector nothing', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    w.entries.clear();
    const r = await w.post(body(doc('s2', NOW - 5 * MINUTE)));
    expect(r.outcome).toBe('accepted');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'commit test-alpha,test-beta']);
    expect(w.rows.get('test-alpha')).toMatchObject({ snapshotId: sid('s2'), firstSeen: NOW - 10 * MINUTE, recentSnapshotIds: [sid('s2'), sid('s1')], rawSlot: 0 });
    expect(w.rows.get('test-alpha')!.recentCommits).toHaveLength(2);
  });

  it('owe an event and an alert for the rule whose status changed, and keep the first-seen of the one that did not', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.entries.clear();
    await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    const work = w.work();
    expect(work.events.map((e) => [e.ruleId, e.fromStatus, e.toStatus])).toStrictEqual([['test-alpha', 'Pass', 'Warning']]);
    expect(work.alerts.map((a) => a.ruleId)).toStrictEqual(['test-alpha']);
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([['test-alpha', 'Pass']]);
    // The content changed: the body goes to the other slot, so the previous one is kept.
    expect(work.raw?.slot).toBe(1);
    expect(work.host).toBeUndefined();
    expect(w.rows.get('test-alpha')).toMatchObject({ status: 'Warning', previousStatus: 'Pass', firstSeen: NOW - 5 * MINUTE, previousFirstSeen: NOW - 10 * MINUTE, changeCause: 'snapshot' });
    expect(w.rows.get('test-beta')).toMatchObject({ status: 'Pass', firstSeen: NOW - 10 * MINUTE, previousStatus: undefined });
  });

  it('refresh the host row once an hour has passed since its last refresh, and only then', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    // As if the host row were refreshed an hour ago, to the millisecond, and then a minute less.
    for (const [ago, due] of [
      [HOST_REFRESH_MS, true],
      [HOST_REFRESH_MS - 1, false],
    ] as const) {
      for (const [id, r] of w.rows) w.rows.set(id, { ...r, hostSyncedAt: NOW - ago });
      w.entries.clear();
      w.calls.length = 0;
      expect((await w.post(body(doc(`s-${ago}`, NOW - (due ? 5 : 4) * MINUTE)))).outcome).toBe('accepted');
      expect(w.entries.size, String(ago)).toBe(due ? 1 : 0);
      if (due) expect(w.work().host?.previousSync).toBe(NOW - ago);
      expect(w.rows.get('test-alpha')!.hostSyncedAt).toBe(due ? NOW : NOW - ago);
    }
  });

  it('remember at most the newest snapshot ids and commits', async () => {
    const w = world();
    for (let i = 0; i < RECENT_SNAPSHOT_IDS + 2; i++) await w.post(body(doc(`s${i}`, NOW - 60 * MINUTE + i * 1000)));
    const row = w.rows.get('test-alpha')!;
    expect(row.recentSnapshotIds).toHaveLength(RECENT_SNAPSHOT_IDS);
    expect(row.recentSnapshotIds![0]).toBe(sid(`s${RECENT_SNAPSHOT_IDS + 1}`));
    expect(row.recentCommits).toHaveLength(RECENT_COMMITS);
    expect([RECENT_SNAPSHOT_IDS, RECENT_COMMITS]).toStrictEqual([16, 16]);
  });

  it('leave the rows of a rule that left the rule set, and owe its index and drift leaves', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    const alone = world({ rules: [alphaRule], retired: ['test-beta'] });
    for (const [id, r] of w.rows) alone.rows.set(id, r);
    await alone.post(body(doc('s2', NOW - 5 * MINUTE)));
    expect(alone.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha remove test-beta', 'committed', 'kick']);
    expect(alone.rows.has('test-beta')).toBe(false);
    expect(alone.work().indexLeaves?.map((l) => l.ruleId)).toStrictEqual(['test-beta']);
  });
});

describe('snapshots that write nothing', () => {
  it('answer the same snapshot again as a duplicate with the stored verdicts', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 5 * MINUTE, 'Warning'));
    await w.post(text);
    w.calls.length = 0;
    const r = await w.post(text);
    expect(r.outcome).toBe('duplicate');
    expect(r.results.map((v) => v.status)).toStrictEqual(['Warning', 'Pass']);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });

  it('refuse a snapshot id the current snapshot has with another collection time', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 5 * MINUTE)));
    expect(await refusalOf(() => w.post(body(doc('s1', NOW - 4 * MINUTE))))).toStrictEqual([
      'snapshot_id_reused',
      `Snapshot ${sid('s1')} was accepted collected at ${iso(NOW - 5 * MINUTE)}, and this one was collected at ${iso(NOW - 4 * MINUTE)}: a new collection needs a new snapshotId, so nothing was stored.`,
      {},
    ]);
  });

  it('answer an older snapshot as a duplicate when it was accepted before, else as stale, with its own verdicts', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    await w.post(body(doc('s2', NOW - 5 * MINUTE)));
    w.calls.length = 0;
    expect((await w.post(body(doc('s1', NOW - 10 * MINUTE)))).outcome).toBe('duplicate');
    const stale = await w.post(body(doc('s0', NOW - 20 * MINUTE, 'Error')));
    expect(stale.outcome).toBe('stale');
    expect(stale.results[0]!.status).toBe('Error');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, `read ${SERVER}`]);
  });
});

describe('refusals before anything is read', () => {
  it('refuses a body that is no JSON, naming the parser error on one line', async () => {
    const [code, message] = await refusalOf(() => world().post('{"a":\n'));
    expect(code).toBe('invalid_json');
    expect(message).toMatch(/^The body is not valid JSON \([^\n]+\)\.$/);
    expect(message).not.toMatch(/\s{2}/);
  });

  it('refuses a snapshot that breaks the contract, counting its issues', async () => {
    const w = world();
    expect((await refusalOf(() => w.post(body(doc('s1', NOW - MINUTE, 'Pass', { schema: 'other' })))))[0]).toBe('invalid_snapshot');
    const [, one] = await refusalOf(() => w.post(body(doc('s1', NOW - MINUTE, 'Pass', { schema: 'other' }))));
    expect(one).toBe('The snapshot does not match the contract (1 issue; see issues).');
    const [, two] = await refusalOf(() => w.post(body(doc('s1', NOW - MINUTE, 'Pass', { schema: 'other', services: 'none' }))));
    expect(two).toBe('The snapshot does not match the contract (2 issues; see issues).');
    expect(w.calls).toStrictEqual([]);
  });

  it('tells a snapshot dated ahead of the clock by how much, in its two largest units rounded up to the second', async () => {
    const cases: [number, string][] = [
      [6 * MINUTE, '6 minutes'],
      [5 * MINUTE + 20_500, '5 minutes 21 seconds'],
      [2 * 3_600_000, '2 hours'],
      [3_600_000 + 5 * MINUTE, '1 hour 5 minutes'],
      [3 * 86_400_000 + 2 * 3_600_000 + 5 * MINUTE, '3 days 2 hours'],
      [86_400_000 + 59_000, '1 day'],
    ];
    for (const [ahead, words] of cases) {
      expect(await refusalOf(() => world().post(body(doc('s1', NOW + ahead)))), words).toStrictEqual([
        'collected_in_future',
        `The snapshot's collectedAt is ${words} ahead of the service's clock: it can be sent again once it is less than 5 minutes ahead, and the host's clock should be corrected.`,
        {},
      ]);
    }
  });

  it('refuses a snapshot of another server than the key belongs to', async () => {
    const w = world();
    expect(await refusalOf(() => w.post(body(doc('s1', NOW - MINUTE)), { server: 'exch02.corp.contoso.com' }))).toStrictEqual([
      'forbidden',
      `This server key belongs to exch02.corp.contoso.com and cannot post a snapshot of ${SERVER}.`,
      {},
    ]);
    expect(w.calls).toStrictEqual([]);
  });
});

describe('the rows the key check read', () => {
  it('are used for the first attempt, and the key tag is written on rows that existed', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    await w.post(body(doc('s2', NOW - 5 * MINUTE)), { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()] });
    expect(w.steps()).toStrictEqual(['commit test-alpha,test-beta']);
    expect(w.rows.get('test-alpha')!.keyTag).toBe('k1');
  });

  it('do not tag the new rows of a first post', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)), { server: SERVER, keyTag: 'k1', rows: [] });
    expect(w.rows.get('test-alpha')!.keyTag).toBeUndefined();
  });

  it('are read again when remembered and the post would write nothing, and the key checked again on what is read', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 10 * MINUTE));
    await w.post(text);
    w.calls.length = 0;
    const rechecked: number[] = [];
    const r = await w.post(text, { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()], remembered: true, recheck: async (rows) => (rechecked.push(rows.length), 'k2') });
    expect(r.outcome).toBe('duplicate');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
    expect(rechecked).toStrictEqual([2]);
  });
});

describe('conflicts and failures', () => {
  it('drop the entry of an attempt another writer beat, read again, and commit anew with a new entry', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    w.entries.clear();
    // Another snapshot of the server lands between this post's read and its commit.
    const theirs = () => w.land({ put: [...w.rows.values()].map((r) => ({ record: { ...r, lastSeen: NOW - 1 } })), remove: [], basedOn: [] });
    w.interleaved.push(theirs);
    const r = await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    expect(r.outcome).toBe('accepted');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'drop entry', 'entry', 'commit test-alpha,test-beta', 'committed', 'kick']);
    expect(w.entries.size).toBe(1);
    expect(w.rows.get('test-alpha')!.recentCommits![0]!.id).toBe([...w.entries.keys()][0]);
  });

  it('keep the entry of an attempt whose answer was lost after it landed, and answer accepted', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    w.entries.clear();
    w.failures.push('landed-then-conflict');
    const r = await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    expect(r.outcome).toBe('accepted');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'committed', 'kick']);
    expect(w.entries.size).toBe(1);
  });

  it('drop the entry of a commit storage refused, keep it through an outage for the projector to find out whether the commit landed, and pass either on', async () => {
    for (const [error, kept] of failedCommits()) {
      const w = world();
      w.failures.push(error);
      await expect(w.post(body(doc('s1', NOW - 5 * MINUTE)))).rejects.toBe(error);
      expect(w.steps(), error.message).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', ...(kept === 0 ? ['drop entry'] : [])]);
      expect(w.entries.size, error.message).toBe(kept);
    }
  });

  it('give up after eight attempts that all collided, leaving the last entry for the projector', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    w.entries.clear();
    for (let i = 0; i < 8; i++) w.interleaved.push(() => w.land({ put: [...w.rows.values()].map((r) => ({ record: r })), remove: [], basedOn: [] }));
    await expect(w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')))).rejects.toThrow(new ConcurrencyConflictError(`Snapshots of ${SERVER} kept colliding; try again.`));
    expect(w.steps().filter((s) => s.startsWith('commit'))).toHaveLength(8);
    expect(w.steps().filter((s) => s === 'drop entry')).toHaveLength(7);
    expect(w.entries.size).toBe(1);
  }, 20_000);
});

describe('a post that keeps colliding for a minute', () => {
  it('stops once more than a minute has passed since its first attempt, leaving the last entry for the projector', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      for (const [passed, commits] of [
        [60_001, 1],
        [60_000, 8],
      ] as const) {
        const w = world();
        await w.post(body(doc('s1', NOW - 10 * MINUTE)));
        w.calls.length = 0;
        w.entries.clear();
        const start = Date.now();
        // Another writer lands before each commit; time passes during the first one only.
        const theirs = () => w.land({ put: [...w.rows.values()].map((r) => ({ record: r })), remove: [], basedOn: [] });
        w.interleaved.push(() => (theirs(), vi.setSystemTime(start + passed)), ...Array.from({ length: 7 }, () => theirs));
        await expect(w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning'))), String(passed)).rejects.toThrow(`Snapshots of ${SERVER} kept colliding; try again.`);
        const steps = w.steps();
        expect(steps.filter((s) => s.startsWith('commit')).length, String(passed)).toBe(commits);
        expect(w.entries.size).toBe(1);
      }
    } finally {
      vi.useRealTimers();
    }
  }, 20_000);
});

describe('an entry too large for the outbox', () => {
  it('stages the raw body in a row of its own after the entry, and the entry says so', async () => {
    const w = world({ rawTooLarge: true });
    await w.post(body(doc('s1', NOW - 5 * MINUTE, 'Pass', { files: [{ path: 'C:\\logs\\test.txt', exists: true, size: 900, tail: 'x'.repeat(900) }] })));
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'stage slot 0', 'commit test-alpha,test-beta', 'committed', 'kick']);
    const work = w.work();
    expect(work.raw).toBeUndefined();
    expect(work.staged).toStrictEqual({ slot: 0 });
  });

  it('drops the staging row before the entry when the commit is refused', async () => {
    const w = world({ rawTooLarge: true });
    w.failures.push(new RestError('bad request', { statusCode: 400 }));
    await expect(w.post(body(doc('s1', NOW - 5 * MINUTE, 'Pass', { files: [{ path: 'C:\\logs\\test.txt', exists: true, size: 900, tail: 'x'.repeat(900) }] })))).rejects.toThrow('bad request');
    expect(w.steps().slice(-2)).toStrictEqual(['drop staged', 'drop entry']);
    expect([w.entries.size, w.staged.size]).toStrictEqual([0, 0]);
  });
});

describe('a removed server', () => {
  const markers = (w: ReturnType<typeof world>) => {
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, status: REMOVED_STATUS, etag: `m-${id}` });
  };

  it('takes a newer snapshot as a first result, replacing the markers under their ETags', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE, 'Warning')));
    markers(w);
    w.entries.clear();
    const r = await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    expect(r.outcome).toBe('accepted');
    expect(w.rows.get('test-alpha')).toMatchObject({ status: 'Warning', previousStatus: undefined, firstSeen: NOW - 5 * MINUTE });
    expect(w.work().events.map((e) => [e.ruleId, e.fromStatus])).toStrictEqual([
      ['test-alpha', undefined],
      ['test-beta', undefined],
    ]);
  });

  it('answers a snapshot no newer than the removal as stale, writing nothing', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    markers(w);
    w.calls.length = 0;
    expect((await w.post(body(doc('s0', NOW - 20 * MINUTE)))).outcome).toBe('stale');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });
});

describe('a newer release holding the rows', () => {
  it('asks the collector to send again in 30 seconds while it wrote them within the hour', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, ruleVersion: '9.0.0' });
    w.calls.length = 0;
    const [code, message, headers] = await refusalOf(() => w.post(body(doc('s2', NOW - 5 * MINUTE))));
    expect([code, headers]).toStrictEqual(['deployment_in_progress', { 'Retry-After': '30' }]);
    expect(message).toBe("A newer release of the service holds this server's results while a deployment is under way; send the snapshot again in 30 seconds.");
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });
});

describe('rows an older version left owing projections', () => {
  /** A server whose rows were committed by an older version with these flags still set. */
  async function owing(flags: (ruleId: string) => Partial<StoredResult>) {
    const w = world();
    const text = body(doc('s1', NOW - 10 * MINUTE, 'Warning'));
    await w.post(text);
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, ...flags(id) });
    w.entries.clear();
    w.calls.length = 0;
    return { w, text };
  }

  it('are handed to the projector by a repeat of their snapshot, which then answers accepted if they owed the 201', async () => {
    const { w, text } = await owing((id) => ({ eventPending: id === 'test-alpha', acceptPending: true, keyTag: 'old', ...(id === 'test-alpha' && { previousStatus: 'Pass' }) }));
    const r = await w.post(text, { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()] });
    expect(r.outcome).toBe('accepted');
    expect(w.steps()).toStrictEqual(['entry', 'commit test-alpha,test-beta', 'committed', 'kick']);
    const work = w.work();
    expect(work.events.map((e) => [e.ruleId, e.toStatus, e.recordedAt])).toStrictEqual([['test-alpha', 'Warning', NOW]]);
    // The index still holds the status before the event's.
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([['test-alpha', 'Pass']]);
    expect(work.alerts).toStrictEqual([]);
    // Its rule declares no configuration facts: no drift member to hand over.
    expect(work.drift).toStrictEqual([]);
    expect([work.host, work.raw]).toStrictEqual([undefined, undefined]);
    expect([...w.rows.values()].map((row) => [row.eventPending, row.acceptPending, row.keyTag, row.recentCommits![0]!.id])).toStrictEqual([
      [false, false, 'k1', work.commitId],
      [false, false, 'k1', work.commitId],
    ]);
  });

  it('answer a repeat that only hands projections over as a duplicate, keeping a key tag when none is given', async () => {
    const { w, text } = await owing((id) => ({ indexPending: id === 'test-beta', keyTag: 'old', fingerprint: `fp-${id}` }));
    expect((await w.post(text)).outcome).toBe('duplicate');
    const work = w.work();
    expect(work.events).toStrictEqual([]);
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([['test-beta', 'Pass']]);
    expect(work.drift!.map((d) => [d.ruleId, 'fingerprint' in d ? d.fingerprint : undefined])).toStrictEqual([['test-beta', 'fp-test-beta']]);
    expect(w.rows.get('test-beta')).toMatchObject({ indexPending: false, keyTag: 'old' });
  });

  it('owe the host row and the raw body of the snapshot when flagged for sync, in the slot the rows name', async () => {
    const { w, text } = await owing(() => ({ syncPending: true, rawSlot: 3 }));
    await w.post(text);
    const work = w.work();
    expect(work.host).toMatchObject({ now: NOW, snapshotId: sid('s1'), record: { server: SERVER, lastSnapshotId: sid('s1'), lastCollectedAt: NOW - 10 * MINUTE } });
    expect(work.raw).toMatchObject({ slot: 3, record: { snapshotId: sid('s1'), collectedAt: NOW - 10 * MINUTE, receivedAt: NOW, body: text } });
  });

  it('write nothing for rows that owe nothing', async () => {
    const { w, text } = await owing(() => ({}));
    expect((await w.post(text)).outcome).toBe('duplicate');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });

  it('keep the hand-over whose answer was lost after it landed', async () => {
    const { w, text } = await owing(() => ({ eventPending: true, acceptPending: true }));
    w.failures.push('landed-then-conflict');
    expect((await w.post(text)).outcome).toBe('accepted');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'committed', 'kick']);
  });

  it('drop the entry of a hand-over another writer beat, answering duplicate', async () => {
    const { w, text } = await owing(() => ({ eventPending: true, acceptPending: true }));
    w.interleaved.push(() => w.land({ put: [...w.rows.values()].map((r) => ({ record: { ...r, eventPending: false, acceptPending: false } })), remove: [], basedOn: [] }));
    expect((await w.post(text)).outcome).toBe('duplicate');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`, 'drop entry']);
    expect(w.entries.size).toBe(0);
  });

  it('drop the entry of a hand-over storage refused, keep it through an outage, and pass either on', async () => {
    for (const [error, kept] of failedCommits()) {
      const { w, text } = await owing(() => ({ eventPending: true }));
      w.failures.push(error);
      await expect(w.post(text)).rejects.toBe(error);
      expect(w.entries.size, error.message).toBe(kept);
      expect(w.steps().includes('drop entry'), error.message).toBe(kept === 0);
    }
  });

  it('are carried over by a newer snapshot, which then owes the host row and the raw body however little changed', async () => {
    const { w } = await owing(() => ({ syncPending: true }));
    await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    const work = w.work();
    expect(work.host?.snapshotId).toBe(sid('s2'));
    expect(work.raw?.record.snapshotId).toBe(sid('s2'));
    expect(w.rows.get('test-alpha')!.syncPending).toBe(false);
  });
});

describe('a new version of a rule', () => {
  it('records a status it moves on unchanged content as the rule change, not the server', async () => {
    const v1 = world();
    await v1.post(body(doc('s1', NOW - 10 * MINUTE, 'Warning')));
    const v2 = world({ rules: [alphaRuleV2, betaRule] });
    for (const [id, r] of v1.rows) v2.rows.set(id, r);
    await v2.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    expect(v2.rows.get('test-alpha')).toMatchObject({ status: 'Error', previousStatus: 'Warning', ruleVersion: '2.0.0', changeCause: 'rule-change' });
    // New content under the new version: the server moved.
    await v2.post(body(doc('s3', NOW - 4 * MINUTE, 'Pass')));
    expect(v2.rows.get('test-alpha')).toMatchObject({ status: 'Pass', changeCause: 'snapshot' });
  });

  it('keeps the cause of a status that did not change', async () => {
    const v1 = world();
    await v1.post(body(doc('s1', NOW - 10 * MINUTE, 'Warning')));
    const v2 = world({ rules: [alphaRuleV2, betaRule] });
    for (const [id, r] of v1.rows) v2.rows.set(id, r);
    await v2.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    await v2.post(body(doc('s3', NOW - 4 * MINUTE, 'Warning', { files: [{ path: 'C:\\logs\\test.txt', exists: true, size: 1, tail: 'y' }] })));
    expect(v2.rows.get('test-alpha')).toMatchObject({ status: 'Error', changeCause: 'rule-change', firstSeen: NOW - 5 * MINUTE });
  });
});

const tail = (text: string) => ({ files: [{ path: 'C:\\logs\\test.txt', exists: true, size: text.length, tail: text }] });

describe('the hashes that tell what changed', () => {
  it('name a snapshot content without its id and collection time, and its host by the host and collector alone', () => {
    const a = doc('s1', NOW - 10 * MINUTE) as unknown as Snapshot;
    const b = doc('s2', NOW - 5 * MINUTE) as unknown as Snapshot;
    expect(contentHashOf(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(contentHashOf(b)).toBe(contentHashOf(a));
    expect(contentHashOf(doc('s1', NOW - 10 * MINUTE, 'Warning') as unknown as Snapshot)).not.toBe(contentHashOf(a));
    expect(hostHashOf(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hostHashOf(doc('s3', NOW, 'Error') as unknown as Snapshot)).toBe(hostHashOf(a));
    expect(hostHashOf({ ...a, collector: { ...a.collector, version: '2.0.0' } })).not.toBe(hostHashOf(a));
    expect(hostHashOf({ ...a, host: { ...a.host, name: 'EXCH02' } })).not.toBe(hostHashOf(a));
  });

  it('owe the host row within the hour when the host facts changed', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.entries.clear();
    await w.post(body({ ...doc('s2', NOW - 5 * MINUTE), collector: { name: 'Send-PostureSnapshot', version: '1.1.0' } }));
    expect(w.work().host?.record.collectorVersion).toBe('1.1.0');
    expect(w.rows.get('test-alpha')!.hostSyncedAt).toBe(NOW);
  });

  it('owe a host row without OS facts when the snapshot has none', async () => {
    const w = world();
    const d = doc('s1', NOW - 10 * MINUTE);
    const { os: _os, ...host } = d.host as Record<string, unknown>;
    await w.post(body({ ...d, host }));
    const record = w.work().host!.record;
    expect([record.hostName, record.osCaption, record.osVersion, record.osArchitecture]).toStrictEqual(['EXCH01', undefined, undefined, undefined]);
  });
});

describe('more refusals', () => {
  it('puts a parser message spread over lines on one line', async () => {
    expect(await refusalOf(() => world().post('nope\n\n\ttrue'))).toStrictEqual(['invalid_json', `The body is not valid JSON (Unexpected token 'o', "nope true" is not valid JSON).`, {}]);
  });

  it('names a span of exactly one unit by that unit', async () => {
    const [, message] = await refusalOf(() => world().post(body(doc('s1', NOW + 3_600_000))));
    expect(message).toContain('is 1 hour ahead');
  });
});

describe('which row and which rows', () => {
  it('takes the newest row of the server as its current snapshot, whichever rule it is', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    await w.post(body(doc('s2', NOW - 5 * MINUTE)));
    // The last row held an older snapshot (written before a rule joined, say).
    const beta = w.rows.get('test-beta')!;
    w.rows.set('test-beta', { ...beta, snapshotId: sid('s1'), collectedAt: NOW - 10 * MINUTE });
    w.calls.length = 0;
    expect((await w.post(body(doc('s2', NOW - 5 * MINUTE)))).outcome).toBe('duplicate');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`]);
  });

  it('keeps each remembered snapshot id once when an old id comes back with a new collection', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    await w.post(body(doc('s2', NOW - 5 * MINUTE)));
    await w.post(body(doc('s1', NOW - 4 * MINUTE)));
    expect(w.rows.get('test-alpha')!.recentSnapshotIds).toStrictEqual([sid('s1'), sid('s2')]);
  });

  it('answers rows an older layout wrote without remembered ids or commits, a repeat as duplicate and an older one as stale', async () => {
    const w = world();
    const text = body(doc('s2', NOW - 5 * MINUTE));
    await w.post(text);
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, recentSnapshotIds: undefined, recentCommits: undefined });
    expect((await w.post(text)).outcome).toBe('duplicate');
    expect((await w.post(body(doc('s1', NOW - 10 * MINUTE)))).outcome).toBe('stale');
  });

  it('keeps the raw slot of unchanged content', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    await w.post(body(doc('s2', NOW - 9 * MINUTE, 'Warning')));
    expect(w.rows.get('test-alpha')!.rawSlot).toBe(1);
    await w.post(body(doc('s3', NOW - 8 * MINUTE, 'Warning')));
    expect(w.rows.get('test-alpha')!.rawSlot).toBe(1);
  });

  it('answers its verdicts sorted by rule id, whatever the order the rules are loaded in', async () => {
    const w = world({ rules: [clockRule, betaRule, alphaRule] });
    const r = await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    expect(r.results.map((v) => v.ruleId)).toStrictEqual(['test-alpha', 'test-beta', 'test-clock']);
    const again = await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    expect(again.results.map((v) => v.ruleId)).toStrictEqual(['test-alpha', 'test-beta', 'test-clock']);
  });
});

describe('a rule that joins the rule set', () => {
  it('gets its row with the host refresh the other rows had, when the host row is not due', async () => {
    const one = world({ rules: [alphaRule] });
    await one.post(body(doc('s1', NOW - 10 * MINUTE)));
    const synced = NOW - 30 * MINUTE;
    const two = world();
    for (const [id, r] of one.rows) two.rows.set(id, { ...r, hostSyncedAt: synced });
    await two.post(body(doc('s2', NOW - 5 * MINUTE)));
    expect([...two.rows.values()].map((r) => [r.ruleId, r.hostSyncedAt, r.previousStatus])).toStrictEqual([
      ['test-alpha', synced, undefined],
      ['test-beta', synced, undefined],
    ]);
    expect(two.work().events.map((e) => e.ruleId)).toStrictEqual(['test-beta']);
  });
});

describe('the key checked again', () => {
  it('on the rows read after a conflict, when the first were remembered, tagging them with what it answers', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.interleaved.push(() => w.land({ put: [...w.rows.values()].map((r) => ({ record: r })), remove: [], basedOn: [] }));
    const seen: number[] = [];
    await w.post(body(doc('s2', NOW - 5 * MINUTE)), { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()], remembered: true, recheck: async (rows) => (seen.push(rows.length), 'k2') });
    expect(seen).toStrictEqual([2]);
    expect(w.rows.get('test-alpha')!.keyTag).toBe('k2');
  });

  it('not after a conflict when the first rows were read, and then nothing is tagged', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.interleaved.push(() => w.land({ put: [...w.rows.values()].map((r) => ({ record: r })), remove: [], basedOn: [] }));
    const seen: number[] = [];
    await w.post(body(doc('s2', NOW - 5 * MINUTE)), { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()], recheck: async (rows) => (seen.push(rows.length), 'k2') });
    expect(seen).toStrictEqual([]);
    expect(w.rows.get('test-alpha')!.keyTag).toBeUndefined();
  });

  it('not on remembered rows that a newer snapshot commits over: their ETags guard the commit', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    w.calls.length = 0;
    const seen: number[] = [];
    await w.post(body(doc('s2', NOW - 5 * MINUTE)), { server: SERVER, keyTag: 'k1', rows: [...w.rows.values()], remembered: true, recheck: async (rows) => (seen.push(rows.length), 'k2') });
    expect(w.steps()).toStrictEqual(['commit test-alpha,test-beta']);
    expect(seen).toStrictEqual([]);
    expect(w.rows.get('test-alpha')!.keyTag).toBe('k1');
  });

  it('when the rows read show the server removed, and its refusal refuses the post', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, status: REMOVED_STATUS });
    const refused = new ApiError('forbidden', 'This server key was revoked.');
    await expect(w.post(body(doc('s2', NOW - 5 * MINUTE)), { server: SERVER, recheck: async () => Promise.reject(refused) })).rejects.toBe(refused);
    // A server that counts: the key check read no rows, and nothing is checked again.
    const live = world();
    let asked = 0;
    await live.post(body(doc('s1', NOW - 10 * MINUTE)), { server: SERVER, recheck: async () => (asked++, 'k') });
    expect(asked).toBe(0);
  });
});

describe('more of a removed server', () => {
  it('answers its last snapshot sent again as stale, with that snapshot verdicts', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 10 * MINUTE, 'Warning'));
    await w.post(text);
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, status: REMOVED_STATUS });
    const r = await w.post(text);
    expect(r.outcome).toBe('stale');
    expect(r.results.map((v) => [v.ruleId, v.status])).toStrictEqual([
      ['test-alpha', 'Warning'],
      ['test-beta', 'Pass'],
    ]);
  });

  it('deletes the markers of rules no longer loaded when it comes back', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    const alone = world({ rules: [alphaRule], retired: ['test-beta'] });
    for (const [id, r] of w.rows) alone.rows.set(id, { ...r, status: REMOVED_STATUS });
    await alone.post(body(doc('s2', NOW - 5 * MINUTE)));
    expect(alone.steps()).toContain('commit test-alpha remove test-beta');
    // Markers are no results: the server leaves no index for them.
    expect(alone.work().indexLeaves).toBeUndefined();
  });
});

describe('what a rule that left the set owes', () => {
  it('is its index and drift leaves, from this snapshot and under this commit', async () => {
    const w = world({ rules: [factsRule, betaRule] });
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    const alone = world({ rules: [betaRule], retired: ['test-alpha'] });
    for (const [id, r] of w.rows) alone.rows.set(id, r);
    await alone.post(body(doc('s2', NOW - 5 * MINUTE)));
    const work = alone.work();
    const source = { sourceSnapshotId: sid('s2'), sourceCollectedAt: NOW - 5 * MINUTE };
    expect(work.indexLeaves).toStrictEqual([{ leave: true, ruleId: 'test-alpha', server: SERVER, from: 'Pass', ...source }]);
    expect(work.driftLeaves).toMatchObject([{ leave: true, ruleId: 'test-alpha', server: SERVER, ...source, sourceCommitId: work.commitId }]);
  });
});

describe('the outbox failing', () => {
  it('passes an outage writing the entry on, staging nothing and committing nothing', async () => {
    const outage = new RestError('unavailable', { statusCode: 503 });
    const w = world({ entryFailure: outage });
    await expect(w.post(body(doc('s1', NOW - 10 * MINUTE)))).rejects.toBe(outage);
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'outbox failed']);
  });

  it('passes on an entry too large without a raw body to leave out', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE)));
    const big = world({ rawTooLarge: 'always' });
    for (const [id, r] of w.rows) big.rows.set(id, r);
    // Same content, new status from a new rule version: an entry without a raw body.
    await expect(big.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')))).rejects.toBeInstanceOf(OutboxEntryTooLargeError);
    expect(big.steps()).toStrictEqual([`read ${SERVER}`]);
  });
});

describe('carried over by a newer snapshot', () => {
  it('are the events rows owed and the host row and body of one row flagged for sync', async () => {
    const w = world();
    await w.post(body(doc('s1', NOW - 10 * MINUTE, 'Warning')));
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, eventPending: id === 'test-alpha', syncPending: id === 'test-beta' });
    w.entries.clear();
    await w.post(body(doc('s2', NOW - 5 * MINUTE, 'Warning')));
    const work = w.work();
    // The owed event is the older snapshot's, recorded now; the new snapshot changed no status.
    expect(work.events.map((e) => [e.ruleId, e.snapshotId, e.recordedAt])).toStrictEqual([['test-alpha', sid('s1'), NOW]]);
    expect(work.host?.snapshotId).toBe(sid('s2'));
    expect(work.raw?.record.snapshotId).toBe(sid('s2'));
  });
});

describe('a rule with configuration facts', () => {
  it('moves the server in the drift when its facts change, under this commit, and not when they stay', async () => {
    const w = world({ rules: [factsRule, betaRule] });
    await w.post(body(doc('s1', NOW - 10 * MINUTE, 'Pass', tail('a'))));
    const first = w.work();
    expect(first.drift!.map((d) => d.ruleId)).toStrictEqual(['test-alpha']);
    expect(w.rows.get('test-alpha')!.driftCommitId).toBe(first.commitId);
    w.entries.clear();
    await w.post(body(doc('s2', NOW - 9 * MINUTE, 'Pass', tail('b'))));
    const second = w.work();
    expect(second.drift!.map((d) => [d.ruleId, 'fingerprint' in d && d.fingerprint !== first.drift![0]!.fingerprint])).toStrictEqual([['test-alpha', true]]);
    expect(w.rows.get('test-alpha')!.driftCommitId).toBe(second.commitId);
    w.entries.clear();
    await w.post(body(doc('s3', NOW - 8 * MINUTE, 'Pass', tail('b'))));
    expect(w.entries.size).toBe(0);
    expect(w.rows.get('test-alpha')!.driftCommitId).toBe(second.commitId);
  });

  it('moves a row an older version left owing its index in the drift too', async () => {
    const w = world({ rules: [factsRule, betaRule] });
    await w.post(body(doc('s1', NOW - 10 * MINUTE, 'Pass', tail('a'))));
    w.rows.set('test-alpha', { ...w.rows.get('test-alpha')!, indexPending: true });
    w.entries.clear();
    await w.post(body(doc('s2', NOW - 9 * MINUTE, 'Pass', tail('a'))));
    expect(w.work().drift!.map((d) => d.ruleId)).toStrictEqual(['test-alpha']);
  });
});

describe('the cause of a change', () => {
  it('is the snapshot when the content changed under a new rule version, or the status moved on the same content and version', async () => {
    const v1 = world();
    await v1.post(body(doc('s1', NOW - 10 * MINUTE, 'Warning')));
    const v2 = world({ rules: [alphaRuleV2, betaRule] });
    for (const [id, r] of v1.rows) v2.rows.set(id, r);
    await v2.post(body(doc('s2', NOW - 5 * MINUTE, 'Pass')));
    expect(v2.rows.get('test-alpha')).toMatchObject({ status: 'Pass', changeCause: 'snapshot' });

    const clock = world({ rules: [clockRule] });
    await clock.post(body(doc('s1', Date.parse('2026-12-06T11:50:00Z'))));
    await clock.post(body(doc('s2', Date.parse('2026-12-06T11:51:00Z'))));
    expect(clock.rows.get('test-clock')).toMatchObject({ status: 'Warning', previousStatus: 'Pass', changeCause: 'snapshot' });
  });
});

describe('more of a hand-over', () => {
  it('clears every flag, answers accepted when one row owed the 201, and owes the sync of one row flagged', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 10 * MINUTE, 'Warning'));
    await w.post(text);
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, syncPending: id === 'test-beta', acceptPending: id === 'test-beta', rawSlot: 2 });
    w.entries.clear();
    expect((await w.post(text)).outcome).toBe('accepted');
    expect(w.work().raw?.slot).toBe(2);
    expect(w.work().drift).toStrictEqual([]);
    expect([...w.rows.values()].map((r) => [r.eventPending, r.indexPending, r.syncPending, r.acceptPending])).toStrictEqual([
      [false, false, false, false],
      [false, false, false, false],
    ]);
  });

  it('keeps its entry when the rows cannot be read after a conflict, answering duplicate', async () => {
    const w = world();
    const text = body(doc('s1', NOW - 10 * MINUTE, 'Warning'));
    await w.post(text);
    for (const [id, r] of w.rows) w.rows.set(id, { ...r, eventPending: true });
    w.entries.clear();
    w.calls.length = 0;
    w.interleaved.push(() => (w.land({ put: [...w.rows.values()].map((r) => ({ record: r })), remove: [], basedOn: [] }), w.readFailures.push(new RestError('unavailable', { statusCode: 503 }))));
    expect((await w.post(text)).outcome).toBe('duplicate');
    expect(w.steps()).toStrictEqual([`read ${SERVER}`, 'entry', 'commit test-alpha,test-beta', `read ${SERVER}`]);
    expect(w.entries.size).toBe(1);
  });
});
