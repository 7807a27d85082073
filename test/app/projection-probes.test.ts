// Where the projector's one-by-one pass probes a failed batch before deciding the cause is global:
// spread over the batch, so bad entries lying together anywhere short of the whole batch leave at
// least one probe on a good entry, while a cause that hits every entry fails every probe.
import { describe, expect, it } from 'vitest';
import { probePositions } from '../../src/app/projection-one-by-one';

describe('probePositions', () => {
  it('takes the first, middle and last server, each once, and none of an empty batch', () => {
    expect(probePositions(0)).toEqual([]);
    expect(probePositions(1)).toEqual([0]);
    expect(probePositions(2)).toEqual([0, 1]);
    expect(probePositions(3)).toEqual([0, 1, 2]);
    expect(probePositions(13)).toEqual([0, 6, 12]);
  });

  it('leaves a probe outside any run of bad servers that does not span the whole batch', () => {
    for (let n = 3; n <= 40; n++) {
      const probes = probePositions(n);
      for (let from = 0; from < n; from++) {
        for (let to = from; to < n; to++) {
          if (from === 0 && to === n - 1) continue;
          expect(probes.some((p) => p < from || p > to), `${n} servers, bad ${from}..${to}`).toBe(true);
        }
      }
    }
  });
});
