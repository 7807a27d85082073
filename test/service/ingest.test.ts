// POST /api/snapshots end to end: accepted, duplicate, stale, status changes, events, alert
// records, evidence past the string limit, and the round-trip budget of the steady state.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STRING_CHARS } from '../../src/store';
import { alertRecords, get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES });
});
afterAll(async () => stack?.stop());

const minutesAgo = (m: number) => Date.now() - m * 60_000;
let hostNo = 0;
/** A fresh server per test keeps the tests independent on one Azurite. */
const freshHost = () => `SRV${String(++hostNo).padStart(3, '0')}${Math.random().toString(36).slice(2, 6)}`;
const serverOf = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;

describe('accepted', () => {
  it('answers 201 with every rule verdict and stores them', async () => {
    const host = freshHost();
    const doc = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) });
    const r = await post(stack, doc);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ snapshotId: doc.snapshotId, server: serverOf(host), outcome: 'accepted' });
    expect(r.body.results.map((x: Json) => [x.ruleId, x.status])).toEqual([
      ['test-alpha', 'Warning'],
      ['test-beta', 'Pass'],
    ]);
    expect(r.body.results[0]).toMatchObject({ reasonCode: 'StateWarning', message: 'alpha is Warning', remediation: ['Fix alpha.'], evidence: { state: 'Warning' } });
    expect(r.body.results[0].firstSeen).toBe(new Date(doc.collectedAt as string).toISOString());

    const s = await get(stack, `servers/${serverOf(host)}`);
    expect(s.status).toBe(200);
    expect(s.body.lastSnapshotId).toBe(doc.snapshotId);
    expect(s.body.results.map((x: Json) => x.status)).toEqual(['Warning', 'Pass']);
    expect(s.body.host).toMatchObject({ name: host, collector: { version: '1.0.0' } });
  });

  it('answers in Japanese when asked', async () => {
    const r = await post(stack, snapshot({ host: freshHost(), testState: 'Error' }), { lang: 'ja,en;q=0.5' });
    expect(r.status).toBe(201);
    expect(r.body.results[0]).toMatchObject({ title: 'テスト アルファ', message: 'アルファは Error', remediation: ['アルファを直す。'] });
    expect(r.headers.get('content-language')).toBe('ja');
  });
});

describe('idempotency and ordering', () => {
  it('the same snapshotId twice gives one result set, one set of events and 200 duplicate with the stored outcome', async () => {
    const host = freshHost();
    const doc = snapshot({ host, testState: 'Warning' });
    const first = await post(stack, doc);
    const logsBefore = alertRecords(stack).length;
    const second = await post(stack, doc);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.outcome).toBe('duplicate');
    expect(second.body.results.map((x: Json) => [x.ruleId, x.status, x.reasonCode, x.message])).toEqual(
      first.body.results.map((x: Json) => [x.ruleId, x.status, x.reasonCode, x.message]),
    );
    expect(second.body.results[0].firstSeen).toBe(first.body.results[0].firstSeen);
    const events = await getAll(stack, `events?server=${serverOf(host)}`);
    expect(events.items).toHaveLength(2); // first result of each rule
    expect(alertRecords(stack).length).toBe(logsBefore); // no second alert
  });

  it('a repeat with different letter case of the id is still the same snapshot', async () => {
    const host = freshHost();
    const id = randomUUID();
    // A repeat is the same snapshot sent again: the same collection time.
    const collectedAt = minutesAgo(1);
    await post(stack, snapshot({ host, snapshotId: id, collectedAt }));
    const again = await post(stack, snapshot({ host, snapshotId: id.toUpperCase(), collectedAt }));
    expect(again.body.outcome).toBe('duplicate');
  });

  it('an older snapshot after a newer one is evaluated, answered stale, and changes nothing', async () => {
    const host = freshHost();
    const newer = snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(10) });
    const older = snapshot({ host, testState: 'Error', collectedAt: minutesAgo(20) });
    expect((await post(stack, newer)).status).toBe(201);
    const eventsBefore = (await getAll(stack, `events?server=${serverOf(host)}`)).items;
    const alertsBefore = alertRecords(stack).length;
    const r = await post(stack, older);
    expect(r.status).toBe(200);
    expect(r.body.outcome).toBe('stale');
    expect(r.body.results[0].status).toBe('Error'); // evaluated
    const s = await get(stack, `servers/${serverOf(host)}`);
    expect(s.body.lastSnapshotId).toBe(newer.snapshotId);
    expect(s.body.results[0].status).toBe('Warning');
    expect((await getAll(stack, `events?server=${serverOf(host)}`)).items).toEqual(eventsBefore);
    expect(alertRecords(stack).length).toBe(alertsBefore);
  });
});

describe('status changes', () => {
  it('writes an event exactly when the status changes, with from/to and firstSeen, and one alert record per finding and resolution', async () => {
    const host = freshHost();
    const server = serverOf(host);
    const states = ['Pass', 'Warning', 'Warning', 'Error', 'Pass', 'Pass'];
    const times = states.map((_, i) => minutesAgo(60 - i * 5));
    for (const [i, state] of states.entries()) {
      const r = await post(stack, snapshot({ host, testState: state, collectedAt: times[i] }));
      expect(r.status).toBe(201);
    }
    const events = (await getAll(stack, `events?server=${server}&rule=test-alpha`)).items;
    // Newest first.
    expect(events.map((e: Json) => [e.fromStatus, e.toStatus, e.firstSeen])).toEqual([
      ['Error', 'Pass', new Date(times[4]!).toISOString()],
      ['Warning', 'Error', new Date(times[3]!).toISOString()],
      ['Pass', 'Warning', new Date(times[1]!).toISOString()],
      [null, 'Pass', new Date(times[0]!).toISOString()],
    ]);
    expect(events[0].previousFirstSeen).toBe(new Date(times[3]!).toISOString());

    const s = await get(stack, `servers/${server}`);
    expect(s.body.results[0]).toMatchObject({ status: 'Pass', previousStatus: 'Error', firstSeen: new Date(times[4]!).toISOString() });

    const alerts = alertRecords(stack).filter((a) => a.fields.server === server);
    expect(alerts.map((a) => [a.name, a.fields.status, a.fields.reasonCode])).toEqual([
      ['FleetPosture.NewFinding', 'Warning', 'StateWarning'],
      ['FleetPosture.NewFinding', 'Error', 'StateError'],
      ['FleetPosture.FindingResolved', 'Pass', 'StatePass'],
    ]);
    expect(alerts[0]!.fields).toMatchObject({ server, rule: 'test-alpha' });
  });

  it('a status that enters Unknown logs one VerdictUnknown record per entry (none while it stays Unknown); Error to Unknown also resolves the finding', async () => {
    const host = freshHost();
    const server = serverOf(host);
    const states = ['Unknown', 'Unknown', 'Pass', 'Unknown', 'Unknown', 'Error', 'Unknown', 'NotApplicable'];
    for (const [i, state] of states.entries()) {
      const r = await post(stack, snapshot({ host, testState: state, collectedAt: minutesAgo(60 - i * 5) }));
      expect(r.status).toBe(201);
    }
    const alerts = alertRecords(stack).filter((a) => a.fields.server === server);
    expect(alerts.map((a) => [a.name, a.fields.status, a.fields.previousStatus, a.fields.reasonCode])).toEqual([
      ['FleetPosture.VerdictUnknown', 'Unknown', null, 'StateUnknown'],
      ['FleetPosture.VerdictUnknown', 'Unknown', 'Pass', 'StateUnknown'],
      ['FleetPosture.NewFinding', 'Error', 'Unknown', 'StateError'],
      ['FleetPosture.FindingResolved', 'Unknown', 'Error', 'StateUnknown'],
      ['FleetPosture.VerdictUnknown', 'Unknown', 'Error', 'StateUnknown'],
    ]);
    // Each entry its own id, so the alert query counts each once; both records of one change share it.
    const ids = alerts.filter((a) => a.name === 'FleetPosture.VerdictUnknown').map((a) => a.fields.recordId);
    expect(new Set(ids).size).toBe(3);
    expect(alerts[3]!.fields.recordId).toBe(alerts[4]!.fields.recordId);
  });

  it('"new warnings since T" is a query on events', async () => {
    const host = freshHost();
    const t0 = minutesAgo(3);
    await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(4) }));
    await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(2) }));
    const since = new Date(t0).toISOString();
    const r = await getAll(stack, `events?since=${since}&status=Warning&server=${serverOf(host)}`);
    expect(r.items.map((e: Json) => [e.fromStatus, e.toStatus])).toEqual([['Pass', 'Warning']]);
  });
});

describe('storage cost and limits', () => {
  it('steady state (nothing changed) costs at most 2 storage round trips', async () => {
    const host = freshHost();
    await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(30) }));
    stack.roundTrips.reset();
    const r = await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(20) }));
    expect(r.status).toBe(201);
    expect(stack.roundTrips.count).toBeLessThanOrEqual(2);
    // …and LastSeen moved on.
    const s = await get(stack, `servers/${serverOf(host)}`);
    expect(s.body.lastSnapshotId).toBe(r.body.snapshotId);
    expect(s.body.lastCollectedAt).toBe(new Date(minutesAgo(20)).toISOString().slice(0, 15) + s.body.lastCollectedAt.slice(15));
  });

  it('a duplicate costs one round trip', async () => {
    const doc = snapshot({ host: freshHost() });
    await post(stack, doc);
    stack.roundTrips.reset();
    expect((await post(stack, doc)).body.outcome).toBe('duplicate');
    expect(stack.roundTrips.count).toBe(1);
  });

  it('evidence past the 64 KiB string limit is stored truncated with a marker, and the raw snapshot is kept', async () => {
    const host = freshHost();
    const tail = 'line of a big log file with "quotes" and \\ backslashes\n'.repeat(2500); // ~140 k chars
    const collectedAt = minutesAgo(1);
    const r = await post(stack, snapshot({ host, tail, collectedAt }));
    expect(r.status).toBe(201);
    expect(r.body.results[1].evidence.tail).toBe(tail); // the answer has it all
    const s = await get(stack, `servers/${serverOf(host)}`);
    const ev = s.body.results[1].evidence;
    expect(ev.truncated).toBe(true);
    expect(ev.originalChars).toBeGreaterThan(MAX_STRING_CHARS);
    expect(typeof ev.preview).toBe('string');
    expect(s.body.rawSnapshot.bytes).toBeGreaterThan(tail.length);
    // A duplicate answers from storage: the marked evidence, not an error.
    const dup = await post(stack, JSON.stringify(JSON.parse(JSON.stringify(snapshot({ host, tail, snapshotId: r.body.snapshotId, collectedAt })))));
    expect(dup.body.outcome).toBe('duplicate');
    expect(dup.body.results[1].evidence.truncated).toBe(true);
  });

  it('a host without fqdn is identified by its lower-cased name', async () => {
    const r = await post(stack, snapshot({ host: 'NoFqdn01', fqdn: null }));
    expect(r.body.server).toBe('nofqdn01');
    expect((await get(stack, 'servers/NOFQDN01')).status).toBe(200);
  });
});
