// Where the projector's one-by-one pass probes a failed batch before deciding the cause is global:
// spread over the batch, so bad entries lying together anywhere short of the whole batch leave at
// least one probe on a good entry, while a cause that hits every entry fails every probe.
// Also: the one key it groups servers by covers both counts shards their writes update.
import { describe, expect, it } from 'vitest';
import { furtherProbes, probePositions } from '../../src/app/projection-one-by-one';
import { bucketOf, COUNT_SHARDS, driftShardOf } from '../../src/store';

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

describe('furtherProbes', () => {
  it('takes three distinct servers not probed yet, as many as are left, where the random source says', () => {
    const probed = new Set(probePositions(10));
    expect(furtherProbes(10, probed, () => 0)).toEqual([1, 2, 3]);
    expect(furtherProbes(10, probed, () => 0.999)).toEqual([8, 7, 6]);
    // A source answering its upper bound (1, outside its contract) still picks the last server left.
    expect(furtherProbes(10, probed, () => 1)).toEqual([8, 7, 6]);
    expect(furtherProbes(5, new Set(probePositions(5)), () => 0.5)).toEqual([3, 1]);
    expect(furtherProbes(3, new Set(probePositions(3)), () => 0.5)).toEqual([]);
  });

  it('can fall on every server, so no fixed set of bad servers stops every run', () => {
    const probed = new Set(probePositions(50));
    const reached = new Set<number>();
    for (let i = 0; i < 50; i++) for (const at of furtherProbes(50, probed, () => i / 50)) reached.add(at);
    expect([...reached].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, at) => at).filter((at) => !probed.has(at)));
  });
});

describe('the shard the one-by-one pass groups servers by', () => {
  it("is each server's drift shard as well as its rule-index shard, so servers sharing either are never written side by side", () => {
    const names = Array.from({ length: 2000 }, (_, i) => `srv${i}.corp${i % 7}.contoso.com`);
    for (const name of names) expect(driftShardOf(name), name).toBe(bucketOf(name, COUNT_SHARDS));
    // Many names, spread over every shard: the agreement is not one of a few shards only.
    expect(new Set(names.map(driftShardOf)).size).toBe(COUNT_SHARDS);
  });
});
