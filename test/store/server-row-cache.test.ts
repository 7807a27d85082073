// The memory of one-rule servers' rows: bounded by the text it holds (oldest remembered goes
// first), and paused for a while once a quarter of the commits decided on it were refused.
import { describe, expect, it } from 'vitest';
import type { StoredResult } from '../../src/store';
import { ROW_CACHE_PAUSE_AT, ROW_CACHE_PAUSE_MS, ROW_CACHE_WINDOW, rowBytes, ServerRowCache } from '../../src/store/server-row-cache';

const row = (server: string, messageChars = 0) =>
  ({
    server,
    ruleId: 'r',
    snapshotId: 's',
    contentHash: 'c',
    hostHash: 'h',
    etag: 'e',
    evidenceJson: '{"a":1}',
    fingerprintFactsJson: '{}',
    message: { en: 'x'.repeat(messageChars) },
    remediation: { en: ['do'] },
  }) as unknown as StoredResult;

describe('ServerRowCache', () => {
  it('serves what it remembered last for a server, without evidence, remediation and facts, and nothing once forgotten', () => {
    const cache = new ServerRowCache();
    cache.remember(row('a', 1));
    cache.remember(row('a', 2));
    const served = cache.serve('a')!;
    expect(served).toEqual({ ...row('a', 2), evidenceJson: '', evidenceTruncated: false, remediation: { en: [] }, fingerprintFactsJson: undefined });
    expect(cache.served(served)).toBe(true);
    expect(cache.served(row('a', 2))).toBe(false);
    cache.forget('a');
    expect(cache.serve('a')).toBeUndefined();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });

  it('holds at most its budget of text, forgetting the rows remembered longest ago', () => {
    const cache = new ServerRowCache({ maxBytes: 500_000 });
    const n = 200;
    for (let i = 0; i < n; i++) cache.remember(row(`s${i}`, 1_000));
    // Full, and no emptier than it had to become.
    expect(cache.bytes).toBeLessThanOrEqual(500_000);
    expect(cache.bytes + rowBytes(row('s0', 1_000))).toBeGreaterThan(500_000);
    expect(cache.size).toBeLessThan(n);
    const oldest = n - cache.size;
    expect(cache.serve(`s${n - 1}`)).toBeDefined();
    expect(cache.serve(`s${oldest}`)).toBeDefined();
    expect(cache.serve(`s${oldest - 1}`)).toBeUndefined();
    // Remembering a server again makes it the newest: the next one goes instead.
    cache.remember(row(`s${oldest}`, 1_000));
    cache.remember(row('new', 1_000));
    expect(cache.serve(`s${oldest}`)).toBeDefined();
    expect(cache.serve(`s${oldest + 1}`)).toBeUndefined();
  });

  it('does not remember a row that would take more than a hundredth of the budget', () => {
    const cache = new ServerRowCache({ maxBytes: 500_000 });
    cache.remember(row('small', 100));
    cache.remember(row('big', 4_000));
    expect(cache.serve('big')).toBeUndefined();
    expect(cache.serve('small')).toBeDefined();
  });

  it(`pauses for ${ROW_CACHE_PAUSE_MS / 60_000} minutes once ${ROW_CACHE_PAUSE_AT} of the last ${ROW_CACHE_WINDOW} commits on served rows were refused`, () => {
    let now = 0;
    const cache = new ServerRowCache({ clock: () => now });
    cache.remember(row('a'));
    // Refusals spread among landed commits: the window forgets the oldest outcomes.
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
