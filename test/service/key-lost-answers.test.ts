// Server keys when storage fails part-way: an answer lost after its write landed (the SDK's retry
// is then refused), and a revocation whose clearing of the verified tags failed. A key that landed
// is the caller's, a revoked key never posts again, and a decision or revocation that landed is
// reported and audited as this call's, and a re-enrolment request that landed is the one answered
// and audited. Also: a request past its time cannot be decided.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyTagOf, tableNames } from '../../src/store';
import { fqdn, pausedWrites } from '../support/enrolment-client';
import { lostAnswers, refusedWrites } from '../support/faults';
import { alertRecords, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

interface Reply {
  readonly status: number;
  readonly body: Json;
}

function client(stack: TestStack) {
  const call = async (method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await fetch(`${stack.baseUrl}/api/${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
  };
  return {
    call,
    enrol: (host: string, headers: Record<string, string> = {}) => call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: host, fqdn: fqdn(host) } }, headers),
    post: (key: string, host: string, collectedAt: number) => call('POST', 'snapshots', key, snapshot({ host, collectedAt })),
  };
}

/** The next transaction on the ServerKeys table lands, and its answer is lost. */
const keysBatch = (stack: TestStack) => {
  const table = tableNames(stack.settings.tablePrefix).serverKeys;
  return (r: { url: string; body: string }) => r.url.endsWith('$batch') && r.body.includes(`/${table}`);
};

describe('an issue whose answer was lost, in approval mode', () => {
  const lose = lostAnswers('testLoseKeyIssue');
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, storagePolicies: [lose.policy] });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('hands a first enrolment the key that landed', async () => {
    lose.when = keysBatch(stack);
    const r = await c.enrol('LOST01');
    expect(lose.when).toBeUndefined();
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const keys = await stack.app.keyStore.listKeys(fqdn('LOST01'));
    expect(keys.filter((k) => k.status === 'active').map((k) => k.keyId)).toEqual([r.body.keyId]);
    expect((await c.post(r.body.key, 'LOST01', Date.now() - 60_000)).status).toBe(201);
  });

  it('hands a renewal with the current key its new key', async () => {
    const first = await c.enrol('LOST02');
    expect(first.status).toBe(201);
    lose.when = keysBatch(stack);
    const renew = await c.enrol('LOST02', { 'x-server-key': first.body.key });
    expect(renew.status, JSON.stringify(renew.body)).toBe(201);
    expect(renew.body.replaced).toEqual([first.body.keyId]);
    expect((await c.post(renew.body.key, 'LOST02', Date.now() - 60_000)).status).toBe(201);
  });

  it('hands an approved claim its key, without a second request', async () => {
    expect((await c.enrol('LOST03')).status).toBe(201);
    const asked = await c.enrol('LOST03');
    expect(asked.status).toBe(202);
    expect((await c.call('POST', `servers/${fqdn('LOST03')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    lose.when = keysBatch(stack);
    const collect = await c.enrol('LOST03', { 'x-enrolment-claim': asked.body.claim });
    expect(collect.status, JSON.stringify(collect.body)).toBe(201);
    expect((await c.post(collect.body.key, 'LOST03', Date.now() - 60_000)).status).toBe(201);
  });

  it('hands the resend of a first enrolment whose answer never arrived its key, and the key nobody got stops working', async () => {
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const lost = await c.enrol('LOST04', proof);
    expect(lost.status).toBe(201);
    // Its caller never got that answer (a timeout, a dropped connection), and sends the same enrolment again.
    const again = await c.enrol('LOST04', proof);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.replaced).toEqual([lost.body.keyId]);
    const keys = await stack.app.keyStore.listKeys(fqdn('LOST04'));
    expect(keys.filter((k) => k.status === 'active').map((k) => k.keyId)).toEqual([again.body.keyId]);
    expect((await c.post(again.body.key, 'LOST04', Date.now() - 60_000)).status).toBe(201);
    expect((await c.post(lost.body.key, 'LOST04', Date.now() - 30_000)).body.error).toBe('key_revoked');
    // Still the first enrolment: no re-enrolment alert, no request for an admin.
    const issued = alertRecords(stack).filter((x) => x.name === 'FleetPosture.ServerKeyIssued' && x.fields.server === fqdn('LOST04'));
    expect(issued.map((x) => [x.fields.reason, x.fields.grant])).toEqual([
      ['enrolment', null],
      ['enrolment', 'same-request'],
    ]);
    expect(alertRecords(stack).filter((x) => x.name === 'FleetPosture.ReenrolmentRequested' && x.fields.server === fqdn('LOST04'))).toEqual([]);
  });

  it('hands the resend of a collected claim whose answer never arrived its key, without a second request', async () => {
    expect((await c.enrol('LOST08')).status).toBe(201);
    const asked = await c.enrol('LOST08');
    expect((await c.call('POST', `servers/${fqdn('LOST08')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    const proof = { 'x-enrolment-claim': asked.body.claim, 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const lost = await c.enrol('LOST08', proof);
    expect(lost.status).toBe(201);
    // The claim is spent; the request secret is what proves the resend is the same caller's.
    const again = await c.enrol('LOST08', proof);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.replaced).toEqual([lost.body.keyId]);
    expect((await c.post(again.body.key, 'LOST08', Date.now() - 60_000)).status).toBe(201);
    expect(alertRecords(stack).filter((x) => x.name === 'FleetPosture.ReenrolmentRequested' && x.fields.server === fqdn('LOST08'))).toHaveLength(1);
  });

  it('gives no one else that key: another caller, without the request secret or with its own, only files a request', async () => {
    const first = await c.enrol('LOST05', { 'x-enrolment-request': randomBytes(32).toString('base64url') });
    expect(first.status).toBe(201);
    expect((await c.enrol('LOST05')).status).toBe(202);
    expect((await c.enrol('LOST05', { 'x-enrolment-request': randomBytes(32).toString('base64url') })).status).toBe(202);
    const keys = await stack.app.keyStore.listKeys(fqdn('LOST05'));
    expect(keys.filter((k) => k.status === 'active').map((k) => k.keyId)).toEqual([first.body.keyId]);
    expect((await c.post(first.body.key, 'LOST05', Date.now() - 60_000)).status).toBe(201);
  });

  it('no longer takes the request secret once another key replaced the one it issued', async () => {
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    expect((await c.enrol('LOST06', proof)).status).toBe(201);
    expect((await c.call('POST', `servers/${fqdn('LOST06')}/key/rotate`, TEST_KEYS.admin)).status).toBe(201);
    expect((await c.enrol('LOST06', proof)).status).toBe(202);
  });

  it('refuses a malformed request secret (400) and issues nothing', async () => {
    const r = await c.enrol('LOST07', { 'x-enrolment-request': 'short' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_enrolment');
    expect(await stack.app.keyStore.listKeys(fqdn('LOST07'))).toEqual([]);
  });

  it('answers a re-enrolment request that landed with its claim, audited once, not replaced by a second request', async () => {
    expect((await c.enrol('LREQ1')).status).toBe(201);
    lose.when = keysBatch(stack);
    const asked = await c.enrol('LREQ1');
    expect(lose.when).toBeUndefined();
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const requested = alertRecords(stack).filter((x) => x.name === 'FleetPosture.ReenrolmentRequested' && x.fields.server === fqdn('LREQ1'));
    expect(requested.map((x) => [x.fields.requestId, x.fields.replaces])).toEqual([[asked.body.requestId, null]]);
    const { requests, replaced } = await stack.app.keyStore.keyPartition(fqdn('LREQ1'));
    expect([requests.map((r) => [r.requestId, r.state]), replaced]).toEqual([[[asked.body.requestId, 'pending']], []]);
  });

  it('reports and audits a revocation and an approval that landed as this call\'s', async () => {
    const e = await c.enrol('LREV1');
    lose.when = keysBatch(stack);
    const r = await c.call('DELETE', `servers/${fqdn('LREV1')}/key`, TEST_KEYS.admin);
    expect(r.status).toBe(200);
    expect(r.body.revoked).toEqual([e.body.keyId]);
    const revoked = alertRecords(stack).filter((x) => x.name === 'FleetPosture.ServerKeyRevoked' && x.fields.server === fqdn('LREV1'));
    expect(revoked.map((x) => x.fields.revoked)).toEqual([e.body.keyId]);

    expect((await c.enrol('LDEC1')).status).toBe(201);
    const asked = await c.enrol('LDEC1');
    lose.when = (q) => q.method === 'PUT' && q.url.includes(tableNames(stack.settings.tablePrefix).serverKeys) && q.url.includes('~request');
    const d = await c.call('POST', `servers/${fqdn('LDEC1')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin);
    expect(lose.when).toBeUndefined();
    expect(d.status).toBe(200);
    expect(d.body.state).toBe('approved');
    expect(alertRecords(stack).filter((x) => x.name === 'FleetPosture.ReenrolmentDecided' && x.fields.server === fqdn('LDEC1'))).toHaveLength(1);
  });
});

describe('a revocation whose clearing of the verified tags failed', () => {
  const refuse = refusedWrites('testRefuseResultsWrites');
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [refuse.policy] });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('leaves the revoked key refused once the key is rotated', async () => {
    const key = (await c.enrol('TAGR1')).body.key as string;
    const t0 = Date.now() - 60 * 60_000;
    expect((await c.post(key, 'TAGR1', t0)).status).toBe(201);
    expect((await c.post(key, 'TAGR1', t0 + 60_000)).status).toBe(201);
    expect(keyTagOf(await stack.app.store.readServer(fqdn('TAGR1')))).toBeDefined();

    refuse.table = tableNames(stack.settings.tablePrefix).results;
    refuse.on = true;
    const revoke = await c.call('DELETE', `servers/${fqdn('TAGR1')}/key?reenrol=deny`, TEST_KEYS.admin);
    refuse.on = false;
    expect(revoke.status).toBe(503);
    expect(revoke.body.message).not.toMatch(/nothing was stored/);
    expect((await c.call('POST', `servers/${fqdn('TAGR1')}/key/rotate`, TEST_KEYS.admin)).status).toBe(201);
    const thief = await c.post(key, 'TAGR1', t0 + 120_000);
    expect(thief.status).toBe(401);
    expect(thief.body.error).toBe('key_revoked');
  });
});

describe('a slow attempt of an enrolment whose later attempt got the key', () => {
  const { pause, policy } = pausedWrites();
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, storagePolicies: [policy] });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('issues none (409 enrolment_superseded), and the key the caller holds keeps working', async () => {
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    let retry: Reply | undefined;
    // The first attempt stalls at its key write; its caller gives up and sends the enrolment again, which lands.
    pause.when = (_method, url, body) => keysBatch(stack)({ url, body });
    pause.during = async () => void (retry = await c.enrol('SLOW01', proof));
    const slow = await c.enrol('SLOW01', proof);
    expect(retry?.status).toBe(201);
    expect(slow.status, JSON.stringify(slow.body)).toBe(409);
    expect(slow.body.error).toBe('enrolment_superseded');
    const keys = await stack.app.keyStore.listKeys(fqdn('SLOW01'));
    expect(keys.filter((k) => k.status === 'active').map((k) => k.keyId)).toEqual([retry!.body.keyId]);
    expect((await c.post(retry!.body.key, 'SLOW01', Date.now() - 60_000)).status).toBe(201);
  });
});

describe('a decision on a request past its time', () => {
  let now = Date.now();
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, clock: () => now });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('takes a request secret no more once its key posted, nor past 7 days from the enrolment however often it was resent', async () => {
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const first = await c.enrol('TTL01', proof);
    expect(first.status).toBe(201);
    // Resent within the 7 days, and resent again: each resend's key keeps the first key's time.
    now += 4 * 24 * 60 * 60_000;
    const again = await c.enrol('TTL01', proof);
    expect(again.status).toBe(201);
    now += 4 * 24 * 60 * 60_000;
    expect((await c.enrol('TTL01', proof)).status).toBe(202);
    // A key that posted reached its caller: the secret is spent.
    const used = await c.enrol('TTL02', proof);
    expect((await c.post(used.body.key, 'TTL02', now - 60_000)).status).toBe(201);
    expect((await c.enrol('TTL02', proof)).status).toBe(202);
    const active = (await stack.app.keyStore.listKeys(fqdn('TTL02'))).filter((k) => k.status === 'active');
    expect(active.map((k) => k.keyId)).toEqual([used.body.keyId]);
  });

  it('is refused (409 request_closed) and changes nothing', async () => {
    expect((await c.enrol('EXP01')).status).toBe(201);
    const asked = await c.enrol('EXP01');
    expect(asked.status).toBe(202);
    now += 8 * 24 * 60 * 60_000;
    const r = await c.call('POST', `servers/${fqdn('EXP01')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin);
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('request_closed');
    expect(r.body.message).toMatch(/has expired/);
    expect((await stack.app.keyStore.getRequest(fqdn('EXP01'), asked.body.requestId))?.state).toBe('pending');
    expect(alertRecords(stack).filter((x) => x.name === 'FleetPosture.ReenrolmentDecided')).toHaveLength(0);
  });
});
