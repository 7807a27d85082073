// The drift projection's unit: after a commit, each result whose rule declares configuration facts
// moves its server to its configuration and status in the Drift table. The committing request puts
// these moves in its outbox entry (when the status or the fingerprint changed), each with where the
// server was counted before (from the row it replaces), and the projector applies them in batches,
// so a projection lost to a failure is replayed; a replay changes nothing twice.
import type { DriftMember, DriftMove, DriftPlace, ResultRecord } from '../store';

/** The server's place in its rule's drift, for a row that has a fingerprint. */
export function driftMemberOf(r: ResultRecord): DriftMember | undefined {
  if (!r.fingerprint) return undefined;
  return {
    ruleId: r.ruleId,
    server: r.server,
    fingerprint: r.fingerprint,
    factsJson: r.fingerprintFactsJson ?? '{}',
    status: r.status,
    sourceSnapshotId: r.snapshotId,
    sourceCollectedAt: r.collectedAt,
    ...(r.driftCommitId ? { sourceCommitId: r.driftCommitId } : {}),
  };
}

/**
 * The commit a new Results row names as the one that placed its server in the drift: the row's own
 * commit when that commit moves the server (it has a fingerprint and owes a move to another place),
 * else the previous row's, whose member stays the server's. A move to where the server already is
 * (a re-evaluation that changed nothing drift counts) keeps it too, so its member row stays as it
 * is and the move only checks it is there.
 */
export function driftCommitOf(row: Pick<ResultRecord, 'fingerprint' | 'status'>, moves: boolean, commitId: string, prev: ResultRecord | undefined): string | undefined {
  if (!row.fingerprint || !moves) return prev?.driftCommitId;
  const stays = prev?.driftCommitId !== undefined && prev.fingerprint === row.fingerprint && prev.status === row.status;
  return stays ? prev.driftCommitId : commitId;
}

/**
 * Where the drift counts a server before `prev` is replaced: null when it has no Results row for
 * the rule (never counted), undefined when the row cannot tell — written before fingerprints, or
 * by an older version with projections still owed — so the projector reads the member instead.
 */
export function driftPlaceBefore(prev: ResultRecord | undefined): DriftPlace | null | undefined {
  if (!prev) return null;
  if (!prev.fingerprint || prev.indexPending || prev.eventPending) return undefined;
  return { fingerprint: prev.fingerprint, status: prev.status, ...(prev.driftCommitId ? { commitId: prev.driftCommitId } : {}) };
}

/** The move of a row's server in its rule's drift, from where its previous row left it. */
export function driftMoveOf(r: ResultRecord, prev: ResultRecord | undefined): DriftMove | undefined {
  const member = driftMemberOf(r);
  if (!member) return undefined;
  const from = driftPlaceBefore(prev);
  return from === undefined ? member : { ...member, from };
}
