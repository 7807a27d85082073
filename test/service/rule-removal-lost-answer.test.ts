import { afterAll, beforeAll, expect, it } from 'vitest';
import { lostAnswers } from '../support/faults';
import { post } from '../support/http';
import { alphaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

// A commit that removes a retired rule's row must remove it with the commit itself: a removal
// left to a request after the commit is lost with that request's answer, and a server with one
// loaded rule reads one row, so no later commit would ever see the leftover.
let stack: TestStack;
const lost = lostAnswers('lose-results-batch');
beforeAll(async () => {
  stack = await startTestStack({ rules: [alphaRule], storagePolicies: [lost.policy] });
});
afterAll(async () => stack?.stop());

const server = 'lostbatch1.corp.contoso.com';
const rulesOfRows = async () => (await stack.app.store.readPartition(server)).map((r) => r.ruleId).sort();

it('a retired rule\'s row is gone after the commit that removes it, though that commit\'s answer was lost', async () => {
  expect((await post(stack, snapshot({ host: 'LOSTBATCH1', testState: 'Pass', collectedAt: Date.now() - 3 * 60 * 60_000 }))).status).toBe(201);
  // A row of a rule this release no longer loads, as the release before would have left it.
  const read = await stack.app.store.readPartition(server);
  await stack.app.store.commitServer(server, {
    put: [
      ...read.map((r) => ({ record: r, etag: r.etag })),
      { record: { ...read[0]!, ruleId: 'test-retired', lastSeen: Date.now() - 2 * 60 * 60_000, recentCommits: [] } },
    ],
    remove: [],
    basedOn: read,
  });
  expect(await rulesOfRows()).toEqual(['test-alpha', 'test-retired']);

  lost.when = (r) => r.url.includes('$batch') && r.body.includes('/Results');
  const removing = await post(stack, snapshot({ host: 'LOSTBATCH1', testState: 'Fail', collectedAt: Date.now() - 2 * 60 * 60_000 }));
  lost.when = () => false;
  expect(removing.status).toBe(201);
  expect((await post(stack, snapshot({ host: 'LOSTBATCH1', testState: 'Pass', collectedAt: Date.now() - 60 * 60_000 }))).status).toBe(201);
  expect(await rulesOfRows()).toEqual(['test-alpha']);
});
