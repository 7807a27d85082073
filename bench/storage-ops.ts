// `npm run bench:storage`: what each kind of storage operation an ingest makes costs on this
// machine — Azurite's CPU and the Azure SDK's (this process) per operation, on tables shaped as the
// benchmark's (2,000 servers' Results rows, an outbox entry of a status change). The ingest ratios
// of `npm run bench` follow what a post costs the machine; this says what each of its operations
// contributes, and so what a design that changes them would save before it is built. Rows are the
// store's own (app/result-records, store/entities); each figure is the median of a few repetitions.
import { TableTransaction, odata, type TableEntity } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { alertOf, encodeWork, newCommitId } from '../src/app/projection-work';
import { eventOf, indexOf } from '../src/app/result-records';
import { startAzurite } from '../src/local/azurite';
import { createTableClients, RoundTripCounter } from '../src/store/client';
import { resultToEntity } from '../src/store/entities';
import { encodeKey } from '../src/store/keys';
import { buildFleet, docFor, ROOT, serverId } from './lib/fleet';
import { cpuSeconds, median, round, runConcurrent } from './lib/measure';
import { table } from './lib/print';
import { evaluateTemplate, resultRecords } from './lib/records';

const SERVERS = Number(process.env.BENCH_STORAGE_SERVERS) || 2000;
const OPS = Number(process.env.BENCH_STORAGE_OPS) || 1000;
const REPEATS = Math.max(1, Number(process.env.BENCH_STORAGE_REPEATS) || 3);
const CONCURRENCY = 8;
const OUT = path.join(ROOT, 'bench', 'results', 'storage-ops.json');

type Entity = TableEntity<Record<string, unknown>>;

interface OpResult {
  readonly operation: string;
  /** Entities the operation writes or reads, per request. */
  readonly entitiesPerRequest: number;
  readonly azuriteCpuMsPerRequest: number;
  readonly sdkCpuMsPerRequest: number;
  /** Per entity, for operations of several. */
  readonly azuriteCpuMsPerEntity: number;
  readonly sdkCpuMsPerEntity: number;
  readonly rounds: readonly { azurite: number; sdk: number }[];
}

async function main(): Promise<void> {
  const azurite = await startAzurite({});
  // The store's own clients: the SDK pipeline measured is the one the service's requests go through.
  const { results, outbox } = createTableClients({ connectionString: azurite.connectionString, tablePrefix: 'Ops', counter: new RoundTripCounter() });
  await results.createTable();
  await outbox.createTable();

  // The benchmark's fleet: one Results row per server and rule, as ingest writes it.
  const fleet = buildFleet();
  const typical = evaluateTemplate(fleet.typical.doc, fleet.rules);
  const changed = evaluateTemplate(fleet.changed.doc, fleet.rules);
  const now = Date.now();
  // Rows and entries are built before anything is timed, so the SDK's figure is the SDK's alone
  // (the service's own encoding of an entry is part of its process's CPU in `npm run bench`).
  const serverRows = Array.from({ length: SERVERS }, (_, i) => resultRecords(typical, serverId(i), randomUUID(), now, now).map((r) => resultToEntity(r) as Entity));
  await runConcurrent(SERVERS, CONCURRENCY, async (i) => {
    const tx = new TableTransaction();
    for (const e of serverRows[i]!) tx.createEntity(e);
    await results.submitTransaction(tx.actions);
  });
  /** Each server's first row: the one the operations below read and commit. */
  const rows = serverRows.map((r) => r[0]!);

  // The outbox entry of one status change: its event, alert record, index move and raw body, gzip
  // in a binary column as the outbox store writes it.
  const entryFor = (i: number): Entity => {
    const record = { ...resultRecords(changed, serverId(i), randomUUID(), now, now)[0]!, previousStatus: typical.results[0]?.status };
    const alert = alertOf(record);
    const payload = encodeWork({
      v: 1,
      server: record.server,
      commitId: newCommitId(now),
      proofRule: record.ruleId,
      events: [eventOf(record, now)],
      alerts: alert ? [alert] : [],
      index: [{ record: indexOf(record), from: record.previousStatus }],
      raw: { record: { server: record.server, snapshotId: record.snapshotId, collectedAt: now, receivedAt: now, contentHash: changed.contentHash, body: JSON.stringify(docFor(fleet.changed.doc, i, record.snapshotId, now)) }, slot: 1 },
    });
    return { partitionKey: '', rowKey: '', Server: record.server, PayloadChunks: 1, PayloadGzip00: new Uint8Array(gzipSync(payload)) };
  };
  const entries = Array.from({ length: SERVERS }, (_, i) => entryFor(i));
  let written = 0;
  /** Server i's entry under new keys in `partitionKey`. */
  const entryOf = (i: number, partitionKey: string): Entity => ({ ...entries[i]!, partitionKey, rowKey: `${encodeKey(String(entries[i]!.Server))}|${++written}` });
  const entryBytes = JSON.stringify({ ...entryOf(0, 'entries'), PayloadGzip00: Buffer.from(entries[0]!.PayloadGzip00 as Uint8Array).toString('base64') }).length;

  const etags = new Map<number, string>();
  const readRows = async (i: number) => {
    for await (const e of results.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${rows[i]!.partitionKey}` } })) etags.set(i, String(e.etag));
  };
  const server = (k: number) => k % SERVERS;
  // The outbox holds one partition. While a burst runs the projector waits, so the partition grows
  // by one entry per status change: each round writes into a partition of its own, empty at its
  // start, as a status-change run of the benchmark does. Azurite finds a row by scanning its
  // partition, so its cost grows with the partition (Azure's does not); the last operation shows
  // how much, on a partition that already holds LARGE entries.
  let attempt = 0;
  const LARGE = 5000;
  await runConcurrent(LARGE / 100, CONCURRENCY, async (b) => {
    const tx = new TableTransaction();
    for (let j = 0; j < 100; j++) tx.createEntity(entryOf(server(100 * b + j), 'large'));
    await outbox.submitTransaction(tx.actions);
  });
  const ops: { operation: string; entities: number; requests: number; run: (k: number) => Promise<unknown> }[] = [
    { operation: 'read one server (partition query; the ingest\'s and the baseline\'s read)', entities: 1, requests: OPS, run: (k) => readRows(server(k)) },
    { operation: 'read one row (point read)', entities: 1, requests: OPS, run: (k) => results.getEntity(rows[server(k)]!.partitionKey, rows[server(k)]!.rowKey) },
    {
      operation: 'commit one row, ETag-guarded update (the service\'s commit)',
      entities: 1,
      requests: OPS,
      run: async (k) => {
        const i = server(k);
        const r = await results.updateEntity(rows[i]!, 'Replace', { etag: etags.get(i) ?? '*' });
        etags.set(i, String(r.etag));
      },
    },
    {
      operation: 'commit one row in a transaction (the baseline\'s commit, unconditional here)',
      entities: 1,
      requests: OPS,
      run: (k) => {
        const tx = new TableTransaction();
        tx.updateEntity(rows[server(k)]!, 'Replace');
        return results.submitTransaction(tx.actions);
      },
    },
    {
      operation: 'commit one row and one more row of the partition in a transaction',
      entities: 2,
      requests: OPS,
      run: (k) => {
        const i = server(k);
        const tx = new TableTransaction();
        tx.updateEntity(rows[i]!, 'Replace');
        tx.upsertEntity({ ...entryOf(i, rows[i]!.partitionKey), rowKey: `~entry|${++written}` }, 'Replace');
        return results.submitTransaction(tx.actions);
      },
    },
    { operation: `outbox entry, one per request (upsert; the partition grows from 0 to ${OPS})`, entities: 1, requests: OPS, run: (k) => outbox.upsertEntity(entryOf(server(k), `entries-${attempt}`), 'Replace') },
    {
      operation: `outbox entries, four per transaction (group commit; 0 to ${OPS})`,
      entities: 4,
      requests: OPS / 4,
      run: (k) => {
        const tx = new TableTransaction();
        for (let j = 0; j < 4; j++) tx.upsertEntity(entryOf(server(4 * k + j), `entries-${attempt}`), 'Replace');
        return outbox.submitTransaction(tx.actions);
      },
    },
    { operation: `outbox entry, one per request, into a partition of ${LARGE}`, entities: 1, requests: OPS, run: (k) => outbox.upsertEntity(entryOf(server(k), 'large'), 'Replace') },
  ];

  const measured: OpResult[] = [];
  for (const op of ops) {
    // Each operation's code paths warmed first, untimed (right before, so the ETags the update
    // holds are still current).
    attempt++;
    await runConcurrent(Math.min(200, op.requests), CONCURRENCY, (k) => op.run(k).then(() => undefined));
    const rounds: { azurite: number; sdk: number }[] = [];
    for (let r = 0; r < REPEATS; r++) {
      attempt++;
      const az0 = cpuSeconds(azurite.pid);
      const me0 = process.cpuUsage();
      const stats = await runConcurrent(op.requests, CONCURRENCY, (k) => op.run(k).then(() => undefined));
      if (stats.errors > 0) throw new Error(`${op.operation}: ${stats.errors} failed (${stats.errorSamples[0]})`);
      const me = process.cpuUsage(me0);
      const az1 = cpuSeconds(azurite.pid);
      rounds.push({ azurite: az0 === undefined || az1 === undefined ? NaN : ((az1 - az0) * 1000) / op.requests, sdk: (me.user + me.system) / 1000 / op.requests });
    }
    const az = median(rounds.map((x) => x.azurite));
    const sdk = median(rounds.map((x) => x.sdk));
    measured.push({
      operation: op.operation,
      entitiesPerRequest: op.entities,
      azuriteCpuMsPerRequest: round(az, 3),
      sdkCpuMsPerRequest: round(sdk, 3),
      azuriteCpuMsPerEntity: round(az / op.entities, 3),
      sdkCpuMsPerEntity: round(sdk / op.entities, 3),
      rounds: rounds.map((x) => ({ azurite: round(x.azurite, 3), sdk: round(x.sdk, 3) })),
    });
    console.log(`${op.operation}: Azurite ${az.toFixed(2)} ms, SDK ${sdk.toFixed(2)} ms per request`);
  }
  await azurite.stop();

  console.log(`\n-- storage operations: CPU per request at c=${CONCURRENCY}, ${SERVERS} servers' Results rows, median of ${REPEATS} × ${OPS} entities (outbox entry ${entryBytes} characters)`);
  table(['operation', 'entities', 'Azurite ms', 'SDK ms', 'Azurite ms/entity', 'SDK ms/entity'], measured.map((m) => [m.operation, m.entitiesPerRequest, m.azuriteCpuMsPerRequest, m.sdkCpuMsPerRequest, m.azuriteCpuMsPerEntity, m.sdkCpuMsPerEntity]));
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ startedAt: new Date(now).toISOString(), node: process.version, servers: SERVERS, opsPerRound: OPS, repeats: REPEATS, concurrency: CONCURRENCY, outboxEntryCharacters: entryBytes, operations: measured }, null, 2) + '\n');
  console.log(`\nWrote ${path.relative(process.cwd(), OUT)}.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
