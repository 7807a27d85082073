// Batched drift moves against real Azurite (DriftStore.applyMoves): many servers of a shard move in
// one transaction without reading their members; a replayed, stale or reordered move makes its
// transaction fail and its servers are read and compared one by one (also after the server moved
// away and came back, since each member row names the commit that placed it, and of two commits of
// one snapshot the later one stands); members written in the old
// layout (one row per server, `m|<server>`) are found and moved; whatever order the projector
// applies its batches in, the counter rows equal the counts of the member rows, one member per server;
// a move read and compared after its server left goes where the server's Results row says, not back in;
// a projector whose lease another one took is refused by the fence (a first join it still sends
// after the server's removal would count the server again), and the fence row fits in every transaction.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STATUSES } from '../../src/rules/types';
import { onDriftStore } from '../support/drift';
import type { DriftStore, PostureStore} from '../../src/store';
import { DRIFT_SHARDS, driftCountsEntity, driftCountsKey, driftShardOf, encodeKey, LeaseLostError, OutboxStore, type DriftChange, type DriftLeave, type DriftMember, type DriftMove, type DriftPlace } from '../../src/store';
import { propertyRuns } from '../support/property-runs';
import { DriftQueries } from '../../src/app/drift-queries';
import { RULES } from '../../src/rules/registry';
import { DRIFT_RULE } from '../support/drift';
import { loadedTimeout } from '../support/load-timeouts';

let store: PostureStore;
let drift: DriftStore;
onDriftStore((s) => ({ store, drift } = s));

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const facts = (fingerprint: string) => JSON.stringify({ fp: fingerprint });

/** A move of `server` to `to`, from a snapshot `minutes` after T0. */
function move(rule: string, server: string, to: DriftPlace, minutes: number, from?: DriftPlace | null): DriftMove {
  const m: DriftMember = { ruleId: rule, server, ...to, factsJson: facts(to.fingerprint), sourceSnapshotId: `snap-${String(minutes).padStart(6, '0')}`, sourceCollectedAt: T0 + minutes * 60_000 };
  return from === undefined ? m : { ...m, from };
}
const place = (fingerprint: string, status: string): DriftPlace => ({ fingerprint, status });
/** The id of the commit `minutes` after T0 (commit ids begin with their time). */
const commitAt = (minutes: number) => `c${String(minutes).padStart(6, '0')}`;
/** A move as a commit `minutes` after T0 writes it: it names its own commit and the one that put the server where it leaves (null: never counted). */
function committed(rule: string, server: string, to: DriftPlace, minutes: number, from: { at: DriftPlace; minutes: number } | null): DriftMove {
  return { ...move(rule, server, to, minutes, from && { ...from.at, commitId: commitAt(from.minutes) }), sourceCommitId: commitAt(minutes) };
}
/** `server` leaves the rule (its rule left the rule set) by a commit `minutes` after T0. */
function leave(rule: string, server: string, minutes: number, from?: DriftPlace): DriftLeave {
  return { leave: true, ruleId: rule, server, ...(from ? { from } : {}), sourceSnapshotId: `snap-${String(minutes).padStart(6, '0')}`, sourceCollectedAt: T0 + minutes * 60_000 };
}

type Row = Record<string, unknown>;
const tableOf = () => store.siblingTable('drift');

/** Every row of the rule's partition. */
async function rowsOf(rule: string): Promise<Row[]> {
  return tableOf().call('test', async (t) => {
    const out: Row[] = [];
    for await (const e of t.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(rule)}'` } })) out.push(e);
    return out;
  });
}

/** The rule's drift as stored: members per server, and counter rows checked against them. */
async function stateOf(rule: string) {
  const rows = await rowsOf(rule);
  const members = rows.filter((r) => String(r.rowKey).startsWith('m|'));
  const perServer = new Map<string, { fingerprint: string; status: string; source: string; rowKey: string }[]>();
  for (const m of members) {
    const server = String(m.Server);
    perServer.set(server, [...(perServer.get(server) ?? []), { fingerprint: String(m.Fingerprint), status: String(m.Status), source: String(m.SourceSnapshotId), rowKey: String(m.rowKey) }]);
  }
  // The counts the member rows make, per counter row key and status.
  const expected = new Map<string, Record<string, number>>();
  for (const [server, list] of perServer) {
    for (const m of list) {
      const key = driftCountsKey(m.fingerprint, driftShardOf(server));
      const c = expected.get(key) ?? {};
      c[m.status] = (c[m.status] ?? 0) + 1;
      expected.set(key, c);
    }
  }
  const counted = new Map<string, Record<string, number>>();
  for (const r of rows.filter((x) => String(x.rowKey).startsWith('c|'))) {
    const c = Object.fromEntries(STATUSES.map((s) => [s, Number(r[s] ?? 0)]).filter(([, n]) => n !== 0));
    // A row left at zeros (its prune lost a race) counts nothing.
    if (Object.keys(c).length > 0) counted.set(String(r.rowKey), c);
  }
  return { rows, perServer, expected, counted };
}

/** Counters equal the member rows' counts, and every server has exactly one member row. */
async function expectConsistent(rule: string, servers?: readonly string[]) {
  const s = await stateOf(rule);
  expect(Object.fromEntries(s.counted)).toEqual(Object.fromEntries(s.expected));
  for (const [server, list] of s.perServer) expect(list, server).toHaveLength(1);
  if (servers) expect([...s.perServer.keys()].sort()).toEqual([...servers].sort());
  return s;
}

/** Where each server is counted, as `fingerprint/status`. */
async function placesOf(rule: string): Promise<Record<string, string>> {
  const s = await stateOf(rule);
  return Object.fromEntries([...s.perServer].map(([server, [m]]) => [server, `${m!.fingerprint}/${m!.status}`]));
}

/** Rows without their ETags and timestamps, for comparing two states of the table. */
async function snapshotOf(rule: string) {
  const rows = await rowsOf(rule);
  return rows.map(({ etag: _e, timestamp: _t, ...rest }) => rest).sort((a, b) => String(a.rowKey).localeCompare(String(b.rowKey)));
}

const servers = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}.corp.contoso.com`);

describe('batched drift moves', () => {
  it('move 500 servers in a few calls per shard, not one per server, and keep the counts exact', async () => {
    const rule = 'batch-rule';
    const names = servers('b', 500);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Warning');

    store.counter.reset();
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    const firsts = { calls: store.counter.count, writes: store.counter.writes };
    await expectConsistent(rule, names);

    store.counter.reset();
    await drift.applyMoves(rule, names.map((s) => move(rule, s, b, 2, a)));
    const moves = { calls: store.counter.count, writes: store.counter.writes };
    const s = await expectConsistent(rule, names);
    expect([...s.perServer.values()].every(([m]) => m!.fingerprint === 'fp-b' && m!.status === 'Warning')).toBe(true);
    // fp-a emptied in every shard: its rows were pruned, not left at zeros.
    expect(s.rows.filter((r) => String(r.rowKey).startsWith(`c|fp-a|`))).toEqual([]);

    // Per shard (about 31 servers here): first joins read the counter row and write one
    // transaction; moves read the two counter rows, write one transaction and prune the emptied row.
    expect(firsts.calls).toBeLessThanOrEqual(2 * DRIFT_SHARDS);
    expect(firsts.writes).toBeLessThanOrEqual(DRIFT_SHARDS);
    expect(moves.calls).toBeLessThanOrEqual(4 * DRIFT_SHARDS);
    expect(moves.writes).toBeLessThanOrEqual(2 * DRIFT_SHARDS);
    // The read-and-compare path costs at least four calls per server (members, old-layout row,
    // counter row, transaction): the batch is far below one.
    expect(moves.calls).toBeLessThan(names.length / 5);
  });

  it('a replayed batch changes nothing', async () => {
    const rule = 'replay-batch-rule';
    const names = servers('r', 40);
    const a = place('fp-a', 'Pass');
    const b = place('fp-a', 'Warning');
    const c = place('fp-c', 'Warning');
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    const batch = names.map((s, i) => (i % 2 === 0 ? move(rule, s, b, 2, a) : move(rule, s, c, 2, a)));
    await drift.applyMoves(rule, batch);
    const before = await snapshotOf(rule);
    await expectConsistent(rule, names);

    store.counter.reset();
    await drift.applyMoves(rule, batch);
    // One refused transaction per shard (every chunk met a member not where its move said), then
    // its servers were read and found in place: nothing else written.
    expect(store.counter.writes).toBe(new Set(names.map(driftShardOf)).size);
    expect(await snapshotOf(rule)).toEqual(before);

    // The first joins replayed too: their anchors exist, so they fail and are read.
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    expect(await snapshotOf(rule)).toEqual(before);
  });

  it('a chunk that meets a stale move falls back, and every server of it ends right', async () => {
    const rule = 'stale-rule';
    // Servers of one shard, so they share one transaction.
    const shard = driftShardOf('s0000.corp.contoso.com');
    const names = servers('s', 400)
      .filter((s) => driftShardOf(s) === shard)
      .slice(0, 12);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Pass');
    const c = place('fp-c', 'Error');
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    // names[0] moved to c already (a later snapshot); names[1] moved to c by a snapshot the batch's is newer than.
    await drift.applyMoves(rule, [move(rule, names[0]!, c, 9, a), move(rule, names[1]!, c, 2, a)]);

    store.counter.reset();
    // The batch believes every server is still at a; names[0]'s move is older than where it is.
    await drift.applyMoves(rule, names.map((s) => move(rule, s, b, 5, a)));
    // One transaction refused, then the read-and-compare path for the chunk's servers.
    expect(store.counter.count).toBeGreaterThan(3 * names.length);
    const places = await placesOf(rule);
    expect(places[names[0]!]).toBe('fp-c/Error');
    expect(places[names[1]!]).toBe('fp-b/Pass');
    for (const s of names.slice(2)) expect(places[s]).toBe('fp-b/Pass');
    await expectConsistent(rule, names);
  });

  it('a first join projected after a later move of its server does not count it twice', async () => {
    const rule = 'reorder-rule';
    const [s] = servers('o', 1);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Warning');
    // The later commit first: its member is not at a yet, so it is read, and joins b.
    await drift.applyMoves(rule, [move(rule, s!, b, 2, a)]);
    await drift.applyMoves(rule, [move(rule, s!, a, 1, null)]);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-b/Warning' });
    await expectConsistent(rule, [s!]);
  });

  it('a move that stays in place changes no count, and a missing member is found by the fallback', async () => {
    const rule = 'stay-rule';
    const [s1, s2] = servers('t', 2);
    const a = place('fp-a', 'Pass');
    await drift.applyMoves(rule, [move(rule, s1!, a, 1, null)]);
    // s2 was never counted, though its move says it is at a (a projection lost before this version).
    await drift.applyMoves(rule, [move(rule, s1!, a, 2, a), move(rule, s2!, a, 2, a)]);
    expect(await placesOf(rule)).toEqual({ [s1!]: 'fp-a/Pass', [s2!]: 'fp-a/Pass' });
    await expectConsistent(rule, [s1!, s2!]);
  });

  it('several moves of one server in one call: its newest counts, after a read', async () => {
    const rule = 'multi-rule';
    const [s] = servers('u', 1);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Pass');
    const c = place('fp-c', 'Error');
    await drift.applyMoves(rule, [move(rule, s!, c, 3, b), move(rule, s!, a, 1, null), move(rule, s!, b, 2, a)]);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-c/Error' });
    await expectConsistent(rule, [s!]);
  });
});

describe('servers leaving a rule (it left the rule set)', () => {
  it('leave in a transaction per shard with their anchors, without reading a member; a replay changes nothing', async () => {
    const rule = 'leave-batch-rule';
    const names = servers('v', 300);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Warning');
    await drift.applyMoves(rule, names.map((s, i) => move(rule, s, i % 2 === 0 ? a : b, 1, null)));
    const leaving = names.slice(0, 200);
    const leaves = leaving.map((s, i) => leave(rule, s, 2, i % 2 === 0 ? a : b));

    store.counter.reset();
    await drift.applyMoves(rule, leaves);
    // Per shard: its two counter rows read, one transaction; prunes of emptied rows at most.
    expect(store.counter.count).toBeLessThanOrEqual(5 * DRIFT_SHARDS);
    const after = await expectConsistent(rule, names.slice(200));
    // Anchors of the servers that left are gone; the others' stay.
    const anchors = after.rows.filter((r) => String(r.rowKey).startsWith('s|')).map((r) => String(r.Server));
    expect(anchors.sort()).toEqual(names.slice(200).sort());

    const before = await snapshotOf(rule);
    await drift.applyMoves(rule, leaves);
    expect(await snapshotOf(rule)).toEqual(before);
  });

  it('a server that left and comes back joins in a batch again (no anchor in the way), counted once', async () => {
    const rule = 'leave-return-rule';
    const names = servers('w', 100);
    const a = place('fp-a', 'Warning');
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    await drift.applyMoves(rule, names.map((s) => leave(rule, s, 2, a)));
    await expectConsistent(rule, []);
    store.counter.reset();
    await drift.applyMoves(rule, names.map((s) => move(rule, s, place('fp-a', 'Pass'), 3, null)));
    // The first joins' transactions succeed (a counter row read and a transaction per shard): no
    // server went through the read-and-compare path, which costs four calls or more a server.
    expect(store.counter.count).toBeLessThanOrEqual(2 * new Set(names.map(driftShardOf)).size);
    const s = await expectConsistent(rule, names);
    expect([...s.perServer.values()].every(([m]) => m!.status === 'Pass')).toBe(true);
  });

  it('a member from a newer snapshot than the leave stays; an old-layout member or an unknown place is read and taken out', async () => {
    const rule = 'leave-read-rule';
    const [s1, s2] = servers('x', 2);
    const a = place('fp-a', 'Pass');
    await drift.applyMoves(rule, [move(rule, s1!, a, 5, null), move(rule, s2!, a, 1, null)]);
    // An earlier commit's leave naming another place: the read finds a newer member.
    await drift.applyMoves(rule, [leave(rule, s1!, 3, place('fp-b', 'Pass'))]);
    await drift.applyMoves(rule, [leave(rule, s1!, 3)]);
    expect(await placesOf(rule)).toEqual({ [s1!]: 'fp-a/Pass', [s2!]: 'fp-a/Pass' });
    await drift.applyMoves(rule, [leave(rule, s2!, 4)]);
    await expectConsistent(rule, [s1!]);
  });
});

describe('members written in the old layout', () => {
  /** Writes a member and its counter row as the store wrote them before members were keyed by place. */
  async function writeOld(rule: string, server: string, at: DriftPlace, minutes: number) {
    const pk = encodeKey(rule);
    const key = driftCountsKey(at.fingerprint, driftShardOf(server));
    await tableOf().call('test', async (t) => {
      await t.createEntity({
        partitionKey: pk,
        rowKey: `m|${encodeKey(server)}`,
        Server: server,
        Fingerprint: at.fingerprint,
        FactsJson: facts(at.fingerprint),
        Status: at.status,
        SourceSnapshotId: `snap-${String(minutes).padStart(6, '0')}`,
        SourceCollectedAt: new Date(T0 + minutes * 60_000),
      });
      const counts = Object.fromEntries(STATUSES.map((s) => [s, s === at.status ? 1 : 0]));
      await t.upsertEntity(driftCountsEntity(rule, key, at.fingerprint, counts, facts(at.fingerprint), [server]), 'Replace');
    });
  }

  it('are read by getMember, moved by a batch (through the fallback) and rewritten in the new layout', async () => {
    const rule = 'legacy-rule';
    const [s1, s2, s3] = servers('l', 3);
    const a = place('fp-a', 'Pass');
    // Three servers in three shards or fewer; each counter row made for one server.
    for (const [i, s] of [s1!, s2!, s3!].entries()) await writeOld(rule, s, place(`fp-${i}`, 'Pass'), 1);
    expect(await drift.getMember(rule, s1!)).toMatchObject({ fingerprint: 'fp-0', status: 'Pass', sourceSnapshotId: 'snap-000001' });

    await drift.applyMoves(rule, [
      move(rule, s1!, a, 2, place('fp-0', 'Pass')),
      // A move whose `from` is not known (an entry of an older version) finds it too.
      move(rule, s2!, place('fp-1', 'Warning'), 2),
      // Counted where it already is: rewritten in the new layout.
      move(rule, s3!, place('fp-2', 'Pass'), 2, place('fp-2', 'Pass')),
    ]);
    const s = await expectConsistent(rule, [s1!, s2!, s3!]);
    expect(Object.fromEntries([...s.perServer].map(([server, [m]]) => [server, m!.rowKey]))).toEqual({
      [s1!]: `m|${s1}|fp-a|Pass`,
      [s2!]: `m|${s2}|fp-1|Warning`,
      [s3!]: `m|${s3}|fp-2|Pass`,
    });
    expect(await drift.getMember(rule, s2!)).toMatchObject({ fingerprint: 'fp-1', status: 'Warning', sourceSnapshotId: 'snap-000002' });
    // A replayed first join of a moved old-layout server meets its anchor.
    await drift.applyMoves(rule, [move(rule, s1!, a, 0, null)]);
    await expectConsistent(rule, [s1!, s2!, s3!]);
  });

  it('an older move never replaces an old-layout member from a newer snapshot', async () => {
    const rule = 'legacy-newer-rule';
    const [s] = servers('n', 1);
    await writeOld(rule, s!, place('fp-new', 'Pass'), 10);
    await drift.applyMoves(rule, [move(rule, s!, place('fp-old', 'Warning'), 5, place('fp-new', 'Pass'))]);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-new/Pass' });
    expect(await drift.getMember(rule, s!)).toMatchObject({ sourceSnapshotId: 'snap-000010' });
  });

  it('a leave finds an old-layout member (its place names a keyed row that is not there) and takes it out', async () => {
    const rule = 'legacy-leave-rule';
    const [s1, s2] = servers('y', 2);
    await writeOld(rule, s1!, place('fp-a', 'Warning'), 1);
    await writeOld(rule, s2!, place('fp-a', 'Pass'), 1);
    await drift.applyMoves(rule, [leave(rule, s1!, 2, place('fp-a', 'Warning'))]);
    expect(await drift.getMember(rule, s1!)).toBeUndefined();
    await expectConsistent(rule, [s2!]);
  });
});

describe('stale moves of a server that came back (A to B to A)', () => {
  const a = place('fp-a', 'Pass');
  const b = place('fp-b', 'Warning');

  it('a move replayed after its server moved away and back fails and changes nothing', async () => {
    const rule = 'aba-rule';
    const [s] = servers('z', 1);
    const join = committed(rule, s!, a, 1, null);
    const toB = committed(rule, s!, b, 2, { at: a, minutes: 1 });
    const backToA = committed(rule, s!, a, 3, { at: b, minutes: 2 });
    for (const m of [join, toB, backToA]) await drift.applyMoves(rule, [m]);
    const before = await snapshotOf(rule);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-a/Pass' });

    // The move to B once more: the member at A is the later commit's, not the one it left.
    await drift.applyMoves(rule, [toB]);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-a/Pass' });
    expect(await snapshotOf(rule)).toEqual(before);
    // So does a stale leave naming the place it was first counted in.
    await drift.applyMoves(rule, [{ ...leave(rule, s!, 2, { ...a, commitId: commitAt(1) }), sourceCommitId: commitAt(2) }]);
    expect(await snapshotOf(rule)).toEqual(before);
    await expectConsistent(rule, [s!]);
  });

  it('of two commits of one snapshot (a post, then its re-evaluation), the later one stays; the very same move again is a no-op', async () => {
    const rule = 'same-source-rule';
    const [s] = servers('q', 1);
    // Both commits carry the snapshot of minute 1: the re-evaluation (commit at minute 2) moved the server to B.
    const posted = committed(rule, s!, a, 1, null);
    const reevaluated: DriftMove = { ...move(rule, s!, b, 1, { ...a, commitId: commitAt(1) }), sourceCommitId: commitAt(2) };
    await drift.applyMoves(rule, [posted]);
    await drift.applyMoves(rule, [reevaluated]);
    const before = await snapshotOf(rule);
    expect(await placesOf(rule)).toEqual({ [s!]: 'fp-b/Warning' });

    // The post's move read and compared (the projector hands over a server's newest move of a batch without `from`).
    const { from: _from, ...postedRead } = posted;
    await drift.applyMoves(rule, [postedRead]);
    expect(await snapshotOf(rule)).toEqual(before);
    await drift.applyMoves(rule, [posted]);
    expect(await snapshotOf(rule)).toEqual(before);
    // The re-evaluation's own move again, batched and read: nothing counted twice, nothing written.
    const { from: _f, ...reevaluatedRead } = reevaluated;
    await drift.applyMoves(rule, [reevaluated]);
    await drift.applyMoves(rule, [reevaluatedRead]);
    expect(await snapshotOf(rule)).toEqual(before);
    await expectConsistent(rule, [s!]);
  });
});

describe('the servers a configuration names', () => {
  it('a configuration whose named servers all moved away names the ones it still counts, as the drift of the rule is read', async () => {
    // The drift route's use case (GET /api/drift) over this store: the rule must be one that declares facts.
    const rule = DRIFT_RULE;
    const queries = new DriftQueries({ drift, rules: RULES, cursors: store.cursors, resultRow: (server, ruleId) => store.readResultRow(server, ruleId) });
    const clusterOf = async (fingerprint: string) => (await queries.fleet(rule, 100, undefined, { warn: () => undefined })).clusters.find((c) => c.fingerprint === fingerprint);
    // Eight servers of one shard: one counter row per configuration, naming five.
    const shard = driftShardOf('k0000.corp.contoso.com');
    const names = servers('k', 400)
      .filter((s) => driftShardOf(s) === shard)
      .slice(0, 8);
    const a = place('fp-a', 'Pass');
    const b = place('fp-b', 'Warning');
    await drift.applyMoves(rule, names.map((s) => move(rule, s, a, 1, null)));
    const named = [...(await clusterOf('fp-a'))!.sample];
    expect(named).toHaveLength(5);

    // The five named move away in one batch: the three left are named instead.
    await drift.applyMoves(rule, named.map((s) => move(rule, s, b, 2, a)));
    const rest = names.filter((s) => !named.includes(s)).sort();
    expect(await clusterOf('fp-a')).toMatchObject({ servers: 3, sample: rest });
    await expectConsistent(rule, names);

    // Two of them leave through the read-and-compare path (their place not known): the last is named.
    await drift.applyMoves(rule, rest.slice(0, 2).map((s) => leave(rule, s, 3)));
    expect(await clusterOf('fp-a')).toMatchObject({ servers: 1, sample: rest.slice(2) });
    await expectConsistent(rule, names.filter((s) => !rest.slice(0, 2).includes(s)));
  });
});

describe('naming the servers of a row counting fewer than a sample holds', { timeout: loadedTimeout(60_000) }, () => {
  it('stops reading member rows once every server the row counts is named', async () => {
    const rule = 'refill-stop';
    const a = place('fp-big', 'Pass');
    const b = place('fp-away', 'Pass');
    // Six servers in one shard whose keys sort first, and 2,000 of the same configuration in other
    // shards after them: the query that names the shard's last server finds it on its first page.
    const shard = driftShardOf('a0000.corp.contoso.com');
    const six = servers('a', 400).filter((s) => driftShardOf(s) === shard).slice(0, 6);
    const others = servers('z', 2_200).filter((s) => driftShardOf(s) !== shard).slice(0, 2_000);
    await drift.applyMoves(rule, [...six, ...others].map((s) => move(rule, s, a, 1, null)));
    const row = (await rowsOf(rule)).find((r) => r.rowKey === driftCountsKey('fp-big', shard))!;
    const named = String(row.Sample).split(' ');
    expect(named).toHaveLength(5);
    const last = six.filter((s) => !named.includes(s));
    expect(last).toHaveLength(1);

    // The five named leave in one batch: the row still counts one server, which must be named.
    store.counter.reset();
    await drift.applyMoves(rule, named.map((s) => move(rule, s, b, 2, a)));
    const calls = store.counter.count;
    const after = (await rowsOf(rule)).find((r) => r.rowKey === driftCountsKey('fp-big', shard))!;
    expect(String(after.Sample)).toBe(last[0]);
    // Two counter reads, one page of member rows, one transaction: not a page per 1,000 members of
    // the configuration after the one server there was to find.
    expect(calls).toBe(4);
  });
});

// Generated batch orders replayed through Azurite: measured 2.8-3.3 s in a full run at load 6-7.
describe('any order the projector could apply batches in', { timeout: loadedTimeout(3_300) }, () => {
  const FPS = ['fp-a', 'fp-b'];
  const STATES = ['Pass', 'Warning', 'Error'];
  // Two servers of one shard (they share transactions and counter rows) and one of another.
  const pool = servers('p', 200);
  const first = pool[0]!;
  const sameShard = pool.find((s) => s !== first && driftShardOf(s) === driftShardOf(first))!;
  const otherShard = pool.find((s) => driftShardOf(s) !== driftShardOf(first))!;
  const SERVERS = [first, sameShard, otherShard];

  // About one commit in five removes the server's row of the rule (the rule left the rule set).
  const commitArb = fc.record({ server: fc.integer({ min: 0, max: SERVERS.length - 1 }), fp: fc.constantFrom(...FPS), status: fc.constantFrom(...STATES), leaves: fc.integer({ min: 0, max: 4 }).map((n) => n === 0) });
  const caseArb = fc.record({
    commits: fc.array(commitArb, { minLength: 1, maxLength: 12 }),
    cuts: fc.array(fc.integer({ min: 1, max: 11 }), { maxLength: 4 }),
  });

  /**
   * The commits of the case as the requests write them (each move names where its server's
   * previous commit put it), cut into batches; within a batch a server moved more than once
   * becomes its newest move without `from`, as the projector hands it over.
   */
  function batchesOf(rule: string, c: { commits: { server: number; fp: string; status: string; leaves: boolean }[]; cuts: number[] }) {
    // Each server's place with the commit that put it there, as its Results row names it.
    const last = new Map<string, DriftPlace>();
    const moves = c.commits.map((x, i): DriftChange => {
      const server = SERVERS[x.server]!;
      if (x.leaves) {
        const from = last.get(server);
        last.delete(server);
        return { ...leave(rule, server, i + 1, from), sourceCommitId: commitAt(i + 1) };
      }
      const m: DriftMove = { ...move(rule, server, place(x.fp, x.status), i + 1, last.get(server) ?? null), sourceCommitId: commitAt(i + 1) };
      last.set(server, { ...place(x.fp, x.status), commitId: commitAt(i + 1) });
      return m;
    });
    const cuts = [...new Set(c.cuts.filter((n) => n < moves.length))].sort((a, b) => a - b);
    const batches: DriftChange[][] = [];
    let start = 0;
    for (const end of [...cuts, moves.length]) {
      const slice = moves.slice(start, end);
      start = end;
      const perServer = new Map<string, DriftChange[]>();
      for (const m of slice) perServer.set(m.server, [...(perServer.get(m.server) ?? []), m]);
      batches.push([...perServer.values()].map((list) => (list.length === 1 ? list[0]! : { ...list[list.length - 1]!, from: undefined })));
    }
    return { batches, last };
  }

  let runs = 0;
  it('batches in order, each replayed any number of times: counts exact, each server where its newest move put it', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 12, maxLength: 12 }), async (c, replays) => {
        const rule = `prop-order-${runs++}`;
        const { batches, last } = batchesOf(rule, c);
        for (const [i, batch] of batches.entries()) for (let k = 0; k <= replays[i]!; k++) await drift.applyMoves(rule, batch);
        await expectConsistent(rule, [...last.keys()]);
        expect(await placesOf(rule)).toEqual(Object.fromEntries([...last].map(([s, p]) => [s, `${p.fingerprint}/${p.status}`])));
      }),
      { numRuns: propertyRuns(25), seed: 20261216 },
    );
  });

  it('batches in order, then earlier ones replayed late (a projector whose lease lapsed): each server stays where its newest move put it', async () => {
    // Two places and a batch per commit, so servers often come back to a place they left; no
    // leaves (a leave replayed before the join it follows is not what this is about, see below).
    const cutEverywhere = Array.from({ length: 11 }, (_, i) => i + 1);
    const joinsOnly = caseArb.map((c) => ({ cuts: cutEverywhere, commits: c.commits.map((x) => ({ ...x, status: 'Pass', leaves: false })) }));
    await fc.assert(
      fc.asyncProperty(joinsOnly, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), async (c, stale) => {
        const rule = `prop-stale-${runs++}`;
        const { batches, last } = batchesOf(rule, c);
        for (const batch of batches) await drift.applyMoves(rule, batch);
        for (const i of stale) await drift.applyMoves(rule, batches[i % batches.length]!);
        await expectConsistent(rule, [...last.keys()]);
        expect(await placesOf(rule)).toEqual(Object.fromEntries([...last].map(([s, p]) => [s, `${p.fingerprint}/${p.status}`])));
      }),
      { numRuns: propertyRuns(25), seed: 20261218 },
    );
  });

  it('whole batches reordered and replayed: counts equal the member rows, one member per server', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.array(fc.nat(), { minLength: 1, maxLength: 10 }), async (c, picks) => {
        const rule = `prop-any-${runs++}`;
        const { batches, last } = batchesOf(rule, c);
        // Every batch at least once, in an order the picks shuffle, plus replays the picks choose.
        const order = batches.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = (picks[i % picks.length] ?? 0) % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const schedule = [...order, ...picks.slice(0, 4).map((p) => p % batches.length)];
        for (const i of schedule) await drift.applyMoves(rule, batches[i]!);
        // A leave run before the join it follows leaves that server counted (the projector never
        // reorders one server's entries): which servers are counted is then not known, but the
        // counts still equal the member rows.
        await expectConsistent(rule, c.commits.some((x) => x.leaves) ? undefined : [...last.keys()]);
      }),
      { numRuns: propertyRuns(25), seed: 20261217 },
    );
  });
});

describe('a move read and compared after its server left, with the Results row as the truth', () => {
  // Stands in for the projector's reads of the Results rows: the member the row says, null for none.
  const rows = new Map<string, DriftMember | null>();
  const asked: string[] = [];
  const truth = async (_rule: string, server: string) => (asked.push(server), rows.get(server) ?? null);
  const a = place('fp-a', 'Pass');
  const b = place('fp-b', 'Warning');
  const c = place('fp-c', 'Error');

  it('a stale move replayed after the leave (a requeued entry, a lapsed projector) does not count the server again', async () => {
    const rule = 'stale-after-leave-rule';
    const [s] = servers('sl', 1) as [string];
    const toB = committed(rule, s, b, 2, { at: a, minutes: 1 });
    await drift.applyMoves(rule, [committed(rule, s, a, 1, null)], truth);
    await drift.applyMoves(rule, [toB], truth);
    // The server was removed (or the rule left): its row is gone, and the leave projected.
    await drift.applyMoves(rule, [{ ...leave(rule, s, 2, { ...b, commitId: commitAt(2) }), sourceCommitId: commitAt(3) }], truth);
    await expectConsistent(rule, []);
    const left = await snapshotOf(rule);
    // The move again, as its entry says and as a requeued entry reads first: nothing changes.
    await drift.applyMoves(rule, [toB], truth);
    await drift.applyMoves(rule, [{ ...toB, from: undefined }], truth);
    expect(await snapshotOf(rule)).toEqual(left);
  });

  it('a stale move after the rule came back puts the server where its newer row says, and that row\'s own move then changes nothing', async () => {
    const rule = 'stale-after-return-rule';
    const [s] = servers('sr', 1) as [string];
    await drift.applyMoves(rule, [committed(rule, s, a, 1, null)], truth);
    await drift.applyMoves(rule, [{ ...leave(rule, s, 1, { ...a, commitId: commitAt(1) }), sourceCommitId: commitAt(3) }], truth);
    // The rule came back and the server has a row from a newer snapshot, not projected yet.
    const back = committed(rule, s, c, 5, null);
    rows.set(s, back);
    await drift.applyMoves(rule, [committed(rule, s, b, 2, { at: a, minutes: 1 })], truth);
    expect(await placesOf(rule)).toEqual({ [s]: 'fp-c/Error' });
    const placed = await snapshotOf(rule);
    await drift.applyMoves(rule, [back], truth);
    expect(await snapshotOf(rule)).toEqual(placed);
    await expectConsistent(rule, [s]);
  });

  it('the newest move, replayed or finding its member missing, still applies as it says', async () => {
    const rule = 'newest-replay-rule';
    const [s1, s2] = servers('nr', 2) as [string, string];
    asked.length = 0;
    await drift.applyMoves(rule, [committed(rule, s1, a, 1, null)], truth);
    // A move that goes through in the batched transaction asks the Results row nothing.
    expect(asked).toEqual([]);
    const moves = [committed(rule, s1, b, 2, { at: a, minutes: 1 }), committed(rule, s2, c, 2, { at: a, minutes: 1 })];
    for (const m of moves) rows.set(m.server, m);
    // s2's earlier projection was lost: its move finds no member where it says, reads, and joins.
    await drift.applyMoves(rule, moves, truth);
    expect(await placesOf(rule)).toEqual({ [s1]: 'fp-b/Warning', [s2]: 'fp-c/Error' });
    const moved = await snapshotOf(rule);
    await drift.applyMoves(rule, moves, truth);
    expect(await snapshotOf(rule)).toEqual(moved);
    await expectConsistent(rule, [s1, s2]);
  });
});

describe('a drift move of a projector whose lease another one took', () => {
  // The Results rows say the server was removed: the newer projector has projected that.
  const truth = async () => null;
  const a = place('fp-a', 'Pass');

  /** Two projectors' leases: the older one's lapsed in a long batch and the newer one took it. */
  async function leases(): Promise<{ older: number; newer: number }> {
    const outbox = new OutboxStore(store);
    // The newer one of a test before gives its lease back, so each test starts from a free lease.
    await outbox.releaseLease('next-projector');
    const now = Date.now();
    const older = await outbox.holdLease('stalled-projector', now, now + 1);
    const newer = await outbox.holdLease('next-projector', now + 2, now + 60_000);
    expect(older).toBeDefined();
    expect(newer).toBeGreaterThan(older!);
    // The older one learns it at its next renewal, not before: meanwhile its writes go on.
    expect(await outbox.renewLease('stalled-projector', older!, now + 60_000)).toBe(false);
    return { older: older!, newer: newer! };
  }

  it('a first join the older one still sends after the newer one projected the join and the server\'s removal is refused: the server stays uncounted', async () => {
    const rule = 'fenced-join-rule';
    const [s] = servers('fj', 1) as [string];
    const { older, newer } = await leases();
    const joins = committed(rule, s, a, 1, null);
    // The newer projector: the server's first join, then its removal (the leave carries the removal's commit).
    await drift.applyMoves(rule, [joins], truth, newer);
    await drift.applyMoves(rule, [{ ...leave(rule, s, 1, { ...a, commitId: commitAt(1) }), sourceCommitId: commitAt(2) }], truth, newer);
    await expectConsistent(rule, []);
    const removed = await snapshotOf(rule);
    // The older projector's batch held the first join: as its entry says, it deletes nothing and
    // creates the anchor and the member, which the removal took away.
    const refused = await drift.applyMoves(rule, [joins], truth, older).then(() => undefined, (error: unknown) => error);
    expect(await placesOf(rule)).toEqual({});
    expect(await snapshotOf(rule)).toEqual(removed);
    expect(refused).toBeInstanceOf(LeaseLostError);
  });

  it('a first join the older one still sends after the newer one projected the join and the removal in one batch is refused: the merged leave found nothing, and stamped the shard', async () => {
    const rule = 'fenced-merged-rule';
    const [s] = servers('fm', 1) as [string];
    const { older, newer } = await leases();
    const joins = committed(rule, s, a, 1, null);
    const removal = { ...leave(rule, s, 1, { ...a, commitId: commitAt(1) }), sourceCommitId: commitAt(2) };
    // The newer projector's batch holds both: the newest (the removal) is read first and finds
    // nothing to take out; it still writes the shard's fence row, once.
    store.counter.reset();
    await drift.applyMoves(rule, [joins, removal], truth, newer);
    expect(store.counter.writes).toBe(1);
    store.counter.reset();
    await drift.applyMoves(rule, [joins, removal], truth, newer);
    expect(store.counter.writes).toBe(0);
    const removed = await snapshotOf(rule);
    const refused = await drift.applyMoves(rule, [joins], truth, older).then(() => undefined, (error: unknown) => error);
    expect(await placesOf(rule)).toEqual({});
    expect(await snapshotOf(rule)).toEqual(removed);
    expect(refused).toBeInstanceOf(LeaseLostError);
  });

  it('a fenced batch of one shard still fits its transactions (the fence row is one more operation)', async () => {
    const rule = 'fenced-shard-rule';
    const { newer } = await leases();
    const all = servers('fs', 2000);
    const oneShard = all.filter((s) => driftShardOf(s) === driftShardOf(all[0]!)).slice(0, 60);
    expect(oneShard).toHaveLength(60);
    const b = place('fp-b', 'Warning');
    await drift.applyMoves(rule, oneShard.map((s) => committed(rule, s, a, 1, null)), truth, newer);
    await drift.applyMoves(rule, oneShard.map((s) => committed(rule, s, b, 2, { at: a, minutes: 1 })), truth, newer);
    expect(new Set(Object.values(await placesOf(rule)))).toEqual(new Set(['fp-b/Warning']));
    await expectConsistent(rule, oneShard);
  });
});
