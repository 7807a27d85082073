// A commit storage refuses outright (a 4xx: too large, a bad row) did not land, so the outbox entry
// the request wrote before it must go at once: left, it keeps the summary's counts pending until
// the projector's grace has passed. After an outage (a 503) whether the commit landed is unknown,
// and the entry stays for the projector to decide.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxStore, tableNames } from '../../src/store';
import { refusedWrites } from '../support/faults';
import { post, type Json } from '../support/http';
import { serverOf } from '../support/raw-rows';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const refused = refusedWrites('resultsRefused');
let stack: TestStack;
let outbox: OutboxStore;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [refused.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).results;
  outbox = new OutboxStore(stack.app.projectorStore);
});
afterAll(async () => stack?.stop());

/** Posts `doc` as its server while the Results table refuses every write with `status`. */
async function postRefused(status: number, doc: Json): Promise<Response> {
  const key = await stack.serverKey(serverOf(String(doc.host.name)));
  refused.status = status;
  refused.on = true;
  try {
    return await stack.request('snapshots', { method: 'POST', key: null, headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(doc) });
  } finally {
    refused.on = false;
  }
}
const countsPending = async () => ((await (await stack.request('summary?only=countsPending')).json()) as Json).countsPending;
const entriesOf = async (host: string) => (await outbox.list(100)).filter((e) => e.server === serverOf(host));

describe('a results commit storage refuses', () => {
  it('refused outright (400): the answer is an error, no result is kept, and its outbox entry is gone at once', async () => {
    await post(stack, snapshot({ host: 'REFUSE01' }), { drain: false }).then((r) => expect(r.status).toBe(201));
    await stack.projected();
    expect(await countsPending()).toBe(false);

    const res = await postRefused(400, snapshot({ host: 'REFUSE01', testState: 'Error' }));

    // Not the sender's fault and not an outage: the service's own error, with what it logged.
    expect(res.status).toBe(500);
    expect(((await res.json()) as Json).error).toBe('internal_error');
    expect(await entriesOf('REFUSE01')).toEqual([]);
    expect(await countsPending()).toBe(false);
    const kept = (await (await stack.request(`servers/${serverOf('REFUSE01')}`)).json()) as Json;
    expect(kept.results.map((r: Json) => r.status)).not.toContain('Error');
  });

  it('after an outage (503): the entry stays, as the commit may have landed', async () => {
    await post(stack, snapshot({ host: 'REFUSE02' }), { drain: false }).then((r) => expect(r.status).toBe(201));
    await stack.projected();

    const res = await postRefused(503, snapshot({ host: 'REFUSE02', testState: 'Error' }));

    expect(res.status).toBe(503);
    expect(await entriesOf('REFUSE02')).toHaveLength(1);
    expect(await countsPending()).toBe(true);
  });
});
