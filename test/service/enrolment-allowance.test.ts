// The enrolment rate allowance under POSTURE_REENROLMENT=approval, on Azurite over real HTTP:
// whoever holds only the fleet's enrolment secret can spend a server's allowance, but not the one
// its own collector draws on when it proves itself (its current key, the claim of its request).
// And the source address recorded for a request, which admins judge it by, is the platform's.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerKey } from '../../src/app/enrolment';
import { encodeKey } from '../../src/store';
import { enrolmentClient, fqdn, recordsOf, serverKeysTable, type Reply } from '../support/enrolment-client';
import type { Json } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

const BURST = 3;

describe('enrolment allowance: the secret alone cannot lock out the server its collector proves', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    stack = await startTestStack({
      rules: TEST_RULES,
      settings: { POSTURE_REENROLMENT: 'approval', POSTURE_RATE_LIMIT_BURST: String(BURST), POSTURE_RATE_LIMIT_PER_MINUTE: '1' },
    });
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  /** Every row of the server's ServerKeys partition, ETags included. */
  const partition = async (host: string) => {
    const rows: Json[] = [];
    for await (const e of serverKeysTable(stack).listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(fqdn(host))}'` } })) rows.push(e);
    return rows;
  };
  /**
   * Enrols with the secret alone until the server's allowance answers 429: what a thief of the
   * secret can do (from an address of its own, so its requests do not replace the collector's).
   */
  const exhaust = async (host: string) => {
    const statuses: number[] = [];
    let last: Reply;
    do {
      last = await c.enrol(host, { 'x-forwarded-for': '198.51.100.66' });
      statuses.push(last.status);
    } while (last.status !== 429 && statuses.length <= BURST + 1);
    expect(last.status).toBe(429);
    expect(last.body.error).toBe('rate_limited');
    return statuses;
  };

  it('after the secret alone spent the allowance, the collector still renews with its current key; a made-up key is refused 429 and writes nothing', async () => {
    const first = await c.enrol('ALW1');
    expect(first.status).toBe(201);
    expect(await exhaust('ALW1')).toEqual([...Array<number>(BURST - 1).fill(202), 429]);

    const before = await partition('ALW1');
    // The current key's id with a made-up secret: well-formed, checked against the partition, refused.
    const madeUp = `${(first.body.key as string).split('.').slice(0, -1).join('.')}.${'A'.repeat(43)}`;
    expect(parseServerKey(madeUp)).toMatchObject({ server: fqdn('ALW1') });
    const forged = await c.enrol('ALW1', { 'x-server-key': madeUp });
    expect(forged.status).toBe(429);
    expect(await partition('ALW1')).toEqual(before);

    const renewed = await c.enrol('ALW1', { 'x-server-key': first.body.key });
    expect(renewed.status).toBe(201);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('ALW1')).at(-1)!.fields).toMatchObject({ grant: 'current-key' });
    expect((await c.manifest(renewed.body.key)).status).toBe(200);
  });

  it('after the secret alone spent the allowance, the collector collects its approved key with its claim; a claim of its own is limited too', async () => {
    expect((await c.enrol('ALW2')).status).toBe(201);
    const asked = await c.enrol('ALW2');
    expect(asked.status).toBe(202);
    expect((await c.call('POST', `servers/${fqdn('ALW2')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    await exhaust('ALW2');
    expect((await c.enrol('ALW2', { 'x-enrolment-claim': `${asked.body.requestId}.${'A'.repeat(43)}` })).status).toBe(429);

    const collected = await c.enrol('ALW2', { 'x-enrolment-claim': asked.body.claim });
    expect(collected.status).toBe(201);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('ALW2')).at(-1)!.fields).toMatchObject({ grant: 'admin-approval' });
  });

  it('after the secret alone spent the allowance, a collector whose 202 was lost collects its approved key with the request secret that filed it; a pending one brings no allowance', async () => {
    expect((await c.enrol('ALW8')).status).toBe(201);
    const proof = { 'x-enrolment-request': randomBytes(32).toString('base64url') };
    const lost = await c.enrol('ALW8', proof);
    expect(lost.status).toBe(202);
    await exhaust('ALW8');
    // Still pending: its secret proves nothing yet (anyone can file a request with a secret of its own).
    expect((await c.enrol('ALW8', proof)).status).toBe(429);
    expect((await c.call('POST', `servers/${fqdn('ALW8')}/enrolments/${lost.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('ALW8', { 'x-enrolment-request': randomBytes(32).toString('base64url') })).status).toBe(429);

    const collected = await c.enrol('ALW8', proof);
    expect(collected.status, JSON.stringify(collected.body)).toBe(201);
    expect(recordsOf(stack, 'FleetPosture.ServerKeyIssued', fqdn('ALW8')).at(-1)!.fields).toMatchObject({ grant: 'admin-approval' });
  });

  it('the source recorded for a request is the address the platform appended to X-Forwarded-For, not the first entry the client wrote', async () => {
    expect((await c.enrol('SRC1')).status).toBe(201);
    const asked = await c.enrol('SRC1', { 'x-forwarded-for': '10.9.9.9, 192.0.2.44' });
    expect(asked.status).toBe(202);
    const listed = (await c.call('GET', 'enrolments?state=pending', TEST_KEYS.admin)).body.items as Json[];
    expect(listed.find((i) => i.requestId === asked.body.requestId)).toMatchObject({ source: '192.0.2.44' });
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentRequested', fqdn('SRC1')).at(-1)!.fields).toMatchObject({ source: '192.0.2.44' });
    // A forged first entry is not a requester of its own: the repeat replaces the pending request.
    const again = await c.enrol('SRC1', { 'x-forwarded-for': '10.1.1.1,192.0.2.44' });
    expect(recordsOf(stack, 'FleetPosture.ReenrolmentRequested', fqdn('SRC1')).at(-1)!.fields).toMatchObject({ source: '192.0.2.44', replaces: asked.body.requestId });
    expect(again.status).toBe(202);
  });

  it('a collector looping on its pending claim is still limited, by the allowance only proven requests spend', async () => {
    expect((await c.enrol('ALW3')).status).toBe(201);
    const asked = await c.enrol('ALW3');
    expect(asked.status).toBe(202);
    await exhaust('ALW3');
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 1; i++) statuses.push((await c.enrol('ALW3', { 'x-enrolment-claim': asked.body.claim })).status);
    expect(statuses).toEqual([...Array<number>(BURST).fill(202), 429]);
  });

  it('a thief polling the claim of a request of its own spends only that claim\'s allowance, not the collector\'s', async () => {
    expect((await c.enrol('ALW4')).status).toBe(201);
    const asked = await c.enrol('ALW4');
    expect(asked.status).toBe(202);
    const thief = { 'x-forwarded-for': '198.51.100.66' };
    const own = await c.enrol('ALW4', thief);
    expect(own.status).toBe(202);
    expect(own.body.requestId).not.toBe(asked.body.requestId);
    await exhaust('ALW4');
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 1; i++) statuses.push((await c.enrol('ALW4', { ...thief, 'x-enrolment-claim': own.body.claim })).status);
    expect(statuses.at(-1)).toBe(429);
    expect((await c.enrol('ALW4', { 'x-enrolment-claim': asked.body.claim })).status).toBe(202);
  });

  it('a collector renewing in a loop is still limited: its renewals share one allowance, though each makes a new key', async () => {
    let key = (await c.enrol('ALW5')).body.key as string;
    await exhaust('ALW5');
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 1; i++) {
      const renewed = await c.enrol('ALW5', { 'x-server-key': key });
      statuses.push(renewed.status);
      if (renewed.status === 201) key = renewed.body.key as string;
    }
    expect(statuses).toEqual([...Array<number>(BURST).fill(201), 429]);
  });

  it('someone filing with request secrets of its own, then repeating them, is held at the server\'s allowance', async () => {
    expect((await c.enrol('ALW7')).status).toBe(201);
    const as = (secret: string) => ({ 'x-forwarded-for': '198.51.100.66', 'x-enrolment-request': secret.repeat(43) });
    // Each new secret files a pending request while the server's allowance lasts (the first enrolment took one).
    const minted = ['a', 'b', 'c'];
    const filed: number[] = [];
    for (const secret of minted) filed.push((await c.enrol('ALW7', as(secret))).status);
    expect(filed).toEqual([...Array<number>(BURST - 1).fill(202), 429]);
    // Repeating the secret of a request still pending brings no allowance of its own.
    const repeated: number[] = [];
    for (const secret of minted.slice(0, BURST - 1)) for (let i = 0; i < 2; i++) repeated.push((await c.enrol('ALW7', as(secret))).status);
    expect(repeated).toEqual(Array<number>(2 * (BURST - 1)).fill(429));
  });
});
