// Two admins changing one rule's drift baseline, as with waivers: every answer carries the
// baseline's ETag (its revision), a PUT or DELETE whose If-Match no longer holds is refused (412)
// and changes nothing, and a change stored meanwhile by someone else is never overwritten unseen:
// with If-Match the slower change is refused, without it the change is decided again on what is
// there now (its audit event names the server it really replaced) instead of answering 503. A
// write that landed but whose answer was lost is this request's, not a conflict. On Azurite over
// real HTTP, with storage policies that pause a write or lose its answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers } from '../support/faults';
import { adminCall, getAll, post, type Json, type Reply } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const PATH = `baselines/${DRIFT_RULE}`;
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseBaselineAnswer');
let stack: TestStack;

const send = (method: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, PATH, body, headers);
const set = (host: string, setBy: string, headers: Record<string, string> = {}) => send('PUT', { server: serverIdOf(host), setBy }, headers);
/** The revisions the baseline audit events record, oldest first. */
const audits = async () =>
  (await getAll(stack, 'events?kind=baseline')).items.map((e: Json) => e.snapshotId as string).sort((a: string, b: string) => Number(a.slice('baseline.r'.length)) - Number(b.slice('baseline.r'.length)));
/** The audit message of the baseline's change to `revision`. */
const auditOf = async (revision: number) => (await getAll(stack, 'events?kind=baseline')).items.find((x: Json) => x.snapshotId === `baseline.r${revision}`)?.message;
const changed = (from: string, to: string, by: string) => `Drift baseline for ${DRIFT_RULE} changed from ${serverIdOf(from)} to ${serverIdOf(to)} by ${by}.`;
/** A write to the baseline row (create or replace) whose body names `who`. */
const baselineWrite = (who: string) => (method: string, url: string, body: string) => 
  ['PUT', 'POST'].includes(method) && url.includes(`/${tableNames(stack.settings.tablePrefix).drift}`) && body.includes(who);

beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [policy, lose.policy] });
  for (const [host, fixture] of [
    ['BASE1', DEFAULT_LIST],
    ['BASE2', REMOVED],
    ['BASE3', DEFAULT_LIST],
  ] as const) {
    expect((await post(stack, fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60_000))).status).toBe(201);
  }
}, 60_000);
afterAll(async () => stack?.stop());

describe('baseline ETags and If-Match', () => {
  it('GET, PUT and DELETE answer with the baseline revision as ETag', async () => {
    const none = await send('GET');
    expect([none.status, none.body.server, none.etag]).toEqual([200, null, '"0"']);
    const created = await set('BASE1', 'alice', { 'If-Match': '"0"' });
    expect([created.status, created.body.revision, created.etag]).toEqual([201, 1, '"1"']);
    expect((await send('GET')).etag).toBe('"1"');
    const cleared = await send('DELETE', undefined, { 'If-Match': '"1"' });
    expect([cleared.status, cleared.body.cleared, cleared.etag]).toEqual([200, true, '"2"']);
    const after = await send('GET');
    expect([after.body.server, after.etag]).toEqual([null, '"2"']);
  });

  it('a PUT or DELETE whose If-Match no longer holds is 412 and changes nothing', async () => {
    const named = await set('BASE1', 'alice');
    expect([named.status, named.etag]).toEqual([201, '"3"']);
    const events = await audits();
    const stalePut = await set('BASE2', 'bob', { 'If-Match': '"2"' });
    expect([stalePut.status, stalePut.body.error]).toEqual([412, 'precondition_failed']);
    expect(stalePut.body.message).toBe(`The baseline of ${DRIFT_RULE} is at "3" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.`);
    const staleDelete = await send('DELETE', undefined, { 'If-Match': 'W/"3", "2"' });
    expect(staleDelete.status).toBe(412);
    const read = await send('GET');
    expect([read.body.server, read.body.setBy, read.etag]).toEqual([serverIdOf('BASE1'), 'alice', '"3"']);
    expect(await audits()).toEqual(events);
    // The ETag as read (or any of a list, or *) lets the change go on.
    const changed = await set('BASE2', 'bob', { 'If-Match': '"9", "3"' });
    expect([changed.status, changed.body.server, changed.etag]).toEqual([200, serverIdOf('BASE2'), '"4"']);
  });

  it('of two admins sending the same If-Match at once, the slower is refused (412): it does not overwrite the first', async () => {
    await set('BASE2', 'setup');
    const read = await send('GET');
    const next = `"${read.body.revision + 1}"`;
    let b: Reply | undefined;
    pause.when = baselineWrite('admin-a');
    pause.during = async () => {
      b = await set('BASE3', 'admin-b', { 'If-Match': `"${read.body.revision}"` });
    };
    const a = await set('BASE1', 'admin-a', { 'If-Match': `"${read.body.revision}"` });
    expect(pause.when).toBeUndefined();
    expect([b?.status, b?.etag]).toEqual([200, next]);
    expect([a.status, a.body.error]).toEqual([412, 'precondition_failed']);
    expect(a.body.message).toMatch(/^The baseline of mcafee-port25-blocked was changed by someone else after the version in If-Match was read, so nothing was changed;/);
    const now = await send('GET');
    expect([now.body.server, now.body.setBy, now.etag]).toEqual([serverIdOf('BASE3'), 'admin-b', next]);
    expect((await audits()).at(-1)).toBe(`baseline.r${read.body.revision + 1}`);
  });

  it('without If-Match, a change stored meanwhile is built on (the audit names it), not answered 503', async () => {
    await set('BASE3', 'setup');
    const { revision } = (await send('GET')).body;
    let b: Reply | undefined;
    pause.when = baselineWrite('admin-c');
    pause.during = async () => {
      b = await set('BASE2', 'admin-d');
    };
    const c = await set('BASE1', 'admin-c');
    expect(pause.when).toBeUndefined();
    expect(b?.status).toBe(200);
    expect([c.status, c.body.server, c.body.revision]).toEqual([200, serverIdOf('BASE1'), revision + 2]);
    expect(await auditOf(revision + 1)).toBe(changed('BASE3', 'BASE2', 'admin-d'));
    expect(await auditOf(revision + 2)).toBe(changed('BASE2', 'BASE1', 'admin-c'));
  });

  it('a change with If-Match whose write landed but whose answer was lost is answered as stored', async () => {
    await set('BASE1', 'setup');
    const { revision } = (await send('GET')).body;
    lose.when = ({ method, url, body }) => baselineWrite('admin-e')(method, decodeURIComponent(url), body);
    const e = await set('BASE3', 'admin-e', { 'If-Match': `"${revision}"` });
    expect(lose.when).toBeUndefined();
    expect([e.status, e.body.server, e.body.revision]).toEqual([200, serverIdOf('BASE3'), revision + 1]);
    expect(await auditOf(revision + 1)).toBe(changed('BASE1', 'BASE3', 'admin-e'));
  });

  it('a change whose write landed but whose every retry failed too (no conflict to read) is answered as stored, not 503', async () => {
    await set('BASE1', 'setup');
    const { revision } = (await send('GET')).body;
    lose.when = ({ method, url, body }) => baselineWrite('admin-f')(method, decodeURIComponent(url), body);
    lose.every = true;
    try {
      const f = await set('BASE3', 'admin-f', { 'If-Match': `"${revision}"` });
      expect([f.status, f.body.server, f.body.revision], JSON.stringify(f.body)).toEqual([200, serverIdOf('BASE3'), revision + 1]);
    } finally {
      lose.every = false;
      lose.when = undefined;
    }
    expect(await auditOf(revision + 1)).toBe(changed('BASE1', 'BASE3', 'admin-f'));
  });
});
