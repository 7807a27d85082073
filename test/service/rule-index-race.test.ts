// Two projectors at once (a lease that lapsed during a long batch) must not let a stale index move
// undo a newer one: a move whose transaction finds the shard's counts row changed since it read it
// reads and compares instead of retrying blindly, and a move under an older lease generation than
// the one that last wrote the shard is refused before it writes — also where the newer one found
// nothing to do there, which still leaves its generation on the shard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWork } from '../../src/app/projection-work';
import { STATUSES } from '../../src/rules/types';
import { LeaseLostError, OutboxStore, RoundTripCounter, RuleIndexStore, type IndexMove } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { ruleIndexGate } from '../support/faults';
import { minutesAgo, post, postUndrained } from '../support/http';
import { serverOf } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestStore, stackTables, startTestStack, type TestStack } from '../support/stack';
import { countsAgree } from '../support/tables';

const gate = ruleIndexGate('testIndexGate');

let stack: TestStack;
let tables: TableClients;
let outbox: OutboxStore;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [gate.policy], projectorIntervalMs: 0 });
  tables = stackTables(stack);
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

const postOnly = (doc: Record<string, unknown>) => postUndrained(stack, doc);

/** A server's test-alpha index rows: status and source snapshot. */
async function indexRows(server: string): Promise<{ status: string; snapshotId: string }[]> {
  const out: { status: string; snapshotId: string }[] = [];
  for await (const e of tables.ruleIndex.listEntities({ queryOptions: { filter: `Server eq '${server}' and RuleId eq 'test-alpha'` } })) out.push({ status: String(e.Status), snapshotId: String(e.SourceSnapshotId) });
  return out;
}

/**
 * A server at Pass (projected), then two changes not projected: Pass → Warning (the stale move a
 * stalled projector holds) and Warning → Pass (the newer one). Their entries are taken out of the
 * outbox: the test plays both projectors itself.
 */
async function twoChanges(host: string): Promise<{ stale: IndexMove; newer: IndexMove; newerSnapshot: string }> {
  expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
  await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20) }));
  const newer = snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) });
  await postOnly(newer);
  const entries = (await outbox.list(100)).filter((e) => e.server === serverOf(host));
  expect(entries).toHaveLength(2);
  await outbox.remove(entries);
  const [first, second] = entries.map((e) => decodeWork(e.payload)!.index.find((m) => m.record.ruleId === 'test-alpha')!);
  expect(first).toMatchObject({ from: 'Pass', record: { status: 'Warning' } });
  return { stale: first!, newer: second!, newerSnapshot: newer.snapshotId as string };
}

describe('a stale index move', () => {
  it('finds the counts row changed since it read it: reads and compares, and leaves the newer row', async () => {
    const host = 'RACE01';
    const { stale, newer, newerSnapshot } = await twoChanges(host);
    const index = new RuleIndexStore(stack.app.projectorStore);
    // The other projector projects both changes (the server's last one, read first) between the
    // stalled one's read of the counts row and its transaction.
    gate.beforeWrite = () => index.applyIndexMoves('test-alpha', [{ record: newer.record, reread: true }]);
    await index.applyIndexMoves('test-alpha', [stale]);
    expect(gate.beforeWrite).toBeUndefined();
    expect(await indexRows(serverOf(host))).toEqual([{ status: 'Pass', snapshotId: newerSnapshot }]);
    await countsAgree(stack);
  });

  it('a first join under an older generation, after a newer one\'s leave of the server found nothing to take out, is refused: the leave stamped the shard once', async () => {
    const host = 'RACE03';
    await postOnly(snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }));
    const entries = (await outbox.list(100)).filter((e) => e.server === serverOf(host));
    await outbox.remove(entries);
    const join = decodeWork(entries[0]!.payload)!.index.find((m) => m.record.ruleId === 'test-alpha')!;
    expect(join.from).toBeUndefined();
    // The server's first join and its removal in one batch of the newer projector: merged into a
    // leave, read first, that finds nothing to take out.
    const leave = { leave: true as const, ruleId: 'test-alpha', server: serverOf(host), sourceSnapshotId: join.record.sourceSnapshotId, sourceCollectedAt: join.record.sourceCollectedAt + 1 };
    const counter = new RoundTripCounter();
    const index = new RuleIndexStore(createTestStore({ connectionString: stack.settings.storageConnectionString, tablePrefix: stack.settings.tablePrefix, statuses: STATUSES, counter }));
    // Its tables checked (created if missing) before counting.
    await index.getRuleCounts(['test-alpha']);
    counter.reset();
    const older = Date.now();
    await index.applyIndexMoves('test-alpha', [leave], older + 1);
    expect(counter.writes).toBe(1);
    counter.reset();
    await index.applyIndexMoves('test-alpha', [leave], older + 1);
    expect(counter.writes).toBe(0);
    await expect(index.applyIndexMoves('test-alpha', [join], older)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await indexRows(serverOf(host))).toEqual([]);
    // Counted as its Results row says once the newer projector projects it.
    await index.applyIndexMoves('test-alpha', [join], older + 1);
    await countsAgree(stack);
  });

  it('under an older lease generation than the one that last wrote its shard is refused, and writes nothing', async () => {
    const host = 'RACE02';
    const { stale, newer, newerSnapshot } = await twoChanges(host);
    const index = new RuleIndexStore(stack.app.projectorStore);
    const older = Date.now();
    await index.applyIndexMoves('test-alpha', [{ record: newer.record, reread: true }], older + 1);
    await expect(index.applyIndexMoves('test-alpha', [stale], older)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await indexRows(serverOf(host))).toEqual([{ status: 'Pass', snapshotId: newerSnapshot }]);
    await countsAgree(stack);
  });
});
