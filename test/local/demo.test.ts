// `npm run demo` end to end: with --url it fills the named fleet-posture host (keys given on the
// command line), and it refuses a program that is not one without sending it anything.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFixtures } from '../../src/local/main';
import { demoMain, runDemo } from '../../src/local/demo';
import { get } from '../support/http';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';

let stack: TestStack;
let other: Server;
let otherBase: string;
const seen: { method: string; url: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  other = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '' });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const address = other.address();
  otherBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => other.close(() => resolve()));
  await stack?.stop();
});

async function demo(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await demoMain(argv, {}, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('npm run demo', () => {
  it('--url posts the sample fleet to that fleet-posture host', async () => {
    const r = await demo(['--url', `${stack.baseUrl}/api`, '--enrolment-secret', TEST_KEYS.enrolment, '--reader-key', TEST_KEYS.reader]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(`Posting to the fleet-posture host at ${stack.baseUrl}.`);
    const fixtures = findFixtures().length;
    expect(fixtures).toBeGreaterThan(40);
    // Every fixture is a server of the host the user named.
    const summary = await get(stack, 'summary');
    expect(summary.body.hosts).toBe(fixtures);
    expect(summary.body.countsPending).toBe(false);
    expect(r.out).toContain(`Summary: ${fixtures} hosts`);
    expect(r.out.filter((l) => l.startsWith('The summary still says'))).toEqual([]);
  }, 120_000);

  it('--port names the host the same way', async () => {
    const port = new URL(stack.baseUrl).port;
    const r = await demo(['--port', port, '--enrolment-secret', 'wrong-secret', '--reader-key', TEST_KEYS.reader]);
    expect(r.out[0]).toBe(`Posting to the fleet-posture host at http://localhost:${port}.`);
    // A wrong secret is not hidden: each post fails and the exit code says so.
    expect(r.code).toBe(1);
  }, 120_000);

  it('refuses a program that is not fleet-posture, sending it nothing but the health question', async () => {
    const r = await demo(['--url', otherBase]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([`${otherBase} is not a fleet-posture host (GET /api/health answered 200); nothing was posted to it.`]);
    expect(seen).toEqual([{ method: 'GET', url: '/api/health' }]);
  });

  it('explains its options, and refuses a bad one', async () => {
    expect((await demo(['--help'])).out[0]).toMatch(/^Usage: npm run demo -- \[--url URL \| --port N\]/);
    const bad = await demo(['--port', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/^--port needs a port number \(1-65535\), not "x"\.\n/);
  });
});

describe('npm run demo while the projector has not come round', () => {
  let held: TestStack;
  beforeAll(async () => {
    held = await startTestStack({ projectorIntervalMs: 0 });
  }, 120_000);
  afterAll(async () => held?.stop());

  it('waits on countsPending a bounded time, says it gave up, and still prints the table', async () => {
    const out: string[] = [];
    const failures = await runDemo(held.baseUrl, TEST_KEYS.enrolment, TEST_KEYS.reader, (l) => out.push(l), { waitMs: 1000 });
    expect(failures).toBe(0);
    expect(out).toContain('The summary still says recent changes are being counted after 1 s; the table below may miss some of them (read the summary again later).');
    // The table is what was counted then: nothing yet.
    expect(out).toContain('Summary: 0 hosts');
    expect((await get(held, 'summary')).body.countsPending).toBe(true);
    // Nothing accepted was lost: once drained, every post is counted.
    await held.projected();
    const summary = await get(held, 'summary');
    expect(summary.body.countsPending).toBe(false);
    expect(summary.body.hosts).toBe(findFixtures().length);
  }, 120_000);
});
