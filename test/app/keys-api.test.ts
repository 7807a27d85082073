// The routes that keep collectors reachable, without a host or storage: the refused servers, the
// re-enrolment requests by state, and an admin's decision: the request id and action checked
// before the server is looked up, the first decision standing, an expired request closed. The
// service tests decide real requests over HTTP against Azurite.
import { describe, expect, it } from 'vitest';
import type { ApiContext, RouteCall } from '../../src/app/http-io';
import { KeysApi, type KeysApiDeps } from '../../src/app/keys-api';
import { apiRequest, jsonOf, refusalOf, type RequestParts } from '../support/api-request';

/** Deps recording their calls; `decided` is what a decision finds. */
function fakeDeps(decided?: { state: string; decidedAt?: string }) {
  const calls: unknown[][] = [];
  const deps = {
    reenrolment: {
      refusedServers: async () => (calls.push(['refused']), { items: ['r'] }),
      requests: async (state: string) => (calls.push(['requests', state]), { items: [state] }),
      decide: async (...args: unknown[]) => (calls.push(['decide', ...args.slice(0, 3)]), decided),
    },
    keyNames: { resolveOrSelf: async (name: string) => (calls.push(['resolve', name]), `${name}.contoso.com`) },
  } as unknown as KeysApiDeps;
  return { api: new KeysApi(deps), calls };
}

const log = { log: () => undefined } as unknown as ApiContext;
const call = (parts: RequestParts): RouteCall => ({ req: apiRequest(parts), log, lang: 'en' });


describe('refusedServers', () => {
  it('lists the servers whose collector is refused and takes no query', async () => {
    const { api, calls } = fakeDeps();
    expect(jsonOf(await api.refusedServers(call({})))).toStrictEqual({ items: ['r'] });
    expect(await refusalOf(() => api.refusedServers(call({ query: 'top=5' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "top".']);
    expect(calls).toStrictEqual([['refused']]);
  });
});

describe('enrolments', () => {
  it('lists the pending requests by default, or those of a state in any case', async () => {
    const { api, calls } = fakeDeps();
    expect(jsonOf(await api.enrolments(call({})))).toStrictEqual({ items: ['pending'] });
    await api.enrolments(call({ query: 'state=Approved' }));
    await api.enrolments(call({ query: 'state=denied' }));
    expect(calls).toStrictEqual([['requests', 'pending'], ['requests', 'approved'], ['requests', 'denied']]);
  });

  it('refuses another state, cut to 20 characters, reading nothing', async () => {
    const { api, calls } = fakeDeps();
    expect(await refusalOf(() => api.enrolments(call({ query: 'state=expired' })))).toStrictEqual(['invalid_query', '"state" must be one of pending, approved, denied, not "expired".']);
    expect(await refusalOf(() => api.enrolments(call({ query: `state=${'y'.repeat(30)}` })))).toStrictEqual(['invalid_query', `"state" must be one of pending, approved, denied, not "${'y'.repeat(20)}".`]);
    expect(calls).toStrictEqual([]);
  });
});

describe('decide', () => {
  const params = (request: string, decision: string) => ({ server: 'EXCH1', request, decision });

  it('approves or denies a request of the server its name resolves to', async () => {
    for (const [decision, state] of [
      ['approve', 'approved'],
      ['DENY', 'denied'],
    ] as const) {
      const { api, calls } = fakeDeps({ state });
      const res = await api.decide(call({ method: 'POST', params: params('r-1_A', decision) }));
      expect([res.status, jsonOf(res)]).toStrictEqual([200, { state }]);
      expect(calls).toStrictEqual([
        ['resolve', 'exch1'],
        ['decide', 'exch1.contoso.com', 'r-1_A', state],
      ]);
    }
  });

  it('checks the request id and the action before looking the server up', async () => {
    const { api, calls } = fakeDeps({ state: 'approved' });
    for (const request of ['', 'a b', 'x'.repeat(65), 'r/1']) {
      expect(await refusalOf(() => api.decide(call({ params: params(request, 'approve') }))), request).toStrictEqual(['invalid_query', `The request in the path must be the id of a re-enrolment request, not "${request.slice(0, 64)}".`]);
    }
    expect((await api.decide(call({ params: params('x'.repeat(64), 'approve') }))).status).toBe(200);
    calls.length = 0;
    for (const decision of ['revoke', 'constructor', '__proto__', 'toString']) {
      expect(await refusalOf(() => api.decide(call({ params: params('r1', decision) }))), decision).toStrictEqual(['not_found', `There is no action "${decision.toLowerCase()}"; use approve or deny.`]);
    }
    expect(await refusalOf(() => api.decide(call({ params: { server: 'exch1', request: 'r1' } })))).toStrictEqual(['not_found', 'There is no action ""; use approve or deny.']);
    expect(await refusalOf(() => api.decide(call({ params: params('r1', 'a'.repeat(30)) })))).toStrictEqual(['not_found', `There is no action "${'a'.repeat(20)}"; use approve or deny.`]);
    expect(await refusalOf(() => api.decide(call({ params: { server: 'exch1', decision: 'approve' } })))).toStrictEqual(['invalid_query', 'The request in the path must be the id of a re-enrolment request, not "".']);
    expect(await refusalOf(() => api.decide(call({ params: params('r1', 'approve'), query: 'x=1' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "x".']);
    expect(calls).toStrictEqual([]);
  });

  it('answers 404 for a request the server does not have', async () => {
    expect(await refusalOf(() => fakeDeps(undefined).api.decide(call({ params: params('r1', 'approve') })))).toStrictEqual(['not_found', 'There is no re-enrolment request "r1" of exch1.contoso.com.']);
  });

  it('keeps the first decision: the other one is refused saying what to do instead', async () => {
    expect(await refusalOf(() => fakeDeps({ state: 'approved', decidedAt: '2026-12-06T09:00:00.000Z' }).api.decide(call({ params: params('r1', 'deny') })))).toStrictEqual([
      'already_decided',
      'The re-enrolment request "r1" of exch1.contoso.com was already approved at 2026-12-06T09:00:00.000Z and cannot be denied now; to shut the server out, revoke its key with reenrol=deny.',
    ]);
    expect(await refusalOf(() => fakeDeps({ state: 'denied' }).api.decide(call({ params: params('r1', 'approve') })))).toStrictEqual([
      'already_decided',
      'The re-enrolment request "r1" of exch1.contoso.com was already denied at an earlier time and cannot be approved now; the requester can file a new request.',
    ]);
  });

  it('refuses to decide an expired request', async () => {
    expect(await refusalOf(() => fakeDeps({ state: 'expired' }).api.decide(call({ params: params('r1', 'approve') })))).toStrictEqual([
      'request_closed',
      'The re-enrolment request "r1" of exch1.contoso.com has expired and cannot be approved now; the server\'s next enrolment files a new request.',
    ]);
  });
});
