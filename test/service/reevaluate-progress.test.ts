// Where a re-evaluation pass stands is visible (GET /api/jobs/reevaluate), and a batch that fails
// gives its lease back, so the next run redoes it at once instead of waiting for the lease to lapse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { tableNames } from '../../src/store/client';
import { refusedWrites } from '../support/faults';
import { get, post, type Json } from '../support/http';
import { alphaRuleV2, betaRule, snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

let now = Date.parse('2026-11-28T06:00:00.000Z');
let stack: TestStack;
let upgraded: LocalHost;
const refused = refusedWrites('testRefuseOutboxWrites');
const SERVERS = ['PROG1', 'PROG2', 'PROG3'];


async function run(baseUrl: string): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${baseUrl}/api/jobs/reevaluate/run`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.admin } });
  return { status: r.status, body: (await r.json()) as Json };
}

async function progress(baseUrl: string): Promise<Json> {
  const r = await fetch(`${baseUrl}/api/jobs/reevaluate`, { headers: { 'x-api-key': TEST_KEYS.reader } });
  expect(r.status).toBe(200);
  return r.json();
}

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, settings: { POSTURE_REEVALUATE_BATCH_SIZE: '2' } });
  for (const host of SERVERS) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - 60_000 }))).status).toBe(201);
  const app = createTestApp({ settings: stack.settings, rules: [alphaRuleV2, betaRule], clock: () => now, storeOptions: { policies: [refused.policy], maxRetries: 1 } });
  refused.table = tableNames(stack.settings.tablePrefix).outbox;
  upgraded = await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 });
});
afterAll(async () => {
  await upgraded?.close();
  await stack?.stop();
});

describe('re-evaluation progress', () => {
  it('shows no pass before any ran, then a finished one for the loaded rules', async () => {
    expect(await progress(stack.baseUrl)).toMatchObject({ job: 'reevaluate', upToDate: false, pass: null, note: expect.stringMatching(/^No re-evaluation pass is recorded yet: /) });
    expect((await run(stack.baseUrl)).body.result.status).toBe('progress');
    expect(await progress(stack.baseUrl)).toMatchObject({
      upToDate: false,
      pass: { state: 'waiting', finishedAt: null, evaluated: 0 },
      note: "The pass for the loaded rule set has re-evaluated 0 servers so far and goes on at the reevaluate timer's next run (POST /api/jobs/reevaluate/run goes on now).",
    });
    expect((await run(stack.baseUrl)).body.result.status).toBe('done');
    const p = await progress(stack.baseUrl);
    expect(p).toMatchObject({ upToDate: true, pass: { state: 'done', newerRelease: false, ruleVersions: { 'test-alpha': '1.0.0', 'test-beta': '1.0.0' }, retired: [] }, note: null });
    expect(p.pass.ruleSetVersion).toBe(p.loadedRuleSetVersion);
    expect(Date.parse(p.pass.finishedAt)).toBe(now);
  });

  it('gives a failed batch\'s lease back, so the next run goes on at once', async () => {
    now += 60_000;
    refused.on = true;
    const failed = await run(upgraded.baseUrl);
    refused.on = false;
    expect(failed.status).toBe(503);
    expect(failed.body.error).toBe('storage_unavailable');
    const between = await progress(upgraded.baseUrl);
    expect(between).toMatchObject({ upToDate: false, pass: { state: 'waiting', finishedAt: null, evaluated: 0, ruleVersions: { 'test-alpha': '2.0.0' } } });
    // The release before sees a newer one's pass, and yields to it.
    expect(await progress(stack.baseUrl)).toMatchObject({ upToDate: false, pass: { newerRelease: true }, note: expect.stringMatching(/^A newer release's pass \(rule set sha256:\w+\) was active within the last hour/) });

    const statuses: string[] = [];
    for (let i = 0; i < 5 && statuses.at(-1) !== 'done'; i++) statuses.push((await run(upgraded.baseUrl)).body.result.status);
    expect(statuses).toEqual(['progress', 'done']);
    expect(await progress(upgraded.baseUrl)).toMatchObject({ upToDate: true, pass: { state: 'done', evaluated: SERVERS.length, changed: SERVERS.length } });
  });

  it('answers 404 for a job that keeps no state, and for no job at all', async () => {
    for (const job of ['stale-hosts', 'nonsense']) {
      const r = await get(stack, `jobs/${job}`);
      expect(r.status, job).toBe(404);
      expect(r.body.error).toBe('not_found');
    }
  });
});
