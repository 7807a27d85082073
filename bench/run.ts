// `npm run bench`: rule evaluation, payload sizes, ingest over HTTP against the storage-only
// baseline, and fleet-wide queries, in one run. Starts Azurite and the service (a child process,
// so its RSS and CPU are its own) on 127.0.0.1, stops both, prints a table and writes the same
// figures to bench/results/latest.json. Never part of `npm test`.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startAzurite, type AzuriteHandle } from '../src/local/azurite';
import { BENCH_KEYS } from './host-child';
import { Baseline } from './lib/baseline';
import { startService, type ServiceProcess } from './lib/child';
import { buildFleet, docFor, ROOT, serverId, serverName, withLogTail, type Doc, type Fleet } from './lib/fleet';
import { HttpClient } from './lib/http';
import { table } from './lib/print';
import { cpuSeconds, mb, median, otherLoad, round, rssFileBytes, runConcurrent, sampleRss, settle, type RunStats } from './lib/measure';
import { loadFleet } from './lib/fleet-loader';
import { evaluateTemplate, resultRecords, type Evaluated } from './lib/records';
import type { ResultRecord } from '../src/store';
import { measureRuleEvaluation } from './rule-eval';
import { ratioOfRounds, serviceFirst } from './lib/rounds';
import { MassFlipProbe, type ConsistencyResult, type ExpectedChange, type LagResult } from './lib/mass-flip';

const INGEST_SERVERS = Number(process.env.BENCH_INGEST_SERVERS) || 2000;
/** Servers that change status in each status-change run (a burst within the 2,000). */
const CHANGE_SERVERS = Math.min(INGEST_SERVERS, Number(process.env.BENCH_CHANGE_SERVERS) || 1000);
/** Servers that post an unchanged snapshot in each steady-state run. */
const STEADY_SERVERS = Math.min(INGEST_SERVERS, Number(process.env.BENCH_STEADY_SERVERS) || 1000);
/** Rounds of service and baseline runs per scenario and concurrency (the ratio is their median). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS) || 3);
const QUERY_SERVERS = Number(process.env.BENCH_QUERY_SERVERS) || 10_000;
const CONCURRENCY = [1, 8, 32] as const;
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS) || 50;
const EXPORT_RUNS = 3;
/** Longest wait for a quiet machine before each timed run (BENCH_SETTLE_MS=0: none, to compare). */
const SETTLE_MS = process.env.BENCH_SETTLE_MS !== undefined ? Number(process.env.BENCH_SETTLE_MS) : 20_000;
const ALL_SCENARIOS = 'change,steady,massflip,queries';
/** Which parts run (BENCH_SCENARIOS=change,massflip, …; all by default): a partial run is for investigating, never a reference, so it writes partial.json. */
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? ALL_SCENARIOS).split(',').map((s) => s.trim()));
const PARTIAL = ALL_SCENARIOS.split(',').some((s) => !SCENARIOS.has(s));
const OUT = path.join(ROOT, 'bench', 'results', PARTIAL ? 'partial.json' : 'latest.json');

const TARGETS = {
  throughputRatio: 0.7,
  /** A status change at one request at a time pays its extra round trip with nothing to overlap it. */
  changeThroughputRatio: { 1: 0.5, 8: 0.7, 32: 0.7 } as Record<number, number>,
  projectionLagMs: 10_000,
  p99Ratio: 2,
  steadyRoundTrips: 2,
  ruleEvalUs: 100,
  queryEntities: 1000,
  queryP50Ms: 150,
  ingestRssMb: 200,
  /** Above this, a timed run shared the machine with other work and its figures are not comparable. */
  otherLoadCores: 0.25,
} as const;

const started = Date.now();
const loadAtStart = os.loadavg().map((x) => round(x, 2));
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
const say = (s: string) => console.log(`[bench ${elapsed()}] ${s}`);

interface IngestRun extends Omit<RunStats, 'errorSamples'> {
  readonly scenario: 'first' | 'steady' | 'change' | 'massflip';
  readonly target: 'service' | 'baseline';
  readonly concurrency: number;
  /** 1-based; the mass flip has one. */
  readonly round: number;
  readonly errorSamples: string[];
  readonly roundTripsPerSnapshot: number;
  /** The server-key check (ServerKeys point reads), on top of roundTripsPerSnapshot. */
  readonly keyRoundTripsPerSnapshot: number;
  /**
   * Attempts the SDK sent again during the run (key check included), in all: a round trip counts a
   * request once however often it was sent, so a run whose figures met dropped connections or 503s
   * says so here.
   */
  readonly retries: number;
  readonly roundTripsByTable: Record<string, number>;
  /** Service runs: bytes sent to and received from storage per snapshot, by table. */
  readonly bytesPerSnapshotByTable?: Record<string, { sent: number; received: number }>;
  /** Peak RSS of the process that served the requests (the service child; the bench process for the baseline). */
  readonly rssPeakMb: number | null;
  /** Service runs: how much of the service's RSS was file-backed (its binary and libraries) after the run. */
  readonly rssFileMb?: number | null;
  readonly serviceCpuMsPerSnapshot: number | null;
  readonly azuriteCpuMsPerSnapshot: number | null;
  /**
   * Service runs: the load generator's own CPU (this process: HTTP client, response reading). With
   * the service's and Azurite's it is what a post costs the machine, against the baseline's two.
   */
  readonly clientCpuMsPerSnapshot?: number | null;
  /** After a service run: how long until the projector had drained what the run left (ms). */
  readonly projectionDrainMs?: number | null;
  /** Cores that processes other than the service, Azurite and the bench kept busy during the run. */
  readonly otherCores: number | null;
}

function payloadSizes(fleet: Fleet) {
  const sized = (doc: Doc) => {
    const text = JSON.stringify(docFor(doc, 1, randomUUID(), Date.parse('2026-11-27T23:00:00Z')));
    return { rawBytes: Buffer.byteLength(text), gzipBytes: gzipSync(text).length };
  };
  const groups = new Map<string, { name: string; rawBytes: number; gzipBytes: number }[]>();
  for (const t of fleet.pool) {
    const list = groups.get(t.generation) ?? [];
    if (!list.some((x) => x.name === t.name)) list.push({ name: t.name, ...sized(t.doc) });
    groups.set(t.generation, list);
  }
  const rows = [...groups].map(([generation, list]) => {
    const sorted = [...list].sort((a, b) => a.rawBytes - b.rawBytes);
    const typical = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return { generation, typical: typical.name, snapshots: list.length, rawBytes: typical.rawBytes, gzipBytes: typical.gzipBytes, rawBytesMax: sorted[sorted.length - 1]!.rawBytes };
  });
  const tail = sized(withLogTail(fleet.typical.doc));
  rows.push({ generation: 'VSE 8.8 + 64 KiB log tail', typical: `${fleet.typical.name}+tail`, snapshots: 1, rawBytes: tail.rawBytes, gzipBytes: tail.gzipBytes, rawBytesMax: tail.rawBytes });
  return rows;
}

async function main(): Promise<void> {
  mkdirSync(path.dirname(OUT), { recursive: true });
  const fleet = buildFleet();
  const notes: string[] = [
    'The service runs in a child process (the local host: node:http in front of the same function handlers Azure runs); the load generator and the baseline run in the bench process; Azurite (in memory) in a third process. All three share the machine.',
    `Snapshots come from ${fleet.source === 'fixtures' ? 'test/fixtures/port25' : 'synthetic documents written from the contract (no fixtures in the tree)'}.`,
    `Ingest: ${INGEST_SERVERS} servers are pre-loaded with direct batched writes in the store's layout (as after each server's first snapshot), for the service and for the baseline. Each status-change run posts ${CHANGE_SERVERS} of them (every post changes that server's status); each steady-state run posts ${STEADY_SERVERS} with new snapshot ids and a later collectedAt.`,
    `Each scenario and concurrency runs ${ROUNDS} rounds of a service run and a baseline run, back to back, the service first in odd rounds and the baseline first in even ones; a ratio is the median of the rounds' own ratios (bench/lib/rounds.ts). The mass flip is one round, and runs first, on tables that hold only the pre-load and the first posts (Azurite's cost per row written grows with its partition's size; Azure's does not).`,
    'Every server enrols and then posts once, untimed, before the timed runs (as a collector does after enrolling): that post checks the new key in ServerKeys and leaves its tag on the server\'s Results rows; later posts are checked against the tag. keyRoundTripsPerSnapshot counts ServerKeys reads apart from the posture tables.',
    'A round trip is a request: one the SDK sent again (after a dropped connection, a 503 or a timeout) counts once, and each attempt after its first is counted in the run\'s retries (in all, key check included), so a figure measured through retries says so.',
    'Azurite evaluates every table query by scanning the whole table in JavaScript (Azure uses the partition index), so any query costs more here as tables grow; point reads and batch writes use its index.',
    `The query fleet of ${QUERY_SERVERS} servers is written with direct batched table writes in the store's layout (Results, RuleIndex + counts row, Hosts, Drift members and counters), not ingested over HTTP; its status and configuration mix is the snapshot pool taken round-robin.`,
    'Drift queries read the Drift table (and one server\'s drift also the Results keys): the drift of a rule reads its counter rows (at most one per configuration and shard), one server\'s drift finds the server by id or host name (a range read of Results keys), then reads its member rows (a range read, and a point read of the old layout), the baseline row and its Results row of the rule (side by side) and, without a baseline, the counter rows.',
  ];
  if (fleet.withDriver) {
    notes.push('The registered rules give every snapshot the same verdict (placeholder rule), so a benchmark-only rule "bench-status-driver" is loaded next to them to make status changes measurable.');
  }
  say(`rules: ${fleet.rules.map((r) => `${r.id}@${r.version}`).join(', ')}; snapshots from ${fleet.source}`);

  // 1. Rule evaluation (before anything else runs, on a quiet machine).
  say('rule evaluation…');
  const ruleEval = measureRuleEvaluation();

  // 4. Payload.
  const payload = payloadSizes(fleet);

  // 2. Ingest.
  let azurite: AzuriteHandle | undefined;
  const services: ServiceProcess[] = [];
  const ingestRuns: IngestRun[] = [];
  const queryRuns: { name: string; path: string; n: number; errors: number; p50Ms: number; p99Ms: number; entitiesPerRequest: number; entitiesByTable: Record<string, number>; roundTripsPerRequest: number; retries: number; itemsReturned: number }[] = [];
  let fullWalk: { pages: number; items: number; entities: number; ms: number } | undefined;
  const exportRuns: { path: string; runs: number; medianMs: number; rows: number; bytes: number; entities: number; rssPeakMb: number | null }[] = [];
  let queryHostRssMb: number | null = null;
  let queryFleetInfo: Awaited<ReturnType<typeof loadFleet>> | undefined;
  let warningsRule = '';
  let massFlip: { servers: number; changes: number; alertsExpected: number; lag: LagResult; consistency: ConsistencyResult; rssPeakMb: number | null } | undefined;
  const stopAll = async () => {
    for (const s of services.splice(0)) await s.stop().catch(() => undefined);
    await azurite?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    const azuriteArgs = (name: string) => (process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
    azurite = await startAzurite({ nodeArgs: azuriteArgs('azurite') });
    say(`Azurite on 127.0.0.1:${azurite.port} (pid ${azurite.pid})`);
    const env = { BENCH_STORAGE: azurite.connectionString, BENCH_WITH_DRIVER: fleet.withDriver ? '1' : '0' };
    const svc = await startService({ ...env, BENCH_TABLE_PREFIX: 'Ing' });
    services.push(svc);
    const http = new HttpClient(svc.port, Math.max(...CONCURRENCY));
    const baseline = new Baseline(azurite.connectionString, 'Base');
    await baseline.init();
    const typical = evaluateTemplate(fleet.typical.doc, fleet.rules);
    const changed = evaluateTemplate(fleet.changed.doc, fleet.rules);
    say(`typical: ${fleet.typical.name} [${typical.results.map((r) => r.status).join(',')}], changed: ${fleet.changed.name} [${changed.results.map((r) => r.status).join(',')}]`);

    const t0 = Date.now() - 2 * 3_600_000;
    let round = 0;
    const bodies = (template: (i: number) => Doc, servers: number) => {
      round++;
      const at = t0 + round * 1000;
      return Array.from({ length: servers }, (_, i) => JSON.stringify(docFor(template(i), i, randomUUID(), at)));
    };
    let baseRound = 0;
    const baseRecords = (ev: (i: number) => Evaluated, servers: number) => {
      baseRound++;
      const at = t0 + baseRound * 1000;
      return Array.from({ length: servers }, (_, i) => resultRecords(ev(i), serverId(i), randomUUID(), at, Date.now()));
    };

    const probe = new MassFlipProbe(azurite.connectionString, 'Ing', fleet.rules.map((r) => r.id));
    let lastDocs: string[] = [];
    let lastEndedAt = 0;
    /** Posts of the last service run that were not accepted (they changed nothing, so they owe nothing). */
    let lastFailed = new Set<number>();
    const serviceRun = async (scenario: IngestRun['scenario'], concurrency: number, round: number, template: (i: number) => Doc, servers: number): Promise<IngestRun> => {
      const docs = bodies(template, servers);
      lastDocs = docs;
      await svc.reset();
      const settled = await settle([svc.pid, azurite?.pid, process.pid], SETTLE_MS);
      const cpu0 = cpuSeconds(svc.pid);
      const az0 = cpuSeconds(azurite?.pid);
      const client0 = process.cpuUsage();
      const rss = sampleRss(svc.pid);
      const others = otherLoad([svc.pid, azurite?.pid, process.pid]);
      lastFailed = new Set<number>();
      const stats = await runConcurrent(docs.length, concurrency, async (i) => {
        const res = await http.send('POST', '/api/snapshots', serverKeys[i]!, docs[i]).catch((error: unknown) => {
          lastFailed.add(i);
          throw error;
        });
        if (res.status !== 201) {
          lastFailed.add(i);
          throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        }
      });
      lastEndedAt = Date.now();
      const otherCores = others.stop();
      const rssPeak = rss.stop();
      const s = await svc.stats();
      const cpu1 = cpuSeconds(svc.pid);
      const az1 = cpuSeconds(azurite?.pid);
      const client = process.cpuUsage(client0);
      const run: IngestRun = {
        scenario,
        target: 'service',
        concurrency,
        round,
        ...stats,
        roundTripsPerSnapshot: s.roundTrips / docs.length,
        keyRoundTripsPerSnapshot: s.keyRoundTrips / docs.length,
        retries: s.retries,
        roundTripsByTable: s.byTable,
        bytesPerSnapshotByTable: Object.fromEntries(Object.entries(s.bytesByTable).map(([t, b]) => [t, { sent: Math.round(b.sent / docs.length), received: Math.round(b.received / docs.length) }])),
        rssPeakMb: mb(rssPeak ?? s.rss),
        rssFileMb: mb(rssFileBytes(svc.pid)),
        serviceCpuMsPerSnapshot: cpu0 === undefined || cpu1 === undefined ? null : ((cpu1 - cpu0) * 1000) / docs.length,
        azuriteCpuMsPerSnapshot: az0 === undefined || az1 === undefined ? null : ((az1 - az0) * 1000) / docs.length,
        clientCpuMsPerSnapshot: (client.user + client.system) / 1000 / docs.length,
        otherCores,
      };
      // The projector finishes what the run left before anything else runs (the mass flip measures
      // this as its projection lag instead), so no run is measured while it works for an earlier one.
      let drainMs: number | null = null;
      if (scenario !== 'massflip') {
        const rssDrain = sampleRss(svc.pid);
        drainMs = await probe.drained(120_000);
        const peak = mb(rssDrain.stop());
        if (peak !== null && (run.rssPeakMb === null || peak > run.rssPeakMb)) Object.assign(run, { rssPeakMb: peak });
      }
      Object.assign(run, { projectionDrainMs: drainMs });
      say(`service  ${scenario.padEnd(6)} c=${String(concurrency).padStart(2)} round ${round}: ${run.perSecond.toFixed(0)}/s p50 ${run.p50Ms.toFixed(1)} ms p99 ${run.p99Ms.toFixed(1)} ms, ${run.roundTripsPerSnapshot.toFixed(2)} RT/snapshot + ${run.keyRoundTripsPerSnapshot.toFixed(2)} key check (${run.retries} retries), RSS ${run.rssPeakMb} MB (heap ${mb(s.heapUsed)}/${mb(s.heapTotal)} MB, file-backed ${run.rssFileMb ?? '?'} MB after), errors ${run.errors}${run.errors ? ' ' + run.errorSamples[0] : ''}${drainMs ? `, projected ${drainMs} ms after` : ''}, other load ${run.otherCores ?? '?'} cores (started after ${settled} ms settling)`);
      ingestRuns.push(run);
      return run;
    };
    const baselineRun = async (scenario: IngestRun['scenario'], concurrency: number, round: number, ev: (i: number) => Evaluated, servers: number): Promise<IngestRun> => {
      const records: ResultRecord[][] = baseRecords(ev, servers);
      baseline.counter.reset();
      const settled = await settle([svc.pid, azurite?.pid, process.pid], SETTLE_MS);
      const cpu0 = process.cpuUsage();
      const az0 = cpuSeconds(azurite?.pid);
      const rss = sampleRss(process.pid);
      const others = otherLoad([svc.pid, azurite?.pid, process.pid]);
      const stats = await runConcurrent(records.length, concurrency, (i) => baseline.ingest(serverId(i), records[i]!));
      const otherCores = others.stop();
      const rssPeak = rss.stop();
      const cpu = process.cpuUsage(cpu0);
      const az1 = cpuSeconds(azurite?.pid);
      const run: IngestRun = {
        scenario,
        target: 'baseline',
        concurrency,
        round,
        ...stats,
        roundTripsPerSnapshot: baseline.counter.count / records.length,
        keyRoundTripsPerSnapshot: 0,
        retries: baseline.counter.retries,
        roundTripsByTable: Object.fromEntries(baseline.counter.byTable),
        rssPeakMb: mb(rssPeak),
        serviceCpuMsPerSnapshot: (cpu.user + cpu.system) / 1000 / records.length,
        azuriteCpuMsPerSnapshot: az0 === undefined || az1 === undefined ? null : ((az1 - az0) * 1000) / records.length,
        otherCores,
      };
      say(`baseline ${scenario.padEnd(6)} c=${String(concurrency).padStart(2)} round ${round}: ${run.perSecond.toFixed(0)}/s p50 ${run.p50Ms.toFixed(1)} ms p99 ${run.p99Ms.toFixed(1)} ms, ${run.roundTripsPerSnapshot.toFixed(2)} RT/snapshot (${run.retries} retries), errors ${run.errors}${run.errors ? ' ' + run.errorSamples[0] : ''}, other load ${run.otherCores ?? '?'} cores (started after ${settled} ms settling)`);
      ingestRuns.push(run);
      return run;
    };

    say(`ingest: pre-loading ${INGEST_SERVERS} servers (direct batched writes, service and baseline tables)…`);
    const pre = await loadFleet(azurite.connectionString, 'Ing', fleet.rules, INGEST_SERVERS, { templateOf: () => fleet.typical, exact: true, collectedAt: t0 });
    await loadFleet(azurite.connectionString, 'Base', fleet.rules, INGEST_SERVERS, { templateOf: () => fleet.typical, collectedAt: t0 });
    say(`pre-loaded: ${pre.entitiesWritten} entities per fleet in ${(pre.loadMs / 1000).toFixed(1)} s`);
    // Each server posts with its own key, as collectors do (ServerKeys reads are counted apart,
    // as keyRoundTripsPerSnapshot).
    const serverKeys: string[] = new Array(INGEST_SERVERS);
    await runConcurrent(INGEST_SERVERS, 8, async (i) => {
      const body = JSON.stringify({ host: { name: serverName(i), fqdn: serverId(i) } });
      const res = await http.send('POST', '/api/enroll', BENCH_KEYS.enrolment, body);
      if (res.status !== 201) throw new Error(`enrol HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      serverKeys[i] = (JSON.parse(res.body) as { key: string }).key;
    });
    say(`enrolled ${INGEST_SERVERS} servers`);
    // Each server posts once, untimed, as a collector does right after enrolling: that post checks
    // the new key in ServerKeys and tags it on the server's rows, so the timed runs see what every
    // later post costs (the tag, no ServerKeys read).
    {
      const docs = bodies(() => fleet.typical.doc, INGEST_SERVERS);
      const warm = await runConcurrent(INGEST_SERVERS, 8, async (i) => {
        const res = await http.send('POST', '/api/snapshots', serverKeys[i]!, docs[i]);
        if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      });
      if (warm.errors > 0) throw new Error(`warm-up posts failed: ${warm.errorSamples[0]}`);
      // Those posts owe the projector their Hosts rows and raw snapshots: drained before any timed run.
      const drainMs = await probe.drained(300_000);
      say(`every server posted once (untimed; its key is now tagged), projected ${drainMs} ms after`);
    }
    // Service and baseline side by side, in rounds whose order alternates (bench/lib/rounds.ts).
    const sideBySide = async (round: number, service: () => Promise<unknown>, base: () => Promise<unknown>) => {
      for (const run of serviceFirst(round) ? [service, base] : [base, service]) await run();
    };
    // Which servers are in the changed state (the same for the service's fleet and the baseline's).
    const isChanged: boolean[] = new Array<boolean>(INGEST_SERVERS).fill(false);
    const docIn = (i: number, flipped: boolean) => (isChanged[i] !== flipped ? fleet.changed.doc : fleet.typical.doc);
    const evIn = (i: number, flipped: boolean) => (isChanged[i] !== flipped ? changed : typical);
    const flipAll = (servers: number) => {
      for (let i = 0; i < servers; i++) isChanged[i] = !isChanged[i];
    };
    // Mass flip first, on tables holding only the pre-load and the first posts: every pre-loaded
    // server changes status at once (a policy push), at c=32. Then the projection lag until every
    // event, history row, count and alert record of the burst is visible, and the checks of what
    // is visible. First, because Azurite's cost for each row written grows with the size of its
    // partition (its index finds the partition, then it scans it) and Events is one partition:
    // with the mass flip last, the drain of 1,000 entries took 3.9 s after the first change round
    // and 10.2 s after the ninth. Azure's cost per row does not depend on the partition's size.
    if (SCENARIOS.has('massflip')) {
      const run = await serviceRun('massflip', 32, 1, (i) => docIn(i, true), INGEST_SERVERS);
      const lastResponseAt = lastEndedAt;
      const rss = sampleRss(svc.pid);
      const expected: ExpectedChange[] = lastDocs.flatMap((body, i) => {
        if (lastFailed.has(i)) return [];
        const snapshotId = (JSON.parse(body) as { snapshotId: string }).snapshotId;
        const before = evIn(i, false).results;
        return evIn(i, true).results.flatMap((r, k) => (r.status === before[k]?.status ? [] : [{ server: serverId(i), ruleId: r.ruleId, snapshotId, from: before[k]!.status, to: r.status }]));
      });
      const lag = await probe.waitForProjections(svc, expected, lastResponseAt, 120_000);
      const summaryRes = await http.send('GET', '/api/summary', BENCH_KEYS.reader);
      const consistency = await probe.check(svc, JSON.parse(summaryRes.body) as { rules: { ruleId: string; counts: Record<string, number> }[] }, expected);
      const rssAfter = mb(rss.stop());
      const peak = Math.max(run.rssPeakMb ?? 0, rssAfter ?? 0);
      massFlip = { servers: INGEST_SERVERS, changes: expected.length, alertsExpected: consistency.alertsExpected, lag, consistency, rssPeakMb: peak };
      say(
        `mass flip: ${expected.length} changes; lag p50 ${lag.p50Ms} ms, max ${lag.maxMs} ms (events ${lag.eventsMs}, history ${lag.historyMs}, alerts ${lag.alertsMs}, counts ${lag.countsMs} ms); ` +
          `summary = results: ${consistency.summaryEqualsResults}${consistency.summaryDiff.length ? ' ' + consistency.summaryDiff.join('; ') : ''}; events exactly once: ${consistency.eventsExactlyOnce} ` +
          `(missing ${consistency.missingEvents}, doubled ${consistency.doubledEvents}, unexpected ${consistency.unexpectedEvents}); history exactly once: ${consistency.historyExactlyOnce}; ` +
          `alerts ${consistency.alertLines} lines for ${consistency.alertsExpected} expected (missing ${consistency.missingAlerts}); RSS ${peak} MB`,
      );
      await baselineRun('massflip', 32, 1, (i) => evIn(i, true), INGEST_SERVERS);
      flipAll(INGEST_SERVERS);
    }
    // Each concurrency in rounds: a status change flips the first `servers` in every round; a
    // steady-state post repeats their state.
    const inRounds = async (scenario: 'change' | 'steady', servers: number) => {
      const flips = scenario === 'change';
      for (const c of SCENARIOS.has(scenario) ? CONCURRENCY : []) {
        for (let r = 1; r <= ROUNDS; r++) {
          await sideBySide(
            r,
            () => serviceRun(scenario, c, r, (i) => docIn(i, flips), servers),
            () => baselineRun(scenario, c, r, (i) => evIn(i, flips), servers),
          );
          if (flips) flipAll(servers);
        }
      }
    };
    await inRounds('change', CHANGE_SERVERS);
    // Steady state after the changes: what an hourly post of an unchanged server costs once the
    // outbox of the last change has been cleared.
    await inRounds('steady', STEADY_SERVERS);
    http.close();
    await svc.stop();
    services.splice(services.indexOf(svc), 1);

    // 3. Queries on a fleet of QUERY_SERVERS, in an Azurite of their own: Azurite holds every
    // table in one process, so what the ingest rounds wrote before would slow the queries (a
    // query's cost in Azure does not depend on other tables).
    if (SCENARIOS.has('queries')) {
    await azurite.stop();
    azurite = await startAzurite({ nodeArgs: azuriteArgs('azurite-queries') });
    say(`queries: a new Azurite on 127.0.0.1:${azurite.port} (pid ${azurite.pid}); loading ${QUERY_SERVERS} servers × ${fleet.rules.length} rules…`);
    queryFleetInfo = await loadFleet(azurite.connectionString, 'Qry', fleet.rules, QUERY_SERVERS, { templateOf: (i) => fleet.pool[i % fleet.pool.length]! });
    say(`query fleet loaded: ${queryFleetInfo.entitiesWritten} entities in ${queryFleetInfo.transactions} transactions, ${(queryFleetInfo.loadMs / 1000).toFixed(1)} s`);
    const q = await startService({ ...env, BENCH_STORAGE: azurite.connectionString, BENCH_TABLE_PREFIX: 'Qry' });
    services.push(q);
    const qhttp = new HttpClient(q.port, 1);
    const driftRule = fleet.rules.find((r) => r.configurationFacts)?.id;
    warningsRule = Object.entries(queryFleetInfo.counts).sort((a, b) => (b[1].Warning ?? 0) - (a[1].Warning ?? 0))[0]?.[0] ?? fleet.rules[0]!.id;
    const specs = [
      { name: 'summary', path: '/api/summary' },
      { name: 'warnings for one rule (default page, top=100)', path: `/api/results?rule=${encodeURIComponent(warningsRule)}&status=Warning` },
      { name: 'warnings for one rule (top=1000)', path: `/api/results?rule=${encodeURIComponent(warningsRule)}&status=Warning&top=1000` },
      // Fleet drift: the configurations of every server from the counters, and one server against the largest cluster.
      ...(driftRule
        ? [
            { name: 'drift for one rule (every cluster, top=1000)', path: `/api/drift?rule=${encodeURIComponent(driftRule)}&top=1000` },
            { name: 'one server against the largest cluster', path: `/api/servers/${encodeURIComponent(serverId(1))}/drift?rule=${encodeURIComponent(driftRule)}` },
          ]
        : []),
    ];
    for (const spec of specs) for (let i = 0; i < 5; i++) await qhttp.send('GET', spec.path, BENCH_KEYS.reader);
    await q.countEntities(true);
    const qrss = sampleRss(q.pid);
    for (const spec of specs) {
      await q.reset();
      let items = 0;
      const stats = await runConcurrent(QUERY_RUNS, 1, async () => {
        const res = await qhttp.send('GET', spec.path, BENCH_KEYS.reader);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        const body = JSON.parse(res.body) as { items?: unknown[]; rules?: unknown[]; clusters?: unknown[]; differences?: unknown[] };
        items = body.items?.length ?? body.rules?.length ?? body.clusters?.length ?? body.differences?.length ?? 0;
      });
      const s = await q.stats();
      const run = {
        name: spec.name,
        path: spec.path,
        n: stats.n,
        errors: stats.errors,
        p50Ms: stats.p50Ms,
        p99Ms: stats.p99Ms,
        entitiesPerRequest: s.entities / stats.n,
        entitiesByTable: s.entitiesByTable,
        roundTripsPerRequest: s.roundTrips / stats.n,
        retries: s.retries,
        itemsReturned: items,
      };
      say(`query ${spec.name}: p50 ${run.p50Ms.toFixed(1)} ms p99 ${run.p99Ms.toFixed(1)} ms, ${run.entitiesPerRequest} entities, ${run.roundTripsPerRequest} RT per request (${run.retries} retries), ${items} items${stats.errors ? `, errors ${stats.errors}: ${stats.errorSamples[0]}` : ''}`);
      queryRuns.push(run);
    }
    // Every current warning of the rule, page by page (what a client listing all of them reads).
    {
      await q.reset();
      const w0 = performance.now();
      let token: string | null = null;
      let pages = 0;
      let items = 0;
      do {
        const p: string = `${specs[2]!.path}${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
        const res = await qhttp.send('GET', p, BENCH_KEYS.reader);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        const body = JSON.parse(res.body) as { items: unknown[]; continuationToken: string | null };
        items += body.items.length;
        token = body.continuationToken;
        pages++;
      } while (token && pages < 100);
      const s = await q.stats();
      fullWalk = { pages, items, entities: s.entities, ms: performance.now() - w0 };
      say(`all warnings of ${warningsRule}: ${items} items in ${pages} pages, ${s.entities} entities read, ${fullWalk.ms.toFixed(0)} ms`);
    }
    queryHostRssMb = mb(qrss.stop());
    // The CSV export of the whole fleet (Power BI's key-free way in), with and without evidence:
    // measured, no target. Its own RSS sampler: what the export adds to the service's memory.
    for (const path of ['/api/export/results.csv', '/api/export/results.csv?evidence=false']) {
      await q.reset();
      const rss = sampleRss(q.pid);
      const times: number[] = [];
      let text = '';
      for (let i = 0; i < EXPORT_RUNS; i++) {
        const t0 = performance.now();
        const res = await qhttp.send('GET', path, BENCH_KEYS.reader);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        times.push(performance.now() - t0);
        text = res.body;
      }
      const s = await q.stats();
      const run = { path, runs: EXPORT_RUNS, medianMs: median(times), rows: text.split('\r\n').filter((l) => l !== '').length - 1, bytes: Buffer.byteLength(text), entities: s.entities / EXPORT_RUNS, rssPeakMb: mb(rss.stop()) };
      say(`export ${path}: median ${run.medianMs.toFixed(0)} ms over ${EXPORT_RUNS}, ${run.rows} rows, ${(run.bytes / 1e6).toFixed(1)} MB, ${run.entities} entities read, RSS ${run.rssPeakMb} MB`);
      exportRuns.push(run);
    }
    qhttp.close();
    }
  } finally {
    await stopAll();
  }

  // Ratios and targets.
  const runsOf = (scenario: string, c: number, target?: IngestRun['target']) => ingestRuns.filter((r) => r.scenario === scenario && r.concurrency === c && (target === undefined || r.target === target));
  const ratios = (['steady', 'change', 'massflip'] as const).flatMap((scenario) => (scenario === 'massflip' ? [32] : CONCURRENCY).map((c) => ({ scenario, concurrency: c, ...ratioOfRounds(runsOf(scenario, c)) })));
  const byRound = (r: (typeof ratios)[number], pick: (x: (typeof r.rounds)[number]) => number) => (r.rounds.length > 1 ? ` (rounds ${r.rounds.map((x) => pick(x).toFixed(2)).join(', ')})` : '');
  const targets: { target: string; limit: string; measured: string; pass: boolean }[] = [];
  for (const r of ratios) {
    const floor = r.scenario === 'steady' ? TARGETS.throughputRatio : (TARGETS.changeThroughputRatio[r.concurrency] ?? TARGETS.throughputRatio);
    targets.push({ target: `ingest ${r.scenario} c=${r.concurrency}: throughput vs baseline`, limit: `≥ ${floor}×`, measured: `${r.throughputRatio.toFixed(2)}×${byRound(r, (x) => x.throughputRatio)}`, pass: r.throughputRatio >= floor });
    targets.push({ target: `ingest ${r.scenario} c=${r.concurrency}: p99 vs baseline p99`, limit: `≤ ${TARGETS.p99Ratio}×`, measured: `${r.p99Ratio.toFixed(2)}×${byRound(r, (x) => x.p99Ratio)}`, pass: r.p99Ratio <= TARGETS.p99Ratio });
  }
  for (const c of CONCURRENCY) {
    // Every round must keep to it: the most any round needed.
    const steady = runsOf('steady', c, 'service');
    const s = steady.reduce<IngestRun | undefined>((worst, x) => (!worst || x.roundTripsPerSnapshot + x.keyRoundTripsPerSnapshot > worst.roundTripsPerSnapshot + worst.keyRoundTripsPerSnapshot ? x : worst), undefined);
    const rt = s?.roundTripsPerSnapshot ?? NaN;
    targets.push({ target: `storage round trips per steady-state snapshot, c=${c}`, limit: `≤ ${TARGETS.steadyRoundTrips}`, measured: rt.toFixed(2), pass: rt <= TARGETS.steadyRoundTrips });
    // The key check is a storage round trip too (concurrent with the partition read): shown, not hidden.
    const all = rt + (s?.keyRoundTripsPerSnapshot ?? NaN);
    targets.push({ target: `  … including the server-key check, c=${c}`, limit: `≤ ${TARGETS.steadyRoundTrips}`, measured: all.toFixed(2), pass: all <= TARGETS.steadyRoundTrips });
  }
  for (const r of ruleEval) {
    targets.push({ target: `rule evaluation: ${r.class}`, limit: `≤ ${TARGETS.ruleEvalUs} µs`, measured: `${r.evaluateMedianUs.toFixed(1)} µs`, pass: r.evaluateMedianUs <= TARGETS.ruleEvalUs });
  }
  for (const r of queryRuns) {
    targets.push({ target: `query ${r.name}: entities read`, limit: `≤ ${TARGETS.queryEntities}`, measured: String(round(r.entitiesPerRequest, 1)), pass: r.entitiesPerRequest <= TARGETS.queryEntities });
    targets.push({ target: `query ${r.name}: p50`, limit: `≤ ${TARGETS.queryP50Ms} ms`, measured: `${r.p50Ms.toFixed(1)} ms`, pass: r.p50Ms <= TARGETS.queryP50Ms && r.errors === 0 });
  }
  for (const r of ratios) {
    // The peak over the rounds; a round that could not be read counts as a miss.
    const peaks = runsOf(r.scenario, r.concurrency, 'service').map((x) => x.rssPeakMb ?? Infinity);
    if (peaks.length === 0) continue;
    const peak = Math.max(...peaks);
    targets.push({ target: `service RSS, ingest ${r.scenario} c=${r.concurrency}`, limit: `≤ ${TARGETS.ingestRssMb} MB`, measured: `${Number.isFinite(peak) ? peak : '?'} MB`, pass: peak <= TARGETS.ingestRssMb });
  }
  if (massFlip) {
    const m = massFlip;
    const ms = (x: number) => (Number.isNaN(x) ? 'not reached' : `${(x / 1000).toFixed(2)} s`);
    targets.push({ target: `mass flip (${m.servers} servers, ${m.changes} changes): projection lag, max`, limit: `≤ ${TARGETS.projectionLagMs / 1000} s`, measured: ms(m.lag.maxMs), pass: m.lag.complete && m.lag.maxMs <= TARGETS.projectionLagMs });
    targets.push({ target: '  … projection lag, p50 (events, history rows, alert records)', limit: `≤ ${TARGETS.projectionLagMs / 1000} s`, measured: ms(m.lag.p50Ms), pass: m.lag.p50Ms <= TARGETS.projectionLagMs });
    targets.push({ target: '  … summary equals the counts computed from Results', limit: 'equal', measured: m.consistency.summaryEqualsResults ? 'equal' : m.consistency.summaryDiff.join('; '), pass: m.consistency.summaryEqualsResults });
    const c = m.consistency;
    targets.push({ target: '  … every change exactly one event (and one History row)', limit: 'exactly once', measured: `missing ${c.missingEvents}, doubled ${c.doubledEvents}, unexpected ${c.unexpectedEvents}; history ${c.historyExactlyOnce ? 'exact' : 'not exact'}`, pass: c.eventsExactlyOnce && c.historyExactlyOnce });
    targets.push({ target: '  … every change exactly one alert record', limit: `${c.alertsExpected} lines`, measured: `${c.alertLines} lines, ${c.missingAlerts} missing`, pass: c.alertsExactlyOnce });
    targets.push({ target: '  … service RSS during burst and projection', limit: `≤ ${TARGETS.ingestRssMb} MB`, measured: `${m.rssPeakMb} MB`, pass: (m.rssPeakMb ?? Infinity) <= TARGETS.ingestRssMb });
  }
  {
    // A measurement condition, not a product target: a reference run must show none.
    const timed = ingestRuns.filter((x) => x.scenario !== 'first');
    const disturbed = timed.filter((x) => x.otherCores === null || x.otherCores > TARGETS.otherLoadCores);
    const named = disturbed.slice(0, 4).map((x) => `${x.target} ${x.scenario} c=${x.concurrency} r${x.round}: ${x.otherCores ?? '?'}`);
    targets.push({ target: `timed runs with other load above ${TARGETS.otherLoadCores} cores`, limit: 'none', measured: `${disturbed.length} of ${timed.length}${named.length ? ` (${named.join('; ')}${disturbed.length > named.length ? '; …' : ''})` : ''}`, pass: disturbed.length === 0 });
  }
  for (const r of ingestRuns.filter((x) => x.target === 'service' && x.scenario !== 'first')) {
    if (r.errors > 0) targets.push({ target: `ingest ${r.scenario} c=${r.concurrency} round ${r.round}: every post accepted`, limit: '0 failed', measured: `${r.errors} failed`, pass: false });
  }

  const queryResult = {
    servers: QUERY_SERVERS,
    fleet: queryFleetInfo,
    warningsRule,
    hostRssMb: queryHostRssMb,
    runs: queryRuns.map((r) => ({ ...r, p50Ms: round(r.p50Ms, 2), p99Ms: round(r.p99Ms, 2) })),
    allWarningsWalk: fullWalk,
    export: exportRuns.map((r) => ({ ...r, medianMs: round(r.medianMs, 0) })),
  };
  const result = {
    meta: {
      startedAt: new Date(started).toISOString(),
      durationS: round((Date.now() - started) / 1000, 0),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      memoryGb: round(os.totalmem() / 1024 ** 3, 1),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)),
      rules: fleet.rules.map((r) => `${r.id}@${r.version}`),
      snapshotSource: fleet.source,
      typicalSnapshot: fleet.typical.name,
      changedSnapshot: fleet.changed.name,
      notes,
    },
    ruleEvaluation: ruleEval.map((r) => ({ ...r, evaluateMedianUs: round(r.evaluateMedianUs, 1), evaluateP99Us: round(r.evaluateP99Us, 1), parseAndEvaluateMedianUs: round(r.parseAndEvaluateMedianUs, 1) })),
    payload,
    ingest: {
      servers: INGEST_SERVERS,
      changeServers: CHANGE_SERVERS,
      runs: ingestRuns.map((r) => ({
        ...r,
        perSecond: round(r.perSecond, 1),
        p50Ms: round(r.p50Ms, 2),
        p99Ms: round(r.p99Ms, 2),
        wallMs: round(r.wallMs, 0),
        roundTripsPerSnapshot: round(r.roundTripsPerSnapshot, 3),
        keyRoundTripsPerSnapshot: round(r.keyRoundTripsPerSnapshot, 3),
        serviceCpuMsPerSnapshot: r.serviceCpuMsPerSnapshot === null ? null : round(r.serviceCpuMsPerSnapshot, 3),
        azuriteCpuMsPerSnapshot: r.azuriteCpuMsPerSnapshot === null ? null : round(r.azuriteCpuMsPerSnapshot, 3),
        clientCpuMsPerSnapshot: r.clientCpuMsPerSnapshot == null ? null : round(r.clientCpuMsPerSnapshot, 3),
        projectionDrainMs: r.projectionDrainMs ?? null,
      })),
      rounds: ROUNDS,
      steadyServers: STEADY_SERVERS,
      ratios: ratios.map((r) => ({
        ...r,
        throughputRatio: round(r.throughputRatio, 2),
        p99Ratio: round(r.p99Ratio, 2),
        cpuRatio: round(r.cpuRatio, 2),
        serviceMachineCpuMs: round(r.serviceMachineCpuMs, 2),
        baselineMachineCpuMs: round(r.baselineMachineCpuMs, 2),
        rounds: r.rounds.map((x) => ({ round: x.round, throughputRatio: round(x.throughputRatio, 2), p99Ratio: round(x.p99Ratio, 2), cpuRatio: round(x.cpuRatio, 2) })),
      })),
    },
    massFlip: massFlip ?? null,
    query: queryResult,
    targets,
  };
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  printTables(result);
  console.log(`\nWrote ${path.relative(process.cwd(), OUT)} (${elapsed()} in all).`);
}

function printTables(r: any): void {
  console.log(`\n== fleet-posture benchmark — ${r.meta.startedAt}, Node ${r.meta.node}, ${r.meta.cpus} × ${r.meta.cpuModel}`);
  console.log(`rules: ${r.meta.rules.join(', ')}; snapshots: ${r.meta.snapshotSource}; load average at start ${r.meta.loadAverageAtStart.join(' ')}, at end ${r.meta.loadAverageAtEnd.join(' ')}`);
  console.log('\n-- rule evaluation (bench/rule-eval.ts: the port-25 rule on one normalised snapshot)');
  table(['class', 'median µs', 'p99 µs', 'parse+eval µs', 'reason code'], r.ruleEvaluation.map((x: any) => [x.class, x.evaluateMedianUs, x.evaluateP99Us, x.parseAndEvaluateMedianUs, x.reasonCode]));
  console.log('\n-- payload (typical snapshot per generation)');
  table(['generation', 'raw bytes', 'gzip bytes', 'snapshots', 'max raw', 'typical'], r.payload.map((x: any) => [x.generation, x.rawBytes, x.gzipBytes, x.snapshots, x.rawBytesMax, x.typical]));
  console.log(`\n-- ingest, ${r.ingest.servers} servers, ${r.ingest.changeServers} of them per status-change run, ${r.ingest.steadyServers} per steady-state run, ${r.ingest.rounds} rounds (service over HTTP vs storage-only baseline)`);
  table(
    ['scenario', 'target', 'c', 'round', 'snap/s', 'p50 ms', 'p99 ms', 'RT/snap', 'key RT', 'retries', 'RSS MB', 'CPU ms/snap', 'Azurite CPU ms/snap', 'client CPU ms/snap', 'projected after ms', 'other cores', 'errors'],
    r.ingest.runs.map((x: any) => [x.scenario, x.target, x.concurrency, x.round, x.perSecond, x.p50Ms, x.p99Ms, x.roundTripsPerSnapshot, x.keyRoundTripsPerSnapshot, x.retries ?? null, x.rssPeakMb, x.serviceCpuMsPerSnapshot, x.azuriteCpuMsPerSnapshot, x.clientCpuMsPerSnapshot ?? null, x.projectionDrainMs ?? null, x.otherCores, x.errors]),
  );
  if (r.massFlip) {
    const m = r.massFlip;
    console.log(`\n-- mass flip: ${m.servers} servers at c=32, ${m.changes} changes; projection lag p50 ${m.lag.p50Ms} ms, max ${m.lag.maxMs} ms (events ${m.lag.eventsMs}, history ${m.lag.historyMs}, alerts ${m.lag.alertsMs}, counts ${m.lag.countsMs} ms, ${m.lag.polls} polls)`);
  }
  console.log('\n-- ingest / baseline (median of the rounds; each round in brackets)');
  const each = (x: any, k: string) => x.rounds.map((y: any) => y[k]).join(', ');
  table(['scenario', 'c', 'throughput ratio', 'rounds', 'p99 ratio', 'rounds'], r.ingest.ratios.map((x: any) => [x.scenario, x.concurrency, x.throughputRatio, each(x, 'throughputRatio'), x.p99Ratio, each(x, 'p99Ratio')]));
  // Why a throughput ratio is what it is: on two cores the service, Azurite and the load generator
  // share the CPU, so a post's throughput follows what it costs the machine in all.
  console.log('\n-- CPU per post, the machine\'s (service + Azurite + load generator, against the baseline\'s process + Azurite; medians of the rounds)');
  table(['scenario', 'c', 'service ms', 'baseline ms', 'CPU ratio', 'rounds', 'throughput ratio'], r.ingest.ratios.map((x: any) => [x.scenario, x.concurrency, x.serviceMachineCpuMs, x.baselineMachineCpuMs, x.cpuRatio, each(x, 'cpuRatio'), x.throughputRatio]));
  console.log(`\n-- queries, ${r.query.servers} servers (rule for warnings: ${r.query.warningsRule}; host RSS ${r.query.hostRssMb} MB)`);
  table(['query', 'p50 ms', 'p99 ms', 'entities read', 'RT', 'retries', 'items'], r.query.runs.map((x: any) => [x.name, x.p50Ms, x.p99Ms, x.entitiesPerRequest, x.roundTripsPerRequest, x.retries ?? null, x.itemsReturned]));
  if (r.query.allWarningsWalk) console.log(`all warnings of the rule: ${r.query.allWarningsWalk.items} in ${r.query.allWarningsWalk.pages} pages, ${r.query.allWarningsWalk.entities} entities read`);
  console.log('\n-- targets');
  table(['target', 'limit', 'measured', ''], r.targets.map((t: any) => [t.target, t.limit, t.measured, t.pass ? 'PASS' : 'MISS']));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
