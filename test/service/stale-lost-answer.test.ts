// A server's stale mark and its return survive storage failures, each reported once. A marker
// whose create lands but whose answer is lost (a 503, retried into a 409) still raises its
// ServerStale record: the marker names the run that created it. Before, the 409 read as "another
// run marked it", and no run ever logged the record while the server showed as stale. A return
// whose event cannot be written is finished by the projector's retry: the marker, claimed for the
// refresh that brought the server back, stays until the event is written. Before, the marker went
// first, and the retry found nothing to report. A claim whose answer was lost after it landed is
// read back as this return's. On Azurite over real HTTP with an injected clock.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { lostAnswers, refusedWrites } from '../support/faults';
import { alertRecords, get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
let now = T0;
let stack: TestStack;
const lose = lostAnswers('testLoseMarkerAnswer');
const refused = refusedWrites('testRefuseEventWrites');

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [lose.policy, refused.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
});
afterAll(async () => stack?.stop());

it('a marker created by a run whose answer was lost is reported by that run, and by no later one', async () => {
  expect((await post(stack, snapshot({ host: 'QUIET1', testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
  now = T0 + 3 * 60 * MIN + 5 * MIN;
  // The marker's create reaches storage; its answer does not.
  lose.when = ({ method, body }) => method === 'POST' && body.includes('"MarkedBy"');
  const run = async () => {
    const r = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
    expect(r.status).toBe(200);
    return ((await r.json()) as Json).result;
  };
  expect(await run()).toMatchObject({ markedStale: 1 });
  expect(lose.when).toBeUndefined();
  expect(await run()).toMatchObject({ markedStale: 0 });
  const stale = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerStale');
  expect(stale.map((r) => r.fields.server)).toEqual(['quiet1.corp.contoso.com']);
  expect((await get(stack, 'servers?stale=true')).body.items.map((i: Json) => i.server)).toEqual(['quiet1.corp.contoso.com']);
});

it('a return whose event storage refuses is reported by the projector\'s retry, once', async () => {
  now += 30 * MIN;
  refused.on = true;
  expect((await post(stack, snapshot({ host: 'QUIET1', testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
  refused.on = false;
  expect(alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerReturned')).toEqual([]);
  await stack.projected();
  await stack.projected();
  const back = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerReturned');
  expect(back.map((r) => [r.fields.server, r.fields.returnedAt])).toEqual([['quiet1.corp.contoso.com', new Date(now).toISOString()]]);
  expect((await getAll(stack, 'events?cause=returned')).items.map((e: Json) => e.server)).toEqual(['quiet1.corp.contoso.com']);
  expect((await get(stack, 'servers?stale=true')).body.items).toEqual([]);
});

it('a return whose claim of the marker landed but whose answer was lost is reported once', async () => {
  expect((await post(stack, snapshot({ host: 'QUIET2', testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
  now += 3 * 60 * MIN + 5 * MIN;
  expect((await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' })).status).toBe(200);
  const staleNow = async () => (await get(stack, 'servers?stale=true')).body.items.map((i: Json) => i.server);
  expect(await staleNow()).toContain('quiet2.corp.contoso.com');
  // The claim (the refresh written on the marker) reaches storage; its answer does not, and the retry is refused (412).
  lose.when = ({ method, body }) => method !== 'GET' && body.includes('"ReturnedAt"');
  expect((await post(stack, snapshot({ host: 'QUIET2', testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
  await stack.projected();
  expect(lose.when).toBeUndefined();
  const back = alertRecords(stack).filter((x) => x.name === 'FleetPosture.ServerReturned' && x.fields.server === 'quiet2.corp.contoso.com');
  expect(back.map((x) => x.fields.returnedAt)).toEqual([new Date(now).toISOString()]);
  expect((await getAll(stack, 'events?cause=returned')).items.filter((e: Json) => e.server === 'quiet2.corp.contoso.com')).toHaveLength(1);
  expect(await staleNow()).not.toContain('quiet2.corp.contoso.com');
});
