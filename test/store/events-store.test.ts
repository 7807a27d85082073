// The Events and History tables against Azurite, in-process: what putEvents writes (one Events row
// per change, the first of a change written twice; a History row for a server's status changes
// only), in transactions storage takes; what listEvents reads back for each filter, its columns
// for a list, and who removed a server named from an older row's Detail; and a server's History
// read newest first across its bucket and its partition of the older layout, page by page, until
// that layout is recorded empty.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { EventStore, InvalidContinuationTokenError, type EventRecord, type PostureStore, type StoragePolicy } from '../../src/store';
import { tableNames, type TableClients } from '../../src/store/client';
import { eventRowKey, eventToEntity, EVENTS_PARTITION, historyPartition, historyToEntity, legacyServerPartition, OLDER_LAYOUTS_STATE_KEYS, serverRange } from '../../src/store/entities';
import { injectedError, oncePerRequest, refusedWrites } from '../support/faults';
import { createTestStore, createTestTables } from '../support/stack';
import { outage } from '../support/store-wire';

const PREFIX = 'Evts';
const NAMES = tableNames(PREFIX);
const T = Date.parse('2026-12-06T10:00:00.000Z');

interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}
/** Requests (first attempts) to Events and History; while `smallPages`, History queries return a row a page. */
const recorder = { sent: [] as Sent[], smallPages: false };
const first = oncePerRequest();
const recording: StoragePolicy = {
  name: 'testEventsRecorder',
  async sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const url = decodeURIComponent(request.url);
    const ours = [NAMES.events, NAMES.history].some((t) => url.includes(`/${t}`) || body.includes(`/${t}`));
    if (ours && first(request)) recorder.sent.push({ method: request.method, url, body });
    if (recorder.smallPages && request.method === 'GET' && url.includes(`/${NAMES.history}()`)) request.url = request.url.replace(/(\$|%24)top=\d+/, '$1top=1');
    return next(request);
  },
};
const refused = refusedWrites('testEventsRefused');
/** History reads of one partition refused (an outage), and those of another answered only after a pause. */
const historyReads = { refused: undefined as string | undefined, slow: undefined as string | undefined, slowAnswered: false };
/** While true, point reads of Events rows are refused (an outage); its queries go on. */
const eventPointReads = { refused: false };
const readFaults: StoragePolicy = {
  name: 'testReadFaults',
  async sendRequest(request, next) {
    const url = decodeURIComponent(request.url);
    if (eventPointReads.refused && request.method === 'GET' && url.includes(`/${NAMES.events}(PartitionKey=`)) throw injectedError(request, 503);
    const read = request.method === 'GET' && url.includes(`/${NAMES.history}()`);
    if (read && historyReads.refused !== undefined && url.includes(`'${historyReads.refused}'`)) throw injectedError(request, 503);
    if (!read || historyReads.slow === undefined || !url.includes(`'${historyReads.slow}'`)) return next(request);
    // Longer than the refused read takes with its one retry.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const response = await next(request);
    historyReads.slowAnswered = true;
    return response;
  },
};

let azurite: AzuriteHandle | undefined;
let store: PostureStore;
let events: EventStore;
let tables: TableClients;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [refused.policy, readFaults, recording] });
  await store.ensureTables();
  events = new EventStore(store);
  tables = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX });
});
beforeEach(() => {
  recorder.sent = [];
  recorder.smallPages = false;
  refused.on = false;
  Object.assign(historyReads, { refused: undefined, slow: undefined, slowAnswered: false });
  eventPointReads.refused = false;
});
afterAll(async () => azurite?.stop());

/** The queries of the Events table sent since the recorder was cleared. */
const eventQueries = () => recorder.sent.filter((s) => s.method === 'GET' && s.url.includes(`/${NAMES.events}()`)).map((s) => s.url);
const batchesTo = (table: string) => recorder.sent.filter((s) => s.url.endsWith('$batch') && s.body.includes(`/${table}`));

const ev = (server: string, ruleId: string, firstSeen: number, over: Partial<EventRecord> = {}): EventRecord => ({
  server,
  ruleId,
  ruleVersion: '1.0.0',
  fromStatus: 'Pass',
  toStatus: 'Warning',
  reasonCode: 'R',
  severity: 'warning',
  message: { en: `en ${server} ${ruleId}`, ja: `ja ${server} ${ruleId}` },
  firstSeen,
  snapshotId: `snap-${firstSeen}`,
  recordedAt: firstSeen + 5,
  ...over,
});

/** Every row of a table partition (or the whole table), as stored. */
async function rowsOf(table: 'events' | 'history', partition?: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const queryOptions = partition === undefined ? {} : { filter: `PartitionKey eq '${partition}'` };
  for await (const e of tables[table].listEntities({ queryOptions })) out.push(e);
  return out;
}
const key = (e: EventRecord) => `${e.server}/${e.ruleId}/${e.firstSeen}`;
const keys = (list: readonly EventRecord[]) => list.map(key);


/** Every event of a query, page by page. */
async function allEvents(filter: Parameters<EventStore['listEvents']>[0], top = 50): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  let token: string | undefined;
  do {
    const page = await events.listEvents(filter, top, token);
    out.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return out;
}

describe('putEvents', () => {
  it('writes each change to Events, and a server\'s status changes to History too', async () => {
    const list = [
      ev('w1.contoso.com', 'rule-a', T),
      ev('w1.contoso.com', 'rule-a', T + 1, { cause: 'rule-change' }),
      ev('w1.contoso.com', 'rule-a', T + 2, { cause: 'stale' }),
      ev('w1.contoso.com', 'rule-a', T + 3, { cause: 'returned' }),
      ev('w1.contoso.com', 'rule-a', T + 4, { cause: 'removed', removedBy: 'admin' }),
      ev('w1.contoso.com', 'rule-a', T + 5, { cause: 'waiver-created', waiverId: 'w-1' }),
      ev('', 'rule-a', T + 6, { cause: 'snapshot' }),
    ];
    await events.putEvents(list);
    const stored = (await rowsOf('events')).filter((r) => String(r.RuleId) === 'rule-a');
    expect(stored.map((r) => r.rowKey).sort()).toEqual(list.map(eventRowKey).sort());
    expect(stored.find((r) => r.rowKey === eventRowKey(list[5]!))).toMatchObject({ Cause: 'waiver-created', WaiverId: 'w-1', Server: 'w1.contoso.com' });
    const history = await rowsOf('history', historyPartition('w1.contoso.com'));
    expect(history.map((r) => r.rowKey).sort()).toEqual(list.slice(0, 5).map((e) => historyToEntity(e).rowKey).sort());
    expect(history.find((r) => r.Cause === 'removed')).toMatchObject({ RemovedBy: 'admin', ToStatus: 'Warning' });
    // The History rows of the empty server are nowhere.
    expect((await rowsOf('history')).filter((r) => r.Server === '')).toEqual([]);
  });

  it('a change written twice is one row, the first; a replay writes the same rows', async () => {
    const a = ev('w2.contoso.com', 'rule-b', T);
    const again = { ...a, reasonCode: 'Second', message: { en: 'second', ja: 'second' } };
    await events.putEvents([a, again, ev('w2.contoso.com', 'rule-b', T + 1)]);
    expect(batchesTo(NAMES.events)).toHaveLength(1);
    const stored = (await rowsOf('events')).filter((r) => r.RuleId === 'rule-b');
    expect(stored).toHaveLength(2);
    expect(stored.find((r) => r.rowKey === eventRowKey(a))).toMatchObject({ ReasonCode: 'R', MessageEn: a.message.en });
    await events.putEvents([a, ev('w2.contoso.com', 'rule-b', T + 1)]);
    expect((await rowsOf('events')).filter((r) => r.RuleId === 'rule-b').map((r) => r.rowKey)).toEqual(stored.map((r) => r.rowKey));
  });

  it('goes in transactions of at most 100 rows, and fewer when the rows are large', async () => {
    const many = Array.from({ length: 201 }, (_, i) => ev(`m${i}.contoso.com`, 'rule-many', T + i, { cause: 'waiver-created' }));
    await events.putEvents(many);
    expect(batchesTo(NAMES.events).map((b) => b.body.split('/' + NAMES.events).length - 1)).toEqual([100, 100, 1]);
    expect((await rowsOf('events')).filter((r) => r.RuleId === 'rule-many')).toHaveLength(201);
    recorder.sent = [];
    const long = { en: 'x'.repeat(32_000), ja: 'ポ'.repeat(32_000) };
    const large = Array.from({ length: 40 }, (_, i) => ev(`l${i}.contoso.com`, 'rule-large', T + i, { message: long, cause: 'waiver-created' }));
    await events.putEvents(large);
    expect(batchesTo(NAMES.events).length).toBeGreaterThanOrEqual(2);
    expect((await rowsOf('events')).filter((r) => r.RuleId === 'rule-large')).toHaveLength(40);
  });

  it('writes nothing for no events', async () => {
    await events.putEvents([]);
    expect(recorder.sent.filter((s) => s.method !== 'GET')).toEqual([]);
  });

  it('a refused Events write is the caller\'s error, and History is written all the same', async () => {
    refused.table = NAMES.events;
    refused.on = true;
    const e = ev('w3.contoso.com', 'rule-c', T);
    await outage(() => events.putEvents([e]), 'writing events');
    refused.on = false;
    expect((await rowsOf('events')).filter((r) => r.RuleId === 'rule-c')).toEqual([]);
    expect((await rowsOf('history', historyPartition(e.server))).filter((r) => r.RuleId === 'rule-c')).toHaveLength(1);
  });

  it('a refused History write is the caller\'s error too, named as such, and Events is written all the same', async () => {
    refused.table = NAMES.history;
    refused.on = true;
    const e = ev('w4.contoso.com', 'rule-c2', T);
    await outage(() => events.putEvents([e]), 'writing history');
    refused.on = false;
    expect((await rowsOf('history', historyPartition(e.server))).filter((r) => r.RuleId === 'rule-c2')).toEqual([]);
    expect((await rowsOf('events')).filter((r) => r.RuleId === 'rule-c2').map((r) => r.rowKey)).toEqual([eventRowKey(e)]);
  });
});

describe('listEvents', () => {
  const SERVERS = ['f1.contoso.com', 'f2.contoso.com'];
  const base = T + 1_000_000;
  const list = [
    ev(SERVERS[0]!, 'rule-f', base, { toStatus: 'Pass', cause: 'snapshot' }),
    ev(SERVERS[0]!, 'rule-g', base + 10, { toStatus: 'Error', cause: 'stale' }),
    ev(SERVERS[1]!, 'rule-f', base + 20, { toStatus: 'Warning', cause: 'waiver-created' }),
    ev(SERVERS[1]!, 'rule-g', base + 30, { toStatus: 'Unknown', cause: 'returned' }),
    ev('', 'rule-f', base + 40, { toStatus: 'Pass', cause: 'waiver-deleted' }),
  ];
  const fleet = (filter: Parameters<EventStore['listEvents']>[0] = {}) => allEvents({ since: base, ...filter });

  it('newest first, each filter narrowing', async () => {
    await events.putEvents(list);
    expect(keys(await fleet())).toEqual(keys([...list].reverse()));
    expect(keys(await fleet({ server: SERVERS[0] }))).toEqual(keys([list[1]!, list[0]!]));
    expect(keys(await fleet({ server: '' }))).toEqual(keys([list[4]!]));
    expect(keys(await fleet({ ruleId: 'rule-g' }))).toEqual(keys([list[3]!, list[1]!]));
    expect(keys(await fleet({ ruleId: '' }))).toEqual(keys([...list].reverse()));
    expect(keys(await fleet({ statuses: ['Pass', 'Unknown'] }))).toEqual(keys([list[4]!, list[3]!, list[0]!]));
    expect(keys(await fleet({ statuses: [] }))).toEqual(keys([...list].reverse()));
    expect(keys(await fleet({ causes: ['snapshot', 'returned'] }))).toEqual(keys([list[3]!, list[0]!]));
    expect(keys(await fleet({ causes: ['stale'], statuses: ['Error', 'Pass'] }))).toEqual(keys([list[1]!]));
    expect(keys(await fleet({ server: SERVERS[1], ruleId: 'rule-f', statuses: ['Warning'], causes: ['waiver-created'] }))).toEqual(keys([list[2]!]));
  });

  it('since: the events from that time on, that time included', async () => {
    expect(keys(await allEvents({ since: base + 20 }))).toEqual(keys([list[4]!, list[3]!, list[2]!]));
    expect(keys(await allEvents({ since: base + 21 }))).toEqual(keys([list[4]!, list[3]!]));
    expect(keys(await allEvents({ since: base + 41 }))).toEqual([]);
  });

  it('more statuses or causes than a filter takes are matched on the rows read', async () => {
    const manyStatuses = ['Pass', 'Unknown', ...Array.from({ length: 14 }, (_, i) => `S${i}`)];
    expect(keys(await fleet({ statuses: manyStatuses }))).toEqual(keys([list[4]!, list[3]!, list[0]!]));
    const manyCauses = ['snapshot', 'returned', ...Array.from({ length: 13 }, (_, i) => `c${i}`)];
    expect(keys(await fleet({ causes: manyCauses }))).toEqual(keys([list[3]!, list[0]!]));
    // Causes too many alone with the fixed parts; statuses then fit.
    expect(keys(await fleet({ causes: manyCauses, statuses: ['Pass'] }))).toEqual(keys([list[0]!]));
    // Causes fit, but not with the statuses: the statuses are matched on the rows.
    const someCauses = ['snapshot', 'returned', 'stale', ...Array.from({ length: 8 }, (_, i) => `c${i}`)];
    expect(keys(await fleet({ causes: someCauses, statuses: ['Unknown', 'Error', 'S1', 'S2', 'S3'] }))).toEqual(keys([list[3]!, list[1]!]));
    // Exactly 15 comparisons (the partition and `since` two of them) go in the filter: the query asks for them.
    recorder.sent = [];
    const fifteen = ['Pass', ...Array.from({ length: 12 }, (_, i) => `S${i}`)];
    expect(keys(await fleet({ statuses: fifteen }))).toEqual(keys([list[4]!, list[0]!]));
    expect(eventQueries()).toEqual([expect.stringContaining("ToStatus eq 'S11'")]);
    recorder.sent = [];
    await fleet({ statuses: [...fifteen, 'S12'] });
    expect(eventQueries()).toEqual([expect.not.stringContaining('ToStatus eq')]);
    recorder.sent = [];
    await fleet({ causes: ['snapshot', ...Array.from({ length: 12 }, (_, i) => `c${i}`)] });
    expect(eventQueries()).toEqual([expect.stringContaining("Cause eq 'c11'")]);
    recorder.sent = [];
    await fleet({ causes: ['snapshot', ...Array.from({ length: 13 }, (_, i) => `c${i}`)] });
    expect(eventQueries()).toEqual([expect.not.stringContaining('Cause eq')]);
  });

  it('without since, every time: the filter has no RowKey bound, so thirteen statuses beside the partition and the rule still go in it', async () => {
    expect(keys(await allEvents({ ruleId: 'rule-f' }))).toEqual(keys([list[4]!, list[2]!, list[0]!]));
    recorder.sent = [];
    const thirteen = ['Warning', ...Array.from({ length: 12 }, (_, i) => `S${i}`)];
    expect(keys(await allEvents({ statuses: thirteen, ruleId: 'rule-f' }))).toEqual(keys([list[2]!]));
    const [query, ...more] = eventQueries();
    expect(more).toEqual([]);
    expect(query).toContain("ToStatus eq 'S11'");
    expect(query).not.toContain('RowKey');
  });

  it('rows of another partition of the table are not events', async () => {
    const stray = ev(SERVERS[0]!, 'rule-stray', base + 70);
    await tables.events.createEntity({ ...eventToEntity(stray), partitionKey: 'not-events' });
    expect(await allEvents({ since: base + 70 })).toEqual([]);
    expect(await allEvents({ ruleId: 'rule-stray' })).toEqual([]);
    await tables.events.deleteEntity('not-events', eventRowKey(stray));
  });

  it('pages with a token, the filter sealed in it', async () => {
    const page = await events.listEvents({ since: base }, 2);
    expect(keys(page.items)).toEqual(keys([list[4]!, list[3]!]));
    expect(page.continuationToken).toBeDefined();
    const next = await events.listEvents({ since: base }, 2, page.continuationToken);
    expect(keys(next.items)).toEqual(keys([list[2]!, list[1]!]));
    await expect(events.listEvents({ since: base, server: SERVERS[0] }, 2, page.continuationToken)).rejects.toBeInstanceOf(InvalidContinuationTokenError);
  });

  it('a whole row without a language; a list\'s columns with one, its message in that language alone', async () => {
    const detail = ev(SERVERS[0]!, 'rule-h', base + 50, { cause: 'waiver-changed', detail: '{"x":1}', previousFirstSeen: base - 5 });
    await events.putEvents([detail]);
    const [whole] = (await events.listEvents({ since: base + 50 }, 1)).items;
    expect(whole).toEqual({ ...detail, cause: 'waiver-changed', removedBy: undefined, waiverId: undefined });
    const [listed] = (await events.listEvents({ since: base + 50 }, 1, undefined, 'ja')).items;
    expect(listed).toMatchObject({ message: { en: '', ja: detail.message.ja }, detail: undefined, previousFirstSeen: base - 5, toStatus: 'Warning' });
  });

  it('a listed removal event written before the RemovedBy column names who removed the server, from its Detail', async () => {
    const old = ev(SERVERS[1]!, 'rule-r', base + 60, { cause: 'removed', detail: JSON.stringify({ removedBy: 'old-admin' }) });
    const noOne = ev(SERVERS[1]!, 'rule-r', base + 61, { cause: 'removed', detail: '{}' });
    const current = ev(SERVERS[1]!, 'rule-r', base + 62, { cause: 'removed', removedBy: 'new-admin', detail: JSON.stringify({ removedBy: 'ignored' }) });
    // Not a removal: nothing to read for it.
    const other = ev(SERVERS[1]!, 'rule-r', base + 63, { cause: 'snapshot' });
    await events.putEvents([old, noOne, current, other]);
    recorder.sent = [];
    const { items } = await events.listEvents({ since: base + 60, ruleId: 'rule-r' }, 10, undefined, 'en');
    expect(items.map((e) => [e.firstSeen - base, e.removedBy])).toEqual([
      [63, undefined],
      [62, 'new-admin'],
      [61, undefined],
      [60, 'old-admin'],
    ]);
    // One query, and a point read for each of the two removals that named no one (none for the event that is no removal).
    const reads = recorder.sent.filter((s) => s.method === 'GET');
    expect(reads).toHaveLength(3);
    expect(reads.filter((s) => s.url.includes(`RowKey='${eventRowKey(old)}'`))).toHaveLength(1);
    // A point read asks for the two columns that name who removed the server, not the whole row.
    const pointReads = reads.filter((s) => s.url.includes("PartitionKey='"));
    expect(pointReads.map((s) => new URL(s.url).searchParams.get('$select'))).toEqual(['Cause,Detail', 'Cause,Detail']);
    // An older removal event whose row is gone by the time it is read stays as listed.
    await tables.events.deleteEntity(EVENTS_PARTITION, eventRowKey(old));
    await tables.events.createEntity({ ...eventToEntity(old), rowKey: eventRowKey(old) + '0', RemovedBy: '' });
    const again = await events.listEvents({ since: base + 60, ruleId: 'rule-r' }, 10, undefined, 'en');
    expect(again.items.map((e) => e.removedBy)).toEqual([undefined, 'new-admin', undefined, undefined]);
  });

  it('a refused read of a removal\'s Detail is an outage naming that read', async () => {
    eventPointReads.refused = true;
    await outage(() => events.listEvents({ since: base + 60, ruleId: 'rule-r' }, 10, undefined, 'en'), 'reading an event');
  });
});

describe('listHistory', () => {
  const server = 'h1.contoso.com';
  const neighbour = 'h1.contoso.com0';
  const olderRow = (e: EventRecord) => {
    const row = historyToEntity(e);
    return { ...row, partitionKey: legacyServerPartition(e.server), rowKey: row.rowKey.slice(serverRange(e.server).from.length) };
  };
  const mine = [0, 1, 2, 3, 4].map((i) => ev(server, i % 2 === 0 ? 'rule-x' : 'rule-y', T + i * 100));
  const older = [ev(server, 'rule-x', T + 50), ev(server, 'rule-y', T + 150), ev(server, 'rule-x', T + 250)];
  /** A server of the same bucket whose rows sort before the server's range (`a…`) or after it (`z…`). */
  const sameBucket = (letter: string) => Array.from({ length: 500 }, (_, i) => `${letter}${i}.contoso.com`).find((s) => historyPartition(s) === historyPartition(server))!;
  const below = sameBucket('a');
  const above = sameBucket('z');

  beforeAll(async () => {
    expect([serverRange(below).from < serverRange(server).from, serverRange(above).from > serverRange(server).to]).toEqual([true, true]);
    await events.putEvents([...mine, ev(neighbour, 'rule-x', T + 10), ev(below, 'rule-x', T + 20), ev(above, 'rule-x', T + 30)]);
    for (const e of older) await tables.history.createEntity(olderRow(e));
    // A change copied to the buckets and not yet deleted from the older layout.
    await tables.history.createEntity(olderRow(mine[1]!));
  });

  /** Every page of a server's history. */
  async function pages(ruleId: string | undefined, top: number, over: EventStore = events): Promise<EventRecord[][]> {
    const out: EventRecord[][] = [];
    let token: string | undefined;
    do {
      const page = await over.listHistory(server, ruleId, top, token);
      out.push(page.items);
      token = page.continuationToken;
    } while (token && out.length < 50);
    return out;
  }
  const newestFirst = (list: readonly EventRecord[]) => keys([...list].sort((a, b) => b.firstSeen - a.firstSeen));

  it('the server\'s changes in both layouts, newest first, each once, not those of the servers beside it in its bucket', async () => {
    const all = await pages(undefined, 100);
    expect(all).toHaveLength(1);
    expect(keys(all[0]!)).toEqual(newestFirst([...mine, ...older]));
    expect(all[0]![0]).toEqual({ ...mine[4]!, cause: 'snapshot', removedBy: undefined, waiverId: undefined, detail: undefined, previousFirstSeen: undefined });
  });

  it('pages of any size, and one rule alone', async () => {
    for (const top of [1, 2, 3]) {
      const all = await pages(undefined, top);
      expect(all.every((p) => p.length <= top)).toBe(true);
      expect(keys(all.flat())).toEqual(newestFirst([...mine, ...older]));
    }
    expect(keys((await pages('rule-x', 2)).flat())).toEqual(newestFirst([...mine, ...older].filter((e) => e.ruleId === 'rule-x')));
  });

  it('storage returning a row a page: a layout reads at most four pages a call, and no more once it has the rows asked', async () => {
    recorder.smallPages = true;
    recorder.sent = [];
    const page = await events.listHistory(server, undefined, 10);
    const reads = () => recorder.sent.filter((s) => s.method === 'GET' && s.url.includes(`/${NAMES.history}()`));
    // Four a layout: the page holds the rows known in both up to the last read.
    expect(reads()).toHaveLength(8);
    // Each further read of a layout asks only for the rows still wanted: one fewer each time here.
    const asked = (partition: string) => reads().filter((r) => r.url.includes(`'${partition}'`)).map((r) => Number(/\$top=(\d+)/.exec(r.url)?.[1]));
    for (const partition of [historyPartition(server), legacyServerPartition(server)]) {
      const tops = asked(partition);
      expect(tops).toHaveLength(4);
      expect(tops.slice(1)).toEqual(tops.slice(0, -1).map((t) => t - 1));
    }
    expect(page.continuationToken).toBeDefined();
    expect(page.items.length).toBeGreaterThan(0);
    recorder.sent = [];
    await events.listHistory(server, undefined, 1);
    expect(reads()).toHaveLength(2);
    const all: EventRecord[] = [];
    let token: string | undefined;
    do {
      const p = await events.listHistory(server, undefined, 3, token);
      all.push(...p.items);
      token = p.continuationToken;
    } while (token);
    expect(keys(all)).toEqual(newestFirst([...mine, ...older]));
  });

  it('a refused read is an outage naming the History read, reported once the other layout\'s read has settled', async () => {
    historyReads.refused = historyPartition(server);
    historyReads.slow = legacyServerPartition(server);
    await outage(() => events.listHistory(server, undefined, 10), 'reading history');
    expect(historyReads.slowAnswered).toBe(true);
  });

  it('a token of another server or rule is refused', async () => {
    const page = await events.listHistory(server, undefined, 2);
    await expect(events.listHistory(neighbour, undefined, 2, page.continuationToken)).rejects.toBeInstanceOf(InvalidContinuationTokenError);
    await expect(events.listHistory(server, 'rule-x', 2, page.continuationToken)).rejects.toBeInstanceOf(InvalidContinuationTokenError);
  });

  it('once the older layout is recorded empty, only the buckets are read', async () => {
    await tables.lifecycle.upsertEntity({ ...OLDER_LAYOUTS_STATE_KEYS, EmptyAt: { value: new Date(T).toISOString(), type: 'DateTime' } }, 'Replace');
    const fresh = new EventStore(createTestStore({ connectionString: azurite!.connectionString, tablePrefix: PREFIX, statuses: STATUSES, maxRetries: 1, policies: [recording] }));
    recorder.sent = [];
    const all = await pages(undefined, 100, fresh);
    expect(keys(all.flat())).toEqual(newestFirst(mine));
    expect(recorder.sent.filter((s) => s.method === 'GET' && s.url.includes(`/${NAMES.history}()`))).toHaveLength(1);
    await tables.lifecycle.deleteEntity(OLDER_LAYOUTS_STATE_KEYS.partitionKey, OLDER_LAYOUTS_STATE_KEYS.rowKey);
  });
});
