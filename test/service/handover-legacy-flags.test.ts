// Rows an earlier version committed while it still wrote the fleet-wide projections from the
// request: it flagged what it owed on the rows themselves (EventPending, IndexPending, SyncPending)
// and AcceptPending until it could answer 201. A crash in between left the flags behind. This
// version hands such rows to the projector when the same snapshot is posted again (a collector
// retries a post that got no answer): the retry is answered 201 once, the flags go, and the event,
// the index, the host and the raw snapshot the old version owed are written — exactly once.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAll, post, type Json } from '../support/http';
import { leaveAsEarlierVersion as leave, PENDING_FLAGS as FLAGS, resultRowsOf } from '../support/pending-flags';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let results: TableClient;
let outbox: TableClient;
beforeAll(async () => {
  // The projector runs only when the test drains it, so the committed state can be changed first.
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
  ({ results, outbox } = stackTables(stack));
});
afterAll(async () => stack?.stop());

const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;
const rowsOf = (id: string) => resultRowsOf(results, id);
const leaveAsEarlierVersion = (id: string) => leave({ results, outbox }, id);

describe('rows an earlier version left owing projections', () => {
  it('a repeat of their snapshot answers 201 once, clears the flags, and the owed event, index, host and raw snapshot appear exactly once', async () => {
    const host = 'LEGACY1';
    const id = server(host);
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(20) }))).status).toBe(201);
    const changed = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10), collectorVersion: '9.9.9' });
    expect((await post(stack, changed, { drain: false })).status).toBe(201);
    await leaveAsEarlierVersion(id);
    expect((await stack.projected()).projected).toBe(0);

    const retry = await post(stack, changed, { drain: false });
    expect(retry.status).toBe(201);
    expect(retry.body.outcome).toBe('accepted');
    for (const row of await rowsOf(id)) for (const f of FLAGS) expect(row[f], `${f} on ${String(row.rowKey)}`).toBe(false);

    expect((await stack.projected()).projected).toBe(1);
    const events = (await getAll(stack, `events?server=${id}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Warning', 'Pass']);
    const warnings = (await getAll(stack, `results?rule=test-alpha&status=Warning`)).items;
    expect(warnings.map((r: Json) => r.server)).toContain(id);
    const view = (await (await stack.request(`servers/${encodeURIComponent(id)}`)).json()) as Json;
    expect(view.host.collector.version).toBe('9.9.9');
    expect(view.rawSnapshot.snapshotId).toBe(changed.snapshotId);

    // Handed over once: a further repeat is a plain duplicate and owes nothing.
    const again = await post(stack, changed, { drain: false });
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('duplicate');
    expect((await stack.projected()).projected).toBe(0);
    expect((await getAll(stack, `events?server=${id}&rule=test-alpha`)).items).toHaveLength(2);
  });
});
