// Fleet drift end to end: real port-25 fixtures posted over HTTP as a small fleet, then the drift
// of the rule, one server's differences, a configuration that changes, and a baseline named and
// cleared by an admin (audited as events), against Azurite and the local host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { odata, type TableClient } from '@azure/data-tables';
import { DRIFT_SHARDS, encodeKey } from '../../src/store';
import { DRIFT_COUNTER_KEYS } from '../../src/store/drift-store';
import { get, post } from '../support/http';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
const FILE_SERVER = 'vse80i-no-smtp-service-file-server.json';

let stack: TestStack;
let minute = 0;
const id = serverIdOf;

/** Posts a fixture as `host`, each post a new snapshot a minute after the last. */
async function postAs(host: string, fixture: string): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + minute++ * 60_000);
  const r = await post(stack, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

const admin = (path: string, method: string, body?: unknown) =>
  stack.request(path, { method, key: 'admin', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

beforeAll(async () => {
  stack = await startTestStack();
  for (const h of ['EXCH01', 'EXCH02', 'EXCH03', 'EXCH04']) await postAs(h, DEFAULT_LIST);
  await postAs('EXCH05', REMOVED);
  await postAs('FS01', FILE_SERVER);
}, 120_000);
afterAll(async () => stack?.stop());

describe('GET /api/drift', () => {
  it('the fleet as clusters, largest first, with counts per status, facts and sample servers', async () => {
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ruleId: RULE, servers: 6, configurations: 2, baseline: null, continuationToken: null });
    const [big, odd] = r.body.clusters;
    expect(big).toMatchObject({ servers: 5, counts: { Pass: 4, NotApplicable: 1, Warning: 0, Error: 0, Unknown: 0 } });
    expect(big.sample).toEqual([id('EXCH01'), id('EXCH02'), id('EXCH03'), id('EXCH04'), id('FS01')]);
    expect(big.facts['portRule[mass-mailing].exclude']).toContain('inetinfo.exe');
    expect(odd).toMatchObject({ servers: 1, counts: { Warning: 1 }, sample: [id('EXCH05')] });
    expect(odd.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Counter rows only: at most one per configuration and shard.
    expect(Number(r.headers.get('x-entities-read'))).toBeLessThanOrEqual(2 * DRIFT_SHARDS);
  });

  it('the result rows carry the fingerprint the drift counts', async () => {
    const rows = await stack.app.store.readServer(id('EXCH05'));
    const row = rows.find((x) => x.ruleId === RULE)!;
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(row.fingerprint).toBe(r.body.clusters[1].fingerprint);
    expect(JSON.parse(row.fingerprintFactsJson!)).toEqual(r.body.clusters[1].facts);
  });

  it('pages with top and a sealed token bound to the rule', async () => {
    const first = await get(stack, `drift?rule=${RULE}&top=1`);
    expect(first.body.clusters).toHaveLength(1);
    expect(first.body.clusters[0].servers).toBe(5);
    const token = first.body.continuationToken as string;
    expect(token).toEqual(expect.any(String));
    const second = await get(stack, `drift?rule=${RULE}&top=1&continuationToken=${token}`);
    expect(second.body.clusters.map((c: { servers: number }) => c.servers)).toEqual([1]);
    expect(second.body.continuationToken).toBeNull();
    const altered = await get(stack, `drift?rule=${RULE}&top=1&continuationToken=${token.slice(0, -2)}AA`);
    expect(altered.status).toBe(400);
  });

  it('refuses what it cannot answer with one clear sentence', async () => {
    const none = await get(stack, 'drift');
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/give "rule"/);
    expect((await get(stack, 'drift?rule=no-such-rule')).status).toBe(400);
    expect((await get(stack, `drift?rule=${RULE}&colour=red`)).status).toBe(400);
    expect((await get(stack, `drift?rule=${RULE}`, { key: null })).status).toBe(401);
    expect((await get(stack, `drift?rule=${RULE}`, { key: 'ingest' })).status).toBe(403);
  });
});

describe('GET /api/servers/{server}/drift', () => {
  it('the odd server differs from the largest cluster in its exclusion list only', async () => {
    const r = await get(stack, `servers/${id('EXCH05')}/drift?rule=${RULE}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ server: id('EXCH05'), ruleId: RULE, status: 'Warning', matches: false, reference: { kind: 'largest-cluster', servers: 5 } });
    expect(r.body.differences).toHaveLength(1);
    expect(r.body.differences[0]).toMatchObject({ field: 'portRule[mass-mailing].exclude', change: 'changed' });
    expect(r.body.differences[0].reference).toContain('inetinfo.exe');
    expect(r.body.differences[0].server).not.toContain('inetinfo.exe');
  });

  it('a server like the largest cluster matches; an unknown server is 404', async () => {
    expect((await get(stack, `servers/${id('FS01')}/drift?rule=${RULE}`)).body).toMatchObject({ matches: true, differences: [] });
    expect((await get(stack, `servers/nobody.example/drift?rule=${RULE}`)).status).toBe(404);
    expect((await get(stack, `servers/${id('FS01')}/drift`)).status).toBe(400);
  });

  it("collectedAt is the server's newest snapshot, also when that snapshot left its configuration as it was", async () => {
    const first = await get(stack, `servers/${id('EXCH04')}/drift?rule=${RULE}`);
    await postAs('EXCH04', DEFAULT_LIST);
    const newest = (await get(stack, `servers/${id('EXCH04')}`)).body.lastCollectedAt as string;
    expect(newest > first.body.collectedAt).toBe(true);
    const again = await get(stack, `servers/${id('EXCH04')}/drift?rule=${RULE}`);
    expect(again.body).toMatchObject({ fingerprint: first.body.fingerprint, status: first.body.status, collectedAt: newest });
  });

  it('takes the host name people know, as the other server routes do', async () => {
    const byName = await get(stack, `servers/exch05/drift?rule=${RULE}`);
    expect(byName.status, JSON.stringify(byName.body)).toBe(200);
    expect(byName.body).toMatchObject({ server: id('EXCH05'), matches: false });
    expect((await get(stack, `servers/EXCH05/drift?rule=${RULE}`)).body.server).toBe(id('EXCH05'));
    // A name that begins no server id is 404, saying so in one sentence.
    const unknown = await get(stack, `servers/exch99/drift?rule=${RULE}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/^No server "exch99" is known/);
  });
});

describe('baselines', () => {
  it('an admin names a baseline; drift is then measured against it; every change is an event', async () => {
    expect((await stack.request(`baselines/${RULE}`, { method: 'PUT', key: 'reader', headers: { 'content-type': 'application/json' }, body: '{"server":"x","setBy":"y"}' })).status).toBe(403);
    const unknown = await admin(`baselines/${RULE}`, 'PUT', { server: 'nobody.example', setBy: 'alice' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toBe('invalid_baseline');
    expect((await admin(`baselines/${RULE}`, 'PUT', { server: id('EXCH05'), setBy: 'alice', extra: 1 })).status).toBe(400);
    const none = await admin(`baselines/${RULE}`, 'GET');
    expect(none.status).toBe(200);
    expect(await none.json()).toEqual({ rule: RULE, server: null, setBy: null, setAt: null, revision: 0 });

    const set = await admin(`baselines/${RULE}`, 'PUT', { server: id('EXCH05'), setBy: 'alice' });
    expect(set.status).toBe(201);
    expect(await set.json()).toMatchObject({ rule: RULE, server: id('EXCH05'), setBy: 'alice', revision: 1 });

    const odd = await get(stack, `servers/${id('EXCH05')}/drift?rule=${RULE}`);
    expect(odd.body).toMatchObject({ matches: true, reference: { kind: 'baseline', server: id('EXCH05') } });
    const other = await get(stack, `servers/${id('EXCH01')}/drift?rule=${RULE}`);
    expect(other.body.differences.map((d: { field: string }) => d.field)).toEqual(['portRule[mass-mailing].exclude']);
    const fleet = await get(stack, `drift?rule=${RULE}`);
    expect(fleet.body.baseline).toMatchObject({ server: id('EXCH05'), setBy: 'alice', fingerprint: fleet.body.clusters[1].fingerprint });

    const changed = await admin(`baselines/${RULE}`, 'PUT', { server: id('EXCH01'), setBy: 'bob' });
    expect(changed.status).toBe(200);
    expect((await get(stack, `servers/${id('EXCH01')}/drift?rule=${RULE}`)).body.matches).toBe(true);

    const cleared = await admin(`baselines/${RULE}`, 'DELETE');
    expect(cleared.status).toBe(200);
    expect((await admin(`baselines/${RULE}`, 'DELETE')).status).toBe(404);
    expect(await (await admin(`baselines/${RULE}`, 'GET')).json()).toMatchObject({ server: null, revision: 3 });
    expect((await get(stack, `servers/${id('EXCH05')}/drift?rule=${RULE}`)).body.reference.kind).toBe('largest-cluster');

    const events = await get(stack, 'events?cause=baseline-set,baseline-changed,baseline-deleted');
    const causes = events.body.items.map((e: { cause: string }) => e.cause);
    expect(causes.sort()).toEqual(['baseline-changed', 'baseline-deleted', 'baseline-set']);
    expect(JSON.stringify(events.body.items)).toContain('bob');
    // A deletion carries no actor: its record names who set the baseline as that, not as who cleared it.
    const deleted = events.body.items.find((e: { cause: string }) => e.cause === 'baseline-deleted');
    expect(deleted.message).toMatch(/cleared \(was [^)]+\); it was set by \S+\.$/);
    // Audit records, not status changes: no status, and kind=status leaves them out.
    for (const e of events.body.items) expect(e).toMatchObject({ kind: 'baseline', fromStatus: null, toStatus: null, severity: null });
    const statusKind = await get(stack, 'events?kind=status&top=1000');
    expect(statusKind.body.items.filter((e: { cause: string }) => e.cause.startsWith('baseline-'))).toEqual([]);
    const baselineKind = await get(stack, 'events?kind=baseline');
    expect(baselineKind.body.items.map((e: { cause: string }) => e.cause).sort()).toEqual(['baseline-changed', 'baseline-deleted', 'baseline-set']);
  });
});

describe("the fleet's X-Entities-Read", () => {
  it('counts every entity the answer read: the counter rows, the baseline row, and the baseline server\'s member row', async () => {
    const { drift } = stackTables(stack);
    const counters = await rowsWithin(drift, encodeKey(RULE), DRIFT_COUNTER_KEYS.from, DRIFT_COUNTER_KEYS.to);
    expect(counters).toBeGreaterThan(0);
    expect((await admin(`baselines/${RULE}`, 'PUT', { server: id('EXCH05'), setBy: 'carol' })).status).toBe(201);
    const members = await rowsWithin(drift, encodeKey(RULE), `m|${encodeKey(id('EXCH05'))}`, `m|${encodeKey(id('EXCH05'))}}`);
    expect(members).toBe(1);
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.body.baseline).toMatchObject({ server: id('EXCH05'), fingerprint: expect.stringMatching(/^sha256:/) });
    expect(Number(r.headers.get('x-entities-read'))).toBe(counters + 1 + members);
    expect((await admin(`baselines/${RULE}`, 'DELETE')).status).toBe(200);
    // Cleared, the baseline row is still there to read; no member is read for it.
    expect(Number((await get(stack, `drift?rule=${RULE}`)).headers.get('x-entities-read'))).toBe(counters + 1);
  });
});

/** How many rows of a partition have keys from `from` (inclusive) to `to` (exclusive). */
async function rowsWithin(table: TableClient, pk: string, from: string, to: string): Promise<number> {
  let n = 0;
  for await (const _ of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${to}`, select: ['RowKey'] } })) n++;
  return n;
}

describe('drift follows the fleet', () => {
  it('a server that changes its configuration moves to its new cluster; the emptied one goes', async () => {
    await postAs('EXCH05', DEFAULT_LIST);
    const r = await get(stack, `drift?rule=${RULE}`);
    expect(r.body).toMatchObject({ servers: 6, configurations: 1 });
    expect(r.body.clusters[0].counts).toMatchObject({ Pass: 5, NotApplicable: 1, Warning: 0 });
    // A repeat of the same configuration changes no counter.
    await postAs('EXCH05', DEFAULT_LIST);
    expect((await get(stack, `drift?rule=${RULE}`)).body.clusters[0].servers).toBe(6);
  });
});
