// The order of two snapshots of a server and the rules of a Hosts row write, without storage: a
// row that reflects a newer snapshot stays, the earliest first-seen time is kept, and a batch
// holds one record per server, the newest, as writes one after another would leave it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostState, hostWrite, newestPerServer } from '../../src/store/host-rows';
import type { HostRecord } from '../../src/store';
import { isNewerSnapshot } from '../../src/store/snapshot-order';
import { propertyRuns } from '../support/property-runs';

const RUNS = { numRuns: propertyRuns(200), seed: 20261206 } as const;
const T = Date.parse('2026-12-06T10:00:00.000Z');

const host = (over: Partial<HostRecord> = {}): HostRecord =>
  ({ server: 's1', hostName: 'S1', collectorName: 'c', collectorVersion: '1', firstSeen: T, lastSeen: T, lastSnapshotId: 'a', lastCollectedAt: T, ...over }) as HostRecord;

describe('isNewerSnapshot', () => {
  it('orders by collection time, then by snapshot id, and never calls a snapshot newer than itself', () => {
    expect(isNewerSnapshot({ collectedAt: 2, snapshotId: 'a' }, { collectedAt: 1, snapshotId: 'z' })).toBe(true);
    expect(isNewerSnapshot({ collectedAt: 1, snapshotId: 'z' }, { collectedAt: 2, snapshotId: 'a' })).toBe(false);
    expect(isNewerSnapshot({ collectedAt: 1, snapshotId: 'b' }, { collectedAt: 1, snapshotId: 'a' })).toBe(true);
    expect(isNewerSnapshot({ collectedAt: 1, snapshotId: 'a' }, { collectedAt: 1, snapshotId: 'b' })).toBe(false);
    expect(isNewerSnapshot({ collectedAt: 1, snapshotId: 'a' }, { collectedAt: 1, snapshotId: 'a' })).toBe(false);
  });

  it('is a strict total order: of two different snapshots exactly one is the newer', () => {
    const snap = fc.record({ collectedAt: fc.integer({ min: 0, max: 5 }), snapshotId: fc.constantFrom('a', 'b', 'c') });
    fc.assert(
      fc.property(snap, snap, snap, (a, b, c) => {
        const same = a.collectedAt === b.collectedAt && a.snapshotId === b.snapshotId;
        expect(Number(isNewerSnapshot(a, b)) + Number(isNewerSnapshot(b, a))).toBe(same ? 0 : 1);
        if (isNewerSnapshot(a, b) && isNewerSnapshot(b, c)) expect(isNewerSnapshot(a, c)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('hostState', () => {
  it('reads the first-seen and last-collected times and the ETag of a row, a missing time as 0', () => {
    expect(hostState({ FirstSeen: new Date(T), LastCollectedAt: new Date(T + 5), etag: 'W/"2"' })).toStrictEqual({ firstSeen: T, lastCollectedAt: T + 5, etag: 'W/"2"' });
    expect(hostState({ etag: 'W/"3"' })).toStrictEqual({ firstSeen: 0, lastCollectedAt: 0, etag: 'W/"3"' });
  });
});

describe('hostWrite', () => {
  it('creates a missing row as it is', () => {
    const h = host();
    expect(hostWrite(h, undefined)).toStrictEqual({ record: h });
  });

  it('leaves a row that reflects a newer snapshot, and replaces one of the same or an older one under its ETag', () => {
    const h = host({ lastCollectedAt: T });
    expect(hostWrite(h, { firstSeen: T, lastCollectedAt: T + 1, etag: 'e' })).toBeUndefined();
    expect(hostWrite(h, { firstSeen: T, lastCollectedAt: T, etag: 'e' })).toStrictEqual({ record: h, etag: 'e' });
    expect(hostWrite(h, { firstSeen: T, lastCollectedAt: T - 1, etag: 'e' })).toStrictEqual({ record: h, etag: 'e' });
  });

  it('keeps the earlier first-seen time, either one, a missing one (0) aside', () => {
    const at = (firstSeen: number, rowFirstSeen: number) => hostWrite(host({ firstSeen }), { firstSeen: rowFirstSeen, lastCollectedAt: 0, etag: 'e' })?.record.firstSeen;
    expect([at(T, T - 9), at(T - 9, T), at(T, 0), at(0, T), at(0, 0)]).toEqual([T - 9, T - 9, T, T, 0]);
  });
});

describe('newestPerServer', () => {
  it('keeps one record per server: the newest, the later one on a tie, with the earliest first-seen time of any', () => {
    const a1 = host({ server: 'a', lastSnapshotId: 'a1', lastCollectedAt: T, firstSeen: T - 50 });
    const a2 = host({ server: 'a', lastSnapshotId: 'a2', lastCollectedAt: T + 10, firstSeen: T });
    const a3 = host({ server: 'a', lastSnapshotId: 'a3', lastCollectedAt: T + 5, firstSeen: T - 100 });
    const b1 = host({ server: 'b', lastSnapshotId: 'b1', lastCollectedAt: T, firstSeen: T });
    const b2 = host({ server: 'b', lastSnapshotId: 'b2', lastCollectedAt: T, firstSeen: 0 });
    const out = newestPerServer([a1, b1, a2, a3, b2]);
    expect(out.map((h) => [h.server, h.lastSnapshotId, h.firstSeen])).toEqual([
      ['a', 'a2', T - 100],
      ['b', 'b2', T],
    ]);
  });

  it('leaves a lone record as it is', () => {
    const only = host();
    expect(newestPerServer([only])[0]).toBe(only);
  });
});
