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
  /** CPU per post, ms: the process that served it (the service, or the bench process for the baseline), Azurite, and the load generator (service runs). */
  readonly serviceCpuMsPerSnapshot?: number | null;
  readonly azuriteCpuMsPerSnapshot?: number | null;
  readonly clientCpuMsPerSnapshot?: number | null;
}

export interface RoundRatio {
  readonly round: number;
  readonly throughputRatio: number;
  readonly p99Ratio: number;
  /** Baseline ÷ service CPU per post, the machine's: what the throughput ratio would be were both CPU-bound. */
  readonly cpuRatio: number;
}

export interface RatioOfRounds {
  /** Median over the rounds of service ÷ baseline throughput. */
  readonly throughputRatio: number;
  /** Median over the rounds of service ÷ baseline p99. */
  readonly p99Ratio: number;
  /** Median over the rounds of baseline ÷ service CPU per post (NaN when a run's CPU was not read). */
  readonly cpuRatio: number;
  /** Medians over the rounds of what one post cost the machine, ms of CPU. */
  readonly serviceMachineCpuMs: number;
  readonly baselineMachineCpuMs: number;
  /** Each round that has both a service and a baseline run, in round order. */
  readonly rounds: readonly RoundRatio[];
}

/**
 * What one post cost the machine, ms of CPU: the process that served it, Azurite and, for the
 * service, the load generator, which the baseline (no HTTP) does not have. On two cores all of it
 * competes for the same CPU, so this, not the service's CPU alone, bounds the throughput.
 */
export function machineCpuMs(run: Pick<RoundRun, 'target' | 'serviceCpuMsPerSnapshot' | 'azuriteCpuMsPerSnapshot' | 'clientCpuMsPerSnapshot'>): number {
  const parts = [run.serviceCpuMsPerSnapshot, run.azuriteCpuMsPerSnapshot, ...(run.target === 'service' ? [run.clientCpuMsPerSnapshot] : [])];
  return parts.every((x): x is number => typeof x === 'number') ? parts.reduce((a, b) => a + b, 0) : NaN;
}

/** The median, or NaN when any value is NaN (a run whose CPU could not be read). */
const unlessUnread = (xs: readonly number[]): number => (xs.some(Number.isNaN) ? NaN : median(xs));

/** Pairs each round's service run with its baseline run; NaN when no round has both. */
export function ratioOfRounds(runs: readonly RoundRun[]): RatioOfRounds {
  const byRound = new Map<number, { service?: RoundRun; baseline?: RoundRun }>();
  for (const r of runs) byRound.set(r.round, { ...byRound.get(r.round), [r.target]: r });
  const rounds: RoundRatio[] = [...byRound]
    .sort(([a], [b]) => a - b)
    .flatMap(([round, { service: s, baseline: b }]) => (s && b ? [{ round, throughputRatio: s.perSecond / b.perSecond, p99Ratio: s.p99Ms / b.p99Ms, cpuRatio: machineCpuMs(b) / machineCpuMs(s) }] : []));
  const paired = runs.filter((r) => rounds.some((x) => x.round === r.round));
  return {
    throughputRatio: median(rounds.map((r) => r.throughputRatio)),
    p99Ratio: median(rounds.map((r) => r.p99Ratio)),
    cpuRatio: unlessUnread(rounds.map((r) => r.cpuRatio)),
    serviceMachineCpuMs: unlessUnread(paired.filter((r) => r.target === 'service').map(machineCpuMs)),
    baselineMachineCpuMs: unlessUnread(paired.filter((r) => r.target === 'baseline').map(machineCpuMs)),
    rounds,
  };
}

/** Whether the service runs first in this round: alternating, so a drift across the run favours neither side. */
export const serviceFirst = (round: number): boolean => round % 2 === 1;
