// `npm start` as a newcomer runs it (the built dist/src/local/main.js in a child process): the
// banner lists every route of the route table, prints no unexplained runtime warning, and its
// "Try" lines work as printed — the sample post answers a Warning whose guide link resolves. A
// second start on the same port stops with a sentence, not a bare EADDRINUSE.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/app/routes';
import { freePort } from '../../src/local/azurite';
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

function start(args: string[]): Started {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

let host: Started;
let port: number;

beforeAll(async () => {
  ensureServiceBuilt(MAIN);
  ensureDashboardBuilt();
  port = await freePort();
  host = start(['--port', String(port), '--storage-port', String(await freePort())]);
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

  it('its Try lines work as printed: the sample post answers a Warning whose guide link resolves', async () => {
    const out = host.out();
    const enrol = /KEY=\$\(curl -s -X POST (\S+) -H 'x-api-key: ([^']+)' -H 'Content-Type: application\/json' -d '([^']+)'/.exec(out);
    const postLine = /curl -s -X POST (\S+) -H "x-api-key: \$KEY" -H 'Content-Type: application\/json' --data-binary @(\S+)/.exec(out);
    const guide = /the guide: (\S+)/.exec(out);
    expect(enrol && postLine && guide).toBeTruthy();
    const enrolled = await fetch(enrol![1]!, { method: 'POST', headers: { 'x-api-key': enrol![2]!, 'content-type': 'application/json' }, body: enrol![3]! });
    expect(enrolled.status).toBe(201);
    const key = ((await enrolled.json()) as { key: string }).key;
    const { readFileSync } = await import('node:fs');
    const posted = await fetch(postLine![1]!, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: readFileSync(path.join(ROOT, postLine![2]!)) });
    expect(posted.status).toBe(201);
    const result = ((await posted.json()) as { results: { status: string; reasonCode: string; remediation: string[] }[] }).results[0]!;
    expect(result).toMatchObject({ status: 'Warning', reasonCode: 'SmtpNotExcluded' });
    expect(result.remediation).toHaveLength(2);
    const page = await fetch(guide![1]!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`id="${new URL(guide![1]!).hash.slice(1)}"`);
  });

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
    const otherPort = await freePort();
    await new Promise<void>((resolve) => other.listen(otherPort, '127.0.0.1', resolve));
    try {
      const third = start(['--port', String(otherPort), '--storage-port', String(await freePort())]);
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
