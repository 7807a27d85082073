// Concurrency and outages: concurrent posts of one server (the newest wins, no event lost or
// doubled), storage failing at the commit (503 + Retry-After, nothing a reader sees half-written)
// and in the projector (the outbox keeps the work until a run succeeds), Azurite stopped and
// restarted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoragePolicy } from '../../src/store';
import { injectedError } from '../support/faults';
import { alertRecords, get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { loadedTimeout } from '../support/load-timeouts';

/** A storage fault the test switches on: requests matching `when` fail with `status`. */
const fault: { when?: (url: string, body: string) => boolean; status: number; retryAfter?: string } = { status: 503 };
const faultPolicy: StoragePolicy = {
  name: 'testFaults',
  sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    if (fault.when?.(request.url, body)) {
      throw injectedError(request, fault.status, undefined, (n) => (n.toLowerCase() === 'retry-after' ? fault.retryAfter : undefined));
    }
    return next(request);
  },
};
const isBatchFor = (table: string) => (url: string, body: string) => url.endsWith('$batch') && body.includes(`/${table}`);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, persist: true, storagePolicies: [faultPolicy] });
});
afterAll(async () => stack?.stop());

const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
const minutesAgo = (m: number) => Date.now() - m * 60_000;

describe('concurrent posts of one server', () => {
  it('the newest snapshot wins and the event history is an unbroken chain without doubles', async () => {
    const host = 'CONC01';
    const states = ['Pass', 'Warning', 'Error', 'Pass', 'Warning', 'Warning', 'Unknown', 'Error', 'Pass', 'Warning'];
    const docs = states.map((s, i) => snapshot({ host, testState: s, collectedAt: minutesAgo(50 - i) }));
    // Shuffle deterministically so arrival order differs from collection order.
    const order = [3, 7, 0, 9, 5, 1, 8, 2, 6, 4];
    const responses = await Promise.all(order.map((i) => post(stack, docs[i])));
    for (const r of responses) expect([200, 201]).toContain(r.status);
    for (const r of responses) expect(['accepted', 'stale']).toContain(r.body.outcome);

    const newest = docs[docs.length - 1]!;
    const s = await get(stack, `servers/${server(host)}`);
    expect(s.body.lastSnapshotId).toBe(newest.snapshotId);
    expect(s.body.results[0].status).toBe('Warning');

    const events = (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items.reverse(); // oldest first
    expect(events[0].fromStatus).toBeNull();
    for (let i = 1; i < events.length; i++) {
      expect(events[i].fromStatus).toBe(events[i - 1].toStatus);
      expect(events[i].toStatus).not.toBe(events[i].fromStatus);
      expect(Date.parse(events[i].firstSeen)).toBeGreaterThan(Date.parse(events[i - 1].firstSeen));
    }
    expect(events[events.length - 1].toStatus).toBe('Warning');

    // One alert record per event that entered or left a finding, written by the committing post.
    const alerts = alertRecords(stack).filter((a) => a.fields.server === server(host) && a.fields.rule === 'test-alpha');
    const finding = (st: string | null) => st === 'Warning' || st === 'Error';
    expect(alerts.filter((a) => a.name === 'FleetPosture.NewFinding')).toHaveLength(events.filter((e: Json) => finding(e.toStatus)).length);
    expect(alerts.filter((a) => a.name === 'FleetPosture.FindingResolved')).toHaveLength(
      events.filter((e: Json) => finding(e.fromStatus) && !finding(e.toStatus)).length,
    );
    // And one per event that entered Unknown (the rule could not decide).
    expect(alerts.filter((a) => a.name === 'FleetPosture.VerdictUnknown')).toHaveLength(events.filter((e: Json) => e.toStatus === 'Unknown').length);
  });

  it('the same snapshot posted concurrently is accepted once and answered duplicate otherwise', async () => {
    const doc = snapshot({ host: 'CONC02', testState: 'Warning' });
    const responses = await Promise.all(Array.from({ length: 6 }, () => post(stack, doc)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200 && r.body.outcome === 'duplicate')).toHaveLength(5);
    expect((await getAll(stack, `events?server=${server('CONC02')}`)).items).toHaveLength(2);
    expect(alertRecords(stack).filter((a) => a.fields.server === server('CONC02'))).toHaveLength(1);
  });

  it('many servers at once keep the summary counters exact', async () => {
    const before = (await get(stack, 'summary')).body;
    const n = 12;
    await Promise.all(Array.from({ length: n }, (_, i) => post(stack, snapshot({ host: `MANY${i}`, testState: i % 3 === 0 ? 'Error' : 'Pass' }))));
    const after = (await get(stack, 'summary')).body;
    const alpha = (b: Json) => b.rules.find((r: Json) => r.ruleId === 'test-alpha').counts;
    expect(alpha(after).Error - alpha(before).Error).toBe(4);
    expect(alpha(after).Pass - alpha(before).Pass).toBe(8);
    expect(after.hosts - before.hosts).toBe(n);
  });
});

// Retries through injected throttling and an Azurite stop and start: measured 3.5 s and 4.1 s in a
// full run at load 6-7.
describe('storage failures', { timeout: loadedTimeout(4_100) }, () => {
  it('a failed commit answers 503 with Retry-After and changes nothing', async () => {
    const host = 'FAIL01';
    await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }));
    const stateBefore = (await get(stack, `servers/${server(host)}`)).body;
    const eventsBefore = (await getAll(stack, `events?server=${server(host)}`)).items;
    // The projector's backlog record may report the failed attempt's entry waiting out its grace: a measure, not an alert on the change.
    const changeRecords = () => alertRecords(stack).filter((a) => a.name !== 'FleetPosture.ProjectorBacklog');
    const alertsBefore = changeRecords().length;

    fault.when = isBatchFor('Results');
    fault.retryAfter = undefined;
    const doc = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) });
    const r = await post(stack, doc);
    fault.when = undefined;
    expect(r.status).toBe(503);
    expect(r.body.error).toBe('storage_unavailable');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);

    expect((await get(stack, `servers/${server(host)}`)).body).toEqual(stateBefore);
    expect((await getAll(stack, `events?server=${server(host)}`)).items).toEqual(eventsBefore);
    expect(changeRecords().length).toBe(alertsBefore);

    const retry = await post(stack, doc);
    expect(retry.status).toBe(201);
    expect((await get(stack, `servers/${server(host)}`)).body.results[0].status).toBe('Error');
  });

  it('throttling passes the service Retry-After on', async () => {
    fault.when = (url) => url.includes('/Results()') || url.includes('/Results?');
    fault.retryAfter = '2';
    const r = await post(stack, snapshot({ host: 'THROTTLE01' }));
    const s = await get(stack, `results?server=${server('THROTTLE01')}`);
    fault.when = undefined;
    fault.retryAfter = undefined;
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('2');
    expect(s.status).toBe(503);
    expect(s.headers.get('retry-after')).toBe('2');
  });

  it('a projector run that fails (Events down) keeps the outbox entry; the next run projects the change exactly once', async () => {
    const host = 'FAIL02';
    await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }));
    fault.when = isBatchFor('Events');
    const doc = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) });
    // The request does not touch Events: it is accepted; the projector run after it fails.
    const r = await post(stack, doc);
    expect(r.status).toBe(201);
    await expect(stack.projected()).rejects.toThrow(/unavailable/i);
    expect((await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items).toHaveLength(1);
    expect(alertRecords(stack).filter((a) => a.fields.server === server(host) && a.name === 'FleetPosture.NewFinding')).toHaveLength(0);
    fault.when = undefined;

    // This run, or the local host's own on its interval, finishes it.
    await stack.projected();
    const events = (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => [e.fromStatus, e.toStatus])).toEqual([
      ['Pass', 'Warning'],
      [null, 'Pass'],
    ]);
    expect((await getAll(stack, `results?rule=test-alpha&status=Warning`)).items.map((i: Json) => i.server)).toContain(server(host));
    expect(alertRecords(stack).filter((a) => a.fields.server === server(host) && a.name === 'FleetPosture.NewFinding')).toHaveLength(1);
    // A repeat of the snapshot is a duplicate and writes nothing; the next unchanged one costs two round trips.
    expect((await post(stack, doc)).status).toBe(200);
    stack.roundTrips.reset();
    await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(1) }));
    expect(stack.roundTrips.count).toBeLessThanOrEqual(2);
  });

  it('changes that wait for the projector are projected in order when it recovers', async () => {
    const host = 'FAIL03';
    await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(10) }));
    fault.when = isBatchFor('Events');
    expect((await post(stack, snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) }))).status).toBe(201);
    expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(2) }))).status).toBe(201);
    fault.when = undefined;
    await stack.projected();
    const events = (await getAll(stack, `events?server=${server(host)}&rule=test-alpha`)).items;
    expect(events.map((e: Json) => [e.fromStatus, e.toStatus])).toEqual([
      ['Error', 'Pass'],
      ['Pass', 'Error'],
      [null, 'Pass'],
    ]);
    // The index followed both moves: the server is counted once, as Pass.
    expect((await getAll(stack, `results?rule=test-alpha&status=Error`)).items.map((i: Json) => i.server)).not.toContain(server(host));
    expect((await getAll(stack, `results?rule=test-alpha&status=Pass`)).items.filter((i: Json) => i.server === server(host))).toHaveLength(1);
  });

  it('Azurite stopped: 503 with Retry-After on every route, then recovery with the data intact', async () => {
    const host = 'OUTAGE01';
    await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) }));
    const before = (await get(stack, `servers/${server(host)}`)).body;
    const eventsBefore = (await getAll(stack, `events?server=${server(host)}`)).items;

    await stack.stopStorage();
    const doc = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) });
    const r = await post(stack, doc);
    expect(r.status).toBe(503);
    expect(r.body.error).toBe('storage_unavailable');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    for (const path of ['summary', 'results', 'events', `servers/${server(host)}`]) {
      const g = await get(stack, path);
      expect(g.status, path).toBe(503);
      expect(g.headers.get('retry-after')).toBeTruthy();
    }
    // Reads that need no storage keep working.
    expect((await get(stack, 'manifest')).status).toBe(200);

    await stack.startStorage();
    expect((await get(stack, `servers/${server(host)}`)).body).toEqual(before);
    const retry = await post(stack, doc);
    expect(retry.status).toBe(201);
    const after = (await getAll(stack, `events?server=${server(host)}`)).items;
    expect(after).toHaveLength(eventsBefore.length + 1);
    expect(after[0]).toMatchObject({ fromStatus: 'Warning', toStatus: 'Error' });
  });

  it('a table that vanished answers 503 once and is recreated', async () => {
    const tables = stackTables(stack);
    for (const [table, kind] of [['Results', 'results'], ['Events', 'events'], ['RuleIndex', 'ruleIndex']] as const) {
      await tables[kind].deleteTable();
      const r = await post(stack, snapshot({ host: `GONE${table}`, testState: 'Warning' }));
      expect([201, 503], table).toContain(r.status);
      if (r.status === 503) {
        expect(r.headers.get('retry-after')).toBeTruthy();
        expect((await post(stack, snapshot({ host: `GONE${table}`, testState: 'Warning' }))).status).toBe(201);
      }
      // The projector and the readers find the table gone at their next call (503 once) and recreate it.
      await stack.projected().catch(() => stack.projected());
      const read = await get(stack, `results?rule=test-alpha&status=Warning`);
      expect([200, 503]).toContain(read.status);
      if (read.status === 503) expect((await get(stack, `results?rule=test-alpha&status=Warning`)).status).toBe(200);
    }
  });
});
