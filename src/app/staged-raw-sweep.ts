// The sweep of staging rows left behind. A raw body too large for its outbox entry waits in a
// staging row until the projector copies it into its slot and removes the row, before it removes
// the entry. A staging row whose entry is gone was therefore never seen by this version's
// projector: a projector of an earlier version projected the entry without knowing of the body
// (a rolling upgrade), or the row was written after the projector had given up on its entry (a
// request stalled past the grace, which then committed or died). The sweep puts such a body where
// the server's Results rows say its content belongs, if that slot lacks it and holds nothing newer,
// and removes the row. Safe to run twice and beside the projector: a copy replaces a slot only
// under the ETag it was read with, so content written meanwhile is never replaced.
import { isNewerSnapshot, PROJECTED_RAW_SLOTS, rawSlotOf, settleBounded, type OutboxStore, type RawHead, type RawSnapshotMeta, type StagedRawKey, type StagedRawMeta, type StagedRawStore } from '../store';
import type { AlertLog } from './alert-log';
import { PROJECTOR_GRACE_MS } from './projector';

export interface StagedRawSweepDeps {
  readonly staged: StagedRawStore;
  readonly outbox: Pick<OutboxStore, 'has'>;
  readonly clock: () => number;
  /** Staging rows younger than this are left alone: their request may still be on its way to its commit (default: the projector's grace). */
  readonly graceMs?: number;
  /** Storage calls in flight at once (default 4: the sweep is background work). */
  readonly parallel?: number;
}

export interface StagedRawSweepRun {
  /** Staging rows found. */
  readonly staged: number;
  /** Left alone: younger than the grace, or their outbox entry still waits for the projector. */
  readonly waiting: number;
  /** Bodies copied into the slot they belong in. */
  readonly copied: number;
  /** Staging rows removed (copied, or belonging in no slot). */
  readonly removed: number;
  /** Left for the next run: their slot was written while the sweep looked at it. */
  readonly retried: number;
}

const projectedSlot = (slot: number | undefined): boolean => (PROJECTED_RAW_SLOTS as readonly (number | undefined)[]).includes(slot);

/**
 * The slot a staged body whose entry is gone belongs in, from the server's Results rows; undefined
 * when it belongs in none (its row only goes). The server's current content belongs in the slot
 * the rows name, unless it is a snapshot the rows never accepted that is newer than theirs (an
 * attempt refused at its commit). Content a later commit superseded belongs in the slot its own
 * commit chose, if that commit is known to have landed and the row says which slot (rows staged
 * before that column only go): it is the previous content the other slot keeps.
 */
export function slotForStaged(staged: StagedRawMeta, head: RawHead | undefined): number | undefined {
  if (!head) return undefined;
  const headSlot = rawSlotOf(head.rawSlot);
  if (staged.contentHash === head.contentHash) return !isNewerSnapshot(staged, head) && projectedSlot(headSlot) ? headSlot : undefined;
  const landed = head.recentCommits.some((c) => c.id === staged.commitId);
  if (landed && projectedSlot(staged.slot) && staged.slot !== headSlot) return staged.slot;
  return undefined;
}

/** Whether a slot holding `current` should take `staged`: it lacks that content, and holds nothing newer. */
export function slotWants(staged: RawSnapshotMeta, current: RawSnapshotMeta | undefined): boolean {
  if (!current) return true;
  return current.contentHash !== staged.contentHash && isNewerSnapshot(staged, current);
}

export class StagedRawSweep {
  constructor(private readonly deps: StagedRawSweepDeps) {}

  async run(log: AlertLog): Promise<StagedRawSweepRun> {
    const { staged, outbox, clock } = this.deps;
    const graceMs = this.deps.graceMs ?? PROJECTOR_GRACE_MS;
    const parallel = this.deps.parallel ?? 4;
    const now = clock();
    const keys = await staged.listStaged();
    // A Timestamp that cannot be read makes no row old (NaN compares false).
    const old = keys.filter((k) => now - k.stagedAt >= graceMs);
    const orphaned: StagedRawKey[] = [];
    await settleBounded(old, parallel, async (k) => {
      if (!(await outbox.has(k.server, k.commitId))) orphaned.push(k);
    });
    const byServer = new Map<string, StagedRawKey[]>();
    for (const k of orphaned) {
      const list = byServer.get(k.server);
      if (list) list.push(k);
      else byServer.set(k.server, [k]);
    }
    const counts = { copied: 0, removed: 0, retried: 0 };
    await settleBounded([...byServer], parallel, async ([server, list]) => {
      const done = await this.#server(server, list, log);
      counts.copied += done.copied;
      counts.removed += done.removed;
      counts.retried += done.retried;
    });
    if (counts.removed + counts.retried > 0) {
      log.log(`staged raw sweep: ${counts.copied} staged raw bodies copied into their slots, ${counts.removed} staging rows without an outbox entry removed, ${counts.retried} left for the next run.`);
    }
    return { staged: keys.length, waiting: keys.length - orphaned.length, ...counts };
  }

  /** One server's staging rows without an entry, newest first: a newer body takes its slot before an older one is weighed against it. */
  async #server(server: string, list: readonly StagedRawKey[], log: AlertLog): Promise<{ copied: number; removed: number; retried: number }> {
    const { staged } = this.deps;
    const out = { copied: 0, removed: 0, retried: 0 };
    const head = await staged.readHead(server);
    const metas = (await Promise.all(list.map((k) => staged.readStagedMeta(server, k.commitId)))).filter((m): m is StagedRawMeta => m !== undefined);
    metas.sort((a, b) => (isNewerSnapshot(a, b) ? -1 : isNewerSnapshot(b, a) ? 1 : 0));
    for (const m of metas) {
      const slot = slotForStaged(m, head);
      if (slot !== undefined) {
        const current = await staged.readSlot(server, slot);
        if (slotWants(m, current?.meta)) {
          const outcome = await staged.copyIfUnchanged(server, m.commitId, slot, current?.etag);
          if (outcome === 'conflict') {
            out.retried++;
            continue;
          }
          if (outcome === 'copied') {
            out.copied++;
            log.log(`staged raw sweep: ${server}'s raw snapshot ${m.snapshotId} copied from its staging row into slot ${slot} (its outbox entry went without it).`);
          }
        }
      }
      await staged.deleteStagedRaw([{ server, commitId: m.commitId }]);
      out.removed++;
    }
    return out;
  }
}
