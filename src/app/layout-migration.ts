// The migration of the older layouts. Deployments before the buckets kept each server's History
// rows and raw snapshots in a partition of its own; readers ask that partition too, a second
// request on every history walk and raw read, until this job has moved every row into the buckets
// and recorded the older layouts empty. Every step copies before it deletes and never replaces
// newer content, so a run cut short anywhere leaves every row readable (at worst a History row in
// both layouts at once), and the next run finishes it; two runs side by side, or beside the
// projector, change nothing more than one. Drift's members written before they were keyed by place
// go the same way, last in each pass: each moves in one transaction that changes no count.
import { decodeKey, isNewerSnapshot, olderRawMeta, oldLayoutMemberServer, PROJECTED_RAW_SLOTS, settleBounded, type KeyPosition, type LayoutMigrationTable, type OlderDriftMembers, type OlderLayoutsState, type OlderLayoutStore, type OlderRow, type RawSnapshotMeta } from '../store';
import type { AlertLog } from './alert-log';

export interface LayoutMigrationDeps {
  readonly older: OlderLayoutStore;
  readonly drift: OlderDriftMembers;
  readonly clock: () => number;
  /** History rows per batch (default 500). */
  readonly historyBatch?: number;
  /** Servers' raw partitions per batch (default 50), worked `parallel` at a time (default 4: background work). */
  readonly serverBatch?: number;
  readonly parallel?: number;
  /** Drift member keys listed per batch (default 1000, a page), of which at most `driftMemberBatch` old-layout members are moved (default 200). */
  readonly driftKeysBatch?: number;
  readonly driftMemberBatch?: number;
}

export interface LayoutMigrationRun {
  /** Rows copied into the buckets and then removed from the older layout; drift members moved into the keyed layout. */
  readonly moved: { readonly history: number; readonly snapshots: number; readonly driftMembers: number };
  /** Raw rows removed without a copy: the bucket slots already held their content, or newer content in both. */
  readonly deleted: number;
  /** Rows left for a later run: a slot (or the row) was written while the run looked at it. */
  readonly left: number;
  /** Rows still in the older layouts after the run (drift members included), each part counted by key up to REMAINING_COUNT_LIMIT. */
  readonly remaining: number;
  /** Of `remaining`, drift members of the old layout. */
  readonly remainingDriftMembers: number;
  /** A part of `remaining` reached the limit: there may be more. */
  readonly remainingAtLeast: boolean;
  /** Where the next run goes on (table and last key passed); null when this run ended a pass. */
  readonly continuation: NonNullable<OlderLayoutsState['cursor']> | null;
  /** When a run found nothing left in the older layouts of History and Snapshots (ISO time); null while rows remain. */
  readonly emptyAt: string | null;
  /** When a run found no drift member of the old layout left (ISO time); null while any remains. */
  readonly driftEmptyAt: string | null;
}

/** A raw row of the older layout, as planned: its key and content. */
export interface OlderRaw {
  readonly rowKey: string;
  readonly meta: RawSnapshotMeta;
}

/** What becomes of one older raw row: copied into `slot` (then removed), or removed. */
export interface RawStep {
  readonly rowKey: string;
  readonly slot?: number;
}

/** Counting what is left stops here: a page of keys. */
export const REMAINING_COUNT_LIMIT = 1000;

/**
 * How long after drift's old layout is first recorded empty the runs keep looking for old-layout
 * members. No range picks those out (their key is a prefix of the keyed rows'), so each look lists
 * every member key of every rule; once no deployment that writes them can still be running (a
 * rolling deployment ends within minutes, a day is ample) the look only costs, so it stops.
 */
export const DRIFT_EMPTY_SETTLED_MS = 24 * 60 * 60_000;

/**
 * Where a server's older raw rows go, newest first, given what its bucket slots hold. The slot
 * rows of the older layout keep their number (the server's Results rows name the slot of the
 * newest content by it, and the projector writes the other one next); rows keyed by time (before
 * the slots) go to slot 0 first, as nothing names a slot for them. A row whose content a slot
 * holds already (as new or newer) is only removed; one holding it as an older snapshot takes the
 * row. Otherwise it goes to its slot when that is empty, else to the other projected slot when
 * that is; with neither free, it replaces the older of the two contents if that is older than the
 * row, and is removed without a copy when both hold newer content. So the slots keep the newest two contents, the newest where the Results rows say,
 * and nothing newer is ever replaced.
 */
export function planOlderRaw(rows: readonly OlderRaw[], slots: ReadonlyMap<number, RawSnapshotMeta>): RawStep[] {
  const held = new Map(slots);
  const newestFirst = [...rows].sort((a, b) => (isNewerSnapshot(a.meta, b.meta) ? -1 : isNewerSnapshot(b.meta, a.meta) ? 1 : 0));
  const steps: RawStep[] = [];
  for (const row of newestFirst) {
    const holds = [...held.values()].some((m) => m.contentHash === row.meta.contentHash && !isNewerSnapshot(row.meta, m));
    if (holds) {
      steps.push({ rowKey: row.rowKey });
      continue;
    }
    const own = row.rowKey === 'slot1' ? 1 : 0;
    // Stryker disable next-line MethodExpression,ConditionalExpression: a slot listed twice is found as the same, the free or the oldest all the same.
    const candidates = [own, ...PROJECTED_RAW_SLOTS.filter((s) => s !== own)];
    const olderThanRow = (slot: number): boolean => {
      const m = held.get(slot);
      return m !== undefined && isNewerSnapshot(row.meta, m);
    };
    // The slot holding this content as an older snapshot, so it stays one content; else an empty
    // slot, so no content of the newest two is given up while one is free; else the one holding
    // the oldest content, if that is older than the row.
    const same = candidates.find((s) => held.get(s)?.contentHash === row.meta.contentHash && olderThanRow(s));
    const free = candidates.find((s) => !held.has(s));
    const oldest = candidates.filter(olderThanRow).sort((a, b) => (isNewerSnapshot(held.get(a)!, held.get(b)!) ? 1 : -1))[0];
    const slot = same ?? free ?? oldest;
    if (slot === undefined) {
      steps.push({ rowKey: row.rowKey });
      continue;
    }
    held.set(slot, row.meta);
    steps.push({ rowKey: row.rowKey, slot });
  }
  return steps;
}

type Counts = { history: number; snapshots: number; driftMembers: number; deleted: number; left: number };

/** The tables of a pass, in order. */
const PASS = ['history', 'snapshots', 'drift'] as const;

export class LayoutMigration {
  constructor(private readonly deps: LayoutMigrationDeps) {}

  /**
   * Batches from where the last run stopped: one when `budgetMs` is 0, else until a pass ends or the
   * budget is spent. Then counts what is left and records it (empty: when, for the readers).
   */
  async run(log: AlertLog, budgetMs = 0): Promise<LayoutMigrationRun> {
    const { older, clock } = this.deps;
    const started = clock();
    const state = await older.readState();
    // Stryker disable next-line ConditionalExpression: without a time the difference is NaN, which is never at least a day.
    const driftSettled = state.driftEmptyAt !== undefined && started - state.driftEmptyAt >= DRIFT_EMPTY_SETTLED_MS;
    const pass: readonly LayoutMigrationTable[] = driftSettled ? PASS.filter((t) => t !== 'drift') : PASS;
    // A cursor left in the drift members by a run before they settled starts a new pass.
    let cursor = state.cursor && pass.includes(state.cursor.table) ? state.cursor : undefined;
    const counts: Counts = { history: 0, snapshots: 0, driftMembers: 0, deleted: 0, left: 0 };
    do {
      cursor = await this.#batch(pass, cursor, counts);
    } while (cursor && budgetMs > 0 && clock() - started < budgetMs);
    const [remainingRows, remainingDrift] = await Promise.all([older.count(REMAINING_COUNT_LIMIT), driftSettled ? 0 : this.deps.drift.count(REMAINING_COUNT_LIMIT)]);
    const emptyAt = remainingRows === 0 ? (state.emptyAt ?? clock()) : undefined;
    const driftEmptyAt = remainingDrift === 0 ? (state.driftEmptyAt ?? clock()) : undefined;
    await older.writeState({ cursor, emptyAt, driftEmptyAt }, clock());
    const remaining = remainingRows + remainingDrift;
    const atLeast = remainingRows >= REMAINING_COUNT_LIMIT || remainingDrift >= REMAINING_COUNT_LIMIT;
    const newlyEmpty = (emptyAt !== undefined && state.emptyAt === undefined) || (driftEmptyAt !== undefined && state.driftEmptyAt === undefined);
    if (counts.history + counts.snapshots + counts.driftMembers + counts.deleted + counts.left > 0 || newlyEmpty) {
      log.log(
        `layout migration: ${counts.history} history rows and ${counts.snapshots} raw snapshots moved into the buckets, ${counts.deleted} older raw snapshots removed, ${counts.driftMembers} drift members moved into the keyed layout, ${counts.left} rows left for the next run; ${remaining === 0 ? 'nothing is left in the older layouts' : `${remaining}${atLeast ? '+' : ''} rows left in the older layouts (${remainingDrift}${remainingDrift >= REMAINING_COUNT_LIMIT ? '+' : ''} of them drift members)`}.`,
      );
    }
    const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());
    return {
      moved: { history: counts.history, snapshots: counts.snapshots, driftMembers: counts.driftMembers },
      deleted: counts.deleted,
      left: counts.left,
      remaining,
      remainingDriftMembers: remainingDrift,
      remainingAtLeast: atLeast,
      continuation: cursor ?? null,
      emptyAt: iso(emptyAt),
      driftEmptyAt: iso(driftEmptyAt),
    };
  }

  /** One batch of the table the cursor is in (History, then Snapshots, then drift, as `pass` lists them); a table with nothing left passes to the next. The cursor after it. */
  async #batch(pass: readonly LayoutMigrationTable[], cursor: OlderLayoutsState['cursor'], counts: Counts): Promise<OlderLayoutsState['cursor']> {
    let at: NonNullable<OlderLayoutsState['cursor']> = cursor ?? { table: pass[0]! };
    for (;;) {
      const step = at.table === 'history' ? await this.#historyBatch(at.after, counts) : at.table === 'snapshots' ? await this.#snapshotsBatch(at.after, counts) : await this.#driftBatch(at.after, counts);
      if (step.next) return { table: at.table, after: step.next };
      const following = pass[pass.indexOf(at.table) + 1];
      if (following === undefined) return undefined;
      at = { table: following };
      // Something was done: the batch ends here, the next table starts the next one.
      if (step.worked) return at;
    }
  }

  /**
   * Lists a page of drift member keys (both layouts share the range) and moves the old-layout
   * members among them, at most `driftMemberBatch`; the next batch starts after the last one moved,
   * or after the page.
   */
  async #driftBatch(after: KeyPosition | undefined, counts: Counts): Promise<{ next?: KeyPosition; worked: boolean }> {
    const { drift } = this.deps;
    const { keys, more } = await drift.listMemberKeys(after, this.deps.driftKeysBatch ?? 1000);
    const old = keys.filter((k) => oldLayoutMemberServer(k.rowKey) !== undefined);
    const taken = old.slice(0, this.deps.driftMemberBatch ?? 200);
    if (taken.length > 0) {
      const done = await drift.move(taken, this.deps.parallel ?? 4);
      counts.driftMembers += done.moved + done.resolved;
      counts.left += done.left;
    }
    const next = taken.length < old.length ? taken[taken.length - 1] : more ? keys[keys.length - 1] : undefined;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: drift is the last table of every pass, so whether its batch worked is never read.
    return { next, worked: taken.length > 0 };
  }

  /** Copies a batch of History rows to their bucket keys, then removes them from the older layout. */
  async #historyBatch(after: KeyPosition | undefined, counts: Counts): Promise<{ next?: KeyPosition; worked: boolean }> {
    const { older } = this.deps;
    const { rows, more } = await older.listRows('history', after, this.deps.historyBatch ?? 500);
    // Stryker disable next-line ObjectLiteral: an answer without `worked` reads as false.
    if (rows.length === 0) return { worked: false };
    await older.copyHistoryRows(rows);
    const done = await older.deleteHistoryRows(rows);
    counts.history += done.deleted + done.gone;
    const last = rows[rows.length - 1]!;
    return { next: more ? { partitionKey: last.partitionKey, rowKey: last.rowKey } : undefined, worked: true };
  }

  /** Moves the raw rows of a batch of servers: each server's older partition whole. */
  async #snapshotsBatch(after: KeyPosition | undefined, counts: Counts): Promise<{ next?: KeyPosition; worked: boolean }> {
    const { older } = this.deps;
    const max = this.deps.serverBatch ?? 50;
    // Keys only, to find the servers: a server has a handful of rows, each up to a megabyte.
    const { rows, more } = await older.listRows('snapshots', after, max * 4, true);
    const partitions = [...new Set(rows.map((r) => r.partitionKey))].slice(0, max);
    // Stryker disable next-line ObjectLiteral: an answer without `worked` reads as false.
    if (partitions.length === 0) return { worked: false };
    await settleBounded(partitions, this.deps.parallel ?? 4, (pk) => this.#server(pk, counts));
    const cut = more || partitions.length < new Set(rows.map((r) => r.partitionKey)).size;
    // The last partition was read whole, so the next batch starts after it.
    return { next: cut ? { partitionKey: partitions[partitions.length - 1]! } : undefined, worked: true };
  }

  /** One server's older raw rows into its bucket slots, then out of the older layout; all or nothing more when a slot changed meanwhile. */
  async #server(partitionKey: string, counts: Counts): Promise<void> {
    const { older } = this.deps;
    const server = decodeKey(partitionKey);
    const [rows, slots] = await Promise.all([older.readPartition('snapshots', partitionKey), older.readSlots(server)]);
    const byKey = new Map<string, OlderRow>(rows.map((r) => [r.rowKey, r]));
    const plan = planOlderRaw(
      rows.map((r) => ({ rowKey: r.rowKey, meta: olderRawMeta(r) })),
      new Map([...slots].map(([slot, s]) => [slot, s.meta])),
    );
    const etags = new Map([...slots].map(([slot, s]) => [slot, s.etag]));
    const settled: { row: OlderRow; copied: boolean }[] = [];
    for (const step of plan) {
      const row = byKey.get(step.rowKey)!;
      if (step.slot !== undefined) {
        const outcome = await older.copyToSlot(row, server, step.slot, etags.get(step.slot));
        if (outcome === 'conflict') {
          // The slots are not what the plan was made from: the rest waits for a run that reads them again.
          counts.left += plan.length - settled.length;
          break;
        }
      }
      settled.push({ row, copied: step.slot !== undefined });
    }
    for (const { row, copied } of settled) {
      const outcome = await older.deleteRawRow(row);
      if (outcome === 'changed') counts.left++;
      else if (copied) counts.snapshots++;
      else counts.deleted++;
    }
  }
}
