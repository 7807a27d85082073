// If-Match on waivers at the edges: a waiver past its expiry that the timer has not ended yet (the
// change ends it first, and must not then build on another admin's change made meanwhile), a write
// that landed but whose answer was lost (the SDK's retry is refused, yet the change is this
// request's), and a DELETE of a waiver that is gone or ended (404 whatever If-Match says: a
// precondition only guards a change the request would make). On Azurite over real HTTP, with an
// injected clock and storage policies that pause a write or lose its answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, tableNames } from '../../src/store';
import { pausedWrites } from '../support/enrolment-client';
import { lostAnswers } from '../support/faults';
import { adminCall, getAll, post, type Json, type Reply } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { reRaisedBy, waiverWrite as waiverWriteOf } from '../support/waivers';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
let now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
const { pause, policy } = pausedWrites();
const lose = lostAnswers('testLoseWaiverAnswer');
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, path, body, headers);

const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  justification: 'Port 25 blocking is accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(now + DAY).toISOString(),
  ...o,
});

const waiverWrite = (text: string) => waiverWriteOf(stack, text);

const audit = async (cause: string, id: string) => (await getAll(stack, `events?cause=${cause}`)).items.filter((e: Json) => e.waiverId === id).map((e: Json) => e.snapshotId);
const reRaised = (id: string) => reRaisedBy(stack, id);

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [policy, lose.policy] });
  for (const host of ['LOST1', 'LOST2']) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('If-Match on a waiver past its expiry that the timer has not ended yet', () => {
  it('of two admins sending the same If-Match, the second is refused (412): it does not overwrite the first', async () => {
    const created = await send('PUT', 'waivers/pastdue-put', waiver({ serverPattern: 'due0?.corp.contoso.com' }));
    expect(created.status).toBe(201);
    now += 2 * DAY;
    const read = await send('GET', 'waivers/pastdue-put');
    expect([read.body.state, read.etag]).toEqual(['expired', '"1"']);
    // A's ending of the expired waiver waits while B's whole PUT runs: B ends it, then renews it.
    let b: Reply | undefined;
    pause.when = waiverWrite('"expired"');
    pause.during = async () => {
      b = await send('PUT', 'waivers/pastdue-put', waiver({ serverPattern: 'due0?.corp.contoso.com', justification: 'Admin B.' }), { 'If-Match': read.etag! });
    };
    const a = await send('PUT', 'waivers/pastdue-put', waiver({ serverPattern: 'due0?.corp.contoso.com', justification: 'Admin A.' }), { 'If-Match': read.etag! });
    expect(pause.when).toBeUndefined();
    expect([b?.status, b?.etag]).toEqual([201, '"3"']);
    expect(a.status, JSON.stringify(a.body)).toBe(412);
    expect(a.body.error).toBe('precondition_failed');
    const stored = await send('GET', 'waivers/pastdue-put');
    expect([stored.body.justification, stored.etag]).toEqual(['Admin B.', '"3"']);
  });

  it('a DELETE is refused (412) when another admin renewed the waiver while it was being ended', async () => {
    expect((await send('PUT', 'waivers/pastdue-del', waiver({ serverPattern: 'due1?.corp.contoso.com' }))).status).toBe(201);
    now += 2 * DAY;
    let b: Reply | undefined;
    pause.when = waiverWrite('"expired"');
    pause.during = async () => {
      b = await send('PUT', 'waivers/pastdue-del', waiver({ serverPattern: 'due1?.corp.contoso.com', justification: 'Renewed.' }), { 'If-Match': '"1"' });
    };
    const a = await send('DELETE', 'waivers/pastdue-del', undefined, { 'If-Match': '"1"' });
    expect(pause.when).toBeUndefined();
    expect(b?.status).toBe(201);
    expect(a.status, JSON.stringify(a.body)).toBe(412);
    const stored = await send('GET', 'waivers/pastdue-del');
    expect([stored.body.state, stored.body.justification]).toEqual(['active', 'Renewed.']);
  });

  it('goes ahead when what ended it meanwhile was the timer (its expired form of that revision)', async () => {
    expect((await send('PUT', 'waivers/pastdue-timer', waiver({ serverPattern: 'due2?.corp.contoso.com' }))).status).toBe(201);
    now += 2 * DAY;
    let job: Reply | undefined;
    pause.when = waiverWrite('"expired"');
    pause.during = async () => {
      job = await send('POST', 'jobs/waiver-expiry/run');
    };
    const a = await send('PUT', 'waivers/pastdue-timer', waiver({ serverPattern: 'due2?.corp.contoso.com', justification: 'Granted again.' }), { 'If-Match': '"1"' });
    expect(pause.when).toBeUndefined();
    expect(job?.body.result.expired).toBeGreaterThanOrEqual(1);
    expect([a.status, a.etag], JSON.stringify(a.body)).toEqual([201, '"3"']);
    expect((await send('GET', 'waivers/pastdue-timer')).body.justification).toBe('Granted again.');
    expect(await audit('waiver-expired', 'pastdue-timer')).toEqual(['pastdue-timer.r2']);
  });
});

describe('a waiver write that landed but whose answer was lost', () => {
  it('a PUT with If-Match answers the change it stored (200), with its audit event written', async () => {
    const created = await send('PUT', 'waivers/lost-put', waiver({ serverPattern: 'lost0?.corp.contoso.com' }));
    expect(created.status).toBe(201);
    lose.when = ({ method, url, body }) => waiverWrite('Edited once.')(method, url, body);
    const r = await send('PUT', 'waivers/lost-put', waiver({ serverPattern: 'lost0?.corp.contoso.com', justification: 'Edited once.' }), { 'If-Match': created.etag! });
    expect(lose.when).toBeUndefined();
    expect([r.status, r.etag], JSON.stringify(r.body)).toEqual([200, '"2"']);
    expect(r.body.justification).toBe('Edited once.');
    expect((await send('GET', 'waivers/lost-put')).etag).toBe('"2"');
    expect(await audit('waiver-changed', 'lost-put')).toEqual(['lost-put.r2']);
  });

  it('a DELETE with If-Match answers the deletion it stored (200) and re-raises what the waiver held back at once', async () => {
    const created = await send('PUT', 'waivers/lost-del', waiver({ server: server('LOST1') }));
    expect(created.status).toBe(201);
    lose.when = ({ method, url, body }) => waiverWrite('"deleted"')(method, url, body);
    const r = await send('DELETE', 'waivers/lost-del', undefined, { 'If-Match': created.etag! });
    expect(lose.when).toBeUndefined();
    expect([r.status, r.etag, r.body.state], JSON.stringify(r.body)).toEqual([200, '"2"', 'deleted']);
    expect(await audit('waiver-deleted', 'lost-del')).toEqual(['lost-del.r2']);
    expect(reRaised('lost-del')).toEqual([[server('LOST1'), 'deleted']]);
  });

  it('without If-Match, a creation and a change are answered as stored too, not as a storage failure', async () => {
    // A creation is a POST to the table itself (not a $batch), its body naming the waiver.
    const creation = new RegExp(`/${tableNames(stack.settings.tablePrefix).waivers}(\\?|$)`);
    lose.when = ({ method, url, body }) => method === 'POST' && creation.test(decodeURIComponent(url)) && body.includes('"lost-new"');
    const made = await send('PUT', 'waivers/lost-new', waiver({ server: server('LOST2') }));
    expect(lose.when).toBeUndefined();
    expect([made.status, made.etag], JSON.stringify(made.body)).toEqual([201, '"1"']);
    lose.when = ({ method, url, body }) => waiverWrite('Blind edit.')(method, url, body);
    const changed = await send('PUT', 'waivers/lost-new', waiver({ server: server('LOST2'), justification: 'Blind edit.' }));
    expect(lose.when).toBeUndefined();
    expect([changed.status, changed.etag], JSON.stringify(changed.body)).toEqual([200, '"2"']);
    expect(await audit('waiver-created', 'lost-new')).toEqual(['lost-new.r1']);
    expect(await audit('waiver-changed', 'lost-new')).toEqual(['lost-new.r2']);
  });
});

describe('a DELETE of a waiver that is gone or ended', () => {
  it('is 404 for a waiver that never existed, whatever If-Match says; a PUT with If-Match to it stays 412', async () => {
    expect((await send('DELETE', 'waivers/never-there', undefined, { 'If-Match': '"1"' })).status).toBe(404);
    expect((await send('DELETE', 'waivers/never-there', undefined, { 'If-Match': '*' })).status).toBe(404);
    const put = await send('PUT', 'waivers/never-there', waiver({ serverPattern: 'end2?.corp.contoso.com' }), { 'If-Match': '"1"' });
    expect(put.status).toBe(412);
    expect((await send('GET', 'waivers/never-there')).status).toBe(404);
  });

  it('is 404 for a deleted waiver, with a stale If-Match or its current one', async () => {
    const created = await send('PUT', 'waivers/ended-del', waiver({ serverPattern: 'end0?.corp.contoso.com' }));
    const deleted = await send('DELETE', 'waivers/ended-del');
    expect(deleted.status).toBe(200);
    for (const etag of [created.etag!, deleted.etag!]) expect((await send('DELETE', 'waivers/ended-del', undefined, { 'If-Match': etag })).status).toBe(404);
    expect((await send('GET', 'waivers/ended-del')).etag).toBe(deleted.etag);
  });

  it('is 404 for a waiver past its expiry, with a stale If-Match too: it has expired, and stays so', async () => {
    expect((await send('PUT', 'waivers/ended-due', waiver({ serverPattern: 'end1?.corp.contoso.com' }))).status).toBe(201);
    now += 2 * DAY;
    expect((await send('DELETE', 'waivers/ended-due', undefined, { 'If-Match': '"7"' })).status).toBe(404);
    expect((await send('GET', 'waivers/ended-due')).body.state).toBe('expired');
  });
});

describe('a write that leaves the revision as it was, landing between the read and the write', () => {
  it('fails neither an If-Match PUT nor an If-Match DELETE that still holds: each is decided again and stored', async () => {
    const created = await send('PUT', 'waivers/touched', waiver({ serverPattern: 'tch0?.corp.contoso.com' }));
    expect(created.status).toBe(201);
    const { waivers } = stackTables(stack);
    // What clearing a finished follow-up does to the row: a new ETag, the same revision.
    const touch = async () => void (await waivers.updateEntity({ partitionKey: 'waivers', rowKey: encodeKey('touched'), TestTouched: now }, 'Merge'));
    pause.when = waiverWrite('Admin C.');
    pause.during = touch;
    const changed = await send('PUT', 'waivers/touched', waiver({ serverPattern: 'tch0?.corp.contoso.com', justification: 'Admin C.' }), { 'If-Match': created.etag! });
    expect(pause.when).toBeUndefined();
    expect([changed.status, changed.etag], JSON.stringify(changed.body)).toEqual([200, '"2"']);
    expect((await send('GET', 'waivers/touched')).body.justification).toBe('Admin C.');
    pause.when = waiverWrite('"deleted"');
    pause.during = touch;
    const deleted = await send('DELETE', 'waivers/touched', undefined, { 'If-Match': changed.etag! });
    expect(pause.when).toBeUndefined();
    expect([deleted.status, deleted.etag]).toEqual([200, '"3"']);
    expect((await send('GET', 'waivers/touched')).body.state).toBe('deleted');
    expect(await audit('waiver-changed', 'touched')).toEqual(['touched.r2']);
  });

  it('fails no If-Match PUT to a waiver past its expiry either, though the request\'s own ending of it moved the revision', async () => {
    const { waivers } = stackTables(stack);
    expect((await send('PUT', 'waivers/touched-due', waiver({ serverPattern: 'tch1?.corp.contoso.com' }))).status).toBe(201);
    now += 2 * DAY;
    const read = await send('GET', 'waivers/touched-due');
    expect([read.body.state, read.etag]).toEqual(['expired', '"1"']);
    pause.when = waiverWrite('Admin D.');
    pause.during = async () => void (await waivers.updateEntity({ partitionKey: 'waivers', rowKey: encodeKey('touched-due'), TestTouched: now }, 'Merge'));
    const renewed = await send('PUT', 'waivers/touched-due', waiver({ serverPattern: 'tch1?.corp.contoso.com', justification: 'Admin D.' }), { 'If-Match': read.etag! });
    expect(pause.when).toBeUndefined();
    // Ended by this request (revision 2), then renewed on that (3): one expiry, one new waiver.
    expect([renewed.status, renewed.etag], JSON.stringify(renewed.body)).toEqual([201, '"3"']);
    expect(await audit('waiver-expired', 'touched-due')).toEqual(['touched-due.r2']);
  });
});
