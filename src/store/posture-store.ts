// The posture store: every table read and write the service makes. The Results partition of a
// server is the commit point (one entity-group transaction, guarded by ETags); Events, RuleIndex,
// Hosts and Snapshots are projections written after the commit from an outbox kept on the
// Results rows, so they can be replayed idempotently when a write after the commit fails.
import { odata, RestError, TableTransaction, type TableClient, type TransactionAction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClientFactoryOptions, type TableClients } from './client';
import {
  COUNTS_RANGE,
  countsRowKey,
  countsToEntity,
  entityToCounts,
  entityToEvent,
  entityToHost,
  entityToIndex,
  entityToRawBody,
  entityToRawMeta,
  entityToResult,
  EVENTS_PARTITION,
  eventToEntity,
  historyPartition,
  historyToEntity,
  hostToEntity,
  indexRowKey,
  indexToEntity,
  legacyServerPartition,
  rawSlotRange,
  rawStageKey,
  rawToEntity,
  resultKeys,
  resultToEntity,
  serverRange,
  snapshotPartition,
  stagedRawToEntity,
  stagedToSlotEntity,
  type Entity,
} from './entities';
import { ms, optStr, str } from './columns';
import { CursorCodec, InvalidContinuationTokenError, type Cursor } from './cursor';
import { ConcurrencyConflictError, guard, settleAll, StorageUnavailableError, statusCodeOf, toStorageError } from './errors';
import { bucketOf, encodeKey, invertedTime } from './keys';
import { decodePosition, encodePosition, walkPage, walkStart, type HistoryLayout, type WalkRow } from './history-walk';
import { RecordedEmpty } from './recorded-empty';
import { isNewerSnapshot } from './snapshot-order';
import { settleBounded, transactionChunks } from './transactions';
import { hostState, hostWrite, newestPerServer, type HostRowState, type HostWrite } from './host-rows';
import { LANGUAGES } from '../rules/types';
import { SUMMARY_FIELDS, type EventRecord, type HostRecord, type IndexRecord, type Page, type RawSnapshotMeta, type RawSnapshotRecord, type ResultRecord, type ResultSummary, type StoredResult } from './records';

export interface PostureStoreOptions extends TableClientFactoryOptions {
  /** Every status value, in display order; the index keeps one counter column per status. */
  readonly statuses: readonly string[];
  /** Seals continuation tokens (POSTURE_CONTINUATION_TOKEN_SECRET); random per instance when absent. */
  readonly continuationTokenSecret?: string;
}

/** The rule index must hold `record` for its server; `from` is the status of the server's row there now (none: no row). */
export interface IndexMove {
  readonly record: IndexRecord;
  readonly from?: string;
  /** Where the server's row is now is not known: read it first (syncIndex). */
  readonly reread?: boolean;
}

/** Servers per index transaction: a delete and an upsert each, plus the shard's counts row, within 100 operations. */
const MOVES_PER_TRANSACTION = 49;
/** A sibling module's own table, as the posture store hands it out. */
export interface SiblingTable {
  /** Creates the tables once per process. */
  ready(): Promise<void>;
  call<T>(what: string, fn: (table: TableClient) => Promise<T>): Promise<T>;
}

/** When a server's rows say it last posted (one entry per rule row). */
export interface SeenRow {
  readonly lastSeen: number;
  readonly snapshotId: string;
  readonly hostSyncedAt?: number;
}

/** A change to one server's Results partition, applied atomically (one transaction, or one conditional write of a single row). */
export interface ServerCommit {
  /** Rows to write: with `etag` they must still be unchanged; without, they must not exist yet. */
  readonly put: ReadonlyArray<{ readonly record: ResultRecord; readonly etag?: string }>;
  /** Rules whose rows go (the rule was removed from the rule set). */
  readonly remove: readonly string[];
}

export interface ResultFilter {
  readonly server?: string;
  readonly ruleId?: string;
  readonly statuses?: readonly string[];
  /** Only results whose current status began at or after this time (epoch ms). */
  readonly since?: number;
}

export interface EventFilter {
  readonly server?: string;
  readonly ruleId?: string;
  /** Matches the status an event changed to. */
  readonly statuses?: readonly string[];
  readonly since?: number;
  /** Matches the event's cause (snapshot, rule-change, stale, returned, waiver-…). */
  readonly causes?: readonly string[];
}

/** Causes that are status changes of a server, kept in its History partition too. */
const HISTORY_CAUSES = new Set(['snapshot', 'rule-change', 'stale', 'returned']);

const HOST_BUCKETS = 16;
/**
 * Counts rows per rule. One row serialised every status change of a rule: at 32 concurrent
 * changes the benchmark measured 10 snapshots/s and 38% of posts failing after 8 attempts.
 */
const COUNT_SHARDS = 16;
const MAX_PAGE_FETCHES = 8;
/** Transactions of one bulk write in flight at once: enough to overlap round trips, without a burst of hundreds. */
const WRITE_PARALLEL = 8;
const SYNC_ATTEMPTS = 10;

/** A short random pause between attempts, so writers that collided spread out. */
const backOff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15 * (attempt + 1)));

function queryId(kind: string, filter: object): string {
  return kind + ':' + JSON.stringify(filter);
}

const and = (...parts: (string | undefined)[]): string => parts.filter((p): p is string => !!p).map((p) => `(${p})`).join(' and ');
const or = (parts: string[]): string | undefined => (parts.length === 0 ? undefined : parts.map((p) => `(${p})`).join(' or '));

export class PostureStore {
  readonly counter: RoundTripCounter;
  readonly statuses: readonly string[];
  readonly #t: TableClients;
  readonly #cursors: CursorCodec;
  #ready: Promise<void> | undefined;
  /** Whether the layout migration recorded History's and Snapshots' older layouts empty, as this process last read it. */
  readonly #olderLayouts: RecordedEmpty;

  /** Runs a storage call; after an outage (or a vanished table) the tables are checked again. */
  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await guard(what, fn);
    } catch (error) {
      if (error instanceof StorageUnavailableError) this.#ready = undefined;
      throw error;
    }
  }

  constructor(options: PostureStoreOptions) {
    this.counter = options.counter ?? new RoundTripCounter();
    this.statuses = options.statuses;
    this.#t = createTableClients({ ...options, counter: this.counter });
    this.#olderLayouts = new RecordedEmpty(this.siblingTable('lifecycle'), 'EmptyAt');
    this.#cursors = new CursorCodec(options.continuationTokenSecret);
  }

  /**
   * The table of one of the store's sibling modules (lifecycle, waivers): created with the others,
   * each call under the store's guard (after an outage the tables are checked again).
   */
  siblingTable(kind: 'lifecycle' | 'waivers' | 'outbox' | 'drift' | 'snapshots' | 'results' | 'history'): SiblingTable {
    const client = this.#t[kind];
    return { ready: () => this.ensureTables(), call: (what, fn) => this.#guard(what, () => fn(client)) };
  }

  /** Creates the tables once per process (creating an existing table is a no-op). */
  ensureTables(): Promise<void> {
    this.#ready ??= this.#guard('creating tables', async () => {
      await Promise.all(Object.values(this.#t).map((c) => c.createTable()));
    }).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  // ---- ingest: the commit point ---------------------------------------------------------------

  /** The server's current results (one partition query). */
  async readServer(server: string): Promise<StoredResult[]> {
    await this.ensureTables();
    return this.#guard('reading server state', async () => {
      const out: StoredResult[] = [];
      const pk = encodeKey(server);
      for await (const e of this.#t.results.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}` } })) out.push(entityToResult(e));
      return out;
    });
  }

  /** One Results row (a point read), or undefined. */
  async readResultRow(server: string, ruleId: string): Promise<StoredResult | undefined> {
    await this.ensureTables();
    const k = resultKeys(server, ruleId);
    const e = await this.#getOrUndefined(this.#t.results, k.partitionKey, k.rowKey, 'reading server state');
    return e ? entityToResult(e) : undefined;
  }

  /**
   * Writes one server's new state atomically. Throws ConcurrencyConflictError when another writer
   * changed the partition since it was read.
   */
  async commitServer(server: string, commit: ServerCommit): Promise<void> {
    for (const { record } of commit.put) if (record.server !== server) throw new Error(`A commit for ${server} cannot hold a row of ${record.server}.`);
    const size = commit.put.length + commit.remove.length;
    if (size > 100) throw new Error(`One server's results exceed the 100-row transaction limit (${size} rows).`);
    await this.#writeAtomically(
      this.#t.results,
      commit.put.map(({ record, etag }) => ({ entity: resultToEntity(record), etag })),
      commit.remove.map((ruleId) => resultKeys(server, ruleId)),
      'committing server state',
    );
  }

  /**
   * Clears flags after the projections were written; false when another writer changed a row
   * first. 'all': the outbox and AcceptPending (the caller answers the snapshot's commit with its
   * 201); 'outbox': the outbox only (re-evaluation answers no post); 'accept': AcceptPending only
   * (rows another writer changed since, whose outbox may be that writer's).
   */
  async clearPending(server: string, rows: ReadonlyArray<{ readonly ruleId: string; readonly etag: string }>, what: 'all' | 'outbox' | 'accept' = 'all'): Promise<boolean> {
    if (rows.length === 0) return true;
    const tx = new TableTransaction();
    const outbox = what === 'accept' ? {} : { EventPending: false, IndexPending: false, SyncPending: false };
    const accept = what === 'outbox' ? {} : { AcceptPending: false };
    for (const { ruleId, etag } of rows) tx.updateEntity({ ...resultKeys(server, ruleId), ...outbox, ...accept }, 'Merge', { etag });
    try {
      await this.#submit(this.#t.results, tx.actions, 'clearing outbox flags');
      return true;
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) return false;
      throw error;
    }
  }

  /**
   * Makes every row of the server forget its verified-key tag, so the next post with any key reads
   * ServerKeys. Every row is rewritten, tagged or not: that changes each ETag, so an ingest that read
   * the partition before this (and checked its key before the revocation) fails its commit and
   * checks the key again. Call after ServerKeys says the key is revoked or replaced.
   */
  async clearKeyTags(server: string): Promise<void> {
    await this.ensureTables();
    const pk = encodeKey(server);
    const rowKeys = await this.#guard('reading server state', async () => {
      const out: string[] = [];
      for await (const e of this.#t.results.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey'] } })) out.push(String(e.rowKey));
      return out;
    });
    for (let i = 0; i < rowKeys.length; i += 100) {
      const tx = new TableTransaction();
      // No ETag: unconditional, so a concurrent commit cannot make the clear fail.
      for (const rowKey of rowKeys.slice(i, i + 100)) tx.updateEntity({ partitionKey: pk, rowKey, KeyTag: '' }, 'Merge');
      await this.#guard('clearing key tags', () => this.#t.results.submitTransaction(tx.actions));
    }
  }

  /**
   * Rows of one partition written atomically: each created (no ETag) or replaced under its ETag,
   * and `remove` deleted. One row alone goes as a plain request — the same atomic, ETag-guarded
   * change as a one-operation transaction, without the multipart batch that costs both ends about
   * twice as much; more go as one transaction. A refusal is ConcurrencyConflictError.
   */
  async #writeAtomically(
    client: TableClient,
    rows: ReadonlyArray<{ readonly entity: Entity; readonly etag?: string }>,
    remove: ReadonlyArray<{ readonly partitionKey: string; readonly rowKey: string }>,
    what: string,
  ): Promise<void> {
    const [only] = rows;
    if (only && rows.length === 1 && remove.length === 0) {
      try {
        await this.#guard(what, () => (only.etag ? client.updateEntity(only.entity, 'Replace', { etag: only.etag }) : client.createEntity(only.entity)));
        return;
      } catch (error) {
        throw asConflict(error, what);
      }
    }
    if (rows.length + remove.length === 0) return;
    const tx = new TableTransaction();
    for (const { entity, etag } of rows) {
      if (etag) tx.updateEntity(entity, 'Replace', { etag });
      else tx.createEntity(entity);
    }
    for (const k of remove) tx.deleteEntity(k.partitionKey, k.rowKey);
    await this.#submit(client, tx.actions, what);
  }

  async #submit(client: TableClient, actions: TransactionAction[], what: string) {
    try {
      return await this.#guard(what, () => client.submitTransaction(actions));
    } catch (error) {
      throw asConflict(error, what);
    }
  }

  // ---- projections ----------------------------------------------------------------------------

  /**
   * Writes events, and the servers' status changes to History: one transaction per bucket of
   * servers (≤ 100 rows), a few at a time. Replays write the same rows.
   */
  async putEvents(events: readonly EventRecord[]): Promise<void> {
    const history = events.filter((e) => e.server && HISTORY_CAUSES.has(e.cause ?? 'snapshot')).map(historyToEntity);
    // Different tables: written side by side; all settle before a failure is reported.
    await settleAll([this.#putEventRows(events), this.#upsertRows(this.#t.history, history, 'writing history')]);
  }

  /**
   * One server's status changes, newest first: its range of its bucket's History partition merged
   * by key with its partition of the older layout (rows written before the buckets), until the
   * layout migration has recorded that layout empty. A change in both (copied, not yet deleted) is
   * returned once (see history-walk).
   */
  async listHistory(server: string, ruleId: string | undefined, top: number, token?: string): Promise<Page<EventRecord>> {
    await this.ensureTables();
    // Not the query id of the walks before the merge: their tokens hold no key to resume after.
    const query = queryId('history-merged', { server, ruleId });
    const at = token === undefined ? walkStart(2) : decodePosition(this.#cursors.open(token, query).t, 2);
    const rule = ruleId ? odata`RuleId eq ${ruleId}` : undefined;
    const range = serverRange(server);
    const bucket = this.#historyLayout(odata`PartitionKey eq ${historyPartition(server)}`, range.from, range.to, rule);
    // Once the older layout is recorded empty, its partition is not asked, whatever a token says of it.
    const older = (await this.#olderLayoutsGone()) ? undefined : this.#historyLayout(odata`PartitionKey eq ${legacyServerPartition(server)}`, '', undefined, rule);
    const page = await walkPage([bucket, older], at, top);
    // One walk, not a list of partitions: its position is the cursor's text.
    return { items: page.rows.map(entityToEvent), continuationToken: page.next ? this.#cursors.seal(query, { i: 0, t: encodePosition(page.next) }) : undefined };
  }

  /**
   * One layout of a server's History for the walk: the rows of `partition` whose RowKey is `prefix`
   * and a key (below `to`), read a few pages at most per call so a request stays short.
   */
  #historyLayout(partition: string, prefix: string, to: string | undefined, rule: string | undefined): HistoryLayout {
    return {
      read: async (after, max, token) => {
        const filter = and(partition, after === undefined ? (prefix ? odata`RowKey ge ${prefix}` : undefined) : odata`RowKey gt ${prefix + after}`, to === undefined ? undefined : odata`RowKey lt ${to}`, rule);
        const rows: WalkRow[] = [];
        let next = token;
        for (let fetches = 0; fetches < MAX_PAGE_FETCHES / 2 && rows.length < max; fetches++) {
          const resumeFrom = next;
          const page = await this.#guard('reading history', async () => {
            try {
              return await this.#t.history.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: max - rows.length, continuationToken: resumeFrom }).next();
            } catch (error) {
              // As in #pagedWalk: a resumed query storage cannot continue is the token's fault.
              if (resumeFrom !== undefined && !(toStorageError(error, 'querying') instanceof StorageUnavailableError)) throw new InvalidContinuationTokenError('The continuation token no longer fits the data; repeat the query without it.');
              throw error;
            }
          });
          const value = page.done ? undefined : page.value;
          for (const e of value ?? []) rows.push({ key: String(e.rowKey).slice(prefix.length), entity: e });
          next = value?.continuationToken;
          if (!next) break;
        }
        return { rows, ...(next ? { token: next } : {}) };
      },
    };
  }

  /** Upserts rows in transactions by partition (≤ 100 rows, bounded bytes), WRITE_PARALLEL at a time. */
  async #upsertRows(client: TableClient, entities: readonly Entity[], what: string): Promise<void> {
    const chunks = transactionChunks(entities);
    await settleBounded(chunks, WRITE_PARALLEL, async (rows) => {
      const tx = new TableTransaction();
      for (const e of rows) tx.upsertEntity(e, 'Replace');
      await this.#guard(what, () => client.submitTransaction(tx.actions));
    });
  }

  async #putEventRows(events: readonly EventRecord[]): Promise<void> {
    for (let i = 0; i < events.length; i += 100) {
      const tx = new TableTransaction();
      const seen = new Set<string>();
      for (const e of events.slice(i, i + 100)) {
        const entity = eventToEntity(e);
        if (seen.has(entity.rowKey)) continue;
        seen.add(entity.rowKey);
        tx.upsertEntity(entity, 'Replace');
      }
      await this.#guard('writing events', () => this.#t.events.submitTransaction(tx.actions));
    }
  }

  /**
   * Makes the rule index hold `record` as the server's row for its rule, unless it already holds a
   * row from a newer snapshot. Membership and the rule's counters change in one transaction.
   */
  async syncIndex(record: IndexRecord, expectedStatus?: string): Promise<void> {
    const pk = encodeKey(record.ruleId);
    const countsKey = countsRowKey(bucketOf(record.server, COUNT_SHARDS));
    for (let attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
      const rows = await this.#readIndexRows(pk, countsKey, record, expectedStatus);
      const countsRow = rows.find((r) => r.rowKey === countsKey);
      const members = rows.filter((r) => r.rowKey !== countsKey).map((r) => ({ rowKey: String(r.rowKey), rec: entityToIndex(r) }));
      const newer = members.some(
        (m) => m.rec.sourceCollectedAt > record.sourceCollectedAt || (m.rec.sourceCollectedAt === record.sourceCollectedAt && m.rec.sourceSnapshotId > record.sourceSnapshotId),
      );
      if (newer) return;
      const target = indexToEntity(record);
      const same = members.length === 1 && members[0]?.rowKey === target.rowKey && sameIndex(members[0].rec, record);
      if (same) return;

      const counts = countsRow ? entityToCounts(countsRow, this.statuses) : new Map(this.statuses.map((s) => [s, 0]));
      const tx = new TableTransaction();
      let moved = true;
      for (const m of members) {
        if (m.rowKey === target.rowKey) {
          moved = false;
          continue;
        }
        tx.deleteEntity(pk, m.rowKey);
        counts.set(m.rec.status, Math.max(0, (counts.get(m.rec.status) ?? 0) - 1));
      }
      tx.upsertEntity(target, 'Replace');
      if (moved) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
      const countsEntity = countsToEntity(record.ruleId, counts, countsKey);
      // The counts row's ETag serialises every membership change of this rule.
      if (countsRow) tx.updateEntity(countsEntity, 'Replace', { etag: String(countsRow.etag) });
      else tx.createEntity(countsEntity);
      try {
        await this.#submit(this.#t.ruleIndex, tx.actions, 'updating the rule index');
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        await backOff(attempt);
      }
    }
    throw new ConcurrencyConflictError(`The rule index for ${record.ruleId} stayed contended after ${SYNC_ATTEMPTS} attempts.`);
  }

  /**
   * Moves many servers' rows of one rule at once: per counts shard, transactions of up to 49
   * servers (delete the row at `from`, write the new one) with the shard's counts row under its
   * ETag. When a transaction finds the index not where the moves say (a row missing, or already
   * there: a move replayed), its servers go one by one through syncIndex, which reads and compares.
   */
  async applyIndexMoves(ruleId: string, moves: readonly IndexMove[]): Promise<void> {
    await this.ensureTables();
    const pk = encodeKey(ruleId);
    const byShard = new Map<string, IndexMove[]>();
    const reread = moves.filter((m) => m.reread);
    for (const m of moves) {
      if (m.reread) continue;
      const key = countsRowKey(bucketOf(m.record.server, COUNT_SHARDS));
      byShard.set(key, [...(byShard.get(key) ?? []), m]);
    }
    const shard = async (countsKey: string, list: readonly IndexMove[]) => {
      for (let i = 0; i < list.length; i += MOVES_PER_TRANSACTION) {
        const chunk = list.slice(i, i + MOVES_PER_TRANSACTION);
        let done = false;
        for (let attempt = 0; attempt < 3 && !done; attempt++) {
          const countsRow = await this.#getOrUndefined(this.#t.ruleIndex, pk, countsKey, 'reading the rule index');
          const counts = countsRow ? entityToCounts(countsRow, this.statuses) : new Map(this.statuses.map((s) => [s, 0]));
          const tx = new TableTransaction();
          for (const m of chunk) {
            const target = indexToEntity(m.record);
            if (m.from === undefined) {
              // A first row: created, so a replay that finds it fails here instead of counting it twice.
              tx.createEntity(target);
              counts.set(m.record.status, (counts.get(m.record.status) ?? 0) + 1);
            } else {
              const fromKey = indexRowKey(m.from, m.record.server);
              if (fromKey !== target.rowKey) {
                tx.deleteEntity(pk, fromKey);
                counts.set(m.from, Math.max(0, (counts.get(m.from) ?? 0) - 1));
                counts.set(m.record.status, (counts.get(m.record.status) ?? 0) + 1);
              }
              tx.upsertEntity(target, 'Replace');
            }
          }
          const countsEntity = countsToEntity(ruleId, counts, countsKey);
          if (countsRow) tx.updateEntity(countsEntity, 'Replace', { etag: String(countsRow.etag) });
          else tx.createEntity(countsEntity);
          try {
            await this.#submit(this.#t.ruleIndex, tx.actions, 'updating the rule index');
            done = true;
          } catch (error) {
            if (!(error instanceof ConcurrencyConflictError)) throw error;
            // 412 on the counts row: another writer of the shard; retry. Anything else: the members.
            if (statusCodeOf(error.cause) !== 412) break;
            await backOff(attempt);
          }
        }
        if (!done) for (const m of chunk) await this.syncIndex(m.record, m.from);
      }
    };
    await settleAll([...[...byShard].map(([key, list]) => shard(key, list)), ...reread.map((m) => this.syncIndex(m.record))]);
  }

  /**
   * The rule's counts row for the server's shard and the server's member rows. When the caller
   * knows where the server's row should be (`expectedStatus`), two point reads find it; otherwise,
   * or when it is not there (a new server, an index that lags), one query reads every status.
   */
  async #readIndexRows(pk: string, countsKey: string, record: IndexRecord, expectedStatus?: string): Promise<Record<string, unknown>[]> {
    if (expectedStatus !== undefined) {
      const read = (rk: string) => this.#getOrUndefined(this.#t.ruleIndex, pk, rk, 'reading the rule index');
      const [counts, member] = await Promise.all([read(countsKey), read(indexRowKey(expectedStatus, record.server))]);
      // Every membership change rewrites the shard's counts row under its ETag and leaves one
      // member row per server, so the row found is the server's only one.
      if (member) return counts ? [counts, member] : [member];
    }
    const keys = [countsKey, ...this.statuses.map((s) => indexRowKey(s, record.server))];
    const filter = and(odata`PartitionKey eq ${pk}`, or(keys.map((k) => odata`RowKey eq ${k}`)));
    return this.#guard('reading the rule index', async () => {
      const out: Record<string, unknown>[] = [];
      for await (const e of this.#t.ruleIndex.listEntities({ queryOptions: { filter } })) out.push(e);
      return out;
    });
  }

  /** Writes the host row unless it already reflects a newer snapshot; keeps the first-seen time. */
  async putHost(host: HostRecord): Promise<void> {
    const pk = bucketOf(host.server, HOST_BUCKETS);
    const rk = encodeKey(host.server);
    for (let attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
      const existing = await this.#getOrUndefined(this.#t.hosts, pk, rk, 'reading a host');
      const write = hostWrite(host, existing && hostState(existing));
      if (!write) return;
      try {
        await this.#writeAtomically(this.#t.hosts, [{ entity: hostToEntity(write.record, pk), etag: write.etag }], [], 'writing a host');
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        await backOff(attempt);
      }
    }
    throw new ConcurrencyConflictError(`The host row of ${host.server} stayed contended.`);
  }

  /**
   * Many servers' host rows under putHost's rules, per bucket: one range read of the bucket's rows
   * between the batch's first and last server (three columns; the projector's batches come in
   * server order, so the range holds little else), then the writes in ETag-guarded transactions
   * (≤ 100 rows, bounded bytes). A transaction refused because another writer got there first
   * leaves nothing written; only its servers take the one-server path.
   */
  async putHosts(hosts: readonly HostRecord[]): Promise<void> {
    const byBucket = new Map<string, HostRecord[]>();
    for (const h of newestPerServer(hosts)) {
      const pk = bucketOf(h.server, HOST_BUCKETS);
      byBucket.set(pk, [...(byBucket.get(pk) ?? []), h]);
    }
    if (byBucket.size === 0) return;
    await this.ensureTables();
    await settleBounded([...byBucket], WRITE_PARALLEL, async ([pk, list]) => {
      const now = await this.#hostStates(pk, list.map((h) => encodeKey(h.server)));
      const writes = new Map<string, HostWrite>();
      for (const h of list) {
        const write = hostWrite(h, now.get(encodeKey(h.server)));
        if (write) writes.set(encodeKey(h.server), write);
      }
      for (const chunk of transactionChunks([...writes.values()].map((w) => hostToEntity(w.record, pk)))) {
        const inChunk = chunk.map((entity) => ({ entity, write: writes.get(entity.rowKey)! }));
        try {
          await this.#writeAtomically(this.#t.hosts, inChunk.map(({ entity, write }) => ({ entity, etag: write.etag })), [], 'writing hosts');
        } catch (error) {
          if (!(error instanceof ConcurrencyConflictError)) throw error;
          for (const { write } of inChunk) await this.putHost(write.record);
        }
      }
    });
  }

  /** What the writes need of the rows of `rowKeys` in the bucket: one range query (a page per 1,000 rows in range). */
  async #hostStates(pk: string, rowKeys: readonly string[]): Promise<Map<string, HostRowState>> {
    const wanted = new Set(rowKeys);
    const sorted = [...wanted].sort();
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${sorted[0]!} and RowKey le ${sorted[sorted.length - 1]!}`;
    return this.#guard('reading hosts', async () => {
      const out = new Map<string, HostRowState>();
      for await (const e of this.#t.hosts.listEntities({ queryOptions: { filter, select: ['RowKey', 'FirstSeen', 'LastCollectedAt'] } })) {
        if (wanted.has(String(e.rowKey))) out.set(String(e.rowKey), hostState(e));
      }
      return out;
    });
  }

  /** When the server's rows say it last posted: three columns of its handful of rows. */
  async seenRows(server: string): Promise<SeenRow[]> {
    const pk = encodeKey(server);
    return this.#guard('reading last seen', async () => {
      const out: SeenRow[] = [];
      const rows = this.#t.results.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['LastSeen', 'SnapshotId', 'HostSyncedAt'] } });
      for await (const e of rows) out.push({ lastSeen: ms(e, 'LastSeen') ?? 0, snapshotId: str(e, 'SnapshotId'), hostSyncedAt: ms(e, 'HostSyncedAt') });
      return out;
    });
  }

  /** One page of server ids from the Hosts table (keys only), for a pass over the fleet. */
  async listServersPage(max: number, token: string | undefined): Promise<{ servers: string[]; token?: string }> {
    await this.ensureTables();
    return this.#guard('listing servers', async () => {
      const pages = this.#t.hosts.listEntities({ queryOptions: { select: ['Server'] } }).byPage({ maxPageSize: max, continuationToken: token || undefined });
      const next = await pages.next();
      const page = next.done ? [] : next.value;
      return { servers: page.map((e) => optStr(e, 'Server')).filter((s): s is string => !!s), token: next.done ? undefined : next.value.continuationToken };
    });
  }

  /** Every server's host facts, a page at a time, in bucket and server order. */
  async listHosts(top: number, token?: string): Promise<Page<HostRecord>> {
    await this.ensureTables();
    return this.#pagedWalk(this.#t.hosts, [undefined], queryId('hosts-all', {}), token, top, entityToHost);
  }

  /**
   * The ids of servers whose id begins with `prefix` (at most `max`): one range query over the
   * Results partitions, reading only their keys. Finds `exch19.corp.contoso.com` for "exch19.".
   */
  async serversWithPrefix(prefix: string, max: number): Promise<string[]> {
    await this.ensureTables();
    const from = encodeKey(prefix);
    // The first key after every key that begins with `from`.
    const to = from.slice(0, -1) + String.fromCharCode(from.charCodeAt(from.length - 1) + 1);
    const filter = odata`PartitionKey ge ${from} and PartitionKey lt ${to}`;
    return this.#guard('finding servers', async () => {
      const found = new Set<string>();
      for await (const e of this.#t.results.listEntities({ queryOptions: { filter, select: ['Server'] } })) {
        const server = optStr(e, 'Server');
        if (server) found.add(server);
        if (found.size >= max) break;
      }
      return [...found].sort();
    });
  }

  async getHost(server: string): Promise<HostRecord | undefined> {
    await this.ensureTables();
    const e = await this.#getOrUndefined(this.#t.hosts, bucketOf(server, HOST_BUCKETS), encodeKey(server), 'reading a host');
    return e ? entityToHost(e) : undefined;
  }

  /**
   * Stages a raw body too large for its outbox entry under its commit attempt (one upsert). No
   * other attempt writes this row, so an attempt that is then refused cannot replace a body that
   * was accepted; the projector copies it into the slot its commit chose (copyStagedRaw).
   */
  async putStagedRaw(raw: RawSnapshotRecord, commitId: string, slot: number): Promise<void> {
    const entity = stagedRawToEntity(raw, commitId, slot);
    await this.#guard('staging a raw snapshot', () => this.#t.snapshots.upsertEntity(entity, 'Replace'));
  }

  /**
   * Copies the staged body of `commitId` into the server's `slot` (a read and an upsert, one body
   * in memory). False when no staging row is left: an earlier run copied it, and later entries
   * of the batch that removed it wrote that slot or newer content, so there is nothing to redo.
   */
  async copyStagedRaw(server: string, commitId: string, slot: number): Promise<boolean> {
    const staged = await this.#getOrUndefined(this.#t.snapshots, snapshotPartition(server), rawStageKey(server, commitId), 'reading a staged raw snapshot');
    if (!staged) return false;
    const entity = stagedToSlotEntity(staged, server, slot);
    await this.#guard('writing a raw snapshot', () => this.#t.snapshots.upsertEntity(entity, 'Replace'));
    return true;
  }

  /** Removes staging rows (a delete each, WRITE_PARALLEL at a time; one already gone is fine). */
  async deleteStagedRaw(list: ReadonlyArray<{ readonly server: string; readonly commitId: string }>): Promise<void> {
    await settleBounded(list, WRITE_PARALLEL, async ({ server, commitId }) => {
      try {
        await this.#guard('removing a staged raw snapshot', () => this.#t.snapshots.deleteEntity(snapshotPartition(server), rawStageKey(server, commitId)));
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
    });
  }

  /**
   * Stores many servers' raw snapshots in their slots: one transaction per bucket of servers,
   * split at 100 rows and by bytes (bodies are up to ~900 KiB each). In list order, so when one
   * slot of a server comes twice the later write wins.
   */
  async putRawSnapshots(list: ReadonlyArray<{ readonly record: RawSnapshotRecord; readonly slot: number }>): Promise<void> {
    await this.#upsertRows(
      this.#t.snapshots,
      list.map((r) => rawToEntity(r.record, r.slot)),
      'writing raw snapshots',
    );
  }

  /**
   * The newest stored raw snapshot of a server (metadata, and the body when `withBody`): every slot
   * row of its range in its bucket (staging rows are not slots: their commit may not have landed),
   * and side by side the partition of the older layouts (until the layout migration has recorded
   * them empty); the newest (CollectedAt, then SnapshotId) wins.
   */
  async getLatestRaw(server: string, withBody = false): Promise<(RawSnapshotMeta & { body?: string }) | undefined> {
    await this.ensureTables();
    const range = rawSlotRange(server);
    const filters = [odata`PartitionKey eq ${snapshotPartition(server)} and RowKey ge ${range.from} and RowKey lt ${range.to}`];
    if (!(await this.#olderLayoutsGone())) filters.push(odata`PartitionKey eq ${legacyServerPartition(server)}`);
    const select = withBody ? undefined : ['Server', 'SnapshotId', 'CollectedAt', 'ReceivedAt', 'ContentHash', 'RawBytes', 'RawStored'];
    const rows = await Promise.all(
      filters.map((filter) =>
        this.#guard('reading a raw snapshot', async () => {
          const out: Record<string, unknown>[] = [];
          for await (const e of this.#t.snapshots.listEntities({ queryOptions: { filter, select } })) out.push(e);
          return out;
        }),
      ),
    );
    let newest: { meta: RawSnapshotMeta; entity: Record<string, unknown> } | undefined;
    for (const e of rows.flat()) {
      const meta = entityToRawMeta(e);
      if (!newest || isNewerSnapshot(meta, newest.meta)) {
        newest = { meta, entity: e };
      }
    }
    if (!newest) return undefined;
    return { ...newest.meta, ...(withBody ? { body: entityToRawBody(newest.entity) } : {}) };
  }

  /**
   * Whether the layout migration recorded the older layouts empty (read once and kept when they
   * are; see RecordedEmpty). A process that has not seen the record asks both layouts, which is
   * still right.
   */
  #olderLayoutsGone(): Promise<boolean> {
    return this.#olderLayouts.gone();
  }

  async #getOrUndefined(client: TableClient, pk: string, rk: string, what: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.#guard(what, () => client.getEntity(pk, rk));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  // ---- queries --------------------------------------------------------------------------------

  /**
   * Current results, newest-agnostic order. With a server: that server's partition. With a rule or
   * statuses: the rule index (only matching rows are read). With neither: the whole Results table.
   * `ruleIds` lists the loaded rules, walked when statuses are given without a rule.
   */
  async listResults(filter: ResultFilter, ruleIds: readonly string[], top: number, token?: string): Promise<Page<ResultSummary>> {
    await this.ensureTables();
    const query = queryId('results', { ...filter, ruleIds: filter.server ? undefined : ruleIds });
    const sinceFilter = filter.since === undefined ? undefined : `FirstSeen ge ${odataDate(filter.since)}`;
    const statusFilter = filter.statuses && filter.statuses.length > 0 ? or(filter.statuses.map((s) => odata`Status eq ${s}`)) : undefined;
    const ruleFilter = filter.ruleId ? odata`RuleId eq ${filter.ruleId}` : undefined;

    if (filter.server !== undefined || (!filter.ruleId && !(filter.statuses && filter.statuses.length > 0))) {
      const pkFilter = filter.server !== undefined ? odata`PartitionKey eq ${encodeKey(filter.server)}` : undefined;
      const q = and(pkFilter, ruleFilter, statusFilter, sinceFilter);
      return this.#pagedWalk(this.#t.results, [q || undefined], query, token, top, (e) => toSummary(entityToResult(e)));
    }
    const rules = filter.ruleId ? [filter.ruleId] : [...ruleIds].sort();
    const statuses = filter.statuses && filter.statuses.length > 0 ? filter.statuses : this.statuses;
    const ranges = or(statuses.map((s) => odata`RowKey ge ${encodeKey(s) + '|'} and RowKey lt ${encodeKey(s) + '}'}`));
    const filters = rules.map((r) => and(odata`PartitionKey eq ${encodeKey(r)}`, ranges, sinceFilter));
    return this.#pagedWalk(this.#t.ruleIndex, filters, query, token, top, (e) => toSummary(entityToIndex(e)));
  }

  /** Every current result of the fleet with evidence, a page at a time (the CSV export; a full scan by design). */
  async listAllResults(top: number, token?: string): Promise<Page<StoredResult>> {
    await this.ensureTables();
    return this.#pagedWalk(this.#t.results, [undefined], queryId('results-all', {}), token, top, entityToResult);
  }

  /** Every current result of one server, with evidence. */
  async listServerResults(server: string): Promise<StoredResult[]> {
    return this.readServer(server);
  }

  /** Status changes, newest first. */
  async listEvents(filter: EventFilter, top: number, token?: string): Promise<Page<EventRecord>> {
    await this.ensureTables();
    const query = queryId('events', filter);
    const q = and(
      odata`PartitionKey eq ${EVENTS_PARTITION}`,
      filter.since === undefined ? undefined : odata`RowKey lt ${invertedTime(filter.since) + '~'}`,
      filter.server !== undefined ? odata`Server eq ${filter.server}` : undefined,
      filter.ruleId ? odata`RuleId eq ${filter.ruleId}` : undefined,
      filter.statuses && filter.statuses.length > 0 ? or(filter.statuses.map((s) => odata`ToStatus eq ${s}`)) : undefined,
      filter.causes && filter.causes.length > 0 ? or(filter.causes.map((c) => odata`Cause eq ${c}`)) : undefined,
    );
    return this.#pagedWalk(this.#t.events, [q], query, token, top, entityToEvent);
  }

  /** Per-status counts of each rule, kept as results are written (one range query per rule over its counts rows). */
  async getRuleCounts(ruleIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
    await this.ensureTables();
    const entries = await Promise.all(
      ruleIds.map(async (id) => {
        const filter = odata`PartitionKey eq ${encodeKey(id)} and RowKey ge ${COUNTS_RANGE.from} and RowKey lt ${COUNTS_RANGE.to}`;
        const total = new Map(this.statuses.map((s) => [s, 0]));
        await this.#guard('reading rule counts', async () => {
          for await (const e of this.#t.ruleIndex.listEntities({ queryOptions: { filter } })) {
            for (const [s, n] of entityToCounts(e, this.statuses)) total.set(s, (total.get(s) ?? 0) + n);
          }
        });
        return [id, total] as const;
      }),
    );
    return new Map(entries);
  }

  /**
   * Walks `filters` (one per partition or the whole table) in order, returning at most `top` items
   * and a sealed token that resumes exactly after the last item returned. Pages may come back empty
   * with a token; a bounded number of fetches keeps one request short. `token` must be one this
   * store sealed for the same `query`, else InvalidContinuationTokenError (400) before any read.
   */
  async #pagedWalk<T>(
    client: TableClient,
    filters: (string | undefined)[],
    query: string,
    token: string | undefined,
    top: number,
    map: (e: Record<string, unknown>) => T,
  ): Promise<Page<T>> {
    const cursor: Cursor = this.#cursors.open(token, query);
    const items: T[] = [];
    let i = cursor.i;
    let sdkToken = cursor.t;
    let fetches = 0;
    while (i < filters.length && items.length < top && fetches < MAX_PAGE_FETCHES) {
      const f = filters[i];
      const resumeFrom = sdkToken;
      const next = await this.#guard('querying', async () => {
        try {
          // Building the iterator decodes the SDK token, so it stays inside the try.
          return await client.listEntities({ queryOptions: f ? { filter: f } : {} }).byPage({ maxPageSize: top - items.length, continuationToken: resumeFrom }).next();
        } catch (error) {
          // A sealed token's inner position that storage cannot use (the data moved on): the
          // client's token, not the service, is at fault. Outages stay 503.
          if (resumeFrom !== undefined && !(toStorageError(error, 'querying') instanceof StorageUnavailableError)) throw new InvalidContinuationTokenError('The continuation token no longer fits the data; repeat the query without it.');
          throw error;
        }
      });
      fetches++;
      const page = next.done ? undefined : next.value;
      for (const e of page ?? []) items.push(map(e));
      sdkToken = page?.continuationToken;
      if (!sdkToken) i++;
    }
    const more = i < filters.length;
    return { items, continuationToken: more ? this.#cursors.seal(query, { i, t: sdkToken }) : undefined };
  }
}

/** A refused conditional write (the row changed, exists already, or went) as ConcurrencyConflictError; anything else as it was. */
function asConflict(error: unknown, what: string): unknown {
  const status = statusCodeOf(error);
  if (status === 409 || status === 412 || status === 404) return new ConcurrencyConflictError(`Another writer changed the data while ${what}.`, { cause: error });
  return error;
}

function odataDate(ms: number): string {
  return `datetime'${new Date(ms).toISOString()}'`;
}

/** Only the summary's fields (a Results or index row carries more). */
function toSummary(r: ResultSummary): ResultSummary {
  return Object.fromEntries(SUMMARY_FIELDS.map((f) => [f, r[f]])) as unknown as ResultSummary;
}

function sameIndex(a: IndexRecord, b: IndexRecord): boolean {
  return (
    a.status === b.status &&
    a.reasonCode === b.reasonCode &&
    a.ruleVersion === b.ruleVersion &&
    LANGUAGES.every((lang) => a.message[lang] === b.message[lang]) &&
    a.firstSeen === b.firstSeen &&
    a.sourceSnapshotId === b.sourceSnapshotId
  );
}
