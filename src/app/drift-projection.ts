// The drift projection: after a commit, each result whose rule declares configuration facts moves
// its server to its configuration and status in the Drift table. It rides on the Results rows'
// index outbox flag (set when the status or the fingerprint changed), so a projection lost to a
// failure after the commit is replayed like the rule index; a replay changes nothing twice.
import { settleAll, type DriftMember, type DriftStore, type ResultRecord } from '../store';

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

/** Syncs the drift of every record whose index outbox is open; all settle before a failure is reported. */
export async function projectDrift(drift: DriftStore, records: readonly ResultRecord[]): Promise<void> {
  const members = records.filter((r) => r.indexPending).flatMap((r) => driftMemberOf(r) ?? []);
  await settleAll(members.map((m) => drift.syncMember(m)));
}
