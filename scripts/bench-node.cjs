#!/usr/bin/env node
// Runs a compiled benchmark (`node scripts/bench-node.cjs dist/bench/run.js …`) under Node 22, the
// version the service deploys on, so what `npm run bench` measures is the deployed runtime: the
// service, the baseline, the load generator and Azurite all run on it (each child process is forked
// from the bench's own Node). Node 22 runs both sides faster than Node 20, mostly the baseline the
// more, and the service's RSS is higher on it: the targets hold or not on the deployed runtime
// (docs/benchmarks.md).
// BENCH_NODE=current runs on the Node that runs npm instead, to compare the two runtimes.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { installedTools } = require('./tool-paths.cjs');

/** The Node binary to run the benchmark with, or an error sentence saying why there is none. */
function benchNode(env = process.env, tools = installedTools()) {
  const wanted = env.BENCH_NODE ?? '22';
  if (wanted === 'current') return { node: process.execPath };
  if (wanted !== '22') return { error: `BENCH_NODE must be "22" (the default: the version the service deploys on) or "current" (this Node, ${process.version}), not "${wanted}".` };
  // Node 22 comes from the npm registry alone: `npm run tools` installs it without the .NET SDK.
  if (!tools.node22) return { error: `The benchmark runs on Node 22, the version the service deploys on, and it is not installed: run \`npm run tools\` (Node 22 needs only the npm registry), or set BENCH_NODE=current to run on this Node (${process.version}).` };
  return { node: tools.node22 };
}

module.exports = { benchNode };

if (require.main === module) {
  const [script, ...args] = process.argv.slice(2);
  if (!script) {
    console.error('Name the compiled benchmark to run, e.g. `node scripts/bench-node.cjs dist/bench/run.js`.');
    process.exit(2);
  }
  const chosen = benchNode();
  if (chosen.error) {
    console.error(chosen.error);
    process.exit(1);
  }
  // Node 22 first in PATH too, so nothing the bench starts by name falls back to another Node.
  const env = { ...process.env, PATH: `${path.dirname(chosen.node)}${path.delimiter}${process.env.PATH ?? ''}` };
  const r = spawnSync(chosen.node, [script, ...args], { stdio: 'inherit', env });
  if (r.error) console.error(`The benchmark could not start under ${chosen.node}: ${r.error.message}.`);
  process.exitCode = r.status ?? 1;
}
