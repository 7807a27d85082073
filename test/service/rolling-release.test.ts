// Two releases of the service on one storage account, as during a deployment: the old one loads
// rule A, the new one A and an added rule. Once the new release has written a server's rows, the
// old one must leave them alone, or each turn between the two rule sets alerts on the added rule
// again. An hour after the new release last wrote, the old one is taken for a rollback and serves
// as before. A second fleet checks a release that retires the added rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostureApp } from '../../src/app/create-app';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import type { Rule } from '../../src/rules/types';
import type { Json } from '../support/http';
import { alphaRule, snapshot } from '../support/snapshots';
import { createTestApp, type LogEntry, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

/** The rule the new release adds: alpha's logic under another id, so its verdicts are known. */
const added: Rule = { ...alphaRule, id: 'test-added', title: { en: 'Test added', ja: 'テスト 追加' } };
const HOUR = 60 * 60_000;

interface Release {
  readonly app: PostureApp;
  readonly host: LocalHost;
  readonly logs: LogEntry[];
}

async function release(stack: TestStack, rules: readonly Rule[], clock: () => number, retiredRuleIds?: readonly string[]): Promise<Release> {
  const app = createTestApp({ settings: stack.settings, rules, retiredRuleIds, clock, storeOptions: { maxRetries: 1 } });
  const logs: LogEntry[] = [];
  return { app, logs, host: await startLocalHost({ app, port: 0, log: (e) => logs.push(e), projectorIntervalMs: 0 }) };
}

async function postTo(stack: TestStack, baseUrl: string, doc: Record<string, unknown>, server: string): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(server) },
    body: JSON.stringify(doc),
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

async function reevaluate(baseUrl: string): Promise<Json> {
  const r = await fetch(`${baseUrl}/api/jobs/reevaluate/run`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.admin } });
  expect(r.status).toBe(200);
  return ((await r.json()) as Json).result;
}

/** Runs the re-evaluation job until it has nothing left to do. */
async function reevaluateAll(baseUrl: string): Promise<void> {
  for (let i = 0; i < 20; i++) if (!['progress', 'busy'].includes((await reevaluate(baseUrl)).status)) return;
  throw new Error('The re-evaluation pass did not finish.');
}

/**
 * Rule id → status, of one server's stored results, read from storage: the API of a release lists
 * only the rules that release loads.
 */
async function rowsOf(stack: TestStack, server: string): Promise<Record<string, string>> {
  return Object.fromEntries((await stack.app.store.readServer(server)).map((r) => [r.ruleId, r.status]));
}

const newFindings = (logs: readonly LogEntry[], rule: string) =>
  logs.flatMap((l) => (l.message.startsWith('FleetPosture.NewFinding ') ? [JSON.parse(l.message.slice('FleetPosture.NewFinding '.length)) as Json] : [])).filter((r) => r.rule === rule);

describe('a release that adds a rule, beside the old one', () => {
  let now = Date.parse('2026-11-28T06:00:00.000Z');
  const clock = () => now;
  let old: TestStack;
  let newer: Release;
  const servers: string[] = [];
  const logs = () => [...old.logs, ...newer.logs];

  beforeAll(async () => {
    old = await startTestStack({ rules: [alphaRule], clock, projectorIntervalMs: 0 });
    newer = await release(old, [alphaRule, added], clock);
    for (const host of ['ROLL1', 'ROLL2', 'ROLL3']) {
      const r = await postTo(old, old.baseUrl, snapshot({ host, testState: 'Warning', collectedAt: now - 10 * 60_000 }), `${host.toLowerCase()}.corp.contoso.com`);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      servers.push(r.body.server);
    }
    // The projector stores the raw snapshots re-evaluation reads.
    await old.projected();
    now += 60_000;
    await reevaluateAll(newer.host.baseUrl);
    await old.projected();
  }, 120_000);
  afterAll(async () => {
    await newer?.host.close();
    await old?.stop();
  });

  it('gives every server a result of the added rule, each alerted once', async () => {
    for (const s of servers) expect(await rowsOf(old, s)).toEqual({ 'test-alpha': 'Warning', 'test-added': 'Warning' });
    expect(newFindings(logs(), 'test-added').map((r) => r.server).sort()).toEqual([...servers].sort());
  });

  it('keeps the old release from taking the re-evaluation pass back', async () => {
    expect(await reevaluate(old.baseUrl)).toMatchObject({ status: 'superseded', evaluated: 0 });
    expect(await old.app.reevaluation.reevaluateServer(servers[0]!)).toEqual({ outcome: 'current', changes: 0 });
    await old.projected();
    for (const s of servers) expect(await rowsOf(old, s)).toEqual({ 'test-alpha': 'Warning', 'test-added': 'Warning' });
  });

  it('answers a snapshot posted to the old release 503, writing nothing, and the new release takes it', async () => {
    now += 60_000;
    const doc = snapshot({ host: 'ROLL1', testState: 'Error', collectedAt: now - 30_000 });
    const refused = await postTo(old, old.baseUrl, doc, servers[0]!);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('deployment_in_progress');
    expect(refused.headers.get('retry-after')).toBe('30');
    await old.projected();
    expect(await rowsOf(old, servers[0]!)).toEqual({ 'test-alpha': 'Warning', 'test-added': 'Warning' });

    const taken = await postTo(old, newer.host.baseUrl, doc, servers[0]!);
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    await old.projected();
    expect(await rowsOf(old, servers[0]!)).toEqual({ 'test-alpha': 'Error', 'test-added': 'Error' });
    // Still one first finding per server of the added rule: nothing made it new twice.
    expect(newFindings(logs(), 'test-added').filter((r) => r.status === 'Warning').map((r) => r.server).sort()).toEqual([...servers].sort());
  });

  it('lets the old release serve again an hour after the new one last wrote (a rollback)', async () => {
    now += HOUR + 60_000;
    const r = await postTo(old, old.baseUrl, snapshot({ host: 'ROLL2', testState: 'Warning', collectedAt: now - 30_000 }), servers[1]!);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await old.projected();
    expect(await rowsOf(old, servers[1]!)).toEqual({ 'test-alpha': 'Warning' });
    // Its pass takes the other servers back to its own rule set too, and then says so.
    await newer.host.close();
    await old.projected();
    await reevaluateAll(old.baseUrl);
    await old.projected();
    for (const s of servers) expect(Object.keys(await rowsOf(old, s)), s).toEqual(['test-alpha']);
    const progress = (await (await fetch(`${old.baseUrl}/api/jobs/reevaluate`, { headers: { 'x-api-key': TEST_KEYS.reader } })).json()) as Json;
    expect(progress).toMatchObject({ upToDate: true, pass: { state: 'done', newerRelease: false, ruleVersions: { 'test-alpha': '1.0.0' } } });
  });
});

describe('a release that retires a rule, beside the one that loads it', () => {
  let now = Date.parse('2026-11-29T06:00:00.000Z');
  const clock = () => now;
  let loading: TestStack;
  let retiring: Release;
  const servers: string[] = [];

  beforeAll(async () => {
    loading = await startTestStack({ rules: [alphaRule, added], clock, projectorIntervalMs: 0 });
    retiring = await release(loading, [alphaRule], clock, ['test-added']);
    for (const host of ['RETIRE1', 'RETIRE2']) {
      const r = await postTo(loading, loading.baseUrl, snapshot({ host, testState: 'Warning', collectedAt: now - 10 * 60_000 }), `${host.toLowerCase()}.corp.contoso.com`);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      servers.push(r.body.server);
    }
    await loading.projected();
    await reevaluateAll(loading.baseUrl);
    now += 60_000;
    await reevaluateAll(retiring.host.baseUrl);
    await loading.projected();
  }, 120_000);
  afterAll(async () => {
    await retiring?.host.close();
    await loading?.stop();
  });

  it('removes the retired rule\'s rows, and the release that loads it does not bring them back', async () => {
    for (const s of servers) expect(await rowsOf(loading, s)).toEqual({ 'test-alpha': 'Warning' });
    expect(await reevaluate(loading.baseUrl)).toMatchObject({ status: 'superseded', evaluated: 0 });
    await loading.projected();
    for (const s of servers) expect(await rowsOf(loading, s)).toEqual({ 'test-alpha': 'Warning' });
    expect(newFindings([...loading.logs, ...retiring.logs], 'test-added')).toHaveLength(servers.length);
  });
});
