// Two edges of the re-enrolment requests (POSTURE_REENROLMENT=approval), on Azurite over real HTTP.
// A request row in a state this version does not know (a newer version wrote it during a rolling
// deploy) is acted on by nobody here. And a new key issued while an admin decides a request of the
// same server: whichever write lands first, what the admin is told stays true.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey } from '../../src/store';
import { enrolmentClient, fqdn, pausedWrites, recordsOf, serverKeysTable, type Reply } from '../support/enrolment-client';
import type { Json } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const { pause, policy } = pausedWrites();
const admin = TEST_KEYS.admin;

describe('re-enrolment requests: unknown states and the issue/decision race', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, storagePolicies: [policy] });
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  /** Every row of the server's ServerKeys partition, ETags included, by row key. */
  const partition = async (host: string) => {
    const table = serverKeysTable(stack);
    const pk = encodeKey(fqdn(host));
    const rows: Record<string, Json> = {};
    for await (const e of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) rows[String(e.rowKey)] = e;
    return rows;
  };
  const requestRow = async (host: string, requestId: string) => (await partition(host))[`~request.${requestId}`];
  /** Writes a State this version does not know on a request, as a newer version would. */
  const setState = (host: string, requestId: string, state: string) =>
    serverKeysTable(stack).updateEntity({ partitionKey: encodeKey(fqdn(host)), rowKey: `~request.${requestId}`, State: state }, 'Merge');
  const listed = async (host: string, state: string) =>
    ((await c.call('GET', `enrolments?state=${state}`, admin)).body.items as Json[]).filter((i) => i.server === fqdn(host)).map((i) => i.requestId as string);
  const decide = (host: string, requestId: string, decision: 'approve' | 'deny') => c.call('POST', `servers/${fqdn(host)}/enrolments/${requestId}/${decision}`, admin);

  it('a request in a state this version does not know is listed nowhere, and approving, denying or collecting it answers 409 naming the state, changing nothing', async () => {
    expect((await c.enrol('UNK1')).status).toBe(201);
    const asked = await c.enrol('UNK1');
    expect(asked.status).toBe(202);
    await setState('UNK1', asked.body.requestId, 'collected');
    const before = await partition('UNK1');

    for (const state of ['pending', 'approved', 'denied']) expect(await listed('UNK1', state)).toEqual([]);
    expect((await c.refused()).map((s) => s.server)).not.toContain(fqdn('UNK1'));

    const unknown = (action: string) =>
      `The re-enrolment request "${asked.body.requestId}" of ${fqdn('UNK1')} is in the state "collected", which this version of the service does not know, so it cannot be ${action} here and nothing was changed.`;
    for (const [decision, action] of [
      ['approve', 'approved'],
      ['deny', 'denied'],
    ] as const) {
      const answer = await decide('UNK1', asked.body.requestId, decision);
      expect(answer).toEqual({ status: 409, body: { error: 'unknown_request_state', message: unknown(action) } });
    }
    // The requester keeps its claim (a 409 does not clear it) and is handed neither a key nor a new request.
    const claimed = await c.enrol('UNK1', { 'x-enrolment-claim': asked.body.claim });
    expect(claimed).toEqual({ status: 409, body: { error: 'unknown_request_state', message: unknown('collected') } });
    // A claim with the wrong secret is still refused as not its requester's, before the state is told.
    expect((await c.enrol('UNK1', { 'x-enrolment-claim': `${asked.body.requestId}.${'A'.repeat(43)}` })).status).toBe(403);

    expect(await partition('UNK1')).toEqual(before);
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentDecided', fqdn('UNK1'))).toEqual([]);
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentRequested', fqdn('UNK1'))).toHaveLength(1);
  });

  it('a request in an unknown state counts like a decided one: the same requester asking again files a request beside it, and past five open ones it gives way', async () => {
    const first = await c.enrol('UNK2');
    expect(first.status).toBe(201);
    const asked = await c.enrol('UNK2');
    await setState('UNK2', asked.body.requestId, 'collected');
    // The same requester without a claim: a pending request of it would be replaced; this one is not pending.
    const again = await c.enrol('UNK2');
    expect(again.status).toBe(202);
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentRequested', fqdn('UNK2')).map((r) => r.fields.replaces)).toEqual([null, null]);
    expect((await requestRow('UNK2', asked.body.requestId)).State).toBe('collected');
    expect(await listed('UNK2', 'pending')).toEqual([again.body.requestId]);

    // Four more from other addresses make six: the oldest not approved, the unknown one, gives way.
    const more: Reply[] = [];
    for (let i = 0; i < 4; i++) more.push(await c.enrol('UNK2', { 'x-forwarded-for': `198.51.100.${i + 1}` }));
    expect(more.map((m) => m.status)).toEqual([202, 202, 202, 202]);
    expect(await requestRow('UNK2', asked.body.requestId)).toMatchObject({ State: 'replaced', ReplacedReason: 'limit', ReplacedBy: more[3]!.body.requestId });
    expect((await listed('UNK2', 'pending')).sort()).toEqual([again.body.requestId, ...more.map((m) => m.body.requestId)].sort());
  });

  it('a decision that merely names a property every object has (constructor, __proto__, toString) is no action: 404, the request left pending', async () => {
    expect((await c.enrol('PROTO1')).status).toBe(201);
    const asked = await c.enrol('PROTO1');
    expect(asked.status).toBe(202);
    const before = await partition('PROTO1');
    for (const decision of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty']) {
      const answer = await c.call('POST', `servers/${fqdn('PROTO1')}/enrolments/${asked.body.requestId}/${decision}`, admin);
      expect(answer, decision).toEqual({ status: 404, body: { error: 'not_found', message: `There is no action "${decision.toLowerCase()}"; use approve or deny.` } });
    }
    expect(await partition('PROTO1')).toEqual(before);
    expect((await decide('PROTO1', asked.body.requestId, 'approve')).status).toBe(200);
  });

  it('a new key settles a request in an unknown state too, under the ETag it was read with', async () => {
    const first = await c.enrol('UNK3');
    const asked = await c.enrol('UNK3');
    await setState('UNK3', asked.body.requestId, 'collected');
    const renewed = await c.enrol('UNK3', { 'x-server-key': first.body.key });
    expect(renewed.status).toBe(201);
    expect(await requestRow('UNK3', asked.body.requestId)).toMatchObject({ State: 'replaced', ReplacedReason: 'key', ReplacedBy: renewed.body.keyId });
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('UNK3')).at(-1)?.fields).toMatchObject({ keyId: renewed.body.keyId, settled: asked.body.requestId });
  });

  /** A new key for `host` the way `how` says: the collector renewing with its current key, or an admin's rotation. */
  const newKey = (host: string, how: 'current-key' | 'rotation', currentKey: string) =>
    how === 'current-key' ? c.enrol(host, { 'x-server-key': currentKey }) : c.call('POST', `servers/${fqdn(host)}/key/rotate`, admin);

  for (const how of ['current-key', 'rotation'] as const) {
    it(`an approval that lands while a new key (${how}) is being issued stands, and the issue decides again on it: the key settles the approved request, which the admin can see`, async () => {
      const host = how === 'current-key' ? 'RACE1' : 'RACE2';
      const first = await c.enrol(host);
      const asked = await c.enrol(host);
      expect(asked.status).toBe(202);
      // The issue has read the partition (the request pending); its transaction waits while the admin approves.
      let approved: Reply | undefined;
      pause.when = (method, url, body) => url.endsWith('$batch') && body.includes(`~request.${asked.body.requestId}`);
      pause.during = async () => {
        approved = await decide(host, asked.body.requestId, 'approve');
      };
      const issued = await newKey(host, how, first.body.key);
      expect(pause.during).toBeUndefined(); // it fired
      expect(approved).toMatchObject({ status: 200, body: { requestId: asked.body.requestId, state: 'approved' } });
      expect(issued.status).toBe(201);
      expect(issued.body.replaced).toEqual([first.body.keyId]);

      // The first transaction failed on the approved row's ETag; its second, on fresh rows,
      // marked the approved request settled by the new key instead of deleting it unseen.
      expect(await requestRow(host, asked.body.requestId)).toMatchObject({ State: 'replaced', ReplacedReason: 'key', ReplacedBy: issued.body.keyId });
      expect(recordsOf(stack, 'FleetPosture.ReenrolmentDecided', fqdn(host)).map((r) => r.fields.decision)).toEqual(['approved']);
      // The new key's record names the approved request it settled: the audit trail says what became of the approval.
      expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn(host)).map((r) => [r.fields.keyId, r.fields.settled])).toEqual([
        [first.body.keyId, null],
        [issued.body.keyId, asked.body.requestId],
      ]);
      expect((await c.post(issued.body.key, host)).status).toBe(201);

      // Asking about the approved request now tells what became of it; its claim files a new request.
      const later = await decide(host, asked.body.requestId, 'approve');
      expect(later).toEqual({
        status: 409,
        body: {
          error: 'request_replaced',
          message: `The re-enrolment request "${asked.body.requestId}" of ${fqdn(host)} was settled by the key "${issued.body.keyId}" issued to the server before this decision took effect, so nothing was decided; the requester can file a new request.`,
        },
      });
      const refiled = await c.enrol(host, { 'x-enrolment-claim': asked.body.claim });
      expect(refiled.status).toBe(202);
      expect(refiled.body.requestId).not.toBe(asked.body.requestId);
    });
  }

  it('an approval that loses the race to a new key answers 409 request_replaced naming the key, and decides nothing', async () => {
    const first = await c.enrol('RACE3');
    const asked = await c.enrol('RACE3');
    // The approval has read the pending request; its write waits while the collector renews its key.
    let renewed: Reply | undefined;
    pause.when = (method, url) => method === 'PUT' && url.includes(`RowKey='~request.${asked.body.requestId}'`);
    pause.during = async () => {
      renewed = await c.enrol('RACE3', { 'x-server-key': first.body.key });
    };
    const approve = await decide('RACE3', asked.body.requestId, 'approve');
    expect(pause.during).toBeUndefined(); // it fired
    expect(renewed?.status).toBe(201);
    expect(approve).toEqual({
      status: 409,
      body: {
        error: 'request_replaced',
        message: `The re-enrolment request "${asked.body.requestId}" of ${fqdn('RACE3')} was settled by the key "${renewed?.body.keyId}" issued to the server before this decision took effect, so nothing was decided; the requester can file a new request.`,
      },
    });
    // Nothing decided, nothing audited, nothing listed; the renewed key posts.
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentDecided', fqdn('RACE3'))).toEqual([]);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('RACE3')).at(-1)?.fields.settled).toBe(asked.body.requestId);
    expect(await listed('RACE3', 'approved')).toEqual([]);
    expect((await c.refused()).map((s) => s.server)).not.toContain(fqdn('RACE3'));
    expect(await requestRow('RACE3', asked.body.requestId)).toMatchObject({ State: 'replaced', ReplacedReason: 'key', ReplacedBy: renewed?.body.keyId });
    expect((await c.post(renewed?.body.key, 'RACE3')).status).toBe(201);
  });
});
