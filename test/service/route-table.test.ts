// The route table is the one list of routes: Azure Functions registers exactly its entries (and
// the timer table), the local host serves exactly them, and the same request gets the same answer
// from both. The Functions side is loaded as the Functions worker loads it: @azure/functions finds
// the host's `@azure/functions-core` module (provided here, recording what is registered) and
// hands it each function's metadata and handler; the handlers then run against real storage.
import Module from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as AzureFunctions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_PREFIX } from '../../src/app/route-prefix';
import { ROUTES, routeUrl, type Route } from '../../src/app/routes';
import { TIMERS } from '../../src/app/timers';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { envForThisFile } from '../support/process-env';

interface Registered {
  readonly name: string;
  readonly bindings: Record<string, { type: string; route?: string; methods?: string[]; schedule?: string; direction: string }>;
  readonly handler: (request: unknown, context: unknown) => Promise<{ status?: number; headers?: Record<string, string> }>;
}

type FunctionsModule = typeof AzureFunctions;

const registered: Registered[] = [];
let functions: FunctionsModule;
let stack: TestStack;
const VICTIM = 'victim.example';

/** Loads @azure/functions afresh with a host core that records registrations, then the function files. */
async function loadFunctionsAsTheWorkerDoes(): Promise<FunctionsModule> {
  const core = {
    version: '3.10.1',
    setProgrammingModel() {},
    getProgrammingModel() {
      return undefined;
    },
    registerFunction(metadata: Omit<Registered, 'handler'>, handler: Registered['handler']) {
      registered.push({ ...metadata, handler });
      return { dispose() {} };
    },
    registerHook() {
      return { dispose() {} };
    },
    log() {},
  };
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = mod._load;
  mod._load = function (request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? core : load.call(this, request, ...rest);
  };
  // A copy loaded in test mode before (no core found) would skip every registration.
  const require = Module.createRequire(__filename);
  delete require.cache[require.resolve('@azure/functions')];
  try {
    await import('../../src/functions/http-routes.js');
    await import('../../src/functions/timers.js');
    return require('@azure/functions') as FunctionsModule;
  } finally {
    mod._load = load;
  }
}

const env = envForThisFile();

beforeAll(async () => {
  stack = await startTestStack();
  // The Functions side builds its app from app settings, as in Azure: the same storage and keys.
  env.set({
    POSTURE_STORAGE_CONNECTION_STRING: stack.settings.storageConnectionString ?? '',
    POSTURE_READER_KEYS: TEST_KEYS.reader,
    POSTURE_ADMIN_KEYS: TEST_KEYS.admin,
    POSTURE_ENROLMENT_SECRETS: TEST_KEYS.enrolment,
    POSTURE_CONTINUATION_TOKEN_SECRET: 'test-continuation-token-secret-0123456789',
  });
  functions = await loadFunctionsAsTheWorkerDoes();
  await stack.serverKey(VICTIM);
});
afterAll(async () => stack?.stop());

/** A request each route can answer with its right key: real path parameters, a real body. */
function exampleOf(route: Route): { method: string; path: string; body?: string } {
  // Reads are of the server that posted; admin changes are of another, so the posting key stays valid.
  const server = route.access === 'admin' ? VICTIM : DEFAULT_SERVER;
  // Only re-evaluation keeps a state to read; any job can be run.
  const job = route.name === 'getJob' ? 'reevaluate' : 'stale-hosts';
  const url = routeUrl('', route.name, { server, job, request: 'abc', decision: 'approve', rule: 'mcafee-port25-blocked' });
  const bodies: Record<string, string> = { postSnapshot: JSON.stringify(snapshot()), enroll: JSON.stringify({ host: { name: 'ROUTE01' } }) };
  const queries: Record<string, string> = { listServers: '?stale=true', getDrift: '?rule=mcafee-port25-blocked', getServerDrift: '?rule=mcafee-port25-blocked', removeServer: '?removedBy=route-table' };
  return { method: route.methods[0]!, path: url.slice(1) + (queries[route.name] ?? ''), body: bodies[route.name] };
}

async function keyOf(route: Route): Promise<string | undefined> {
  switch (route.access) {
    case 'ingest':
    case 'collector':
      return stack.serverKey(DEFAULT_SERVER);
    case 'read':
      return TEST_KEYS.reader;
    case 'admin':
      return TEST_KEYS.admin;
    case 'enrol':
      return TEST_KEYS.enrolment;
    case 'public':
      return undefined;
  }
}

function headersFor(key: string | undefined, body: string | undefined): Record<string, string> {
  return { ...(key ? { 'x-api-key': key } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
}

async function viaLocalHost(route: Route): Promise<number> {
  const ex = exampleOf(route);
  const res = await fetch(`${stack.baseUrl}/api/${ex.path}`, { method: ex.method, headers: headersFor(await keyOf(route), ex.body), body: ex.body });
  await res.arrayBuffer();
  return res.status;
}

async function viaFunctions(route: Route): Promise<number> {
  const ex = exampleOf(route);
  const fn = registered.find((r) => r.name === route.name);
  if (!fn) throw new Error(`${route.name} is not registered`);
  const params = matchParams(route.route, ex.path);
  const request = new functions.HttpRequest({
    method: ex.method,
    url: `https://posture.example/api/${ex.path}`,
    headers: headersFor(await keyOf(route), ex.body),
    params,
    body: ex.body === undefined ? undefined : { string: ex.body },
  });
  const context = new functions.InvocationContext({ invocationId: 'route-table', functionName: route.name, logHandler: () => undefined });
  const res = await fn.handler(request, context);
  return res.status ?? 200;
}

/** The {params} of a path, as the Functions host fills them in from the route. */
function matchParams(route: string, pathname: string): Record<string, string> {
  const names: string[] = [];
  const source = route
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)(\??)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return m[2] ? '?([^/]*)' : '([^/]+)';
    })
    .join('/');
  const m = new RegExp(`^${source}$`).exec(pathname.split('?')[0]!);
  if (!m) throw new Error(`${pathname} does not match ${route}`);
  return Object.fromEntries(names.flatMap((n, i) => (m[i + 1] ? [[n, decodeURIComponent(m[i + 1]!)]] : [])));
}

describe('the route table', () => {
  it('Azure Functions registers exactly the routes and timers of the tables, each with its route and methods', () => {
    expect(registered.map((r) => r.name).sort()).toEqual([...ROUTES.map((r) => r.name), ...TIMERS.map((t) => t.name)].sort());
    for (const route of ROUTES) {
      const trigger = Object.values(registered.find((r) => r.name === route.name)!.bindings).find((b) => b.type === 'httpTrigger');
      expect(trigger?.route, route.name).toBe(route.route);
      expect(trigger?.methods, route.name).toEqual(route.methods);
    }
    for (const timer of TIMERS) {
      const trigger = Object.values(registered.find((r) => r.name === timer.name)!.bindings).find((b) => b.type === 'timerTrigger');
      expect(trigger?.schedule, timer.name).toBe(timer.schedule);
    }
    expect(new Set(ROUTES.map((r) => r.name)).size).toBe(ROUTES.length);
  });

  it('every route answers on both hosts with the same status, a success for its right key', async () => {
    // The snapshot first, so the reads have a server to read; the key changes last.
    const rank = (r: Route) => (r.name === 'postSnapshot' ? 0 : r.name.endsWith('ServerKey') ? 2 : 1);
    const seen: string[] = [];
    for (const route of [...ROUTES].sort((a, b) => rank(a) - rank(b))) {
      const local = await viaLocalHost(route);
      const azure = await viaFunctions(route);
      seen.push(`${route.name} ${local}/${azure}`);
      // The same request, the same answer (a repeated post is a duplicate, 200, where the first was 201).
      const same = route.name === 'postSnapshot' ? (s: number) => Math.floor(s / 100) : (s: number) => s;
      expect(same(azure), seen.join(', ')).toBe(same(local));
      // The route's own answer: a success, a decision on a request that does not exist its 404 (as
      // is the removal of the admin routes' server, which never posted: it has nothing to remove),
      // the dashboard its page (or, before a build, its one-line refusal).
      if (route.name === 'decideEnrolment' || route.name === 'removeServer') expect(local, route.name).toBe(404);
      else if (route.name === 'getDashboard') expect([200, 500], route.name).toContain(local);
      else expect(local, seen.join(', ')).toBeLessThan(300);
      // Fleet-wide views (drift, summary) follow the post once the projector has run.
      if (route.name === 'postSnapshot') await stack.projected();
    }
    expect(seen).toHaveLength(ROUTES.length);
  });

  it('a route the table does not hold is answered by neither', async () => {
    const res = await stack.request('no-such-route');
    expect(res.status).toBe(404);
    expect(registered.some((r) => Object.values(r.bindings).some((b) => b.route === 'no-such-route'))).toBe(false);
  });
});

/** host.json's extensions.http.routePrefix: the path Azure serves every route below. */
function hostJsonRoutePrefix(): unknown {
  const host = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'host.json'), 'utf8')) as { extensions?: { http?: { routePrefix?: unknown } } };
  return host.extensions?.http?.routePrefix;
}

describe('the route prefix', () => {
  it('is host.json\'s, and the service answers below it and links below it', async () => {
    // Written out in host.json (not left to the default), so changing it there fails here.
    const prefix = hostJsonRoutePrefix();
    expect(prefix).toBe(ROUTE_PREFIX);
    expect((await fetch(`${stack.baseUrl}/${String(prefix)}/health`)).status).toBe(200);
    // A result's guide link, in the post's answer and in the stored result a reader reads.
    const doc = JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'port25', 'vse88-x64-transport-not-excluded.json'), 'utf8')) as object;
    const posted = await post(stack, doc);
    expect(posted.status).toBe(201);
    const stored = await get(stack, `servers/${encodeURIComponent(posted.body.server as string)}`);
    for (const url of [posted.body.results[0].references[0].url, stored.body.results[0].references[0].url]) {
      expect(url).toMatch(/\/dashboard\/guide-/);
      expect(String(url).startsWith(`/${String(prefix)}/`), url).toBe(true);
    }
  });
});

/** Every source file under src/ (TypeScript, HTML, CSS), relative to the repository. */
function sourceFiles(dir = 'src'): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : /\.(ts|html|css)$/.test(name) ? [p] : [];
  });
}

/** How a route's path is written in source: after /api/ (any spelling of its parameters), or its template quoted. */
function spellings(route: Route): RegExp {
  const segments = route.route.split('/').map((seg) => (/^\{\w+\??\}$/.test(seg) ? '(?:\\{[^}]*\\}|\\$\\{[^}]*\\}|<[^>]*>|[^/\\s`\'"]+)' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  const api = `/api/${segments.join('/')}(?![\\w-])`;
  const quoted = route.route.includes('/') || route.route.includes('{') ? `|['"\`]${route.route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"\`]` : '';
  return new RegExp(api + quoted);
}

const TABLE_FILE = path.join('src', 'app', 'routes.ts');
/**
 * The dashboard's code runs in the browser and cannot import the table; a route it calls whose
 * path the check can tell apart (a slash and no parameter) is named in its API module alone.
 */
const BROWSER_CALLS = path.join('src', 'dashboard', 'web', 'api.ts');

describe('one place per route', () => {
  it('no route path is written in more than one source file under src/ (the table)', () => {
    const files = sourceFiles().map((f) => ({ f, text: readFileSync(f, 'utf8') }));
    expect(files.length).toBeGreaterThan(50);
    // The table itself is found by the check: every template with a parameter or a slash is quoted there.
    const table = files.find(({ f }) => f === TABLE_FILE)!.text;
    expect(ROUTES.filter((r) => r.route.includes('/')).every((r) => spellings(r).test(table))).toBe(true);
    for (const route of ROUTES) {
      const where = files.filter(({ text }) => spellings(route).test(text)).map(({ f }) => f);
      expect(where.filter((f) => f !== TABLE_FILE && f !== BROWSER_CALLS), route.route).toEqual([]);
    }
  });

  it('the route prefix is written in src/app/route-prefix.ts alone', () => {
    // `/api/`, `'/api'`, `/api` before a template's end, and a regular expression's `\/api\/`.
    const spelt = new RegExp(`\\\\?/${ROUTE_PREFIX}(?:\\\\?/|['"\`])`);
    const where = sourceFiles().filter((f) => spelt.test(readFileSync(f, 'utf8')));
    expect(where.filter((f) => f !== path.join('src', 'app', 'route-prefix.ts'))).toEqual([]);
    for (const text of ["routeUrl('/api', 'getHealth')", 'fetch(`${base}/api/${path}`)', 'new RegExp(`^/api/${source}`)', '/^\\/api\\/dashboard\\/guide-/']) expect(spelt.test(text), text).toBe(true);
    expect(spelt.test('the base URL without its route prefix (/api)')).toBe(false);
  });

  it('the check finds a route written elsewhere, in each spelling', () => {
    const history = ROUTES.find((r) => r.name === 'getHistory')!;
    for (const text of ['// GET /api/servers/{server}/history', 'fetch(`${base}/api/servers/${id}/history`)', "route: 'servers/{server}/history'", 'curl …/api/servers/<server>/history']) {
      expect(spellings(history).test(text), text).toBe(true);
    }
    expect(spellings(history).test('/api/servers/{server}/historyx')).toBe(false);
    expect(spellings(ROUTES.find((r) => r.name === 'getRules')!).test('GET /api/rules lists the rules')).toBe(true);
  });
});
