// A re-evaluation run whose write of the pass's state row (taking its lease) landed but whose
// answer was lost (a 503, which the SDK sends again into a 409 for a new pass, a 412 for a later
// one) holds the lease it wrote: the row names this run's owner, so the run does its batch. Before,
// the refusal read as "another instance won": the run answered busy, and the lease it had written
// kept every run (its own instance's too) off the pass until it lapsed, 5 minutes later. On
// Azurite over real HTTP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lostAnswers } from '../support/faults';
import { getAll, post, type Json } from '../support/http';
import { alphaRule, alphaRuleV2, snapshot } from '../support/snapshots';
import { createTestApp, startTestStack, type TestStack } from '../support/stack';

const lose = lostAnswers('testLoseReevalStateAnswer');
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule] });
});
afterAll(async () => stack?.stop());

/** The next write of the re-evaluation state row lands, and its answer is lost. */
const stateWrite = ({ method, body }: { method: string; body: string }) => method !== 'GET' && body.includes('"TargetVersion"');

it('a run whose lease write lost its answer does its batch, for a new pass (409) and for a later one (412)', async () => {
  const r = await post(stack, snapshot({ host: 'RLEASE1', testState: 'Warning' }));
  expect(r.status).toBe(201);
  const server = r.body.server as string;
  await stack.app.projector.drain({ log: () => undefined });

  const v2 = createTestApp({ settings: stack.settings, rules: [alphaRuleV2], storeOptions: { policies: [lose.policy], maxRetries: 1 } });
  lose.when = stateWrite;
  const first = await v2.reevaluation.runBatch();
  expect(lose.when).toBeUndefined();
  expect(first).toMatchObject({ status: 'done', evaluated: 1 });
  expect((await v2.reevaluation.progress()).upToDate).toBe(true);
  await v2.projector.drain({ log: () => undefined });
  expect((await getAll(stack, `results?server=${server}`)).items.map((i: Json) => [i.status, i.ruleVersion])).toEqual([['Error', '2.0.0']]);

  // A newer rule set's pass (the row exists now): its lease write is a replace under the row's ETag.
  const v3 = createTestApp({ settings: stack.settings, rules: [{ ...alphaRuleV2, version: '3.0.0' }], storeOptions: { policies: [lose.policy], maxRetries: 1 } });
  lose.when = stateWrite;
  const second = await v3.reevaluation.runBatch();
  expect(lose.when).toBeUndefined();
  expect(second).toMatchObject({ status: 'done', evaluated: 1 });
  expect((await v3.reevaluation.progress()).upToDate).toBe(true);
});
