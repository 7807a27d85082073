// The drift during a re-evaluation after a rule change whose configuration facts changed: servers
// not re-evaluated yet are counted under the facts of the version that evaluated them, the others
// under the new facts, so one configuration shows as two clusters until the pass ends. The answer
// says so (pendingReevaluation, with a sentence), and says nothing once the pass is done, when the
// configuration is one cluster again. A second local host on the same storage loads the new rule
// and runs the re-evaluation job one server per batch; projectors run only when a test drains
// (projectorIntervalMs: 0), so the drift holds exactly what the test had projected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../src/local/host';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, startNewRuleHost } from '../support/drift';
import { post, type Json } from '../support/http';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
let stack: TestStack;
let v2: LocalHost;

async function call(path: string, method = 'GET'): Promise<Json> {
  const r = await fetch(`${v2.baseUrl}/api/${path}`, { method, headers: { 'x-api-key': method === 'GET' ? TEST_KEYS.reader : TEST_KEYS.admin } });
  const body = (await r.json()) as Json;
  expect(r.status, JSON.stringify(body)).toBe(200);
  return body;
}

beforeAll(async () => {
  stack = await startTestStack({ settings: { POSTURE_REEVALUATE_BATCH_SIZE: '1' }, projectorIntervalMs: 0 });
  for (const [i, host] of ['RE01', 'RE02', 'RE03'].entries()) {
    const r = await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + i * 60_000));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  v2 = await startNewRuleHost(stack);
}, 120_000);
afterAll(async () => {
  await v2?.close();
  await stack?.stop();
});

describe('GET /api/drift during a re-evaluation', () => {
  it('says one configuration may show as two clusters until the pass ends; once it ends, one cluster and nothing said', async () => {
    const before = await call(`drift?rule=${RULE}`);
    expect(before.clusters.map((c: Json) => c.servers)).toEqual([3]);

    // One server re-evaluated against the new version (a batch of one), its move projected.
    expect((await call('jobs/reevaluate/run', 'POST')).result).toMatchObject({ status: 'progress', evaluated: 1 });
    await call('jobs/projector/run', 'POST');
    const during = await call(`drift?rule=${RULE}`);
    expect(during.clusters.map((c: Json) => c.servers)).toEqual([2, 1]);
    expect(during.pendingReevaluation).toMatchObject({ ruleVersion: '2.0.0' });
    expect(during.pendingReevaluation.note).toMatch(/^A re-evaluation against version 2\.0\.0 of .* has not finished/);

    for (let i = 0; i < 10 && (await call('jobs/reevaluate/run', 'POST')).result.status !== 'done'; i++);
    await call('jobs/projector/run', 'POST');
    const after = await call(`drift?rule=${RULE}`);
    expect(after.clusters.map((c: Json) => c.servers)).toEqual([3]);
    expect(after.clusters[0].facts['facts.revision']).toBe(2);
    expect(after.pendingReevaluation).toBeNull();
  });
});
