// HEAD wherever GET: uptime probes, `curl -I` and link checkers send it to keyed routes too. Over
// real HTTP, every keyed GET route answers HEAD with GET's status and headers and no body, after
// the same key check and query check, writing nothing; the CSV export's stream is not read on.
import { HttpRequest, InvocationContext, type HttpRequestInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type Route } from '../../src/app/routes';
import { serveRoute } from '../../src/app/serve-route';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED } from '../support/drift';
import { post } from '../support/http';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  // The port-25 rule, whose configurations the drift routes answer for.
  stack = await startTestStack();
  for (const [host, fixture] of [
    ['EXCH07', DEFAULT_LIST],
    ['EXCH08', REMOVED],
  ] as const) {
    const r = await post(stack, fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60_000));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  await stack.projected();
});
afterAll(async () => stack?.stop());

type Key = 'ingest' | 'reader' | 'admin';

/** A request each keyed GET route answers, with the key it wants. */
const CALLS: Readonly<Record<string, readonly [string, Key]>> = {
  getManifest: ['manifest', 'ingest'],
  getRules: ['rules', 'ingest'],
  getResults: [`results?rule=${DRIFT_RULE}`, 'reader'],
  getServer: ['servers/EXCH07', 'reader'],
  getSummary: ['summary', 'reader'],
  getEvents: ['events', 'reader'],
  listServers: ['servers', 'reader'],
  getHistory: ['servers/EXCH07/history', 'reader'],
  exportResultsCsv: ['export/results.csv', 'reader'],
  getDrift: [`drift?rule=${DRIFT_RULE}`, 'reader'],
  getServerDrift: [`servers/EXCH07/drift?rule=${DRIFT_RULE}`, 'reader'],
  waivers: ['waivers', 'admin'],
  baselines: [`baselines/${DRIFT_RULE}`, 'admin'],
  getJob: ['jobs/reevaluate', 'reader'],
  listRefusedServers: ['refused-servers', 'admin'],
  listEnrolments: ['enrolments', 'admin'],
};

const HEADERS = ['content-type', 'content-length', 'content-language', 'content-disposition', 'cache-control', 'etag', 'vary', 'allow', 'retry-after'];
const headersOf = (r: Response) => Object.fromEntries(HEADERS.map((h) => [h, r.headers.get(h)]));

async function headThenGet(path: string, key: Key | null): Promise<{ head: Response; headBody: number; get: Response; writes: number }> {
  stack.roundTrips.reset();
  stack.app.keyStore.counter.reset();
  const head = await stack.request(path, { key, method: 'HEAD' });
  const headBody = (await head.arrayBuffer()).byteLength;
  const writes = stack.roundTrips.writes + stack.app.keyStore.counter.writes;
  const get = await stack.request(path, { key });
  return { head, headBody, get, writes };
}

describe('HEAD on the keyed routes', () => {
  it('every route that answers GET answers HEAD, in the route table itself', () => {
    const keyedGets = ROUTES.filter((r) => r.methods.includes('GET') && r.access !== 'public');
    expect(keyedGets.map((r) => r.name).sort()).toEqual(Object.keys(CALLS).sort());
    for (const r of ROUTES) if (r.methods.includes('GET')) expect(r.methods, r.name).toContain('HEAD');
  });

  it("answers GET's status and headers without a body, and writes nothing", async () => {
    for (const [name, [path, key]] of Object.entries(CALLS)) {
      const { head, headBody, get, writes } = await headThenGet(path, key);
      expect(get.status, name).toBe(200);
      expect(head.status, name).toBe(get.status);
      expect(headersOf(head), name).toEqual(headersOf(get));
      expect(headBody, name).toBe(0);
      expect(writes, `${name} wrote`).toBe(0);
      // GET's body is there, so the length compared above is a real one (the export streams without one).
      expect((await get.arrayBuffer()).byteLength, name).toBeGreaterThan(0);
    }
  });

  it('refuses a HEAD as it refuses the GET: no key, a key without the access, a bad query', async () => {
    for (const [path, key, status] of [
      ['summary', null, 401],
      ['refused-servers', 'reader', 403],
      ['results?top=0', 'reader', 400],
      ['servers/NOSUCH', 'reader', 404],
      ['export/results.csv?status=Green', 'reader', 400],
    ] as const) {
      const { head, headBody, get, writes } = await headThenGet(path, key);
      expect(get.status, path).toBe(status);
      expect(head.status, path).toBe(status);
      expect(headersOf(head), path).toEqual(headersOf(get));
      expect(headBody, path).toBe(0);
      expect(writes, path).toBe(0);
    }
  });

  it('a method a keyed route does not take is refused with HEAD among those it names', async () => {
    const r = await stack.request('summary', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
    expect((await stack.request('waivers', { key: 'admin', method: 'PATCH' })).headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
  });
});

describe('HEAD reaches the GET handler', () => {
  const context = () => new InvocationContext({ invocationId: 'test', functionName: 'head', logHandler: () => undefined });
  const request = (method: string) =>
    new HttpRequest({ nativeRequest: new Request('https://posture.example/api/streamed?x=1', { method, headers: { 'x-api-key': TEST_KEYS.reader } }), params: {} } as unknown as HttpRequestInit);

  /** A keyed route that streams without end, recording the method its handler saw and whether its stream was cancelled. */
  function streaming() {
    const seen = { method: '', query: '', pulls: 0, cancelled: false };
    const route: Route = {
      name: 'streamed',
      methods: ['GET', 'HEAD'],
      route: 'streamed',
      access: 'read',
      handler: async (_app, { req }) => {
        seen.method = req.method;
        seen.query = req.query.toString();
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            seen.pulls++;
            controller.enqueue(new Uint8Array(1024));
          },
          cancel() {
            seen.cancelled = true;
          },
        });
        return { status: 200, headers: { 'Content-Type': 'text/csv' }, body };
      },
    };
    return { route, seen };
  }

  it('as a GET with its query; a streamed body is cancelled and left out, its headers kept', async () => {
    const { route, seen } = streaming();
    const res = await serveRoute(stack.app, route, request('HEAD'), context());
    expect(seen).toMatchObject({ method: 'GET', query: 'x=1', cancelled: true });
    expect(seen.pulls).toBeLessThanOrEqual(1);
    expect(res.status).toBe(200);
    expect(res.body).toBeUndefined();
    expect(res.headers['Content-Type']).toBe('text/csv');
    expect(res.headers['Content-Language']).toBe('en');
  });

  it('a GET keeps its stream', async () => {
    const { route, seen } = streaming();
    const res = await serveRoute(stack.app, route, request('GET'), context());
    expect(res.body).toBeInstanceOf(ReadableStream);
    expect(seen.cancelled).toBe(false);
    await (res.body as ReadableStream).cancel();
  });
});
