// Silent servers and history, end to end with an injected clock: a server that stops posting turns
// Stale when the stale-hosts job runs past the interval (once, however often the job runs), shows
// as stale in summary, results and the stale listing, and comes back with its next post. History
// lists a server's changes newest first, paged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRecords } from '../support/csv';
import { alertRecords, get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
let now = T0;
let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

const runJob = async (job: string) => {
  const r = await stack.request(`jobs/${job}/run`, { method: 'POST', key: 'admin' });
  const body = (await r.json()) as Json;
  expect(r.status, JSON.stringify(body)).toBe(200);
  return body.result;
};
const postAt = (host: string, testState = 'Pass') => post(stack, snapshot({ host, testState, collectedAt: now - MIN }));
const records = (name: string) => alertRecords(stack).filter((r) => r.name === name);
/** The CSV export's rows of one rule, by server. */
const exported = async (rule: string) => {
  const rows = csvRecords(await (await stack.request('export/results.csv', { key: 'reader' })).text());
  return Object.fromEntries(rows.filter((r) => r.RuleId === rule).map((r) => [r.Server, r]));
};

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now });
  expect((await postAt('S1')).status).toBe(201);
  expect((await postAt('S2')).status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('stale hosts', () => {
  it('does nothing while every server posts within the interval', async () => {
    now = T0 + 2 * 60 * MIN;
    expect((await postAt('S2')).status).toBe(201);
    expect(await runJob('stale-hosts')).toMatchObject({ markedStale: 0 });
    expect(records('FleetPosture.ServerStale')).toEqual([]);
  });

  it('marks a server silent past the interval Stale, once, with an event and a ServerStale record', async () => {
    now = T0 + 3 * 60 * MIN + 5 * MIN;
    const first = await runJob('stale-hosts');
    expect(first).toMatchObject({ markedStale: 1 });
    await runJob('stale-hosts');
    const stale = records('FleetPosture.ServerStale');
    expect(stale).toHaveLength(1);
    expect(stale[0]!.fields).toMatchObject({ server: server('S1'), lastSeen: new Date(T0).toISOString() });

    const events = await getAll(stack, 'events?cause=stale');
    expect(events.items).toHaveLength(1);
    expect(events.items[0]).toMatchObject({ server: server('S1'), ruleId: null, ruleVersion: null, fromStatus: 'Reporting', toStatus: 'Stale', reasonCode: 'NotReporting', severity: 'Warning', cause: 'stale' });
  });

  it('shows the stale server in the listing, summary, results and its own page, verdicts still readable', async () => {
    const list = await get(stack, 'servers?stale=true');
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: Json) => i.server)).toEqual([server('S1')]);
    expect(list.body.items[0]).toMatchObject({ stale: true, lastSeen: new Date(T0).toISOString() });

    const summary = await get(stack, 'summary');
    expect(summary.body).toMatchObject({ hosts: 2, staleHosts: 1 });

    const results = await getAll(stack, 'results?rule=test-alpha');
    const byServer = Object.fromEntries(results.items.map((i: Json) => [i.server, i]));
    expect(byServer[server('S1')]).toMatchObject({ status: 'Pass', stale: true });
    expect(byServer[server('S2')]).toMatchObject({ status: 'Pass', stale: false });

    const one = await get(stack, `servers/${server('S1')}`);
    expect(one.body).toMatchObject({ stale: true, staleSince: new Date(T0 + 3 * 60 * MIN).toISOString() });
    expect(one.body.results).toHaveLength(2);
    expect((await get(stack, 'servers?stale=false')).status).toBe(400);

    // The CSV export (Power BI's Results) says since when, as the server's page does.
    const csv = await exported('test-alpha');
    expect([csv[server('S1')]!.Stale, csv[server('S1')]!.StaleSince]).toEqual(['true', new Date(T0 + 3 * 60 * MIN).toISOString()]);
    expect([csv[server('S2')]!.Stale, csv[server('S2')]!.StaleSince]).toEqual(['false', '']);
  });

  it('brings the server back when it posts again: an event and a ServerReturned record', async () => {
    now += 10 * MIN;
    expect((await postAt('S1')).status).toBe(201);
    const back = records('FleetPosture.ServerReturned');
    expect(back).toHaveLength(1);
    expect(back[0]!.fields).toMatchObject({ server: server('S1') });
    expect((await get(stack, 'servers?stale=true')).body.items).toEqual([]);
    expect((await get(stack, 'summary')).body.staleHosts).toBe(0);
    const events = await getAll(stack, 'events?cause=returned');
    expect(events.items.map((e: Json) => [e.server, e.fromStatus, e.toStatus])).toEqual([[server('S1'), 'Stale', 'Reporting']]);
    expect(events.items[0]).toMatchObject({ ruleId: null, ruleVersion: null, reasonCode: 'Returned', severity: 'Info' });
    // Back in the index: a later silence is noticed again.
    now += 3 * 60 * MIN + 20 * MIN;
    expect((await runJob('stale-hosts')).markedStale).toBe(2);
    expect(records('FleetPosture.ServerStale')).toHaveLength(3);
  });
});

describe('GET /api/servers/{server}/history', () => {
  const STATES = ['Warning', 'Error', 'Pass', 'Warning', 'Unknown'];
  beforeAll(async () => {
    await postAt('H1', 'Pass');
    for (const s of STATES) {
      now += 5 * MIN;
      expect((await postAt('H1', s)).status).toBe(201);
    }
  });

  it('lists status changes per rule, newest first, paged with a continuation token', async () => {
    const all = await getAll(stack, `servers/${server('H1')}/history?rule=test-alpha&top=2`);
    expect(all.pages).toBeGreaterThanOrEqual(3);
    expect(all.items.map((e: Json) => e.toStatus)).toEqual([...STATES].reverse().concat('Pass'));
    expect(all.items.map((e: Json) => e.fromStatus)).toEqual(['Warning', 'Pass', 'Error', 'Warning', 'Pass', null]);
    const times = all.items.map((e: Json) => Date.parse(e.firstSeen));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const e of all.items) expect(e).toMatchObject({ server: server('H1'), ruleId: 'test-alpha', cause: 'snapshot' });
  });

  it('gives the status before the current one in the CSV export, empty for a first result', async () => {
    const csv = await exported('test-alpha');
    expect([csv[server('H1')]!.Status, csv[server('H1')]!.PreviousStatus]).toEqual(['Unknown', 'Warning']);
    const firstOnly = await get(stack, `servers/${server('S2')}/history?rule=test-alpha`);
    expect(firstOnly.body.items).toHaveLength(1);
    expect(csv[server('S2')]!.PreviousStatus).toBe('');
  });

  it('holds every rule, and the stale and return changes of a server', async () => {
    const h1 = await getAll(stack, `servers/${server('H1')}/history`);
    expect(h1.items.filter((e: Json) => e.ruleId === 'test-beta')).toHaveLength(1);
    const s1 = await getAll(stack, `servers/${server('S1')}/history`);
    expect(s1.items.filter((e: Json) => e.ruleId === null).map((e: Json) => e.cause)).toEqual(['stale', 'returned', 'stale']);
  });

  it('answers 400 for bad parameters and 404 for an unknown server', async () => {
    for (const path of [`servers/${server('H1')}/history?top=0`, `servers/${server('H1')}/history?rule=nope`, 'servers/bad%2Fname/history', `servers/${server('H1')}/history?x=1`]) {
      const r = await get(stack, path);
      expect(r.status, path).toBe(400);
      expect(r.body.message, path).toMatch(/^["A-Z][^\n]*\.$/);
    }
    const none = await get(stack, 'servers/nobody.example/history');
    // An unknown server is a 404 that says so, as for the server itself (not an empty history).
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ error: 'not_found', message: 'No server "nobody.example" is known: no server has that id (its FQDN, lower case) or a host name that begins one.' });
  });
});
