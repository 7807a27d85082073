// Removing a decommissioned server (admin): its keys are revoked, then one commit in its own
// Results partition replaces each of its rows, under the row's ETag, with a removal marker that
// keeps the rule's key and the server's commit ids. The commit's outbox entry says the server
// leaves every rule's index and drift (the leaves a rule that left the rule set writes), that its
// Hosts row, stale marker and last-seen index row go, and carries its audit event; the projector
// proves the commit on a marker, as on any row. History and the events stay (docs/lifecycle.md,
// "Removing a server").
import type { Localised } from '../rules/types';
import { ConcurrencyConflictError, isRemovedRow, REMOVED_STATUS, remembersCommit, type EventRecord, type OutboxStore, type ResultRecord, type StoredResult } from '../store';
import type { AlertLog } from './alert-log';
import { audit, type Enrolment } from './enrolment';
import { ApiError } from './errors';
import { headOf, nextCommits } from './ingest';
import { LOG_RECORDS } from './log-records';
import { encodeWork, newCommitId, type ProjectionWork } from './projection-work';
import { removedSentence } from './removal-text';
import { ROUTE_BASE } from './route-prefix';
import { routeUrl } from './routes';
import type { Projector } from './projector';
import { leavesOf } from './retired-results';
import type { UseCaseDeps } from './use-case-deps';

export interface ServerRemovalDeps extends Pick<UseCaseDeps, 'store' | 'clock'> {
  readonly outbox: OutboxStore;
  readonly enrolment: Pick<Enrolment, 'revoke'>;
  readonly projector: Pick<Projector, 'committed' | 'kick'>;
}

export interface RemovedServer {
  readonly server: string;
  readonly removedAt: string;
  readonly removedBy: string;
  /** The rules whose results it had. */
  readonly rules: readonly string[];
  /** Its key ids the removal revoked, and the re-enrolment requests it closed. */
  readonly revoked: readonly string[];
  readonly settled: readonly string[];
}

const COMMIT_ATTEMPTS = 8;

export class ServerRemoval {
  constructor(private readonly deps: ServerRemovalDeps) {}

  /**
   * Removes a server that has results. Its keys are revoked first, so a post racing the removal
   * fails its key check once it reads the rows again (the revocation changes their ETags); a post
   * that committed first makes the removal's commit fail, and the removal reads again and takes
   * that post's rows too. Nothing is changed for a server without results: 404.
   */
  async remove(server: string, removedBy: string, blockReenrolment: boolean, log: AlertLog): Promise<RemovedServer> {
    const { store, clock } = this.deps;
    const before = await store.readPartition(server);
    if (!before.some((r) => !isRemovedRow(r))) throw notPosted(server, before);
    const keys = (await this.deps.enrolment.revoke(server, log, blockReenrolment)) ?? { revoked: [], settled: [] };
    // The answer, and the audit record, once the commit landed.
    const removed = (live: readonly StoredResult[], removedAt: number): RemovedServer => {
      const rules = live.map((r) => r.ruleId).sort();
      audit(log, LOG_RECORDS.serverRemoved, { server, removedBy, rules: rules.join(','), revoked: keys.revoked.join(',') || null, reenrolment: blockReenrolment ? 'blocked' : 'allowed' });
      return { server, removedAt: new Date(removedAt).toISOString(), removedBy, rules, revoked: keys.revoked, settled: keys.settled };
    };
    // The last attempt, refused as far as this process could tell.
    let refused: { commitId: string; live: readonly StoredResult[]; removedAt: number } | undefined;
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const rows = await store.readPartition(server);
      if (refused) {
        // Unless its answer was lost after it landed (a 503 retried into a 412): the markers name
        // its commit, and its entry stays for the projector. A refused attempt's entry goes.
        const last = refused;
        refused = undefined;
        if (remembersCommit(rows, last.commitId)) {
          this.#committed(last.commitId);
          return removed(last.live, last.removedAt);
        }
        await this.deps.outbox.deleteOne(server, last.commitId).catch(() => undefined);
      }
      const live = rows.filter((r) => !isRemovedRow(r));
      // Another removal got there first.
      if (live.length === 0) throw notPosted(server, rows);
      const removedAt = clock();
      const commitId = newCommitId(Date.now());
      await this.deps.outbox.put({ server, commitId, writtenAt: removedAt, payload: encodeWork(removalWork(server, live, commitId, removedAt, removedBy)) });
      const commits = nextCommits(headOf(live), commitId, removedAt);
      try {
        await store.commitServer(server, { put: live.map((r) => ({ record: markerOf(r, commits, removedAt, removedBy), etag: r.etag })), remove: [], basedOn: rows });
      } catch (error) {
        // Any other failure keeps the entry: whether the commit landed is for the projector to prove.
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        // Refused: a post (or re-evaluation) changed the rows since they were read; read again.
        refused = { commitId, live, removedAt };
        continue;
      }
      this.#committed(commitId);
      return removed(live, removedAt);
    }
    // The last attempt's entry stays: whether it landed is for the projector to find out.
    throw new ConcurrencyConflictError(`Posts of ${server} kept changing its results while it was being removed; try again.`);
  }

  /** The removal's commit landed: its entry is proven in this process, and drained soon. */
  #committed(commitId: string): void {
    this.deps.projector.committed(commitId);
    this.deps.projector.kick();
  }
}

function notPosted(server: string, rows: readonly StoredResult[]): ApiError {
  const marker = rows.find(isRemovedRow);
  if (marker) return new ApiError('not_found', removedSentence(server, marker, 'was already removed'));
  // A server that only enrolled has nothing to remove but its key, which has a route of its own.
  return new ApiError(
    'not_found',
    `No snapshot from server "${server}" has been stored, so there is nothing to remove; a key issued to it is revoked with DELETE ${routeUrl(ROUTE_BASE, 'revokeServerKey', { server })}.`,
  );
}

/** What the removal's event and markers say, naming who removed the server. */
function removalMessage(server: string, by: string): Localised {
  return {
    en: `${server} was removed from the fleet by ${by}; its results no longer count.`,
    ja: `${server} は ${by} によってフリートから削除されました。その結果は集計されません。`,
  };
}

/**
 * What the removal owes the fleet-wide tables: the leaves of every rule it had a result for (from
 * its newest snapshot: what a later snapshot wrote, after a re-enrolment, stays), its Hosts and
 * stale bookkeeping, and one server event, the audit record in Events and its History.
 */
function removalWork(server: string, live: readonly StoredResult[], commitId: string, removedAt: number, removedBy: string): ProjectionWork {
  const head = headOf(live)!;
  return {
    v: 1,
    server,
    commitId,
    proofRule: head.ruleId,
    events: [removalEvent(server, head, removedAt, removedBy, live)],
    alerts: [],
    index: [],
    ...leavesOf(live, { snapshotId: head.snapshotId, collectedAt: head.collectedAt, commitId }),
    removal: { upTo: head.collectedAt, hostSyncedAt: head.hostSyncedAt || undefined },
  };
}

function removalEvent(server: string, head: StoredResult, at: number, by: string, live: readonly StoredResult[]): EventRecord {
  return {
    server,
    ruleId: '',
    ruleVersion: '',
    fromStatus: 'Reporting',
    toStatus: REMOVED_STATUS,
    reasonCode: 'Removed',
    severity: 'Info',
    message: removalMessage(server, by),
    firstSeen: at,
    snapshotId: head.snapshotId,
    recordedAt: at,
    cause: 'removed',
    removedBy: by,
    detail: JSON.stringify({ removedBy: by, rules: live.map((r) => ({ rule: r.ruleId, status: r.status })), lastSnapshotId: head.snapshotId }),
  };
}

/**
 * The marker a result row becomes: no verdict, evidence or key tag; its commit ids (the removal's
 * first) prove the removal and pass on to the server's next commit, should it post again. It says
 * who removed the server, and the removal's message, so reads know of the removal from the
 * request's own commit, before the projector writes its History row.
 */
function markerOf(r: StoredResult, recentCommits: ResultRecord['recentCommits'], removedAt: number, removedBy: string): ResultRecord {
  return {
    server: r.server,
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    status: REMOVED_STATUS,
    reasonCode: 'Removed',
    severity: r.severity,
    message: removalMessage(r.server, removedBy),
    remediation: { en: [], ja: [] },
    evidenceJson: '{}',
    firstSeen: removedAt,
    previousStatus: r.status,
    previousFirstSeen: r.firstSeen,
    snapshotId: r.snapshotId,
    collectedAt: r.collectedAt,
    lastSeen: r.lastSeen,
    contentHash: '',
    hostHash: '',
    hostSyncedAt: 0,
    eventPending: false,
    indexPending: false,
    syncPending: false,
    changeCause: 'removed',
    rawSlot: r.rawSlot,
    recentCommits,
    removedBy,
  };
}
