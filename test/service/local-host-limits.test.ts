// Size and key before the body, and bounded connections: the local host answers a refused or
// oversized request without reading its body, and closes connections that stall; the Azure path
// (an HttpRequest around a streamed body, as the Functions host builds it with HTTP streaming)
// stops reading at the limit. Raw sockets, so nothing in the client hides what the server does.
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { HttpRequest, InvocationContext, type HttpRequestInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeNamed } from '../../src/app/routes';
import { serveRoute } from '../../src/app/serve-route';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { postHead, raw } from '../support/raw-http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { until } from '../support/until';
import { DEFAULT_SERVER, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let strict: LocalHost;
const TIMEOUTS = { headersSeconds: 1, requestSeconds: 3, idleSeconds: 1, keepAliveSeconds: 1 };
const strictLogs: { level: string; functionName: string; message: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES });
  // A second host over the same app with short limits, to see them act.
  strict = await startLocalHost({ app: stack.app, port: 0, log: (e) => strictLogs.push(e), timeouts: TIMEOUTS });
});
afterAll(async () => {
  await strict?.close();
  await stack?.stop();
});

describe('the local host answers before the body', () => {
  it.each([
    ['1048577', 'a valid key', 413],
    ['10000000000', 'a valid key', 413],
    ['1048577', 'no key', 401],
    ['10000000000', 'no key', 401],
    ['10000000000', 'a wrong key', 401],
  ])('Content-Length %s with %s and no body: %i at once, then the connection closes', async (length, who, status) => {
    const key = who === 'a valid key' ? await stack.serverKey(DEFAULT_SERVER) : who === 'a wrong key' ? 'not-a-key' : undefined;
    const r = await raw(stack.baseUrl, postHead(stack.baseUrl, { 'Content-Length': length, ...(key ? { 'x-api-key': key } : {}) }));
    expect(r.status, r.text.slice(0, 300)).toBe(status);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('a chunked body trickling in without a key: 401 before the body ends', async () => {
    let timer: NodeJS.Timeout | undefined;
    const r = await raw(stack.baseUrl, postHead(stack.baseUrl, { 'Transfer-Encoding': 'chunked' }), {
      then: (socket) => {
        timer = setInterval(() => socket.writable && socket.write('1\r\n \r\n'), 200);
      },
    });
    clearInterval(timer);
    expect(r.status).toBe(401);
  });

  it('a GET with a promised body it never sends is answered, and the connection closed', async () => {
    const r = await raw(stack.baseUrl, `GET /api/rules HTTP/1.1\r\nHost: x\r\nx-api-key: test-reader-key-1\r\nContent-Length: 100000\r\n\r\n`);
    expect(r.status).toBe(200);
    expect(r.closed).toBe(true);
  });

  it('a well-behaved client keeps its connection: two posts on one socket', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    const body = JSON.stringify(snapshot());
    const head = postHead(stack.baseUrl, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)) });
    const url = new URL(stack.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let closed = false;
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => (closed = true));
    const answered = () => text.match(/HTTP\/1\.1 20[01]/g)?.length ?? 0;
    // Waits for each answer rather than a fixed time: a loaded machine answers later, not otherwise.
    socket.write(head + body);
    await until(() => answered() === 1 || closed, 'the first post answered');
    socket.write(head + body);
    await until(() => answered() === 2 || closed, 'the second post answered, or the socket closed');
    socket.destroy();
    expect(closed).toBe(false);
    expect(answered()).toBe(2);
  });
});

describe(`connection limits (this host: ${JSON.stringify(TIMEOUTS)} seconds)`, () => {
  it('a connection that sends nothing is closed', async () => {
    const r = await raw(strict.baseUrl, '', { deadlineMs: 8000 });
    expect(r.closed).toBe(true);
  });

  it('headers that stop half-way: the connection is closed', async () => {
    const r = await raw(strict.baseUrl, 'POST /api/snapshots HTTP/1.1\r\nHost: x\r\nContent-Ty', { deadlineMs: 8000 });
    expect(r.closed).toBe(true);
    expect([undefined, 408]).toContain(r.status);
  });

  it('a body that stops half-way (key and size fine): the connection is closed', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    const logged = strictLogs.length;
    const r = await raw(strict.baseUrl, postHead(strict.baseUrl, { 'x-api-key': key, 'Content-Length': '5000' }) + '{"schema":', { deadlineMs: 8000 });
    expect(r.closed).toBe(true);
    expect(r.status === undefined || r.status >= 400).toBe(true);
    // The handler saw its body fail: a client's doing, answered as one, not logged as the service failing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(strictLogs.slice(logged).filter((e) => e.level === 'error' || e.level === 'critical')).toEqual([]);
  });

  it('a body dripping a byte at a time, never idle: closed at the request limit', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    let timer: NodeJS.Timeout | undefined;
    const r = await raw(strict.baseUrl, postHead(strict.baseUrl, { 'x-api-key': key, 'Content-Length': '5000' }), {
      deadlineMs: 10_000,
      then: (socket) => {
        timer = setInterval(() => socket.writable && socket.write(' '), 300);
      },
    });
    clearInterval(timer);
    expect(r.closed).toBe(true);
  });

  it('an idle keep-alive connection is closed', async () => {
    const r = await raw(strict.baseUrl, `GET /api/rules HTTP/1.1\r\nHost: x\r\nx-api-key: test-reader-key-1\r\n\r\n`, { deadlineMs: 8000 });
    expect(r.status).toBe(200);
    // The answer came; wait for the close of the idle connection.
    const url = new URL(strict.baseUrl);
    const closed = await new Promise<boolean>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      const timer = setTimeout(() => (socket.destroy(), reject(new Error('kept open'))), 8000);
      socket.on('data', () => undefined);
      socket.on('close', () => (clearTimeout(timer), resolve(true)));
      socket.write(`GET /api/rules HTTP/1.1\r\nHost: x\r\nx-api-key: test-reader-key-1\r\n\r\n`);
    });
    expect(closed).toBe(true);
  });
});

describe('the Azure path: an HttpRequest around a streamed body', () => {
  /** An endless body that counts what was pulled from it. */
  function endless(): { stream: Readable; pulled: () => number } {
    let pulled = 0;
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const stream = new Readable({
      read() {
        pulled += chunk.length;
        this.push(chunk);
      },
    });
    return { stream, pulled: () => pulled };
  }

  /** The request as @azure/functions' createStreamRequest builds it when HTTP streaming is on. */
  function streamed(headers: Record<string, string>, body: Readable): HttpRequest {
    const nativeRequest = new Request('https://posture.example/api/snapshots', { method: 'POST', headers, body: body as unknown as ReadableStream, duplex: 'half' } as RequestInit);
    return new HttpRequest({ nativeRequest, params: {} } as unknown as HttpRequestInit);
  }

  const context = () => new InvocationContext({ invocationId: 'test', functionName: 'postSnapshot', logHandler: () => undefined });
  const limit = () => stack.settings.maxSnapshotBytes;

  it('an endless body with a valid key: 413 after about the limit, not the whole stream', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    const body = endless();
    const res = await serveRoute(stack.app, routeNamed('postSnapshot'), streamed({ 'content-type': 'application/json', 'x-api-key': key }, body.stream), context());
    expect(res.status).toBe(413);
    expect(body.pulled()).toBeGreaterThan(limit());
    expect(body.pulled()).toBeLessThan(limit() + 1024 * 1024);
  });

  it('an endless body without a key, or with an oversized Content-Length: refused having read (almost) nothing', async () => {
    const key = await stack.serverKey(DEFAULT_SERVER);
    for (const [headers, status] of [
      [{ 'content-type': 'application/json' }, 401],
      [{ 'content-type': 'application/json', 'x-api-key': 'fp1.bm9ib2R5.AAAAAAAAAAAAAAAA.' + 'A'.repeat(43) }, 401],
      [{ 'content-type': 'application/json', 'x-api-key': key, 'content-length': String(limit() + 1) }, 413],
    ] as const) {
      const body = endless();
      const res = await serveRoute(stack.app, routeNamed('postSnapshot'), streamed(headers, body.stream), context());
      expect(res.status, JSON.stringify(headers)).toBe(status);
      // At most what a stream buffers ahead on its own, never the body.
      expect(body.pulled(), JSON.stringify(headers)).toBeLessThanOrEqual(64 * 1024);
    }
  });
});
