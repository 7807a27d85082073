// The real collector recovering its server key, end to end: Send-PostureSnapshot.ps1 under pwsh,
// configured as the installer leaves it (server key and enrolment secret stored; the fixture
// stands in for the machine's reads and, off Windows, for DPAPI), against the local host over real
// HTTP. An admin revokes its key: the next run's manifest fetch enrols again and the post goes
// through. With POSTURE_REENROLMENT=approval the re-enrolment waits for an admin (exit 3, snapshots
// spooled, the claim stored), an approval over the API lets the next run collect its key and
// deliver the spool exactly once, a denial clears the claim, and a run whose answers were lost
// resends with the request secret it stored, so its request is replaced rather than doubled.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../src/local/host';
import { alertRecords, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { COLLECTOR, enrolWithCollector, expectOnlyCollectorDataItems, pwshTimeout, runCollector, settled, startObservedHost, storedConfig, type Run } from './collector-process';
import { freePort } from '../../src/local/azurite';
import { fixtureMachine, type ExampleSnapshot } from './fixture-machine';

const work = mkdtempSync(path.join(tmpdir(), 'posture-e2e-recovery-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A machine from collector/examples/ with a data folder of its own, and the host its collector talks to. */
async function installedMachine(stack: TestStack, example: string) {
  const dir = mkdtempSync(path.join(work, 'machine-'));
  const machine = fixtureMachine(JSON.parse(readFileSync(path.join(COLLECTOR, 'examples', example), 'utf8')) as ExampleSnapshot, dir);
  const dataPath = path.join(dir, 'data');
  const calls: string[] = [];
  const port = await freePort();
  const host = await startObservedHost(stack, port, calls);
  const endpoint = `http://127.0.0.1:${port}`;
  const installed = await enrolWithCollector(endpoint, machine.env, { configDir: dataPath });
  expect(installed.status).toBe('Issued');
  const spool = () => (existsSync(path.join(dataPath, 'spool')) ? readdirSync(path.join(dataPath, 'spool')).sort() : []);
  return {
    server: installed.server,
    firstKey: installed.key,
    dataPath,
    env: machine.env,
    host,
    spool,
    log: () => readFileSync(path.join(dataPath, 'collector.log'), 'utf8'),
    /** One scheduled run; returns it with the calls it made, as settled (retried answers left out), and all of them. */
    async run(): Promise<Run & { calls: string[]; made: string[] }> {
      calls.length = 0;
      const r = await runCollector(dataPath, machine.env);
      return { ...r, calls: settled(calls), made: [...calls] };
    },
  };
}

const show = (r: Run & { made: string[] }) => `${r.stdout}\n${r.stderr}\n${r.made.join('\n')}`;

async function admin(stack: TestStack, method: string, pathAndQuery: string): Promise<{ status: number; body: Json }> {
  const res = await stack.request(pathAndQuery, { method, key: 'admin' });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('open re-enrolment: a revoked key recovers from the manifest fetch', () => {
  let stack: TestStack;
  let host: LocalHost | undefined;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await host?.close();
    await stack?.stop();
  });

  it('the admin revokes the key; the next run (no cached manifest) enrols again at the manifest fetch, posts, and stores the new key', async () => {
    const m = await installedMachine(stack, 'win2012r2-x64-exchange2016-vse88.json');
    host = m.host;
    expect((await admin(stack, 'DELETE', `servers/${encodeURIComponent(m.server)}/key`)).status).toBe(200);
    expect(existsSync(path.join(m.dataPath, 'manifest.json'))).toBe(false);

    const r = await m.run();
    expect(r.code, show(r)).toBe(0);
    expect(r.calls).toEqual(['GET /api/manifest 401', 'POST /api/enroll 201', 'GET /api/manifest 200', 'POST /api/snapshots 201']);
    expect(r.stdout).toMatch(new RegExp(`^Snapshot [0-9a-f-]{36} for ${m.server.replace(/\./g, '\\.')}: accepted`, 'm'));
    const config = storedConfig(m.dataPath);
    expect(config.apiKey).toMatch(/^fp1\./);
    expect(config.apiKey).not.toBe(m.firstKey);
    expect(config.enrolmentClaim).toBeUndefined();
    expect(existsSync(path.join(m.dataPath, 'manifest.json'))).toBe(true);
    // The revoked key stays dead; the stored one works.
    const old = await fetch(`${stack.baseUrl}/api/manifest`, { headers: { 'x-api-key': m.firstKey } });
    expect(((await old.json()) as Json).error).toBe('key_revoked');
    const again = await m.run();
    expect(again.code, show(again)).toBe(0);
    expect(again.calls).toEqual(['GET /api/manifest 200', 'POST /api/snapshots 201']);
  }, pwshTimeout(3));
});

describe('POSTURE_REENROLMENT=approval: pending, approved, denied', () => {
  let stack: TestStack;
  const hosts: LocalHost[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ settings: { POSTURE_REENROLMENT: 'approval' } });
  });
  afterAll(async () => {
    for (const h of hosts) await h.close();
    await stack?.stop();
  });

  const requestsOf = async (server: string, state: string): Promise<Json[]> =>
    ((await admin(stack, 'GET', `enrolments?state=${state}`)).body.items as Json[]).filter((i) => i.server === server);

  it('revoked: the run goes pending (exit 3, spooled, claim stored); runs while pending ask with the claim; approved: the next run collects its key and delivers the spool exactly once', async () => {
    const m = await installedMachine(stack, 'win2008r2-x64-exchange2010-vse87i.json');
    hosts.push(m.host);
    const first = await m.run();
    expect(first.code, show(first)).toBe(0);
    expect((await admin(stack, 'DELETE', `servers/${encodeURIComponent(m.server)}/key`)).status).toBe(200);

    // Pending: the manifest fetch is refused, the re-enrolment files a request, the snapshot is spooled.
    const pending = await m.run();
    expect(pending.code, show(pending)).toBe(3);
    expect(pending.calls).toEqual(['GET /api/manifest 401', 'POST /api/enroll 202']);
    expect(pending.stdout).toMatch(/waits for an admin's approval \(request [A-Za-z0-9_-]+\)\); spooled for the next run/);
    const claim = storedConfig(m.dataPath).enrolmentClaim;
    expect(claim).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const requestId = claim!.split('.')[0]!;
    expect((await requestsOf(m.server, 'pending')).map((r) => r.requestId)).toEqual([requestId]);
    expect(m.spool()).toHaveLength(1);

    // Still pending: the claim first, nothing with the refused key, no second request.
    const waiting = await m.run();
    expect(waiting.code, show(waiting)).toBe(3);
    expect(waiting.calls).toEqual(['POST /api/enroll 202']);
    expect(storedConfig(m.dataPath).enrolmentClaim).toBe(claim);
    expect(await requestsOf(m.server, 'pending')).toHaveLength(1);
    const spooled = m.spool();
    expect(spooled).toHaveLength(2);
    // Runs that stored a claim with the configuration and spooled: nothing the collector does not list.
    await expectOnlyCollectorDataItems(m.dataPath);

    // An admin approves over the API; the next run collects the key and sends the spool, oldest first, then its own.
    const approved = await admin(stack, 'POST', `servers/${encodeURIComponent(m.server)}/enrolments/${requestId}/approve`);
    expect(approved).toMatchObject({ status: 200, body: { state: 'approved' } });
    const collected = await m.run();
    expect(collected.code, show(collected)).toBe(0);
    expect(collected.calls).toEqual(['POST /api/enroll 201', 'GET /api/manifest 200', 'POST /api/snapshots 201', 'POST /api/snapshots 201', 'POST /api/snapshots 201']);
    expect(m.spool()).toEqual([]);
    const log = m.log();
    for (const name of spooled) expect(log.split(`Spooled snapshot ${name} delivered (HTTP 201, accepted)`)).toHaveLength(2);
    const config = storedConfig(m.dataPath);
    expect(config.enrolmentClaim).toBeUndefined();
    expect(config.apiKey).toMatch(/^fp1\./);
    expect(config.apiKey).not.toBe(m.firstKey);
    const issued = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerKeyIssued' && r.fields.server === m.server);
    expect(issued.at(-1)?.fields).toMatchObject({ reason: 're-enrolment', grant: 'admin-approval' });

    // Nothing is delivered twice: the next run posts its own snapshot only.
    const next = await m.run();
    expect(next.code, show(next)).toBe(0);
    expect(next.calls).toEqual(['GET /api/manifest 200', 'POST /api/snapshots 201']);
    expect(m.log().split(`Spooled snapshot ${spooled[0]} delivered`)).toHaveLength(2);
    await expectOnlyCollectorDataItems(m.dataPath);
  }, pwshTimeout(7));

  it('the answers to a request lost: the next run resends with the request secret it stored, so the admin sees one pending request, whose claim collects the key', async () => {
    const m = await installedMachine(stack, 'win2012r2-x64-exchange2016-vse88.json');
    hosts.push(m.host);
    expect((await m.run()).code).toBe(0);
    expect((await admin(stack, 'DELETE', `servers/${encodeURIComponent(m.server)}/key`)).status).toBe(200);

    // The service files each enrolment of this run, then the connection drops before its answer.
    let lose = true;
    m.host.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!lose || req.method !== 'POST' || req.url !== '/api/enroll') return;
      res.end = (() => (req.socket.destroy(), res)) as typeof res.end;
    });
    const lost = await m.run();
    lose = false;
    expect(lost.code, show(lost)).toBe(1);
    expect(m.log()).toMatch(/Enrolling again failed: Enrolment failed: .* cannot be reached/);
    // Every attempt carried the one request secret, so each took the place of the one before.
    expect(await requestsOf(m.server, 'pending')).toHaveLength(1);
    const secret = storedConfig(m.dataPath).enrolmentRequest;
    expect(storedConfig(m.dataPath).enrolmentClaim).toBeUndefined();

    // The next run resends with the stored secret: its request takes the place of the lost one.
    const resent = await m.run();
    expect(resent.code, show(resent)).toBe(3);
    expect(resent.calls).toEqual(['GET /api/manifest 401', 'POST /api/enroll 202']);
    const requestId = storedConfig(m.dataPath).enrolmentClaim!.split('.')[0]!;
    expect((await requestsOf(m.server, 'pending')).map((r) => r.requestId)).toEqual([requestId]);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(storedConfig(m.dataPath).enrolmentRequest).toBe(secret);

    // Someone else holding the enrolment secret copies the request's facts as the admin sees them:
    // the collector says its release keeps its request secret, so the copy files a request of its own.
    const [mine] = await requestsOf(m.server, 'pending');
    const [collectorName, collectorVersion] = String(mine!.collector ?? '').split(' ');
    const copy = await stack.request('enroll', {
      method: 'POST',
      key: 'enrolment',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ host: { name: mine!.hostName, fqdn: mine!.fqdn }, ...(collectorName ? { collector: { name: collectorName, version: collectorVersion } } : {}) }),
    });
    expect(copy.status).toBe(202);
    expect((await requestsOf(m.server, 'pending')).map((r) => r.requestId).sort()).toEqual([requestId, ((await copy.json()) as Json).requestId].sort());

    expect((await admin(stack, 'POST', `servers/${encodeURIComponent(m.server)}/enrolments/${requestId}/approve`)).status).toBe(200);
    const collected = await m.run();
    expect(collected.code, show(collected)).toBe(0);
    expect(collected.calls.slice(0, 2)).toEqual(['POST /api/enroll 201', 'GET /api/manifest 200']);
    expect(storedConfig(m.dataPath).enrolmentRequest).toBeUndefined();
    expect(m.spool()).toEqual([]);
  }, pwshTimeout(5));

  it('denied: the run logs the service\'s message, clears the claim and keeps the snapshot spooled (exit 2); the run after files a new request', async () => {
    const m = await installedMachine(stack, 'win2008-x64-exchange2007-vse85i.json');
    hosts.push(m.host);
    expect((await m.run()).code).toBe(0);
    expect((await admin(stack, 'DELETE', `servers/${encodeURIComponent(m.server)}/key`)).status).toBe(200);
    const pending = await m.run();
    expect(pending.code, show(pending)).toBe(3);
    const requestId = storedConfig(m.dataPath).enrolmentClaim!.split('.')[0]!;
    expect((await admin(stack, 'POST', `servers/${encodeURIComponent(m.server)}/enrolments/${requestId}/deny`)).body.state).toBe('denied');

    const denied = await m.run();
    expect(denied.code, show(denied)).toBe(2);
    expect(denied.calls).toEqual(['POST /api/enroll 403']);
    expect(m.log()).toContain(`Service said: forbidden: An admin denied the re-enrolment request ${requestId} of ${m.server}`);
    expect(storedConfig(m.dataPath).enrolmentClaim).toBeUndefined();
    expect(m.spool()).toHaveLength(2);

    const renewed = await m.run();
    expect(renewed.code, show(renewed)).toBe(3);
    expect(renewed.calls).toEqual(['GET /api/manifest 401', 'POST /api/enroll 202']);
    const newRequest = storedConfig(m.dataPath).enrolmentClaim!.split('.')[0];
    expect(newRequest).not.toBe(requestId);
    expect((await requestsOf(m.server, 'pending')).map((r) => r.requestId)).toEqual([newRequest]);
    expect(m.spool()).toHaveLength(3);
  }, pwshTimeout(6));

  it('a reinstall proves the server with its current key (x-server-key): renewed at once; a key that is no longer current files a request', async () => {
    const m = await installedMachine(stack, 'win2019-x64-exchange2019-no-mcafee.json');
    hosts.push(m.host);
    const endpoint = stack.baseUrl;
    const renewed = await enrolWithCollector(endpoint, m.env, { currentKey: m.firstKey });
    expect(renewed.status).toBe('Issued');
    expect(renewed.replaced).toHaveLength(1);
    const issued = alertRecords(stack).filter((r) => r.name === 'FleetPosture.ServerKeyIssued' && r.fields.server === m.server);
    expect(issued.at(-1)?.fields).toMatchObject({ reason: 're-enrolment', grant: 'current-key' });
    const stale = await enrolWithCollector(endpoint, m.env, { currentKey: m.firstKey });
    expect(stale.status).toBe('Pending');
    expect((await requestsOf(m.server, 'pending')).map((r) => r.requestId)).toEqual([stale.requestId]);
  }, pwshTimeout(3));
});
