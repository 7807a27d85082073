// During a deployment the previous release and this one serve side by side, and each replaces a
// waiver's whole row. The previous release names the last writer and the last clearing run in single
// columns (WrittenBy, FollowedUpBy) and knows no others: a write by either release must keep the
// marks the other reads back after a lost answer. The previous release's writes are made here as
// its code makes them (its columns only); on Azurite over real HTTP, with storage policies that lose
// a write's answer and run the other instance's write just before it is sent again.
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey } from '../../src/store/keys';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers } from '../support/faults';
import { adminCall } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { waiverWrite } from '../support/waivers';

const DAY = 24 * 60 * 60_000;
const now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
let table: TableClient;
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseWaiverAnswerMidDeployment');

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, path, body, headers);
const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  serverPattern: 'roll0?.corp.contoso.com',
  justification: 'Accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(now + DAY).toISOString(),
  ...o,
});
const row = (id: string) => table.getEntity<Record<string, unknown>>('waivers', encodeKey(id));

/** Replaces the waiver's row as the previous release writes it: `change` of what it read, without the columns it does not know. */
async function asPreviousRelease(id: string, change: (columns: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const { etag, timestamp: _t, Writers: _w, FollowUpClearers: _c, ...known } = await row(id);
  await table.updateEntity(change(known) as { partitionKey: string; rowKey: string }, 'Replace', { etag: etag as string });
}

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [policy, lose.policy] });
  table = stackTables(stack).waivers;
});
afterAll(async () => stack?.stop());

describe('a waiver written by both releases during a deployment', () => {
  it("a change keeps, in FollowedUpBy, the previous release's run that cleared the last follow-up (its lost answer is read back there)", async () => {
    expect((await send('PUT', 'waivers/roll-cleared', waiver())).status).toBe(201);
    await asPreviousRelease('roll-cleared', (e) => ({ ...e, FollowedUpBy: 'previous-release-clearing' }));
    // The previous release reads its clearing back once the change landed, before this release clears the change's own follow-up.
    let readBack: Record<string, unknown> | undefined;
    pause.when = (method, url, body) => waiverWrite(stack, 'Extended.')(method, url, body) && !body.includes('"FollowUp"');
    pause.during = async () => {
      readBack = await row('roll-cleared');
    };
    expect((await send('PUT', 'waivers/roll-cleared', waiver({ justification: 'Extended.' }))).status).toBe(200);
    expect(pause.when).toBeUndefined();
    expect([readBack?.Revision, readBack?.FollowedUpBy]).toEqual([2, 'previous-release-clearing']);
  });

  it("clearing a follow-up the previous release stored keeps its WrittenBy (its lost answer is read back there)", async () => {
    expect((await send('PUT', 'waivers/roll-written', waiver())).status).toBe(201);
    await asPreviousRelease('roll-written', (e) => ({ ...e, Revision: 2, Justification: 'Extended.', WrittenBy: 'previous-release-writer', FollowUp: JSON.stringify({ cause: 'waiver-changed', at: now }) }));
    expect((await send('POST', 'jobs/waiver-expiry/run')).status).toBe(200);
    const e = await row('roll-written');
    expect([e.Revision, e.FollowUp, e.WrittenBy]).toEqual([2, undefined, 'previous-release-writer']);
  });

  it('a PUT with If-Match whose answer was lost answers its change (not 412) when the previous release cleared its follow-up before the read-back', async () => {
    const created = await send('PUT', 'waivers/roll-lost', waiver());
    expect([created.status, created.etag]).toEqual([201, '"1"']);
    // The change's own write (it carries its follow-up; the clearing after it does not).
    const write = (method: string, url: string, body: string) => waiverWrite(stack, 'Admin A.')(method, url, body) && body.includes('"FollowUp"');
    lose.when = ({ method, url, body }) => write(method, url, body);
    let sent = 0;
    pause.when = (method, url, body) => write(method, url, body) && ++sent === 2;
    pause.during = () => asPreviousRelease('roll-lost', ({ FollowUp: _f, ...e }) => ({ ...e, FollowedUpBy: 'previous-release-clearing' }));
    const a = await send('PUT', 'waivers/roll-lost', waiver({ justification: 'Admin A.' }), { 'If-Match': '"1"' });
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([a.status, a.etag, a.body.justification], JSON.stringify(a.body)).toEqual([200, '"2"', 'Admin A.']);
    expect((await row('roll-lost')).Revision).toBe(2);
  });
});
