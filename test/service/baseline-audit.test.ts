// A baseline change is stored with its audit event owed on the baseline row; when storage refuses the
// event after the change landed, the answer still reports the change, and the event follows at the
// baseline's next change (before that change's own) or at the waiver-expiry job's next run — once.
// Before, the change stood without its event, and the 503 said nothing was stored. On Azurite over
// real HTTP, with a storage policy that refuses writes to the Events table while on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { lostAnswers, refusedWrites } from '../support/faults';
import { getAll, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
const refused = refusedWrites('testRefuseEventWrites');
const lose = lostAnswers('testLoseBaselineClearingAnswer');
let stack: TestStack;

const admin = async (path: string, method: string, body?: unknown) => {
  const r = await stack.request(path, { method, key: 'admin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
};
/** The baseline audit events, oldest first: revision and cause. */
const audits = async () =>
  (await getAll(stack, 'events?kind=baseline')).items
    .map((e: Json) => [e.snapshotId, e.cause])
    .sort((a: string[], b: string[]) => a[0]!.localeCompare(b[0]!));
const owedLines = () => stack.logs.filter((l) => l.message.startsWith(`The baseline of ${RULE} (revision `) && l.message.includes('owed'));
const runJob = async () => (await admin('jobs/waiver-expiry/run', 'POST')).body.result;

beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [refused.policy, lose.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
  for (const [host, fixture] of [
    ['BASE1', DEFAULT_LIST],
    ['BASE2', REMOVED],
  ] as const) {
    expect((await post(stack, fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60_000))).status).toBe(201);
  }
}, 60_000);
afterAll(async () => stack?.stop());

describe('a baseline change whose audit event storage refuses', () => {
  it('is reported as stored, and its event follows at the next change, before that one', async () => {
    refused.on = true;
    const set = await admin(`baselines/${RULE}`, 'PUT', { server: serverIdOf('BASE1'), setBy: 'alice' });
    refused.on = false;
    expect(set.status).toBe(201);
    expect(set.body).toMatchObject({ server: serverIdOf('BASE1'), revision: 1 });
    expect(owedLines()).toHaveLength(1);
    expect(await audits()).toEqual([]);

    const changed = await admin(`baselines/${RULE}`, 'PUT', { server: serverIdOf('BASE2'), setBy: 'bob' });
    expect(changed.status).toBe(200);
    expect(await audits()).toEqual([
      ['baseline.r1', 'baseline-set'],
      ['baseline.r2', 'baseline-changed'],
    ]);
  });

  it('a clearing whose event is refused has it written by the waiver-expiry job, once', async () => {
    refused.on = true;
    const cleared = await admin(`baselines/${RULE}`, 'DELETE');
    refused.on = false;
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ cleared: true, revision: 3 });
    expect((await audits()).map((a: string[]) => a[0])).toEqual(['baseline.r1', 'baseline.r2']);

    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 1, baselineAuditsFailed: 0 });
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await audits()).at(-1)).toEqual(['baseline.r3', 'baseline-deleted']);
    expect(await audits()).toHaveLength(3);
    expect((await admin(`baselines/${RULE}`, 'GET')).body).toMatchObject({ server: null, revision: 3 });
  });

  it("counted by the job once when the clearing of its owed event landed but lost its answer (the resend refused by the row's new ETag)", async () => {
    refused.on = true;
    expect((await admin(`baselines/${RULE}`, 'PUT', { server: serverIdOf('BASE1'), setBy: 'carol' })).status).toBe(201);
    refused.on = false;
    const drift = tableNames(stack.settings.tablePrefix).drift;
    // The job's write of the baseline row that no longer owes the event.
    lose.when = ({ method, url, body }) => method === 'PUT' && decodeURIComponent(url).includes(`/${drift}(`) && body.includes('"RowKey":"baseline"') && !body.includes('AuditOwed');
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 1, baselineAuditsFailed: 0 });
    expect(lose.when).toBeUndefined();
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await audits()).at(-1)).toEqual(['baseline.r4', 'baseline-set']);
    expect(await audits()).toHaveLength(4);
  });
});
