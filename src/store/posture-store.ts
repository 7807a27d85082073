// The posture store: what every table shares — the clients, creating the tables once per process,
// the guard that turns SDK errors into the store's errors, the continuation-token codec — handed to
// each table's own module (siblingTable), and the Results table itself. A server's Results
// partition is the commit point (one entity-group transaction, guarded by ETags); the fleet-wide
// tables are projections written after the commit from the outbox (events-store, rule-index-store,
// hosts-store, raw-snapshots-store, staged-raw-store, drift-store), replayed idempotently when a
// write after the commit fails.
import { odata, TableTransaction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClientFactoryOptions, type TableClients, type TableKind } from './client';
import { ms, optStr, str } from './columns';
import { CursorCodec, queryId } from './cursor';
import { entityToResult, entityToSummary, LIVE_RESULTS, PARTITION_RULES, REMOVED_RESULTS, resultKeys, resultToEntity, summaryColumns } from './entities';
import type { Lang } from '../rules/types';
import { ConcurrencyConflictError, guard, StorageUnavailableError } from './errors';
import { and, odataDate, or } from './filters';
import { encodeKey, prefixRange } from './keys';
import { RecordedEmpty } from './recorded-empty';
import { REMOVED_STATUS, type Page, type ResultRecord, type ResultSummary, type StoredResult } from './records';
import { ServerRowCache } from './server-row-cache';
import { sharedContinuationSecret } from './shared-secret';
import { SiblingTable } from './sibling-table';

export interface PostureStoreOptions extends TableClientFactoryOptions {
  /** Every status value, in display order; the index keeps one counter column per status. */
  readonly statuses: readonly string[];
  /** Seals continuation tokens (POSTURE_CONTINUATION_TOKEN_SECRET); absent, a secret kept in the Lifecycle table that every instance shares (shared-secret.ts). */
  readonly continuationTokenSecret?: string;
  /** Remembers one-rule servers' rows between posts (see rememberedServerRows); a fresh one by default. */
  readonly rowCache?: ServerRowCache;
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
  /** Rules whose rows go (the rule was removed from the rule set; the commit's outbox entry takes the server out of their index and drift). */
  readonly remove: readonly string[];
  /** The rows the commit was decided on, as read: each must be in `put` or `remove`. */
  readonly basedOn: readonly StoredResult[];
}

export interface ResultFilter {
  readonly server?: string;
  readonly ruleId?: string;
  readonly statuses?: readonly string[];
  /** Only results whose current status began at or after this time (epoch ms). */
  readonly since?: number;
  /**
   * Only results under an active waiver (true) or not (false). Applied by the caller to each page
   * read (waivers are not stored on rows); here it is part of the query a continuation token belongs
   * to, so a token of one is refused by the other.
   */
  readonly waived?: boolean;
}

export class PostureStore {
  readonly counter: RoundTripCounter;
  readonly statuses: readonly string[];
  readonly #t: TableClients;
  readonly #cursors: CursorCodec;
  #ready: Promise<void> | undefined;
  readonly #results: SiblingTable;
  /** The Results query by rule or status reads the rule index, Results' own secondary index. */
  readonly #ruleIndex: SiblingTable;
  /**
   * Whether the layout migration recorded History's and Snapshots' older layouts empty, as this
   * process last read it: one belief for both tables' readers, so it costs one read per process.
   */
  readonly olderLayouts: RecordedEmpty;
  readonly #remembered: ServerRowCache;

  /** Runs a storage call; after an outage (or a vanished table) the tables are checked again. */
  readonly #guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await guard(what, fn);
    } catch (error) {
      if (error instanceof StorageUnavailableError) this.#ready = undefined;
      throw error;
    }
  };

  constructor(options: PostureStoreOptions) {
    this.counter = options.counter ?? new RoundTripCounter();
    this.statuses = options.statuses;
    this.#t = createTableClients({ ...options, counter: this.counter });
    this.#cursors = new CursorCodec(options.continuationTokenSecret ?? (() => sharedContinuationSecret(this.siblingTable('lifecycle'))));
    this.olderLayouts = new RecordedEmpty(this.siblingTable('lifecycle'), 'EmptyAt');
    this.#results = this.siblingTable('results');
    this.#ruleIndex = this.siblingTable('ruleIndex');
    this.#remembered = options.rowCache ?? new ServerRowCache();
  }

  /** The store's continuation-token codec: a token any of its tables or queries sealed opens on all of them. */
  get cursors(): CursorCodec {
    return this.#cursors;
  }

  /** One of the store's tables, for the module that holds it: created with the others, each call under the store's guard. */
  siblingTable(kind: Exclude<TableKind, 'serverKeys'>): SiblingTable {
    return new SiblingTable(this.#t[kind], this.#guard, () => this.ensureTables(), this.#cursors);
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

  /**
   * The server's rows as ingest needs them under a rule set of `ruleIds`. With one rule, a point
   * read of its row (Azure's cheapest lookup; Azurite answers a partition query by scanning the
   * whole table) is enough when that row says its commit left nothing else in the partition;
   * otherwise — no such row yet, a row an older version wrote, rows of rules that left the set —
   * the partition is queried as well. Either way the caller gets every row the partition holds,
   * a removed server's markers included (a commit replaces them under their ETags).
   */
  async readServerRows(server: string, ruleIds: readonly string[]): Promise<StoredResult[]> {
    if (ruleIds.length === 1) {
      const columns = await this.#readResultColumns(server, ruleIds[0]!);
      const row = columns && entityToResult(columns);
      if (columns && row && isAlone(row, ruleIds)) {
        this.#remembered.remember(server, columns);
        return [row];
      }
    }
    this.#remembered.forget(server);
    return this.readPartition(server);
  }

  /**
   * What readServerRows would return, from memory, without a round trip: the one row the last
   * commit (or read) of a one-rule server in this process left, or undefined — without its evidence,
   * remediation and fingerprint facts, which a commit does not read. It may be
   * outdated (another instance, a revocation): a commit based on it is refused then, so decide on it
   * only what the commit's ETag condition guards, and read again before anything else.
   */
  rememberedServerRows(server: string, ruleIds: readonly string[]): StoredResult[] | undefined {
    if (ruleIds.length !== 1) return undefined;
    const row = this.#remembered.serve(server);
    return row && isAlone(row, ruleIds) ? [row] : undefined;
  }

  /** The server's current results (one partition query); none once it was removed. */
  async readServer(server: string): Promise<StoredResult[]> {
    return this.#readRows(server, true);
  }

  /** Every row of the server's partition, results and removal markers alike: what a commit of it must be based on. */
  async readPartition(server: string): Promise<StoredResult[]> {
    return this.#readRows(server, false);
  }

  async #readRows(server: string, liveOnly: boolean): Promise<StoredResult[]> {
    await this.ensureTables();
    return this.#results.call('reading server state', async (t) => {
      const out: StoredResult[] = [];
      const pk = odata`PartitionKey eq ${encodeKey(server)}`;
      const filter = liveOnly ? and(pk, LIVE_RESULTS) : pk;
      for await (const e of t.listEntities({ queryOptions: { filter } })) out.push(entityToResult(e));
      return out;
    });
  }

  /** One Results row (a point read; a removal marker too: it holds the proof of the removal's commit), or undefined. */
  async readResultRow(server: string, ruleId: string): Promise<StoredResult | undefined> {
    const e = await this.#readResultColumns(server, ruleId);
    return e ? entityToResult(e) : undefined;
  }

  async #readResultColumns(server: string, ruleId: string): Promise<Record<string, unknown> | undefined> {
    await this.ensureTables();
    const k = resultKeys(server, ruleId);
    return this.#results.get(k.partitionKey, k.rowKey, 'reading server state');
  }

  /**
   * Writes one server's new state atomically. Throws ConcurrencyConflictError when another writer
   * changed the partition since it was read.
   */
  async commitServer(server: string, commit: ServerCommit): Promise<void> {
    for (const { record } of commit.put) if (record.server !== server) throw new Error(`A commit for ${server} cannot hold a row of ${record.server}.`);
    const size = commit.put.length + commit.remove.length;
    if (size > 100) throw new Error(`One server's results exceed the 100-row transaction limit (${size} rows).`);
    // Every row written names the rows the partition holds after this commit, so a later reader of
    // one row knows whether it has read them all (readServerRows). That holds only while each commit
    // rewrites every row it leaves: a row left as it was would keep naming an older set.
    const written = new Set(commit.put.map(({ record }) => record.ruleId));
    const unwritten = commit.basedOn.filter((r) => !written.has(r.ruleId) && !commit.remove.includes(r.ruleId));
    if (unwritten.length > 0) throw new Error(`A commit for ${server} must write or remove every row it read (${unwritten.map((r) => r.ruleId).join(', ')} neither).`);
    const partitionRules = [...written].sort().join(' ');
    const rows = commit.put.map(({ record, etag }) => ({ entity: { ...resultToEntity(record), [PARTITION_RULES]: partitionRules }, etag }));
    const fromMemory = commit.basedOn.length === 1 && this.#remembered.served(commit.basedOn[0]!);
    // A refusal tells of another writer only if this process left the served row as it was.
    const current = fromMemory && this.#remembered.current(server, commit.basedOn[0]!);
    this.#remembered.forget(server);
    let etag: string | undefined;
    try {
      etag = await this.#results.writeAtomically(rows, commit.remove.map((ruleId) => resultKeys(server, ruleId)), 'committing server state');
    } catch (error) {
      if (current && error instanceof ConcurrencyConflictError) this.#remembered.committed(true);
      throw error;
    }
    if (fromMemory) this.#remembered.committed(false);
    // The row as a read would return it now: the written columns under their new ETag.
    const [only] = rows;
    if (only && etag !== undefined && rows.length === 1 && commit.remove.length === 0) this.#remembered.remember(server, { ...only.entity, etag });
  }

  /**
   * Makes every row of the server forget its verified-key tag, so the next post with any key reads
   * ServerKeys. Every row is rewritten, tagged or not: that changes each ETag, so an ingest that read
   * the partition before this (and checked its key before the revocation) fails its commit and
   * checks the key again. Call after ServerKeys says the key is revoked or replaced.
   */
  async clearKeyTags(server: string): Promise<void> {
    this.#remembered.forget(server);
    await this.ensureTables();
    const pk = encodeKey(server);
    const rowKeys = await this.#results.call('reading server state', async (t) => {
      const out: string[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey'] } })) out.push(String(e.rowKey));
      return out;
    });
    for (let i = 0; i < rowKeys.length; i += 100) {
      const tx = new TableTransaction();
      // No ETag: unconditional, so a concurrent commit cannot make the clear fail.
      for (const rowKey of rowKeys.slice(i, i + 100)) tx.updateEntity({ partitionKey: pk, rowKey, KeyTag: '' }, 'Merge');
      await this.#results.call('clearing key tags', (t) => t.submitTransaction(tx.actions));
    }
    this.#remembered.forget(server);
  }

  /** When the server's rows say it last posted: three columns of its handful of rows. */
  async seenRows(server: string): Promise<SeenRow[]> {
    const pk = encodeKey(server);
    return this.#results.call('reading last seen', async (t) => {
      const out: SeenRow[] = [];
      // A removed server has no results to be seen by: the stale timer forgets it.
      const rows = t.listEntities({ queryOptions: { filter: and(odata`PartitionKey eq ${pk}`, LIVE_RESULTS), select: ['LastSeen', 'SnapshotId', 'HostSyncedAt'] } });
      for await (const e of rows) out.push({ lastSeen: ms(e, 'LastSeen') ?? 0, snapshotId: str(e, 'SnapshotId'), hostSyncedAt: ms(e, 'HostSyncedAt') });
      return out;
    });
  }

  /**
   * The ids of servers whose id begins with `prefix` (at most `max`): one range query over the
   * Results partitions, reading only their keys. Finds `exch19.corp.contoso.com` for "exch19.".
   */
  serversWithPrefix(prefix: string, max: number): Promise<string[]> {
    // A removed server is no longer known by its host name among the servers that count.
    return this.#serversWithPrefix(prefix, max, LIVE_RESULTS);
  }

  /**
   * As serversWithPrefix, among the servers an admin removed (their partitions hold removal
   * markers): its history is still asked for by the name people knew it by.
   */
  removedServersWithPrefix(prefix: string, max: number): Promise<string[]> {
    return this.#serversWithPrefix(prefix, max, REMOVED_RESULTS);
  }

  /** Whether `id` is the id of a server that counts: a read of its own partition. */
  hasServer(id: string): Promise<boolean> {
    return this.#hasServer(id, LIVE_RESULTS);
  }

  /**
   * Whether `id` is the id of a removed server, by its own partition: a range read filtered on the
   * markers would page through every server whose id sorts after it before finding none.
   */
  hasRemovedServer(id: string): Promise<boolean> {
    return this.#hasServer(id, REMOVED_RESULTS);
  }

  /**
   * hasServer and hasRemovedServer in one read of the server's own partition: 'counts' when a row
   * of it is live, 'removed' when only removal markers are left, undefined when it holds nothing.
   */
  async serverStanding(id: string): Promise<'counts' | 'removed' | undefined> {
    await this.ensureTables();
    return this.#results.call('finding a server', async (t) => {
      let removed = false;
      for await (const e of t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${encodeKey(id)}`, select: ['Status'] } })) {
        if (e.Status !== REMOVED_STATUS) return 'counts';
        removed = true;
      }
      return removed ? 'removed' : undefined;
    });
  }

  async #hasServer(id: string, rows: string): Promise<boolean> {
    await this.ensureTables();
    const filter = and(odata`PartitionKey eq ${encodeKey(id)}`, rows);
    return this.#results.call('finding a server', async (t) => {
      for await (const _ of t.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) return true;
      return false;
    });
  }

  async #serversWithPrefix(prefix: string, max: number, rows: string): Promise<string[]> {
    await this.ensureTables();
    const { from, to } = prefixRange(prefix);
    const filter = and(odata`PartitionKey ge ${from} and PartitionKey lt ${to}`, rows);
    return this.#results.call('finding servers', async (t) => {
      const found = new Set<string>();
      for await (const e of t.listEntities({ queryOptions: { filter, select: ['Server'] } })) {
        const server = optStr(e, 'Server');
        if (server) found.add(server);
        if (found.size >= max) break;
      }
      return [...found].sort();
    });
  }

  // ---- queries --------------------------------------------------------------------------------

  /**
   * Current results, newest-agnostic order. With a server: that server's partition. With a rule or
   * statuses: the rule index (only matching rows are read). With neither: the whole Results table.
   * `ruleIds` lists the loaded rules, walked when statuses are given without a rule. With `lang`,
   * only the summary's columns are read, and the message in that language alone.
   */
  async listResults(filter: ResultFilter, ruleIds: readonly string[], top: number, token?: string, lang?: Lang): Promise<Page<ResultSummary>> {
    await this.ensureTables();
    const select = lang === undefined ? undefined : summaryColumns(lang);
    const query = queryId('results', { ...filter, ruleIds: filter.server ? undefined : ruleIds });
    const sinceFilter = filter.since === undefined ? undefined : `FirstSeen ge ${odataDate(filter.since)}`;

    if (filter.server !== undefined || (!filter.ruleId && !(filter.statuses && filter.statuses.length > 0))) {
      return this.#results.walk([resultRowsFilter(filter)], query, token, top, entityToSummary, select, loadedRule(ruleIds));
    }
    const rules = filter.ruleId ? [filter.ruleId] : [...ruleIds].sort();
    const statuses = filter.statuses && filter.statuses.length > 0 ? filter.statuses : this.statuses;
    const ranges = or(statuses.map((s) => odata`RowKey ge ${encodeKey(s) + '|'} and RowKey lt ${encodeKey(s) + '}'}`));
    const filters = rules.map((r) => and(odata`PartitionKey eq ${encodeKey(r)}`, ranges, sinceFilter));
    return this.#ruleIndex.walk(filters, query, token, top, entityToSummary, select);
  }

  /**
   * Every current result of the fleet's `ruleIds` with evidence, a page at a time (the CSV export;
   * a full scan by design, which `filter` narrows on the service's side, its `waived` aside). With
   * `select`, only those columns are read: the rest of each record is as for a row without them
   * (empty texts, no evidence, zero times).
   */
  async listAllResults(ruleIds: readonly string[], top: number, token?: string, select?: readonly string[], filter: ResultFilter = {}): Promise<Page<StoredResult>> {
    await this.ensureTables();
    return this.#results.walk([resultRowsFilter(filter)], queryId('results-all', { ...filter, ruleIds }), token, top, entityToResult, select && [...select], loadedRule(ruleIds));
  }
}

/**
 * Keeps the rows of `ruleIds`, the rules this instance loads: a retired rule's rows stay until each
 * server commits again, and a newer release's rule arrives before this instance knows it; the
 * summary counts neither, so the lists read the same rules. Filtered here rather than in the
 * query: Table storage allows only 15 comparisons in one filter.
 */
export function loadedRule(ruleIds: readonly string[]): (row: { ruleId: string }) => boolean {
  const loaded = new Set(ruleIds);
  return (row) => loaded.has(row.ruleId);
}

/** The row says its commit left no other row in the partition, under a rule set of `ruleIds`. */
function isAlone(row: StoredResult, ruleIds: readonly string[]): boolean {
  return ruleIds.length === 1 && row.ruleId === ruleIds[0] && row.partitionRules?.length === 1 && row.partitionRules[0] === ruleIds[0];
}

/** The Results table's live rows that match `filter` (its `waived` is the caller's to apply). */
function resultRowsFilter(filter: ResultFilter): string {
  return and(
    filter.server !== undefined ? odata`PartitionKey eq ${encodeKey(filter.server)}` : undefined,
    filter.ruleId ? odata`RuleId eq ${filter.ruleId}` : undefined,
    filter.statuses && filter.statuses.length > 0 ? or(filter.statuses.map((s) => odata`Status eq ${s}`)) : undefined,
    filter.since === undefined ? undefined : `FirstSeen ge ${odataDate(filter.since)}`,
    LIVE_RESULTS,
  );
}
