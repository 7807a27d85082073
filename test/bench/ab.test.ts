// Two builds compared side by side: medians per side over the rounds, B against A, and how far
// A's own rounds spread (what a difference has to exceed to mean anything).
import { describe, expect, it } from 'vitest';
import { compareSides, firstSide, type AbRun } from '../../bench/lib/ab';

const run = (side: AbRun['side'], scenario: string, round: number, perSecond: number, service: number | null, azurite: number, client: number): AbRun => ({
  side,
  scenario,
  round,
  perSecond,
  serviceCpuMsPerSnapshot: service,
  azuriteCpuMsPerSnapshot: azurite,
  clientCpuMsPerSnapshot: client,
});

describe('compareSides', () => {
  it('takes each side’s medians per scenario and sets B against A', () => {
    const [c] = compareSides([
      run('A', 'change c=8', 1, 100, 4, 4, 0.5), // 8.5 ms
      run('B', 'change c=8', 1, 120, 3, 4, 0.5), // 7.5
      run('B', 'change c=8', 2, 110, 3.5, 4, 0.5), // 8
      run('A', 'change c=8', 2, 90, 5, 4, 0.5), // 9.5
      run('A', 'change c=8', 3, 200, 3, 3, 0.5), // 6.5
      run('B', 'change c=8', 3, 130, 2.5, 4, 0.5), // 7
    ]);
    expect(c!.scenario).toBe('change c=8');
    expect(c!.a).toEqual({ runs: 3, perSecond: 100, serviceCpuMs: 4, machineCpuMs: 8.5 });
    expect(c!.b).toEqual({ runs: 3, perSecond: 120, serviceCpuMs: 3, machineCpuMs: 7.5 });
    expect(c!.throughput).toBeCloseTo(1.2, 10);
    expect(c!.machineCpu).toBeCloseTo(7.5 / 8.5, 10);
    expect(c!.aSpread[0]).toBeCloseTo(6.5 / 8.5, 10);
    expect(c!.aSpread[1]).toBeCloseTo(9.5 / 8.5, 10);
  });

  it('keeps scenarios apart, in the order they first ran', () => {
    const out = compareSides([run('A', 'steady c=8', 1, 300, 2, 2, 0.3), run('A', 'change c=8', 1, 100, 4, 4, 0.5), run('B', 'change c=8', 1, 50, 4, 4, 0.5), run('B', 'steady c=8', 1, 300, 2, 2, 0.3)]);
    expect(out.map((c) => c.scenario)).toEqual(['steady c=8', 'change c=8']);
    expect(out[1]!.throughput).toBe(0.5);
    expect(out[0]!.machineCpu).toBe(1);
  });

  it('reports a side’s CPU as unknown when one of its runs could not be read', () => {
    const [c] = compareSides([run('A', 's', 1, 100, null, 4, 0.5), run('A', 's', 2, 100, 4, 4, 0.5), run('B', 's', 1, 100, 4, 4, 0.5)]);
    expect(c!.a.serviceCpuMs).toBeNaN();
    expect(c!.a.machineCpuMs).toBeNaN();
    expect(c!.machineCpu).toBeNaN();
    expect(c!.b.machineCpuMs).toBe(8.5);
  });
});

describe('firstSide', () => {
  it('alternates, A first in odd rounds', () => {
    expect([1, 2, 3, 4].map(firstSide)).toEqual(['A', 'B', 'A', 'B']);
  });
});
