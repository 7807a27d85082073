// Ingest: validate, evaluate every rule, and commit one server's new state in one atomic write.
// Outcomes: accepted (201), duplicate (200, the stored outcome, nothing written), stale (200,
// evaluated but the newer stored state is kept). What a commit owes the fleet-wide tables (events,
// history, rule index and counts, drift, hosts, raw snapshot, alert records) is written as one outbox
// entry just before the commit and projected in batches by the projector (projector.ts), so a
// status change costs the request three round trips: the read, the entry, the commit. The read is
// skipped when this instance committed the server's last post and remembers its row (two).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../rules/manifest';
import { heldByNewerRelease, type RuleSetView } from '../rules/rule-set-order';
import type { Lang, RuleResult } from '../rules/types';
import type { NormalisedSnapshot } from '../snapshot/normalise';
import { onlyCollectedAhead, type CollectedAhead } from '../snapshot/parse';
import type { Snapshot } from '../snapshot/schema';
import {
  backOff,
  ConcurrencyConflictError,
  isNewerSnapshot,
  isRefusal,
  isRemovedRow,
  nextRawSlot,
  OutboxEntryTooLargeError,
  PROJECTED_RAW_SLOTS,
  rawSlotOf,
  remembersCommit,
  type CommitMark,
  type DriftMove,
  type HostRecord,
  type IndexMove,
  type OutboxStore,
  type ResultRecord,
  type StagedRawStore,
  type StoredResult,
} from '../store';
import type { AlertLog } from './alert-log';
import { driftCommitOf, driftMemberOf, driftMoveOf } from './drift-projection';
import { loadedRuleSet, type UseCaseDeps } from './use-case-deps';
import type { KeyRecheck } from './http-io';
import { ApiError } from './errors';
import { evaluateDocument } from './evaluate-document';
import { eventOf, indexedStatusOf, indexOf, verdictMoved, verdictOf } from './result-records';
import { viewOfResult, viewOfStored, type ResultView } from './present';
import { alertOf, encodeWork, hasWork, newCommitId, type AlertWork, type ProjectionWork } from './projection-work';
import { leavesOf } from './retired-results';
import type { Projector } from './projector';
import { isoInstant } from './iso-time';

export type IngestOutcome = 'accepted' | 'duplicate' | 'stale';

/** The server key a post was made with: its server, its tag, and the rows read to check it. */
export interface BoundKey {
  readonly server: string;
  readonly keyTag?: string;
  readonly rows?: readonly StoredResult[];
  /**
   * Checks the key again against rows read later (returning its tag, or throwing the refusal): on
   * a retry after remembered rows, and when the rows read again show the server was removed.
   */
  readonly recheck?: KeyRecheck;
  /** `rows` were remembered by this instance, not read: they may be outdated, so they are trusted only under the commit's ETags. */
  readonly remembered?: boolean;
}

export interface IngestResponse {
  readonly snapshotId: string;
  readonly server: string;
  readonly outcome: IngestOutcome;
  readonly results: readonly ResultView[];
}

export interface IngestDeps extends UseCaseDeps {
  readonly outbox: OutboxStore;
  /** Where a raw body too large for its outbox entry is staged. */
  readonly staged: StagedRawStore;
  /** Told of each commit that wrote an outbox entry (proof without a read, and a drain soon). */
  readonly projector: Pick<Projector, 'committed' | 'kick'>;
}

/** What an old instance during a deployment asks a collector to wait before it posts again (likely to a new one). */
const RETRY_DURING_DEPLOYMENT_S = 30;
/** How often the Hosts row's LastSeen is refreshed when nothing about the host changed. */
export const HOST_REFRESH_MS = 60 * 60 * 1000;
const COMMIT_ATTEMPTS = 8;
/** Accepted snapshot ids remembered per server: a repeat of one of them is a duplicate, not stale. */
export const RECENT_SNAPSHOT_IDS = 16;
/** Commits remembered on the rows: the projector's proof that an outbox entry's commit happened. */
export const RECENT_COMMITS = 16;
/**
 * How long one request keeps trying to commit after a conflict. Well inside the projector's grace
 * for an unproven entry (projector.ts), so no entry is dropped while its request may still commit.
 */
const MAX_COMMIT_MS = 60_000;

const sha256 = (text: string): string => 'sha256:' + createHash('sha256').update(text).digest('hex');

/** Hash of what the host sent, without what differs on every post (id and time). */
export function contentHashOf(s: Snapshot): string {
  return sha256(canonicalJson({ ...s, snapshotId: undefined, collectedAt: undefined }));
}

export function hostHashOf(s: Snapshot): string {
  return sha256(canonicalJson({ host: s.host, collector: s.collector }));
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Stryker disable next-line StringLiteral: JSON.parse of a string throws nothing but a SyntaxError.
    const detail = error instanceof SyntaxError ? error.message.replace(/\s+/g, ' ') : 'unparseable';
    throw new ApiError('invalid_json', `The body is not valid JSON (${detail}).`);
  }
}

const SPAN_UNITS: readonly (readonly [string, number])[] = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/** "6 minutes", "5 minutes 20 seconds", "3 days 2 hours": the largest unit and the next, to the second (rounded up). */
function spanText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  const first = SPAN_UNITS.findIndex(([, size]) => seconds >= size);
  const parts: string[] = [];
  let left = seconds;
  for (const [word, size] of SPAN_UNITS.slice(first, first + 2)) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${word}${n === 1 ? '' : 's'}`);
  }
  return parts.join(' ');
}

/** The answer to a snapshot that is right but dated ahead of the service's clock: a wrong host clock, not a wrong document. */
function collectedInFuture(ahead: CollectedAhead): string {
  return `The snapshot's collectedAt is ${spanText(ahead.aheadMs)} ahead of the service's clock: it can be sent again once it is less than ${spanText(ahead.maxFutureMs)} ahead, and the host's clock should be corrected.`;
}

/** The row of the server's newest snapshot. */
export function headOf(rows: readonly StoredResult[]): StoredResult | undefined {
  let head: StoredResult | undefined;
  for (const r of rows) if (!head || isNewerSnapshot(r, head)) head = r;
  return head;
}

interface Parsed {
  readonly snapshot: Snapshot;
  readonly normalised: NormalisedSnapshot;
  readonly results: RuleResult[];
  readonly body: string;
  readonly contentHash: string;
  readonly hostHash: string;
}

/** 409: the server's current snapshot has this id but another collection time. */
function snapshotIdReused(snapshotId: string, stored: number, sent: number): ApiError {
  return new ApiError(
    'snapshot_id_reused',
    `Snapshot ${snapshotId} was accepted collected at ${isoInstant(stored)}, and this one was collected at ${isoInstant(sent)}: a new collection needs a new snapshotId, so nothing was stored.`,
  );
}

export class Ingest {
  readonly #ruleSet: RuleSetView;
  constructor(private readonly deps: IngestDeps) {
    this.#ruleSet = loadedRuleSet(deps);
  }

  /**
   * `body` is the request body as text (already size-checked and UTF-8 decoded). `bound`: the
   * server key it came with — its server (a snapshot of another host is refused with 403 before
   * anything is written), its tag, and the partition rows its check read.
   */
  async run(body: string, lang: Lang, log: AlertLog, bound?: BoundKey): Promise<IngestResponse> {
    const { rules, clock, store } = this.deps;
    const doc = parseBody(body);
    const evaluated = evaluateDocument(doc, { now: clock(), rules });
    if (!evaluated.ok) {
      // Time alone makes this snapshot acceptable: a code of its own lets a sender keep it and
      // send it again, where invalid_snapshot means the document itself must change.
      const ahead = onlyCollectedAhead(evaluated);
      if (ahead) throw new ApiError('collected_in_future', collectedInFuture(ahead), evaluated.issues);
      const n = evaluated.issues.length;
      throw new ApiError('invalid_snapshot', `The snapshot does not match the contract (${n} issue${n === 1 ? '' : 's'}; see issues).`, evaluated.issues);
    }
    const p: Parsed = {
      snapshot: evaluated.snapshot,
      normalised: evaluated.normalised,
      results: evaluated.results,
      body,
      contentHash: contentHashOf(evaluated.snapshot),
      hostHash: hostHashOf(evaluated.snapshot),
    };
    const server = p.normalised.serverId;
    if (bound !== undefined && server !== bound.server) {
      throw new ApiError('forbidden', `This server key belongs to ${bound.server} and cannot post a snapshot of ${server}.`);
    }
    const snapshotId = p.normalised.snapshotId;
    const me = { collectedAt: p.normalised.collectedAt, snapshotId };
    // Each attempt has its own commit id, so an outbox entry (and a staged raw body) describes
    // exactly one attempt's commit; an attempt that does not commit removes them (and should that
    // fail, the projector finds no commit for the entry and drops both).
    const attempts = new Set<string>();
    let entry: { commitId: string; staged: boolean } | undefined;
    const started = Date.now();
    const abandon = async () => {
      const e = entry;
      entry = undefined;
      await this.#dropEntry(server, e);
    };

    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      // The first attempt uses the rows the key check read (the commit's ETags keep that safe).
      const checked = attempt === 0 && bound?.rows !== undefined;
      const read = checked ? bound.rows! : await store.readServerRows(server, rules.map((r) => r.id));
      // A removed server's markers are no results: its next post is a first result (docs/lifecycle.md).
      const rows = read.filter((r) => !isRemovedRow(r));
      const head = headOf(rows);
      // The last attempt was refused (a conflict), unless its answer was lost after it landed: the
      // rows tell (a removal that followed it hands its commit on to its markers). A refused
      // attempt's entry goes; a landed one's stays for the projector.
      if (entry !== undefined) {
        if (remembersCommit(read, entry.commitId)) {
          this.deps.projector.committed(entry.commitId);
          this.deps.projector.kick();
          entry = undefined;
        } else await abandon();
      }
      // The key was checked against remembered rows: rows read are checked again, and tagged then.
      // A post checked before a revocation is accepted, like any request already authorised (untagged);
      // not one checked before a removal: that would bring the removed server back.
      const recheck = !checked && (bound?.remembered === true || read.some(isRemovedRow)) ? bound?.recheck : undefined;
      const keyTag = checked ? bound.keyTag : recheck && (await recheck(read));
      const remembered = checked && bound.remembered === true;
      // A repeat or an older snapshot writes nothing, so nothing would prove remembered rows current.
      if (remembered && head && (head.snapshotId === snapshotId || isNewerSnapshot(head, me))) continue;
      if (head && head.snapshotId === snapshotId) {
        // A sender resends a snapshot as it was: one collected at another time under the same id is
        // a new collection, and answering it "duplicate" would drop it while saying it was taken.
        if (head.collectedAt !== me.collectedAt) throw snapshotIdReused(snapshotId, head.collectedAt, me.collectedAt);
        // This request's own commit, whose answer was lost on the way (the retry found it): accepted.
        const last = head.recentCommits?.[0];
        const mine = last !== undefined && attempts.has(last.id);
        // Rows an older version left owing projections are handed to the projector by this repeat.
        const handed = !mine && (await this.#handOver(rows, p, keyTag));
        return { snapshotId, server, outcome: mine || handed ? 'accepted' : 'duplicate', results: sortViews(rows.map((r) => viewOfStored(r, lang, rules))) };
      }
      // A removed server's markers keep the newest snapshot it had: one no newer than that is from
      // before the removal (a spooled one sent after re-enrolling) and is stale. A newer one is taken,
      // even if collected before the removal but never delivered: its collectedAt is the server's
      // clock, which may run behind the service's, so comparing it with the removal's time would
      // refuse, and lose, a re-enrolled server's fresh snapshots; its collector runs again, so it is back.
      const removedHead = head ? undefined : headOf(read);
      if (removedHead && !isNewerSnapshot(me, removedHead)) {
        return { snapshotId, server, outcome: 'stale', results: sortViews(p.results.map((r) => viewOfResult(r, lang))) };
      }
      if (head && isNewerSnapshot(head, me)) {
        // An older snapshot: a duplicate when it was accepted before (its own verdicts, evaluated
        // again from the same content), else stale. Nothing is written either way.
        const known = head.recentSnapshotIds?.includes(snapshotId) ?? false;
        return { snapshotId, server, outcome: known ? 'duplicate' : 'stale', results: sortViews(p.results.map((r) => viewOfResult(r, lang))) };
      }
      // A newer release wrote these rows lately (a rule this one neither loads nor retired, or at a
      // higher version): committing would take the server back to older rules, and a newer instance
      // would then alert on it again. An hour on, this release is the one left running (a rollback).
      if (heldByNewerRelease(rows, this.#ruleSet, clock())) {
        throw new ApiError('deployment_in_progress', `A newer release of the service holds this server's results while a deployment is under way; send the snapshot again in ${RETRY_DURING_DEPLOYMENT_S} seconds.`, undefined, {
          'Retry-After': String(RETRY_DURING_DEPLOYMENT_S),
        });
      }
      try {
        // Rows read again after a conflict were not the ones the key was checked against (a
        // revocation may be what changed them): the key is not tagged from those, unless checked again.
        const commitId = newCommitId(Date.now());
        attempts.add(commitId);
        const written = await this.#commit(read, p, commitId, keyTag, (staged) => (entry = { commitId, staged }));
        return { snapshotId, server, outcome: 'accepted', results: sortViews(p.results.map((r) => viewOfResult(r, lang, written.get(r.ruleId)))) };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) {
          // Refused outright, the commit did not land: its entry goes now, or the summary would
          // say counts pending until the projector's grace ran out. After an outage it stays.
          if (isRefusal(error)) await abandon();
          throw error;
        }
        // Past this, an outbox entry written now could meet a projector that already gave up on it.
        if (Date.now() - started > MAX_COMMIT_MS) break;
        // Another snapshot of this server committed first: read again and decide anew, after a
        // short random pause so colliding writers spread out.
        await backOff(attempt, 20);
      }
    }
    // The last attempt's entry stays: whether it landed is for the projector to find out.
    throw new ConcurrencyConflictError(`Snapshots of ${server} kept colliding; try again.`);
  }

  /**
   * Writes the outbox entry of what the commit owes the fleet-wide tables (when it owes anything),
   * then commits the server's rows, which remember the commit's id (the projector's proof that it
   * happened). Three round trips with the read; an unchanged snapshot writes no entry (two).
   * `onEntry` is told once the entry is written, and whether a raw body was staged with it.
   */
  async #commit(read: readonly StoredResult[], p: Parsed, commitId: string, keyTag: string | undefined, onEntry: (staged: boolean) => void): Promise<Map<string, ResultRecord>> {
    const { store, rules, clock } = this.deps;
    const server = p.normalised.serverId;
    const receivedAt = clock();
    // A removal's markers are replaced (or, for rules no longer loaded, deleted) under their ETags
    // and hand on their commit ids, so the removal stays provable; they count as no earlier result.
    const markers = read.filter(isRemovedRow);
    const rows = read.filter((r) => !isRemovedRow(r));
    const markerOf = new Map(markers.map((r) => [r.ruleId, r]));
    const byRule = new Map(rows.map((r) => [r.ruleId, r]));
    // Rows an older version committed with projections still owed: this commit takes them over.
    const carriedSync = rows.some((r) => r.syncPending);

    const anyPrev = rows[0];
    const hostDue = !anyPrev || anyPrev.hostHash !== p.hostHash || receivedAt - anyPrev.hostSyncedAt >= HOST_REFRESH_MS || carriedSync;
    const rawDue = !anyPrev || anyPrev.contentHash !== p.contentHash || carriedSync;
    // New content goes to a slot that does not hold the previous content, so that one is kept. The
    // projector writes it there, from the entry or, for a body too large for it, from its staging row.
    const rawSlot = rawDue ? nextRawSlot(PROJECTED_RAW_SLOTS, anyPrev?.rawSlot) : (anyPrev.rawSlot ?? 0);
    // Tag the key only over rows that existed when it was checked: their ETags make this commit
    // fail if a revocation cleared the tags since (a first post's new rows would have none).
    const tag = rows.length > 0 ? keyTag : undefined;
    const head = headOf(rows);
    const recentSnapshotIds = [p.normalised.snapshotId, ...(head?.recentSnapshotIds ?? []).filter((id) => id !== p.normalised.snapshotId)].slice(0, RECENT_SNAPSHOT_IDS);
    const recentCommits = nextCommits(head ?? markers[0], commitId, receivedAt);

    const put: { record: ResultRecord; etag?: string }[] = [];
    const records = new Map<string, ResultRecord>();
    const index: IndexMove[] = [];
    const drift: DriftMove[] = [];
    const events = rows.filter((r) => r.eventPending).map((r) => eventOf(r, receivedAt));
    const alerts: AlertWork[] = [];
    for (const r of p.results) {
      const prev = byRule.get(r.ruleId);
      const verdict = verdictOf(r);
      const changed = !prev || prev.status !== r.status;
      const indexChanged = changed || verdictMoved(prev, verdict) || prev.indexPending;
      // A new configuration (or a first one) moves the server in its rule's drift counts.
      const driftMoved = changed || prev.fingerprint !== verdict.fingerprint || prev.indexPending;
      const record: ResultRecord = {
        ...verdict,
        server,
        firstSeen: changed ? p.normalised.collectedAt : prev.firstSeen,
        previousStatus: changed ? prev?.status : prev.previousStatus,
        previousFirstSeen: changed ? prev?.firstSeen : prev.previousFirstSeen,
        snapshotId: p.normalised.snapshotId,
        collectedAt: p.normalised.collectedAt,
        lastSeen: receivedAt,
        contentHash: p.contentHash,
        hostHash: p.hostHash,
        // One time for every row: a rule that joins the set takes the host refresh the others had.
        hostSyncedAt: hostDue ? receivedAt : anyPrev.hostSyncedAt,
        // The outbox entry carries what these flags once marked on the rows.
        eventPending: false,
        indexPending: false,
        syncPending: false,
        // Same content, new rule version: the rule moved the verdict, not the server.
        changeCause: changed ? (prev && prev.ruleVersion !== r.ruleVersion && prev.contentHash === p.contentHash ? 'rule-change' : 'snapshot') : prev.changeCause,
        rawSlot,
        keyTag: tag,
        acceptPending: false,
        recentSnapshotIds,
        recentCommits,
        driftCommitId: driftCommitOf({ fingerprint: verdict.fingerprint, status: r.status }, driftMoved, commitId, prev),
      };
      records.set(r.ruleId, record);
      put.push({ record, etag: prev?.etag ?? markerOf.get(r.ruleId)?.etag });
      if (changed) {
        events.push(eventOf(record, receivedAt));
        const alert = alertOf(record);
        if (alert) alerts.push(alert);
      }
      if (indexChanged) index.push({ record: indexOf(record), from: prev ? indexedStatusOf(prev) : undefined });
      const move = driftMoved ? driftMoveOf(record, prev) : undefined;
      if (move) drift.push(move);
    }
    const current = new Set(rules.map((r) => r.id));
    // Rows of rules that left the rule set go, and the server leaves those rules' index and drift.
    const removed = rows.filter((r) => !current.has(r.ruleId));
    const remove = [...removed, ...markers.filter((r) => !current.has(r.ruleId))].map((r) => r.ruleId);

    const s = p.snapshot;
    const work: ProjectionWork = {
      v: 1,
      server,
      commitId,
      // Stryker disable next-line OptionalChaining,StringLiteral: a post always evaluates at least one rule, so there is always a first row.
      proofRule: put[0]?.record.ruleId ?? '',
      events,
      alerts,
      index,
      drift,
      ...leavesOf(removed, { snapshotId: p.normalised.snapshotId, collectedAt: p.normalised.collectedAt, commitId }),
      host: hostDue
        ? { record: hostRecordOf(s, { server, snapshotId: p.normalised.snapshotId, collectedAt: p.normalised.collectedAt, hostHash: p.hostHash, now: receivedAt }), previousSync: anyPrev?.hostSyncedAt, now: receivedAt, snapshotId: p.normalised.snapshotId }
        : undefined,
      raw: rawDue ? { record: { server, snapshotId: p.normalised.snapshotId, collectedAt: p.normalised.collectedAt, receivedAt, contentHash: p.contentHash, body: p.body }, slot: rawSlot } : undefined,
    };
    const owes = hasWork(work);
    if (owes) onEntry(await this.#writeEntry(work, receivedAt));

    await store.commitServer(server, { put, remove, basedOn: read });
    if (owes) {
      this.deps.projector.committed(commitId);
      this.deps.projector.kick();
    }
    return records;
  }

  /**
   * The outbox entry. A raw body too large for it is staged instead, in a Snapshots row of this
   * commit attempt (one more round trip, rare), and the entry says so: no other attempt writes that
   * row, so an attempt refused at its commit cannot replace an accepted body, and only a commit
   * that landed is copied into its slot by the projector. The entry goes first, so a staging row
   * is never left without the entry that leads the projector to it. True when the body was staged.
   */
  async #writeEntry(work: ProjectionWork, writtenAt: number): Promise<boolean> {
    const { outbox, staged } = this.deps;
    const entry = (w: ProjectionWork) => ({ server: w.server, commitId: w.commitId, writtenAt, payload: encodeWork(w) });
    try {
      await outbox.put(entry(work));
      return false;
    } catch (error) {
      if (!(error instanceof OutboxEntryTooLargeError) || !work.raw) throw error;
      await outbox.put(entry({ ...work, raw: undefined, staged: { slot: work.raw.slot } }));
      await staged.putStagedRaw(work.raw.record, work.commitId, work.raw.slot);
      return true;
    }
  }

  /** Removes the outbox entry (and staging row) of a commit attempt that did not land, if it wrote one. */
  async #dropEntry(server: string, entry: { commitId: string; staged: boolean } | undefined): Promise<void> {
    // Stryker disable next-line ConditionalExpression: without an entry the calls below fail inside the try, which drops nothing either.
    if (entry === undefined) return;
    try {
      // The staging row first: while it may be left, so is the entry that leads the projector to it.
      if (entry.staged) await this.deps.staged.deleteStagedRaw([{ server, commitId: entry.commitId }]);
      await this.deps.outbox.deleteOne(server, entry.commitId);
    } catch {
      // Left to the projector, which finds no commit for the entry.
    }
  }

  /**
   * A repeat of the current snapshot over rows an older version committed with projections still
   * owed (EventPending, IndexPending, SyncPending): writes their outbox entry and commits the rows
   * without the flags. True when those rows also owed the snapshot's 201 (AcceptPending).
   */
  async #handOver(rows: readonly StoredResult[], p: Parsed, keyTag: string | undefined): Promise<boolean> {
    if (!rows.some((r) => r.eventPending || r.indexPending || r.syncPending || r.acceptPending)) return false;
    const { store, clock } = this.deps;
    const server = p.normalised.serverId;
    const now = clock();
    const commitId = newCommitId(Date.now());
    const head = headOf(rows)!;
    const sync = rows.some((r) => r.syncPending);
    const work: ProjectionWork = {
      v: 1,
      server,
      commitId,
      proofRule: rows[0]!.ruleId,
      events: rows.filter((r) => r.eventPending).map((r) => eventOf(r, now)),
      alerts: [],
      index: rows.filter((r) => r.indexPending || r.eventPending).map((r) => ({ record: indexOf(r), from: indexedStatusOf(r) })),
      drift: rows.filter((r) => r.indexPending || r.eventPending).flatMap((r) => driftMemberOf(r) ?? []),
      host: sync ? { record: hostRecordOf(p.snapshot, { server, snapshotId: head.snapshotId, collectedAt: head.collectedAt, hostHash: p.hostHash, now }), now, snapshotId: head.snapshotId } : undefined,
      // Rows flagged SyncPending were written by a version that knew only the projector's slots.
      raw: sync ? { record: { server, snapshotId: head.snapshotId, collectedAt: head.collectedAt, receivedAt: now, contentHash: p.contentHash, body: p.body }, slot: rawSlotOf(head.rawSlot) } : undefined,
    };
    const entry = hasWork(work) ? { commitId, staged: await this.#writeEntry(work, now) } : undefined;
    const recentCommits = nextCommits(head, commitId, now);
    const put = rows.map((r) => ({
      etag: r.etag,
      record: { ...r, eventPending: false, indexPending: false, syncPending: false, acceptPending: false, keyTag: keyTag ?? r.keyTag, recentCommits },
    }));
    const handed = () => {
      this.deps.projector.committed(commitId);
      this.deps.projector.kick();
      return rows.some((r) => r.acceptPending);
    };
    try {
      await store.commitServer(server, { put, remove: [], basedOn: rows });
    } catch (error) {
      // After an outage the entry stays: whether the commit landed is for the projector to find out.
      const conflict = error instanceof ConcurrencyConflictError;
      if (!conflict && !isRefusal(error)) throw error;
      // A conflict is another writer's taking the rows over, or this commit's own answer lost after
      // it landed (the SDK's retry then meets its own ETags changed): the rows tell. Unread, unknown.
      const landed = conflict ? await this.#commitRemembered(server, commitId) : false;
      if (landed) return handed();
      // Refused, or taken over: the entry goes now, or the summary would say counts pending until
      // the projector's grace ran out.
      if (landed === false) await this.#dropEntry(server, entry);
      if (conflict) return false;
      throw error;
    }
    return handed();
  }

  /** Whether the server's rows remember the commit; undefined when they could not be read. */
  async #commitRemembered(server: string, commitId: string): Promise<boolean | undefined> {
    const rows = await this.deps.store.readServerRows(server, this.deps.rules.map((r) => r.id)).catch(() => undefined);
    return rows && remembersCommit(rows, commitId);
  }
}

/** The commit ids the rows remember after a commit: this one first. */
export function nextCommits(head: StoredResult | undefined, commitId: string, at: number): CommitMark[] {
  return [{ id: commitId, at }, ...(head?.recentCommits ?? [])].slice(0, RECENT_COMMITS);
}

/** The Hosts row a snapshot makes (seen now). */
export function hostRecordOf(s: Snapshot, at: { server: string; snapshotId: string; collectedAt: number; hostHash: string; now: number }): HostRecord {
  return {
    server: at.server,
    hostName: s.host.name,
    fqdn: s.host.fqdn,
    osCaption: s.host.os?.caption,
    osVersion: s.host.os?.version,
    osArchitecture: s.host.os?.architecture,
    utcOffsetMinutes: s.host.utcOffsetMinutes,
    collectorName: s.collector.name,
    collectorVersion: s.collector.version,
    manifestVersion: s.collector.manifestVersion,
    firstSeen: at.now,
    lastSeen: at.now,
    lastSnapshotId: at.snapshotId,
    lastCollectedAt: at.collectedAt,
    hostHash: at.hostHash,
  };
}

function sortViews(views: ResultView[]): ResultView[] {
  // A post's rule ids are unique: no two compare equal.
  // Stryker disable next-line EqualityOperator: for unique ids `<=` orders as `<` does.
  return views.sort((a, b) => (a.ruleId < b.ruleId ? -1 : 1));
}
