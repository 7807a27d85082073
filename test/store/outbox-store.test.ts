// The Outbox table as src/store/outbox-store.ts keeps it, on Azurite: entries written (alone, or
// together while one is on its way), cut into columns and refused past twelve, listed in key order
// within a count and a size, set aside and put back, removed after projection, and the projector's
// lease taken, renewed, lost and given back, with a write whose answer was lost read back as its
// own. What storage holds afterwards is read with a table client of the test's own; a policy on
// the store's pipeline records what it sends, refuses what a test names, and lets another writer
// act just before a request goes.
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TableTransaction, type TableEntityResult } from '@azure/data-tables';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { OutboxEntryTooLargeError, OutboxStore, type PostureStore, tableNames, TRUNCATION_MARKER, type OutboxEntry, type StoragePolicy } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { SERVER_BUCKETS } from '../../src/store/entities';
import { bucketOf, encodeKey } from '../../src/store/keys';
import { outboxKeys } from '../../src/store/outbox-store';
import { injectedError, lostAnswers } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { outage } from '../support/store-wire';

const PREFIX = 'OutboxStore';
const TABLE = tableNames(PREFIX).outbox;
const CHUNK = 60 * 1024;
const STATUSES = ['Pass', 'Warning', 'Fail'];

type Row = TableEntityResult<Record<string, unknown>>;
interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}
type Response = Awaited<ReturnType<StoragePolicy['sendRequest']>>;

/** The store's requests to the Outbox table, as sent; what a test refuses, runs first, or answers instead. */
const wire: {
  sent: Sent[];
  refuse?: (r: Sent) => number | undefined;
  before?: (r: Sent) => Promise<void>;
  after?: (r: Sent, response: Response) => Response;
} = { sent: [] };
const onWire: StoragePolicy = {
  name: 'testOutboxWire',
  async sendRequest(request, next) {
    const r = { method: request.method, url: decodeURIComponent(request.url), body: typeof request.body === 'string' ? request.body : '' };
    if (!`${r.url} ${r.body}`.includes(`/${TABLE}`)) return next(request);
    wire.sent.push(r);
    await wire.before?.(r);
    const status = wire.refuse?.(r);
    if (status !== undefined) throw injectedError(request, status);
    const response = await next(request);
    return wire.after ? wire.after(r, response) : response;
  },
};
const lose = lostAnswers('testOutboxLoseAnswer');

let azurite: AzuriteHandle | undefined;
let tables: TableClients;
let stores: { readonly plain: PostureStore; readonly retrying: PostureStore };
/** No retries: a refused request fails at once, as after the SDK's retries. */
let outbox: OutboxStore;
/** The SDK's retries: a write whose answer was lost is sent again. */
let retrying: OutboxStore;

beforeAll(async () => {
  azurite = await startAzurite({});
  const connectionString = azurite.connectionString;
  tables = createTestTables({ connectionString, tablePrefix: PREFIX });
  stores = {
    plain: createTestStore({ connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 0, policies: [onWire] }),
    retrying: createTestStore({ connectionString, tablePrefix: PREFIX, statuses: STATUSES, policies: [onWire, lose.policy] }),
  };
  await stores.plain.ensureTables();
});
afterAll(async () => azurite?.stop());
beforeEach(async () => {
  // Built for each test, not once before them all: what building one runs is then part of a test.
  outbox = new OutboxStore(stores.plain);
  retrying = new OutboxStore(stores.retrying);
  // A hundred rows of a partition per transaction: some tests leave a thousand.
  const byPartition = new Map<string, string[]>();
  for await (const e of tables.outbox.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) byPartition.set(String(e.partitionKey), [...(byPartition.get(String(e.partitionKey)) ?? []), String(e.rowKey)]);
  for (const [pk, rks] of byPartition) {
    for (let i = 0; i < rks.length; i += 100) await tables.outbox.submitTransaction(rks.slice(i, i + 100).map((rk) => ['delete', { partitionKey: pk, rowKey: rk }]));
  }
  wire.sent = [];
});
afterEach(() => {
  wire.refuse = undefined;
  wire.before = undefined;
  wire.after = undefined;
  lose.when = undefined;
});

/** Every row of the table, in key order. */
async function rows(): Promise<Row[]> {
  const out: Row[] = [];
  for await (const e of tables.outbox.listEntities()) out.push(e as Row);
  return out.sort((a, b) => (a.partitionKey + '\u0000' + a.rowKey < b.partitionKey + '\u0000' + b.rowKey ? -1 : 1));
}
const keysOf = (list: readonly { partitionKey?: string; rowKey?: string }[]) => list.map((r) => `${r.partitionKey}/${r.rowKey}`);
const row = (pk: string, rk: string) => tables.outbox.getEntity<Record<string, unknown>>(pk, rk);
const timeOf = (v: unknown) => new Date(v as string | Date).getTime();

/** The gzip a row holds, its columns joined in order. */
function gzipOf(r: Record<string, unknown>): Buffer {
  const n = r.PayloadChunks as number;
  return Buffer.concat(Array.from({ length: n }, (_, i) => r[`PayloadGzip${String(i).padStart(2, '0')}`] as Uint8Array));
}
const payloadColumns = (r: Record<string, unknown>) => Object.keys(r).filter((k) => k.startsWith('PayloadGzip')).sort();

/** Text that hardly compresses, `n` characters. */
const noise = (n: number) => randomBytes(Math.ceil((n * 3) / 4) + 3).toString('base64').slice(0, n);
/** A prefix of `text` whose gzip (fastest level, as stored) is as close above `bytes` as a character makes it. */
function gzipAbove(text: string, bytes: number): string {
  let [lo, hi] = [0, text.length];
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (gzipSync(text.slice(0, mid), { level: 1 }).length > bytes) hi = mid;
    else lo = mid + 1;
  }
  return text.slice(0, lo);
}

const entry = (server: string, commitId: string, payload = `{"work":"${server} ${commitId}"}`, writtenAt = Date.parse('2026-12-07T01:00:00.125Z')): OutboxEntry => ({ server, commitId, writtenAt, payload });

/** Rows of the entries partition (or an older version's, with `older`) written straight to the table. */
async function seed(list: readonly OutboxEntry[], options: { older?: boolean; extra?: Record<string, unknown> } = {}): Promise<void> {
  const byPartition = new Map<string, Record<string, unknown>[]>();
  for (const e of list) {
    const keys = options.older ? { partitionKey: bucketOf(e.server, 16), rowKey: `${encodeKey(e.server)}|${encodeKey(e.commitId)}` } : outboxKeys(e.server, e.commitId);
    const entity = { ...keys, Server: e.server, CommitId: e.commitId, WrittenAt: new Date(e.writtenAt), PayloadChunks: { value: 1, type: 'Int32' }, PayloadGzip00: new Uint8Array(gzipSync(e.payload)), ...options.extra };
    byPartition.set(keys.partitionKey, [...(byPartition.get(keys.partitionKey) ?? []), entity]);
  }
  for (const [, entities] of byPartition) {
    for (let i = 0; i < entities.length; i += 100) {
      const tx = new TableTransaction();
      for (const e of entities.slice(i, i + 100)) tx.upsertEntity(e as never, 'Replace');
      await tables.outbox.submitTransaction(tx.actions);
    }
  }
}


const gets = () => wire.sent.filter((r) => r.method === 'GET');
const isBatch = (r: Sent) => r.url.endsWith('$batch');
const isLeaseWrite = (r: Sent) => r.method !== 'GET' && r.method !== 'DELETE' && `${r.url} ${r.body}`.includes('~lease');

describe('writing entries', () => {
  it('stores an entry under its server bucket, server and commit id, its payload gzip at the fastest level in one column', async () => {
    const e = entry('Ex01.Contoso.com', 'commit/1#a');
    await outbox.put(e);
    const [only, ...others] = await rows();
    expect(others).toEqual([]);
    const keys = { partitionKey: 'entries', rowKey: `${bucketOf(e.server, SERVER_BUCKETS)}|${encodeKey(e.server)}|${encodeKey(e.commitId)}` };
    expect(outboxKeys(e.server, e.commitId)).toStrictEqual(keys);
    expect([only!.partitionKey, only!.rowKey]).toStrictEqual([keys.partitionKey, keys.rowKey]);
    expect([only!.Server, only!.CommitId, timeOf(only!.WrittenAt), only!.PayloadChunks]).toStrictEqual([e.server, e.commitId, e.writtenAt, 1]);
    expect(payloadColumns(only!)).toStrictEqual(['PayloadGzip00']);
    const gz = gzipOf(only!);
    expect(gunzipSync(gz).toString('utf8')).toBe(e.payload);
    // The gzip header's extra flags: 4 is "compressed at the fastest level".
    expect(gz[8]).toBe(4);
    expect(await outbox.list(10)).toStrictEqual([
      { ...e, etag: only!.etag, storedAt: Date.parse(String(only!.timestamp)), partitionKey: keys.partitionKey, rowKey: keys.rowKey, requeued: false, proven: false },
    ]);
  });

  it('cuts a payload past one column into as many as it needs, each full but the last, and reads it whole; a rewrite replaces every column', async () => {
    const e = entry('ex02', 'c1', noise(200_000));
    await outbox.put(e);
    const [stored] = await rows();
    const n = stored!.PayloadChunks as number;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(payloadColumns(stored!)).toStrictEqual(Array.from({ length: n }, (_, i) => `PayloadGzip${String(i).padStart(2, '0')}`));
    const sizes = payloadColumns(stored!).map((c) => (stored![c] as Uint8Array).length);
    expect(sizes.slice(0, -1)).toStrictEqual(Array.from({ length: n - 1 }, () => CHUNK));
    expect(sizes[n - 1]).toBeGreaterThan(0);
    expect(sizes[n - 1]).toBeLessThanOrEqual(CHUNK);
    expect(gunzipSync(gzipOf(stored!)).toString('utf8')).toBe(e.payload);
    expect((await outbox.list(1)).map((x) => x.payload)).toStrictEqual([e.payload]);

    await outbox.put({ ...e, payload: 'short' });
    const [again] = await rows();
    expect([again!.PayloadChunks, payloadColumns(again!)]).toStrictEqual([1, ['PayloadGzip00']]);
    expect((await outbox.list(1)).map((x) => x.payload)).toStrictEqual(['short']);
  });

  it('stores a payload of twelve full columns, read back whole, and refuses one of thirteen with OutboxEntryTooLargeError, sending nothing', async () => {
    const text = noise(1_100_000);
    // The longest payload twelve columns hold: Azurite, which counts a binary column as its base64
    // text, takes the row, as Azure does.
    const fits = gzipAbove(text, 12 * CHUNK).slice(0, -1);
    expect(gzipSync(fits, { level: 1 }).length).toBeGreaterThan(12 * CHUNK - 100);
    await outbox.put(entry('ex03', 'fits', fits));
    const [write, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(write!.body).toContain('"PayloadChunks":12');
    const [stored] = await rows();
    expect([stored!.PayloadChunks, payloadColumns(stored!).at(-1)]).toStrictEqual([12, 'PayloadGzip11']);
    expect((await outbox.list(1)).map((x) => x.payload)).toStrictEqual([fits]);

    wire.sent = [];
    const tooLarge = gzipAbove(text, 12 * CHUNK);
    const error = await outbox.put(entry('ex03', 'too-large', tooLarge)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboxEntryTooLargeError);
    expect((error as Error).name).toBe('OutboxEntryTooLargeError');
    const bytes = Number(/An outbox entry of (\d+) gzip bytes does not fit one entity\./.exec((error as Error).message)?.[1]);
    expect(bytes).toBe(12 * CHUNK + 1);
    expect(wire.sent).toEqual([]);
  }, 60_000);

  it('writes the entries of requests that arrive while one is on its way together, in one transaction', async () => {
    const list = ['a', 'b', 'c', 'd'].map((c) => entry(`ex04-${c}`, `c-${c}`));
    await Promise.all(list.map((e) => outbox.put(e)));
    const writes = wire.sent.filter((r) => r.method !== 'GET');
    expect(writes.map(isBatch)).toStrictEqual([false, true]);
    expect((await rows()).map((r) => r.CommitId).sort()).toStrictEqual(['c-a', 'c-b', 'c-c', 'c-d']);
  });

  it('an outage fails each write, naming what failed, and stores nothing', async () => {
    wire.refuse = (r) => (r.method === 'GET' ? undefined : 503);
    await Promise.all(['c1', 'c2', 'c3'].map((c) => outage(() => outbox.put(entry('ex05', c)), 'writing the outbox')));
    expect(wire.sent.some(isBatch)).toBe(true);
    expect(await rows()).toEqual([]);
  });
});

describe('listing entries', () => {
  it("lists every bucket in key order, an older version's partitions first, one server's commits together; not held entries or the lease", async () => {
    const servers = ['ex10', 'ex11', 'ex12', 'ex13'];
    for (const s of servers) for (const c of ['c2', 'c1']) await outbox.put(entry(s, c));
    await seed([entry('ex14', 'c0'), entry('ex10', 'c0')], { older: true });
    await outbox.takeLease('me', 1000, 2000);
    await outbox.hold((await outbox.list(100)).find((e) => e.partitionKey === 'entries')!, 'boom', false, 5000);
    const listed = await outbox.list(100);
    const stored = (await rows()).filter((r) => String(r.partitionKey) < '~');
    expect(listed.length).toBe(9);
    expect(keysOf(listed)).toStrictEqual(keysOf(stored));
    expect(listed.slice(0, 2).map((e) => e.partitionKey)).toStrictEqual([bucketOf('ex14', 16), bucketOf('ex10', 16)].sort());
    expect(listed.map((e) => e.payload)).toStrictEqual(stored.map((r) => gunzipSync(gzipOf(r)).toString('utf8')));
    // After the older partitions, each server's entries are together, its earliest commit id first.
    const newer = listed.slice(2).map((e) => `${e.server} ${e.commitId}`);
    expect(newer).toStrictEqual([...newer].sort((a, b) => (bucketOf(a.split(' ')[0]!, SERVER_BUCKETS) + a < bucketOf(b.split(' ')[0]!, SERVER_BUCKETS) + b ? -1 : 1)));
  });

  it('stops at `max` entries in one request, and once the payloads reach `maxBytes` (at least one entry)', async () => {
    const list = ['a', 'b', 'c', 'd', 'e'].map((c) => entry('ex20', c, c.repeat(100)));
    await seed(list);
    const commits = async (max: number, maxBytes?: number) => {
      wire.sent = [];
      const out = (await outbox.list(max, maxBytes)).map((e) => e.commitId).join('');
      return [out, gets().length];
    };
    expect(await commits(2)).toStrictEqual(['ab', 1]);
    expect(await commits(3)).toStrictEqual(['abc', 1]);
    expect(await commits(10, 200)).toStrictEqual(['ab', 1]);
    expect(await commits(10, 201)).toStrictEqual(['abc', 1]);
    expect(await commits(10, 1)).toStrictEqual(['a', 1]);
    expect(await commits(10, 0)).toStrictEqual(['a', 1]);
    expect(await commits(5)).toStrictEqual(['abcde', 1]);
    expect(await commits(10)).toStrictEqual(['abcde', 1]);
  });

  it('reads past a page of a thousand, and stops where count or size says, with no request more than it needs', async () => {
    const list = Array.from({ length: 1002 }, (_, i) => entry('ex21', `c${String(i).padStart(4, '0')}`, 'x'.repeat(10)));
    await seed(list);
    const run = async (call: () => Promise<unknown[]>) => {
      wire.sent = [];
      return [(await call()).length, gets().length, gets().map((r) => /\$top=(\d+)/.exec(r.url)?.[1])];
    };
    expect(await run(() => outbox.list(1001))).toStrictEqual([1001, 2, ['1000', '1000']]);
    expect(await run(() => outbox.list(1001, 1000 * 10))).toStrictEqual([1000, 1, ['1000']]);
    expect(await run(() => outbox.list(2000))).toStrictEqual([1002, 2, ['1000', '1000']]);
    const waiting = async (max: number) => {
      wire.sent = [];
      const r = await outbox.oldestWaiting(max);
      return [r.entries, r.more, gets().map((g) => /\$top=(\d+)/.exec(g.url)?.[1])];
    };
    expect(await waiting(1001)).toStrictEqual([1001, true, ['1000', '1000']]);
    expect(await waiting(1000)).toStrictEqual([1000, true, ['1000']]);
    expect(await waiting(1002)).toStrictEqual([1002, false, ['1000', '1000']]);
  }, 60_000);

  it('reads an entry it cannot decode as one with no payload, and one without a time as written at 0, without failing the listing', async () => {
    await seed([entry('ex22', 'a')], { extra: { PayloadChunks: { value: 2, type: 'Int32' } } });
    await seed([entry('ex22', 'b')], { extra: { PayloadChunks: undefined } });
    await seed([entry('ex22', 'c')], { extra: { WrittenAt: undefined } });
    // A column past the count it names (left by a merge, say) is not part of the payload.
    await seed([entry('ex22', 'd')], { extra: { PayloadGzip01: new Uint8Array([1, 2, 3]) } });
    const listed = await outbox.list(10);
    expect(listed.map((e) => [e.commitId, e.payload, e.writtenAt])).toStrictEqual([
      ['a', '', entry('ex22', 'a').writtenAt],
      ['b', '', entry('ex22', 'b').writtenAt],
      ['c', entry('ex22', 'c').payload, 0],
      ['d', entry('ex22', 'd').payload, entry('ex22', 'd').writtenAt],
    ]);
  });

  it('reads the storage time whether storage types it or not, the request time when it gives none, and no ETag as none', async () => {
    const writtenAt = Date.parse('2026-12-07T00:00:00.250Z');
    await outbox.put(entry('ex23', 'c1', 'p', writtenAt));
    const [stored] = await rows();
    const storedAt = Date.parse(String(stored!.timestamp));
    expect(storedAt).not.toBe(writtenAt);
    /** Storage's answers to reads, changed by `change` row by row. */
    const answer = (change: (e: Record<string, unknown>) => void) => {
      wire.after = (r, response) => {
        if (r.method !== 'GET') return response;
        const body = JSON.parse(response.bodyAsText ?? '{}') as { value?: Record<string, unknown>[] };
        for (const e of body.value ?? []) change(e);
        return { ...response, bodyAsText: JSON.stringify(body) };
      };
    };
    answer((e) => {
      e['Timestamp@odata.type'] = 'Edm.DateTime';
    });
    expect((await outbox.list(1)).map((e) => e.storedAt)).toStrictEqual([storedAt]);
    expect((await outbox.oldestWaiting(10)).oldest).toStrictEqual({ storedAt, server: 'ex23' });
    answer((e) => {
      delete e.Timestamp;
      delete e['odata.etag'];
    });
    expect((await outbox.list(1)).map((e) => [e.storedAt, e.etag])).toStrictEqual([[writtenAt, '']]);
    expect((await outbox.oldestWaiting(10)).oldest).toStrictEqual({ storedAt: writtenAt, server: 'ex23' });
  });

  it('an outage fails the listing, naming it', async () => {
    wire.refuse = () => 503;
    await outage(() => outbox.list(10), 'reading the outbox');
  });
});

describe('an entry that could not be projected, set aside and put back', () => {
  const listedOne = async () => (await outbox.list(1))[0]!;

  it('holds a copy with the error, the time and the proof, then removes the entry', async () => {
    const e = entry('ex30', 'c1', noise(100_000));
    await outbox.put(e);
    await outbox.hold(await listedOne(), 'TypeError: bad\n    at x', true, Date.parse('2026-12-07T02:00:00.500Z'));
    const [held, ...others] = await rows();
    expect(others).toEqual([]);
    expect([held!.partitionKey, held!.rowKey]).toStrictEqual(['~held', outboxKeys(e.server, e.commitId).rowKey]);
    expect([held!.Server, held!.CommitId, timeOf(held!.WrittenAt), held!.HeldError, timeOf(held!.HeldAt), held!.Proven]).toStrictEqual([e.server, e.commitId, e.writtenAt, 'TypeError: bad\n    at x', Date.parse('2026-12-07T02:00:00.500Z'), true]);
    expect(gunzipSync(gzipOf(held!)).toString('utf8')).toBe(e.payload);
    expect(await outbox.listHeld(10)).toStrictEqual([{ server: e.server, commitId: e.commitId, writtenAt: e.writtenAt, heldAt: Date.parse('2026-12-07T02:00:00.500Z'), error: 'TypeError: bad\n    at x', proven: true }]);
  });

  it('cuts a long error to 2,000 characters with a marker', async () => {
    await outbox.put(entry('ex31', 'c1'));
    await outbox.hold(await listedOne(), 'e'.repeat(5000), false, 1000);
    const [held] = await rows();
    expect((held!.HeldError as string).length).toBe(2000);
    expect(held!.HeldError).toBe('e'.repeat(2000 - TRUNCATION_MARKER.length) + TRUNCATION_MARKER);
    expect(held!.Proven).toBe(false);
  });

  it('leaves an entry written again since it was listed, and holds one that went meanwhile', async () => {
    await outbox.put(entry('ex32', 'c1', 'first'));
    const listed = await listedOne();
    await outbox.put(entry('ex32', 'c1', 'second'));
    await outbox.hold(listed, 'boom', false, 1000);
    expect((await rows()).map((r) => [r.partitionKey, gunzipSync(gzipOf(r)).toString('utf8')])).toStrictEqual([
      ['entries', 'second'],
      ['~held', 'first'],
    ]);

    await tables.outbox.deleteEntity('~held', listed.rowKey);
    const again = await listedOne();
    await tables.outbox.deleteEntity(again.partitionKey, again.rowKey);
    await outbox.hold(again, 'boom', false, 1000);
    expect((await rows()).map((r) => [r.partitionKey, gunzipSync(gzipOf(r)).toString('utf8')])).toStrictEqual([['~held', 'second']]);
  });

  it("holds an older version's entry under the current row key and removes it from its partition", async () => {
    await seed([entry('ex33', 'c1')], { older: true });
    await outbox.hold(await listedOne(), 'boom', false, 1000);
    expect(keysOf(await rows())).toStrictEqual([`~held/${outboxKeys('ex33', 'c1').rowKey}`]);
  });

  it('an outage keeps the entry somewhere: before the copy, in the outbox; after it, in both', async () => {
    await outbox.put(entry('ex34', 'c1'));
    const listed = await listedOne();
    wire.refuse = (r) => (r.method === 'PUT' ? 503 : undefined);
    await outage(() => outbox.hold(listed, 'boom', false, 1000), 'setting an outbox entry aside');
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['entries']);
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => outbox.hold(listed, 'boom', false, 1000), 'setting an outbox entry aside');
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['entries', '~held']);
  });

  it('lists held entries in key order, at most `max`, without their payloads; a row missing its times reads 0', async () => {
    for (const c of ['c1', 'c2', 'c3']) await outbox.put(entry('ex35', c, noise(1000)));
    for (const [i, e] of (await outbox.list(10)).entries()) await outbox.hold(e, `error ${i}`, i === 1, 1000 + i);
    await tables.outbox.updateEntity({ partitionKey: '~held', rowKey: outboxKeys('ex35', 'c3').rowKey, Server: 'ex35', CommitId: 'c3', HeldError: 'error 2' }, 'Replace');
    // Neither a waiting entry nor the lease is held.
    await outbox.put(entry('ex35', 'c4'));
    await outbox.takeLease('me', 1000, 2000);
    wire.sent = [];
    expect(await outbox.listHeld(10)).toStrictEqual([
      { server: 'ex35', commitId: 'c1', writtenAt: entry('', '').writtenAt, heldAt: 1000, error: 'error 0', proven: false },
      { server: 'ex35', commitId: 'c2', writtenAt: entry('', '').writtenAt, heldAt: 1001, error: 'error 1', proven: true },
      { server: 'ex35', commitId: 'c3', writtenAt: 0, heldAt: 0, error: 'error 2', proven: false },
    ]);
    expect(gets().map((r) => /\$select=([^&]*)/.exec(r.url)?.[1])).toStrictEqual(['Server,CommitId,WrittenAt,HeldAt,HeldError,Proven']);
    expect((await outbox.listHeld(2)).map((h) => h.commitId)).toStrictEqual(['c1', 'c2']);
    expect(await outbox.listHeld(0)).toStrictEqual([]);
    wire.refuse = () => 503;
    await outage(() => outbox.listHeld(10), 'reading held outbox entries');
  });

  it('puts held entries back as requeued, keeping payload, time and proof, reading ten at a time', async () => {
    const list = ['c1', 'c2', 'c3'].map((c) => entry('ex36', c, noise(1000)));
    for (const e of list) await outbox.put(e);
    for (const [i, e] of (await outbox.list(10)).entries()) await outbox.hold(e, 'boom', i === 0, 1000);
    await outbox.takeLease('me', 1000, 2000);
    wire.sent = [];
    expect(await outbox.requeueHeld()).toStrictEqual({ requeued: 3, more: false });
    expect(gets().map((r) => /\$top=(\d+)/.exec(r.url)?.[1])).toStrictEqual(['10']);
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['entries', 'entries', 'entries', '~lease']);
    expect((await outbox.list(10)).map((e) => [e.commitId, e.payload, e.writtenAt, e.requeued, e.proven])).toStrictEqual(list.map((e, i) => [e.commitId, e.payload, e.writtenAt, true, i === 0]));
    expect(await outbox.requeueHeld()).toStrictEqual({ requeued: 0, more: false });
  });

  it('leaves a held row written again while it was put back', async () => {
    await outbox.put(entry('ex37', 'c1', 'first'));
    await outbox.hold(await listedOne(), 'boom', false, 1000);
    wire.before = async (r) => {
      if (r.method !== 'DELETE') return;
      wire.before = undefined;
      await tables.outbox.updateEntity({ partitionKey: '~held', rowKey: outboxKeys('ex37', 'c1').rowKey, Server: 'ex37', CommitId: 'c1', HeldError: 'again' }, 'Merge');
    };
    expect(await outbox.requeueHeld()).toStrictEqual({ requeued: 1, more: false });
    expect((await rows()).map((r) => [r.partitionKey, r.Requeued ?? r.HeldError])).toStrictEqual([
      ['entries', true],
      ['~held', 'again'],
    ]);
  });

  it('puts back at most 500 a call, and says more are held', async () => {
    const list = Array.from({ length: 501 }, (_, i) => entry('ex38', `c${String(i).padStart(3, '0')}`, 'p'));
    await seed(list, { extra: { partitionKey: '~held', HeldError: 'boom' } });
    expect((await rows()).length).toBe(501);
    expect(await outbox.requeueHeld()).toStrictEqual({ requeued: 500, more: true });
    expect((await outbox.listHeld(10)).map((h) => h.commitId)).toStrictEqual(['c500']);
    expect(await outbox.requeueHeld()).toStrictEqual({ requeued: 1, more: false });
    expect((await outbox.list(1000)).length).toBe(501);
  }, 60_000);

  it('an outage fails the requeue, naming it, and never loses the entry', async () => {
    await outbox.put(entry('ex39', 'c1'));
    await outbox.hold(await listedOne(), 'boom', false, 1000);
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => outbox.requeueHeld(), 'requeueing held outbox entries');
    wire.refuse = (r) => (r.method === 'PUT' ? 503 : undefined);
    await outage(() => outbox.requeueHeld(), 'requeueing held outbox entries');
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['~held']);
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => outbox.requeueHeld(), 'requeueing held outbox entries');
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['entries', '~held']);
  });
});

describe('an entry looked up, cleared, and the backlog', () => {
  it('has: finds an entry in either layout by a point read of its keys alone', async () => {
    await outbox.put(entry('ex40', 'new'));
    await seed([entry('ex40', 'old')], { older: true });
    wire.sent = [];
    expect([await outbox.has('ex40', 'new'), await outbox.has('ex40', 'old'), await outbox.has('ex40', 'none'), await outbox.has('ex41', 'new')]).toStrictEqual([true, true, false, false]);
    expect(gets().every((r) => r.url.includes('$select=RowKey') && r.url.includes('PartitionKey='))).toBe(true);
    expect(gets().length).toBe(1 + 2 + 2 + 2);
    wire.refuse = () => 503;
    await outage(() => outbox.has('ex40', 'new'), 'reading the outbox');
  });

  it('deleteOne: removes that entry alone, and an entry already gone is no error', async () => {
    await outbox.put(entry('ex42', 'c1'));
    await outbox.put(entry('ex42', 'c2'));
    await outbox.deleteOne('ex42', 'c1');
    await outbox.deleteOne('ex42', 'c1');
    expect((await rows()).map((r) => r.CommitId)).toStrictEqual(['c2']);
    wire.refuse = () => 503;
    await outage(() => outbox.deleteOne('ex42', 'c2'), 'clearing the outbox');
    expect((await rows()).map((r) => r.CommitId)).toStrictEqual(['c2']);
  });

  it('changesWaiting: an entry in either layout or a held one is waiting; nothing, or the lease alone, is not', async () => {
    const waiting = async () => {
      wire.sent = [];
      const answer = await outbox.changesWaiting();
      expect(gets().map((r) => [/\$select=([^&]*)/.exec(r.url)?.[1], /\$top=(\d+)/.exec(r.url)?.[1]])).toStrictEqual([['PartitionKey', '1']]);
      return answer;
    };
    expect(await waiting()).toBe(false);
    await outbox.takeLease('me', 1000, 2000);
    expect(await waiting()).toBe(false);
    await outbox.put(entry('ex43', 'c1'));
    expect(await waiting()).toBe(true);
    await outbox.hold((await outbox.list(1))[0]!, 'boom', false, 1000);
    expect(await waiting()).toBe(true);
    await outbox.requeueHeld();
    await outbox.remove([{ server: 'ex43', commitId: 'c1' }]);
    await seed([entry('ex43', 'c0')], { older: true });
    expect(await waiting()).toBe(true);
    wire.refuse = () => 503;
    await outage(() => outbox.changesWaiting(), 'reading the outbox');
  });

  it('changesWaiting: a first page that comes back empty but with a continuation is waiting', async () => {
    wire.after = (r, response) => {
      if (r.method !== 'GET') return response;
      response.headers.set('x-ms-continuation-NextPartitionKey', 'entries');
      response.headers.set('x-ms-continuation-NextRowKey', 'b00');
      return { ...response, bodyAsText: JSON.stringify({ value: [] }) };
    };
    expect(await outbox.changesWaiting()).toBe(true);
  });

  it('oldestWaiting: the oldest storage time among the waiting entries, with its server; not held ones or the lease', async () => {
    const stamps = new Map<string, number>();
    for (const s of ['ex53', 'ex50', 'ex52', 'ex51']) {
      await outbox.put(entry(s, 'c1', 'p', 0));
      stamps.set(s, Date.parse(String((await row(...Object.values(outboxKeys(s, 'c1')) as [string, string])).timestamp)));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await outbox.takeLease('me', 1000, 2000);
    expect(await outbox.oldestWaiting(100)).toStrictEqual({ entries: 4, more: false, oldest: { storedAt: stamps.get('ex53'), server: 'ex53' } });
    await outbox.hold((await outbox.list(100)).find((e) => e.server === 'ex53')!, 'boom', false, 1000);
    expect(await outbox.oldestWaiting(100)).toStrictEqual({ entries: 3, more: false, oldest: { storedAt: stamps.get('ex50'), server: 'ex50' } });
    // The first two in key order: the oldest of those is a lower bound.
    const firstTwo = (await outbox.list(2)).map((e) => e.server);
    const older = firstTwo.reduce((a, b) => (stamps.get(a)! <= stamps.get(b)! ? a : b));
    expect(await outbox.oldestWaiting(2)).toStrictEqual({ entries: 2, more: true, oldest: { storedAt: stamps.get(older), server: older } });
    wire.sent = [];
    await outbox.oldestWaiting(100);
    expect(gets().map((r) => /\$select=([^&]*)/.exec(r.url)?.[1])).toStrictEqual(['Server,Timestamp,WrittenAt']);
    wire.refuse = () => 503;
    await outage(() => outbox.oldestWaiting(10), 'reading the outbox');
  });

  it('oldestWaiting: of entries stored at the same instant, the first in key order; none waiting, none', async () => {
    expect(await outbox.oldestWaiting(100)).toStrictEqual({ entries: 0, more: false, oldest: undefined });
    await seed(['ex60', 'ex61', 'ex62', 'ex63'].map((s) => entry(s, 'c1')));
    // Azure gives the rows of a transaction one Timestamp, Azurite each its own: answer with one.
    const instant = '2026-12-07T01:02:03.456Z';
    wire.after = (_, response) => {
      const body = JSON.parse(response.bodyAsText ?? '{}') as { value?: Record<string, unknown>[] };
      for (const e of body.value ?? []) e.Timestamp = instant;
      return { ...response, bodyAsText: JSON.stringify(body) };
    };
    const first = (await rows())[0]!;
    expect(await outbox.oldestWaiting(100)).toStrictEqual({ entries: 4, more: false, oldest: { storedAt: Date.parse(instant), server: first.Server } });
  });
});

describe('removing projected entries', () => {
  it('removes entries by their keys, in both layouts, a hundred per transaction, and counts them', async () => {
    const list = Array.from({ length: 200 }, (_, i) => entry('ex70', `c${String(i).padStart(3, '0')}`, 'p'));
    await seed(list);
    await seed([entry('ex71', 'old')], { older: true });
    await outbox.put(entry('ex72', 'keep'));
    const older = (await outbox.list(1))[0]!;
    wire.sent = [];
    expect(await outbox.remove([...list.map((e) => ({ server: e.server, commitId: e.commitId })), older])).toBe(201);
    expect(wire.sent.map((r) => (isBatch(r) ? 'batch' : r.method))).toStrictEqual(['batch', 'batch', 'batch']);
    expect((await rows()).map((r) => r.CommitId)).toStrictEqual(['keep']);
    expect(await outbox.remove([])).toBe(0);
  });

  it('uses the keys an entry came with only when it has both', async () => {
    await outbox.put(entry('ex73', 'c1'));
    expect(await outbox.remove([{ server: 'ex73', commitId: 'c1', partitionKey: 'entries' }])).toBe(1);
    await outbox.put(entry('ex73', 'c2'));
    expect(await outbox.remove([{ server: 'ex73', commitId: 'c2', rowKey: 'elsewhere' }])).toBe(1);
    expect(await rows()).toEqual([]);
  });

  it('one gone meanwhile: the rest go one by one, and only those are counted', async () => {
    for (const c of ['c1', 'c2', 'c3']) await outbox.put(entry('ex74', c));
    await outbox.deleteOne('ex74', 'c2');
    wire.sent = [];
    expect(await outbox.remove(['c1', 'c2', 'c3'].map((c) => ({ server: 'ex74', commitId: c })))).toBe(2);
    expect(wire.sent.map((r) => (isBatch(r) ? 'batch' : r.method))).toStrictEqual(['batch', 'DELETE', 'DELETE', 'DELETE']);
    expect(await rows()).toEqual([]);
  });

  it('a removal whose answer was lost and whose resend found the rows gone counts them: a transaction, and one by one', async () => {
    const list = ['c1', 'c2', 'c3'].map((c) => entry('ex77', c));
    await seed(list);
    lose.when = isBatch;
    expect(await retrying.remove(list)).toBe(3);
    expect(lose.when).toBeUndefined();
    expect(await rows()).toEqual([]);

    // One gone meanwhile sends the rest one by one; the answer of one of those is lost.
    await seed(list);
    await outbox.deleteOne('ex77', 'c2');
    lose.when = (r) => r.method === 'DELETE' && r.url.includes('c3');
    wire.sent = [];
    expect(await retrying.remove(list)).toBe(2);
    expect(lose.when).toBeUndefined();
    expect(wire.sent.map((r) => (isBatch(r) ? 'batch' : r.method))).toStrictEqual(['batch', 'DELETE', 'DELETE', 'DELETE', 'DELETE']);
    expect(await rows()).toEqual([]);

    // A transaction that never landed (its attempt failed before storage had it), one gone before
    // its resend: only those removed one by one are counted.
    await seed(list);
    const gone = outboxKeys('ex77', 'c2');
    let attempts = 0;
    wire.before = async (r) => {
      if (isBatch(r) && ++attempts === 1) await tables.outbox.deleteEntity(gone.partitionKey, gone.rowKey);
    };
    wire.refuse = (r) => (isBatch(r) && attempts === 1 ? 503 : undefined);
    expect(await retrying.remove(list)).toBe(2);
    expect(attempts).toBe(2);
    expect(await rows()).toEqual([]);
  });

  it('an outage fails the removal, naming it, after the other partitions are done; one by one too', async () => {
    await outbox.put(entry('ex75', 'c1'));
    await seed([entry('ex76', 'c1')], { older: true });
    wire.refuse = (r) => (isBatch(r) && r.body.includes('entries') ? 503 : undefined);
    const older = (await outbox.list(1))[0]!;
    await outage(() => outbox.remove([{ server: 'ex75', commitId: 'c1' }, older]), 'clearing the outbox');
    expect((await rows()).map((r) => r.partitionKey)).toStrictEqual(['entries']);

    await outbox.put(entry('ex75', 'c2'));
    wire.refuse = (r) => (r.method === 'DELETE' && !isBatch(r) ? 503 : undefined);
    await outage(() => outbox.remove(['c0', 'c1', 'c2'].map((c) => ({ server: 'ex75', commitId: c }))), 'clearing the outbox');
    expect((await rows()).map((r) => r.CommitId)).toStrictEqual(['c1', 'c2']);
  });
});

describe("the projector's lease", () => {
  const lease = async () => {
    const r = await row('~lease', 'projector');
    return { owner: r.Owner, until: timeOf(r.Until), generation: r.Generation };
  };
  const write = (owner: string, until: number, generation?: number) =>
    tables.outbox.upsertEntity({ partitionKey: '~lease', rowKey: 'projector', Owner: owner, Until: new Date(until), ...(generation === undefined ? {} : { Generation: { value: generation, type: 'Double' } }) }, 'Replace');

  it('taken when free at a generation of the time; kept by its owner at that generation; refused to another until it lapses', async () => {
    expect(await outbox.holdLease('a', 1000.75, 2000.75)).toBe(1000);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 2000, generation: 1000 });
    expect(await outbox.holdLease('a', 1010, 3000)).toBe(1000);
    expect(await outbox.holdLease('b', 2999, 5000)).toBeUndefined();
    expect(await outbox.takeLease('b', 2999, 5000)).toBe(false);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 3000, generation: 1000 });
    // Until is the instant the lease lapses: at it, another may take it.
    expect(await outbox.takeLease('b', 3000, 6000)).toBe(true);
    expect(await outbox.takeLease('a', 3500, 7000)).toBe(false);
    expect(await lease()).toStrictEqual({ owner: 'b', until: 6000, generation: 3000 });
  });

  it('a generation above the one the rule index showed, even for the owner keeping it; the time when it is higher', async () => {
    await write('a', 2000, 50);
    expect(await outbox.holdLease('a', 1000, 3000, 49)).toBe(50);
    expect(await outbox.holdLease('a', 1000, 3000, 50)).toBe(1000);
    expect(await outbox.holdLease('a', 1000, 3000, 5000.5)).toBe(5001);
    expect(await outbox.holdLease('b', 4000, 9000)).toBe(5002);
    expect(await outbox.holdLease('c', 9000, 9500)).toBe(9000);
    expect(await lease()).toStrictEqual({ owner: 'c', until: 9500, generation: 9000 });
  });

  it('a lease row without a generation (an older release wrote it): the next one is the time, even for its owner', async () => {
    await write('a', 2000);
    expect(await outbox.holdLease('a', 1000, 3000)).toBe(1000);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 3000, generation: 1000 });
  });

  it('renewed only by its owner at its generation; not once another took it, even if it lapsed since', async () => {
    expect(await outbox.renewLease('a', 1000, 3000)).toBe(false);
    const generation = (await outbox.holdLease('a', 1000, 2000))!;
    expect(await outbox.renewLease('a', generation, 3000)).toBe(true);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 3000, generation });
    expect(await outbox.renewLease('a', generation + 1, 4000)).toBe(false);
    expect(await outbox.renewLease('b', generation, 4000)).toBe(false);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 3000, generation });
    await write('a', 500, generation + 1);
    expect(await outbox.renewLease('a', generation, 4000)).toBe(false);
    expect(await lease()).toStrictEqual({ owner: 'a', until: 500, generation: generation + 1 });
  });

  it('two taking a free lease at once: one wins, the other is told', async () => {
    wire.before = async (r) => {
      if (!isLeaseWrite(r)) return;
      wire.before = undefined;
      await write('b', 5000, 7);
    };
    expect(await outbox.holdLease('a', 1000, 2000)).toBeUndefined();
    wire.before = async (r) => {
      if (!isLeaseWrite(r)) return;
      wire.before = undefined;
      await write('c', 9000, 8);
    };
    expect(await outbox.holdLease('a', 6000, 7000)).toBeUndefined();
    expect(await lease()).toStrictEqual({ owner: 'c', until: 9000, generation: 8 });
  });

  it('a write whose answer was lost is its own when read back (create and replace); another write in between is not', async () => {
    lose.when = isLeaseWrite;
    expect(await retrying.holdLease('a', 1000, 2000)).toBe(1000);
    expect(lose.when).toBeUndefined();
    lose.when = isLeaseWrite;
    expect(await retrying.renewLease('a', 1000, 3000)).toBe(true);
    expect(lose.when).toBeUndefined();
    expect(await lease()).toStrictEqual({ owner: 'a', until: 3000, generation: 1000 });
    // The row differs from what this write would leave in one thing: not this write.
    for (const [owner, until, generation] of [
      ['b', 4000, 1000],
      ['a', 4001, 1000],
      ['a', 4000, 1001],
    ] as const) {
      lose.when = (r) => {
        if (!isLeaseWrite(r)) return false;
        wire.before = async () => {
          wire.before = undefined;
          await write(owner, until, generation);
        };
        return true;
      };
      expect(await retrying.renewLease('a', 1000, 4000)).toBe(false);
      expect(await lease()).toStrictEqual({ owner, until, generation });
      await write('a', 3000, 1000);
    }
  });

  it('a refused write whose row is gone when read back is lost, not held', async () => {
    await write('b', 500, 3);
    wire.before = async (r) => {
      if (!isLeaseWrite(r)) return;
      wire.before = async (next) => {
        if (next.method !== 'GET') return;
        wire.before = undefined;
        await tables.outbox.deleteEntity('~lease', 'projector');
      };
      await write('c', 500, 4);
    };
    expect(await outbox.holdLease('a', 1000, 2000)).toBeUndefined();
  });

  it('an outage fails taking and renewing it, naming what failed', async () => {
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => outbox.holdLease('a', 1000, 2000), 'reading the projector lease');
    await outage(() => outbox.renewLease('a', 1000, 2000), 'reading the projector lease');
    wire.refuse = (r) => (isLeaseWrite(r) ? 503 : undefined);
    await outage(() => outbox.holdLease('a', 1000, 2000), 'taking the projector lease');
    wire.refuse = undefined;
    await outbox.holdLease('a', 1000, 2000);
    wire.refuse = (r) => (isLeaseWrite(r) ? 503 : undefined);
    await outage(() => outbox.holdLease('a', 1000, 3000), 'taking the projector lease');
    await outage(() => outbox.renewLease('a', 1000, 3000), 'taking the projector lease');
    // Refused, then the read-back fails.
    wire.refuse = undefined;
    wire.before = async (r) => {
      if (!isLeaseWrite(r)) return;
      await write('b', 500, 1001);
      wire.refuse = (next) => (next.method === 'GET' ? 503 : undefined);
    };
    await outage(() => outbox.renewLease('a', 1000, 3000), 'reading the projector lease');
  });

  it('given back by its owner: free at once at its generation; not by another; nothing to give back is no error', async () => {
    await outbox.releaseLease('a');
    await expect(row('~lease', 'projector')).rejects.toMatchObject({ statusCode: 404 });
    const generation = (await outbox.holdLease('a', 1000, 60_000))!;
    await outbox.releaseLease('b');
    expect(await lease()).toStrictEqual({ owner: 'a', until: 60_000, generation });
    await outbox.releaseLease('a');
    expect(await lease()).toStrictEqual({ owner: '', until: 0, generation });
    expect(await outbox.holdLease('b', 1000, 2000)).toBe(generation + 1);
    // Taken by another between the read and the write: left to it.
    wire.before = async (r) => {
      if (!isLeaseWrite(r)) return;
      wire.before = undefined;
      await write('c', 9000, 99);
    };
    await outbox.releaseLease('b');
    expect(await lease()).toStrictEqual({ owner: 'c', until: 9000, generation: 99 });
    await write('c', 9000);
    await outbox.releaseLease('c');
    expect(await lease()).toStrictEqual({ owner: '', until: 0, generation: 0 });
  });
});
