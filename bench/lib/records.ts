// What the service would store for a snapshot, built without the service: the baseline writes
// these entities and the query fleet is loaded from them. Records come from the service's own
// mapping (app/result-records) and entities from the store's (store/entities), so columns and
// keys are exactly what ingest writes.
import { randomUUID } from 'node:crypto';
import { contentHashOf, hostHashOf, hostRecordOf } from '../../src/app/ingest';
import { verdictOf } from '../../src/app/result-records';
import { evaluateAll } from '../../src/rules/registry';
import type { Rule, RuleResult } from '../../src/rules/types';
import type { Snapshot } from '../../src/snapshot/schema';
import { parseSnapshot } from '../../src/snapshot/parse';
import type { HostRecord, ResultRecord } from '../../src/store';
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
    ...verdictOf(r),
    server,
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
  }));
}

export function hostRecord(ev: Evaluated, server: string, name: string, snapshotId: string, collectedAt: number, now: number): HostRecord {
  // The template's host facts, under this server's name.
  return { ...hostRecordOf(ev.snapshot, { server, snapshotId, collectedAt, hostHash: ev.hostHash, now }), hostName: name, fqdn: server };
}
