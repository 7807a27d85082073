// A waiver write that landed but whose answer was lost, then overwritten by another admin's change
// before the request's retry read the row back: the request must still know the write for its own
// (its mark is gone from the row's latest revision). Its change was stored exactly once, so it is
// answered as stored (not 412, which says nothing was changed) and never stored again over the
// other admin's change; a follow-up whose clearing was so hidden still logs the alerts it owes.
// And a change never replaces what another change stored meanwhile still owes (its audit event).
// On Azurite over real HTTP, with storage policies that lose a write's answer, run the other
// admin's request just before a write is sent (again), or refuse the Events table's writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers, refusedWrites } from '../support/faults';
import { adminCall, getAll, post, type Json, type Reply } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { reRaisedBy, waiverWrite as waiverWriteOf } from '../support/waivers';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseOverwrittenWaiverAnswer');
const refused = refusedWrites('testRefuseWaiverEvents');
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, path, body, headers);
const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  justification: 'Accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(now + DAY).toISOString(),
  ...o,
});

const waiverWrite = (text: string) => waiverWriteOf(stack, text);

/**
 * The next write that `write` matches lands but its answer is lost; just before the SDK sends it
 * again (its second sending), `other` runs to the end.
 */
function loseThenOverwrite(write: ReturnType<typeof waiverWrite>, other: () => Promise<void>): void {
  lose.when = ({ method, url, body }) => write(method, url, body);
  let sent = 0;
  pause.when = (method, url, body) => write(method, url, body) && ++sent === 2;
  pause.during = other;
}

/** The revisions of the waiver's audit events, oldest first, with their cause. */
const audits = async (id: string) =>
  (await getAll(stack, 'events?kind=waiver')).items
    .filter((e: Json) => e.waiverId === id)
    .map((e: Json) => `${e.snapshotId as string} ${e.cause as string}`)
    .sort();

const reRaised = (id: string) => reRaisedBy(stack, id);

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [policy, lose.policy, refused.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
  for (const host of ['OVER1', 'OVER2']) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('a waiver write whose answer was lost and that another admin overwrote before it was read back', () => {
  it('a PUT with If-Match answers the change it stored (200, its revision), not 412', async () => {
    const created = await send('PUT', 'waivers/over-put', waiver({ serverPattern: 'over0?.corp.contoso.com' }));
    expect(created.status).toBe(201);
    let b: Reply | undefined;
    loseThenOverwrite(waiverWrite('Admin A.'), async () => {
      b = await send('PUT', 'waivers/over-put', waiver({ serverPattern: 'over0?.corp.contoso.com', justification: 'Admin B.' }));
    });
    const a = await send('PUT', 'waivers/over-put', waiver({ serverPattern: 'over0?.corp.contoso.com', justification: 'Admin A.' }), { 'If-Match': created.etag! });
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([b?.status, b?.etag]).toEqual([200, '"3"']);
    expect([a.status, a.etag, a.body.justification], JSON.stringify(a.body)).toEqual([200, '"2"', 'Admin A.']);
    const stored = await send('GET', 'waivers/over-put');
    expect([stored.body.justification, stored.etag]).toEqual(['Admin B.', '"3"']);
    expect(await audits('over-put')).toEqual(['over-put.r1 waiver-created', 'over-put.r2 waiver-changed', 'over-put.r3 waiver-changed']);
  });

  it('a DELETE without If-Match answers the deletion it stored, and does not delete the waiver granted again meanwhile', async () => {
    const created = await send('PUT', 'waivers/over-del', waiver({ server: server('OVER1') }));
    expect(created.status).toBe(201);
    let b: Reply | undefined;
    loseThenOverwrite(waiverWrite('"deleted"'), async () => {
      b = await send('PUT', 'waivers/over-del', waiver({ server: server('OVER1'), justification: 'Granted again.' }));
    });
    const a = await send('DELETE', 'waivers/over-del');
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([b?.status, b?.etag]).toEqual([201, '"3"']);
    expect([a.status, a.etag, a.body.state], JSON.stringify(a.body)).toEqual([200, '"2"', 'deleted']);
    const stored = await send('GET', 'waivers/over-del');
    expect([stored.body.state, stored.body.justification, stored.etag]).toEqual(['active', 'Granted again.', '"3"']);
    expect(await audits('over-del')).toEqual(['over-del.r1 waiver-created', 'over-del.r2 waiver-deleted', 'over-del.r3 waiver-created']);
  });

  it('a deletion whose follow-up clearing lost its answer, the waiver then granted anew before it read it back, still hands back the alerts it held', async () => {
    expect((await send('PUT', 'waivers/over-follow', waiver({ server: server('OVER2') }))).status).toBe(201);
    // The clearing of the deletion's follow-up: the deleted waiver, written without its follow-up.
    const clearing = (method: string, url: string, body: string) => waiverWrite('"deleted"')(method, url, body) && !body.includes('"FollowUp"');
    let b: Reply | undefined;
    loseThenOverwrite(clearing, async () => {
      b = await send('PUT', 'waivers/over-follow', waiver({ server: server('OVER2'), justification: 'Granted again.' }));
    });
    const a = await send('DELETE', 'waivers/over-follow');
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([b?.status, b?.etag]).toEqual([201, '"3"']);
    expect([a.status, a.etag, a.body.state], JSON.stringify(a.body)).toEqual([200, '"2"', 'deleted']);
    expect(reRaised('over-follow')).toEqual([[server('OVER2'), 'deleted']]);
    expect(await audits('over-follow')).toEqual(['over-follow.r1 waiver-created', 'over-follow.r2 waiver-deleted', 'over-follow.r3 waiver-created']);
  });
});

describe('a change made while another change of the waiver still owes its follow-up', () => {
  it('does that follow-up before building on it: every revision gets its audit event', async () => {
    // Revision 1 stored with its follow-up owed (its audit event refused).
    refused.on = true;
    expect((await send('PUT', 'waivers/owed', waiver({ serverPattern: 'owed0?.corp.contoso.com', justification: 'Original.' }))).status).toBe(201);
    refused.on = false;
    // While A clears revision 1's follow-up, B's whole change lands as revision 2, whose own
    // follow-up storage refuses: A then reads revision 2 still owing it.
    let b: Reply | undefined;
    pause.when = (method, url, body) => waiverWrite('Original.')(method, url, body) && !body.includes('"FollowUp"');
    pause.during = async () => {
      pause.when = waiverWrite('Admin B.');
      pause.during = async () => void (refused.on = true);
      b = await send('PUT', 'waivers/owed', waiver({ serverPattern: 'owed0?.corp.contoso.com', justification: 'Admin B.' }));
      refused.on = false;
    };
    const a = await send('PUT', 'waivers/owed', waiver({ serverPattern: 'owed0?.corp.contoso.com', justification: 'Admin A.' }));
    expect(pause.when).toBeUndefined();
    expect([b?.status, b?.etag]).toEqual([200, '"2"']);
    expect([a.status, a.etag], JSON.stringify(a.body)).toEqual([200, '"3"']);
    expect(await audits('owed')).toEqual(['owed.r1 waiver-created', 'owed.r2 waiver-changed', 'owed.r3 waiver-changed']);
  });
});
