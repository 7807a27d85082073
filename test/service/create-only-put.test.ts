// If-None-Match: * on the PUTs of records an admin edits (waivers, drift baselines): the PUT creates
// or is refused (412), never replaces what another admin made, also when both send it at once; the
// refusal changes nothing and says how to change the record instead. Any other If-None-Match on a
// PUT is refused, and nothing is stored. On Azurite over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, serverIdOf } from '../support/drift';
import { adminCall, getAll, post, type Json } from '../support/http';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { startTestStack, type TestStack } from '../support/stack';

const DAY = 24 * 60 * 60_000;
const CREATE_ONLY = { 'If-None-Match': '*' };
let stack: TestStack;

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(stack, method, path, body, headers);
const waiver = (justification: string) => ({
  rule: DRIFT_RULE,
  serverPattern: 'only*.corp.contoso.com',
  justification,
  grantedBy: 'ciso@contoso.com',
  expiresAt: new Date(Date.now() + DAY).toISOString(),
});
const inForce = (what: string, etag: string) => `${what} is in force already (at ${etag}), and If-None-Match: * only creates, so nothing was changed; read it, and change it with If-Match if that is what you meant.`;
/** The audit events of waiver `id` for `cause` (waiver-created, waiver-changed, …). */
const audits = async (cause: string, id: string) => (await getAll(stack, `events?cause=${cause}`)).items.filter((e: Json) => e.waiverId === id);

beforeAll(async () => {
  stack = await startTestStack();
  for (const host of ['ONLY1', 'ONLY2']) {
    expect((await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60_000))).status).toBe(201);
  }
}, 60_000);
afterAll(async () => stack?.stop());

describe('waivers: If-None-Match: * creates, never replaces', () => {
  it('creates a new waiver (201), then refuses the same PUT (412) and leaves the first as it was', async () => {
    const first = await send('PUT', 'waivers/once', waiver('Admin A.'), CREATE_ONLY);
    expect([first.status, first.etag]).toEqual([201, '"1"']);
    const second = await send('PUT', 'waivers/once', waiver('Admin B.'), CREATE_ONLY);
    expect(second).toEqual({ status: 412, etag: null, body: { error: 'precondition_failed', message: inForce('Waiver once', '"1"') } });
    const read = await send('GET', 'waivers/once');
    expect([read.body.justification, read.etag]).toEqual(['Admin A.', '"1"']);
  });

  it('of eight admins creating one waiver at once, one creates it and seven are refused; one audit event', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => send('PUT', 'waivers/race', waiver(`Admin ${i}.`), CREATE_ONLY)));
    const created = replies.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    expect(replies.filter((r) => r.status === 412).map((r) => r.body.message)).toEqual(Array(7).fill(inForce('Waiver race', '"1"')));
    const read = await send('GET', 'waivers/race');
    expect([read.body.justification, read.etag]).toEqual([created[0]!.body.justification, '"1"']);
    expect(await audits('waiver-created', 'race')).toHaveLength(1);
    expect(await audits('waiver-changed', 'race')).toHaveLength(0);
  });

  it('creates anew over a waiver that was ended: none is in force', async () => {
    expect((await send('PUT', 'waivers/again', waiver('First grant.'), CREATE_ONLY)).status).toBe(201);
    expect((await send('DELETE', 'waivers/again')).status).toBe(200);
    const renewed = await send('PUT', 'waivers/again', waiver('Second grant.'), CREATE_ONLY);
    expect([renewed.status, renewed.body.justification, renewed.body.state]).toEqual([201, 'Second grant.', 'active']);
  });

  it('refuses any other If-None-Match on a PUT (400) and stores nothing', async () => {
    for (const value of ['"1"', 'W/"1"', '*, "1"']) {
      const r = await send('PUT', 'waivers/never', waiver('Never stored.'), { 'If-None-Match': value });
      expect(r.status, value).toBe(400);
      expect(r.body).toEqual({ error: 'invalid_query', message: `If-None-Match on a PUT takes only * (create, never replace), not ${value}.` });
    }
    expect((await send('GET', 'waivers/never')).status).toBe(404);
  });
});

describe('baselines: If-None-Match: * names one only where none is named', () => {
  it('names the baseline (201), then refuses another server and the same one alike (412), unchanged', async () => {
    const path = `baselines/${DRIFT_RULE}`;
    const named = await send('PUT', path, { server: serverIdOf('ONLY1'), setBy: 'alice' }, CREATE_ONLY);
    expect([named.status, named.body.server]).toEqual([201, serverIdOf('ONLY1')]);
    for (const host of ['ONLY2', 'ONLY1']) {
      const refused = await send('PUT', path, { server: serverIdOf(host), setBy: 'bob' }, CREATE_ONLY);
      expect(refused.body, host).toEqual({ error: 'precondition_failed', message: inForce(`The baseline of ${DRIFT_RULE}`, named.etag!) });
    }
    const read = await send('GET', path);
    expect([read.body.server, read.body.setBy, read.etag]).toEqual([serverIdOf('ONLY1'), 'alice', named.etag]);
    // Cleared, none is named: the create-only PUT names one again.
    expect((await send('DELETE', path)).status).toBe(200);
    expect((await send('PUT', path, { server: serverIdOf('ONLY2'), setBy: 'bob' }, CREATE_ONLY)).status).toBe(201);
  });
});
