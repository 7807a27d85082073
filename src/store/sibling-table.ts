// One table of the posture store, as each table's module uses it: created with the others, every
// call under the store's guard (SDK errors become the store's errors, and after an outage the
// tables are checked again), and the ways of reading and writing rows the modules share — a point
// read, an atomic write of one partition, bulk upserts, and a paged walk behind sealed tokens.
import { RestError, TableTransaction, type TableClient, type TransactionAction } from '@azure/data-tables';
import { InvalidContinuationTokenError, type Cursor, type CursorCodec } from './cursor';
import type { Entity } from './entities';
import { ConcurrencyConflictError, StorageUnavailableError, statusCodeOf, toStorageError } from './errors';
import type { Page } from './records';
import { settleBounded, transactionChunks } from './transactions';

/** Pages one request reads at most while it walks, so a request stays short. */
export const MAX_PAGE_FETCHES = 8;
/** Transactions of one bulk write in flight at once: enough to overlap round trips, without a burst of hundreds. */
export const WRITE_PARALLEL = 8;

/** How the store runs a storage call (its guard). */
export type GuardedCall = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

type PageQuery = NonNullable<Parameters<TableClient['listEntities']>[0]>['queryOptions'];

export class SiblingTable {
  readonly #client: TableClient;
  readonly #guard: GuardedCall;
  readonly #ready: () => Promise<void>;
  /** The store's codec: a token one of its tables sealed opens on any of them. */
  readonly cursors: CursorCodec;

  constructor(client: TableClient, guard: GuardedCall, ready: () => Promise<void>, cursors: CursorCodec) {
    this.#client = client;
    this.#guard = guard;
    this.#ready = ready;
    this.cursors = cursors;
  }

  /** Creates the tables once per process. */
  ready(): Promise<void> {
    return this.#ready();
  }

  call<T>(what: string, fn: (table: TableClient) => Promise<T>): Promise<T> {
    return this.#guard(what, () => fn(this.#client));
  }

  /** One row (a point read; only the `select` columns when given), or undefined when there is none. */
  async get(pk: string, rk: string, what: string, select?: string[]): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.call(what, (t) => t.getEntity(pk, rk, select ? { queryOptions: { select } } : {}));
    } catch (error) {
      if ((error instanceof RestError && error.statusCode === 404) || statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Rows of one partition written atomically: each created (no ETag) or replaced under its ETag,
   * and `remove` deleted. One row alone goes as a plain request — the same atomic, ETag-guarded
   * change as a one-operation transaction, without the multipart batch that costs both ends about
   * twice as much; more go as one transaction. A refusal is ConcurrencyConflictError. Returns the
   * new ETag of a row written alone.
   */
  async writeAtomically(
    rows: ReadonlyArray<{ readonly entity: Entity; readonly etag?: string }>,
    remove: ReadonlyArray<{ readonly partitionKey: string; readonly rowKey: string }>,
    what: string,
  ): Promise<string | undefined> {
    const [only] = rows;
    if (only && rows.length === 1 && remove.length === 0) {
      try {
        const res = await this.call(what, (t) => (only.etag ? t.updateEntity(only.entity, 'Replace', { etag: only.etag }) : t.createEntity(only.entity)));
        return res.etag;
      } catch (error) {
        throw asConflict(error, what);
      }
    }
    if (rows.length + remove.length === 0) return undefined;
    const tx = new TableTransaction();
    for (const { entity, etag } of rows) {
      if (etag) tx.updateEntity(entity, 'Replace', { etag });
      else tx.createEntity(entity);
    }
    for (const k of remove) tx.deleteEntity(k.partitionKey, k.rowKey);
    await this.submit(tx.actions, what);
    return undefined;
  }

  /** One entity-group transaction; a refused condition is ConcurrencyConflictError. */
  async submit(actions: TransactionAction[], what: string): Promise<void> {
    try {
      await this.call(what, (t) => t.submitTransaction(actions));
    } catch (error) {
      throw asConflict(error, what);
    }
  }

  /** Upserts rows in transactions by partition (≤ 100 rows, bounded bytes), WRITE_PARALLEL at a time. */
  async upsertRows(entities: readonly Entity[], what: string): Promise<void> {
    const chunks = transactionChunks(entities);
    await settleBounded(chunks, WRITE_PARALLEL, async (rows) => {
      const tx = new TableTransaction();
      for (const e of rows) tx.upsertEntity(e, 'Replace');
      await this.call(what, (t) => t.submitTransaction(tx.actions));
    });
  }

  /**
   * One page of a query, resumed at `resumeFrom` (the SDK's token). A resumed query storage cannot
   * continue (the data moved on) is the client's token at fault, not the service:
   * InvalidContinuationTokenError. Outages stay StorageUnavailableError.
   */
  page(what: string, queryOptions: PageQuery, maxPageSize: number, resumeFrom: string | undefined) {
    return this.call(what, async (t) => {
      try {
        // Building the iterator decodes the SDK token, so it stays inside the try.
        return await t.listEntities({ queryOptions }).byPage({ maxPageSize, continuationToken: resumeFrom }).next();
      } catch (error) {
        if (resumeFrom !== undefined && !(toStorageError(error, 'querying') instanceof StorageUnavailableError)) throw new InvalidContinuationTokenError('The continuation token no longer fits the data; repeat the query without it.');
        throw error;
      }
    });
  }

  /**
   * Walks `filters` (one per partition or the whole table) in order, returning at most `top` items
   * and a sealed token that resumes exactly after the last item returned. Pages may come back empty
   * with a token; a bounded number of fetches keeps one request short. `token` must be one the
   * store sealed for the same `query`, else InvalidContinuationTokenError (400) before any read.
   * `select`: only these columns are read (storage sends nothing else). `keep`: only the items it
   * accepts are returned (a page may then hold fewer than `top`; the token still resumes after the
   * last row read).
   */
  async walk<T>(
    filters: (string | undefined)[],
    query: string,
    token: string | undefined,
    top: number,
    map: (e: Record<string, unknown>) => T,
    select?: string[],
    keep: (item: T) => boolean = () => true,
  ): Promise<Page<T>> {
    const cursor: Cursor = await this.cursors.open(token, query);
    const items: T[] = [];
    let i = cursor.i;
    let sdkToken = cursor.t;
    let fetches = 0;
    while (i < filters.length && items.length < top && fetches < MAX_PAGE_FETCHES) {
      const f = filters[i];
      const next = await this.page('querying', { ...(f ? { filter: f } : {}), ...(select ? { select } : {}) }, top - items.length, sdkToken);
      fetches++;
      const page = next.done ? undefined : next.value;
      for (const e of page ?? []) {
        const item = map(e);
        if (keep(item)) items.push(item);
      }
      sdkToken = page?.continuationToken;
      if (!sdkToken) i++;
    }
    const more = i < filters.length;
    return { items, continuationToken: more ? await this.cursors.seal(query, { i, t: sdkToken }) : undefined };
  }
}

/** A refused conditional write (the row changed, exists already, or went) as ConcurrencyConflictError; anything else as it was. */
function asConflict(error: unknown, what: string): unknown {
  const status = statusCodeOf(error);
  if (status === 409 || status === 412 || status === 404) return new ConcurrencyConflictError(`Another writer changed the data while ${what}.`, { cause: error });
  return error;
}
