// The benchmark's ratio of service to baseline: rounds paired by number, the median of their own
// ratios, so one disturbed run moves one round and not the result.
import { describe, expect, it } from 'vitest';
import { machineCpuMs, ratioOfRounds, serviceFirst, type RoundRun } from '../../bench/lib/rounds';

const run = (target: RoundRun['target'], round: number, perSecond: number, p99Ms: number): RoundRun => ({ target, round, perSecond, p99Ms });

describe('ratioOfRounds', () => {
  it('pairs each round with its own baseline and takes the median of the rounds', () => {
    const r = ratioOfRounds([
      run('service', 1, 70, 20),
      run('baseline', 1, 100, 10),
      // A round whose baseline was disturbed: its ratio is far off, the median is not.
      run('baseline', 2, 40, 40),
      run('service', 2, 80, 15),
      run('service', 3, 60, 30),
      run('baseline', 3, 100, 20),
    ]);
    expect(r.rounds.map((x) => x.round)).toEqual([1, 2, 3]);
    expect(r.rounds.map((x) => x.throughputRatio)).toEqual([0.7, 2, 0.6]);
    expect(r.throughputRatio).toBe(0.7);
    expect(r.rounds.map((x) => x.p99Ratio)).toEqual([2, 0.375, 1.5]);
    expect(r.p99Ratio).toBe(1.5);
  });

  it('averages the middle two of an even number of rounds', () => {
    const r = ratioOfRounds([run('service', 1, 50, 10), run('baseline', 1, 100, 10), run('service', 2, 90, 30), run('baseline', 2, 100, 10)]);
    expect(r.throughputRatio).toBeCloseTo(0.7, 10);
    expect(r.p99Ratio).toBe(2);
  });

  it('leaves out a round that lacks one side, and is NaN when no round has both', () => {
    const r = ratioOfRounds([run('service', 1, 50, 10), run('baseline', 1, 100, 10), run('service', 2, 90, 30)]);
    expect(r.rounds).toHaveLength(1);
    expect(r.throughputRatio).toBe(0.5);
    expect(ratioOfRounds([run('service', 1, 50, 10)]).throughputRatio).toBeNaN();
  });
});

describe('serviceFirst', () => {
  it('alternates which side runs first, the service in the first round', () => {
    expect([1, 2, 3, 4].map(serviceFirst)).toEqual([true, false, true, false]);
  });
});

describe('machine CPU per post', () => {
  const cpu = (target: RoundRun['target'], round: number, perSecond: number, serviceCpu: number, azuriteCpu: number, clientCpu?: number): RoundRun => ({
    target,
    round,
    perSecond,
    p99Ms: 10,
    serviceCpuMsPerSnapshot: serviceCpu,
    azuriteCpuMsPerSnapshot: azuriteCpu,
    clientCpuMsPerSnapshot: clientCpu,
  });

  it('counts the load generator for the service and not for the baseline, which has none', () => {
    expect(machineCpuMs(cpu('service', 1, 100, 4, 3.5, 0.5))).toBe(8);
    // A baseline run carries no client figure; one given anyway is not its cost.
    expect(machineCpuMs(cpu('baseline', 1, 100, 2, 3, 0.5))).toBe(5);
  });

  it('is NaN when a part could not be read, and so is every median it enters', () => {
    expect(machineCpuMs({ ...cpu('service', 1, 100, 4, 3.5, 0.5), azuriteCpuMsPerSnapshot: null })).toBeNaN();
    expect(machineCpuMs({ target: 'service', serviceCpuMsPerSnapshot: 4, azuriteCpuMsPerSnapshot: 3 })).toBeNaN();
    const r = ratioOfRounds([cpu('service', 1, 60, 4, 3.5, 0.5), cpu('baseline', 1, 100, 2, 3), { ...cpu('service', 2, 60, 4, 3.5, 0.5), serviceCpuMsPerSnapshot: null }, cpu('baseline', 2, 100, 2, 3)]);
    expect(r.throughputRatio).toBeCloseTo(0.6, 10);
    expect(r.cpuRatio).toBeNaN();
    expect(r.serviceMachineCpuMs).toBeNaN();
    expect(r.baselineMachineCpuMs).toBe(5);
  });

  it('gives each round baseline ÷ service CPU, and the medians over the rounds paired', () => {
    const r = ratioOfRounds([
      cpu('service', 1, 60, 4, 3.5, 0.5), // 8 ms
      cpu('baseline', 1, 100, 2, 3), // 5 ms
      cpu('service', 2, 70, 3, 3, 0), // 6 ms
      cpu('baseline', 2, 100, 1.5, 3), // 4.5 ms
      cpu('service', 3, 50, 5, 4, 1), // 10 ms
      cpu('baseline', 3, 100, 3, 3), // 6 ms
      // A round without its baseline is not paired, so its cost is left out too.
      cpu('service', 4, 10, 50, 50, 50),
    ]);
    expect(r.rounds.map((x) => x.cpuRatio)).toEqual([0.625, 0.75, 0.6]);
    expect(r.cpuRatio).toBe(0.625);
    expect(r.serviceMachineCpuMs).toBe(8);
    expect(r.baselineMachineCpuMs).toBe(5);
  });
});
