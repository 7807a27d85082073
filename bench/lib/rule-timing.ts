// Rule evaluation time per snapshot: every registered rule on one normalised snapshot, median of
// many runs after a warm-up (and, for reference, parse + normalise + evaluate).
import { evaluateAll } from '../../src/rules/registry';
import type { Rule } from '../../src/rules/types';
import { normalise, type Doc } from './fleet';
import { percentile } from './measure';

export interface RuleTiming {
  readonly class: string;
  readonly verdicts: string[];
  readonly evaluateMedianUs: number;
  readonly evaluateP99Us: number;
  readonly parseAndEvaluateMedianUs: number;
  readonly runs: number;
}

function time(runs: number, warmup: number, fn: () => unknown): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const samples = new Array<number>(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return samples.sort((a, b) => a - b);
}

export function measureRules(classes: readonly { name: string; doc: Doc }[], rules: readonly Rule[], runs = 20_000): RuleTiming[] {
  return classes.map(({ name, doc }) => {
    const snap = normalise(doc);
    const e = time(runs, 2_000, () => evaluateAll(snap, rules));
    const pe = time(Math.max(200, Math.floor(runs / 10)), 200, () => evaluateAll(normalise(doc), rules));
    return {
      class: name,
      verdicts: evaluateAll(snap, rules).map((r) => `${r.ruleId}:${r.status}/${r.reasonCode}`),
      evaluateMedianUs: percentile(e, 50),
      evaluateP99Us: percentile(e, 99),
      parseAndEvaluateMedianUs: percentile(pe, 50),
      runs,
    };
  });
}
