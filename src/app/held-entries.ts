// Outbox entries the projector set aside (held): an entry that failed on its own while others
// succeeded, or one this version cannot read, waits in the Outbox table's held partition with its
// error (FleetPosture.ProjectionHeld alerts) until an operator requeues it once a fix is deployed.
// Here: setting one aside, the listing the operator reads (the projector job's status route), the requeue
// (the requeue-held job), and how a requeued entry is projected — it was written before its
// server's later changes, which were projected while it waited.
import type { HeldOutboxEntry, OutboxStore, RawSnapshotStore, StagedRawStore, StoredOutboxEntry } from '../store';
import { isNewerSnapshot, settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { readingFirst, type ProjectionWork } from './projection-work';

/** An entry whose commit is proven (or was, before it was held) and its work. */
export interface Ready {
  readonly entry: StoredOutboxEntry;
  readonly work: ProjectionWork;
}

/** The work as projected: a requeued entry comes after its server's later changes, so its moves read first. */
export const workOf = (r: Ready): ProjectionWork => (r.entry.requeued ? readingFirst(r.work) : r.work);

export interface HeldEntriesDeps {
  readonly outbox: OutboxStore;
  readonly rawSnapshots: RawSnapshotStore;
  readonly staged: StagedRawStore;
}

export class HeldEntries {
  constructor(private readonly deps: HeldEntriesDeps) {}

  /** Sets an entry aside (held) and logs the record that alerts on it. */
  async hold(entry: StoredOutboxEntry, error: string, proven: boolean, log: AlertLog): Promise<void> {
    await this.deps.outbox.hold(entry, error, proven, Date.now());
    log.log(formatLogRecord(LOG_RECORDS.projectionHeld, { server: entry.server, commitId: entry.commitId, error }));
  }

  /** The entries set aside (up to `max`; `more`: there are others), for the operator. */
  async list(max = 100): Promise<{ entries: HeldOutboxEntry[]; more: boolean }> {
    const entries = await this.deps.outbox.listHeld(max + 1);
    return { entries: entries.slice(0, max), more: entries.length > max };
  }

  /**
   * Puts held entries back in the outbox once a fix is deployed (a call moves up to a few hundred;
   * `more`: call again). The next drain projects them; one that fails again is held again.
   */
  async requeue(log: AlertLog): Promise<{ requeued: number; more: boolean }> {
    const result = await this.deps.outbox.requeueHeld();
    if (result.requeued > 0) log.log(`projector: ${result.requeued} held outbox entries requeued${result.more ? ' (more are held)' : ''}.`);
    return result;
  }

  /**
   * A requeued entry's raw body goes to its slot only while the server holds no newer one: the two
   * slots alternate, so the slot it was due in may hold a body its server posted after it. When
   * it is left out, its staging row (if any) is added to `droppedStaged`, removed as for a dropped entry.
   */
  async keepNewerRaw(ready: readonly Ready[], droppedStaged: ProjectionWork[], parallel: number): Promise<Ready[]> {
    const out = [...ready];
    const due = out.map((r, i) => ({ r, i })).filter(({ r }) => r.entry.requeued && (r.work.raw !== undefined || r.work.staged !== undefined));
    await inParallel(due, parallel, async ({ r, i }) => {
      const own = r.work.raw?.record ?? (await this.deps.staged.readStagedMeta(r.entry.server, r.entry.commitId));
      const latest = own && (await this.deps.rawSnapshots.getLatestRaw(r.entry.server));
      if (!own || !latest || !isNewerSnapshot(latest, own)) return;
      if (r.work.staged) droppedStaged.push(r.work);
      out[i] = { ...r, work: { ...r.work, raw: undefined, staged: undefined } };
    });
    return out;
  }
}
