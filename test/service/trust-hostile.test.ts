// Trust: hostile input, over real HTTP against the local host and Azurite, with the real rules.
// Every response is 2xx/4xx (never 5xx) and every refused request changes no table (ETags and
// timestamps of every row compared before/after). Counts are quoted in SECURITY.md: keep them in
// step when you change them.
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverOfDoc, type Json } from '../support/http';
import { DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { dumpTables, type TableDump } from '../support/tables';
import { snapshot } from '../support/snapshots';
import { loadedTimeout } from '../support/load-timeouts';

/** Runs per `npm test`; FUZZ_SCALE=20 npx vitest run test/service/trust-hostile.test.ts fuzzes longer. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
export const FUZZ_SNAPSHOT_RUNS = 60 * SCALE;
export const FUZZ_BYTES_RUNS = 40 * SCALE;

const FIXTURE_DIR = path.join(__dirname, '../fixtures/port25');
const FIXTURES: Json[] = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(FIXTURE_DIR, f), 'utf8')) as Json);

let stack: TestStack;
let tables: TableDump;
beforeAll(async () => {
  stack = await startTestStack();
  // The collectors' keys are issued up front (by the test, not under test).
  for (const f of FIXTURES) await stack.serverKey(serverOfDoc(f)!);
  tables = await dumpTables(stack, { light: true });
});
afterAll(async () => stack?.stop());

interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

async function send(pathAndQuery: string, init: { method?: string; key?: string | null; body?: string | Uint8Array; contentType?: string | null } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (init.key !== null) headers['x-api-key'] = init.key ?? (await stack.serverKey(DEFAULT_SERVER));
  if (init.contentType !== null && init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const res = await fetch(`${stack.baseUrl}/api/${pathAndQuery}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body });
  const text = await res.text();
  let body: Json;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

/** The invariant of every hostile request: never 5xx; refused (4xx) → no table changed. */
async function expectSafe(r: Reply, label: string): Promise<void> {
  expect(r.status, `${label}: ${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`).toBeLessThan(500);
  const before = tables;
  const now = await dumpTables(stack, { light: true });
  tables = now;
  if (r.status >= 400) {
    expect(typeof r.body?.error, label).toBe('string');
    expect(now, `${label}: a refused request changed a table`).toEqual(before);
  }
}

function postSnapshotText(text: string | Uint8Array, key?: string, contentType?: string | null): Promise<Reply> {
  return send('snapshots', { body: text, key, contentType });
}

// ---- mutations of valid snapshots ---------------------------------------------------------------

const HOSTILE_STRINGS = [
  "'",
  "x' or '1' eq '1",
  "' or PartitionKey ne '",
  '%27',
  ' or ',
  ' eq ',
  '\u2019',
  '\uFF07',
  '\u202E',
  '\u0000',
  '\u001F\u007F',
  '/\\#?',
  '\uD800',
  '😀'.repeat(10),
  'x'.repeat(70_000),
  '__proto__',
  '${7*7}',
  '<script>',
];

type Path = (string | number)[];

/** Every path into `v` (at most 20,000: mutations must not blow up the test's own memory). */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (out.length >= 20_000) return out;
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

function deepNest(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

type Mutation = { pick: number; op: number; value: unknown; str: string; key: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.integer({ min: 0, max: 8 }),
  value: fc.jsonValue({ maxDepth: 3 }),
  str: fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: 'binary', maxLength: 40 })),
  key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'extra', ''),
});

function mutate(doc: Json, m: Mutation): void {
  const all = paths(doc).filter((p) => p.length > 0);
  const p = all[m.pick % all.length]!;
  const parent = p.slice(0, -1).reduce((o: Json, k) => o[k], doc);
  const last = p[p.length - 1]!;
  switch (m.op) {
    case 0: // delete
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      break;
    case 1:
      parent[last] = structuredClone(m.value);
      break;
    case 2:
      parent[last] = m.str;
      break;
    case 3: // a dangerous key beside the value, holding a "polluting" object
      if (parent && typeof parent === 'object' && !Array.isArray(parent)) setOwn(parent, m.key, { polluted: 'yes', prototype: { polluted: 'yes' } });
      break;
    case 4:
      parent[last] = deepNest(500, structuredClone(m.value));
      break;
    case 5: // duplicate an array element (duplicate registry keys, services, values)
      if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(last)]));
      break;
    case 6: // wrong types
      parent[last] = typeof parent[last] === 'number' ? String(parent[last]) : typeof parent[last] === 'string' ? 2 ** 64 : null;
      break;
    case 7:
      // Primitives only: 600 references to one object would multiply with the next mutation.
      parent[last] = Array.from({ length: 600 }, (_, i) => (typeof m.value === 'object' && m.value !== null ? i : m.value));
      break;
    default: // numbers at the edges
      parent[last] = [-1, 2 ** 32, 2 ** 53 + 1, 1e308, -0, 0.5][m.pick % 6];
  }
}

// Measured 7.5 s (60 snapshots) and 3.5 s (40 bodies) in a full run at load 6-7.
describe('fuzzing (fast-check)', { timeout: loadedTimeout(7_500) }, () => {
  it(`${FUZZ_SNAPSHOT_RUNS} mutated fixture snapshots: 2xx or 4xx, never 5xx; refused ones change no table; no prototype pollution`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: FIXTURES.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.uuid(),
        fc.boolean(),
        async (fixture, mutations, uuid, freshId) => {
          const doc = structuredClone(FIXTURES[fixture]);
          const key = await stack.serverKey(serverOfDoc(doc)!);
          if (freshId) doc.snapshotId = uuid;
          for (const m of mutations) {
            mutate(doc, m);
            if (JSON.stringify(doc).length > 3 * 1024 * 1024) break; // already far past the limit
          }
          const r = await postSnapshotText(JSON.stringify(doc), key);
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
          await expectSafe(r, `fixture ${fixture}, mutations ${JSON.stringify(mutations).slice(0, 300)}`);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('polluted');
        },
      ),
      { numRuns: FUZZ_SNAPSHOT_RUNS },
    );
    // The fuzzer reached both sides: some mutations are accepted, some refused.
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
    expect([...seen.keys()].some((s) => s >= 400)).toBe(true);
  });

  it(`${FUZZ_BYTES_RUNS} raw byte bodies (random, truncated JSON, bad UTF-8, odd media types): never 5xx, refused ones write nothing`, async () => {
    const valid = JSON.stringify(snapshot());
    const bodyArb = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      fc.nat({ max: valid.length }).map((n) => new TextEncoder().encode(valid.slice(0, n))),
      fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([n, junk]) => {
        const head = new TextEncoder().encode(valid.slice(0, n));
        const out = new Uint8Array(head.length + junk.length);
        out.set(head);
        out.set(junk, head.length);
        return out;
      }),
      fc.string({ unit: 'binary', maxLength: 512 }).map((s) => new TextEncoder().encode(s)),
    );
    const ctArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', '', null);
    await fc.assert(
      fc.asyncProperty(bodyArb, ctArb, async (bytes, ct) => {
        const r = await postSnapshotText(bytes, undefined, ct === '' ? 'application/json;;;' : ct);
        // (The whole valid snapshot, perhaps with trailing whitespace, is a valid post: 2xx is fine.)
        await expectSafe(r, `bytes ${Buffer.from(bytes).toString('base64').slice(0, 200)} as ${ct}`);
      }),
      { numRuns: FUZZ_BYTES_RUNS },
    );
  });
});

// ---- injection ---------------------------------------------------------------------------------

export const INJECTIONS = [
  "'",
  "''",
  "x' or '1' eq '1",
  "exch01.corp.contoso.com' or Server ne 'x",
  "' or PartitionKey ne '",
  "test-alpha' or RuleId ne '",
  'Warning or Status ne Pass',
  '%27',
  '%27%20or%20%271%27%20eq%20%271',
  ' or ',
  ' eq ',
  'true',
  '1 eq 1',
  '\u2019 or \u2019a\u2019 eq \u2019a',
  '\uFF07 or \uFF07a\uFF07 eq \uFF07a',
  'ex\u0000ch01',
  'exch01\u202Ecom',
  '*',
  '../Results',
  "datetime'2026-01-01T00:00:00Z'",
  '2026-01-01T00:00:00Z or Timestamp gt datetime',
  '$filter=PartitionKey ne null',
  'a/b\\c#d?e',
];
export const QUERY_PARAMS = ['server', 'rule', 'status', 'since', 'top', 'continuationToken'];

// Measured 1.5-4.3 s each in a full run at load 6-7 (hundreds of requests).
describe('OData injection', { timeout: loadedTimeout(4_300) }, () => {
  it(`${INJECTIONS.length} payloads × ${QUERY_PARAMS.length} query parameters × 2 routes: 400, never 5xx, never other data`, async () => {
    let cases = 0;
    for (const route of ['results', 'events']) {
      for (const param of QUERY_PARAMS) {
        for (const payload of INJECTIONS) {
          const r = await send(`${route}?${param}=${encodeURIComponent(payload)}`, { key: TEST_KEYS.reader });
          cases++;
          const label = `${route}?${param}=${payload}`;
          expect(r.status, `${label}: ${r.status} ${JSON.stringify(r.body)}`).toBeLessThan(500);
          if (r.status === 200) {
            // Only a filter that is a literal value may match, and only rows with exactly that value.
            expect(param, label).toBe('server');
            for (const item of r.body.items) expect(item.server, label).toBe(payload.trim().toLowerCase());
          } else if (r.status === 404) {
            // A well-formed server name that no server answers to: said so, with nothing else.
            expect(param, label).toBe('server');
            expect(Object.keys(r.body).sort(), label).toEqual(['error', 'message']);
            expect(r.body.error, label).toBe('not_found');
          } else expect(r.status, label).toBe(400);
        }
      }
    }
    expect(cases).toBe(2 * QUERY_PARAMS.length * INJECTIONS.length);
    // Query parameters the routes do not know, OData system options and prototype names: 400.
    for (const q of ['$filter=true', '$top=1', '__proto__=x', 'constructor=x', 'server=a&server=b']) {
      expect((await send(`results?${q}`, { key: TEST_KEYS.reader })).status, q).toBe(400);
    }
  });

  it(`the same ${INJECTIONS.length} payloads in the server path segment and in snapshot host names: 4xx, nothing written`, async () => {
    for (const payload of INJECTIONS) {
      const g = await send(`servers/${encodeURIComponent(payload)}`, { key: TEST_KEYS.reader });
      expect([400, 404], `servers/${payload}: ${g.status}`).toContain(g.status);
      for (const host of [{ name: payload }, { name: 'EXCH01', fqdn: payload }]) {
        const doc = snapshot();
        doc.host = { ...(doc.host as object), ...host };
        if (!('fqdn' in host)) delete (doc.host as Json).fqdn;
        const r = await postSnapshotText(JSON.stringify(doc));
        // 400 for a name the contract refuses; 403 for a well-formed name that is not the key's server.
        expect([400, 403], JSON.stringify(host)).toContain(r.status);
        await expectSafe(r, JSON.stringify(host));
      }
    }
  });

  it('table-key-illegal characters (/ \\ # ? and control characters) in path parameters: 400/404, never 5xx', async () => {
    const illegal = ['%2F', '%5C', '%23', '%3F', ...Array.from({ length: 32 }, (_, i) => '%' + i.toString(16).padStart(2, '0').toUpperCase()), '%7F', '%C2%85', '%', '%ZZ'];
    for (const c of illegal) {
      for (const [method, p] of [
        ['GET', `servers/a${c}b`],
        ['DELETE', `servers/a${c}b/key`],
        ['POST', `servers/a${c}b/key/rotate`],
      ] as const) {
        const r = await send(p, { method, key: method === 'GET' ? TEST_KEYS.reader : TEST_KEYS.admin });
        expect([400, 404], `${method} ${p}: ${r.status}`).toContain(r.status);
        await expectSafe(r, `${method} ${p}`);
      }
    }
  });
});

// ---- size, depth and prototype keys ---------------------------------------------------------------

describe('deep, huge and prototype-laden JSON', () => {
  it('deeply nested JSON (arrays and objects, ~100k levels) is 400 or stripped, never 5xx', async () => {
    const depth = 100_000;
    const nest = (n: number) => '{"a":['.repeat(n) + '1' + ']}'.repeat(n);
    const inside = (field: string, n: number) => JSON.stringify({ ...snapshot(), [field]: '@NEST@' }).replace('"@NEST@"', nest(n));
    const bodies = [
      '['.repeat(depth) + ']'.repeat(depth),
      '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      JSON.stringify({ ...snapshot(), host: { name: 'EXCH01', fqdn: DEFAULT_SERVER, os: '@NEST@' } }).replace('"@NEST@"', nest(5000)),
      inside('registry', 20_000),
      // Unknown fields are dropped by the schema: the nesting never reaches a rule or a table column.
      inside('extra', 50_000),
    ];
    for (const b of bodies) await expectSafe(await postSnapshotText(b), `nested ${b.slice(0, 40)}`);
  });

  it('a Content-Length over the limit is refused before reading; so is a chunked upload growing past it', async () => {
    const limit = stack.settings.maxSnapshotBytes;
    const big = JSON.stringify(snapshot({ tail: 'x'.repeat(limit) }));
    const r = await postSnapshotText(big);
    expect(r.status).toBe(413);
    await expectSafe(r, 'over the limit');
  });

  it('an endless chunked upload (no Content-Length) is answered 413 after about the limit, without reading it all', async () => {
    const limit = stack.settings.maxSnapshotBytes;
    const key = await stack.serverKey(DEFAULT_SERVER);
    const url = new URL(`${stack.baseUrl}/api/snapshots`);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const maxSend = 64 * 1024 * 1024;
    const { status, sent } = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      let done = false;
      const req = httpRequest(
        { hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key } },
        (res) => {
          done = true;
          res.resume();
          resolve({ status: res.statusCode ?? 0, sent });
          req.destroy();
        },
      );
      // The server may close the socket under our writes (EPIPE) just before its answer is parsed.
      req.on('error', (e) => setTimeout(() => (done ? undefined : reject(e)), 2000));
      req.write('{"schema":"fleet-posture/snapshot@1","pad":"');
      const pump = () => {
        while (!done && sent < maxSend) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!done) req.end('"}');
      };
      pump();
    });
    expect(status).toBe(413);
    // The server stopped reading at the limit; what was sent beyond it sat in socket buffers.
    expect(sent).toBeLessThan(limit + 16 * 1024 * 1024);
    tables = await dumpTables(stack, { light: true });
  });

  it('__proto__, constructor and prototype keys anywhere: no pollution, never 5xx', async () => {
    const base = snapshot();
    const evil = (o: Record<string, unknown>) => {
      setOwn(o, '__proto__', { polluted: 'yes' });
      setOwn(o, 'constructor', { prototype: { polluted: 'yes' } });
      setOwn(o, 'prototype', { polluted: 'yes' });
      return o;
    };
    const docs: Json[] = [
      evil(structuredClone(base)),
      { ...structuredClone(base), host: evil({ ...(base.host as object) }) },
      { ...structuredClone(base), collector: evil({ ...(base.collector as object) }) },
      { ...structuredClone(base), registry: [evil({ ...(base.registry as Json[])[0] })] },
      { ...structuredClone(base), services: [evil({ name: '__proto__', state: 'Running', started: true })] },
    ];
    for (const d of docs) {
      d.snapshotId = crypto.randomUUID();
      const text = JSON.stringify(d);
      expect(text).toContain('"__proto__"');
      await expectSafe(await postSnapshotText(text), text.slice(0, 80));
    }
    const enrol = await send('enroll', { key: TEST_KEYS.enrolment, body: '{"host":{"name":"PROTO01","__proto__":{"polluted":"yes"}},"__proto__":{"polluted":"yes"}}' });
    expect(enrol.status).toBe(201);
    tables = await dumpTables(stack, { light: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
