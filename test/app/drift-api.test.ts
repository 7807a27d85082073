// The fleet drift routes, without a host or storage: a drift query needs a rule that declares
// configuration facts, checked before anything is read; the fleet answer says what it cost in
// storage; and the baseline routes per method, with their ETags. The service tests call the same
// routes over HTTP against Azurite.
import { describe, expect, it } from 'vitest';
import { DriftApi, type DriftApiDeps } from '../../src/app/drift-api';
import { ApiError } from '../../src/app/errors';
import type { ApiContext, RouteCall } from '../../src/app/http-io';
import { RULES } from '../../src/rules/registry';
import type { StoredBaseline } from '../../src/store';
import { apiRequest, jsonBody, jsonOf, refusalOf, type RequestParts } from '../support/api-request';

const RULE = 'mcafee-port25-blocked';
const SET_AT = Date.parse('2026-12-06T10:00:00.000Z');
const baseline = (server: string, revision: number): StoredBaseline => ({ ruleId: RULE, server, setBy: 'alice', setAt: SET_AT, revision, etag: 'e' }) as StoredBaseline;

/** Deps recording their calls; the queries know `RULE` as the one rule with configuration facts. */
function fakeDeps(answers: { view?: unknown; stored?: StoredBaseline; created?: boolean; ended?: StoredBaseline } = {}) {
  const calls: unknown[][] = [];
  const deps = {
    rules: RULES,
    queries: {
      ruleWithFacts: (ruleId: string) => {
        if (ruleId !== RULE) throw new ApiError('invalid_query', `no facts: ${ruleId}`);
        return { id: ruleId };
      },
      fleet: async (...args: unknown[]) => (calls.push(['fleet', ...args.slice(0, 3)]), { clusters: ['c'], entitiesRead: 17 }),
      server: async (...args: unknown[]) => (calls.push(['server', ...args]), answers.view),
    },
    resolveServer: async (name: string) => (calls.push(['resolve', name]), `${name}.contoso.com`),
    baselines: {
      rule: (ruleId: string) => {
        calls.push(['rule', ruleId]);
        if (ruleId.toLowerCase() !== RULE) throw new ApiError('not_found', `no rule ${ruleId}`);
        return { id: RULE };
      },
      get: async (ruleId: string) => (calls.push(['get', ruleId]), answers.stored),
      put: async (...args: unknown[]) => (calls.push(['put', ...args.slice(0, 2), ...args.slice(3)]), { created: answers.created ?? true, baseline: baseline('exch1', 1) }),
      remove: async (...args: unknown[]) => (calls.push(['remove', args[0]]), answers.ended),
    },
  } as unknown as DriftApiDeps;
  return { api: new DriftApi(deps), calls };
}

const log = { log: () => undefined } as unknown as ApiContext;
const call = (parts: RequestParts): RouteCall => ({ req: apiRequest(parts), log, lang: 'en' });

describe('fleet', () => {
  it('answers the rule clusters, a page at a time, with the entities read in a header', async () => {
    const { api, calls } = fakeDeps();
    const res = await api.fleet(call({ query: `rule=${RULE.toUpperCase()}&top=2&continuationToken=t0` }));
    expect([res.status, res.headers['X-Entities-Read'], jsonOf(res)]).toStrictEqual([200, '17', { clusters: ['c'] }]);
    expect(calls).toStrictEqual([['fleet', RULE, 2, 't0']]);
  });

  it('needs a rule, one with configuration facts, and refuses other parameters, reading nothing', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.fleet(call({})))).toStrictEqual(['invalid_query', 'Drift is per rule: give "rule", e.g. ?rule=mcafee-port25-blocked.']);
    expect((await refusalOf(() => api.fleet(call({ query: 'rule=nope' }))))[0]).toBe('invalid_query');
    expect((await refusalOf(() => api.fleet(call({ query: `rule=${RULE}&server=x` }))))[0]).toBe('invalid_query');
    expect(calls).toStrictEqual([]);
  });
});

describe('server', () => {
  it('answers one server configuration against its reference, the server by the name people know', async () => {
    const { api, calls } = fakeDeps({ view: { server: 'exch1.contoso.com', matches: true } });
    expect(jsonOf(await api.server(call({ query: `rule=${RULE}`, params: { server: 'EXCH1' } })))).toStrictEqual({ server: 'exch1.contoso.com', matches: true });
    expect(calls).toStrictEqual([['resolve', 'exch1'], ['server', 'exch1.contoso.com', RULE]]);
  });

  it('is a 404 when no configuration of the server is recorded, and checks the rule before the server', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.server(call({ query: `rule=${RULE}`, params: { server: 'exch1' } })))).toStrictEqual(['not_found', `No configuration of server "exch1.contoso.com" is recorded for ${RULE}.`]);
    calls.length = 0;
    expect((await refusalOf(() => api.server(call({ params: { server: 'exch1' } }))))[0]).toBe('invalid_query');
    expect((await refusalOf(() => api.server(call({ query: `rule=${RULE}&top=1`, params: { server: 'exch1' } }))))[0]).toBe('invalid_query');
    expect(calls).toStrictEqual([]);
  });
});

describe('baselines', () => {
  const route = (method: string, extra: RequestParts = {}) => call({ method, params: { rule: ` ${RULE} ` }, ...extra });

  it('GET answers the named baseline with its revision as the ETag', async () => {
    const { api, calls } = fakeDeps({ stored: baseline('exch1', 3) });
    const res = await api.baselines(route('get'));
    expect([res.status, res.headers.ETag, jsonOf(res)]).toStrictEqual([200, '"3"', { rule: RULE, server: 'exch1', setBy: 'alice', setAt: '2026-12-06T10:00:00.000Z', revision: 3 }]);
    expect(calls).toStrictEqual([['get', RULE]]);
  });

  it('GET answers none named, or one cleared, as server null, keeping the revision', async () => {
    const none = await fakeDeps().api.baselines(route('GET'));
    expect([none.headers.ETag, jsonOf(none)]).toStrictEqual(['"0"', { rule: RULE, server: null, setBy: null, setAt: null, revision: 0 }]);
    const cleared = await fakeDeps({ stored: baseline('', 4) }).api.baselines(route('GET'));
    expect([cleared.headers.ETag, jsonOf(cleared)]).toStrictEqual(['"4"', { rule: RULE, server: null, setBy: null, setAt: null, revision: 4 }]);
  });

  it('PUT checks the rule before the body, names the baseline (201 or 200) and passes If-None-Match on', async () => {
    for (const created of [true, false]) {
      const { api, calls } = fakeDeps({ created });
      const res = await api.baselines(route('PUT', { ...jsonBody('{"server":"exch1","setBy":"alice"}'), headers: { 'content-type': 'application/json', 'if-none-match': '*' } }));
      expect([res.status, res.headers.ETag, jsonOf(res).server]).toStrictEqual([created ? 201 : 200, '"1"', 'exch1']);
      expect(calls).toStrictEqual([['rule', RULE], ['put', RULE, { server: 'exch1', setBy: 'alice' }, undefined, true]]);
    }
    const { api, calls } = fakeDeps();
    expect((await refusalOf(() => api.baselines(call({ method: 'PUT', params: { rule: 'nope' }, ...jsonBody('{') }))))[0]).toBe('not_found');
    expect(calls).toStrictEqual([['rule', 'nope']]);
  });

  it('PUT refuses a body over 4 KiB', async () => {
    const { api } = fakeDeps();
    const sized = (bytes: number) => `{"j":"${'x'.repeat(bytes - 8)}"}`;
    expect((await api.baselines(route('PUT', jsonBody(sized(4 * 1024))))).status).toBe(201);
    expect((await refusalOf(() => api.baselines(route('PUT', jsonBody(sized(4 * 1024 + 1))))))[0]).toBe('too_large');
  });

  it('DELETE clears the baseline and says so; none named is a 404', async () => {
    const { api } = fakeDeps({ ended: baseline('exch1', 5) });
    const res = await api.baselines(route('DELETE'));
    expect([res.status, res.headers.ETag, jsonOf(res)]).toStrictEqual([200, '"5"', { rule: RULE, server: 'exch1', setBy: 'alice', setAt: '2026-12-06T10:00:00.000Z', revision: 5, cleared: true }]);
    expect(await refusalOf(() => fakeDeps().api.baselines(route('DELETE')))).toStrictEqual(['not_found', `No baseline is named for ${RULE}.`]);
  });

  it('asks for the rule the path names, none when it names none', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.baselines(call({ method: 'PUT', params: {} })))).toStrictEqual(['not_found', 'no rule ']);
    expect(calls).toStrictEqual([['rule', '']]);
  });

  it('refuses query parameters and other methods', async () => {
    expect(await refusalOf(() => fakeDeps().api.baselines(route('GET', { query: 'x=1' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "x".']);
    expect(await refusalOf(() => fakeDeps().api.baselines(route('PATCH')))).toStrictEqual(['invalid_query', 'The baselines route accepts GET, PUT and DELETE, not PATCH.']);
  });
});
