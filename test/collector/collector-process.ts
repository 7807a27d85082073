// The real collector as a process: pwsh running collector/*.ps1 against a local host, and what the
// end-to-end tests need around it (a host of the same service on a port of its own whose calls are
// recorded, the configuration the collector stored).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { installedTools } from '../../scripts/tool-paths.cjs';
import { TEST_KEYS, type TestStack } from '../support/stack';

export const ROOT = path.join(__dirname, '..', '..');
export const COLLECTOR = path.join(ROOT, 'collector');
const pwsh = installedTools().pwsh!;

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A pwsh process started, and the run it ends as (a test may stop it first, as Task Scheduler does). */
export interface Started {
  readonly child: ChildProcess;
  readonly done: Promise<Run>;
}

/**
 * pwsh with only the given environment (plus PATH/HOME): no Windows variable leaks in from here.
 * With `ownGroup` it leads a process group of its own, so that stopProcessGroup can end it whole:
 * the installed pwsh is a launcher that runs PowerShell as its child.
 */
export function startPwsh(args: string[], env: Record<string, string>, options: { ownGroup?: boolean } = {}): Started {
  const child = spawn(pwsh, ['-NoProfile', '-NonInteractive', ...args], {
    cwd: ROOT,
    detached: options.ownGroup ?? false,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), DOTNET_CLI_TELEMETRY_OPTOUT: '1', NO_COLOR: '1', ...env },
  });
  const done = new Promise<Run>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/** Kills a process started with `ownGroup` and everything it started, as Task Scheduler ends a task. */
export function stopProcessGroup(started: Started): void {
  if (started.child.pid !== undefined) process.kill(-started.child.pid, 'SIGKILL');
}

export function runPwsh(args: string[], env: Record<string, string>): Promise<Run> {
  return startPwsh(args, env).done;
}

export interface Enrolled {
  readonly status: 'Issued' | 'Pending';
  readonly server: string;
  readonly key: string;
  readonly keyId: string;
  readonly requestId: string;
  readonly replaced: string[];
}

/**
 * Enrols the machine with the collector's own Invoke-PostureEnrolment (what the installer calls);
 * with `configDir`, also stores the configuration as the installer does (Save-PostureConfig: key,
 * key id, enrolment secret), so that runs without -Endpoint/-ApiKey use it and can re-enrol.
 */
export async function enrolWithCollector(endpoint: string, env: Record<string, string>, options: { configDir?: string; currentKey?: string } = {}): Promise<Enrolled> {
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const script = [
    "$ErrorActionPreference = 'Stop'",
    'Set-StrictMode -Version Latest',
    `foreach ($f in Get-ChildItem -LiteralPath ${q(path.join(COLLECTOR, 'Private'))} -Filter '*.ps1') { . $f.FullName }`,
    `$r = Invoke-PostureEnrolment -Endpoint ${q(`${endpoint}/api`)} -EnrolmentSecret ${q(TEST_KEYS.enrolment)} -CurrentKey ${q(options.currentKey ?? '')}`,
    "$key = ''; $keyId = ''; $requestId = ''; $replaced = @()",
    "if ($r.Status -eq 'Issued') { $key = $r.Key; $keyId = $r.KeyId; $replaced = $r.Replaced } else { $requestId = $r.RequestId }",
    ...(options.configDir
      ? [
          `[void][System.IO.Directory]::CreateDirectory(${q(options.configDir)})`,
          `Save-PostureConfig -Path ${q(path.join(options.configDir, 'config.dat'))} -Endpoint ${q(`${endpoint}/api`)} -ApiKey $key -EnrolmentSecret ${q(TEST_KEYS.enrolment)} -KeyId $keyId`,
        ]
      : []),
    'ConvertTo-PostureJson -InputObject @{ status = $r.Status; server = $r.Server; key = $key; keyId = $keyId; requestId = $requestId; replaced = @($replaced) }',
  ].join('; ');
  const r = await runPwsh(['-Command', script], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout) as Enrolled;
}

/**
 * What one pwsh run (start-up, then the script's work) may take in a test: about 5 s on an idle
 * 2-core machine, but .NET's start-up is CPU-bound and was measured at 35-60 s a run with the load
 * average at 15-17. A test's timeout is this times the pwsh runs it makes, so a loaded CI machine
 * slows the test without failing it.
 */
export const PWSH_RUN_MS = 60_000;

/** The timeout of a test that makes `runs` pwsh runs, plus `extraMs` of its own work. */
export const pwshTimeout = (runs: number, extraMs = 10_000): number => runs * PWSH_RUN_MS + extraMs;

/**
 * The collector sends as deployed: a request the service asks to be repeated (no answer, 408,
 * 429, 5xx, after its Retry-After) is repeated, here at most twice, after a back-off of at most
 * 10 s or the Retry-After in full (the local service's are a few seconds), so a storage hiccup on
 * a loaded machine (503 storage_unavailable) is retried, as the contract says, instead of
 * spooling the snapshot. The HTTP timeout is the collector's default.
 */
const SEND_ARGS = ['-MaxAttempts', '3', '-BaseDelaySeconds', '1', '-MaxDelaySeconds', '10', '-TimeoutSec', '60'];

/** One run of Send-PostureSnapshot.ps1 (sending with retries, SEND_ARGS); extra arguments as given. */
export function runCollector(dataPath: string, env: Record<string, string>, args: string[] = []): Promise<Run> {
  const script = path.join(COLLECTOR, 'Send-PostureSnapshot.ps1');
  return runPwsh(['-File', script, '-DataPath', dataPath, ...SEND_ARGS, ...args], env);
}

/** Answers the collector repeats the request after (the service's "try again"). */
const RETRIED = / (?:408|429|5\d\d)$/;

/**
 * The calls as a run settled them: answers that made the collector repeat the request (a 503 of
 * storage under load, a 429) are left out, so a test states what was delivered, however many
 * tries it took. Each left-out answer must be followed by a call of the same request.
 */
export function settled(calls: readonly string[]): string[] {
  calls.forEach((c, i) => {
    if (!RETRIED.test(c)) return;
    const request = c.replace(/ \d+$/, ' ');
    expect(calls.slice(i + 1).some((n) => n.startsWith(request)), `${c} was not tried again: ${calls.join(', ')}`).toBe(true);
  });
  return calls.filter((c) => !RETRIED.test(c));
}

let dataItemNames: Promise<string[]> | undefined;

/**
 * Everything the collector may keep in its data folder, from the collector itself
 * (Get-PostureDataItemName in collector/Private/Storage.ps1, the list the uninstaller removes):
 * one pwsh run per test file, so a test that calls it counts one run more in its timeout.
 */
export function collectorDataItemNames(): Promise<string[]> {
  dataItemNames ??= runPwsh(['-Command', `$ErrorActionPreference = 'Stop'; . '${path.join(COLLECTOR, 'Private', 'Storage.ps1').replace(/'/g, "''")}'; Get-PostureDataItemName`], {}).then((r) => {
    if (r.code !== 0) throw new Error(`Get-PostureDataItemName failed: ${r.stderr}${r.stdout}`);
    return r.stdout.split(/\r?\n/).filter((n) => n !== ''); // one name a line
  });
  return dataItemNames;
}

/**
 * Asserts that a real run left nothing in its data folder but what the collector's list names:
 * the uninstaller removes only those, so anything else would be left behind (and keep the folder).
 * Only the top-level names count; what is under spool\ and rejected\ goes with its folder.
 */
export async function expectOnlyCollectorDataItems(dataPath: string): Promise<void> {
  const names = await collectorDataItemNames();
  const left = readdirSync(dataPath, { recursive: true, encoding: 'utf8' }).sort();
  const unknown = readdirSync(dataPath).filter((n) => !names.includes(n));
  expect(unknown, `in ${dataPath}: ${left.join(', ')}; the collector's list: ${names.join(', ')}`).toEqual([]);
}

/** What the fixture's stand-in for DPAPI (collector/Private/Fixture.ps1) writes before the configuration. */
const FIXTURE_PROTECTION_MARK = 'fleet-posture fixture, NOT protected:';

/** The configuration the collector stored in `dataPath` (written under the fixture, so readable here). */
export function storedConfig(dataPath: string): Record<string, string> {
  const text = readFileSync(path.join(dataPath, 'config.dat'), 'utf8');
  expect(text.startsWith(FIXTURE_PROTECTION_MARK)).toBe(true);
  return JSON.parse(text.slice(FIXTURE_PROTECTION_MARK.length)) as Record<string, string>;
}

/**
 * Stores a configuration in `dataPath` as Save-PostureConfig writes it under the fixture: the
 * endpoint and the enrolment secret, no key yet (what an installer whose enrolment is still to
 * come leaves), so the first run enrols. Returns what storedConfig reads back.
 */
export function storeConfig(endpoint: string, dataPath: string): Record<string, string> {
  mkdirSync(dataPath, { recursive: true });
  const config = { endpoint: `${endpoint}/api`, headerName: 'x-api-key', apiKey: '', enrolmentSecret: TEST_KEYS.enrolment };
  writeFileSync(path.join(dataPath, 'config.dat'), FIXTURE_PROTECTION_MARK + JSON.stringify(config), 'utf8');
  return storedConfig(dataPath);
}

/**
 * A host of the same service (app and storage) on `port`, recording every call it answers as
 * "METHOD /path status" in `calls`; its log records go to the stack's logs.
 */
export async function startObservedHost(stack: TestStack, port: number, calls: string[]): Promise<LocalHost> {
  const h = await startLocalHost({ app: stack.app, port, hostname: '127.0.0.1', log: (e) => stack.logs.push(e) });
  h.server.on('request', (req, res) => res.on('finish', () => calls.push(`${req.method} ${req.url} ${res.statusCode}`)));
  return h;
}
