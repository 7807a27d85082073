// The projector: drains the outbox in batches across servers. A commit's request writes an outbox
// entry and commits (its only writes); everything fleet-wide happens here — events in transactions
// of 100, History rows and raw snapshots in transactions per bucket of servers, the rule index with
// its counts (one transaction per rule, shard and ~50 servers; a server whose commit removed a
// rule's row leaves that rule's index and drift the same way), the fleet-drift counts, Hosts, then
// the alert records, then the entries go (projection-writes.ts: the tables; projection-alerts.ts:
// the records). A raw body too large for its entry was staged by its request in a Snapshots row of
// its own; the projector copies it into its slot and removes it.
//
// Safe to run twice, or after a crash at any point: every write is keyed by the change it records
// (events, history, raw slots, index rows by server), index moves that find the index already moved
// fall back to a read-and-compare (which asks the server's Results row where it belongs: a move
// replayed after its server left must not count it again), and an entry is removed only after all
// of it was written. Only the log is not a table: an alert record logged before a crash is logged
// again on the next run, under the same id.
//
// One drains at a time (a lease in the Outbox table, kept alive during a batch: projector-lease.ts);
// a process serialises its own drains.
//
// One entry that cannot be projected (a bug, or an entry written by another release) must not stop
// the others: a batch that fails with an error that is not an outage is projected again one entry
// at a time (projection-one-by-one.ts), and an entry that fails alone is set aside in the Outbox
// table's held partition with its error (FleetPosture.ProjectionHeld alerts) until an operator
// requeues it (held-entries.ts). An outage stops the
// run instead (every entry stays for the next run), and a run that fails logs
// FleetPosture.ProjectionFailed, which alerts once the projector has failed for ten minutes. Every
// run that found work, failed or not, logs FleetPosture.ProjectorBacklog (projector-backlog.ts).
// A projector that does not run logs nothing: an alert rule on the host's row per execution
// (infra/modules/alerts.bicep) fires when no run succeeded for fifteen minutes.
import { randomUUID } from 'node:crypto';
import type { OutboxStore, PostureStore, StoredOutboxEntry, StoredResult } from '../store';
import { FencedOutError, LeaseLostError, settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { messageOf } from './errors';
import { headOf } from './ingest';
import { HeldEntries, workOf, type Ready } from './held-entries';
import { ProjectionAlerts, type ProjectionAlertsDeps } from './projection-alerts';
import { firstLine, projectOneByOne, stopsTheRun, type OneByOneOutcome } from './projection-one-by-one';
import { decodeWork, type ProjectionWork } from './projection-work';
import { ProjectionWrites, type ProjectionWritesDeps } from './projection-writes';
import { logBacklog, readBacklog, type OutboxBacklog } from './projector-backlog';
import { ProjectorLease } from './projector-lease';
import { RecentSet } from './recent-set';
import { isoInstant } from './iso-time';

export interface ProjectorDeps extends ProjectionWritesDeps, ProjectionAlertsDeps {
  /**
   * The projector's own store, where it reads the proof of a commit (its own round-trip counter:
   * requests are measured without it); the projection stores are built on it too.
   */
  readonly store: PostureStore;
  readonly outbox: OutboxStore;
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
const ZERO: Omit<ProjectorRun, 'status' | 'phaseMs'> = { entries: 0, projected: 0, waiting: 0, dropped: 0, held: 0, events: 0, alertRecords: 0 };

type Verdict = 'committed' | 'wait' | 'never' | 'unknown';

/** Whether the commit of an outbox entry happened, from a Results row of its server (which remembers its latest commits). */
export function verdictOf(entry: Pick<StoredOutboxEntry, 'commitId' | 'writtenAt' | 'storedAt'>, row: StoredResult | undefined, now: number, graceMs: number, remembered: number): Verdict {
  const commits = row?.recentCommits ?? [];
  if (commits.some((c) => c.id === entry.commitId)) return 'committed';
  // The commit follows the entry within one request (seconds): until the grace has passed it may still land.
  if (now - entry.storedAt < graceMs) return 'wait';
  // Rows that remember every commit since the entry was written, without this one: it never landed.
  // Math.min of none is Infinity: a row that remembers no commit goes back to no time.
  const oldest = Math.min(...commits.map((c) => c.at));
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
  #running: Promise<ProjectorRun> | undefined;
  /** When this process's runs started failing (every run since has); undefined while they succeed. */
  #failingSince: number | undefined;
  #queued: Promise<ProjectorRun> | undefined;
  /** The highest lease generation a fenced table (the rule index, drift) refused this projector under: its next lease is above it. */
  #fencedAt = 0;
  /** Hosts attached to this app's commits, latest last: the latest one's log and delays are used. */
  readonly #kicks: Kick[] = [];

  readonly #writes: ProjectionWrites;
  readonly #alerts: ProjectionAlerts;
  readonly #held: HeldEntries;

  constructor(
    private readonly deps: ProjectorDeps,
    private readonly remembered: number,
  ) {
    this.#writes = new ProjectionWrites(deps);
    this.#alerts = new ProjectionAlerts(deps);
    this.#held = new HeldEntries(deps);
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
    clearTimeout(k.timer);
    const wait = Math.max(0, Math.min(k.quietMs, k.firstAt + k.maxDelayMs - now));
    k.timer = setTimeout(() => {
      k.timer = undefined;
      k.firstAt = undefined;
      void this.drain(k.log, 60_000).catch((error: unknown) => k.log.log(`projector: ${messageOf(error)}`));
    }, wait);
    k.timer.unref?.();
  }

  /** The entries set aside (up to `max`; `more`: there are others), for the operator (held-entries.ts). */
  held(max?: number): ReturnType<HeldEntries['list']> {
    return this.#held.list(max);
  }

  /** Puts held entries back in the outbox (held-entries.ts) and starts a drain to project them, if a host attached itself. */
  async requeueHeld(log: AlertLog): Promise<{ requeued: number; more: boolean }> {
    const result = await this.#held.requeue(log);
    if (result.requeued > 0) this.kick();
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
    let run: ProjectorRun | undefined;
    try {
      run = await this.#drain(log, budgetMs);
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
          failingSince: isoInstant(this.#failingSince),
          failingMinutes: Math.floor((now - this.#failingSince) / 60_000),
        }),
      );
      throw error;
    } finally {
      // Not after the usual tick that found the outbox empty (nothing waits, and it runs every few seconds).
      if (!run || run.status === 'busy' || run.entries > 0) await this.#logBacklog(log);
    }
  }

  /** What still waits in the outbox, and since when: projector-backlog.ts. */
  backlog(): Promise<OutboxBacklog> {
    return readBacklog(this.deps.outbox);
  }

  /** Logs the backlog; a failure to read it (storage down: the run's own record says so) is only noted. */
  async #logBacklog(log: AlertLog): Promise<void> {
    try {
      logBacklog(log, await this.backlog(), Date.now());
    } catch (error) {
      log.log(`projector: the outbox backlog could not be read (${firstLine(error)}).`);
    }
  }

  async #drain(log: AlertLog, budgetMs: number): Promise<ProjectorRun> {
    // An empty outbox costs one query and writes nothing (no lease taken): the usual tick.
    if ((await this.deps.outbox.list(1)).length === 0) return { status: 'done', ...ZERO };
    const started = Date.now();
    const total = { ...ZERO };
    const phaseMs: Record<string, number> = {};
    // Stryker disable next-line ObjectLiteral,StringLiteral: read before a batch answered only when the first one threw, where any status but busy gives the lease back.
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
   * A fenced table refused this projector's generation. When the lease passed on, that is the
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
    throw new Error(`The rule index or drift refused this projector's lease generation ${lease.generation} (it was written under ${error.fence}) while it held the lease; the next run takes a higher one.`, { cause: error });
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
    // Stryker disable next-line ArrayDeclaration: every reader keeps only the works with a staged body, so an element that is not one is never read.
    const droppedStaged: ProjectionWork[] = [];
    let waiting = 0;
    for (const [server, list] of byServer) {
      const decoded = list.map((entry) => ({ entry, work: decodeWork(entry.payload) }));
      const verdicts = decoded.map(({ entry }): Verdict => (proven(entry) ? 'committed' : verdictOf(entry, proofs.get(server), now, graceMs, this.remembered)));
      // A proven commit ends every earlier attempt's chance: its ETags predate that commit.
      const lastCommitted = verdicts.lastIndexOf('committed');
      for (let i = 0; i < decoded.length; i++) {
        const { entry, work } = decoded[i]!;
        // Stryker disable next-line EqualityOperator: at lastCommitted the verdict is committed, never wait, so < and <= decide alike.
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
    for (const { entry, proven: committed } of unreadable) await this.#held.hold(entry, 'This version cannot read the entry (written by another release, or damaged).', committed, log);
    phase('read');
    let outcome: OneByOneOutcome;
    let toProject: readonly Ready[] = ready;
    try {
      // Only requeued entries are looked at (and read for): the others come back as they are.
      toProject = await this.#held.keepNewerRaw(ready, droppedStaged, parallel);
      const works = toProject.map(workOf);
      const started = mark;
      await this.#writes.project(works, droppedStaged, log, lease.generation, (name, p) => p.finally(() => (phaseMs[name] = Date.now() - started)));
      mark = Date.now();
      // Another instance that took the lease meanwhile projects these entries and logs their records.
      await lease.keep();
      const alertRecords = await this.#alerts.log(works, log, new Set(toProject.filter((r) => r.entry.requeued).map((r) => r.entry.commitId)));
      phase('alerts');
      await outbox.remove([...toProject.map((r) => r.entry), ...drop]);
      phase('clear');
      outcome = { projected: toProject.length, held: 0, events: works.reduce((n, w) => n + w.events.length, 0), alertRecords };
    } catch (error) {
      if (stopsTheRun(error)) throw error;
      log.log(`projector: a batch of ${ready.length} entries failed (${firstLine(error)}); projecting them one at a time.`);
      mark = Date.now();
      outcome = await projectOneByOne({ outbox, writes: this.#writes, alerts: this.#alerts, held: this.#held, parallel }, toProject, drop, droppedStaged, lease, log);
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
}
