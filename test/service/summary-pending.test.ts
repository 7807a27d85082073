// The summary says when accepted changes are still waiting to be counted (countsPending): false on
// an empty outbox, true from a post until the projector has drained its entry, false again after,
// and the projector's lease row (which stays in the Outbox table) never counts as waiting. Asked
// with only=countsPending it answers that alone, for one storage round trip whatever else the full
// summary would read (active waivers). The projector runs only when a test drains
// (projectorIntervalMs: 0), so "right after a post" holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TEST_KEYS, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

const outboxName = () => tableNames(stack.settings.tablePrefix).outbox;

async function summary() {
  const r = await get(stack, 'summary');
  expect(r.status).toBe(200);
  return r.body as { countsPending: boolean; hosts: number; totals: Record<string, number>; waivedTotals: Record<string, number> };
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
    const client = stackTables(stack).outbox;
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

/** The summary asked for countsPending alone, with what it cost in storage round trips. */
async function pendingOnly(key: keyof typeof TEST_KEYS | null = 'reader') {
  stack.roundTrips.reset();
  const r = await get(stack, 'summary?only=countsPending', { key });
  return { status: r.status, body: r.body as Record<string, unknown>, roundTrips: stack.roundTrips.count, writes: stack.roundTrips.writes };
}

describe('GET /api/summary?only=countsPending', () => {
  it('answers countsPending alone, at the cost of one storage round trip', async () => {
    const r = await pendingOnly();
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ countsPending: false });
    expect(r.roundTrips).toBe(1);
  });

  it('is true while a post is held back, the same as the full summary, and false after the drain', async () => {
    expect((await post(stack, snapshot({ host: 'PEND04', testState: 'Error', collectedAt: Date.now() - 60_000 }), { drain: false })).status).toBe(201);
    const held = await pendingOnly();
    expect(held.body).toEqual({ countsPending: true });
    expect(held.roundTrips).toBe(1);
    expect((await summary()).countsPending).toBe(true);

    await stack.projected();
    const drained = await pendingOnly();
    expect(drained.body).toEqual({ countsPending: false });
    expect(drained.roundTrips).toBe(1);
    expect((await summary()).countsPending).toBe(false);
  });

  it('still costs one round trip with a waiver active, where the full summary reads more', async () => {
    const put = await stack.request('waivers/pending-only', {
      method: 'PUT',
      key: 'admin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rule: 'test-alpha',
        server: 'pend01.corp.contoso.com',
        justification: 'Held back on purpose while the owner replaces the server.',
        grantedBy: 'it-ops',
        expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      }),
    });
    expect(put.status).toBe(201);
    stack.roundTrips.reset();
    const full = await summary();
    expect(full.waivedTotals.Warning).toBe(1);
    expect(stack.roundTrips.count).toBeGreaterThan(2);
    const r = await pendingOnly();
    expect(r.body).toEqual({ countsPending: false });
    expect(r.roundTrips).toBe(1);
  });

  it('takes the same keys as the summary: 401 without or with a wrong key, 403 for a server key, 200 for reader and admin keys', async () => {
    for (const key of [null, 'ingest'] as const) {
      const full = await get(stack, 'summary', { key });
      const only = await pendingOnly(key);
      expect(only.status, String(key)).toBe(full.status);
      expect(only.body.error).toBe(full.body.error);
      expect(only.roundTrips).toBe(0);
    }
    expect((await pendingOnly(null)).status).toBe(401);
    expect((await pendingOnly('ingest')).status).toBe(403);
    expect((await get(stack, 'summary?only=countsPending', { key: null, headers: { 'x-api-key': 'not-a-key' } })).status).toBe(401);
    for (const key of ['reader', 'admin'] as const) expect((await pendingOnly(key)).status).toBe(200);
  });

  it('refuses any other value of only, or only twice, in one sentence and without touching storage', async () => {
    for (const query of ['only=hosts', 'only=countspending', 'only=', 'only=countsPending&only=countsPending', 'pending=true']) {
      stack.roundTrips.reset();
      const r = await get(stack, `summary?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error, query).toBe('invalid_query');
      expect(r.body.message, query).toMatch(/^["A-Z][^\n]*\.$/);
      expect(stack.roundTrips.count, query).toBe(0);
    }
  });
});
