// A waiver write that landed but whose answer was lost: the SDK's retry is refused (a conflict), yet
// the change is this request's, so it is answered as stored, with its audit event and the alerts it
// hands back, with If-Match or without. On Azurite over real HTTP, with an injected clock and a
// storage policy that loses a write's answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { lostAnswers } from '../support/faults';
import { alertRecords, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const now = Date.parse('2026-11-28T00:00:00.000Z');
let stack: TestStack;
const lose = lostAnswers('testLoseWaiverAnswer');
const server = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

interface Reply {
  readonly status: number;
  readonly body: Json;
  readonly etag: string | null;
}

const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
  const r = await stack.request(path, {
    method,
    key: 'admin',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json, etag: r.headers.get('etag') };
};

const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  justification: 'Port 25 blocking is accepted until the relay migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(now + DAY).toISOString(),
  ...o,
});

/** A write of a waiver to the Waivers table whose body holds `text`. */
const waiverWrite = (text: string) => (method: string, url: string, body: string) =>
  method === 'PUT' && decodeURIComponent(url).includes(`/${tableNames(stack.settings.tablePrefix).waivers}(`) && body.includes(text);

const audit = async (cause: string, id: string) => (await getAll(stack, `events?cause=${cause}`)).items.filter((e: Json) => e.waiverId === id).map((e: Json) => e.snapshotId);
const reRaised = (id: string) => alertRecords(stack).filter((r) => r.name === 'FleetPosture.WaiverExpired' && r.fields.waiverId === id).map((r) => [r.fields.server, r.fields.reason]);

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now, storagePolicies: [lose.policy] });
  for (const host of ['LOST1', 'LOST2']) expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: now - MIN }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

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
