// A waiver change is stored first; its audit event and the alerts it hands back follow. When storage
// refuses those after the change landed, they stay owed on the waiver, not lost: the request still
// answers for the change it stored, and the expiry job (or the next change of the waiver) writes the
// event and logs each alert once — also when two runs of the job meet. Before, a deletion or an
// expiry whose event failed never re-raised the findings it had held back. On Azurite over real
// HTTP, with a storage policy that refuses writes to the Events table while on. An expiry whose
// answer was lost after it landed is known by the run's name on the waiver, so that run counts it
// and re-raises its findings; before, it read as another run's claim and they waited a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { lostAnswers, refusedWrites } from '../support/faults';
import { alertRecords, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
let now = T0;
let stack: TestStack;
const refused = refusedWrites('testRefuseEventWrites');
const lose = lostAnswers('testLoseClearingAnswer');
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const iso = (t: number) => new Date(t).toISOString();

const send = async (method: string, path: string, body?: unknown) => {
  const r = await stack.request(path, { method, key: 'admin', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
};
const waiver = (o: Record<string, unknown>) => ({
  rule: 'test-alpha',
  justification: 'Port 25 blocking is accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: iso(T0 + 7 * DAY),
  ...o,
});
const runJob = async () => {
  const r = await send('POST', 'jobs/waiver-expiry/run');
  return r.status === 200 ? r.body.result : { status: r.status };
};
const audit = async (cause: string, id: string) => (await getAll(stack, `events?cause=${cause}`)).items.filter((e: Json) => e.waiverId === id);
/** WaiverExpired records of the waiver, and the NewFinding records that re-raised a finding of its servers (each test's hosts are named after its waiver). */
const reRaised = (id: string, cause: string) => ({
  expired: alertRecords(stack).filter((r) => r.name === 'FleetPosture.WaiverExpired' && r.fields.waiverId === id).map((r) => r.fields.server),
  findings: alertRecords(stack)
    .filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.cause === cause && r.fields.waived === false && String(r.fields.server).startsWith(id))
    .map((r) => r.fields.server),
});
const owedLines = (id: string) => stack.logs.filter((l) => l.message.startsWith(`Waiver ${id} revision `) && l.message.includes('owed'));

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [refused.policy, lose.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
});
afterAll(async () => stack?.stop());

/** A failing server the waiver `id` holds back, its alert logged waived. */
async function waived(id: string, host: string, o: Record<string, unknown> = {}): Promise<void> {
  expect((await send('PUT', `waivers/${id}`, waiver({ server: server(host), ...o }))).status).toBe(201);
  expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
}

describe('a waiver change whose audit event storage refuses', () => {
  it('a deletion is stored (200) and owes its event and alerts; the expiry job writes and logs them once', async () => {
    await waived('d1', 'D1');
    refused.on = true;
    const del = await send('DELETE', 'waivers/d1');
    refused.on = false;
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ state: 'deleted', revision: 2 });
    expect(owedLines('d1')).toHaveLength(1);
    expect(await audit('waiver-deleted', 'd1')).toEqual([]);
    expect(reRaised('d1', 'waiver-deleted')).toEqual({ expired: [], findings: [] });

    expect(await runJob()).toEqual({ expired: 0, reRaised: 1, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await audit('waiver-deleted', 'd1')).map((e: Json) => e.snapshotId)).toEqual(['d1.r2']);
    expect(reRaised('d1', 'waiver-deleted')).toEqual({ expired: [server('D1')], findings: [server('D1')] });
    expect((await send('DELETE', 'waivers/d1')).status).toBe(404);
  });

  it('an expiry the job claimed but could not follow up is finished by its next run, once', async () => {
    await waived('e1', 'E1', { expiresAt: iso(now + DAY) });
    now += DAY + MIN;
    refused.on = true;
    // Ended (the expiry is stored), its follow-up failed: counted, not the whole run's failure.
    expect(await runJob()).toEqual({ expired: 1, reRaised: 0, failed: 1, baselineAudits: 0, baselineAuditsFailed: 0 });
    refused.on = false;
    expect((await send('GET', 'waivers/e1')).body).toMatchObject({ state: 'expired', revision: 2 });
    expect(reRaised('e1', 'waiver-expired')).toEqual({ expired: [], findings: [] });

    expect(await runJob()).toEqual({ expired: 0, reRaised: 1, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await audit('waiver-expired', 'e1')).map((e: Json) => e.snapshotId)).toEqual(['e1.r2']);
    expect(reRaised('e1', 'waiver-expired')).toEqual({ expired: [server('E1')], findings: [server('E1')] });
  });

  it('a narrowing change owes the alerts of what it no longer covers; the next change of the waiver settles them first', async () => {
    expect((await send('PUT', 'waivers/c1', waiver({ serverPattern: 'c1*.corp.contoso.com', expiresAt: iso(now + 7 * DAY) }))).status).toBe(201);
    for (const host of ['C1A', 'C1B']) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
    refused.on = true;
    const narrowed = await send('PUT', 'waivers/c1', waiver({ serverPattern: 'c1a*', expiresAt: iso(now + 7 * DAY) }));
    refused.on = false;
    expect(narrowed.status).toBe(200);
    expect(narrowed.body).toMatchObject({ revision: 2, serverPattern: 'c1a*' });
    expect(reRaised('c1', 'waiver-changed')).toEqual({ expired: [], findings: [] });

    const again = await send('PUT', 'waivers/c1', waiver({ serverPattern: 'c1a*', justification: 'Accepted until the relay migration, now planned for March.', expiresAt: iso(now + 7 * DAY) }));
    expect(again.status).toBe(200);
    expect(again.body.revision).toBe(3);
    expect((await audit('waiver-changed', 'c1')).map((e: Json) => e.snapshotId).sort()).toEqual(['c1.r2', 'c1.r3']);
    expect(reRaised('c1', 'waiver-changed')).toEqual({ expired: [server('C1B')], findings: [server('C1B')] });
  });

  it('two runs of the job at once log an owed alert once between them', async () => {
    await waived('t1', 'T1');
    refused.on = true;
    expect((await send('DELETE', 'waivers/t1')).status).toBe(200);
    refused.on = false;
    const runs = await Promise.all([runJob(), runJob()]);
    expect(runs.reduce((n, r) => n + (r.reRaised as number), 0)).toBe(1);
    expect(reRaised('t1', 'waiver-deleted')).toEqual({ expired: [server('T1')], findings: [server('T1')] });
    expect(await audit('waiver-deleted', 't1')).toHaveLength(1);
  });

  it('a run whose clearing of the follow-up landed but whose answer was lost still logs the alerts, once', async () => {
    await waived('l1', 'L1');
    refused.on = true;
    expect((await send('DELETE', 'waivers/l1')).status).toBe(200);
    refused.on = false;
    // The clearing reaches storage; its answer does not, and the retry is refused (412).
    lose.when = ({ method, body }) => method !== 'GET' && body.includes('"FollowedUpBy"');
    expect(await runJob()).toEqual({ expired: 0, reRaised: 1, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect(lose.when).toBeUndefined();
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect(reRaised('l1', 'waiver-deleted')).toEqual({ expired: [server('L1')], findings: [server('L1')] });
  });

  it('a deletion followed up late re-raises only what began while the waiver covered it: a finding begun after the deletion alerted already', async () => {
    expect((await post(stack, snapshot({ host: 'G1', testState: 'Pass', collectedAt: now - MIN }))).status).toBe(201);
    expect((await send('PUT', 'waivers/g1', waiver({ serverPattern: 'g1*', expiresAt: iso(now + 7 * DAY) }))).status).toBe(201);
    now += 5 * MIN;
    refused.on = true;
    expect((await send('DELETE', 'waivers/g1')).status).toBe(200);
    refused.on = false;
    // No waiver covers G1 any more: its new finding alerts when it arrives.
    now += 5 * MIN;
    expect((await post(stack, snapshot({ host: 'G1', testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    const g1 = alertRecords(stack).filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.server === server('G1') && r.fields.status === 'Warning');
    expect(g1.map((r) => [r.fields.waived, r.fields.cause])).toEqual([[false, 'snapshot']]);
    expect(await audit('waiver-deleted', 'g1')).toHaveLength(1);
  });

  it('an expiry whose write landed but whose answer was lost is counted and followed up by that run, once', async () => {
    await waived('x1', 'X1', { expiresAt: iso(now + DAY) });
    now += DAY + MIN;
    // The expiry reaches storage; its answer does not, and the retry is refused (412).
    lose.when = ({ method, body }) => method !== 'GET' && body.includes('"State":"expired"');
    expect(await runJob()).toEqual({ expired: 1, reRaised: 1, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect(lose.when).toBeUndefined();
    expect(reRaised('x1', 'waiver-expired')).toEqual({ expired: [server('X1')], findings: [server('X1')] });
    expect(await runJob()).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await audit('waiver-expired', 'x1')).map((e: Json) => e.snapshotId)).toEqual(['x1.r2']);
  });
});
