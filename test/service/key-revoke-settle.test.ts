// Revoking a server's keys closes its re-enrolment requests (POSTURE_REENROLMENT=approval), on
// Azurite over real HTTP: an approved request yields no key after the revocation, and a decision
// racing the revocation either lands first (and is closed by it) or answers 409. Besides: a new
// key clears the last refusal only under the ETag it read, and rows marked replaced or cleared do
// not spend the read limit of the refused-servers listing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, type StoragePolicy } from '../../src/store';
import { refusalToEntity } from '../../src/store/key-partition';
import { enrolmentClient, fqdn, pausedWrites, recordsOf, serverKeysTable, type Reply } from '../support/enrolment-client';
import type { Json } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const admin = TEST_KEYS.admin;

/** A stack in approval mode, its client, and helpers over its ServerKeys table. */
function approvalStack(policies: StoragePolicy[] = []) {
  const s = {} as { stack: TestStack; c: ReturnType<typeof enrolmentClient> };
  beforeAll(async () => {
    s.stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, storagePolicies: policies });
    s.c = enrolmentClient(s.stack);
  });
  afterAll(async () => s.stack?.stop());
  const partition = async (host: string) => {
    const rows: Record<string, Json> = {};
    for await (const e of serverKeysTable(s.stack).listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(fqdn(host))}'` } })) rows[String(e.rowKey)] = e;
    return rows;
  };
  const decide = (host: string, requestId: string, decision: 'approve' | 'deny') => s.c.call('POST', `servers/${fqdn(host)}/enrolments/${requestId}/${decision}`, admin);
  const revoke = (host: string, reenrol: 'allow' | 'deny' = 'allow') => s.c.call('DELETE', `servers/${fqdn(host)}/key?reenrol=${reenrol}`, admin);
  return { s, partition, decide, revoke };
}

const closedClaim = (host: string, requestId: string, at: string) => ({
  status: 409,
  body: {
    error: 'request_closed',
    message: `The re-enrolment request "${requestId}" of ${fqdn(host)} was closed when an admin revoked the keys of the server at ${at}, so it yields no key; enrol again without the claim to file a new request.`,
  },
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('revoking a server key closes its re-enrolment requests', () => {
  const { pause, policy } = pausedWrites();
  const { s, partition, decide, revoke } = approvalStack([policy]);

  it('an approved request cannot be collected after a revocation: its claim answers 409 request_closed, and the revocation record names every request it closed', async () => {
    const { c, stack } = s;
    const first = await c.enrol('RVK1');
    expect(first.status).toBe(201);
    const approvedAsk = await c.enrol('RVK1');
    const pendingAsk = await c.enrol('RVK1', { 'x-forwarded-for': '198.51.100.7' });
    expect([approvedAsk.status, pendingAsk.status]).toEqual([202, 202]);
    expect((await decide('RVK1', approvedAsk.body.requestId, 'approve')).status).toBe(200);

    const revoked = await revoke('RVK1');
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked).toEqual([first.body.keyId]);
    expect([...(revoked.body.settled as string[])].sort()).toEqual([approvedAsk.body.requestId, pendingAsk.body.requestId].sort());
    const record = recordsOf(stack, 'FleetPosture.ServerKeyRevoked', fqdn('RVK1'));
    expect(record).toHaveLength(1);
    expect(String(record[0]!.fields.settled).split(',').sort()).toEqual([approvedAsk.body.requestId, pendingAsk.body.requestId].sort());

    // Both rows are marked closed by the revocation (kept, so a claim learns why it yields nothing).
    const rows = await partition('RVK1');
    const at = String(rows[`~request.${approvedAsk.body.requestId}`]?.ReplacedBy);
    expect(at).toMatch(ISO);
    for (const ask of [approvedAsk, pendingAsk]) expect(rows[`~request.${ask.body.requestId}`]).toMatchObject({ State: 'replaced', ReplacedReason: 'revoked', ReplacedBy: at });

    // The approved claim yields no key, and changes nothing.
    const before = await partition('RVK1');
    expect(await c.enrol('RVK1', { 'x-enrolment-claim': approvedAsk.body.claim })).toEqual(closedClaim('RVK1', approvedAsk.body.requestId, at));
    expect(await partition('RVK1')).toEqual(before);
    // A wrong claim secret is still refused as not its requester's, before anything is told.
    expect((await c.enrol('RVK1', { 'x-enrolment-claim': `${approvedAsk.body.requestId}.${'A'.repeat(43)}` })).status).toBe(403);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('RVK1'))).toHaveLength(1);

    // Deciding the pending one now decides nothing; the lists no longer hold either.
    expect(await decide('RVK1', pendingAsk.body.requestId, 'approve')).toEqual({
      status: 409,
      body: {
        error: 'request_replaced',
        message: `The re-enrolment request "${pendingAsk.body.requestId}" of ${fqdn('RVK1')} was closed when an admin revoked the keys of the server at ${at}, before this decision took effect, so nothing was decided; the requester can file a new request.`,
      },
    });
    for (const state of ['pending', 'approved']) {
      const listed = (await c.call('GET', `enrolments?state=${state}`, admin)).body.items as Json[];
      expect(listed.filter((i) => i.server === fqdn('RVK1'))).toEqual([]);
    }
    const refused = (await c.refused()).find((i) => i.server === fqdn('RVK1'));
    expect(refused).toMatchObject({ reasons: ['no-active-key'], requests: [] });

    // Asking again without the claim files a new request, which needs its own approval.
    const again = await c.enrol('RVK1');
    expect(again.status).toBe(202);
    expect(again.body.requestId).not.toBe(approvedAsk.body.requestId);
  });

  it('a revocation with reenrol=deny closes the requests too; the claim is then refused as blocked', async () => {
    const { c } = s;
    await c.enrol('RVK2');
    const ask = await c.enrol('RVK2');
    expect((await decide('RVK2', ask.body.requestId, 'approve')).status).toBe(200);
    const revoked = await revoke('RVK2', 'deny');
    expect(revoked.body).toMatchObject({ settled: [ask.body.requestId], reenrol: 'deny' });
    expect((await c.enrol('RVK2', { 'x-enrolment-claim': ask.body.claim })).status).toBe(403);
    expect((await partition('RVK2'))[`~request.${ask.body.requestId}`]).toMatchObject({ State: 'replaced', ReplacedReason: 'revoked' });
  });

  it('an approval that lands while the revocation is being written stands; the revocation decides again and closes the approved request', async () => {
    const { c, stack } = s;
    const first = await c.enrol('RVK3');
    const ask = await c.enrol('RVK3');
    let approved: Reply | undefined;
    // The revocation has read the partition (the request pending); its transaction waits while the admin approves.
    pause.when = (method, url, body) => url.endsWith('$batch') && body.includes(`~request.${ask.body.requestId}`);
    pause.during = async () => {
      approved = await decide('RVK3', ask.body.requestId, 'approve');
    };
    const revoked = await revoke('RVK3');
    expect(pause.during).toBeUndefined(); // it fired
    expect(approved).toMatchObject({ status: 200, body: { requestId: ask.body.requestId, state: 'approved' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ revoked: [first.body.keyId], settled: [ask.body.requestId] });

    // Its first transaction failed on the approved row's ETag; the second, on fresh rows, closed it.
    const row = (await partition('RVK3'))[`~request.${ask.body.requestId}`];
    expect(row).toMatchObject({ State: 'replaced', ReplacedReason: 'revoked', DecidedAt: expect.anything() });
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentDecided', fqdn('RVK3')).map((r) => r.fields.decision)).toEqual(['approved']);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyRevoked', fqdn('RVK3')).map((r) => r.fields.settled)).toEqual([ask.body.requestId]);
    expect(await c.enrol('RVK3', { 'x-enrolment-claim': ask.body.claim })).toEqual(closedClaim('RVK3', ask.body.requestId, String(row?.ReplacedBy)));
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('RVK3'))).toHaveLength(1);
  });

  it('an approval that loses the race to a revocation answers 409 request_replaced naming the revocation, and decides nothing', async () => {
    const { c, stack } = s;
    await c.enrol('RVK4');
    const ask = await c.enrol('RVK4');
    let revoked: Reply | undefined;
    // The approval has read the pending request; its write waits while the admin revokes the server's keys.
    pause.when = (method, url) => method === 'PUT' && url.includes(`RowKey='~request.${ask.body.requestId}'`);
    pause.during = async () => {
      revoked = await revoke('RVK4');
    };
    const approve = await decide('RVK4', ask.body.requestId, 'approve');
    expect(pause.during).toBeUndefined(); // it fired
    expect(revoked).toMatchObject({ status: 200, body: { settled: [ask.body.requestId] } });
    const row = (await partition('RVK4'))[`~request.${ask.body.requestId}`];
    expect(row).toMatchObject({ State: 'replaced', ReplacedReason: 'revoked' });
    expect(row?.DecidedAt).toBeUndefined();
    expect(approve).toEqual({
      status: 409,
      body: {
        error: 'request_replaced',
        message: `The re-enrolment request "${ask.body.requestId}" of ${fqdn('RVK4')} was closed when an admin revoked the keys of the server at ${String(row?.ReplacedBy)}, before this decision took effect, so nothing was decided; the requester can file a new request.`,
      },
    });
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentDecided', fqdn('RVK4'))).toEqual([]);
    expect(await c.enrol('RVK4', { 'x-enrolment-claim': ask.body.claim })).toEqual(closedClaim('RVK4', ask.body.requestId, String(row?.ReplacedBy)));
  });

  it('a new key after a revocation removes the closed requests; their claim then files a new request', async () => {
    const { c } = s;
    await c.enrol('RVK5');
    const ask = await c.enrol('RVK5');
    expect((await revoke('RVK5')).status).toBe(200);
    expect((await c.call('POST', `servers/${fqdn('RVK5')}/key/rotate`, admin)).status).toBe(201);
    expect((await partition('RVK5'))[`~request.${ask.body.requestId}`]).toBeUndefined();
    const refiled = await c.enrol('RVK5', { 'x-enrolment-claim': ask.body.claim });
    expect(refiled.status).toBe(202);
    expect(refiled.body.requestId).not.toBe(ask.body.requestId);
  });

  it('a server whose keys storage lost, with only an approved request left, can still be revoked: the request is closed, not collectable', async () => {
    const { c } = s;
    const e = await c.enrol('LOST1');
    expect((await c.post(e.body.key, 'LOST1')).status).toBe(201);
    const table = serverKeysTable(s.stack);
    const pk = encodeKey(fqdn('LOST1'));
    for (const rk of Object.keys(await partition('LOST1'))) await table.deleteEntity(pk, rk);
    const ask = await c.enrol('LOST1');
    expect(ask.status).toBe(202);
    expect((await decide('LOST1', ask.body.requestId, 'approve')).status).toBe(200);
    expect(Object.keys(await partition('LOST1'))).toEqual([`~request.${ask.body.requestId}`]);

    const revoked = await revoke('LOST1', 'deny');
    expect(revoked).toEqual({ status: 200, body: { server: fqdn('LOST1'), revoked: [], settled: [ask.body.requestId], reenrol: 'deny' } });
    // The head it writes carries the block; the approved claim yields no key.
    expect((await partition('LOST1'))['~head']).toMatchObject({ CurrentKeyId: '', ReenrolBlocked: true });
    expect((await c.enrol('LOST1', { 'x-enrolment-claim': ask.body.claim })).status).toBe(403);
    // A server with no rows at all still never enrolled.
    expect((await revoke('NEVER1')).status).toBe(404);
  });

  it('a refusal recorded while a new key is being issued is not deleted unseen: the issue decides again and marks the fresh refusal cleared', async () => {
    const { c } = s;
    const first = await c.enrol('RFS1');
    const rotated = await c.call('POST', `servers/${fqdn('RFS1')}/key/rotate`, admin);
    expect(rotated.status).toBe(201);
    // The replaced key is refused: the refusal is recorded for the admins' list.
    expect((await c.post(first.body.key, 'RFS1')).status).toBe(401);
    const recorded = (await partition('RFS1'))['~refused'];
    expect(recorded).toMatchObject({ KeyId: first.body.keyId, Reason: 'replaced' });
    expect((await c.refused()).find((i) => i.server === fqdn('RFS1'))).toMatchObject({ reasons: ['key-replaced'] });

    // The renewal has read the partition; its transaction waits while another instance records a refusal.
    const later = Date.parse(String(recorded?.RefusedAt)) + 60_000;
    pause.when = (method, url, body) => url.endsWith('$batch') && body.includes('~refused');
    pause.during = async () => {
      await serverKeysTable(s.stack).upsertEntity(refusalToEntity({ server: fqdn('RFS1'), keyId: first.body.keyId, reason: 'replaced', refusedAt: later }), 'Replace');
    };
    const renewed = await c.enrol('RFS1', { 'x-server-key': rotated.body.key });
    expect(pause.during).toBeUndefined(); // it fired
    expect(renewed.status).toBe(201);
    // The row holds the refusal recorded meanwhile, marked cleared by the new key: the second
    // transaction read it (a delete without its ETag would have dropped it unread).
    const row = (await partition('RFS1'))['~refused'];
    expect(row).toMatchObject({ Reason: 'cleared', ClearedBy: renewed.body.keyId, KeyId: first.body.keyId });
    expect(Date.parse(String(row?.RefusedAt))).toBe(later);
    expect((await c.refused()).map((i) => i.server)).not.toContain(fqdn('RFS1'));
    expect((await c.post(renewed.body.key, 'RFS1')).status).toBe(201);
  });
});

describe('the refused-servers listing spends its read limit only on rows that ask for attention', () => {
  const { s, partition, decide, revoke } = approvalStack();

  it('requests marked replaced (by a new key or a revocation) and a cleared refusal are filtered out by the table, not counted against the limit', async () => {
    const { c, stack } = s;
    // MARK1: five requests settled by a new key, and its last refusal cleared by that key.
    const first = await c.enrol('MARK1');
    const rotated = await c.call('POST', `servers/${fqdn('MARK1')}/key/rotate`, admin);
    expect((await c.post(first.body.key, 'MARK1')).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await c.enrol('MARK1', { 'x-forwarded-for': `198.51.100.${i + 1}` })).status).toBe(202);
    expect((await c.enrol('MARK1', { 'x-server-key': rotated.body.key })).status).toBe(201);
    // MARK2: no active key (a revocation), which closed its two requests, one approved.
    await c.enrol('MARK2');
    const asks = [await c.enrol('MARK2'), await c.enrol('MARK2', { 'x-forwarded-for': '198.51.100.9' })];
    expect((await decide('MARK2', asks[0]!.body.requestId, 'approve')).status).toBe(200);
    expect((await revoke('MARK2')).status).toBe(200);

    const rows1 = Object.entries(await partition('MARK1'));
    expect(rows1.filter(([k, r]) => k.startsWith('~request.') && r.State === 'replaced')).toHaveLength(5);
    expect(rows1.find(([k]) => k === '~refused')?.[1]).toMatchObject({ Reason: 'cleared' });
    const rows2 = Object.entries(await partition('MARK2'));
    expect(rows2.filter(([k, r]) => k.startsWith('~request.') && r.ReplacedReason === 'revoked')).toHaveLength(2);

    // Eight special rows exist besides the heads; one row asks for attention: MARK2's head.
    const listed = await stack.app.keyStore.listAttention(1);
    expect(listed.truncated).toBe(false);
    expect(listed.servers.map((x) => [x.server, x.head?.currentKeyId, x.requests.length, x.refusal])).toEqual([[fqdn('MARK2'), '', 0, undefined]]);
    const refused = await c.refused();
    expect(refused.map((i) => [i.server, i.reasons])).toEqual([[fqdn('MARK2'), ['no-active-key']]]);
  });
});
