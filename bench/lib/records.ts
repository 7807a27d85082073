// What the service would store for a snapshot, built without the service: the baseline writes
// these entities and the query fleet is loaded from them. Entity mapping is the store's own
// (src/store/entities), so columns and keys are exactly what ingest writes.
import { randomUUID } from 'node:crypto';
import { fingerprintColumns } from '../../src/app/drift-projection';
import { contentHashOf, hostHashOf, hostRecordOf } from '../../src/app/ingest';
import { evaluateAll } from '../../src/rules/registry';
import type { Rule, RuleResult } from '../../src/rules/types';
import type { Snapshot } from '../../src/snapshot/schema';
import { parseSnapshot } from '../../src/snapshot/parse';
import type { HostRecord, IndexRecord, ResultRecord } from '../../src/store';
import { docFor, type Doc } from './fleet';

export interface Evaluated {
  readonly results: RuleResult[];
  readonly snapshot: Snapshot;
  readonly contentHash: string;
  readonly hostHash: string;
}

export function evaluateTemplate(doc: Doc, rules: readonly Rule[]): Evaluated {
  const parsed = parseSnapshot(docFor(doc, 0, randomUUID(), Date.parse('2026-11-27T00:00:00Z')), { now: Date.parse('2100-01-01T00:00:00Z') });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues.slice(0, 3)));
  return { results: evaluateAll(parsed.normalised, rules), snapshot: parsed.snapshot, contentHash: contentHashOf(parsed.snapshot), hostHash: hostHashOf(parsed.snapshot) };
}

export function resultRecords(ev: Evaluated, server: string, snapshotId: string, collectedAt: number, now: number): ResultRecord[] {
  return ev.results.map((r) => ({
    server,
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    status: r.status,
    reasonCode: r.reasonCode,
    severity: r.severity,
    messageEn: r.message.en,
    messageJa: r.message.ja,
    remediationEn: r.remediation.map((t) => t.en),
    remediationJa: r.remediation.map((t) => t.ja),
    evidenceJson: JSON.stringify(r.evidence),
    firstSeen: collectedAt,
    snapshotId,
    collectedAt,
    lastSeen: now,
    contentHash: ev.contentHash,
    hostHash: ev.hostHash,
    hostSyncedAt: now,
    eventPending: false,
    indexPending: false,
    syncPending: false,
    rawSlot: 0,
    ...fingerprintColumns(r),
  }));
}

export function indexRecord(r: ResultRecord): IndexRecord {
  return {
    server: r.server,
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    status: r.status,
    reasonCode: r.reasonCode,
    severity: r.severity,
    messageEn: r.messageEn,
    messageJa: r.messageJa,
    firstSeen: r.firstSeen,
    previousStatus: r.previousStatus,
    sourceSnapshotId: r.snapshotId,
    sourceCollectedAt: r.collectedAt,
  };
}

export function hostRecord(ev: Evaluated, server: string, name: string, snapshotId: string, collectedAt: number, now: number): HostRecord {
  // The template's host facts, under this server's name.
  return { ...hostRecordOf(ev.snapshot, { server, snapshotId, collectedAt, hostHash: ev.hostHash, now }), hostName: name, fqdn: server };
}
