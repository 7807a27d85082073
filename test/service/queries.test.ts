// The read routes end to end: results (filters, index-backed fleet queries, paging), one server,
// summary counters, events (newest first, paging), rules (en/ja), manifest (ETag), bad parameters,
// unknown routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewOfEvent } from '../../src/app/present';
import { buildManifest } from '../../src/rules/manifest';
import { get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
// A fleet of 7 servers: alpha status per server, and one server that changed twice.
const FLEET: [string, string][] = [
  ['Q01', 'Pass'],
  ['Q02', 'Warning'],
  ['Q03', 'Warning'],
  ['Q04', 'Error'],
  ['Q05', 'Unknown'],
  ['Q06', 'Warning'],
  ['Q07', 'Pass'],
];
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const T0 = Date.now() - 60 * 60_000;

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES });
  await Promise.all(FLEET.map(([h, s]) => post(stack, snapshot({ host: h, testState: s, collectedAt: T0 }))));
  // Q07: Pass → Error → Pass, later.
  await post(stack, snapshot({ host: 'Q07', testState: 'Error', collectedAt: T0 + 10 * 60_000 }));
  await post(stack, snapshot({ host: 'Q07', testState: 'Pass', collectedAt: T0 + 20 * 60_000 }));
});
afterAll(async () => stack?.stop());

describe('GET /api/results', () => {
  it('lists every current result without filters', async () => {
    const r = await getAll(stack, 'results');
    expect(r.items).toHaveLength(FLEET.length * 2);
    expect(r.items[0]).toEqual(
      expect.objectContaining({ server: expect.any(String), ruleId: expect.any(String), status: expect.any(String), reasonCode: expect.any(String), message: expect.any(String), firstSeen: expect.any(String) }),
    );
  });

  it('filters by rule and several statuses (index-backed), repeated or comma-separated', async () => {
    const a = await getAll(stack, 'results?rule=test-alpha&status=Warning&status=Error');
    const b = await getAll(stack, 'results?rule=TEST-ALPHA&status=warning,error');
    const expected = FLEET.filter(([h, s]) => (s === 'Warning' || s === 'Error') && h !== 'Q07').map(([h]) => server(h)).sort();
    expect(a.items.map((i: Json) => i.server).sort()).toEqual(expected);
    expect(b.items).toEqual(a.items);
  });

  it('filters by status across every rule', async () => {
    const r = await getAll(stack, 'results?status=Pass');
    // beta passes everywhere; alpha passes on Q01 and Q07.
    expect(r.items.filter((i: Json) => i.ruleId === 'test-beta')).toHaveLength(FLEET.length);
    expect(r.items.filter((i: Json) => i.ruleId === 'test-alpha').map((i: Json) => i.server).sort()).toEqual([server('Q01'), server('Q07')]);
  });

  it('filters by server, and by since (the current status began at or after)', async () => {
    const one = await getAll(stack, `results?server=${server('Q04')}`);
    expect(one.items.map((i: Json) => [i.ruleId, i.status])).toEqual([
      ['test-alpha', 'Error'],
      ['test-beta', 'Pass'],
    ]);
    const since = new Date(T0 + 15 * 60_000).toISOString();
    const recent = await getAll(stack, `results?since=${since}&rule=test-alpha`);
    expect(recent.items.map((i: Json) => [i.server, i.status, i.previousStatus])).toEqual([[server('Q07'), 'Pass', 'Error']]);
    const recentAll = await getAll(stack, `results?since=${since}`);
    expect(recentAll.items.map((i: Json) => i.server)).toEqual([server('Q07')]);
  });

  it('pages with top and an opaque continuation token, without loss or repetition', async () => {
    for (const path of ['results?top=3', 'results?status=Pass,Warning&top=2', 'results?rule=test-alpha&top=1']) {
      const paged = await getAll(stack, path);
      const whole = await getAll(stack, path.replace(/[?&]top=\d+/, '').replace(/^results&/, 'results?'));
      expect(paged.pages, path).toBeGreaterThan(1);
      const key = (i: Json) => `${i.server}/${i.ruleId}`;
      expect(paged.items.map(key).sort(), path).toEqual(whole.items.map(key).sort());
      expect(new Set(paged.items.map(key)).size).toBe(paged.items.length);
    }
    const first = await get(stack, 'results?top=2');
    expect(first.body.items).toHaveLength(2);
    expect(typeof first.body.continuationToken).toBe('string');
  });

  it("gives each item's message in the asked language, and its other fields, on every path (whole table, one server, the index), as one server's page does", async () => {
    const ja = { 'accept-language': 'ja' };
    for (const [lang, headers] of [['en', {}], ['ja', ja]] as const) {
      const one = await get(stack, `servers/${server('Q04')}`, { headers });
      const full = one.body.results.find((r: Json) => r.ruleId === 'test-alpha');
      expect(full.message, lang).toBe(lang === 'ja' ? 'アルファは Error' : 'alpha is Error');
      const fields = ({ ruleVersion, status, reasonCode, severity, message, firstSeen, previousStatus }: Json) => ({ ruleVersion, status, reasonCode, severity, message, firstSeen, previousStatus });
      expect(Object.values(fields(full)).filter((v) => v === '' || v === undefined)).toEqual([]);
      for (const path of ['results', `results?server=${server('Q04')}`, 'results?rule=test-alpha&status=Error']) {
        const r = await get(stack, path, { headers });
        const item = r.body.items.find((i: Json) => i.server === server('Q04') && i.ruleId === 'test-alpha');
        // Every field of the item as one server's page (whole rows) has it.
        expect(item && fields(item), `${lang} ${path}`).toEqual(fields(full));
        expect(r.headers.get('content-type'), path).toBe('application/json; charset=utf-8');
      }
    }
  });

  it("reads only the summary's columns, with the message in the asked language alone", async () => {
    const ids = TEST_RULES.map((r) => r.id);
    for (const filter of [{}, { server: server('Q04') }, { ruleId: 'test-alpha', statuses: ['Error'] }]) {
      const ja = await stack.app.store.listResults(filter, ids, 100, undefined, 'ja');
      const q04 = ja.items.find((i) => i.server === server('Q04') && i.ruleId === 'test-alpha');
      expect(q04?.message, JSON.stringify(filter)).toEqual({ en: '', ja: 'アルファは Error' });
      const whole = await stack.app.store.listResults(filter, ids, 100);
      expect(whole.items.find((i) => i.server === server('Q04') && i.ruleId === 'test-alpha')?.message).toEqual({ en: 'alpha is Error', ja: 'アルファは Error' });
    }
  });

  it('answers 400 with one sentence for bad parameters', async () => {
    const bad = [
      'results?top=0',
      'results?top=1001',
      'results?top=ten',
      'results?status=Bogus',
      'results?since=yesterday',
      'results?since=2026-13-45T00:00:00Z',
      'results?rule=no-such-rule',
      'results?colour=blue',
      'results?server=bad/server',
      'results?server=a&server=b',
      'results?continuationToken=not-a-token',
      'results?continuationToken=%2F%2F',
      'events?top=-1',
      'summary?x=1',
    ];
    for (const path of bad) {
      const r = await get(stack, path);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toBe('invalid_query');
      expect(r.body.message, path).toMatch(/^["A-Z][^\n]*\.$/);
    }
    // A token from one query cannot continue another.
    const t = (await get(stack, 'results?top=1')).body.continuationToken;
    const r = await get(stack, `results?top=1&rule=test-alpha&continuationToken=${t}`);
    expect(r.status).toBe(400);
  });
});

describe('GET /api/servers/{server}', () => {
  it('returns host facts, last snapshot, and every result with evidence', async () => {
    const r = await get(stack, `servers/${server('Q02')}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      server: server('Q02'),
      host: { name: 'Q02', fqdn: server('Q02'), os: { version: '5.2.3790' }, utcOffsetMinutes: 540 },
      lastCollectedAt: new Date(T0).toISOString(),
      rawSnapshot: { bytes: expect.any(Number) },
    });
    expect(r.body.results[0]).toMatchObject({ ruleId: 'test-alpha', status: 'Warning', evidence: { state: 'Warning' }, remediation: ['Fix alpha.'] });
  });

  it('404 for a server that never posted, 400 for an impossible id', async () => {
    const r = await get(stack, 'servers/never-seen.example');
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('not_found');
    expect((await get(stack, 'servers/has%20space')).status).toBe(400);
  });
});

describe('GET /api/summary', () => {
  it('counts per rule × status and the host count, from write-time counters', async () => {
    stack.roundTrips.reset();
    const r = await get(stack, 'summary');
    // One point read per rule, the stale markers and the active waivers (two small partitions), one
    // entity of the outbox (whether changes are still waiting) and the re-evaluation's state (a
    // point read); never a scan.
    expect(stack.roundTrips.count).toBe(TEST_RULES.length + 4);
    expect(r.body.countsPending).toBe(false);
    expect(r.status).toBe(200);
    expect(r.body.hosts).toBe(FLEET.length);
    const alpha = r.body.rules.find((x: Json) => x.ruleId === 'test-alpha');
    expect(alpha.counts).toEqual({ Pass: 2, Warning: 3, Error: 1, NotApplicable: 0, Unknown: 1 });
    expect(r.body.rules.find((x: Json) => x.ruleId === 'test-beta').counts.Pass).toBe(FLEET.length);
  });
});

describe('GET /api/events', () => {
  it('lists status changes newest first, with filters and paging', async () => {
    const all = await getAll(stack, 'events');
    const times = all.items.map((e: Json) => Date.parse(e.firstSeen));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const q07 = await getAll(stack, `events?server=${server('Q07')}&rule=test-alpha`);
    expect(q07.items.map((e: Json) => [e.fromStatus, e.toStatus])).toEqual([
      ['Error', 'Pass'],
      ['Pass', 'Error'],
      [null, 'Pass'],
    ]);
    const toError = await getAll(stack, 'events?status=Error');
    expect(toError.items.map((e: Json) => e.server).sort()).toEqual([server('Q04'), server('Q07')]);
    const paged = await getAll(stack, 'events?top=2');
    expect(paged.pages).toBeGreaterThan(1);
    expect(paged.items).toEqual(all.items);
  });
});

describe('GET /api/events in a language', () => {
  it("gives each event's message in the asked language, reading only the columns a list shows", async () => {
    await stack.projected();
    const en = await getAll(stack, `events?server=${server('Q04')}&rule=test-alpha`);
    const ja = (await get(stack, `events?server=${server('Q04')}&rule=test-alpha`, { headers: { 'accept-language': 'ja' } })).body;
    expect(en.items.map((e: Json) => e.message)).toEqual(['alpha is Error']);
    expect(ja.items.map((e: Json) => e.message)).toEqual(['アルファは Error']);
    // Apart from the message, the same event.
    expect({ ...ja.items[0], message: '' }).toEqual({ ...en.items[0], message: '' });
    const read = await stack.app.events.listEvents({ server: server('Q04'), ruleId: 'test-alpha' }, 10, undefined, 'ja');
    expect(read.items.map((e) => e.message)).toEqual([{ en: '', ja: 'アルファは Error' }]);
    const whole = await stack.app.events.listEvents({ server: server('Q04'), ruleId: 'test-alpha' }, 10);
    expect(whole.items.map((e) => e.message)).toEqual([{ en: 'alpha is Error', ja: 'アルファは Error' }]);
    // Every field the list answers, as the whole row has it.
    expect(en.items).toEqual(whole.items.map((e) => viewOfEvent(e, 'en')));
  });
});

describe('GET /api/rules and /api/manifest', () => {
  it('serves the catalogue in English or Japanese by Accept-Language', async () => {
    const en = await get(stack, 'rules');
    expect(en.body.rules.map((r: Json) => r.title)).toEqual(['Test alpha', 'Test beta']);
    const ja = await get(stack, 'rules', { headers: { 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.8' } });
    expect(ja.headers.get('content-language')).toBe('ja');
    expect(ja.body.rules.map((r: Json) => r.title)).toEqual(['テスト アルファ', 'テスト ベータ']);
    expect(ja.body.rules[0].reasonCodes).toEqual([{ code: 'FromState', status: 'Pass' }]);
  });

  it('serves the manifest derived from the rules, with its version as ETag and 304 on a match', async () => {
    const r = await get(stack, 'manifest', { key: 'ingest' });
    expect(r.body).toEqual(buildManifest(TEST_RULES));
    expect(r.headers.get('etag')).toBe(`"${r.body.version}"`);
    const again = await stack.request('manifest', { key: 'ingest', headers: { 'if-none-match': r.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const changed = await stack.request('manifest', { key: 'ingest', headers: { 'if-none-match': '"sha256:old"' } });
    expect(changed.status).toBe(200);
  });
});

describe('routing', () => {
  it('404 for an unknown route, 405 for a wrong method', async () => {
    expect((await get(stack, 'nothing-here')).status).toBe(404);
    const r = await stack.request('summary', { method: 'DELETE' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });
});
