// The re-evaluation notices (pendingReevaluation) of the fleet drift and of the summary's rules
// during passes that leave a rule as it was: a pass after another rule changed says nothing of this
// rule, while a pass that replaces an unfinished one which changed the rule still warns (servers
// carry both versions). And when the re-evaluation state cannot be read, the clusters and the
// counts are answered without the notice. Each release is a local host on the stack's storage;
// re-evaluation runs one server per batch, by its job route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import type { Rule } from '../../src/rules/types';
import { tableNames } from '../../src/store/client';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, port25WithMoreFacts } from '../support/drift';
import { refusedReads } from '../support/faults';
import { get, post, type Json } from '../support/http';
import { betaRule } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const beta = (version: string): Rule => ({ ...betaRule, version });
const refused = refusedReads('testRefuseLifecycleReads');
// The re-evaluation state's row alone: the summary reads the stale markers from the same table.
const refusedState = refusedReads('testRefuseReevalState');
let stack: TestStack;
const hosts: LocalHost[] = [];

/** A release loading `rules` on the stack's storage. */
async function release(rules: readonly Rule[]): Promise<LocalHost> {
  const app = createTestApp({ settings: stack.settings, rules, storeOptions: { maxRetries: 1 } });
  const host = await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 });
  hosts.push(host);
  return host;
}

async function call(baseUrl: string, path: string, method = 'GET'): Promise<Json> {
  const r = await fetch(`${baseUrl}/api/${path}`, { method, headers: { 'x-api-key': method === 'GET' ? TEST_KEYS.reader : TEST_KEYS.admin } });
  const body = (await r.json()) as Json;
  expect(r.status, JSON.stringify(body)).toBe(200);
  return body;
}

const runBatch = async (baseUrl: string) => (await call(baseUrl, 'jobs/reevaluate/run', 'POST')).result.status as string;

/** The summary's notice per rule id. */
async function summaryNotices(baseUrl: string): Promise<Record<string, Json>> {
  return Object.fromEntries((await call(baseUrl, 'summary')).rules.map((r: Json) => [r.ruleId, r.pendingReevaluation]));
}

beforeAll(async () => {
  stack = await startTestStack({ rules: [mcafeePort25Blocked, beta('1.0.0')], settings: { POSTURE_REEVALUATE_BATCH_SIZE: '1' }, projectorIntervalMs: 0, storagePolicies: [refused.policy, refusedState.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).lifecycle;
  refusedState.table = `${refused.table}(PartitionKey='reeval',RowKey='state')`;
  for (const [i, host] of ['PR01', 'PR02', 'PR03'].entries()) {
    const r = await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + i * 60_000));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  // The first release's own pass, finished: where the next one starts from.
  for (let i = 0; i < 10 && (await runBatch(stack.baseUrl)) !== 'done'; i++);
}, 120_000);
afterAll(async () => {
  for (const h of hosts) await h.close();
  await stack?.stop();
});

describe('GET /api/drift and GET /api/summary while a re-evaluation leaves the rule as it was', () => {
  it('says nothing is pending for a rule whose version the pass does not change, on the new release and the old', async () => {
    expect(await summaryNotices(stack.baseUrl)).toEqual({ [DRIFT_RULE]: null, 'test-beta': null });
    const v2 = await release([mcafeePort25Blocked, beta('2.0.0')]);
    expect(await runBatch(v2.baseUrl)).toBe('progress');
    await call(v2.baseUrl, 'jobs/projector/run', 'POST');
    for (const baseUrl of [v2.baseUrl, stack.baseUrl]) {
      const during = await call(baseUrl, `drift?rule=${DRIFT_RULE}`);
      expect(during.clusters.map((c: Json) => c.servers)).toEqual([3]);
      expect(during.pendingReevaluation, baseUrl).toBeNull();
      // The summary's counts of the changed rule mix its two versions meanwhile; the old release names the newer one.
      const notices = await summaryNotices(baseUrl);
      expect(notices[DRIFT_RULE], baseUrl).toBeNull();
      expect(notices['test-beta'], baseUrl).toMatchObject({ ruleVersion: '2.0.0', note: expect.stringMatching(/^A re-evaluation against version 2\.0\.0 of test-beta has not finished: .*counts may move/) });
    }
    // The pass keeps where it started, which the job route shows.
    expect((await call(v2.baseUrl, 'jobs/reevaluate')).pass).toMatchObject({ state: 'waiting', fromRuleVersions: { [DRIFT_RULE]: mcafeePort25Blocked.version, 'test-beta': '1.0.0' } });
  });

  it('still warns when the pass replaces an unfinished one that changed the rule', async () => {
    const v3 = await release([port25WithMoreFacts, beta('2.0.0')]);
    expect(await runBatch(v3.baseUrl)).toBe('progress');
    // Only the other rule changes now, but some servers still carry the rule's version before v3's.
    const v4 = await release([port25WithMoreFacts, beta('3.0.0')]);
    expect(await runBatch(v4.baseUrl)).toBe('progress');
    expect((await call(v4.baseUrl, 'jobs/reevaluate')).pass.fromRuleVersions).toEqual({});
    expect((await call(v4.baseUrl, `drift?rule=${DRIFT_RULE}`)).pendingReevaluation).toMatchObject({ ruleVersion: '2.0.0' });
    expect(await summaryNotices(v4.baseUrl)).toMatchObject({ [DRIFT_RULE]: { ruleVersion: '2.0.0' }, 'test-beta': { ruleVersion: '3.0.0' } });
    // Once v4's pass is done, neither rule owes one.
    for (let i = 0; i < 10 && (await runBatch(v4.baseUrl)) !== 'done'; i++);
    expect(await summaryNotices(v4.baseUrl)).toEqual({ [DRIFT_RULE]: null, 'test-beta': null });
  });
});

describe('GET /api/drift when the re-evaluation state cannot be read', () => {
  it('answers the clusters without the notice, and logs a warning', async () => {
    const before = await get(stack, `drift?rule=${DRIFT_RULE}`);
    expect(before.status).toBe(200);
    refused.on = true;
    const r = await get(stack, `drift?rule=${DRIFT_RULE}`);
    refused.on = false;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.clusters).toEqual(before.body.clusters);
    expect(r.body).not.toHaveProperty('pendingReevaluation');
    expect(Number(r.headers.get('x-entities-read'))).toBe(Number(before.headers.get('x-entities-read')) - 1);
    expect(stack.logs.some((e) => e.level === 'warning' && /without pendingReevaluation/.test(e.message))).toBe(true);
  });
});

describe('GET /api/summary when the re-evaluation state cannot be read', () => {
  it('answers the counts without the notice, and logs a warning', async () => {
    const before = await get(stack, 'summary');
    expect(before.status).toBe(200);
    refusedState.on = true;
    const r = await get(stack, 'summary');
    refusedState.on = false;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const counts = (b: Json) => b.rules.map((x: Json) => [x.ruleId, x.counts]);
    expect(counts(r.body)).toEqual(counts(before.body));
    for (const rule of r.body.rules) expect(rule).not.toHaveProperty('pendingReevaluation');
    for (const rule of before.body.rules) expect(rule).toHaveProperty('pendingReevaluation');
    expect(stack.logs.some((e) => e.level === 'warning' && /summary is answered without pendingReevaluation/.test(e.message))).toBe(true);
  });
});
