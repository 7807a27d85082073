// The Outbox table: work a commit owes the fleet-wide tables (events, history, rule index and
// counts, hosts, raw snapshots, alert records), written by the committing request just before its
// commit and drained in batches across servers by the projector.
//   PK 'entries', RK = server bucket|server|commit id — one entry per commit attempt; an attempt
//     that never commits leaves an entry the projector recognises (the commit id is not on the
//     server's rows) and drops. One partition, so the entries of concurrent requests are written
//     together (one transaction for a burst's waiting entries; storage takes 2,000 rows a second
//     per partition, far above a fleet's burst). The row key keeps one server's entries together,
//     earliest commit first (the projector relies on that), and a batch's servers in few of the
//     buckets the projector writes History, raw snapshots and Hosts by. Older versions wrote the
//     bucket as the partition (b00…b0f, RK = server|commit id): those sort first, so they are
//     listed and projected before any later entry of their server.
//   PK '~lease', RK 'projector' — who drains now, until when, and the lease's generation (higher
//     each time another owner takes it), ETag-guarded, so two instances do not project (and log
//     alert records) side by side, and one that lost the lease can tell.
//   PK '~held', RK as in 'entries' — entries the projector set aside: projecting one failed on its
//     own with an error that is not an outage (a bug, or an entry it cannot read). Kept with the
//     error until an operator requeues them; the listing of entries below '~' never reads them.
// The payload is opaque here (the projector's JSON), stored gzip in binary columns like raw bodies.
import { odata, TableTransaction } from '@azure/data-tables';
import { gunzipSync, gzipSync } from 'node:zlib';
import { bool, boundedText, dateTime, double, gzipColumnCount, gzipColumns, int32, MAX_GZIP_COLUMNS, ms, num, readGzipColumns, str } from './columns';
import { ConcurrencyConflictError, settleAll, statusCodeOf } from './errors';
import { SERVER_BUCKETS, type Entity } from './entities';
import { bucketOf, encodeKey } from './keys';
import type { PostureStore } from './posture-store';
import { SharedTransaction } from './shared-transaction';
import type { SiblingTable } from './sibling-table';
import { answeredAfterLostAnswer } from './client';

export interface OutboxEntry {
  readonly server: string;
  /** Unique per commit attempt; the commit writes it on the server's rows. */
  readonly commitId: string;
  /** When the request wrote the entry (its clock). */
  readonly writtenAt: number;
  /** The projector's JSON. */
  readonly payload: string;
}

export interface StoredOutboxEntry extends OutboxEntry {
  readonly etag: string;
  /** When storage last wrote the entry (its Timestamp): orders one server's entries, and dates an unconfirmed one. */
  readonly storedAt: number;
  /** Its keys as stored (an older version's entries are keyed otherwise). */
  readonly partitionKey: string;
  readonly rowKey: string;
  /** Put back from the held partition by an operator: projected after later changes of its server. */
  readonly requeued: boolean;
  /** Its commit was proven before it was held (its rows may have forgotten the commit id since). */
  readonly proven: boolean;
}

/** An entry the projector set aside, as an operator sees it. */
export interface HeldOutboxEntry {
  readonly server: string;
  readonly commitId: string;
  readonly writtenAt: number;
  readonly heldAt: number;
  /** Why projecting it failed (the error's first line). */
  readonly error: string;
  readonly proven: boolean;
}

/** The payload does not fit one entity (1 MiB); the caller stores less and writes the rest itself. */
export class OutboxEntryTooLargeError extends Error {
  override readonly name = 'OutboxEntryTooLargeError';
}

/** The entries' partition; older versions used OLDER_BUCKETS buckets of servers, which sort before it. */
const ENTRIES = 'entries';
const OLDER_BUCKETS = 16;
/**
 * An entry lives seconds, so it is compressed at the fastest level: for the benchmark's typical
 * entry (7 KB of JSON) about 40 % less CPU than the default level, for about a tenth more bytes.
 * Any gzip reader takes it, so the entries of every version read alike.
 */
const ENTRY_GZIP = { level: 1 } as const;
const LEASE = { partitionKey: '~lease', rowKey: 'projector' } as const;
const HELD = '~held';
/** Held entries moved back per requeue call (two storage calls each). */
const REQUEUE_MAX = 500;

const chunkName = (i: number) => `PayloadGzip${String(i).padStart(2, '0')}`;
const rowKeyOf = (server: string, commitId: string) => `${encodeKey(server)}|${encodeKey(commitId)}`;
export const outboxKeys = (server: string, commitId: string) => ({ partitionKey: ENTRIES, rowKey: `${bucketOf(server, SERVER_BUCKETS)}|${rowKeyOf(server, commitId)}` });
/** Where an older version wrote the entry. */
const olderKeys = (server: string, commitId: string) => ({ partitionKey: bucketOf(server, OLDER_BUCKETS), rowKey: rowKeyOf(server, commitId) });

export class OutboxStore {
  readonly #table: SiblingTable;
  readonly #entries: SharedTransaction;
  constructor(store: PostureStore) {
    const table = store.siblingTable('outbox');
    this.#table = table;
    // One name for both paths: a failed transaction's rows go again one by one, so only a row's failure is reported.
    const what = 'writing the outbox';
    this.#entries = new SharedTransaction({
      one: (entity) => table.call(what, (t) => t.upsertEntity(entity, 'Replace')).then(() => undefined),
      many: (actions) => table.call(what, (t) => t.submitTransaction(actions)).then(() => undefined),
    });
  }

  /** Writes (or rewrites) one entry: one upsert, shared with the entries other requests write meanwhile. */
  async put(entry: OutboxEntry): Promise<void> {
    await this.#entries.upsert(entryEntity(entry, outboxKeys(entry.server, entry.commitId)));
  }

  /**
   * Sets one entry aside with the error its projection failed with: copied to the held partition
   * first, then removed, so a crash in between leaves it in both places (projected or held again
   * on the next run), never in neither. Removed only as it was listed: an entry written again
   * meanwhile (a requeue of its held copy) stays for the next run.
   */
  async hold(entry: StoredOutboxEntry, error: string, proven: boolean, now: number): Promise<void> {
    const held = { ...entryEntity(entry, { partitionKey: HELD, rowKey: outboxKeys(entry.server, entry.commitId).rowKey }), HeldError: boundedText(error, 2000), HeldAt: dateTime(now), Proven: proven };
    await this.#table.call('setting an outbox entry aside', (t) => t.upsertEntity(held, 'Replace'));
    await this.#deleteAsRead(entry.partitionKey, entry.rowKey, entry.etag, 'setting an outbox entry aside');
  }

  /** Deletes a row only as it was read: gone, or written again since (412), it is left to whoever moved it. */
  async #deleteAsRead(pk: string, rk: string, etag: string, what: string): Promise<void> {
    try {
      await this.#table.call(what, (t) => t.deleteEntity(pk, rk, { etag }));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== 404 && status !== 412 && !(error instanceof ConcurrencyConflictError)) throw error;
    }
  }

  /** The entries set aside, oldest commit first within each server (keys only and the error, not the payloads). */
  async listHeld(max: number): Promise<HeldOutboxEntry[]> {
    await this.#table.ready();
    return this.#table.call('reading held outbox entries', async (t) => {
      const out: HeldOutboxEntry[] = [];
      const select = ['Server', 'CommitId', 'WrittenAt', 'HeldAt', 'HeldError', 'Proven'];
      for await (const e of t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${HELD}`, select } })) {
        if (out.length >= max) break;
        out.push({ server: str(e, 'Server'), commitId: str(e, 'CommitId'), writtenAt: ms(e, 'WrittenAt') ?? 0, heldAt: ms(e, 'HeldAt') ?? 0, error: str(e, 'HeldError'), proven: bool(e, 'Proven') });
      }
      return out;
    });
  }

  /**
   * Puts held entries back in the outbox (after a fix is deployed), up to REQUEUE_MAX a call:
   * each is written back first, then its held row goes, so a crash leaves a copy, not a loss.
   * Read a few at a time (an entry's payload can near a megabyte). `more`: some are still held.
   */
  async requeueHeld(): Promise<{ requeued: number; more: boolean }> {
    await this.#table.ready();
    return this.#table.call('requeueing held outbox entries', async (t) => {
      let requeued = 0;
      for await (const page of t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${HELD}` } }).byPage({ maxPageSize: 10 })) {
        for (const row of page) {
          if (requeued >= REQUEUE_MAX) return { requeued, more: true };
          const entry = toEntry(row);
          await t.upsertEntity({ ...entryEntity(entry, outboxKeys(entry.server, entry.commitId)), Requeued: true, Proven: bool(row, 'Proven') }, 'Replace');
          // The projector may have held it again meanwhile (a new held row): that one stays.
          await this.#deleteAsRead(HELD, str(row, 'rowKey'), String(row.etag), 'requeueing held outbox entries');
          requeued++;
        }
      }
      return { requeued, more: false };
    });
  }

  /** Whether the entry of one commit attempt is still waiting (a point read of its keys only, not its payload). */
  async has(server: string, commitId: string): Promise<boolean> {
    await this.#table.ready();
    for (const k of [outboxKeys(server, commitId), olderKeys(server, commitId)]) {
      if ((await this.#table.get(k.partitionKey, k.rowKey, 'reading the outbox', ['RowKey'])) !== undefined) return true;
    }
    return false;
  }

  /**
   * Whether accepted changes are still waiting to be counted (the summary's countsPending): one
   * listing of at most one entity, keys only, below the lease partition, so the lease row alone is
   * not pending and held entries are ('~held' sorts before it: their changes are not counted). A
   * first page that comes back empty but with a continuation token (the service stopped early,
   * which Azure may do at a partition boundary) counts as pending: storage has not said the outbox
   * is empty, and following the token would cost a second round trip.
   */
  async changesWaiting(): Promise<boolean> {
    await this.#table.ready();
    return this.#table.call('reading the outbox', async (t) => {
      const pages = t.listEntities({ queryOptions: { filter: odata`PartitionKey lt ${LEASE.partitionKey}`, select: ['PartitionKey'] } }).byPage({ maxPageSize: 1 });
      const first = await pages.next();
      // Stryker disable next-line ConditionalExpression,BooleanLiteral: the SDK yields a first page even when it is empty, so the pages never end before it.
      if (first.done) return false;
      return first.value.length > 0 || Boolean(first.value.continuationToken);
    });
  }

  /**
   * How long the entries still waiting have waited: the oldest storage time (Timestamp: when the
   * entry was written, or put back by a requeue) among at most `max` of them, with its server.
   * Keys order entries by server, not by time, so the oldest can be anywhere: this reads the
   * entries' keys, server and Timestamp only (no payload), in key order, and stops after `max`;
   * `more` then says some were not read, and the age is the oldest of those that were (a lower
   * bound). Held entries and the lease row are not waiting.
   */
  async oldestWaiting(max: number): Promise<{ entries: number; more: boolean; oldest?: { storedAt: number; server: string } }> {
    await this.#table.ready();
    return this.#table.call('reading the outbox', async (t) => {
      let entries = 0;
      let oldest: { storedAt: number; server: string } | undefined;
      const filter = odata`PartitionKey lt ${'~'}`;
      const select = ['Server', 'Timestamp', 'WrittenAt'];
      for await (const page of t.listEntities({ queryOptions: { filter, select } }).byPage({ maxPageSize: Math.min(1000, max) })) {
        for (const e of page) {
          if (entries >= max) return { entries, more: true, oldest };
          entries++;
          const storedAt = storedAtOf(e);
          if (!oldest || storedAt < oldest.storedAt) oldest = { storedAt, server: str(e, 'Server') };
        }
        // Read as many as allowed: whether others follow is the page's token, not another round trip.
        if (entries >= max && page.continuationToken) return { entries, more: true, oldest };
      }
      return { entries, more: false, oldest };
    });
  }

  /** Removes one entry, whatever its state (an attempt that will not commit cleans up after itself). */
  async deleteOne(server: string, commitId: string): Promise<void> {
    const k = outboxKeys(server, commitId);
    try {
      await this.#table.call('clearing the outbox', (t) => t.deleteEntity(k.partitionKey, k.rowKey));
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  /**
   * Up to `max` entries, every bucket, in key order (so one server's entries come together), and
   * no more once their payloads reach `maxBytes` (characters; at least one entry): a batch is held
   * in memory, and entries carry raw bodies of up to a megabyte.
   */
  async list(max: number, maxBytes = Infinity): Promise<StoredOutboxEntry[]> {
    await this.#table.ready();
    return this.#table.call('reading the outbox', async (t) => {
      const out: StoredOutboxEntry[] = [];
      let bytes = 0;
      const filter = odata`PartitionKey lt ${'~'}`;
      for await (const page of t.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(1000, max) })) {
        for (const e of page) {
          if (out.length >= max || (out.length > 0 && bytes >= maxBytes)) return out;
          const entry = toEntry(e);
          out.push(entry);
          bytes += entry.payload.length;
        }
        if (out.length >= max || bytes >= maxBytes) break;
      }
      return out;
    });
  }

  /**
   * Removes entries the projector has finished: one transaction per partition and 100 entries. An
   * entry is final once its commit is proven (its request never writes it again) or once it is
   * past the grace an attempt has to commit, so no ETag is needed. Returns how many this call
   * removed, one whose answer was lost included (not those another removed meanwhile).
   */
  async remove(entries: ReadonlyArray<Pick<OutboxEntry, 'server' | 'commitId'> & Partial<Pick<StoredOutboxEntry, 'partitionKey' | 'rowKey'>>>): Promise<number> {
    const byPartition = new Map<string, string[]>();
    for (const e of entries) {
      const k = e.partitionKey !== undefined && e.rowKey !== undefined ? { partitionKey: e.partitionKey, rowKey: e.rowKey } : outboxKeys(e.server, e.commitId);
      byPartition.set(k.partitionKey, [...(byPartition.get(k.partitionKey) ?? []), k.rowKey]);
    }
    let removed = 0;
    /** 1 when this call removed the row. */
    const one = async (pk: string, rk: string): Promise<number> => {
      try {
        await this.#table.call('clearing the outbox', (t) => t.deleteEntity(pk, rk));
        return 1;
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
        // A resend after a lost answer finds its own delete done: this call removed it.
        return answeredAfterLostAnswer(error) ? 1 : 0;
      }
    };
    await settleAll(
      [...byPartition].map(async ([pk, rowKeys]) => {
        for (let i = 0; i < rowKeys.length; i += 100) {
          const chunk = rowKeys.slice(i, i + 100);
          const tx = new TableTransaction();
          for (const rk of chunk) tx.deleteEntity(pk, rk);
          try {
            await this.#table.call('clearing the outbox', (t) => t.submitTransaction(tx.actions));
            removed += chunk.length;
          } catch (error) {
            if (statusCodeOf(error) !== 404) throw error;
            // One of them went meanwhile (a run that stopped after removing it): the rest one by one.
            let went = 0;
            for (const rk of chunk) went += await one(pk, rk);
            // Or the transaction landed and lost its answer, and its resend found them gone: none
            // was left to go one by one, and every one went by this call.
            removed += went === 0 && answeredAfterLostAnswer(error) ? chunk.length : went;
          }
        }
      }),
    );
    return removed;
  }

  /**
   * Takes (or renews) the projector's lease until `until`; false while another owner holds an
   * unexpired one. The ETag makes two takers of a free lease race for it: one wins.
   */
  async takeLease(owner: string, now: number, until: number): Promise<boolean> {
    return (await this.holdLease(owner, now, until)) !== undefined;
  }

  /**
   * takeLease, answering the lease's generation: the same while one owner keeps renewing it, and
   * higher whenever someone else takes it (after a release or a lapse), so an owner whose lease
   * passed through other hands and came back can tell. Higher than the stored one and at least the
   * time in ms: should the row lose its generation (an older release rewrote it), the next one is
   * still above those written before, unless this clock is behind theirs. `above`: a generation
   * the rule index showed (written under it) that this owner's must exceed, even if it keeps the
   * lease — otherwise its writes would be refused for as long as it renews. Undefined: another
   * owner holds it.
   */
  async holdLease(owner: string, now: number, until: number, above = 0): Promise<number | undefined> {
    await this.#table.ready();
    const current = await this.#table.get(LEASE.partitionKey, LEASE.rowKey, 'reading the projector lease');
    if (current && str(current, 'Owner') !== owner && (ms(current, 'Until') ?? 0) > now) return undefined;
    const held = num(current ?? {}, 'Generation') ?? 0;
    // Above `above` (a generation, never negative), so never 0: a row without a generation is not kept.
    const keeps = current && str(current, 'Owner') === owner && held > above;
    const generation = keeps ? held : Math.max(held + 1, Math.floor(now), Math.floor(above) + 1);
    return (await this.#writeLease(current, owner, until, generation)) ? generation : undefined;
  }

  /**
   * Extends the lease of `owner` at `generation` to `until`; false once anyone else took it since
   * (even if it lapsed and nobody holds it now: whoever took it may have written in between).
   */
  async renewLease(owner: string, generation: number, until: number): Promise<boolean> {
    const current = await this.#table.get(LEASE.partitionKey, LEASE.rowKey, 'reading the projector lease');
    if (!current || str(current, 'Owner') !== owner || (num(current, 'Generation') ?? 0) !== generation) return false;
    return this.#writeLease(current, owner, until, generation);
  }

  /**
   * Writes the lease row under the ETag it was read with; false when someone wrote it meanwhile.
   * A write whose answer was lost after it landed (a dropped connection) is sent again by the SDK
   * and meets its own ETag: the row then holds exactly this owner, generation and time, which
   * nobody else writes, so it is this write and the lease is held, not lost.
   */
  async #writeLease(current: Record<string, unknown> | undefined, owner: string, until: number, generation: number): Promise<boolean> {
    const entity = { ...LEASE, Owner: owner, Until: dateTime(until), Generation: double(generation) };
    try {
      if (current) await this.#table.call('taking the projector lease', (t) => t.updateEntity(entity, 'Replace', { etag: String(current.etag) }));
      else await this.#table.call('taking the projector lease', (t) => t.createEntity(entity));
      return true;
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== 409 && status !== 412 && !(error instanceof ConcurrencyConflictError)) throw error;
      const now = await this.#table.get(LEASE.partitionKey, LEASE.rowKey, 'reading the projector lease');
      return now !== undefined && str(now, 'Owner') === owner && num(now, 'Generation') === generation && ms(now, 'Until') === until;
    }
  }

  /** Gives the lease back early (only if still ours), so another instance need not wait for it to lapse. */
  async releaseLease(owner: string): Promise<void> {
    try {
      const current = await this.#table.call(
        // Stryker disable next-line StringLiteral: the name of a call whose failure is kept quiet.
        'reading the projector lease',
        (t) => t.getEntity(LEASE.partitionKey, LEASE.rowKey),
      );
      if (str(current, 'Owner') !== owner) return;
      const generation = double(num(current, 'Generation') ?? 0);
      await this.#table.call(
        // Stryker disable next-line StringLiteral: the name of a call whose failure is kept quiet.
        'releasing the projector lease',
        (t) => t.updateEntity({ ...LEASE, Owner: '', Until: dateTime(0), Generation: generation }, 'Replace', { etag: String(current.etag) }),
      );
    } catch {
      // It lapses on its own.
    }
  }
}

/** An entry's columns under `keys`: its payload gzip, in as many binary columns as it needs. */
function entryEntity(entry: OutboxEntry, keys: { partitionKey: string; rowKey: string }): Entity {
  // Stryker disable next-line StringLiteral: an empty encoding name is Buffer's default, UTF-8.
  const gz = gzipSync(Buffer.from(entry.payload, 'utf8'), ENTRY_GZIP);
  const chunks = gzipColumnCount(gz);
  if (chunks > MAX_GZIP_COLUMNS) throw new OutboxEntryTooLargeError(`An outbox entry of ${gz.length} gzip bytes does not fit one entity.`);
  return { ...keys, Server: entry.server, CommitId: entry.commitId, WrittenAt: dateTime(entry.writtenAt), PayloadChunks: int32(chunks), ...gzipColumns(gz, chunkName) };
}

/** When storage last wrote the entry (its Timestamp; the request's WrittenAt if storage gave none). */
function storedAtOf(e: Record<string, unknown>): number {
  const stamp = e.timestamp ?? e.Timestamp;
  return typeof stamp === 'string' ? Date.parse(stamp) : stamp instanceof Date ? stamp.getTime() : (ms(e, 'WrittenAt') ?? 0);
}

function toEntry(e: Record<string, unknown>): StoredOutboxEntry {
  const n = num(e, 'PayloadChunks') ?? 0;
  const gz = n > 0 ? readGzipColumns(e, chunkName, n) : undefined;
  return {
    server: str(e, 'Server'),
    commitId: str(e, 'CommitId'),
    writtenAt: ms(e, 'WrittenAt') ?? 0,
    payload: gz ? gunzipSync(gz).toString('utf8') : '',
    etag: String(e.etag ?? ''),
    storedAt: storedAtOf(e),
    partitionKey: str(e, 'partitionKey'),
    rowKey: str(e, 'rowKey'),
    requeued: bool(e, 'Requeued'),
    proven: bool(e, 'Proven'),
  };
}
