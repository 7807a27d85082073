// The memory of one-rule servers' rows: kept without evidence, remediation and fingerprint facts,
// bounded by an estimate of its size (oldest remembered goes first), and paused for a while once a
// quarter of the commits decided on it were refused.
import { describe, expect, it } from 'vitest';
import { entityToResult, resultToEntity } from '../../src/store/entities';
import type { ResultRecord } from '../../src/store';
import { columnBytes, ROW_CACHE_PAUSE_AT, ROW_CACHE_PAUSE_MS, ROW_CACHE_WINDOW, ServerRowCache } from '../../src/store/server-row-cache';

const record = (server: string, message = 'm'): ResultRecord => ({
  server,
  ruleId: 'r',
  ruleVersion: '1',
  status: 'Pass',
  reasonCode: 'ok',
  severity: 'info',
  message: { en: message, ja: message },
  remediation: { en: ['do this'], ja: ['これを'] },
  evidenceJson: '{"seen":"a lot"}',
  fingerprint: 'sha256:f',
  fingerprintFactsJson: '{"a":1}',
  firstSeen: 1,
  snapshotId: 's',
  collectedAt: 2,
  lastSeen: 3,
  contentHash: 'c',
  hostHash: 'h',
  hostSyncedAt: 3,
  eventPending: false,
  indexPending: false,
  syncPending: false,
  acceptPending: false,
  recentSnapshotIds: ['s'],
  recentCommits: [{ id: 'k', at: 3 }],
});
const columns = (server: string, message?: string) => ({ ...resultToEntity(record(server, message)), etag: 'W/"1"' });

describe('ServerRowCache', () => {
  it('serves what it remembered last for a server, as a read returns it but for evidence, remediation and facts; nothing once forgotten', () => {
    const cache = new ServerRowCache();
    cache.remember('a', columns('a', 'first'));
    cache.remember('a', columns('a', 'second'));
    const served = cache.serve('a')!;
    expect(served).toEqual({ ...entityToResult(columns('a', 'second')), evidenceJson: '{}', remediation: { en: [], ja: [] }, fingerprintFactsJson: undefined });
    expect(served.message.en).toBe('second');
    expect(cache.served(served)).toBe(true);
    expect(cache.served(entityToResult(columns('a', 'second')))).toBe(false);
    cache.forget('a');
    expect(cache.serve('a')).toBeUndefined();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });

  it('says whether a served row is still what it remembers: not once it remembered, forgot or served anew from another entry', () => {
    const cache = new ServerRowCache();
    cache.remember('a', columns('a', 'first'));
    const one = cache.serve('a')!;
    const two = cache.serve('a')!;
    expect([cache.current('a', one), cache.current('a', two)]).toEqual([true, true]);
    expect(cache.current('b', one)).toBe(false);
    expect(cache.current('a', entityToResult(columns('a', 'first')))).toBe(false);
    cache.forget('a');
    expect(cache.current('a', one)).toBe(false);
    cache.remember('a', columns('a', 'first'));
    expect(cache.current('a', two)).toBe(false);
    expect(cache.current('a', cache.serve('a')!)).toBe(true);
  });

  it('holds at most its budget, forgetting the rows remembered longest ago', () => {
    const cache = new ServerRowCache({ maxBytes: 500_000 });
    const n = 200;
    for (let i = 0; i < n; i++) cache.remember(`s${i}`, columns(`s${i}`, 'x'.repeat(1_000)));
    const each = cache.bytes / cache.size;
    // Full, and no emptier than it had to become.
    expect(cache.size).toBeLessThan(n);
    expect(cache.bytes).toBeLessThanOrEqual(500_000);
    expect(cache.bytes + each).toBeGreaterThan(500_000);
    const oldest = n - cache.size;
    expect(cache.serve(`s${n - 1}`)).toBeDefined();
    expect(cache.serve(`s${oldest}`)).toBeDefined();
    expect(cache.serve(`s${oldest - 1}`)).toBeUndefined();
    // Remembering a server again makes it the newest: the next one goes instead.
    cache.remember(`s${oldest}`, columns(`s${oldest}`, 'x'.repeat(1_000)));
    cache.remember('new', columns('new', 'x'.repeat(1_000)));
    expect(cache.serve(`s${oldest}`)).toBeDefined();
    expect(cache.serve(`s${oldest + 1}`)).toBeUndefined();
  });

  it('counts a row without the columns it does not keep, and does not remember one above a hundredth of the budget', () => {
    const big = { ...columns('a'), EvidenceJson: 'x'.repeat(100_000) };
    const cache = new ServerRowCache({ maxBytes: 500_000 });
    cache.remember('a', big);
    expect(cache.bytes).toBe(columnBytes(Object.fromEntries(Object.entries(big).filter(([k]) => !/Evidence|Remediation|FingerprintFacts/.test(k)))));
    cache.remember('b', columns('b', 'x'.repeat(6_000)));
    expect(cache.serve('b')).toBeUndefined();
    expect(cache.serve('a')).toBeDefined();
  });

  it(`pauses for ${ROW_CACHE_PAUSE_MS / 60_000} minutes once ${ROW_CACHE_PAUSE_AT} of the last ${ROW_CACHE_WINDOW} commits on served rows were refused`, () => {
    let now = 0;
    const cache = new ServerRowCache({ clock: () => now });
    cache.remember('a', columns('a'));
    // One in five refused: never the pause's share of any window.
    for (let i = 0; i < 100; i++) cache.committed(i % 5 === 0);
    expect(cache.serve('a')).toBeDefined();
    for (let i = 0; i < ROW_CACHE_PAUSE_AT - 1; i++) cache.committed(true);
    expect(cache.serve('a')).toBeUndefined();
    now += ROW_CACHE_PAUSE_MS - 1;
    expect(cache.serve('a')).toBeUndefined();
    now += 1;
    expect(cache.serve('a')).toBeDefined();
    // A fresh window after the pause: one refusal does not pause again.
    cache.committed(true);
    expect(cache.serve('a')).toBeDefined();
  });
});
