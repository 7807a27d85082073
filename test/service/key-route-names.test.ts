// The key routes (revoke, rotate, decide a re-enrolment request) take a server by the name an admin
// knows it by, as every other route does: its host name reaches the one server, posted or only
// enrolled, whose id it begins. Before, a rotation for EXCH19 issued a key for a server "exch19"
// that does not exist and left the real server's key alone. A name several servers share is
// refused with their ids; a name nothing answers to still stands for itself (a key may be issued
// before its server enrols). On Azurite over real HTTP, under POSTURE_REENROLMENT=approval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentClient, fqdn, serverKeysTable } from '../support/enrolment-client';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const admin = TEST_KEYS.admin;

describe('the key routes by host name', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' } });
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  /** How many ServerKeys rows the id has: a key issued under a name no server has leaves some. */
  const rowsOf = async (id: string) => {
    let n = 0;
    for await (const _ of serverKeysTable(stack).listEntities({ queryOptions: { filter: `PartitionKey eq '${id}'` } })) n++;
    return n;
  };
  const enrolAs = (name: string, id: string) =>
    c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name, fqdn: id }, collector: { name: 'Send-PostureSnapshot', version: '1.0.0' } });

  it('rotate and revoke by the host name of a server that posted reach that server, by its id', async () => {
    const enrolled = await c.enrol('KN1');
    expect(enrolled.status).toBe(201);
    expect((await c.post(enrolled.body.key, 'KN1')).status).toBe(201);

    const rotated = await c.call('POST', 'servers/KN1/key/rotate', admin);
    expect(rotated.status).toBe(201);
    expect(rotated.body.server).toBe(fqdn('KN1'));
    expect(rotated.body.replaced).toEqual([enrolled.body.keyId]);
    expect((await c.manifest(enrolled.body.key)).status).toBe(401);
    expect((await c.manifest(rotated.body.key)).status).toBe(200);
    expect(await rowsOf('kn1')).toBe(0);

    const revoked = await c.call('DELETE', 'servers/Kn1./key', admin);
    expect(revoked).toEqual({ status: 200, body: { server: fqdn('KN1'), revoked: [rotated.body.keyId], settled: [], reenrol: 'allow' } });
    expect((await c.manifest(rotated.body.key)).status).toBe(401);
  });

  it('a server that enrolled and has not posted is found by its host name too: deciding its request, rotating its key', async () => {
    expect((await c.enrol('KN2')).status).toBe(201);
    const asked = await c.enrol('KN2');
    expect(asked.status).toBe(202);

    const approved = await c.call('POST', `servers/KN2/enrolments/${asked.body.requestId}/approve`, admin);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ server: fqdn('KN2'), requestId: asked.body.requestId, state: 'approved' });

    const rotated = await c.call('POST', 'servers/kn2/key/rotate', admin);
    expect(rotated.status).toBe(201);
    expect(rotated.body.server).toBe(fqdn('KN2'));
    expect(await rowsOf('kn2')).toBe(0);
  });

  it('a host name two servers share is refused with both ids, and no key changes', async () => {
    const corp = await enrolAs('KN3', 'kn3.corp.contoso.com');
    const lab = await enrolAs('KN3', 'kn3.lab.contoso.com');
    expect([corp.status, lab.status]).toEqual([201, 201]);
    const refusal = {
      status: 404,
      body: { error: 'not_found', message: 'No server "kn3" is known; did you mean kn3.corp.contoso.com or kn3.lab.contoso.com? Use the server id (its FQDN).' },
    };
    expect(await c.call('POST', 'servers/KN3/key/rotate', admin)).toEqual(refusal);
    expect(await c.call('DELETE', 'servers/KN3/key', admin)).toEqual(refusal);
    expect(await c.call('POST', 'servers/KN3/enrolments/r1/deny', admin)).toEqual(refusal);
    expect(await rowsOf('kn3')).toBe(0);
    for (const key of [corp.body.key, lab.body.key]) expect((await c.manifest(key)).status).toBe(200);
  });

  it('a name no server answers to stands for itself: a rotation issues its key, a revocation finds none', async () => {
    const issued = await c.call('POST', 'servers/prestaged7.corp.contoso.com/key/rotate', admin);
    expect(issued.status).toBe(201);
    expect(issued.body.server).toBe('prestaged7.corp.contoso.com');
    // Once enrolled, its host name finds it.
    expect((await c.call('POST', 'servers/PRESTAGED7/key/rotate', admin)).body.server).toBe('prestaged7.corp.contoso.com');

    expect(await c.call('DELETE', 'servers/nothing8/key', admin)).toEqual({ status: 404, body: { error: 'not_found', message: 'Server "nothing8" has never enrolled.' } });
  });

  it('refuses a host name alone where servers are known by FQDNs that begin with it, so no new id shadows them', async () => {
    const real = await c.enrol('KN7');
    expect(real.status).toBe(201);
    const alone = await c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: 'KN7' } });
    expect(alone.status).toBe(400);
    expect(alone.body.error).toBe('invalid_enrolment');
    expect(alone.body.message).toContain(fqdn('KN7'));
    expect(await rowsOf('kn7')).toBe(0);
    // The name still reaches the real server.
    const revoked = await c.call('DELETE', 'servers/KN7/key', admin);
    expect(revoked.body).toMatchObject({ server: fqdn('KN7'), revoked: [real.body.keyId] });
    // A host known by its name alone enrols under it again, and so does a name no server has.
    expect((await c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: 'KN8' } })).status).toBe(201);
    // Enrolled before, so under approval its next enrolment asks for an admin's approval.
    expect((await c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: 'KN8' } })).status).toBe(202);
  });
});
