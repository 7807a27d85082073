// Service against baseline, measured in rounds. A single pair of runs a few seconds long moved by
// ±30 % between runs on the same code (Azurite's garbage collection, the machine's other work), so
// each concurrency runs several rounds, service and baseline back to back with the order
// alternating, and the ratio reported is the median of the rounds' own ratios: one disturbed run
// moves one round, not the result.
import { median } from './measure';

export interface RoundRun {
  readonly target: 'service' | 'baseline';
  /** 1-based. */
  readonly round: number;
  readonly perSecond: number;
  readonly p99Ms: number;
}

export interface RoundRatio {
  readonly round: number;
  readonly throughputRatio: number;
  readonly p99Ratio: number;
}

export interface RatioOfRounds {
  /** Median over the rounds of service ÷ baseline throughput. */
  readonly throughputRatio: number;
  /** Median over the rounds of service ÷ baseline p99. */
  readonly p99Ratio: number;
  /** Each round that has both a service and a baseline run, in round order. */
  readonly rounds: readonly RoundRatio[];
}

/** Pairs each round's service run with its baseline run; NaN when no round has both. */
export function ratioOfRounds(runs: readonly RoundRun[]): RatioOfRounds {
  const byRound = new Map<number, { service?: RoundRun; baseline?: RoundRun }>();
  for (const r of runs) byRound.set(r.round, { ...byRound.get(r.round), [r.target]: r });
  const rounds: RoundRatio[] = [...byRound]
    .sort(([a], [b]) => a - b)
    .flatMap(([round, { service: s, baseline: b }]) => (s && b ? [{ round, throughputRatio: s.perSecond / b.perSecond, p99Ratio: s.p99Ms / b.p99Ms }] : []));
  return {
    throughputRatio: median(rounds.map((r) => r.throughputRatio)),
    p99Ratio: median(rounds.map((r) => r.p99Ratio)),
    rounds,
  };
}

/** Whether the service runs first in this round: alternating, so a drift across the run favours neither side. */
export const serviceFirst = (round: number): boolean => round % 2 === 1;
