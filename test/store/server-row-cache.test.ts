// The memory of one-rule servers' rows: kept without evidence, remediation and fingerprint facts,
// bounded by an estimate of its size (full, it keeps what it has; rows idle for a while make room), and paused for a while once a
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

  it('holds at most its budget: full, it keeps the rows it has and does not keep a new server', () => {
    const cache = new ServerRowCache({ maxBytes: 500_000 });
    const n = 200;
    for (let i = 0; i < n; i++) cache.remember(`s${i}`, columns(`s${i}`, 'x'.repeat(1_000)));
    const each = cache.bytes / cache.size;
    // Full, and no emptier than it had to be.
    expect(cache.size).toBeLessThan(n);
    expect(cache.bytes).toBeLessThanOrEqual(500_000);
    expect(cache.bytes + each).toBeGreaterThan(500_000);
    const kept = cache.size;
    expect(cache.serve('s0')).toBeDefined();
    expect(cache.serve(`s${kept - 1}`)).toBeDefined();
    expect(cache.serve(`s${kept}`)).toBeUndefined();
    // A server it holds is remembered again in its own place; a new one is still not kept.
    cache.remember('s0', columns('s0', 'y'.repeat(1_000)));
    expect(cache.serve('s0')?.message.en).toBe('y'.repeat(1_000));
    cache.remember('new', columns('new', 'x'.repeat(1_000)));
    expect(cache.serve('new')).toBeUndefined();
    expect(cache.size).toBe(kept);
  });

  it('lets a new server in, full, in place of rows left unremembered for the idle time, oldest first', () => {
    let now = 0;
    const idleMs = 3 * 60 * 60_000;
    const cache = new ServerRowCache({ maxBytes: 200_000, idleMs, clock: () => now });
    // Names of one length, so every row takes the same memory.
    const name = (prefix: string, i: number) => `${prefix}${String(i).padStart(3, '0')}`;
    const row = (s: string) => columns(s, 'x'.repeat(100));
    for (let i = 0; cache.size === i; i++) {
      now += 1_000;
      cache.remember(name('s', i), row(name('s', i)));
    }
    const kept = cache.size;
    expect(kept).toBeGreaterThan(10);
    // s001 and s002 post again later; s000 and the rest stay silent.
    now += idleMs / 2;
    cache.remember('s001', row('s001'));
    cache.remember('s002', row('s002'));
    cache.remember('e000', row('e000'));
    expect(cache.serve('e000')).toBeUndefined();
    // Past the idle time of every row but s001's and s002's: new servers replace the oldest idle ones.
    now += idleMs / 2 + 60 * 60_000;
    cache.remember('n000', row('n000'));
    cache.remember('n001', row('n001'));
    expect(cache.serve('n000')).toBeDefined();
    expect(cache.serve('n001')).toBeDefined();
    expect(cache.serve('s000')).toBeUndefined();
    expect(cache.serve('s003')).toBeUndefined();
    for (const s of ['s001', 's002', 's004']) expect(cache.serve(s), s).toBeDefined();
    expect(cache.size).toBe(kept);
  });

  it('serves a steady share of a fleet larger than itself posting in rounds, where dropping the oldest row would serve none', () => {
    let now = 0;
    const cache = new ServerRowCache({ maxBytes: 400_000, clock: () => now });
    const row = (s: string) => columns(s, 'x'.repeat(1_000));
    const fleet = Array.from({ length: Math.ceil((2 * 400_000) / columnBytes(row('s000'))) }, (_, i) => `s${String(i).padStart(3, '0')}`);
    const served: number[] = [];
    for (let round = 0; round < 4; round++) {
      let hits = 0;
      for (const s of fleet) {
        now += 1_000; // one post a second: a round well inside the idle time
        if (cache.serve(s)) hits++;
        cache.remember(s, row(s));
      }
      served.push(hits);
    }
    expect(served[0]).toBe(0);
    // After the first round, every post of a server memory holds finds its row: about half the fleet.
    for (const hits of served.slice(1)) {
      expect(hits).toBe(cache.size);
      expect(hits).toBeGreaterThan(fleet.length * 0.45);
    }
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
