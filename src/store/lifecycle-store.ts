// The Lifecycle table: what the timers need without scanning the fleet.
//   PK 'seen-YYYYMMDDHH', RK server — a last-seen index by hour of the Hosts row's last refresh;
//     a server has one row (the ingest moves it when the Hosts row is refreshed, at most hourly).
//   PK 'stale', RK server            — present while a server is marked stale.
//   PK 'reeval', RK 'state'          — the re-evaluation cursor and lease (ETag-guarded).
//   PK 'layout', RK 'older-layouts'  — the layout migration's cursor and when it found nothing
//     left in the older layouts (older-layouts.ts writes it, the History and raw-snapshot readers read it).
//   PK 'service', RK 'continuation-token-secret' — the continuation-token secret the instances share
//     when no setting gives one (shared-secret.ts).
import { odata, RestError } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { dateTime, int32, jsonOf, ms, num, optStr, str } from './columns';
import { statusCodeOf } from './errors';
import type { Entity } from './entities';
import { encodeKey } from './keys';
import { settleBounded, transactionChunks } from './transactions';
import type { PostureStore } from './posture-store';
import type { SiblingTable } from './sibling-table';

export interface SeenEntry {
  readonly server: string;
  /** When the Hosts row was last refreshed (the server posted then). */
  readonly sync: number;
  readonly partitionKey: string;
}

export interface StaleMarker {
  readonly server: string;
  /** When the service last received a snapshot from the server. */
  readonly lastSeen: number;
  readonly staleSince: number;
  readonly lastSnapshotId: string;
}

/** The string-valued entries of a decoded JSON object. */
function stringValues(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The string items of a decoded JSON array. */
function stringItems(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export interface ReevalState {
  /** Rule-set version the pass works towards, and the rule versions it stands for (id → version). */
  readonly targetVersion: string;
  readonly ruleVersions: Readonly<Record<string, string>>;
  /**
   * The rule versions every server's rows carried when the pass started (those of the finished pass
   * it replaced), so a reader can tell which rules the pass leaves as they were; undefined when not
   * known (the first pass, or a state an older release wrote without it).
   */
  readonly fromRuleVersions?: Readonly<Record<string, string>>;
  /** Rule ids the pass's release retired: an older release that still loads one yields to it. */
  readonly retired: readonly string[];
  /** SDK continuation token into the Hosts table; empty at the start of a pass. */
  readonly cursor: string;
  readonly done: boolean;
  readonly leaseOwner: string;
  readonly leaseUntil: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** When a run last wrote the state (a lease taken or given back): how an older release knows the pass's release still runs. */
  readonly activeAt: number;
  readonly evaluated: number;
  readonly changed: number;
  readonly unavailable: number;
}

const STALE_PK = 'stale';
/** Index transactions in flight at once. */
const PARALLEL = 8;
const REEVAL_KEYS = { partitionKey: 'reeval', rowKey: 'state' } as const;

export const seenPartition = (t: number): string => 'seen-' + new Date(t).toISOString().slice(0, 13).replace(/[-T]/g, '');

/** A stale marker claimed for the refresh that brought its server back. */
export interface ReturnedMarker extends StaleMarker {
  readonly returnedAt: number;
  readonly returnedSnapshotId: string;
}

const returnedOf = (e: Record<string, unknown>): ReturnedMarker | undefined => {
  const returnedAt = ms(e, 'ReturnedAt');
  return returnedAt === undefined ? undefined : { ...toMarker(e), returnedAt, returnedSnapshotId: str(e, 'ReturnedSnapshotId') };
};

const toMarker = (e: Record<string, unknown>): StaleMarker => ({
  server: str(e, 'Server'),
  lastSeen: ms(e, 'LastSeen') ?? 0,
  staleSince: ms(e, 'StaleSince') ?? 0,
  lastSnapshotId: str(e, 'LastSnapshotId'),
});

export class LifecycleStore {
  readonly #table: SiblingTable;
  constructor(private readonly store: PostureStore) {
    this.#table = store.siblingTable('lifecycle');
  }

  // ---- last-seen index ------------------------------------------------------------------------

  /** Moves the server's index row to the hour of `sync` (ingest calls this when it refreshes the Hosts row). */
  async recordSeen(server: string, sync: number, previousSync: number | undefined): Promise<void> {
    const pk = seenPartition(sync);
    const rk = encodeKey(server);
    await this.#table.call('writing the last-seen index', (t) => t.upsertEntity({ partitionKey: pk, rowKey: rk, Server: server, Sync: dateTime(sync) }, 'Replace'));
    if (previousSync !== undefined && seenPartition(previousSync) !== pk) await this.#deleteQuietly(seenPartition(previousSync), rk);
  }

  /**
   * recordSeen for many servers: the index rows in transactions per hour partition (≤ 100 rows),
   * then the rows they replace deleted in transactions per old hour. A delete transaction that
   * meets a row already gone fails whole (nothing deleted); its rows are then deleted one by one.
   */
  async recordSeenMany(list: ReadonlyArray<{ readonly server: string; readonly sync: number; readonly previousSync?: number }>): Promise<void> {
    const rows: Entity[] = list.map((s) => ({ partitionKey: seenPartition(s.sync), rowKey: encodeKey(s.server), Server: s.server, Sync: dateTime(s.sync) }));
    await settleBounded(transactionChunks(rows), PARALLEL, async (chunk) => {
      const [only] = chunk;
      if (chunk.length === 1 && only) await this.#table.call('writing the last-seen index', (t) => t.upsertEntity(only, 'Replace'));
      else await this.#table.call('writing the last-seen index', (t) => t.submitTransaction(chunk.map((e) => ['upsert', e, 'Replace'] as const)));
    });
    const gone: Entity[] = list.flatMap((s) => (s.previousSync !== undefined && seenPartition(s.previousSync) !== seenPartition(s.sync) ? [{ partitionKey: seenPartition(s.previousSync), rowKey: encodeKey(s.server) }] : []));
    await settleBounded(transactionChunks(gone), PARALLEL, async (chunk) => {
      try {
        if (chunk.length > 1) return void (await this.#table.call('deleting last-seen rows', (t) => t.submitTransaction(chunk.map((e) => ['delete', e] as const))));
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
      for (const e of chunk) await this.#deleteQuietly(e.partitionKey, e.rowKey);
    });
  }

  /**
   * Index rows synced at or before `before`, oldest hours first, at most `max`. The sync is in the
   * filter, not only the hours: rows of `before`'s own hour synced after it are no candidates, and
   * must not take the places of those that are.
   */
  async listSeenUpTo(before: number, max: number): Promise<SeenEntry[]> {
    await this.#table.ready();
    const filter = odata`PartitionKey ge ${'seen-'} and PartitionKey le ${seenPartition(before)} and Sync le ${new Date(before)}`;
    return this.#table.call('reading the last-seen index', async (t) => {
      const out: SeenEntry[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) {
        out.push({ server: str(e, 'Server'), sync: ms(e, 'Sync') ?? 0, partitionKey: String(e.partitionKey) });
        if (out.length >= max) break;
      }
      return out;
    });
  }

  async deleteSeen(entry: SeenEntry): Promise<void> {
    await this.#deleteQuietly(entry.partitionKey, encodeKey(entry.server));
  }

  /**
   * The exact time the service last received a snapshot from the server (Results.LastSeen), and
   * the index partitions its current row may be in (the hours of the rows' last Hosts refresh).
   */
  async lastSeenOf(server: string): Promise<{ lastSeen: number; snapshotId: string; seenPartitions: ReadonlySet<string> } | undefined> {
    let newest: { lastSeen: number; snapshotId: string } | undefined;
    const seenPartitions = new Set<string>();
    for (const row of await this.store.seenRows(server)) {
      if (!newest || row.lastSeen > newest.lastSeen) newest = { lastSeen: row.lastSeen, snapshotId: row.snapshotId };
      if (row.hostSyncedAt !== undefined) seenPartitions.add(seenPartition(row.hostSyncedAt));
    }
    return newest && { ...newest, seenPartitions };
  }

  // ---- stale markers --------------------------------------------------------------------------

  /**
   * Creates the marker, named for this call; false when the server was already marked (another
   * run, or this run from another index row of the server). A create whose answer was lost after
   * it landed (a 503 retried into a 409) is known by that name on the marker, so this call, and only
   * it, still reports it.
   */
  async markStale(m: StaleMarker): Promise<boolean> {
    const name = randomUUID();
    try {
      await this.#table.call('marking a server stale', (t) =>
        t.createEntity({
          partitionKey: STALE_PK,
          rowKey: encodeKey(m.server),
          Server: m.server,
          LastSeen: dateTime(m.lastSeen),
          StaleSince: dateTime(m.staleSince),
          LastSnapshotId: m.lastSnapshotId,
          MarkedBy: name,
        }),
      );
      return true;
    } catch (error) {
      if (statusCodeOf(error) !== 409) throw error;
      const marker = await this.#getOrUndefined(STALE_PK, encodeKey(m.server), 'reading a stale marker');
      return marker !== undefined && optStr(marker, 'MarkedBy') === name;
    }
  }

  /**
   * The markers of those servers that have one, each claimed for the refresh that brought its
   * server back: the refresh's time and snapshot, written on the marker under its ETag. A marker an
   * earlier attempt claimed keeps that claim (the projector, which alone calls this under its
   * lease, stopped before it removed the marker), so the Returned event its retry writes is the
   * same row. One range read of the stale partition between the first and last server (markers are
   * few: only silent servers), then a write per marker not yet claimed.
   */
  async claimReturned(back: ReadonlyMap<string, { readonly at: number; readonly snapshotId: string }>): Promise<ReturnedMarker[]> {
    if (back.size === 0) return [];
    const wanted = new Set([...back.keys()].map(encodeKey));
    const sorted = [...wanted].sort();
    const filter = odata`PartitionKey eq ${STALE_PK} and RowKey ge ${sorted[0]!} and RowKey le ${sorted[sorted.length - 1]!}`;
    const found = await this.#table.call('reading stale markers', async (t) => {
      const out: Record<string, unknown>[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter } })) if (wanted.has(String(e.rowKey))) out.push(e);
      return out;
    });
    const claimed: ReturnedMarker[] = [];
    await settleBounded(found, PARALLEL, async (e) => {
      const marker = await this.#claim(e, back.get(str(e, 'Server'))!);
      if (marker) claimed.push(marker);
    });
    return claimed;
  }

  /** The marker claimed (by this call or an earlier attempt); undefined when it is gone. */
  async #claim(e: Record<string, unknown>, by: { readonly at: number; readonly snapshotId: string }): Promise<ReturnedMarker | undefined> {
    const earlier = returnedOf(e);
    if (earlier) return earlier;
    try {
      await this.#table.call('claiming a stale marker', (t) =>
        t.updateEntity({ partitionKey: STALE_PK, rowKey: String(e.rowKey), ReturnedAt: dateTime(by.at), ReturnedSnapshotId: by.snapshotId }, 'Merge', { etag: String(e.etag) }),
      );
      return { ...toMarker(e), returnedAt: by.at, returnedSnapshotId: by.snapshotId };
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== 404 && status !== 412) throw error;
      // Changed since it was read: by this claim, whose answer was lost, or it is gone.
      const now = await this.#getOrUndefined(STALE_PK, String(e.rowKey), 'reading a stale marker');
      return now && returnedOf(now);
    }
  }

  /** Removes the markers of servers back from silence (once their Returned event is written); one already gone is no error. */
  async removeStale(servers: readonly string[]): Promise<void> {
    await settleBounded(servers, PARALLEL, (server) => this.#deleteQuietly(STALE_PK, encodeKey(server)));
  }

  async getStale(server: string): Promise<StaleMarker | undefined> {
    await this.#table.ready();
    const e = await this.#getOrUndefined(STALE_PK, encodeKey(server), 'reading a stale marker');
    return e ? toMarker(e) : undefined;
  }

  /** Every stale server (the set is small next to the fleet: only silent servers). */
  async listStale(): Promise<StaleMarker[]> {
    await this.#table.ready();
    return this.#table.call('listing stale servers', async (t) => {
      const out: StaleMarker[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${STALE_PK}` } })) out.push(toMarker(e));
      return out;
    });
  }

  // ---- re-evaluation state --------------------------------------------------------------------

  async getReevalState(): Promise<{ state: ReevalState; etag: string } | undefined> {
    await this.#table.ready();
    const e = await this.#getOrUndefined(REEVAL_KEYS.partitionKey, REEVAL_KEYS.rowKey, 'reading the re-evaluation state');
    if (!e) return undefined;
    const fromVersions = jsonOf<unknown>(e, 'FromRuleVersionsJson');
    return {
      etag: String(e.etag),
      state: {
        targetVersion: str(e, 'TargetVersion'),
        // A damaged or missing column reads as no rules (a state written before retired ids were kept retired none).
        ruleVersions: stringValues(jsonOf<unknown>(e, 'RuleVersionsJson')),
        fromRuleVersions: fromVersions === undefined ? undefined : stringValues(fromVersions),
        retired: stringItems(jsonOf<unknown>(e, 'RetiredJson')),
        cursor: str(e, 'Cursor'),
        done: e.Done === true,
        leaseOwner: str(e, 'LeaseOwner'),
        leaseUntil: ms(e, 'LeaseUntil') ?? 0,
        startedAt: ms(e, 'StartedAt') ?? 0,
        finishedAt: ms(e, 'FinishedAt') ?? 0,
        activeAt: ms(e, 'ActiveAt') ?? 0,
        evaluated: num(e, 'Evaluated') ?? 0,
        changed: num(e, 'Changed') ?? 0,
        unavailable: num(e, 'Unavailable') ?? 0,
      },
    };
  }

  /**
   * Writes the state if it is still at `etag` (or absent when undefined); the new ETag, or undefined
   * when another instance won. A write taking the lease whose answer was lost after it landed (a
   * 503 retried into a 409 or 412) finds its own owner and time on the row: the lease is held.
   */
  async putReevalState(s: ReevalState, etag: string | undefined): Promise<string | undefined> {
    const entity = {
      ...REEVAL_KEYS,
      TargetVersion: s.targetVersion,
      RuleVersionsJson: JSON.stringify(s.ruleVersions),
      ...(s.fromRuleVersions && { FromRuleVersionsJson: JSON.stringify(s.fromRuleVersions) }),
      RetiredJson: JSON.stringify(s.retired),
      Cursor: s.cursor,
      Done: s.done,
      LeaseOwner: s.leaseOwner,
      LeaseUntil: dateTime(s.leaseUntil),
      StartedAt: dateTime(s.startedAt),
      FinishedAt: dateTime(s.finishedAt),
      ActiveAt: dateTime(s.activeAt),
      Evaluated: int32(s.evaluated),
      Changed: int32(s.changed),
      Unavailable: int32(s.unavailable),
    };
    try {
      const r = await this.#table.call('writing the re-evaluation state', (t) =>
        etag ? t.updateEntity(entity, 'Replace', { etag }) : t.createEntity(entity),
      );
      return r.etag ?? '';
    } catch (error) {
      const status = statusCodeOf(error);
      if (status !== 409 && status !== 412 && status !== 404) throw error;
      // The owner is a new id per run, so a row naming it was written by this call.
      if (!s.leaseOwner) return undefined;
      const now = await this.getReevalState();
      return now && now.state.leaseOwner === s.leaseOwner && now.state.leaseUntil === s.leaseUntil ? now.etag : undefined;
    }
  }

  async #getOrUndefined(pk: string, rk: string, what: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.#table.call(what, (t) => t.getEntity(pk, rk));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async #deleteQuietly(pk: string, rk: string): Promise<void> {
    try {
      await this.#table.call('deleting a lifecycle row', (t) => t.deleteEntity(pk, rk));
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }
}

