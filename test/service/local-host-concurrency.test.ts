// The local host runs at most its limit of requests in handlers at once, as a Flex Consumption
// instance does: the next ones wait in arrival order, a full queue answers 429 with Retry-After,
// and a waiting request whose client left never runs. Real HTTP against real hosts over one app;
// the handlers of two routes are held at their start until the test lets them go, so what runs
// when is decided by the test, not by timing.
import type { ApiResponse, RouteCall } from '../../src/app/http-io';
import type { PostureApp } from '../../src/app/create-app';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../src/local/host';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { until } from '../support/until';

let stack: TestStack;
const hosts: LocalHost[] = [];

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await stack?.stop();
});

/** The app with postSnapshot and getSummary held at their start (each named by its x-test-id header) until released. */
function heldApp(app: PostureApp) {
  const started: string[] = [];
  const gates: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const hold = async (call: RouteCall, run: () => Promise<ApiResponse>): Promise<ApiResponse> => {
    started.push(call.req.headers.get('x-test-id') ?? '?');
    maxRunning = Math.max(maxRunning, ++running);
    try {
      await new Promise<void>((resolve) => gates.push(resolve));
      return await run();
    } finally {
      running--;
    }
  };
  const http = Object.create(app.http) as PostureApp['http'];
  http.postSnapshot = (call) => hold(call, () => app.http.postSnapshot(call));
  http.getSummary = (call) => hold(call, () => app.http.getSummary(call));
  return {
    app: { ...app, http },
    started,
    get maxRunning() {
      return maxRunning;
    },
    /** Lets the earliest held handler go on. */
    releaseOne: () => gates.shift()?.(),
    releaseAll: () => gates.splice(0).forEach((go) => go()),
  };
}

async function host(app: PostureApp, options: Partial<LocalHostOptions> = {}): Promise<LocalHost> {
  const h = await startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0, ...options });
  hosts.push(h);
  return h;
}

const summary = (h: LocalHost, id: string, signal?: AbortSignal) => fetch(`${h.baseUrl}/api/summary`, { headers: { 'x-api-key': TEST_KEYS.reader, 'x-test-id': id }, signal });

describe('the local host admits at most its limit of requests into handlers', () => {
  it('limit 2, 5 posts at once: never more than 2 handlers, the rest run in arrival order, every post answered', async () => {
    const held = heldApp(stack.app);
    const h = await host(held.app, { concurrency: { limit: 2, queue: 10 } });
    const replies: Promise<Response>[] = [];
    for (let i = 0; i < 5; i++) {
      const server = `queued${i}`;
      const key = await stack.serverKey(`${server}.corp.contoso.com`);
      replies.push(
        fetch(`${h.baseUrl}/api/snapshots`, {
          method: 'POST',
          headers: { 'x-api-key': key, 'content-type': 'application/json', 'x-test-id': String(i) },
          body: JSON.stringify(snapshot({ host: server })),
        }),
      );
      // Each post reaches the host before the next is sent, so the arrival order is known.
      await until(() => h.load.running + h.load.waiting === i + 1, `post ${i} to arrive`);
    }
    expect(held.started).toEqual(['0', '1']);
    expect(h.load).toMatchObject({ running: 2, waiting: 3 });
    for (let next = 2; next < 5; next++) {
      held.releaseOne();
      await until(() => held.started.length === next + 1, `post ${next} to start`);
      expect(held.maxRunning).toBe(2);
    }
    held.releaseAll();
    const statuses = await Promise.all(replies.map(async (r) => (await r).status));
    expect(statuses).toEqual([201, 201, 201, 201, 201]);
    expect(held.started).toEqual(['0', '1', '2', '3', '4']);
    expect(held.maxRunning).toBe(2);
    await until(() => h.load.running === 0 && h.load.waiting === 0, 'the host to be idle');
  });

  it('a full queue: 429 with Retry-After and a JSON error at once; the admitted ones still run', async () => {
    const held = heldApp(stack.app);
    // The host's clock stands still: no request has finished, none has run for any time, so the
    // wait is the least there is.
    const h = await host(held.app, { concurrency: { limit: 1, queue: 1 }, clock: () => 0 });
    const first = summary(h, 'first');
    await until(() => held.started.length === 1, 'the first to run');
    const second = summary(h, 'second');
    await until(() => h.load.waiting === 1, 'the second to wait');
    const third = await summary(h, 'third');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(third.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await third.json()) as { error: string; message: string };
    expect(body.error).toBe('host_busy');
    expect(body.message).toMatch(/^The host is busy \(1 requests running, 1 waiting\); retry after 1 second\.$/);
    held.releaseAll();
    await until(() => held.started.length === 2, 'the second to run');
    held.releaseAll();
    expect([(await first).status, (await second).status]).toEqual([200, 200]);
    expect(held.started).toEqual(['first', 'second']);
  });

  it('Retry-After: how long the queue ahead takes to clear at the pace requests finished, 1 to 30 s', async () => {
    const held = heldApp(stack.app);
    const clock = { ms: 0 };
    const h = await host(held.app, { concurrency: { limit: 1, queue: 2 }, clock: () => clock.ms });
    const busy = async (id: string) => {
      const r = await summary(h, id);
      return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error: string; message: string } };
    };
    const answers = [summary(h, 'a')];
    await until(() => held.started.length === 1, 'a to run');
    answers.push(summary(h, 'b'));
    await until(() => h.load.waiting === 1, 'b to wait');
    answers.push(summary(h, 'c'));
    await until(() => h.load.waiting === 2, 'c to wait');
    // a and b each take 3 s of the host's clock: the queue moves one request every 3 s.
    clock.ms = 3000;
    held.releaseOne();
    await until(() => held.started.length === 2, 'b to run');
    clock.ms = 6000;
    held.releaseOne();
    await until(() => held.started.length === 3, 'c to run');
    answers.push(summary(h, 'd'), summary(h, 'e'));
    await until(() => h.load.waiting === 2, 'd and e to wait');

    // Two waiting, one every 3 s: 6 s.
    const paced = await busy('paced');
    expect(paced.status).toBe(429);
    expect(paced.retryAfter).toBe('6');
    expect(paced.body).toMatchObject({ error: 'host_busy', message: 'The host is busy (1 requests running, 2 waiting); retry after 6 seconds.' });
    // Nothing finished for 13.5 s since: the handlers are slower than before, and the wait says so.
    clock.ms = 19_500;
    expect((await busy('stalled')).retryAfter).toBe('27');
    // Never more than 30 s.
    clock.ms = 60_000;
    expect((await busy('stuck')).retryAfter).toBe('30');

    held.releaseAll();
    await until(() => held.started.length === 4, 'd to run');
    held.releaseAll();
    await until(() => held.started.length === 5, 'e to run');
    held.releaseAll();
    expect(await Promise.all(answers.map(async (r) => (await r).status))).toEqual([200, 200, 200, 200, 200]);
    expect(held.started).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a waiting request whose client went away never runs; the one after it does', async () => {
    const held = heldApp(stack.app);
    const h = await host(held.app, { concurrency: { limit: 1, queue: 4 } });
    const first = summary(h, 'first');
    await until(() => held.started.length === 1, 'the first to run');
    const abort = new AbortController();
    const gone = summary(h, 'gone', abort.signal).catch((error: unknown) => error);
    await until(() => h.load.waiting === 1, 'the second to wait');
    abort.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(() => h.load.waiting === 0, 'the host to notice the client left');
    const third = summary(h, 'third');
    await until(() => h.load.waiting === 1, 'the third to wait');
    held.releaseOne();
    await until(() => held.started.length === 2, 'the next to run');
    held.releaseAll();
    expect([(await first).status, (await third).status]).toEqual([200, 200]);
    expect(held.started).toEqual(['first', 'third']);
    await until(() => h.load.running === 0, 'the host to be idle');
    expect(held.started).not.toContain('gone');
  });

  it('a waiting post is not cut off as a silent client: its body is read once it runs', async () => {
    const held = heldApp(stack.app);
    // Idle limit 1 s; the queued post waits longer than that with its body unread.
    const h = await host(held.app, { concurrency: { limit: 1, queue: 1 }, timeouts: { idleSeconds: 1, requestSeconds: 30 } });
    const first = summary(h, 'first');
    await until(() => held.started.length === 1, 'the first to run');
    const key = await stack.serverKey('bigwait.corp.contoso.com');
    // Larger than the socket buffers, so most of it waits in the client until the handler reads.
    const big = JSON.stringify(snapshot({ host: 'bigwait', tail: 'x'.repeat(900 * 1024) }));
    const post = fetch(`${h.baseUrl}/api/snapshots`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'x-test-id': 'big' }, body: big });
    await until(() => h.load.waiting === 1, 'the post to wait');
    await new Promise((r) => setTimeout(r, 2500));
    expect(h.load.waiting).toBe(1);
    held.releaseAll();
    await until(() => held.started.length === 2, 'the post to run');
    held.releaseAll();
    expect((await first).status).toBe(200);
    // Read to its end: a body left unread holds the connection open past this file.
    const accepted = await post;
    expect(accepted.status, await accepted.text()).toBe(201);
  });

  it('a large post still waiting when the request limit runs out: 408, and it never runs', async () => {
    const held = heldApp(stack.app);
    const h = await host(held.app, { concurrency: { limit: 1, queue: 1 }, timeouts: { headersSeconds: 1, idleSeconds: 1, requestSeconds: 2 } });
    const first = summary(h, 'first');
    await until(() => held.started.length === 1, 'the first to run');
    const key = await stack.serverKey('late.corp.contoso.com');
    const big = JSON.stringify(snapshot({ host: 'late', tail: 'x'.repeat(900 * 1024) }));
    const post = fetch(`${h.baseUrl}/api/snapshots`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'x-test-id': 'late' }, body: big }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (error: unknown) => ({ status: 0, body: String(error) }),
    );
    await until(() => h.load.waiting === 1, 'the post to wait');
    // The host gives up on the body after 2 s; the post leaves the queue.
    await until(() => h.load.waiting === 0, 'the post to leave the queue');
    held.releaseAll();
    expect((await first).status).toBe(200);
    const late = await post;
    expect(late.status, late.body).toBe(408);
    expect(JSON.parse(late.body)).toMatchObject({ error: 'request_timeout' });
    await until(() => h.load.running === 0, 'the host to be idle');
    expect(held.started).toEqual(['first']);
  });
});
