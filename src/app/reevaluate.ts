// Re-evaluation after a rule change. When the loaded rule set differs from the one a pass last
// finished with, a timer walks the Hosts table in batches (the cursor, a lease and counters live in
// one ETag-guarded state row) and re-evaluates each server's newest stored snapshot. Each server is
// committed like an ingest — one ETag-guarded transaction on its Results partition — and skipped
// when its rows already carry the loaded versions, so a batch run twice, or by two instances at
// once, re-evaluates a server once per rule-set version. Verdicts that move become events with
// cause `rule-change` (written, like every projection, by the projector from the outbox entry the
// commit comes with); seen-times (LastSeen, SnapshotId) stay as they were.
import { randomUUID } from 'node:crypto';
import { ruleSetVersion } from '../rules/registry';
import { heldByNewerRelease, isNewerRuleSet, NEWER_RELEASE_HOLDS_MS, type RuleSetView } from '../rules/rule-set-order';
import { ConcurrencyConflictError, isNewerSnapshot, remembersCommit, type DriftMove, type HostStore, type IndexMove, type LifecycleStore, type RawSnapshotStore, type OutboxStore, type ReevalState, type ResultRecord, type StoredResult } from '../store';
import { driftCommitOf, driftMoveOf } from './drift-projection';
import { evaluateDocument } from './evaluate-document';
import { RECENT_COMMITS } from './ingest';
import { alertOf, encodeWork, newCommitId, type AlertWork, type ProjectionWork } from './projection-work';
import type { Projector } from './projector';
import { leavesOf } from './retired-results';
import { eventOf, indexedStatusOf, indexOf, verdictOf } from './result-records';
import { loadedRuleSet, type UseCaseDeps } from './use-case-deps';
import { isoInstant } from './iso-time';

export interface ReevaluateDeps extends UseCaseDeps {
  readonly lifecycle: LifecycleStore;
  /** The pass walks the fleet by its Hosts rows. */
  readonly hosts: HostStore;
  readonly rawSnapshots: RawSnapshotStore;
  readonly batchSize: number;
  readonly outbox: OutboxStore;
  readonly projector: Pick<Projector, 'committed' | 'kick'>;
}

export type ServerOutcome = 'current' | 'evaluated' | 'unavailable';

export interface ReevalRun {
  /** idle: nothing to do; busy: another instance holds the lease; superseded: a newer release's pass was active within NEWER_RELEASE_HOLDS_MS. */
  readonly status: 'idle' | 'busy' | 'superseded' | 'progress' | 'done';
  readonly targetVersion: string;
  /** This batch: servers re-evaluated, already current, without a usable snapshot, and status changes. */
  readonly evaluated: number;
  readonly current: number;
  readonly unavailable: number;
  readonly changes: number;
}

/** Where the pass stands, as the job route shows it (lifecycle-api.ts). */
export interface ReevalProgress {
  /** The rule set this instance loads. */
  readonly loadedRuleSetVersion: string;
  /** The pass is of the loaded rule set and has finished: every stored snapshot was re-evaluated against it. */
  readonly upToDate: boolean;
  readonly pass: {
    readonly ruleSetVersion: string;
    readonly ruleVersions: Readonly<Record<string, string>>;
    /** The rule versions every server carried when the pass started; null when not known. */
    readonly fromRuleVersions: Readonly<Record<string, string>> | null;
    readonly retired: readonly string[];
    /** A newer release's pass, active within the last hour: this instance yields to it. */
    readonly newerRelease: boolean;
    /** running: a run holds the lease; waiting: for the next timer run; done. */
    readonly state: 'running' | 'waiting' | 'done';
    readonly startedAt: string;
    readonly finishedAt: string | null;
    readonly lastActiveAt: string;
    readonly evaluated: number;
    readonly changed: number;
    readonly unavailable: number;
  } | null;
}

const LEASE_MS = 5 * 60_000;
const COMMIT_ATTEMPTS = 5;
const PARALLEL = 4;

/** When a pass was last worked on: started, a batch's lease taken or given back, or finished. */
const lastActiveOf = (s: ReevalState) => Math.max(s.startedAt, s.finishedAt, s.activeAt);

/** True while a newer release's pass holds this release off: of a newer rule set, and active within the hour. */
function newerPassHolds(s: ReevalState, mine: RuleSetView, targetVersion: string, now: number): boolean {
  return s.targetVersion !== targetVersion && isNewerRuleSet({ versions: s.ruleVersions, retired: s.retired }, mine) && now - lastActiveOf(s) < NEWER_RELEASE_HOLDS_MS;
}

/**
 * The rule versions every server carries when a new pass replaces `prev`: all of a finished pass's;
 * of an unfinished one, only those it left as its own start found them (its other rules are mixed).
 */
function settledVersions(prev: ReevalState | undefined): Record<string, string> | undefined {
  if (prev?.done) return { ...prev.ruleVersions };
  if (!prev?.fromRuleVersions) return undefined;
  return Object.fromEntries(Object.entries(prev.fromRuleVersions).filter(([id, v]) => prev.ruleVersions[id] === v));
}

export class Reevaluation {
  readonly targetVersion: string;
  readonly #ruleSet: RuleSetView;
  constructor(private readonly deps: ReevaluateDeps) {
    this.targetVersion = ruleSetVersion(deps.rules);
    this.#ruleSet = loadedRuleSet(deps);
  }

  /** One bounded batch of the pass, under a lease. */
  async runBatch(): Promise<ReevalRun> {
    const { lifecycle, clock, batchSize } = this.deps;
    const none = { targetVersion: this.targetVersion, evaluated: 0, current: 0, unavailable: 0, changes: 0 };
    const now = clock();
    const cur = await lifecycle.getReevalState();
    const same = cur?.state.targetVersion === this.targetVersion;
    if (same && cur.state.done) return { status: 'idle', ...none };
    if (cur && newerPassHolds(cur.state, this.#ruleSet, this.targetVersion, now)) return { status: 'superseded', ...none };
    if (same && cur.state.leaseOwner && cur.state.leaseUntil > now) return { status: 'busy', ...none };

    const lease = { leaseOwner: randomUUID(), leaseUntil: now + LEASE_MS, activeAt: now };
    const leased: ReevalState =
      cur && same
        ? { ...cur.state, ...lease }
        : {
            targetVersion: this.targetVersion,
            ruleVersions: this.#ruleSet.versions,
            fromRuleVersions: settledVersions(cur?.state),
            retired: this.#ruleSet.retired,
            cursor: '',
            done: false,
            ...lease,
            startedAt: now,
            finishedAt: 0,
            evaluated: 0,
            changed: 0,
            unavailable: 0,
          };
    const etag = await lifecycle.putReevalState(leased, cur?.etag);
    if (etag === undefined) return { status: 'busy', ...none };

    const counts = { evaluated: 0, current: 0, unavailable: 0, changes: 0 };
    // The lease goes back at once on a failure, so the next run (any instance) redoes the batch
    // rather than wait for it to lapse. Servers committed already are current then, so they are
    // counted here; those without a usable snapshot are counted by the redo.
    const giveBack = async (error: unknown): Promise<never> => {
      const released: ReevalState = { ...leased, leaseOwner: '', leaseUntil: 0, activeAt: clock(), evaluated: leased.evaluated + counts.evaluated, changed: leased.changed + counts.changes };
      await lifecycle.putReevalState(released, etag).catch(() => undefined);
      throw error;
    };
    let page: { servers: string[]; token?: string };
    try {
      page = await this.deps.hosts.listServersPage(batchSize, leased.cursor || undefined);
    } catch (error) {
      return giveBack(error);
    }
    let failure: { error: unknown } | undefined;
    const work = [...page.servers];
    const worker = async () => {
      for (let s = work.shift(); s !== undefined && !failure; s = work.shift()) {
        try {
          const r = await this.reevaluateServer(s);
          counts[r.outcome]++;
          counts.changes += r.changes;
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    if (failure) return giveBack(failure.error);

    const done = !page.token;
    const next: ReevalState = {
      ...leased,
      cursor: page.token ?? '',
      done,
      leaseOwner: '',
      leaseUntil: 0,
      finishedAt: done ? clock() : 0,
      activeAt: clock(),
      evaluated: leased.evaluated + counts.evaluated,
      changed: leased.changed + counts.changes,
      unavailable: leased.unavailable + counts.unavailable,
    };
    // Lost only when the lease lapsed and another instance took over; the work done is idempotent.
    await lifecycle.putReevalState(next, etag);
    return { status: done ? 'done' : 'progress', targetVersion: this.targetVersion, ...counts };
  }

  /** The stored pass, as far as it went. */
  async progress(): Promise<ReevalProgress> {
    const cur = await this.deps.lifecycle.getReevalState();
    if (!cur) return { loadedRuleSetVersion: this.targetVersion, upToDate: false, pass: null };
    const s = cur.state;
    return {
      loadedRuleSetVersion: this.targetVersion,
      upToDate: s.done && s.targetVersion === this.targetVersion,
      pass: {
        ruleSetVersion: s.targetVersion,
        ruleVersions: s.ruleVersions,
        fromRuleVersions: s.fromRuleVersions ?? null,
        retired: s.retired,
        newerRelease: newerPassHolds(s, this.#ruleSet, this.targetVersion, this.deps.clock()),
        state: s.done ? 'done' : s.leaseOwner && s.leaseUntil > this.deps.clock() ? 'running' : 'waiting',
        startedAt: isoInstant(s.startedAt),
        finishedAt: s.done ? isoInstant(s.finishedAt) : null,
        lastActiveAt: isoInstant(lastActiveOf(s)),
        evaluated: s.evaluated,
        changed: s.changed,
        unavailable: s.unavailable,
      },
    };
  }

  /** Runs batches until the pass is done, another instance leads it, or `budgetMs` is spent. */
  async runAll(budgetMs: number, maxBatches = 10_000): Promise<ReevalRun> {
    const started = Date.now();
    const total = { evaluated: 0, current: 0, unavailable: 0, changes: 0 };
    let last: ReevalRun = { status: 'idle', targetVersion: this.targetVersion, ...total };
    for (let i = 0; i < maxBatches; i++) {
      last = await this.runBatch();
      total.evaluated += last.evaluated;
      total.current += last.current;
      total.unavailable += last.unavailable;
      total.changes += last.changes;
      if (last.status !== 'progress' || Date.now() - started > budgetMs) break;
    }
    return { ...last, ...total };
  }

  #current(rows: readonly StoredResult[]): boolean {
    // Every loaded rule has a row, and every row is of a loaded rule at its loaded version (a row of
    // a rule that left the rule set has no loaded version).
    const ids = new Set(rows.map((r) => r.ruleId));
    return this.deps.rules.every((r) => ids.has(r.id)) && rows.every((r) => this.#ruleSet.versions[r.ruleId] === r.ruleVersion);
  }

  /** Re-evaluates one server's newest stored snapshot with the loaded rules, unless it is current. */
  async reevaluateServer(server: string): Promise<{ outcome: ServerOutcome; changes: number }> {
    const { store, rules, clock } = this.deps;
    // The attempt whose commit was refused, as far as this process could tell.
    let refused: { commitId: string; changes: number } | undefined;
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const rows = await store.readServer(server);
      if (refused) {
        // Unless its answer was lost after it landed (a 503 or a timeout, retried into a 412): the
        // rows name a commit that landed, and its entry stays for the projector. A refused one's goes.
        const { commitId, changes } = refused;
        refused = undefined;
        if (remembersCommit(rows, commitId)) return this.#committed(commitId, changes);
        await this.deps.outbox.deleteOne(server, commitId).catch(() => undefined);
      }
      if (rows.length === 0) return { outcome: 'unavailable', changes: 0 };
      if (this.#current(rows)) return { outcome: 'current', changes: 0 };
      // Never take a server back to an older rule set while a newer release serves (an old instance
      // during a deployment): rows of a rule added since, or at a higher version, stay as it wrote
      // them. An hour on, this release is the one left running (a rollback) and re-evaluates them.
      if (heldByNewerRelease(rows, this.#ruleSet, clock())) {
        return { outcome: 'current', changes: 0 };
      }
      let head = rows[0]!;
      for (const r of rows) if (isNewerSnapshot(r, head)) head = r;
      const raw = await this.deps.rawSnapshots.getLatestRaw(server, true);
      // The raw row holds the newest distinct content; the head may be a later post of the same content.
      if (!raw?.body || raw.contentHash !== head.contentHash) return { outcome: 'unavailable', changes: 0 };
      // A body that is not JSON leaves no document, which is no snapshot: unavailable, just below.
      let doc: unknown;
      try {
        doc = { ...(JSON.parse(raw.body) as Record<string, unknown>), snapshotId: head.snapshotId, collectedAt: isoInstant(head.collectedAt) };
      } catch {
        // Not JSON: no document.
      }
      const now = clock();
      const evaluated = evaluateDocument(doc, { now: Math.max(now, head.collectedAt), rules });
      if (!evaluated.ok) return { outcome: 'unavailable', changes: 0 };

      const byRule = new Map(rows.map((r) => [r.ruleId, r]));
      const commitId = newCommitId(Date.now());
      // Events an earlier commit still owed (rows of an older version) go with this commit's entry.
      const events = rows.filter((r) => r.eventPending).map((r) => eventOf(r, now));
      const alerts: AlertWork[] = [];
      const index: IndexMove[] = [];
      const drift: DriftMove[] = [];
      const recentCommits = [{ id: commitId, at: now }, ...(head.recentCommits ?? [])].slice(0, RECENT_COMMITS);

      const put: { record: ResultRecord; etag?: string }[] = [];
      let changes = 0;
      for (const r of evaluated.results) {
        const prev = byRule.get(r.ruleId);
        const seen = prev ?? head;
        const changed = !prev || prev.status !== r.status;
        const record: ResultRecord = {
          ...verdictOf(r),
          server,
          // A verdict moved by the rule began when the rule changed, not when the host reported.
          firstSeen: changed ? now : prev.firstSeen,
          previousStatus: changed ? prev?.status : prev.previousStatus,
          previousFirstSeen: changed ? prev?.firstSeen : prev.previousFirstSeen,
          snapshotId: seen.snapshotId,
          collectedAt: seen.collectedAt,
          lastSeen: seen.lastSeen,
          contentHash: seen.contentHash,
          hostHash: seen.hostHash,
          hostSyncedAt: seen.hostSyncedAt,
          eventPending: false,
          indexPending: false,
          // Host and raw rows an older version still owed stay flagged for the next snapshot.
          syncPending: prev?.syncPending ?? false,
          changeCause: changed ? 'rule-change' : prev.changeCause,
          rawSlot: seen.rawSlot,
          // Kept as read: a revocation that cleared it since makes this commit's ETags fail.
          keyTag: seen.keyTag,
          acceptPending: prev?.acceptPending ?? false,
          recentSnapshotIds: seen.recentSnapshotIds,
          recentCommits,
          // Every re-evaluated row owes a move (below).
          driftCommitId: driftCommitOf({ fingerprint: r.fingerprint?.hash, status: r.status }, true, commitId, prev),
        };
        put.push({ etag: prev?.etag, record });
        if (changed) {
          changes++;
          events.push(eventOf(record, now));
          const alert = alertOf(record);
          if (alert) alerts.push(alert);
        }
        index.push({ record: indexOf(record), from: prev ? indexedStatusOf(prev) : undefined });
        // A rule change may move the configuration facts as well as the verdict.
        const move = driftMoveOf(record, prev);
        if (move) drift.push(move);
      }
      const loaded = new Set(rules.map((r) => r.id));
      // Rows of rules that left the rule set go, and the server leaves those rules' index and drift.
      const removed = rows.filter((r) => !loaded.has(r.ruleId));
      const remove = removed.map((r) => r.ruleId);
      const work: ProjectionWork = { v: 1, server, commitId, proofRule: put[0]?.record.ruleId ?? '', events, alerts, index, drift, ...leavesOf(removed, { snapshotId: head.snapshotId, collectedAt: head.collectedAt, commitId }) };
      await this.deps.outbox.put({ server, commitId, writtenAt: now, payload: encodeWork(work) });
      try {
        await store.commitServer(server, { put, remove, basedOn: rows });
      } catch (error) {
        // Any other failure leaves the entry too: the projector projects it only if the commit landed.
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        refused = { commitId, changes };
        continue; // a snapshot or another re-evaluation got there first, or the answer was lost: look again
      }
      return this.#committed(commitId, changes);
    }
    // The last attempt's entry stays: whether it landed is for the projector to find out.
    throw new ConcurrencyConflictError(`Re-evaluating ${server} kept colliding with other writers.`);
  }

  /** A commit that landed: the projector is told (proof without a read, and a drain soon). */
  #committed(commitId: string, changes: number): { outcome: ServerOutcome; changes: number } {
    this.deps.projector.committed(commitId);
    this.deps.projector.kick();
    return { outcome: 'evaluated', changes };
  }
}
