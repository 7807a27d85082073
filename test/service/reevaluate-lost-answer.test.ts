// A re-evaluation whose commit lands but whose answer is lost (a 503 after the write, retried into a
// 412) keeps its outbox entry: the rows name the commit, so the status change it made still gets
// its event, its alert record and its move in the rule index and counts. Before, the entry was
// deleted on any failure, and the next look found the server current: the new verdict stood with
// no history, no alert and wrong counts. On Azurite over real HTTP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lostAnswers } from '../support/faults';
import { get, getAll, post, type Json } from '../support/http';
import { alphaRule, alphaRuleV2, snapshot } from '../support/snapshots';
import { createTestApp, startTestStack, type TestStack } from '../support/stack';

const lose = lostAnswers('testLoseResultsAnswer');
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule], projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());

it('a re-evaluation commit whose answer is lost still projects its change: one event, one alert record, the counts moved', async () => {
  const r = await post(stack, snapshot({ host: 'LOST1', testState: 'Warning' }));
  expect(r.status).toBe(201);
  const server = r.body.server as string;
  const v2 = createTestApp({ settings: stack.settings, rules: [alphaRuleV2], storeOptions: { policies: [lose.policy], maxRetries: 1 } });
  // The commit's write reaches storage; its answer does not.
  lose.when = ({ method, url }) => method !== 'GET' && /\/[A-Za-z0-9]*Results(\(|\?|$)/.test(new URL(url).pathname);
  const outcome = await v2.reevaluation.reevaluateServer(server);
  expect(lose.when).toBeUndefined();
  expect(outcome).toEqual({ outcome: 'evaluated', changes: 1 });

  const logs: string[] = [];
  await v2.projector.drain({ log: (m) => logs.push(m) });
  const results = (await getAll(stack, `results?server=${server}`)).items.map((i: Json) => [i.status, i.ruleVersion]);
  expect(results).toEqual([['Error', '2.0.0']]);
  expect((await getAll(stack, 'events?cause=rule-change')).items.map((e: Json) => [e.server, e.fromStatus, e.toStatus])).toEqual([[server, 'Warning', 'Error']]);
  expect(logs.filter((l) => l.startsWith('FleetPosture.NewFinding ') && l.includes('"cause":"rule-change"'))).toHaveLength(1);
  expect((await get(stack, 'summary')).body.rules.find((x: Json) => x.ruleId === alphaRule.id).counts).toMatchObject({ Warning: 0, Error: 1 });
});
