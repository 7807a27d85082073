// Rows as the layouts before the buckets wrote them (History and Snapshots in a partition per
// server), and the status changes they hold: for the tests that read and migrate those layouts.
import type { EventRecord, RawSnapshotRecord } from '../../src/store';
import { eventToEntity, rawToEntity, type Entity } from '../../src/store/entities';
import { encodeKey, invertedTime } from '../../src/store/keys';

/** A status change `minutes` after `t0`: its own snapshot id, message and times, so rows differ. */
export function changeAt(t0: number) {
  return (server: string, minutes: number, ruleId = 'rule-a', toStatus = 'Warning'): EventRecord => ({
    server,
    ruleId,
    ruleVersion: '1.0.0',
    reasonCode: 'R',
    severity: 'Medium',
    message: { en: `${server} is ${toStatus} (${minutes})`, ja: `${server} は ${toStatus}` },
    firstSeen: t0 + minutes * 60_000,
    fromStatus: 'Pass',
    toStatus,
    snapshotId: `snap-${server}-${minutes}`,
    recordedAt: t0 + minutes * 60_000 + 1000,
    cause: 'snapshot',
  });
}

/** A History row as the older layout wrote it: the server's own partition, keyed by time, rule and snapshot. */
export const legacyHistory = (e: EventRecord): Entity => ({ ...eventToEntity(e), partitionKey: encodeKey(e.server), rowKey: `${invertedTime(e.firstSeen)}_${encodeKey(e.ruleId)}_${encodeKey(e.snapshotId)}` });

/** A raw snapshot as the older layouts wrote it: the server's own partition, a slot key (`slot0`) or a time key. */
export const legacyRaw = (r: RawSnapshotRecord, rowKey: string): Entity => ({ ...rawToEntity(r, 0), partitionKey: encodeKey(r.server), rowKey });

/** The time key raw snapshots had before the slots. */
export const legacyRawTimeKey = (r: RawSnapshotRecord): string => `${invertedTime(r.collectedAt)}_${encodeKey(r.snapshotId)}`;
