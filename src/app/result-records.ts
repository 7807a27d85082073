// The one mapping from a rule result to what the store keeps. Ingest, re-evaluation and the
// benchmark's fleet loader build Results rows from `verdictOf`; events and index rows are picks of
// a Results row. Texts stay maps per language; the store splits them into columns.
import { canonicalJson } from '../rules/common/canonical-json';
import { LANGUAGES, type Lang, type RuleResult } from '../rules/types';
import type { EventRecord, IndexRecord, ResultRecord } from '../store';

/** What a rule result puts on its Results row; the rest of the row is the server's state. */
export type Verdict = Pick<ResultRecord, 'ruleId' | 'ruleVersion' | 'status' | 'reasonCode' | 'severity' | 'message' | 'remediation' | 'evidenceJson' | 'fingerprint' | 'fingerprintFactsJson'>;

export function verdictOf(r: RuleResult): Verdict {
  return {
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    status: r.status,
    reasonCode: r.reasonCode,
    severity: r.severity,
    message: r.message,
    remediation: Object.fromEntries(LANGUAGES.map((lang) => [lang, r.remediation.map((t) => t[lang])])) as Record<Lang, string[]>,
    evidenceJson: JSON.stringify(r.evidence),
    // The configuration fingerprint (fleet drift), for rules that declare configuration facts.
    ...(r.fingerprint ? { fingerprint: r.fingerprint.hash, fingerprintFactsJson: canonicalJson(r.fingerprint.facts) } : {}),
  };
}

/** The status change a Results row records (its cause: what made the current status begin). */
export function eventOf(r: ResultRecord, recordedAt: number): EventRecord {
  const { server, ruleId, ruleVersion, reasonCode, severity, message, firstSeen, previousFirstSeen, snapshotId } = r;
  return { server, ruleId, ruleVersion, reasonCode, severity, message, firstSeen, previousFirstSeen, snapshotId, fromStatus: r.previousStatus, toStatus: r.status, recordedAt, cause: r.changeCause ?? 'snapshot' };
}

/** The rule index's row for a Results row. */
export function indexOf(r: ResultRecord): IndexRecord {
  const { server, ruleId, ruleVersion, status, reasonCode, severity, message, firstSeen, previousStatus } = r;
  return { server, ruleId, ruleVersion, status, reasonCode, severity, message, firstSeen, previousStatus, sourceSnapshotId: r.snapshotId, sourceCollectedAt: r.collectedAt };
}

/** Where the rule index holds the server's row before this record is projected: a change not yet projected left it at the previous status. */
export function indexedStatusOf(r: ResultRecord): string | undefined {
  return r.eventPending ? r.previousStatus : r.status;
}

/** The verdict fields differ (what makes an index row stale). */
export function verdictMoved(prev: ResultRecord, next: Verdict): boolean {
  return prev.status !== next.status || prev.reasonCode !== next.reasonCode || prev.ruleVersion !== next.ruleVersion || LANGUAGES.some((lang) => prev.message[lang] !== next.message[lang]);
}
