// Which enrolled servers count as never posted, and what each check reads and writes: a server's
// head says whether it has posted; heads written before that column are looked at by the
// stale-hosts timer alone, within 30 days of their key, and given the mark they lack, "not posted"
// with the ETag they were read at, so that a listing finds them by the mark; the timer marks a
// server it finds to have posted and a listing marks nothing,
// servers found to have posted are not read again under the same key, the reads go to the oldest
// keys first, and a rollout larger than one check's reads is covered over a few checks, each
// saying it was cut.
import { describe, expect, it } from 'vitest';
import { NEVER_POSTED_GRACE_MS, NeverPosted, UNMARKED_WINDOW_MS, type IssuedKey } from '../../src/app/never-posted';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const HOUR = 60 * 60_000;

/** An enrolled server's key and its head's mark: posted, not posted, or a head without the column. */
type Head = IssuedKey & { mark?: boolean };

/** A fleet of enrolled servers, the posted ones named, and the reads and marks each check made. */
function fleet(keys: Head[], posted: Set<string>, failMarks = false) {
  const reads: string[][] = [];
  const marks: string[][] = [];
  /** "server etag" of each "not posted" mark given, per check. */
  const notMarks: string[][] = [];
  const listings: { to: number; unmarkedFrom: number | undefined; max: number }[] = [];
  const etagOf = (server: string) => `W/"${server}"`;
  const deps = {
    awaitingFirstPost: async (to: number, unmarkedFrom: number | undefined, max: number) => {
      listings.push({ to, unmarkedFrom, max });
      const within = keys
        .filter((k) => k.issuedAt <= to && (k.mark === false || (k.mark === undefined && unmarkedFrom !== undefined && k.issuedAt >= unmarkedFrom)))
        .sort((a, b) => a.issuedAt - b.issuedAt)
        .map(({ server, issuedAt, mark }) => ({ server, issuedAt, ...(mark === undefined ? { unmarked: etagOf(server) } : {}) }));
      return { servers: within.slice(0, max), truncated: within.length > max };
    },
    markNotPosted: async (server: string, etag: string) => {
      notMarks.at(-1)!.push(`${server} ${etag}`);
      if (failMarks) throw new Error('storage is down');
      for (const k of keys) if (k.server === server && etag === etagOf(server) && k.mark === undefined) k.mark = false;
    },
    hasPosted: async (server: string) => {
      reads.at(-1)!.push(server);
      return posted.has(server);
    },
    markPosted: async (server: string) => {
      marks.at(-1)!.push(server);
      if (failMarks) throw new Error('storage is down');
      for (const k of keys) if (k.server === server) k.mark = true;
    },
  };
  return {
    listings,
    reads,
    marks,
    notMarks,
    check: async (n: NeverPosted, now = NOW, mark = false) => {
      reads.push([]);
      marks.push([]);
      notMarks.push([]);
      // A listing asks without options, as the refused-servers route does.
      return mark ? n.find(now, { mark }) : n.find(now);
    },
    deps,
  };
}

/** `mark` 'none': a head written before heads said whether the server posted. */
const key = (i: number, hoursAgo: number, mark: boolean | 'none' = false): Head => ({
  server: `ex${String(i).padStart(3, '0')}`,
  issuedAt: NOW - hoursAgo * HOUR,
  ...(mark === 'none' ? {} : { mark }),
});
const issued = ({ server, issuedAt }: Head): IssuedKey => ({ server, issuedAt });

describe('NeverPosted', () => {
  it('lists the keys issued more than 2 hours ago of servers not marked posted, and names the silent servers oldest key first', async () => {
    const keys = [key(1, 5), key(2, 1), key(3, 24 * 400), key(4, 48), key(5, 3), key(6, 24 * 40, true)];
    const f = fleet(keys, new Set(['ex005']));
    const n = new NeverPosted(f.deps);
    expect(await f.check(n)).toEqual({ servers: [key(3, 24 * 400), key(4, 48), key(1, 5)].map(issued), truncated: false });
    expect(f.reads[0]).toEqual(['ex003', 'ex004', 'ex001', 'ex005']);
    // A listing asks for the marked heads alone; the timer for the heads without the mark too.
    await f.check(n, NOW, true);
    expect(f.listings).toEqual([
      { to: NOW - NEVER_POSTED_GRACE_MS, unmarkedFrom: undefined, max: 10_000 },
      { to: NOW - NEVER_POSTED_GRACE_MS, unmarkedFrom: NOW - UNMARKED_WINDOW_MS, max: 10_000 },
    ]);
  });

  it('leaves a head written without the mark to the timer, which lists it within 30 days of its key and marks it "not posted", so listings find it', async () => {
    const keys = [key(1, 24 * 29, 'none'), key(2, 24 * 31, 'none'), key(3, 24 * 31)];
    const f = fleet(keys, new Set());
    expect((await f.check(new NeverPosted(f.deps))).servers).toEqual([key(3, 24 * 31)].map(issued));
    expect((await f.check(new NeverPosted(f.deps), NOW, true)).servers).toEqual([key(3, 24 * 31), key(1, 24 * 29)].map(issued));
    // With the ETag it was read at; a head already marked gets no write.
    expect(f.notMarks[1]).toEqual(['ex001 W/"ex001"']);
    expect(keys.map((k) => k.mark)).toEqual([false, undefined, false]);
    expect((await f.check(new NeverPosted(f.deps))).servers).toEqual([key(3, 24 * 31), key(1, 24 * 29)].map(issued));
    expect(f.notMarks[2]).toEqual([]);
  });

  it('marks "not posted" only a silent head without the mark, and "posted" one without the mark whose server posted', async () => {
    const keys = [key(1, 5, 'none'), key(2, 6, 'none'), key(3, 7)];
    const f = fleet(keys, new Set(['ex002']));
    expect((await f.check(new NeverPosted(f.deps), NOW, true)).servers).toEqual([key(3, 7), key(1, 5)].map(issued));
    expect(f.notMarks[0]).toEqual(['ex001 W/"ex001"']);
    expect(f.marks[0]).toEqual(['ex002']);
    expect(keys.map((k) => k.mark)).toEqual([false, true, false]);
  });

  it('answers the same when a "not posted" mark cannot be written, and gives it at the next run', async () => {
    const keys = [key(1, 5, 'none')];
    const f = fleet(keys, new Set(), true);
    const n = new NeverPosted(f.deps);
    expect(await f.check(n, NOW, true)).toEqual({ servers: [key(1, 5)].map(issued), truncated: false });
    expect(await f.check(n, NOW, true)).toEqual({ servers: [key(1, 5)].map(issued), truncated: false });
    expect(f.notMarks).toEqual([['ex001 W/"ex001"'], ['ex001 W/"ex001"']]);
  });

  it('marks the servers it finds to have posted only when asked (the timer), so no later check lists them; a listing writes nothing', async () => {
    const keys = [key(1, 5), key(2, 6), key(3, 24 * 10, 'none')];
    const f = fleet(keys, new Set(['ex001', 'ex003']));
    expect((await f.check(new NeverPosted(f.deps))).servers).toEqual([key(2, 6)].map(issued));
    expect(f.marks[0]).toEqual([]);
    // A new instance (nothing remembered), as the timer: it reads them again and marks them.
    expect((await f.check(new NeverPosted(f.deps), NOW, true)).servers).toEqual([key(2, 6)].map(issued));
    expect(f.reads[1]).toEqual(['ex003', 'ex002', 'ex001']);
    expect(f.marks[1]).toEqual(['ex003', 'ex001']);
    expect(keys.map((k) => k.mark)).toEqual([true, false, true]);
    // Another new instance lists and reads only the silent one.
    expect((await f.check(new NeverPosted(f.deps))).servers).toEqual([key(2, 6)].map(issued));
    expect(f.reads[2]).toEqual(['ex002']);
  });

  it('marks a server a listing on the same instance found to have posted, without reading it again', async () => {
    const keys = [key(1, 5), key(2, 6)];
    const f = fleet(keys, new Set(['ex001']));
    const n = new NeverPosted(f.deps);
    await f.check(n);
    expect(f.marks[0]).toEqual([]);
    await f.check(n, NOW, true);
    expect(f.reads[1]).toEqual(['ex002']);
    expect(f.marks[1]).toEqual(['ex001']);
    expect(keys[0]!.mark).toBe(true);
  });

  it('answers as without the marks when they cannot be written, and tries them again at the next run', async () => {
    const keys = [key(1, 5), key(2, 6)];
    const f = fleet(keys, new Set(['ex001']), true);
    const n = new NeverPosted(f.deps);
    expect(await f.check(n, NOW, true)).toEqual({ servers: [key(2, 6)].map(issued), truncated: false });
    expect(await f.check(n, NOW, true)).toEqual({ servers: [key(2, 6)].map(issued), truncated: false });
    expect(f.marks).toEqual([['ex001'], ['ex001']]);
    expect(f.reads[1]).toEqual(['ex002']);
  });

  it('reads a server found to have posted once per key, and again after a new key is issued', async () => {
    const keys = [key(1, 5), key(2, 6)];
    const f = fleet(keys, new Set(['ex001']));
    const n = new NeverPosted(f.deps);
    await f.check(n);
    expect((await f.check(n)).servers).toEqual([key(2, 6)].map(issued));
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
    expect(r).toEqual({ servers: [key(4, 14), key(3, 13), key(2, 12)].map(issued), truncated: true });
  });

  it('marks each server it finds to have posted, and each silent head without the mark, once, at most `parallel` at a time', async () => {
    for (const posted of [true, false]) {
      const keys = Array.from({ length: 9 }, (_, i) => ({ ...key(i, 10 + i), unmarked: `etag${i}` }));
      let open = 0;
      let most = 0;
      const marked: string[] = [];
      const write = async (server: string) => {
        most = Math.max(most, ++open);
        await new Promise((r) => setTimeout(r, 5));
        marked.push(server);
        open--;
      };
      const n = new NeverPosted(
        {
          awaitingFirstPost: async () => ({ servers: keys, truncated: false }),
          hasPosted: async () => posted,
          markPosted: (server) => (posted ? write(server) : Promise.reject(new Error('marked posted'))),
          markNotPosted: (server) => (posted ? Promise.reject(new Error('marked not posted')) : write(server)),
        },
        { parallel: 4 },
      );
      expect((await n.find(NOW, { mark: true })).servers).toHaveLength(posted ? 0 : 9);
      expect([...marked].sort()).toEqual(keys.map((k) => k.server).sort());
      expect(most).toBe(4);
    }
  });

  it('reads at most `parallel` servers at a time', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => key(i, 10 + i));
    let open = 0;
    let most = 0;
    const n = new NeverPosted(
      {
        awaitingFirstPost: async () => ({ servers: keys.map(issued), truncated: false }),
        hasPosted: async () => {
          most = Math.max(most, ++open);
          await new Promise((r) => setTimeout(r, 5));
          open--;
          return false;
        },
        markPosted: async () => undefined,
        markNotPosted: async () => undefined,
      },
      { parallel: 4 },
    );
    expect((await n.find(NOW)).servers).toHaveLength(9);
    expect(most).toBe(4);
  });
});
