// The reads with the fleet's lifecycle on them, without storage: stale and waiver flags on results
// and servers, waived findings counted apart in the summary, a name resolved to a server that
// counts or to a removed one, and a server's history. The service tests read the same answers
// from what real posts, removals and waivers wrote to Azurite.
import { describe, expect, it } from 'vitest';
import { isoInstant as iso } from '../../src/app/iso-time';
import { LifecycleQueries, WAIVED_PAGES_MAX, type LifecycleQueryDeps } from '../../src/app/lifecycle-queries';
import type { ReevalProgress } from '../../src/app/reevaluate';
import { RULES } from '../../src/rules/registry';
import { REMOVED_STATUS, type EventRecord, type HostRecord, type StaleMarker, type StoredResult, type StoredWaiver } from '../../src/store';
import { refusalOf, warnLog as warnings } from '../support/api-request';
import { WAIVER_NOW as T, waiverRecord } from '../support/waiver-records';

const RULE = RULES[0]!;

const waiver = (id: string, over: Partial<StoredWaiver> = {}): StoredWaiver => ({ ...waiverRecord({ id, ...over }), etag: `e-${id}` });
const stale = (server: string, lastSeen: number, lastSnapshotId = `s-${server}`): StaleMarker => ({ server, lastSeen, staleSince: lastSeen + 1000, lastSnapshotId });
const removal = (server: string, removedBy?: string) => ({ server, ruleId: RULE.id, status: REMOVED_STATUS, firstSeen: T, removedBy, message: { en: 'Removed by an admin.', ja: '' } }) as unknown as StoredResult;
const result = (server: string, status: string) => ({ server, ruleId: RULE.id, status });
const host = (server: string) => ({ server, hostName: server.split('.')[0], collectorName: 'c', collectorVersion: '1', firstSeen: T, lastSeen: T, lastSnapshotId: '', lastCollectedAt: T, hostHash: 'h' }) as HostRecord;
const event = (server: string) => ({ server, ruleId: RULE.id, fromStatus: 'Pass', toStatus: 'Warning', message: { en: 'now failing', ja: 'x' }, firstSeen: T, snapshotId: 's1', recordedAt: T }) as unknown as EventRecord;

type Match = { id: string } | { candidates: string[] };

interface World {
  stale?: StaleMarker[];
  active?: StoredWaiver[];
  /** The plain reads' results page. */
  results?: { items: ReturnType<typeof result>[]; continuationToken?: string };
  /** The plain reads' one server, by id. */
  servers?: Record<string, { server: string; results: { ruleId: string; status: string }[] }>;
  standing?: Record<string, 'counts' | 'removed'>;
  partitions?: Record<string, StoredResult[]>;
  /** Host names of servers that count, of removed ones and of enrolled ones. */
  live?: Record<string, Match>;
  removed?: Record<string, Match>;
  enrolled?: Record<string, string>;
  /** The rule index's failing rows of a rule, by page token ('' for the first page). */
  failing?: Record<string, { items: ReturnType<typeof result>[]; continuationToken?: string }>;
  reevaluation?: () => Promise<ReevalProgress>;
}

/** The lifecycle reads over a world held in memory; `calls` names every read, in order. */
function lifecycle(world: World = {}) {
  const calls: unknown[][] = [];
  const note =
    <A extends unknown[], R>(name: string, answer: (...args: A) => R) =>
    async (...args: A) => (calls.push([name, ...args]), answer(...args));
  const match = (table: Record<string, Match> | undefined, name: string) => table?.[name] ?? { candidates: [] };
  const deps = {
    plain: {
      manifest: () => (calls.push(['manifest']), { version: 'm1' }),
      rules: (lang: string) => (calls.push(['rules', lang]), { lang }),
      events: note('events', () => ({ items: ['e'] })),
      countsPending: note('countsPending', () => ({ countsPending: true })),
      results: note('results', () => world.results ?? { items: [] }),
      server: note('server', (server: string) => world.servers?.[server]),
      summary: note('summary', () => ({ counts: { Warning: 3 }, rules: [{ ruleId: RULE.id }, { ruleId: 'gone' }] })),
    },
    store: {
      serverStanding: note('standing', (name: string) => world.standing?.[name]),
      readPartition: note('partition', (id: string) => world.partitions?.[id] ?? []),
      listResults: note('listResults', (_f: unknown, _ids: unknown, _top: number, token?: string) => world.failing?.[token ?? ''] ?? { items: [] }),
    },
    hosts: { listHosts: note('hosts', () => ({ items: [host('exch1.contoso.com'), host('exch2.contoso.com')], continuationToken: undefined })) },
    events: { listHistory: note('history', () => ({ items: [event('exch1.contoso.com')], continuationToken: 'h2' })) },
    rules: RULES,
    lifecycle: {
      listStale: note('listStale', () => world.stale ?? []),
      getStale: note('getStale', (server: string) => world.stale?.find((m) => m.server === server)),
    },
    waivers: { active: note('active', () => world.active ?? []) },
    names: {
      resolve: note('resolve', (name: string) => `id-of-${name}`),
      byHostName: note('byHostName', (name: string) => match(world.live, name)),
    },
    removedNames: { byHostName: note('removedByHostName', (name: string) => match(world.removed, name)) },
    enrolledNames: { find: note('enrolled', (name: string) => (world.enrolled?.[name] ? { id: world.enrolled[name] } : { candidates: [] })) },
    reevaluation: world.reevaluation ?? note('reevaluation', () => ({ upToDate: true, pass: null }) as unknown as ReevalProgress),
  };
  return { q: new LifecycleQueries(deps as unknown as LifecycleQueryDeps), calls };
}

describe('what the lifecycle leaves as it is', () => {
  it('answers the manifest, the rule catalogue, the events and whether counts are pending from the plain reads', async () => {
    const { q, calls } = lifecycle();
    expect(q.manifest()).toStrictEqual({ version: 'm1' });
    expect(q.rules('ja')).toStrictEqual({ lang: 'ja' });
    expect(await q.events({ server: 'a' }, 5, 't', 'ja')).toStrictEqual({ items: ['e'] });
    expect(await q.countsPending()).toStrictEqual({ countsPending: true });
    expect(calls).toStrictEqual([['manifest'], ['rules', 'ja'], ['events', { server: 'a' }, 5, 't', 'ja'], ['countsPending']]);
  });
});

describe('results', () => {
  const world: World = {
    stale: [stale('b', T - 5000)],
    active: [waiver('w-a', { server: 'a' }), waiver('w-c', { server: 'c' })],
    results: { items: [result('a', 'Warning'), result('b', 'Pass'), result('c', 'Pass')], continuationToken: 'next' },
  };

  it('flags each result stale or not, and waived when an active waiver covers it while it fails', async () => {
    const { q, calls } = lifecycle(world);
    const page = await q.results({ ruleId: RULE.id }, 10, 't1', 'en');
    expect(page).toStrictEqual({
      continuationToken: 'next',
      items: [
        { ...result('a', 'Warning'), stale: false, staleSince: null, waived: true, waiverId: 'w-a' },
        { ...result('b', 'Pass'), stale: true, staleSince: iso(T - 4000), waived: false, waiverId: null },
        // In a waiver's scope but passing: nothing is waived.
        { ...result('c', 'Pass'), stale: false, staleSince: null, waived: false, waiverId: null },
      ],
    });
    expect(calls).toContainEqual(['results', { ruleId: RULE.id, waived: undefined }, 10, 't1', 'en']);
  });

  it('keeps only the waived results, or only the others, of each page as read, its token going on', async () => {
    for (const waived of [true, false]) {
      const { q, calls } = lifecycle(world);
      const page = await q.results({}, 10, undefined, 'en', waived);
      expect(page.items.map((i) => i.server), String(waived)).toStrictEqual(waived ? ['a'] : ['b', 'c']);
      expect(page.continuationToken).toBe('next');
      expect(calls).toContainEqual(['results', { waived }, 10, undefined, 'en']);
    }
  });
});

describe('resolving a name', () => {
  it('hands a name to the server names as it is', async () => {
    const { q, calls } = lifecycle();
    expect(await q.resolveServer('EXCH1')).toBe('id-of-EXCH1');
    expect(calls).toStrictEqual([['resolve', 'EXCH1']]);
  });

  it('takes the id of a server that counts in one read, looking up no host name', async () => {
    const { q, calls } = lifecycle({ standing: { 'exch1.contoso.com': 'counts' } });
    expect(await q.resolveServerOrRemoved('exch1.contoso.com')).toStrictEqual({ server: 'exch1.contoso.com' });
    expect(calls).toStrictEqual([['standing', 'exch1.contoso.com']]);
  });

  it('takes the id of a removed server with the marker of its removal', async () => {
    const marker = removal('old.contoso.com', 'alice');
    const { q, calls } = lifecycle({ standing: { 'old.contoso.com': 'removed' }, partitions: { 'old.contoso.com': [{ ...marker, status: 'Pass' } as StoredResult, marker] } });
    expect(await q.resolveServerOrRemoved('old.contoso.com')).toStrictEqual({ server: 'old.contoso.com', removal: marker });
    expect(calls).toStrictEqual([
      ['standing', 'old.contoso.com'],
      ['partition', 'old.contoso.com'],
    ]);
  });

  it('resolves the name again when the removed server posted since it was looked up', async () => {
    const { q } = lifecycle({ standing: { 'old.contoso.com': 'removed' }, partitions: { 'old.contoso.com': [{ ...removal('old.contoso.com'), status: 'Pass' } as StoredResult] } });
    expect(await q.resolveServerOrRemoved('old.contoso.com')).toStrictEqual({ server: 'id-of-old.contoso.com' });
  });

  it('takes the host name of a server that counts before that of a removed one', async () => {
    const { q, calls } = lifecycle({ live: { EXCH1: { id: 'exch1.contoso.com' } }, removed: { EXCH1: { id: 'exch1.old.com' } } });
    expect(await q.resolveServerOrRemoved('EXCH1')).toStrictEqual({ server: 'exch1.contoso.com' });
    expect(calls).toStrictEqual([
      ['standing', 'EXCH1'],
      ['byHostName', 'EXCH1'],
    ]);
  });

  it('refuses a host name several servers that count share, naming them, without asking the removed ones', async () => {
    const { q, calls } = lifecycle({ live: { EXCH: { candidates: ['exch.a.com', 'exch.b.com'] } }, removed: { EXCH: { id: 'exch.old.com' } } });
    const [code, sentence] = await refusalOf(() => q.resolveServerOrRemoved('EXCH'));
    expect(code).toBe('not_found');
    expect(sentence).toContain('exch.a.com');
    expect(sentence).toContain('exch.b.com');
    expect(calls.map((c) => c[0])).toStrictEqual(['standing', 'byHostName']);
  });

  it('takes the host name of a removed server with its marker', async () => {
    const marker = removal('exch9.contoso.com');
    const { q } = lifecycle({ removed: { EXCH9: { id: 'exch9.contoso.com' } }, partitions: { 'exch9.contoso.com': [marker] } });
    expect(await q.resolveServerOrRemoved('EXCH9')).toStrictEqual({ server: 'exch9.contoso.com', removal: marker });
  });

  it('tells a server that enrolled and never posted apart from no server at all', async () => {
    const { q, calls } = lifecycle({ enrolled: { new1: 'new1.contoso.com' } });
    const [code, sentence] = await refusalOf(() => q.resolveServerOrRemoved('new1'));
    expect(code).toBe('not_found');
    expect(sentence).toBe(
      'Server "new1.contoso.com" has enrolled but no snapshot of it has been accepted yet: its results, history and drift appear with its first one ' +
        '(GET /api/servers?neverPosted=true lists it once two hours pass without one, and GET /api/refused-servers says why its collector is refused; ' +
        'a refused snapshot is logged as FleetPosture.SnapshotRejected).',
    );
    expect(calls.map((c) => c[0])).toStrictEqual(['standing', 'byHostName', 'removedByHostName', 'enrolled']);

    const none = await refusalOf(() => lifecycle().q.resolveServerOrRemoved('nobody'));
    expect(none[0]).toBe('not_found');
    expect(none[1]).not.toContain('enrolled');
  });

  it('asks the enrolled servers nothing when removed servers share the name', async () => {
    const { q, calls } = lifecycle({ removed: { EXCH: { candidates: ['exch.a.com', 'exch.b.com'] } }, enrolled: { EXCH: 'exch.new.com' } });
    const [, sentence] = await refusalOf(() => q.resolveServerOrRemoved('EXCH'));
    expect(sentence).toContain('exch.a.com');
    expect(calls.map((c) => c[0])).not.toContain('enrolled');
  });

  it('refuses a removed server where only servers that count are asked for, saying when and by whom', async () => {
    const { q } = lifecycle({ standing: { 'old.contoso.com': 'removed' }, partitions: { 'old.contoso.com': [removal('old.contoso.com', 'alice')] } });
    expect(await refusalOf(() => q.resolveCountingServer('old.contoso.com'))).toStrictEqual(['not_found', `Server "old.contoso.com" was removed from the fleet at ${iso(T)} by alice; its history stays readable.`]);
    expect(await lifecycle({ standing: { a: 'counts' } }).q.resolveCountingServer('a')).toBe('a');
  });
});

describe('servers and one server', () => {
  it('lists the hosts a page at a time, each stale or not, the end of the list as a null token', async () => {
    const { q, calls } = lifecycle({ stale: [stale('exch2.contoso.com', T - 5000)] });
    const page = await q.servers(2, 't');
    expect(page.items.map((h) => [h.server, h.hostName, h.stale, h.staleSince])).toStrictEqual([
      ['exch1.contoso.com', 'exch1', false, null],
      ['exch2.contoso.com', 'exch2', true, iso(T - 4000)],
    ]);
    expect(page.continuationToken).toBeNull();
    expect(calls).toContainEqual(['hosts', 2, 't']);
  });

  it('answers a server with its stale marker and each failing result under a waiver flagged', async () => {
    const servers = { a: { server: 'a', results: [{ ruleId: RULE.id, status: 'Error' }, { ruleId: 'other', status: 'Warning' }] } };
    const { q, calls } = lifecycle({ servers, stale: [stale('a', T - 5000)], active: [waiver('w-a', { server: 'a' })] });
    expect(await q.server('a', 'ja')).toStrictEqual({
      server: 'a',
      stale: true,
      staleSince: iso(T - 4000),
      results: [
        { ruleId: RULE.id, status: 'Error', waived: true, waiverId: 'w-a' },
        { ruleId: 'other', status: 'Warning', waived: false, waiverId: null },
      ],
    });
    expect(calls).toStrictEqual([['server', 'a', 'ja'], ['getStale', 'a'], ['active']]);
    expect(await q.server('nobody', 'en')).toBeUndefined();
  });
});

describe('summary', () => {
  const progress = (state: 'running' | 'done'): ReevalProgress =>
    ({ loadedRuleSetVersion: '1', upToDate: false, pass: { ruleSetVersion: '1', ruleVersions: { [RULE.id]: RULE.version }, fromRuleVersions: { [RULE.id]: '0.9.0' }, retired: [], newerRelease: false, state, startedAt: iso(T) } }) as unknown as ReevalProgress;

  it('counts the failing results under an active waiver per rule, over every page of the rule index', async () => {
    const world: World = {
      stale: [stale('x', T), stale('y', T)],
      active: [waiver('w-a', { server: 'a' }), waiver('w-p', { server: undefined, serverPattern: 'exch*' }), waiver('w-o', { ruleId: 'other', server: 'z' })],
      failing: {
        '': { items: [result('a', 'Warning'), result('b', 'Warning'), result('exch1', 'Error')], continuationToken: 'p2' },
        p2: { items: [result('exch2', 'Warning'), result('exch3', 'Error'), result('c', 'Error')] },
      },
      reevaluation: async () => progress('running'),
    };
    const { q, calls } = lifecycle(world);
    const { log, lines } = warnings();
    const summary = await q.summary('ja', log);
    expect(summary).toStrictEqual({
      counts: { Warning: 3 },
      staleHosts: 2,
      activeWaivers: 3,
      waivedTotals: { Warning: 2, Error: 2 },
      rules: [
        {
          ruleId: RULE.id,
          waived: { Warning: 2, Error: 2 },
          pendingReevaluation: {
            ruleVersion: RULE.version,
            note: `A re-evaluation against version ${RULE.version} of ${RULE.id} has not finished: servers it has not reached yet are still counted with the status an earlier version gave them, so the counts may move as it goes on.`,
          },
        },
        // A rule the summary knows of and the loaded rules do not: no waiver, no re-evaluation read for it.
        { ruleId: 'gone', waived: { Warning: 0, Error: 0 } },
      ],
    });
    const ids = RULES.map((r) => r.id);
    expect(calls.filter((c) => c[0] === 'listResults')).toStrictEqual([
      ['listResults', { ruleId: RULE.id, statuses: ['Warning', 'Error'] }, ids, 1000, undefined, 'ja'],
      ['listResults', { ruleId: RULE.id, statuses: ['Warning', 'Error'] }, ids, 1000, 'p2', 'ja'],
    ]);
    expect(lines).toStrictEqual([]);
  });

  it('reads no rule index for a rule without an active waiver, and says nothing is owed once the pass is done', async () => {
    const { q, calls } = lifecycle({ active: [waiver('w-o', { ruleId: 'other', server: 'z' })], reevaluation: async () => progress('done') });
    const summary = await q.summary('en', warnings().log);
    expect(summary.rules[0]).toStrictEqual({ ruleId: RULE.id, waived: { Warning: 0, Error: 0 }, pendingReevaluation: null });
    expect(summary.waivedTotals).toStrictEqual({ Warning: 0, Error: 0 });
    expect(calls.map((c) => c[0])).not.toContain('listResults');
  });

  it('stops counting a waived rule at its page bound when the index keeps answering with a token', async () => {
    const { q, calls } = lifecycle({ active: [waiver('w-a', { server: 'a' })], failing: { '': { items: [result('a', 'Warning')], continuationToken: 'again' }, again: { items: [result('a', 'Warning')], continuationToken: 'again' } } });
    const summary = await q.summary('en', warnings().log);
    expect(calls.filter((c) => c[0] === 'listResults')).toHaveLength(WAIVED_PAGES_MAX);
    expect(summary.waivedTotals).toStrictEqual({ Warning: WAIVED_PAGES_MAX, Error: 0 });
    expect(WAIVED_PAGES_MAX).toBe(1000);
  });

  it('leaves the re-evaluation out, and logs why, when its state cannot be read', async () => {
    const { q } = lifecycle({ reevaluation: () => Promise.reject(new Error('storage down')) });
    const { log, lines } = warnings();
    const summary = await q.summary('en', log);
    expect(summary.rules[0]).toStrictEqual({ ruleId: RULE.id, waived: { Warning: 0, Error: 0 } });
    expect(lines).toStrictEqual(['The summary is answered without pendingReevaluation: the re-evaluation state could not be read (storage down).']);
  });
});

describe('stale servers and history', () => {
  it('lists the stale servers longest silent first, a missing snapshot id as null', async () => {
    const { q } = lifecycle({ stale: [stale('b', T - 1000), stale('a', T - 9000, ''), stale('c', T - 5000)] });
    expect((await q.staleServers()).items).toStrictEqual([
      { server: 'a', stale: true, lastSeen: iso(T - 9000), staleSince: iso(T - 8000), lastSnapshotId: null },
      { server: 'c', stale: true, lastSeen: iso(T - 5000), staleSince: iso(T - 4000), lastSnapshotId: 's-c' },
      { server: 'b', stale: true, lastSeen: iso(T - 1000), staleSince: iso(T), lastSnapshotId: 's-b' },
    ]);
  });

  it('answers a server history a page at a time, with when and by whom a removed server was removed', async () => {
    const { q, calls } = lifecycle();
    const counting = await q.history({ server: 'exch1.contoso.com' }, RULE.id, 25, 't', 'ja');
    expect(counting).toMatchObject({ server: 'exch1.contoso.com', removed: null, continuationToken: 'h2' });
    expect(counting.items.map((i) => [i.server, i.toStatus, i.message])).toStrictEqual([['exch1.contoso.com', 'Warning', 'x']]);
    expect(calls).toStrictEqual([['history', 'exch1.contoso.com', RULE.id, 25, 't']]);

    const removed = await q.history({ server: 'old.contoso.com', removal: removal('old.contoso.com', 'alice') }, undefined, 25, undefined, 'en');
    expect(removed.removed).toStrictEqual({ removedAt: iso(T), removedBy: 'alice', message: 'Removed by an admin.' });
  });
});
