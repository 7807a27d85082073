// Hostile values in queries and bodies, over HTTP: forged continuation tokens on every paged route,
// impossible dates wherever a date is read, and a registry value the validator once choked on.
// Each is a 400 with one sentence, never a 500 and never an empty page that pretends to be an answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/app/settings';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { CursorCodec, type StoragePolicy } from '../../src/store';
import { get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;

/** The $filter of every query sent to storage, as sent (Azurite takes any number of comparisons; Azure does not). */
const filtersSent: string[] = [];
const recordFilters: StoragePolicy = {
  name: 'testRecordFilters',
  sendRequest(request, next) {
    const filter = new URL(request.url).searchParams.get('$filter');
    if (filter !== null) filtersSent.push(filter);
    return next(request);
  },
};

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [recordFilters] });
  for (const [i, host] of ['TOK1', 'TOK2', 'TOK3'].entries()) {
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30 - i) }))).status).toBe(201);
    expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20 - i) }))).status).toBe(201);
  }
});
afterAll(async () => stack?.stop());

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
/** A token as a client could build one: the query binding the service expects, and any inner position. */
const forge = (q: string, i: number, t?: string) => b64(JSON.stringify(t === undefined ? { q, i } : { q, i, t }));
const sdkToken = (pk: string, rk: string) => Buffer.from(JSON.stringify({ nextPartitionKey: pk, nextRowKey: rk })).toString('base64');

const ROUTES = [
  { name: 'results', path: 'results?top=1', q: `results:${JSON.stringify({ ruleIds: TEST_RULES.map((r) => r.id) })}` },
  { name: 'events', path: 'events?top=1', q: `events:${JSON.stringify({})}` },
  { name: 'history', path: `servers/${server('TOK1')}/history?top=1`, q: `history:${JSON.stringify({ server: server('TOK1') })}` },
];

function expectInvalidQuery(r: { status: number; body: Json }, label: string): void {
  expect(r.status, `${label}: ${r.status} ${JSON.stringify(r.body)}`).toBe(400);
  expect(r.body.error, label).toBe('invalid_query');
  expect(r.body.message, label).toMatch(/^["A-Z][^\n]*\.$/);
}

describe('continuation tokens are tamper-evident on every paged route', () => {
  it.each(ROUTES)('$name: the token handed out works; forged, altered and foreign tokens are 400', async ({ name, path, q }) => {
    const first = await get(stack, path);
    expect(first.status).toBe(200);
    const token: string = first.body.continuationToken;
    expect(typeof token, `${name} has a second page`).toBe('string');
    const next = await get(stack, `${path}&continuationToken=${encodeURIComponent(token)}`);
    expect(next.status).toBe(200);
    expect(next.body.items).toHaveLength(1);
    expect(next.body.items).not.toEqual(first.body.items);

    const forged: Record<string, string> = {
      'a bogus inner position': forge(q, 0, 'bogus'),
      'an inner position that is valid base64 but not a table token': forge(q, 0, b64('{"x":1}')),
      'an inner position that points nowhere': forge(q, 0, sdkToken('zzzz', 'zzzz')),
      'an inner position before the first row': forge(q, 0, sdkToken('', '')),
      'a partition index past the end': forge(q, 99),
      'a negative partition index': forge(q, -1),
      'no position at all': forge(q, 0),
      'one character changed': token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11),
      'cut short': token.slice(0, -4),
      'longer': token + 'AAAA',
      'of another query': (await get(stack, `${path}&rule=test-alpha`)).body.continuationToken ?? forge(q + 'x', 0),
    };
    for (const [what, bad] of Object.entries(forged)) {
      if (bad === token) continue;
      expectInvalidQuery(await get(stack, `${path}&continuationToken=${encodeURIComponent(bad)}`), `${name}, ${what}`);
    }
  });

  it.each(ROUTES)('$name: a sealed token whose inner position the table client cannot use is 400, not 500', async ({ path, q }) => {
    // Only the service could seal this (the secret leaked, or the table changed its token format).
    const sealed = await new CursorCodec(stack.settings.continuationTokenSecret).seal(q, { i: 0, t: 'bogus' });
    expectInvalidQuery(await get(stack, `${path}&continuationToken=${encodeURIComponent(sealed)}`), 'sealed bogus position');
  });

  it('results: a token of waived=true is refused by waived=false and by no waived filter', async () => {
    const first = await get(stack, 'results?waived=false&top=1');
    expect(first.status).toBe(200);
    const token = first.body.continuationToken as string;
    expect(token).toBeTruthy();
    expect((await get(stack, `results?waived=false&top=1&continuationToken=${encodeURIComponent(token)}`)).status).toBe(200);
    for (const other of ['results?waived=true&top=1', 'results?top=1']) {
      expectInvalidQuery(await get(stack, `${other}&continuationToken=${encodeURIComponent(token)}`), other);
    }
  });

  it('events: a kind and causes that select nothing answer one empty page, and refuse any token, as every query refuses one not its own', async () => {
    const empty = 'events?kind=status&cause=waiver-created&top=1';
    expect((await get(stack, empty)).body).toEqual({ items: [], continuationToken: null });
    const token = (await get(stack, 'events?top=1')).body.continuationToken as string;
    expect(token).toBeTruthy();
    for (const bad of [token, forge(`events:${JSON.stringify({ causes: [] })}`, 0)]) {
      expectInvalidQuery(await get(stack, `${empty}&continuationToken=${encodeURIComponent(bad)}`), 'empty selection');
    }
  });

  it('a token from an instance with another token secret is refused; one with the same secret is honoured', async () => {
    const first = await get(stack, 'events?top=1');
    const token = first.body.continuationToken as string;
    const env = {
      POSTURE_STORAGE_CONNECTION_STRING: stack.settings.storageConnectionString ?? '',
      POSTURE_READER_KEYS: TEST_KEYS.reader,
    };
    const hosts: LocalHost[] = [];
    try {
      for (const secret of ['another-secret-of-at-least-32-chars!', stack.settings.continuationTokenSecret]) {
        const app = createTestApp({ settings: loadSettings({ ...env, POSTURE_CONTINUATION_TOKEN_SECRET: secret }), rules: TEST_RULES });
        const host = await startLocalHost({ app, port: 0, log: () => undefined });
        hosts.push(host);
        const res = await fetch(`${host.baseUrl}/api/events?top=1&continuationToken=${token}`, { headers: { 'x-api-key': TEST_KEYS.reader } });
        expect(res.status, secret).toBe(secret === stack.settings.continuationTokenSecret ? 200 : 400);
      }
    } finally {
      for (const h of hosts) await h.close();
    }
  });
});

describe('impossible dates are 400 wherever a date is read', () => {
  const IMPOSSIBLE = ['2026-02-30T00:00:00Z', '2026-02-29', '2026-04-31T12:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00+24:00', '2026-13-01'];

  it.each(['results', 'events'])('%s?since=', async (route) => {
    for (const since of IMPOSSIBLE) expectInvalidQuery(await get(stack, `${route}?since=${encodeURIComponent(since)}`), `${route} since=${since}`);
    expect((await get(stack, `${route}?since=2024-02-29T00:00:00Z`)).status).toBe(200);
  });

  it.each(['results', 'events'])('%s?since= a time without its zone is 400; a date alone is UTC midnight', async (route) => {
    for (const since of ['2026-11-28T09:00', '2026-11-28T09:00:00', '2026-11-28T09:00:00.000']) {
      expectInvalidQuery(await get(stack, `${route}?since=${encodeURIComponent(since)}`), `${route} since=${since}`);
    }
    const day = await get(stack, `${route}?since=2026-11-28`);
    const midnight = await get(stack, `${route}?since=${encodeURIComponent('2026-11-28T00:00:00Z')}`);
    expect(day.status).toBe(200);
    expect(day.body.items).toEqual(midnight.body.items);
    expect((await get(stack, `${route}?since=${encodeURIComponent('2026-11-28T09:00:00+09:00')}`)).status).toBe(200);
  });

  it('a waiver expiring on an impossible date', async () => {
    const put = async (expiresAt: string) => {
      const res = await stack.request('waivers/date-check', {
        method: 'PUT',
        key: 'admin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rule: 'test-alpha', server: server('TOK1'), justification: 'date check', grantedBy: 'test', expiresAt }),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
    const year = new Date().getUTCFullYear() + 1;
    for (const bad of [`${year}-02-30T00:00:00Z`, `${year}-04-31T00:00:00Z`, `${year}-01-01T25:00:00Z`]) {
      const r = await put(bad);
      expect(r.status, bad).toBe(400);
      expect(r.body.error).toBe('invalid_waiver');
    }
    expect((await get(stack, 'waivers/date-check', { key: 'admin' })).status).toBe(404);
  });
});

describe('registry values the validator must refuse', () => {
  it.each(['abc', '1e5', '1.5'])('REG_QWORD data %j: 400 invalid_snapshot naming the value, nothing written', async (data) => {
    const doc = snapshot({ host: 'QWORD1' });
    (doc.registry as Json[])[0].values.push({ name: 'q', type: 'REG_QWORD', data });
    stack.roundTrips.reset();
    const r = await post(stack, doc);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_snapshot');
    expect(r.body.issues.map((i: Json) => i.path)).toContain('registry[0].values[1].data');
    expect(stack.roundTrips.writes).toBe(0);
  });
});

describe('a bad value is quoted back cut short, whatever its length', () => {
  const LONG = 'q'.repeat(5000);
  const PATHS = [
    `results?status=${LONG}`,
    `results?rule=${LONG}`,
    `results?top=${LONG}`,
    `results?since=${LONG}`,
    `results?${LONG}=1`,
    `events?status=${LONG}`,
    `events?cause=${LONG}`,
    `events?kind=${LONG}`,
    `summary?only=${LONG}`,
    `export/results.csv?evidence=${LONG}`,
    `servers/${server('TOK1')}/history?rule=${LONG}`,
  ];
  it.each(PATHS.map((p) => [p.replace(LONG, '<5000 chars>'), p]))('%s', async (_label, path) => {
    const r = await get(stack, path);
    expectInvalidQuery(r, path.slice(0, 60));
    expect(r.body.message).toContain(`"${LONG.slice(0, 100)}"`);
    expect(r.body.message.length).toBeLessThan(400);
  });
});

describe('query parameters are read alike on every route', () => {
  it('export: "evidence" is true or false in any case, as every other flag', async () => {
    const csv = async (q: string) => {
      const res = await stack.request(`export/results.csv${q}`);
      return { status: res.status, text: await res.text() };
    };
    const without = await csv('?evidence=false');
    const with_ = await csv('');
    expect(without.status).toBe(200);
    expect(without.text).not.toEqual(with_.text);
    expect(await csv('?evidence=FALSE')).toEqual(without);
    expect(await csv('?evidence=True')).toEqual(with_);
  });

  it('history: a bad rule, top or token is 400 before the server is looked up (an unknown server would be 404)', async () => {
    for (const q of ['rule=no-such-rule', 'top=0', 'continuationToken=not*a*token']) {
      expectInvalidQuery(await get(stack, `servers/${server('NOSUCH')}/history?${q}`), `history ${q}`);
    }
    expect((await get(stack, `servers/${server('NOSUCH')}/history`)).status).toBe(404);
  });

  it('a server\'s drift: a bad rule is 400 before the server is looked up', async () => {
    expectInvalidQuery(await get(stack, `servers/${server('NOSUCH')}/drift?rule=no-such-rule`), 'drift rule');
    // A rule without configuration facts has no drift for any server: the same 400 whether the server is known or not.
    const known = await get(stack, `servers/${server('TOK1')}/drift?rule=test-alpha`);
    const unknown = await get(stack, `servers/${server('NOSUCH')}/drift?rule=test-alpha`);
    expectInvalidQuery(known, 'drift rule without facts, known server');
    expectInvalidQuery(unknown, 'drift rule without facts, unknown server');
    expect(unknown.body.message).toBe(known.body.message);
    expect(unknown.body.message).toMatch(/declares no configuration facts/);
  });
});

describe('every filter and kind at once stays within what Azure Table storage takes in one query', () => {
  // Azure refuses a $filter of more than 15 comparisons with a 400 of its own, which would reach the
  // client as a 500; Azurite takes any number, so the filters sent are counted here.
  const MAX_COMPARISONS = 15;
  const comparisons = (filter: string) => filter.match(/\s(?:eq|ne|gt|ge|lt|le)\s/g)?.length ?? 0;
  const ALL_STATUSES = 'Pass,Warning,Error,NotApplicable,Unknown,Stale,Reporting,Removed';
  const ALL_CAUSES = 'snapshot,rule-change,stale,returned,removed,waiver-created,waiver-changed,waiver-expired,waiver-deleted,baseline-set,baseline-changed,baseline-deleted';
  const narrow = `server=${server('TOK1')}&rule=test-alpha&since=2000-01-01`;

  it.each([
    ['every status, kind=status', `kind=status&status=${ALL_STATUSES}`, (_e: Json) => true],
    ['every status but Pass, kind=status', `kind=status&status=${ALL_STATUSES.replace('Pass,', '')}`, (e: Json) => e.toStatus !== 'Pass'],
    ['every cause', `cause=${ALL_CAUSES}`, (_e: Json) => true],
    ['every cause and status', `cause=${ALL_CAUSES}&status=${ALL_STATUSES.replace('Pass,', '')}`, (e: Json) => e.toStatus !== 'Pass'],
  ])('events, %s, with server, rule and since: the same events, in a filter Azure takes', async (_label, lists, expected) => {
    const all = await getAll(stack, `events?top=1&${narrow}`);
    expect(all.items.map((e) => e.toStatus)).toEqual(['Warning', 'Pass']);
    filtersSent.length = 0;
    const listed = await getAll(stack, `events?top=1&${narrow}&${lists}`);
    expect(listed.items).toEqual(all.items.filter(expected));
    expect(filtersSent.length).toBeGreaterThan(0);
    for (const f of filtersSent) expect(comparisons(f), f).toBeLessThanOrEqual(MAX_COMPARISONS);
  });
});
