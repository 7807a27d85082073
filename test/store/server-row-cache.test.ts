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
/** What the cache counts for a server's row (without the columns it does not keep). */
const rememberedBytes = (server: string) => {
  const probe = new ServerRowCache();
  probe.remember(server, columns(server));
  return probe.bytes;
};

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

  it('says a row is not current for a server it never remembered', () => {
    const cache = new ServerRowCache();
    expect(cache.current('nobody', entityToResult(columns('nobody')))).toBe(false);
  });

  it('remembers a row of exactly a hundredth of the budget, and fills the budget to the byte', () => {
    const size = rememberedBytes('s00');
    const cache = new ServerRowCache({ maxBytes: size * 100 });
    // Names of one length, so each row takes exactly `size`: all hundred fit, to the byte.
    for (let i = 0; i < 100; i++) cache.remember(`s${String(i).padStart(2, '0')}`, columns(`s${String(i).padStart(2, '0')}`));
    expect(cache.bytes).toBe(size * 100);
    expect(cache.size).toBe(100);
    cache.remember('t00', columns('t00'));
    expect(cache.serve('t00')).toBeUndefined();
  });

  it('evicts nothing for a row that fits exactly, and a row idle for exactly the idle time makes room', () => {
    let now = 0;
    const idleMs = 60_000;
    const name = (i: number) => `s${String(i).padStart(2, '0')}`;
    const fill = (cache: ServerRowCache, n: number) => {
      for (let i = 0; i < n; i++) cache.remember(name(i), columns(name(i)));
    };
    const fits = new ServerRowCache({ maxBytes: rememberedBytes('s00') * 100, idleMs, clock: () => now });
    fill(fits, 99);
    now = idleMs * 2;
    // The hundredth row fills the budget exactly: the idle rows stay.
    fits.remember('t00', columns('t00'));
    expect([fits.size, fits.serve('s00') !== undefined, fits.serve('t00') !== undefined]).toEqual([100, true, true]);

    now = 0;
    const full = new ServerRowCache({ maxBytes: rememberedBytes('s00') * 100, idleMs, clock: () => now });
    fill(full, 100);
    now = idleMs - 1;
    full.remember('t00', columns('t00'));
    expect(full.serve('t00')).toBeUndefined();
    now = idleMs;
    full.remember('t00', columns('t00'));
    expect([full.size, full.serve('s00') !== undefined, full.serve('t00') !== undefined]).toEqual([100, false, true]);
  });

  it(`pauses at exactly ${ROW_CACHE_PAUSE_AT} refusals within the last ${ROW_CACHE_WINDOW} commits, not at one fewer or one that left the window`, () => {
    const pausedAfter = (outcomes: boolean[]) => {
      const cache = new ServerRowCache({ clock: () => 0 });
      cache.remember('a', columns('a'));
      for (const refused of outcomes) cache.committed(refused);
      return cache.serve('a') === undefined;
    };
    const refusals = (n: number) => Array<boolean>(n).fill(true);
    const landed = (n: number) => Array<boolean>(n).fill(false);
    expect(pausedAfter(refusals(ROW_CACHE_PAUSE_AT))).toBe(true);
    expect(pausedAfter(refusals(ROW_CACHE_PAUSE_AT - 1))).toBe(false);
    // The first refusal is the window's oldest commit: still counted.
    expect(pausedAfter([true, ...landed(ROW_CACHE_WINDOW - ROW_CACHE_PAUSE_AT), ...refusals(ROW_CACHE_PAUSE_AT - 1)])).toBe(true);
    // One commit later it has left the window.
    expect(pausedAfter([true, ...landed(ROW_CACHE_WINDOW - ROW_CACHE_PAUSE_AT + 1), ...refusals(ROW_CACHE_PAUSE_AT - 1)])).toBe(false);
  });

  it('pauses for ten minutes, as the table documentation says', () => {
    expect(ROW_CACHE_PAUSE_MS).toBe(10 * 60_000);
  });

  it('leaves out exactly the evidence, remediation and fingerprint-facts columns, not columns that only contain those names', () => {
    const extra = { OldEvidenceJson: 'x'.repeat(50), EvidenceJsonV2: 'y'.repeat(50), RemediationEnJsonNote: 'z'.repeat(50) };
    const row = { ...columns('a'), ...extra };
    const cache = new ServerRowCache();
    cache.remember('a', row);
    expect(cache.bytes).toBe(rememberedBytes('a') + columnBytes(extra));
  });

  it('starts counting afresh after a pause: it takes as many refusals again to pause again', () => {
    let now = 0;
    const cache = new ServerRowCache({ clock: () => now });
    cache.remember('a', columns('a'));
    for (let i = 0; i < ROW_CACHE_PAUSE_AT; i++) cache.committed(true);
    now += ROW_CACHE_PAUSE_MS;
    for (let i = 0; i < ROW_CACHE_PAUSE_AT - 1; i++) cache.committed(true);
    expect(cache.serve('a')).toBeDefined();
    cache.committed(true);
    expect(cache.serve('a')).toBeUndefined();
  });
});
