// A server key's identity at its edges, over HTTP on Azurite: spellings of a host (case, trailing
// dot, look-alike letters) neither let a key post for another server nor make a second id for its
// own; and a made-up key tells a caller nothing about whether the server it names exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIFT_RULE } from '../support/drift';
import type { Json } from '../support/http';
import { enrolmentClient, fqdn } from '../support/enrolment-client';
import { snapshot } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

/** The Kelvin sign (U+212A): lower-cased by JavaScript, it becomes the ASCII letter k. */
const KELVIN = '\u212A';

describe('a server key and the spellings of its host', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    // The shipped rules: a baseline needs a rule with configuration facts.
    stack = await startTestStack();
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  it('upper case and a trailing dot are the same server; a look-alike letter is refused, not folded into it', async () => {
    const e = await c.enrol('KEYID1');
    expect(e.status).toBe(201);
    const key = e.body.key as string;
    // The key's own host, spelt as Windows may report it: the same server, accepted.
    expect((await c.call('POST', 'snapshots', key, snapshot({ host: 'KEYID1', fqdn: 'KEYID1.CORP.CONTOSO.COM.' }))).status).toBe(201);

    const before = await dumpTables(stack);
    // A look-alike that lower-cases to this server's id, and one that would to another's: refused as a contract error.
    for (const host of [`${KELVIN}EYID1`, `${KELVIN}EYID2`]) {
      const r = await c.call('POST', 'snapshots', key, snapshot({ host, fqdn: `${host}.corp.contoso.com` }));
      expect(r.status, host).toBe(400);
      expect(r.body.error).toBe('invalid_snapshot');
    }
    // Enrolment with a look-alike issues no key, so no second id for the same server can exist.
    const lookalike = await c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: `${KELVIN}EYID1`, fqdn: `${KELVIN}EYID1.corp.contoso.com` } });
    expect(lookalike.status).toBe(400);
    expect(lookalike.body.error).toBe('invalid_enrolment');
    expect(await dumpTables(stack)).toEqual(before);

    // Enrolling under another spelling of the same FQDN is a re-enrolment of that server: it replaces the key.
    const again = await c.call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: 'keyid1', fqdn: 'KEYID1.Corp.Contoso.Com.' } });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ server: fqdn('KEYID1'), replaced: [e.body.keyId] });
    expect((await c.call('POST', 'snapshots', key, snapshot({ host: 'KEYID1' }))).body.error).toBe('key_revoked');
  });

  it('a server named with a look-alike letter in a path, a query, a waiver or a baseline is refused, not taken for the server', async () => {
    const e = await c.enrol('KEYID4');
    expect((await c.post(e.body.key, 'KEYID4')).status).toBe(201);
    const lookalike = `${KELVIN}EYID4.corp.contoso.com`;
    const before = await dumpTables(stack);
    const answers = [
      await c.call('GET', `servers/${encodeURIComponent(lookalike)}`, TEST_KEYS.reader),
      await c.call('GET', `results?server=${encodeURIComponent(lookalike)}`, TEST_KEYS.reader),
      await c.call('DELETE', `servers/${encodeURIComponent(lookalike)}/key`, TEST_KEYS.admin),
      await c.call('POST', `servers/${encodeURIComponent(lookalike)}/key/rotate`, TEST_KEYS.admin),
      await c.call('PUT', 'waivers/lookalike', TEST_KEYS.admin, {
        rule: DRIFT_RULE,
        server: lookalike,
        justification: 'A look-alike name must not reach the real server.',
        grantedBy: 'ciso@contoso.com',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }),
      await c.call('PUT', `baselines/${DRIFT_RULE}`, TEST_KEYS.admin, { server: lookalike, setBy: 'ciso@contoso.com' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 400]);
    for (const a of answers) expect(a.body.message).toMatch(/must be a server id/);
    expect(await dumpTables(stack)).toEqual(before);
    // The key of the real server still posts: nothing reached it.
    expect((await c.post(e.body.key, 'KEYID4')).status).toBe(201);
  });

  it('a made-up key answers the same for a server that exists and one that does not', async () => {
    const e = await c.enrol('KEYID3');
    expect((await c.post(e.body.key, 'KEYID3')).status).toBe(201);
    const madeUp = (server: string) => `fp1.${Buffer.from(server).toString('base64url')}.${'A'.repeat(16)}.${'B'.repeat(43)}`;
    const answers: Json[] = [];
    for (const host of ['KEYID3', 'NOSUCH9']) {
      for (const [method, path, body] of [
        ['POST', 'snapshots', snapshot({ host })],
        ['GET', 'manifest', undefined],
      ] as const) {
        const r = await c.call(method, path, madeUp(fqdn(host)), body);
        answers.push({ host, path, status: r.status, body: r.body });
      }
    }
    const seen = answers.map(({ path, status, body }) => ({ path, status, body }));
    expect(seen.slice(0, 2)).toEqual(seen.slice(2));
    expect(seen[0]).toMatchObject({ status: 401, body: { error: 'key_revoked' } });
    expect(JSON.stringify(answers)).not.toContain('keyid3');
  });
});
