// What a commit owes the fleet-wide tables for the Results rows it removes, those of rules that left
// the rule set: the server leaves each such rule's index (its row and its count) and, for a rule
// with configuration facts, its drift. Nothing else: no event, History row or alert record, since
// the server did not change and the rule stopped being asked (docs/tables.md, "A rule that leaves
// the rule set"). Should the rule come back, its results are first results again.
import type { DriftLeave, IndexLeave, StoredResult } from '../store';
import { driftPlaceBefore } from './drift-projection';
import type { ProjectionWork } from './projection-work';

/** The snapshot of the removing commit: what was indexed or counted from a newer one stays. */
export interface LeaveSource {
  readonly snapshotId: string;
  readonly collectedAt: number;
  readonly commitId: string;
}

/**
 * Rows an older version wrote with projections still owed (EventPending, IndexPending) do not say
 * where the index holds their server: that leave is read first (driftPlaceBefore decides the same
 * for the drift).
 */
const owed = (r: StoredResult) => r.eventPending || r.indexPending;

function indexLeaveOf(r: StoredResult, at: LeaveSource): IndexLeave {
  return { leave: true, ruleId: r.ruleId, server: r.server, ...(owed(r) ? {} : { from: r.status }), sourceSnapshotId: at.snapshotId, sourceCollectedAt: at.collectedAt };
}

/** None for a row without a fingerprint: its rule declares no configuration facts, so nothing counted it. */
function driftLeaveOf(r: StoredResult, at: LeaveSource): DriftLeave | undefined {
  if (!r.fingerprint) return undefined;
  const from = driftPlaceBefore(r) ?? undefined;
  return { leave: true, ruleId: r.ruleId, server: r.server, ...(from ? { from } : {}), sourceSnapshotId: at.snapshotId, sourceCollectedAt: at.collectedAt, sourceCommitId: at.commitId };
}

/** The outbox entry's leaves for the removed rows; nothing when none is removed (so an entry is unchanged). */
export function leavesOf(removed: readonly StoredResult[], at: LeaveSource): Pick<ProjectionWork, 'indexLeaves' | 'driftLeaves'> {
  if (removed.length === 0) return {};
  const drift = removed.flatMap((r) => driftLeaveOf(r, at) ?? []);
  return { indexLeaves: removed.map((r) => indexLeaveOf(r, at)), ...(drift.length > 0 ? { driftLeaves: drift } : {}) };
}
