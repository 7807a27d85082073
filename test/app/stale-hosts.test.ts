// Silent servers, without storage: the timer's pass over the last-seen index (marked stale once,
// still reporting, forgotten, pruned), a server's return when its Hosts row is refreshed, and a
// removal clearing both. The service tests run the same passes on rows in Azurite.
import { describe, expect, it } from 'vitest';
import { isoInstant as iso } from '../../src/app/iso-time';
import { STALE_SCAN_LIMIT, StaleHosts, type StaleHostsDeps } from '../../src/app/stale-hosts';
import { seenPartition, type EventRecord, type SeenEntry, type StaleMarker } from '../../src/store';
import type { ReturnedMarker } from '../../src/store/lifecycle-store';

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const MINUTE = 60_000;
const STALE_AFTER_MIN = 120;
const THRESHOLD = NOW - STALE_AFTER_MIN * MINUTE;

const entry = (server: string, sync: number): SeenEntry => ({ server, sync, partitionKey: seenPartition(sync) });

interface Seen {
  readonly lastSeen: number;
  readonly snapshotId: string;
  /** The hours the server's current index row may be in; the entry's own when left out. */
  readonly partitions?: string[];
}

interface World {
  entries?: SeenEntry[];
  /** Results.LastSeen per server; a server left out has no results. */
  seen?: Record<string, Seen>;
  /** Servers already marked stale. */
  marked?: string[];
  /** Servers whose results are gone by the time their marker is made (an admin removed them meanwhile). */
  removedWhileMarking?: string[];
  returned?: ReturnedMarker[];
}

/** The stale hosts over a world held in memory; `calls` names every store call, `lines` every record logged. */
function staleHosts(world: World = {}) {
  const calls: unknown[][] = [];
  const lines: string[] = [];
  const marked = new Set(world.marked);
  const removed = new Set<string>();
  const lifecycle = {
    listSeenUpTo: async (before: number, max: number) => (calls.push(['listSeenUpTo', before, max]), (world.entries ?? []).filter((e) => e.sync <= before).slice(0, max)),
    lastSeenOf: async (server: string) => {
      calls.push(['lastSeenOf', server]);
      const s = world.seen?.[server];
      if (!s || removed.has(server)) return undefined;
      const own = (world.entries ?? []).filter((e) => e.server === server).map((e) => e.partitionKey);
      return { lastSeen: s.lastSeen, snapshotId: s.snapshotId, seenPartitions: new Set(s.partitions ?? own) };
    },
    deleteSeen: async (e: SeenEntry) => void calls.push(['deleteSeen', e.server, e.partitionKey]),
    markStale: async (m: StaleMarker) => {
      calls.push(['markStale', m]);
      if (marked.has(m.server)) return false;
      marked.add(m.server);
      if (world.removedWhileMarking?.includes(m.server)) removed.add(m.server);
      return true;
    },
    removeStale: async (servers: readonly string[]) => void calls.push(['removeStale', [...servers]]),
    recordSeenMany: async (list: readonly unknown[]) => void calls.push(['recordSeenMany', [...list]]),
    claimReturned: async (back: ReadonlyMap<string, unknown>) => (calls.push(['claimReturned', [...back]]), world.returned ?? []),
  };
  const events = { putEvents: async (list: readonly EventRecord[]) => void calls.push(['putEvents', [...list]]) };
  const deps = { lifecycle, events, clock: () => NOW, staleAfterMinutes: STALE_AFTER_MIN } as unknown as StaleHostsDeps;
  return { hosts: new StaleHosts(deps), calls, lines, log: { log: (l: string) => void lines.push(l) } };
}

const staleEvent = (server: string, lastSeen: number, snapshotId: string): EventRecord => ({
  server,
  ruleId: '',
  ruleVersion: '',
  fromStatus: 'Reporting',
  toStatus: 'Stale',
  reasonCode: 'NotReporting',
  severity: 'Warning',
  message: { en: `${server} stopped posting snapshots; its last verdicts may be out of date.`, ja: `${server} からのスナップショットが途絶えました。最後の判定は古い可能性があります。` },
  firstSeen: lastSeen + STALE_AFTER_MIN * MINUTE,
  previousFirstSeen: undefined,
  snapshotId,
  recordedAt: NOW,
  cause: 'stale',
});

describe('the timer pass', () => {
  it('reads the index up to the threshold, at most the scan limit, and marks a silent server stale once', async () => {
    const lastSeen = THRESHOLD - 5 * MINUTE;
    const { hosts, calls, lines, log } = staleHosts({ entries: [entry('a', lastSeen)], seen: { a: { lastSeen, snapshotId: 's9' } } });
    expect(hosts.staleAfterMs).toBe(STALE_AFTER_MIN * MINUTE);
    expect(await hosts.run(log)).toStrictEqual({ checked: 1, markedStale: 1, stillReporting: 0, forgotten: 0, pruned: 0 });
    const staleSince = lastSeen + STALE_AFTER_MIN * MINUTE;
    expect(calls).toStrictEqual([
      ['listSeenUpTo', THRESHOLD, STALE_SCAN_LIMIT],
      ['lastSeenOf', 'a'],
      // The event first, so a rerun after a failure writes the same row before the marker decides.
      ['putEvents', [staleEvent('a', lastSeen, 's9')]],
      ['markStale', { server: 'a', lastSeen, staleSince, lastSnapshotId: 's9' }],
      ['lastSeenOf', 'a'],
      ['deleteSeen', 'a', seenPartition(lastSeen)],
    ]);
    expect(lines).toStrictEqual([`FleetPosture.ServerStale {"server":"a","lastSeen":"${iso(lastSeen)}","staleSince":"${iso(staleSince)}"}`]);
    expect(STALE_SCAN_LIMIT).toBe(500);
  });

  it('counts a server last seen exactly at the threshold as silent, and one a millisecond later as reporting', async () => {
    const world = { entries: [entry('at', THRESHOLD - MINUTE), entry('after', THRESHOLD - MINUTE)], seen: { at: { lastSeen: THRESHOLD, snapshotId: 's1' }, after: { lastSeen: THRESHOLD + 1, snapshotId: 's2' } } };
    const { hosts, calls, log } = staleHosts(world);
    expect(await hosts.run(log)).toStrictEqual({ checked: 2, markedStale: 1, stillReporting: 1, forgotten: 0, pruned: 0 });
    expect(calls.filter((c) => c[0] === 'markStale').map((c) => (c[1] as StaleMarker).server)).toStrictEqual(['at']);
    // The reporting server's current row stays: its next Hosts refresh moves it.
    expect(calls.filter((c) => c[0] === 'deleteSeen').map((c) => c[1])).toStrictEqual(['at']);
  });

  it('prunes an index row that is not the server current one, and forgets a server without results', async () => {
    const old = THRESHOLD - 3 * 60 * MINUTE;
    const world = { entries: [entry('moved', old), entry('gone', old)], seen: { moved: { lastSeen: NOW - MINUTE, snapshotId: 's1', partitions: [seenPartition(NOW - MINUTE)] } } };
    const { hosts, calls, lines, log } = staleHosts(world);
    expect(await hosts.run(log)).toStrictEqual({ checked: 2, markedStale: 0, stillReporting: 0, forgotten: 1, pruned: 1 });
    expect(calls.filter((c) => c[0] === 'deleteSeen')).toStrictEqual([
      ['deleteSeen', 'moved', seenPartition(old)],
      ['deleteSeen', 'gone', seenPartition(old)],
    ]);
    expect(calls.map((c) => c[0])).not.toContain('putEvents');
    expect(lines).toStrictEqual([]);
  });

  it('logs nothing and counts nothing for a server another run already marked, and still drops its index row', async () => {
    const lastSeen = THRESHOLD - MINUTE;
    const { hosts, calls, lines, log } = staleHosts({ entries: [entry('a', lastSeen)], seen: { a: { lastSeen, snapshotId: 's1' } }, marked: ['a'] });
    expect(await hosts.run(log)).toStrictEqual({ checked: 1, markedStale: 0, stillReporting: 0, forgotten: 0, pruned: 0 });
    expect(calls.map((c) => c[0])).toStrictEqual(['listSeenUpTo', 'lastSeenOf', 'putEvents', 'markStale', 'deleteSeen']);
    expect(lines).toStrictEqual([]);
  });

  it('takes back the marker of a server an admin removed while it was being marked, and logs no record', async () => {
    const lastSeen = THRESHOLD - MINUTE;
    const { hosts, calls, lines, log } = staleHosts({ entries: [entry('a', lastSeen)], seen: { a: { lastSeen, snapshotId: 's1' } }, removedWhileMarking: ['a'] });
    expect(await hosts.run(log)).toStrictEqual({ checked: 1, markedStale: 0, stillReporting: 0, forgotten: 1, pruned: 0 });
    expect(calls.slice(-3)).toStrictEqual([
      ['lastSeenOf', 'a'],
      ['removeStale', ['a']],
      ['deleteSeen', 'a', seenPartition(lastSeen)],
    ]);
    expect(lines).toStrictEqual([]);
  });

  it('works through more rows than it runs at once, each exactly once', async () => {
    const servers = Array.from({ length: 21 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const lastSeen = THRESHOLD - MINUTE;
    const { hosts, calls, lines, log } = staleHosts({ entries: servers.map((s) => entry(s, lastSeen)), seen: Object.fromEntries(servers.map((s) => [s, { lastSeen, snapshotId: 'x' }])) });
    expect(await hosts.run(log)).toMatchObject({ checked: 21, markedStale: 21 });
    expect(calls.filter((c) => c[0] === 'deleteSeen').map((c) => c[1])).toStrictEqual(servers);
    expect(lines).toHaveLength(21);
  });
});

describe('a server back from silence', () => {
  it('moves the index rows of refreshed servers and stops there when none was marked stale', async () => {
    const { hosts, calls, log } = staleHosts();
    await hosts.hostsSynced([], log);
    expect(calls).toStrictEqual([]);
    await hosts.hostsSynced([{ server: 'a', previous: NOW - 3_600_000, now: NOW, snapshotId: 's1' }, { server: 'b', now: NOW, snapshotId: 's2' }], log);
    expect(calls).toStrictEqual([
      [
        'recordSeenMany',
        [
          { server: 'a', sync: NOW, previousSync: NOW - 3_600_000 },
          { server: 'b', sync: NOW, previousSync: undefined },
        ],
      ],
      [
        'claimReturned',
        [
          ['a', { at: NOW, snapshotId: 's1' }],
          ['b', { at: NOW, snapshotId: 's2' }],
        ],
      ],
    ]);
  });

  it('writes the Returned events of the servers it claims, then removes their markers, then logs them', async () => {
    const marker: ReturnedMarker = { server: 'a', lastSeen: NOW - 9 * 3_600_000, staleSince: NOW - 7 * 3_600_000, lastSnapshotId: 's0', returnedAt: NOW - MINUTE, returnedSnapshotId: 's1' };
    const { hosts, calls, lines, log } = staleHosts({ returned: [marker] });
    await hosts.hostsSynced([{ server: 'a', now: NOW - MINUTE, snapshotId: 's1' }], log);
    expect(calls.slice(2)).toStrictEqual([
      [
        'putEvents',
        [
          {
            server: 'a',
            ruleId: '',
            ruleVersion: '',
            fromStatus: 'Stale',
            toStatus: 'Reporting',
            reasonCode: 'Returned',
            severity: 'Info',
            message: { en: 'a posts snapshots again.', ja: 'a からのスナップショットが再開しました。' },
            firstSeen: NOW - MINUTE,
            previousFirstSeen: NOW - 7 * 3_600_000,
            snapshotId: 's1',
            recordedAt: NOW,
            cause: 'returned',
          },
        ],
      ],
      ['removeStale', ['a']],
    ]);
    expect(lines).toStrictEqual([`FleetPosture.ServerReturned {"server":"a","lastSeen":"${iso(marker.lastSeen)}","staleSince":"${iso(marker.staleSince)}","returnedAt":"${iso(marker.returnedAt)}"}`]);
  });
});

describe('removed servers', () => {
  it('lose their stale markers, and their index rows where the hour of their last refresh is known', async () => {
    const { hosts, calls } = staleHosts();
    const synced = NOW - 90 * MINUTE;
    await hosts.hostsRemoved([{ server: 'a', hostSyncedAt: synced }, { server: 'b' }]);
    expect(calls).toStrictEqual([
      ['removeStale', ['a', 'b']],
      ['deleteSeen', 'a', seenPartition(synced)],
    ]);
  });
});
