// A server's change set aside by the projector (held) and requeued after an admin removed the server:
// its moves are older than the removal's leaves, and once those have run the rule index and the drift
// hold nothing of the server, so only its Results row (a removal marker) tells the moves are stale.
// Requeued and projected, the change must not count the removed server again; its events still land.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OutboxStore } from '../../src/store';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { get, getAll, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { countsAgree } from '../support/tables';

const MIN = 60_000;
let now = Date.now() - 60 * MIN;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ clock: () => now, projectorIntervalMs: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

const KEPT = serverIdOf('KEPT01');
const GONE = serverIdOf('GONE01');
const hostOf = (server: string) => server.split('.')[0]!.toUpperCase();
async function post(server: string, fixture: string): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, hostOf(server), now - MIN);
  const res = await fetch(`${stack.baseUrl}/api/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(server) }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
}

/** What the fleet views count for the drift rule: the summary's counts, the servers indexed, the drift. */
async function counted() {
  const summary = await get(stack, 'summary');
  const counts = summary.body.rules.find((r: Json) => r.ruleId === DRIFT_RULE).counts as Record<string, number>;
  const indexed = (await getAll(stack, `results?rule=${DRIFT_RULE}`)).items.map((r: Json) => r.server).sort();
  const drift = await get(stack, `drift?rule=${DRIFT_RULE}`);
  return { counts: Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)), indexed, drift: drift.body };
}

it('a held change requeued after its server was removed does not count the server again', async () => {
  for (const server of [KEPT, GONE]) await post(server, REMOVED);
  await stack.projected();
  now += 10 * MIN;
  // GONE01 changes configuration and verdict; the projector sets that change aside (held).
  await post(GONE, DEFAULT_LIST);
  const outbox = new OutboxStore(stack.app.projectorStore);
  const [entry] = await outbox.list(10);
  expect(entry?.server).toBe(GONE);
  await outbox.hold(entry!, 'injected failure', true, now);

  const removal = await stack.request(`servers/${GONE}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
  expect(removal.status).toBe(200);
  await stack.projected();
  const afterRemoval = await counted();
  expect(afterRemoval.indexed).toEqual([KEPT]);
  expect(afterRemoval.counts).toEqual({ Warning: 1 });
  expect(afterRemoval.drift).toMatchObject({ servers: 1, configurations: 1 });

  // The operator requeues the held change once a fix is deployed; the projector runs it.
  const requeue = await stack.request('jobs/requeue-held/run', { method: 'POST', key: 'admin' });
  expect(((await requeue.json()) as Json).result).toMatchObject({ requeued: 1 });
  expect(await stack.projected()).toMatchObject({ projected: 1, held: 0 });
  expect(await outbox.list(10)).toEqual([]);
  expect(await outbox.listHeld(10)).toEqual([]);

  const afterRequeue = await counted();
  expect(afterRequeue.indexed, 'rule index').toEqual(afterRemoval.indexed);
  expect(afterRequeue.counts, 'counts').toEqual(afterRemoval.counts);
  expect(afterRequeue.drift, 'drift').toEqual(afterRemoval.drift);
  await countsAgree(stack, DRIFT_RULE);
  // The change itself is not lost: its event is in the removed server's history.
  const history = (await getAll(stack, `events?server=${GONE}&rule=${DRIFT_RULE}`)).items.map((e: Json) => e.toStatus);
  expect(history).toContain('Pass');
});
