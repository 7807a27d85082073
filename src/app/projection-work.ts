// What a commit owes the fleet-wide tables, as the outbox entry the committing request writes just
// before its commit: the events (and so History rows), the rule-index moves (and so the counts),
// the alert records, the Hosts row and the raw snapshot, and the rule-index and drift leaves of rules
// whose rows the commit removed. Everything here is derived from the rows the commit writes and the
// rows it replaces or removes, so a projector that runs it twice writes the same rows (events and
// history by deterministic keys, index rows by server) and the same record ids.
import { randomUUID } from 'node:crypto';
import type { DriftChange, DriftLeave, DriftMove, EventRecord, HostRecord, IndexChange, IndexLeave, IndexMove, RawSnapshotRecord, ResultRecord } from '../store';
import { isFinding } from './findings';

/** A status change that owes an alert record (NewFinding, FindingResolved or VerdictUnknown). */
export interface AlertWork {
  readonly server: string;
  readonly ruleId: string;
  readonly status: string;
  readonly reasonCode: string;
  readonly previousStatus?: string;
  readonly snapshotId: string;
  readonly firstSeen: number;
  readonly cause: string;
}

export interface ProjectionWork {
  readonly v: 1;
  readonly server: string;
  readonly commitId: string;
  /** A rule whose Results row carries the commit ids: reading it proves the commit happened. */
  readonly proofRule: string;
  readonly events: readonly EventRecord[];
  readonly alerts: readonly AlertWork[];
  readonly index: readonly IndexMove[];
  /** Servers whose configuration or status moved, for the rules that declare configuration facts (fleet drift). */
  readonly drift?: readonly DriftMove[];
  /**
   * The server leaves the index and the drift of each rule whose Results row the commit removed
   * (the rule left the rule set). Optional: entries of earlier versions carry none.
   */
  readonly indexLeaves?: readonly IndexLeave[];
  readonly driftLeaves?: readonly DriftLeave[];
  /** The Hosts row to write, with what the stale-host bookkeeping needs. */
  readonly host?: { readonly record: HostRecord; readonly previousSync?: number; readonly now: number; readonly snapshotId: string };
  /** The raw snapshot for one of the projector's two slots (absent when the body did not fit: see `staged`). */
  readonly raw?: { readonly record: RawSnapshotRecord; readonly slot: number };
  /**
   * The raw body was too large for the entry: the request staged it under this entry's commit id
   * (a Snapshots row of its own), and the projector copies it into `slot`, then removes it.
   */
  readonly staged?: { readonly slot: number };
  /**
   * An admin removed the server: its Hosts row (unless a newer snapshot wrote it since), its stale
   * marker and its last-seen index row go. Its index and drift leaves travel in `indexLeaves` and
   * `driftLeaves`, its audit event in `events`.
   */
  readonly removal?: ServerRemovalWork;
}

export interface ServerRemovalWork {
  /** The collectedAt of the server's newest snapshot at its removal: a Hosts row from a newer one stays. */
  readonly upTo: number;
  /** When its Hosts row was last refreshed (where its last-seen index row is), if known. */
  readonly hostSyncedAt?: number;
}

export const hasWork = (w: Pick<ProjectionWork, 'events' | 'alerts' | 'index' | 'drift' | 'indexLeaves' | 'driftLeaves' | 'host' | 'raw' | 'staged' | 'removal'>): boolean =>
  w.events.length > 0 ||
  w.alerts.length > 0 ||
  w.index.length > 0 ||
  (w.drift?.length ?? 0) > 0 ||
  (w.indexLeaves?.length ?? 0) > 0 ||
  (w.driftLeaves?.length ?? 0) > 0 ||
  w.host !== undefined ||
  w.raw !== undefined ||
  w.staged !== undefined ||
  w.removal !== undefined;

/** The status of a rule that could not decide: entering it alerts, as the server's posture is then unseen. */
export const UNDECIDED = 'Unknown';

/** An index change that reads where the server's row is before it moves it (a leave: before it takes it out). */
export const readFirstIndex = (c: IndexChange): IndexChange => ('leave' in c ? { ...c, from: undefined } : { record: c.record, reread: true });
/** A drift change that reads where the server's member is first. */
export const readFirstDrift = (c: DriftChange): DriftChange => ({ ...c, from: undefined });

/**
 * The work with every index and drift change made to read first: for an entry projected out of
 * its server's order (one set aside and requeued, or one after it), where the entry says the
 * server's rows are is not where they are, and only a read-and-compare keeps a newer row.
 */
export function readingFirst(w: ProjectionWork): ProjectionWork {
  return {
    ...w,
    index: w.index.map((m) => readFirstIndex(m) as IndexMove),
    indexLeaves: w.indexLeaves?.map((m) => readFirstIndex(m) as IndexLeave),
    drift: w.drift?.map((m) => readFirstDrift(m) as DriftMove),
    driftLeaves: w.driftLeaves?.map((m) => readFirstDrift(m) as DriftLeave),
  };
}

/**
 * The alert records a status change owes, if any: entering Warning or Error (also from the other),
 * leaving them, or entering Unknown. Callers ask only on a change, so staying Unknown owes nothing.
 */
export function alertOf(r: ResultRecord): AlertWork | undefined {
  if (!isFinding(r.status) && !isFinding(r.previousStatus) && r.status !== UNDECIDED) return undefined;
  return {
    server: r.server,
    ruleId: r.ruleId,
    status: r.status,
    reasonCode: r.reasonCode,
    previousStatus: r.previousStatus,
    snapshotId: r.snapshotId,
    firstSeen: r.firstSeen,
    cause: r.changeCause ?? 'snapshot',
  };
}

/**
 * The id every copy of one alert record carries: one status change of one (server, rule). The
 * projector logs a record once per id while it runs; should it log one again after a restart (it
 * stopped between logging and clearing the outbox), the alert queries keep the first per id.
 */
export const alertRecordId = (a: Pick<AlertWork, 'server' | 'ruleId' | 'snapshotId' | 'firstSeen' | 'status'>): string =>
  `${a.server}|${a.ruleId}|${a.snapshotId}|${a.firstSeen}|${a.status}`;

/**
 * A new commit id: the time in fixed-width base 36, then a random UUID. The outbox lists one
 * server's entries by commit id, so a batch cut through a server's entries (by count or by bytes)
 * holds its earliest ones, and the rest follow in the next batch — its changes stay in order.
 */
export function newCommitId(now: number): string {
  return `${Math.max(0, Math.floor(now)).toString(36).padStart(10, '0')}-${randomUUID()}`;
}

export function encodeWork(w: ProjectionWork): string {
  return JSON.stringify(w);
}

/** The work of an outbox entry; undefined for text this version cannot read (logged, kept out of the projection). */
export function decodeWork(payload: string): ProjectionWork | undefined {
  try {
    const w = JSON.parse(payload) as Partial<ProjectionWork>;
    if (w.v !== 1 || typeof w.server !== 'string' || typeof w.commitId !== 'string' || !Array.isArray(w.events) || !Array.isArray(w.alerts) || !Array.isArray(w.index)) return undefined;
    return w as ProjectionWork;
  } catch {
    // Not JSON, or JSON null: as for an entry of another version.
  }
  return undefined;
}

