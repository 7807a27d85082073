// The Drift table: per rule, which configuration (fingerprint) and status each server is counted
// under, the counters of each configuration, and the rule's baseline server.
//   PK rule id, RK 'm|<server>'             — member: the server's fingerprint, facts and status
//   PK rule id, RK 'c|<fingerprint>|<shard>' — counters per status, the facts, a few servers
//   PK rule id, RK 'baseline'                — the server an admin named as the rule's baseline
// Reading a rule's drift reads its counter rows only (one range query): at most one row per
// configuration and shard, however many servers there are. A member moves in one entity-group
// transaction with the counters it leaves and joins, guarded by ETags, so a replay or a concurrent
// writer can never count a server twice.
import { odata, RestError, TableTransaction } from '@azure/data-tables';
import { boundedText, dateTime, int32, ms, num, str } from './columns';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import type { Entity } from './entities';
import { bucketOf, encodeKey } from './keys';
import type { PostureStore, SiblingTable } from './posture-store';

/** A server's place in its rule's drift, as the projection writes it. */
export interface DriftMember {
  readonly ruleId: string;
  readonly server: string;
  readonly fingerprint: string;
  /** The facts as canonical JSON text. */
  readonly factsJson: string;
  readonly status: string;
  /** The snapshot that set it: a member is only replaced from a newer source. */
  readonly sourceSnapshotId: string;
  readonly sourceCollectedAt: number;
}

/** One configuration's counters in one shard. */
export interface DriftCounts {
  readonly fingerprint: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly factsJson: string;
  readonly sample: readonly string[];
}

export interface DriftBaseline {
  readonly ruleId: string;
  /** '' once cleared: the row stays, so revisions keep counting and a concurrent change is caught. */
  readonly server: string;
  readonly setBy: string;
  readonly setAt: number;
  readonly revision: number;
}

export interface StoredBaseline extends DriftBaseline {
  readonly etag: string;
}

/** Shards of each configuration's counters (as many as the rule counts have): a fleet changing at once rarely meets on one row. */
export const DRIFT_SHARDS = 16;
/** Servers each counter row names. */
export const SAMPLE_PER_ROW = 5;
const ATTEMPTS = 10;
const BASELINE_ROW = 'baseline';
const COUNTS_FROM = 'c|';
const COUNTS_TO = 'c}';

const memberKey = (server: string) => `m|${encodeKey(server)}`;
/** The row key of a configuration's counters in a shard. */
export const driftCountsKey = (fingerprint: string, shard: string) => `c|${encodeKey(fingerprint)}|${shard}`;
/** The shard a server's counts go to. */
export const driftShardOf = (server: string) => bucketOf(server, DRIFT_SHARDS);
const countsKey = driftCountsKey;

/** The member row of a server (exported for loaders that write the table's layout directly). */
export function driftMemberEntity(m: DriftMember): Entity {
  return {
    partitionKey: encodeKey(m.ruleId),
    rowKey: memberKey(m.server),
    Server: m.server,
    Fingerprint: m.fingerprint,
    FactsJson: boundedText(m.factsJson),
    Status: m.status,
    SourceSnapshotId: m.sourceSnapshotId,
    SourceCollectedAt: dateTime(m.sourceCollectedAt),
  };
}

/** A counter row: servers per status, the configuration's facts and a few of its servers. */
export function driftCountsEntity(ruleId: string, rowKey: string, fingerprint: string, counts: Readonly<Record<string, number>>, factsJson: string, sample: readonly string[]): Entity {
  const out: Entity = { partitionKey: encodeKey(ruleId), rowKey, Fingerprint: fingerprint, FactsJson: boundedText(factsJson), Sample: sample.join(' ') };
  for (const [status, n] of Object.entries(counts)) out[status] = int32(n);
  return out;
}
const backOff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15 * (attempt + 1)));

type Row = Record<string, unknown>;

function toMember(ruleId: string, e: Row): DriftMember {
  return {
    ruleId,
    server: str(e, 'Server'),
    fingerprint: str(e, 'Fingerprint'),
    factsJson: str(e, 'FactsJson') || '{}',
    status: str(e, 'Status'),
    sourceSnapshotId: str(e, 'SourceSnapshotId'),
    sourceCollectedAt: ms(e, 'SourceCollectedAt') ?? 0,
  };
}

function countsOf(e: Row | undefined, statuses: readonly string[]): Record<string, number> {
  return Object.fromEntries(statuses.map((s) => [s, e ? (num(e, s) ?? 0) : 0]));
}

function sampleOf(e: Row | undefined): string[] {
  return e ? str(e, 'Sample').split(' ').filter((s) => s !== '') : [];
}

const isNewer = (a: DriftMember, b: DriftMember) => a.sourceCollectedAt > b.sourceCollectedAt || (a.sourceCollectedAt === b.sourceCollectedAt && a.sourceSnapshotId > b.sourceSnapshotId);

export class DriftStore {
  readonly #table: SiblingTable;
  readonly #statuses: readonly string[];
  constructor(store: PostureStore) {
    this.#table = store.siblingTable('drift');
    this.#statuses = store.statuses;
  }

  async #get(pk: string, rk: string, what: string): Promise<Row | undefined> {
    try {
      return await this.#table.call(what, (t) => t.getEntity(pk, rk));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /**
   * Makes the rule's drift count `m` as the server's place, unless it already holds a newer one.
   * Idempotent: the same member twice changes nothing the second time.
   */
  async syncMember(m: DriftMember): Promise<void> {
    const pk = encodeKey(m.ruleId);
    const shard = driftShardOf(m.server);
    const statuses = this.#statuses;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      // The member and the row it joins side by side: the projection runs when something changed,
      // so the join row is nearly always needed; only a move to another configuration reads a third.
      const joinKey = countsKey(m.fingerprint, shard);
      const [memberRow, joinRow] = await Promise.all([this.#get(pk, memberKey(m.server), 'reading drift'), this.#get(pk, joinKey, 'reading drift')]);
      const prev = memberRow ? toMember(m.ruleId, memberRow) : undefined;
      if (prev && isNewer(prev, m)) return;
      if (prev && prev.fingerprint === m.fingerprint && prev.status === m.status) return;
      const leaveKey = prev ? countsKey(prev.fingerprint, shard) : undefined;
      const leaveRow = leaveKey && leaveKey !== joinKey ? await this.#get(pk, leaveKey, 'reading drift') : undefined;

      const tx = new TableTransaction();
      const member = driftMemberEntity(m);
      // The member's own ETag too: two first posts of one server cannot both count it.
      if (memberRow) tx.updateEntity(member, 'Replace', { etag: String(memberRow.etag) });
      else tx.createEntity(member);

      let emptied: string | undefined;
      const joinCounts = countsOf(joinRow, statuses);
      let joinSample = sampleOf(joinRow);
      if (prev && leaveKey === joinKey) {
        // Same configuration, new status: one row, the server stays in its sample.
        joinCounts[prev.status] = Math.max(0, (joinCounts[prev.status] ?? 0) - 1);
      } else if (prev && leaveKey) {
        const leaveCounts = countsOf(leaveRow, statuses);
        leaveCounts[prev.status] = Math.max(0, (leaveCounts[prev.status] ?? 0) - 1);
        if (leaveRow) {
          // A transaction cannot delete under an ETag, so an emptied row is written as zeros and deleted after.
          emptied = Object.values(leaveCounts).every((n) => n === 0) ? leaveKey : undefined;
          const sample = sampleOf(leaveRow).filter((s) => s !== m.server);
          tx.updateEntity(driftCountsEntity(m.ruleId, leaveKey, prev.fingerprint, leaveCounts, str(leaveRow, 'FactsJson'), sample), 'Replace', { etag: String(leaveRow.etag) });
        }
      }
      joinCounts[m.status] = (joinCounts[m.status] ?? 0) + 1;
      if (!joinSample.includes(m.server) && joinSample.length < SAMPLE_PER_ROW) joinSample = [...joinSample, m.server];
      const joinEntity = driftCountsEntity(m.ruleId, joinKey, m.fingerprint, joinCounts, joinRow ? str(joinRow, 'FactsJson') : m.factsJson, joinSample);
      if (joinRow) tx.updateEntity(joinEntity, 'Replace', { etag: String(joinRow.etag) });
      else tx.createEntity(joinEntity);

      try {
        const response = await this.#table.call('updating drift', (t) => t.submitTransaction(tx.actions));
        // The leave row is the second operation; deleted only while still at the zeros just written.
        const etag = response.subResponses[1]?.etag;
        if (emptied && etag) await this.#deleteIfUnchanged(pk, emptied, etag);
        return;
      } catch (error) {
        const status = statusCodeOf(error);
        if (status !== 409 && status !== 412 && status !== 404) throw error;
        await backOff(attempt);
      }
    }
    throw new ConcurrencyConflictError(`The drift counters of ${m.ruleId} stayed contended after ${ATTEMPTS} attempts.`);
  }

  /**
   * Deletes a row still at `etag`; a row another writer changed meanwhile is theirs to keep. Best
   * effort: a row of zeros left behind is skipped by readers, so a failure here fails nothing.
   */
  async #deleteIfUnchanged(pk: string, rk: string, etag: string): Promise<void> {
    await this.#table.call('pruning drift', (t) => t.deleteEntity(pk, rk, { etag })).catch(() => undefined);
  }

  /** Every counter row of the rule (one range query), and how many entities that read. */
  async listCounts(ruleId: string): Promise<{ rows: DriftCounts[]; entitiesRead: number }> {
    await this.#table.ready();
    const filter = odata`PartitionKey eq ${encodeKey(ruleId)} and RowKey ge ${COUNTS_FROM} and RowKey lt ${COUNTS_TO}`;
    const statuses = this.#statuses;
    return this.#table.call('reading drift', async (t) => {
      const rows: DriftCounts[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) {
        rows.push({ fingerprint: str(e, 'Fingerprint'), counts: countsOf(e, statuses), factsJson: str(e, 'FactsJson') || '{}', sample: sampleOf(e) });
      }
      return { rows, entitiesRead: rows.length };
    });
  }

  /** The server's place in the rule's drift (one point read). */
  async getMember(ruleId: string, server: string): Promise<DriftMember | undefined> {
    await this.#table.ready();
    const e = await this.#get(encodeKey(ruleId), memberKey(server), 'reading drift');
    return e ? toMember(ruleId, e) : undefined;
  }

  /** The rule's baseline row (server '' when cleared), undefined when none was ever named. */
  async getBaseline(ruleId: string): Promise<StoredBaseline | undefined> {
    await this.#table.ready();
    const e = await this.#get(encodeKey(ruleId), BASELINE_ROW, 'reading a baseline');
    if (!e) return undefined;
    return { ruleId, server: str(e, 'Server'), setBy: str(e, 'SetBy'), setAt: ms(e, 'SetAt') ?? 0, revision: num(e, 'Revision') ?? 0, etag: String(e.etag ?? '') };
  }

  /**
   * Names (or, with server '', clears) the rule's baseline. `etag` is the row as read: a change
   * made meanwhile by another admin fails with ConcurrencyConflictError instead of being lost.
   */
  async putBaseline(b: DriftBaseline, etag: string | undefined): Promise<void> {
    await this.#table.ready();
    const entity = {
      partitionKey: encodeKey(b.ruleId),
      rowKey: BASELINE_ROW,
      RuleId: b.ruleId,
      Server: b.server,
      SetBy: b.setBy,
      SetAt: dateTime(b.setAt),
      Revision: int32(b.revision),
    };
    try {
      await this.#table.call('writing a baseline', (t) => (etag ? t.updateEntity(entity, 'Replace', { etag }) : t.createEntity(entity)));
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`The baseline of ${b.ruleId} was changed meanwhile.`, { cause: error });
      throw error;
    }
  }
}
