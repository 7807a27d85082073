// Removing a decommissioned server, end to end over real HTTP on Azurite: an admin's DELETE of the
// server takes it out of every fleet-wide view (summary counts, results, the rule index, drift, the
// server list and the stale list), revokes its key, and keeps its History and events readable. A
// removal projected twice (a run repeated after a crash) counts nothing twice, also after the
// server re-enrolled and posted again; a reader cannot remove; bad requests change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerRemoval } from '../../src/app/server-removal';
import { StaleHosts } from '../../src/app/stale-hosts';
import { startLocalHost } from '../../src/local/host';
import { STATUSES } from '../../src/rules/types';
import { encodeKey, LifecycleStore, OutboxStore, type StoragePolicy, type StoredOutboxEntry } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { enrolmentClient, fqdn, serverKeysTable } from '../support/enrolment-client';
import { injectedError, lostAnswers } from '../support/faults';
import { alertRecords, get, getAll, type Json } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { drainOutbox, drainTwice as drainTwiceOf } from '../support/drain';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { rawTables } from '../support/raw-rows';

const MIN = 60_000;
/** The service's clock: moved forward by the test so a server turns stale. */
let now = Date.now() - 12 * 60 * MIN;
let stack: TestStack;
const [GONE, KEPT1, KEPT2] = ['RETIRED01', 'KEEP01', 'KEEP02'].map(serverIdOf) as [string, string, string];
const hostOf = (server: string) => server.split('.')[0]!.toUpperCase();

const outbox = () => new OutboxStore(stack.app.store);
/** The removal's outbox entry, kept to be replayed after the server came back. */
let removalEntry: StoredOutboxEntry | undefined;

/** Posts a port-25 fixture as `server` with `key` (its current server key by default), collected a minute before the service's now. */
async function post(server: string, fixture: string, key?: string): Promise<Response> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, hostOf(server), now - MIN);
  return fetch(`${stack.baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key ?? (await stack.serverKey(server)) },
    body: JSON.stringify(body),
  });
}

const drain = () => drainOutbox(stack);
/** Projects what waits, then the same entries again: a run repeated after a crash before it cleared them. */
const drainTwice = () => drainTwiceOf(stack);

const remove = (server: string, query = 'removedBy=ops%40contoso.com', key: keyof typeof TEST_KEYS = 'admin') =>
  stack.request(`servers/${encodeURIComponent(server)}${query ? `?${query}` : ''}`, { method: 'DELETE', key });

const runJob = async (job: string) => {
  const r = await stack.request(`jobs/${job}/run`, { method: 'POST', key: 'admin' });
  expect(r.status).toBe(200);
};

/**
 * Every fleet-wide view holds exactly these servers with these statuses of the port-25 rule: the
 * Results table, the summary's counts and host count, the rule index, the drift counts, the
 * server list.
 */
async function expectFleet(expected: Record<string, string>): Promise<void> {
  const servers = Object.keys(expected).sort();
  const all = await getAll(stack, 'results');
  expect(Object.fromEntries(all.items.map((r: Json) => [r.server, r.status]))).toEqual(expected);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const s of Object.values(expected)) counts[s]! += 1;

  const summary = await get(stack, 'summary');
  expect(summary.body.countsPending).toBe(false);
  expect(summary.body.hosts).toBe(servers.length);
  expect(summary.body.rules.find((r: Json) => r.ruleId === DRIFT_RULE).counts).toEqual(counts);

  const indexed = await getAll(stack, `results?rule=${DRIFT_RULE}`);
  expect(Object.fromEntries(indexed.items.map((r: Json) => [r.server, r.status]))).toEqual(expected);

  const drift = await get(stack, `drift?rule=${DRIFT_RULE}`);
  expect(drift.body.servers).toBe(servers.length);
  const driftCounts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const c of drift.body.clusters as Json[]) for (const [s, n] of Object.entries(c.counts as Record<string, number>)) driftCounts[s]! += n;
  expect(driftCounts).toEqual(counts);

  const listed = await getAll(stack, 'servers');
  expect(listed.items.map((h: Json) => h.server).sort()).toEqual(servers);
}

beforeAll(async () => {
  // Drains only when the test asks, so a removal's entry can be read and replayed.
  stack = await startTestStack({ clock: () => now, projectorIntervalMs: 0 });
  expect((await post(GONE, REMOVED)).status).toBe(201);
  expect((await post(KEPT1, REMOVED)).status).toBe(201);
  expect((await post(KEPT2, DEFAULT_LIST)).status).toBe(201);
  await drain();
  // Four hours later only the kept servers post again: the one to remove turns stale.
  now += 4 * 60 * MIN;
  expect((await post(KEPT1, REMOVED)).status).toBe(201);
  expect((await post(KEPT2, DEFAULT_LIST)).status).toBe(201);
  await drain();
  await runJob('stale-hosts');
}, 120_000);
afterAll(async () => stack?.stop());

describe('removing a server', () => {
  it('starts with three servers counted, the one to remove stale', async () => {
    await expectFleet({ [GONE]: 'Warning', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
    const stale = await get(stack, 'servers?stale=true');
    expect(stale.body.items.map((i: Json) => i.server)).toEqual([GONE]);
    expect((await get(stack, 'summary')).body.staleHosts).toBe(1);
  });

  it('is for admins: a reader key gets 403, a request without removedBy or with a bad reenrol 400, and none changes anything', async () => {
    const reader = await remove(GONE, 'removedBy=ops', 'reader');
    expect(reader.status).toBe(403);
    const missing = await remove(GONE, '');
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Json).message).toMatch(/removedBy/);
    expect((await remove(GONE, 'removedBy=ops&reenrol=maybe')).status).toBe(400);
    expect(await outbox().list(10)).toEqual([]);
    await expectFleet({ [GONE]: 'Warning', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });

  it('answers 404 with one sentence for a server that never posted, and changes nothing', async () => {
    const res = await remove('never-posted.corp.contoso.com');
    expect(res.status).toBe(404);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ error: 'not_found' });
    expect(body.message).toBe('No snapshot from server "never-posted.corp.contoso.com" has been stored, so there is nothing to remove; a key issued to it is revoked with DELETE /api/servers/never-posted.corp.contoso.com/key.');
    expect(await outbox().list(10)).toEqual([]);
  });

  it('removes it: 200 naming its rules and revoked key; once projected, no view counts or lists it, and its stale marker is gone', async () => {
    const res = await remove(hostOf(GONE));
    const body = (await res.json()) as Json;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ server: GONE, removedBy: 'ops@contoso.com', rules: [DRIFT_RULE], reenrol: 'allow' });
    expect(body.revoked).toHaveLength(1);
    // Its own reads change at once: the Results rows are gone with the commit.
    expect((await get(stack, `servers/${GONE}`)).status).toBe(404);
    expect((await get(stack, 'summary')).body.countsPending).toBe(true);
    const entries = await outbox().list(10);
    expect(entries.map((e) => e.server)).toEqual([GONE]);
    removalEntry = entries[0];

    await drainTwice();
    await expectFleet({ [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
    expect((await get(stack, 'servers?stale=true')).body.items).toEqual([]);
    expect((await get(stack, 'summary')).body.staleHosts).toBe(0);
    expect((await get(stack, `results?server=${GONE}`)).status).toBe(404);
    expect((await getAll(stack, `results?rule=${DRIFT_RULE}&status=Warning`)).items.map((r: Json) => r.server)).toEqual([KEPT1]);
    // The stale timer finds nothing to mark: the server has no results to be silent with (also
    // should a last-seen index row of it be left in an hour the removal did not know).
    expect(await new LifecycleStore(stack.app.store).lastSeenOf(GONE)).toBeUndefined();
    // Nor does a re-evaluation bring it back from its stored snapshot: it has no results to redo.
    expect(await stack.app.reevaluation.reevaluateServer(GONE)).toMatchObject({ outcome: 'unavailable' });
    expect(await outbox().list(10)).toEqual([]);
    now += 4 * 60 * MIN;
    expect((await post(KEPT1, REMOVED)).status).toBe(201);
    expect((await post(KEPT2, DEFAULT_LIST)).status).toBe(201);
    await drain();
    await runJob('stale-hosts');
    expect((await get(stack, 'servers?stale=true')).body.items).toEqual([]);
  });

  it('its old key is refused (key_revoked), so its collector must enrol again', async () => {
    const res = await post(GONE, REMOVED);
    expect(res.status).toBe(401);
    expect((await res.json()) as Json).toMatchObject({ error: 'key_revoked' });
    expect(await outbox().list(10)).toEqual([]);
  });

  it('keeps its History and events: its changes and the removal, with who removed it', async () => {
    const history = await getAll(stack, `servers/${GONE}/history`);
    expect(history.items.map((e: Json) => e.cause)).toEqual(['removed', 'stale', 'snapshot']);
    expect(history.items[0]).toMatchObject({ server: GONE, ruleId: null, fromStatus: 'Reporting', toStatus: 'Removed', kind: 'status' });
    expect(history.items[0].message).toContain('ops@contoso.com');
    const events = await getAll(stack, `events?cause=removed&server=${GONE}`);
    expect(events.items).toHaveLength(1);
    expect(events.items[0]).toMatchObject({ ruleId: null, ruleVersion: null, reasonCode: 'Removed', severity: 'Info' });
    expect((await getAll(stack, 'events?status=Removed')).items.map((e: Json) => e.server)).toEqual([GONE]);
    const audit = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerRemoved');
    expect(audit.map((r) => r.fields)).toEqual([expect.objectContaining({ server: GONE, removedBy: 'ops@contoso.com', rules: DRIFT_RULE })]);
  });

  it('a second removal is a 404 with one sentence, and changes nothing', async () => {
    const res = await remove(GONE);
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).message).toMatch(/^Server "retired01\.corp\.contoso\.com" was already removed at [^;]+; its history stays readable\.$/);
    expect(await outbox().list(10)).toEqual([]);
  });

  it('re-enrolled, the server posts a first result again; the removal replayed after that takes nothing of it', async () => {
    const enrol = await stack.request('enroll', { method: 'POST', key: 'enrolment', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: { name: hostOf(GONE), fqdn: GONE } }) });
    expect(enrol.status).toBe(201);
    const { key } = (await enrol.json()) as Json;
    const res = await post(GONE, DEFAULT_LIST, key);
    const body = (await res.json()) as Json;
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.results[0]).toMatchObject({ status: 'Pass', previousStatus: null });
    await drain();
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
    const first = (await getAll(stack, `events?server=${GONE}&cause=snapshot`)).items[0];
    expect(first).toMatchObject({ fromStatus: null, toStatus: 'Pass' });

    // The removal's entry once more (a projector that stopped before clearing it), projected by
    // another instance, which never saw the commit: it is still proven (the new rows carry its id
    // on), and it leaves the newer rows and Hosts row be.
    const e = removalEntry!;
    await outbox().put({ server: e.server, commitId: e.commitId, writtenAt: e.writtenAt, payload: e.payload });
    const other = createTestApp({ settings: stack.settings, clock: () => now, storeOptions: { maxRetries: 1 } });
    expect(await other.projector.drain({ log: () => undefined })).toMatchObject({ projected: 1, dropped: 0, waiting: 0 });
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });
});

describe('a removal racing the server', () => {
  const RACER = serverIdOf('RACER01');
  const STRAY = serverIdOf('STRAY01');

  it('a commit that lands between the removal’s read and its commit: the removal reads again and takes it too, and the accepted post is not lost', async () => {
    expect((await post(RACER, REMOVED)).status).toBe(201);
    await drain();
    // Another instance's commit (here a post taken without a key check, as the migration switch
    // for shared ingest keys allows) lands right after the removal read the partition.
    const other = createTestApp({ settings: stack.settings, clock: () => now, storeOptions: { maxRetries: 1 } });
    const real = stack.app.store;
    let reads = 0;
    const racing = new Proxy(real, {
      get(target, prop) {
        if (prop === 'readPartition') {
          return async (server: string) => {
            const rows = await target.readPartition(server);
            // The first read decides 404; the second is the one the commit is based on.
            if (++reads === 2) {
              const body = fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, hostOf(RACER), now - MIN / 2);
              expect(await other.ingest.run(JSON.stringify(body), 'en', { log: () => undefined })).toMatchObject({ outcome: 'accepted' });
            }
            return rows;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const removal = new ServerRemoval({ store: racing, outbox: outbox(), enrolment: stack.app.enrolment, projector: stack.app.projector, clock: () => now });
    const removed = await removal.remove(RACER, 'ops', false, { log: () => undefined });
    expect(removed).toMatchObject({ server: RACER, rules: [DRIFT_RULE] });
    expect(reads).toBe(3);
    // The refused attempt's entry went; the post's and the removal's wait, in commit order.
    expect((await outbox().list(10)).map((e) => e.server)).toEqual([RACER, RACER]);
    await drain();
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
    const history = await getAll(stack, `servers/${RACER}/history`);
    expect(history.items.map((e: Json) => [e.cause, e.toStatus])).toEqual([
      ['removed', 'Removed'],
      ['snapshot', 'Pass'],
      ['snapshot', 'Warning'],
    ]);
  });

  it('a removal whose commit lands but whose answer is lost (a 503 retried into a 412) answers 200 and is projected', async () => {
    const LOST = serverIdOf('LOST01');
    expect((await post(LOST, REMOVED)).status).toBe(201);
    await drain();
    const lose = lostAnswers('testLoseRemovalAnswer');
    const lossy = createTestApp({ settings: stack.settings, clock: () => now, storeOptions: { policies: [lose.policy], maxRetries: 1 } });
    const host = await startLocalHost({ app: lossy, port: 0, log: () => undefined, projectorIntervalMs: 0 });
    try {
      // The commit replaces the server's one row: a write of its Results row, not a $batch.
      lose.when = ({ method, url }) => method !== 'GET' && /\/[A-Za-z0-9]*Results\(/.test(new URL(url).pathname);
      const res = await fetch(`${host.baseUrl}/api/servers/${LOST}?removedBy=ops`, { method: 'DELETE', headers: { 'x-api-key': TEST_KEYS.admin } });
      expect(lose.when).toBeUndefined();
      expect(res.status, await res.text()).toBe(200);
    } finally {
      await host.close();
    }
    await drain();
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });

  it('a stale-hosts run that read the server just before its removal leaves no stale marker behind', async () => {
    const LATE = serverIdOf('LATE01');
    expect((await post(LATE, REMOVED)).status).toBe(201);
    await drain();
    now += 4 * 60 * MIN;
    const real = new LifecycleStore(stack.app.store);
    let removed = false;
    // The removal commits, and is projected (its stale marker cleared), right after the run read
    // the server's last-seen time and before it marks the server.
    const lifecycle = new Proxy(real, {
      get(target, prop) {
        if (prop === 'lastSeenOf') {
          return async (server: string) => {
            const seen = await target.lastSeenOf(server);
            if (server === LATE && !removed) {
              removed = true;
              expect((await remove(LATE)).status).toBe(200);
              await drain();
            }
            return seen;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const logged: string[] = [];
    const staleHosts = new StaleHosts({ events: stack.app.events, lifecycle, clock: () => now, staleAfterMinutes: stack.settings.staleAfterMinutes });
    await staleHosts.run({ log: (m) => logged.push(m) });
    expect(removed).toBe(true);
    expect((await real.listStale()).map((m) => m.server)).not.toContain(LATE);
    expect(logged.filter((m) => m.startsWith('FleetPosture.ServerStale') && m.includes(LATE))).toEqual([]);
    expect((await get(stack, 'summary')).body.staleHosts).toBe((await real.listStale()).length);
  });

  it('a collector whose instance remembers its row (its key tag) is refused once removed, and writes nothing', async () => {
    const other = createTestApp({ settings: stack.settings, clock: () => now, storeOptions: { maxRetries: 1 } });
    const host = await startLocalHost({ app: other, port: 0, log: () => undefined, projectorIntervalMs: 0 });
    try {
      const viaOther = async (fixture: string) =>
        fetch(`${host.baseUrl}/api/snapshots`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(STRAY) },
          body: JSON.stringify(fixtureAs(readFixture(fixture) as Record<string, unknown>, hostOf(STRAY), now - MIN)),
        });
      expect((await viaOther(REMOVED)).status).toBe(201);
      now += MIN;
      expect((await viaOther(REMOVED)).status).toBe(201);
      expect(other.store.rememberedServerRows(STRAY, [DRIFT_RULE])).toHaveLength(1);
      await drain();
      expect((await remove(STRAY)).status).toBe(200);
      await drain();
      now += MIN;
      const res = await viaOther(DEFAULT_LIST);
      expect(res.status).toBe(401);
      expect((await res.json()) as Json).toMatchObject({ error: 'key_revoked' });
      expect(await outbox().list(10)).toEqual([]);
      await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
      expect((await get(stack, `servers/${STRAY}`)).status).toBe(404);
    } finally {
      await host.close();
    }
  });
});

describe('a post racing the removal', () => {
  /** A second instance whose storage calls run `hook` once, at the first write to the Results table (after the post read its rows and checked its key). */
  async function instanceWithHook(hook: (request: { method: string; url: string }, send: () => Promise<unknown>) => Promise<unknown>) {
    const state = { armed: false };
    const policy: StoragePolicy = {
      name: 'testRemovalRacesPost',
      async sendRequest(request, next) {
        if (!state.armed || request.method === 'GET' || !/Results/.test(new URL(request.url).pathname)) return next(request);
        state.armed = false;
        return (await hook(request, () => next(request))) as Awaited<ReturnType<typeof next>>;
      },
    };
    const app = createTestApp({ settings: stack.settings, clock: () => now, storeOptions: { policies: [policy], maxRetries: 1 } });
    const host = await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 });
    const postVia = async (server: string, fixture: string) => {
      const key = await stack.serverKey(server);
      state.armed = true;
      return fetch(`${host.baseUrl}/api/snapshots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify(fixtureAs(readFixture(fixture) as Record<string, unknown>, hostOf(server), now - MIN)),
      });
    };
    return { postVia, close: () => host.close() };
  }

  it('a post that checked its key before the removal and commits after it is refused (key_revoked): the server stays removed', async () => {
    const S = serverIdOf('RACEPOST01');
    expect((await post(S, REMOVED)).status).toBe(201);
    await drain();
    now += 10 * MIN;
    let removed: number | undefined;
    const racing = await instanceWithHook(async (_request, send) => {
      // The admin's removal lands between the post's read (and key check) and its commit.
      removed = (await remove(S)).status;
      return send();
    });
    try {
      const res = await racing.postVia(S, DEFAULT_LIST);
      expect(removed).toBe(200);
      expect(res.status).toBe(401);
      expect((await res.json()) as Json).toMatchObject({ error: 'key_revoked' });
    } finally {
      await racing.close();
    }
    await drain();
    expect((await get(stack, `servers/${S}`)).status).toBe(404);
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });

  it('a post whose commit landed but whose answer was lost before the removal: its change is kept in History', async () => {
    const S = serverIdOf('LOSTPOST01');
    expect((await post(S, REMOVED)).status).toBe(201);
    await drain();
    now += 10 * MIN;
    const racing = await instanceWithHook(async (request, send) => {
      await send();
      // The post's commit landed; the admin's removal lands before the post's retry reads again.
      expect((await remove(S)).status).toBe(200);
      throw injectedError(request as never, 503, 'Injected lost answer');
    });
    try {
      // Its retry finds the key revoked; what landed is the projector's to write.
      expect((await racing.postVia(S, DEFAULT_LIST)).status).toBe(401);
    } finally {
      await racing.close();
    }
    await drain();
    const history = await getAll(stack, `servers/${S}/history`);
    expect(history.items.map((e: Json) => [e.cause, e.toStatus])).toEqual([
      ['removed', 'Removed'],
      ['snapshot', 'Pass'],
      ['snapshot', 'Warning'],
    ]);
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });

  it('re-enrolled, a snapshot no newer than its last before the removal is stale and writes nothing; a newer one is a first result, even when its clock runs behind the service', async () => {
    const S = serverIdOf('OLDAGAIN01');
    expect((await post(S, REMOVED)).status).toBe(201);
    await drain();
    const before = now - MIN;
    now += 10 * MIN;
    expect((await remove(S)).status).toBe(200);
    const enrol = await stack.request('enroll', { method: 'POST', key: 'enrolment', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: { name: hostOf(S), fqdn: S } }) });
    expect(enrol.status).toBe(201);
    const { key } = (await enrol.json()) as Json;
    const send = (collectedAt: number) =>
      fetch(`${stack.baseUrl}/api/snapshots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify(fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, hostOf(S), collectedAt)),
      });
    // What its collector kept in its spool from before the removal.
    const old = await send(before - 20 * MIN);
    expect(old.status).toBe(200);
    expect((await old.json()) as Json).toMatchObject({ outcome: 'stale' });
    await drain();
    expect((await get(stack, `servers/${S}`)).status).toBe(404);
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
    // Collected now by a clock 5 minutes behind the service's: dated before the removal (and after
    // its last snapshot before it), yet new.
    const fresh = await send(now - 5 * MIN);
    expect(fresh.status).toBe(201);
    await drain();
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass', [S]: 'Pass' });
    expect((await remove(S)).status).toBe(200);
    await drain();
  });
});

describe('a removed server under POSTURE_REENROLMENT=approval', () => {
  let approval: TestStack;
  beforeAll(async () => {
    approval = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' } });
  }, 120_000);
  afterAll(async () => approval?.stop());

  it('still needs an admin to come back, even if storage lost its key records: it posted before', async () => {
    const c = enrolmentClient(approval);
    const first = await c.enrol('OLD01');
    expect(first.status).toBe(201);
    expect((await c.post(first.body.key, 'OLD01')).status).toBe(201);
    await approval.projected();
    const res = await approval.request(`servers/${fqdn('OLD01')}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
    expect(res.status).toBe(200);
    const table = serverKeysTable(approval);
    const pk = encodeKey(fqdn('OLD01'));
    for await (const row of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) await table.deleteEntity(pk, String(row.rowKey));
    const again = await c.enrol('OLD01');
    expect(again.status).toBe(202);
  });
});

describe('a removed server by the names it had, before and after its removal is projected', () => {
  const D = serverIdOf('DECOM01');
  const BY = 'ciso@contoso.com';
  let removedAt: string;

  it('the moment the removal is answered, its history (by id or host name) says when and by whom, and the server route says so in its 404', async () => {
    expect((await post(D, REMOVED)).status).toBe(201);
    await drain();
    const res = await remove(hostOf(D), `removedBy=${encodeURIComponent(BY)}`);
    expect(res.status).toBe(200);
    removedAt = ((await res.json()) as Json).removedAt;
    // Not drained: History has no removal yet; the markers the removal committed say it.
    expect(await outbox().list(10)).toHaveLength(1);
    for (const name of [D, hostOf(D), hostOf(D).toLowerCase()]) {
      const history = await get(stack, `servers/${encodeURIComponent(name)}/history`);
      expect(history.status, name).toBe(200);
      expect(history.body.server).toBe(D);
      expect(history.body.items.map((e: Json) => e.cause)).toEqual(['snapshot']);
      expect(history.body.removed).toEqual({ removedAt, removedBy: BY, message: `${D} was removed from the fleet by ${BY}; its results no longer count.` });
    }
    const ja = await get(stack, `servers/${hostOf(D)}/history`, { headers: { 'accept-language': 'ja' } });
    expect(ja.body.removed.message).toBe(`${D} は ${BY} によってフリートから削除されました。その結果は集計されません。`);
    const server = await get(stack, `servers/${hostOf(D)}`);
    expect(server.status).toBe(404);
    expect(server.body.message).toBe(`Server "${D}" was removed from the fleet at ${removedAt} by ${BY}; its history stays readable.`);
  });

  it('once projected: its removal is in its history and events by host name too, with removedBy as a field; it counts nowhere', async () => {
    await drain();
    const history = await get(stack, `servers/${hostOf(D)}/history`);
    expect(history.body.items.map((e: Json) => e.cause)).toEqual(['removed', 'snapshot']);
    expect(history.body.items[0]).toMatchObject({ server: D, cause: 'removed', removedBy: BY, firstSeen: removedAt });
    expect(history.body.items[1]).toMatchObject({ cause: 'snapshot', removedBy: null });
    expect(history.body.removed).toMatchObject({ removedAt, removedBy: BY });
    const events = await getAll(stack, `events?server=${hostOf(D)}`);
    expect(events.items.map((e: Json) => [e.cause, e.removedBy])).toEqual([
      ['removed', BY],
      ['snapshot', null],
    ]);
    // Every removal's event names who removed it as a field, every other event has it null.
    const all = await getAll(stack, 'events');
    for (const e of all.items as Json[]) expect(e.removedBy === null, JSON.stringify(e)).toBe(e.cause !== 'removed');
    await expectFleet({ [GONE]: 'Pass', [KEPT1]: 'Warning', [KEPT2]: 'Pass' });
  });

  it('the reads of what it counts for now (its results, its drift) answer 404 with the removal sentence, by id or host name', async () => {
    const sentence = `Server "${D}" was removed from the fleet at ${removedAt} by ${BY}; its history stays readable.`;
    for (const name of [D, hostOf(D)]) {
      for (const path of [`results?server=${name}`, `servers/${name}/drift?rule=${DRIFT_RULE}`, `servers/${name}`]) {
        const res = await get(stack, path);
        expect([res.status, res.body.message], path).toEqual([404, sentence]);
      }
    }
  });

  it('a server that counts keeps an empty removal in its history answer, and an unknown name is still a 404 naming no one', async () => {
    const kept = await get(stack, `servers/${hostOf(KEPT1)}/history`);
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ server: KEPT1, removed: null });
    const nobody = await get(stack, 'servers/decom99/history');
    expect(nobody.status).toBe(404);
    expect(nobody.body.message).toMatch(/^No server "decom99" is known: /);
  });

  it('markers written before they kept who removed the server still say when, by host name too; who is then null', async () => {
    // As an earlier version wrote them: no RemovedBy, no message.
    const { results } = rawTables(stack);
    for await (const e of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(D)}'` } })) {
      const { RemovedBy: _by, MessageEn: _en, MessageJa: _ja, etag: _etag, timestamp: _at, ...older } = e as Record<string, unknown>;
      await results.updateEntity(older as { partitionKey: string; rowKey: string }, 'Replace');
    }
    const history = await get(stack, `servers/${hostOf(D)}/history`);
    expect(history.status).toBe(200);
    expect(history.body.removed).toEqual({ removedAt, removedBy: null, message: null });
    expect(history.body.items[0]).toMatchObject({ cause: 'removed', removedBy: BY });
    const server = await get(stack, `servers/${D}`);
    expect(server.body.message).toBe(`Server "${D}" was removed from the fleet at ${removedAt}; its history stays readable.`);
  });

  it('removal events written before they had a RemovedBy column still name who removed it, from their detail', async () => {
    // As an earlier version wrote them: who removed the server only in the Detail JSON.
    const raw = rawTables(stack);
    let rewritten = 0;
    for (const table of [raw.events, raw.history]) {
      for await (const e of table.listEntities({ queryOptions: { filter: `Server eq '${D}' and Cause eq 'removed'` } })) {
        const { RemovedBy: _by, etag: _etag, timestamp: _at, ...older } = e as Record<string, unknown>;
        expect(JSON.parse(String(older.Detail))).toMatchObject({ removedBy: BY });
        await table.updateEntity(older as { partitionKey: string; rowKey: string }, 'Replace');
        rewritten++;
      }
    }
    expect(rewritten).toBe(2);
    const history = await get(stack, `servers/${hostOf(D)}/history`);
    expect(history.body.items.map((e: Json) => [e.cause, e.removedBy])).toEqual([
      ['removed', BY],
      ['snapshot', null],
    ]);
    const all = await getAll(stack, `events?server=${D}`);
    expect(all.items.map((e: Json) => [e.cause, e.removedBy])).toEqual([
      ['removed', BY],
      ['snapshot', null],
    ]);
  });
});
