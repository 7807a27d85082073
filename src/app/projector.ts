// The projector: drains the outbox in batches across servers. A commit's request writes an outbox
// entry and commits (its only writes); everything fleet-wide happens here — events in transactions
// of 100, History rows and raw snapshots in transactions per bucket of servers, the rule index with
// its counts (one transaction per rule, shard and ~50 servers; a server whose commit removed a
// rule's row leaves that rule's index and drift the same way), the fleet-drift counts, Hosts, then
// the alert records, then the entries go. A raw body too large for its entry was staged by its
// request in a Snapshots row of its own; the projector copies it into its slot and removes it.
//
// Safe to run twice, or after a crash at any point: every write is keyed by the change it records
// (events, history, raw slots, index rows by server), index moves that find the index already moved
// fall back to a read-and-compare (which asks the server's Results row where it belongs: a move
// replayed after its server left must not count it again), and an entry is removed only after all
// of it was written. Only
// the log is not a table: an alert record is logged after the writes and before the entry goes, so
// a crash in between logs it again on the next run; the record carries an id (one per change) the
// alert queries count once, and a running projector never logs an id twice.
//
// One drains at a time (a lease in the Outbox table, kept alive during a batch: projector-lease.ts);
// a process serialises its own drains.
//
// One entry that cannot be projected (a bug, or an entry written by another release) must not stop
// the others: a batch that fails with an error that is not an outage is projected again one entry
// at a time, and an entry that fails alone is set aside in the Outbox table's held partition with
// its error (FleetPosture.ProjectionHeld alerts) until an operator requeues it. An outage stops the
// run instead (every entry stays for the next run), and a run that fails logs
// FleetPosture.ProjectionFailed, which alerts once the projector has failed for ten minutes.
import { randomUUID } from 'node:crypto';
import type { DriftChange, DriftStore, DriftTruth, EventStore, HeldOutboxEntry, HostStore, IndexChange, IndexTruth, OutboxStore, PostureStore, RawSnapshotStore, RuleIndexStore, StagedRawStore, StoredOutboxEntry, StoredResult } from '../store';
import { ConcurrencyConflictError, FencedOutError, isAccessDenied, isNewerSnapshot, isTransient, LeaseLostError, settleAll, settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import type { HostRemoval, HostSync } from './stale-hosts';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { headOf } from './ingest';
import { ProjectorLease } from './projector-lease';
import { driftTruthOf, indexTruthOf } from './projection-truth';
import { alertRecordId, decodeWork, FINDING, readFirstDrift, readFirstIndex, readingFirst, type AlertWork, type ProjectionWork } from './projection-work';

/** The fleet-wide tables the projector writes, each through its own store. */
export interface ProjectionStores {
  readonly events: EventStore;
  readonly ruleIndex: RuleIndexStore;
  readonly hosts: HostStore;
  readonly rawSnapshots: RawSnapshotStore;
  /** Bodies too large for their entry, copied into their slot and removed. */
  readonly staged: StagedRawStore;
}

export interface ProjectorDeps extends ProjectionStores {
  /**
   * The projector's own store, where it reads the proof of a commit (its own round-trip counter:
   * requests are measured without it); the projection stores are built on it too.
   */
  readonly store: PostureStore;
  readonly outbox: OutboxStore;
  /** Where configuration fingerprints are counted (fleet drift); left out, drift is not projected. */
  readonly drift?: DriftStore;
  /** Waivers in force now, as a lookup (read once per batch that logs a new finding). */
  readonly waivers: () => Promise<(server: string, ruleId: string, since: number) => string | undefined>;
  /** The Hosts rows of a batch were refreshed: the stale-host bookkeeping, for all of them at once. */
  readonly hostsSynced?: (syncs: readonly HostSync[], log: AlertLog) => Promise<void>;
  /** Servers an admin removed: their stale-host bookkeeping goes (marker, last-seen index row). */
  readonly hostsRemoved?: (removed: readonly HostRemoval[]) => Promise<void>;
  /** Entries per batch (default 500: the batch's work is held in memory). */
  readonly batchSize?: number;
  /**
   * Payload characters per batch (default 16 Mi): a batch of entries that each carry a large raw
   * body (up to the 1 MiB snapshot limit) is cut short, so the projector's memory stays bounded.
   * Bodies too large for their entry are not in it: they are read from their staging rows two at
   * a time while they are copied.
   */
  readonly batchBytes?: number;
  /** How long an entry whose commit is not visible yet may still be waiting for it (default 5 min). */
  readonly graceMs?: number;
  /** Storage calls in flight at once for per-server work (default 16). */
  readonly parallel?: number;
  /** How long the lease lasts unless renewed (default 60 s; renewed every third of it while a batch runs). */
  readonly leaseMs?: number;
}

export interface ProjectorRun {
  /** busy: another instance holds the lease; done: the outbox held nothing more that is ready. */
  readonly status: 'busy' | 'done' | 'progress';
  readonly entries: number;
  readonly projected: number;
  /** Entries whose commit is not visible yet (kept for the next run). */
  readonly waiting: number;
  /** Entries of attempts that never committed (removed without projecting). */
  readonly dropped: number;
  /** Entries set aside in this run: they failed on their own, or this version cannot read them. */
  readonly held: number;
  readonly events: number;
  readonly alertRecords: number;
  /**
   * Where the time went, ms summed over the run's batches: reading the outbox and the proofs,
   * each projection (they run side by side: each is the time until it finished), the alert
   * records, clearing the outbox. For the operator's log line and the benchmark.
   */
  readonly phaseMs?: Readonly<Record<string, number>>;
}

const LEASE_MS = 60_000;
/** How long an entry whose commit is not visible yet may still be waiting for it, unless told otherwise. */
export const PROJECTOR_GRACE_MS = 5 * 60_000;
/** Staged raw bodies (up to 1 MiB each) read and copied at once. */
const STAGED_PARALLEL = 2;
/** How many commit ids the Results rows remember (RECENT_COMMITS in ingest): proof of a commit. */
const ZERO: Omit<ProjectorRun, 'status' | 'phaseMs'> = { entries: 0, projected: 0, waiting: 0, dropped: 0, held: 0, events: 0, alertRecords: 0 };

/**
 * Errors that stop the run, every entry kept for the next one: storage down or throttling, access
 * refused (a role scoped wrongly), a contended write, or the lease lost. Projecting entries one by
 * one would not get past them.
 */
const stopsTheRun = (error: unknown): boolean => isTransient(error) || isAccessDenied(error) || error instanceof ConcurrencyConflictError || error instanceof LeaseLostError;
/**
 * Entries tried one at a time, first, before the one-by-one pass goes on side by side: when they
 * all fail alike and none succeeded, the cause is not in the entries (a deploy bug, a setting) and
 * setting the whole outbox aside would only bury it.
 */
const PROBES = 3;
const kindOf = (error: unknown): string => (error instanceof Error ? `${error.name}|${(error as { code?: unknown }).code ?? ''}` : typeof error);
const firstLine = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split('\n')[0]!.slice(0, 500);

/** An entry whose commit is proven (or was, before it was held) and its work. */
interface Ready {
  readonly entry: StoredOutboxEntry;
  readonly work: ProjectionWork;
}

/** The work as projected: a requeued entry comes after its server's later changes, so its moves read first. */
const workOf = (r: Ready): ProjectionWork => (r.entry.requeued ? readingFirst(r.work) : r.work);

/** A set that forgets its oldest members past `max`. */
class RecentSet {
  readonly #items = new Set<string>();
  constructor(private readonly max: number) {}
  has(x: string): boolean {
    return this.#items.has(x);
  }
  add(x: string): void {
    this.#items.delete(x);
    this.#items.add(x);
    if (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value!);
  }
}

type Verdict = 'committed' | 'wait' | 'never' | 'unknown';

/** Whether the commit of an outbox entry happened, from a Results row of its server (which remembers its latest commits). */
export function verdictOf(entry: Pick<StoredOutboxEntry, 'commitId' | 'writtenAt' | 'storedAt'>, row: StoredResult | undefined, now: number, graceMs: number, remembered: number): Verdict {
  const commits = row?.recentCommits ?? [];
  if (commits.some((c) => c.id === entry.commitId)) return 'committed';
  // The commit follows the entry within one request (seconds): until the grace has passed it may still land.
  if (now - entry.storedAt < graceMs) return 'wait';
  // Rows that remember every commit since the entry was written, without this one: it never landed.
  const oldest = commits.length === 0 ? Infinity : Math.min(...commits.map((c) => c.at));
  if (commits.length < remembered || oldest <= entry.writtenAt - graceMs) return 'never';
  return 'unknown';
}

interface Kick {
  readonly log: AlertLog;
  readonly quietMs: number;
  readonly maxDelayMs: number;
  timer?: NodeJS.Timeout;
  firstAt?: number;
}

export class Projector {
  readonly #owner = randomUUID();
  readonly #committed = new RecentSet(50_000);
  readonly #emitted = new RecentSet(100_000);
  #running: Promise<ProjectorRun> | undefined;
  /** When this process's runs started failing (every run since has); undefined while they succeed. */
  #failingSince: number | undefined;
  #queued: Promise<ProjectorRun> | undefined;
  /** The highest lease generation the rule index refused this projector under: its next lease is above it. */
  #fencedAt = 0;
  /** Hosts attached to this app's commits, latest last: the latest one's log and delays are used. */
  readonly #kicks: Kick[] = [];

  /** Where the Results rows put a server, for moves the index and drift read and compare (projection-truth.ts). */
  readonly #indexTruth: IndexTruth;
  readonly #driftTruth: DriftTruth;

  constructor(
    private readonly deps: ProjectorDeps,
    private readonly remembered: number,
  ) {
    this.#indexTruth = indexTruthOf(deps.store);
    this.#driftTruth = driftTruthOf(deps.store);
  }

  /** This process saw the commit of `commitId` succeed: its entry needs no proof read. */
  committed(commitId: string): void {
    this.#committed.add(commitId);
  }

  /**
   * Lets commits start a drain in this process (the local host, and any long-lived host): once no
   * commit has come for `quietMs`, or at the latest `maxDelayMs` after the first one waiting. A
   * burst is served first and projected right after it (the requests and the projector share one
   * process and one storage account); a steady stream of changes is still projected every
   * `maxDelayMs`. Returns the host's release (when it stops).
   */
  attach(log: AlertLog, quietMs = 300, maxDelayMs = 30_000): () => void {
    // Two hosts may serve one app (tests, a host restarted in place): each release takes away only
    // its own attachment, so closing one host leaves the other's commits still starting drains.
    const own: Kick = { log, quietMs, maxDelayMs };
    this.#kicks.push(own);
    return () => {
      const at = this.#kicks.indexOf(own);
      if (at < 0) return;
      this.#kicks.splice(at, 1);
      if (own.timer === undefined) return;
      clearTimeout(own.timer);
      own.timer = undefined;
      // Entries this host's commits announced still get their drain, from the host left if any.
      this.kick();
    };
  }

  /** A kicked drain is waiting for the commits to pause: an interval drain now would only compete with them. */
  get kickPending(): boolean {
    return this.#kicks.some((k) => k.timer !== undefined);
  }

  /** A commit wrote an outbox entry: drain soon, if a host attached itself. */
  kick(): void {
    const k = this.#kicks.at(-1);
    if (!k) return;
    const now = Date.now();
    k.firstAt ??= now;
    if (k.timer) clearTimeout(k.timer);
    const wait = Math.max(0, Math.min(k.quietMs, k.firstAt + k.maxDelayMs - now));
    k.timer = setTimeout(() => {
      k.timer = undefined;
      k.firstAt = undefined;
      void this.drain(k.log, 60_000).catch((error: unknown) => k.log.log(`projector: ${error instanceof Error ? error.message : String(error)}`));
    }, wait);
    k.timer.unref?.();
  }

  /** The entries set aside (up to `max`; `more`: there are others), for the operator. */
  async held(max = 100): Promise<{ entries: HeldOutboxEntry[]; more: boolean }> {
    const entries = await this.deps.outbox.listHeld(max + 1);
    return { entries: entries.slice(0, max), more: entries.length > max };
  }

  /**
   * Puts held entries back in the outbox once a fix is deployed (a call moves up to a few hundred;
   * `more`: call again). The next drain projects them; one that fails again is held again.
   */
  async requeueHeld(log: AlertLog): Promise<{ requeued: number; more: boolean }> {
    const result = await this.deps.outbox.requeueHeld();
    if (result.requeued > 0) {
      log.log(`projector: ${result.requeued} held outbox entries requeued${result.more ? ' (more are held)' : ''}.`);
      this.kick();
    }
    return result;
  }

  /** Resolves when no drain of this process is running (a host waits for it before it stops). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
  }

  /**
   * Batches until nothing ready is left or `budgetMs` is spent. Drains of one process run one after
   * another; a drain asked for while one runs starts after it (so it sees entries written meanwhile).
   */
  async drain(log: AlertLog, budgetMs = 60_000): Promise<ProjectorRun> {
    // One waiting is enough: it will see whatever was written before it starts.
    if (this.#queued) return this.#queued;
    const previous = this.#running;
    const self: { run?: Promise<ProjectorRun> } = {};
    const run = (async () => {
      await previous?.catch(() => undefined);
      if (this.#queued === self.run) this.#queued = undefined;
      return this.#drainReporting(log, budgetMs);
    })();
    self.run = run;
    if (previous) this.#queued = run;
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  /**
   * A drain that says when it failed: a structured record per failed run with how long this
   * process's runs have failed, so an alert can tell a brief outage from a projector that is stuck.
   */
  async #drainReporting(log: AlertLog, budgetMs: number): Promise<ProjectorRun> {
    try {
      const run = await this.#drain(log, budgetMs);
      if (run.status !== 'busy') this.#failingSince = undefined;
      return run;
    } catch (error) {
      const now = Date.now();
      this.#failingSince ??= now;
      const errorKind = error instanceof Error ? error.name : typeof error;
      log.log(
        formatLogRecord(LOG_RECORDS.projectionFailed, {
          error: firstLine(error),
          errorKind,
          failingSince: new Date(this.#failingSince).toISOString(),
          failingMinutes: Math.floor((now - this.#failingSince) / 60_000),
        }),
      );
      throw error;
    }
  }

  async #drain(log: AlertLog, budgetMs: number): Promise<ProjectorRun> {
    // An empty outbox costs one query and writes nothing (no lease taken): the usual tick.
    if ((await this.deps.outbox.list(1)).length === 0) return { status: 'done', ...ZERO };
    const started = Date.now();
    const total = { ...ZERO };
    const phaseMs: Record<string, number> = {};
    let last: ProjectorRun = { status: 'done', ...ZERO };
    try {
      for (;;) {
        last = await this.#batch(log);
        for (const k of Object.keys(ZERO) as (keyof typeof ZERO)[]) total[k] += last[k];
        for (const [k, v] of Object.entries(last.phaseMs ?? {})) phaseMs[k] = (phaseMs[k] ?? 0) + v;
        if (last.status !== 'progress' || Date.now() - started > budgetMs) break;
      }
    } finally {
      if (last.status !== 'busy') await this.deps.outbox.releaseLease(this.#owner);
    }
    if (total.projected + total.dropped + total.held > 0) {
      const phases = Object.entries(phaseMs).map(([k, v]) => `${k} ${v}`).join(', ');
      log.log(`projector: projected ${total.projected} outbox entries (${total.events} events, ${total.alertRecords} alert records, ${total.dropped} dropped, ${total.waiting} waiting${total.held > 0 ? `, ${total.held} held` : ''}) in ${Date.now() - started} ms (ms per phase: ${phases}).`);
    }
    return { ...total, status: last.status, phaseMs };
  }

  async #batch(log: AlertLog): Promise<ProjectorRun> {
    const lease = await ProjectorLease.take(this.deps.outbox, this.#owner, this.deps.leaseMs ?? LEASE_MS, this.#fencedAt);
    if (!lease) return { status: 'busy', ...ZERO };
    try {
      return await this.#leasedBatch(log, lease);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      if (error instanceof FencedOutError) await this.#fencedOut(error, lease);
      // Whatever this batch did not finish stays in the outbox for the instance that took over.
      log.log(`projector: ${error.message}`);
      return { status: 'busy', ...ZERO };
    } finally {
      await lease.stop();
    }
  }

  /**
   * The rule index refused this projector's generation. When the lease passed on, that is the
   * lease lost (the run is 'busy'). When this projector still holds it, its generation is below
   * one written before (a clock ahead, or a lease row rewritten without its generation): left so,
   * every run would be refused while it keeps renewing the lease. The run fails (logged, and it
   * alerts should it go on) and the next one takes a generation above the one seen.
   */
  async #fencedOut(error: FencedOutError, lease: ProjectorLease): Promise<void> {
    try {
      await lease.keep(true);
    } catch (lost) {
      if (lost instanceof LeaseLostError) return;
      throw lost;
    }
    this.#fencedAt = Math.max(this.#fencedAt, error.fence);
    throw new Error(`The rule index refused this projector's lease generation ${lease.generation} (it was written under ${error.fence}) while it held the lease; the next run takes a higher one.`, { cause: error });
  }

  async #leasedBatch(log: AlertLog, lease: ProjectorLease): Promise<ProjectorRun> {
    const { outbox, store } = this.deps;
    const batchSize = this.deps.batchSize ?? 500;
    const graceMs = this.deps.graceMs ?? PROJECTOR_GRACE_MS;
    const parallel = this.deps.parallel ?? 16;
    const now = Date.now();
    const phaseMs: Record<string, number> = {};
    let mark = now;
    const phase = (name: string) => {
      const t = Date.now();
      phaseMs[name] = t - mark;
      mark = t;
    };
    const batchBytes = this.deps.batchBytes ?? 16 * 1024 * 1024;
    const listed = await outbox.list(batchSize, batchBytes);
    if (listed.length === 0) return { status: 'done', ...ZERO };
    // The listing is in key order, so one server's entries come together, earliest first (commit
    // ids begin with their time), but the cut of a full listing can fall among them. Entries of an
    // older version sort at random, and projecting a later change before an earlier one would leave
    // its index and drift at the earlier one: the server listed last waits for the next batch,
    // unless it is alone (then its earliest entries go first).
    const full = listed.length >= batchSize || listed.reduce((n, e) => n + e.payload.length, 0) >= batchBytes;
    const edge = listed[listed.length - 1]!.server;
    const entries = full && listed.some((e) => e.server !== edge) ? listed.filter((e) => e.server !== edge) : listed;

    // One server's entries in the order they were written (its commits are serialised by ETags).
    // A requeued entry was written before the server's others here (it was held while they came):
    // it goes first, so the newest change is the one each table ends at.
    const byServer = new Map<string, StoredOutboxEntry[]>();
    for (const e of entries) byServer.set(e.server, [...(byServer.get(e.server) ?? []), e]);
    for (const list of byServer.values()) list.sort((a, b) => Number(b.requeued) - Number(a.requeued) || a.storedAt - b.storedAt || a.writtenAt - b.writtenAt);

    // Proof that each commit happened: this process saw it, or the server's rows remember it.
    const proven = (e: StoredOutboxEntry) => this.#committed.has(e.commitId) || (e.requeued && e.proven);
    const proofs = new Map<string, StoredResult | undefined>();
    const needProof = [...byServer.entries()].filter(([, list]) => list.some((e) => !proven(e)));
    await inParallel(needProof, parallel, async ([server, list]) => {
      const rule = list.map((e) => decodeWork(e.payload)?.proofRule).find((r) => r !== undefined);
      // Only entries this version cannot read: the newest row of the server carries its latest commits.
      proofs.set(server, rule === undefined ? headOf(await store.readServer(server)) : await store.readResultRow(server, rule));
    });

    const ready: Ready[] = [];
    const drop: StoredOutboxEntry[] = [];
    /**
     * Entries this version cannot read whose commit happened (or cannot be told): set aside, not
     * dropped (a later release may read them), with whether the commit was proven — a requeued one
     * may come back after its rows forgot the commit id.
     */
    const unreadable: { entry: StoredOutboxEntry; proven: boolean }[] = [];
    /** Dropped entries whose body was staged: their staging rows go too. */
    const droppedStaged: ProjectionWork[] = [];
    let waiting = 0;
    for (const [server, list] of byServer) {
      const decoded = list.map((entry) => ({ entry, work: decodeWork(entry.payload) }));
      const verdicts = decoded.map(({ entry }): Verdict => (proven(entry) ? 'committed' : verdictOf(entry, proofs.get(server), now, graceMs, this.remembered)));
      // A proven commit ends every earlier attempt's chance: its ETags predate that commit.
      const lastCommitted = verdicts.lastIndexOf('committed');
      for (let i = 0; i < decoded.length; i++) {
        const { entry, work } = decoded[i]!;
        const verdict = verdicts[i] === 'wait' && i < lastCommitted ? 'never' : verdicts[i]!;
        if (!work && (verdict === 'committed' || verdict === 'unknown')) unreadable.push({ entry, proven: verdict === 'committed' });
        else if (verdict === 'committed') ready.push({ entry, work: work! });
        else if (verdict === 'never' || verdict === 'unknown') {
          if (verdict === 'unknown') log.log(`projector: the commit of ${server}'s outbox entry ${entry.commitId} can no longer be proven (its rows changed many times since); removed unprojected.`);
          drop.push(entry);
          if (work?.staged) droppedStaged.push(work);
        } else {
          // Later entries of the server wait with it, so its changes are projected in order.
          waiting += list.length - i;
          break;
        }
      }
    }
    for (const { entry, proven: committed } of unreadable) await this.#hold(entry, 'This version cannot read the entry (written by another release, or damaged).', committed, log);
    phase('read');
    let outcome: { projected: number; held: number; events: number; alertRecords: number };
    let toProject: readonly Ready[] = ready;
    try {
      if (ready.some((r) => r.entry.requeued)) toProject = await this.#keepNewerRaw(ready, droppedStaged, parallel);
      const works = toProject.map(workOf);
      const started = mark;
      await this.#project(works, droppedStaged, log, lease.generation, (name, p) => p.finally(() => (phaseMs[name] = Date.now() - started)));
      mark = Date.now();
      // Another instance that took the lease meanwhile projects these entries and logs their records.
      await lease.keep();
      const alertRecords = await this.#alerts(works, log, new Set(toProject.filter((r) => r.entry.requeued).map((r) => r.entry.commitId)));
      phase('alerts');
      await outbox.remove([...toProject.map((r) => r.entry), ...drop]);
      phase('clear');
      outcome = { projected: toProject.length, held: 0, events: works.reduce((n, w) => n + w.events.length, 0), alertRecords };
    } catch (error) {
      if (stopsTheRun(error)) throw error;
      log.log(`projector: a batch of ${ready.length} entries failed (${firstLine(error)}); projecting them one at a time.`);
      mark = Date.now();
      outcome = await this.#oneByOne(toProject, drop, droppedStaged, lease, log);
      phase('oneByOne');
    }
    for (const r of ready) this.#committed.add(r.entry.commitId);
    return {
      status: full && ready.length + drop.length + unreadable.length > 0 ? 'progress' : 'done',
      entries: entries.length,
      waiting,
      dropped: drop.length,
      ...outcome,
      held: outcome.held + unreadable.length,
      phaseMs,
    };
  }

  /**
   * A requeued entry's raw body goes to its slot only while the server holds no newer one: the two
   * slots alternate, so the slot it was due in may hold a body its server posted after it. When
   * it is left out, its staging row (if any) is removed as for a dropped entry.
   */
  async #keepNewerRaw(ready: readonly Ready[], droppedStaged: ProjectionWork[], parallel: number): Promise<Ready[]> {
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

  /** Everything the works owe the fleet-wide tables but their alert records, side by side (each named for `timed`). */
  async #project(works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[], log: AlertLog, fence: number, timed: (name: string, p: Promise<void>) => Promise<void> = (_, p) => p): Promise<void> {
    const events = works.flatMap((w) => w.events);
    await settleAll([
      timed('events', events.length > 0 ? this.deps.events.putEvents(events) : Promise.resolve()),
      timed('index', this.#index(works, fence)),
      timed('drift', this.#drift(works)),
      timed('raw', this.#raw(works, droppedStaged)),
      timed('hosts', this.#hosts(works, log)),
    ]);
  }

  /**
   * A batch failed with an error that is not an outage: its entries again one at a time, each
   * server's in commit order and servers side by side, so an entry that cannot be projected stops
   * only itself. That one is set aside with its error; its server's later entries go on, reading
   * where its rows are first (the moves of the entry set aside never happened). Everything
   * written is keyed by the change, so what the failed batch wrote already is written again alike.
   * Only an entry that fails while others succeed is set aside: when the first PROBES entries fail
   * alike, or every entry fails, the run stops and keeps them all (ProjectionFailed says why).
   */
  async #oneByOne(ready: readonly Ready[], drop: readonly StoredOutboxEntry[], droppedStaged: readonly ProjectionWork[], lease: ProjectorLease, log: AlertLog): Promise<{ projected: number; held: number; events: number; alertRecords: number }> {
    const { outbox } = this.deps;
    await this.#raw([], droppedStaged);
    await outbox.remove(drop);
    const byServer = new Map<string, Ready[]>();
    for (const r of ready) byServer.set(r.entry.server, [...(byServer.get(r.entry.server) ?? []), r]);
    const lists = [...byServer.values()];
    const outcome = { projected: 0, held: 0, events: 0, alertRecords: 0 };
    /** The first entry of a server that failed, and its server's entries after it (not tried yet). */
    const failed: { r: Ready; error: unknown; rest: Ready[] }[] = [];
    const project = async (r: Ready, behindHeld: boolean) => {
      await lease.keep();
      const w = behindHeld ? readingFirst(r.work) : workOf(r);
      await this.#project([w], [], log, lease.generation);
      outcome.alertRecords += await this.#alerts([w], log, new Set(r.entry.requeued ? [r.entry.commitId] : []));
      await outbox.remove([r.entry]);
      outcome.projected++;
      outcome.events += w.events.length;
    };
    /** A server's entries in order until one fails; the rest wait until it is known whether to hold it. */
    const tryList = async (list: readonly Ready[]) => {
      for (let i = 0; i < list.length; i++) {
        try {
          await project(list[i]!, false);
        } catch (error) {
          if (stopsTheRun(error)) throw error;
          failed.push({ r: list[i]!, error, rest: list.slice(i + 1) });
          return;
        }
      }
    };
    let probed = 0;
    while (probed < lists.length && outcome.projected === 0 && failed.length < PROBES) await tryList(lists[probed++]!);
    const alike = failed.length >= PROBES && failed.every((f) => kindOf(f.error) === kindOf(failed[0]!.error));
    if (!alike) await inParallel(lists.slice(probed), this.deps.parallel ?? 16, tryList);
    if (outcome.projected === 0 && (alike || failed.length > 1)) {
      log.log(`projector: ${alike ? `the first ${failed.length} entries` : `all ${failed.length} entries tried`} failed and none succeeded; the run stops and keeps them (the cause is not in one entry).`);
      throw failed[0]!.error;
    }
    // Others succeeded: each failed entry is set aside, then its server's later entries go on.
    await inParallel(failed, this.deps.parallel ?? 16, async ({ r, error, rest }) => {
      await this.#hold(r.entry, firstLine(error), true, log);
      outcome.held++;
      for (const next of rest) {
        try {
          await project(next, true);
        } catch (later) {
          if (stopsTheRun(later)) throw later;
          await this.#hold(next.entry, firstLine(later), true, log);
          outcome.held++;
        }
      }
    });
    return outcome;
  }

  /** Sets an entry aside (held) and logs the record that alerts on it. */
  async #hold(entry: StoredOutboxEntry, error: string, proven: boolean, log: AlertLog): Promise<void> {
    await this.deps.outbox.hold(entry, error, proven, Date.now());
    log.log(formatLogRecord(LOG_RECORDS.projectionHeld, { server: entry.server, commitId: entry.commitId, error }));
  }

  /**
   * The raw bodies of the batch, in their slots: per server and slot only the last write counts
   * (entries are in commit order per server). Bodies carried by entries go in transactions per
   * bucket; staged ones are copied one at a time, STAGED_PARALLEL at once, so however many a
   * batch holds only that many (up to 1 MiB each) are in memory. Then the staging rows go: those
   * of the batch's commits, copied or overtaken, and those of dropped entries (never committed, or
   * no longer provable). A rerun after a crash before that copies again what is left.
   */
  async #raw(works: readonly ProjectionWork[], droppedStaged: readonly ProjectionWork[]): Promise<void> {
    const { rawSnapshots, staged } = this.deps;
    const last = new Map<string, ProjectionWork>();
    for (const w of works) {
      const slot = w.raw?.slot ?? w.staged?.slot;
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
  async #drift(works: readonly ProjectionWork[]): Promise<void> {
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

  /**
   * Logs each change's alert record once per id; a failed waiver read cannot cost an alert (it goes
   * out unwaived). A requeued change (`requeued`: commit ids) was held while its server changed
   * again: its record goes out only while the status it announces is still the rule's current one
   * (same status, same firstSeen); one a later change replaced — a finding resolved since — would
   * page for nothing, so it is logged as superseded, not as an alert record.
   */
  async #alerts(works: readonly ProjectionWork[], log: AlertLog, requeued: ReadonlySet<string>): Promise<number> {
    const owed = works.flatMap((w) => w.alerts.map((a) => ({ a, requeued: requeued.has(w.commitId) }))).filter(({ a }) => !this.#emitted.has(alertRecordId(a)));
    const superseded = new Set<AlertWork>();
    await inParallel(
      owed.filter((o) => o.requeued),
      this.deps.parallel ?? 16,
      async ({ a }) => {
        const row = await this.deps.store.readResultRow(a.server, a.ruleId);
        if (row?.status !== a.status || row.firstSeen !== a.firstSeen) superseded.add(a);
      },
    );
    for (const a of superseded) {
      log.log(`projector: the ${a.status} record of ${a.server} / ${a.ruleId} (snapshot ${a.snapshotId}) was superseded by a later change while its entry was held; not logged as an alert.`);
      this.#emitted.add(alertRecordId(a));
    }
    const due = owed.map((o) => o.a).filter((a) => !superseded.has(a));
    if (due.length === 0) return 0;
    let waiverOf: (server: string, ruleId: string, since: number) => string | undefined = () => undefined;
    if (due.some((a) => FINDING.has(a.status))) waiverOf = await this.deps.waivers().catch(() => () => undefined);
    for (const a of due) {
      const recordId = alertRecordId(a);
      const fields = { server: a.server, rule: a.ruleId, status: a.status, reasonCode: a.reasonCode, previousStatus: a.previousStatus ?? null, snapshotId: a.snapshotId, recordId };
      if (FINDING.has(a.status)) {
        // Under a waiver the record still goes out, marked, and the alert rules filter it.
        const waiverId = waiverOf(a.server, a.ruleId, a.firstSeen);
        log.log(formatLogRecord(LOG_RECORDS.newFinding, { ...fields, waived: waiverId !== undefined, waiverId: waiverId ?? null, cause: a.cause }));
      } else log.log(formatLogRecord(LOG_RECORDS.findingResolved, { ...fields, cause: a.cause }));
      this.#emitted.add(recordId);
    }
    return due.length;
  }
}
