// A server key's identity at its edges, over HTTP on Azurite: spellings of a host (case, trailing
// dot, look-alike letters) neither let a key post for another server nor make a second id for its
// own; a made-up key tells a caller nothing about whether the server it names exists; and in
// approval mode a requester that copies another's facts cannot take the place of its request.
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

describe('approval mode: a request filed again by someone else', () => {
  let stack: TestStack;
  let c: ReturnType<typeof enrolmentClient>;
  beforeAll(async () => {
    stack = await startTestStack({ settings: { POSTURE_REENROLMENT: 'approval' } });
    c = enrolmentClient(stack);
  });
  afterAll(async () => stack?.stop());

  const pendingOf = async (server: string) =>
    ((await c.call('GET', 'enrolments', TEST_KEYS.admin)).body.items as Json[])
      .filter((i) => i.server === server && i.state === 'pending')
      .map((i) => i.requestId as string)
      .sort();
  const from = { 'x-forwarded-for': '10.20.30.40' };
  const mySecret = 'r'.repeat(43);

  it('copying the facts and the X-Forwarded-For of a pending request does not take its place; its own resend does', async () => {
    expect((await c.enrol('COPY1')).status).toBe(201);
    const mine = await c.enrol('COPY1', { ...from, 'x-enrolment-request': mySecret });
    expect(mine.status).toBe(202);

    // Someone else holding the enrolment secret sends the same facts, with a request secret of its own or none.
    const copied = await c.enrol('COPY1', { ...from, 'x-enrolment-request': 'x'.repeat(43) });
    const bare = await c.enrol('COPY1', from);
    expect([copied.status, bare.status]).toEqual([202, 202]);
    // The admin sees every requester, the genuine one included.
    expect(await pendingOf(fqdn('COPY1'))).toEqual([mine.body.requestId, copied.body.requestId, bare.body.requestId].sort());
    // The request secret is kept only as a salted HMAC.
    expect(JSON.stringify(await dumpTables(stack))).not.toContain(mySecret);

    // The genuine requester's resend (its answer lost) replaces its own request, and only that.
    const resend = await c.enrol('COPY1', { ...from, 'x-enrolment-request': mySecret });
    expect(resend.status).toBe(202);
    expect(await pendingOf(fqdn('COPY1'))).toEqual([resend.body.requestId, copied.body.requestId, bare.body.requestId].sort());
    expect((await c.call('POST', `servers/${fqdn('COPY1')}/enrolments/${resend.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('COPY1', { ...from, 'x-enrolment-claim': resend.body.claim, 'x-enrolment-request': mySecret })).status).toBe(201);
  });

  it('an older collector, which sends no request secret or a new one each run, still replaces its own request by resending; its upgrade\'s first resend too', async () => {
    // The 1.0 collector names no release in its request.
    const OLD = null;
    expect((await c.enrol('COPY2')).status).toBe(201);
    const first = await c.enrol('COPY2', from, OLD);
    const resend = await c.enrol('COPY2', from, OLD);
    expect([first.status, resend.status]).toEqual([202, 202]);
    expect(await pendingOf(fqdn('COPY2'))).toEqual([resend.body.requestId]);
    // A collector of the releases that made a new request secret each run.
    const perRun = await c.enrol('COPY2', { ...from, 'x-enrolment-request': 'a'.repeat(43) }, OLD);
    const nextRun = await c.enrol('COPY2', { ...from, 'x-enrolment-request': 'b'.repeat(43) }, OLD);
    expect(await pendingOf(fqdn('COPY2'))).toEqual([nextRun.body.requestId]);
    expect(perRun.status).toBe(202);
    // The first run after an upgrade to a collector that keeps its secret.
    const upgraded = await c.enrol('COPY2', { ...from, 'x-enrolment-request': mySecret });
    expect(await pendingOf(fqdn('COPY2'))).toEqual([upgraded.body.requestId]);
    // From then on only its secret repeats it: the old version's facts no longer do.
    const copied = await c.enrol('COPY2', from, OLD);
    expect(await pendingOf(fqdn('COPY2'))).toEqual([upgraded.body.requestId, copied.body.requestId].sort());
    expect((await c.call('POST', `servers/${fqdn('COPY2')}/enrolments/${upgraded.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('COPY2', { ...from, 'x-enrolment-claim': upgraded.body.claim, 'x-enrolment-request': mySecret })).status).toBe(201);
  });

  it('a resend with its request secret replaces its own request though its address and collector version changed between runs', async () => {
    expect((await c.enrol('COPY3')).status).toBe(201);
    const first = await c.enrol('COPY3', { ...from, 'x-enrolment-request': mySecret });
    // The next run: a new DHCP lease (or a front end that records the port), and an upgraded collector.
    const resend = await c.call(
      'POST',
      'enroll',
      TEST_KEYS.enrolment,
      { host: { name: 'COPY3', fqdn: fqdn('COPY3') }, collector: { name: 'Send-PostureSnapshot', version: '1.1.0' } },
      { 'x-forwarded-for': '10.20.30.41:50123', 'x-enrolment-request': mySecret },
    );
    expect([first.status, resend.status]).toEqual([202, 202]);
    expect(await pendingOf(fqdn('COPY3'))).toEqual([resend.body.requestId]);
  });
});
