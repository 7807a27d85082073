// `npm run bench:ab`: two builds of the service side by side on one Azurite — A, this checkout,
// and B, the checkout in BENCH_AB_B (built: `npm ci` and `npx tsc -p bench/tsconfig.json` there),
// or this one again when unset, which shows how far one build differs from itself. Each side gets
// its own tables and fleet; rounds of the same posts go to A and B in turns, and the summary is
// each side's medians and B against A. For deciding whether a change to the code made a post
// cheaper: between two runs of `npm run bench` the same code's cost per post moved by a quarter.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from '../src/local/azurite';
import { BENCH_KEYS } from './host-child';
import { compareSides, firstSide, type AbRun, type Side } from './lib/ab';
import { startService, type ServiceProcess } from './lib/child';
import { buildFleet, docFor, ROOT, serverId, serverName } from './lib/fleet';
import { loadFleet } from './lib/fleet-loader';
import { HttpClient } from './lib/http';
import { MassFlipProbe } from './lib/mass-flip';
import { cpuSeconds, round, runConcurrent } from './lib/measure';
import { table } from './lib/print';

const SERVERS = 2000;
const POSTS = Number(process.env.BENCH_AB_POSTS) || 1000;
const ROUNDS = Math.max(1, Number(process.env.BENCH_AB_ROUNDS) || 3);
/** `change` or `steady`, each at a concurrency: `change8,change32,steady8` by default. */
const SCENARIOS = (process.env.BENCH_AB_SCENARIOS ?? 'change8,change32,steady8').split(',').map((s) => {
  const m = /^(change|steady)(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`BENCH_AB_SCENARIOS: "${s}" is not change<concurrency> or steady<concurrency>.`);
  return { name: `${m[1]} c=${m[2]}`, flips: m[1] === 'change', concurrency: Number(m[2]) };
});
const B_DIR = process.env.BENCH_AB_B ? path.resolve(process.env.BENCH_AB_B) : undefined;
const OUT = path.join(ROOT, 'bench', 'results', 'ab.json');
const say = (s: string) => console.log(`[ab] ${s}`);

interface Contender {
  readonly side: Side;
  readonly svc: ServiceProcess;
  readonly http: HttpClient;
  readonly keys: string[];
  readonly probe: MassFlipProbe;
  /** Which servers are in the changed state. */
  readonly changed: boolean[];
}

async function main(): Promise<void> {
  const bChild = B_DIR ? path.join(B_DIR, 'dist', 'bench', 'host-child.js') : undefined;
  if (bChild && !existsSync(bChild)) throw new Error(`BENCH_AB_B: ${B_DIR} has no dist/bench/host-child.js; build it there first (npm ci, then npx tsc -p bench/tsconfig.json).`);
  const started = Date.now();
  const fleet = buildFleet();
  const t0 = Date.now() - 2 * 3_600_000;
  let minute = 0;
  let azurite: AzuriteHandle | undefined;
  const contenders: Contender[] = [];
  try {
    azurite = await startAzurite({});
    const az = azurite;
    const start = async (side: Side): Promise<Contender> => {
      const prefix = `Ab${side}`;
      const hostChild = side === 'B' ? bChild : undefined;
      const svc = await startService({ BENCH_STORAGE: az.connectionString, BENCH_WITH_DRIVER: fleet.withDriver ? '1' : '0', BENCH_TABLE_PREFIX: prefix }, hostChild);
      await loadFleet(az.connectionString, prefix, fleet.rules, SERVERS, { templateOf: () => fleet.typical, exact: true, collectedAt: t0 });
      const http = new HttpClient(svc.port, 32);
      const keys: string[] = new Array<string>(SERVERS);
      await runConcurrent(SERVERS, 8, async (i) => {
        const res = await http.send('POST', '/api/enroll', BENCH_KEYS.enrolment, JSON.stringify({ host: { name: serverName(i), fqdn: serverId(i) } }));
        if (res.status !== 201) throw new Error(`enrol HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        keys[i] = (JSON.parse(res.body) as { key: string }).key;
      });
      const c: Contender = { side, svc, http, keys, probe: new MassFlipProbe(az.connectionString, prefix, fleet.rules.map((r) => r.id)), changed: new Array<boolean>(SERVERS).fill(false) };
      contenders.push(c);
      say(`${side}: ${hostChild ?? 'this build'}, ${SERVERS} servers enrolled`);
      return c;
    };
    const a = await start('A');
    const b = await start('B');

    const post = async (c: Contender, servers: number, concurrency: number, flips: boolean) => {
      minute++;
      if (flips) for (let i = 0; i < servers; i++) c.changed[i] = !c.changed[i];
      const docs = Array.from({ length: servers }, (_, i) => JSON.stringify(docFor(c.changed[i] ? fleet.changed.doc : fleet.typical.doc, i, randomUUID(), t0 + minute * 60_000)));
      await c.svc.reset();
      const svc0 = cpuSeconds(c.svc.pid);
      const az0 = cpuSeconds(az.pid);
      const me0 = process.cpuUsage();
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const stats = await runConcurrent(servers, concurrency, async (i) => {
        const res = await c.http.send('POST', '/api/snapshots', c.keys[i]!, docs[i]);
        if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      });
      const toUs = Number(process.hrtime.bigint() / 1000n);
      const me = process.cpuUsage(me0);
      const svc1 = cpuSeconds(c.svc.pid);
      const az1 = cpuSeconds(az.pid);
      if (stats.errors > 0) throw new Error(`${c.side}: ${stats.errors} posts failed (${stats.errorSamples[0]})`);
      // What the run left is projected before anything else runs, as in `npm run bench`.
      await c.probe.drained(120_000);
      const per = (x0: number | undefined, x1: number | undefined) => (x0 === undefined || x1 === undefined ? null : ((x1 - x0) * 1000) / servers);
      return { perSecond: stats.perSecond, serviceCpuMsPerSnapshot: per(svc0, svc1), azuriteCpuMsPerSnapshot: per(az0, az1), clientCpuMsPerSnapshot: (me.user + me.system) / 1000 / servers, window: { pid: c.svc.pid, fromUs, toUs } };
    };

    // Every server posts once, untimed (its key gets tagged), then one untimed round of each
    // scenario warms both services' code.
    for (const c of [a, b]) {
      await post(c, SERVERS, 8, false);
      for (const s of SCENARIOS) await post(c, POSTS, s.concurrency, s.flips);
    }
    const runs: AbRun[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      for (const c of firstSide(r) === 'A' ? [a, b] : [b, a]) {
        for (const s of SCENARIOS) {
          const x = await post(c, POSTS, s.concurrency, s.flips);
          runs.push({ side: c.side, scenario: s.name, round: r, ...x });
          const total = (x.serviceCpuMsPerSnapshot ?? NaN) + (x.azuriteCpuMsPerSnapshot ?? NaN) + x.clientCpuMsPerSnapshot;
          say(`round ${r} ${c.side} ${s.name}: ${x.perSecond.toFixed(0)}/s, CPU per post ${total.toFixed(2)} ms (service ${x.serviceCpuMsPerSnapshot?.toFixed(2)}, Azurite ${x.azuriteCpuMsPerSnapshot?.toFixed(2)}, client ${x.clientCpuMsPerSnapshot.toFixed(2)})`);
        }
      }
    }
    const comparisons = compareSides(runs);
    console.log(`\n-- A: this build; B: ${B_DIR ?? 'this build again'}; ${ROUNDS} rounds of ${POSTS} posts, medians (CPU per post: service + Azurite + load generator)`);
    const f = (x: number) => x.toFixed(2);
    table(
      ['scenario', 'A posts/s', 'A CPU ms', 'A service ms', 'B posts/s', 'B CPU ms', 'B service ms', 'B/A throughput', 'B/A CPU', "A's rounds / median"],
      comparisons.map((c) => [c.scenario, c.a.perSecond.toFixed(0), f(c.a.machineCpuMs), f(c.a.serviceCpuMs), c.b.perSecond.toFixed(0), f(c.b.machineCpuMs), f(c.b.serviceCpuMs), f(c.throughput), f(c.machineCpu), c.aSpread.map(f).join('–')]),
    );
    mkdirSync(path.dirname(OUT), { recursive: true });
    const r2 = (x: number) => round(x, 2);
    writeFileSync(
      OUT,
      JSON.stringify(
        {
          startedAt: new Date(started).toISOString(),
          b: B_DIR ?? null,
          rounds: ROUNDS,
          posts: POSTS,
          runs: runs.map((x) => ({ ...x, perSecond: r2(x.perSecond) })),
          comparisons: comparisons.map((c) => ({ ...c, throughput: r2(c.throughput), machineCpu: r2(c.machineCpu), aSpread: c.aSpread.map(r2) })),
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`\nWrote ${path.relative(process.cwd(), OUT)}.`);
  } finally {
    for (const c of contenders) {
      c.http.close();
      await c.svc.stop().catch(() => undefined);
    }
    await azurite?.stop().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
