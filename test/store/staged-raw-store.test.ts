// The Snapshots table's staging rows as src/store/staged-raw-store.ts keeps them, on Azurite: a raw
// body too large for its outbox entry staged under its commit attempt, copied into its slot (at
// once by the projector, or by the hourly sweep only if the slot is as it was read), listed by
// keys and storage time, read without its body, removed; and the newest commit's raw columns
// among a server's Results rows. What storage holds afterwards is read with a table client of the
// test's own; a policy on the store's pipeline records what the store sends, refuses what a test
// names, and lets another writer act just before a request goes.
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { TableEntityResult } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { StagedRawStore, StorageUnavailableError, tableNames, type PostureStore, type RawSnapshotRecord } from '../../src/store';
import type { TableClients } from '../../src/store/client';
import { REMOVED_STATUS } from '../../src/store/records';
import { bucketOf, encodeKey } from '../../src/store/keys';
import { createTestStore, createTestTables } from '../support/stack';
import { emptyTables, outage, storeWire, type Sent } from '../support/store-wire';

const PREFIX = 'Staged';
const NAMES = tableNames(PREFIX);
const STATUSES = ['Pass', 'Warning', 'Fail'];
const T = Date.parse('2026-12-07T01:00:00.250Z');

type Row = TableEntityResult<Record<string, unknown>>;
/** The store's requests to Snapshots and Results, as sent; what a test refuses, runs first, or answers instead. */
const { wire, policy: onWire } = storeWire('testStagedWire', [NAMES.snapshots, NAMES.results]);

let azurite: AzuriteHandle | undefined;
let tables: TableClients;
let store: PostureStore;
/** No retries: a refused request fails at once, as after the SDK's retries. */
let staged: StagedRawStore;
let fresh = 0;

beforeAll(async () => {
  azurite = await startAzurite({});
  tables = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX });
  store = createTestStore({ connectionString: azurite.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 0, policies: [onWire] });
  await store.ensureTables();
});
afterAll(async () => azurite?.stop());
beforeEach(async () => {
  // Built for each test, not once before them all: what building one runs is then part of a test.
  staged = new StagedRawStore(store);
  await emptyTables(tables.snapshots, tables.results);
  wire.reset();
});

/** Text that hardly compresses, `n` characters. */
const noise = (n: number) => randomBytes(Math.ceil((n * 3) / 4) + 3).toString('base64').slice(0, n);
const raw = (server: string, snapshotId: string, body = `{"snapshot":"${snapshotId}"}`, over: Partial<RawSnapshotRecord> = {}): RawSnapshotRecord => ({
  server,
  snapshotId,
  collectedAt: T,
  receivedAt: T + 1000,
  contentHash: `hash-${snapshotId}`,
  body,
  ...over,
});
const bucket = (server: string) => `s|${bucketOf(server, 16)}`;
const stageKey = (server: string, commitId: string) => `${encodeKey(server)}|stage|${encodeKey(commitId)}`;
const slotKey = (server: string, slot: number) => `${encodeKey(server)}|slot${slot}`;
const snapshotRow = (pk: string, rk: string) => tables.snapshots.getEntity<Record<string, unknown>>(pk, rk) as Promise<Row>;
async function snapshotRows(): Promise<Row[]> {
  const out: Row[] = [];
  for await (const e of tables.snapshots.listEntities()) out.push(e as Row);
  return out;
}
const rawColumns = (r: Record<string, unknown>) => Object.keys(r).filter((k) => k.startsWith('RawGzip')).sort();
const bodyOf = (r: Record<string, unknown>) => gunzipSync(Buffer.concat(rawColumns(r).map((c) => r[c] as Uint8Array))).toString('utf8');
const timeOf = (v: unknown) => new Date(v as string | Date).getTime();
/** The meta a stored raw row of `r` reads as. */
const metaOf = (r: RawSnapshotRecord) => ({ server: r.server, snapshotId: r.snapshotId, collectedAt: r.collectedAt, receivedAt: r.receivedAt, contentHash: r.contentHash, rawBytes: Buffer.byteLength(r.body), rawStored: true });
/** A row's columns but the ones storage sets and the keys. */
const columnsOf = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !['partitionKey', 'rowKey', 'etag', 'timestamp'].includes(k)));

const isSnapshots = (r: Sent) => r.url.includes(`/${NAMES.snapshots}`);
const writes = () => wire.sent.filter((r) => r.method !== 'GET');

describe('staging a body', () => {
  it('writes the body under its commit attempt in the server bucket: every raw column, its commit and its slot', async () => {
    const r = raw('Ex01.Contoso.com', 'snap-1', noise(150_000));
    await staged.putStagedRaw(r, 'commit/1#a', 1);
    const [only, ...others] = await snapshotRows();
    expect(others).toEqual([]);
    expect([only!.partitionKey, only!.rowKey]).toStrictEqual([bucket(r.server), stageKey(r.server, 'commit/1#a')]);
    const columns = rawColumns(only!);
    expect(columns).toStrictEqual(['RawGzip00', 'RawGzip01']);
    expect(columnsOf(only!)).toMatchObject({ Server: r.server, SnapshotId: 'snap-1', ContentHash: 'hash-snap-1', RawBytes: 150_000, RawStored: true, RawChunks: 2, CommitId: 'commit/1#a', StagedSlot: 1 });
    expect([timeOf(only!.CollectedAt), timeOf(only!.ReceivedAt)]).toStrictEqual([r.collectedAt, r.receivedAt]);
    expect(bodyOf(only!)).toBe(r.body);
  });

  it('a second stage of the same attempt replaces the row whole: no column of the first is left', async () => {
    await staged.putStagedRaw(raw('ex02', 'snap-1', noise(150_000)), 'c1', 0);
    await staged.putStagedRaw(raw('ex02', 'snap-2', 'short'), 'c1', 1);
    const [only, ...others] = await snapshotRows();
    expect(others).toEqual([]);
    expect(rawColumns(only!)).toStrictEqual(['RawGzip00']);
    expect([only!.SnapshotId, only!.StagedSlot, bodyOf(only!)]).toStrictEqual(['snap-2', 1, 'short']);
  });

  it('an outage fails the stage, naming it, and stores nothing', async () => {
    wire.refuse = (r) => (r.method === 'PUT' ? 503 : undefined);
    await outage(() => staged.putStagedRaw(raw('ex03', 'snap-1'), 'c1', 0), 'staging a raw snapshot');
    expect(await snapshotRows()).toEqual([]);
  });
});

describe('copying a staged body into its slot', () => {
  it('writes the slot row with the staged columns and gzip, keeps the staging row, and says it copied', async () => {
    const r = raw('ex10', 'snap-1', noise(150_000));
    await staged.putStagedRaw(r, 'c1', 0);
    const stagedRow = await snapshotRow(bucket('ex10'), stageKey('ex10', 'c1'));
    wire.sent = [];
    expect(await staged.copyStagedRaw('ex10', 'c1', 1)).toBe(true);
    expect(wire.sent.map((s) => s.method)).toStrictEqual(['GET', 'PUT']);
    const slot = await snapshotRow(bucket('ex10'), slotKey('ex10', 1));
    const { CommitId, StagedSlot, ...copied } = columnsOf(stagedRow);
    expect([CommitId, StagedSlot]).toStrictEqual(['c1', 0]);
    expect(columnsOf(slot)).toStrictEqual(copied);
    expect(bodyOf(slot)).toBe(r.body);
    expect((await snapshotRows()).map((e) => e.rowKey).sort()).toStrictEqual([stageKey('ex10', 'c1'), slotKey('ex10', 1)].sort());
  });

  it('replaces the slot whole: a smaller body leaves no column of the one before', async () => {
    await staged.putStagedRaw(raw('ex11', 'snap-1', noise(150_000)), 'c1', 0);
    expect(await staged.copyStagedRaw('ex11', 'c1', 0)).toBe(true);
    await staged.putStagedRaw(raw('ex11', 'snap-2', 'small'), 'c2', 0);
    expect(await staged.copyStagedRaw('ex11', 'c2', 0)).toBe(true);
    const slot = await snapshotRow(bucket('ex11'), slotKey('ex11', 0));
    expect([slot.SnapshotId, rawColumns(slot), bodyOf(slot)]).toStrictEqual(['snap-2', ['RawGzip00'], 'small']);
  });

  it('without a staging row (copied and removed before) says so and writes nothing', async () => {
    expect(await staged.copyStagedRaw('ex12', 'c1', 0)).toBe(false);
    expect(writes()).toEqual([]);
    expect(await snapshotRows()).toEqual([]);
  });

  it('an outage of the read or the write fails the copy, naming which', async () => {
    await staged.putStagedRaw(raw('ex13', 'snap-1'), 'c1', 0);
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => staged.copyStagedRaw('ex13', 'c1', 0), 'reading a staged raw snapshot');
    wire.refuse = (r) => (r.method === 'PUT' ? 503 : undefined);
    await outage(() => staged.copyStagedRaw('ex13', 'c1', 0), 'writing a raw snapshot');
    expect((await snapshotRows()).map((e) => e.rowKey)).toStrictEqual([stageKey('ex13', 'c1')]);
  });
});

describe('removing staging rows', () => {
  it('deletes each row named, leaves the rest, and takes one already gone as done', async () => {
    for (const c of ['c1', 'c2', 'c3']) await staged.putStagedRaw(raw('ex20', `snap-${c}`), c, 0);
    await staged.putStagedRaw(raw('ex21', 'snap-x'), 'c1', 0);
    await staged.copyStagedRaw('ex20', 'c1', 0);
    wire.sent = [];
    await staged.deleteStagedRaw([
      { server: 'ex20', commitId: 'c1' },
      { server: 'ex20', commitId: 'c3' },
      { server: 'ex20', commitId: 'gone' },
    ]);
    expect(wire.sent.filter((s) => s.method === 'DELETE')).toHaveLength(3);
    expect((await snapshotRows()).map((e) => e.rowKey).sort()).toStrictEqual([stageKey('ex20', 'c2'), slotKey('ex20', 0), stageKey('ex21', 'c1')].sort());
    await staged.deleteStagedRaw([]);
  });

  it('an outage fails the removal, naming it; another refusal is passed on as it came', async () => {
    await staged.putStagedRaw(raw('ex22', 'snap-1'), 'c1', 0);
    wire.refuse = (r) => (r.method === 'DELETE' ? 503 : undefined);
    await outage(() => staged.deleteStagedRaw([{ server: 'ex22', commitId: 'c1' }]), 'removing a staged raw snapshot');
    wire.refuse = (r) => (r.method === 'DELETE' ? 403 : undefined);
    const error = await staged.deleteStagedRaw([{ server: 'ex22', commitId: 'c1' }]).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(StorageUnavailableError);
    expect((error as { statusCode?: number }).statusCode).toBe(403);
    expect((await snapshotRows()).map((e) => e.rowKey)).toStrictEqual([stageKey('ex22', 'c1')]);
  });
});

describe('listing staging rows', () => {
  it('lists every staging row of every bucket with its server, commit and storage time, by keys and time alone; not slots or other partitions', async () => {
    const servers = ['ex30', 'ex31', 'ex32', 'ex33', 'Ex|34'];
    for (const s of servers) await staged.putStagedRaw(raw(s, 'snap-1'), `c|${s}`, 0);
    await staged.putStagedRaw(raw('ex30', 'snap-2'), 'c2', 1);
    await staged.copyStagedRaw('ex30', 'c2', 1);
    // A partition of an older layout (the server's own), whatever its RowKeys look like, is none of the buckets.
    await tables.snapshots.createEntity({ partitionKey: 'ex35', rowKey: stageKey('ex35', 'c1'), Server: 'ex35' });
    await tables.snapshots.createEntity({ partitionKey: 's~', rowKey: stageKey('ex36', 'c1'), Server: 'ex36' });
    wire.sent = [];
    const listed = await staged.listStaged();
    const rows = (await snapshotRows()).filter((e) => String(e.partitionKey).startsWith('s|') && String(e.rowKey).includes('|stage|'));
    expect(rows).toHaveLength(6);
    expect(listed).toStrictEqual(rows.map((e) => ({ server: String(e.Server), commitId: String(e.CommitId), stagedAt: Date.parse(String(e.timestamp)) })));
    expect(listed.map((k) => k.server)).toContain('Ex|34');
    const [query, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(query!.url).toContain(`$filter=PartitionKey ge 's|' and PartitionKey lt 's}'`);
    expect(query!.url).toContain('$select=RowKey,Timestamp');
  });

  it('reads a storage time the SDK hands over typed as a Date, and NaN for a row without one', async () => {
    await staged.putStagedRaw(raw('ex37', 'snap-1'), 'c1', 0);
    const stagedAt = Date.parse(String((await snapshotRow(bucket('ex37'), stageKey('ex37', 'c1'))).timestamp));
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
    expect(await staged.listStaged()).toStrictEqual([{ server: 'ex37', commitId: 'c1', stagedAt }]);
    answer((e) => {
      delete e.Timestamp;
    });
    expect(await staged.listStaged()).toStrictEqual([{ server: 'ex37', commitId: 'c1', stagedAt: NaN }]);
  });

  it('an outage fails the listing, naming it', async () => {
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => staged.listStaged(), 'listing staged raw snapshots');
  });
});

describe('reading staging rows and slots without their bodies', () => {
  it("readStagedMeta: a staging row's meta columns, commit and slot, asked for by name; undefined once it is gone", async () => {
    const r = raw('ex40', 'snap-1', noise(150_000), { collectedAt: T - 5000 });
    await staged.putStagedRaw(r, 'c/1', 3);
    wire.sent = [];
    expect(await staged.readStagedMeta('ex40', 'c/1')).toStrictEqual({ ...metaOf(r), commitId: 'c/1', slot: 3 });
    const [get, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(get!.url).toContain(`(PartitionKey='${bucket('ex40')}',RowKey='${stageKey('ex40', 'c/1')}')`);
    expect(get!.url).toContain('$select=Server,SnapshotId,CollectedAt,ReceivedAt,ContentHash,RawBytes,RawStored,StagedSlot');
    expect(await staged.readStagedMeta('ex40', 'c2')).toBeUndefined();
  });

  it('readStagedMeta: a row staged before the slot was written reads with no slot; an outage names the read', async () => {
    await staged.putStagedRaw(raw('ex41', 'snap-1'), 'c1', 2);
    const old = await snapshotRow(bucket('ex41'), stageKey('ex41', 'c1'));
    const { StagedSlot, CommitId, ...rest } = old;
    expect([StagedSlot, CommitId]).toStrictEqual([2, 'c1']);
    await tables.snapshots.updateEntity({ ...rest, partitionKey: bucket('ex41'), rowKey: stageKey('ex41', 'c1') }, 'Replace');
    const meta = await staged.readStagedMeta('ex41', 'c1');
    expect(meta).toStrictEqual({ ...metaOf(raw('ex41', 'snap-1')), commitId: 'c1', slot: undefined });
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => staged.readStagedMeta('ex41', 'c1'), 'reading a staged raw snapshot');
  });

  it("readSlot: a slot's meta columns and ETag, asked for by name; undefined for a slot never written; an outage names the read", async () => {
    const r = raw('ex42', 'snap-1', 'body', { receivedAt: T + 7 });
    await staged.putStagedRaw(r, 'c1', 1);
    await staged.copyStagedRaw('ex42', 'c1', 1);
    const slot = await snapshotRow(bucket('ex42'), slotKey('ex42', 1));
    wire.sent = [];
    expect(await staged.readSlot('ex42', 1)).toStrictEqual({ meta: metaOf(r), etag: slot.etag });
    const [get, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(get!.url).toContain(`(PartitionKey='${bucket('ex42')}',RowKey='${slotKey('ex42', 1)}')`);
    expect(get!.url).toContain('$select=Server,SnapshotId,CollectedAt,ReceivedAt,ContentHash,RawBytes,RawStored');
    expect(get!.url).not.toContain('StagedSlot');
    expect(await staged.readSlot('ex42', 0)).toBeUndefined();
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => staged.readSlot('ex42', 1), 'reading a raw snapshot');
  });
});

describe('copying only if the slot is unchanged', () => {
  it('creates a slot that was never written, and says it copied', async () => {
    const r = raw('ex50', 'snap-1', noise(150_000));
    await staged.putStagedRaw(r, 'c1', 0);
    expect(await staged.copyIfUnchanged('ex50', 'c1', 0, undefined)).toBe('copied');
    const slot = await snapshotRow(bucket('ex50'), slotKey('ex50', 0));
    expect([slot.SnapshotId, bodyOf(slot)]).toStrictEqual(['snap-1', r.body]);
    expect(writes().at(-1)!.method).toBe('POST');
  });

  it('replaces a slot under the ETag it was read with', async () => {
    await staged.putStagedRaw(raw('ex51', 'snap-1'), 'c1', 0);
    await staged.copyStagedRaw('ex51', 'c1', 0);
    await staged.putStagedRaw(raw('ex51', 'snap-2', 'second'), 'c2', 0);
    const read = await staged.readSlot('ex51', 0);
    wire.sent = [];
    expect(await staged.copyIfUnchanged('ex51', 'c2', 0, read!.etag)).toBe('copied');
    const slot = await snapshotRow(bucket('ex51'), slotKey('ex51', 0));
    expect([slot.SnapshotId, bodyOf(slot)]).toStrictEqual(['snap-2', 'second']);
    const write = writes()[0]!;
    expect([write.method, write.ifMatch]).toStrictEqual(['PUT', read!.etag]);
  });

  it('a slot written, created or removed since it was read is a conflict, and left as the other writer left it', async () => {
    await staged.putStagedRaw(raw('ex52', 'snap-1'), 'c1', 0);
    await staged.copyStagedRaw('ex52', 'c1', 0);
    await staged.putStagedRaw(raw('ex52', 'snap-2', 'second'), 'c2', 0);
    const read = await staged.readSlot('ex52', 0);
    // Written meanwhile (412).
    await staged.copyStagedRaw('ex52', 'c1', 0);
    expect(await staged.copyIfUnchanged('ex52', 'c2', 0, read!.etag)).toBe('conflict');
    expect((await snapshotRow(bucket('ex52'), slotKey('ex52', 0))).SnapshotId).toBe('snap-1');
    // Created meanwhile (409).
    expect(await staged.copyIfUnchanged('ex52', 'c2', 1, undefined)).toBe('copied');
    await staged.copyStagedRaw('ex52', 'c1', 2);
    expect(await staged.copyIfUnchanged('ex52', 'c2', 2, undefined)).toBe('conflict');
    expect((await snapshotRow(bucket('ex52'), slotKey('ex52', 2))).SnapshotId).toBe('snap-1');
    // Removed meanwhile (404).
    const current = await staged.readSlot('ex52', 1);
    await tables.snapshots.deleteEntity(bucket('ex52'), slotKey('ex52', 1));
    expect(await staged.copyIfUnchanged('ex52', 'c2', 1, current!.etag)).toBe('conflict');
    await expect(snapshotRow(bucket('ex52'), slotKey('ex52', 1))).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a staging row removed since it was listed is gone, and nothing is written', async () => {
    expect(await staged.copyIfUnchanged('ex53', 'c1', 0, undefined)).toBe('gone');
    expect(writes()).toEqual([]);
    expect(await snapshotRows()).toEqual([]);
  });

  it('an outage of the read or the write fails the copy, naming which', async () => {
    await staged.putStagedRaw(raw('ex54', 'snap-1'), 'c1', 0);
    wire.refuse = (r) => (r.method === 'GET' && isSnapshots(r) ? 503 : undefined);
    await outage(() => staged.copyIfUnchanged('ex54', 'c1', 0, undefined), 'reading a staged raw snapshot');
    wire.refuse = (r) => (r.method === 'POST' ? 503 : undefined);
    await outage(() => staged.copyIfUnchanged('ex54', 'c1', 0, undefined), 'writing a raw snapshot');
    expect((await snapshotRows()).map((e) => e.rowKey)).toStrictEqual([stageKey('ex54', 'c1')]);
  });
});

describe('the raw head of a server', () => {
  const result = (server: string, ruleId: string, over: Record<string, unknown>) => tables.results.createEntity({ partitionKey: encodeKey(server), rowKey: encodeKey(ruleId), Status: 'Pass', ...over });
  const head = (snapshotId: string, collectedAt: number, rawSlot: number, commits = '') => ({ SnapshotId: snapshotId, CollectedAt: new Date(collectedAt), ContentHash: `hash-${snapshotId}`, RawSlot: { value: rawSlot, type: 'Int32' }, RecentCommits: commits });

  it("is the newest commit's raw columns among the server's live rows, asked for by name, in one query", async () => {
    await result('ex60', 'rule-a', head('snap-1', T, 0, `${T}:c1`));
    await result('ex60', 'rule-b', head('snap-3', T + 2, 1, `${T}:c1 ${T + 2}:c3 bad ${T}:`));
    await result('ex60', 'rule-c', head('snap-2', T + 1, 0, `${T + 1}:c2`));
    // A removal marker names no content, however new; another server's rows are not this one's.
    await result('ex60', 'rule-d', { ...head('snap-9', T + 9, 0), Status: REMOVED_STATUS });
    await result('ex61', 'rule-a', head('snap-8', T + 8, 1));
    wire.sent = [];
    expect(await staged.readHead('ex60')).toStrictEqual({
      snapshotId: 'snap-3',
      collectedAt: T + 2,
      contentHash: 'hash-snap-3',
      rawSlot: 1,
      recentCommits: [
        { at: T, id: 'c1' },
        { at: T + 2, id: 'c3' },
      ],
    });
    const [query, ...more] = wire.sent;
    expect(more).toEqual([]);
    expect(query!.url).toContain(`$filter=(PartitionKey eq 'ex60') and (Status ne '${REMOVED_STATUS}')`);
    expect(query!.url).toContain('$select=SnapshotId,CollectedAt,ContentHash,RawSlot,RecentCommits');
  });

  it('breaks a tie of collection times by the larger snapshot id, and keeps the first of two equal', async () => {
    await result('ex62', 'rule-a', head('snap-a', T, 0));
    await result('ex62', 'rule-b', head('snap-b', T, 1));
    await result('ex62', 'rule-c', head('snap-a', T, 0, `${T}:c3`));
    expect(await staged.readHead('ex62')).toMatchObject({ snapshotId: 'snap-b', rawSlot: 1 });
    await tables.results.deleteEntity(encodeKey('ex62'), 'rule-b');
    expect(await staged.readHead('ex62')).toMatchObject({ snapshotId: 'snap-a', recentCommits: [] });
  });

  it('reads a row without raw columns as empty ones; undefined for a server without live rows; an outage names the read', async () => {
    await result('ex63', 'rule-a', {});
    expect(await staged.readHead('ex63')).toStrictEqual({ snapshotId: '', collectedAt: 0, contentHash: '', rawSlot: undefined, recentCommits: [] });
    await result('ex64', 'rule-a', { ...head('snap-1', T, 0), Status: REMOVED_STATUS });
    expect(await staged.readHead('ex64')).toBeUndefined();
    expect(await staged.readHead('ex65')).toBeUndefined();
    wire.refuse = (r) => (r.method === 'GET' ? 503 : undefined);
    await outage(() => staged.readHead('ex63'), 'reading server state');
  });
});

describe('a store whose tables were never created', () => {
  // Each read first creates the tables (once per process): the first read of a new deployment finds nothing, and fails on nothing.
  const freshStore = () => {
    fresh++;
    return new StagedRawStore(createTestStore({ connectionString: azurite!.connectionString, tablePrefix: `StagedFresh${fresh}`, statuses: STATUSES, maxRetries: 0 }));
  };

  it('lists no staging rows and reads no head', async () => {
    expect(await freshStore().listStaged()).toStrictEqual([]);
    expect(await freshStore().readHead('ex70')).toBeUndefined();
  });

  it('reads no staging row, no slot, and has nothing to copy', async () => {
    expect(await freshStore().readStagedMeta('ex70', 'c1')).toBeUndefined();
    expect(await freshStore().readSlot('ex70', 0)).toBeUndefined();
    expect(await freshStore().copyIfUnchanged('ex70', 'c1', 0, undefined)).toBe('gone');
  });
});
