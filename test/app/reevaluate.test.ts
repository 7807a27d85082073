// Re-evaluation without storage: one server re-evaluated after a rule change (its outbox entry, then
// its commit, then the projector told), the collisions of that commit, and the pass over the fleet
// in batches under a lease held in one ETag-guarded state row. Servers' rows are written by real
// posts (the ingest) into partitions held in memory; the service tests run the same pass on Azurite.
import { RestError } from '@azure/data-tables';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ingest, type IngestDeps } from '../../src/app/ingest';
import { isoInstant as iso } from '../../src/app/iso-time';
import { decodeWork } from '../../src/app/projection-work';
import { Reevaluation, type ReevaluateDeps } from '../../src/app/reevaluate';
import { ruleSetVersion } from '../../src/rules/registry';
import { NEWER_RELEASE_HOLDS_MS } from '../../src/rules/rule-set-order';
import type { Rule } from '../../src/rules/types';
import { ConcurrencyConflictError, type RawSnapshotMeta, type ReevalState, type ServerCommit, type StoredResult } from '../../src/store';
import { memoryPartition, type MemoryEntry } from '../support/memory-partition';
import { alphaRule, alphaRuleV2, betaRule, clockRule, factsRule, namedSnapshotId as sid, snapshot } from '../support/snapshots';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const LEASE_MS = 5 * MINUTE;
const SERVER = 'exch01.corp.contoso.com';
/** The server id of a host name, as a post names it. */
const serverOf = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;

/** The release before the rule change (alpha 1), the loaded one (alpha 2, whose logic calls a Warning an Error), and a newer one. */
const V1: readonly Rule[] = [alphaRule, betaRule];
const V2: readonly Rule[] = [alphaRuleV2, betaRule];
const alphaRuleV3: Rule = { ...alphaRuleV2, version: '3.0.0' };
const V3: readonly Rule[] = [alphaRuleV3, betaRule];
const V2_VERSIONS = { 'test-alpha': '2.0.0', 'test-beta': '1.0.0' };

const factsRuleV2: Rule = { ...alphaRuleV2, configurationFacts: factsRule.configurationFacts };
const clockRuleV2: Rule = { ...clockRule, version: '2.0.0' };


/** A stored pass: of the loaded rules (V2), just started at NOW, nothing done, no lease; `over` laid over it. */
const passOf = (over: Partial<ReevalState> = {}): ReevalState => ({
  targetVersion: ruleSetVersion(V2),
  ruleVersions: V2_VERSIONS,
  retired: [],
  cursor: '',
  done: false,
  leaseOwner: '',
  leaseUntil: 0,
  startedAt: NOW,
  finishedAt: 0,
  activeAt: NOW,
  evaluated: 0,
  changed: 0,
  unavailable: 0,
  ...over,
});

interface Options {
  /** The rules the re-evaluating release loads: V2 unless told. */
  readonly rules?: readonly Rule[];
  readonly retired?: readonly string[];
  /** The Hosts table's servers, in its order. */
  readonly servers?: readonly string[];
  readonly batchSize?: number;
  /** The stored pass, if any. */
  readonly state?: ReevalState;
}

/**
 * The fleet in memory: each server's Results partition (with its outbox entries), its newest raw
 * snapshot, the Hosts table's order, the state row of the pass; `calls` names every call, in order.
 */
function world(o: Options = {}) {
  const calls: string[] = [];
  const parts = new Map<string, ReturnType<typeof memoryPartition>>();
  const part = (server: string) => {
    const known = parts.get(server);
    if (known) return known;
    const p = memoryPartition();
    parts.set(server, p);
    return p;
  };
  const raws = new Map<string, RawSnapshotMeta & { body?: string }>();
  const hostOrder = [...(o.servers ?? [SERVER])];
  let stored: { state: ReevalState; etag: string } | undefined = o.state && { state: o.state, etag: 'state-0' };
  let stateTags = 0;
  const w = {
    now: NOW,
    calls,
    part,
    raws,
    /** Every state the pass wrote, in order. */
    states: [] as ReevalState[],
    /** What the state row holds now. */
    stored: () => stored,
    /** Writes another instance makes to the state row just before the next state writes, one each. */
    stateInterleaved: [] as (() => void)[],
    /** What the next state writes throw, one each (undefined: that write goes through). */
    stateFailures: [] as (Error | undefined)[],
    listFailures: [] as Error[],
    dropFailures: [] as Error[],
    /** Called as each page of servers is listed. */
    onPage: () => undefined as void,
    /** The commit ids the projector was told of. */
    committed: [] as string[],
    /** Another instance writes the state row (a new ETag). */
    writeState: (state: ReevalState) => void (stored = { state, etag: `other-${++stateTags}` }),
  };
  const deps = {
    rules: o.rules ?? V2,
    retiredRuleIds: o.retired ?? [],
    clock: () => w.now,
    batchSize: o.batchSize ?? 10,
    store: {
      readServer: async (server: string) => {
        calls.push(`read ${server}`);
        if (!hostOrder.includes(server)) throw new Error(`no such server: ${String(server)}`);
        return part(server).read();
      },
      commitServer: async (server: string, commit: ServerCommit) => {
        calls.push(`commit ${server} ${commit.put.map((p) => p.record.ruleId).join(',')}${commit.remove.length > 0 ? ` remove ${commit.remove.join(',')}` : ''}`);
        // A commit is guarded by the rows it read: those stored now, unless another writer comes first.
        expect(commit.basedOn).toStrictEqual([...part(server).rows.values()]);
        await part(server).commitServer(server, commit);
      },
    },
    outbox: {
      put: async (e: MemoryEntry) => (calls.push(`entry ${e.server}`), part(e.server).outbox.put(e)),
      deleteOne: async (server: string, commitId: string) => {
        calls.push(`drop entry ${server}`);
        const failure = w.dropFailures.shift();
        if (failure) throw failure;
        return part(server).outbox.deleteOne(server, commitId);
      },
    },
    rawSnapshots: {
      getLatestRaw: async (server: string, withBody = false) => {
        calls.push(`raw ${server}`);
        const raw = raws.get(server);
        if (!raw || withBody) return raw;
        const { body: _body, ...meta } = raw;
        return meta;
      },
    },
    hosts: {
      listServersPage: async (max: number, token: string | undefined) => {
        calls.push(`page ${max} from ${token ?? 'start'}`);
        w.onPage();
        const failure = w.listFailures.shift();
        if (failure) throw failure;
        const from = token === undefined ? 0 : Number(token);
        const to = from + max;
        return { servers: hostOrder.slice(from, to), ...(to < hostOrder.length ? { token: String(to) } : {}) };
      },
    },
    lifecycle: {
      getReevalState: async () => (calls.push('get state'), stored && { ...stored }),
      putReevalState: async (state: ReevalState, etag: string | undefined) => {
        calls.push('put state');
        w.stateInterleaved.shift()?.();
        const failure = w.stateFailures.shift();
        if (failure) throw failure;
        if (etag !== stored?.etag) return undefined;
        w.states.push(state);
        stored = { state, etag: `state-${++stateTags}` };
        return stored.etag;
      },
    },
    projector: {
      committed: (commitId: string) => {
        w.committed.push(commitId);
        calls.push(`committed ${[...parts].find(([, p]) => p.entries.has(commitId))?.[0] ?? 'no entry'}`);
      },
      kick: () => void calls.push('kick'),
    },
  };
  const reevaluation = new Reevaluation(deps as unknown as ReevaluateDeps);

  /** A snapshot of `host` posted (by a release loading `rules`) and committed as the ingest commits it, its raw body stored as the projector stores it. */
  const post = async (name: string, collectedAt: number, state = 'Pass', p: { host?: string; rules?: readonly Rule[]; over?: Record<string, unknown> } = {}) => {
    const server = serverOf(p.host ?? 'EXCH01');
    const partition = part(server);
    const ingest = new Ingest({
      rules: p.rules ?? V1,
      retiredRuleIds: [],
      clock: () => collectedAt + MINUTE,
      store: { readServerRows: async () => partition.read(), commitServer: partition.commitServer },
      outbox: partition.outbox,
      staged: {},
      projector: { committed: () => undefined, kick: () => undefined },
    } as unknown as IngestDeps);
    const text = JSON.stringify({ ...snapshot({ host: p.host, snapshotId: sid(name), collectedAt, testState: state }), ...p.over });
    const r = await ingest.run(text, 'en', { log: () => undefined });
    expect(r.outcome).toBe('accepted');
    const raw = [...partition.entries.values()].map((e) => decodeWork(e.payload)?.raw).find((x) => x !== undefined);
    if (raw) {
      const { body, ...record } = raw.record;
      raws.set(server, { ...record, rawBytes: body.length, rawStored: true, body });
    }
    partition.entries.clear();
    partition.calls.length = 0;
    return server;
  };
  /** The rows of a server, by rule. */
  const rows = (server = SERVER) => part(server).rows;
  /** The one outbox entry of a server, decoded. */
  const work = (server = SERVER) => {
    const entries = [...part(server).entries.values()];
    expect(entries).toHaveLength(1);
    return { entry: entries[0]!, work: decodeWork(entries[0]!.payload)! };
  };
  return Object.assign(w, { reevaluation, post, rows, work, server: (s = SERVER) => reevaluation.reevaluateServer(s) });
}

/** A row's fields a re-evaluation keeps as they were: all but the verdict, its history, the commits and the ETag. */
function kept(row: StoredResult) {
  const { ruleVersion: _v, status: _s, reasonCode: _r, message: _m, remediation: _rem, evidenceJson: _e, firstSeen: _f, previousStatus: _ps, previousFirstSeen: _pf, changeCause: _c, recentCommits: _rc, driftCommitId: _d, etag: _etag, ...rest } = row;
  return rest;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a server re-evaluated after a rule change', () => {
  it('writes its outbox entry, then commits every rule, then tells the projector, and answers evaluated with its one change', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const before = new Map(w.rows());
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`, `raw ${SERVER}`, `entry ${SERVER}`, `commit ${SERVER} test-alpha,test-beta`, `committed ${SERVER}`, 'kick']);
    const { entry, work } = w.work();
    expect(w.committed).toStrictEqual([entry.commitId]);
    expect(entry).toMatchObject({ server: SERVER, writtenAt: NOW });

    const alpha = w.rows().get('test-alpha')!;
    const was = before.get('test-alpha')!;
    // The verdict moved by the rule began now, caused by the rule change; what the host sent stays.
    expect(alpha).toMatchObject({ ruleVersion: '2.0.0', status: 'Error', firstSeen: NOW, previousStatus: 'Warning', previousFirstSeen: NOW - 30 * MINUTE, changeCause: 'rule-change', recentCommits: [{ id: entry.commitId, at: NOW }, ...was.recentCommits!] });
    expect(kept(alpha)).toStrictEqual(kept(was));
    expect(was).toMatchObject({ eventPending: false, indexPending: false, syncPending: false, acceptPending: false, lastSeen: NOW - 29 * MINUTE });
    const beta = w.rows().get('test-beta')!;
    const wasBeta = before.get('test-beta')!;
    expect(beta).toMatchObject({ status: 'Pass', firstSeen: wasBeta.firstSeen, previousStatus: undefined, previousFirstSeen: undefined, changeCause: 'snapshot' });
    expect(kept(beta)).toStrictEqual(kept(wasBeta));

    expect(work).toMatchObject({ v: 1, server: SERVER, commitId: entry.commitId, proofRule: 'test-alpha', drift: [] });
    expect(work.events.map((e) => [e.ruleId, e.fromStatus, e.toStatus, e.cause, e.recordedAt, e.firstSeen])).toStrictEqual([['test-alpha', 'Warning', 'Error', 'rule-change', NOW, NOW]]);
    expect(work.alerts).toStrictEqual([{ server: SERVER, ruleId: 'test-alpha', status: 'Error', reasonCode: 'StateWarning', previousStatus: 'Warning', snapshotId: sid('s1'), firstSeen: NOW, cause: 'rule-change' }]);
    expect(work.index.map((i) => [i.record.ruleId, i.record.status, i.from])).toStrictEqual([
      ['test-alpha', 'Error', 'Warning'],
      ['test-beta', 'Pass', 'Pass'],
    ]);
    // No rule left the rule set, so nothing leaves the index or the drift; no host or raw row is owed.
    expect(Object.keys(work).sort()).toStrictEqual(['alerts', 'commitId', 'drift', 'events', 'index', 'proofRule', 'server', 'v']);
  });

  it('answers a server whose rows carry the loaded versions current, and writes nothing', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning', { rules: V2 });
    expect(await w.server()).toStrictEqual({ outcome: 'current', changes: 0 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`]);
  });

  it('answers a server without rows unavailable, without reading its raw body', async () => {
    const w = world();
    w.raws.set(SERVER, { server: SERVER, snapshotId: sid('s1'), collectedAt: NOW, receivedAt: NOW, contentHash: 'sha256:x', rawBytes: 2, rawStored: true, body: '{}' });
    expect(await w.server()).toStrictEqual({ outcome: 'unavailable', changes: 0 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`]);
  });

  it('re-evaluates a server that lacks a row of a loaded rule, though its other rows are current', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning', { rules: [alphaRuleV2] });
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    const beta = w.rows().get('test-beta')!;
    const alpha = w.rows().get('test-alpha')!;
    // The joining rule's row is a first result, of the newest snapshot, owing nothing the others owed.
    expect(beta).toMatchObject({ status: 'Pass', firstSeen: NOW, previousStatus: undefined, previousFirstSeen: undefined, changeCause: 'rule-change', syncPending: false, acceptPending: false });
    expect(kept(beta)).toStrictEqual({ ...kept(alpha), ruleId: 'test-beta', severity: 'Info' });
    const { work } = w.work();
    expect(work.events.map((e) => [e.ruleId, e.fromStatus, e.toStatus])).toStrictEqual([['test-beta', undefined, 'Pass']]);
    expect(work.alerts).toStrictEqual([]);
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([
      ['test-alpha', 'Error'],
      ['test-beta', undefined],
    ]);
  });

  it('removes the rows of a rule that left the rule set, and owes their index leaves from the newest snapshot', async () => {
    const w = world({ rules: [alphaRuleV2], retired: ['test-beta'] });
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    expect(w.calls).toContain(`commit ${SERVER} test-alpha remove test-beta`);
    expect([...w.rows().keys()]).toStrictEqual(['test-alpha']);
    const { entry, work } = w.work();
    expect(work.indexLeaves).toStrictEqual([{ leave: true, ruleId: 'test-beta', server: SERVER, from: 'Pass', sourceSnapshotId: sid('s1'), sourceCollectedAt: NOW - 30 * MINUTE }]);
    expect(work.driftLeaves).toBeUndefined();
    expect(entry.commitId).toBe(work.commitId);
  });

  it('removes every row when no rule is loaded any more, naming no proof rule', async () => {
    const w = world({ rules: [], retired: ['test-alpha', 'test-beta'] });
    await w.post('s1', NOW - 30 * MINUTE);
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 0 });
    expect(w.calls).toContain(`commit ${SERVER}  remove test-alpha,test-beta`);
    expect(w.rows().size).toBe(0);
    expect(w.work().work).toMatchObject({ proofRule: '', events: [], index: [] });
  });

  it('keeps rows a newer release wrote within the hour, and re-evaluates them once the hour is over', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning', { rules: V3 });
    expect(await w.server()).toStrictEqual({ outcome: 'current', changes: 0 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`]);
    // Written at NOW - 29 minutes: an hour on, this release is the one left running.
    w.now = NOW - 29 * MINUTE + NEWER_RELEASE_HOLDS_MS;
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 0 });
    expect(w.rows().get('test-alpha')).toMatchObject({ ruleVersion: '2.0.0', status: 'Error' });
  });
});

describe('what a server is re-evaluated from', () => {
  const unusable: [string, (w: ReturnType<typeof world>) => void][] = [
    ['no raw snapshot', (w) => w.raws.delete(SERVER)],
    ['a raw snapshot whose body was not stored', (w) => w.raws.set(SERVER, { ...w.raws.get(SERVER)!, body: undefined })],
    ['a raw snapshot of other content', (w) => w.raws.set(SERVER, { ...w.raws.get(SERVER)!, contentHash: 'sha256:other' })],
    ['a body that is not JSON', (w) => w.raws.set(SERVER, { ...w.raws.get(SERVER)!, body: '{"schema":' })],
    ['a body that is no snapshot', (w) => w.raws.set(SERVER, { ...w.raws.get(SERVER)!, body: '{"schema":"something else"}' })],
  ];
  for (const [what, spoil] of unusable) {
    it(`answers unavailable for ${what}, writing nothing`, async () => {
      const w = world();
      await w.post('s1', NOW - 30 * MINUTE, 'Warning');
      spoil(w);
      expect(await w.server()).toStrictEqual({ outcome: 'unavailable', changes: 0 });
      expect(w.calls).toStrictEqual([`read ${SERVER}`, `raw ${SERVER}`]);
      expect(w.rows().get('test-alpha')!.ruleVersion).toBe('1.0.0');
    });
  }

  for (const stale of ['test-alpha', 'test-beta']) {
    it(`takes the newest row of the server as its snapshot, with the row of ${stale} older, read ${stale === 'test-alpha' ? 'first' : 'last'}`, async () => {
      const w = world();
      await w.post('s1', NOW - 30 * MINUTE, 'Pass');
      const older = w.rows().get(stale)!;
      await w.post('s2', NOW - 20 * MINUTE, 'Warning');
      // One row is of the older snapshot (as left by a commit of an older layout, say).
      w.rows().set(stale, { ...w.rows().get(stale)!, snapshotId: older.snapshotId, collectedAt: older.collectedAt, contentHash: older.contentHash });
      expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
      expect(w.rows().get('test-alpha')).toMatchObject({ status: 'Error', snapshotId: sid(stale === 'test-alpha' ? 's1' : 's2') });
      expect(w.rows().get('test-beta')).toMatchObject({ status: 'Pass', snapshotId: sid(stale === 'test-beta' ? 's1' : 's2') });
    });
  }

  it('evaluates the body at the time of the newest post of its content, not the time it was first posted', async () => {
    const w = world({ rules: [clockRuleV2] });
    // The same content posted in an even minute (its raw body), then in an odd one.
    await w.post('s1', NOW - 30 * MINUTE, 'Pass', { rules: [clockRule] });
    await w.post('s2', NOW - 29 * MINUTE, 'Pass', { rules: [clockRule] });
    expect(w.raws.get(SERVER)!.snapshotId).toBe(sid('s1'));
    expect(w.rows().get('test-clock')).toMatchObject({ status: 'Warning', snapshotId: sid('s2') });
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 0 });
    expect(w.rows().get('test-clock')).toMatchObject({ status: 'Warning', ruleVersion: '2.0.0', snapshotId: sid('s2') });
  });

  it('evaluates a snapshot collected after its own clock (the clock went back) as of its collection', async () => {
    const w = world();
    await w.post('s1', NOW + 2 * 60 * MINUTE, 'Warning');
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    expect(w.rows().get('test-alpha')).toMatchObject({ status: 'Error', firstSeen: NOW });
  });

  it('owes the events an older version left pending first, keeps the flags of work still owed, and indexes from where the index holds the server', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const alpha = w.rows().get('test-alpha')!;
    const beta = w.rows().get('test-beta')!;
    // Alpha went from Pass to Warning in a commit whose projections are still owed; beta is of a layout without acceptPending.
    w.rows().set('test-alpha', { ...alpha, previousStatus: 'Pass', eventPending: true, indexPending: true, syncPending: true, acceptPending: true });
    w.rows().set('test-beta', { ...beta, acceptPending: undefined });
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    const { work } = w.work();
    expect(work.events.map((e) => [e.ruleId, e.fromStatus, e.toStatus, e.cause])).toStrictEqual([
      ['test-alpha', 'Pass', 'Warning', 'snapshot'],
      ['test-alpha', 'Warning', 'Error', 'rule-change'],
    ]);
    expect(work.index.map((i) => [i.record.ruleId, i.from])).toStrictEqual([
      ['test-alpha', 'Pass'],
      ['test-beta', 'Pass'],
    ]);
    expect(w.rows().get('test-alpha')).toMatchObject({ eventPending: false, indexPending: false, syncPending: true, acceptPending: true });
    expect(w.rows().get('test-beta')).toMatchObject({ eventPending: false, indexPending: false, syncPending: false, acceptPending: false });
  });

  it('keeps the verdict history of a rule whose status the new version does not move', async () => {
    const w = world();
    await w.post('s1', NOW - 40 * MINUTE, 'Pass');
    await w.post('s2', NOW - 30 * MINUTE, 'NotApplicable');
    const before = w.rows().get('test-alpha')!;
    expect(before).toMatchObject({ status: 'NotApplicable', previousStatus: 'Pass', previousFirstSeen: NOW - 40 * MINUTE, firstSeen: NOW - 30 * MINUTE, changeCause: 'snapshot' });
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 0 });
    expect(w.rows().get('test-alpha')).toMatchObject({ ruleVersion: '2.0.0', status: 'NotApplicable', previousStatus: 'Pass', previousFirstSeen: NOW - 40 * MINUTE, firstSeen: NOW - 30 * MINUTE, changeCause: 'snapshot' });
    expect(w.work().work.events).toStrictEqual([]);
  });

  it('remembers its commit first among at most sixteen, and only its own on rows that remembered none', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const older = Array.from({ length: 16 }, (_, i) => ({ id: `c${i}`, at: NOW - 60 * MINUTE + i }));
    for (const [id, r] of w.rows()) w.rows().set(id, { ...r, recentCommits: older });
    await w.server();
    const { entry } = w.work();
    expect(w.rows().get('test-alpha')!.recentCommits).toStrictEqual([{ id: entry.commitId, at: NOW }, ...older.slice(0, 15)]);

    const bare = world();
    await bare.post('s1', NOW - 30 * MINUTE, 'Warning');
    for (const [id, r] of bare.rows()) bare.rows().set(id, { ...r, recentCommits: undefined });
    await bare.server();
    expect(bare.rows().get('test-beta')!.recentCommits).toStrictEqual([{ id: bare.work().entry.commitId, at: NOW }]);
  });

  it('moves the server in the drift of a rule with configuration facts, naming its commit where the move places it', async () => {
    const w = world({ rules: [factsRuleV2, betaRule] });
    await w.post('s1', NOW - 30 * MINUTE, 'Warning', { rules: [factsRule, betaRule], over: { files: [{ path: 'C:\\logs\\test.txt', exists: true, size: 1, tail: 'x' }] } });
    const was = w.rows().get('test-alpha')!;
    expect(was.fingerprint).toMatch(/^sha256:/);
    expect(was.driftCommitId).toBeDefined();
    await w.server();
    const { entry, work } = w.work();
    const alpha = w.rows().get('test-alpha')!;
    expect(alpha).toMatchObject({ status: 'Error', fingerprint: was.fingerprint, driftCommitId: entry.commitId });
    expect(work.drift).toStrictEqual([
      {
        ruleId: 'test-alpha',
        server: SERVER,
        fingerprint: was.fingerprint,
        factsJson: '{"tail":"x"}',
        status: 'Error',
        sourceSnapshotId: sid('s1'),
        sourceCollectedAt: NOW - 30 * MINUTE,
        sourceCommitId: entry.commitId,
        from: { fingerprint: was.fingerprint, status: 'Warning', commitId: was.driftCommitId },
      },
    ]);
    expect(w.rows().get('test-beta')!.driftCommitId).toBeUndefined();
  });
});

describe('a commit that collides', () => {
  it('drops its entry when another writer got there first, reads again and commits anew', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const p = w.part(SERVER);
    // Another writer rewrites the rows as they were (new ETags) just before the commit.
    p.interleaved.push(() => p.land({ put: [...p.rows.values()].map((r) => ({ record: r })), remove: [] }));
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`, `raw ${SERVER}`, `entry ${SERVER}`, `commit ${SERVER} test-alpha,test-beta`, `read ${SERVER}`, `drop entry ${SERVER}`, `raw ${SERVER}`, `entry ${SERVER}`, `commit ${SERVER} test-alpha,test-beta`, `committed ${SERVER}`, 'kick']);
    const { entry } = w.work();
    expect(w.committed).toStrictEqual([entry.commitId]);
    expect(w.rows().get('test-alpha')!.recentCommits![0]!.id).toBe(entry.commitId);
  });

  it('re-evaluates a server once when another instance re-evaluated it meanwhile', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const p = w.part(SERVER);
    const other = world();
    await other.post('s1', NOW - 30 * MINUTE, 'Warning');
    await other.server();
    p.interleaved.push(() => p.land({ put: [...other.rows().values()].map((r) => ({ record: r })), remove: [] }));
    expect(await w.server()).toStrictEqual({ outcome: 'current', changes: 0 });
    expect(w.calls.slice(3)).toStrictEqual([`commit ${SERVER} test-alpha,test-beta`, `read ${SERVER}`, `drop entry ${SERVER}`]);
    expect(p.entries.size).toBe(0);
    expect(w.committed).toStrictEqual([]);
  });

  it('keeps its entry and answers evaluated when the commit landed but its answer was lost', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    w.part(SERVER).failures.push('landed-then-conflict');
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    expect(w.calls).toStrictEqual([`read ${SERVER}`, `raw ${SERVER}`, `entry ${SERVER}`, `commit ${SERVER} test-alpha,test-beta`, `read ${SERVER}`, `committed ${SERVER}`, 'kick']);
    expect(w.committed).toStrictEqual([w.work().entry.commitId]);
  });

  it('goes on when the refused commit entry cannot be dropped', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const p = w.part(SERVER);
    p.interleaved.push(() => p.land({ put: [...p.rows.values()].map((r) => ({ record: r })), remove: [] }));
    w.dropFailures.push(new RestError('unavailable', { statusCode: 503 }));
    expect(await w.server()).toStrictEqual({ outcome: 'evaluated', changes: 1 });
    // The refused entry stays for the projector, which finds its commit never landed.
    expect(p.entries.size).toBe(2);
  });

  it('gives up after five collisions, leaving the last entry for the projector', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const p = w.part(SERVER);
    for (let i = 0; i < 6; i++) p.interleaved.push(() => p.land({ put: [...p.rows.values()].map((r) => ({ record: r })), remove: [] }));
    const error = await w.server().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((error as Error).message).toBe(`Re-evaluating ${SERVER} kept colliding with other writers.`);
    expect(w.calls.filter((c) => c.startsWith('commit'))).toHaveLength(5);
    expect(w.calls.filter((c) => c.startsWith('drop entry'))).toHaveLength(4);
    expect(p.entries.size).toBe(1);
    expect(w.committed).toStrictEqual([]);
  });

  it('throws any other commit failure at once, leaving its entry and telling the projector nothing', async () => {
    const w = world();
    await w.post('s1', NOW - 30 * MINUTE, 'Warning');
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.part(SERVER).failures.push(outage);
    await expect(w.server()).rejects.toBe(outage);
    expect(w.calls).toStrictEqual([`read ${SERVER}`, `raw ${SERVER}`, `entry ${SERVER}`, `commit ${SERVER} test-alpha,test-beta`]);
    expect(w.part(SERVER).entries.size).toBe(1);
  });
});

describe('a batch of the pass', () => {
  /** Three servers: one to re-evaluate (its alpha a Warning), one already current, one that never posted. */
  async function fleet(o: Options = {}) {
    const w = world({ servers: [serverOf('EXCH01'), serverOf('EXCH02'), serverOf('EXCH03')], ...o });
    await w.post('s1', NOW - 30 * MINUTE, 'Warning', { host: 'EXCH01' });
    await w.post('s2', NOW - 30 * MINUTE, 'Warning', { host: 'EXCH02', rules: V2 });
    return w;
  }
  const counts = (evaluated: number, current: number, unavailable: number, changes: number) => ({ targetVersion: ruleSetVersion(V2), evaluated, current, unavailable, changes });

  it('starts the first pass under a lease, works the page and records the pass done', async () => {
    const w = await fleet();
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'done', ...counts(1, 1, 1, 1) });
    expect(w.calls.slice(0, 3)).toStrictEqual(['get state', 'put state', 'page 10 from start']);
    expect(w.calls.at(-1)).toBe('put state');
    const [leased, finished] = w.states;
    expect(leased).toStrictEqual({ ...passOf(), fromRuleVersions: undefined, leaseOwner: expect.stringMatching(/^[0-9a-f-]{36}$/), leaseUntil: NOW + LEASE_MS });
    expect(finished).toStrictEqual({ ...passOf(), fromRuleVersions: undefined, done: true, finishedAt: NOW, evaluated: 1, changed: 1, unavailable: 1 });
    expect(w.states).toHaveLength(2);
    expect(w.rows(serverOf('EXCH01')).get('test-alpha')!.status).toBe('Error');
  });

  it('goes on from its cursor in the next batch, adding to the counts', async () => {
    const w = await fleet({ batchSize: 2, state: passOf({ evaluated: 10, changed: 4, unavailable: 2, startedAt: NOW - 9 * MINUTE }) });
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'progress', ...counts(1, 1, 0, 1) });
    expect(w.stored()!.state).toStrictEqual(passOf({ cursor: '2', evaluated: 11, changed: 5, unavailable: 2, startedAt: NOW - 9 * MINUTE }));
    w.calls.length = 0;
    w.now = NOW + MINUTE;
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'done', ...counts(0, 0, 1, 0) });
    expect(w.calls).toStrictEqual(['get state', 'put state', 'page 2 from 2', `read ${serverOf('EXCH03')}`, 'put state']);
    expect(w.stored()!.state).toStrictEqual(passOf({ cursor: '', done: true, finishedAt: NOW + MINUTE, activeAt: NOW + MINUTE, evaluated: 11, changed: 5, unavailable: 3, startedAt: NOW - 9 * MINUTE }));
  });

  it('does nothing once the pass of the loaded rules is done', async () => {
    const w = await fleet({ state: passOf({ done: true, finishedAt: NOW - MINUTE }) });
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'idle', ...counts(0, 0, 0, 0) });
    expect(w.calls).toStrictEqual(['get state']);
  });

  it('starts a new pass over a finished one of another rule set, from the versions that pass left', async () => {
    const old = { targetVersion: ruleSetVersion(V1), ruleVersions: { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' }, cursor: '', done: true, finishedAt: NOW - 60 * MINUTE, startedAt: NOW - 90 * MINUTE, activeAt: NOW - 60 * MINUTE, evaluated: 7 };
    const w = await fleet({ state: passOf(old) });
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'done', ...counts(1, 1, 1, 1) });
    expect(w.states[0]).toStrictEqual({ ...passOf(), fromRuleVersions: { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' }, leaseOwner: expect.any(String), leaseUntil: NOW + LEASE_MS });
    // The stored versions are copied, not shared.
    expect(w.states[0]!.fromRuleVersions).not.toBe(old.ruleVersions);
  });

  it('starts a new pass over an unfinished one of another rule set, from the versions that pass had not moved', async () => {
    const old = passOf({ targetVersion: ruleSetVersion(V1), ruleVersions: { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' }, fromRuleVersions: { 'test-alpha': '0.9.0', 'test-beta': '1.0.0' }, cursor: '1', leaseOwner: 'old', leaseUntil: NOW + MINUTE });
    const w = await fleet({ state: old });
    await w.reevaluation.runBatch();
    expect(w.calls[2]).toBe('page 10 from start');
    expect(w.states[0]).toMatchObject({ targetVersion: ruleSetVersion(V2), cursor: '', evaluated: 0 });
    expect(w.states[0]!.fromRuleVersions).toStrictEqual({ 'test-beta': '1.0.0' });

    const unknown = await fleet({ state: { ...old, fromRuleVersions: undefined } });
    await unknown.reevaluation.runBatch();
    expect(unknown.states[0]!.fromRuleVersions).toBeUndefined();
  });

  it('leaves a batch to the instance whose lease runs, and takes one whose lease is over or has no owner', async () => {
    const held = await fleet({ state: passOf({ leaseOwner: 'other', leaseUntil: NOW + 1 }) });
    expect(await held.reevaluation.runBatch()).toStrictEqual({ status: 'busy', ...counts(0, 0, 0, 0) });
    expect(held.calls).toStrictEqual(['get state']);
    for (const lease of [
      { leaseOwner: 'other', leaseUntil: NOW },
      { leaseOwner: '', leaseUntil: NOW + MINUTE },
    ]) {
      const w = await fleet({ state: passOf(lease) });
      expect((await w.reevaluation.runBatch()).status, JSON.stringify(lease)).toBe('done');
    }
  });

  it('answers busy, working nothing, when another instance wrote the state first', async () => {
    const w = await fleet();
    w.stateInterleaved.push(() => w.writeState(passOf({ leaseOwner: 'other', leaseUntil: NOW + LEASE_MS })));
    expect(await w.reevaluation.runBatch()).toStrictEqual({ status: 'busy', ...counts(0, 0, 0, 0) });
    expect(w.calls).toStrictEqual(['get state', 'put state']);
  });

  it('yields to the pass of a newer release active within the hour, and takes over after it', async () => {
    const newer = { targetVersion: ruleSetVersion(V3), ruleVersions: { 'test-alpha': '3.0.0', 'test-beta': '1.0.0' } };
    // Active (started, leased or finished) within the hour, by whichever time is the latest.
    for (const active of [
      { startedAt: NOW - 2 * 60 * MINUTE, activeAt: NOW - 59 * MINUTE },
      { startedAt: NOW - 59 * MINUTE, activeAt: NOW - 2 * 60 * MINUTE },
      { startedAt: NOW - 2 * 60 * MINUTE, activeAt: NOW - 2 * 60 * MINUTE, done: true, finishedAt: NOW - 59 * MINUTE },
    ]) {
      const w = await fleet({ state: passOf({ ...newer, ...active }) });
      expect(await w.reevaluation.runBatch(), JSON.stringify(active)).toStrictEqual({ status: 'superseded', ...counts(0, 0, 0, 0) });
      expect(w.calls).toStrictEqual(['get state']);
    }
    const w = await fleet({ state: passOf({ ...newer, startedAt: NOW - 2 * 60 * MINUTE, activeAt: NOW - NEWER_RELEASE_HOLDS_MS }) });
    expect((await w.reevaluation.runBatch()).status).toBe('done');
    expect(w.states[0]).toMatchObject({ targetVersion: ruleSetVersion(V2), startedAt: NOW });
  });

  it('never yields to a pass of its own rule-set version, whatever versions its row names', async () => {
    const w = await fleet({ state: passOf({ ruleVersions: { 'test-alpha': '3.0.0', 'test-beta': '1.0.0' } }) });
    expect((await w.reevaluation.runBatch()).status).toBe('done');
  });

  it('gives the lease back at once when the servers cannot be listed', async () => {
    const w = await fleet({ state: passOf({ cursor: '1', evaluated: 3, changed: 1, unavailable: 1 }) });
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.listFailures.push(outage);
    await expect(w.reevaluation.runBatch()).rejects.toBe(outage);
    expect(w.calls).toStrictEqual(['get state', 'put state', 'page 10 from 1', 'put state']);
    expect(w.stored()!.state).toStrictEqual(passOf({ cursor: '1', evaluated: 3, changed: 1, unavailable: 1 }));
  });

  it('gives the lease back when a server fails, counting the servers it committed, and throws that failure', async () => {
    const w = await fleet({ state: passOf({ evaluated: 3, changed: 1, unavailable: 1 }) });
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.part(serverOf('EXCH02')).readFailures.push(outage);
    await expect(w.reevaluation.runBatch()).rejects.toBe(outage);
    // EXCH01 was committed, so the redo finds it current; EXCH03 (no rows) is counted by the redo.
    expect(w.stored()!.state).toStrictEqual(passOf({ evaluated: 4, changed: 2, unavailable: 1 }));
    expect(w.rows(serverOf('EXCH01')).get('test-alpha')!.ruleVersion).toBe('2.0.0');
  });

  it('starts no server after the first failure, and throws that one', async () => {
    const servers = Array.from({ length: 7 }, (_, i) => serverOf(`EXCH0${i + 1}`));
    const w = world({ servers });
    const first = new Error('first');
    w.part(servers[0]!).readFailures.push(first);
    w.part(servers[1]!).readFailures.push(new Error('second'));
    await expect(w.reevaluation.runBatch()).rejects.toBe(first);
    // Four servers are under way at once; the rest are never read.
    expect(w.calls.filter((c) => c.startsWith('read')).sort()).toStrictEqual(servers.slice(0, 4).map((s) => `read ${s}`));
  });

  it('throws the failure of the batch even when the lease cannot be given back', async () => {
    const w = await fleet();
    const outage = new RestError('unavailable', { statusCode: 503 });
    w.listFailures.push(outage);
    w.stateFailures.push(undefined, new Error('the state row is out of reach'));
    await expect(w.reevaluation.runBatch()).rejects.toBe(outage);
    expect(w.calls).toStrictEqual(['get state', 'put state', 'page 10 from start', 'put state']);
    expect(w.stored()!.state.leaseOwner).not.toBe('');
  });
});

describe('the pass run to its end', () => {
  /** Six servers, one per batch: one whose verdicts the new version keeps, three it moves, one already current, one that never posted. */
  async function fleet(o: Options = {}) {
    const servers = Array.from({ length: 6 }, (_, i) => serverOf(`EXCH0${i + 1}`));
    const w = world({ servers, batchSize: 1, ...o });
    for (const [i, s] of servers.slice(0, 5).entries()) await w.post(`s${i}`, NOW - 30 * MINUTE, i === 0 ? 'Pass' : 'Warning', { host: s.split('.')[0]!.toUpperCase(), rules: i === 4 ? V2 : V1 });
    return w;
  }

  it('runs batches until the pass is done, adding up what they did', async () => {
    const w = await fleet();
    expect(await w.reevaluation.runAll(60_000)).toStrictEqual({ status: 'done', targetVersion: ruleSetVersion(V2), evaluated: 4, current: 1, unavailable: 1, changes: 3 });
    expect(w.calls.filter((c) => c.startsWith('page'))).toHaveLength(6);
  });

  it('runs no more than the batches allowed', async () => {
    const w = await fleet();
    expect(await w.reevaluation.runAll(60_000, 2)).toStrictEqual({ status: 'progress', targetVersion: ruleSetVersion(V2), evaluated: 2, current: 0, unavailable: 0, changes: 1 });
    expect(w.calls.filter((c) => c.startsWith('page'))).toHaveLength(2);
    const none = await fleet();
    expect(await none.reevaluation.runAll(60_000, 0)).toStrictEqual({ status: 'idle', targetVersion: ruleSetVersion(V2), evaluated: 0, current: 0, unavailable: 0, changes: 0 });
    expect(none.calls).toStrictEqual([]);
  });

  it('stops at the first batch that is not progress', async () => {
    const w = await fleet({ state: passOf({ done: true }) });
    expect((await w.reevaluation.runAll(60_000)).status).toBe('idle');
    expect(w.calls).toStrictEqual(['get state']);
  });

  it('starts no batch once its budget is spent', async () => {
    const w = await fleet();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    // Each batch takes a second: after two the budget of two seconds is not yet exceeded, after three it is.
    w.onPage = () => vi.setSystemTime(Date.now() + 1000);
    expect(await w.reevaluation.runAll(2000)).toMatchObject({ status: 'progress', evaluated: 3 });
    expect(w.calls.filter((c) => c.startsWith('page'))).toHaveLength(3);
  });
});

describe('the progress of the pass', () => {
  const progress = (state?: ReevalState, now = NOW) => {
    const w = world({ state });
    w.now = now;
    return w.reevaluation.progress();
  };

  it('shows no pass before any ran', async () => {
    expect(await progress()).toStrictEqual({ loadedRuleSetVersion: ruleSetVersion(V2), upToDate: false, pass: null });
  });

  it('shows a finished pass of the loaded rules up to date', async () => {
    const state = passOf({ done: true, startedAt: NOW - 30 * MINUTE, activeAt: NOW - 20 * MINUTE, finishedAt: NOW - 10 * MINUTE, evaluated: 5, changed: 2, unavailable: 1 });
    expect(await progress(state)).toStrictEqual({
      loadedRuleSetVersion: ruleSetVersion(V2),
      upToDate: true,
      pass: {
        ruleSetVersion: ruleSetVersion(V2),
        ruleVersions: V2_VERSIONS,
        fromRuleVersions: null,
        retired: [],
        newerRelease: false,
        state: 'done',
        startedAt: iso(NOW - 30 * MINUTE),
        finishedAt: iso(NOW - 10 * MINUTE),
        lastActiveAt: iso(NOW - 10 * MINUTE),
        evaluated: 5,
        changed: 2,
        unavailable: 1,
      },
    });
  });

  it('shows a pass under way running while its lease lasts, else waiting, and never up to date', async () => {
    const from = { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' };
    const running = await progress(passOf({ leaseOwner: 'a', leaseUntil: NOW + 1, fromRuleVersions: from, activeAt: NOW - MINUTE, startedAt: NOW - 2 * MINUTE }));
    expect(running).toMatchObject({ upToDate: false, pass: { state: 'running', finishedAt: null, fromRuleVersions: from, lastActiveAt: iso(NOW - MINUTE) } });
    expect((await progress(passOf({ leaseOwner: 'a', leaseUntil: NOW }))).pass!.state).toBe('waiting');
    expect((await progress(passOf({ leaseOwner: '', leaseUntil: NOW + 1 }))).pass!.state).toBe('waiting');
  });

  it('shows a finished pass of another rule set not up to date, and a newer release as such', async () => {
    const older = await progress(passOf({ targetVersion: ruleSetVersion(V1), ruleVersions: { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' }, done: true, finishedAt: NOW }));
    expect(older).toMatchObject({ upToDate: false, pass: { newerRelease: false, state: 'done' } });
    const newer = await progress(passOf({ targetVersion: ruleSetVersion(V3), ruleVersions: { 'test-alpha': '3.0.0', 'test-beta': '1.0.0' }, done: true, finishedAt: NOW - 10 * MINUTE }));
    expect(newer).toMatchObject({ upToDate: false, pass: { newerRelease: true } });
    // Judged by the clock at the time of asking.
    expect((await progress(passOf({ targetVersion: ruleSetVersion(V3), ruleVersions: { 'test-alpha': '3.0.0' }, startedAt: NOW - 20 * MINUTE, activeAt: NOW - 10 * MINUTE }), NOW + 50 * MINUTE)).pass!.newerRelease).toBe(false);
  });
});
