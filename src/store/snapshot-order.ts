// Which of two snapshots of one server is the newer: CollectedAt, then the snapshot id to break a
// tie, so "newer" is always defined. Ingest, re-evaluation, the raw slots' readers and the sweep of
// staging rows all pick and guard the newest content by this one order.

export interface SnapshotOrder {
  readonly collectedAt: number;
  readonly snapshotId: string;
}

export const isNewerSnapshot = (a: SnapshotOrder, b: SnapshotOrder): boolean =>
  a.collectedAt > b.collectedAt || (a.collectedAt === b.collectedAt && a.snapshotId > b.snapshotId);
