// The Drift table against real Azurite: members move between configurations and statuses with
// their counters in one transaction; replays, older snapshots and concurrent writers never count
// a server twice; emptied counter rows go; reading a rule's drift reads counter rows only; the
// baseline row is guarded by its ETag.
import { describe, expect, it } from 'vitest';
import { mergeClusters } from '../../src/app/drift';
import { onDriftStore } from '../support/drift';
import type { DriftStore, PostureStore} from '../../src/store';
import { ConcurrencyConflictError, DRIFT_SHARDS, type DriftMember } from '../../src/store';

let store: PostureStore;
let drift: DriftStore;
onDriftStore((s) => ({ store, drift } = s));

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
let seq = 0;
/** A member of `rule` from a snapshot `minutes` after T0. */
function member(rule: string, server: string, fingerprint: string, status: string, minutes = seq++): DriftMember {
  return { ruleId: rule, server, fingerprint, factsJson: JSON.stringify({ fp: fingerprint }), status, sourceSnapshotId: `snap-${minutes}`, sourceCollectedAt: T0 + minutes * 60_000 };
}

async function clusters(rule: string) {
  const { rows, entitiesRead } = await drift.listCounts(rule);
  const merged = mergeClusters(rows.map((r) => ({ ...r, facts: JSON.parse(r.factsJson) as Record<string, string> })));
  return { merged, entitiesRead, rows };
}

describe('drift counters', () => {
  it('count each server once per configuration and status; a read touches counter rows only', async () => {
    const rule = 'count-rule';
    await Promise.all(Array.from({ length: 30 }, (_, i) => drift.syncMember(member(rule, `s${i}`, 'fp-a', i % 3 === 0 ? 'Warning' : 'Pass'))));
    await Promise.all(Array.from({ length: 3 }, (_, i) => drift.syncMember(member(rule, `odd${i}`, 'fp-b', 'Pass'))));
    const { merged, entitiesRead } = await clusters(rule);
    expect(merged.map((c) => [c.fingerprint, c.servers, c.counts.Pass, c.counts.Warning])).toEqual([
      ['fp-a', 30, 20, 10],
      ['fp-b', 3, 3, 0],
    ]);
    // 33 member rows exist, but only counter rows are read: at most one per configuration and shard.
    expect(entitiesRead).toBeLessThanOrEqual(2 * DRIFT_SHARDS);
    expect(merged[1]!.sample).toEqual(['odd0', 'odd1', 'odd2']);
    expect(merged[0]!.facts).toEqual({ fp: 'fp-a' });
  });

  it('move a server between statuses and configurations, and prune the row it emptied', async () => {
    const rule = 'move-rule';
    await drift.syncMember(member(rule, 'x1', 'fp-1', 'Pass'));
    await drift.syncMember(member(rule, 'x1', 'fp-1', 'Warning'));
    let { merged } = await clusters(rule);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ fingerprint: 'fp-1', servers: 1, counts: { Pass: 0, Warning: 1 }, sample: ['x1'] });

    await drift.syncMember(member(rule, 'x1', 'fp-2', 'Pass'));
    const after = await clusters(rule);
    expect(after.merged.map((c) => [c.fingerprint, c.servers, c.sample])).toEqual([['fp-2', 1, ['x1']]]);
    // The fp-1 row emptied and was deleted, not left as zeros.
    expect(after.rows.map((r) => r.fingerprint)).toEqual(['fp-2']);
    expect(await drift.getMember(rule, 'x1')).toMatchObject({ fingerprint: 'fp-2', status: 'Pass', factsJson: '{"fp":"fp-2"}' });

    // A second server keeps fp-1's row alive when the first leaves.
    await drift.syncMember(member(rule, 'y1', 'fp-1', 'Pass'));
    await drift.syncMember(member(rule, 'y2', 'fp-1', 'Pass'));
    await drift.syncMember(member(rule, 'y1', 'fp-2', 'Pass'));
    ({ merged } = await clusters(rule));
    expect(merged.map((c) => [c.fingerprint, c.servers, c.sample])).toEqual([
      ['fp-2', 2, ['x1', 'y1']],
      ['fp-1', 1, ['y2']],
    ]);
  });

  it('a replay changes nothing, and an older snapshot never replaces a newer one', async () => {
    const rule = 'replay-rule';
    const m = member(rule, 'r1', 'fp-new', 'Pass', 100);
    await drift.syncMember(m);
    store.counter.reset();
    await drift.syncMember(m);
    // The member's rows (a range read of its keyed rows, a point read of its old-layout row) and
    // its counter row, side by side; no write.
    expect(store.counter.count).toBe(3);
    expect(store.counter.writes).toBe(0);
    await drift.syncMember(member(rule, 'r1', 'fp-old', 'Warning', 50));
    const { merged } = await clusters(rule);
    expect(merged.map((c) => [c.fingerprint, c.servers])).toEqual([['fp-new', 1]]);
  });

  it('concurrent first posts of one server count it once, under the newest snapshot', async () => {
    const rule = 'race-rule';
    const versions = Array.from({ length: 8 }, (_, i) => member(rule, 'race1', `fp-${i}`, i % 2 ? 'Pass' : 'Error', 1000 + i));
    await Promise.all(versions.map((v) => drift.syncMember(v)));
    const { merged } = await clusters(rule);
    expect(merged.reduce((n, c) => n + c.servers, 0)).toBe(1);
    expect(merged[0]).toMatchObject({ fingerprint: 'fp-7', counts: { Pass: 1 } });
  });

  it('the sample of a counter row is bounded, and refills as servers join', async () => {
    const rule = 'sample-rule';
    // One shard's worth is enough: every row keeps at most five names.
    await Promise.all(Array.from({ length: 60 }, (_, i) => drift.syncMember(member(rule, `h${String(i).padStart(2, '0')}`, 'fp', 'Pass'))));
    const { rows, merged } = await clusters(rule);
    for (const r of rows) expect(r.sample.length).toBeLessThanOrEqual(5);
    expect(merged[0]!.servers).toBe(60);
    expect(merged[0]!.sample).toHaveLength(5);
  });
});

describe('baseline row', () => {
  it('is created once, replaced under its ETag, and a stale ETag is a conflict', async () => {
    const rule = 'baseline-rule';
    expect(await drift.getBaseline(rule)).toBeUndefined();
    await drift.putBaseline({ ruleId: rule, server: 'a1', setBy: 'admin', setAt: T0, revision: 1 }, undefined);
    await expect(drift.putBaseline({ ruleId: rule, server: 'a2', setBy: 'admin', setAt: T0, revision: 1 }, undefined)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const first = await drift.getBaseline(rule);
    expect(first).toMatchObject({ server: 'a1', revision: 1, setAt: T0 });
    await drift.putBaseline({ ruleId: rule, server: '', setBy: 'admin', setAt: T0 + 1, revision: 2 }, first!.etag);
    await expect(drift.putBaseline({ ruleId: rule, server: 'a3', setBy: 'admin', setAt: T0, revision: 2 }, first!.etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(await drift.getBaseline(rule)).toMatchObject({ server: '', revision: 2 });
  });
});
