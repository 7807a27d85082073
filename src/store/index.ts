// The store's public surface: the only module that knows tables, keys and columns.
export { createTableClients, resolveConnectionString, RoundTripCounter, tableNames, TABLES, type StoragePolicy, type TableClientFactoryOptions } from './client';
export { MAX_STRING_CHARS, TRUNCATION_MARKER } from './columns';
export { fitEvidence } from './entities';
export { ConcurrencyConflictError, DEFAULT_RETRY_AFTER_SECONDS, isTransient, settleAll, StorageUnavailableError } from './errors';
export { bucketOf, decodeKey, encodeKey, invertedTime } from './keys';
export { CursorCodec, InvalidContinuationTokenError } from './cursor';
export {
  PostureStore,
  type EventFilter,
  type PostureStoreOptions,
  type ResultFilter,
  type IndexMove,
  type ServerCommit,
} from './posture-store';
export { keyTagOf, type EventRecord, type ResultSummary, type HostRecord, type IndexRecord, type Page, type RawSnapshotMeta, type RawSnapshotRecord, type ResultRecord, type StoredResult } from './records';
export type { CommitMark } from './records';
export { DIRECT_RAW_SLOTS, nextRawSlot, PROJECTED_RAW_SLOTS, rawSlotOf } from './raw-slots';
export { OutboxEntryTooLargeError, OutboxStore, type OutboxEntry, type StoredOutboxEntry } from './outbox-store';
export { LifecycleStore, seenPartition, type ReevalState, type SeenEntry, type StaleMarker } from './lifecycle-store';
export { DRIFT_SHARDS, driftCountsEntity, driftAnchorEntity, driftCountsKey, driftMemberEntity, driftShardOf, DriftStore, oldLayoutMemberServer, SAMPLE_PER_ROW, type DriftBaseline, type DriftStoreOptions, type DriftCounts, type DriftMember, type DriftMove, type DriftPlace, type StoredBaseline } from './drift-store';
export { settleBounded } from './transactions';
export { WaiverStore, type StoredWaiver, type WaiverRecord, type WaiverState } from './waivers-store';
export { MAX_REQUESTS_PER_SERVER, ServerKeyStore, type KeyAttention, type ServerKeyRecord, type ServerKeyStatus } from './server-keys';
export type { EnrolmentRequest, KeyHead, KeyPartition, KeyRefusal, RequestDecision, RequestState } from './key-partition';
export { isNewerSnapshot, type SnapshotOrder } from './snapshot-order';
export { StagedRawStore, type RawHead, type RawSlotState, type StagedRawKey, type StagedRawMeta } from './staged-raw-store';
export { OlderDriftMembers, type OldMemberOutcome, type RowKeys } from './drift-old-members';
export { olderRawMeta, OlderLayoutStore, type KeyPosition, type LayoutMigrationTable, type OlderLayoutsState, type OlderLayoutTable, type OlderRow, type RowToDelete, type SlotContent } from './older-layouts';
