// Requests the local host is working on: a handler waiting on storage keeps its connection however
// long storage takes (the client gets the handler's answer, a 503 with Retry-After when storage
// fails), while a client that goes silent in the middle of its body is still cut off; and close()
// lets the requests in flight finish, within a bound, before it cuts their connections; requests
// received in full get their answers though bytes the host refuses follow them. Real
// Azurite behind a pipeline policy that stalls storage until the test lets it go; real HTTP.
import { maxHeaderSize, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PostureApp } from '../../src/app/create-app';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../src/local/host';
import { heldStorage } from '../support/faults';
import { postHead, raw, sendingClient, type SendingClient } from '../support/raw-http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { DEFAULT_SERVER, startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { until } from '../support/until';

const storage = heldStorage('held-storage');
let stack: TestStack;
const hosts: LocalHost[] = [];

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [storage.policy], projectorIntervalMs: 0 });
});
afterEach(async () => {
  storage.fail = false;
  storage.release();
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await stack?.stop();
});

async function host(options: Partial<LocalHostOptions> = {}): Promise<LocalHost> {
  const h = await startLocalHost({ app: stack.app, port: 0, log: () => undefined, projectorIntervalMs: 0, ...options });
  hosts.push(h);
  return h;
}

/** Counts the host's idle-limit events, on any of its connections. */
function idleEvents(h: LocalHost): { readonly count: number } {
  const seen = { count: 0 };
  h.server.on('connection', (socket) => socket.on('timeout', () => seen.count++));
  return seen;
}

/** Counts the client errors Node reports on the host's connections (all, or those with `code`). */
function clientErrorEvents(h: LocalHost, code?: string): { readonly count: number } {
  const seen = { count: 0 };
  h.server.on('clientError', (error: NodeJS.ErrnoException) => {
    if (code === undefined || error.code === code) seen.count++;
  });
  return seen;
}

/** Counts the times the request limit ran out on the host's connections (Node reports it as a client error). */
function requestLimitEvents(h: LocalHost): { readonly count: number } {
  return clientErrorEvents(h, 'ERR_HTTP_REQUEST_TIMEOUT');
}

describe('a client that stops reading', () => {
  // Broken bytes behind the export (pipelined) leave it to be answered, and still under the idle limit.
  it.each([
    ['', 'a streamed export it stops reading is cut off at the idle limit, and its place goes to the next request'],
    ['GARBAGE \x01\r\n\r\n', 'so is one with broken bytes behind it on the same connection'],
  ])('%j: %s', async (after) => {
    expect((await fetch(`${stack.baseUrl}/api/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey('csv01.corp.contoso.com') }, body: JSON.stringify(snapshot({ host: 'csv01', testState: 'Pass' })) })).status).toBe(201);
    // A fleet far larger than any socket buffer: the export's page reader hands out the same page
    // of results without end, so the answer outlasts whatever the client would read.
    const store = stack.app.store;
    const first = await store.listAllResults(stack.app.rules.map((r) => r.id), 1);
    const real = store.listAllResults.bind(store);
    store.listAllResults = async () => ({ items: Array.from({ length: 1000 }, () => first.items[0]!), continuationToken: 'more' });
    try {
      const h = await host({ concurrency: { limit: 1, queue: 4 }, timeouts: { idleSeconds: 1 } });
      const refused = clientErrorEvents(h);
      const url = new URL(h.baseUrl);
      const reader = connect(Number(url.port), url.hostname);
      // It sends its request, then reads nothing.
      reader.pause();
      reader.write(`GET /api/export/results.csv HTTP/1.1\r\nHost: ${url.host}\r\nx-api-key: ${TEST_KEYS.reader}\r\n\r\n${after}`);
      await until(() => h.load.running === 1, 'the export to take the only place');
      if (after) await until(() => refused.count > 0, 'the broken bytes to be refused');
      const next = await raw(h.baseUrl, `GET /api/summary HTTP/1.1\r\nHost: ${url.host}\r\nx-api-key: ${TEST_KEYS.reader}\r\nConnection: close\r\n\r\n`, { deadlineMs: 15_000 });
      expect(next.status).toBe(200);
      reader.destroy();
    } finally {
      store.listAllResults = real;
    }
  });
});

/**
 * A large post whose key check is held at storage until the connection passes `limit` (the idle or
 * the request limit, by its events); `answer` then lets storage fail or answer, and `reply` is what
 * the client got. Larger than the socket buffers: most of it is still unread while the key is checked.
 */
async function heldLargePost(h: Awaited<ReturnType<typeof host>>, server: string, limit: { readonly count: number }, what: string) {
  const key = await stack.serverKey(`${server}.corp.contoso.com`);
  const body = JSON.stringify(snapshot({ host: server, tail: 'x'.repeat(900 * 1024) }));
  storage.hold = true;
  const reply = raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)) }) + body, { deadlineMs: 20_000 });
  await until(() => storage.arrived > 0, 'the key check to reach storage');
  await until(() => limit.count > 0, what);
  return {
    reply,
    answer: (fail: boolean) => {
      storage.fail = fail;
      storage.release();
    },
  };
}

/** The 503 a storage failure gets, with Retry-After. */
function expectStorageUnavailable(r: { readonly status?: number; readonly text: string }): void {
  expect(r.status, r.text.slice(0, 300)).toBe(503);
  expect(r.text).toMatch(/\r\nretry-after: \d+\r\n/i);
  expect(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'storage_unavailable' });
}

describe('a request the handler is working on keeps its connection', () => {
  it('a large post whose key check waits on storage past the idle limit gets the 503 with Retry-After, not a reset', async () => {
    const h = await host({ timeouts: { idleSeconds: 1 } });
    const post = await heldLargePost(h, 'slowstore', idleEvents(h), 'the connection to pass the idle limit');
    post.answer(true);
    expectStorageUnavailable(await post.reply);
  });

  it('a large post whose key check waits on storage past the request limit gets the 503 with Retry-After, not a 408', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const post = await heldLargePost(h, 'slowstore', requestLimitEvents(h), 'the request to pass the request limit');
    post.answer(true);
    expectStorageUnavailable(await post.reply);
  });

  it('a large post whose key check waits on storage past the request limit is stored once storage answers', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const post = await heldLargePost(h, 'latestore', requestLimitEvents(h), 'the request to pass the request limit');
    post.answer(false);
    const r = await post.reply;
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    expect((await stack.app.store.readServerRows('latestore.corp.contoso.com', TEST_RULES.map((rule) => rule.id))).length).toBe(TEST_RULES.length);
  });

  it('a body dripping a byte at a time after such a wait is still closed at the request limit, counted from when the host reads again', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const limit = requestLimitEvents(h);
    const key = await stack.serverKey('drip.corp.contoso.com');
    storage.hold = true;
    let timer: NodeJS.Timeout | undefined;
    // More than the host buffers ahead of its handler, so it has stopped reading when the limit
    // runs out; the rest of the body then comes a byte at a time, never idle.
    const start = '{"schema":' + ' '.repeat(256 * 1024);
    // The client ignores the answer and goes on sending: only a connection the host let go of closes.
    const reply = raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(start.length + 5000) }) + start, {
      deadlineMs: 20_000,
      keepSending: true,
      then: (socket) => {
        timer = setInterval(() => socket.writable && socket.write(' '), 300);
      },
    });
    try {
      await until(() => storage.arrived > 0, 'the key check to reach storage');
      await until(() => limit.count > 0, 'the request to pass the request limit');
      storage.release();
      const r = await reply;
      expect(r.closed).toBe(true);
      expect(r.status).toBe(408);
      await until(() => h.load.running === 0, 'the handler to give up its place');
    } finally {
      clearInterval(timer);
    }
  });

  it('a body that misses the request limit while the handler reads it: the 408, then the connection and the handler\'s place are let go though the client goes on sending', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const key = await stack.serverKey('drip408.corp.contoso.com');
    let timer: NodeJS.Timeout | undefined;
    const r = await raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': '100000' }) + '{"schema":', {
      deadlineMs: 20_000,
      keepSending: true,
      then: (socket) => {
        timer = setInterval(() => socket.writable && socket.write(' '), 300);
      },
    });
    clearInterval(timer);
    expect(r.status).toBe(408);
    expect(r.closed).toBe(true);
    await until(() => h.load.running === 0, 'the handler to give up its place');
  });

  // The refused connection lingers, discarding what still comes, for up to 2 s; the handler that
  // was reading its body must not wait for that to give up its place.
  it.each([
    ['a body that goes silent while the handler reads it', 'silent', 408],
    ['a body that goes silent when the host reads it again after a key check held past the limit', 'held', 408],
    ['chunked framing that breaks while the handler reads the body', 'broken', 400],
  ] as const)('%s: the refusal, and the handler\'s place is free as soon as the client has it', async (_what, kind, status) => {
    // The post's handler proper runs once the key is checked, and reads the body first thing.
    let reading = false;
    const http = Object.create(stack.app.http) as PostureApp['http'];
    http.postSnapshot = (call) => ((reading = true), stack.app.http.postSnapshot(call));
    const h = await host({ app: { ...stack.app, http }, timeouts: { headersSeconds: 1, idleSeconds: 10, requestSeconds: 2 } });
    const limit = requestLimitEvents(h);
    const connections: Socket[] = [];
    h.server.on('connection', (socket: Socket) => connections.push(socket));
    const key = await stack.serverKey(`refused${kind}.corp.contoso.com`);
    storage.hold = kind === 'held';
    // Held: more than the host buffers ahead of its handler, so it has stopped reading when the
    // limit runs out, and the limit counts again from when it reads on.
    const start = '{"schema":' + (kind === 'held' ? ' '.repeat(256 * 1024) : '');
    const head =
      kind === 'broken'
        ? postHead(h.baseUrl, { 'x-api-key': key, 'Transfer-Encoding': 'chunked' }) + `${start.length.toString(16)}\r\n${start}\r\n`
        : postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(start.length + 5000) }) + start;
    const client = sendingClient(h.baseUrl, head);
    client.read();
    try {
      await until(() => h.load.running === 1, 'the post to run');
      if (kind === 'held') {
        await until(() => limit.count > 0, 'the key check to pass the request limit');
        storage.release();
      }
      await until(() => reading, 'the handler to read the body');
      if (kind === 'broken') client.send('not-a-chunk-size\r\n');
      await until(() => client.text.includes('\r\n\r\n{'), 'the answer');
      expect(client.text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(h.load.running).toBe(0);
      // Freed without cutting the connection short: it still lingers, so a client still sending reads the answer.
      expect(connections.map((socket) => socket.destroyed)).toEqual([false]);
    } finally {
      client.stop();
    }
  });

  it('a client told 408 that sends the rest of its body anyway: nothing is stored', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const server = 'told408.corp.contoso.com';
    const key = await stack.serverKey(server);
    const body = JSON.stringify(snapshot({ host: 'told408', testState: 'Pass' }));
    let timer: NodeJS.Timeout | undefined;
    // The host may take in the rest before it lets go, so the connection's close is not the point here.
    const r = await raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)) }), {
      deadlineMs: 5_000,
      keepSending: true,
      then: (socket) => {
        // A byte at a time until the host answers, then all the rest at once.
        let sent = 0;
        timer = setInterval(() => sent < 20 && socket.write(body.slice(sent, ++sent)), 300);
        socket.once('data', () => {
          clearInterval(timer);
          socket.write(body.slice(sent));
        });
      },
    });
    clearInterval(timer);
    expect(r.status).toBe(408);
    await until(() => h.load.running === 0, 'the handler to give up its place');
    expect(await stack.app.store.readServerRows(server, TEST_RULES.map((rule) => rule.id))).toEqual([]);
  });

  it('a client silent in the middle of a body the handler is reading is still cut off at the idle limit', async () => {
    // The request limit (60 s) would answer 408; the idle limit closes without an answer.
    const h = await host({ timeouts: { idleSeconds: 1, requestSeconds: 60 } });
    const key = await stack.serverKey(DEFAULT_SERVER);
    const r = await raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': '5000' }) + '{"schema":', { deadlineMs: 20_000 });
    expect(r).toMatchObject({ closed: true, status: undefined });
  });
});

describe('a request received in full, then refused bytes on the same connection (pipelined)', () => {
  /**
   * Sends a post and `after` it in one write while storage holds the post's key check, waits for
   * Node to report the bytes after it (`reported`), then lets storage answer.
   */
  async function pipelined(h: LocalHost, server: string, after: string, reported: { readonly count: number }, what: string) {
    const key = await stack.serverKey(`${server}.corp.contoso.com`);
    const body = JSON.stringify(snapshot({ host: server, testState: 'Pass' }));
    storage.hold = true;
    const reply = raw(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)) }) + body + after, { deadlineMs: 20_000 });
    await until(() => storage.arrived > 0, 'the key check to reach storage');
    await until(() => reported.count > 0, what);
    storage.release();
    return reply;
  }

  /** The post's own answer, the only one on the connection, which then closes; and it was stored. */
  async function expectAnsweredAndClosed(r: { readonly status?: number; readonly text: string; readonly closed: boolean }, server: string): Promise<void> {
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    expect(r.text.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.closed).toBe(true);
    expect((await stack.app.store.readServerRows(`${server}.corp.contoso.com`, TEST_RULES.map((rule) => rule.id))).length).toBe(TEST_RULES.length);
  }

  it('broken bytes behind a post its handler is working on: the post gets its 201, not a 400, then the connection closes', async () => {
    const h = await host();
    const r = await pipelined(h, 'pipegarbage', 'GARBAGE \x01\r\n\r\n', clientErrorEvents(h), 'the broken bytes to be refused');
    await expectAnsweredAndClosed(r, 'pipegarbage');
  });

  it('a second request head that misses the headers limit behind such a post: the post gets its 201, not a 408, then the connection closes', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, requestSeconds: 2 } });
    const r = await pipelined(h, 'pipeslowhead', `GET /api/health HTTP/1.1\r\nHo`, requestLimitEvents(h), 'the second head to miss its limit');
    await expectAnsweredAndClosed(r, 'pipeslowhead');
  });

  it('a second post whose head came in full but whose body is broken behind such a post: the first gets its 201, not a 400, the second neither runs nor is answered, then the connection closes', async () => {
    const h = await host();
    const key = await stack.serverKey('pipebrokenbody.corp.contoso.com');
    const broken = postHead(h.baseUrl, { 'x-api-key': key, 'Transfer-Encoding': 'chunked' }) + '10\r\n{"host":"pipebro\r\nZZ\r\n';
    const r = await pipelined(h, 'pipebadbody', broken, clientErrorEvents(h), 'the broken body to be refused');
    await expectAnsweredAndClosed(r, 'pipebadbody');
    expect(await stack.app.store.readServerRows('pipebrokenbody.corp.contoso.com', TEST_RULES.map((rule) => rule.id))).toEqual([]);
  });

  it('a second post whose head missed the limit and that the client completes afterwards is never run: not stored, no second answer', async () => {
    const h = await host({ timeouts: { headersSeconds: 1, requestSeconds: 2 } });
    const limit = requestLimitEvents(h);
    const post = async (server: string) => {
      const body = JSON.stringify(snapshot({ host: server, testState: 'Pass' }));
      return postHead(h.baseUrl, { 'x-api-key': await stack.serverKey(`${server}.corp.contoso.com`), 'Content-Length': String(Buffer.byteLength(body)) }) + body;
    };
    const [first, second] = [await post('pipefirst'), await post('pipelate')];
    const url = new URL(h.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let closed = false;
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    storage.hold = true;
    socket.write(first + second.slice(0, 10));
    await until(() => storage.arrived > 0, 'the first post to reach storage');
    await until(() => limit.count > 0, 'the second head to miss its limit');
    const arrived = storage.arrived;
    socket.write(second.slice(10));
    // Long enough for a second post the host went on to parse to reach storage.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(storage.arrived).toBe(arrived);
    storage.release();
    await until(() => closed, 'the connection to close');
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 201']);
    expect(await stack.app.store.readServerRows('pipelate.corp.contoso.com', TEST_RULES.map((rule) => rule.id))).toEqual([]);
  });
});

describe('a refused client that is still sending gets the refusal (lingering close)', () => {
  // Closing a socket with bytes unread makes the system reset the connection; a client still
  // sending then fails on its next write and never reads the answer waiting for it.
  const chunk = 'x'.repeat(16 * 1024);

  /** Lets the client go on sending, unread, a little after the host answered, then read; resolves once the connection closed. */
  async function readAfterRefusal(client: SendingClient, refused: { readonly count: number }): Promise<void> {
    await until(() => refused.count > 0, 'the host to answer');
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.read();
    await until(() => client.closed, 'the connection to close', 15_000);
  }

  function expectRefusal(client: SendingClient, status: number, error: string): void {
    expect(client.text.slice(0, 300), `client error: ${client.error}`).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(JSON.parse(client.text.slice(client.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error });
  }

  it('broken bytes followed by more: the 400 reaches the client, which reads it only afterwards', async () => {
    const h = await host();
    const client = sendingClient(h.baseUrl, 'GARBAGE \x01\r\n\r\n', chunk, 10);
    try {
      await readAfterRefusal(client, clientErrorEvents(h));
      expectRefusal(client, 400, 'invalid_request');
    } finally {
      client.stop();
    }
  });

  it('a URL past the limit on the request line and headers: 431 naming the limit, not a 400 for broken HTTP', async () => {
    const h = await host();
    const r = await raw(h.baseUrl, `GET /api/summary?server=${'a'.repeat(maxHeaderSize)} HTTP/1.1\r\nHost: ${new URL(h.baseUrl).host}\r\nx-api-key: ${TEST_KEYS.reader}\r\n\r\n`);
    expect(r.status, r.text.slice(0, 300)).toBe(431);
    expect(r.closed).toBe(true);
    expect(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'headers_too_large',
      message: `The request line and headers exceed ${maxHeaderSize / 1024} KB (a URL or a header that long); the connection is closed.`,
    });
  });

  it('a post still waiting for a place whose body keeps coming when the request limit runs out: the 408 reaches the client', async () => {
    const h = await host({ concurrency: { limit: 1, queue: 1 }, timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const limit = requestLimitEvents(h);
    storage.hold = true;
    const first = fetch(`${h.baseUrl}/api/summary`, { headers: { 'x-api-key': TEST_KEYS.reader } });
    await until(() => storage.arrived > 0, 'the first request to take the only place');
    const client = sendingClient(h.baseUrl, postHead(h.baseUrl, { 'x-api-key': 'any', 'Content-Length': '100000000' }), chunk, 10);
    try {
      await until(() => h.load.waiting === 1, 'the post to wait');
      await readAfterRefusal(client, limit);
      expectRefusal(client, 408, 'request_timeout');
    } finally {
      client.stop();
      storage.release();
    }
    expect((await first).status).toBe(200);
  });

  it.each([
    ['/api/snapshots', 401, 'unauthorized'],
    ['/api/nothing', 404, 'not_found'],
  ])('a post to %s answered %i before its body: the answer reaches the client still sending the body', async (path, status, error) => {
    const h = await host();
    const answered = { count: 0 };
    h.server.on('request', (_req, res: ServerResponse) => res.once('finish', () => answered.count++));
    const client = sendingClient(h.baseUrl, postHead(h.baseUrl, { 'Content-Length': '100000000' }).replace('/api/snapshots', path), chunk, 10);
    try {
      await readAfterRefusal(client, answered);
      expectRefusal(client, status, error);
    } finally {
      client.stop();
    }
  });

  it('a client that reads the refusal and goes on sending without end is let go', async () => {
    const h = await host();
    const client = sendingClient(h.baseUrl, 'GARBAGE \x01\r\n\r\n', 'x'.repeat(1024), 50);
    client.read();
    try {
      await until(() => client.closed, 'the host to let the connection go', 15_000);
      expectRefusal(client, 400, 'invalid_request');
    } finally {
      client.stop();
    }
  });
});

describe('close()', () => {
  it('stops taking connections, lets a request in flight finish with its full answer, then resolves', async () => {
    const h = await host();
    const key = await stack.serverKey('closing.corp.contoso.com');
    storage.hold = true;
    const reply = fetch(`${h.baseUrl}/api/snapshots`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(snapshot({ host: 'closing' })),
    }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as { results?: unknown[] } }),
      (error: unknown) => ({ status: 0, body: { error: String(error) } as { results?: unknown[] } }),
    );
    await until(() => storage.arrived > 0, 'the post to reach storage');
    let closed = false;
    const closing = h.close().then(() => (closed = true));
    await expect(fetch(`${h.baseUrl}/api/health`)).rejects.toThrow();
    expect(closed).toBe(false);
    storage.release();
    const r = await reply;
    expect(r.status).toBe(201);
    expect(r.body.results).toHaveLength(TEST_RULES.length);
    await closing;
    expect(closed).toBe(true);
  });

  it('a request still running when the close limit runs out has its connection cut, and close resolves', async () => {
    const h = await host({ timeouts: { closeSeconds: 1 } });
    storage.hold = true;
    const reply = fetch(`${h.baseUrl}/api/summary`, { headers: { 'x-api-key': TEST_KEYS.reader } }).then(
      (r) => r.status,
      (error: unknown) => error,
    );
    await until(() => storage.arrived > 0, 'the read to reach storage');
    await h.close();
    expect(await reply).toBeInstanceOf(Error);
  });

  it('an answer queued behind another on a connection the client left does not hold close() to its limit', async () => {
    // The close limit is far beyond the wait below: close resolving within it shows the queued
    // answer was let go with its connection, not waited for until the limit ran out.
    const h = await host({ timeouts: { closeSeconds: 20 } });
    const received = { count: 0 };
    h.server.on('request', () => received.count++);
    const gone = { count: 0 };
    h.server.on('connection', (socket: Socket) => socket.once('close', () => gone.count++));
    const key = await stack.serverKey('closequeued.corp.contoso.com');
    const body = JSON.stringify(snapshot({ host: 'closequeued', testState: 'Pass' }));
    storage.hold = true;
    // A post held on its key check, and a read pipelined behind it on the same connection.
    const url = new URL(h.baseUrl);
    const client = connect(Number(url.port), url.hostname);
    client.on('error', () => undefined);
    client.write(postHead(h.baseUrl, { 'x-api-key': key, 'Content-Length': String(Buffer.byteLength(body)) }) + body + `GET /api/health HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    await until(() => storage.arrived > 0 && received.count === 2, 'the post to reach storage and the read to be received');
    client.destroy();
    await until(() => gone.count === 1, 'the host to see the connection close');
    storage.release();
    await until(() => h.load.running === 0, 'both handlers to finish');
    const outcome = await Promise.race([h.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]);
    expect(outcome).toBe('closed');
  });
});
