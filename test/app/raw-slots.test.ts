// The raw-slot choice, pure: the projector writes every body of this version (in commit order,
// late), after whatever mix an older deployment left (bodies its projector wrote, and bodies its
// requests wrote themselves at once); no slot ever goes back to older content and the newest two
// contents are stored once the projector has caught up.
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

  it('never puts older content over newer, and keeps the newest two once the projector caught up, also after an older deployment wrote slots of its own', () => {
    // Commits of an older deployment first: `direct` when its request wrote the body itself at
    // once (slots 2/3). Then this version's commits: every body reaches its slot through the
    // projector, whether it travelled in its outbox entry or waited in a staging row. After each
    // commit the projector catches up on `drain` of the waiting entries (in commit order).
    const older = fc.record({ direct: fc.boolean(), drain: fc.nat(3) });
    fc.assert(
      fc.property(fc.array(older, { maxLength: 12 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 30 }), (before, drains) => {
        const slots = new Map<number, number>();
        const waiting: { slot: number; content: number }[] = [];
        const write = (slot: number, content: number) => {
          expect(content, `slot ${slot} went back`).toBeGreaterThanOrEqual(slots.get(slot) ?? -1);
          slots.set(slot, content);
        };
        let last: number | undefined;
        let content = 0;
        const commit = (direct: boolean, drain: number) => {
          last = nextRawSlot(direct ? DIRECT_RAW_SLOTS : PROJECTED_RAW_SLOTS, last);
          if (direct) write(last, content);
          else waiting.push({ slot: last, content });
          content++;
          for (const w of waiting.splice(0, drain)) write(w.slot, w.content);
        };
        for (const c of before) commit(c.direct, c.drain);
        for (const drain of drains) commit(false, drain);
        for (const w of waiting.splice(0)) write(w.slot, w.content);
        const stored = new Set(slots.values());
        expect(stored.has(content - 1)).toBe(true);
        if (content >= 2) expect(stored.has(content - 2)).toBe(true);
        // This version writes only the projector's pair.
        for (const s of slots.keys()) if (s >= 2) expect(before.some((c) => c.direct)).toBe(true);
      }),
      RUNS,
    );
  });
});
