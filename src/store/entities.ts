// Records ↔ table entities. Column names are chosen for Power BI users (flat, typed, the same on
// every entity of a table); keys are encoded so any server id is a valid key.
import { gunzipSync, gzipSync } from 'node:zlib';
import { LANGUAGES, type Lang } from '../rules/types';
import { bool, boundedText, bytes, cutText, dateTime, type EdmValue, gzipColumnCount, gzipColumns, int32, jsonOf, languageColumn, MAX_GZIP_COLUMNS, MAX_STRING_CHARS, ms, num, optStr, readColumns, readGzipColumns, readTexts, str, textColumns, writeColumns, type ColumnKinds } from './columns';
import { bucketOf, decodeKey, encodeKey, invertedTime } from './keys';
import { rawSlotOf } from './raw-slots';
import { REMOVED_STATUS, type CommitMark, type EventRecord, type HostRecord, type IndexRecord, type RawSnapshotMeta, type RawSnapshotRecord, type ResultRecord, type ResultSummary, type StoredResult } from './records';

export type Entity = { partitionKey: string; rowKey: string } & Record<string, EdmValue>;
type Row = Readonly<Record<string, unknown>>;

const optional = (name: string, value: EdmValue | undefined): Record<string, EdmValue> => (value === undefined ? {} : { [name]: value });
const optionalTime = (name: string, ms: number | undefined) => optional(name, ms === undefined ? undefined : dateTime(ms));

/** The columns every verdict-carrying row has (Results, Events, RuleIndex), texts one column per language. */
type VerdictFields = Pick<ResultRecord, 'server' | 'ruleId' | 'ruleVersion' | 'reasonCode' | 'severity' | 'message' | 'firstSeen'>;

function verdictColumns(r: VerdictFields): Record<string, EdmValue> {
  return {
    Server: r.server,
    RuleId: r.ruleId,
    RuleVersion: r.ruleVersion,
    ReasonCode: r.reasonCode,
    Severity: r.severity,
    ...textColumns('Message', r.message),
    FirstSeen: dateTime(r.firstSeen),
  };
}

function readVerdict(e: Row): VerdictFields {
  return {
    server: str(e, 'Server'),
    ruleId: str(e, 'RuleId'),
    ruleVersion: str(e, 'RuleVersion'),
    reasonCode: str(e, 'ReasonCode'),
    severity: str(e, 'Severity'),
    message: readTexts(e, 'Message'),
    firstSeen: ms(e, 'FirstSeen') ?? 0,
  };
}

/** The verdict columns with the message in one language only (what a list in that language shows). */
const verdictColumnsIn = (lang: Lang): string[] => ['Server', 'RuleId', 'RuleVersion', 'ReasonCode', 'Severity', languageColumn('Message', lang), 'FirstSeen'];

/**
 * The columns a result's summary is read from, with the message in one language only: Results and
 * index rows name them alike. A list of a thousand summaries reads about half the bytes of whole
 * rows, and the service spends most of such a request decoding what storage sent.
 */
export const summaryColumns = (lang: Lang): string[] => [...verdictColumnsIn(lang), 'Status', 'PreviousStatus'];

/**
 * The columns an event list shows, with the message in one language only. Not the audit detail: a
 * waiver's record holds its whole justification there, which no list shows. Removal events written
 * before the RemovedBy column name who only there: the events list reads those rows' Detail apart.
 */
export const eventListColumns = (lang: Lang): string[] => [...verdictColumnsIn(lang), 'FromStatus', 'ToStatus', 'PreviousFirstSeen', 'SnapshotId', 'RecordedAt', 'Cause', 'WaiverId', 'RemovedBy'];

/** A summary from a Results or index row (whole, or read with summaryColumns: the other languages' messages are then empty). */
export function entityToSummary(e: Row): ResultSummary {
  return { ...readVerdict(e), status: str(e, 'Status'), previousStatus: optStr(e, 'PreviousStatus') };
}

// ---- Results: PartitionKey = server, RowKey = rule id --------------------------------------------

export const resultKeys = (server: string, ruleId: string) => ({ partitionKey: encodeKey(server), rowKey: encodeKey(ruleId) });

/** The Results rows that are results: a removed server's markers are not (records.ts, REMOVED_STATUS). */
export const LIVE_RESULTS = `Status ne '${REMOVED_STATUS}'`;
/** The removal markers of removed servers. */
export const REMOVED_RESULTS = `Status eq '${REMOVED_STATUS}'`;

/** Evidence JSON that fits one string column; bigger evidence becomes a marked preview. */
export function fitEvidence(json: string): { text: string; truncated: boolean } {
  if (json.length <= MAX_STRING_CHARS) return { text: json, truncated: false };
  // The preview is itself JSON-escaped, which can grow it; shrink until the wrapper fits.
  let keep = MAX_STRING_CHARS - 200;
  for (;;) {
    const text = JSON.stringify({ truncated: true, originalChars: json.length, preview: cutText(json, keep) });
    if (text.length <= MAX_STRING_CHARS) return { text, truncated: true };
    keep = Math.floor(keep * 0.8);
  }
}

/** The Results row's state columns, named like the record's fields. */
const RESULT_STATE_COLUMNS = {
  previousStatus: 'optText',
  previousFirstSeen: 'optTime',
  snapshotId: 'text',
  collectedAt: 'time',
  lastSeen: 'time',
  contentHash: 'text',
  hostHash: 'text',
  hostSyncedAt: 'time',
  eventPending: 'bool',
  indexPending: 'bool',
  syncPending: 'bool',
  rawSlot: 'optInt',
  keyTag: 'optText',
  acceptPending: 'bool',
  driftCommitId: 'optText',
  removedBy: 'optText',
} as const satisfies ColumnKinds<ResultRecord>;

export function resultToEntity(r: ResultRecord): Entity {
  const evidence = fitEvidence(r.evidenceJson);
  const remediation = Object.fromEntries(LANGUAGES.map((lang) => [lang, JSON.stringify(r.remediation[lang])])) as Record<Lang, string>;
  return {
    ...resultKeys(r.server, r.ruleId),
    ...verdictColumns(r),
    Status: r.status,
    ...textColumns('Remediation', remediation, 'Json'),
    EvidenceJson: evidence.text,
    EvidenceTruncated: evidence.truncated,
    EvidenceChars: int32(r.evidenceJson.length),
    ...writeColumns(r, RESULT_STATE_COLUMNS),
    ChangeCause: r.changeCause ?? 'snapshot',
    RecentSnapshotIds: (r.recentSnapshotIds ?? []).join(' '),
    RecentCommits: (r.recentCommits ?? []).map((c) => `${c.at}:${c.id}`).join(' '),
    Fingerprint: r.fingerprint ?? '',
    FingerprintFactsJson: boundedText(r.fingerprintFactsJson ?? ''),
  };
}

/** The Results column that names the rules whose rows a commit left in the partition (space-separated, sorted). */
export const PARTITION_RULES = 'PartitionRules';

/**
 * The RecentCommits column as marks (`<at>:<id>` separated by spaces). A damaged mark is passed
 * over: one without its time would otherwise read as a commit at 0, one without a colon as a
 * commit named after its own digits.
 */
export function commitMarks(text: string): CommitMark[] {
  return text.split(' ').flatMap((part) => {
    const m = /^(\d+):(.+)$/.exec(part);
    return m ? [{ at: Number(m[1]), id: m[2]! }] : [];
  });
}

function jsonList(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [text];
  }
}

export function entityToResult(e: Row): StoredResult {
  return {
    ...readVerdict(e),
    status: str(e, 'Status'),
    remediation: Object.fromEntries(LANGUAGES.map((lang) => [lang, jsonList(str(e, languageColumn('Remediation', lang, 'Json')) || '[]')])) as Record<Lang, string[]>,
    evidenceJson: str(e, 'EvidenceJson') || '{}',
    evidenceTruncated: bool(e, 'EvidenceTruncated'),
    ...readColumns<ResultRecord, keyof typeof RESULT_STATE_COLUMNS>(e, RESULT_STATE_COLUMNS),
    changeCause: optStr(e, 'ChangeCause') ?? 'snapshot',
    recentSnapshotIds: str(e, 'RecentSnapshotIds').split(' ').filter((id) => id !== ''),
    recentCommits: commitMarks(str(e, 'RecentCommits')),
    fingerprint: optStr(e, 'Fingerprint'),
    fingerprintFactsJson: optStr(e, 'FingerprintFactsJson'),
    partitionRules: optStr(e, PARTITION_RULES)?.split(' '),
    etag: str(e, 'etag'),
  };
}

// ---- Events: one partition, RowKey = inverted time so the newest comes first ---------------------

export const EVENTS_PARTITION = 'events';

/** Deterministic, so writing the same change twice (a retry, an outbox replay) is one row. */
export function eventRowKey(e: Pick<EventRecord, 'firstSeen' | 'server' | 'ruleId' | 'snapshotId'>): string {
  return `${invertedTime(e.firstSeen)}_${encodeKey(e.server)}_${encodeKey(e.ruleId)}_${encodeKey(e.snapshotId)}`;
}

export function eventToEntity(e: EventRecord): Entity {
  return {
    partitionKey: EVENTS_PARTITION,
    rowKey: eventRowKey(e),
    ...verdictColumns(e),
    FromStatus: e.fromStatus ?? '',
    ToStatus: e.toStatus,
    ...optionalTime('PreviousFirstSeen', e.previousFirstSeen),
    SnapshotId: e.snapshotId,
    RecordedAt: dateTime(e.recordedAt),
    Cause: e.cause ?? 'snapshot',
    WaiverId: e.waiverId ?? '',
    RemovedBy: e.removedBy ?? '',
    Detail: boundedText(e.detail ?? ''),
  };
}

// ---- Tables keyed by server bucket: History and Snapshots ----------------------------------------
// Many servers share a partition (16 buckets), so the projector writes a burst of servers' rows in
// one transaction per bucket instead of one call per server. A server's rows are the RowKey range
// `<server>|…` inside its bucket: encodeKey escapes `|`, so no other server's rows fall in it, and
// no encoded server id (the older layout's PartitionKey) can equal a bucket partition.

export const SERVER_BUCKETS = 16;

/** RowKeys of one server's rows inside its bucket partition: ge `from`, lt `to`. */
export function serverRange(server: string): { readonly from: string; readonly to: string } {
  const k = encodeKey(server);
  return { from: `${k}|`, to: `${k}}` };
}

export const historyPartition = (server: string): string => `h|${bucketOf(server, SERVER_BUCKETS)}`;
/** PartitionKeys of every History bucket (and of nothing of the older layout): ge `from`, lt `to`. */
export const HISTORY_BUCKETS_RANGE = { from: 'h|', to: 'h}' } as const;
export const snapshotPartition = (server: string): string => `s|${bucketOf(server, SERVER_BUCKETS)}`;
/** Where rows of the older layouts live: one partition per server (PartitionKey = the server). */
export const legacyServerPartition = (server: string): string => encodeKey(server);

/**
 * PartitionKey ranges of History and Snapshots that hold only partitions of the older layouts:
 * every key below the buckets' range and every key above it (ge `from`, lt `to`; no encoded server
 * id falls inside the buckets' range, as it would need an unescaped `|`).
 */
export const OLDER_LAYOUT_RANGES = {
  history: [{ to: 'h|' }, { from: 'h}' }],
  snapshots: [{ to: 's|' }, { from: 's}' }],
} as const satisfies Record<string, ReadonlyArray<{ readonly from?: string; readonly to?: string }>>;

/** The Lifecycle row recording the migration of the older layouts (its cursor, and when none was left). */
export const OLDER_LAYOUTS_STATE_KEYS = { partitionKey: 'layout', rowKey: 'older-layouts' } as const;

/**
 * The keys an older-layout History row takes in the buckets: its server's range of the server's
 * bucket, with the old RowKey as the rest, so it keeps its place among the server's rows (the walk
 * goes by RowKey, newest first, in both layouts).
 */
export function bucketHistoryKeys(legacyPartitionKey: string, legacyRowKey: string): { partitionKey: string; rowKey: string } {
  const server = decodeKey(legacyPartitionKey);
  return { partitionKey: historyPartition(server), rowKey: serverRange(server).from + legacyRowKey };
}

/** The same change among its server's History rows, newest first within the server's range. */
export function historyToEntity(e: EventRecord): Entity {
  return {
    ...eventToEntity(e),
    partitionKey: historyPartition(e.server),
    rowKey: `${serverRange(e.server).from}${invertedTime(e.firstSeen)}_${encodeKey(e.ruleId)}_${encodeKey(e.snapshotId)}`,
  };
}

export function entityToEvent(e: Row): EventRecord {
  return {
    ...readVerdict(e),
    fromStatus: optStr(e, 'FromStatus'),
    toStatus: str(e, 'ToStatus'),
    previousFirstSeen: ms(e, 'PreviousFirstSeen'),
    snapshotId: str(e, 'SnapshotId'),
    recordedAt: ms(e, 'RecordedAt') ?? 0,
    cause: optStr(e, 'Cause') ?? 'snapshot',
    waiverId: optStr(e, 'WaiverId'),
    removedBy: optStr(e, 'RemovedBy') ?? removedByInDetail(e),
    detail: optStr(e, 'Detail'),
  };
}

/**
 * Removal events written before the RemovedBy column existed name who removed the server only in
 * their Detail JSON; every reader of an event gets it as a field all the same.
 */
export function removedByInDetail(e: Row): string | undefined {
  if (optStr(e, 'Cause') !== 'removed') return undefined;
  const by = jsonOf<{ removedBy?: unknown }>(e, 'Detail')?.removedBy;
  return typeof by === 'string' && by !== '' ? by : undefined;
}

// ---- RuleIndex: PartitionKey = rule id, RowKey = status|server, plus one counts row --------------

export const COUNTS_ROW = '~counts';
/** The counters of a rule are split over a few rows (one per server bucket) so concurrent status changes rarely meet. */
export const countsRowKey = (shard: string) => `${COUNTS_ROW}|${shard}`;
/** RowKey range holding every counts row of a rule (and a legacy unsharded one). */
export const COUNTS_RANGE = { from: COUNTS_ROW, to: `${COUNTS_ROW}}` } as const;
export const indexRowKey = (status: string, server: string) => `${encodeKey(status)}|${encodeKey(server)}`;

export function indexToEntity(r: IndexRecord): Entity {
  return {
    partitionKey: encodeKey(r.ruleId),
    rowKey: indexRowKey(r.status, r.server),
    ...verdictColumns(r),
    Status: r.status,
    PreviousStatus: r.previousStatus ?? '',
    SourceSnapshotId: r.sourceSnapshotId,
    SourceCollectedAt: dateTime(r.sourceCollectedAt),
  };
}

export function entityToIndex(e: Row): IndexRecord {
  return {
    ...readVerdict(e),
    status: str(e, 'Status'),
    previousStatus: optStr(e, 'PreviousStatus'),
    sourceSnapshotId: str(e, 'SourceSnapshotId'),
    sourceCollectedAt: ms(e, 'SourceCollectedAt') ?? 0,
  };
}

/** Status names are identifiers (Pass, Warning…), so they can be column names directly. */
export function countsToEntity(ruleId: string, counts: ReadonlyMap<string, number>, rowKey: string = COUNTS_ROW): Entity {
  const out: Entity = { partitionKey: encodeKey(ruleId), rowKey, RuleId: ruleId };
  for (const [status, n] of counts) out[status] = int32(n);
  return out;
}

export function entityToCounts(e: Row, statuses: readonly string[]): Map<string, number> {
  return new Map(statuses.map((s) => [s, num(e, s) ?? 0]));
}

// ---- Hosts: PartitionKey = one of 16 buckets, RowKey = server ------------------------------------

/** The Hosts row's columns, named like the record's fields. */
const HOST_COLUMNS = {
  server: 'text',
  hostName: 'text',
  fqdn: 'optText',
  osCaption: 'optText',
  osVersion: 'optText',
  osArchitecture: 'optText',
  utcOffsetMinutes: 'optInt',
  collectorName: 'text',
  collectorVersion: 'text',
  manifestVersion: 'optText',
  firstSeen: 'time',
  lastSeen: 'time',
  lastSnapshotId: 'text',
  lastCollectedAt: 'time',
  hostHash: 'text',
} as const satisfies Required<ColumnKinds<HostRecord>>;

export function hostToEntity(h: HostRecord, partitionKey: string): Entity {
  return { partitionKey, rowKey: encodeKey(h.server), ...writeColumns(h, HOST_COLUMNS) };
}

export function entityToHost(e: Row): HostRecord {
  return readColumns<HostRecord, keyof typeof HOST_COLUMNS>(e, HOST_COLUMNS);
}

// ---- Snapshots: PartitionKey = s|<bucket>, RowKey = <server>|slot0 … <server>|slot3 ---------------
// Fixed rows per server, written only by the projector, in commit order per server, each new
// content to the slot its commit chose (the Results rows name it, raw-slots.ts), so keeping the
// newest two contents is a blind upsert: no listing, no pruning. slot2/slot3 were written by
// requests of older deployments and are still read. A body too large for its outbox entry waits
// in a staging row of its commit attempt, `<server>|stage|<commit id>`, until the projector
// copies it into its slot; readers of slots read only the `slot…` keys. Older deployments hold
// rows in a partition per server (RowKey slot0/slot1, or inverted time before the slots); readers
// take the newest row of every slot and layout.

export const rawSlotKey = (slot: number): string => `slot${rawSlotOf(slot)}`;

/** RowKeys of a server's slot rows in its bucket (ge `from`, lt `to`): no staging row falls in it. */
export function rawSlotRange(server: string): { readonly from: string; readonly to: string } {
  const base = serverRange(server).from;
  return { from: `${base}slot`, to: `${base}slot~` };
}

/** The staging row of one commit attempt's body: only that attempt writes it. */
export const rawStageKey = (server: string, commitId: string): string => `${serverRange(server).from}stage|${encodeKey(commitId)}`;

/** The server and commit attempt a staging row's RowKey names; undefined for any other row (a slot). */
export function parseRawStageKey(rowKey: string): { readonly server: string; readonly commitId: string } | undefined {
  // encodeKey escapes `|`, so a staging key splits into exactly its three parts.
  const parts = rowKey.split('|');
  if (parts.length !== 3 || parts[1] !== 'stage') return undefined;
  return { server: decodeKey(parts[0]!), commitId: decodeKey(parts[2]!) };
}

/** PartitionKeys of every Snapshots bucket (and of no partition of the older layouts): ge `from`, lt `to`. */
export const SNAPSHOT_BUCKETS_RANGE = { from: 's|', to: 's}' } as const;

const rawChunkName = (i: number): string => `RawGzip${String(i).padStart(2, '0')}`;

export function rawToEntity(r: RawSnapshotRecord, slot: number): Entity {
  return rawEntity(r, serverRange(r.server).from + rawSlotKey(slot));
}

/**
 * A body too large for its outbox entry, staged under its commit attempt until the projector copies
 * it. It names its commit and the slot the commit chose, for the sweep that finds rows whose entry
 * went without them (rows staged before these columns have neither).
 */
export function stagedRawToEntity(r: RawSnapshotRecord, commitId: string, slot: number): Entity {
  return { ...rawEntity(r, rawStageKey(r.server, commitId)), CommitId: commitId, StagedSlot: int32(slot) };
}

function rawEntity(r: RawSnapshotRecord, rowKey: string): Entity {
  const gz = gzipSync(Buffer.from(r.body));
  const chunks = gzipColumnCount(gz);
  const stored = chunks <= MAX_GZIP_COLUMNS;
  const out: Entity = {
    partitionKey: snapshotPartition(r.server),
    rowKey,
    Server: r.server,
    SnapshotId: r.snapshotId,
    CollectedAt: dateTime(r.collectedAt),
    ReceivedAt: dateTime(r.receivedAt),
    ContentHash: r.contentHash,
    RawBytes: int32(Buffer.byteLength(r.body)),
    RawStored: stored,
    RawChunks: int32(stored ? chunks : 0),
  };
  return stored ? { ...out, ...gzipColumns(gz, rawChunkName) } : out;
}

/**
 * A staging row as the slot row of `server`: the same columns, the gzip copied as it is (no
 * unzipping a megabyte to zip it again).
 */
export function stagedToSlotEntity(e: Row, server: string, slot: number): Entity {
  const meta = entityToRawMeta(e);
  const chunks = meta.rawStored ? (num(e, 'RawChunks') ?? 0) : 0;
  const out: Entity = {
    partitionKey: snapshotPartition(server),
    rowKey: serverRange(server).from + rawSlotKey(slot),
    Server: meta.server,
    SnapshotId: meta.snapshotId,
    CollectedAt: dateTime(meta.collectedAt),
    ReceivedAt: dateTime(meta.receivedAt),
    ContentHash: meta.contentHash,
    RawBytes: int32(meta.rawBytes),
    RawStored: meta.rawStored,
    RawChunks: int32(chunks),
  };
  for (let i = 0; i < chunks; i++) {
    const b = bytes(e, rawChunkName(i));
    if (!b) throw new Error(`The staged raw snapshot ${String(e.rowKey)} lacks ${rawChunkName(i)}.`);
    out[rawChunkName(i)] = b;
  }
  return out;
}

export function entityToRawMeta(e: Row): RawSnapshotMeta {
  return {
    server: str(e, 'Server'),
    snapshotId: str(e, 'SnapshotId'),
    collectedAt: ms(e, 'CollectedAt') ?? 0,
    receivedAt: ms(e, 'ReceivedAt') ?? 0,
    contentHash: str(e, 'ContentHash'),
    rawBytes: num(e, 'RawBytes') ?? 0,
    rawStored: bool(e, 'RawStored'),
  };
}

export function entityToRawBody(e: Row): string | undefined {
  const n = num(e, 'RawChunks') ?? 0;
  if (!bool(e, 'RawStored') || n === 0) return undefined;
  const gz = readGzipColumns(e, rawChunkName, n);
  return gz && gunzipSync(gz).toString('utf8');
}
