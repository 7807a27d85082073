// How a route is served, without a host or storage: the key checked against the route's access
// before the handler runs, a post's server rows read once (or taken from memory) and handed on with
// a recheck, the language chosen, HEAD answered as GET without a streamed body, and every failure
// mapped to its answer: a client's to its 4xx, storage's to 503 with Retry-After, anything else to
// a logged 500. The service tests go through the same function over HTTP on both hosts.
import { describe, expect, it } from 'vitest';
import type { PostureApp } from '../../src/app/create-app';
import type { Principal } from '../../src/app/enrolment';
import { ApiError } from '../../src/app/errors';
import { json, type ApiContext, type ApiRequest, type ApiResponse, type RouteCall } from '../../src/app/http-io';
import type { Route } from '../../src/app/routes';
import { serveRoute } from '../../src/app/serve-route';
import { RULES } from '../../src/rules/registry';
import { ConcurrencyConflictError, InvalidContinuationTokenError, StorageUnavailableError, type StoredResult } from '../../src/store';
import { apiRequest, jsonOf as bodyOf } from '../support/api-request';

type AuthorizeCall = { access: string; rowsTag?: string; options?: { rateLimited?: boolean } };

/** An app whose key check answers `principals` in turn and whose store holds `rows` for a claimed server. */
function fakeApp(opts: { claimed?: string; principals?: Principal[]; remembered?: StoredResult[]; stored?: StoredResult[]; refuse?: ApiError } = {}) {
  const authorized: AuthorizeCall[] = [];
  const reads: string[] = [];
  const principals = [...(opts.principals ?? [{ kind: 'reader' } as Principal])];
  const app = {
    rules: RULES,
    auth: {
      claimedServer: () => opts.claimed,
      authorize: async (_headers: unknown, access: string, _log: unknown, rowsTag?: string, options?: { rateLimited?: boolean }) => {
        authorized.push({ access, rowsTag, options });
        if (opts.refuse) throw opts.refuse;
        return principals.length > 1 ? principals.shift()! : principals[0]!;
      },
    },
    store: {
      rememberedServerRows: (server: string, ruleIds: readonly string[]) => (reads.push(`memory ${server} ${ruleIds.join(',')}`), opts.remembered),
      readServerRows: async (server: string, ruleIds: readonly string[]) => (reads.push(`storage ${server} ${ruleIds.join(',')}`), opts.stored ?? []),
    },
  } as unknown as PostureApp;
  return { app, authorized, reads };
}

function fakeLog() {
  const lines: { level: string; args: unknown[] }[] = [];
  const log = { warn: (...args: unknown[]) => lines.push({ level: 'warn', args }), error: (...args: unknown[]) => lines.push({ level: 'error', args }), alert: () => undefined } as unknown as ApiContext;
  return { log, lines };
}

const request = (method: string, headers: Record<string, string> = {}): ApiRequest => apiRequest({ method, headers });

function route(access: Route['access'], handler: (call: RouteCall) => Promise<ApiResponse>): Route & { calls: RouteCall[] } {
  const calls: RouteCall[] = [];
  return {
    name: 'testRoute',
    methods: ['GET', 'HEAD', 'POST'],
    route: 'x',
    access,
    calls,
    handler: async (_app, call) => {
      calls.push(call);
      return handler(call);
    },
  };
}

const ok = async () => json(200, { ok: true });
const rowWithTag = (keyTag?: string) => ({ keyTag }) as StoredResult;

describe('serveRoute: the key and the call', () => {
  it('checks the key against the route\'s access first, then hands the handler who called and the language', async () => {
    const { app, authorized, reads } = fakeApp({ principals: [{ kind: 'admin' } as Principal] });
    const r = route('admin', ok);
    const res = await serveRoute(app, r, request('GET', { 'Accept-Language': 'ja' }), fakeLog().log);
    expect(res.status).toBe(200);
    expect(authorized).toEqual([{ access: 'admin', rowsTag: undefined, options: undefined }]);
    expect(reads).toEqual([]);
    expect(r.calls[0]).toMatchObject({ lang: 'ja', who: { kind: 'admin' } });
    expect(r.calls[0]!.rows).toBeUndefined();
    expect(res.headers).toMatchObject({ 'Content-Language': 'ja', Vary: 'Accept-Language', 'Content-Type': 'application/json; charset=utf-8' });
  });

  it('lets a handler\'s own headers stand over the defaults', async () => {
    const { app } = fakeApp();
    const res = await serveRoute(app, route('read', async () => json(200, {}, { Vary: 'Accept-Language, Accept-Encoding' })), request('GET'), fakeLog().log);
    expect(res.headers.Vary).toBe('Accept-Language, Accept-Encoding');
    expect(res.headers['Content-Language']).toBe('en');
  });

  it('runs no handler for a refused key and answers the refusal', async () => {
    const { app } = fakeApp({ refuse: new ApiError('forbidden', 'This key is a reader key and cannot change waivers.') });
    const r = route('admin', ok);
    const res = await serveRoute(app, r, request('PUT'), fakeLog().log);
    expect(res.status).toBe(403);
    expect(bodyOf(res)).toEqual({ error: 'forbidden', message: 'This key is a reader key and cannot change waivers.' });
    expect(r.calls).toEqual([]);
  });

  it('serves a public route without a key check, in its own format', async () => {
    const { app, authorized } = fakeApp();
    const r = route('public', async () => ({ status: 200, headers: { 'Content-Type': 'text/html' }, body: '<p>' }));
    const res = await serveRoute(app, r, request('GET', { 'Accept-Language': 'ja' }), fakeLog().log);
    expect(res).toEqual({ status: 200, headers: { 'Content-Type': 'text/html' }, body: '<p>' });
    expect(authorized).toEqual([]);
    expect(r.calls[0]).toMatchObject({ lang: 'ja' });
    expect(r.calls[0]!.who).toBeUndefined();
  });
});

describe('serveRoute: a post with a server key', () => {
  const server: Principal = { kind: 'server', server: 'ex01', keyTag: 't1' };

  it('reads the server\'s rows once, checks the key against their tag, and hands both on', async () => {
    const stored = [rowWithTag('t1'), rowWithTag('t1')];
    const { app, authorized, reads } = fakeApp({ claimed: 'ex01', principals: [server], stored });
    const r = route('ingest', ok);
    await serveRoute(app, r, request('POST'), fakeLog().log);
    // The rows of every rule of the rule set.
    expect(reads).toEqual(['memory ex01 mcafee-port25-blocked', 'storage ex01 mcafee-port25-blocked']);
    expect(authorized).toEqual([{ access: 'ingest', rowsTag: 't1', options: undefined }]);
    expect(r.calls[0]!.rows).toBe(stored);
    expect(r.calls[0]!.remembered).toBe(false);
    expect(r.calls[0]!.who).toEqual(server);
  });

  it('takes the rows from this instance\'s memory when it has them, and says so', async () => {
    const remembered = [rowWithTag('t1')];
    const { app, reads } = fakeApp({ claimed: 'ex01', principals: [server], remembered });
    const r = route('ingest', ok);
    await serveRoute(app, r, request('POST'), fakeLog().log);
    expect(reads).toEqual(['memory ex01 mcafee-port25-blocked']);
    expect(r.calls[0]!.rows).toBe(remembered);
    expect(r.calls[0]!.remembered).toBe(true);
  });

  it('passes no tag when the rows do not all carry the same one', async () => {
    const { app, authorized } = fakeApp({ claimed: 'ex01', principals: [server], stored: [rowWithTag('t1'), rowWithTag('t2')] });
    await serveRoute(app, route('ingest', ok), request('POST'), fakeLog().log);
    expect(authorized[0]!.rowsTag).toBeUndefined();
  });

  it('gives a recheck that checks the key again, without the rate limit, against rows read later', async () => {
    const { app, authorized } = fakeApp({ claimed: 'ex01', principals: [server, { kind: 'server', server: 'ex01', keyTag: 't9' }] });
    const r = route('ingest', ok);
    await serveRoute(app, r, request('POST'), fakeLog().log);
    expect(await r.calls[0]!.recheck!([rowWithTag('t9')])).toBe('t9');
    expect(authorized[1]).toEqual({ access: 'ingest', rowsTag: 't9', options: { rateLimited: false } });
  });

  it('refuses in the recheck a key that now names another principal', async () => {
    const others: Principal[] = [{ kind: 'server', server: 'ex02', keyTag: 'x' }, { kind: 'ingest' } as Principal];
    for (const other of others) {
      const { app } = fakeApp({ claimed: 'ex01', principals: [server, other] });
      const r = route('ingest', ok);
      await serveRoute(app, r, request('POST'), fakeLog().log);
      await expect(r.calls[0]!.recheck!([])).rejects.toThrow('The key of ex01 named another principal when checked again.');
    }
  });

  it('hands neither rows nor a recheck on when the key is not that server\'s own', async () => {
    for (const who of [{ kind: 'ingest' } as Principal, { kind: 'server', server: 'ex02', keyTag: 'x' } as Principal]) {
      const { app } = fakeApp({ claimed: 'ex01', principals: [who], stored: [rowWithTag('t1')] });
      const r = route('ingest', ok);
      await serveRoute(app, r, request('POST'), fakeLog().log);
      expect(r.calls[0]!.who).toEqual(who);
      expect([r.calls[0]!.rows, r.calls[0]!.recheck, r.calls[0]!.remembered]).toEqual([undefined, undefined, undefined]);
    }
  });

  it('reads no rows for a route other than a post, even with a server claimed', async () => {
    const { app, reads } = fakeApp({ claimed: 'ex01', principals: [{ kind: 'reader' } as Principal] });
    await serveRoute(app, route('collector', ok), request('GET'), fakeLog().log);
    expect(reads).toEqual([]);
  });
});

describe('serveRoute: HEAD', () => {
  it('runs GET\'s handler and keeps a body already in memory, so the length is GET\'s', async () => {
    const { app } = fakeApp();
    const r = route('read', ok);
    const res = await serveRoute(app, r, request('head'), fakeLog().log);
    expect(r.calls[0]!.req.method).toBe('GET');
    expect(bodyOf(res)).toEqual({ ok: true });
  });

  it('cancels a streamed body instead of reading it', async () => {
    let cancelled = false;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({ pull: () => void pulls++, cancel: () => void (cancelled = true) }, { highWaterMark: 0 });
    const { app } = fakeApp();
    const res = await serveRoute(app, route('read', async () => ({ status: 200, headers: { 'Content-Type': 'text/csv' }, body: stream })), request('HEAD'), fakeLog().log);
    expect(res).toEqual({ status: 200, headers: { 'Content-Language': 'en', Vary: 'Accept-Language', 'Content-Type': 'text/csv' } });
    expect(cancelled).toBe(true);
    expect(pulls).toBe(0);
  });

  it('leaves a GET\'s stream alone', async () => {
    const stream = new ReadableStream<Uint8Array>();
    const { app } = fakeApp();
    const res = await serveRoute(app, route('read', async () => ({ status: 200, headers: {}, body: stream })), request('GET'), fakeLog().log);
    expect(res.body).toBe(stream);
  });
});

describe('serveRoute: failures', () => {
  const failing = (error: unknown) => route('read', async () => Promise.reject(error));

  it('answers a client\'s error with its own status and message', async () => {
    const { app } = fakeApp();
    const res = await serveRoute(app, failing(new ApiError('not_found', 'No server ex09 has reported.')), request('GET'), fakeLog().log);
    expect([res.status, bodyOf(res)]).toEqual([404, { error: 'not_found', message: 'No server ex09 has reported.' }]);
  });

  it('answers a continuation token it never issued as a query error', async () => {
    const { app } = fakeApp();
    const res = await serveRoute(app, failing(new InvalidContinuationTokenError('Drop the token.')), request('GET'), fakeLog().log);
    expect([res.status, bodyOf(res)]).toEqual([400, { error: 'invalid_query', message: 'Drop the token.' }]);
  });

  it('answers storage trouble with 503 and the wait storage asked for, logged as a warning', async () => {
    const { app } = fakeApp();
    const { log, lines } = fakeLog();
    const res = await serveRoute(app, failing(new StorageUnavailableError('throttled', { retryAfterSeconds: 7 })), request('GET'), log);
    expect(res.status).toBe(503);
    expect(res.headers['Retry-After']).toBe('7');
    expect(bodyOf(res)).toEqual({ error: 'storage_unavailable', message: 'Storage is unavailable or busy right now; retry after 7 seconds (part of the request may have been stored; sending it again is safe).' });
    expect(lines).toEqual([{ level: 'warn', args: ['storage_unavailable: throttled'] }]);
  });

  it('answers a write that kept meeting others\' with 503 and a one-second wait', async () => {
    const { app } = fakeApp();
    const res = await serveRoute(app, failing(new ConcurrencyConflictError('busy row')), request('GET'), fakeLog().log);
    expect([res.status, res.headers['Retry-After']]).toEqual([503, '1']);
    expect(String(bodyOf(res).message)).toContain('retry after 1 seconds');
  });

  it('answers anything else with a 500 that says only that it was logged, and logs it', async () => {
    const { app } = fakeApp();
    const { log, lines } = fakeLog();
    const boom = new TypeError('x is undefined');
    const res = await serveRoute(app, failing(boom), request('GET'), log);
    expect([res.status, bodyOf(res)]).toEqual([500, { error: 'internal_error', message: 'The service failed unexpectedly; the failure was logged.' }]);
    expect(lines).toEqual([{ level: 'error', args: ['Unexpected failure', boom] }]);
  });

  it('maps a failure of the key check or of reading the rows alike', async () => {
    const { app } = fakeApp({ claimed: 'ex01' });
    (app.store as { readServerRows: unknown }).readServerRows = async () => Promise.reject(new StorageUnavailableError('down', { retryAfterSeconds: 3 }));
    const res = await serveRoute(app, route('ingest', ok), request('POST'), fakeLog().log);
    expect([res.status, res.headers['Retry-After']]).toEqual([503, '3']);
  });
});
