// The expiry timer goes on past a waiver whose owed work keeps failing: every waiver listed after it
// is still ended and re-raises what it held back, and the failing one is counted, logged and done by
// a later run once storage takes it. On Azurite over real HTTP, with a storage policy that loses the
// answer of every write of one waiver's audit events.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { lostAnswers, refusedWrites } from '../support/faults';
import { adminCall, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { reRaisedBy } from '../support/waivers';

const HOUR = 60 * 60_000;
let now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
const lose = lostAnswers('testLoseOneWaiversEvents');
const refuse = refusedWrites('testRefuseExpiryWrites');
const send = (method: string, path: string, body?: unknown) => adminCall(stack, method, path, body);
const waiver = (server: string, hours: number) => ({
  rule: 'test-alpha',
  server,
  justification: 'Accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(now + hours * HOUR).toISOString(),
});
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
/** The waiver's audit events as "revision cause", oldest first. */
const audits = async (id: string) =>
  (await getAll(stack, 'events?kind=waiver')).items
    .filter((e: Json) => e.waiverId === id)
    .map((e: Json) => `${e.snapshotId as string} ${e.cause as string}`)
    .sort();

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [lose.policy, refuse.policy] });
});
afterAll(async () => stack?.stop());

it("a waiver past its expiry is ended, and its findings alert again, though a waiver listed before it keeps failing to write its audit event", async () => {
  const events = tableNames(stack.settings.tablePrefix).events;
  // Every write of a-poison's audit events lands, but its answer is lost on every retry.
  lose.every = true;
  lose.when = ({ url, body, method }) => method !== 'GET' && (decodeURIComponent(url).includes(`/${events}`) || body.includes(`/${events}`)) && body.includes('a-poison');
  expect((await send('PUT', 'waivers/a-poison', waiver(server('POISON1'), 10))).status).toBe(201);
  expect((await send('PUT', 'waivers/b-later', waiver(server('LATER1'), 1))).status).toBe(201);
  // A failing finding on each server, its alert held back by the waiver.
  for (const host of ['POISON1', 'LATER1']) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - 60_000 }))).status).toBe(201);
  await stack.projected();
  now += 2 * HOUR;

  const run = await send('POST', 'jobs/waiver-expiry/run');
  expect((await send('GET', 'waivers/b-later')).body).toMatchObject({ state: 'expired', revision: 2 });
  expect(await audits('b-later')).toEqual(['b-later.r1 waiver-created', 'b-later.r2 waiver-expired']);
  expect(reRaisedBy(stack, 'b-later')).toEqual([[server('LATER1'), 'expired']]);
  expect([run.status, run.body.result]).toEqual([200, { expired: 1, reRaised: 1, failed: 1, baselineAudits: 0, baselineAuditsFailed: 0 }]);
  expect(stack.logs.filter((l) => l.message.startsWith('Waiver a-poison revision 1: the waiver-expiry run could not do what it owes'))).toHaveLength(1);

  // Once storage takes it, the next run does what a-poison owes.
  lose.every = false;
  lose.when = undefined;
  expect((await send('POST', 'jobs/waiver-expiry/run')).body.result).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
  expect(await audits('a-poison')).toEqual(['a-poison.r1 waiver-created']);
});

it('an expiry that storage refuses to write is counted as failed and logged, and a later run ends the waiver', async () => {
  expect((await send('PUT', 'waivers/c-refused', waiver(server('REFUSED1'), 1))).status).toBe(201);
  now += 2 * HOUR;
  refuse.table = tableNames(stack.settings.tablePrefix).waivers;
  refuse.on = true;
  const run = await send('POST', 'jobs/waiver-expiry/run');
  refuse.on = false;
  // Not "claimed by another run": nothing else ended it, and the run must not look healthy.
  expect(run.body.result).toMatchObject({ expired: 0, failed: 1 });
  expect(stack.logs.filter((l) => l.message.startsWith('Waiver c-refused revision 1: the waiver-expiry run could not do what it owes'))).toHaveLength(1);
  // Read as expired (past its date), but not yet ended by the timer: still revision 1, no end.
  expect((await send('GET', 'waivers/c-refused')).body).toMatchObject({ state: 'expired', revision: 1, endedAt: null });

  expect((await send('POST', 'jobs/waiver-expiry/run')).body.result).toMatchObject({ expired: 1, failed: 0 });
  expect((await send('GET', 'waivers/c-refused')).body).toMatchObject({ state: 'expired', revision: 2 });
});
