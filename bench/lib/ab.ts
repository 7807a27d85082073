// Two builds of the service side by side (bench/ab.ts): runs of each side, in rounds, summed up as
// the median over the rounds of what a post cost the machine and how fast posts went, and B
// against A. Between runs of `npm run bench` the same code's cost per post moved by a quarter on
// this machine, so a change in the code is compared within one run, on one Azurite, in turns.
import { median } from './measure';
import { machineCpuMs } from './rounds';

export type Side = 'A' | 'B';

export interface AbRun {
  readonly side: Side;
  readonly scenario: string;
  readonly round: number;
  readonly perSecond: number;
  readonly serviceCpuMsPerSnapshot: number | null;
  readonly azuriteCpuMsPerSnapshot: number | null;
  readonly clientCpuMsPerSnapshot: number | null;
  /**
   * The timed posts' span on the monotonic clock V8's CPU profiles use, and the service's pid: what
   * `npm run bench:profile-rounds` cuts a `BENCH_PROFILE` profile to.
   */
  readonly window?: { readonly pid?: number; readonly fromUs: number; readonly toUs: number };
}

export interface AbSide {
  readonly runs: number;
  readonly perSecond: number;
  readonly serviceCpuMs: number;
  readonly machineCpuMs: number;
}

export interface AbComparison {
  readonly scenario: string;
  readonly a: AbSide;
  readonly b: AbSide;
  /** B ÷ A, medians: above 1, B posts faster or costs more. */
  readonly throughput: number;
  readonly machineCpu: number;
  /** The range of A's own rounds' machine CPU over its median: how far one side moves by itself. */
  readonly aSpread: readonly [number, number];
}

/** What a post of this run cost the machine: both sides are services, load generator included. */
const costOf = (r: AbRun): number => machineCpuMs({ ...r, target: 'service' });

const sideOf = (runs: readonly AbRun[]): AbSide => {
  const cost = runs.map(costOf);
  return {
    runs: runs.length,
    perSecond: median(runs.map((r) => r.perSecond)),
    serviceCpuMs: runs.some((r) => r.serviceCpuMsPerSnapshot === null) ? NaN : median(runs.map((r) => r.serviceCpuMsPerSnapshot!)),
    machineCpuMs: cost.some(Number.isNaN) ? NaN : median(cost),
  };
};

/** One comparison per scenario, in the order the scenarios first ran. */
export function compareSides(runs: readonly AbRun[]): AbComparison[] {
  const scenarios = [...new Set(runs.map((r) => r.scenario))];
  return scenarios.map((scenario) => {
    const of = (side: Side) => runs.filter((r) => r.scenario === scenario && r.side === side);
    const a = sideOf(of('A'));
    const b = sideOf(of('B'));
    const aCosts = of('A').map(costOf);
    return {
      scenario,
      a,
      b,
      throughput: b.perSecond / a.perSecond,
      machineCpu: b.machineCpuMs / a.machineCpuMs,
      aSpread: [Math.min(...aCosts) / a.machineCpuMs, Math.max(...aCosts) / a.machineCpuMs],
    };
  });
}

/** Which side runs first in a round: alternating, so a drift over the run favours neither. */
export const firstSide = (round: number): Side => (round % 2 === 1 ? 'A' : 'B');
