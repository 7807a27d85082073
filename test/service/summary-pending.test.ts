// The summary says when accepted changes are still waiting to be counted (countsPending): false on
// an empty outbox, true from a post until the projector has drained its entry, false again after,
// and the projector's lease row (which stays in the Outbox table) never counts as waiting. The
// projector runs only when a test drains (projectorIntervalMs: 0), so "right after a post" holds.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConnectionString, tableNames } from '../../src/store';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

const outboxName = () => tableNames(stack.settings.tablePrefix).outbox;

async function summary() {
  const r = await get(stack, 'summary');
  expect(r.status).toBe(200);
  return r.body as { countsPending: boolean; hosts: number; totals: Record<string, number> };
}

describe('GET /api/summary: countsPending', () => {
  it('is false on an empty outbox, at the cost of one read of the Outbox table', async () => {
    stack.roundTrips.reset();
    const s = await summary();
    expect(s.countsPending).toBe(false);
    expect(s.hosts).toBe(0);
    expect(stack.roundTrips.byTable.get(outboxName())).toBe(1);
  });

  it('is true right after a post, while the counts do not hold it yet, and false once the projector drained it', async () => {
    const posted = await post(stack, snapshot({ host: 'PEND01', testState: 'Warning', collectedAt: Date.now() - 60_000 }), { drain: false });
    expect(posted.status).toBe(201);
    const before = await summary();
    expect(before.countsPending).toBe(true);
    expect(before.hosts).toBe(0);
    // Asking again changes nothing by itself: only the projector counts.
    expect((await summary()).countsPending).toBe(true);

    const run = await stack.projected();
    expect(run.projected).toBe(1);
    const after = await summary();
    expect(after.countsPending).toBe(false);
    expect(after.hosts).toBe(1);
    expect(after.totals.Warning).toBe(1);
  });

  it('is false with only the projector\'s lease row in the Outbox table', async () => {
    const client = TableClient.fromConnectionString(resolveConnectionString(stack.settings.storageConnectionString ?? ''), outboxName(), { allowInsecureConnection: true });
    const rows: string[] = [];
    for await (const e of client.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) rows.push(`${e.partitionKey}/${e.rowKey}`);
    // The drain of the test before took the lease and left its row behind.
    expect(rows).toEqual(['~lease/projector']);
    expect((await summary()).countsPending).toBe(false);
  });

  it('stays true for every post of a burst until the last entry is drained', async () => {
    for (const host of ['PEND02', 'PEND03']) {
      expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: Date.now() - 60_000 }), { drain: false })).status).toBe(201);
    }
    expect((await summary()).countsPending).toBe(true);
    await stack.projected();
    const after = await summary();
    expect(after.countsPending).toBe(false);
    expect(after.hosts).toBe(3);
  });
});
