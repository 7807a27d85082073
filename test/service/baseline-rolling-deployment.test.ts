// During a deployment the previous release and this one serve side by side. The previous release
// knows a baseline row's writers not, and replaces the row without them when it clears the audit
// event a change owed; a change of this release whose answer was lost must still know its write
// when it reads the row back after that. The previous release's write is made here as its code
// makes it (its columns only); on Azurite over real HTTP, with storage policies that lose a write's
// answer and run the other instance's write just before it is sent again.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { encodeKey } from '../../src/store/keys';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, serverIdOf } from '../support/drift';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers } from '../support/faults';
import { adminCall, post } from '../support/http';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const now = Date.now();
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseBaselineAnswerMidDeployment');
let stack: TestStack;
let table: TableClient;

const set = (host: string, setBy: string, headers: Record<string, string> = {}) => adminCall(stack, 'PUT', `baselines/${DRIFT_RULE}`, { server: serverIdOf(host), setBy }, headers);
/** A write of the baseline row whose body holds `text` and the audit event it owes. */
const changeWrite = (text: string) => (method: string, url: string, body: string) =>
  ['PUT', 'POST'].includes(method) && decodeURIComponent(url).includes(`/${tableNames(stack.settings.tablePrefix).drift}`) && body.includes(text) && body.includes('"AuditOwed"');

/** Writes the owed audit event's clearing as the previous release does: the row it read, without the columns it does not know. */
async function clearedByPreviousRelease(): Promise<void> {
  const { etag, timestamp: _t, Writers: _w, AuditOwed: _a, ...known } = await table.getEntity<Record<string, unknown>>(encodeKey(DRIFT_RULE), 'baseline');
  await table.updateEntity(known as { partitionKey: string; rowKey: string }, 'Replace', { etag: etag as string });
}

beforeAll(async () => {
  stack = await startTestStack({ clock: () => now, storagePolicies: [policy, lose.policy] });
  table = stackTables(stack).drift;
  for (const host of ['ROLLB1', 'ROLLB2']) expect((await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, now - 60_000))).status).toBe(201);
}, 60_000);
afterAll(async () => stack?.stop());

it('a PUT with If-Match whose answer was lost answers its change (not 412) when the previous release cleared its audit event before the read-back', async () => {
  expect((await set('ROLLB1', 'setup')).etag).toBe('"1"');
  lose.when = ({ method, url, body }) => changeWrite('admin-a')(method, url, body);
  let sent = 0;
  pause.when = (method, url, body) => changeWrite('admin-a')(method, url, body) && ++sent === 2;
  pause.during = clearedByPreviousRelease;
  const a = await set('ROLLB2', 'admin-a', { 'If-Match': '"1"' });
  expect([lose.when, pause.when]).toEqual([undefined, undefined]);
  expect([a.status, a.body.server, a.etag], JSON.stringify(a.body)).toEqual([200, serverIdOf('ROLLB2'), '"2"']);
  const stored = await adminCall(stack, 'GET', `baselines/${DRIFT_RULE}`);
  expect([stored.body.server, stored.body.setBy, stored.etag]).toEqual([serverIdOf('ROLLB2'), 'admin-a', '"2"']);
});
