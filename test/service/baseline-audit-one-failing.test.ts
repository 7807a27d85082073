// The waiver-expiry job writes each rule's owed baseline audit event on its own: one rule whose
// event storage keeps refusing is logged and counted as failed, while the other rule's event is
// still written and the waivers' counts are still answered; a later run writes the refused one once
// storage takes it. Before, the first refusal ended the run with a 503. On Azurite over real HTTP,
// with two rules that declare configuration facts and a storage policy refusing the Events table's
// writes that name one of them.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import type { Rule } from '../../src/rules/types';
import { tableNames } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, serverIdOf } from '../support/drift';
import { refusedWrites } from '../support/faults';
import { adminCall, getAll, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const HOUR = 60 * 60_000;
let now = Date.parse('2026-11-28T00:00:00.000Z');
/** A second rule with configuration facts, under its own id (no guide of its own); listed after the failing one. */
const COPY = 'test-drift-copy';
const copy: Rule = { ...mcafeePort25Blocked, id: COPY, guide: false };
const refused = refusedWrites('testRefuseOneRulesAudit');
let stack: TestStack;
const send = (method: string, path: string, body?: unknown) => adminCall(stack, method, path, body);
/** The baseline audit events as "rule revision cause", sorted. */
const audits = async () =>
  (await getAll(stack, 'events?kind=baseline')).items.map((e: Json) => `${e.ruleId as string} ${e.snapshotId as string} ${e.cause as string}`).sort();
const failedLines = () => stack.logs.filter((l) => l.message.startsWith(`The baseline of ${DRIFT_RULE}: the waiver-expiry run could not write the audit event it owes`));

beforeAll(async () => {
  stack = await startTestStack({ rules: [mcafeePort25Blocked, copy], clock: () => now, storagePolicies: [refused.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
  expect((await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, 'BASE1', now - 60_000))).status).toBe(201);
  await stack.projected();
}, 60_000);
afterAll(async () => stack?.stop());

it("writes the other rule's owed audit event and answers the waivers' counts, though one rule's event keeps being refused", async () => {
  // Both baselines are stored with their audit events owed.
  refused.on = true;
  for (const rule of [DRIFT_RULE, COPY]) expect((await send('PUT', `baselines/${rule}`, { server: serverIdOf('BASE1'), setBy: 'alice' })).status).toBe(201);
  refused.on = false;
  expect(await audits()).toEqual([]);
  // A waiver the same run ends (on the other rule, so its own audit is not refused).
  const waiver = { rule: COPY, server: serverIdOf('BASE1'), justification: 'Accepted until the relay migration.', grantedBy: 'ciso@contoso.com', expiresAt: new Date(now + HOUR).toISOString() };
  expect((await send('PUT', 'waivers/w-copy', waiver)).status).toBe(201);
  now += 2 * HOUR;

  // From now on storage refuses every write of the first rule's audit event, the run's retries too.
  refused.matching = DRIFT_RULE;
  refused.on = true;
  const run = await send('POST', 'jobs/waiver-expiry/run');
  refused.on = false;
  refused.matching = undefined;
  expect([run.status, run.body.result]).toEqual([200, { expired: 1, reRaised: 0, failed: 0, baselineAudits: 1, baselineAuditsFailed: 1 }]);
  expect(await audits()).toEqual([`${COPY} baseline.r1 baseline-set`]);
  expect(failedLines()).toHaveLength(1);
  expect((await send('GET', 'waivers/w-copy')).body).toMatchObject({ state: 'expired' });

  // Once storage takes it, the next run writes the event still owed, and nothing else.
  expect((await send('POST', 'jobs/waiver-expiry/run')).body.result).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 1, baselineAuditsFailed: 0 });
  expect(await audits()).toEqual([`${COPY} baseline.r1 baseline-set`, `${DRIFT_RULE} baseline.r1 baseline-set`].sort());
  expect((await send('POST', 'jobs/waiver-expiry/run')).body.result).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
  expect(failedLines()).toHaveLength(1);
});
