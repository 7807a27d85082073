// What the projector writes to the fleet-wide tables for a set of works, all but their alert
// records: events (and so History rows), the rule index with its counts, the fleet-drift counts,
// the raw snapshots in their slots, and the Hosts rows with their stale-host bookkeeping. Each
// table's writes are keyed by the change they record, so writing the same works again (a rerun, or
// the one-by-one pass after a failed batch) writes the same rows.
import type { DriftChange, DriftStore, DriftTruth, EventStore, HostStore, IndexChange, IndexTruth, PostureStore, RawSnapshotStore, RuleIndexStore, StagedRawStore } from '../store';
import { settleAll, settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import type { HostRemoval, HostSync } from './stale-hosts';
import { driftTruthOf, indexTruthOf } from './projection-truth';
import { readFirstDrift, readFirstIndex, type ProjectionWork } from './projection-work';

/** The fleet-wide tables the projector writes, each through its own store. */
export interface ProjectionStores {
  readonly events: EventStore;
  readonly ruleIndex: RuleIndexStore;
  readonly hosts: HostStore;
  readonly rawSnapshots: RawSnapshotStore;
  /** Bodies too large for their entry, copied into their slot and removed. */
  readonly staged: StagedRawStore;
}

export interface ProjectionWritesDeps extends ProjectionStores {
  /** The projector's own store: the Results rows a move that is read and compared asks. */
  readonly store: PostureStore;
  /** Where configuration fingerprints are counted (fleet drift); left out, drift is not projected. */
  readonly drift?: DriftStore;
  /** The Hosts rows of a batch were refreshed: the stale-host bookkeeping, for all of them at once. */
  readonly hostsSynced?: (syncs: readonly HostSync[], log: AlertLog) => Promise<void>;
  /** Servers an admin removed: their stale-host bookkeeping goes (marker, last-seen index row). */
  readonly hostsRemoved?: (removed: readonly HostRemoval[]) => Promise<void>;
}

/** Staged raw bodies (up to 1 MiB each) read and copied at once. */
const STAGED_PARALLEL = 2;

export class ProjectionWrites {
  /** Where the Results rows put a server, for moves the index and drift read and compare (projection-truth.ts). */
  readonly #indexTruth: IndexTruth;
  readonly #driftTruth: DriftTruth;

  constructor(private readonly deps: ProjectionWritesDeps) {
    this.#indexTruth = indexTruthOf(deps.store);
    this.#driftTruth = driftTruthOf(deps.store);
  }

  /**
   * Everything the works owe the fleet-wide tables but their alert records, side by side (each
   * named for `timed`). `fence`: the lease generation the rule index and drift check the writes against.
   */
  async project(works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[], log: AlertLog, fence: number, timed: (name: string, p: Promise<void>) => Promise<void> = (_, p) => p): Promise<void> {
    const events = works.flatMap((w) => w.events);
    await settleAll([
      timed('events', events.length > 0 ? this.deps.events.putEvents(events) : Promise.resolve()),
      timed('index', this.#index(works, fence)),
      timed('drift', this.#drift(works, fence)),
      timed('raw', this.raw(works, droppedStaged)),
      timed('hosts', this.#hosts(works, log)),
    ]);
  }

  /**
   * The raw bodies of the works, in their slots: per server and slot only the last write counts
   * (works are in commit order per server). Bodies carried by entries go in transactions per
   * bucket; staged ones are copied one at a time, STAGED_PARALLEL at once, so however many a
   * batch holds only that many (up to 1 MiB each) are in memory. Then the staging rows go: those
   * of the works' commits, copied or overtaken, and those of dropped entries (never committed, or
   * no longer provable). A rerun after a crash before that copies again what is left.
   */
  async raw(works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[]): Promise<void> {
    const { rawSnapshots, staged } = this.deps;
    const last = new Map<string, ProjectionWork>();
    for (const w of works) {
      const slot = w.raw?.slot ?? w.staged?.slot;
      // Stryker disable next-line ConditionalExpression: a work without a body would sit under a key of its own and add nothing to either write.
      if (slot !== undefined) last.set(`${w.server}|${slot}`, w);
    }
    const final = [...last.values()];
    await settleAll([
      rawSnapshots.putRawSnapshots(final.flatMap((w) => (w.raw ? [w.raw] : []))),
      inParallel(
        final.filter((w) => w.staged),
        STAGED_PARALLEL,
        async (w) => void (await staged.copyStagedRaw(w.server, w.commitId, w.staged!.slot)),
      ),
    ]);
    await staged.deleteStagedRaw([...works, ...droppedStaged].filter((w) => w.staged).map((w) => ({ server: w.server, commitId: w.commitId })));
  }

  /**
   * Per rule, one move per server for the whole batch. A server with one change moves as its entry
   * says (a replay finds the row gone or there already, and falls back to a read). A server with
   * several changes in the batch is put straight where its last one says (a leave: taken out),
   * after reading where it is: an earlier run may have moved it part of the way.
   */
  async #index(works: readonly ProjectionWork[], fence: number): Promise<void> {
    const byRule = new Map<string, Map<string, IndexChange[]>>();
    for (const w of works) {
      for (const m of [...w.index, ...(w.indexLeaves ?? [])]) {
        const { ruleId, server } = 'leave' in m ? m : m.record;
        const perServer = byRule.get(ruleId) ?? new Map<string, IndexChange[]>();
        perServer.set(server, [...(perServer.get(server) ?? []), m]);
        byRule.set(ruleId, perServer);
      }
    }
    await settleAll(
      [...byRule].map(([ruleId, perServer]) =>
        this.deps.ruleIndex.applyIndexMoves(
          ruleId,
          [...perServer.values()].map((list) => (list.length === 1 ? list[0]! : readFirstIndex(list[list.length - 1]!))),
          fence,
          this.#indexTruth,
        ),
      ),
    );
  }

  /**
   * Each server's place in its rules' drift counts: one batched call per rule. A server with one
   * move in the batch moves from where its entry says it was (a replay finds its member gone or
   * already there, and falls back to a read); a server with several is put where its newest says,
   * after reading where it is: an earlier run may have moved it part of the way. Leaves (the rule
   * left the rule set) go the same way.
   */
  async #drift(works: readonly ProjectionWork[], fence: number): Promise<void> {
    const drift = this.deps.drift;
    if (!drift) return;
    const byRule = new Map<string, Map<string, DriftChange[]>>();
    for (const w of works) {
      for (const m of [...(w.drift ?? []), ...(w.driftLeaves ?? [])]) {
        const perServer = byRule.get(m.ruleId) ?? new Map<string, DriftChange[]>();
        perServer.set(m.server, [...(perServer.get(m.server) ?? []), m]);
        byRule.set(m.ruleId, perServer);
      }
    }
    await settleAll(
      [...byRule].map(([ruleId, perServer]) =>
        drift.applyMoves(
          ruleId,
          // Works are in commit order per server: the last move is the newest; without `from` it is read first.
          [...perServer.values()].map((list) => (list.length === 1 ? list[0]! : readFirstDrift(list[list.length - 1]!))),
          this.#driftTruth,
          fence,
        ),
      ),
    );
  }

  /**
   * The newest Hosts row per server, written per bucket (a read and a transaction per 100 rows,
   * not two calls per server: a collector upgrade or a patch wave changes every server's facts at
   * once), then the stale-host bookkeeping of those refreshes, batched too. Removed servers go
   * first: a refresh before the removal in the batch is dropped, one after it (the server
   * re-enrolled and posted again) is written once the old row is gone.
   */
  async #hosts(works: readonly ProjectionWork[], log: AlertLog): Promise<void> {
    const newest = new Map<string, NonNullable<ProjectionWork['host']>>();
    const removed = new Map<string, NonNullable<ProjectionWork['removal']>>();
    for (const w of works) {
      if (w.removal) {
        newest.delete(w.server);
        removed.set(w.server, w.removal);
      }
      if (!w.host) continue;
      // Several refreshes of one server in this batch: the newest row is written, and its
      // last-seen index row moves from the hour stored before the earliest of them (the later
      // ones' previous hours were never written).
      const earlier = newest.get(w.server);
      newest.set(w.server, earlier ? { ...w.host, previousSync: earlier.previousSync } : w.host);
    }
    if (removed.size > 0) {
      await this.deps.hosts.removeHosts([...removed].map(([server, r]) => ({ server, upTo: r.upTo })));
      await this.deps.hostsRemoved?.([...removed].map(([server, r]) => ({ server, hostSyncedAt: r.hostSyncedAt })));
    }
    if (newest.size === 0) return;
    await this.deps.hosts.putHosts([...newest.values()].map((h) => h.record));
    await this.deps.hostsSynced?.(
      [...newest.values()].map((h) => ({ server: h.record.server, previous: h.previousSync, now: h.now, snapshotId: h.snapshotId })),
      log,
    );
  }
}
