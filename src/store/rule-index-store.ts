// The RuleIndex table: per rule, which servers hold which status, and per-status counters, so a
// rule's failing servers and the fleet summary are read without scanning Results.
//   PK = rule id, RK = status|server — a member: the server's current row of the rule
//   PK = rule id, RK = counts row of a shard — per-status counters of the servers in one of 16
//     shards, rewritten under its ETag with every membership change, so moves never count twice,
//     and the projector lease generation that wrote it last (a fence: see applyIndexMoves).
// Written by the projector after the commit (index moves, and leaves when a rule left the rule
// set), read by the summary and by queries by rule or status.
import { odata, TableTransaction } from '@azure/data-tables';
import { backOff, CONTENDED_ATTEMPTS } from './contention';
import { COUNTS_RANGE, countsRowKey, countsToEntity, entityToCounts, entityToIndex, indexRowKey, indexToEntity, type Entity } from './entities';
import { ConcurrencyConflictError, settleAll } from './errors';
import { and, or } from './filters';
import { bucketOf, encodeKey } from './keys';
import type { PostureStore } from './posture-store';
import { fenced, stampOwed } from './projector-fence';
import type { IndexRecord } from './records';
import type { SiblingTable } from './sibling-table';
import { chunksWithin, requestBytes } from './transactions';
import { LANGUAGES } from '../rules/types';

/** The rule index must hold `record` for its server; `from` is the status of the server's row there now (none: no row). */
export interface IndexMove {
  readonly record: IndexRecord;
  readonly from?: string;
  /** Where the server's row is now is not known: read it first (syncIndex). */
  readonly reread?: boolean;
}

/**
 * The server leaves the rule's index: the rule left the rule set, and the commit removed the
 * server's Results row for it. Its row goes, its count with it, and nothing takes its place.
 */
export interface IndexLeave {
  readonly leave: true;
  readonly ruleId: string;
  readonly server: string;
  /** The status of the server's row there now; absent: not known, so its rows are read first. */
  readonly from?: string;
  /** The snapshot of the commit that removed the row: a row from a newer one (the rule came back since) stays. */
  readonly sourceSnapshotId: string;
  readonly sourceCollectedAt: number;
}

export type IndexChange = IndexMove | IndexLeave;

/**
 * What the server's Results row of the rule (the source of truth) says the index must hold: its
 * record, or null when the server must not be counted (no row: the rule left the rule set, or a
 * removal marker). Consulted only where a move is read and compared, never on the batched path.
 */
export type IndexTruth = (ruleId: string, server: string) => Promise<IndexRecord | null>;

/** The server and rule a change is about, and the snapshot it comes from. */
const subjectOf = (c: IndexChange): Pick<IndexRecord, 'ruleId' | 'server' | 'sourceSnapshotId' | 'sourceCollectedAt'> => ('leave' in c ? c : c.record);

/**
 * Counts rows per rule. One row serialised every status change of a rule: at 32 concurrent
 * changes the benchmark measured 10 snapshots/s and 38% of posts failing after 8 attempts.
 */
export const COUNT_SHARDS = 16;
/** Servers per index transaction: a delete and an upsert each, plus the shard's counts row, within 100 operations. */
const MOVES_PER_TRANSACTION = 49;
/** What a move's delete and the shard's counts row add to a transaction's payload, beside its member row. */
const MOVE_OVERHEAD_BYTES = 2048;

/**
 * Moves in transactions of at most MOVES_PER_TRANSACTION servers and MAX_TRANSACTION_BYTES: a
 * member row carries the rule's messages, up to 32,000 characters per language, so 49 of them can
 * pass the 4 MiB storage takes in one request.
 */
function moveChunks(moves: readonly IndexChange[]): IndexChange[][] {
  return chunksWithin(moves, (m) => MOVE_OVERHEAD_BYTES + ('leave' in m ? 0 : requestBytes(indexToEntity(m.record))), MOVES_PER_TRANSACTION);
}
/**
 * The counts row to write, fenced (projector-fence.ts). Every membership change rewrites its
 * shard's counts row under the ETag it was read with, so checking the row read is enough: one
 * written since fails the transaction instead.
 */
const INDEX_TABLE = 'the rule index';
const fencedCounts = (entity: Entity, read: Record<string, unknown> | undefined, fence: number | undefined): Entity => fenced(entity, read, fence, INDEX_TABLE);

export class RuleIndexStore {
  readonly #ruleIndex: SiblingTable;
  /** Every status value, in display order: one counter column each. */
  readonly #statuses: readonly string[];

  constructor(store: PostureStore) {
    this.#ruleIndex = store.siblingTable('ruleIndex');
    this.#statuses = store.statuses;
  }

  /** Per-status counts of each rule, kept as results are written (one range query per rule over its counts rows). */
  async getRuleCounts(ruleIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
    await this.#ruleIndex.ready();
    const entries = await Promise.all(
      ruleIds.map(async (id) => {
        const filter = odata`PartitionKey eq ${encodeKey(id)} and RowKey ge ${COUNTS_RANGE.from} and RowKey lt ${COUNTS_RANGE.to}`;
        const total = new Map(this.#statuses.map((s) => [s, 0]));
        await this.#ruleIndex.call('reading rule counts', async (t) => {
          for await (const e of t.listEntities({ queryOptions: { filter } })) {
            for (const [s, n] of entityToCounts(e, this.#statuses)) total.set(s, (total.get(s) ?? 0) + n);
          }
        });
        return [id, total] as const;
      }),
    );
    return new Map(entries);
  }

  /**
   * Makes the rule index hold the change's record as the server's row for its rule (a leave: no
   * row), unless it already holds a row from a newer snapshot. Membership and the rule's counters
   * change in one transaction.
   */
  async #syncIndex(change: IndexChange, expectedStatus: string | undefined, fence: number | undefined): Promise<void> {
    const subject = subjectOf(change);
    // Stryker disable next-line StringLiteral: a leave has no record, so `change.record` is undefined for it either way.
    const record = 'leave' in change ? undefined : change.record;
    const pk = encodeKey(subject.ruleId);
    const countsKey = countsRowKey(bucketOf(subject.server, COUNT_SHARDS));
    for (let attempt = 0; attempt < CONTENDED_ATTEMPTS; attempt++) {
      const rows = await this.#readIndexRows(pk, countsKey, subject.server, expectedStatus);
      const countsRow = rows.find((r) => r.rowKey === countsKey);
      const members = rows.filter((r) => r.rowKey !== countsKey).map((r) => ({ rowKey: String(r.rowKey), rec: entityToIndex(r) }));
      const newer = members.some(
        (m) => m.rec.sourceCollectedAt > subject.sourceCollectedAt || (m.rec.sourceCollectedAt === subject.sourceCollectedAt && m.rec.sourceSnapshotId > subject.sourceSnapshotId),
      );
      const targetKey = record && indexRowKey(record.status, record.server);
      const only = members.length === 1 ? members[0] : undefined;
      // The server's one row holds the record already (its key follows from the status compared).
      const same = record !== undefined && only !== undefined && sameIndex(only.rec, record);
      // Nothing to move: a newer row is there, the row already, a leave already applied, or a
      // server the index never held. A fenced writer still stamps the counts row (stampOwed).
      const nothing = newer || same || (!record && members.length === 0);
      if (nothing && !stampOwed(countsRow, fence, INDEX_TABLE)) return;

      const counts = countsRow ? entityToCounts(countsRow, this.#statuses) : new Map(this.#statuses.map((s) => [s, 0]));
      const tx = new TableTransaction();
      if (!nothing) {
        let moved = true;
        for (const m of members) {
          if (m.rowKey === targetKey) {
            moved = false;
            continue;
          }
          tx.deleteEntity(pk, m.rowKey);
          counts.set(m.rec.status, Math.max(0, (counts.get(m.rec.status) ?? 0) - 1));
        }
        if (record) {
          tx.upsertEntity(indexToEntity(record), 'Replace');
          if (moved) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
        }
      }
      const countsEntity = fencedCounts(countsToEntity(subject.ruleId, counts, countsKey), countsRow, fence);
      // The counts row's ETag serialises every membership change of this rule.
      if (countsRow) tx.updateEntity(countsEntity, 'Replace', { etag: String(countsRow.etag) });
      else tx.createEntity(countsEntity);
      try {
        await this.#ruleIndex.submit(tx.actions, 'updating the rule index');
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        await backOff(attempt);
      }
    }
    throw new ConcurrencyConflictError(`The rule index for ${subject.ruleId} stayed contended after ${CONTENDED_ATTEMPTS} attempts.`);
  }

  /**
   * Moves many servers' rows of one rule at once: per counts shard, transactions of up to 49
   * servers and 4 MiB (delete the row at `from`, write the new one; a leave only deletes) with the shard's
   * counts row under its ETag. When a transaction finds the index not where the changes say (a row
   * missing, or already there: a change replayed), or the counts row changed since it was read
   * (another writer: the projector is meant to be the only one, so that one may have moved these
   * servers further), its servers go one by one through syncIndex, which reads and compares: a
   * blind retry could put back rows older than those the other writer left.
   *
   * `fence` is the writer's projector lease generation: a counts row written under a later one
   * makes this call throw LeaseLostError before it writes (a projector whose lease lapsed in a long
   * batch must not undo what the next one did). A move read and compared that finds nothing to do
   * still stamps its shard's counts row, so a stale first join sent after it is refused too (the
   * first join and removal of a server in one batch merge into such a move). Left out: no check,
   * and the stored fence is kept.
   *
   * `truth` is asked, for each move that is read and compared, where the server's Results row puts
   * it: a move that finds no member may be a stale one after its server left (removed, or the rule
   * left the rule set), and nothing in the index tells that from a first join.
   */
  async applyIndexMoves(ruleId: string, changes: readonly IndexChange[], fence?: number, truth?: IndexTruth): Promise<void> {
    await this.#ruleIndex.ready();
    const pk = encodeKey(ruleId);
    // Per shard: the moves that say where the server's row is now, then those that must read it
    // first (after, not beside them: both rewrite the shard's counts row, and a transaction that
    // finds it changed since it was read falls back to reading every one of its servers).
    const byShard = new Map<string, { quick: IndexChange[]; reread: IndexChange[] }>();
    const unknown = (c: IndexChange) => ('leave' in c ? c.from === undefined : c.reread === true);
    for (const c of changes) {
      const key = countsRowKey(bucketOf(subjectOf(c).server, COUNT_SHARDS));
      const shard = byShard.get(key) ?? { quick: [], reread: [] };
      (unknown(c) ? shard.reread : shard.quick).push(c);
      byShard.set(key, shard);
    }
    const sync = async (m: IndexChange, expected: string | undefined) => this.#syncIndex(await asTruthSays(m, truth), expected, fence);
    const shard = async (countsKey: string, { quick, reread }: { quick: readonly IndexChange[]; reread: readonly IndexChange[] }) => {
      for (const chunk of moveChunks(quick)) {
        if (!(await this.#moveChunk(pk, ruleId, countsKey, chunk, fence))) for (const m of chunk) await sync(m, m.from);
      }
      await settleAll(reread.map((m) => sync(m, undefined)));
    };
    await settleAll([...byShard].map(([key, list]) => shard(key, list)));
  }

  /**
   * One transaction of moves whose servers' rows are where the moves say, with the shard's counts
   * row under the ETag it was read with. False when storage refused it: a member not where a move
   * says, or the counts row rewritten since it was read — the index is not what these moves assumed.
   */
  async #moveChunk(pk: string, ruleId: string, countsKey: string, chunk: readonly IndexChange[], fence: number | undefined): Promise<boolean> {
    const countsRow = await this.#ruleIndex.get(pk, countsKey, 'reading the rule index');
    const counts = countsRow ? entityToCounts(countsRow, this.#statuses) : new Map(this.#statuses.map((s) => [s, 0]));
    const tx = new TableTransaction();
    for (const m of chunk) {
      if ('leave' in m) {
        // Only a delete: a replay finds the row gone, and the transaction fails into a read.
        const from = m.from!;
        tx.deleteEntity(pk, indexRowKey(from, m.server));
        counts.set(from, Math.max(0, (counts.get(from) ?? 0) - 1));
        continue;
      }
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
    const countsEntity = fencedCounts(countsToEntity(ruleId, counts, countsKey), countsRow, fence);
    if (countsRow) tx.updateEntity(countsEntity, 'Replace', { etag: String(countsRow.etag) });
    else tx.createEntity(countsEntity);
    try {
      await this.#ruleIndex.submit(tx.actions, 'updating the rule index');
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
      return false;
    }
  }

  /**
   * The rule's counts row for the server's shard and the server's member rows. When the caller
   * knows where the server's row should be (`expectedStatus`), two point reads find it; otherwise,
   * or when it is not there (a new server, an index that lags), one query reads every status.
   */
  async #readIndexRows(pk: string, countsKey: string, server: string, expectedStatus?: string): Promise<Record<string, unknown>[]> {
    if (expectedStatus !== undefined) {
      const read = (rk: string) => this.#ruleIndex.get(pk, rk, 'reading the rule index');
      const [counts, member] = await Promise.all([read(countsKey), read(indexRowKey(expectedStatus, server))]);
      // Every membership change rewrites the shard's counts row under its ETag and leaves one
      // member row per server, so the row found is the server's only one.
      if (member) return counts ? [counts, member] : [member];
    }
    const keys = [countsKey, ...this.#statuses.map((s) => indexRowKey(s, server))];
    const filter = and(odata`PartitionKey eq ${pk}`, or(keys.map((k) => odata`RowKey eq ${k}`)));
    return this.#ruleIndex.call('reading the rule index', async (t) => {
      const out: Record<string, unknown>[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) out.push(e);
      return out;
    });
  }
}

/**
 * The change a read-and-compare applies for `c`: a move becomes what the server's Results row says
 * (its record, or a leave from the move's snapshot when the row is gone or a removal marker), so a
 * stale move replayed after a leave cannot count the server again. Leaves are applied as they are:
 * one that finds the server counted from a newer snapshot already keeps it.
 */
async function asTruthSays(c: IndexChange, truth: IndexTruth | undefined): Promise<IndexChange> {
  if (!truth || 'leave' in c) return c;
  const { ruleId, server, sourceSnapshotId, sourceCollectedAt } = c.record;
  const record = await truth(ruleId, server);
  // Stryker disable next-line BooleanLiteral: a change is a leave by having the key (`'leave' in`), whatever it holds.
  return record ? { record } : { leave: true, ruleId, server, sourceSnapshotId, sourceCollectedAt };
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
