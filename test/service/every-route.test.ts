// One property over every route the host serves (read from the same table the local host mounts,
// so a new route is covered the day it is added): arbitrary methods, path parameters, query
// strings, continuation tokens, headers, credentials and bodies never produce a 5xx other than
// the documented 503 storage_unavailable, and never write — except what a route documents it
// writes when it answers 2xx. Writes are counted by the stores' round-trip counters (every
// request to storage that is not a GET), reset before each request.
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS } from '../../src/app/lifecycle-api';
import { ROUTES as TABLE } from '../../src/app/routes';
import { post, type Json } from '../support/http';
import { snapshot } from '../support/snapshots';
import { DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
export const EVERY_ROUTE_RUNS = 400 * SCALE;

/** Functions whose 2xx answers write (documented in SECURITY.md); every other answer writes nothing. */
const WRITING = new Set(['postSnapshot', 'enroll', 'waivers', 'runJob', 'revokeServerKey', 'rotateServerKey', 'decideEnrolment']);

let stack: TestStack;
const tokens: string[] = [];
let revokedKey = '';

beforeAll(async () => {
  stack = await startTestStack({ settings: { POSTURE_REENROLMENT: 'approval' } });
  for (const host of ['EXCH01', 'EXCH02', 'EXCH03']) expect((await post(stack, snapshot({ host }))).status).toBeLessThan(300);
  for (const path of ['results?top=1', 'events?top=1', `servers/${DEFAULT_SERVER}/history?top=1`]) {
    const r = await stack.request(path);
    const body = (await r.json()) as Json;
    if (body.continuationToken) tokens.push(body.continuationToken);
  }
  expect(tokens.length).toBeGreaterThan(0);
  // A genuine key that was replaced: its refusals may leave the one ServerKeys record documented.
  const first = await stack.app.enrolment.issue('revoked.example', {}, 'enrolment', { log: () => undefined });
  await stack.app.enrolment.issue('revoked.example', {}, 'admin-rotation', { log: () => undefined });
  revokedKey = first.key;
});
afterAll(async () => stack?.stop());

// ---- arbitraries --------------------------------------------------------------------------------

const HOSTILE = ["'", "x' or '1' eq '1", '%27', '\u0000', '\u202E', '../', '/\\#?', '__proto__', 'constructor', '😀', 'a'.repeat(300), '', ' ', '*'];
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...HOSTILE));
/** What a header value may hold on the wire (visible ASCII, tab, Latin-1). */
const headerText = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(9)).map((c) => String.fromCharCode(c)), maxLength: 60 });
const b64url = fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('base64url'));

const token = fc.oneof(
  fc.constantFrom(...['placeholder']).chain(() => fc.constantFrom(...tokens)),
  fc.tuple(fc.constantFrom(...['placeholder']).chain(() => fc.constantFrom(...tokens)), fc.nat(), fc.constantFrom('A', 'B', '_', '-')).map(([t, i, c]) => {
    const at = i % t.length;
    return t.slice(0, at) + c + t.slice(at + 1);
  }),
  fc.record({ q: text, i: fc.integer({ min: -2, max: 100 }), t: fc.option(fc.oneof(text, b64url), { nil: undefined }) }).map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')),
  b64url,
  text,
);
const date = fc.oneof(fc.constantFrom('2026-02-30T00:00:00Z', '2026-13-01', '2026-01-01T24:00:00Z', '2024-02-29', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z'), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), text);
const queryValue = (name: string) =>
  name === 'continuationToken'
    ? token
    : name === 'since'
      ? date
      : name === 'top'
        ? fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), text)
        : name === 'status'
          ? fc.oneof(fc.constantFrom('Warning', 'error,pass', 'Pass,Nope'), text)
          : name === 'server'
            ? fc.oneof(fc.constant(DEFAULT_SERVER), text)
            : name === 'stale' || name === 'neverPosted'
              ? fc.oneof(fc.constantFrom('true', 'false', 'TRUE'), text)
              : text;
const PARAM_NAMES = ['server', 'rule', 'status', 'since', 'top', 'continuationToken', 'cause', 'stale', 'neverPosted', 'state', 'evidence', 'reenrol', 'code', '$filter', '$top', '__proto__'];
const query = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...PARAM_NAMES), text).chain((name) => queryValue(name).map((v) => [name, v] as const)), { maxLength: 5 }).map((pairs) => new URLSearchParams(pairs as [string, string][]).toString()),
  fc.constantFrom('%', '%zz', '&&=', '=x', 'server=%E0%A4%A', 'top=1&top=2'),
  // Parameters the paged routes accept, alone, so the value itself is what gets judged.
  token.map((t) => `continuationToken=${encodeURIComponent(t)}`),
  date.map((d) => `since=${encodeURIComponent(d)}`),
);

const paramValue = (name: string) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...({ server: ['exch02.corp.contoso.com', 'exch03.corp.contoso.com', 'revoked.example'], job: [...JOBS], id: ['w1', 'waiver-x'], request: ['abc'], decision: ['approve', 'deny'] }[name] ?? ['x'])) },
    { weight: 2, arbitrary: text.map((t) => encodeURIComponent(t)) },
    fc.constantFrom('%', '%zz', '%2F', '%00', '..', '%E2%80%AE'),
  );

type Credential = 'none' | 'garbage' | 'forged-server-key' | 'server-key' | 'revoked-server-key' | 'shared' | 'reader' | 'admin' | 'enrolment';
const credential = fc.constantFrom<Credential>('none', 'garbage', 'forged-server-key', 'server-key', 'revoked-server-key', 'shared', 'reader', 'admin', 'enrolment');

const headers = fc.record(
  {
    'content-type': fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/json;;;', 'multipart/form-data; boundary=x'), headerText),
    'accept-language': fc.oneof(fc.constantFrom('ja', 'en-US,ja;q=0.5', '*', 'xx;q=abc'), headerText),
    'if-none-match': headerText,
    'x-forwarded-for': headerText,
    'x-server-key': headerText,
    'x-enrolment-claim': fc.oneof(headerText, fc.tuple(b64url, b64url).map(([a, b]) => `${a}.${b}`)),
    authorization: fc.oneof(headerText.map((t) => `Bearer ${t}`), headerText),
    'x-functions-key': headerText,
  },
  { requiredKeys: [] },
);

const validish = fc.constantFrom(
  () => JSON.stringify(snapshot({ host: 'EXCH01' })),
  () => JSON.stringify({ host: { name: 'FUZZ01', fqdn: 'fuzz01.corp.contoso.com' } }),
  () => JSON.stringify({ rule: 'mcafee-port25-blocked', server: DEFAULT_SERVER, justification: 'x', grantedBy: 'y', expiresAt: '2099-01-01T00:00:00Z' }),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 512 }),
  validish.map((f) => f()),
  fc.tuple(validish, fc.nat()).map(([f, n]) => {
    const t = f();
    return t.slice(0, n % t.length);
  }),
);

/**
 * The credential each route wants (reader routes: reader; unlisted ones: admin, which reads too).
 * Path parameters never name DEFAULT_SERVER, so an admin route the fuzzer hits (revoke, rotate)
 * leaves the server key that most requests carry working.
 */
const RIGHT_CREDENTIAL: Readonly<Record<string, Credential>> = {
  postSnapshot: 'server-key',
  enroll: 'enrolment',
  getManifest: 'server-key',
  getRules: 'server-key',
  getResults: 'reader',
  getEvents: 'reader',
  getServer: 'reader',
  getSummary: 'reader',
  getHistory: 'reader',
  listServers: 'reader',
  exportResultsCsv: 'reader',
};

const ROUTES = TABLE.map(({ name, route, methods }) => ({ name, route, methods: [...methods] }));

const requestArb = fc
  .record({
    route: fc.constantFrom(...ROUTES),
    otherMethod: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS')),
    query,
    credential: fc.oneof(fc.constant(null), credential),
    headers,
    body,
    dropOptional: fc.boolean(),
  })
  .chain((r) => {
    const segments = r.route.route.split('/');
    const names = segments.flatMap((s) => /^\{(\w+)\??\}$/.exec(s)?.[1] ?? []);
    return fc.tuple(fc.constant(r), fc.tuple(...names.map((n) => paramValue(n))), fc.constantFrom(...r.route.methods));
  })
  .map(([r, values, method]) => {
    let i = 0;
    const path = r.route.route
      .split('/')
      .flatMap((s) => {
        const m = /^\{(\w+)(\??)\}$/.exec(s);
        if (!m) return [s];
        const v = values[i++]!;
        return m[2] && r.dropOptional ? [] : [v];
      })
      .join('/');
    // Half the requests carry the credential the route wants, so they get past the key check.
    return { ...r, credential: r.credential ?? RIGHT_CREDENTIAL[r.route.name] ?? 'admin', method: r.otherMethod ?? method, path };
  });

// ---- the property -------------------------------------------------------------------------------

async function keyFor(c: Credential): Promise<string | undefined> {
  switch (c) {
    case 'none':
      return undefined;
    case 'garbage':
      return 'not-a-key';
    case 'forged-server-key':
      return `fp1.${Buffer.from(DEFAULT_SERVER).toString('base64url')}.AAAAAAAAAAAAAAAA.${'B'.repeat(43)}`;
    case 'server-key':
      return stack.serverKey(DEFAULT_SERVER);
    case 'revoked-server-key':
      return revokedKey;
    case 'shared':
      return TEST_KEYS.ingest;
    default:
      return TEST_KEYS[c];
  }
}

function send(method: string, path: string, headers: Record<string, string>, payload?: string | Uint8Array): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const url = new URL(stack.baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('every route, hostile requests', () => {
  it('the property covers every function the host serves', () => {
    expect(ROUTES.map((r) => r.name).sort()).toEqual(TABLE.map((r) => r.name).sort());
    for (const name of WRITING) expect(TABLE.map((r) => r.name), name).toContain(name);
  });

  it(`${EVERY_ROUTE_RUNS} arbitrary requests over ${ROUTES.length} routes: never a 5xx but the documented 503, never a write but the documented ones`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const key = await keyFor(r.credential);
        const h: Record<string, string> = { ...r.headers };
        if (key !== undefined) h['x-api-key'] = key;
        const payload = r.body === undefined || r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body;
        // Framing stays honest (the local-host tests cover lying lengths): the body's own length.
        if (payload !== undefined) h['content-length'] = String(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength);
        stack.app.store.counter.reset();
        stack.app.keyStore.counter.reset();
        const res = await send(r.method, `/api/${r.path}${r.query ? `?${r.query}` : ''}`, h, payload);
        const label = `${r.method} /api/${r.path}?${r.query} as ${r.credential}: ${res.status} ${res.text.slice(0, 200)}`;
        seen.set(`${r.route.name} ${res.status}`, (seen.get(`${r.route.name} ${res.status}`) ?? 0) + 1);

        if (res.status >= 500) {
          expect(res.status, label).toBe(503);
          expect(JSON.parse(res.text).error, label).toBe('storage_unavailable');
          expect(Number(res.headers['retry-after']), label).toBeGreaterThan(0);
        }
        if (res.status >= 400 && r.method !== 'HEAD') {
          // API routes answer JSON errors; a static route (the dashboard's files) may answer text.
          if (String(res.headers['content-type']).startsWith('application/json')) {
            const answer = JSON.parse(res.text) as Json;
            expect(typeof answer.error, label).toBe('string');
            expect(answer.message, label).toMatch(/^[^\n]+$/);
          } else expect(res.headers['content-type'], label).toMatch(/^text\/plain/);
          expect(res.text, `${label}: a stack trace`).not.toMatch(/\n\s+at /);
        }
        const writes = stack.app.store.counter.writes;
        const keyWrites = stack.app.keyStore.counter.writes;
        const documented = res.status >= 200 && res.status < 300 && WRITING.has(r.route.name) && r.method !== 'GET' && r.method !== 'HEAD';
        // A genuine but revoked server key leaves at most its one refusal record (ServerKeys); a
        // HEAD's answer has no body to name the code in.
        const refusalRecord = res.status === 401 && (r.method === 'HEAD' || res.text.includes('"key_revoked"')) && (r.credential === 'revoked-server-key' || r.credential === 'server-key');
        if (!documented) {
          expect(writes, `${label}: wrote to the posture tables`).toBe(0);
          expect(keyWrites, `${label}: wrote to ServerKeys`).toBeLessThanOrEqual(refusalRecord ? 1 : 0);
        }
      }),
      { numRuns: EVERY_ROUTE_RUNS },
    );
    if (process.env.EVERY_ROUTE_DEBUG) console.log([...seen].sort());
    // The runs reached every route, and both sides of the answers.
    const routesHit = new Set([...seen.keys()].map((k) => k.split(' ')[0]));
    expect([...routesHit].sort()).toEqual(ROUTES.map((r) => r.name).sort());
    const statuses = [...seen.keys()].map((k) => Number(k.split(' ')[1]));
    expect(statuses.some((s) => s < 300)).toBe(true);
    expect(statuses.some((s) => s >= 400)).toBe(true);
  });
});
