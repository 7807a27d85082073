// The drift projection's unit: after a commit, each result whose rule declares configuration facts
// moves its server to its configuration and status in the Drift table. The committing request puts
// these members in its outbox entry (when the status or the fingerprint changed) and the projector
// applies them, so a projection lost to a failure is replayed; a replay changes nothing twice.
import type { DriftMember, ResultRecord } from '../store';

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
  };
}
