// The core routes, without a host or storage: what each hands on after checking its query (and
// that a bad query reads nothing), a snapshot's refusal logged for its own server, the manifest's
// ETag and 304, the summary's one question, enrolment (its body, the proof headers, the rate
// limit's key, a host name that would shadow a known FQDN), and the key and removal routes. The
// service tests go through the same handlers over HTTP against Azurite.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/app/errors';
import { HttpApi, type HttpApiDeps } from '../../src/app/http-api';
import type { ApiContext, RouteCall } from '../../src/app/http-io';
import { RULES } from '../../src/rules/registry';
import { InvalidContinuationTokenError, StorageUnavailableError } from '../../src/store';
import { apiRequest, jsonOf, refusalOf, streamOf, type RequestParts } from '../support/api-request';

const RULE = 'mcafee-port25-blocked';

type Over = { ingest?: () => Promise<unknown>; view?: unknown; find?: { id?: string; candidates: string[] }; revoked?: unknown; enrolled?: { status: number; body: unknown } };

/** Deps recording each call as [name, ...args]. */
function fakeDeps(over: Over = {}) {
  const calls: unknown[][] = [];
  const rec =
    (name: string, answer: (...args: unknown[]) => unknown) =>
    async (...args: unknown[]) => (calls.push([name, ...args]), answer(...args));
  const deps = {
    rules: RULES,
    maxSnapshotBytes: 100,
    ingest: { run: rec('ingest', () => (over.ingest ? over.ingest() : { outcome: 'accepted', results: [] })) },
    queries: {
      manifest: () => ({ version: 'm7', keys: [] }),
      rules: (lang: string) => ({ lang }),
      resolveCountingServer: rec('resolveCounting', (name) => `${String(name)}.contoso.com`),
      resolveServerOrRemoved: rec('resolveOrRemoved', (name) => ({ server: `${String(name)}.contoso.com` })),
      results: rec('results', () => ({ items: ['r'] })),
      events: rec('events', () => ({ items: ['e'] })),
      server: rec('server', () => over.view),
      summary: rec('summary', () => ({ counts: 1 })),
      countsPending: rec('countsPending', () => ({ countsPending: false })),
    },
    auth: { limitUnlessProven: rec('limit', async (_key, proves) => (proves as () => Promise<boolean>)()) },
    reenrolment: {
      proves: rec('proves', () => false),
      enrol: rec('enrol', () => over.enrolled ?? { status: 201, body: { key: 'k' } }),
    },
    keyNames: {
      resolveOrSelf: rec('resolveOrSelf', (name) => name),
      find: rec('find', () => over.find ?? { candidates: [] }),
    },
    enrolment: {
      revoke: rec('revoke', () => over.revoked),
      issue: rec('issue', (server) => ({ server, key: 'new' })),
    },
    removal: { remove: rec('remove', (server) => ({ server, removed: true })) },
    namedAfterRemoval: rec('named', () => [{ code: 'baseline', message: 'm' }]),
  } as unknown as HttpApiDeps;
  return { api: new HttpApi(deps), calls };
}

function fakeLog() {
  const lines: string[] = [];
  return { log: { log: (l: string) => void lines.push(l), warn: () => undefined, error: () => undefined } as unknown as ApiContext, lines };
}

const call = (parts: RequestParts, extra: Partial<RouteCall> = {}): RouteCall => ({ req: apiRequest(parts), log: fakeLog().log, lang: 'en', ...extra });
const post = (text: string, headers: Record<string, string> = {}): RequestParts => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: streamOf(text) });


describe('postSnapshot', () => {
  const who = { kind: 'server', server: 'exch1', keyTag: 'tag' } as const;

  it('hands the body text to ingest with the server key binding and answers 201 when accepted, 200 otherwise', async () => {
    const { api, calls } = fakeDeps();
    const { log } = fakeLog();
    const rows = [{ server: 'exch1' }];
    const recheck = async () => 'tag';
    const res = await api.postSnapshot(call(post('{"a":1}'), { who: who as never, rows: rows as never, recheck, remembered: true, log, lang: 'ja' }));
    expect([res.status, jsonOf(res)]).toStrictEqual([201, { outcome: 'accepted', results: [] }]);
    expect(calls).toStrictEqual([['ingest', '{"a":1}', 'ja', log, { server: 'exch1', keyTag: 'tag', rows, recheck, remembered: true }]]);
    const duplicate = fakeDeps({ ingest: async () => ({ outcome: 'duplicate' }) });
    expect((await duplicate.api.postSnapshot(call(post('{}'), { who: who as never }))).status).toBe(200);
  });

  it('binds nothing for a caller that is not a server', async () => {
    const { api, calls } = fakeDeps();
    await api.postSnapshot(call(post('{}'), { who: { kind: 'admin' } as never }));
    await api.postSnapshot(call(post('{}')));
    expect(calls.map((c) => c[4])).toStrictEqual([undefined, undefined]);
  });

  it('logs a refusal of what a server sent for that server, and only such a refusal', async () => {
    const tooLarge = fakeLog();
    const { api } = fakeDeps();
    expect((await refusalOf(() => api.postSnapshot(call(post('x'.repeat(101)), { who: who as never, log: tooLarge.log }))))[0]).toBe('too_large');
    expect(tooLarge.lines.map((l) => l.split(' ')[0])).toStrictEqual(['FleetPosture.SnapshotRejected']);
    expect(JSON.parse(tooLarge.lines[0]!.slice(tooLarge.lines[0]!.indexOf(' ') + 1))).toMatchObject({ server: 'exch1', status: 413, code: 'too_large' });

    const invalid = new ApiError('invalid_snapshot', 'bad');
    for (const [error, w, logged] of [
      [invalid, who, 1],
      [invalid, undefined, 0],
      [new StorageUnavailableError('down'), who, 0],
    ] as const) {
      const { log, lines } = fakeLog();
      const { api: failing } = fakeDeps({ ingest: () => Promise.reject(error) });
      await expect(failing.postSnapshot(call(post('{}'), { who: w as never, log }))).rejects.toBe(error);
      expect(lines).toHaveLength(logged);
    }
  });

  it('names what it reads in its refusals of the body', async () => {
    const { api } = fakeDeps();
    expect(await refusalOf(() => api.postSnapshot(call({ method: 'POST', body: streamOf('{}') })))).toStrictEqual(['unsupported_media_type', 'Send the snapshot as Content-Type: application/json (UTF-8), not without a Content-Type.']);
    expect(await refusalOf(() => api.postSnapshot(call(post(' '))))).toStrictEqual(['invalid_json', 'The body is empty; send one snapshot as JSON.']);
  });

});

describe('getManifest', () => {
  it('answers the manifest with its version as ETag, not to be cached unchecked', async () => {
    const res = await fakeDeps().api.getManifest(call({}));
    expect([res.status, res.headers, jsonOf(res)]).toStrictEqual([200, { ETag: '"m7"', 'Cache-Control': 'no-cache', 'Content-Type': expect.any(String) }, { version: 'm7', keys: [] }]);
  });

  it('answers 304 without a body to a collector that holds it, weakly compared', async () => {
    for (const inm of ['"m7"', 'W/"m7"', '"m6", "m7"', '*']) {
      const res = await fakeDeps().api.getManifest(call({ headers: { 'if-none-match': inm } }));
      expect([res.status, res.headers, res.body], inm).toStrictEqual([304, { ETag: '"m7"', 'Cache-Control': 'no-cache' }, undefined]);
    }
    for (const inm of ['"m6"', '']) expect((await fakeDeps().api.getManifest(call({ headers: { 'if-none-match': inm } }))).status, inm).toBe(200);
    expect(await refusalOf(() => fakeDeps().api.getManifest(call({ query: 'v=1' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "v".']);
  });
});

describe('getRules', () => {
  it('answers the catalogue in the caller language', async () => {
    expect(jsonOf(await fakeDeps().api.getRules(call({}, { lang: 'ja' })))).toStrictEqual({ lang: 'ja' });
    expect(await refusalOf(() => fakeDeps().api.getRules(call({ query: 'rule=x' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "rule".']);
  });
});

describe('getResults', () => {
  it('reads the filtered results, the server by the name people know', async () => {
    const { api, calls } = fakeDeps();
    const q = `server=EXCH1&rule=${RULE}&status=warning&waived=false&since=2026-12-01&top=7&continuationToken=t1`;
    expect(jsonOf(await api.getResults(call({ query: q }, { lang: 'ja' })))).toStrictEqual({ items: ['r'] });
    expect(calls).toStrictEqual([
      ['resolveCounting', 'exch1'],
      ['results', { server: 'exch1.contoso.com', ruleId: RULE, statuses: ['Warning'], since: Date.parse('2026-12-01T00:00:00Z') }, 7, 't1', 'ja', false],
    ]);
  });

  it('looks no server up without the filter, and reads nothing for a bad query', async () => {
    const { api, calls } = fakeDeps();
    await api.getResults(call({}));
    expect(calls).toStrictEqual([['results', { server: undefined, ruleId: undefined, statuses: undefined, since: undefined }, 100, undefined, 'en', undefined]]);
    calls.length = 0;
    for (const query of ['server=EXCH1&waived=maybe', 'server=EXCH1&top=0', 'server=EXCH1&cause=x']) expect((await refusalOf(() => api.getResults(call({ query }))))[0], query).toBe('invalid_query');
    expect(calls).toStrictEqual([]);
  });
});

describe('getEvents', () => {
  it('reads the filtered events, a removed server by its id or host name too', async () => {
    const { api, calls } = fakeDeps();
    const q = `server=EXCH1&rule=${RULE}&status=Error&cause=snapshot&kind=status&since=2026-12-01T00:00:00Z&top=3&continuationToken=t2`;
    expect(jsonOf(await api.getEvents(call({ query: q })))).toStrictEqual({ items: ['e'] });
    expect(calls).toStrictEqual([
      ['resolveOrRemoved', 'exch1'],
      ['events', { server: 'exch1.contoso.com', ruleId: RULE, statuses: ['Error'], since: Date.parse('2026-12-01T00:00:00Z'), causes: ['snapshot'] }, 3, 't2', 'en'],
    ]);
  });

  it('reads every event without a filter', async () => {
    const { api, calls } = fakeDeps();
    await api.getEvents(call({}));
    expect(calls).toStrictEqual([['events', { server: undefined, ruleId: undefined, statuses: undefined, since: undefined, causes: undefined }, 100, undefined, 'en']]);
  });

  it('answers a kind and causes that exclude each other with one empty page, refusing a token sent with it', async () => {
    const { api, calls } = fakeDeps();
    const res = await api.getEvents(call({ query: 'kind=status&cause=waiver-created' }));
    expect(jsonOf(res)).toStrictEqual({ items: [], continuationToken: null });
    await expect(api.getEvents(call({ query: 'kind=status&cause=waiver-created&continuationToken=t' }))).rejects.toBeInstanceOf(InvalidContinuationTokenError);
    expect(calls).toStrictEqual([]);
  });

  it('reads nothing for a bad query', async () => {
    const { api, calls } = fakeDeps();
    for (const query of ['server=EXCH1&kind=other', 'server=EXCH1&waived=true']) expect((await refusalOf(() => api.getEvents(call({ query }))))[0], query).toBe('invalid_query');
    expect(await refusalOf(() => api.getEvents(call({ query: 'server=bad name' })))).toStrictEqual(['invalid_query', '"server" must be a server id (a host name or fqdn, as the snapshot sent it), not "bad name".']);
    expect(calls).toStrictEqual([]);
  });
});

describe('getServer', () => {
  it('answers one server by the name people know, or a 404 when none of its snapshots is stored', async () => {
    const { api, calls } = fakeDeps({ view: { server: 'exch1.contoso.com' } });
    expect(jsonOf(await api.getServer(call({ params: { server: 'EXCH1' } }, { lang: 'ja' })))).toStrictEqual({ server: 'exch1.contoso.com' });
    expect(calls).toStrictEqual([['resolveCounting', 'exch1'], ['server', 'exch1.contoso.com', 'ja']]);
    expect(await refusalOf(() => fakeDeps().api.getServer(call({ params: { server: 'exch2' } })))).toStrictEqual(['not_found', 'No snapshot from server "exch2.contoso.com" has been stored.']);
    expect(await refusalOf(() => fakeDeps().api.getServer(call({ params: { server: 'exch1' }, query: 'rule=x' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "rule".']);
  });
});

describe('getSummary', () => {
  it('answers the counts, or only whether counts are pending', async () => {
    const { api, calls } = fakeDeps();
    const { log } = fakeLog();
    expect(jsonOf(await api.getSummary(call({}, { lang: 'ja', log })))).toStrictEqual({ counts: 1 });
    expect(jsonOf(await api.getSummary(call({ query: 'only=countsPending' })))).toStrictEqual({ countsPending: false });
    expect(calls).toStrictEqual([['summary', 'ja', log], ['countsPending']]);
  });

  it('refuses any other question', async () => {
    expect(await refusalOf(() => fakeDeps().api.getSummary(call({ query: 'only=counts' })))).toStrictEqual(['invalid_query', 'The query parameter "only" must be countsPending, not "counts".']);
    expect(await refusalOf(() => fakeDeps().api.getSummary(call({ query: 'top=1' })))).toStrictEqual(['invalid_query', 'Unknown query parameter "top"; this route accepts "only".']);
  });
});

describe('enroll', () => {
  it('enrols the server its host facts name, with the proofs it sent, under the rate limit of that server', async () => {
    const { api, calls } = fakeDeps({ enrolled: { status: 202, body: { request: 'r1' } } });
    const { log } = fakeLog();
    const headers = { 'x-server-key': ' key ', 'x-enrolment-claim': '', 'x-enrolment-request': 'r0', 'x-forwarded-for': '10.0.0.1, 192.0.2.7' };
    const res = await api.enroll(call(post('{"host":{"name":"EXCH1","fqdn":"EXCH1.Contoso.com"},"collector":{"name":"fleet-posture","version":"1.4"}}', headers), { log }));
    expect([res.status, jsonOf(res)]).toStrictEqual([202, { request: 'r1' }]);
    const proofs = { currentKey: 'key', claim: undefined, request: 'r0' };
    expect(calls.map((c) => c[0])).toStrictEqual(['limit', 'proves', 'enrol']);
    expect(calls[0]![1]).toBe('enrol:exch1.contoso.com');
    expect(calls[1]).toStrictEqual(['proves', 'exch1.contoso.com', proofs]);
    expect(calls[2]).toStrictEqual(['enrol', 'exch1.contoso.com', { hostName: 'EXCH1', fqdn: 'EXCH1.Contoso.com', collector: 'fleet-posture 1.4', source: '192.0.2.7' }, proofs, log]);
  });

  it('names a collector without its version, or none', async () => {
    for (const [collector, named] of [
      [',"collector":{"name":"fleet-posture"}', 'fleet-posture'],
      [',"collector":{"version":"1.4"}', undefined],
      ['', undefined],
    ] as const) {
      const { api, calls } = fakeDeps();
      await api.enroll(call(post(`{"host":{"name":"exch1","fqdn":"exch1.contoso.com"}${collector}}`)));
      expect((calls.at(-1)![2] as { collector?: string }).collector, collector).toBe(named);
    }
  });

  it('refuses a body that is not an enrolment request, with its issues, before the rate limit', async () => {
    const { api, calls } = fakeDeps();
    const refused = await api.enroll(call(post('{"host":{"name":5}}'))).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    const { code, message, issues } = refused as ApiError;
    expect([code, message]).toStrictEqual(['invalid_enrolment', 'The enrolment request must be {"host": {"name": "<NetBIOS name>", "fqdn": "<optional fqdn>"}}.']);
    expect(issues).toStrictEqual([{ path: 'host.name', message: 'must be a string' }]);
    const missing = await api.enroll(call(post('{"host":{}}'))).catch((e: unknown) => e);
    expect((missing as ApiError).issues).toStrictEqual([{ path: 'host.name', message: 'is required (a string) but missing' }]);
    const hint = 'send {"host": {"name": "<NetBIOS name>", "fqdn": "<optional fqdn>"}}';
    expect(await refusalOf(() => api.enroll(call(post('  '))))).toStrictEqual(['invalid_json', `The body is empty; ${hint}.`]);
    expect(await refusalOf(() => api.enroll(call({ method: 'POST', body: streamOf('{}') })))).toStrictEqual(['unsupported_media_type', 'Send the enrolment request as Content-Type: application/json (UTF-8), not without a Content-Type.']);
    expect((await refusalOf(() => api.enroll(call(post(`{"host":{"name":"exch1","x":"${'x'.repeat(16 * 1024)}"}}`)))))[0]).toBe('too_large');
    expect(calls).toStrictEqual([]);
  });

  it('refuses a host name alone where servers are known by FQDNs that begin with it', async () => {
    const { api, calls } = fakeDeps({ find: { candidates: ['exch1.contoso.com', 'exch1.fabrikam.com'] } });
    expect(await refusalOf(() => api.enroll(call(post('{"host":{"name":"EXCH1"}}'))))).toStrictEqual([
      'invalid_enrolment',
      'Servers named EXCH1 are known by their FQDN (exch1.contoso.com, exch1.fabrikam.com): enrol with "fqdn" too, so the key is bound to the right one.',
    ]);
    expect(calls.map((c) => c[0])).toStrictEqual(['limit', 'proves', 'find']);
    const one = fakeDeps({ find: { id: 'exch1.contoso.com', candidates: [] } });
    expect((await refusalOf(() => one.api.enroll(call(post('{"host":{"name":"exch1"}}')))))[1]).toContain('(exch1.contoso.com)');
  });

  it('enrols a host name alone that is itself the server, or that no FQDN shadows', async () => {
    for (const find of [{ id: 'exch1', candidates: ['exch1.contoso.com'] }, { candidates: [] }]) {
      const { api, calls } = fakeDeps({ find });
      expect((await api.enroll(call(post('{"host":{"name":"exch1"}}')))).status).toBe(201);
      expect(calls.find((c) => c[0] === 'find')).toStrictEqual(['find', 'exch1']);
    }
    const { api, calls } = fakeDeps();
    await api.enroll(call(post('{"host":{"name":"exch1","fqdn":"exch1.contoso.com"}}')));
    expect(calls.some((c) => c[0] === 'find')).toBe(false);
  });

});

describe('revokeServerKey', () => {
  it('revokes the key, allowing re-enrolment unless told to deny it', async () => {
    for (const [query, reenrol] of [
      ['', 'allow'],
      ['reenrol=allow', 'allow'],
      ['reenrol=deny', 'deny'],
    ] as const) {
      const { api, calls } = fakeDeps({ revoked: { revoked: true, settled: 2 } });
      const { log } = fakeLog();
      const res = await api.revokeServerKey(call({ method: 'POST', query, params: { server: 'EXCH1' } }, { log }));
      expect(jsonOf(res)).toStrictEqual({ server: 'exch1', revoked: true, settled: 2, reenrol });
      expect(calls).toStrictEqual([['resolveOrSelf', 'exch1'], ['revoke', 'exch1', log, reenrol === 'deny']]);
    }
  });

  it('is a 404 for a server that never enrolled, and refuses another reenrol', async () => {
    expect(await refusalOf(() => fakeDeps().api.revokeServerKey(call({ params: { server: 'exch9' } })))).toStrictEqual(['not_found', 'Server "exch9" has never enrolled.']);
    expect(await refusalOf(() => fakeDeps().api.revokeServerKey(call({ query: `reenrol=${'b'.repeat(30)}`, params: { server: 'exch1' } })))).toStrictEqual(['invalid_query', `"reenrol" must be allow or deny, not "${'b'.repeat(20)}".`]);
  });
});

describe('removeServer', () => {
  it('removes the server in the name of who did it, with what still names it', async () => {
    const { api, calls } = fakeDeps();
    const { log } = fakeLog();
    const res = await api.removeServer(call({ method: 'DELETE', query: 'removedBy=%20alice%20&reenrol=deny', params: { server: 'EXCH1' } }, { log }));
    expect(jsonOf(res)).toStrictEqual({ server: 'exch1', removed: true, reenrol: 'deny', warnings: [{ code: 'baseline', message: 'm' }] });
    expect(calls).toStrictEqual([['resolveOrSelf', 'exch1'], ['remove', 'exch1', 'alice', true, log], ['named', 'exch1']]);
  });

  it('allows the server to enrol again unless told to deny it', async () => {
    const { api, calls } = fakeDeps();
    const res = await api.removeServer(call({ method: 'DELETE', query: 'removedBy=alice', params: { server: 'exch1' } }));
    expect(jsonOf(res).reenrol).toBe('allow');
    expect(calls[1]?.slice(0, 4)).toStrictEqual(['remove', 'exch1', 'alice', false]);
  });

  it('needs who removes it, 1 to 200 characters, before anything is read', async () => {
    const { api, calls } = fakeDeps();
    const message = '"removedBy" must name who removes the server (1 to 200 characters).';
    for (const query of ['', `removedBy=${'a'.repeat(201)}`]) expect(await refusalOf(() => api.removeServer(call({ query, params: { server: 'exch1' } }))), query).toStrictEqual(['invalid_query', message]);
    expect(await refusalOf(() => api.removeServer(call({ query: 'removedBy=%20%20', params: { server: 'exch1' } })))).toStrictEqual(['invalid_query', 'The query parameter "removedBy" must not be empty.']);
    expect(calls).toStrictEqual([]);
    expect((await api.removeServer(call({ query: `removedBy=${'a'.repeat(200)}`, params: { server: 'exch1' } }))).status).toBe(200);
  });
});

describe('rotateServerKey', () => {
  it('issues a new key (201) for the server the name resolves to', async () => {
    const { api, calls } = fakeDeps();
    const { log } = fakeLog();
    const res = await api.rotateServerKey(call({ method: 'POST', params: { server: 'EXCH1' } }, { log }));
    expect([res.status, jsonOf(res)]).toStrictEqual([201, { server: 'exch1', key: 'new' }]);
    expect(calls).toStrictEqual([['resolveOrSelf', 'exch1'], ['issue', 'exch1', {}, 'admin-rotation', log]]);
    expect(await refusalOf(() => api.rotateServerKey(call({ params: { server: 'exch1' }, query: 'x=1' })))).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "x".']);
  });
});

describe('the collector posts', () => {
  it('take no query parameters, and are refused before anything is read or written', async () => {
    for (const route of ['postSnapshot', 'enroll'] as const) {
      const { api, calls } = fakeDeps();
      expect(await refusalOf(() => api[route](call({ ...post('{}'), query: 'x=1' }))), route).toStrictEqual(['invalid_query', 'This route takes no query parameters, but got "x".']);
      expect(calls, route).toStrictEqual([]);
    }
  });
});
