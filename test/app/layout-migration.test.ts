// Where the layout migration puts a server's older raw rows: the slots keep the newest two
// contents, the newest in the slot the older layout had it in, and never lose newer content. The
// service test (test/service/layout-migration.test.ts) runs the job on Azurite.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planOlderRaw, type OlderRaw } from '../../src/app/layout-migration';
import { isNewerSnapshot, type RawSnapshotMeta } from '../../src/store';
import { propertyRuns } from '../support/property-runs';

const meta = (minute: number, content = `c${minute}`): RawSnapshotMeta => ({
  server: 's.example',
  snapshotId: `snap-${minute}-${content}`,
  collectedAt: minute * 60_000,
  receivedAt: minute * 60_000 + 1,
  contentHash: `sha256:${content}`,
  rawBytes: 10,
  rawStored: true,
});
const row = (rowKey: string, minute: number, content?: string): OlderRaw => ({ rowKey, meta: meta(minute, content) });

describe('planOlderRaw', () => {
  it('keeps the older slot rows in their slots when the bucket has none', () => {
    expect(planOlderRaw([row('slot0', 1), row('slot1', 2)], new Map())).toEqual([
      { rowKey: 'slot1', slot: 1 },
      { rowKey: 'slot0', slot: 0 },
    ]);
  });

  it('puts rows keyed by time in slot 0 (newest) and 1, and removes the rest', () => {
    expect(planOlderRaw([row('t-old', 1), row('t-new', 3), row('t-mid', 2)], new Map())).toEqual([
      { rowKey: 't-new', slot: 0 },
      { rowKey: 't-mid', slot: 1 },
      { rowKey: 't-old' },
    ]);
  });

  it('never replaces a newer slot: a row older than both slots is only removed', () => {
    const slots = new Map([
      [0, meta(10)],
      [1, meta(9)],
    ]);
    expect(planOlderRaw([row('slot0', 1), row('slot1', 2)], slots)).toEqual([{ rowKey: 'slot1' }, { rowKey: 'slot0' }]);
  });

  it('fills the free slot beside newer content, as the previous content', () => {
    expect(planOlderRaw([row('slot0', 1), row('slot1', 2)], new Map([[0, meta(10)]]))).toEqual([{ rowKey: 'slot1', slot: 1 }, { rowKey: 'slot0' }]);
    // Its own slot taken by newer content: the other one, when free.
    expect(planOlderRaw([row('slot0', 2)], new Map([[0, meta(10)]]))).toEqual([{ rowKey: 'slot0', slot: 1 }]);
  });

  it('removes a row whose content a slot holds already, as new or newer', () => {
    expect(planOlderRaw([row('slot1', 2, 'same')], new Map([[0, meta(5, 'same')]]))).toEqual([{ rowKey: 'slot1' }]);
    // Held as an older snapshot: that slot takes the newer one of the same content.
    expect(planOlderRaw([row('slot0', 6, 'same')], new Map([[1, meta(5, 'same')], [0, meta(4)]]))).toEqual([{ rowKey: 'slot0', slot: 1 }]);
    // A direct slot (2, 3) counts too.
    expect(planOlderRaw([row('slot0', 2, 'same')], new Map([[3, meta(2, 'same')]]))).toEqual([{ rowKey: 'slot0' }]);
  });

  it('replaces only older content, the oldest first when no slot is free', () => {
    const slots = new Map([
      [0, meta(1)],
      [1, meta(2)],
    ]);
    expect(planOlderRaw([row('slot1', 5)], slots)).toEqual([{ rowKey: 'slot1', slot: 0 }]);
    expect(planOlderRaw([row('slot0', 5)], slots)).toEqual([{ rowKey: 'slot0', slot: 0 }]);
    // Newer than one of them only: that one.
    expect(planOlderRaw([row('slot0', 2)], new Map([[0, meta(3)], [1, meta(1)]]))).toEqual([{ rowKey: 'slot0', slot: 1 }]);
  });

  it('for any rows and slots: nothing newer is replaced, and the projected slots end with the newest two contents', () => {
    const minute = fc.integer({ min: 0, max: 40 });
    const content = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    const arbitraryRows = fc.uniqueArray(fc.record({ key: fc.constantFrom('slot0', 'slot1', 't1', 't2', 't3'), minute, content }), { selector: (r) => r.key, maxLength: 5 });
    const arbitrarySlots = fc.record({ s0: fc.option(fc.record({ minute, content })), s1: fc.option(fc.record({ minute, content })) });
    fc.assert(
      fc.property(arbitraryRows, arbitrarySlots, (rows, { s0, s1 }) => {
        // The projector writes a slot only with content the other lacks: two slots never share one.
        fc.pre(!(s0 && s1 && s0.content === s1.content));
        const slots = new Map<number, RawSnapshotMeta>();
        if (s0) slots.set(0, meta(s0.minute, s0.content));
        if (s1) slots.set(1, meta(s1.minute, s1.content));
        const older = rows.map((r) => row(r.key, r.minute, r.content));
        const plan = planOlderRaw(older, slots);
        expect(plan.map((s) => s.rowKey).sort()).toEqual(older.map((r) => r.rowKey).sort());
        const held = new Map(slots);
        for (const step of plan) {
          if (step.slot === undefined) continue;
          const incoming = older.find((r) => r.rowKey === step.rowKey)!.meta;
          const before = held.get(step.slot);
          // Only an empty slot, or one holding an older snapshot, takes a row.
          if (before) expect(isNewerSnapshot(incoming, before)).toBe(true);
          held.set(step.slot, incoming);
        }
        // The newest two contents of all are held.
        const all = [...older.map((r) => r.meta), ...slots.values()].sort((a, b) => (isNewerSnapshot(a, b) ? -1 : isNewerSnapshot(b, a) ? 1 : 0));
        if (all.length === 0) return;
        const heldHashes = new Set([...held.values()].map((m) => m.contentHash));
        expect(heldHashes.has(all[0]!.contentHash)).toBe(true);
        const second = all.find((m) => m.contentHash !== all[0]!.contentHash);
        if (second) expect(heldHashes.has(second.contentHash)).toBe(true);
      }),
      { numRuns: propertyRuns(300) },
    );
  });
});
