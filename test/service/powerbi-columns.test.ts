// Every column reports/fleet-posture.pq names exists in what its source returns, on a running
// service: Results in the CSV export's header, Events in /api/events items, Hosts in /api/servers
// items (JSON names compared without regard to case, as the script does).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAll, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const PQ = readFileSync(path.join(ROOT, 'reports', 'fleet-posture.pq'), 'utf8');

/** The column names of `<table>Schema = { {"Name", type t}, … }`. */
function schemaColumns(table: string): string[] {
  const block = new RegExp(`${table}Schema = \\{([\\s\\S]*?)\\n    \\},`).exec(PQ);
  if (!block) throw new Error(`${table}Schema not found`);
  return [...block[1]!.matchAll(/\{"(\w+)", type \w+\}/g)].map((m) => m[1]!);
}

/** Which route each table is loaded from, as the script says. */
function sourceOf(table: string): string {
  const m = new RegExp(`${table} = From(Api|Csv)\\("([^"]+)", ${table}Schema(?:, \\w+)?\\)`).exec(PQ);
  if (!m) throw new Error(`${table} has no source`);
  return m[2]!;
}

let stack: TestStack;
const fixture = (name: string) => JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'port25', `${name}.json`), 'utf8'));

beforeAll(async () => {
  stack = await startTestStack();
  for (const name of ['vse88-x64-transport-not-excluded', 'vse87-apenabled-off', 'no-virusscan-exchange2010']) {
    const r = await post(stack, fixture(name));
    expect(r.status).toBe(201);
  }
  const waiver = await stack.request('waivers/pbi', {
    method: 'PUT',
    key: 'admin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rule: 'mcafee-port25-blocked', server: 'exch10g.corp.contoso.com', justification: 'test', grantedBy: 'it-ops', expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
  });
  expect(waiver.status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('the Power BI script reads only columns its sources have', () => {
  it('loads Results from the CSV export, Events and Hosts from the paged JSON routes', () => {
    expect(sourceOf('Results')).toBe('api/export/results.csv');
    expect(sourceOf('Events')).toBe('api/events');
    expect(sourceOf('Hosts')).toBe('api/servers');
  });

  it('Results: every column is in the CSV header', async () => {
    const res = await stack.request('export/results.csv', { key: 'reader' });
    const header = (await res.text()).split('\r\n')[0]!.split(',');
    const missing = schemaColumns('Results').filter((c) => !header.includes(c));
    expect(missing).toEqual([]);
  });

  for (const [table, route] of [
    ['Events', 'events'],
    ['Hosts', 'servers'],
  ] as const) {
    it(`${table}: every column is a field of every ${route} item`, async () => {
      const { items } = await getAll(stack, route);
      expect(items.length).toBeGreaterThan(0);
      const columns = schemaColumns(table);
      for (const item of items as Json[]) {
        const fields = new Set(Object.keys(item).map((k) => k.toLowerCase()));
        expect(columns.filter((c) => !fields.has(c.toLowerCase())), JSON.stringify(item)).toEqual([]);
      }
    });
  }

  it('Events: the service takes the since date the script sends, and filters on it', async () => {
    const format = /since = Date\.ToText\([\s\S]*?\[Format = "([^"]+)", Culture = "en-US"\]\)/.exec(PQ)?.[1];
    expect(format, 'the format of the Events since date').toBe('yyyy-MM-dd');
    const { items: all } = await getAll(stack, 'events');
    const times = all.map((e) => Date.parse((e as { firstSeen: string }).firstSeen)).sort((a, b) => a - b);
    // A day after the oldest event: at least that one is left out, the newest is kept.
    const since = new Date(times[0]! + 86_400_000).toISOString().slice(0, 10);
    expect(Date.parse(since)).toBeLessThanOrEqual(times[times.length - 1]!);
    const { items } = await getAll(stack, `events?since=${since}&top=1000`);
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThan(all.length);
    expect(items.filter((e) => Date.parse((e as { firstSeen: string }).firstSeen) < Date.parse(since))).toEqual([]);
  });

  it('the check fails on a column no source has (the check works)', async () => {
    const { items } = await getAll(stack, 'servers');
    const fields = new Set(Object.keys(items[0]).map((k) => k.toLowerCase()));
    expect(fields.has('at')).toBe(false);
    expect(fields.has('hostname')).toBe(true);
  });
});
