// A repeat of the current snapshot over rows an earlier version left owing projections writes their
// outbox entry (with a staging row for a body too large for it), then commits the rows without the
// flags. When that commit does not land (another writer took the rows over, or storage refused it
// outright) the entry and its staging row go at once: left, they would keep the summary's counts
// pending until the projector's grace had passed. After an outage, or a conflict that was the
// commit's own answer lost after it landed, the entry stays for the projector.
import type { TableClient } from '@azure/data-tables';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lostAnswers, refusedWrites, transactionGate } from '../support/faults';
import { getAll, minutesAgo, post, type Json } from '../support/http';
import { leaveAsEarlierVersion, PENDING_FLAGS, resultRowsOf } from '../support/pending-flags';
import { idOf, rawTables, serverOf } from '../support/raw-rows';
import { snapshot } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { bigTail, tailRules } from '../support/tail-rules';

const refused = refusedWrites('handoverRefusedResults');
const lost = lostAnswers('handoverLostAnswers');
const gate = transactionGate('handoverResultsGate', 'Results');
let stack: TestStack;
let tables: { results: TableClient; outbox: TableClient };
let raw: ReturnType<typeof rawTables>;
beforeAll(async () => {
  // The projector runs only when the test drains it, so what a request leaves can be read first.
  stack = await startTestStack({ rules: tailRules, projectorIntervalMs: 0, storagePolicies: [refused.policy, lost.policy, gate.policy] });
  tables = stackTables(stack);
  refused.table = 'Results';
  raw = rawTables(stack);
});
afterAll(async () => stack?.stop());
// Whatever a test left waiting goes, so a failed test does not keep the next one's counts pending.
afterEach(async () => {
  for await (const e of tables.outbox.listEntities({ queryOptions: { filter: `Server ge 'handoff' and Server lt 'handofg'`, select: ['PartitionKey', 'RowKey'] } })) {
    await tables.outbox.deleteEntity(String(e.partitionKey), String(e.rowKey));
  }
});

const countsPending = async () => ((await (await stack.request('summary?only=countsPending')).json()) as Json).countsPending;

/**
 * Commits a status change of `host` as an earlier version would have left it (the rows flagged,
 * no entry) and returns its snapshot, whose repeat hands the rows over. `drain`: the earlier
 * snapshot's projections are written first, so the state holds no staging row of its own.
 */
async function owing(host: string, o: { tail?: string; drain?: boolean } = {}): Promise<Json> {
  expect((await post(stack, snapshot({ host, tail: 'first', testState: 'Pass', collectedAt: minutesAgo(20) }))).status).toBe(201);
  const changed = snapshot({ host, tail: o.tail ?? 'second', testState: 'Warning', collectedAt: minutesAgo(10) });
  expect((await post(stack, changed, { drain: o.drain ?? true })).status).toBe(201);
  await leaveAsEarlierVersion(tables, serverOf(host));
  expect(await countsPending()).toBe(false);
  return changed;
}

/** Posts `doc` as its server, an error answer included (post() takes a 500 for a failed test). */
async function send(doc: Json): Promise<Response> {
  const key = await stack.serverKey(serverOf(String(doc.host.name)));
  return stack.request('snapshots', { method: 'POST', key: null, headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(doc) });
}

/** Sends `doc` while the Results table refuses every write with `status`. */
async function sendRefused(status: number, doc: Json): Promise<Response> {
  refused.status = status;
  refused.on = true;
  try {
    return await send(doc);
  } finally {
    refused.on = false;
  }
}

const flagsOf = async (host: string) => (await resultRowsOf(tables.results, serverOf(host))).flatMap((row) => PENDING_FLAGS.filter((f) => row[f] === true));

describe('a hand-over commit that does not land', () => {
  it('taken over by another writer first: a duplicate, and its outbox entry is gone at once', async () => {
    const doc = await owing('HANDOFF1');
    // Another repeat of the snapshot hands the rows over between this one's read and its commit.
    gate.beforeWrite = async () => {
      for (const row of await resultRowsOf(tables.results, serverOf('HANDOFF1'))) {
        await tables.results.updateEntity({ partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), ...Object.fromEntries(PENDING_FLAGS.map((f) => [f, false])) }, 'Merge');
      }
    };
    const res = await send(doc);
    expect(gate.beforeWrite).toBeUndefined(); // it ran

    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).outcome).toBe('duplicate');
    expect(await raw.waitingEntries(serverOf('HANDOFF1'))).toBe(0);
    expect(await countsPending()).toBe(false);
  });

  it('refused outright (400): an error, the rows keep their flags, and its outbox entry is gone at once', async () => {
    const doc = await owing('HANDOFF2');

    const res = await sendRefused(400, doc);

    expect(res.status).toBe(500);
    expect(((await res.json()) as Json).error).toBe('internal_error');
    expect(await flagsOf('HANDOFF2')).toContain('AcceptPending');
    expect(await raw.waitingEntries(serverOf('HANDOFF2'))).toBe(0);
    expect(await countsPending()).toBe(false);
  });

  it('refused outright with a body too large for the entry: its staging row goes too', async () => {
    const doc = await owing('HANDOFF3', { tail: bigTail() });
    expect(await raw.stagedIds(serverOf('HANDOFF3'))).toEqual([]);

    expect((await sendRefused(400, doc)).status).toBe(500);

    expect(await raw.stagedIds(serverOf('HANDOFF3'))).toEqual([]);
    expect(await raw.waitingEntries(serverOf('HANDOFF3'))).toBe(0);
    expect(await countsPending()).toBe(false);
  });

  it('its answer lost after it landed (a retry then conflicts): accepted, and the entry stays to be projected', async () => {
    const doc = await owing('HANDOFF4', { drain: false });
    // The commit reaches storage, its answer does not; the SDK's retry finds the ETags changed.
    lost.when = ({ url, body }) => url.endsWith('$batch') && body.includes('/Results(');
    const res = await send(doc);
    expect(lost.when).toBeUndefined(); // it fired

    expect(await flagsOf('HANDOFF4')).toEqual([]);
    expect(await raw.waitingEntries(serverOf('HANDOFF4'))).toBe(1);
    expect(res.status).toBe(201);
    expect(((await res.json()) as Json).outcome).toBe('accepted');
    expect((await stack.projected()).projected).toBe(1);
    const events = (await getAll(stack, `events?server=${serverOf('HANDOFF4')}&rule=test-tail-0`)).items;
    expect(events.map((e: Json) => e.toStatus)).toEqual(['Warning', 'Pass']);
    expect(await countsPending()).toBe(false);
  });

  // Last: its entry waits out the projector's grace, so counts stay pending for this stack.
  it('after an outage (503): the entry and its staging row stay, as the commit may have landed', async () => {
    const doc = await owing('HANDOFF5', { tail: bigTail() });

    expect((await sendRefused(503, doc)).status).toBe(503);

    expect(await raw.stagedIds(serverOf('HANDOFF5'))).toEqual([idOf(doc)]);
    expect(await raw.waitingEntries(serverOf('HANDOFF5'))).toBe(1);
    expect(await countsPending()).toBe(true);
  });
});
