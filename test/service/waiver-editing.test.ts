// Editing waivers over HTTP as people do: what GET answers is sent back with PUT, two admins editing
// one waiver are told apart by ETag and If-Match, and a PUT says how many known servers it covers,
// warning when that is none (a host-name pattern where servers are known by their FQDN).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { pausedWrites } from '../support/enrolment-client';
import { adminCall, alertRecords, post, type Json, type Reply } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const DAY = 24 * 60 * 60_000;
let stack: TestStack;
const { pause, policy } = pausedWrites();
const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, path, body, headers);

const waiver = (o: Record<string, unknown> = {}) => ({
  rule: 'test-alpha',
  serverPattern: 'edit0?.corp.contoso.com',
  justification: 'The edit servers relay through the edge until the migration.',
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(Date.now() + 7 * DAY).toISOString(),
  ...o,
});

/** What a PUT sets, as GET shows it: a round trip must leave each as it was. */
const settable = (w: Json) => ({ rule: w.rule, server: w.server, serverPattern: w.serverPattern, justification: w.justification, grantedBy: w.grantedBy, expiresAt: w.expiresAt, grantedAt: w.grantedAt, state: w.state });

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [policy] });
  for (const host of ['EDIT01', 'EDIT02']) expect((await post(stack, snapshot({ host, testState: 'Warning' }))).status).toBe(201);
});
afterAll(async () => stack?.stop());

describe('a waiver read with GET and sent back with PUT', () => {
  it('is taken as it is, read-only fields and the null of the missing server included, and changes nothing it shows', async () => {
    expect((await send('PUT', 'waivers/round-pattern', waiver())).status).toBe(201);
    expect((await send('PUT', 'waivers/round-server', waiver({ serverPattern: undefined, server: fqdn('EDIT01') }))).status).toBe(201);
    for (const id of ['round-pattern', 'round-server']) {
      const read = await send('GET', `waivers/${id}`);
      expect(read.status).toBe(200);
      const again = await send('PUT', `waivers/${id}`, read.body);
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      expect(settable(again.body)).toEqual(settable(read.body));
      expect(again.body.revision).toBe(read.body.revision + 1);
      // Without its read-only fields too, and with only the missing one of server and pattern as null.
      const { grantedAt, changedAt, state, endedAt, revision, ...bare } = read.body as Record<string, unknown>;
      expect([grantedAt, changedAt, state, endedAt, revision]).not.toContain(undefined);
      expect((await send('PUT', `waivers/${id}`, bare)).status).toBe(200);
      expect(settable((await send('GET', `waivers/${id}`)).body)).toEqual(settable(read.body));
    }
    // Nothing it covered was handed back: the waiver covers what it covered before.
    expect(alertRecords(stack).filter((r) => r.name === 'FleetPosture.WaiverExpired')).toEqual([]);
  });

  it('still refuses a field a waiver does not have, and a body with both server and pattern null', async () => {
    const typo = await send('PUT', 'waivers/round-typo', waiver({ justifcation: 'typo' }));
    expect(typo.status).toBe(400);
    expect(typo.body.message).toMatch(/Unknown field "justifcation"/);
    const neither = await send('PUT', 'waivers/round-typo', waiver({ serverPattern: null, server: null }));
    expect(neither.status).toBe(400);
    expect(neither.body.message).toMatch(/exactly one of "server"/);
    expect((await send('GET', 'waivers/round-typo')).status).toBe(404);
  });
});

describe('two admins editing one waiver', () => {
  it('are told apart by ETag: a PUT or DELETE with an If-Match that no longer holds is 412 and changes nothing', async () => {
    const created = await send('PUT', 'waivers/shared', waiver());
    expect(created.status).toBe(201);
    const read = await send('GET', 'waivers/shared');
    expect(read.etag).toBeTruthy();
    expect(read.etag).toBe(created.etag);

    const first = await send('PUT', 'waivers/shared', { ...read.body, justification: 'First admin: until CHG-1.' }, { 'If-Match': read.etag! });
    expect(first.status).toBe(200);
    expect(first.etag).toBeTruthy();
    expect(first.etag).not.toBe(read.etag);

    const second = await send('PUT', 'waivers/shared', { ...read.body, justification: 'Second admin: until CHG-2.' }, { 'If-Match': read.etag! });
    expect(second.status).toBe(412);
    expect(second.body.error).toBe('precondition_failed');
    expect(second.body.message).toMatch(/nothing was changed/);
    const removed = await send('DELETE', 'waivers/shared', undefined, { 'If-Match': read.etag! });
    expect(removed.status).toBe(412);
    const now = await send('GET', 'waivers/shared');
    expect(now.body.justification).toBe('First admin: until CHG-1.');
    expect(now.body.state).toBe('active');
    expect(now.etag).toBe(first.etag);

    const ended = await send('DELETE', 'waivers/shared', undefined, { 'If-Match': now.etag! });
    expect(ended.status).toBe(200);
    expect(ended.body.state).toBe('deleted');
    expect(ended.etag).toBe((await send('GET', 'waivers/shared')).etag);
  });

  it('refuses (412) a change whose If-Match held when read but not when written: another change landed in between', async () => {
    const read = await send('PUT', 'waivers/raced', waiver());
    expect(read.status).toBe(201);
    let other: Reply | undefined;
    const table = tableNames(stack.settings.tablePrefix).waivers;
    pause.when = (method, url, body) => method === 'PUT' && url.includes(`/${table}(`) && body.includes('Slow admin');
    pause.during = async () => {
      other = await send('PUT', 'waivers/raced', { ...read.body, justification: 'Quick admin.' });
    };
    const slow = await send('PUT', 'waivers/raced', { ...read.body, justification: 'Slow admin.' }, { 'If-Match': read.etag! });
    expect(pause.when).toBeUndefined();
    expect(other?.status).toBe(200);
    expect(slow.status, JSON.stringify(slow.body)).toBe(412);
    expect(slow.body.error).toBe('precondition_failed');
    expect((await send('GET', 'waivers/raced')).body.justification).toBe('Quick admin.');
  });

  it('If-Match: * requires the waiver to exist; without If-Match a PUT goes ahead as before', async () => {
    const none = await send('PUT', 'waivers/star', waiver(), { 'If-Match': '*' });
    expect(none.status).toBe(412);
    expect(none.body.error).toBe('precondition_failed');
    expect((await send('GET', 'waivers/star')).status).toBe(404);
    expect((await send('PUT', 'waivers/star', waiver())).status).toBe(201);
    expect((await send('PUT', 'waivers/star', waiver({ justification: 'Changed by a star.' }), { 'If-Match': '*' })).status).toBe(200);
    expect((await send('PUT', 'waivers/star', waiver({ justification: 'Changed blindly.' }))).status).toBe(200);
    expect((await send('GET', 'waivers/star')).body.justification).toBe('Changed blindly.');
  });
});

describe('the servers a PUT covers', () => {
  it('are counted in the answer', async () => {
    const r = await send('PUT', 'waivers/cover-fqdn', waiver({ serverPattern: 'EDIT0?.*' }));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ coveredServers: 2, coveredServersAtLeast: false, warnings: [] });
    const one = await send('PUT', 'waivers/cover-one', waiver({ serverPattern: undefined, server: 'EDIT02' }));
    expect(one.body).toMatchObject({ server: fqdn('EDIT02'), coveredServers: 1, warnings: [] });
  });

  it('when none, are a warning naming the FQDN pattern that would cover them; the waiver is stored all the same', async () => {
    const r = await send('PUT', 'waivers/cover-host', waiver({ serverPattern: 'edit0?' }));
    expect(r.status).toBe(201);
    expect(r.body.coveredServers).toBe(0);
    expect(r.body.warnings).toHaveLength(1);
    expect(r.body.warnings[0].code).toBe('covers_no_server');
    expect(r.body.warnings[0].message).toMatch(/"edit0\?\.\*" would cover 2 /);
    expect((await send('GET', 'waivers/cover-host')).body.state).toBe('active');

    const typo = await send('PUT', 'waivers/cover-typo', waiver({ serverPattern: 'eidt*' }));
    expect(typo.status).toBe(201);
    expect(typo.body.coveredServers).toBe(0);
    expect(typo.body.warnings.map((w: Json) => w.code)).toEqual(['covers_no_server']);
    expect(typo.body.warnings[0].message).toMatch(/no server id matches it/);

    const early = await send('PUT', 'waivers/cover-early', waiver({ serverPattern: undefined, server: fqdn('EDIT09') }));
    expect(early.status).toBe(201);
    expect(early.body.coveredServers).toBe(0);
    expect(early.body.warnings[0].message).toMatch(/has posted yet/);
  });
});
