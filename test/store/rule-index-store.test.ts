// The rule index against Azurite, in-process: what applyIndexMoves leaves in storage (one member row
// per server, each shard's counts row equal to its members per status) when moves go in chunks,
// when they are replayed or find the index moved by another writer, under the projector's fence,
// and what getRuleCounts reads back. Requests to the table are recorded, so the path a call took
// (one transaction, or a fallback to read-and-compare) shows as well as its outcome.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { ConcurrencyConflictError, COUNT_SHARDS, FencedOutError, RuleIndexStore, StorageUnavailableError, type IndexChange, type IndexRecord, type PostureStore, type StoragePolicy } from '../../src/store';
import { tableNames, type TableClients } from '../../src/store/client';
import { COUNTS_ROW, countsRowKey, indexRowKey, indexToEntity } from '../../src/store/entities';
import { bucketOf, encodeKey } from '../../src/store/keys';
import { FENCE_COLUMN } from '../../src/store/projector-fence';
import { injectedError, oncePerRequest, refusedReads, refusedWrites } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';

const PREFIX = 'RIdx';
const TABLE = tableNames(PREFIX).ruleIndex;
const T = Date.parse('2026-12-06T10:00:00.000Z');

interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}
/** Every request to the rule index (first attempts only), and a hook run before the next transaction. */
const recorder = {
  sent: [] as Sent[],
  beforeBatch: undefined as (() => Promise<void>) | undefined,
  /** While set, runs before every transaction (another writer that never lets go). */
  everyBatch: undefined as (() => Promise<void>) | undefined,
  /** While set, the answer of the next transaction is lost after it landed. */
  loseNextBatch: false,
  /** Transaction attempts refused (503) before they are sent, one less each time: 2 refuses a transaction and the SDK's retry of it. */
  refuseBatches: 0,
};
const first = oncePerRequest();
const recording: StoragePolicy = {
  name: 'testRuleIndexRecorder',
  async sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const ours = decodeURIComponent(request.url).includes(`/${TABLE}`) || body.includes(`/${TABLE}`);
    const batch = request.url.endsWith('$batch') && body.includes(`/${TABLE}`);
    if (ours && first(request)) recorder.sent.push({ method: request.method, url: decodeURIComponent(request.url), body });
    if (batch) {
      const hook = recorder.beforeBatch;
      recorder.beforeBatch = undefined;
      if (hook) await hook();
      if (recorder.everyBatch) await recorder.everyBatch();
    }
    if (batch && recorder.refuseBatches > 0) {
      recorder.refuseBatches--;
      throw injectedError(request, 503);
    }
    const response = await next(request);
    if (batch && recorder.loseNextBatch) {
      recorder.loseNextBatch = false;
      throw injectedError(request, 503, 'Injected lost answer');
    }
    return response;
  },
};
const refused = refusedWrites('testRuleIndexRefused');
const refusedRead = refusedReads('testRuleIndexRefusedReads');

let azurite: AzuriteHandle | undefined;
let store: PostureStore;
let index: RuleIndexStore;
let tables: TableClients;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [refused.policy, refusedRead.policy, recording] });
  await store.ensureTables();
  index = new RuleIndexStore(store);
  tables = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX });
  refused.table = TABLE;
  refusedRead.table = TABLE;
});
beforeEach(() => {
  recorder.sent = [];
  recorder.beforeBatch = undefined;
  recorder.everyBatch = undefined;
  recorder.loseNextBatch = false;
  recorder.refuseBatches = 0;
  refused.on = false;
  refusedRead.on = false;
});
afterAll(async () => azurite?.stop());

const batches = () => recorder.sent.filter((s) => s.url.endsWith('$batch'));
const writes = () => recorder.sent.filter((s) => s.method !== 'GET');
const shardOf = (server: string) => countsRowKey(bucketOf(server, COUNT_SHARDS));

/** `n` server names whose counts rows are all `shard`'s. */
function serversIn(shard: string, n: number, tag: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const s = `${tag}${i}.contoso.com`;
    if (shardOf(s) === shard) out.push(s);
  }
  return out;
}

const rec = (ruleId: string, server: string, status: string, over: Partial<IndexRecord> = {}): IndexRecord => ({
  server,
  ruleId,
  ruleVersion: '1.0.0',
  status,
  reasonCode: `${status}Reason`,
  severity: 'warning',
  message: { en: `${status} en`, ja: `${status} ja` },
  firstSeen: T - 1000,
  sourceSnapshotId: 'snap-1',
  sourceCollectedAt: T,
  ...over,
});
const join = (r: IndexRecord): IndexChange => ({ record: r });
const moveOf = (r: IndexRecord, from: string): IndexChange => ({ record: r, from });
const reread = (r: IndexRecord): IndexChange => ({ record: r, reread: true });
const leaveOf = (ruleId: string, server: string, from?: string, over: { sourceSnapshotId?: string; sourceCollectedAt?: number } = {}): IndexChange => ({
  leave: true,
  ruleId,
  server,
  ...(from === undefined ? {} : { from }),
  sourceSnapshotId: over.sourceSnapshotId ?? 'snap-2',
  sourceCollectedAt: over.sourceCollectedAt ?? T + 1000,
});

interface Stored {
  /** Member rows: server → its rows' statuses (one, when the index is right). */
  readonly members: Map<string, string[]>;
  readonly rows: Record<string, unknown>[];
  /** Counts rows by row key. */
  readonly counts: Map<string, Record<string, unknown>>;
}

async function stored(ruleId: string): Promise<Stored> {
  const members = new Map<string, string[]>();
  const rows: Record<string, unknown>[] = [];
  const counts = new Map<string, Record<string, unknown>>();
  for await (const e of tables.ruleIndex.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(ruleId)}'` } })) {
    if (String(e.rowKey).startsWith(COUNTS_ROW)) counts.set(String(e.rowKey), e);
    else {
      rows.push(e);
      members.set(String(e.Server), [...(members.get(String(e.Server)) ?? []), String(e.Status)]);
    }
  }
  return { members, rows, counts };
}

/** Where the servers stand: server → status. */
async function statusOf(ruleId: string): Promise<Record<string, string>> {
  const { members } = await stored(ruleId);
  return Object.fromEntries([...members].map(([s, list]) => [s, list.join('+')]).sort());
}

/** Every shard's counts row equals its members per status, each server has one row, and getRuleCounts sums the shards. */
async function expectConsistent(ruleId: string): Promise<Record<string, number>> {
  const { members, counts } = await stored(ruleId);
  const perShard = new Map<string, Record<string, number>>();
  const total: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const [server, list] of members) {
    expect(list, server).toHaveLength(1);
    const shard = perShard.get(shardOf(server)) ?? {};
    shard[list[0]!] = (shard[list[0]!] ?? 0) + 1;
    perShard.set(shardOf(server), shard);
    total[list[0]!]! += 1;
  }
  for (const [key, row] of counts) {
    for (const s of STATUSES) expect(Number(row[s] ?? 0), `${key} ${s}`).toBe(perShard.get(key)?.[s] ?? 0);
  }
  for (const key of perShard.keys()) expect(counts.has(key), key).toBe(true);
  const read = (await index.getRuleCounts([ruleId])).get(ruleId)!;
  expect(Object.fromEntries(read)).toEqual(total);
  return total;
}

const counted = (over: Partial<Record<string, number>>) => ({ ...Object.fromEntries(STATUSES.map((s) => [s, 0])), ...over });

describe('applyIndexMoves: moves whose rows are where they say', () => {
  it('first joins of servers across shards: one transaction per shard, each counts row created with its members', async () => {
    const rule = 'joins';
    const servers = Array.from({ length: 40 }, (_, i) => `srv${i}.contoso.com`);
    await index.applyIndexMoves(rule, servers.map((s, i) => join(rec(rule, s, i % 3 === 0 ? 'Warning' : 'Pass'))));
    const shards = new Set(servers.map(shardOf));
    expect(batches()).toHaveLength(shards.size);
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 26, Warning: 14 }));
    const { rows, counts } = await stored(rule);
    expect(rows.find((r) => r.Server === 'srv1.contoso.com')).toMatchObject({ rowKey: indexRowKey('Pass', 'srv1.contoso.com'), Status: 'Pass', ReasonCode: 'PassReason', SourceSnapshotId: 'snap-1' });
    expect([...counts.values()].every((c) => c.RuleId === rule)).toBe(true);
    // A counts row created holds a column for every status, 0 where it counts no one.
    expect(STATUSES.filter((s) => [...counts.values()].every((c) => typeof c[s] === 'number'))).toEqual([...STATUSES]);
  });

  it('puts at most 49 servers of a shard in one transaction', async () => {
    const rule = 'chunks';
    const shard = countsRowKey('b03');
    const servers = serversIn(shard, 99, 'c');
    await index.applyIndexMoves(rule, servers.map((s) => join(rec(rule, s, 'Pass'))));
    expect(batches()).toHaveLength(3);
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 99 }));
    // Moved on, all of them: a delete and an upsert each, still 49 a transaction.
    recorder.sent = [];
    await index.applyIndexMoves(rule, servers.map((s) => moveOf(rec(rule, s, 'Error', { sourceCollectedAt: T + 1 }), 'Pass')));
    expect(batches()).toHaveLength(3);
    expect(await expectConsistent(rule)).toEqual(counted({ Error: 99 }));
  });

  it('splits a shard\'s moves by size: servers whose messages are long go in transactions storage takes', async () => {
    const rule = 'large';
    const servers = serversIn(countsRowKey('b05'), 40, 'big');
    const long = { en: 'x'.repeat(32_000), ja: 'ポ'.repeat(32_000) };
    await index.applyIndexMoves(rule, servers.map((s) => join(rec(rule, s, 'Warning', { message: long }))));
    expect(batches().length).toBeGreaterThanOrEqual(2);
    expect(await expectConsistent(rule)).toEqual(counted({ Warning: 40 }));
    // Leaves carry no member row: all forty go in one transaction.
    recorder.sent = [];
    await index.applyIndexMoves(rule, servers.map((s) => leaveOf(rule, s, 'Warning')));
    expect(batches()).toHaveLength(1);
    expect(await expectConsistent(rule)).toEqual(counted({}));
  });

  it('moves a server to another status, rewrites one that stays, and takes out one that leaves', async () => {
    const rule = 'moves';
    const [a, b, c, d] = serversIn(countsRowKey('b01'), 4, 'm');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass')), join(rec(rule, c!, 'Warning')), join(rec(rule, d!, 'Warning'))]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [
      moveOf(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-2' }), 'Pass'),
      moveOf(rec(rule, b!, 'Pass', { reasonCode: 'Other', sourceSnapshotId: 'snap-2' }), 'Pass'),
      leaveOf(rule, c!, 'Warning'),
    ]);
    expect(batches()).toHaveLength(1);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Error', [b!]: 'Pass', [d!]: 'Warning' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1, Error: 1, Warning: 1 }));
    const { rows } = await stored(rule);
    expect(rows.find((r) => r.Server === b)).toMatchObject({ ReasonCode: 'Other', SourceSnapshotId: 'snap-2' });
  });

  it('a refused write is the caller\'s error, not a fallback to reading', async () => {
    const rule = 'refused';
    refused.on = true;
    await expect(index.applyIndexMoves(rule, [join(rec(rule, 'r1.contoso.com', 'Pass'))])).rejects.toBeInstanceOf(StorageUnavailableError);
    refused.on = false;
    expect(recorder.sent.filter((s) => s.method === 'GET' && !s.url.includes(COUNTS_ROW))).toEqual([]);
    expect(await stored(rule)).toMatchObject({ rows: [], counts: new Map() });
  });

  it('a transaction refused by an outage is not read and compared: the outage is the caller\'s, even where a write would now pass', async () => {
    const rule = 'refused-once';
    recorder.refuseBatches = 2;
    await expect(index.applyIndexMoves(rule, [join(rec(rule, 'r2.contoso.com', 'Pass'))])).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(recorder.refuseBatches).toBe(0);
    expect(await stored(rule)).toMatchObject({ rows: [], counts: new Map() });
  });

  it('does nothing for no changes', async () => {
    await index.applyIndexMoves('nothing', []);
    expect(writes()).toEqual([]);
  });
});

describe('applyIndexMoves: moves that find the index elsewhere (read and compare)', () => {
  it('a replayed batch of joins, moves and leaves changes nothing and counts no one twice', async () => {
    const rule = 'replay';
    const [a, b, c, d] = serversIn(countsRowKey('b02'), 4, 'r');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass')), join(rec(rule, c!, 'Warning'))]);
    const batch = [join(rec(rule, d!, 'Unknown')), moveOf(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-2' }), 'Pass'), leaveOf(rule, c!, 'Warning')];
    await index.applyIndexMoves(rule, batch);
    const after = await stored(rule);
    for (const change of [batch, batch.slice(0, 1), batch.slice(1, 2), batch.slice(2)]) {
      recorder.sent = [];
      await index.applyIndexMoves(rule, change);
      // The transaction is refused, then every server is read: nothing is written.
      expect(batches()).toHaveLength(1);
      expect((await stored(rule)).rows).toEqual(after.rows);
      expect([...(await stored(rule)).counts.values()].map((r) => r.etag)).toEqual([...after.counts.values()].map((r) => r.etag));
    }
    expect(await statusOf(rule)).toEqual({ [a!]: 'Error', [b!]: 'Pass', [d!]: 'Unknown' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1, Error: 1, Unknown: 1 }));
  });

  it('a transaction whose answer was lost is sent again, refused, and read: the servers counted once', async () => {
    const rule = 'lost';
    const [a, b] = serversIn(countsRowKey('b04'), 2, 'l');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    recorder.loseNextBatch = true;
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2' }), 'Pass'), join(rec(rule, b!, 'Warning'))]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Warning', [b!]: 'Warning' });
    expect(await expectConsistent(rule)).toEqual(counted({ Warning: 2 }));
  });

  it('a move whose row is gone (a leave went first) joins the server again when no truth is given', async () => {
    const rule = 'gone';
    const [a, b] = serversIn(countsRowKey('b06'), 2, 'g');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass'))]);
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, 'Pass')]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Error'), 'Pass'), moveOf(rec(rule, b!, 'Error'), 'Pass')]);
    expect(batches()).toHaveLength(3);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Error', [b!]: 'Error' });
    expect(await expectConsistent(rule)).toEqual(counted({ Error: 2 }));
  });

  it('the counts row changed by another writer between the read and the transaction: the servers are read, a newer row kept', async () => {
    const rule = 'race';
    const [a, b] = serversIn(countsRowKey('b07'), 2, 'x');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass'))]);
    // The other writer moves `a` on, from a newer snapshot, while this one's transaction waits.
    const newer = rec(rule, a!, 'Unknown', { sourceSnapshotId: 'snap-3', sourceCollectedAt: T + 2000 });
    recorder.beforeBatch = () => index.applyIndexMoves(rule, [moveOf(newer, 'Pass')]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1000 }), 'Pass'), moveOf(rec(rule, b!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1000 }), 'Pass')]);
    expect(recorder.beforeBatch).toBeUndefined();
    expect(await statusOf(rule)).toEqual({ [a!]: 'Unknown', [b!]: 'Warning' });
    expect(await expectConsistent(rule)).toEqual(counted({ Unknown: 1, Warning: 1 }));
    const { rows } = await stored(rule);
    expect(rows.find((r) => r.Server === a)).toMatchObject({ SourceSnapshotId: 'snap-3' });
    // `b`, where its move said, is found by two point reads (its row and the counts row); `a`, moved on, by a query.
    const gets = recorder.sent.filter((q) => q.method === 'GET');
    expect(gets.filter((q) => q.url.includes(`RowKey='${indexRowKey('Pass', b!)}'`))).toHaveLength(1);
    expect(gets.filter((q) => q.url.includes('$filter') && q.url.includes(encodeKey(b!)))).toEqual([]);
    expect(gets.filter((q) => q.url.includes('$filter') && q.url.includes(encodeKey(a!)))).toHaveLength(1);
  });

  it('reread moves: read first, after the shard\'s other moves; a first join, a move and a rewrite', async () => {
    const rule = 'reread';
    const [a, b, c] = serversIn(countsRowKey('b08'), 3, 'q');
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass')), reread(rec(rule, b!, 'Pass'))]);
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 2 }));
    recorder.sent = [];
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 })), join(rec(rule, c!, 'Error'))]);
    // The quick join's transaction goes first, then the reread move's.
    expect(batches().map((s) => s.body.includes(encodeKey(c!)))).toEqual([true, false]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Warning', [b!]: 'Pass', [c!]: 'Error' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1, Warning: 1, Error: 1 }));
  });

  it('a leave that does not say where the server is reads first, and one of a server never held writes nothing', async () => {
    const rule = 'leaves';
    const [a, b] = serversIn(countsRowKey('b09'), 2, 'v');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Warning')), join(rec(rule, b!, 'Pass'))]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [leaveOf(rule, a!)]);
    expect(batches()).toHaveLength(1);
    expect(await statusOf(rule)).toEqual({ [b!]: 'Pass' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1 }));
    recorder.sent = [];
    await index.applyIndexMoves(rule, [leaveOf(rule, a!), leaveOf(rule, 'never.contoso.com')]);
    expect(writes()).toEqual([]);
  });

  it('a leave from an older snapshot than the row held keeps the server; a tie goes by snapshot id', async () => {
    const rule = 'older-leave';
    const [a] = serversIn(countsRowKey('b0a'), 1, 'o');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass', { sourceSnapshotId: 'snap-5', sourceCollectedAt: T }))]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, undefined, { sourceSnapshotId: 'snap-9', sourceCollectedAt: T - 1 })]);
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, undefined, { sourceSnapshotId: 'snap-4', sourceCollectedAt: T })]);
    expect(writes()).toEqual([]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
    // The same time and a later snapshot id: the leave is the newer.
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, undefined, { sourceSnapshotId: 'snap-6', sourceCollectedAt: T })]);
    expect(await statusOf(rule)).toEqual({});
    expect(await expectConsistent(rule)).toEqual(counted({}));
  });

  it('a reread move from an older snapshot than the row held leaves it, whatever it says', async () => {
    const rule = 'older-move';
    const [a] = serversIn(countsRowKey('b0b'), 1, 'p');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass', { sourceSnapshotId: 'snap-5', sourceCollectedAt: T }))]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-9', sourceCollectedAt: T - 1 }))]);
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-4', sourceCollectedAt: T }))]);
    expect(writes()).toEqual([]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
  });

  it.each([
    ['reasonCode', { reasonCode: 'Changed' }, 'ReasonCode', 'Changed'],
    ['ruleVersion', { ruleVersion: '2.0.0' }, 'RuleVersion', '2.0.0'],
    ['English message', { message: { en: 'new en', ja: 'Pass ja' } }, 'MessageEn', 'new en'],
    ['Japanese message', { message: { en: 'Pass en', ja: 'new ja' } }, 'MessageJa', 'new ja'],
    ['first seen', { firstSeen: T - 5 }, 'FirstSeen', new Date(T - 5).toISOString()],
    ['source snapshot', { sourceSnapshotId: 'snap-2' }, 'SourceSnapshotId', 'snap-2'],
    ['status alone', { status: 'Warning' }, 'Status', 'Warning'],
  ] as const)('a reread move of a server at the same status rewrites its row when its %s differs, counting it once', async (_what, over, column, value) => {
    const rule = `same-${column}`;
    const [a] = serversIn(countsRowKey('b0c'), 1, 's');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))]);
    expect(writes()).toEqual([]);
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass', over as Partial<IndexRecord>))]);
    expect(writes()).toHaveLength(1);
    const { rows } = await stored(rule);
    expect(rows).toHaveLength(1);
    const stored0 = rows[0]![column];
    expect(stored0 instanceof Date ? stored0.toISOString() : String(stored0)).toBe(value);
    expect(await expectConsistent(rule)).toEqual(counted({ [String(rows[0]!.Status)]: 1 }));
  });

  it('a move read and compared finds a server with two rows (an index that lagged): keeps the right one, takes the other out', async () => {
    const rule = 'two-rows';
    const [a] = serversIn(countsRowKey('b0d'), 1, 't');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    // A stray row at Warning, counted too.
    const counts = await tables.ruleIndex.getEntity(encodeKey(rule), shardOf(a!));
    await tables.ruleIndex.createEntity(indexToEntity(rec(rule, a!, 'Warning')));
    await tables.ruleIndex.updateEntity({ partitionKey: counts.partitionKey!, rowKey: counts.rowKey!, Warning: 1 }, 'Merge');
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1 }));
    // Both at other statuses than the move's: both go, the new one counted.
    await tables.ruleIndex.createEntity(indexToEntity(rec(rule, a!, 'Warning')));
    await tables.ruleIndex.updateEntity({ partitionKey: counts.partitionKey!, rowKey: counts.rowKey!, Warning: 1 }, 'Merge');
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 }))]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Error' });
    expect(await expectConsistent(rule)).toEqual(counted({ Error: 1 }));
  });

  it('concurrent first joins read first in one empty shard: one creates its counts row, the other tries again', async () => {
    const rule = 'contended-first';
    const servers = serversIn(countsRowKey('b0e'), 4, 'k');
    await Promise.all(servers.map((s) => index.applyIndexMoves(rule, [reread(rec(rule, s, 'Warning'))])));
    expect(await expectConsistent(rule)).toEqual(counted({ Warning: 4 }));
  });

  it('gives up after 10 attempts while another writer changes the counts row before every one', async () => {
    const rule = 'contended';
    const [a, b] = serversIn(countsRowKey('b0f'), 2, 'w');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    const counts = await tables.ruleIndex.getEntity(encodeKey(rule), shardOf(a!));
    recorder.everyBatch = async () => {
      await tables.ruleIndex.updateEntity({ partitionKey: counts.partitionKey!, rowKey: counts.rowKey!, Other: Math.random() }, 'Merge');
    };
    recorder.sent = [];
    const error = await index.applyIndexMoves(rule, [join(rec(rule, b!, 'Pass'))]).catch((e: unknown) => e);
    recorder.everyBatch = undefined;
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((error as Error).message).toBe(`The rule index for ${rule} stayed contended after 10 attempts.`);
    // The transaction of the chunk, then ten of the read and compare.
    expect(batches()).toHaveLength(11);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
  });

  it('counts never go below zero: a counts row that lost a member already keeps 0', async () => {
    const rule = 'negative';
    const [a, b, c] = serversIn(countsRowKey('b00'), 3, 'n');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass')), join(rec(rule, c!, 'Pass'))]);
    const key = { partitionKey: encodeKey(rule), rowKey: shardOf(a!) };
    await tables.ruleIndex.updateEntity({ ...key, Pass: 0 }, 'Merge');
    // A move and a leave in one transaction, then a read-and-compare move.
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 }), 'Pass'), leaveOf(rule, b!, 'Pass')]);
    expect((await tables.ruleIndex.getEntity(key.partitionKey, key.rowKey)).Pass).toBe(0);
    await index.applyIndexMoves(rule, [reread(rec(rule, c!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 }))]);
    const row = await tables.ruleIndex.getEntity(key.partitionKey, key.rowKey);
    expect([row.Pass, row.Warning]).toEqual([0, 2]);
  });

  it('a fallback that finds the server\'s row where the move said, with no counts row for its shard, writes one', async () => {
    const rule = 'no-counts';
    const [a, b] = serversIn(countsRowKey('b01'), 2, 'z');
    // `a` at Pass with no counts row (an index written before the shards); `b` already joined.
    await tables.ruleIndex.createEntity(indexToEntity(rec(rule, a!, 'Pass')));
    await tables.ruleIndex.createEntity(indexToEntity(rec(rule, b!, 'Pass')));
    // The join of `b` fails the transaction; `a`'s move is then read where it says.
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 }), 'Pass'), join(rec(rule, b!, 'Pass'))]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Warning', [b!]: 'Pass' });
    const row = await tables.ruleIndex.getEntity(encodeKey(rule), shardOf(a!));
    expect([row.Pass, row.Warning]).toEqual([0, 1]);
  });
});

describe('the truth callback', () => {
  it('is asked only for moves read and compared, and puts the server where its Results row says', async () => {
    const rule = 'truth';
    const [a, b, c] = serversIn(countsRowKey('b02'), 3, 'u');
    const asked: string[] = [];
    const truths = new Map<string, IndexRecord | null>([
      [a!, rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-7', sourceCollectedAt: T + 7 })],
      [b!, null],
    ]);
    const truth = async (ruleId: string, server: string) => {
      asked.push(`${ruleId}/${server}`);
      return truths.get(server) ?? null;
    };
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass')), join(rec(rule, b!, 'Pass'))], undefined, truth);
    expect(asked).toEqual([]);
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Warning', { sourceCollectedAt: T + 1 })), reread(rec(rule, b!, 'Warning', { sourceCollectedAt: T + 1 })), reread(rec(rule, c!, 'Warning'))], undefined, truth);
    expect(asked.sort()).toEqual([a!, b!, c!].map((s) => `${rule}/${s}`).sort());
    // `a` as its row says; `b` and `c` have no row: `b` leaves, `c` (a stale first join) is not counted.
    expect(await statusOf(rule)).toEqual({ [a!]: 'Error' });
    expect((await stored(rule)).rows[0]).toMatchObject({ SourceSnapshotId: 'snap-7' });
    expect(await expectConsistent(rule)).toEqual(counted({ Error: 1 }));
    // A leave is applied as it is, the truth not asked.
    asked.length = 0;
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, undefined, { sourceCollectedAt: T + 8 })], undefined, truth);
    expect(asked).toEqual([]);
    expect(await statusOf(rule)).toEqual({});
  });

  it('is asked for the moves of a refused transaction: a stale move after its server left does not count it again', async () => {
    const rule = 'truth-replay';
    const [a] = serversIn(countsRowKey('b03'), 1, 'y');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    await index.applyIndexMoves(rule, [leaveOf(rule, a!, 'Pass')]);
    const asked: string[] = [];
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning'), 'Pass')], undefined, async (_r, server) => {
      asked.push(server);
      return null;
    });
    expect(asked).toEqual([a]);
    expect(await statusOf(rule)).toEqual({});
    expect(await expectConsistent(rule)).toEqual(counted({}));
  });
});

describe('the fence', () => {
  const fenceOf = async (rule: string, server: string) => (await tables.ruleIndex.getEntity(encodeKey(rule), shardOf(server)))[FENCE_COLUMN];

  it('stamps the counts row with the writer\'s generation; a later writer passes, an earlier one is refused before it writes', async () => {
    const rule = 'fence';
    const [a, b] = serversIn(countsRowKey('b04'), 2, 'f');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))], 5);
    expect(await fenceOf(rule, a!)).toBe(5);
    await index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning', { sourceSnapshotId: 'snap-2', sourceCollectedAt: T + 1 }), 'Pass')], 6);
    expect(await fenceOf(rule, a!)).toBe(6);
    recorder.sent = [];
    for (const change of [join(rec(rule, b!, 'Pass')), moveOf(rec(rule, a!, 'Pass', { sourceSnapshotId: 'snap-3', sourceCollectedAt: T + 2 }), 'Warning'), reread(rec(rule, b!, 'Pass')), leaveOf(rule, a!)]) {
      const error = await index.applyIndexMoves(rule, [change], 5).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FencedOutError);
      expect((error as FencedOutError).fence).toBe(6);
      expect((error as Error).message).toContain('the rule index');
    }
    expect(writes()).toEqual([]);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Warning' });
    // Without a fence: no check, and the stored one kept.
    await index.applyIndexMoves(rule, [join(rec(rule, b!, 'Pass'))]);
    expect(await fenceOf(rule, b!)).toBe(6);
    expect(await expectConsistent(rule)).toEqual(counted({ Warning: 1, Pass: 1 }));
  });

  it('a read and compare that finds nothing to do stamps a shard written under an earlier generation, once', async () => {
    const rule = 'stamp';
    const [a] = serversIn(countsRowKey('b05'), 1, 'h');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))], 3);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))], 3);
    expect(writes()).toEqual([]);
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))], 4);
    expect(writes()).toHaveLength(1);
    expect(await fenceOf(rule, a!)).toBe(4);
    recorder.sent = [];
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))], 4);
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Pass'))]);
    expect(writes()).toEqual([]);
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1 }));
    // A move from an older snapshot under a later generation only stamps: the newer row stays.
    await index.applyIndexMoves(rule, [reread(rec(rule, a!, 'Error', { sourceSnapshotId: 'snap-0', sourceCollectedAt: T - 1 }))], 5);
    expect(await fenceOf(rule, a!)).toBe(5);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
    expect(await expectConsistent(rule)).toEqual(counted({ Pass: 1 }));
    // A leave of a server never held, under a later generation, creates the shard's counts row to stamp it.
    const [other] = serversIn(countsRowKey('b06'), 1, 'h2');
    await index.applyIndexMoves(rule, [leaveOf(rule, other!)], 9);
    expect(await fenceOf(rule, other!)).toBe(9);
    await expect(index.applyIndexMoves(rule, [join(rec(rule, other!, 'Pass'))], 8)).rejects.toBeInstanceOf(FencedOutError);
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
  });
});

describe('getRuleCounts', () => {
  it('sums every counts row of each rule (an unsharded one too), every status present, members not counted', async () => {
    const rule = 'sums';
    const servers = Array.from({ length: 24 }, (_, i) => `sum${i}.contoso.com`);
    await index.applyIndexMoves(rule, servers.map((s, i) => join(rec(rule, s, STATUSES[i % STATUSES.length]!))));
    expect(new Set(servers.map(shardOf)).size).toBeGreaterThan(1);
    await tables.ruleIndex.createEntity({ partitionKey: encodeKey(rule), rowKey: COUNTS_ROW, RuleId: rule, Pass: 10, Error: 2 });
    const counts = await index.getRuleCounts([rule, 'sums-none']);
    expect([...counts.keys()]).toEqual([rule, 'sums-none']);
    expect(Object.fromEntries(counts.get(rule)!)).toEqual(counted({ Pass: 15, Warning: 5, Error: 7, NotApplicable: 5, Unknown: 4 }));
    expect([...counts.get(rule)!.keys()]).toEqual([...STATUSES]);
    expect(Object.fromEntries(counts.get('sums-none')!)).toEqual(counted({}));
    // Only the counts rows are read, not the members.
    const queries = recorder.sent.filter((q) => q.method === 'GET' && q.url.includes(`PartitionKey eq '${rule}'`));
    expect(queries).toEqual([expect.objectContaining({ url: expect.stringContaining(`RowKey ge '${COUNTS_ROW}' and RowKey lt '${COUNTS_ROW}}'`) })]);
  });
});

describe('a failure names what was asked of storage', () => {
  const failure = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => e.message);

  it('reads refused: of the counts, of a chunk\'s counts row, of a server\'s rows by query and by point reads', async () => {
    const rule = 'failures';
    const [a, b] = serversIn(countsRowKey('b0a'), 2, 'e');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    refusedRead.on = true;
    expect(await failure(index.getRuleCounts([rule]))).toContain('(reading rule counts)');
    expect(await failure(index.applyIndexMoves(rule, [join(rec(rule, b!, 'Pass'))]))).toContain('(reading the rule index)');
    expect(await failure(index.applyIndexMoves(rule, [reread(rec(rule, b!, 'Pass'))]))).toContain('(reading the rule index)');
    refusedRead.on = false;
    // `a` is not at Error: the transaction fails, and the reads of the fallback are refused.
    recorder.beforeBatch = async () => {
      refusedRead.on = true;
    };
    expect(await failure(index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning'), 'Error')]))).toContain('(reading the rule index)');
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
  });

  it('writes refused: a chunk\'s transaction, and that of a read and compare', async () => {
    const rule = 'failures-w';
    const [a, b] = serversIn(countsRowKey('b0b'), 2, 'e');
    await index.applyIndexMoves(rule, [join(rec(rule, a!, 'Pass'))]);
    refused.on = true;
    expect(await failure(index.applyIndexMoves(rule, [join(rec(rule, b!, 'Pass'))]))).toContain('(updating the rule index)');
    refused.on = false;
    recorder.beforeBatch = async () => {
      refused.on = true;
    };
    expect(await failure(index.applyIndexMoves(rule, [moveOf(rec(rule, a!, 'Warning'), 'Error')]))).toContain('(updating the rule index)');
    expect(await statusOf(rule)).toEqual({ [a!]: 'Pass' });
  });
});
