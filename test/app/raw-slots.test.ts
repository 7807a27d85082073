// The raw-slot choice, pure: whatever mix of bodies the projector writes (in commit order, late)
// and bodies requests write themselves (at once), no slot ever goes back to older content and the
// newest two contents are stored once the projector has caught up.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DIRECT_RAW_SLOTS, nextRawSlot, PROJECTED_RAW_SLOTS, rawSlotOf } from '../../src/store/raw-slots';
import { propertyRuns } from '../support/property-runs';

const RUNS = { numRuns: propertyRuns(300), seed: 20261201 } as const;

describe('raw slots', () => {
  it('alternates within each pair, and starts a pair at its first slot after the other pair', () => {
    expect(nextRawSlot(PROJECTED_RAW_SLOTS, undefined)).toBe(0);
    expect(nextRawSlot(PROJECTED_RAW_SLOTS, 0)).toBe(1);
    expect(nextRawSlot(PROJECTED_RAW_SLOTS, 1)).toBe(0);
    expect(nextRawSlot(PROJECTED_RAW_SLOTS, 3)).toBe(0);
    expect(nextRawSlot(DIRECT_RAW_SLOTS, undefined)).toBe(2);
    expect(nextRawSlot(DIRECT_RAW_SLOTS, 1)).toBe(2);
    expect(nextRawSlot(DIRECT_RAW_SLOTS, 2)).toBe(3);
    expect(nextRawSlot(DIRECT_RAW_SLOTS, 3)).toBe(2);
    // Rows of older versions name no slot, or one of the projector's.
    expect([undefined, 0, 1, 2, 3, 7, -1].map((s) => rawSlotOf(s))).toEqual([0, 0, 1, 2, 3, 0, 0]);
  });

  it('never puts older content over newer, and keeps the newest two once the projector caught up', () => {
    // Each commit is new content: `direct` when its body is too large for its outbox entry; after
    // it, the projector catches up on `drain` of the waiting entries (in commit order).
    const commit = fc.record({ direct: fc.boolean(), drain: fc.nat(3) });
    fc.assert(
      fc.property(fc.array(commit, { minLength: 1, maxLength: 30 }), (commits) => {
        const slots = new Map<number, number>();
        const waiting: { slot: number; content: number }[] = [];
        const write = (slot: number, content: number) => {
          expect(content, `slot ${slot} went back`).toBeGreaterThanOrEqual(slots.get(slot) ?? -1);
          slots.set(slot, content);
        };
        let last: number | undefined;
        for (const [content, c] of commits.entries()) {
          last = nextRawSlot(c.direct ? DIRECT_RAW_SLOTS : PROJECTED_RAW_SLOTS, last);
          if (c.direct) write(last, content);
          else waiting.push({ slot: last, content });
          for (const w of waiting.splice(0, c.drain)) write(w.slot, w.content);
        }
        for (const w of waiting.splice(0)) write(w.slot, w.content);
        const stored = new Set(slots.values());
        const n = commits.length;
        expect(stored.has(n - 1)).toBe(true);
        if (n >= 2) expect(stored.has(n - 2)).toBe(true);
      }),
      RUNS,
    );
  });
});
