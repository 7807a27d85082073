// GET /api/export/results.csv with the filters of GET /api/results: a file of exactly the results
// the list answers for the same filters (the dashboard's Findings view downloads it), every page of
// them, and the list's refusals for filters it refuses.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_CSV_COLUMNS } from '../../src/app/export-results';
import { parseCsv } from '../support/csv';
import { drainOutbox } from '../support/drain';
import { get, getAll, post } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';

const RULE = 'mcafee-port25-blocked';
const FIXTURES = readdirSync('test/fixtures/port25')
  .filter((f) => f.endsWith('.json'))
  .sort();

let stack: TestStack;
/** Host name → server id, of every server posted. */
const posted = new Map<string, string>();

beforeAll(async () => {
  stack = await startTestStack();
  for (const file of FIXTURES) {
    const doc = JSON.parse(readFileSync(`test/fixtures/port25/${file}`, 'utf8'));
    const r = await post(stack, doc);
    expect(r.status, `${file}: ${JSON.stringify(r.body)}`).toBe(201);
    posted.set(doc.host.name, r.body.server);
  }
  // The list reads the rule index, which the projector writes after the commit.
  await drainOutbox(stack);
});
afterAll(async () => stack?.stop());

async function exportRows(query: string): Promise<{ status: number; rows: Record<string, string>[]; body: string }> {
  const res = await stack.request(`export/results.csv${query}`, { key: 'reader' });
  const body = await res.text();
  if (res.status !== 200) return { status: res.status, rows: [], body };
  const [header, ...rows] = parseCsv(body);
  expect(header).toEqual([...RESULT_CSV_COLUMNS]);
  return { status: 200, rows: rows.map((row) => Object.fromEntries(header!.map((c, i) => [c, row[i]!]))), body };
}

/** Server and rule of each result, sorted: what a file and a list are compared by. */
const keysOf = (items: readonly { server: string; ruleId: string; status: string }[]) => items.map((r) => `${r.server}|${r.ruleId}|${r.status}`).sort();

describe('the CSV export, filtered as the results list is', () => {
  it('holds exactly what GET /api/results answers for the same filters, whatever the filters', async () => {
    const warningServer = [...posted.values()][0]!;
    const filters = [
      'status=Warning',
      'status=Warning,Error',
      'status=NotApplicable',
      `rule=${RULE}`,
      `rule=${RULE}&status=Pass`,
      `server=${encodeURIComponent(warningServer)}`,
      'since=2000-01-01',
      'since=2999-01-01',
    ];
    const whole = (await exportRows('')).rows;
    for (const filter of filters) {
      const file = await exportRows(`?${filter}`);
      expect(file.status, `${filter}: ${file.body}`).toBe(200);
      const list = await getAll(stack, `results?${filter}&top=1000`);
      const fromFile = keysOf(file.rows.map((r) => ({ server: r.Server!, ruleId: r.RuleId!, status: r.Status! })));
      expect(fromFile, filter).toEqual(keysOf(list.items as { server: string; ruleId: string; status: string }[]));
    }
    // The filters do filter: each status's file is part of the whole, and they add up to it.
    const byStatus = await Promise.all(['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'].map(async (s) => (await exportRows(`?status=${s}`)).rows));
    for (const [i, rows] of byStatus.entries()) for (const r of rows) expect(r.Status).toBe(['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'][i]);
    expect(byStatus.reduce((n, rows) => n + rows.length, 0)).toBe(whole.length);
    expect(byStatus[1]!.length).toBeGreaterThan(0);
    expect(byStatus[1]!.length).toBeLessThan(whole.length);
    expect((await exportRows('?since=2999-01-01')).rows).toEqual([]);
  });

  it('finds a server by its host name, as the list does, and answers 404 for a name no server has', async () => {
    const [name, id] = [...posted.entries()].find(([n, s]) => n.toLowerCase() !== s)!;
    const byName = await exportRows(`?server=${encodeURIComponent(name)}`);
    expect(byName.status).toBe(200);
    expect(byName.rows.length).toBeGreaterThan(0);
    expect(new Set(byName.rows.map((r) => r.Server))).toEqual(new Set([id]));
    const unknown = await stack.request('export/results.csv?server=nobody.corp.contoso.com', { key: 'reader' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/nobody\.corp\.contoso\.com/);
  });

  it('keeps waived results in or out with waived=, as the list does', async () => {
    const target = (await exportRows(`?status=Warning&rule=${RULE}`)).rows[0]!;
    const put = await stack.request('waivers/export-filter', {
      method: 'PUT',
      key: 'admin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rule: RULE, server: target.Server, justification: 'Replaced next month.', grantedBy: 'it-ops', expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    });
    expect(put.status).toBe(201);
    const waived = await exportRows('?waived=true');
    expect(waived.rows.map((r) => [r.Server, r.RuleId, r.Waived, r.WaiverId])).toEqual([[target.Server, RULE, 'true', 'export-filter']]);
    const notWaived = await exportRows('?status=Warning&waived=false');
    expect(notWaived.rows.length).toBeGreaterThan(0);
    expect(notWaived.rows.some((r) => r.Server === target.Server && r.RuleId === RULE)).toBe(false);
    for (const waivedFilter of ['true', 'false']) {
      const list = await getAll(stack, `results?status=Warning&waived=${waivedFilter}&top=1000`);
      const file = await exportRows(`?status=Warning&waived=${waivedFilter}`);
      expect(keysOf(file.rows.map((r) => ({ server: r.Server!, ruleId: r.RuleId!, status: r.Status! }))), waivedFilter).toEqual(keysOf(list.items as { server: string; ruleId: string; status: string }[]));
    }
  });

  it('refuses what the list refuses, in the list’s words, and writes no file', async () => {
    for (const query of ['status=Bogus', 'rule=nope', 'since=yesterday', 'waived=maybe', 'server=a..b', 'top=5']) {
      const [file, list] = await Promise.all([stack.request(`export/results.csv?${query}`, { key: 'reader' }), get(stack, `results?${query}`)]);
      expect(file.status, query).toBe(400);
      const refusal = (await file.json()) as { error: string; message: string };
      expect(refusal.error).toBe('invalid_query');
      // The list takes top=; the file does not, and says which parameters it takes.
      if (query === 'top=5') expect(refusal.message).toMatch(/^Unknown query parameter "top"/);
      else expect(refusal).toEqual(list.body);
    }
  });
});
