// A re-enrolment request whose 202 answer (and so its claim) never reached the collector, in
// approval mode, on Azurite over real HTTP. The collector resends with the request secret it made
// for that enrolment; meanwhile an admin decided the request. The resend must get what the decision
// gave (the key once, or the denial), not file a second request for the admin to decide again.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentClient, fqdn, recordsOf } from '../support/enrolment-client';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

describe('the resend of a re-enrolment whose pending answer was lost', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' } });
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  const decide = (host: string, requestId: string, decision: 'approve' | 'deny') =>
    c.call('POST', `servers/${fqdn(host)}/enrolments/${requestId}/${decision}`, TEST_KEYS.admin);
  const requested = (host: string) => recordsOf(stack, 'FleetPosture.ReenrolmentRequested', fqdn(host));

  it('collects the key an admin approved meanwhile, once, without filing a second request', async () => {
    expect((await c.enrol('PEND01')).status).toBe(201);
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const lost = await c.enrol('PEND01', proof);
    expect(lost.status).toBe(202);
    expect((await decide('PEND01', lost.body.requestId, 'approve')).status).toBe(200);

    const resend = await c.enrol('PEND01', proof);
    expect(resend.status, JSON.stringify(resend.body)).toBe(201);
    expect(requested('PEND01')).toHaveLength(1);
    const issued = recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('PEND01')).at(-1);
    expect([issued?.fields.reason, issued?.fields.grant, issued?.fields.settled]).toEqual(['re-enrolment', 'admin-approval', lost.body.requestId]);
    expect((await stack.app.keyStore.getRequest(fqdn('PEND01'), lost.body.requestId))?.state).toBe('replaced');
    expect((await c.post(resend.body.key, 'PEND01')).status).toBe(201);

    // The approval is spent: the same secret again (its key posted) only files a new request.
    const again = await c.enrol('PEND01', proof);
    expect(again.status).toBe(202);
    expect(again.body.requestId).not.toBe(lost.body.requestId);
    expect((await c.post(resend.body.key, 'PEND01')).status).toBe(201);
  });

  it('is told of a denial made meanwhile (403), and files no second request', async () => {
    expect((await c.enrol('PEND02')).status).toBe(201);
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const lost = await c.enrol('PEND02', proof);
    expect(lost.status).toBe(202);
    expect((await decide('PEND02', lost.body.requestId, 'deny')).status).toBe(200);

    const resend = await c.enrol('PEND02', proof);
    expect(resend.status, JSON.stringify(resend.body)).toBe(403);
    expect(resend.body.message).toBe(`An admin denied the re-enrolment request ${lost.body.requestId} of ${fqdn('PEND02')}; ask an admin to approve a new one or rotate its key.`);
    expect(requested('PEND02')).toHaveLength(1);
    expect((await stack.app.keyStore.listKeys(fqdn('PEND02'))).filter((k) => k.status === 'active')).toHaveLength(1);
  });

  it('gives the approval to nobody else: another secret, or none, only files a request', async () => {
    expect((await c.enrol('PEND03')).status).toBe(201);
    const lost = await c.enrol('PEND03', { 'x-enrolment-request': randomBytes(32).toString('base64url') });
    expect((await decide('PEND03', lost.body.requestId, 'approve')).status).toBe(200);
    expect((await c.enrol('PEND03', { 'x-enrolment-request': randomBytes(32).toString('base64url') })).status).toBe(202);
    expect((await c.enrol('PEND03')).status).toBe(202);
    expect((await stack.app.keyStore.getRequest(fqdn('PEND03'), lost.body.requestId))?.state).toBe('approved');
  });
});
