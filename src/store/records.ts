// The records the store reads and writes, in application terms (epoch ms, plain strings, texts as
// one map per language). Table and column names live in entities.ts; nothing outside src/store
// sees them. The Results row is the full record; events and index rows are picks of it.
import type { Lang, Localised } from '../rules/types';

/** The current result of one rule on one server: one row of the Results table. */
export interface ResultRecord {
  readonly server: string;
  readonly ruleId: string;
  readonly ruleVersion: string;
  readonly status: string;
  readonly reasonCode: string;
  readonly severity: string;
  /** One text per language; the store writes a column per language (MessageEn, MessageJa…). */
  readonly message: Localised;
  readonly remediation: Readonly<Record<Lang, readonly string[]>>;
  /** The evidence as JSON text; the store truncates it (with a marker) past the string limit. */
  readonly evidenceJson: string;
  /** When the current status began (collectedAt of the snapshot that first showed it). */
  readonly firstSeen: number;
  readonly previousStatus?: string;
  readonly previousFirstSeen?: number;
  /** The newest snapshot this row reflects. */
  readonly snapshotId: string;
  readonly collectedAt: number;
  /** When the service received that snapshot. */
  readonly lastSeen: number;
  /** Hash of the snapshot content without id and time: equal hashes mean "nothing changed". */
  readonly contentHash: string;
  /** Hash of the host facts last written to the Hosts table, and when. */
  readonly hostHash: string;
  readonly hostSyncedAt: number;
  /** Outbox flags: work that must follow this commit (an event, an index row, host/raw rows). */
  readonly eventPending: boolean;
  readonly indexPending: boolean;
  readonly syncPending: boolean;
  /** What made the current status begin: 'snapshot' (default) or 'rule-change'; events carry it. */
  readonly changeCause?: string;
  /**
   * Which of the server's Snapshots slots holds its newest raw body, or will once the projector has
   * caught up: 0 or 1 (written by the projector), or 2 or 3 (written by a request of an older
   * deployment); the next new content avoids it (raw-slots.ts).
   */
  readonly rawSlot?: number;
  /**
   * SHA-256 tag of the server key that posted this state, after it was verified against ServerKeys:
   * while every row of the server carries it, that key is accepted without reading ServerKeys.
   * Revocation and rotation clear it (PostureStore.clearKeyTags).
   */
  readonly keyTag?: string;
  /**
   * Set with the outbox flags by the commit of a new snapshot, cleared with them by whoever
   * finishes that outbox: that request answers 201 accepted, any other repeat 200 duplicate.
   */
  readonly acceptPending?: boolean;
  /** The ids of the server's latest accepted snapshots, newest first: a repeat of one is a duplicate. */
  readonly recentSnapshotIds?: readonly string[];
  /** The configuration fingerprint (`sha256:`…) of a rule that declares configuration facts. */
  readonly fingerprint?: string;
  /** Those facts as canonical JSON text. */
  readonly fingerprintFactsJson?: string;
  /**
   * The commit that last moved the server in this rule's drift (its member row's key ends with
   * it): the next move names it, so a stale move of an earlier commit cannot take that row for its
   * own. Absent on rows written before drift members carried their commit.
   */
  readonly driftCommitId?: string;
  /**
   * The server's latest commits (id, and when the committing request began), newest first: the
   * projector's proof that the commit an outbox entry describes happened.
   */
  readonly recentCommits?: readonly CommitMark[];
  /**
   * Who removed the server (removal markers only): the request's own commit says it, so the removal
   * is known before its History row is projected. Absent on markers written before they kept it.
   */
  readonly removedBy?: string;
}

/**
 * The Status of a removal marker: the row a removed server's rule row becomes (docs/lifecycle.md,
 * "Removing a server"). It keeps the rule's key and the server's commit ids, so the removal is
 * provable and a later post replaces it under its ETag; every reader of results passes over it.
 */
export const REMOVED_STATUS = 'Removed';

/** A removal marker, not a result. */
export const isRemovedRow = (r: Pick<ResultRecord, 'status'>): boolean => r.status === REMOVED_STATUS;

export interface CommitMark {
  readonly id: string;
  readonly at: number;
}

export interface StoredResult extends ResultRecord {
  readonly etag: string;
  readonly evidenceTruncated: boolean;
  /**
   * The rules whose rows the commit that wrote this row left in the server's partition (sorted);
   * absent on rows an older version wrote. A row naming only its own rule is all the partition holds.
   */
  readonly partitionRules?: readonly string[];
}

/** Whether a server's rows remember the commit `commitId`: it landed (its answer may have been lost). */
export function remembersCommit(rows: readonly StoredResult[], commitId: string): boolean {
  return rows.some((r) => r.recentCommits?.some((c) => c.id === commitId));
}

/** The verified-key tag of a server's rows: only when every row carries the same one. */
export function keyTagOf(rows: readonly StoredResult[]): string | undefined {
  // No rows, or rows that all lack a tag, answer undefined as well.
  const tag = rows[0]?.keyTag;
  return rows.every((r) => r.keyTag === tag) ? tag : undefined;
}

/** A status change of one (server, rule): one row of the Events table. */
export type EventRecord = Pick<ResultRecord, 'server' | 'ruleId' | 'ruleVersion' | 'reasonCode' | 'severity' | 'message' | 'firstSeen' | 'previousFirstSeen' | 'snapshotId'> & {
  /** Undefined for the first result a server ever had for the rule. */
  readonly fromStatus?: string;
  readonly toStatus: string;
  readonly recordedAt: number;
  /** snapshot (default), rule-change, stale, returned, waiver-created/-changed/-expired/-deleted. */
  readonly cause?: string;
  readonly waiverId?: string;
  /** Who removed the server (cause removed). */
  readonly removedBy?: string;
  /** Extra facts as JSON text (waiver audit details). */
  readonly detail?: string;
};

/** What fleet-wide listings return of a result: no evidence, no remediation. */
export const SUMMARY_FIELDS = ['server', 'ruleId', 'ruleVersion', 'status', 'reasonCode', 'severity', 'message', 'firstSeen', 'previousStatus'] as const;
export type ResultSummary = Pick<ResultRecord, (typeof SUMMARY_FIELDS)[number]>;

/** A row of the per-rule index: the current status of one server for one rule. */
export type IndexRecord = ResultSummary & {
  /** The snapshot that set this row; an index row is only replaced by a newer source. */
  readonly sourceSnapshotId: string;
  readonly sourceCollectedAt: number;
};

/** One row of the Hosts table. */
export interface HostRecord {
  readonly server: string;
  readonly hostName: string;
  readonly fqdn?: string;
  readonly osCaption?: string;
  readonly osVersion?: string;
  readonly osArchitecture?: string;
  readonly utcOffsetMinutes?: number;
  readonly collectorName: string;
  readonly collectorVersion: string;
  readonly manifestVersion?: string;
  readonly firstSeen: number;
  /** Refreshed at most about hourly (exact last-seen is on the Results rows). */
  readonly lastSeen: number;
  readonly lastSnapshotId: string;
  readonly lastCollectedAt: number;
  readonly hostHash: string;
}

/** The raw snapshot as received, kept for audit and re-evaluation. */
export interface RawSnapshotRecord {
  readonly server: string;
  readonly snapshotId: string;
  readonly collectedAt: number;
  readonly receivedAt: number;
  readonly contentHash: string;
  /** The request body (UTF-8 JSON text). */
  readonly body: string;
}

export interface RawSnapshotMeta {
  readonly server: string;
  readonly snapshotId: string;
  readonly collectedAt: number;
  readonly receivedAt: number;
  readonly contentHash: string;
  readonly rawBytes: number;
  readonly rawStored: boolean;
}

/** Opaque position of a paged query, as the SDK hands it out. */
export interface Page<T> {
  readonly items: T[];
  readonly continuationToken?: string;
}
