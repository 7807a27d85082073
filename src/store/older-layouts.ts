// The rows of the layouts before the buckets (History and Snapshots in a partition per server), as
// the layout migration reads, copies and deletes them, and the Lifecycle row that records the
// migration. Rows are read with their column types as stored, so a copy is the same entity under
// new keys: no column is dropped or retyped, whatever version wrote it.
import { odata, TableTransaction } from '@azure/data-tables';
import { dateTime, ms, str } from './columns';
import { bucketHistoryKeys, entityToRawMeta, OLDER_LAYOUT_RANGES, OLDER_LAYOUTS_STATE_KEYS, rawSlotKey, rawSlotRange, serverRange, snapshotPartition, type Entity } from './entities';
import { statusCodeOf } from './errors';
import type { PostureStore } from './posture-store';
import type { SiblingTable } from './sibling-table';
import type { RawSnapshotMeta } from './records';
import { MAX_TRANSACTION_ROWS, settleBounded, transactionChunks } from './transactions';

export type OlderLayoutTable = keyof typeof OLDER_LAYOUT_RANGES;
/** What a pass of the migration walks, in this order: History, Snapshots, then drift's old-layout members. */
export type LayoutMigrationTable = OlderLayoutTable | 'drift';

/** A place in a table's key order: after this row, or after the whole partition when `rowKey` is absent. */
export interface KeyPosition {
  readonly partitionKey: string;
  readonly rowKey?: string;
}

/** A row of an older layout: its keys and ETag, its columns as stored (to copy), and as the readers see them. */
export interface OlderRow {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly etag: string;
  /** The columns with their stored types, without keys, ETag or Timestamp. */
  readonly columns: Readonly<Record<string, unknown>>;
  /** The columns as plain values (DateTime as ISO text), for reading them. */
  readonly plain: Readonly<Record<string, unknown>>;
}

/** A key of a row to delete, under the ETag it was read with. */
export interface RowToDelete {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly etag: string;
}

/** What one of a server's bucket slots holds (no body), and its ETag. */
export interface SlotContent {
  readonly meta: RawSnapshotMeta;
  readonly etag: string;
}

/** What the Lifecycle row records. */
export interface OlderLayoutsState {
  /** Where the next run goes on; absent at the start of a pass. */
  readonly cursor?: { readonly table: LayoutMigrationTable; readonly after?: KeyPosition };
  /** When a run last found no row of the older layouts of History and Snapshots; absent while any is left. */
  readonly emptyAt?: number;
  /** When a run last found no drift member of the old layout; absent while any is left. */
  readonly driftEmptyAt?: number;
}

const RAW_META_COLUMNS = ['Server', 'SnapshotId', 'CollectedAt', 'ReceivedAt', 'ContentHash', 'RawBytes', 'RawStored'];
/** Deletes of one partition in flight at once. */
const PARALLEL = 4;

export class OlderLayoutStore {
  readonly #tables: Readonly<Record<OlderLayoutTable, SiblingTable>>;
  readonly #lifecycle: SiblingTable;

  constructor(store: PostureStore) {
    this.#tables = { history: store.siblingTable('history'), snapshots: store.siblingTable('snapshots') };
    this.#lifecycle = store.siblingTable('lifecycle');
  }

  /**
   * Up to `max` rows of the older layout of `table` after `after`, in key order: the rest of the
   * position's partition, then the partitions after it, below the buckets' partitions and above
   * them. `more`: rows may follow.
   */
  async listRows(table: OlderLayoutTable, after: KeyPosition | undefined, max: number, keysOnly = false): Promise<{ rows: OlderRow[]; more: boolean }> {
    const t = this.#tables[table];
    await t.ready();
    const { rest, later } = afterFilters(after);
    const ranges = OLDER_LAYOUT_RANGES[table];
    // The rest of the position's partition, when it is one of the older layout (always, unless the cursor was altered).
    const inRange = after !== undefined && ranges.some((range) => !('from' in range && after.partitionKey < range.from) && !('to' in range && after.partitionKey >= range.to));
    const filters = [
      ...(rest !== undefined && inRange ? [rest] : []),
      // A range wholly before the position holds nothing to read.
      ...ranges.filter((range) => !(after && 'to' in range && range.to <= after.partitionKey)).map((range) => [rangeFilter(range), later].filter((f): f is string => !!f).join(' and ')),
    ];
    const rows: OlderRow[] = [];
    for (const [i, filter] of filters.entries()) {
      let token: string | undefined;
      do {
        const page = await t.call(`listing ${table} rows of the older layout`, async (client) => {
          const pages = client
            .listEntities({ queryOptions: { filter, ...(keysOnly ? { select: ['PartitionKey', 'RowKey'] } : {}) }, disableTypeConversion: true })
            .byPage({ maxPageSize: max - rows.length, continuationToken: token });
          const next = await pages.next();
          return next.done ? undefined : next.value;
        });
        for (const e of page ?? []) rows.push(olderRow(e as Record<string, unknown>));
        token = page?.continuationToken;
      } while (token && rows.length < max);
      if (rows.length >= max) return { rows: rows.slice(0, max), more: token !== undefined || i < filters.length - 1 };
    }
    return { rows, more: false };
  }

  /** Every row of one partition of the older layout (a server's, whole). */
  async readPartition(table: OlderLayoutTable, partitionKey: string): Promise<OlderRow[]> {
    const t = this.#tables[table];
    await t.ready();
    return t.call(`reading ${table} rows of the older layout`, async (client) => {
      const out: OlderRow[] = [];
      for await (const e of client.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` }, disableTypeConversion: true })) out.push(olderRow(e as Record<string, unknown>));
      return out;
    });
  }

  /**
   * Copies History rows of the older layout to their keys in the buckets, the same columns (a
   * History row is the record of one change): one transaction per bucket (≤ 100 rows, bounded
   * bytes), a few at a time. An upsert, so copying again writes the same rows.
   */
  async copyHistoryRows(rows: readonly OlderRow[]): Promise<void> {
    const t = this.#tables.history;
    const entities = rows.map((r) => ({ ...r.columns, ...bucketHistoryKeys(r.partitionKey, r.rowKey) }) as Entity);
    await settleBounded(transactionChunks(entities), PARALLEL, async (chunk) => {
      const tx = new TableTransaction();
      for (const e of chunk) tx.upsertEntity(e, 'Replace');
      await t.call('copying history rows into the buckets', (client) => client.submitTransaction(tx.actions));
    });
  }

  /**
   * Deletes History rows of the older layout: a transaction per partition of up to 100 rows; one
   * refused because a row was gone already (another run) is done row by row. A History row records
   * one change and is never rewritten with other content, so no ETag is needed.
   * `gone`: removed by someone else first.
   */
  async deleteHistoryRows(rows: ReadonlyArray<{ readonly partitionKey: string; readonly rowKey: string }>): Promise<{ deleted: number; gone: number }> {
    const t = this.#tables.history;
    const counts = { deleted: 0, gone: 0 };
    const byPartition = new Map<string, { partitionKey: string; rowKey: string }[]>();
    for (const r of rows) byPartition.set(r.partitionKey, [...(byPartition.get(r.partitionKey) ?? []), r]);
    const chunks = [...byPartition.values()].flatMap((list) => Array.from({ length: Math.ceil(list.length / MAX_TRANSACTION_ROWS) }, (_, i) => list.slice(i * MAX_TRANSACTION_ROWS, (i + 1) * MAX_TRANSACTION_ROWS)));
    await settleBounded(chunks, PARALLEL, async (chunk) => {
      const tx = new TableTransaction();
      for (const r of chunk) tx.deleteEntity(r.partitionKey, r.rowKey);
      try {
        await t.call('deleting history rows of the older layout', (client) => client.submitTransaction(tx.actions));
        counts.deleted += chunk.length;
        return;
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
      for (const r of chunk) {
        const outcome = await this.#deleteOne('history', r);
        counts[outcome === 'deleted' ? 'deleted' : 'gone']++;
      }
    });
    return counts;
  }

  /**
   * Deletes one row; with `etag`, only if it is still as read. 'gone': removed by someone else
   * first; 'changed': rewritten since it was read, so left.
   */
  async #deleteOne(table: OlderLayoutTable, r: { readonly partitionKey: string; readonly rowKey: string; readonly etag?: string }): Promise<'deleted' | 'gone' | 'changed'> {
    try {
      await this.#tables[table].call(`deleting a ${table} row of the older layout`, (client) => client.deleteEntity(r.partitionKey, r.rowKey, r.etag ? { etag: r.etag } : {}));
      return 'deleted';
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 404) return 'gone';
      if (status === 412) return 'changed';
      throw error;
    }
  }

  /**
   * Deletes a raw row of the older layout only if it is still as read (its ETag): a deployment of
   * that layout still running could have written newer content to the same key since.
   */
  deleteRawRow(row: RowToDelete): Promise<'deleted' | 'gone' | 'changed'> {
    return this.#deleteOne('snapshots', row);
  }

  /** What each of the server's bucket slots holds (one range read, no bodies); a slot never written is absent. */
  async readSlots(server: string): Promise<Map<number, SlotContent>> {
    const t = this.#tables.snapshots;
    await t.ready();
    const range = rawSlotRange(server);
    const filter = odata`PartitionKey eq ${snapshotPartition(server)} and RowKey ge ${range.from} and RowKey lt ${range.to}`;
    return t.call('reading raw snapshot slots', async (client) => {
      const out = new Map<number, SlotContent>();
      for await (const e of client.listEntities({ queryOptions: { filter, select: ['RowKey', ...RAW_META_COLUMNS] } })) {
        const slot = /^slot(\d)$/.exec(String(e.rowKey).slice(serverRange(server).from.length))?.[1];
        if (slot !== undefined) out.set(Number(slot), { meta: entityToRawMeta(e), etag: String(e.etag) });
      }
      return out;
    });
  }

  /**
   * Copies an older-layout raw row into the server's `slot`, only if the slot is as it was read:
   * under its ETag, or created when it was empty (`etag` undefined). 'conflict': the slot was
   * written meanwhile (the projector, or another run).
   */
  async copyToSlot(row: OlderRow, server: string, slot: number, etag: string | undefined): Promise<'copied' | 'conflict'> {
    const entity = { ...row.columns, partitionKey: snapshotPartition(server), rowKey: serverRange(server).from + rawSlotKey(slot) };
    try {
      await this.#tables.snapshots.call('copying a raw snapshot into its slot', (client) => (etag === undefined ? client.createEntity(entity) : client.updateEntity(entity, 'Replace', { etag })));
      return 'copied';
    } catch (error) {
      if (refused(error)) return 'conflict';
      throw error;
    }
  }

  /** Rows left in the older layouts of both tables, counted by key up to `max` (keys only, a page per 1,000). */
  async count(max: number): Promise<number> {
    let n = 0;
    for (const table of ['history', 'snapshots'] as const) {
      if (n >= max) break;
      n += (await this.listRows(table, undefined, max - n, true)).rows.length;
    }
    return n;
  }

  async readState(): Promise<OlderLayoutsState> {
    const e = await readStateRow(this.#lifecycle);
    if (!e) return {};
    let cursor: OlderLayoutsState['cursor'];
    try {
      const parsed: unknown = JSON.parse(str(e, 'Cursor') || 'null');
      if (isCursor(parsed)) cursor = parsed;
    } catch {
      // An unreadable cursor starts a new pass: the rows moved so far are gone from the older layouts.
    }
    return { cursor, emptyAt: ms(e, 'EmptyAt'), driftEmptyAt: ms(e, 'DriftEmptyAt') };
  }

  /** Records the run (no ETag: a later run's record is as good as this one's). */
  async writeState(state: OlderLayoutsState, now: number): Promise<void> {
    await this.#lifecycle.ready();
    const entity = {
      ...OLDER_LAYOUTS_STATE_KEYS,
      Cursor: state.cursor ? JSON.stringify(state.cursor) : '',
      UpdatedAt: dateTime(now),
      ...(state.emptyAt === undefined ? {} : { EmptyAt: dateTime(state.emptyAt) }),
      ...(state.driftEmptyAt === undefined ? {} : { DriftEmptyAt: dateTime(state.driftEmptyAt) }),
    };
    await this.#lifecycle.call('recording the layout migration', (client) => client.upsertEntity(entity, 'Replace'));
  }
}

/** The Lifecycle row of the migration, or undefined (also what the History and raw-snapshot readers read for their marker, through RecordedEmpty). */
export async function readStateRow(lifecycle: SiblingTable): Promise<Record<string, unknown> | undefined> {
  await lifecycle.ready();
  return lifecycle.get(OLDER_LAYOUTS_STATE_KEYS.partitionKey, OLDER_LAYOUTS_STATE_KEYS.rowKey, 'reading the layout migration record');
}

/** A raw row of the older layout: which content it holds. */
export const olderRawMeta = (row: OlderRow): RawSnapshotMeta => entityToRawMeta(row.plain);

const refused = (error: unknown): boolean => {
  const status = statusCodeOf(error);
  return status === 404 || status === 409 || status === 412;
};

function rangeFilter(range: { readonly from?: string; readonly to?: string }): string {
  return [range.from === undefined ? undefined : odata`PartitionKey ge ${range.from}`, range.to === undefined ? undefined : odata`PartitionKey lt ${range.to}`].filter((f): f is string => !!f).join(' and ');
}

/**
 * Rows after a position in key order, as two filters each of which storage serves from its index:
 * `rest`, the rest of the position's partition (none when the position is after a whole
 * partition), and `later`, the partitions after it. One filter joining them with `or` spans
 * partitions, which storage may serve by scanning the table for every page.
 */
export function afterFilters(after: KeyPosition | undefined): { rest?: string; later?: string } {
  if (after === undefined) return {};
  const later = odata`PartitionKey gt ${after.partitionKey}`;
  if (after.rowKey === undefined) return { later };
  return { rest: odata`PartitionKey eq ${after.partitionKey} and RowKey gt ${after.rowKey}`, later };
}

function isCursor(v: unknown): v is NonNullable<OlderLayoutsState['cursor']> {
  if (!v || typeof v !== 'object') return false;
  const c = v as { table?: unknown; after?: { partitionKey?: unknown; rowKey?: unknown } };
  if (c.table !== 'history' && c.table !== 'snapshots' && c.table !== 'drift') return false;
  return c.after === undefined || (typeof c.after.partitionKey === 'string' && (c.after.rowKey === undefined || typeof c.after.rowKey === 'string'));
}

/**
 * A row read without type conversion: every column as `{ value, type }`. Numbers and booleans come
 * back as text; they are written back as numbers and booleans, DateTime, Int64 and Binary as
 * stored, so a copy keeps each column's type and precision.
 */
function olderRow(e: Record<string, unknown>): OlderRow {
  const columns: Record<string, unknown> = {};
  const plain: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(e)) {
    if (name === 'partitionKey' || name === 'rowKey' || name === 'etag' || name === 'timestamp' || name === 'odata.etag' || name === 'odata.metadata') continue;
    if (!v || typeof v !== 'object' || !('type' in v) || !('value' in v)) {
      columns[name] = v;
      plain[name] = v;
      continue;
    }
    const { type, value } = v as { type: string; value: string };
    if (type === 'String') columns[name] = plain[name] = value;
    else if (type === 'Boolean') columns[name] = plain[name] = String(value) === 'true';
    else if (type === 'Int32' || type === 'Double') {
      columns[name] = { value: Number(value), type };
      plain[name] = Number(value);
    } else {
      columns[name] = { value, type };
      plain[name] = type === 'Binary' ? new Uint8Array(Buffer.from(value, 'base64')) : value;
    }
  }
  return { partitionKey: String(e.partitionKey), rowKey: String(e.rowKey), etag: String(e.etag), columns, plain };
}
