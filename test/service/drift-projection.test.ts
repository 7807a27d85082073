// The drift projection end to end: the request names in its outbox entry where each server was
// counted (from its previous Results row), and the projector moves a burst of servers per rule
// and counter shard in a few transactions, reading counter rows only — real port-25 fixtures
// posted over HTTP, Azurite, the local host, the projector drained by the test. A projector whose
// lease another one took while its drift write was on its way is refused by the fence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionStores } from '../../src/app/create-app';
import { RECENT_COMMITS } from '../../src/app/ingest';
import { decodeWork } from '../../src/app/projection-work';
import { Projector } from '../../src/app/projector';
import { DriftStore, driftShardOf, OutboxStore, type DriftMove } from '../../src/store';
import { transactionGate } from '../support/faults';
import { get, postUndrained } from '../support/http';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;

let stack: TestStack;
let minute = 0;
const id = serverIdOf;

// Ten servers in two counter shards: the batched path costs per shard, the fallback per server.
const candidates = Array.from({ length: 400 }, (_, i) => `FLIP${String(i).padStart(3, '0')}`);
const shards = [...new Set(candidates.map((h) => driftShardOf(id(h))))].slice(0, 2);
const HOSTS = shards.flatMap((s) => candidates.filter((h) => driftShardOf(id(h)) === s).slice(0, 5));

/** Posts a fixture as `host` without draining the projector. */
async function postOnly(host: string, fixture: string): Promise<void> {
  await postUndrained(stack, fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + minute++ * 60_000));
}

/** The drift moves the outbox holds for the rule, per server. */
async function pendingMoves(): Promise<Map<string, DriftMove[]>> {
  const entries = await new OutboxStore(stack.app.store).list(1000);
  const out = new Map<string, DriftMove[]>();
  for (const e of entries) for (const m of decodeWork(e.payload)?.drift ?? []) if (m.ruleId === RULE) out.set(m.server, [...(out.get(m.server) ?? []), m]);
  return out;
}

/** The projector's Drift table reads and all its storage calls while it drains. */
async function drainCounted(): Promise<{ driftReads: number; calls: number }> {
  const counter = stack.app.projectorStore.counter;
  counter.reset();
  const run = await stack.projected();
  expect(run).toMatchObject({ status: 'done', dropped: 0, waiting: 0 });
  const driftReads = [...counter.byTable].filter(([table]) => table.endsWith('Drift')).reduce((n, [, c]) => n + c, 0);
  return { driftReads, calls: counter.count };
}

/** Holds the next drift transaction while another projector takes its turn. */
const driftGate = transactionGate('testDriftGate', 'Drift');

beforeAll(async () => {
  stack = await startTestStack({ projectorIntervalMs: 0, storagePolicies: [driftGate.policy] });
}, 120_000);
afterAll(async () => stack?.stop());

describe('the drift projection of a burst', () => {
  it('first posts: the entries say the servers were not counted, and they join in a transaction per shard', async () => {
    for (const h of HOSTS) await postOnly(h, DEFAULT_LIST);
    const moves = await pendingMoves();
    expect([...moves.keys()].sort()).toEqual(HOSTS.map(id).sort());
    for (const [, list] of moves) expect(list.map((m) => m.from)).toEqual([null]);

    const { driftReads } = await drainCounted();
    // Per shard one counter row and the shard's fence row read; the read-and-compare path would read three rows per server.
    expect(driftReads).toBeLessThanOrEqual(2 * shards.length);
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.body).toMatchObject({ servers: HOSTS.length, configurations: 1 });
  });

  it('a configuration change: the entries name the place each server leaves, and the projector moves them without reading a member', async () => {
    const before = (await get(stack, `drift?rule=${RULE}`)).body.clusters[0];
    // The commit that placed each server, as its Results row names it: its member row's key ends with it.
    const placedBy = new Map(await Promise.all(HOSTS.map(async (h) => [id(h), (await stack.app.store.readResultRow(id(h), RULE))?.driftCommitId] as const)));
    for (const h of HOSTS) await postOnly(h, REMOVED);
    const moves = await pendingMoves();
    for (const [server, list] of moves) {
      expect(list).toHaveLength(1);
      expect(list[0]!.from).toEqual({ fingerprint: before.fingerprint, status: 'Pass', commitId: placedBy.get(server) });
      expect(placedBy.get(server)).toBeDefined();
      expect(list[0]).toMatchObject({ status: 'Warning' });
      expect(list[0]!.fingerprint).not.toBe(before.fingerprint);
    }

    const { driftReads, calls } = await drainCounted();
    // Two counter rows per shard (the one left, the one joined) and its fence row, and the emptied ones deleted.
    expect(driftReads).toBeLessThanOrEqual(3 * shards.length + shards.length);
    expect(driftReads).toBeLessThan(HOSTS.length);
    expect(calls).toBeGreaterThan(0);
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.body).toMatchObject({ servers: HOSTS.length, configurations: 1 });
    expect(r.body.clusters[0]).toMatchObject({ servers: HOSTS.length, counts: { Warning: HOSTS.length, Pass: 0 } });

    // One server's drift reads its member where the move put it.
    const one = await get(stack, `servers/${id(HOSTS[0]!)}/drift?rule=${RULE}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ fingerprint: r.body.clusters[0].fingerprint, status: 'Warning', matches: true });
  });

  it('two changes of a server in one batch: it lands where the newest says', async () => {
    const [h] = HOSTS;
    await postOnly(h!, DEFAULT_LIST);
    await postOnly(h!, REMOVED);
    await postOnly(h!, DEFAULT_LIST);
    expect((await pendingMoves()).get(id(h!))).toHaveLength(3);
    await stack.projected();
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.body.servers).toBe(HOSTS.length);
    const one = await get(stack, `servers/${id(h!)}/drift?rule=${RULE}`);
    expect(one.body).toMatchObject({ status: 'Pass', matches: false });
    expect(r.body.clusters.map((c: { servers: number }) => c.servers)).toEqual([HOSTS.length - 1, 1]);
  });
});

describe('a stale entry projected again after its server came back (A to B to A)', () => {
  it('names the commit that placed the server, and leaves the server where its newest commit put it', async () => {
    const h = 'ABA001';
    await postOnly(h, DEFAULT_LIST);
    await stack.projected();
    const first = await stack.app.store.readResultRow(id(h), RULE);
    expect(first?.driftCommitId).toBeDefined();
    await postOnly(h, REMOVED);
    // The entry of the move to B, kept as a projector whose lease lapsed mid-batch holds it.
    const stale = (await new OutboxStore(stack.app.store).list(1000)).find((e) => e.server === id(h))!;
    const toB = decodeWork(stale.payload)!.drift!.find((m) => m.ruleId === RULE)!;
    // It names the commit that put the server where it leaves: the first post's.
    expect(toB.from).toEqual({ fingerprint: first!.fingerprint, status: 'Pass', commitId: first!.driftCommitId });
    expect(toB.sourceCommitId).toBe(stale.commitId);
    await stack.projected();
    expect((await stack.app.store.readResultRow(id(h), RULE))?.driftCommitId).toBe(stale.commitId);
    await postOnly(h, DEFAULT_LIST);
    await stack.projected();
    const back = await get(stack, `servers/${id(h)}/drift?rule=${RULE}`);
    expect(back.body).toMatchObject({ status: 'Pass' });

    // The overlapping projector runs the old entry again: the move to B finds the member at A
    // is a later commit's, and changes nothing.
    const before = await get(stack, `drift?rule=${RULE}`);
    await new OutboxStore(stack.app.store).put({ server: stale.server, commitId: stale.commitId, writtenAt: stale.writtenAt, payload: stale.payload });
    expect(await stack.projected()).toMatchObject({ projected: 1, dropped: 0 });
    const after = await get(stack, `servers/${id(h)}/drift?rule=${RULE}`);
    expect(after.body).toMatchObject({ fingerprint: back.body.fingerprint, status: 'Pass' });
    expect((await get(stack, `drift?rule=${RULE}`)).body).toEqual(before.body);
  });
});

describe('a projector whose lease another one took while its drift write was on its way', () => {
  it('is refused once the other one projected the server\'s first post and its removal: the removed server is not counted again', async () => {
    // Two servers of one shard: the first one's projection leaves the shard's fence row behind.
    const names = Array.from({ length: 100 }, (_, i) => `FENCE${String(i).padStart(2, '0')}`);
    const [neighbour, h] = names.filter((n) => driftShardOf(id(n)) === driftShardOf(id(names[0]!))) as [string, string];
    await postOnly(neighbour, DEFAULT_LIST);
    await stack.projected();
    const before = (await get(stack, `drift?rule=${RULE}`)).body.servers as number;
    await postOnly(h, DEFAULT_LIST);
    const store = stack.app.projectorStore;
    const tables = stackTables(stack);
    const older = new Projector({ store, ...projectionStores(store), outbox: new OutboxStore(store), drift: new DriftStore(store), waivers: async () => () => undefined }, RECENT_COMMITS);
    driftGate.beforeWrite = async () => {
      // Its renewals stalled (storage throttling) and the lease lapsed: the app's projector takes
      // it, projects the first post, and then the server's removal.
      await tables.outbox.updateEntity({ partitionKey: '~lease', rowKey: 'projector', Until: new Date(0) }, 'Merge');
      expect(await stack.projected()).toMatchObject({ status: 'done', projected: 1 });
      const removed = await stack.request(`servers/${encodeURIComponent(id(h))}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
      expect(removed.status, await removed.text()).toBe(200);
      expect(await stack.projected()).toMatchObject({ status: 'done', projected: 1 });
      expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(before);
    };
    // The older projector's first join, sent after that as its entry says, meets the fence.
    const lines: string[] = [];
    const run = await older.drain({ log: (m) => lines.push(m) });
    expect(driftGate.beforeWrite).toBeUndefined();
    expect(await new DriftStore(stack.app.store).getMember(RULE, id(h))).toBeUndefined();
    expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(before);
    expect(run).toMatchObject({ status: 'busy', projected: 0 });
    expect(lines.some((l) => /later lease/.test(l))).toBe(true);
  });
});
