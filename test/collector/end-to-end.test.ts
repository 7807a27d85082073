// The real collector, end to end: collector/Send-PostureSnapshot.ps1 under pwsh against the local
// host over real HTTP, with only its edge reads (registry, services, OS, DNS name, log files)
// answered from a fixture built from each machine in collector/examples/. It enrols, posts, and
// the verdicts the service stores equal `fleet-posture evaluate` on that machine's snapshot. Then
// the spool: host down, the snapshot is spooled; host up, it is delivered exactly once.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCommand } from '../../src/cli/evaluate';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { installedTools } from '../../scripts/tool-paths.cjs';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { fakeIo } from './cli-io';
import { fixtureMachine, type ExampleSnapshot } from './fixture-machine';

const ROOT = path.join(__dirname, '..', '..');
const COLLECTOR = path.join(ROOT, 'collector');
const EXAMPLES = readdirSync(path.join(COLLECTOR, 'examples')).filter((f) => f.endsWith('.json') && !f.startsWith('manifest'));
const pwsh = installedTools().pwsh!;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** pwsh with only the given environment (plus PATH/HOME): no Windows variable leaks in from here. */
function runPwsh(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(pwsh, ['-NoProfile', '-NonInteractive', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), DOTNET_CLI_TELEMETRY_OPTOUT: '1', NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Enrols the machine with the collector's own enrolment function (what the installer calls). */
async function enrol(baseUrl: string, env: Record<string, string>): Promise<{ key: string; server: string }> {
  const script = [
    "$ErrorActionPreference = 'Stop'",
    'Set-StrictMode -Version Latest',
    `foreach ($f in Get-ChildItem -LiteralPath '${path.join(COLLECTOR, 'Private')}' -Filter '*.ps1') { . $f.FullName }`,
    `$r = Invoke-PostureEnrolment -Endpoint '${baseUrl}/api' -EnrolmentSecret '${TEST_KEYS.enrolment}'`,
    "ConvertTo-PostureJson -InputObject @{ key = $r.Key; server = $r.Server }",
  ].join('; ');
  const r = await runPwsh(['-Command', script], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout) as { key: string; server: string };
}

function send(endpoint: string, key: string, dataPath: string, env: Record<string, string>): Promise<Run> {
  const script = path.join(COLLECTOR, 'Send-PostureSnapshot.ps1');
  return runPwsh(['-File', script, '-Endpoint', `${endpoint}/api`, '-ApiKey', key, '-DataPath', dataPath, '-MaxAttempts', '1', '-BaseDelaySeconds', '0', '-TimeoutSec', '20'], env);
}

async function evaluateExample(file: string): Promise<{ server: string; results: Record<string, unknown>[] }> {
  const io = fakeIo();
  expect(await evaluateCommand([file], io), io.stderr).toBe(0);
  return JSON.parse(io.stdout) as { server: string; results: Record<string, unknown>[] };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

let stack: TestStack;
const work = mkdtempSync(path.join(tmpdir(), 'posture-e2e-'));

beforeAll(async () => {
  stack = await startTestStack();
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

      const { key, server } = await enrol(stack.baseUrl, machine.env);
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
    }, 120_000);
  }
});

describe('the spool over real HTTP', () => {
  let host: LocalHost | undefined;
  afterAll(async () => host?.close());

  it('host down: spooled, exit 1; host up: the spooled snapshot and the new one delivered, each exactly once', async () => {
    const example = path.join(COLLECTOR, 'examples', 'win2008r2-x64-exchange2010-vse87i.json');
    const dir = mkdtempSync(path.join(work, 'spool-'));
    const machine = fixtureMachine(JSON.parse(readFileSync(example, 'utf8')) as ExampleSnapshot, dir);
    const { key, server } = await enrol(stack.baseUrl, machine.env);
    const dataPath = path.join(dir, 'data');
    const spool = path.join(dataPath, 'spool');

    // The collector's endpoint: a host of the same service (app and storage) on a port of its own.
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const posts: number[] = [];
    const hostUp = async (): Promise<LocalHost> => {
      const h = await startLocalHost({ app: stack.app, port, hostname: '127.0.0.1', log: () => undefined });
      h.server.on('request', (req, res) => {
        if (req.method === 'POST' && req.url === '/api/snapshots') res.on('finish', () => posts.push(res.statusCode));
      });
      return h;
    };

    // A first run with the host up: delivered, and the manifest kept as the last good copy.
    host = await hostUp();
    const first = await send(endpoint, key, dataPath, machine.env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(posts).toHaveLength(1);

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

    // Host up again: the spooled snapshot first, then the new one; each accepted once.
    host = await hostUp();
    const up = await send(endpoint, key, dataPath, machine.env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(posts).toHaveLength(3);
    expect(posts.every((s) => s >= 200 && s < 300), String(posts)).toBe(true);
    expect(readdirSync(spool)).toEqual([]);
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
    expect(posts).toHaveLength(4);
    expect(readFileSync(path.join(dataPath, 'collector.log'), 'utf8').split(`Spooled snapshot ${spooled[0]} delivered`)).toHaveLength(2);
    expect(existsSync(spool) ? readdirSync(spool) : []).toEqual([]);
  }, 180_000);
});
