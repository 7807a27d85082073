// The benchmark's ratio of service to baseline: rounds paired by number, the median of their own
// ratios, so one disturbed run moves one round and not the result.
import { describe, expect, it } from 'vitest';
import { ratioOfRounds, serviceFirst, type RoundRun } from '../../bench/lib/rounds';

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
