// Silent servers. The projector keeps a last-seen index by hour (moved when it refreshes a Hosts row, at
// most hourly per server, so a steady post costs nothing extra). The timer reads only the index's
// old hours — servers that may have gone quiet — confirms each against the exact Results.LastSeen,
// and marks it stale: an event and a FleetPosture.ServerStale record, once (the marker is created
// conditionally). The server's next post removes the marker: an event and FleetPosture.ServerReturned.
// Index rows that are not a server's current one (left by a move that failed half-way) are pruned.
import { seenPartition, type EventRecord, type EventStore, type LifecycleStore } from '../store';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { isoInstant as iso } from './iso-time';

export interface StaleHostsDeps {
  readonly events: EventStore;
  readonly lifecycle: LifecycleStore;
  readonly clock: () => number;
  readonly staleAfterMinutes: number;
}

/** Index rows looked at per run; the rest wait for the next run (oldest first). */
export const STALE_SCAN_LIMIT = 500;
const PARALLEL = 8;

/** A server's Hosts row was refreshed at `now` (the previous refresh at `previous`) from `snapshotId`. */
export interface HostSync {
  readonly server: string;
  readonly previous?: number;
  readonly now: number;
  readonly snapshotId: string;
}

/** An admin removed the server; its Hosts row was last refreshed at `hostSyncedAt` (if known). */
export interface HostRemoval {
  readonly server: string;
  readonly hostSyncedAt?: number;
}

export interface StaleRun {
  readonly checked: number;
  readonly markedStale: number;
  readonly stillReporting: number;
  readonly forgotten: number;
  /** Index rows left in an old hour by a move that failed half-way (the server's current row is elsewhere). */
  readonly pruned: number;
}

function serverEvent(server: string, to: 'Stale' | 'Reporting', at: number, snapshotId: string, recordedAt: number, previousFirstSeen?: number): EventRecord {
  const stale = to === 'Stale';
  return {
    server,
    ruleId: '',
    ruleVersion: '',
    fromStatus: stale ? 'Reporting' : 'Stale',
    toStatus: to,
    reasonCode: stale ? 'NotReporting' : 'Returned',
    severity: stale ? 'Warning' : 'Info',
    message: stale
      ? { en: `${server} stopped posting snapshots; its last verdicts may be out of date.`, ja: `${server} からのスナップショットが途絶えました。最後の判定は古い可能性があります。` }
      : { en: `${server} posts snapshots again.`, ja: `${server} からのスナップショットが再開しました。` },
    firstSeen: at,
    previousFirstSeen,
    snapshotId,
    recordedAt,
    cause: stale ? 'stale' : 'returned',
  };
}

export class StaleHosts {
  readonly staleAfterMs: number;
  constructor(private readonly deps: StaleHostsDeps) {
    this.staleAfterMs = deps.staleAfterMinutes * 60_000;
  }

  /**
   * Projector hook: the Hosts rows of these servers were just refreshed. Their last-seen index rows
   * move in transactions per hour, one read finds which of them were marked stale, and only those
   * cost a call each: the marker is claimed for this refresh, the Returned events written, the
   * markers removed, then the records logged. A failure on the way leaves the marker claimed, and
   * the projector's retry finishes it with the same event row, so no return is lost.
   */
  async hostsSynced(syncs: readonly HostSync[], log: AlertLog): Promise<void> {
    if (syncs.length === 0) return;
    const { lifecycle, events, clock } = this.deps;
    await lifecycle.recordSeenMany(syncs.map((s) => ({ server: s.server, sync: s.now, previousSync: s.previous })));
    const returned = await lifecycle.claimReturned(new Map(syncs.map((s) => [s.server, { at: s.now, snapshotId: s.snapshotId }])));
    if (returned.length === 0) return;
    await events.putEvents(returned.map((m) => serverEvent(m.server, 'Reporting', m.returnedAt, m.returnedSnapshotId, clock(), m.staleSince)));
    await lifecycle.removeStale(returned.map((m) => m.server));
    for (const m of returned) {
      log.log(formatLogRecord(LOG_RECORDS.serverReturned, { server: m.server, lastSeen: iso(m.lastSeen), staleSince: iso(m.staleSince), returnedAt: iso(m.returnedAt) }));
    }
  }

  /**
   * Projector hook: these servers were removed. Their stale markers go (a removed server is not
   * stale, and its return would be no return) and so do their last-seen index rows; a row this
   * misses (its hour unknown) is dropped by the timer, which finds no results behind it.
   */
  async hostsRemoved(removed: readonly HostRemoval[]): Promise<void> {
    const { lifecycle } = this.deps;
    await lifecycle.removeStale(removed.map((r) => r.server));
    await Promise.all(
      removed.map(async ({ server, hostSyncedAt: sync }) => {
        if (sync !== undefined) await lifecycle.deleteSeen({ server, sync, partitionKey: seenPartition(sync) });
      }),
    );
  }

  /** The timer: one bounded pass over the index's old hours. */
  async run(log: AlertLog): Promise<StaleRun> {
    const { lifecycle, events, clock } = this.deps;
    const now = clock();
    const threshold = now - this.staleAfterMs;
    const entries = await lifecycle.listSeenUpTo(threshold, STALE_SCAN_LIMIT);
    let markedStale = 0;
    let stillReporting = 0;
    let forgotten = 0;
    let pruned = 0;
    const work = [...entries];
    const worker = async () => {
      for (let e = work.shift(); e; e = work.shift()) {
        const seen = await lifecycle.lastSeenOf(e.server);
        if (!seen) {
          await lifecycle.deleteSeen(e); // no results any more: nothing to watch
          forgotten++;
          continue;
        }
        if (seen.lastSeen > threshold) {
          // Not the current row (a move whose delete failed, or a retry that could not know the
          // old hour): it would come up in every run and crowd real candidates out of the scan.
          if (!seen.seenPartitions.has(e.partitionKey)) {
            await lifecycle.deleteSeen(e);
            pruned++;
            continue;
          }
          // Posted since the Hosts refresh (within the hour); its next refresh moves the index row.
          stillReporting++;
          continue;
        }
        const staleSince = seen.lastSeen + this.staleAfterMs;
        // The event first (same key on a rerun), then the marker decides who writes the record.
        await events.putEvents([serverEvent(e.server, 'Stale', staleSince, seen.snapshotId, now)]);
        if (await lifecycle.markStale({ server: e.server, lastSeen: seen.lastSeen, staleSince, lastSnapshotId: seen.snapshotId })) {
          // An admin's removal that committed since the read above may have had its marker cleared
          // by the projector before this one was made: a removed server is not stale.
          if (!(await lifecycle.lastSeenOf(e.server))) {
            await lifecycle.removeStale([e.server]);
            await lifecycle.deleteSeen(e);
            forgotten++;
            continue;
          }
          log.log(formatLogRecord(LOG_RECORDS.serverStale, { server: e.server, lastSeen: iso(seen.lastSeen), staleSince: iso(staleSince) }));
          markedStale++;
        }
        await lifecycle.deleteSeen(e);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    return { checked: entries.length, markedStale, stillReporting, forgotten, pruned };
  }
}
