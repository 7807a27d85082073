// A server key checked against the tag its server's Results rows carry: a steady post reads
// ServerKeys no more (two round trips, not three), and revocation or rotation still takes effect on
// the next post — also when it lands between a post's key check and its commit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerKey, serverKeyTag } from '../../src/app/enrolment';
import { keyTagOf, type StoredResult } from '../../src/store';
import { transactionGate } from '../support/faults';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

/** When armed, the next transaction on Results waits for its hook first (a commit, paused). */
const pause = transactionGate('testPauseCommit', 'Results');

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [pause.policy] });
});
afterAll(async () => stack?.stop());

const fqdn = (h: string) => `${h.toLowerCase()}.corp.contoso.com`;
let minute = 0;
/** A snapshot of `host`, each one collected a minute after the one before. */
const next = (host: string) => snapshot({ host, collectedAt: Date.now() - 600 * 60_000 + ++minute * 60_000 });

async function call(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${stack.baseUrl}/api/${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as { error?: string; key?: string; outcome?: string } };
}

async function enrol(host: string): Promise<string> {
  const r = await call('POST', 'enroll', TEST_KEYS.enrolment, { host: { name: host, fqdn: fqdn(host) } });
  expect(r.status).toBe(201);
  return r.body.key!;
}

const postAs = (key: string, host: string) => call('POST', 'snapshots', key, next(host));
const rowsOf = (host: string): Promise<StoredResult[]> => stack.app.store.readServer(fqdn(host));
const tagOf = (key: string) => serverKeyTag(parseServerKey(key)!);

describe('the verified-key tag', () => {
  it('a first post leaves no tag; the second checks ServerKeys and tags; later posts read ServerKeys no more', async () => {
    const key = await enrol('TAG01');
    expect((await postAs(key, 'TAG01')).status).toBe(201);
    expect((await rowsOf('TAG01')).map((r) => r.keyTag)).toEqual(TEST_RULES.map(() => undefined));

    stack.app.keyStore.counter.reset();
    expect((await postAs(key, 'TAG01')).status).toBe(201);
    expect(stack.app.keyStore.counter.count).toBe(1);
    expect(keyTagOf(await rowsOf('TAG01'))).toBe(tagOf(key));

    stack.app.keyStore.counter.reset();
    stack.roundTrips.reset();
    expect((await postAs(key, 'TAG01')).status).toBe(201);
    expect(stack.app.keyStore.counter.count).toBe(0);
    expect(stack.roundTrips.count).toBe(2);
  });

  it('a wrong secret for a tagged server is refused (401) and changes nothing', async () => {
    const key = await enrol('TAG02');
    for (let i = 0; i < 2; i++) expect((await postAs(key, 'TAG02')).status).toBe(201);
    const p = parseServerKey(key)!;
    const forged = key.slice(0, key.length - p.secret.length) + (p.secret[0] === 'A' ? 'B' : 'A') + p.secret.slice(1);
    const before = await rowsOf('TAG02');
    const r = await postAs(forged, 'TAG02');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('unauthorized');
    expect((await rowsOf('TAG02')).map((x) => x.etag)).toEqual(before.map((x) => x.etag));
  });

  it('revocation clears the tag: the tagged key answers key_revoked on the very next post', async () => {
    const key = await enrol('TAG03');
    for (let i = 0; i < 3; i++) expect((await postAs(key, 'TAG03')).status).toBe(201);
    expect(keyTagOf(await rowsOf('TAG03'))).toBe(tagOf(key));
    expect((await call('DELETE', `servers/${fqdn('TAG03')}/key`, TEST_KEYS.admin)).status).toBe(200);
    expect(keyTagOf(await rowsOf('TAG03'))).toBeUndefined();
    const r = await postAs(key, 'TAG03');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('key_revoked');
  });

  it('re-enrolment clears the replaced key’s tag; the new key posts and is tagged in its turn', async () => {
    const old = await enrol('TAG04');
    for (let i = 0; i < 2; i++) expect((await postAs(old, 'TAG04')).status).toBe(201);
    const fresh = await enrol('TAG04');
    expect((await postAs(old, 'TAG04')).body.error).toBe('key_revoked');
    expect((await postAs(fresh, 'TAG04')).status).toBe(201);
    expect(keyTagOf(await rowsOf('TAG04'))).toBe(tagOf(fresh));
  });

  for (const tagged of [false, true]) {
    it(`a revocation between the key check and the commit (key checked ${tagged ? 'by its tag' : 'in ServerKeys'}): the post in flight lands untagged, the next is refused`, async () => {
      const host = tagged ? 'TAG06' : 'TAG05';
      const key = await enrol(host);
      for (let i = 0; i < (tagged ? 2 : 1); i++) expect((await postAs(key, host)).status).toBe(201);
      expect(keyTagOf(await rowsOf(host))).toBe(tagged ? tagOf(key) : undefined);

      let revoked = false;
      pause.beforeWrite = async () => {
        const out = await stack.app.enrolment.revoke(fqdn(host), { log: () => undefined });
        revoked = out !== undefined;
      };
      const inFlight = await postAs(key, host);
      expect(revoked).toBe(true);
      // Checked before the revocation, so it is accepted, like any request already authorised…
      expect(inFlight.status).toBe(201);
      // …but the revocation changed every row, so the commit was retried and left no tag behind.
      expect(keyTagOf(await rowsOf(host))).toBeUndefined();
      expect((await postAs(key, host)).body.error).toBe('key_revoked');
    });
  }
});

describe('keyTagOf', () => {
  const row = (keyTag?: string) => ({ keyTag }) as StoredResult;
  it('is the tag only when every row carries the same one', () => {
    expect(keyTagOf([])).toBeUndefined();
    expect(keyTagOf([row('a'), row('a')])).toBe('a');
    expect(keyTagOf([row('a'), row(undefined)])).toBeUndefined();
    expect(keyTagOf([row('a'), row('b')])).toBeUndefined();
    expect(keyTagOf([row(undefined), row(undefined)])).toBeUndefined();
  });
});
