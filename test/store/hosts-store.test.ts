// The Hosts table against Azurite, in-process: a row per server in its bucket, written in one
// transaction per bucket after one range read of the rows there; a row reflecting a newer snapshot
// kept, the earliest first-seen time kept; another writer between the read and the transaction
// (the servers then go one by one, under their ETags); removals that spare a row newer than the
// removal and retry when the row moved; the listings; and outages naming the call refused.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { ConcurrencyConflictError, HOST_BUCKETS, HostStore, type PostureStore, type StoragePolicy } from '../../src/store';
import { tableNames, type TableClients } from '../../src/store/client';
import { bucketOf, encodeKey } from '../../src/store/keys';
import type { HostRecord } from '../../src/store/records';
import { injectedError } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { emptyTables, outage } from '../support/store-wire';

const PREFIX = 'Hsts';
const NAMES = tableNames(PREFIX);
const T = Date.parse('2026-12-07T04:00:00.000Z');

interface Sent {
  readonly method: string;
  readonly url: string;
}
/** Requests to Hosts; `before` runs once before the next request it matches (another writer's turn); `refuse` answers matching requests 503. */
const wire = {
  sent: [] as Sent[],
  before: undefined as { match: (s: Sent) => boolean; run: () => Promise<void> } | undefined,
  refuse: undefined as ((s: Sent) => boolean) | undefined,
};
const policy: StoragePolicy = {
  name: 'testHostsWire',
  async sendRequest(request, next) {
    const s = { method: request.method, url: decodeURIComponent(request.url) };
    const body = typeof request.body === 'string' ? request.body : '';
    if (!s.url.includes(`/${NAMES.hosts}`) && !body.includes(`/${NAMES.hosts}`)) return next(request);
    wire.sent.push(s);
    const hook = wire.before;
    if (hook?.match(s)) {
      wire.before = undefined;
      await hook.run();
    }
    if (wire.refuse?.(s)) throw injectedError(request, 503);
    return next(request);
  },
};

let azurite: AzuriteHandle | undefined;
let store: PostureStore;
let tables: TableClients;
let hosts: HostStore;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [policy] });
  await store.ensureTables();
  tables = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX });
});
afterAll(async () => azurite?.stop());
beforeEach(async () => {
  // Built for each test, not once before them all: what building one runs is then part of a test.
  hosts = new HostStore(store);
  await emptyTables(tables.hosts);
  wire.sent = [];
  wire.before = undefined;
  wire.refuse = undefined;
});

const host = (server: string, collectedAt: number, over: Partial<HostRecord> = {}): HostRecord => ({
  server,
  hostName: server.split('.')[0]!,
  fqdn: server,
  osCaption: 'Windows Server 2022',
  osVersion: '10.0.20348',
  osArchitecture: '64-bit',
  utcOffsetMinutes: 540,
  collectorName: 'collector',
  collectorVersion: '1.2.3',
  manifestVersion: '2',
  firstSeen: collectedAt,
  lastSeen: collectedAt + 1,
  lastSnapshotId: `snap-${collectedAt}`,
  lastCollectedAt: collectedAt,
  hostHash: `hash-${collectedAt}`,
  ...over,
});
const row = (server: string) => tables.hosts.getEntity<Record<string, unknown>>(bucketOf(server, HOST_BUCKETS), encodeKey(server));
const batches = () => wire.sent.filter((s) => s.url.endsWith('$batch'));
const isRangeRead = (s: Sent) => s.method === 'GET' && s.url.includes(`/${NAMES.hosts}()`) && s.url.includes('RowKey ge');
const isPointRead = (s: Sent) => s.method === 'GET' && s.url.includes(`/${NAMES.hosts}(PartitionKey=`);

/** Servers that share one bucket: `n` of them, in key order. */
function sameBucket(n: number, prefix = 'sb'): string[] {
  const first = `${prefix}0.contoso.com`;
  return Array.from({ length: 400 }, (_, i) => `${prefix}${i}.contoso.com`)
    .filter((s) => bucketOf(s, HOST_BUCKETS) === bucketOf(first, HOST_BUCKETS))
    .slice(0, n)
    .sort();
}


/** Another writer acting before every request `match` takes, until the test sets another hook. */
function everyTime(match: (s: Sent) => boolean, run: () => Promise<void>): NonNullable<typeof wire.before> {
  const hook = {
    match,
    run: async () => {
      wire.before = hook;
      await run();
    },
  };
  return hook;
}

/** `call` gives up as contended, naming the server. */
async function contended(call: () => Promise<unknown>, server: string): Promise<void> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConcurrencyConflictError);
  expect((error as Error).message).toBe(`The host row of ${server} stayed contended.`);
}

describe('putHosts', () => {
  it('a row per server under its bucket and encoded name, read back whole by getHost', async () => {
    const h = host('Ex01|a.contoso.com', T);
    await hosts.putHosts([h]);
    const stored = await row(h.server);
    expect([stored.partitionKey, stored.rowKey]).toStrictEqual([bucketOf(h.server, HOST_BUCKETS), encodeKey(h.server)]);
    expect(await hosts.getHost(h.server)).toStrictEqual(h);
    expect(await hosts.getHost('nobody.contoso.com')).toBeUndefined();
  });

  it('one range read and one transaction per bucket, asking only the columns a write compares', async () => {
    const [a, b, c] = sameBucket(3);
    await hosts.putHosts([host(a!, T), host(b!, T), host(c!, T)]);
    expect(batches()).toHaveLength(1);
    const reads = wire.sent.filter(isRangeRead);
    expect(reads).toHaveLength(1);
    expect(new URL(reads[0]!.url).searchParams.get('$select')).toBe('RowKey,FirstSeen,LastCollectedAt');
    expect(reads[0]!.url).toContain(`RowKey ge '${encodeKey(a!)}' and RowKey le '${encodeKey(c!)}'`);
    for (const s of [a, b, c]) expect((await hosts.getHost(s!))?.lastCollectedAt).toBe(T);
  });

  it('a newer snapshot replaces the row, keeping the earliest first-seen; an older one leaves it; in one list the newest wins', async () => {
    const [a, b, middle] = sameBucket(3);
    await hosts.putHosts([host(a!, T), host(b!, T + 10)]);
    // A server between them in key order, not in this write: in the range read, not written.
    await hosts.putHosts([host(middle!, T + 50)]);
    const middleBefore = await row(middle!);
    await hosts.putHosts([host(a!, T + 20, { firstSeen: T + 20 }), host(b!, T + 5), host(a!, T + 15, { firstSeen: T - 100 })]);
    expect(await hosts.getHost(a!)).toStrictEqual(host(a!, T + 20, { firstSeen: T - 100 }));
    expect(await hosts.getHost(b!)).toStrictEqual(host(b!, T + 10));
    expect((await row(middle!)).etag).toBe(middleBefore.etag);
    // A row already newer than every write: no transaction at all.
    wire.sent = [];
    await hosts.putHosts([host(b!, T + 1)]);
    expect(batches()).toEqual([]);
  });

  it('writes nothing for no hosts', async () => {
    await hosts.putHosts([]);
    expect(wire.sent).toEqual([]);
  });

  it('another writer between the read and the transaction: its servers go one by one, the newer facts kept', async () => {
    const [a, b] = sameBucket(2);
    await hosts.putHosts([host(a!, T), host(b!, T)]);
    wire.sent = [];
    // Before the transaction, another writer stores a newer snapshot of a.
    wire.before = { match: (s) => s.url.endsWith('$batch'), run: async () => hosts.putHosts([host(a!, T + 100)]) };
    await hosts.putHosts([host(a!, T + 50), host(b!, T + 50)]);
    expect(await hosts.getHost(a!)).toStrictEqual(host(a!, T + 100, { firstSeen: T }));
    expect(await hosts.getHost(b!)).toStrictEqual(host(b!, T + 50, { firstSeen: T }));
    // The one-server path read each row before writing it.
    expect(wire.sent.filter(isPointRead).length).toBeGreaterThanOrEqual(2);
  });

  it('the one-server path retries a row changed under it, and creates a row gone meanwhile', async () => {
    const [a] = sameBucket(1);
    await hosts.putHosts([host(a!, T)]);
    // The transaction conflicts (a's row moves), and the first one-server write conflicts too.
    let moves = 2;
    const move = async () => {
      const r = await row(a!);
      await tables.hosts.updateEntity({ partitionKey: r.partitionKey as string, rowKey: r.rowKey as string, HostHash: 'other' }, 'Merge');
    };
    wire.before = {
      match: (s) => s.method !== 'GET',
      run: async () => {
        await move();
        moves--;
        if (moves > 0) wire.before = { match: (s) => s.method !== 'GET', run: async () => ((moves--, await move())) };
      },
    };
    await hosts.putHosts([host(a!, T + 10)]);
    expect(await hosts.getHost(a!)).toStrictEqual(host(a!, T + 10, { firstSeen: T }));
    // A row deleted between the range read and its write (one row goes as a plain request): created by the one-server path.
    wire.before = { match: (s) => s.method !== 'GET', run: async () => void (await tables.hosts.deleteEntity(bucketOf(a!, HOST_BUCKETS), encodeKey(a!))) };
    await hosts.putHosts([host(a!, T + 20)]);
    expect(wire.sent.slice(-3).map((r) => r.method)).toStrictEqual(['PUT', 'GET', 'POST']);
    // Its first-seen time is the one the range read found (the record the transaction would have written).
    expect(await hosts.getHost(a!)).toStrictEqual(host(a!, T + 20, { firstSeen: T }));
  });

  it('the one-server path gives up after ten writes, each met by another writer', async () => {
    const [a] = sameBucket(1);
    await hosts.putHosts([host(a!, T)]);
    const moved = () => tables.hosts.updateEntity({ partitionKey: bucketOf(a!, HOST_BUCKETS), rowKey: encodeKey(a!), HostHash: 'other' }, 'Merge').then(() => undefined);
    wire.sent = [];
    wire.before = everyTime((s) => s.method !== 'GET', moved);
    await contended(() => hosts.putHosts([host(a!, T + 10)]), a!);
    wire.before = undefined;
    // The transaction, then ten one-server writes, each after its own read.
    expect(wire.sent.filter((s) => s.method !== 'GET')).toHaveLength(11);
    expect(wire.sent.filter(isPointRead)).toHaveLength(10);
  });

  it('servers listed in any order: still one range read of them all and one transaction', async () => {
    const [a, b, c] = sameBucket(3);
    await hosts.putHosts([host(a!, T), host(b!, T), host(c!, T)]);
    wire.sent = [];
    await hosts.putHosts([host(c!, T + 1), host(a!, T + 1), host(b!, T + 1)]);
    expect(batches()).toHaveLength(1);
    expect(wire.sent.filter(isPointRead)).toEqual([]);
    for (const s of [a, b, c]) expect((await hosts.getHost(s!))?.lastCollectedAt).toBe(T + 1);
  });

  it('an outage on the one-server path is the caller\'s error, naming its read or its write', async () => {
    const [a] = sameBucket(1);
    await hosts.putHosts([host(a!, T)]);
    const moveThenRefuse = (refuse: (s: Sent) => boolean) => ({
      match: (s: Sent) => s.method !== 'GET',
      run: async () => {
        await tables.hosts.updateEntity({ partitionKey: bucketOf(a!, HOST_BUCKETS), rowKey: encodeKey(a!), HostHash: 'moved' }, 'Merge');
        wire.refuse = refuse;
      },
    });
    wire.before = moveThenRefuse(isPointRead);
    await outage(() => hosts.putHosts([host(a!, T + 1)]), 'reading a host');
    wire.refuse = undefined;
    // The write that found the row moved goes through (to its conflict); the one-server path's is refused.
    let pass = 1;
    wire.before = moveThenRefuse((s) => s.method === 'PUT' && pass-- <= 0);
    await outage(() => hosts.putHosts([host(a!, T + 1)]), 'writing a host');
  });

  it('outages name the call refused', async () => {
    const [a] = sameBucket(1);
    wire.refuse = isRangeRead;
    await outage(() => hosts.putHosts([host(a!, T)]), 'reading hosts');
    wire.refuse = (s) => s.url.endsWith('$batch') || s.method === 'POST';
    await outage(() => hosts.putHosts([host(a!, T)]), 'writing hosts');
    wire.refuse = isPointRead;
    await outage(() => hosts.getHost(a!), 'reading a host');
  });
});

describe('removeHosts', () => {
  it('removes a row up to the removal\'s time, spares a newer one, ignores a missing one', async () => {
    const [a, b] = sameBucket(2);
    await hosts.putHosts([host(a!, T), host(b!, T + 100)]);
    await hosts.removeHosts([
      { server: a!, upTo: T },
      { server: b!, upTo: T + 99 },
      { server: 'nobody.contoso.com', upTo: T },
    ]);
    // The reads ask only for the time compared.
    const reads = wire.sent.filter(isPointRead);
    expect(reads.map((r) => new URL(r.url).searchParams.get('$select'))).toEqual(['LastCollectedAt', 'LastCollectedAt', 'LastCollectedAt']);
    expect(await hosts.getHost(a!)).toBeUndefined();
    expect(await hosts.getHost(b!)).toStrictEqual(host(b!, T + 100));
  });

  it('nothing for no removals', async () => {
    await hosts.removeHosts([]);
    expect(wire.sent).toEqual([]);
  });

  it('a fresh process given no hosts and no removals sends nothing, not even the check that the tables exist', async () => {
    const sent: string[] = [];
    const counting: StoragePolicy = { name: 'testHostsFresh', sendRequest: (request, next) => (sent.push(`${request.method} ${request.url}`), next(request)) };
    const fresh = new HostStore(createTestStore({ connectionString: azurite!.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [counting] }));
    await fresh.putHosts([]);
    await fresh.removeHosts([]);
    expect(sent).toEqual([]);
    // The same store's first real write checks them first.
    await fresh.removeHosts([{ server: 'nobody.contoso.com', upTo: T }]);
    expect(sent.some((r) => r.startsWith('POST ') && r.includes('/Tables'))).toBe(true);
  });

  it('a row changed between the read and the delete is read again; a row gone meanwhile is done', async () => {
    const [a, b] = sameBucket(2);
    await hosts.putHosts([host(a!, T), host(b!, T)]);
    wire.sent = [];
    wire.before = { match: (s) => s.method === 'DELETE', run: async () => void (await tables.hosts.updateEntity({ partitionKey: bucketOf(a!, HOST_BUCKETS), rowKey: encodeKey(a!), HostHash: 'moved' }, 'Merge')) };
    await hosts.removeHosts([{ server: a!, upTo: T }]);
    expect(wire.sent.filter(isPointRead)).toHaveLength(2);
    expect(await hosts.getHost(a!)).toBeUndefined();
    // Moved to a newer snapshot meanwhile: read again, spared.
    await hosts.putHosts([host(a!, T)]);
    wire.before = { match: (s) => s.method === 'DELETE', run: async () => hosts.putHosts([host(a!, T + 5)]) };
    await hosts.removeHosts([{ server: a!, upTo: T }]);
    expect((await hosts.getHost(a!))?.lastCollectedAt).toBe(T + 5);
    // Deleted by someone else meanwhile: nothing left to do.
    wire.before = { match: (s) => s.method === 'DELETE', run: async () => void (await tables.hosts.deleteEntity(bucketOf(b!, HOST_BUCKETS), encodeKey(b!))) };
    await hosts.removeHosts([{ server: b!, upTo: T }]);
    expect(await hosts.getHost(b!)).toBeUndefined();
  });

  it('a removal gives up after ten deletes, each met by another writer', async () => {
    const [a] = sameBucket(1);
    await hosts.putHosts([host(a!, T)]);
    const moved = () => tables.hosts.updateEntity({ partitionKey: bucketOf(a!, HOST_BUCKETS), rowKey: encodeKey(a!), HostHash: 'other' }, 'Merge').then(() => undefined);
    wire.sent = [];
    wire.before = everyTime((s) => s.method === 'DELETE', moved);
    await contended(() => hosts.removeHosts([{ server: a!, upTo: T }]), a!);
    wire.before = undefined;
    expect(wire.sent.filter((s) => s.method === 'DELETE')).toHaveLength(10);
    expect((await hosts.getHost(a!))?.lastCollectedAt).toBe(T);
  });

  it('a refused delete is an outage naming it', async () => {
    const [a] = sameBucket(1);
    await hosts.putHosts([host(a!, T)]);
    wire.refuse = isPointRead;
    await outage(() => hosts.removeHosts([{ server: a!, upTo: T }]), 'reading a host');
    wire.refuse = (s) => s.method === 'DELETE';
    await outage(() => hosts.removeHosts([{ server: a!, upTo: T }]), 'removing a host');
    wire.refuse = undefined;
    expect(await hosts.getHost(a!)).toBeDefined();
  });
});

describe('listing', () => {
  it('listServersPage: the servers a page at a time, keys and the server column only', async () => {
    const servers = [...sameBucket(3), ...sameBucket(2, 'other')];
    await hosts.putHosts(servers.map((s) => host(s, T)));
    // A row naming no server is none.
    await tables.hosts.createEntity({ partitionKey: 'b00', rowKey: 'no-server' });
    wire.sent = [];
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await hosts.listServersPage(2, token);
      expect(page.servers.length).toBeLessThanOrEqual(2);
      seen.push(...page.servers);
      token = page.token;
    } while (token);
    expect(seen.sort()).toStrictEqual([...servers].sort());
    expect(new URL(wire.sent[0]!.url).searchParams.get('$select')).toBe('Server');
    wire.refuse = (s) => s.method === 'GET';
    await outage(() => hosts.listServersPage(2, undefined), 'listing servers');
  });

  it('listHosts: every host, in bucket and server order, page by page', async () => {
    const servers = [...sameBucket(3), ...sameBucket(2, 'other')];
    await hosts.putHosts(servers.map((s) => host(s, T)));
    const all: HostRecord[] = [];
    let token: string | undefined;
    do {
      const page = await hosts.listHosts(2, token);
      all.push(...page.items);
      token = page.continuationToken;
    } while (token);
    const order = [...servers].sort((x, y) => (bucketOf(x, HOST_BUCKETS) + '\u0000' + encodeKey(x) < bucketOf(y, HOST_BUCKETS) + '\u0000' + encodeKey(y) ? -1 : 1));
    expect(all.map((h) => h.server)).toStrictEqual(order);
    expect(all[0]).toStrictEqual(host(order[0]!, T));
  });
});
