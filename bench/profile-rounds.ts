// `npm run bench:profile-rounds [-- <ab.json> <profile dir>]`: what the service spent per post
// inside the timed rounds of a `BENCH_PROFILE=<dir> npm run bench:ab` run, per scenario: by the
// part the innermost frame belongs to, and by each of the service's functions on the stack. Reads
// bench/results/ab.json (each run's window and service pid) and the profiles named by that pid.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AbRun } from './lib/ab';
import { ROOT } from './lib/fleet';
import { table } from './lib/print';
import { addCosts, costInSpans, type CpuProfile } from './lib/profile-rounds';

const [abFile = path.join(ROOT, 'bench', 'results', 'ab.json'), dir = process.env.BENCH_PROFILE] = process.argv.slice(2);
const TOP = 15;

const top = (m: ReadonlyMap<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP);

function main(): void {
  if (!dir) throw new Error('Name the folder of the profiles (the run\'s BENCH_PROFILE) after the ab.json file, or set BENCH_PROFILE.');
  const ab = JSON.parse(readFileSync(abFile, 'utf8')) as { posts: number; runs: AbRun[] };
  const timed = ab.runs.flatMap((r) => (r.window?.pid !== undefined ? [{ scenario: r.scenario, pid: r.window.pid, span: r.window }] : []));
  if (timed.length === 0) throw new Error(`${abFile} has no run with a window: run npm run bench:ab again with this version.`);
  // V8 names a profile CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile.
  const profiles = new Map(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => [Number(f.split('.')[3]), path.join(dir, f)]));
  for (const scenario of [...new Set(timed.map((r) => r.scenario))]) {
    const runs = timed.filter((r) => r.scenario === scenario);
    const self = new Map<string, number>();
    const inclusive = new Map<string, number>();
    let sampledMs = 0;
    for (const pid of new Set(runs.map((r) => r.pid))) {
      const file = profiles.get(pid);
      if (!file) throw new Error(`${dir} holds no profile of the service process ${pid}.`);
      const cost = costInSpans(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, runs.filter((r) => r.pid === pid).map((r) => r.span));
      sampledMs += cost.sampledMs;
      addCosts(self, cost.self);
      addCosts(inclusive, cost.inclusive);
    }
    const posts = runs.length * ab.posts;
    const per = (ms: number) => (ms / posts).toFixed(3);
    console.log(`\n-- ${scenario}: ${posts} timed posts, ${per(sampledMs)} ms sampled per post`);
    table(['part (innermost frame)', 'ms per post'], top(self).map(([k, v]) => [k, per(v)]));
    table(['service function (on the stack)', 'ms per post'], top(inclusive).map(([k, v]) => [k, per(v)]));
  }
}

main();
