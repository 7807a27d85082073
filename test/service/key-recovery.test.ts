// No collector is refused for good without an admin seeing it. Keys lost to concurrent enrolments
// or to storage answer key_revoked (the collector's cue to enrol again), every refusal is an
// alertable FleetPosture.ServerKeyRefused record, and GET /api/refused-servers lists the servers
// whose collector cannot post. Then re-enrolment governance: with POSTURE_REENROLMENT=approval an
// enrolled server's key is replaced only with its current key or an admin's approval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerKey } from '../../src/app/enrolment';
import { encodeKey } from '../../src/store';
import { enrolmentClient as client, fqdn, pausedWrites, serverKeysTable } from '../support/enrolment-client';
import { alertRecords, type Json } from '../support/http';
import { TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

const { pause, policy: pausePolicy } = pausedWrites();

/** [reason, grant] of each FleetPosture.ServerKeyIssued record of `server`. */
const keysIssued = (stack: TestStack, server: string) =>
  alertRecords(stack)
    .filter((r) => r.name === 'FleetPosture.ServerKeyIssued' && r.fields.server === server)
    .map((r) => [r.fields.reason, r.fields.grant]);

const refusals = (stack: TestStack, server: string) => alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerKeyRefused' && r.fields.server === server);

describe('stranded servers (open re-enrolment)', () => {
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('eight enrolments of one server at once: one key works, every other one answers key_revoked, and each recovers by enrolling again', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => c.enrol('RACE8')));
    for (const r of all) expect(r.status).toBe(201);
    const keys: string[] = all.map((r) => r.body.key);
    const answers = await Promise.all(keys.map((k) => c.manifest(k)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 401 && a.body.error === 'key_revoked')).toHaveLength(7);
    const posts = await Promise.all(keys.map((k) => c.post(k, 'RACE8')));
    expect(posts.filter((p) => p.status === 401).every((p) => p.body.error === 'key_revoked')).toBe(true);
    expect(refusals(stack, fqdn('RACE8')).length).toBeGreaterThanOrEqual(14);
    // What a refused collector does: enrol again, post with the new key.
    const again = await c.enrol('RACE8');
    expect((await c.post(again.body.key, 'RACE8')).status).toBe(201);
  });

  it('storage lost the key row (or the whole partition): key_revoked, a record, and enrolling again restores posting', async () => {
    for (const [host, loseAll] of [
      ['LOST1', false],
      ['LOST2', true],
    ] as const) {
      const e = await c.enrol(host);
      expect((await c.post(e.body.key, host)).status).toBe(201);
      const table = serverKeysTable(stack);
      const pk = encodeKey(fqdn(host));
      if (loseAll) {
        for await (const row of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) await table.deleteEntity(pk, String(row.rowKey));
      } else await table.deleteEntity(pk, parseServerKey(e.body.key)!.keyId);
      // The post checks the key against ServerKeys (its tag on the rows is only trusted for a known key).
      await stack.app.store.clearKeyTags(fqdn(host));
      for (const r of [await c.manifest(e.body.key), await c.post(e.body.key, host)]) {
        expect(r.status, host).toBe(401);
        expect(r.body.error, host).toBe('key_revoked');
      }
      expect(refusals(stack, fqdn(host)).map((r) => r.fields.reason)).toContain('unknown');
      const again = await c.enrol(host);
      expect(again.status).toBe(201);
      expect((await c.post(again.body.key, host)).status).toBe(201);
    }
  });

  it('GET /api/refused-servers lists a server with no active key, a refused replaced key, a blocked enrolment; until it has a key again', async () => {
    const revoked = await c.enrol('NOKEY1');
    expect((await c.call('DELETE', `servers/${fqdn('NOKEY1')}/key`, TEST_KEYS.admin)).status).toBe(200);
    const old = await c.enrol('REPL1');
    await c.enrol('REPL1'); // someone else re-enrolled: the collector's key is replaced
    expect((await c.manifest(old.body.key)).body.error).toBe('key_revoked');
    await c.enrol('BLOCK1');
    expect((await c.call('DELETE', `servers/${fqdn('BLOCK1')}/key?reenrol=deny`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('BLOCK1')).status).toBe(403);

    const byServer = Object.fromEntries((await c.refused()).map((i) => [i.server, i]));
    expect(byServer[fqdn('NOKEY1')]).toMatchObject({ reasons: ['no-active-key'], lastRefusal: null });
    expect(typeof byServer[fqdn('NOKEY1')].keyRevokedAt).toBe('string');
    expect(byServer[fqdn('REPL1')]).toMatchObject({ reasons: ['key-replaced'], lastRefusal: { reason: 'replaced', keyId: old.body.keyId } });
    expect(byServer[fqdn('BLOCK1')].reasons).toEqual(expect.arrayContaining(['no-active-key', 'enrolment-blocked']));
    expect(refusals(stack, fqdn('BLOCK1')).map((r) => r.fields.reason)).toContain('enrolment-blocked');
    // A server in good standing is not listed.
    expect(byServer[fqdn('LOST1')]).toBeUndefined();

    // Each leaves the list once it has a key again.
    expect((await c.post((await c.enrol('NOKEY1')).body.key, 'NOKEY1')).status).toBe(201);
    expect((await c.enrol('REPL1')).status).toBe(201);
    expect((await c.call('POST', `servers/${fqdn('BLOCK1')}/key/rotate`, TEST_KEYS.admin)).status).toBe(201);
    const after = (await c.refused()).map((i) => i.server);
    for (const h of ['NOKEY1', 'REPL1', 'BLOCK1']) expect(after).not.toContain(fqdn(h));
    expect(revoked.status).toBe(201);
  });

  it('a key issued after a revocation is audited as a re-enrolment (the re-enrolment alert sees it), not as a first enrolment', async () => {
    await c.enrol('REVOKED6');
    expect((await c.call('DELETE', `servers/${fqdn('REVOKED6')}/key`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('REVOKED6')).status).toBe(201);
    expect(keysIssued(stack, fqdn('REVOKED6'))).toEqual([
      ['enrolment', null],
      ['re-enrolment', 'open'],
    ]);
  });

  it('the admin routes refuse every other key and write nothing', async () => {
    const before = await dumpTables(stack, { light: true });
    for (const key of [TEST_KEYS.reader, TEST_KEYS.enrolment, TEST_KEYS.ingest, null]) {
      for (const [method, path] of [
        ['GET', 'refused-servers'],
        ['GET', 'enrolments'],
        ['POST', `servers/${fqdn('REPL1')}/enrolments/abc/approve`],
      ] as const) {
        const r = await c.call(method, path, key);
        expect(r.status, `${method} ${path} as ${key}`).toBe(key ? 403 : 401);
      }
    }
    expect(await dumpTables(stack, { light: true })).toEqual(before);
  });
});

describe('re-enrolment governance (POSTURE_REENROLMENT=approval)', () => {
  let stack: TestStack;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    stack = await startTestStack({ rules: TEST_RULES, settings: { POSTURE_REENROLMENT: 'approval' }, storagePolicies: [pausePolicy] });
    c = client(stack);
  });
  afterAll(async () => stack?.stop());

  it('a first enrolment is issued at once; a re-enrolment with the secret alone waits for an admin (202 and a claim), changing no key', async () => {
    const first = await c.enrol('GOV1');
    expect(first.status).toBe(201);
    const asked = await c.enrol('GOV1');
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ server: fqdn('GOV1'), status: 'pending' });
    expect(asked.body.key).toBeUndefined();
    expect(asked.body.claim).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(asked.body.message).toMatch(/^[A-Z][^\n]*\.$/);
    // The current key still works: nobody took the server over.
    expect((await c.post(first.body.key, 'GOV1')).status).toBe(201);
    expect(alertRecords(stack).some((r) => r.name === 'FleetPosture.ReenrolmentRequested' && r.fields.server === fqdn('GOV1'))).toBe(true);

    const list = await c.call('GET', 'enrolments', TEST_KEYS.admin);
    expect(list.body.items).toContainEqual(expect.objectContaining({ server: fqdn('GOV1'), requestId: asked.body.requestId, state: 'pending', hostName: 'GOV1' }));
    expect((await c.refused()).find((i) => i.server === fqdn('GOV1'))?.reasons).toEqual(['approval-pending']);

    // Asking again with the claim while pending: still 202, no second request.
    const still = await c.enrol('GOV1', { 'x-enrolment-claim': asked.body.claim });
    expect(still.status).toBe(202);
    expect(still.body.requestId).toBe(asked.body.requestId);
    expect((await c.call('GET', 'enrolments', TEST_KEYS.admin)).body.items.filter((i: Json) => i.server === fqdn('GOV1'))).toHaveLength(1);

    // Approved: the claim collects the key; the old one is replaced.
    const approve = await c.call('POST', `servers/${fqdn('GOV1')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin);
    expect(approve.status).toBe(200);
    expect(approve.body.state).toBe('approved');
    const stranger = await c.enrol('GOV1', { 'x-enrolment-claim': `${asked.body.requestId}.${'A'.repeat(43)}` });
    expect(stranger.status).toBe(403);
    const collected = await c.enrol('GOV1', { 'x-enrolment-claim': asked.body.claim });
    expect(collected.status).toBe(201);
    expect(collected.body.replaced).toEqual([first.body.keyId]);
    expect((await c.manifest(first.body.key)).body.error).toBe('key_revoked');
    expect((await c.post(collected.body.key, 'GOV1')).status).toBe(201);
    const issued = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerKeyIssued' && r.fields.server === fqdn('GOV1'));
    expect(issued.map((r) => [r.fields.reason, r.fields.grant])).toEqual([
      ['enrolment', null],
      ['re-enrolment', 'admin-approval'],
    ]);
    expect((await c.call('GET', 'enrolments?state=approved', TEST_KEYS.admin)).body.items.map((i: Json) => i.server)).not.toContain(fqdn('GOV1'));
  });

  it('a request repeated after its answer was lost (no claim) leaves one pending request: the newest, whose claim the requester holds; a requester the admin can tell apart keeps its own', async () => {
    const pendingOf = async (server: string) =>
      ((await c.call('GET', 'enrolments', TEST_KEYS.admin)).body.items as Json[]).filter((i) => i.server === server).map((i) => i.requestId as string);
    expect((await c.enrol('GOV9')).status).toBe(201);
    // The collector's first request reached the service but its answer did not reach the collector
    // (a timeout): it asks again with the secret alone, as it does after no answer.
    const lost = await c.enrol('GOV9');
    expect(lost.status).toBe(202);
    const again = await c.enrol('GOV9');
    expect(again.status).toBe(202);
    expect(again.body.requestId).not.toBe(lost.body.requestId);
    expect(await pendingOf(fqdn('GOV9'))).toEqual([again.body.requestId]);
    expect((await c.refused()).find((i) => i.server === fqdn('GOV9'))?.reasons).toEqual(['approval-pending']);
    const requested = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ReenrolmentRequested' && r.fields.server === fqdn('GOV9'));
    expect(requested.map((r) => [r.fields.requestId, r.fields.replaces])).toEqual([
      [lost.body.requestId, null],
      [again.body.requestId, lost.body.requestId],
    ]);

    // The request replaced stays, marked, until the next change of the server's requests removes it.
    const requestRows = async () => {
      const table = serverKeysTable(stack);
      const pk = encodeKey(fqdn('GOV9'));
      const rows: [string, string, string][] = [];
      for await (const e of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) {
        if (String(e.rowKey).startsWith('~request.')) rows.push([String(e.RequestId), String(e.State), String(e.ReplacedBy ?? '')]);
      }
      return rows.sort();
    };
    expect(await requestRows()).toEqual(
      [
        [lost.body.requestId, 'replaced', again.body.requestId],
        [again.body.requestId, 'pending', ''],
      ].sort(),
    );

    // Another requester for the same name, from another address, is a request of its own: the
    // admin sees both and decides on each.
    const other = await c.enrol('GOV9', { 'x-forwarded-for': '203.0.113.7' });
    expect(other.status).toBe(202);
    expect((await pendingOf(fqdn('GOV9'))).sort()).toEqual([again.body.requestId, other.body.requestId].sort());
    expect(await requestRows()).toEqual(
      [
        [again.body.requestId, 'pending', ''],
        [other.body.requestId, 'pending', ''],
      ].sort(),
    );

    // The approval of the one left is collected with the claim the requester holds.
    expect((await c.call('POST', `servers/${fqdn('GOV9')}/enrolments/${again.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('GOV9', { 'x-enrolment-claim': again.body.claim })).status).toBe(201);
  });

  it('an approval that lands while a repeat is replacing the request stands: the repeat files a request of its own, and the approved claim collects the key', async () => {
    expect((await c.enrol('GOV10')).status).toBe(201);
    const lost = await c.enrol('GOV10');
    expect(lost.status).toBe(202);
    // The repeat has read the partition; its transaction waits while the admin approves the request
    // it is about to replace.
    let approved: Awaited<ReturnType<typeof c.call>> | undefined;
    pause.when = (method, url, body) => url.endsWith('$batch') && body.includes(`~request.`);
    pause.during = async () => {
      approved = await c.call('POST', `servers/${fqdn('GOV10')}/enrolments/${lost.body.requestId}/approve`, TEST_KEYS.admin);
    };
    const again = await c.enrol('GOV10');
    expect(pause.during).toBeUndefined(); // it fired
    expect(approved?.status).toBe(200);
    expect(approved?.body.state).toBe('approved');
    expect(again.status).toBe(202);
    expect(again.body.requestId).not.toBe(lost.body.requestId);

    // What the admin approved is still there, approved; the repeat waits beside it.
    const listed = async (state: string) =>
      ((await c.call('GET', `enrolments?state=${state}`, TEST_KEYS.admin)).body.items as Json[]).filter((i) => i.server === fqdn('GOV10')).map((i) => i.requestId as string);
    expect(await listed('approved')).toEqual([lost.body.requestId]);
    expect(await listed('pending')).toEqual([again.body.requestId]);
    const requested = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ReenrolmentRequested' && r.fields.server === fqdn('GOV10'));
    expect(requested.map((r) => [r.fields.requestId, r.fields.replaces])).toEqual([
      [lost.body.requestId, null],
      [again.body.requestId, null],
    ]);
    expect((await c.enrol('GOV10', { 'x-enrolment-claim': lost.body.claim })).status).toBe(201);
  });

  it('an approval that loses the race to a repeat replacing its request answers 409 request_replaced and decides nothing', async () => {
    expect((await c.enrol('GOV11')).status).toBe(201);
    const lost = await c.enrol('GOV11');
    const approveUrl = `servers/${fqdn('GOV11')}/enrolments/${lost.body.requestId}/approve`;
    // The approval has read the pending request; its write waits while the repeat replaces it.
    let again: Awaited<ReturnType<typeof c.call>> | undefined;
    pause.when = (method, url) => method === 'PUT' && url.includes(`RowKey='~request.${lost.body.requestId}'`);
    pause.during = async () => {
      again = await c.enrol('GOV11');
    };
    const approve = await c.call('POST', approveUrl, TEST_KEYS.admin);
    expect(pause.during).toBeUndefined(); // it fired
    expect(again?.status).toBe(202);
    const newer = again?.body.requestId as string;
    expect(approve.status).toBe(409);
    expect(approve.body.error).toBe('request_replaced');
    expect(approve.body.message).toBe(
      `The re-enrolment request "${lost.body.requestId}" of ${fqdn('GOV11')} was replaced by the newer request "${newer}" of the same requester before this decision took effect, so nothing was decided; decide on the newer one.`,
    );
    // Nothing was decided: no approved request, no decision audited, and asking again says the same.
    expect(((await c.call('GET', 'enrolments?state=approved', TEST_KEYS.admin)).body.items as Json[]).map((i) => i.server)).not.toContain(fqdn('GOV11'));
    expect(alertRecords(stack).filter((r) => r.name === 'FleetPosture.ReenrolmentDecided' && r.fields.server === fqdn('GOV11'))).toEqual([]);
    expect((await c.call('POST', approveUrl, TEST_KEYS.admin)).body.error).toBe('request_replaced');
    expect((await c.refused()).find((i) => i.server === fqdn('GOV11'))?.requests.map((r: Json) => r.requestId)).toEqual([newer]);
    // The newer request is the one to decide, and its claim collects the key.
    expect((await c.call('POST', `servers/${fqdn('GOV11')}/enrolments/${newer}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('GOV11', { 'x-enrolment-claim': again?.body.claim })).status).toBe(201);
  });

  it('beyond five open requests the oldest not approved gives way, also when an approval lands meanwhile; a decision on it answers 409 request_replaced', async () => {
    expect((await c.enrol('GOV12')).status).toBe(201);
    const from = (i: number) => ({ 'x-forwarded-for': `203.0.113.${20 + i}` });
    const asked: Awaited<ReturnType<typeof c.call>>[] = [];
    for (let i = 0; i < 5; i++) asked.push(await c.enrol('GOV12', from(i)));
    expect(asked.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    const ids = asked.map((a) => a.body.requestId as string);
    // The sixth request has read the partition (the oldest, ids[0], still pending, is the one to go);
    // its transaction waits while the admin approves that oldest request.
    let approved: Awaited<ReturnType<typeof c.call>> | undefined;
    pause.when = (method, url, body) => url.endsWith('$batch') && body.includes(`~request.`);
    pause.during = async () => {
      approved = await c.call('POST', `servers/${fqdn('GOV12')}/enrolments/${ids[0]}/approve`, TEST_KEYS.admin);
    };
    const sixth = await c.enrol('GOV12', from(5));
    expect(pause.during).toBeUndefined(); // it fired
    expect(approved?.status).toBe(200);
    expect(sixth.status).toBe(202);
    const listed = async (state: string) =>
      ((await c.call('GET', `enrolments?state=${state}`, TEST_KEYS.admin)).body.items as Json[]).filter((i) => i.server === fqdn('GOV12')).map((i) => i.requestId as string);
    // The approval stands; the oldest request still pending gave way instead.
    expect(await listed('approved')).toEqual([ids[0]]);
    expect((await listed('pending')).sort()).toEqual([...ids.slice(2), sixth.body.requestId].sort());
    const late = await c.call('POST', `servers/${fqdn('GOV12')}/enrolments/${ids[1]}/approve`, TEST_KEYS.admin);
    expect(late.status).toBe(409);
    expect(late.body).toEqual({
      error: 'request_replaced',
      message: `The re-enrolment request "${ids[1]}" of ${fqdn('GOV12')} gave way to the newer request "${sixth.body.requestId}" (a server keeps at most 5 open requests) before this decision took effect, so nothing was decided; the requester can file a new request.`,
    });
    expect((await c.enrol('GOV12', { ...from(0), 'x-enrolment-claim': asked[0]!.body.claim })).status).toBe(201);
  });

  it('denied: the claim is refused (403) and the server is listed as refused', async () => {
    await c.enrol('GOV2');
    const asked = await c.enrol('GOV2');
    expect((await c.call('POST', `servers/${fqdn('GOV2')}/enrolments/${asked.body.requestId}/deny`, TEST_KEYS.admin)).body.state).toBe('denied');
    const r = await c.enrol('GOV2', { 'x-enrolment-claim': asked.body.claim });
    expect(r.status).toBe(403);
    expect(r.body.message).toContain(asked.body.requestId);
    expect((await c.refused()).find((i) => i.server === fqdn('GOV2'))?.reasons).toEqual(['enrolment-denied']);
    expect(refusals(stack, fqdn('GOV2')).map((x) => x.fields.reason)).toContain('enrolment-denied');
  });

  it('a decided request keeps its decision: the same decision again is 200, the other one 409 saying what to do instead, audited once', async () => {
    await c.enrol('GOV7');
    const approvedReq = await c.enrol('GOV7');
    const approveUrl = `servers/${fqdn('GOV7')}/enrolments/${approvedReq.body.requestId}/approve`;
    expect((await c.call('POST', approveUrl, TEST_KEYS.admin)).body.state).toBe('approved');
    expect((await c.call('POST', approveUrl, TEST_KEYS.admin)).body.state).toBe('approved');
    // A deny after the approval does not block anything: it must not answer as if it did.
    const late = await c.call('POST', `servers/${fqdn('GOV7')}/enrolments/${approvedReq.body.requestId}/deny`, TEST_KEYS.admin);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('already_decided');
    expect(late.body.message).toMatch(/already approved at \d{4}-.* cannot be denied now; to shut the server out, revoke its key with reenrol=deny\.$/);
    // The approval stands: the claim still collects the key.
    expect((await c.enrol('GOV7', { 'x-enrolment-claim': approvedReq.body.claim })).status).toBe(201);

    await c.enrol('GOV8');
    const deniedReq = await c.enrol('GOV8');
    const denyUrl = `servers/${fqdn('GOV8')}/enrolments/${deniedReq.body.requestId}/deny`;
    expect((await c.call('POST', denyUrl, TEST_KEYS.admin)).body.state).toBe('denied');
    const approveLate = await c.call('POST', `servers/${fqdn('GOV8')}/enrolments/${deniedReq.body.requestId}/approve`, TEST_KEYS.admin);
    expect(approveLate.status).toBe(409);
    expect(approveLate.body.message).toMatch(/already denied .* cannot be approved now; the requester can file a new request\.$/);
    expect((await c.enrol('GOV8', { 'x-enrolment-claim': deniedReq.body.claim })).status).toBe(403);

    const decided = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ReenrolmentDecided' && (r.fields.server === fqdn('GOV7') || r.fields.server === fqdn('GOV8')));
    expect(decided.map((r) => [r.fields.server, r.fields.decision])).toEqual([
      [fqdn('GOV7'), 'approved'],
      [fqdn('GOV8'), 'denied'],
    ]);
  });

  it('a key issued after a revocation is audited as a re-enrolment by admin approval', async () => {
    await c.enrol('GOV6');
    expect((await c.call('DELETE', `servers/${fqdn('GOV6')}/key`, TEST_KEYS.admin)).status).toBe(200);
    const asked = await c.enrol('GOV6');
    expect(asked.status).toBe(202);
    expect((await c.call('POST', `servers/${fqdn('GOV6')}/enrolments/${asked.body.requestId}/approve`, TEST_KEYS.admin)).status).toBe(200);
    expect((await c.enrol('GOV6', { 'x-enrolment-claim': asked.body.claim })).status).toBe(201);
    expect(keysIssued(stack, fqdn('GOV6'))).toEqual([
      ['enrolment', null],
      ['re-enrolment', 'admin-approval'],
    ]);
  });

  it('the current key renews itself without an admin; another server\'s key or a stale one does not', async () => {
    const first = await c.enrol('GOV3');
    const other = await c.enrol('GOV4');
    expect((await c.enrol('GOV3', { 'x-server-key': other.body.key })).status).toBe(403);
    const renewed = await c.enrol('GOV3', { 'x-server-key': first.body.key });
    expect(renewed.status).toBe(201);
    expect(renewed.body.replaced).toEqual([first.body.keyId]);
    expect((await c.enrol('GOV3', { 'x-server-key': first.body.key })).status).toBe(403);
    const issued = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerKeyIssued' && r.fields.server === fqdn('GOV3'));
    expect(issued.at(-1)!.fields).toMatchObject({ reason: 're-enrolment', grant: 'current-key' });
  });

  it('a server that has posted but whose keys storage lost is not open to a silent take-over', async () => {
    const e = await c.enrol('GOV5');
    expect((await c.post(e.body.key, 'GOV5')).status).toBe(201);
    const table = serverKeysTable(stack);
    const pk = encodeKey(fqdn('GOV5'));
    for await (const row of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) await table.deleteEntity(pk, String(row.rowKey));
    const again = await c.enrol('GOV5');
    expect(again.status).toBe(202);
    expect((await c.call('GET', 'enrolments', TEST_KEYS.admin)).body.items.map((i: Json) => i.server)).toContain(fqdn('GOV5'));
  });

  it('decisions on what does not exist: 404; malformed paths and claims: 400', async () => {
    expect((await c.call('POST', `servers/${fqdn('GOV1')}/enrolments/nosuchrequest/approve`, TEST_KEYS.admin)).status).toBe(404);
    expect((await c.call('POST', `servers/${fqdn('GOV1')}/enrolments/abc/maybe`, TEST_KEYS.admin)).status).toBe(404);
    expect((await c.call('POST', `servers/a%27b/enrolments/abc/approve`, TEST_KEYS.admin)).status).toBe(400);
    expect((await c.call('GET', 'enrolments?state=everything', TEST_KEYS.admin)).status).toBe(400);
    expect((await c.enrol('GOV1', { 'x-enrolment-claim': 'not a claim' })).status).toBe(400);
  });
});
