// Which recently enrolled servers count as never posted, and what each check reads: servers found
// to have posted are not read again under the same key, the reads go to the oldest keys first, and
// a rollout larger than one check's reads is covered over a few checks, each saying it was cut.
import { describe, expect, it } from 'vitest';
import { NEVER_POSTED_GRACE_MS, NEVER_POSTED_WINDOW_MS, NeverPosted, type IssuedKey } from '../../src/app/never-posted';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const HOUR = 60 * 60_000;

/** A fleet of enrolled servers, the posted ones named, and the reads each check made. */
function fleet(keys: IssuedKey[], posted: Set<string>) {
  const reads: string[][] = [];
  const listings: { from: number; to: number; max: number }[] = [];
  const deps = {
    issuedBetween: async (from: number, to: number, max: number) => {
      listings.push({ from, to, max });
      const within = keys.filter((k) => k.issuedAt >= from && k.issuedAt <= to).sort((a, b) => a.issuedAt - b.issuedAt);
      return { servers: within.slice(0, max), truncated: within.length > max };
    },
    hasPosted: async (server: string) => {
      reads.at(-1)!.push(server);
      return posted.has(server);
    },
  };
  return {
    listings,
    reads,
    check: async (n: NeverPosted, now = NOW) => {
      reads.push([]);
      return n.find(now);
    },
    deps,
  };
}

const key = (i: number, hoursAgo: number): IssuedKey => ({ server: `ex${String(i).padStart(3, '0')}`, issuedAt: NOW - hoursAgo * HOUR });

describe('NeverPosted', () => {
  it('lists the keys issued between 30 days and 2 hours ago, and names the silent servers oldest key first', async () => {
    const keys = [key(1, 5), key(2, 1), key(3, 24 * 31), key(4, 48), key(5, 3)];
    const f = fleet(keys, new Set(['ex005']));
    const n = new NeverPosted(f.deps);
    expect(await f.check(n)).toEqual({ servers: [key(4, 48), key(1, 5)], truncated: false });
    expect(f.listings).toEqual([{ from: NOW - NEVER_POSTED_WINDOW_MS, to: NOW - NEVER_POSTED_GRACE_MS, max: 10_000 }]);
    expect(f.reads[0]).toEqual(['ex004', 'ex001', 'ex005']);
  });

  it('reads a server found to have posted once per key, and again after a new key is issued', async () => {
    const keys = [key(1, 5), key(2, 6)];
    const f = fleet(keys, new Set(['ex001']));
    const n = new NeverPosted(f.deps);
    await f.check(n);
    expect((await f.check(n)).servers).toEqual([key(2, 6)]);
    expect(f.reads).toEqual([['ex002', 'ex001'], ['ex002']]);
    keys[0] = key(1, 3);
    await f.check(n);
    expect(f.reads[2]).toEqual(['ex002', 'ex001']);
  });

  it('covers a rollout larger than one check reads over several checks, saying each was cut until none is in doubt', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => key(i, 100 - i));
    const silent = new Set(['ex003', 'ex020']);
    const f = fleet(keys, new Set(keys.map((k) => k.server).filter((s) => !silent.has(s))));
    const n = new NeverPosted(f.deps, { read: 10, parallel: 4 });
    const found: string[] = [];
    const cut: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await f.check(n);
      found.push(...r.servers.map((s) => s.server));
      cut.push(r.truncated);
    }
    // 25 in doubt, 10 read a check: the silent ones stay in doubt and are read every time.
    expect(f.reads.map((r) => r.length)).toEqual([10, 10, 7, 2]);
    expect(cut).toEqual([true, true, false, false]);
    expect(new Set(found)).toEqual(silent);
    expect(f.reads[3]).toEqual(['ex003', 'ex020']);
  });

  it('says it was cut when more keys were issued than it lists', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => key(i, 10 + i));
    const f = fleet(keys, new Set());
    const r = await f.check(new NeverPosted(f.deps, { listed: 3 }));
    expect(r).toEqual({ servers: [key(4, 14), key(3, 13), key(2, 12)], truncated: true });
  });

  it('reads at most `parallel` servers at a time', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => key(i, 10 + i));
    let open = 0;
    let most = 0;
    const n = new NeverPosted(
      {
        issuedBetween: async () => ({ servers: keys, truncated: false }),
        hasPosted: async () => {
          most = Math.max(most, ++open);
          await new Promise((r) => setTimeout(r, 5));
          open--;
          return false;
        },
      },
      { parallel: 4 },
    );
    expect((await n.find(NOW)).servers).toHaveLength(9);
    expect(most).toBe(4);
  });
});
