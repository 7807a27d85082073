// Servers leaving a rule's index against real Azurite (RuleIndexStore.applyIndexMoves with leaves,
// what the projector applies for a rule that left the rule set): a batch of leaves goes in the
// per-shard transactions of the moves, without reading a member; a replayed leave finds its row
// gone and reads instead, changing nothing; a row from a newer snapshot than the leave's stays; a
// move read and compared after its server left goes where the server's Results row says, not back in.
import { describe, expect, it } from 'vitest';
import { STATUSES } from '../../src/rules/types';
import { COUNT_SHARDS, encodeKey, RuleIndexStore, type IndexLeave, type IndexMove, type IndexRecord, type PostureStore } from '../../src/store';
import { onDriftStore } from '../support/drift';

let store: PostureStore;
let index: RuleIndexStore;
onDriftStore((s) => {
  store = s.store;
  index = new RuleIndexStore(s.store);
});

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const servers = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}.corp.contoso.com`);
const source = (minutes: number) => ({ sourceSnapshotId: `snap-${String(minutes).padStart(6, '0')}`, sourceCollectedAt: T0 + minutes * 60_000 });

function row(ruleId: string, server: string, status: string, minutes: number): IndexRecord {
  return { server, ruleId, ruleVersion: '1.0.0', status, reasonCode: `State${status}`, severity: 'Warning', message: { en: status, ja: status }, firstSeen: T0, previousStatus: undefined, ...source(minutes) };
}
const join = (ruleId: string, server: string, status: string, minutes: number): IndexMove => ({ record: row(ruleId, server, status, minutes) });
const leave = (ruleId: string, server: string, minutes: number, from?: string): IndexLeave => ({ leave: true, ruleId, server, ...(from ? { from } : {}), ...source(minutes) });

/** The rule's member rows (server → status) and its counts summed over the shards, checked against each other. */
async function stateOf(ruleId: string): Promise<{ members: Record<string, string>; rows: unknown[] }> {
  const rows = await store.siblingTable('ruleIndex').call('test', async (t) => {
    const out: Record<string, unknown>[] = [];
    for await (const e of t.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(ruleId)}'` } })) out.push(e);
    return out;
  });
  const members = Object.fromEntries(rows.filter((r) => !String(r.rowKey).startsWith('~')).map((r) => [String(r.Server), String(r.Status)]));
  const expected = Object.fromEntries(STATUSES.map((s) => [s, Object.values(members).filter((m) => m === s).length]));
  expect(Object.fromEntries((await index.getRuleCounts([ruleId])).get(ruleId)!)).toEqual(expected);
  return { members, rows: rows.map(({ etag: _e, timestamp: _t, ...rest }) => rest) };
}

describe('servers leaving a rule index', () => {
  it('leave in a transaction per shard, without reading a member, and a replay changes nothing', async () => {
    const rule = 'leave-batch-rule';
    const names = servers('l', 200);
    await index.applyIndexMoves(rule, names.map((s, i) => join(rule, s, i % 2 === 0 ? 'Warning' : 'Pass', 1)));
    const leaving = names.slice(0, 150);

    store.counter.reset();
    await index.applyIndexMoves(rule, leaving.map((s, i) => leave(rule, s, 2, i % 2 === 0 ? 'Warning' : 'Pass')));
    // Per shard: its counts row read, one transaction (about 10 servers a shard here).
    expect(store.counter.count).toBeLessThanOrEqual(2 * COUNT_SHARDS);
    const after = await stateOf(rule);
    expect(Object.keys(after.members).sort()).toEqual(names.slice(150).sort());

    // The same leaves again (the projector ran the entries twice): every transaction fails and its
    // servers are read one by one; none is there, so nothing is written.
    await index.applyIndexMoves(rule, leaving.map((s, i) => leave(rule, s, 2, i % 2 === 0 ? 'Warning' : 'Pass')));
    expect(await stateOf(rule)).toEqual(after);
  });

  it('a leave that does not know where the server is reads it and takes it out', async () => {
    const rule = 'leave-reread-rule';
    const [a, b] = servers('u', 2) as [string, string];
    await index.applyIndexMoves(rule, [join(rule, a, 'Error', 1), join(rule, b, 'Pass', 1)]);
    await index.applyIndexMoves(rule, [leave(rule, a, 2)]);
    expect((await stateOf(rule)).members).toEqual({ [b]: 'Pass' });
  });

  it('a row from a newer snapshot than the leave (the rule came back since) stays', async () => {
    const rule = 'leave-newer-rule';
    const [a] = servers('n', 1) as [string];
    await index.applyIndexMoves(rule, [join(rule, a, 'Warning', 5)]);
    // A leave of an earlier commit that names another status: its delete fails, and the read finds a newer row.
    await index.applyIndexMoves(rule, [leave(rule, a, 3, 'Pass')]);
    await index.applyIndexMoves(rule, [leave(rule, a, 3)]);
    expect((await stateOf(rule)).members).toEqual({ [a]: 'Warning' });
    // The leave of the same commit as the row takes it out.
    await index.applyIndexMoves(rule, [leave(rule, a, 5)]);
    expect((await stateOf(rule)).members).toEqual({});
  });

  it('a server that left and comes back is counted once, under its new status', async () => {
    const rule = 'leave-return-rule';
    const [a] = servers('r', 1) as [string];
    await index.applyIndexMoves(rule, [join(rule, a, 'Warning', 1)]);
    await index.applyIndexMoves(rule, [leave(rule, a, 2, 'Warning')]);
    await index.applyIndexMoves(rule, [join(rule, a, 'Pass', 3)]);
    expect((await stateOf(rule)).members).toEqual({ [a]: 'Pass' });
  });
});

describe('a move read and compared after its server left, with the Results row as the truth', () => {
  // Stands in for the projector's reads of the Results rows: the record the row says, null for none.
  const rows = new Map<string, IndexRecord | null>();
  const asked: string[] = [];
  const truth = async (_rule: string, server: string) => (asked.push(server), rows.get(server) ?? null);
  const move = (ruleId: string, server: string, status: string, minutes: number, from: string): IndexMove => ({ record: row(ruleId, server, status, minutes), from });

  it('a stale move replayed after the leave (a requeued entry, a lapsed projector) does not count the server again', async () => {
    const rule = 'stale-after-leave-rule';
    const [a] = servers('s', 1) as [string];
    await index.applyIndexMoves(rule, [join(rule, a, 'Warning', 1)], undefined, truth);
    await index.applyIndexMoves(rule, [move(rule, a, 'Pass', 2, 'Warning')], undefined, truth);
    // The server was removed (or the rule left): its row is gone, and the leave projected.
    await index.applyIndexMoves(rule, [leave(rule, a, 3, 'Pass')], undefined, truth);
    const left = await stateOf(rule);
    expect(left.members).toEqual({});
    // The move again, as its entry says and as a requeued entry reads first: the index is unchanged.
    await index.applyIndexMoves(rule, [move(rule, a, 'Pass', 2, 'Warning')], undefined, truth);
    await index.applyIndexMoves(rule, [{ record: row(rule, a, 'Pass', 2), reread: true }], undefined, truth);
    expect(await stateOf(rule)).toEqual(left);
  });

  it('a stale move after the rule came back puts the server where its newer row says, and that row\'s own move then changes nothing', async () => {
    const rule = 'stale-after-return-rule';
    const [a] = servers('c', 1) as [string];
    await index.applyIndexMoves(rule, [join(rule, a, 'Warning', 1)], undefined, truth);
    await index.applyIndexMoves(rule, [leave(rule, a, 3, 'Warning')], undefined, truth);
    // The rule came back and the server has an Error row from a newer snapshot, not projected yet.
    rows.set(a, row(rule, a, 'Error', 5));
    await index.applyIndexMoves(rule, [move(rule, a, 'Pass', 2, 'Warning')], undefined, truth);
    expect((await stateOf(rule)).members).toEqual({ [a]: 'Error' });
    // The newer row's first join, projected after: already there, so counted once.
    await index.applyIndexMoves(rule, [join(rule, a, 'Error', 5)], undefined, truth);
    expect((await stateOf(rule)).members).toEqual({ [a]: 'Error' });
  });

  it('the newest move, replayed or finding its row missing, still applies as it says', async () => {
    const rule = 'newest-replay-rule';
    const [a, b] = servers('p', 2) as [string, string];
    asked.length = 0;
    await index.applyIndexMoves(rule, [join(rule, a, 'Warning', 1)], undefined, truth);
    // A move that goes through in the batched transaction asks the Results row nothing.
    expect(asked).toEqual([]);
    rows.set(a, row(rule, a, 'Pass', 2));
    rows.set(b, row(rule, b, 'Error', 2));
    // b's earlier projection was lost: its move finds no row where it says, reads, and joins.
    await index.applyIndexMoves(rule, [move(rule, a, 'Pass', 2, 'Warning'), move(rule, b, 'Error', 2, 'Pass')], undefined, truth);
    const moved = await stateOf(rule);
    expect(moved.members).toEqual({ [a]: 'Pass', [b]: 'Error' });
    await index.applyIndexMoves(rule, [move(rule, a, 'Pass', 2, 'Warning'), move(rule, b, 'Error', 2, 'Pass')], undefined, truth);
    expect(await stateOf(rule)).toEqual(moved);
  });
});
