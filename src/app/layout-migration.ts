// The migration of the older layouts. Deployments before the buckets kept each server's History
// rows and raw snapshots in a partition of its own; readers ask that partition too, a second
// request on every history walk and raw read, until this job has moved every row into the buckets
// and recorded the older layouts empty. Every step copies before it deletes and never replaces
// newer content, so a run cut short anywhere leaves every row readable (at worst a History row in
// both layouts at once), and the next run finishes it; two runs side by side, or beside the
// projector, change nothing more than one.
import { decodeKey, isNewerSnapshot, olderRawMeta, PROJECTED_RAW_SLOTS, settleBounded, type KeyPosition, type OlderLayoutsState, type OlderLayoutStore, type OlderRow, type RawSnapshotMeta } from '../store';
import type { AlertLog } from './alert-log';

export interface LayoutMigrationDeps {
  readonly older: OlderLayoutStore;
  readonly clock: () => number;
  /** History rows per batch (default 500). */
  readonly historyBatch?: number;
  /** Servers' raw partitions per batch (default 50), worked `parallel` at a time (default 4: background work). */
  readonly serverBatch?: number;
  readonly parallel?: number;
}

export interface LayoutMigrationRun {
  /** Rows copied into the buckets and then removed from the older layout. */
  readonly moved: { readonly history: number; readonly snapshots: number };
  /** Raw rows removed without a copy: the bucket slots already held their content, or newer content in both. */
  readonly deleted: number;
  /** Rows left for a later run: a slot (or the row) was written while the run looked at it. */
  readonly left: number;
  /** Rows still in the older layouts after the run, counted by key up to REMAINING_COUNT_LIMIT. */
  readonly remaining: number;
  /** `remaining` reached the limit: there may be more. */
  readonly remainingAtLeast: boolean;
  /** Where the next run goes on (table and last key passed); null when this run ended a pass. */
  readonly continuation: NonNullable<OlderLayoutsState['cursor']> | null;
  /** When a run found nothing left in the older layouts (ISO time); null while rows remain. */
  readonly emptyAt: string | null;
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

type Counts = { history: number; snapshots: number; deleted: number; left: number };

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
    let cursor = state.cursor;
    const counts: Counts = { history: 0, snapshots: 0, deleted: 0, left: 0 };
    do {
      cursor = await this.#batch(cursor, counts);
    } while (cursor && budgetMs > 0 && clock() - started < budgetMs);
    const remaining = await older.count(REMAINING_COUNT_LIMIT);
    const emptyAt = remaining === 0 ? (state.emptyAt ?? clock()) : undefined;
    await older.writeState({ cursor, emptyAt }, clock());
    if (counts.history + counts.snapshots + counts.deleted + counts.left > 0 || (emptyAt !== undefined && state.emptyAt === undefined)) {
      log.log(
        `layout migration: ${counts.history} history rows and ${counts.snapshots} raw snapshots moved into the buckets, ${counts.deleted} older raw snapshots removed, ${counts.left} rows left for the next run; ${remaining === 0 ? 'nothing is left in the older layouts' : `${remaining}${remaining >= REMAINING_COUNT_LIMIT ? '+' : ''} rows left in the older layouts`}.`,
      );
    }
    return {
      moved: { history: counts.history, snapshots: counts.snapshots },
      deleted: counts.deleted,
      left: counts.left,
      remaining,
      remainingAtLeast: remaining >= REMAINING_COUNT_LIMIT,
      continuation: cursor ?? null,
      emptyAt: emptyAt === undefined ? null : new Date(emptyAt).toISOString(),
    };
  }

  /** One batch of the table the cursor is in (History first, then Snapshots); a table with nothing left passes to the next. The cursor after it. */
  async #batch(cursor: OlderLayoutsState['cursor'], counts: Counts): Promise<OlderLayoutsState['cursor']> {
    let at = cursor ?? { table: 'history' as const };
    for (;;) {
      const step = at.table === 'history' ? await this.#historyBatch(at.after, counts) : await this.#snapshotsBatch(at.after, counts);
      if (step.next) return { table: at.table, after: step.next };
      if (at.table === 'snapshots') return undefined;
      at = { table: 'snapshots' };
      // Something was done: the batch ends here, the Snapshots start the next one.
      if (step.worked) return at;
    }
  }

  /** Copies a batch of History rows to their bucket keys, then removes them from the older layout. */
  async #historyBatch(after: KeyPosition | undefined, counts: Counts): Promise<{ next?: KeyPosition; worked: boolean }> {
    const { older } = this.deps;
    const { rows, more } = await older.listRows('history', after, this.deps.historyBatch ?? 500);
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
