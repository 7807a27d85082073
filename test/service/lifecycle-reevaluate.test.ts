// Re-evaluation after a rule change, end to end: the port-25 fixtures are posted as a fleet under
// the real rule; two more local hosts on the same storage load a port-25 rule with a new version
// and changed logic (SmtpNotExcluded becomes an Error) and run the re-evaluation job at the same
// time until it is idle. Every stored snapshot is re-evaluated exactly once, and only the verdicts
// that moved get events, with cause rule-change.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostureApp } from '../../src/app/create-app';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { RULES } from '../../src/rules/registry';
import type { Rule } from '../../src/rules/types';
import { get, getAll, post, type Json } from '../support/http';
import { createTestApp, type LogEntry, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const DIR = path.join(__dirname, '..', 'fixtures', 'port25');
const RULE = 'mcafee-port25-blocked';
const now = Date.parse('2026-11-28T06:00:00.000Z');
let stack: TestStack;

/** The changed rule: a new version whose only change makes SmtpNotExcluded an Error. */
const port25v2: Rule = {
  ...mcafeePort25Blocked,
  version: '2.0.0',
  evaluate(s) {
    const o = mcafeePort25Blocked.evaluate(s);
    return o.reasonCode === 'SmtpNotExcluded' ? { ...o, status: 'Error' } : o;
  },
};

interface Instance {
  readonly app: PostureApp;
  readonly host: LocalHost;
  readonly logs: LogEntry[];
}
const instances: Instance[] = [];

async function instance(): Promise<Instance> {
  // The loaded rule set with the port-25 rule changed, whatever else it holds.
  const rules = RULES.map((r) => (r.id === RULE ? port25v2 : r));
  const app = createTestApp({ settings: stack.settings, rules, clock: () => now, storeOptions: { maxRetries: 1 } });
  const logs: LogEntry[] = [];
  const host = await startLocalHost({ app, port: 0, log: (e) => logs.push(e) });
  const i = { app, host, logs };
  instances.push(i);
  return i;
}

async function runJob(baseUrl: string): Promise<Json> {
  const r = await fetch(`${baseUrl}/api/jobs/reevaluate/run`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.admin } });
  const body = (await r.json()) as Json;
  expect(r.status, JSON.stringify(body)).toBe(200);
  return body.result;
}

const logTo = (i: Instance) => ({ log: (message: string) => void i.logs.push({ level: 'information', functionName: 'direct', message }) });

const findingRecords = (logs: LogEntry[]) =>
  logs.flatMap((l) => (l.message.startsWith('FleetPosture.NewFinding ') ? [JSON.parse(l.message.slice('FleetPosture.NewFinding '.length)) as Json] : []));

/** Server id → [status, reasonCode, ruleVersion] of the port-25 rule. */
async function verdicts(): Promise<Map<string, [string, string, string]>> {
  const all = await getAll(stack, `results?rule=${RULE}`);
  return new Map(all.items.map((i: Json) => [i.server, [i.status, i.reasonCode, i.ruleVersion]]));
}

let before: Map<string, [string, string, string]>;
let fleet: string[];

beforeAll(async () => {
  stack = await startTestStack({ clock: () => now, settings: { POSTURE_REEVALUATE_BATCH_SIZE: '5' } });
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  fleet = [];
  for (const file of files) {
    const doc = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Json;
    // One server per fixture; the fixture's own time stays, so time windows in the rule still hold.
    const name = file.replace(/\.json$/, '').replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
    const r = await post(stack, { ...doc, host: { ...doc.host, name, fqdn: undefined } });
    expect(r.status, file).toBe(201);
    fleet.push(r.body.server);
  }
  before = await verdicts();
});
afterAll(async () => {
  for (const i of instances) await i.host.close();
  await stack?.stop();
});

describe('re-evaluation after a rule change', () => {
  it('starts from a fleet evaluated by the current rule, some of it SmtpNotExcluded', () => {
    expect(before.size).toBe(fleet.length);
    const moving = [...before.values()].filter(([, reason]) => reason === 'SmtpNotExcluded');
    expect(moving.length).toBeGreaterThan(0);
    expect(moving.length).toBeLessThan(fleet.length);
    for (const [, , version] of before.values()) expect(version).toBe(mcafeePort25Blocked.version);
  });

  it('re-evaluates every stored snapshot exactly once, even with two instances at once', async () => {
    const [a, b] = [await instance(), await instance()];
    // The same server on both instances at once: one commits, the other finds it current.
    const first = fleet[0]!;
    const pair = await Promise.all([a.app.reevaluation.reevaluateServer(first), b.app.reevaluation.reevaluateServer(first)].map((p) => p.catch((e: unknown) => e)));
    expect(pair.map((p) => (p as Json).outcome).sort()).toEqual(['current', 'evaluated']);

    let evaluated = 0;
    let unavailable = 0;
    const statuses: string[] = [];
    for (let round = 0; round < 40; round++) {
      const runs = await Promise.all([runJob(a.host.baseUrl), runJob(b.host.baseUrl)]);
      for (const r of runs) {
        evaluated += r.evaluated;
        unavailable += r.unavailable;
        statuses.push(r.status);
      }
      if (runs.every((r) => r.status === 'idle')) break;
    }
    expect(statuses).toContain('done');
    expect(statuses.at(-1)).toBe('idle');
    expect(unavailable).toBe(0);
    expect(evaluated + 1).toBe(fleet.length);
    // Done: another run is idle and changes nothing.
    expect(await runJob(a.host.baseUrl)).toMatchObject({ status: 'idle', evaluated: 0 });
  });

  it('moves exactly the verdicts the new logic changes, with rule-change events and alerts', async () => {
    // The pass's commits are projected by the instances' projectors, one at a time by lease: a
    // drain that finds the lease taken answers busy at once, so drain until one finds the outbox
    // empty (entries leave it only once projected).
    for (let round = 0; round < 100; round++) {
      const runs = [];
      for (const i of instances) runs.push(await i.app.projector.drain(logTo(i)));
      if (runs.some((r) => r.status === 'done' && r.entries === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const after = await verdicts();
    const moved: string[] = [];
    for (const [server, [status, reason, version]] of after) {
      expect(version, server).toBe('2.0.0');
      const [oldStatus, oldReason] = before.get(server)!;
      expect(reason, server).toBe(oldReason);
      if (oldReason === 'SmtpNotExcluded') {
        expect(status, server).toBe('Error');
        moved.push(server);
      } else expect(status, server).toBe(oldStatus);
    }
    const events = await getAll(stack, `events?cause=rule-change`);
    expect(events.items.map((e: Json) => e.server).sort()).toEqual(moved.sort());
    for (const e of events.items) expect(e).toMatchObject({ ruleId: RULE, ruleVersion: '2.0.0', fromStatus: 'Warning', toStatus: 'Error', cause: 'rule-change' });
    // No other event was written by the pass: the snapshot events are one per server, as before.
    expect((await getAll(stack, `events?cause=snapshot&rule=${RULE}`)).items).toHaveLength(fleet.length);
    expect((await getAll(stack, 'events?cause=snapshot')).items).toHaveLength(fleet.length * RULES.length);

    // Whichever projector over this storage drained an entry logged its records (one per change).
    const alerts = [...instances.flatMap((i) => findingRecords(i.logs)), ...findingRecords(stack.logs)].filter((r) => r.cause === 'rule-change');
    expect(alerts.map((r) => r.server).sort()).toEqual(moved.sort());
    for (const r of alerts) expect(r).toMatchObject({ rule: RULE, status: 'Error', waived: false, cause: 'rule-change' });

    const history = await get(stack, `servers/${moved[0]}/history?rule=${RULE}`);
    expect(history.body.items.map((e: Json) => e.cause)).toEqual(['rule-change', 'snapshot']);
    const summary = (await get(stack, 'summary')).body;
    const port25 = summary.rules.find((r: Json) => r.ruleId === RULE);
    expect(port25.counts.Warning).toBe(0);
    // The drift counters follow the moved verdicts too: every server counted once, none as Warning.
    const drift = (await get(stack, `drift?rule=${RULE}`)).body;
    const total = (s: string) => drift.clusters.reduce((n: number, c: Json) => n + c.counts[s], 0);
    expect(drift.servers).toBe(fleet.length);
    expect(total('Warning')).toBe(0);
    expect(total('Error')).toBe(port25.counts.Error);
  });

  it('is left alone by an instance still on the old rule (no downgrade)', async () => {
    const r = await fetch(`${stack.baseUrl}/api/jobs/reevaluate/run`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.admin } });
    expect(((await r.json()) as Json).result).toMatchObject({ status: 'superseded', evaluated: 0 });
    expect([...(await verdicts()).values()].every(([, , v]) => v === '2.0.0')).toBe(true);
  });
});
