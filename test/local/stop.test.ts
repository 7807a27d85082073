// Ctrl-C on `npm start` (the built dist/src/local/main.js in a child process, its own process
// group signalled as a terminal does): a post still arriving when the signal comes is stored and
// answered in full, then the host and Azurite stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/local/azurite';
import { ensureServiceBuilt } from '../support/built';
import { postHead } from '../support/raw-http';
import { until } from '../support/until';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'local', 'main.js');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'port25', 'vse88-x64-transport-not-excluded.json');

let child: ChildProcess;
let out = '';
let exited: Promise<number | null>;
let port: number;
let storagePort: number;

beforeAll(async () => {
  ensureServiceBuilt(MAIN);
  [port, storagePort] = (await freePorts(2)) as [number, number];
  // A process group of its own, as a terminal's foreground job: the signal goes to the whole group.
  child = spawn(process.execPath, [MAIN, '--port', String(port), '--storage-port', String(storagePort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  await until(() => out.includes('Ctrl-C stops the host and Azurite.'), 'the banner', 60_000);
}, 120_000);

afterAll(async () => {
  if (child?.exitCode === null && child.signalCode === null) {
    // Twice: the second stops at once, Azurite included.
    child.kill('SIGINT');
    child.kill('SIGINT');
    await exited;
  }
});

/** Whether something accepts connections on the port. */
function listening(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(p, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('Ctrl-C on npm start', () => {
  it('a post half-sent when the signal comes is answered 201; then the host and Azurite stop', async () => {
    const secret = /enrolment=(\S+)/.exec(out)![1]!;
    const enrolled = await fetch(`http://127.0.0.1:${port}/api/enroll`, {
      method: 'POST',
      headers: { 'x-api-key': secret, 'content-type': 'application/json' },
      body: JSON.stringify({ host: { name: 'TRANSPORT01', fqdn: 'transport01.corp.contoso.com' } }),
    });
    expect(enrolled.status).toBe(201);
    const key = ((await enrolled.json()) as { key: string }).key;
    const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { host: Record<string, unknown> };
    const body = JSON.stringify({ ...doc, host: { ...doc.host, name: 'TRANSPORT01', fqdn: 'transport01.corp.contoso.com' } });
    const half = Math.floor(body.length / 2);
    // "Expect: 100-continue": the host's interim answer shows it has taken the request in.
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(postHead(`http://127.0.0.1:${port}`, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)), Expect: '100-continue' }));
    await until(() => text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 'the host to take the request in');
    socket.write(body.slice(0, half));
    process.kill(-child.pid!, 'SIGINT');
    await until(() => out.includes('Stopping'), 'the host to begin stopping');
    socket.write(body.slice(half));
    await closed;
    const answer = text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(answer, answer.slice(0, 400)).toMatch(/^HTTP\/1\.1 201 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ results: [{ reasonCode: 'SmtpNotExcluded' }] });
    expect(await exited).toBe(0);
    expect(await listening(port)).toBe(false);
    expect(await listening(storagePort)).toBe(false);
  }, 60_000);
});
