// A drift baseline change knows its own write by a mark naming the request, not by what it holds:
// a write that landed but whose answer was lost, then overwritten by another admin before the
// retry read the row back, is still this request's (answered as stored, never stored again over
// the other admin's change, never 412); and another admin's identical change (same server, same
// name, same instant) is not mistaken for it. A change never replaces the audit event another
// change stored meanwhile still owes. On Azurite over real HTTP, with a fixed clock and storage
// policies that pause a write, lose its answer, or refuse the Events table's writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers, refusedWrites } from '../support/faults';
import { adminCall, getAll, post, type Json, type Reply } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const PATH = `baselines/${DRIFT_RULE}`;
const now = Date.now();
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseOverwrittenBaselineAnswer');
const refused = refusedWrites('testRefuseBaselineEvents');
let stack: TestStack;

const send = (method: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, PATH, body, headers);
const set = (host: string, setBy: string, headers: Record<string, string> = {}) => send('PUT', { server: serverIdOf(host), setBy }, headers);
/** A write to the baseline row (create or replace) whose body holds `text`. */
const baselineWrite = (text: string) => (method: string, url: string, body: string) =>
  ['PUT', 'POST'].includes(method) && decodeURIComponent(url).includes(`/${tableNames(stack.settings.tablePrefix).drift}`) && body.includes(text);
/** The baseline audit events as "revision: message", oldest first. */
const audits = async () =>
  (await getAll(stack, 'events?kind=baseline')).items
    .map((e: Json) => `${(e.snapshotId as string).slice('baseline.r'.length)}: ${e.message as string}`)
    .sort((a: string, b: string) => parseInt(a) - parseInt(b));
const named = (revision: number, host: string, by: string, from?: string) =>
  `${revision}: Drift baseline for ${DRIFT_RULE} ${from ? `changed from ${serverIdOf(from)} to` : 'set to'} ${serverIdOf(host)} by ${by}.`;

/**
 * The next write holding `text` lands but its answer is lost; just before the SDK sends it again
 * (its second sending), `other` runs to the end.
 */
function loseThenOverwrite(text: string, other: () => Promise<void>): void {
  lose.when = ({ method, url, body }) => baselineWrite(text)(method, url, body);
  let sent = 0;
  pause.when = (method, url, body) => baselineWrite(text)(method, url, body) && ++sent === 2;
  pause.during = other;
}

beforeAll(async () => {
  stack = await startTestStack({ clock: () => now, storagePolicies: [policy, lose.policy, refused.policy] });
  refused.table = tableNames(stack.settings.tablePrefix).events;
  for (const [host, fixture] of [
    ['OVB1', DEFAULT_LIST],
    ['OVB2', REMOVED],
    ['OVB3', DEFAULT_LIST],
  ] as const) {
    expect((await post(stack, fixtureAs(readFixture(fixture) as Record<string, unknown>, host, now - 60_000))).status).toBe(201);
  }
}, 60_000);
afterAll(async () => stack?.stop());

describe('a baseline write whose answer was lost and that another admin overwrote before it was read back', () => {
  it('a PUT with If-Match answers the change it stored (its revision), not 412', async () => {
    const first = await set('OVB1', 'setup');
    expect([first.status, first.etag]).toEqual([201, '"1"']);
    let b: Reply | undefined;
    loseThenOverwrite('admin-a', async () => {
      b = await set('OVB2', 'admin-b');
    });
    const a = await set('OVB3', 'admin-a', { 'If-Match': '"1"' });
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([b?.status, b?.etag]).toEqual([200, '"3"']);
    expect([a.status, a.body.server, a.etag], JSON.stringify(a.body)).toEqual([200, serverIdOf('OVB3'), '"2"']);
    const stored = await send('GET');
    expect([stored.body.server, stored.body.setBy, stored.etag]).toEqual([serverIdOf('OVB2'), 'admin-b', '"3"']);
    expect(await audits()).toEqual([named(1, 'OVB1', 'setup'), named(2, 'OVB3', 'admin-a', 'OVB1'), named(3, 'OVB2', 'admin-b', 'OVB3')]);
  });

  it('a DELETE without If-Match answers the clearing it stored, and does not clear the baseline named again meanwhile', async () => {
    let b: Reply | undefined;
    loseThenOverwrite('"Server":""', async () => {
      b = await set('OVB1', 'admin-d');
    });
    const a = await send('DELETE');
    expect([lose.when, pause.when]).toEqual([undefined, undefined]);
    expect([b?.status, b?.etag]).toEqual([201, '"5"']);
    expect([a.status, a.body.cleared, a.etag], JSON.stringify(a.body)).toEqual([200, true, '"4"']);
    const stored = await send('GET');
    expect([stored.body.server, stored.body.setBy, stored.etag]).toEqual([serverIdOf('OVB1'), 'admin-d', '"5"']);
    expect((await audits()).slice(3)).toEqual([`4: Drift baseline for ${DRIFT_RULE} cleared (was ${serverIdOf('OVB2')}); it was set by admin-b.`, named(5, 'OVB1', 'admin-d')]);
  });
});

describe('two admins making the identical change at once', () => {
  it('the slower one is not told it made the change: one 201, one 200, one audit event', async () => {
    await set('OVB3', 'setup');
    expect((await send('DELETE')).status).toBe(200);
    const { revision } = (await send('GET')).body;
    const before = await audits();
    let b: Reply | undefined;
    pause.when = baselineWrite('"ops"');
    pause.during = async () => {
      b = await set('OVB2', 'ops');
    };
    const a = await set('OVB2', 'ops');
    expect(pause.when).toBeUndefined();
    expect([b?.status, b?.etag]).toEqual([201, `"${revision + 1}"`]);
    expect([a.status, a.body.server, a.etag], JSON.stringify(a.body)).toEqual([200, serverIdOf('OVB2'), `"${revision + 1}"`]);
    expect((await audits()).slice(before.length)).toEqual([named(revision + 1, 'OVB2', 'ops')]);
  });
});

describe('a change made while another change of the baseline still owes its audit event', () => {
  it('writes that event before building on it: every revision gets its audit event', async () => {
    // A change stored with its audit event owed (storage refused it).
    refused.on = true;
    expect((await set('OVB1', 'orig-owed')).status).toBe(200);
    refused.on = false;
    const { revision } = (await send('GET')).body;
    const before = await audits();
    // While A clears that owed event from the row, B's whole change lands, its own event refused:
    // A then reads B's change still owing it.
    let b: Reply | undefined;
    pause.when = (method, url, body) => baselineWrite('orig-owed')(method, url, body) && !body.includes('AuditOwed');
    pause.during = async () => {
      pause.when = baselineWrite('admin-b2');
      pause.during = async () => void (refused.on = true);
      b = await set('OVB3', 'admin-b2');
      refused.on = false;
    };
    const a = await set('OVB2', 'admin-a2');
    expect(pause.when).toBeUndefined();
    expect([b?.status, b?.etag]).toEqual([200, `"${revision + 1}"`]);
    expect([a.status, a.etag], JSON.stringify(a.body)).toEqual([200, `"${revision + 2}"`]);
    expect((await audits()).slice(before.length)).toEqual([named(revision, 'OVB1', 'orig-owed', 'OVB2'), named(revision + 1, 'OVB3', 'admin-b2', 'OVB1'), named(revision + 2, 'OVB2', 'admin-a2', 'OVB3')]);
  });
});
