// `npm run demo` posts where it is told, and only to a fleet-posture host: the arguments, the probe
// against real HTTP servers (an unrelated one, none), and the plan that follows.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoUsageError, parseDemoArgs, planDemo, probeHost } from '../../src/local/demo-target';

describe('demo arguments', () => {
  it('takes --url, --port, a URL argument or POSTURE_URL, in that order of precedence', () => {
    expect(parseDemoArgs(['--url', 'http://localhost:7181/api/'])).toEqual({ url: 'http://localhost:7181' });
    expect(parseDemoArgs(['--port', '7181'])).toEqual({ url: 'http://localhost:7181' });
    expect(parseDemoArgs(['https://posture.contoso.net'])).toEqual({ url: 'https://posture.contoso.net' });
    expect(parseDemoArgs([], { POSTURE_URL: 'http://127.0.0.1:9000/api' })).toEqual({ url: 'http://127.0.0.1:9000' });
    expect(parseDemoArgs(['--port', '7181'], { POSTURE_URL: 'http://127.0.0.1:9000' })).toEqual({ url: 'http://localhost:7181' });
    expect(parseDemoArgs([])).toEqual({});
    expect(parseDemoArgs(['--port', '7181', '--enrolment-secret', 's', '--reader-key', 'r'])).toEqual({ url: 'http://localhost:7181', enrolmentSecret: 's', readerKey: 'r' });
    expect(parseDemoArgs(['--help'])).toEqual({ help: true });
  });

  it('refuses bad values with one sentence', () => {
    expect(() => parseDemoArgs(['--port', 'x'])).toThrow(new DemoUsageError('--port needs a port number (1-65535), not "x".'));
    expect(() => parseDemoArgs(['--port'])).toThrow('--port needs a value.');
    expect(() => parseDemoArgs(['--url', 'ftp://x'])).toThrow('--url needs an http:// or https:// URL, not "ftp://x".');
    expect(() => parseDemoArgs(['--bogus'])).toThrow('Unknown option --bogus.');
  });
});

describe('probing what answers', () => {
  let other: Server;
  let otherBase: string;
  beforeAll(async () => {
    // An unrelated program: answers every path, 200 with a web page.
    other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html', server: 'other-app' }).end('<html>hello</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const address = other.address();
    otherBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => other.close(() => resolve())));

  it('tells an unrelated program from a fleet-posture host, and never plans a post to it', async () => {
    const probe = await probeHost(otherBase);
    expect(probe).toEqual({ kind: 'other', detail: 'GET /api/health answered 200 (server: other-app)' });
    expect(planDemo(otherBase, probe, otherBase)).toEqual({ refuse: `${otherBase} is not a fleet-posture host (GET /api/health answered 200 (server: other-app)); nothing was posted to it.` });
    const fallback = planDemo(undefined, probe, otherBase);
    expect(fallback).toMatchObject({ startOwnHost: true });
    expect('post' in fallback).toBe(false);
  });

  it('finds nothing on a closed port; a named host then is an error, the default a throwaway host', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const probe = await probeHost(base);
    expect(probe).toEqual({ kind: 'none', detail: 'ECONNREFUSED' });
    expect(planDemo(base, probe, base)).toMatchObject({ refuse: expect.stringMatching(/^No host answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); start one with "npm start -- --port \d+"/) });
    expect(planDemo(undefined, probe, base)).toMatchObject({ startOwnHost: true, note: `No host at ${base}; starting Azurite and a throwaway local host for this demo (in memory).` });
  });

  it('posts to a fleet-posture host', () => {
    expect(planDemo('http://localhost:7181', { kind: 'fleet-posture', version: '0.1.0' }, 'http://localhost:7181')).toEqual({
      post: 'http://localhost:7181',
      note: 'Posting to the fleet-posture host at http://localhost:7181.',
    });
  });
});
