// The real collector, end to end: collector/Send-PostureSnapshot.ps1 under pwsh against the local
// host over real HTTP, with only its edge reads (registry, services, OS, DNS name, log files)
// answered from a fixture built from each machine in collector/examples/. It enrols, posts, and
// the verdicts the service stores equal `fleet-posture evaluate` on that machine's snapshot. Then
// the spool: host down, the snapshot is spooled; host up, it is delivered exactly once; a spooled
// snapshot refused for good is kept in rejected\ while a full log is rotated and what an earlier
// run cut short left is removed, and the data folder then holds only what the collector lists
// (what the uninstaller removes). And a busy storage account: the service answers 503 with
// Retry-After, the collector waits that long and delivers the snapshot once; the same for the
// manifest and enrolment of a first run, which has no last good copy to fall back on.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCommand } from '../../src/cli/evaluate';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import type { StoragePolicy } from '../../src/store';
import { injectedError } from '../support/faults';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { fakeIo } from './cli-io';
import { COLLECTOR, enrolWithCollector, expectOnlyCollectorDataItems, pwshTimeout, runCollector, settled, startObservedHost, storeConfig, storedConfig } from './collector-process';
import { freePort } from '../../src/local/azurite';
import { fixtureMachine, type ExampleSnapshot } from './fixture-machine';

const EXAMPLES = readdirSync(path.join(COLLECTOR, 'examples')).filter((f) => f.endsWith('.json') && !f.startsWith('manifest'));

function send(endpoint: string, key: string, dataPath: string, env: Record<string, string>) {
  return runCollector(dataPath, env, ['-Endpoint', `${endpoint}/api`, '-ApiKey', key]);
}

async function evaluateExample(file: string): Promise<{ server: string; results: Record<string, unknown>[] }> {
  const io = fakeIo();
  expect(await evaluateCommand([file], io), io.stderr).toBe(0);
  return JSON.parse(io.stdout) as { server: string; results: Record<string, unknown>[] };
}

let stack: TestStack;
const work = mkdtempSync(path.join(tmpdir(), 'posture-e2e-'));

/** Outbox entries storage refuses next (503 with Retry-After: 2, as a throttling account answers); each attempt counts. */
const busy = { refusals: 0 };
const BUSY_RETRY_AFTER_SECONDS = 2;
const busyStorage: StoragePolicy = {
  name: 'busy-outbox',
  async sendRequest(request, next) {
    // A post's outbox entry is an upsert (PUT without If-Match); the projector's lease carries one.
    if (busy.refusals > 0 && request.method === 'PUT' && /\/Outbox\(/.test(request.url) && !request.headers.has('If-Match')) {
      busy.refusals--;
      throw injectedError(request, 503, 'Injected busy storage', (name) => (name.toLowerCase() === 'retry-after' ? String(BUSY_RETRY_AFTER_SECONDS) : undefined));
    }
    return next(request);
  },
};

/**
 * Storage refuses every ServerKeys call (503 with Retry-After: 1) until the host has answered
 * `route` ("METHOD /api/...") with 503: both the manifest and enrolment read that table first, so
 * the request fails as a throttled account makes it fail, whatever the SDK's own retries.
 */
const busyKeys: { route?: string } = {};
const BUSY_KEYS_RETRY_AFTER_SECONDS = 1;
const busyKeysStorage: StoragePolicy = {
  name: 'busy-server-keys',
  async sendRequest(request, next) {
    if (busyKeys.route !== undefined && /ServerKeys\(/.test(request.url)) {
      throw injectedError(request, 503, 'Injected busy storage', (name) => (name.toLowerCase() === 'retry-after' ? String(BUSY_KEYS_RETRY_AFTER_SECONDS) : undefined));
    }
    return next(request);
  },
};

/** Each answer of `host` as "METHOD /path status", with when it finished; disarms busyKeys once its route answered 503. */
function observeAnswers(host: LocalHost): { call: string; at: number }[] {
  const answers: { call: string; at: number }[] = [];
  host.server.on('request', (req, res) =>
    res.on('finish', () => {
      const call = `${req.method} ${req.url}`;
      answers.push({ call: `${call} ${res.statusCode}`, at: Date.now() });
      if (call === busyKeys.route && res.statusCode === 503) busyKeys.route = undefined;
    }),
  );
  return answers;
}

beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [busyStorage, busyKeysStorage] });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('Send-PostureSnapshot.ps1 under pwsh against the local host', () => {
  for (const example of EXAMPLES) {
    it(`${example}: enrols, posts over HTTP, and the stored verdicts equal fleet-posture evaluate`, async () => {
      const file = path.join(COLLECTOR, 'examples', example);
      const dir = mkdtempSync(path.join(work, 'machine-'));
      const machine = fixtureMachine(JSON.parse(readFileSync(file, 'utf8')) as ExampleSnapshot, dir);
      const expected = await evaluateExample(file);

      const { key, server } = await enrolWithCollector(stack.baseUrl, machine.env);
      expect(server).toBe(expected.server);
      const run = await send(stack.baseUrl, key, path.join(dir, 'data'), machine.env);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Snapshot [0-9a-f-]{36} for ${server.replace(/\./g, '\\.')}: accepted`, 'm'));

      const stored = await stack.request(`servers/${encodeURIComponent(server)}`);
      expect(stored.status).toBe(200);
      const body = (await stored.json()) as { results: Record<string, unknown>[] };
      const pick = (r: Record<string, unknown>) => ({ ruleId: r.ruleId, status: r.status, reasonCode: r.reasonCode, message: r.message, evidence: r.evidence });
      const byRule = (a: { ruleId: unknown }, b: { ruleId: unknown }) => String(a.ruleId).localeCompare(String(b.ruleId));
      expect(body.results.map(pick).sort(byRule)).toEqual(expected.results.map(pick).sort(byRule));
      // The collector printed one line per verdict, as the service answered.
      for (const r of expected.results) expect(run.stdout).toMatch(new RegExp(`^${String(r.status)}\\s+${String(r.ruleId)}\\s+${String(r.reasonCode)}\\s`, 'm'));
    }, pwshTimeout(2));
  }
});

describe('the spool over real HTTP', () => {
  let host: LocalHost | undefined;
  afterAll(async () => host?.close());

  it('host down: spooled, exit 1; host up: the spooled snapshot and the new one delivered, each exactly once', async () => {
    const example = path.join(COLLECTOR, 'examples', 'win2008r2-x64-exchange2010-vse87i.json');
    const dir = mkdtempSync(path.join(work, 'spool-'));
    const machine = fixtureMachine(JSON.parse(readFileSync(example, 'utf8')) as ExampleSnapshot, dir);
    const { key, server } = await enrolWithCollector(stack.baseUrl, machine.env);
    const dataPath = path.join(dir, 'data');
    const spool = path.join(dataPath, 'spool');

    // The collector's endpoint: a host of the same service (app and storage) on a port of its own.
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const calls: string[] = [];
    // The posts as delivered: an answer the collector retried (a 503 under load) is left out.
    const posts = () => settled(calls).filter((c) => c.startsWith('POST /api/snapshots '));
    const hostUp = () => startObservedHost(stack, port, calls);

    // A first run with the host up: delivered, and the manifest kept as the last good copy.
    host = await hostUp();
    const first = await send(endpoint, key, dataPath, machine.env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(posts()).toHaveLength(1);
    await expectOnlyCollectorDataItems(dataPath);

    // Host down: the run collects with the last good manifest and spools its snapshot.
    await host.close();
    host = undefined;
    const down = await send(endpoint, key, dataPath, machine.env);
    expect(down.code, down.stdout + down.stderr).toBe(1);
    expect(down.stdout).toMatch(/not delivered .*spooled for the next run/);
    const spooled = readdirSync(spool);
    expect(spooled).toHaveLength(1);
    const spooledId = /_([0-9a-f-]{36})\.json$/.exec(spooled[0]!)?.[1];
    expect(spooledId).toBeDefined();
    await expectOnlyCollectorDataItems(dataPath);

    // Host up again: the spooled snapshot first, then the new one; each accepted once.
    host = await hostUp();
    const up = await send(endpoint, key, dataPath, machine.env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(posts()).toHaveLength(3);
    expect(posts().every((c) => / 2\d\d$/.test(c)), String(posts())).toBe(true);
    expect(readdirSync(spool)).toEqual([]);
    await expectOnlyCollectorDataItems(dataPath);
    const log = readFileSync(path.join(dataPath, 'collector.log'), 'utf8');
    expect(log.split(`Spooled snapshot ${spooled[0]} delivered`)).toHaveLength(2);
    const newId = /^Snapshot ([0-9a-f-]{36}) for /m.exec(up.stdout)?.[1];
    expect(newId).toBeDefined();
    expect(newId).not.toBe(spooledId);
    const stored = await (await stack.request(`servers/${encodeURIComponent(server)}`)).text();
    expect(stored).toContain(newId!);

    // The next run sends only its own snapshot: the spooled one is not delivered again.
    const again = await send(endpoint, key, dataPath, machine.env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(posts()).toHaveLength(4);
    expect(readFileSync(path.join(dataPath, 'collector.log'), 'utf8').split(`Spooled snapshot ${spooled[0]} delivered`)).toHaveLength(2);
    expect(existsSync(spool) ? readdirSync(spool) : []).toEqual([]);
    await expectOnlyCollectorDataItems(dataPath);
  }, pwshTimeout(6));

  it('a spooled snapshot refused for good and a full log: the copy is kept in rejected\\, the log rotated, and the data folder holds only what the collector lists', async () => {
    const example = path.join(COLLECTOR, 'examples', 'win2012r2-x64-exchange2016-vse88.json');
    const dir = mkdtempSync(path.join(work, 'refused-'));
    const machine = fixtureMachine(JSON.parse(readFileSync(example, 'utf8')) as ExampleSnapshot, dir);
    const { key } = await enrolWithCollector(stack.baseUrl, machine.env);
    const dataPath = path.join(dir, 'data');
    // A spool file cut short by a crash is JSON the service refuses for good (400 invalid_json),
    // and a log past its 1 MB limit, so this run both keeps a refused copy and rotates its log.
    // It also holds an escaped half character an older collector wrote: the run sends it repaired,
    // and the copy kept must still be the file as spooled.
    const refusedId = randomUUID();
    mkdirSync(path.join(dataPath, 'spool'), { recursive: true });
    const spooled = Buffer.from('{"schema":"fleet-posture/snapshot@1","note":"a\\ud800b","snapshotId":', 'utf8');
    writeFileSync(path.join(dataPath, 'spool', `20261201T010000000Z_${refusedId}.json`), spooled);
    writeFileSync(path.join(dataPath, 'collector.log'), 'x'.repeat(1024 * 1024 + 1), 'utf8');
    // An earlier run killed while writing a refused copy and the manifest cache, two hours ago:
    // this run removes what they left, so rejected\ ends up holding only the new copy.
    const cutShort = [path.join('rejected', `${randomUUID()}.json.tmp`), 'manifest.json.tmp'];
    mkdirSync(path.join(dataPath, 'rejected'));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const name of cutShort) {
      writeFileSync(path.join(dataPath, name), '{"schema":');
      utimesSync(path.join(dataPath, name), twoHoursAgo, twoHoursAgo);
    }

    const run = await send(stack.baseUrl, key, dataPath, machine.env);
    // A spooled snapshot lost to a refusal makes the run exit 2, its own delivered.
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/^Snapshot [0-9a-f-]{36} for .*: accepted/m);
    expect(readdirSync(path.join(dataPath, 'rejected'))).toEqual([`${refusedId}.json`]);
    expect(readFileSync(path.join(dataPath, 'rejected', `${refusedId}.json`)).equals(spooled)).toBe(true);
    expect(readdirSync(path.join(dataPath, 'spool'))).toEqual([]);
    expect(statSync(path.join(dataPath, 'collector.log.old')).size).toBe(1024 * 1024 + 1);
    const log = readFileSync(path.join(dataPath, 'collector.log'), 'utf8');
    expect(log).toContain(`Spooled snapshot ${refusedId} refused, not retried`);
    expect(log).toContain('It was sent with 1 escaped half of a UTF-16 surrogate pair replaced by U+FFFD; the copy is the file as spooled, before that repair.');
    for (const name of cutShort) expect(log).toContain(`Removed ${path.join(dataPath, name)}, left by a write cut short`);
    expect(existsSync(path.join(dataPath, 'manifest.json.tmp'))).toBe(false);
    await expectOnlyCollectorDataItems(dataPath);
  }, pwshTimeout(3));
});

describe('a busy storage account over real HTTP', () => {
  let host: LocalHost | undefined;
  afterAll(async () => host?.close());

  it('503 storage_unavailable with Retry-After: the collector waits that long, posts again, and the snapshot is accepted once', async () => {
    const example = JSON.parse(readFileSync(path.join(COLLECTOR, 'examples', 'win2012r2-x64-exchange2016-vse88.json'), 'utf8')) as ExampleSnapshot;
    const dir = mkdtempSync(path.join(work, 'busy-'));
    // A server of its own, so its first post owes the fleet-wide tables an outbox entry.
    const machine = fixtureMachine({ ...example, host: { ...example.host, name: 'BUSY01', fqdn: 'busy01.corp.contoso.com' } }, dir);
    const { key, server } = await enrolWithCollector(stack.baseUrl, machine.env);
    expect(server).toBe('busy01.corp.contoso.com');

    const port = await freePort();
    const calls: string[] = [];
    host = await startObservedHost(stack, port, calls);
    const answeredAt: number[] = [];
    host.server.on('request', (req, res) => res.on('finish', () => req.url === '/api/snapshots' && answeredAt.push(Date.now())));
    // The SDK's own retry inside the request meets the refusal too: the service gives up and answers 503.
    busy.refusals = 2;
    const run = await send(`http://127.0.0.1:${port}`, key, path.join(dir, 'data'), machine.env);
    expect(busy.refusals).toBe(0);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(calls).toEqual(['GET /api/manifest 200', 'POST /api/snapshots 503', 'POST /api/snapshots 201']);
    expect(settled(calls)).toEqual(['GET /api/manifest 200', 'POST /api/snapshots 201']);
    // The second post came after the Retry-After the 503 carried (its answer is later still).
    expect(answeredAt).toHaveLength(2);
    expect(answeredAt[1]! - answeredAt[0]!).toBeGreaterThanOrEqual(BUSY_RETRY_AFTER_SECONDS * 1000);
    const id = /^Snapshot ([0-9a-f-]{36}) for busy01\.corp\.contoso\.com: accepted/m.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    const stored = await (await stack.request(`servers/${encodeURIComponent(server)}`)).json() as { lastSnapshotId: string };
    expect(stored.lastSnapshotId).toBe(id);
  }, pwshTimeout(2));
});

describe('a busy service on a first run over real HTTP (no last good manifest)', () => {
  let host: LocalHost | undefined;
  afterAll(async () => {
    busyKeys.route = undefined;
    await host?.close();
  });

  function busyMachine(name: string) {
    const example = JSON.parse(readFileSync(path.join(COLLECTOR, 'examples', 'win2019-x64-exchange2019-no-mcafee.json'), 'utf8')) as ExampleSnapshot;
    const dir = mkdtempSync(path.join(work, `${name.toLowerCase()}-`));
    const fqdn = `${name.toLowerCase()}.corp.contoso.com`;
    return { dir, fqdn, machine: fixtureMachine({ ...example, host: { ...example.host, name, fqdn } }, dir) };
  }

  async function acceptedOnce(stdout: string, fqdn: string): Promise<void> {
    const id = new RegExp(`^Snapshot ([0-9a-f-]{36}) for ${fqdn.replace(/\./g, '\\.')}: accepted`, 'm').exec(stdout)?.[1];
    expect(id, stdout).toBeDefined();
    const stored = (await (await stack.request(`servers/${encodeURIComponent(fqdn)}`)).json()) as { lastSnapshotId: string };
    expect(stored.lastSnapshotId).toBe(id);
  }

  it('the manifest answers 503 with Retry-After: 1 once: the collector waits, fetches it again, and its snapshot is accepted once', async () => {
    const { dir, fqdn, machine } = busyMachine('BUSYMAN01');
    const { key, server } = await enrolWithCollector(stack.baseUrl, machine.env);
    expect(server).toBe(fqdn);
    const dataPath = path.join(dir, 'data');
    expect(existsSync(path.join(dataPath, 'manifest.json'))).toBe(false);

    const port = await freePort();
    host = await startLocalHost({ app: stack.app, port, hostname: '127.0.0.1', log: (e) => stack.logs.push(e) });
    const answers = observeAnswers(host);
    busyKeys.route = 'GET /api/manifest';
    const run = await runCollector(dataPath, machine.env, ['-Endpoint', `http://127.0.0.1:${port}/api`, '-ApiKey', key, '-Verbose']);
    expect(busyKeys.route).toBeUndefined();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(answers.map((a) => a.call)).toEqual(['GET /api/manifest 503', 'GET /api/manifest 200', 'POST /api/snapshots 201']);
    // The collector read the 503's Retry-After (its back-off alone would be a random 0.5-1 s) and
    // fetched again no sooner (the second answer is later still).
    expect(run.stdout).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/manifest: HTTP 503 on attempt 1 of 3; retrying in 1\.0 s/);
    expect(answers[1]!.at - answers[0]!.at).toBeGreaterThanOrEqual(BUSY_KEYS_RETRY_AFTER_SECONDS * 1000);
    await acceptedOnce(run.stdout, fqdn);
    // The manifest fetched on the second attempt became the last good copy.
    expect(JSON.parse(readFileSync(path.join(dataPath, 'manifest.json'), 'utf8'))).toMatchObject({ schema: 'fleet-posture/manifest@1' });
    await host.close();
    host = undefined;
  }, pwshTimeout(2));

  it('enrolment answers 503 with Retry-After: 1 once: the run enrols on its second attempt, stores the key and delivers', async () => {
    const { dir, fqdn, machine } = busyMachine('BUSYENR01');
    const dataPath = path.join(dir, 'data');
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    // As the installer leaves a server whose enrolment is still to come: the secret stored, no key.
    expect(storeConfig(endpoint, dataPath)).toMatchObject({ apiKey: '', enrolmentSecret: TEST_KEYS.enrolment });

    host = await startLocalHost({ app: stack.app, port, hostname: '127.0.0.1', log: (e) => stack.logs.push(e) });
    const answers = observeAnswers(host);
    busyKeys.route = 'POST /api/enroll';
    const run = await runCollector(dataPath, machine.env, ['-Verbose']);
    expect(busyKeys.route).toBeUndefined();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(answers.map((a) => a.call)).toEqual(['POST /api/enroll 503', 'POST /api/enroll 201', 'GET /api/manifest 200', 'POST /api/snapshots 201']);
    expect(run.stdout).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/api\/enroll: HTTP 503 on attempt 1 of 3; retrying in 1\.0 s/);
    expect(answers[1]!.at - answers[0]!.at).toBeGreaterThanOrEqual(BUSY_KEYS_RETRY_AFTER_SECONDS * 1000);
    await acceptedOnce(run.stdout, fqdn);
    expect(storedConfig(dataPath).apiKey).toMatch(/^fp1\./);
    await host.close();
    host = undefined;
  }, pwshTimeout(2));
});
