// Ingest: validate, evaluate every rule, and commit one server's new state in one transaction.
// Outcomes: accepted (201), duplicate (200, the stored outcome, nothing written), stale (200,
// evaluated but the newer stored state is kept). Status changes become events, index rows and
// alert log records; those follow the commit from an outbox on the Results rows, so a failure
// after the commit is repaired by the collector's retry (or by the server's next snapshot).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../rules/manifest';
import type { Lang, RuleResult } from '../rules/types';
import type { NormalisedSnapshot } from '../snapshot/normalise';
import type { Snapshot } from '../snapshot/schema';
import { ConcurrencyConflictError, settleAll, type DriftStore, type HostRecord, type ResultRecord, type StoredResult } from '../store';
import type { AlertLog } from './alert-log';
import { projectDrift } from './drift-projection';
import type { UseCaseDeps } from './use-case-deps';
import { ApiError } from './errors';
import { evaluateDocument } from './evaluate-document';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { eventOf, indexedStatusOf, indexOf, verdictMoved, verdictOf } from './result-records';
import { viewOfResult, viewOfStored, type ResultView } from './present';

export type IngestOutcome = 'accepted' | 'duplicate' | 'stale';

/** The server key a post was made with: its server, its tag, and the rows read to check it. */
export interface BoundKey {
  readonly server: string;
  readonly keyTag?: string;
  readonly rows?: readonly StoredResult[];
}

export interface IngestResponse {
  readonly snapshotId: string;
  readonly server: string;
  readonly outcome: IngestOutcome;
  readonly results: readonly ResultView[];
}

/** What the lifecycle features add to ingest, kept out of the write path's core. */
export interface IngestHooks {
  /** The Hosts row was refreshed (at most hourly per server): keep the last-seen index, notice a stale server's return. */
  hostSynced?(server: string, sync: { previous?: number; now: number; snapshotId: string }, log: AlertLog): Promise<void>;
  /** The active waiver covering (server, rule), read only when a new finding needs its alert. */
  waiverOf?(server: string, ruleId: string): Promise<string | undefined>;
}

export interface IngestDeps extends UseCaseDeps {
  readonly hooks?: IngestHooks;
  /** Where configuration fingerprints are counted (fleet drift); none in tests that leave it out. */
  readonly drift?: DriftStore;
}

/** How often the Hosts row's LastSeen is refreshed when nothing about the host changed. */
export const HOST_REFRESH_MS = 60 * 60 * 1000;
const COMMIT_ATTEMPTS = 8;
/** Accepted snapshot ids remembered per server: a repeat of one of them is a duplicate, not stale. */
export const RECENT_SNAPSHOT_IDS = 16;
/** Times the committing post tries to close its own outbox when other writers keep changing the rows. */
const CLOSE_ATTEMPTS = 3;
export const FINDING = new Set(['Warning', 'Error']);

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
    const detail = error instanceof SyntaxError ? error.message.replace(/\s+/g, ' ') : 'unparseable';
    throw new ApiError('invalid_json', `The body is not valid JSON (${detail}).`);
  }
}

/** (collectedAt, snapshotId) orders snapshots; the id breaks ties so "newer" is always defined. */
function isOlder(a: { collectedAt: number; snapshotId: string }, b: { collectedAt: number; snapshotId: string }): boolean {
  return a.collectedAt < b.collectedAt || (a.collectedAt === b.collectedAt && a.snapshotId < b.snapshotId);
}

function headOf(rows: readonly StoredResult[]): StoredResult | undefined {
  let head: StoredResult | undefined;
  for (const r of rows) if (!head || isOlder(head, r)) head = r;
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

export class Ingest {
  constructor(private readonly deps: IngestDeps) {}

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

    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      // The first attempt uses the rows the key check read (the commit's ETags keep that safe).
      const checked = attempt === 0 && bound?.rows !== undefined;
      const rows = checked ? bound.rows! : await store.readServer(server);
      const head = headOf(rows);
      if (head && head.snapshotId === snapshotId) {
        // The retry of a post that failed after its commit finishes the outbox and gives the
        // answer that commit never delivered; any other repeat is a duplicate.
        const answered = await this.#replay(rows, p, log);
        return { snapshotId, server, outcome: answered ? 'accepted' : 'duplicate', results: sortViews(rows.map((r) => viewOfStored(r, lang, rules))) };
      }
      if (head && isOlder(me, head)) {
        // An older snapshot: a duplicate when it was accepted before (its own verdicts, evaluated
        // again from the same content), else stale. Nothing is written either way.
        const known = head.recentSnapshotIds?.includes(snapshotId) ?? false;
        return { snapshotId, server, outcome: known ? 'duplicate' : 'stale', results: sortViews(p.results.map((r) => viewOfResult(r, lang))) };
      }
      try {
        // Rows read again after a conflict were not the ones the key was checked against (a
        // revocation may be what changed them): the key is not tagged from those.
        const { written, answered } = await this.#commit(rows, p, log, checked ? bound?.keyTag : undefined);
        return {
          snapshotId,
          server,
          outcome: answered ? 'accepted' : 'duplicate',
          results: sortViews(p.results.map((r) => viewOfResult(r, lang, written.get(r.ruleId)))),
        };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        // Another snapshot of this server committed first: read again and decide anew, after a
        // short random pause so colliding writers spread out.
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
    throw new ConcurrencyConflictError(`Snapshots of ${server} kept colliding; try again.`);
  }

  /**
   * Commits the snapshot and writes its projections. `answered` is false only when a repeat of the
   * same snapshot finished the outbox first and so gave the 201 (one 201 per snapshot).
   */
  async #commit(rows: readonly StoredResult[], p: Parsed, log: AlertLog, keyTag?: string): Promise<{ written: Map<string, ResultRecord>; answered: boolean }> {
    const { store, rules, clock } = this.deps;
    const server = p.normalised.serverId;
    const receivedAt = clock();
    const byRule = new Map(rows.map((r) => [r.ruleId, r]));

    // Events a previous commit could not write yet: write them before this commit replaces the
    // rows that describe them (same keys, so a replay never doubles an event).
    const pendingEvents = rows.filter((r) => r.eventPending).map((r) => eventOf(r, receivedAt));
    if (pendingEvents.length > 0) await store.putEvents(pendingEvents);
    const carriedSync = rows.some((r) => r.syncPending);

    const anyPrev = rows[0];
    const hostDue = !anyPrev || anyPrev.hostHash !== p.hostHash || receivedAt - anyPrev.hostSyncedAt >= HOST_REFRESH_MS || carriedSync;
    const rawDue = !anyPrev || anyPrev.contentHash !== p.contentHash || carriedSync;
    // New content goes to the other of the server's two raw slots, so the previous one is kept.
    const rawSlot = rawDue ? (anyPrev?.rawSlot === 0 ? 1 : 0) : (anyPrev?.rawSlot ?? 0);
    // Tag the key only over rows that existed when it was checked: their ETags make this commit
    // fail if a revocation cleared the tags since (a first post's new rows would have none).
    const tag = rows.length > 0 ? keyTag : undefined;
    const head = headOf(rows);
    const recentSnapshotIds = [p.normalised.snapshotId, ...(head?.recentSnapshotIds ?? []).filter((id) => id !== p.normalised.snapshotId)].slice(0, RECENT_SNAPSHOT_IDS);

    const put: { record: ResultRecord; etag?: string }[] = [];
    const records = new Map<string, ResultRecord>();
    for (const r of p.results) {
      const prev = byRule.get(r.ruleId);
      const verdict = verdictOf(r);
      const changed = !prev || prev.status !== r.status;
      // A new configuration moves the server's drift counters, which ride on the index outbox.
      const indexChanged = changed || verdictMoved(prev, verdict) || prev.fingerprint !== verdict.fingerprint;
      const eventPending = changed;
      const indexPending = indexChanged || (prev?.indexPending ?? false);
      const syncPending = hostDue || rawDue;
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
        hostSyncedAt: hostDue ? receivedAt : (prev?.hostSyncedAt ?? receivedAt),
        eventPending,
        indexPending,
        syncPending,
        // Same content, new rule version: the rule moved the verdict, not the server.
        changeCause: changed ? (prev && prev.ruleVersion !== r.ruleVersion && prev.contentHash === p.contentHash ? 'rule-change' : 'snapshot') : prev.changeCause,
        rawSlot,
        keyTag: tag,
        acceptPending: eventPending || indexPending || syncPending,
        recentSnapshotIds,
      };
      records.set(r.ruleId, record);
      put.push({ record, etag: prev?.etag });
    }
    const current = new Set(rules.map((r) => r.id));
    const remove = rows.filter((r) => !current.has(r.ruleId)).map((r) => r.ruleId);

    const etags = await store.commitServer(server, { put, remove });

    // Committed: from here on this snapshot is the server's state. Alert records (written exactly
    // once, by the writer whose commit made the change) and the projections go side by side.
    await settleAll([
      this.#alert([...records.values()], server, log),
      this.#project([...records.values()], p, { now: receivedAt, hostDue, rawDue, rawSlot, previousSync: anyPrev?.hostSyncedAt }, log),
    ]);
    const flagged = [...records.values()].filter((r) => r.acceptPending).flatMap((r) => {
      const etag = etags.get(r.ruleId);
      return etag ? [{ ruleId: r.ruleId, etag }] : [];
    });
    return { written: records, answered: await this.#closeOutbox(server, p.normalised.snapshotId, flagged) };
  }

  /**
   * Clears the outbox of this post's own commit. When another writer changed the rows first, they
   * are read again: a repeat of this snapshot that already cleared them gave the 201 (false); a
   * newer snapshot, a revocation or a re-evaluation did not, so AcceptPending is cleared anew (the
   * rest of the flags may be that writer's, and a replay of them is harmless).
   */
  async #closeOutbox(server: string, snapshotId: string, flagged: ReadonlyArray<{ ruleId: string; etag: string }>): Promise<boolean> {
    const { store } = this.deps;
    if (await store.clearPending(server, flagged)) return true;
    for (let attempt = 0; attempt < CLOSE_ATTEMPTS; attempt++) {
      const now = await store.readServer(server);
      if (headOf(now)?.snapshotId !== snapshotId) return true; // superseded: its outbox went with the newer commit
      const rows = now.filter((r) => r.acceptPending).map((r) => ({ ruleId: r.ruleId, etag: r.etag }));
      if (rows.length === 0) return false;
      if (await store.clearPending(server, rows, 'accept')) return true;
    }
    return true;
  }

  /** Alert records for the changes a commit made; never fails (the waiver lookup cannot cost an alert). */
  async #alert(records: readonly ResultRecord[], server: string, log: AlertLog): Promise<void> {
    for (const rec of records) {
      if (!rec.eventPending) continue;
      const fields = { server, rule: rec.ruleId, status: rec.status, reasonCode: rec.reasonCode, previousStatus: rec.previousStatus ?? null, snapshotId: rec.snapshotId };
      // Entering Warning or Error, also from the other of the two (an escalation is a new finding).
      if (FINDING.has(rec.status)) {
        // Under a waiver the record still goes out, marked, and the alert rules filter it.
        const waiverId = await this.#waiverOf(server, rec.ruleId);
        log.log(formatLogRecord(LOG_RECORDS.newFinding, { ...fields, waived: waiverId !== undefined, waiverId: waiverId ?? null, cause: rec.changeCause ?? 'snapshot' }));
      } else if (FINDING.has(rec.previousStatus ?? '')) log.log(formatLogRecord(LOG_RECORDS.findingResolved, fields));
    }
  }

  /**
   * A repeat of the current snapshot: finish whatever the first attempt left in the outbox. True
   * when this request closed the outbox of the snapshot's commit, so it answers for that commit.
   */
  async #replay(rows: readonly StoredResult[], p: Parsed, log: AlertLog): Promise<boolean> {
    const pending = rows.filter((r) => r.eventPending || r.indexPending || r.syncPending || r.acceptPending);
    if (pending.length === 0) return false;
    const now = this.deps.clock();
    const sync = rows.some((r) => r.syncPending);
    await this.#project(pending, p, { now, hostDue: sync, rawDue: sync, rawSlot: rows[0]?.rawSlot ?? 0 }, log);
    const cleared = await this.deps.store.clearPending(p.normalised.serverId, pending.map((r) => ({ ruleId: r.ruleId, etag: r.etag })));
    return cleared && pending.some((r) => r.acceptPending);
  }

  /** The waiver lookup must never cost the alert: on a storage failure the finding alerts unwaived. */
  async #waiverOf(server: string, ruleId: string): Promise<string | undefined> {
    try {
      return await this.deps.hooks?.waiverOf?.(server, ruleId);
    } catch {
      return undefined;
    }
  }

  /**
   * The projections of a commit, written side by side: they go to different tables and partitions
   * and are idempotent, so their order does not matter, only that all are done before the outbox
   * is cleared (a failure leaves the flags set for a replay).
   */
  async #project(records: readonly ResultRecord[], p: Parsed, o: ProjectOptions, log: AlertLog): Promise<void> {
    const { store } = this.deps;
    const s = p.snapshot;
    const server = p.normalised.serverId;
    const tasks: Promise<void>[] = [];
    const events = records.filter((r) => r.eventPending).map((r) => eventOf(r, o.now));
    if (events.length > 0) tasks.push(store.putEvents(events));
    for (const r of records) if (r.indexPending) tasks.push(store.syncIndex(indexOf(r), indexedStatusOf(r)));
    if (this.deps.drift) tasks.push(projectDrift(this.deps.drift, records));
    if (o.hostDue) {
      tasks.push(
        (async () => {
          await store.putHost(hostRecordOf(s, { server, snapshotId: p.normalised.snapshotId, collectedAt: p.normalised.collectedAt, hostHash: p.hostHash, now: o.now }));
          const hook = this.deps.hooks?.hostSynced;
          if (hook) await hook(server, { previous: o.previousSync, now: o.now, snapshotId: p.normalised.snapshotId }, log);
        })(),
      );
    }
    if (o.rawDue) {
      const raw = { server, snapshotId: p.normalised.snapshotId, collectedAt: p.normalised.collectedAt, receivedAt: o.now, contentHash: p.contentHash, body: p.body };
      tasks.push(store.putRawSnapshot(raw, o.rawSlot));
    }
    await settleAll(tasks);
  }
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

interface ProjectOptions {
  readonly now: number;
  readonly hostDue: boolean;
  readonly rawDue: boolean;
  readonly rawSlot: number;
  readonly previousSync?: number;
}


function sortViews(views: ResultView[]): ResultView[] {
  return views.sort((a, b) => (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0));
}
