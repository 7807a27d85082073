// `npm start` as a newcomer runs it (the built dist/src/local/main.js in a child process): the
// banner lists every route of the route table, prints no unexplained runtime warning, and its
// "Try" lines work as printed — the sample post answers a Warning whose guide link resolves. A
// second start on the same port stops with a sentence, not a bare EADDRINUSE.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/app/routes';
import { freePort, freePorts } from '../../src/local/azurite';
import { installedTools, toolsRequired } from '../../scripts/tool-paths.cjs';
import { ensureDashboardBuilt } from '../dashboard/build';
import { ensureServiceBuilt } from '../support/built';
import { until } from '../support/until';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'local', 'main.js');

interface Started {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Started {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** The banner's enrolment and post lines, as printed. */
function tryLines(out: string): { enrol: string; post: string } {
  const lines = out.split('\n').map((l) => l.trim());
  const enrol = lines.find((l) => l.startsWith('KEY=$('));
  const post = lines.find((l) => l.startsWith('curl -s -X POST') && l.includes('$'));
  expect(enrol && post).toBeTruthy();
  return { enrol: enrol!, post: post! };
}

/** Runs lines in bash as pasted in the repository's folder: exit code, stdout, stderr. */
function bash(script: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: ROOT, env }, (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err }));
  });
}

/** Runs a script in pwsh as pasted in the repository's folder: exit code, stdout, stderr. */
function pwsh(exe: string, script: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(exe, ['-NoProfile', '-NonInteractive', '-Command', script], { cwd: ROOT }, (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err }));
  });
}

let host: Started;
let port: number;

beforeAll(async () => {
  ensureServiceBuilt(MAIN);
  ensureDashboardBuilt();
  const [hostPort, storagePort] = await freePorts(2);
  port = hostPort!;
  host = start(['--port', String(port), '--storage-port', String(storagePort)]);
  await until(() => host.out().includes('Ctrl-C stops the host and Azurite.'), 'the banner', 60_000);
}, 180_000);

afterAll(async () => {
  if (host && host.child.exitCode === null) {
    host.child.kill('SIGINT');
    await host.exited;
  }
});

describe('npm start', () => {
  it('lists every route of the route table with the key it needs', () => {
    const base = `http://localhost:${port}/api`;
    const lines = host.out().split('\n');
    for (const route of ROUTES) {
      // Routes of one path differ by method (GET and DELETE servers/{server}): each has its own line.
      const onPath = (l: string) => l.includes(` ${base}/${route.route} `) || l.endsWith(` ${base}/${route.route}`);
      const line = lines.find((l) => onPath(l) && l.trim().startsWith(`${route.methods.join('|')} `));
      expect(line, route.name).toBeDefined();
      expect(line, route.name).toMatch(/\((no key|enrolment secret|that server's key|server, reader or admin key|reader key|admin key)\)$/);
    }
  });

  it('prints no runtime warning of @azure/functions', () => {
    expect(host.out() + host.err()).not.toContain('Failed to detect the Azure Functions runtime');
  });

  it('its Try lines work as printed in bash: the sample post answers a Warning whose guide link resolves', async () => {
    const { enrol, post } = tryLines(host.out());
    const run = await bash(`${enrol}\n${post}`);
    expect(run.code, run.err).toBe(0);
    const result = (JSON.parse(run.out) as { results: { status: string; reasonCode: string; remediation: string[] }[] }).results[0]!;
    expect(result).toMatchObject({ status: 'Warning', reasonCode: 'SmtpNotExcluded' });
    expect(result.remediation).toHaveLength(2);
    const guide = /the guide: (\S+)/.exec(host.out());
    expect(guide).toBeTruthy();
    const page = await fetch(guide![1]!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`id="${new URL(guide![1]!).hash.slice(1)}"`);
  });

  // Runs where pwsh is installed (npm run tools), and fails where the tools are required but missing.
  it.runIf(installedTools().pwsh !== null || toolsRequired())('the PowerShell lines of docs/local.md work as printed: the post answers a Warning', async () => {
    const exe = installedTools().pwsh;
    expect(exe, 'pwsh (npm run tools)').not.toBeNull();
    const block = /^### The Try lines in PowerShell$[\s\S]*?^```powershell\n([\s\S]*?)^```$/m.exec(readFileSync(path.join(ROOT, 'docs', 'local.md'), 'utf8'))?.[1];
    expect(block).toBeTruthy();
    const script = block!.replaceAll('http://localhost:7071/', `http://localhost:${port}/`);
    expect(script).not.toBe(block);
    const run = await pwsh(exe!, `${script}\n"verdict: $($answer.results[0].status) $($answer.results[0].reasonCode)"`);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('verdict: Warning SmtpNotExcluded');
  }, 60_000);

  it('logs the projection of that post once prefixed: "projector: projected …"', async () => {
    await until(() => /projected \d+ outbox entries/.test(host.out()), 'the projector line', 30_000);
    expect(host.out()).toMatch(/^\[[^\]]+\] projector: projected \d+ outbox entries \(/m);
    expect(host.out()).not.toContain('projector: projector:');
  });

  it('a refused enrolment line prints the service\'s sentence and stops, and the post line does not send an empty key', async () => {
    const { enrol, post } = tryLines(host.out());
    // The secret of another setup: the service refuses it, and says why.
    const wrongSecret = enrol.replace(/-H 'x-api-key: [^']+'/, "-H 'x-api-key: not-the-secret'");
    expect(wrongSecret).not.toBe(enrol);
    const refused = await fetch(/POST (\S+)/.exec(enrol)![1]!, { method: 'POST', headers: { 'x-api-key': 'not-the-secret', 'content-type': 'application/json' }, body: '{"host":{"name":"EXCH10G"}}' });
    const sentence = ((await refused.json()) as { message: string }).message;
    expect(sentence.length).toBeGreaterThan(0);
    const alone = await bash(`${wrongSecret}\necho "KEY=[$KEY]"`);
    expect(alone.err).toContain(sentence);
    expect(alone.out).toBe('KEY=[]\n');
    const stopped = await bash(`${wrongSecret} || exit 7`);
    expect(stopped.code).toBe(7);
    // Pasted together with the post: the post is not sent (bash names the empty KEY instead).
    const both = await bash(`${wrongSecret}\n${post}\necho posted`);
    expect(both.code).not.toBe(0);
    expect(both.err).toContain('KEY: the enrolment line above gave no key');
    expect(both.out).toBe('');
  });

  it('the enrolment line against a host that is not running says so and stops', async () => {
    const { enrol } = tryLines(host.out());
    const downPort = await freePort();
    const run = await bash(`${enrol.replace(`localhost:${port}/`, `localhost:${downPort}/`)} || exit 7\necho "KEY=[$KEY]"`);
    expect(run.code).toBe(7);
    expect(run.err).toContain('No answer from the host: is npm start running?');
    expect(run.out).toBe('');
  });

  it('keys of the environment are masked in the banner, and its Try lines work once they are exported', async () => {
    const secrets = { POSTURE_ENROLMENT_SECRETS: 'real-enrolment-secret-1', POSTURE_READER_KEYS: 'real-reader-key-1', POSTURE_ADMIN_KEYS: 'real-admin-key-1', POSTURE_INGEST_KEYS: 'real-ingest-key-1' };
    const [ownPort, ownStoragePort] = await freePorts(2);
    const own = start(['--port', String(ownPort), '--storage-port', String(ownStoragePort)], { ...process.env, ...secrets });
    try {
      await until(() => own.out().includes('Ctrl-C stops the host and Azurite.'), 'the banner', 60_000);
      for (const value of Object.values(secrets)) expect(own.out()).not.toContain(value);
      expect(own.out()).toContain('enrolment=real… (the first of POSTURE_ENROLMENT_SECRETS in the environment)');
      expect(own.out()).toContain('Keys (the environment)');
      expect(own.out()).toContain('first export ENROLMENT_SECRET (the first of POSTURE_ENROLMENT_SECRETS in the environment) and READER_KEY');
      const { enrol, post } = tryLines(own.out());
      const summary = own.out().split('\n').map((l) => l.trim()).find((l) => l.startsWith('curl -s http') && l.includes('/summary'))!;
      // Not exported: the line says which variable to export, and sends nothing.
      const unset = await bash(enrol, { PATH: process.env.PATH });
      expect(unset.code).not.toBe(0);
      expect(unset.err).toContain('ENROLMENT_SECRET: export ENROLMENT_SECRET first');
      const run = await bash(`${enrol}\n${post}\n${summary}`, { PATH: process.env.PATH, ENROLMENT_SECRET: secrets.POSTURE_ENROLMENT_SECRETS, READER_KEY: secrets.POSTURE_READER_KEYS });
      expect(run.code, run.err).toBe(0);
      expect(run.out).toContain('"reasonCode":"SmtpNotExcluded"');
      expect(run.out).toContain('"countsPending"');
    } finally {
      own.child.kill('SIGINT');
      await own.exited;
    }
  }, 120_000);

  it('a second start on the port of a running host says a fleet-posture host is there, and where', async () => {
    const second = start(['--port', String(port), '--storage-port', String(await freePort())]);
    const code = await second.exited;
    expect(code).toBe(1);
    expect(second.err()).toMatch(
      new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 already serves a fleet-posture host \\(version [^)]+\\), most likely a second "npm start": use that one \\(its dashboard is http://localhost:${port}/api/dashboard\\), or start another on a free port: npm start -- --port ${port + 1}\\.$`, 'm'),
    );
    expect(second.err()).not.toMatch(/^Error: listen EADDRINUSE/m);
    // Nothing ran, so nothing is said about letting work in progress finish.
    expect(second.out()).not.toMatch(/Stopping/);
  }, 60_000);

  it('a start on a port another program holds stops with what to do', async () => {
    const { createServer } = await import('node:http');
    const other = createServer((_req, res) => res.end('not us'));
    const [otherPort, thirdStoragePort] = (await freePorts(2)) as [number, number];
    await new Promise<void>((resolve) => other.listen(otherPort, '127.0.0.1', resolve));
    try {
      const third = start(['--port', String(otherPort), '--storage-port', String(thirdStoragePort)]);
      expect(await third.exited).toBe(1);
      expect(third.err()).toContain(`Port ${otherPort} is already in use on 127.0.0.1, by another program (a second "npm start", or "func start"?). Stop it, or start on another port: npm start -- --port ${otherPort + 1}.`);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  }, 60_000);

  it('a wrong option stops with one sentence and the usage, exit 2, before starting anything', async () => {
    for (const [args, sentence] of [
      [['--port', 'abc'], '--port needs a port number (0-65535), not "abc".'],
      [['--storage-port'], '--storage-port needs a port number.'],
      [['--bogus'], 'Unknown option --bogus.'],
    ] as const) {
      const wrong = start([...args]);
      expect(await wrong.exited, args.join(' ')).toBe(2);
      expect(wrong.err().split('\n')[0]).toBe(sentence);
      expect(wrong.err()).toContain('Usage: npm start -- [--port N]');
      // No stack trace, and no Azurite was started.
      expect(wrong.err()).not.toMatch(/^\s+at /m);
      expect(wrong.out()).not.toContain('Table Storage');
    }
  }, 60_000);
});
