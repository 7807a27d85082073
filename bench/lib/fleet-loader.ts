// Loads a fleet with direct, batched table writes in the store's own layout (Results, RuleIndex
// with its counts rows, Hosts, Drift members and counters, and optionally Snapshots): the state ingest would have left after
// each server's first snapshot. Ingesting 10,000 first snapshots over HTTP would spend minutes on
// what the benchmark does not measure (and on Azurite, whose queries scan whole tables).
import { TableTransaction, type TransactionAction } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { STATUSES, type Rule } from '../../src/rules/types';
import { driftMemberOf } from '../../src/app/drift-projection';
import { bucketOf, COUNT_SHARDS, driftAnchorEntity, driftCountsEntity, driftCountsKey, driftMemberEntity, driftShardOf, HOST_BUCKETS, SAMPLE_PER_ROW } from '../../src/store';
import { createTableClients } from '../../src/store/client';
import { contentHashOf, hostHashOf } from '../../src/app/ingest';
import { parseSnapshot } from '../../src/snapshot/parse';
import { countsRowKey, countsToEntity, hostToEntity, indexToEntity, rawToEntity, resultToEntity, type Entity } from '../../src/store/entities';
import { transactionChunks } from '../../src/store/transactions';
import { docFor, serverId, serverName, type Template } from './fleet';
import { runConcurrent } from './measure';
import { indexOf } from '../../src/app/result-records';
import { evaluateTemplate, hostRecord, resultRecords } from './records';

export interface LoadedFleet {
  readonly servers: number;
  readonly entitiesWritten: number;
  readonly transactions: number;
  readonly loadMs: number;
  /** rule id → status → servers */
  readonly counts: Record<string, Record<string, number>>;
}

export interface LoadOptions {
  /** Template of server i. */
  readonly templateOf: (i: number) => Template;
  /**
   * Hashes and raw snapshot per server exactly as ingest computes them (parses every document), so
   * the next post of an unchanged server is a steady-state one. Off for the query fleet.
   */
  readonly exact?: boolean;
  readonly collectedAt?: number;
}

export async function loadFleet(connectionString: string, prefix: string, rules: readonly Rule[], servers: number, o: LoadOptions): Promise<LoadedFleet> {
  const t0 = performance.now();
  // A long timeout: a batch of 100 drift members with their facts is slow on a busy Azurite, and a
  // create cannot be retried blindly.
  const t = createTableClients({ connectionString, tablePrefix: prefix, requestTimeoutMs: 120_000 });
  await Promise.all(Object.values(t).map((c) => c.createTable()));
  const evaluated = new Map<Template, ReturnType<typeof evaluateTemplate>>();
  const now = Date.now();
  const collectedAt = o.collectedAt ?? now - 3 * 3_600_000;
  const raws: Entity[] = [];

  const results: Entity[][] = [];
  const index = new Map<string, Entity[]>();
  const hosts = new Map<string, Entity[]>();
  const counts = new Map<string, Map<string, number>>(rules.map((r) => [r.id, new Map(STATUSES.map((s) => [s, 0]))]));
  /** rule id → counts row key → status → servers, as the store's syncIndex keeps them */
  const shards = new Map<string, Map<string, Map<string, number>>>(rules.map((r) => [r.id, new Map()]));
  /** Drift: rule id → member rows, and rule id → counts row key → counters, as DriftStore keeps them */
  const driftMembers = new Map<string, Entity[]>();
  const driftCounts = new Map<string, Map<string, { fingerprint: string; factsJson: string; counts: Record<string, number>; sample: string[] }>>();
  for (let i = 0; i < servers; i++) {
    const template = o.templateOf(i);
    if (!evaluated.has(template)) evaluated.set(template, evaluateTemplate(template.doc, rules));
    let ev = evaluated.get(template)!;
    const server = serverId(i);
    const snapshotId = randomUUID();
    if (o.exact) {
      const body = JSON.stringify(docFor(template.doc, i, snapshotId, collectedAt));
      const parsed = parseSnapshot(JSON.parse(body), { now });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues.slice(0, 3)));
      ev = { ...ev, snapshot: parsed.snapshot, contentHash: contentHashOf(parsed.snapshot), hostHash: hostHashOf(parsed.snapshot) };
      raws.push(rawToEntity({ server, snapshotId, collectedAt, receivedAt: now, contentHash: ev.contentHash, body }, 0));
    }
    const records = resultRecords(ev, server, snapshotId, collectedAt, now);
    results.push(records.map(resultToEntity));
    for (const r of records) {
      const list = index.get(r.ruleId) ?? [];
      list.push(indexToEntity(indexOf(r)));
      index.set(r.ruleId, list);
      const c = counts.get(r.ruleId)!;
      c.set(r.status, (c.get(r.status) ?? 0) + 1);
      const byShard = shards.get(r.ruleId)!;
      const key = countsRowKey(bucketOf(server, COUNT_SHARDS));
      const sc = byShard.get(key) ?? new Map(STATUSES.map((st) => [st, 0]));
      sc.set(r.status, (sc.get(r.status) ?? 0) + 1);
      byShard.set(key, sc);
      const m = driftMemberOf(r);
      if (m) {
        const list = driftMembers.get(r.ruleId) ?? [];
        list.push(driftMemberEntity(m), driftAnchorEntity(m.ruleId, server));
        driftMembers.set(r.ruleId, list);
        const rows = driftCounts.get(r.ruleId) ?? new Map();
        const dk = driftCountsKey(m.fingerprint, driftShardOf(server));
        const row = rows.get(dk) ?? { fingerprint: m.fingerprint, factsJson: m.factsJson, counts: Object.fromEntries(STATUSES.map((st) => [st, 0])), sample: [] };
        row.counts[m.status] = (row.counts[m.status] ?? 0) + 1;
        if (row.sample.length < SAMPLE_PER_ROW) row.sample.push(server);
        rows.set(dk, row);
        driftCounts.set(r.ruleId, rows);
      }
    }
    const pk = bucketOf(server, HOST_BUCKETS);
    const h = hosts.get(pk) ?? [];
    h.push(hostToEntity(hostRecord(ev, server, serverName(i), snapshotId, collectedAt, now), pk));
    hosts.set(pk, h);
  }
  // Batches of ≤ 100 entities of one partition.
  const batches: { table: keyof typeof t; actions: TransactionAction[] }[] = [];
  for (const rows of results) {
    const tx = new TableTransaction();
    for (const e of rows) tx.createEntity(e);
    batches.push({ table: 'results', actions: tx.actions });
  }
  const chunked = (table: keyof typeof t, rows: Entity[]) => {
    for (let i = 0; i < rows.length; i += 100) {
      const tx = new TableTransaction();
      for (const e of rows.slice(i, i + 100)) tx.createEntity(e);
      batches.push({ table, actions: tx.actions });
    }
  };
  for (const rows of index.values()) chunked('ruleIndex', rows);
  for (const rows of hosts.values()) chunked('hosts', rows);
  for (const rows of driftMembers.values()) chunked('drift', rows);
  for (const [ruleId, rows] of driftCounts) {
    chunked('drift', [...rows].map(([key, c]) => driftCountsEntity(ruleId, key, c.fingerprint, c.counts, c.factsJson, c.sample)));
  }
  // Raw bodies in their bucket partitions, split as the projector splits them (100 rows, 4 MiB).
  for (const rows of transactionChunks(raws)) batches.push({ table: 'snapshots', actions: rows.map((e): TransactionAction => ['create', e]) });
  for (const [ruleId, byShard] of shards) {
    const tx = new TableTransaction();
    for (const [key, c] of byShard) tx.createEntity(countsToEntity(ruleId, c, key));
    batches.push({ table: 'ruleIndex', actions: tx.actions });
  }

  const run = await runConcurrent(batches.length, 16, async (i) => {
    const b = batches[i]!;
    // A shared machine can stall one batch past the client's timeout: try it again (creates that
    // landed the first time make the retry fail with 409, which means it is there).
    for (let attempt = 0; ; attempt++) {
      try {
        await t[b.table].submitTransaction(b.actions);
        return;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 409 && attempt > 0) return;
        if (attempt >= 2) throw error;
      }
    }
  });
  if (run.errors > 0) throw new Error(`Loading the query fleet failed ${run.errors} times: ${run.errorSamples.join('; ')}`);
  return {
    servers,
    entitiesWritten: batches.reduce((n, b) => n + b.actions.length, 0),
    transactions: batches.length,
    loadMs: performance.now() - t0,
    counts: Object.fromEntries([...counts].map(([id, c]) => [id, Object.fromEntries(c)])),
  };
}
