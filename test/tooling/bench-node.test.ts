// The benchmarks run on the Node version the service deploys on; a script that called `node`
// directly would measure the Node in PATH instead, and a missing Node 22 must say how to get it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(__filename);
type Chosen = { node?: string; error?: string };
const { benchNode } = require('../../scripts/bench-node.cjs') as { benchNode: (env: Record<string, string | undefined>, tools: { node22: string | null }) => Chosen };
const ROOT = path.resolve(__dirname, '..', '..');
const NODE22 = '/opt/tools/node22/bin/node';

describe('the benchmark launcher', () => {
  it('runs Node 22 by default, and on BENCH_NODE=22', () => {
    expect(benchNode({}, { node22: NODE22 })).toEqual({ node: NODE22 });
    expect(benchNode({ BENCH_NODE: '22' }, { node22: NODE22 })).toEqual({ node: NODE22 });
  });

  it('runs the current Node on BENCH_NODE=current, installed or not', () => {
    expect(benchNode({ BENCH_NODE: 'current' }, { node22: null })).toEqual({ node: process.execPath });
    expect(benchNode({ BENCH_NODE: 'current' }, { node22: NODE22 })).toEqual({ node: process.execPath });
  });

  it('without Node 22, says how to install it and how to run without it, in one sentence', () => {
    const { node, error } = benchNode({}, { node22: null });
    expect(node).toBeUndefined();
    expect(error).toContain('npm run tools');
    expect(error).toContain('BENCH_NODE=current');
    expect(error!.trim().split(/\.\s+(?=[A-Z])/)).toHaveLength(1);
  });

  it('refuses any other BENCH_NODE, naming the two it takes', () => {
    const { node, error } = benchNode({ BENCH_NODE: '20' }, { node22: NODE22 });
    expect(node).toBeUndefined();
    expect(error).toMatch(/"22".*"current".*not "20"/);
  });

  it('is how every timed benchmark script runs', () => {
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const timed = Object.entries(scripts).filter(([name]) => /^bench(:|$)/.test(name) && name !== 'bench:profile-rounds');
    expect(timed.map(([name]) => name).sort()).toEqual(['bench', 'bench:ab', 'bench:dashboard', 'bench:rules', 'bench:storage']);
    for (const [name, command] of timed) {
      expect(command, name).toMatch(/&& node scripts\/bench-node\.cjs dist\/bench\/[\w-]+\.js$/);
    }
  });
});
