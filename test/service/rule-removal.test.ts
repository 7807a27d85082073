// A rule that leaves the rule set leaves the fleet-wide tables too, end to end over real HTTP on
// Azurite. Two local hosts share one storage account, as two deployments of the service do: one
// loads rules A and B (the test alpha rule and the port-25 rule, which has fleet drift), the other
// A alone, with B retired. A server that posts under the set without B loses its B Results row;
// its B rule-index row, B counts and B drift member must go with it, so that when B is rolled
// forward again each server is counted once, under the status its Results row says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostureApp } from '../../src/app/create-app';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { STATUSES } from '../../src/rules/types';
import { decodeWork } from '../../src/app/projection-work';
import { OutboxStore } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { get, getAll, type Json } from '../support/http';
import { alphaRule } from '../support/snapshots';
import { createTestApp, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { drainOutbox, drainTwice as drainTwiceOf } from '../support/drain';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const B = DRIFT_RULE;
/** Three servers: the first two post while B is rolled back, the third stays silent then. */
const HOSTS = ['RETIRE1', 'RETIRE2', 'RETIRE3'];
const [H1, H2, H3] = HOSTS as [string, string, string];

/** Where a post goes: the host that loads A and B (the stack), or the one that loads A alone. */
type Target = 'withB' | 'withoutB';

let stack: TestStack;
let withoutB: { app: PostureApp; host: LocalHost };
let minute = 0;

beforeAll(async () => {
  // Drains only when the test asks, so each phase is projected as a whole and entries can be read first.
  stack = await startTestStack({ rules: [alphaRule, mcafeePort25Blocked], projectorIntervalMs: 0 });
  const app = createTestApp({ settings: stack.settings, rules: [alphaRule], retiredRuleIds: [B], storeOptions: { maxRetries: 1 } });
  withoutB = { app, host: await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 }) };
}, 120_000);
afterAll(async () => {
  await withoutB?.host.close();
  await stack?.stop();
});

/** Posts a port-25 fixture as `host` to one of the two hosts, a minute after the previous post; nothing is projected. */
async function post(target: Target, host: string, fixture: string): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 6 * 60 * 60_000 + minute++ * 60_000);
  const baseUrl = target === 'withB' ? stack.baseUrl : withoutB.host.baseUrl;
  const res = await fetch(`${baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(serverIdOf(host)) },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).toBe(201);
}

const outbox = () => new OutboxStore(stack.app.store);

const drain = () => drainOutbox(stack);
/** Projects what waits, then the same entries again: a run repeated after a crash before it cleared them. */
const drainTwice = () => drainTwiceOf(stack);

const zeros = () => Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;

/** B's status per server as the Results rows say (the Results table itself, not the index). */
async function resultsOfB(): Promise<Record<string, string>> {
  const all = await getAll(stack, 'results');
  return Object.fromEntries(all.items.filter((r: Json) => r.ruleId === B).map((r: Json) => [r.server, r.status]));
}

/**
 * The fleet-wide views of B — the summary's counts, the rule index by rule ("warnings for one
 * rule"), the drift counts — hold exactly the servers and statuses B's Results rows hold.
 */
async function expectViewsOfB(expected: Record<string, string>): Promise<void> {
  expect(await resultsOfB()).toEqual(expected);
  const counts = zeros();
  for (const status of Object.values(expected)) counts[status]! += 1;

  const summary = await get(stack, 'summary');
  expect(summary.body.countsPending).toBe(false);
  expect(summary.body.rules.find((r: Json) => r.ruleId === B).counts).toEqual(counts);

  const indexed = await getAll(stack, `results?rule=${B}`);
  expect(Object.fromEntries(indexed.items.map((r: Json) => [r.server, r.status]))).toEqual(expected);

  const drift = await get(stack, `drift?rule=${B}`);
  expect(drift.status).toBe(200);
  expect(drift.body.servers).toBe(Object.keys(expected).length);
  const driftCounts = zeros();
  for (const c of drift.body.clusters as Json[]) for (const [s, n] of Object.entries(c.counts as Record<string, number>)) driftCounts[s]! += n;
  expect(driftCounts).toEqual(counts);
}

describe('a rule removed from the rule set and restored', () => {
  it('starts with every server counted under B (a Warning each)', async () => {
    for (const h of HOSTS) await post('withB', h, REMOVED);
    await drain();
    await expectViewsOfB(Object.fromEntries(HOSTS.map((h) => [serverIdOf(h), 'Warning'])));
  });

  it('a server that posts while B is rolled back leaves B’s index, counts and drift; a silent one keeps its place', async () => {
    await post('withoutB', H1, REMOVED);
    await post('withoutB', H2, REMOVED);
    await drain();
    await expectViewsOfB({ [serverIdOf(H3)]: 'Warning' });
  });

  it('the instance without B lists only the rules it loads, as its summary counts them, while a silent server still holds a B row', async () => {
    const read = async (path: string) => {
      const res = await fetch(`${withoutB.host.baseUrl}/api/${path}`, { headers: { 'x-api-key': TEST_KEYS.reader } });
      return { status: res.status, text: await res.text() };
    };
    // The B row is there (the instance with B lists it)…
    expect(await resultsOfB()).toEqual({ [serverIdOf(H3)]: 'Warning' });
    // …and the instance without B answers as if it were not, in every list.
    const rulesOf = (items: Json[]) => [...new Set(items.map((i) => i.ruleId))];
    expect(JSON.parse((await read('summary')).text).rules.map((r: Json) => r.ruleId)).toEqual([alphaRule.id]);
    expect(rulesOf(JSON.parse((await read('results?top=1000')).text).items)).toEqual([alphaRule.id]);
    expect(rulesOf(JSON.parse((await read(`results?server=${serverIdOf(H3)}`)).text).items)).toEqual([alphaRule.id]);
    expect(rulesOf(JSON.parse((await read(`servers/${serverIdOf(H3)}`)).text).results)).toEqual([alphaRule.id]);
    const csv = (await read('export/results.csv')).text.trim().split('\r\n').slice(1);
    expect(csv.length).toBeGreaterThan(0);
    expect([...new Set(csv.map((l) => l.split(',')[1]))]).toEqual([alphaRule.id]);
    expect((await read(`results?rule=${B}`)).status).toBe(400);
  });

  it('B rolled forward again: each server is counted once, under the status its Results row says', async () => {
    // H1's configuration was fixed meanwhile (Pass now); H2's was not (Warning again).
    await post('withB', H1, DEFAULT_LIST);
    await post('withB', H2, REMOVED);
    await post('withB', H3, REMOVED);
    await drain();
    await expectViewsOfB({ [serverIdOf(H1)]: 'Pass', [serverIdOf(H2)]: 'Warning', [serverIdOf(H3)]: 'Warning' });
  });

  it('removals projected twice (a run repeated after a crash) take each server out once', async () => {
    for (const h of HOSTS) await post('withoutB', h, DEFAULT_LIST);
    await drainTwice();
    await expectViewsOfB({});
  });

  it('first results of the restored rule projected twice count each server once', async () => {
    await post('withB', H1, REMOVED);
    const [entry] = await outbox().list(10);
    // A commit that removes nothing writes the entry as an earlier version did: no leaves.
    const work = decodeWork(entry!.payload);
    expect(work).toMatchObject({ v: 1, server: serverIdOf(H1) });
    expect(work).not.toHaveProperty('indexLeaves');
    expect(work).not.toHaveProperty('driftLeaves');
    await post('withB', H2, DEFAULT_LIST);
    await post('withB', H3, REMOVED);
    await drainTwice();
    await expectViewsOfB({ [serverIdOf(H1)]: 'Warning', [serverIdOf(H2)]: 'Pass', [serverIdOf(H3)]: 'Warning' });
  });

  it('removed and restored within one projector batch: the server ends where its last commit put it', async () => {
    await post('withoutB', H1, REMOVED);
    await post('withB', H1, DEFAULT_LIST);
    await post('withoutB', H2, DEFAULT_LIST);
    await drain();
    await expectViewsOfB({ [serverIdOf(H1)]: 'Pass', [serverIdOf(H3)]: 'Warning' });
  });

  it('the post that removes B costs the request 4 round trips (A’s row names B, so the partition is read too; its outbox entry), once; the next unchanged post 2', async () => {
    const counter = withoutB.app.store.counter;
    counter.reset();
    await post('withoutB', H1, DEFAULT_LIST);
    expect(counter.count).toBe(4);
    expect(Object.fromEntries(counter.byTable)).toEqual({ Results: 2, Outbox: 1, $batch: 1 });
    // The entry keeps the format's version: the leaves are optional fields an earlier version ignores.
    const [entry] = await outbox().list(10);
    const work = decodeWork(entry!.payload)!;
    expect(work).toMatchObject({ v: 1, index: [], drift: [] });
    expect(work.indexLeaves).toEqual([expect.objectContaining({ leave: true, ruleId: B, server: serverIdOf(H1), from: 'Pass' })]);
    expect(work.driftLeaves).toEqual([expect.objectContaining({ leave: true, ruleId: B, server: serverIdOf(H1), from: expect.objectContaining({ status: 'Pass' }) })]);
    counter.reset();
    await post('withoutB', H1, DEFAULT_LIST);
    expect(counter.count).toBe(2);
    expect(counter.byTable.get('Outbox')).toBeUndefined();
    await drain();
    await expectViewsOfB({ [serverIdOf(H3)]: 'Warning' });
  });

  it('the re-evaluation the rolled-back set starts takes a silent server out too', async () => {
    const eventsOfH3 = async () => (await getAll(stack, `events?rule=${B}&server=${serverIdOf(H3)}`)).items;
    const before = await eventsOfH3();
    await expect(withoutB.app.reevaluation.reevaluateServer(serverIdOf(H3))).resolves.toMatchObject({ outcome: 'evaluated' });
    await drain();
    await expectViewsOfB({});
    // Only the index and drift changed: the removal wrote no event.
    expect(await eventsOfH3()).toEqual(before);
  });
});
