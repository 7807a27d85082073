// The JSON shapes the API answers with, built from rule results or stored rows, in one language.
import { referencesFor } from '../rules/guide';
import { findRule } from '../rules/registry';
import { localiseResult } from '../rules/localise';
import type { Lang, LocalisedResult, Rule, RuleResult, Severity, Status } from '../rules/types';
import type { EventRecord, HostRecord, ResultSummary, StoredResult } from '../store';
import { servedUrl } from './route-prefix';

/** A result as the API answers it: the localised result, with when its status began once stored. */
export type ResultView = Omit<LocalisedResult, 'evidence' | 'status' | 'severity'> & {
  readonly severity: Severity;
  readonly status: Status;
  readonly evidence: unknown;
  /** When the current status began (absent for stale snapshots, which are not stored). */
  readonly firstSeen?: string;
  readonly previousStatus?: Status | null;
};

const iso = (ms: number | undefined): string | null => (ms === undefined || ms === 0 ? null : new Date(ms).toISOString());

export function viewOfResult(r: RuleResult, lang: Lang, stored?: { firstSeen: number; previousStatus?: string }): ResultView {
  const l = localiseResult(r, lang);
  const base: ResultView = { ...l, evidence: l.evidence };
  return stored ? { ...base, firstSeen: iso(stored.firstSeen) ?? undefined, previousStatus: (stored.previousStatus as Status | undefined) ?? null } : base;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { truncated: true };
  }
}

function titleOf(ruleId: string, rules: readonly Rule[], lang: Lang): string {
  return findRule(ruleId, rules)?.title[lang] ?? ruleId;
}

export function viewOfStored(r: StoredResult, lang: Lang, rules: readonly Rule[]): ResultView {
  const rule = findRule(r.ruleId, rules);
  return {
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    title: titleOf(r.ruleId, rules, lang),
    severity: r.severity as Severity,
    status: r.status as Status,
    reasonCode: r.reasonCode,
    message: r.message[lang],
    remediation: r.remediation[lang],
    references: rule ? referencesFor(rule, r.reasonCode, servedUrl) : [],
    evidence: parseJson(r.evidenceJson),
    firstSeen: iso(r.firstSeen) ?? undefined,
    previousStatus: (r.previousStatus as Status | undefined) ?? null,
  };
}

export function viewOfSummary(r: ResultSummary, lang: Lang) {
  return {
    server: r.server,
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    status: r.status,
    reasonCode: r.reasonCode,
    severity: r.severity,
    message: r.message[lang],
    firstSeen: iso(r.firstSeen),
    previousStatus: r.previousStatus ?? null,
  };
}

/**
 * What an event is: a change of status (a verdict, or a server's reporting), or an audit record of
 * a waiver or of a drift baseline. Audit records change no status, so a reader asking for status
 * changes (kind=status) must not get them.
 */
export type EventKind = 'status' | 'waiver' | 'baseline';
export const EVENT_KINDS: readonly EventKind[] = ['status', 'waiver', 'baseline'];

export function eventKindOf(cause: string | undefined): EventKind {
  if (cause?.startsWith('waiver-')) return 'waiver';
  if (cause?.startsWith('baseline-')) return 'baseline';
  return 'status';
}

export function viewOfEvent(e: EventRecord, lang: Lang) {
  const kind = eventKindOf(e.cause);
  // An audit record changes no status: its status fields are stored empty and answered null, as
  // is any field an event does not have (a server's or an audit record's rule version).
  const status = (v: string | undefined) => (kind !== 'status' || !v ? null : v);
  return {
    server: e.server || null,
    kind,
    ruleId: e.ruleId || null,
    ruleVersion: e.ruleVersion || null,
    fromStatus: status(e.fromStatus),
    toStatus: status(e.toStatus),
    reasonCode: e.reasonCode || null,
    severity: status(e.severity),
    message: e.message[lang],
    firstSeen: iso(e.firstSeen),
    previousFirstSeen: iso(e.previousFirstSeen),
    snapshotId: e.snapshotId,
    recordedAt: iso(e.recordedAt),
    cause: e.cause ?? 'snapshot',
    waiverId: e.waiverId || null,
    removedBy: e.removedBy || null,
  };
}

/** One server's host facts as the server list answers them (flat, one column each for Power BI). */
export function viewOfHost(h: HostRecord) {
  return {
    server: h.server,
    hostName: h.hostName,
    fqdn: h.fqdn ?? null,
    osCaption: h.osCaption ?? null,
    osVersion: h.osVersion ?? null,
    osArchitecture: h.osArchitecture ?? null,
    utcOffsetMinutes: h.utcOffsetMinutes ?? null,
    collectorName: h.collectorName || null,
    collectorVersion: h.collectorVersion || null,
    manifestVersion: h.manifestVersion || null,
    firstSeen: iso(h.firstSeen),
    lastSeen: iso(h.lastSeen),
    lastSnapshotId: h.lastSnapshotId || null,
    lastCollectedAt: iso(h.lastCollectedAt),
  };
}

export { iso };
