// Without POSTURE_CONTINUATION_TOKEN_SECRET, every instance over one storage account seals
// continuation tokens with one secret, the one the first of them stored in the Lifecycle table: a
// page one instance handed out opens on another (a scale-out, a restart), on every paged route.
// Instances that start together store one secret between them, a stored secret too short to trust
// is replaced, a configured secret stores nothing, and storage down while the secret is read is
// the usual 503, after which the same token opens.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/app/settings';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import type { StoragePolicy } from '../../src/store';
import { queryId } from '../../src/store/cursor';
import { SHARED_SECRET_KEYS } from '../../src/store/shared-secret';
import { refusedReads } from '../support/faults';
import { get, post } from '../support/http';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED } from '../support/drift';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { createTestApp, createTestTables, startTestStack, stackTables, TEST_KEYS, type TestStack } from '../support/stack';

let stack: TestStack;
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;
const hosts: LocalHost[] = [];
// The port-25 rule as well, for a drift of more than one configuration to page through.
const RULES = [...TEST_RULES, mcafeePort25Blocked];

beforeAll(async () => {
  stack = await startTestStack({ rules: RULES, settings: { POSTURE_CONTINUATION_TOKEN_SECRET: '' } });
  expect(stack.settings.continuationTokenSecret).toBeUndefined();
  for (const [i, host] of ['SEC1', 'SEC2', 'SEC3'].entries()) {
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30 - i) }))).status).toBe(201);
    expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20 - i) }))).status).toBe(201);
  }
  for (const [i, [host, fixture]] of [['DRF1', DEFAULT_LIST], ['DRF2', REMOVED]].entries()) {
    expect((await post(stack, fixtureAs(readFixture(fixture!) as Record<string, unknown>, host!, minutesAgo(10 - i)))).status).toBe(201);
  }
  await stack.projected();
});
afterAll(async () => {
  for (const h of hosts) await h.close();
  await stack?.stop();
});

/** Another instance over the stack's storage, with the stack's settings (no secret) and its own storage policies. */
async function otherInstance(policies: StoragePolicy[] = []): Promise<LocalHost> {
  const app = createTestApp({ settings: stack.settings, rules: RULES, storeOptions: { policies } });
  const host = await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 });
  hosts.push(host);
  return host;
}

const read = async (host: LocalHost, path: string) => {
  const res = await fetch(`${host.baseUrl}/api/${path}`, { headers: { 'x-api-key': TEST_KEYS.reader } });
  return { status: res.status, body: (await res.json()) as { items?: unknown[]; clusters?: unknown[]; continuationToken?: string | null; error?: string; message?: string } };
};

const secretRow = async (tables = stackTables(stack)) => {
  try {
    return await tables.lifecycle.getEntity<{ Secret: string }>(SHARED_SECRET_KEYS.partitionKey, SHARED_SECRET_KEYS.rowKey);
  } catch {
    return undefined;
  }
};

/** Settings over the stack's Azurite with tables of their own (a new prefix), and those tables. */
function freshTables(more: Record<string, string> = {}) {
  const settings = loadSettings({ POSTURE_STORAGE_CONNECTION_STRING: stack.settings.storageConnectionString ?? '', POSTURE_TABLE_PREFIX: `t${randomBytes(4).toString('hex')}`, ...more });
  return { settings, tables: createTestTables({ connectionString: settings.storageConnectionString, tablePrefix: settings.tablePrefix }) };
}

describe('one continuation-token secret for every instance, kept in storage when no setting gives one', () => {
  it.each([
    ['results', 'results?top=2'],
    ['events', 'events?top=2'],
    ['history', `servers/${server('SEC1')}/history?top=1`],
    ['servers', 'servers?top=1'],
    ['drift', `drift?rule=${DRIFT_RULE}&top=1`],
  ])('%s: a page one instance handed out is the same page on another instance', async (name, path) => {
    const first = await get(stack, path);
    expect(first.status).toBe(200);
    const token = first.body.continuationToken as string;
    expect(typeof token).toBe('string');
    const here = await get(stack, `${path}&continuationToken=${encodeURIComponent(token)}`);
    expect(here.status).toBe(200);
    const other = await read(await otherInstance(), `${path}&continuationToken=${encodeURIComponent(token)}`);
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    const listed = (b: { items?: unknown; clusters?: unknown }) => (name === 'drift' ? b.clusters : b.items);
    expect(listed(other.body)).toEqual(listed(here.body));
    expect((listed(here.body) as unknown[]).length).toBeGreaterThan(0);
  });

  it('is one row of the Lifecycle table, written by the first instance and only read by the others', async () => {
    const row = await secretRow();
    expect(row?.Secret.length).toBeGreaterThanOrEqual(32);
    const host = await otherInstance();
    const token = (await get(stack, 'events?top=1')).body.continuationToken as string;
    expect((await read(host, `events?top=1&continuationToken=${encodeURIComponent(token)}`)).status).toBe(200);
    const after = await secretRow();
    expect(after?.Secret).toBe(row?.Secret);
    expect(after?.etag).toBe(row?.etag);
  });

  it('instances that start together over empty storage store one secret between them', async () => {
    const { settings, tables } = freshTables();
    // The first four reads of the secret wait until all four have asked, so each finds no row and
    // tries to store one; the reads after the refused stores go straight through.
    const held: (() => void)[] = [];
    const together: StoragePolicy = {
      name: 'testSecretReadsTogether',
      async sendRequest(request, next) {
        const secretRead = request.method === 'GET' && decodeURIComponent(request.url).includes(`RowKey='${SHARED_SECRET_KEYS.rowKey}'`);
        if (secretRead && held.length < 4) {
          await new Promise<void>((resolve) => {
            held.push(resolve);
            if (held.length === 4) for (const go of held) go();
          });
        }
        return next(request);
      },
    };
    const apps = Array.from({ length: 4 }, () => createTestApp({ settings, rules: TEST_RULES, storeOptions: { policies: [together] } }));
    for (const a of apps) await a.store.ensureTables();
    const q = queryId('events', {});
    const tokens = await Promise.all(apps.map((a) => a.store.cursors.seal(q, { i: 2, t: 'x' })));
    for (const b of apps) for (const token of tokens) expect(await b.store.cursors.open(token, q)).toEqual({ i: 2, t: 'x' });
    expect((await secretRow(tables))?.Secret.length).toBeGreaterThanOrEqual(32);
  });

  it('replaces a stored secret shorter than 32 characters (a row edited by hand), and the instances agree on the new one', async () => {
    const { settings, tables } = freshTables();
    const [a, b] = [createTestApp({ settings, rules: TEST_RULES }), createTestApp({ settings, rules: TEST_RULES })];
    await a.store.ensureTables();
    await tables.lifecycle.createEntity({ ...SHARED_SECRET_KEYS, Secret: 'short' });
    const q = queryId('results', {});
    const token = await a.store.cursors.seal(q, { i: 1 });
    const row = await secretRow(tables);
    expect(row?.Secret).not.toBe('short');
    expect(row?.Secret.length).toBeGreaterThanOrEqual(32);
    expect(await b.store.cursors.open(token, q)).toEqual({ i: 1, t: undefined });
  });

  it('a configured secret is used as it is: nothing is stored', async () => {
    const { settings, tables } = freshTables({ POSTURE_CONTINUATION_TOKEN_SECRET: 'a-configured-secret-of-at-least-32-characters' });
    const app = createTestApp({ settings, rules: TEST_RULES });
    await app.store.ensureTables();
    const q = queryId('events', {});
    expect(await createTestApp({ settings, rules: TEST_RULES }).store.cursors.open(await app.store.cursors.seal(q, { i: 3 }), q)).toEqual({ i: 3, t: undefined });
    expect(await secretRow(tables)).toBeUndefined();
  });

  it('storage refusing the read of the secret answers 503 storage_unavailable; once it answers, the same token opens', async () => {
    const refusal = refusedReads('refuseLifecycleReads');
    const host = await otherInstance([refusal.policy]);
    refusal.table = `${stack.settings.tablePrefix}Lifecycle`;
    refusal.on = true;
    const token = (await get(stack, 'results?top=2')).body.continuationToken as string;
    const down = await read(host, `results?top=2&continuationToken=${encodeURIComponent(token)}`);
    expect(down.status, JSON.stringify(down.body)).toBe(503);
    expect(down.body.error).toBe('storage_unavailable');
    refusal.on = false;
    const up = await read(host, `results?top=2&continuationToken=${encodeURIComponent(token)}`);
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body.items).toEqual((await get(stack, `results?top=2&continuationToken=${encodeURIComponent(token)}`)).body.items);
  });
});
