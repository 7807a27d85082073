// Waivers end to end with an injected clock: admin-only routes, validation (400, one sentence), a
// waived finding alerts with waived: true (which the alert rules filter), results and summary show
// it apart, and expiry, deletion or a narrowing change re-raise what is still failing — once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRecords, get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TEST_KEYS, type TestStack } from '../support/stack';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
let now = T0;
let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const iso = (t: number) => new Date(t).toISOString();

const send = async (method: string, path: string, body?: unknown, key: keyof typeof TEST_KEYS | null = 'admin') => {
  const r = await stack.request(path, {
    method,
    key,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
};
const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  server: server('W1'),
  justification: 'Port 25 blocking is accepted on W1 until the migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: iso(T0 + 7 * DAY),
  ...o,
});
const postAt = (host: string, testState: string) => post(stack, snapshot({ host, testState, collectedAt: now - MIN }));
const findings = (host: string) => alertRecords(stack).filter((r) => r.name === 'FleetPosture.NewFinding' && r.fields.server === server(host));
const expiredRecords = () => alertRecords(stack).filter((r) => r.name === 'FleetPosture.WaiverExpired');

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, settings: { POSTURE_WAIVER_MAX_DAYS: '30' } });
});
afterAll(async () => stack?.stop());

describe('waiver routes', () => {
  it('are for admin keys only: 401 without a key, 403 for ingest and reader keys', async () => {
    for (const [method, path] of [
      ['GET', 'waivers'],
      ['GET', 'waivers/w1'],
      ['PUT', 'waivers/w1'],
      ['DELETE', 'waivers/w1'],
      ['POST', 'jobs/waiver-expiry/run'],
    ] as const) {
      const body = method === 'PUT' ? waiver() : undefined;
      expect((await send(method, path, body, null)).status, `${method} ${path}`).toBe(401);
      for (const key of ['ingest', 'reader'] as const) {
        const r = await send(method, path, body, key);
        expect(r.status, `${method} ${path} ${key}`).toBe(403);
        expect(r.body.error).toBe('forbidden');
      }
    }
    expect((await send('GET', 'waivers')).body).toEqual({ items: [] });
  });

  it('reject bad waivers with 400 and one sentence, writing nothing', async () => {
    const bad: [string, unknown][] = [
      ['no expiry', waiver({ expiresAt: undefined })],
      ['expiry past the maximum', waiver({ expiresAt: iso(T0 + 31 * DAY) })],
      ['expiry in the past', waiver({ expiresAt: iso(T0 - MIN) })],
      ['expiry not a time', waiver({ expiresAt: 'next tuesday' })],
      ['unknown rule', waiver({ rule: 'no-such-rule' })],
      ['server and pattern', waiver({ serverPattern: 'w*' })],
      ['neither server nor pattern', waiver({ server: undefined })],
      ['bad server', waiver({ server: 'bad/server' })],
      ['pattern without wildcard', waiver({ server: undefined, serverPattern: 'w1.corp' })],
      ['pattern for the whole fleet', waiver({ server: undefined, serverPattern: '*.*' })],
      ['no justification', waiver({ justification: ' ' })],
      ['no grantor', waiver({ grantedBy: undefined })],
      ['unknown field', waiver({ colour: 'blue' })],
      ['not an object', [1, 2]],
      ['id mismatch', waiver({ id: 'other' })],
    ];
    for (const [what, body] of bad) {
      const r = await send('PUT', 'waivers/w1', body);
      expect(r.status, what).toBe(400);
      expect(r.body.error, what).toBe('invalid_waiver');
      expect(r.body.message, what).toMatch(/^["A-Z][^\n]*\.$/);
    }
    expect((await send('PUT', 'waivers/w1', '{"rule":')).body.error).toBe('invalid_json');
    expect((await send('PUT', 'waivers/bad%20id', waiver())).status).toBe(400);
    expect((await send('PUT', 'waivers', waiver())).status).toBe(400);
    expect((await send('GET', 'waivers')).body.items).toEqual([]);
    expect((await send('GET', 'waivers/w1')).status).toBe(404);
  });
});

describe('a waiver', () => {
  it('is created (201), read back and audited', async () => {
    const r = await send('PUT', 'waivers/w1', waiver());
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: 'w1', rule: 'test-alpha', server: server('W1'), serverPattern: null, state: 'active', revision: 1, expiresAt: iso(T0 + 7 * DAY) });
    const p = await send('PUT', 'waivers/pattern', waiver({ server: undefined, serverPattern: 'W3*.corp.contoso.com', expiresAt: iso(T0 + 20 * DAY) }));
    expect(p.status).toBe(201);
    expect((await send('GET', 'waivers/w1')).body.justification).toMatch(/migration/);
    expect((await send('GET', 'waivers?state=active')).body.items.map((w: Json) => w.id)).toEqual(['pattern', 'w1']);
    const audit = await getAll(stack, 'events?cause=waiver-created');
    expect(audit.items.map((e: Json) => e.waiverId).sort()).toEqual(['pattern', 'w1']);
  });

  it('holds back the alert of a new warning it covers (waived: true), not of others', async () => {
    for (const h of ['W1', 'W2', 'W3A']) expect((await postAt(h, 'Warning')).status).toBe(201);
    expect(findings('W1').map((f) => f.fields)).toEqual([expect.objectContaining({ status: 'Warning', waived: true, waiverId: 'w1' })]);
    expect(findings('W3A').map((f) => f.fields)).toEqual([expect.objectContaining({ waived: true, waiverId: 'pattern' })]);
    expect(findings('W2').map((f) => f.fields)).toEqual([expect.objectContaining({ waived: false, waiverId: null })]);
  });

  it('leaves the real status and evidence, flags the result and counts it apart in the summary', async () => {
    const one = await get(stack, `servers/${server('W1')}`);
    const alpha = one.body.results.find((r: Json) => r.ruleId === 'test-alpha');
    expect(alpha).toMatchObject({ status: 'Warning', waived: true, waiverId: 'w1', evidence: { state: 'Warning' } });
    expect(one.body.results.find((r: Json) => r.ruleId === 'test-beta')).toMatchObject({ waived: false });

    const results = await getAll(stack, 'results?rule=test-alpha&status=Warning');
    expect(Object.fromEntries(results.items.map((i: Json) => [i.server, i.waived]))).toEqual({ [server('W1')]: true, [server('W2')]: false, [server('W3a')]: true });

    const summary = (await get(stack, 'summary')).body;
    const rule = summary.rules.find((r: Json) => r.ruleId === 'test-alpha');
    expect(rule.counts.Warning).toBe(3);
    expect(rule.waived).toEqual({ Warning: 2, Error: 0 });
    expect(summary.waivedTotals).toEqual({ Warning: 2, Error: 0 });
    expect(summary.activeWaivers).toBe(2);
  });

  it('when changed (200) to cover less, hands back the alerts of what it no longer covers', async () => {
    // W3A keeps its pattern waiver; W3B gets a narrower one that no longer matches after the change.
    expect((await postAt('W3B', 'Error')).status).toBe(201);
    expect(findings('W3B').at(-1)!.fields).toMatchObject({ waived: true, waiverId: 'pattern' });
    const r = await send('PUT', 'waivers/pattern', waiver({ server: undefined, serverPattern: 'w3a*', expiresAt: iso(T0 + 20 * DAY) }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ revision: 2, serverPattern: 'w3a*' });
    expect(expiredRecords().map((e) => [e.fields.server, e.fields.waiverId, e.fields.reason])).toEqual([[server('W3B'), 'pattern', 'changed']]);
    expect(findings('W3B').at(-1)!.fields).toMatchObject({ status: 'Error', waived: false, cause: 'waiver-changed' });
    expect(findings('W3A')).toHaveLength(1);
    expect((await getAll(stack, 'events?cause=waiver-changed')).items).toHaveLength(1);
  });

  it('on expiry re-raises a still-failing result once: WaiverExpired + NewFinding', async () => {
    now = T0 + 7 * DAY + MIN;
    // Expired waivers no longer flag results, even before the job ends them.
    const before = await getAll(stack, `results?server=${server('W1')}`);
    expect(before.items.find((i: Json) => i.ruleId === 'test-alpha').waived).toBe(false);
    const run = await send('POST', 'jobs/waiver-expiry/run');
    expect(run.body.result).toEqual({ expired: 1, reRaised: 1, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    expect((await send('POST', 'jobs/waiver-expiry/run')).body.result).toEqual({ expired: 0, reRaised: 0, failed: 0, baselineAudits: 0, baselineAuditsFailed: 0 });
    const w1 = expiredRecords().filter((e) => e.fields.waiverId === 'w1');
    expect(w1.map((e) => e.fields)).toEqual([expect.objectContaining({ server: server('W1'), rule: 'test-alpha', waiverId: 'w1', reason: 'expired' })]);
    expect(findings('W1').map((f) => [f.fields.waived, f.fields.cause])).toEqual([
      [true, 'snapshot'],
      [false, 'waiver-expired'],
    ]);
    // The re-raised finding names the result's status and reason, as the results list has them.
    const alpha = before.items.find((i: Json) => i.ruleId === 'test-alpha');
    expect([alpha.status, alpha.reasonCode].every((v) => typeof v === 'string' && v !== '')).toBe(true);
    expect(findings('W1').at(-1)!.fields).toMatchObject({ status: alpha.status, reasonCode: alpha.reasonCode, previousStatus: alpha.previousStatus });
    expect((await send('GET', 'waivers/w1')).body).toMatchObject({ state: 'expired', endedAt: iso(T0 + 7 * DAY) });
    expect((await getAll(stack, 'events?cause=waiver-expired')).items.map((e: Json) => e.waiverId)).toEqual(['w1']);
  });

  it('on deletion re-raises what it covered; a second delete is 404', async () => {
    const del = await send('DELETE', 'waivers/pattern');
    expect(del.status).toBe(200);
    expect(del.body.state).toBe('deleted');
    expect(expiredRecords().filter((e) => e.fields.reason === 'deleted').map((e) => e.fields.server)).toEqual([server('W3A')]);
    expect(findings('W3A').at(-1)!.fields).toMatchObject({ waived: false, cause: 'waiver-deleted' });
    expect((await send('DELETE', 'waivers/pattern')).status).toBe(404);
    expect((await get(stack, 'summary')).body.waivedTotals).toEqual({ Warning: 0, Error: 0 });
    expect((await send('GET', 'waivers?state=deleted')).body.items.map((w: Json) => w.id)).toEqual(['pattern']);
  });
});

describe('a waiver over a passing result', () => {
  it('flags only failing results: the list, the server, the export and the summary agree', async () => {
    expect((await send('PUT', 'waivers/wp', waiver({ server: undefined, serverPattern: 'wp*.corp.contoso.com', expiresAt: iso(now + 7 * DAY) }))).status).toBe(201);
    expect((await postAt('WP1', 'Pass')).status).toBe(201);
    expect((await postAt('WP2', 'Error')).status).toBe(201);
    const flags = (items: Json[]) => Object.fromEntries(items.filter((i) => i.ruleId === 'test-alpha' && /^wp/.test(i.server)).map((i) => [i.server, i.waived]));
    const expected = { [server('WP1')]: false, [server('WP2')]: true };

    expect(flags((await getAll(stack, 'results?rule=test-alpha')).items)).toEqual(expected);
    expect(flags((await getAll(stack, 'results')).items)).toEqual(expected);
    expect(flags((await getAll(stack, 'results?waived=true')).items)).toEqual({ [server('WP2')]: true });
    expect(flags((await getAll(stack, 'results?waived=false')).items)).toEqual({ [server('WP1')]: false });
    const one = (await get(stack, `servers/${server('WP1')}`)).body.results.find((r: Json) => r.ruleId === 'test-alpha');
    expect(one).toMatchObject({ status: 'Pass', waived: false, waiverId: null });

    const csv = (await (await stack.request('export/results.csv')).text()).replace(/^\uFEFF/, '').trim().split('\r\n').map((l) => l.split(','));
    const head = csv.shift()!;
    const col = (n: string) => head.indexOf(n);
    const exported = Object.fromEntries(csv.filter((r) => r[col('RuleId')] === 'test-alpha' && /^wp/.test(r[col('Server')]!)).map((r) => [r[col('Server')], [r[col('Waived')], r[col('WaiverId')]]]));
    expect(exported).toEqual({ [server('WP1')]: ['false', ''], [server('WP2')]: ['true', 'wp'] });

    expect((await get(stack, 'summary')).body.waivedTotals).toEqual({ Warning: 0, Error: 1 });
  });
});
