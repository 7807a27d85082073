// Cutting a CPU profile to the timed rounds: only samples inside a span count, each for the time
// until the next sample, charged to its innermost frame's part and to every service function on
// its stack once.
import { describe, expect, it } from 'vitest';
import { costInSpans, partOf, type CpuProfile } from '../../bench/lib/profile-rounds';

const SRC = 'file:///repo/dist/src/app/ingest.js';
const SDK = 'file:///repo/node_modules/@azure/data-tables/dist/commonjs/TableClient.js';

// root → #commit (ingest) → #commit again (a recursive call) → the SDK; root → GC; root → idle
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 5, 6] },
    { id: 2, callFrame: { functionName: '#commit', url: SRC }, children: [3] },
    { id: 3, callFrame: { functionName: '#commit', url: SRC }, children: [4] },
    { id: 4, callFrame: { functionName: 'submitTransaction', url: SDK } },
    { id: 5, callFrame: { functionName: '(garbage collector)', url: '' } },
    { id: 6, callFrame: { functionName: '(idle)', url: '' } },
  ],
  startTime: 10_000,
  // Samples at 10,000, 11,000, 12,000, 13,000, 13,500 and 16,000 µs.
  samples: [4, 4, 5, 6, 2, 4],
  timeDeltas: [0, 1_000, 1_000, 1_000, 500, 2_500],
};

describe('costInSpans', () => {
  it('counts the samples inside the spans, each until the next sample, idle left out', () => {
    const cost = costInSpans(profile, [{ fromUs: 10_500, toUs: 13_600 }]);
    // 11,000 (SDK, 1 ms), 12,000 (GC, 1 ms), 13,000 (idle), 13,500 (#commit, 2.5 ms)
    expect(cost.sampledMs).toBe(4.5);
    expect(Object.fromEntries(cost.self)).toEqual({ 'npm:@azure/data-tables': 1, GC: 1, 'src:app/ingest': 2.5 });
    // A recursive call counts once per sample.
    expect(Object.fromEntries(cost.inclusive)).toEqual({ 'app/ingest:#commit': 3.5 });
  });

  it('adds up several spans, and leaves out what lies between them and at their ends', () => {
    const cost = costInSpans(profile, [
      { fromUs: 10_000, toUs: 11_000 },
      { fromUs: 16_000, toUs: 17_000 },
    ]);
    // 10,000 (SDK, 1 ms) and 16,000 (SDK, the last sample: no time after it); 11,000 is the first span's end
    expect(cost.sampledMs).toBe(1);
    expect(Object.fromEntries(cost.self)).toEqual({ 'npm:@azure/data-tables': 1 });
    expect(costInSpans(profile, [{ fromUs: 0, toUs: 9_999 }]).sampledMs).toBe(0);
  });
});

describe('partOf', () => {
  it('names V8, a package, the service or bench module, or a part of Node', () => {
    expect(partOf({ functionName: '(garbage collector)', url: '' })).toBe('GC');
    expect(partOf({ functionName: '(program)', url: '' })).toBe('program');
    expect(partOf({ functionName: 'x', url: 'file:///r/node_modules/zod/v4/core/parse.js' })).toBe('npm:zod');
    expect(partOf({ functionName: 'x', url: 'file:///r/dist/src/store/outbox-store.js' })).toBe('src:store/outbox-store');
    expect(partOf({ functionName: 'x', url: 'file:///r/dist/bench/lib/http.js' })).toBe('bench:lib/http');
    expect(partOf({ functionName: 'x', url: 'node:internal/deps/undici/undici' })).toBe('node:deps');
    expect(partOf({ functionName: 'x', url: 'node:zlib' })).toBe('node:zlib');
    expect(partOf({ functionName: 'writev', url: '' })).toBe('native:writev');
  });
});
