// The outbox entries of concurrent status changes are written together: while one entry's write is
// in flight, the entries that arrive meanwhile wait and go as one transaction, so a burst costs the
// Outbox table far fewer calls than it has posts. Each request still answers only once its own
// entry is stored, and a shared transaction storage refuses costs no entry: each goes alone then,
// and only a request whose own entry is refused fails, with nothing committed for its server.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HTTP_PER_INSTANCE_CONCURRENCY } from '../../src/local/http-concurrency';
import { bucketOf, type StoragePolicy } from '../../src/store';
import { SharedTransaction } from '../../src/store/shared-transaction';
import { injectedError, oncePerRequest } from '../support/faults';
import { alertRecords, get, getAll, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { stackTables, startTestStack, type TestStack } from '../support/stack';
import { loadedTimeout } from '../support/load-timeouts';
import { until } from '../support/until';

interface Call {
  readonly method: string;
  /** 'one': a write naming its keys; 'many': a transaction. */
  readonly kind: 'one' | 'many' | 'query';
  /** The servers whose entries the call carried. */
  readonly servers: string[];
}
const outboxWrites: Call[] = [];
/**
 * True on a request's first attempt: the pipeline's retry of one (after storage dropped a
 * kept-alive connection, which a loaded machine sees) is the same call, not another.
 */
const firstAttempt = oncePerRequest();
/** Outbox writes refused with `status`: those matching `when`. */
const refuse: { when?: (call: Call) => boolean; status: number } = { status: 400 };
/**
 * While `on`, the next Outbox write carrying entries waits before it is sent (`held`) until
 * `release()`: the entries that reach the outbox meanwhile queue behind it.
 */
const firstWrite: { on: boolean; held?: Call; release: () => void } = { on: false, release: () => undefined };

const serverNames = (body: string) => [...body.matchAll(/"Server":"([^"]+)"/g)].map((m) => m[1]!);
const recorder: StoragePolicy = {
  name: 'testOutboxWrites',
  async sendRequest(request, next) {
    const path = decodeURIComponent(new URL(request.url).pathname).replace(/^\/devstoreaccount1/, '');
    const body = typeof request.body === 'string' ? request.body : '';
    const isOutbox = path.startsWith('/Outbox(') || (path === '/$batch' && /\/Outbox\(/.test(body));
    if (!isOutbox || request.method === 'GET' || request.method === 'DELETE' || (path === '/$batch' && /DELETE /.test(body))) return next(request);
    const call: Call = { method: request.method, kind: path === '/$batch' ? 'many' : 'one', servers: serverNames(body) };
    if (firstAttempt(request)) outboxWrites.push(call);
    if (firstWrite.on && call.servers.length > 0) {
      firstWrite.on = false;
      firstWrite.held = call;
      await new Promise<void>((go) => (firstWrite.release = go));
    }
    if (refuse.when?.(call)) throw injectedError(request, refuse.status, 'Injected refusal');
    return next(request);
  },
};

let stack: TestStack;
beforeAll(async () => {
  // The projector runs only when the test drains it, so the outbox holds the burst's entries.
  stack = await startTestStack({ rules: TEST_RULES, storagePolicies: [recorder], projectorIntervalMs: 0 });
});
afterAll(async () => stack?.stop());
beforeEach(() => {
  Object.assign(refuse, { when: undefined, status: 400 });
});

const minutesAgo = (m: number) => Date.now() - m * 60_000;
const serverOf = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;
const statusOf = async (host: string) => (await get(stack, `servers/${serverOf(host)}`)).body.results[0].status as string;

/** Every host once in Pass (projected), so the burst below changes each one's status. */
async function fleetOf(prefix: string, n: number): Promise<string[]> {
  const hosts = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
  for (const host of hosts) expect((await post(stack, snapshot({ host, testState: 'Pass', collectedAt: minutesAgo(30) }))).status).toBe(201);
  await stack.projected();
  outboxWrites.length = 0;
  return hosts;
}

/**
 * Every host posts a status change at once. The first entry's write is held before it reaches
 * storage until the entries of as many posts as the host runs at once (the others wait at its
 * door) are at the outbox, waiting behind it: left to timing, a loaded machine can finish each
 * write before the next post gets there, and no transaction is shared. `after`: hosts that post
 * only once that first write is held, so their entries cannot be the one that goes alone.
 */
async function burst(hosts: readonly string[], after: readonly string[] = []) {
  const change = (host: string) => post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(5) }), { drain: false });
  const waiting = vi.spyOn(SharedTransaction.prototype, 'upsert');
  const queued = () => new Set(waiting.mock.calls.map(([entity]) => entity.Server)).size;
  Object.assign(firstWrite, { on: true, held: undefined });
  try {
    const posts = new Map(hosts.filter((h) => !after.includes(h)).map((h) => [h, change(h)]));
    await until(() => firstWrite.held !== undefined, 'the first outbox write', 30_000);
    for (const h of after) posts.set(h, change(h));
    await until(() => queued() >= Math.min(hosts.length, HTTP_PER_INSTANCE_CONCURRENCY), 'the entries of the posts the host runs at once', 30_000);
    firstWrite.release();
    return await Promise.all(hosts.map((h) => posts.get(h)!));
  } finally {
    Object.assign(firstWrite, { on: false });
    firstWrite.release();
    waiting.mockRestore();
  }
}

/** The burst's new-finding alert records, per server. */
const findings = (prefix: string) => alertRecords(stack).filter((a) => String(a.fields.server).startsWith(prefix.toLowerCase()) && a.name === 'FleetPosture.NewFinding');

// Bursts of concurrent posts and drains through Azurite.
describe('outbox entries of concurrent status changes', { timeout: loadedTimeout(8_000) }, () => {
  it('share transactions: fewer Outbox calls than posts, every entry stored and projected once', async () => {
    const hosts = await fleetOf('SHARE', 24);
    const responses = await burst(hosts);
    for (const r of responses) expect(r.status).toBe(201);

    // Every entry went exactly once: the first alone, the ones that waited behind it together, and
    // those of the posts let in later in few calls.
    const carried = outboxWrites.flatMap((c) => c.servers).sort();
    expect(carried).toEqual(hosts.map(serverOf).sort());
    expect(outboxWrites.slice(0, 2).map((c) => [c.kind, c.servers.length])).toEqual([
      ['one', 1],
      ['many', HTTP_PER_INSTANCE_CONCURRENCY - 1],
    ]);
    expect(outboxWrites.length).toBeLessThan(hosts.length);

    const run = await stack.projected();
    expect(run).toMatchObject({ projected: hosts.length, dropped: 0, waiting: 0, events: hosts.length });
    const records = findings('SHARE');
    expect(new Set(records.map((r) => r.fields.server))).toEqual(new Set(hosts.map(serverOf)));
    expect(records).toHaveLength(hosts.length);
  });

  it('a shared transaction storage refuses: each entry goes alone, and every post is accepted', async () => {
    const hosts = await fleetOf('ALONE', 16);
    // A refusal storage would not take back on a retry.
    refuse.when = (call) => call.kind === 'many';
    const responses = await burst(hosts);
    for (const r of responses) expect(r.status).toBe(201);
    // The refused transactions' entries were written again one by one: each server's entry is stored by a call of its own.
    const alone = outboxWrites.filter((c) => c.kind === 'one').flatMap((c) => c.servers);
    expect(alone.sort()).toEqual(hosts.map(serverOf).sort());
    // The refused transaction carried every entry but the first.
    const shared = outboxWrites.filter((c) => c.kind === 'many').flatMap((c) => c.servers);
    expect(shared.sort()).toEqual(hosts.map(serverOf).filter((s) => !firstWrite.held?.servers.includes(s)).sort());

    const run = await stack.projected();
    expect(run).toMatchObject({ projected: hosts.length, dropped: 0, waiting: 0, events: hosts.length });
    expect(findings('ALONE')).toHaveLength(hosts.length);
  });

  it('an entry storage refuses fails only its own post, and that server is not committed', async () => {
    const hosts = await fleetOf('REFUSE', 16);
    const victim = serverOf(hosts[5]!);
    // Storage unavailable for that entry alone, however often it is tried.
    Object.assign(refuse, { when: (call: Call) => call.servers.includes(victim), status: 503 });
    // It posts once another's entry is in flight, so its entry waits and is refused in a shared transaction first.
    const responses = await burst(hosts, [hosts[5]!]);
    expect(outboxWrites.some((c) => c.kind === 'many' && c.servers.includes(victim) && c.servers.length > 1)).toBe(true);
    const byHost = new Map(hosts.map((h, i) => [h, responses[i]!]));
    for (const [host, r] of byHost) {
      if (serverOf(host) === victim) expect(r.status, host).toBe(503);
      else expect(r.status, host).toBe(201);
    }
    // The refused server keeps its last accepted state; the others moved.
    expect(await statusOf(hosts[5]!)).toBe('Pass');
    expect(await statusOf(hosts[6]!)).toBe('Warning');

    refuse.when = undefined;
    const run = await stack.projected();
    expect(run).toMatchObject({ projected: hosts.length - 1, dropped: 0, waiting: 0 });
    const records = findings('REFUSE');
    expect(records).toHaveLength(hosts.length - 1);
    expect(records.map((r) => r.fields.server)).not.toContain(victim);
    // Its collector's retry is accepted once storage takes the entry.
    const retry = await post(stack, snapshot({ host: hosts[5]!, testState: 'Warning', collectedAt: minutesAgo(4) }));
    expect(retry.status).toBe(201);
    expect(await statusOf(hosts[5]!)).toBe('Warning');
  });
});

/** Every item of a listing (Node 20 has no Array.fromAsync). */
async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('entries an older version wrote in buckets of servers', { timeout: loadedTimeout(6_000) }, () => {
  it('are projected in order with a later entry of their server, then removed', async () => {
    const [host] = await fleetOf('OLDER', 1);
    const server = serverOf(host!);
    const { outbox } = stackTables(stack);
    // The first change's entry, moved to where an older version kept it: its server's bucket of 16
    // as the partition, `server|commit id` as the row key.
    expect((await post(stack, snapshot({ host, testState: 'Warning', collectedAt: minutesAgo(6) }), { drain: false })).status).toBe(201);
    const [entry] = await all(outbox.listEntities<Record<string, unknown>>({ queryOptions: { filter: `Server eq '${server}'` } }));
    const bucket = bucketOf(server, 16);
    const rowKey = String(entry?.rowKey);
    expect(entry?.partitionKey).toBe('entries');
    expect(rowKey.startsWith(`${bucket}|`)).toBe(true);
    await outbox.createEntity({ ...entry!, partitionKey: bucket, rowKey: rowKey.slice(bucket.length + 1) });
    await outbox.deleteEntity('entries', rowKey);
    // The second change, written by this version.
    expect((await post(stack, snapshot({ host, testState: 'Error', collectedAt: minutesAgo(5) }), { drain: false })).status).toBe(201);

    const run = await stack.projected();
    expect(run).toMatchObject({ projected: 2, dropped: 0, waiting: 0, events: 2 });
    const events = (await getAll(stack, `events?server=${server}&rule=test-alpha`)).items.map((e) => `${String(e.fromStatus)}→${String(e.toStatus)}`);
    // (the first post's event from nothing to Pass came before)
    expect(events.sort()).toEqual(['Pass→Warning', 'Warning→Error', 'null→Pass']);
    // The index follows the later change: the server is listed under Error only.
    const errors = (await getAll(stack, 'results?rule=test-alpha&status=Error')).items.map((f) => f.server);
    expect(errors).toContain(server);
    expect((await getAll(stack, 'results?rule=test-alpha&status=Warning')).items.map((f) => f.server)).not.toContain(server);
    expect(await all(outbox.listEntities({ queryOptions: { filter: `Server eq '${server}'` } }))).toHaveLength(0);
  });
});
