// The local host (`npm start`, `npm run demo`) refuses what Azure Table storage refuses, before
// Azurite sees it, with the answer the service gives in Azure. Over real HTTP, to the host over
// Azurite with the app `npm start` builds: a rule author's long texts make one server's commit
// (one transaction of its rows) reach Azure's 4 MiB; a commit of exactly 4 MiB is accepted, and
// one a byte larger is answered 500 (internal_error) with Azure's limit named in the log and
// none of its rows stored. Azurite refuses that one too, in a sentence of its own; what it takes and
// Azure refuses (an entity over 1 MiB by Azure's formula, more than 252 properties, a filter of
// more than 15 comparisons) no request reaches today, so the app's own storage clients are shown
// refusing those.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../src/rules/types';
import { MAX_CUSTOM_PROPERTIES, MAX_ENTITY_BYTES, MAX_TRANSACTION_BYTES, entityBytes } from '../../src/local/azure-limits';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { createLocalApp } from '../../src/local/local-app';
import { DEV_KEYS, localSettings } from '../../src/local/settings-file';
import { MAX_FILTER_COMPARISONS } from '../../src/store/filters';
import { encodeKey, TABLES, type StoragePolicy } from '../../src/store';
import type { PostureApp } from '../../src/app/create-app';
import { snapshot } from '../support/snapshots';
import { oncePerRequest } from '../support/faults';
import { createTestTables } from '../support/stack';

/** Rules whose four texts are long and fixed: together they fill most of a commit. */
const FILLERS = 34;
const TEXT = 30_000;
/** Rules that quote their own part of the file tail in their English message: the rest of it, a byte a character. */
const QUOTERS = 4;
const PART = 30_000;
const TAIL = 'C:\\logs\\long-texts.txt';

function rule(id: string, outcome: (tail: string) => { message: { en: string; ja: string }; remediation: { en: string; ja: string }[] }): Rule {
  return {
    id,
    version: '1.0.0',
    title: { en: id, ja: id },
    rationale: { en: 'Long texts.', ja: '長い文。' },
    severity: 'Warning',
    references: [],
    reasonCodes: { LongTexts: 'Warning' },
    needs: { registry: [], services: [], files: [{ path: TAIL, tailBytes: QUOTERS * PART }] },
    evaluate: (s) => ({ status: 'Warning', reasonCode: 'LongTexts', evidence: {}, ...outcome(s.files[0]?.tail ?? '') }),
  };
}

const RULES: Rule[] = [
  ...Array.from({ length: FILLERS }, (_, n) =>
    rule(`long-text-${String(n).padStart(2, '0')}`, () => ({ message: { en: 'a'.repeat(TEXT), ja: 'b'.repeat(TEXT) }, remediation: [{ en: 'c'.repeat(TEXT), ja: 'd'.repeat(TEXT) }] })),
  ),
  ...Array.from({ length: QUOTERS }, (_, n) => rule(`long-quote-${String(n).padStart(2, '0')}`, (tail) => ({ message: { en: tail.slice(n * PART, (n + 1) * PART), ja: '引用' }, remediation: [] }))),
];

let azurite: AzuriteHandle;
let app: PostureApp;
let host: LocalHost;
const logs: string[] = [];
/** The payload of each transaction on the Results table that got past the limits to Azurite (once: a retry of one is not another). */
const commits: number[] = [];
const firstAttempt = oncePerRequest();

beforeAll(async () => {
  azurite = await startAzurite({});
  // As `npm start` on a fresh clone: no local.settings.json, nothing from the environment.
  const { settings } = localSettings(azurite.connectionString, 'no-such-local.settings.json', {});
  const measure: StoragePolicy = {
    name: 'testMeasureCommits',
    sendRequest(request, next) {
      if (request.method === 'POST' && request.url.endsWith('/$batch') && firstAttempt(request) && typeof request.body === 'string' && new RegExp(`/${TABLES.results}[( ]`).test(request.body)) {
        commits.push(Buffer.byteLength(request.body, 'utf8'));
      }
      return next(request);
    },
  };
  app = createLocalApp({ settings, rules: RULES, storeOptions: { policies: [measure] } });
  await app.store.ensureTables();
  host = await startLocalHost({ app, port: 0, log: (e) => logs.push(`${e.level} ${e.functionName}: ${e.message}`) });
}, 60_000);
afterAll(async () => {
  await host?.close();
  await azurite?.stop();
});

async function call(path: string, key: string, body?: unknown): Promise<{ status: number; body: { key?: string; error?: string; message?: string; outcome?: string } }> {
  const res = await fetch(`${host.baseUrl}/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** Enrols `server` with the development secret and posts its snapshot, whose tail the quoting rules quote. */
async function postWithTail(server: string, tailChars: number) {
  const fqdn = `${server.toLowerCase()}.corp.contoso.com`;
  const enrolled = await call('enroll', DEV_KEYS.enrolment, { host: { name: server, fqdn } });
  expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
  const doc = snapshot({ host: server, fqdn });
  const tail = 'q'.repeat(tailChars);
  doc.files = [{ path: TAIL, exists: true, size: tail.length, tail }];
  const before = commits.length;
  const res = await call('snapshots', enrolled.body.key!, doc);
  return { ...res, committed: commits.slice(before) };
}

/**
 * The rows Results holds for `server`. With the SDK's retries: a read sent again after a kept-alive
 * connection was reset (a loaded machine sees it) counts the same rows, and without them that reset
 * failed the test.
 */
async function resultRows(server: string): Promise<number> {
  const { results } = createTestTables({ connectionString: azurite.connectionString, tablePrefix: app.settings.tablePrefix });
  let n = 0;
  for await (const _ of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(`${server.toLowerCase()}.corp.contoso.com`)}'`, select: ['RowKey'] } })) n++;
  return n;
}

describe('a commit at Azure’s 4 MiB transaction limit, through the local host', () => {
  it('is stored at exactly 4 MiB; a byte more is answered 500 as in Azure, the refusal logged, none of its rows stored', async () => {
    // A commit well inside the limit tells what the fixed texts take; the quoted tail adds a byte a character.
    const probe = await postWithTail('LIMIT1', 1_000);
    expect(probe.status, JSON.stringify(probe.body)).toBe(201);
    expect(probe.committed).toHaveLength(1);
    const fits = 1_000 + MAX_TRANSACTION_BYTES - probe.committed[0]!;
    expect(fits, 'the quoting rules can reach the limit').toBeGreaterThan(1_000);
    expect(fits, 'the quoting rules can reach the limit').toBeLessThanOrEqual(QUOTERS * PART);

    const at = await postWithTail('LIMIT2', fits);
    expect(at.status, JSON.stringify(at.body)).toBe(201);
    expect(at.body.outcome).toBe('accepted');
    expect(at.committed).toEqual([MAX_TRANSACTION_BYTES]);
    expect(await resultRows('LIMIT2')).toBe(RULES.length);

    const over = await postWithTail('LIMIT3', fits + 1);
    expect(over.status, JSON.stringify(over.body)).toBe(500);
    expect(over.body.error).toBe('internal_error');
    // Refused before Azurite: no transaction of it reached storage, and the server has no rows.
    expect(over.committed).toEqual([]);
    expect(await resultRows('LIMIT3')).toBe(0);
    expect(logs.filter((l) => l.includes('RequestBodyTooLarge'))).toEqual([expect.stringMatching(/^error .*payload is 4194305 bytes; Azure Table storage takes at most 4194304/s)]);
    // The server the refused post named is not served; the fleet counts the two accepted posts,
    // whose long rows the projector wrote within the limits too. (The refused attempt's outbox
    // entry waits out the projector's grace before it is dropped, as after any failed commit.)
    expect((await call('servers/limit3.corp.contoso.com', DEV_KEYS.reader)).status).toBe(404);
    await app.projector.drain({ log: (message) => logs.push(`information projector: ${message}`) });
    const summary = (await call('summary', DEV_KEYS.reader)).body as unknown as { hosts: number; rules: { ruleId: string; counts: Record<string, number> }[] };
    expect(summary.hosts).toBe(2);
    expect(summary.rules.map((r) => r.counts.Warning)).toEqual(RULES.map(() => 2));
    // Only the refusal: nothing refused or held for a limit. A batch that failed because a loaded
    // machine was slow (a timeout, a dropped connection) and was projected one at a time after is
    // not a limit's doing; the counts above show it got there.
    const loadOnly = /timed? ?out|timeout|abort|ECONNRESET|socket hang up|ServerBusy|\b503\b/i;
    const refusals = logs.filter((l) => /refused|failed|held|too ?large/i.test(l) && !loadOnly.test(l));
    expect(refusals, refusals.join('\n')).toHaveLength(1);
  }, 120_000);
});

describe('the storage clients of the app the local host serves', () => {
  it('refuse what Azure refuses and Azurite takes, in the requests\' store and the projector\'s; what Azure takes is stored', async () => {
    // Strings count two bytes a character by Azure's formula, one in Azurite's JSON: seventeen
    // strings of 32,000 ASCII characters are over 1 MiB for Azure, about half that for Azurite.
    const strings = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${String(i).padStart(2, '0')}`, 'x'.repeat(32_000)]));
    const properties = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));
    expect(entityBytes({ PartitionKey: 'p', RowKey: 'r', ...strings(17) })).toBeGreaterThan(MAX_ENTITY_BYTES);
    expect(entityBytes({ PartitionKey: 'p', RowKey: 'r', ...strings(16) })).toBeLessThan(MAX_ENTITY_BYTES);
    const filter = Array.from({ length: MAX_FILTER_COMPARISONS + 1 }, (_, i) => `RowKey eq 'r${i}'`).join(' or ');
    for (const [i, store] of [app.store, app.projectorStore].entries()) {
      const events = store.siblingTable('events');
      const write = (what: string, entity: Record<string, unknown>) => events.call(what, (t) => t.createEntity({ partitionKey: 'limits', ...entity, rowKey: `${what}-${i}` }));
      await expect(write('formula', strings(17))).rejects.toMatchObject({ statusCode: 400, code: 'EntityTooLarge' });
      await expect(write('properties', properties(MAX_CUSTOM_PROPERTIES + 1))).rejects.toMatchObject({ statusCode: 400, code: 'TooManyProperties' });
      await expect(events.call('comparisons', (t) => t.listEntities({ queryOptions: { filter } }).byPage().next())).rejects.toMatchObject({ statusCode: 400 });
      await write('formula-inside', strings(16));
      await write('properties-inside', properties(MAX_CUSTOM_PROPERTIES));
      const stored = await events.call('reading back', async (t) => {
        const keys: string[] = [];
        for await (const e of t.listEntities({ queryOptions: { filter: `PartitionKey eq 'limits'`, select: ['RowKey'] } })) keys.push(e.rowKey!);
        return keys;
      });
      expect(stored.filter((k) => k.endsWith(`-${i}`)).sort()).toEqual([`formula-inside-${i}`, `properties-inside-${i}`]);
    }
  }, 60_000);
});

describe('npm start and npm run demo', () => {
  it('build their app with createLocalApp, which adds the limits; nothing under src/local calls createApp but it', () => {
    const dir = path.resolve(__dirname, '..', '..', 'src', 'local');
    const source = (f: string) => readFileSync(path.join(dir, f), 'utf8');
    const callers = readdirSync(dir).filter((f) => f !== 'local-app.ts' && /\bcreateApp\s*\(/.test(source(f)));
    expect(callers).toEqual([]);
    for (const f of ['main.ts', 'demo.ts']) expect(source(f), f).toMatch(/\bcreateLocalApp\(\{ settings \}\)/);
  });
});
