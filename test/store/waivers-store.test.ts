// The Waivers table against Azurite, in-process: what a waiver's row holds (its keys, each column,
// the bounded justification, the follow-up and the marks with the newest in the previous release's
// single column), what get and list read back (a row of the previous release, a state or revision
// it never wrote), the conditional writes (a create refused when the waiver exists, a replace
// refused when its ETag moved or its row is gone, each a ConcurrencyConflictError), and outages,
// each naming the call storage refused.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { ConcurrencyConflictError, WaiverStore, type PostureStore, type StoragePolicy, type WaiverRecord } from '../../src/store';
import { tableNames, type TableClients } from '../../src/store/client';
import { MAX_STRING_CHARS, TRUNCATION_MARKER } from '../../src/store/columns';
import { encodeKey } from '../../src/store/keys';
import { injectedError } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { outage } from '../support/store-wire';

const PREFIX = 'Wvrs';
const NAMES = tableNames(PREFIX);
const T = Date.parse('2026-12-07T03:00:00.000Z');

/** Requests to Waivers refused while `refuse` is set ('read' refuses GETs, 'write' the rest), answered `status` (503, an outage, unless set). */
const wire = { refuse: undefined as 'read' | 'write' | undefined, status: 503, dropETag: false };
const faults: StoragePolicy = {
  name: 'testWaiversFaults',
  async sendRequest(request, next) {
    const ours = decodeURIComponent(request.url).includes(`/${NAMES.waivers}`);
    const read = request.method === 'GET';
    if (ours && wire.refuse !== undefined && (wire.refuse === 'read') === read) throw injectedError(request, wire.status);
    const response = await next(request);
    // A write answered without its ETag header.
    if (ours && !read && wire.dropETag) response.headers.delete('etag');
    return response;
  },
};

let azurite: AzuriteHandle | undefined;
let store: PostureStore;
let tables: TableClients;
let waivers: WaiverStore;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [faults] });
  await store.ensureTables();
  tables = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX });
});
afterAll(async () => azurite?.stop());
beforeEach(async () => {
  // Built for each test, not once before them all: what building one runs is then part of a test.
  waivers = new WaiverStore(store);
  wire.refuse = undefined;
  wire.status = 503;
  wire.dropETag = false;
  // A hundred rows of a partition a transaction: one test leaves a thousand.
  const byPartition = new Map<string, string[]>();
  for await (const e of tables.waivers.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) byPartition.set(String(e.partitionKey), [...(byPartition.get(String(e.partitionKey)) ?? []), String(e.rowKey)]);
  for (const [pk, rks] of byPartition) {
    for (let i = 0; i < rks.length; i += 100) await tables.waivers.submitTransaction(rks.slice(i, i + 100).map((rk) => ['delete', { partitionKey: pk, rowKey: rk }]));
  }
});

const waiver = (id: string, over: Partial<WaiverRecord> = {}): WaiverRecord => ({
  id,
  ruleId: 'rule-a',
  server: 'ex01.contoso.com',
  justification: `why ${id}`,
  grantedBy: 'admin',
  grantedAt: T,
  expiresAt: T + 86_400_000,
  changedAt: T + 1,
  state: 'active',
  revision: 1,
  ...over,
});
/** What get and list read back for a waiver written as `w` (absent optional fields read as undefined). */
const readBack = (w: WaiverRecord, etag: string) => ({ server: undefined, serverPattern: undefined, endedAt: undefined, followUp: undefined, followedUpBy: undefined, writers: undefined, ...w, etag });
const row = (id: string) => tables.waivers.getEntity<Record<string, unknown>>('waivers', encodeKey(id));
const timeOf = (v: unknown) => new Date(v as string | Date).getTime();


describe('writing a waiver', () => {
  it('stores it in the one partition under its encoded id, each field in its column, and returns the row\'s ETag', async () => {
    const w = waiver('w/1#?', {
      serverPattern: undefined,
      endedAt: T + 5,
      state: 'deleted',
      revision: 7,
      followUp: { cause: 'waiver-deleted', at: T + 5, reRaise: { reason: 'deleted', endedAt: T + 5, scope: { ruleId: 'rule-a', server: 'ex01.contoso.com', expiresAt: T + 86_400_000 } } },
      followedUpBy: ['run-2', 'run-1'],
      writers: ['req-3', 'req-2'],
    });
    const etag = await waivers.put(w, undefined);
    const stored = await row(w.id);
    expect(stored.partitionKey).toBe('waivers');
    expect(stored.rowKey).toBe(encodeKey(w.id));
    expect(stored.rowKey).not.toBe(w.id);
    expect(etag).toBe(stored.etag);
    expect({
      WaiverId: stored.WaiverId,
      RuleId: stored.RuleId,
      Server: stored.Server,
      ServerPattern: stored.ServerPattern,
      GrantedBy: stored.GrantedBy,
      Justification: stored.Justification,
      State: stored.State,
      Revision: stored.Revision,
      FollowedUpBy: stored.FollowedUpBy,
      WrittenBy: stored.WrittenBy,
    }).toStrictEqual({ WaiverId: w.id, RuleId: 'rule-a', Server: 'ex01.contoso.com', ServerPattern: '', GrantedBy: 'admin', Justification: w.justification, State: 'deleted', Revision: 7, FollowedUpBy: 'run-2', WrittenBy: 'req-3' });
    expect([stored.GrantedAt, stored.ExpiresAt, stored.ChangedAt, stored.EndedAt].map(timeOf)).toStrictEqual([T, T + 86_400_000, T + 1, T + 5]);
    expect(JSON.parse(String(stored.FollowUp))).toStrictEqual(w.followUp);
    expect(JSON.parse(String(stored.FollowUpClearers))).toStrictEqual(['run-2', 'run-1']);
    expect(JSON.parse(String(stored.Writers))).toStrictEqual(['req-3', 'req-2']);
    expect(await waivers.get(w.id)).toStrictEqual(readBack(w, etag));
  });

  it('a waiver with a pattern, no follow-up and no marks has none of their columns', async () => {
    const w = waiver('w-2', { server: undefined, serverPattern: '*.contoso.com' });
    const etag = await waivers.put(w, undefined);
    const stored = await row(w.id);
    expect([stored.Server, stored.ServerPattern]).toStrictEqual(['', '*.contoso.com']);
    for (const column of ['FollowUp', 'FollowUpClearers', 'FollowedUpBy', 'Writers', 'WrittenBy', 'EndedAt']) expect(stored).not.toHaveProperty(column);
    expect(await waivers.get(w.id)).toStrictEqual(readBack(w, etag));
  });

  it('a justification past what a column holds is cut, and says so', async () => {
    const w = waiver('w-3', { justification: 'j'.repeat(MAX_STRING_CHARS + 10) });
    await waivers.put(w, undefined);
    const justification = (await waivers.get(w.id))!.justification;
    expect(justification).toHaveLength(MAX_STRING_CHARS);
    expect(justification.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('replaces the row at its ETag: every column written anew, a follow-up cleared gone', async () => {
    const first = waiver('w-4', { followUp: { cause: 'waiver-created', at: T }, writers: ['req-1'] });
    const etag = await waivers.put(first, undefined);
    const second = waiver('w-4', { revision: 2, justification: 'changed', expiresAt: T + 5, followedUpBy: ['run-1'], writers: ['req-2', 'req-1'] });
    const next = await waivers.put(second, etag);
    expect(next).not.toBe(etag);
    const stored = await row('w-4');
    expect(stored.etag).toBe(next);
    expect(stored).not.toHaveProperty('FollowUp');
    expect(await waivers.get('w-4')).toStrictEqual(readBack(second, next));
  });

  it('a create of a waiver that exists, a replace at an ETag that moved and one of a row gone are conflicts, and change nothing', async () => {
    const w = waiver('w-5');
    const etag = await waivers.put(w, undefined);
    await expect(waivers.put({ ...w, justification: 'again' }, undefined)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const moved = await waivers.put({ ...w, revision: 2 }, etag);
    await expect(waivers.put({ ...w, revision: 3 }, etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(await waivers.get(w.id)).toStrictEqual(readBack({ ...w, revision: 2 }, moved));
    await tables.waivers.deleteEntity('waivers', encodeKey(w.id));
    const error = await waivers.put({ ...w, revision: 4 }, moved).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((error as Error).message).toBe(`Waiver ${w.id} was changed meanwhile.`);
    // What storage answered stays with it.
    expect((error as Error).cause).toMatchObject({ statusCode: 404 });
    expect(await waivers.get(w.id)).toBeUndefined();
  });

  it('a write answered without an ETag is an error, not a waiver at no ETag', async () => {
    wire.dropETag = true;
    await expect(waivers.put(waiver('w-6'), undefined)).rejects.toThrow('Storage returned no ETag for waiver w-6.');
  });

  it('a refused write is an outage naming the write, not a conflict', async () => {
    wire.refuse = 'write';
    await outage(() => waivers.put(waiver('w-7'), undefined), 'writing a waiver');
    wire.refuse = undefined;
    expect(await waivers.get('w-7')).toBeUndefined();
  });
});

describe('reading waivers', () => {
  it('get: undefined for a waiver never written', async () => {
    expect(await waivers.get('nobody')).toBeUndefined();
  });

  it('list: every waiver of the partition, or those in one state; rows of another partition are none', async () => {
    const list = [waiver('l-1'), waiver('l-2', { state: 'expired', endedAt: T + 9 }), waiver('l-3', { state: 'deleted', endedAt: T + 8 }), waiver('l-4')];
    const etags = new Map<string, string>();
    for (const w of list) etags.set(w.id, await waivers.put(w, undefined));
    await tables.waivers.createEntity({ partitionKey: 'elsewhere', rowKey: 'l-5', WaiverId: 'l-5', State: 'active' });
    const ids = (found: readonly { id: string }[]) => found.map((w) => w.id).sort();
    const all = await waivers.list();
    expect(ids(all)).toStrictEqual(['l-1', 'l-2', 'l-3', 'l-4']);
    expect(all.find((w) => w.id === 'l-2')).toStrictEqual(readBack(list[1]!, etags.get('l-2')!));
    expect(ids(await waivers.list('active'))).toStrictEqual(['l-1', 'l-4']);
    expect(ids(await waivers.list('expired'))).toStrictEqual(['l-2']);
    expect(ids(await waivers.list('deleted'))).toStrictEqual(['l-3']);
    await tables.waivers.deleteEntity('elsewhere', 'l-5');
  });

  it('list: every page of a partition larger than one answer', async () => {
    const many = Array.from({ length: 1_005 }, (_, i) => waiver(`p-${String(i).padStart(4, '0')}`));
    for (let i = 0; i < many.length; i += 100) {
      await tables.waivers.submitTransaction(many.slice(i, i + 100).map((w) => ['create', { partitionKey: 'waivers', rowKey: encodeKey(w.id), WaiverId: w.id, State: 'active' }]));
    }
    expect(await waivers.list()).toHaveLength(1_005);
  });

  it('a row the store never wrote in full: an unknown state is active, no revision is 0, no times are 0', async () => {
    await tables.waivers.createEntity({ partitionKey: 'waivers', rowKey: 'r-1', WaiverId: 'r-1', State: 'paused' });
    const read = await waivers.get('r-1');
    expect(read).toMatchObject({ id: 'r-1', state: 'active', revision: 0, grantedAt: 0, expiresAt: 0, changedAt: 0, endedAt: undefined, justification: '', ruleId: '' });
  });

  it('marks the previous release wrote: its single newest column alone, or newer than the list it kept', async () => {
    // That release replaced the row without the lists: only the single column names the newest.
    await tables.waivers.createEntity({ partitionKey: 'waivers', rowKey: 'm-1', WaiverId: 'm-1', State: 'active', WrittenBy: 'req-9', FollowedUpBy: 'run-9' });
    expect(await waivers.get('m-1')).toMatchObject({ writers: ['req-9'], followedUpBy: ['run-9'] });
    // A row it replaced after this release wrote the lists: the single column is newer than their first.
    await tables.waivers.createEntity({ partitionKey: 'waivers', rowKey: 'm-2', WaiverId: 'm-2', State: 'active', Writers: '["req-2","req-1"]', WrittenBy: 'req-3', FollowUpClearers: '["run-1"]', FollowedUpBy: 'run-2' });
    expect(await waivers.get('m-2')).toMatchObject({ writers: ['req-3', 'req-2', 'req-1'], followedUpBy: ['run-2', 'run-1'] });
    // A list without the single column: the list as it is.
    await tables.waivers.createEntity({ partitionKey: 'waivers', rowKey: 'm-4', WaiverId: 'm-4', State: 'active', Writers: '["req-2","req-1"]', FollowUpClearers: '["run-1"]' });
    expect(await waivers.get('m-4')).toMatchObject({ writers: ['req-2', 'req-1'], followedUpBy: ['run-1'] });
    // Both agree: the list as it is.
    await tables.waivers.createEntity({ partitionKey: 'waivers', rowKey: 'm-3', WaiverId: 'm-3', State: 'active', Writers: '["req-2","req-1"]', WrittenBy: 'req-2' });
    expect(await waivers.get('m-3')).toMatchObject({ writers: ['req-2', 'req-1'], followedUpBy: undefined });
  });

  it('get: a read refused for another reason than a missing row is the caller\'s error, not "no waiver"', async () => {
    await waivers.put(waiver('f-1'), undefined);
    wire.refuse = 'read';
    wire.status = 403;
    const error = await waivers.get('f-1').catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 403 });
  });

  it('a refused read is an outage naming the read, for get and for list', async () => {
    await waivers.put(waiver('o-1'), undefined);
    wire.refuse = 'read';
    await outage(() => waivers.get('o-1'), 'reading a waiver');
    await outage(() => waivers.list(), 'listing waivers');
    await outage(() => waivers.list('active'), 'listing waivers');
  });
});
