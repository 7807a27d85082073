// The Drift table: per rule, which configuration (fingerprint) and status each server is counted
// under, the counters of each configuration, and the rule's baseline server.
//   PK rule id, RK 'm|<server>|<fingerprint>|<status>|<commit>' — member: the server's facts and the
//                                               snapshot that set them, keyed by the place it is
//                                               counted in and the commit that put it there
//   PK rule id, RK 'm|<server>|<fingerprint>|<status>' — a member written before members carried
//                                               their commit; found and moved like the others
//   PK rule id, RK 'm|<server>'                 — a member as written before members were keyed by
//                                               place; found and moved like the others, and moved
//                                               into the keyed layout by the layout migration
//   PK rule id, RK 'c|<fingerprint>|<shard>'    — counters per status, the facts, a few servers
//   PK rule id, RK 'baseline'                   — the server an admin named as the rule's baseline
//   PK rule id, RK 'f|<shard>'                  — the lease generation of the projector that moved
//                                               a server of the shard last (a fence: see applyMoves)
// Reading a rule's drift reads its counter rows only (one range query): at most one row per
// configuration and shard, however many servers there are. A move deletes the member row the server
// leaves and creates the one it joins, in one entity-group transaction with the counter rows under
// their ETags: a replayed or stale move finds the row it would delete gone (or the one it would
// create there) and fails whole, so no server is ever counted twice. That lets many servers of one
// shard move in one transaction without reading their members first. The commit in the key is what
// makes a stale move fail after its server went away and came back (A to B to A): the row at A is
// then another commit's, so the stale move's delete misses it. A delete in a transaction cannot be
// made conditional on a row's ETag or columns without reading the row first, so the key carries it.
import { odata, RestError, TableTransaction } from '@azure/data-tables';
import { backOff } from './contention';
import { boundedText, dateTime, int32, jsonOf, MAX_STRING_CHARS, ms, num, optStr, str } from './columns';
import { ConcurrencyConflictError, settleAll, statusCodeOf } from './errors';
import type { Entity } from './entities';
import type { EventRecord } from './records';
import { bucketOf, decodeKey, encodeKey } from './keys';
import type { PostureStore } from './posture-store';
import { fenced, stampOwed } from './projector-fence';
import type { SiblingTable } from './sibling-table';
import { RecordedEmpty } from './recorded-empty';
import { isNewerSnapshot } from './snapshot-order';
import { MAX_TRANSACTION_BYTES, requestBytes } from './transactions';

/**
 * A shard's fence row. Not a counter row: those are per configuration and deleted once emptied,
 * which would take the generation with them, and a stale first join meets no row it would change.
 */
const fenceKey = (shard: string) => `f|${shard}`;
/** The table as a refused projector's message names it. */
const DRIFT_TABLE = 'drift';

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
  /**
   * The commit that set it (part of the member's key), which orders two commits of one snapshot
   * (a re-evaluation after the post it re-evaluates). Absent on members and outbox entries written
   * before members carried their commit.
   */
  readonly sourceCommitId?: string;
}

/** Where a server is counted: its configuration and status, and the commit that put it there when known. */
export interface DriftPlace {
  readonly fingerprint: string;
  readonly status: string;
  readonly commitId?: string;
}

/** A member to write, with where the server was counted before it (as its previous Results row says). */
export interface DriftMove extends DriftMember {
  /** null: the server had no member; absent: not known, so its member is read first. */
  readonly from?: DriftPlace | null;
}

/**
 * The server leaves the rule's drift: the rule left the rule set, and the commit removed the
 * server's Results row for it. Its member and anchor go, its count with them.
 */
export interface DriftLeave {
  readonly leave: true;
  readonly ruleId: string;
  readonly server: string;
  /** Where it is counted, as the removed row says; absent: not known, so its members are read first. */
  readonly from?: DriftPlace;
  /** The snapshot of the commit that removed the row: a member from a newer one (the rule came back since) stays. */
  readonly sourceSnapshotId: string;
  readonly sourceCollectedAt: number;
  /** That commit (absent in entries written before members carried their commit). */
  readonly sourceCommitId?: string;
}

export type DriftChange = DriftMove | DriftLeave;

/**
 * What the server's Results row of the rule (the source of truth) says the drift must count: its
 * member, null when the server must not be counted (no row: the rule left the rule set, or a
 * removal marker), undefined when the row cannot tell (it has no configuration). Consulted only
 * where a move is read and compared, never on the batched path.
 */
export type DriftTruth = (ruleId: string, server: string) => Promise<DriftMember | null | undefined>;
const isLeave = (c: DriftChange | DriftMember): c is DriftLeave => 'leave' in c;

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
  /** The audit event of the change stored last, until it is written (a failure after the change leaves it owed, not lost). */
  readonly auditOwed?: EventRecord;
  /**
   * The requests that stored this revision and the few before it, newest first: a request whose
   * answer was lost after its change landed knows by it that it did, even once changed again.
   */
  readonly writers?: readonly string[];
}

export interface StoredBaseline extends DriftBaseline {
  readonly etag: string;
}

/** Shards of each configuration's counters (as many as the rule counts have, by the same hash, so a server's drift shard is its rule-index shard: the projector's one-by-one pass groups servers by one of them): a fleet changing at once rarely meets on one row. */
export const DRIFT_SHARDS = 16;
/** Servers each counter row names. */
export const SAMPLE_PER_ROW = 5;
const ATTEMPTS = 10;
/** Tries of a batched transaction when only a counter row's ETag changed under it. */
const CHUNK_ATTEMPTS = 3;
/** Operations in one entity-group transaction. */
const MAX_OPERATIONS = 100;
const BASELINE_ROW = 'baseline';
/** Counter rows of a rule sort in [from, to). */
export const DRIFT_COUNTER_KEYS = { from: 'c|', to: 'c}' } as const;

/** The member row of a server counted at a place (by the commit named, when it is known). */
const memberKey = (server: string, place: DriftPlace) =>
  `m|${encodeKey(server)}|${encodeKey(place.fingerprint)}|${encodeKey(place.status)}${place.commitId ? `|${encodeKey(place.commitId)}` : ''}`;
/** Where a member counts its server, with the commit that put it there. */
const placeOf = (m: DriftMember): DriftPlace => ({ fingerprint: m.fingerprint, status: m.status, ...(m.sourceCommitId ? { commitId: m.sourceCommitId } : {}) });
/** The member row as written before members were keyed by place. */
const legacyMemberKey = (server: string) => `m|${encodeKey(server)}`;
/** Member rows of every server sort in [from, to): each key starts with 'm|', and '}' follows '|'. */
export const DRIFT_MEMBER_KEYS = { from: 'm|', to: 'm}' } as const;
/** The server of a member row written before members were keyed by place, or undefined for any other key (an encoded server holds no `|`). */
export function oldLayoutMemberServer(rowKey: string): string | undefined {
  const parts = rowKey.split('|');
  return parts.length === 2 && parts[0] === 'm' && parts[1] !== '' ? decodeKey(parts[1]!) : undefined;
}
/** The row key of a configuration's counters in a shard. */
export const driftCountsKey = (fingerprint: string, shard: string) => `c|${encodeKey(fingerprint)}|${shard}`;
/** The shard a server's counts go to. */
export const driftShardOf = (server: string) => bucketOf(server, DRIFT_SHARDS);
const countsKey = driftCountsKey;
/**
 * A server's anchor row, created when it is first counted and kept until it leaves the rule (the
 * rule left the rule set: it is then as a server never counted). Moves of a counted server meet
 * on the member row they delete; a first join deletes nothing, so it creates the anchor instead: a
 * second first join of the server (a replay, one projected after a later move, or a concurrent
 * one) then fails, and is read and compared.
 */
const anchorKey = (server: string) => `s|${encodeKey(server)}`;
const anchorEntity = (pk: string, server: string): Entity => ({ partitionKey: pk, rowKey: anchorKey(server), Server: server });
/** A server's anchor row in a rule (exported for loaders that write the table's layout directly). */
export const driftAnchorEntity = (ruleId: string, server: string): Entity => anchorEntity(encodeKey(ruleId), server);

/** The member row of a server (exported for loaders that write the table's layout directly). */
export function driftMemberEntity(m: DriftMember): Entity {
  return {
    partitionKey: encodeKey(m.ruleId),
    rowKey: memberKey(m.server, placeOf(m)),
    Server: m.server,
    Fingerprint: m.fingerprint,
    FactsJson: boundedText(m.factsJson),
    Status: m.status,
    SourceSnapshotId: m.sourceSnapshotId,
    SourceCollectedAt: dateTime(m.sourceCollectedAt),
    ...(m.sourceCommitId ? { SourceCommitId: m.sourceCommitId } : {}),
  };
}

/** A counter row: servers per status, the configuration's facts and a few of its servers. */
export function driftCountsEntity(ruleId: string, rowKey: string, fingerprint: string, counts: Readonly<Record<string, number>>, factsJson: string, sample: readonly string[]): Entity {
  const out: Entity = { partitionKey: encodeKey(ruleId), rowKey, Fingerprint: fingerprint, FactsJson: boundedText(factsJson), Sample: sample.join(' ') };
  for (const [status, n] of Object.entries(counts)) out[status] = int32(n);
  return out;
}

type Row = Record<string, unknown>;

function toMember(ruleId: string, e: Row): DriftMember {
  const commit = optStr(e, 'SourceCommitId');
  return {
    ruleId,
    server: str(e, 'Server'),
    fingerprint: str(e, 'Fingerprint'),
    factsJson: str(e, 'FactsJson') || '{}',
    status: str(e, 'Status'),
    sourceSnapshotId: str(e, 'SourceSnapshotId'),
    sourceCollectedAt: ms(e, 'SourceCollectedAt') ?? 0,
    ...(commit ? { sourceCommitId: commit } : {}),
  };
}

function countsOf(e: Row | undefined, statuses: readonly string[]): Record<string, number> {
  return Object.fromEntries(statuses.map((s) => [s, e ? (num(e, s) ?? 0) : 0]));
}

function sampleOf(e: Row | undefined): string[] {
  return e ? str(e, 'Sample').split(' ').filter((s) => s !== '') : [];
}

type Source = Pick<DriftMember, 'sourceSnapshotId' | 'sourceCollectedAt' | 'sourceCommitId'>;
/**
 * Whether `a` comes after `b`: a later snapshot, or of one snapshot the later commit (commit ids
 * begin with their time), so a move replayed after a re-evaluation of its own snapshot is older.
 * Equal when both name the same commit, or a side names none (written before members carried it).
 */
export function isNewerSource(a: Source, b: Source): boolean {
  const x = { collectedAt: a.sourceCollectedAt, snapshotId: a.sourceSnapshotId };
  const y = { collectedAt: b.sourceCollectedAt, snapshotId: b.sourceSnapshotId };
  if (isNewerSnapshot(x, y)) return true;
  if (isNewerSnapshot(y, x)) return false;
  return a.sourceCommitId !== undefined && b.sourceCommitId !== undefined && a.sourceCommitId > b.sourceCommitId;
}
/** Whether two places are one member row (same configuration, status and commit). */
const sameRow = (a: DriftPlace, b: DriftPlace) => a.fingerprint === b.fingerprint && a.status === b.status && a.commitId === b.commitId;

/** A server's place among its member rows as read: one row per server; should a failed move ever leave two, the newest source. */
export function newestMember(members: readonly StoredDriftMember[]): DriftMember | undefined {
  return members.map((x) => x.member).reduce<DriftMember | undefined>((a, b) => (a && !isNewerSource(b, a) ? a : b), undefined);
}

/** A member row as read: where it is counted, and its key and ETag. */
export interface StoredDriftMember {
  readonly rowKey: string;
  readonly etag: string;
  readonly member: DriftMember;
}

/**
 * The counter rows one transaction changes: read first (with their ETags), then servers leave and
 * join them, then each changed row is written under its ETag (or created).
 */
class CounterEdit {
  readonly #rows = new Map<string, { row?: Row; fingerprint: string; factsJson: string; counts: Record<string, number>; sample: string[]; left: Set<string>; changed: boolean }>();
  constructor(
    private readonly ruleId: string,
    private readonly statuses: readonly string[],
  ) {}

  /** A row as read (undefined: it does not exist yet). */
  load(key: string, row: Row | undefined): void {
    this.#rows.set(key, { row, fingerprint: row ? str(row, 'Fingerprint') : '', factsJson: row ? str(row, 'FactsJson') : '', counts: countsOf(row, this.statuses), sample: sampleOf(row), left: new Set(), changed: false });
  }

  leave(key: string, server: string, status: string): void {
    const r = this.#rows.get(key);
    // A row that is not there has nothing to take the server from.
    if (!r?.row) return;
    r.counts[status] = Math.max(0, (r.counts[status] ?? 0) - 1);
    r.sample = r.sample.filter((s) => s !== server);
    r.left.add(server);
    r.changed = true;
  }

  /**
   * Rows to be written still counting servers but naming none (the named ones left): their
   * configuration, shard, and the servers that leave them in this edit (not to be named).
   */
  unnamed(): { key: string; fingerprint: string; shard: string; left: ReadonlySet<string>; want: number }[] {
    return [...this.#rows]
      .filter(([, r]) => r.changed && r.sample.length === 0 && Object.values(r.counts).some((n) => n > 0))
      .map(([key, r]) => ({
        key,
        fingerprint: r.fingerprint,
        shard: key.slice(key.lastIndexOf('|') + 1),
        left: r.left,
        // A row counting fewer servers than a sample holds is named in full once those are found.
        want: Math.min(SAMPLE_PER_ROW, Object.values(r.counts).reduce((a, n) => a + n, 0)),
      }));
  }

  /** Names servers of a row that named none. */
  name(key: string, servers: readonly string[]): void {
    this.#rows.get(key)!.sample = servers.slice(0, SAMPLE_PER_ROW);
  }

  join(key: string, m: DriftMember): void {
    const r = this.#rows.get(key)!;
    r.counts[m.status] = (r.counts[m.status] ?? 0) + 1;
    if (!r.sample.includes(m.server) && r.sample.length < SAMPLE_PER_ROW) r.sample.push(m.server);
    if (!r.row) {
      r.fingerprint = m.fingerprint;
      r.factsJson ||= m.factsJson;
    }
    r.changed = true;
  }

  /**
   * Adds the writes to `tx`; returns the rows left at zero, with the index of their operation. A
   * transaction cannot delete under an ETag, so an emptied row is written as zeros and deleted
   * after, only while still unchanged.
   */
  write(tx: TableTransaction): { key: string; op: number }[] {
    const emptied: { key: string; op: number }[] = [];
    for (const [key, r] of this.#rows) {
      if (!r.changed) continue;
      const entity = driftCountsEntity(this.ruleId, key, r.fingerprint, r.counts, r.factsJson, r.sample);
      const op = tx.actions.length;
      if (r.row) {
        tx.updateEntity(entity, 'Replace', { etag: String(r.row.etag) });
        if (Object.values(r.counts).every((n) => n === 0)) emptied.push({ key, op });
      } else tx.createEntity(entity);
    }
    return emptied;
  }
}

/** The counter rows a move writes: the one it joins, and the one it leaves when that is another (a leave: that one). */
function countersOf(m: DriftChange, shard: string): string[] {
  if (isLeave(m)) return m.from ? [countsKey(m.from.fingerprint, shard)] : [];
  const join = countsKey(m.fingerprint, shard);
  const leave = m.from ? countsKey(m.from.fingerprint, shard) : join;
  return leave === join ? [join] : [join, leave];
}

/** Member operations of a move: a check when it stays put, else two (a delete or the anchor, and a create; a leave: two deletes). */
const memberOps = (m: DriftChange) => (!isLeave(m) && m.from && sameRow(m.from, placeOf(m)) ? 1 : 2);

/**
 * What a counter row adds to a transaction's payload: its facts (the joining move's, or, for a row
 * a move leaves, the most its column holds, as every character may travel as a 6-byte escape), a
 * sample of servers and the counts.
 */
function counterBytes(ruleId: string, key: string, factsJson: string | undefined): number {
  const facts = factsJson === undefined ? MAX_STRING_CHARS * 6 : requestBytes(driftCountsEntity(ruleId, key, '', {}, factsJson, []));
  return facts + SAMPLE_PER_ROW * 256 + 1024;
}

/** What a move's member operations add to a transaction's payload (its new member row carries the facts). */
const moveBytes = (m: DriftChange) => (isLeave(m) || (m.from && sameRow(m.from, placeOf(m))) ? 1024 : requestBytes(driftMemberEntity(m)) + 1024);

/**
 * One shard's moves in transactions of at most MAX_OPERATIONS (member operations plus the counter
 * rows, and `reserved` more) and MAX_TRANSACTION_BYTES: member and counter rows carry the
 * configuration's facts, up to 32,000 characters, so a full transaction of them can pass the 4 MiB
 * storage takes in one request.
 */
function chunksOf(ruleId: string, moves: readonly DriftChange[], shard: string, reserved: number): DriftChange[][] {
  const out: DriftChange[][] = [];
  let chunk: DriftChange[] = [];
  let keys = new Set<string>();
  let ops = 0;
  let bytes = 0;
  for (const m of moves) {
    const counters = countersOf(m, shard);
    const join = isLeave(m) ? undefined : countsKey(m.fingerprint, shard);
    const countersBytes = (list: readonly string[]) => list.reduce((n, k) => n + counterBytes(ruleId, k, !isLeave(m) && k === join ? m.factsJson : undefined), 0);
    const fresh = counters.filter((k) => !keys.has(k));
    if (chunk.length > 0 && (ops + memberOps(m) + keys.size + fresh.length + reserved > MAX_OPERATIONS || bytes + moveBytes(m) + countersBytes(fresh) > MAX_TRANSACTION_BYTES)) {
      out.push(chunk);
      chunk = [];
      keys = new Set();
      ops = 0;
      bytes = 0;
    }
    bytes += moveBytes(m) + countersBytes(counters.filter((k) => !keys.has(k)));
    chunk.push(m);
    for (const k of counters) keys.add(k);
    ops += memberOps(m);
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

export interface DriftStoreOptions {
  /**
   * Whether a server's old-layout member row is read: until the layout migration records none
   * left (the default: then one request instead of two), or always (the migration itself, which
   * must see rows written late by an instance of an older version).
   */
  readonly oldLayoutMembers?: 'until-recorded-empty' | 'always';
}

export class DriftStore {
  readonly #table: SiblingTable;
  readonly #statuses: readonly string[];
  /** Whether the layout migration recorded the old-layout members gone, as this process last read it; undefined: always read them. */
  readonly #oldMembers: RecordedEmpty | undefined;
  constructor(store: PostureStore, options: DriftStoreOptions = {}) {
    this.#table = store.siblingTable('drift');
    this.#statuses = store.statuses;
    this.#oldMembers = options.oldLayoutMembers === 'always' ? undefined : new RecordedEmpty(store.siblingTable('lifecycle'), 'DriftEmptyAt');
  }

  async #get(pk: string, rk: string, what: string): Promise<Row | undefined> {
    try {
      return await this.#table.call(what, (t) => t.getEntity(pk, rk));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** The shard's fence row as read, when the writer is fenced (undefined otherwise, or when there is none yet). */
  async #fenceRow(pk: string, shard: string, fence: number | undefined): Promise<Row | undefined> {
    return fence === undefined ? undefined : this.#get(pk, fenceKey(shard), 'reading drift');
  }

  /**
   * Adds the shard's fence row, stamped with `fence`, to a transaction: under the ETag it was read
   * with, so a newer projector's move in the shard meanwhile fails the transaction, which is then
   * read again and refused. Throws FencedOutError when a newer projector already moved a server of
   * the shard. `fence` left out (not the projector): nothing is added.
   */
  #fence(tx: TableTransaction, pk: string, shard: string, read: Row | undefined, fence: number | undefined): void {
    if (fence === undefined) return;
    const entity = fenced({ partitionKey: pk, rowKey: fenceKey(shard) }, read, fence, DRIFT_TABLE);
    if (read) tx.updateEntity(entity, 'Replace', { etag: String(read.etag) });
    else tx.createEntity(entity);
  }

  /**
   * A read-and-compare that found nothing to move still stamps the shard's fence row with its
   * generation, when the row does not hold it yet (projector-fence.ts, stampOwed): a server's
   * first join and its removal in one batch merge into a leave that finds nothing, and a stale
   * first join sent after it must meet this projector's fence. False when the fence row changed
   * since it was read (read again).
   */
  async #movedNothing(ruleId: string, shard: string, read: Row | undefined, fence: number | undefined): Promise<boolean> {
    if (!stampOwed(read, fence, DRIFT_TABLE)) return true;
    const pk = encodeKey(ruleId);
    const tx = new TableTransaction();
    this.#fence(tx, pk, shard, read, fence);
    return (await this.#submit(pk, tx, new CounterEdit(ruleId, this.#statuses))) === undefined;
  }

  /**
   * Every member row of the server in the rule: its range of keyed rows and, side by side, its
   * old-layout row until the layout migration has recorded those gone (then one request).
   */
  async #members(ruleId: string, server: string): Promise<StoredDriftMember[]> {
    const pk = encodeKey(ruleId);
    const from = `m|${encodeKey(server)}|`;
    // '}' follows '|': every key that starts with `from` sorts below `to`, and nothing else does.
    const to = `m|${encodeKey(server)}}`;
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${to}`;
    const oldMembers = this.#oldMembers;
    const [legacy, keyed] = await Promise.all([
      (async () => ((await oldMembers?.gone()) ? undefined : this.#get(pk, legacyMemberKey(server), 'reading drift')))(),
      this.#table.call('reading drift', async (t) => {
        const rows: Row[] = [];
        for await (const e of t.listEntities({ queryOptions: { filter } })) rows.push(e);
        return rows;
      }),
    ]);
    return [...(legacy ? [legacy] : []), ...keyed].map((e) => ({ rowKey: String(e.rowKey), etag: String(e.etag), member: toMember(ruleId, e) }));
  }

  /**
   * Moves many servers of one rule at once. Per counter shard, transactions of up to 100
   * operations: each server's member row leaves its `from` place and is created at its new one,
   * with the counter rows it leaves and joins under their ETags — no member is read. A transaction
   * that finds a member not where its move says (a replayed or stale move, an old-layout member)
   * fails whole, and only its servers go one by one through syncMember, which reads and compares.
   * So do a server with no known `from` and a server moved more than once in the call (its newest
   * move counts). A leave deletes the server's member and anchor the same way.
   *
   * `truth` is asked, for each move that is read and compared, where the server's Results row puts
   * it: once a leave has taken its member and anchor, a stale move finds nothing and would count
   * the server as a first join.
   *
   * `fence` is the writer's projector lease generation, as for the rule index: once a projector
   * under a later one moved a server of a shard, this call throws LeaseLostError before it writes
   * there. A first join deletes nothing, so after a removal took the server's member and anchor a
   * stale one from a projector whose lease lapsed would find nothing in its way and count the
   * server again; only the fence stops it, so a move read and compared that finds nothing to do
   * still stamps the shard's fence row. Left out: no check.
   */
  async applyMoves(ruleId: string, moves: readonly DriftChange[], truth?: DriftTruth, fence?: number): Promise<void> {
    await this.#table.ready();
    const perServer = new Map<string, DriftChange[]>();
    for (const m of moves) perServer.set(m.server, [...(perServer.get(m.server) ?? []), m]);
    const byShard = new Map<string, { fast: DriftChange[]; reread: (DriftMember | DriftLeave)[] }>();
    for (const [server, list] of perServer) {
      const shard = driftShardOf(server);
      const work = byShard.get(shard) ?? { fast: [], reread: [] };
      byShard.set(shard, work);
      const m = list.reduce((a, b) => (isNewerSource(b, a) ? b : a));
      if (list.length === 1 && m.from !== undefined) work.fast.push(m);
      else work.reread.push(m);
    }
    // Shards side by side; within a shard one transaction at a time, as they share counter rows.
    await settleAll(
      [...byShard].map(async ([shard, { fast, reread }]) => {
        for (const chunk of chunksOf(ruleId, fast, shard, fence === undefined ? 0 : 1)) {
          if (!(await this.#moveChunk(ruleId, shard, chunk, fence))) reread.push(...chunk);
        }
        for (const m of reread) await (isLeave(m) ? this.#syncLeave(m, fence) : this.#syncAsTruthSays(m, truth, fence));
      }),
    );
  }

  /** One transaction of moves of one shard; false when a member was not where its move said. */
  async #moveChunk(ruleId: string, shard: string, chunk: readonly DriftChange[], fence: number | undefined): Promise<boolean> {
    const pk = encodeKey(ruleId);
    const keys = [...new Set(chunk.flatMap((m) => countersOf(m, shard)))];
    for (let attempt = 0; attempt < CHUNK_ATTEMPTS; attempt++) {
      const [fenceRow, ...rows] = await Promise.all([this.#fenceRow(pk, shard, fence), ...keys.map((k) => this.#get(pk, k, 'reading drift'))]);
      const edit = new CounterEdit(ruleId, this.#statuses);
      keys.forEach((k, i) => edit.load(k, rows[i]));
      const tx = new TableTransaction();
      this.#fence(tx, pk, shard, fenceRow, fence);
      for (const m of chunk) {
        if (isLeave(m)) {
          // The anchor goes too: a server that left is as one never counted, so should the rule
          // come back its first join creates the anchor again, in a batch like this one.
          const from = m.from!;
          tx.deleteEntity(pk, memberKey(m.server, from));
          tx.deleteEntity(pk, anchorKey(m.server));
          edit.leave(countsKey(from.fingerprint, shard), m.server, from.status);
          continue;
        }
        const join = countsKey(m.fingerprint, shard);
        if (m.from && sameRow(m.from, placeOf(m))) {
          // Counted where it already is: a merge of no properties only checks the member is there.
          tx.updateEntity({ partitionKey: pk, rowKey: memberKey(m.server, m.from) }, 'Merge');
          continue;
        }
        if (m.from) {
          tx.deleteEntity(pk, memberKey(m.server, m.from));
          edit.leave(countsKey(m.from.fingerprint, shard), m.server, m.from.status);
        } else tx.createEntity(anchorEntity(pk, m.server));
        tx.createEntity(driftMemberEntity(m));
        edit.join(join, m);
      }
      const refused = await this.#submit(pk, tx, edit);
      if (refused === undefined) return true;
      // 412: a counter row (or the fence row) changed since it was read; read it again. 404/409: a member was not
      // where the move said, or a first join met the server counted: read these one by one.
      if (refused !== 412) return false;
      await backOff(attempt);
    }
    return false;
  }

  /** Deletes the rows a transaction left at zero, each only while still at the ETag it got. */
  async #prune(pk: string, emptied: readonly { key: string; op: number }[], subResponses: readonly { etag?: string }[]): Promise<void> {
    await Promise.all(
      emptied.map(async ({ key, op }) => {
        const etag = subResponses[op]?.etag;
        if (etag) await this.#deleteIfUnchanged(pk, key, etag);
      }),
    );
  }

  /**
   * Makes the rule's drift count `m` as the server's place, unless it already holds a newer one:
   * reads the server's member rows (either layout) and the counter rows, then moves it in one
   * transaction under their ETags. Idempotent: the same member twice changes nothing the second time.
   * `fence`: as for applyMoves.
   */
  async syncMember(m: DriftMember, fence?: number): Promise<void> {
    const pk = encodeKey(m.ruleId);
    const shard = driftShardOf(m.server);
    const target = memberKey(m.server, placeOf(m));
    const joinKey = countsKey(m.fingerprint, shard);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      // The members and the row it joins side by side: the projection runs when something changed,
      // so the join row is nearly always needed; only a move to another configuration reads more.
      const [read, joinRow, fenceRow] = await Promise.all([this.#members(m.ruleId, m.server), this.#get(pk, joinKey, 'reading drift'), this.#fenceRow(pk, shard, fence)]);
      let members = read;
      let anchor: Row | undefined;
      if (members.length === 0) {
        // A first join: the anchor first, then the members again. A first join that lands after
        // the anchor is read changes its ETag; one that landed before is among the members.
        anchor = await this.#get(pk, anchorKey(m.server), 'reading drift');
        members = await this.#members(m.ruleId, m.server);
      }
      if (members.some((x) => isNewerSource(x.member, m)) || (members.length === 1 && members[0]!.rowKey === target)) {
        if (await this.#movedNothing(m.ruleId, shard, fenceRow, fence)) return;
        await backOff(attempt);
        continue;
      }
      const leaveKeys = [...new Set(members.map((x) => countsKey(x.member.fingerprint, shard)))].filter((k) => k !== joinKey);
      const leaveRows = await Promise.all(leaveKeys.map((k) => this.#get(pk, k, 'reading drift')));
      const edit = new CounterEdit(m.ruleId, this.#statuses);
      edit.load(joinKey, joinRow);
      leaveKeys.forEach((k, i) => edit.load(k, leaveRows[i]));

      const tx = new TableTransaction();
      this.#fence(tx, pk, shard, fenceRow, fence);
      // With no member to delete, the anchor under its ETag is what two first joins meet on.
      if (members.length === 0) {
        if (anchor) tx.updateEntity(anchorEntity(pk, m.server), 'Replace', { etag: String(anchor.etag) });
        else tx.createEntity(anchorEntity(pk, m.server));
      }
      let present = false;
      for (const x of members) {
        if (x.rowKey === target && !present) {
          present = true;
          continue;
        }
        // Unconditional inside a transaction; the counter rows' ETags guard the move.
        tx.deleteEntity(pk, x.rowKey);
        // An old-layout member had no anchor: from now on a first join of the server meets one.
        if (x.rowKey === legacyMemberKey(m.server)) tx.upsertEntity(anchorEntity(pk, m.server), 'Replace');
        edit.leave(countsKey(x.member.fingerprint, shard), m.server, x.member.status);
      }
      if (!present) {
        // Created, not upserted: two first moves of one server cannot both count it.
        tx.createEntity(driftMemberEntity(m));
        edit.join(joinKey, m);
      }
      // Refused: a row changed since it was read (or a first join came meanwhile); read again.
      if ((await this.#submit(pk, tx, edit)) === undefined) return;
      await backOff(attempt);
    }
    throw new ConcurrencyConflictError(`The drift counters of ${m.ruleId} stayed contended after ${ATTEMPTS} attempts.`);
  }

  /**
   * A move read and compared, as the server's Results row says: the row's member (newer than a
   * stale move, or the move itself), or a leave from the move's source when the row is gone or a
   * removal marker. A row that cannot tell leaves the move as it is.
   */
  async #syncAsTruthSays(m: DriftMember, truth: DriftTruth | undefined, fence: number | undefined): Promise<void> {
    const row = truth ? await truth(m.ruleId, m.server) : undefined;
    if (row === null) {
      const { ruleId, server, sourceSnapshotId, sourceCollectedAt, sourceCommitId } = m;
      return this.#syncLeave({ leave: true, ruleId, server, sourceSnapshotId, sourceCollectedAt, ...(sourceCommitId ? { sourceCommitId } : {}) }, fence);
    }
    return this.syncMember(row ?? m, fence);
  }

  /**
   * Takes the server out of the rule's drift (the rule left the rule set), unless it is counted
   * from a newer snapshot (the rule came back since): reads its member rows (either layout) and
   * its anchor, then deletes them in one transaction with the counter rows it leaves under their
   * ETags. Idempotent: a server no longer counted is left as it is.
   */
  async #syncLeave(l: DriftLeave, fence: number | undefined): Promise<void> {
    const pk = encodeKey(l.ruleId);
    const shard = driftShardOf(l.server);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const [members, anchor, fenceRow] = await Promise.all([this.#members(l.ruleId, l.server), this.#get(pk, anchorKey(l.server), 'reading drift'), this.#fenceRow(pk, shard, fence)]);
      if (members.length === 0 || members.some((x) => isNewerSource(x.member, l))) {
        if (await this.#movedNothing(l.ruleId, shard, fenceRow, fence)) return;
        await backOff(attempt);
        continue;
      }
      const keys = [...new Set(members.map((x) => countsKey(x.member.fingerprint, shard)))];
      const rows = await Promise.all(keys.map((k) => this.#get(pk, k, 'reading drift')));
      const edit = new CounterEdit(l.ruleId, this.#statuses);
      keys.forEach((k, i) => edit.load(k, rows[i]));
      const tx = new TableTransaction();
      this.#fence(tx, pk, shard, fenceRow, fence);
      for (const x of members) {
        tx.deleteEntity(pk, x.rowKey);
        edit.leave(countsKey(x.member.fingerprint, shard), l.server, x.member.status);
      }
      if (anchor) tx.deleteEntity(pk, anchorKey(l.server));
      // Refused: a row changed since it was read (or a first join came meanwhile); read again.
      if ((await this.#submit(pk, tx, edit)) === undefined) return;
      await backOff(attempt);
    }
    throw new ConcurrencyConflictError(`The drift counters of ${l.ruleId} stayed contended after ${ATTEMPTS} attempts.`);
  }

  /**
   * Submits a transaction with its counter rows' writes, then prunes the rows it emptied. Undefined
   * once it landed; the status when storage refused it because a row was not as expected (404,
   * 409, 412), for the caller to decide; any other error is thrown.
   */
  async #submit(pk: string, tx: TableTransaction, edit: CounterEdit): Promise<number | undefined> {
    await this.#refillSamples(pk, edit);
    const emptied = edit.write(tx);
    try {
      const response = await this.#table.call('updating drift', (t) => t.submitTransaction(tx.actions));
      await this.#prune(pk, emptied, response.subResponses);
      return undefined;
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 404 || status === 409 || status === 412) return status;
      throw error;
    }
  }

  /**
   * Names servers in counter rows that would otherwise count servers but name none (every server
   * named left, so a cluster would show an empty sample). Only then, one query per configuration
   * over the rule's member rows, keys and Server only, stopping once each row has its sample. The
   * names go in with the counts under the row's ETag: a member that moves meanwhile changes that row
   * and the transaction is read and tried again.
   */
  async #refillSamples(pk: string, edit: CounterEdit): Promise<void> {
    const byFingerprint = new Map<string, Map<string, { key: string; left: ReadonlySet<string>; want: number; found: string[] }>>();
    for (const u of edit.unnamed()) {
      const shards = byFingerprint.get(u.fingerprint) ?? new Map();
      shards.set(u.shard, { key: u.key, left: u.left, want: u.want, found: [] });
      byFingerprint.set(u.fingerprint, shards);
    }
    await Promise.all(
      [...byFingerprint].map(async ([fingerprint, shards]) => {
        const filter = odata`PartitionKey eq ${pk} and RowKey ge ${DRIFT_MEMBER_KEYS.from} and RowKey lt ${DRIFT_MEMBER_KEYS.to} and Fingerprint eq ${fingerprint}`;
        const wanted = [...shards.values()];
        await this.#table.call('reading drift', async (t) => {
          for await (const e of t.listEntities({ queryOptions: { filter, select: ['Server'] } })) {
            const server = str(e, 'Server');
            const w = shards.get(driftShardOf(server));
            if (w && !w.left.has(server) && !w.found.includes(server) && w.found.length < SAMPLE_PER_ROW) w.found.push(server);
            if (wanted.every((x) => x.found.length >= x.want)) break;
          }
        });
        for (const w of wanted) edit.name(w.key, w.found);
      }),
    );
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
    const filter = odata`PartitionKey eq ${encodeKey(ruleId)} and RowKey ge ${DRIFT_COUNTER_KEYS.from} and RowKey lt ${DRIFT_COUNTER_KEYS.to}`;
    const statuses = this.#statuses;
    return this.#table.call('reading drift', async (t) => {
      const rows: DriftCounts[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) {
        rows.push({ fingerprint: str(e, 'Fingerprint'), counts: countsOf(e, statuses), factsJson: str(e, 'FactsJson') || '{}', sample: sampleOf(e) });
      }
      return { rows, entitiesRead: rows.length };
    });
  }

  /** Every member row of the server in the rule, in either layout (see #members). */
  async readMembers(ruleId: string, server: string): Promise<StoredDriftMember[]> {
    await this.#table.ready();
    return this.#members(ruleId, server);
  }

  /** The server's place in the rule's drift: a range read of its member rows (and a point read of its old-layout row, side by side, until those are recorded gone). */
  async getMember(ruleId: string, server: string): Promise<DriftMember | undefined> {
    await this.#table.ready();
    return newestMember(await this.#members(ruleId, server));
  }

  /** The rule's baseline row (server '' when cleared), undefined when none was ever named. */
  async getBaseline(ruleId: string): Promise<StoredBaseline | undefined> {
    await this.#table.ready();
    const e = await this.#get(encodeKey(ruleId), BASELINE_ROW, 'reading a baseline');
    if (!e) return undefined;
    return { ruleId, server: str(e, 'Server'), setBy: str(e, 'SetBy'), setAt: ms(e, 'SetAt') ?? 0, revision: num(e, 'Revision') ?? 0, auditOwed: jsonOf<EventRecord>(e, 'AuditOwed'), writers: jsonOf<string[]>(e, 'Writers'), etag: String(e.etag ?? '') };
  }

  /**
   * Names (or, with server '', clears) the rule's baseline. `etag` is the row as read: a change
   * made meanwhile by another admin fails with ConcurrencyConflictError instead of being lost.
   */
  async putBaseline(b: DriftBaseline, etag: string | undefined): Promise<string> {
    await this.#table.ready();
    const entity = {
      partitionKey: encodeKey(b.ruleId),
      rowKey: BASELINE_ROW,
      RuleId: b.ruleId,
      Server: b.server,
      SetBy: b.setBy,
      SetAt: dateTime(b.setAt),
      Revision: int32(b.revision),
      ...(b.auditOwed ? { AuditOwed: JSON.stringify(b.auditOwed) } : {}),
      ...(b.writers ? { Writers: JSON.stringify(b.writers) } : {}),
    };
    try {
      const written = await this.#table.call('writing a baseline', (t) => (etag ? t.updateEntity(entity, 'Replace', { etag }) : t.createEntity(entity)));
      if (!written.etag) throw new Error(`Storage returned no ETag for the baseline of ${b.ruleId}.`);
      return written.etag;
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyConflictError(`The baseline of ${b.ruleId} was changed meanwhile.`, { cause: error });
      throw error;
    }
  }
}
