// A removed server asked for by its exact id, over real HTTP on Azurite: the id answers about that
// server even when a server that counts has an id beginning with it and a dot (decom02.corp.contoso.com
// removed, decom02.corp.contoso.com.eu live), and finding it by id reads its own partition, not every
// server whose id sorts after it (on Azure such a range read pages through each of their rows). A
// removal by that id never takes the live server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, tableNames, type StoragePolicy } from '../../src/store';
import { DEFAULT_LIST, fixtureAs, REMOVED } from '../support/drift';
import { drainOutbox } from '../support/drain';
import { serverKeysTable } from '../support/enrolment-client';
import { oncePerRequest } from '../support/faults';
import { get, getAll, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const REMOVED_ID = 'decom02.corp.contoso.com';
const LIVE_ID = `${REMOVED_ID}.eu`;
const ALONE_ID = 'decom03.corp.contoso.com';
const BY = 'ops@contoso.com';

let stack: TestStack;
/** The filters of the Results table's queries, while `recording`. */
const resultsFilters: string[] = [];
let recording = false;
const firstAttempt = oncePerRequest();
const recorder: StoragePolicy = {
  name: 'results-filters',
  async sendRequest(request, next) {
    const url = new URL(request.url);
    if (recording && firstAttempt(request) && url.pathname.endsWith(`/${tableNames(stack.settings.tablePrefix).results}()`)) resultsFilters.push(url.searchParams.get('$filter') ?? '');
    return next(request);
  },
};

/** Posts a port-25 fixture as the server `id` (host name DECOM0x, the id as FQDN). */
async function postAs(id: string, fixture: string): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, id.split('.')[0]!.toUpperCase(), Date.now() - 60_000);
  const res = await fetch(`${stack.baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(id) },
    body: JSON.stringify({ ...body, host: { ...(body.host as object), fqdn: id } }),
  });
  expect(res.status).toBe(201);
}

const remove = (id: string) => stack.request(`servers/${encodeURIComponent(id)}?removedBy=${encodeURIComponent(BY)}`, { method: 'DELETE', key: 'admin' });

const removedAt: Record<string, string> = {};

beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [recorder] });
  for (const id of [REMOVED_ID, ALONE_ID]) {
    await postAs(id, REMOVED);
    await drainOutbox(stack);
    const res = await remove(id);
    expect(res.status).toBe(200);
    removedAt[id] = ((await res.json()) as Json).removedAt;
  }
  await drainOutbox(stack);
  // Posted after the removal: a server that counts, whose id begins with the removed one's and a dot.
  await postAs(LIVE_ID, DEFAULT_LIST);
  await drainOutbox(stack);
}, 120_000);
afterAll(async () => stack?.stop());

describe('a removed server by its exact id', () => {
  it('answers about that server, not the live one whose id begins with it: history, events, the server route', async () => {
    const history = await get(stack, `servers/${REMOVED_ID}/history`);
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ server: REMOVED_ID, removed: { removedAt: removedAt[REMOVED_ID], removedBy: BY } });
    expect(history.body.items.map((e: Json) => [e.server, e.cause])).toEqual([
      [REMOVED_ID, 'removed'],
      [REMOVED_ID, 'snapshot'],
    ]);
    const events = await getAll(stack, `events?server=${REMOVED_ID}`);
    expect(new Set(events.items.map((e: Json) => e.server))).toEqual(new Set([REMOVED_ID]));
    const server = await get(stack, `servers/${REMOVED_ID}`);
    expect(server.status).toBe(404);
    expect(server.body.message).toBe(`Server "${REMOVED_ID}" was removed from the fleet at ${removedAt[REMOVED_ID]} by ${BY}; its history stays readable.`);
    // The live server still answers to its own id, and its history holds none of the removed one's.
    const live = await get(stack, `servers/${LIVE_ID}/history`);
    expect(live.body).toMatchObject({ server: LIVE_ID, removed: null });
    expect(live.body.items.map((e: Json) => e.server)).toEqual([LIVE_ID]);
  });

  it('a second removal by that id, its key records lost, is a 404 saying it was already removed, and the live server stays', async () => {
    // Without its key records only its markers know the id; the removal must not take the live server.
    const keys = serverKeysTable(stack);
    const pk = encodeKey(REMOVED_ID);
    for await (const row of keys.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) await keys.deleteEntity(pk, String(row.rowKey));
    const again = await remove(REMOVED_ID);
    expect(again.status).toBe(404);
    expect(((await again.json()) as Json).message).toBe(`Server "${REMOVED_ID}" was already removed at ${removedAt[REMOVED_ID]} by ${BY}; its history stays readable.`);
    await drainOutbox(stack);
    expect((await get(stack, `servers/${LIVE_ID}`)).body.server).toBe(LIVE_ID);
  });

  it('stands for itself when a waiver or a baseline names it: neither attaches to the live server', async () => {
    const admin = (route: string, body: object) => stack.request(route, { method: 'PUT', key: 'admin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const waiver = await admin('waivers/w-decom02', { rule: 'mcafee-port25-blocked', server: REMOVED_ID, justification: 'decommissioned', grantedBy: BY, expiresAt });
    expect(waiver.status).toBe(201);
    // It names the removed server, but covers no server that counts: none, said as for one not posted yet.
    expect(await waiver.json()).toMatchObject({ server: REMOVED_ID, coveredServers: 0, coveredServersAtLeast: false, warnings: [{ code: 'covers_no_server' }] });
    const alone = await admin('waivers/w-decom03', { rule: 'mcafee-port25-blocked', server: ALONE_ID, justification: 'decommissioned', grantedBy: BY, expiresAt });
    expect(alone.status).toBe(201);
    const aloneBody = (await alone.json()) as Json;
    expect(aloneBody).toMatchObject({ server: ALONE_ID, coveredServers: 0, warnings: [{ code: 'covers_no_server' }] });
    expect(aloneBody.warnings[0].message).toBe(`Server "${ALONE_ID}" was removed from the fleet, so the waiver covers no server known now; it is stored and covers that server again if it posts under that id.`);
    const pattern = await admin('waivers/w-decom0x', { rule: 'mcafee-port25-blocked', serverPattern: 'decom03.*', justification: 'decommissioned', grantedBy: BY, expiresAt });
    expect(await pattern.json()).toMatchObject({ coveredServers: 0, warnings: [{ code: 'covers_no_server' }] });
    // It posts no more, so it has no configuration to measure others against.
    const baseline = await admin('baselines/mcafee-port25-blocked', { server: REMOVED_ID, setBy: BY });
    expect(baseline.status).toBe(400);
    expect(((await baseline.json()) as Json).message).toContain(`Server "${REMOVED_ID}" has no configuration recorded`);
    for (const id of ['w-decom02', 'w-decom03', 'w-decom0x']) expect((await stack.request(`waivers/${id}`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
  });

  it('is found by two reads of its own partition, never by a range read over the removal markers', async () => {
    const store = stack.app.store;
    resultsFilters.length = 0;
    store.counter.reset();
    recording = true;
    const history = await get(stack, `servers/${ALONE_ID}/history`);
    recording = false;
    expect(history.body).toMatchObject({ server: ALONE_ID, removed: { removedAt: removedAt[ALONE_ID] } });
    // Whether its id counts or was removed, in one read of its partition; then its markers, in another.
    // No host-name candidates are read: an id wins over the servers whose id begins with it.
    expect(store.counter.byTable.get(tableNames(stack.settings.tablePrefix).results)).toBe(2);
    const own = `PartitionKey eq '${encodeKey(ALONE_ID)}'`;
    expect(resultsFilters).toEqual([own, own]);
  });
});
