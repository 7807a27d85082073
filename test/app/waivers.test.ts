// Waivers without storage: granting, changing and ending a waiver over its row held in memory with
// ETags, each change stored with its follow-up owed (its audit event, and for an end or a narrowing
// the alerts it hands back) and the follow-up done after, then cleared from the row by ETag; the
// coverage a PUT answers, counted from the servers known; and the expiry timer. Another admin's
// change landing meanwhile, writes whose answer was lost, If-Match and If-None-Match: *, and storage
// refusing are played by the fakes, which record every call in order. The service tests run the
// same paths over HTTP and Azurite.
import { RestError } from '@azure/data-tables';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoInstant as iso } from '../../src/app/iso-time';
import type { Precondition } from '../../src/app/preconditions';
import { ServerNames, type ServerSource } from '../../src/app/server-names';
import { Waivers, type WaiversDeps } from '../../src/app/waivers';
import type { Rule } from '../../src/rules/types';
import { ConcurrencyConflictError, CONTENDED_ATTEMPTS, REMOVED_STATUS, type EventRecord, type StoredResult, type StoredWaiver, type WaiverRecord, type WaiverState } from '../../src/store';
import { memoryEvents } from '../support/memory-events';
import { memoryGuardedRows } from '../support/memory-guarded-rows';
import { refusalOf } from '../support/api-request';
import { memoryPartition } from '../support/memory-partition';
import { storedResult } from '../support/stored-results';
import { alphaRule, betaRule } from '../support/snapshots';
import { DAY_MS, WAIVER_NOW as NOW, waiverRecord } from '../support/waiver-records';

const HOUR = 3_600_000;
const RULE = alphaRule.id;
const RULES: readonly Rule[] = [alphaRule, betaRule];
const id = (host: string) => `${host}.corp.contoso.com`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const S1 = '3b1f6c2e-5d4a-4c8b-9e7f-0a1b2c3d4e5f';
const unavailable = () => new RestError('unavailable', { statusCode: 503 });
const conflict = () => new ConcurrencyConflictError('Waiver w-1 was changed meanwhile.');

/** A stored result as a post leaves it: a Warning of RULE that began two days ago. */
const result = (server: string, over: Partial<StoredResult> = {}): StoredResult =>
  storedResult({
    server,
    ruleId: RULE,
    remediation: { en: [], ja: [] },
    evidenceJson: '{}',
    firstSeen: NOW - 2 * DAY_MS,
    previousStatus: 'Pass',
    snapshotId: S1,
    collectedAt: NOW - HOUR,
    lastSeen: NOW - HOUR,
    contentHash: 'c1',
    hostHash: 'h1',
    hostSyncedAt: NOW - HOUR,
    etag: 'unset',
    ...over,
  });

/**
 * The fleet: exch1 fails RULE (a Warning) and the other rule, exch2 fails RULE (an Error, with no
 * status before), exch3 passes it, and gone was removed (only its marker is left).
 */
const FLEET: readonly StoredResult[] = [
  result(id('exch1')),
  result(id('exch1'), { ruleId: betaRule.id, status: 'Error', reasonCode: 'Other' }),
  result(id('exch2'), { status: 'Error', reasonCode: 'NoRule', previousStatus: undefined, firstSeen: NOW - 3 * DAY_MS }),
  result(id('exch3'), { status: 'Pass', reasonCode: 'Excluded' }),
  result(id('gone'), { status: REMOVED_STATUS, reasonCode: 'Removed' }),
];

/** A waiver as the store reads it back: w-1 on exch1, granted by alice a day ago, ending in a day. */
const row = (over: Partial<StoredWaiver> = {}): StoredWaiver => ({
  ...waiverRecord({ ruleId: RULE, server: id('exch1'), justification: 'Relay moves in January', grantedBy: 'alice', writers: ['w-old'] }),
  etag: 'seed',
  ...over,
});

/** A PUT body of w-1 as bob sends it: exch2 for a week. */
const body = (over: Record<string, unknown> = {}) => ({ rule: RULE, server: 'exch2', justification: 'Patch due', grantedBy: 'bob', expiresAt: iso(NOW + 7 * DAY_MS), ...over });

/** What the next write of a waiver does instead of landing plainly (an Error: thrown before landing; a function: called once it landed, and what it answers thrown). */

/** A record without the keys whose value is undefined, as the store reads a row back. */
const dense = <T extends object>(r: T): T => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as T;

function world(waivers: readonly StoredWaiver[] = [row()], results: readonly StoredResult[] = FLEET) {
  const fleet = new Map<string, ReturnType<typeof memoryPartition>>();
  for (const r of results) {
    const p = fleet.get(r.server) ?? memoryPartition();
    p.rows.set(r.ruleId, r);
    fleet.set(r.server, p);
  }
  const calls: unknown[][] = [];
  const lines: string[] = [];
  const { stored, writes, meanwhile, land, put } = memoryGuardedRows<WaiverRecord, StoredWaiver>(calls, {
    name: 'put',
    key: (w) => w.id,
    stored: (w, etag) => {
      const { etag: _old, ...record } = w as StoredWaiver;
      return dense({ ...record, etag });
    },
    conflict: (w) => new ConcurrencyConflictError(`Waiver ${w.id} was changed meanwhile.`),
    seed: waivers,
  });
  /** Run just before the next reads of a waiver answer (undefined: nothing). */
  const reads: ((() => void) | undefined)[] = [];
  const { events, eventWrites, store: eventStore } = memoryEvents(calls);
  /** Server ids known besides those with results (servers that enrolled), and what the next server-name reads run first. */
  const enrolled: string[] = [];
  const nameReads: ((() => void) | undefined)[] = [];
  /** Whether the Results listing always has another page. */
  const endless = { pages: false };
  let time = NOW;
  const counting = () => [...fleet.entries()].filter(([, p]) => p.read().some((r) => r.status !== REMOVED_STATUS)).map(([s]) => s);
  const source: ServerSource = {
    hasServer: async () => false,
    serversWithPrefix: async (prefix: string, max: number) => {
      calls.push(['serversWithPrefix', prefix, max]);
      nameReads.shift()?.();
      return [...counting(), ...enrolled]
        .filter((s) => s.startsWith(prefix))
        .sort()
        .slice(0, max);
    },
  };
  const deps = {
    rules: RULES,
    clock: () => time,
    maxDays: 30,
    names: new ServerNames(source),
    store: {
      serverStanding: async (name: string) => {
        calls.push(['serverStanding', name]);
        const rows = fleet.get(name)?.read() ?? [];
        if (rows.some((r) => r.status !== REMOVED_STATUS)) return 'counts';
        return rows.length > 0 ? 'removed' : undefined;
      },
      listResults: async (filter: { server?: string; ruleId?: string; statuses: readonly string[] }, ruleIds: readonly string[], top: number, token: string | undefined, lang: string) => {
        calls.push(['listResults', filter, ruleIds, top, token, lang]);
        if (endless.pages) return { items: [], continuationToken: 'more' };
        const all = [...fleet.values()]
          .flatMap((p) => p.read())
          .filter((r) => (filter.server === undefined || r.server === filter.server) && (filter.ruleId === undefined || r.ruleId === filter.ruleId) && filter.statuses.includes(r.status))
          .sort((a, b) => a.server.localeCompare(b.server));
        // Two results a page, so that a scope of three takes two.
        const from = Number(token ?? '0');
        const items = all.slice(from, from + 2).map((r) => ({ server: r.server, ruleId: r.ruleId, ruleVersion: r.ruleVersion, status: r.status, reasonCode: r.reasonCode, severity: r.severity, message: r.message, firstSeen: r.firstSeen, previousStatus: r.previousStatus }));
        return { items, continuationToken: from + 2 < all.length ? String(from + 2) : undefined };
      },
    },
    waivers: {
      list: async (state?: WaiverState) => {
        calls.push(['list', state]);
        return [...stored.values()].filter((w) => !state || w.state === state);
      },
      get: async (wid: string) => {
        calls.push(['get', wid]);
        reads.shift()?.();
        return stored.get(wid);
      },
      put,
    },
    events: eventStore,
  };
  const waiversOf = new Waivers(deps as unknown as WaiversDeps);
  const log = { log: (l: string) => void lines.push(l) };
  return {
    waivers: waiversOf,
    fleet,
    stored,
    calls,
    lines,
    events,
    writes,
    meanwhile,
    reads,
    eventWrites,
    enrolled,
    nameReads,
    endless,
    land,
    log,
    at: (t: number) => void (time = t),
    put: (doc: unknown, precondition?: Precondition, createOnly?: boolean, wid = 'w-1') => waiversOf.put(wid, doc, log, precondition, createOnly),
    remove: (precondition?: Precondition, wid = 'w-1') => waiversOf.remove(wid, log, precondition),
    expire: () => waiversOf.expire(log),
    /** The calls by name. */
    steps: () => calls.map((c) => c[0]),
    /** The waiver writes as [revision, state, what the row owes (its follow-up cause, or settled), ETag written under]. */
    rowWrites: () => calls.filter((c) => c[0] === 'put').map(([, w, etag]) => [(w as WaiverRecord).revision, (w as WaiverRecord).state, (w as WaiverRecord).followUp?.cause ?? 'settled', etag]),
    /** The audit events written, as snapshot id, cause and the time they are of. */
    written: () => events.map((e) => [e.snapshotId, e.cause, e.firstSeen]),
  };
}

/** The two records re-raising a finding that a waiver stopped covering, as the alert log holds them. */
function reRaised(r: StoredResult, waiverId: string, revision: number, reason: string, endedAt: number): string[] {
  const at = `${waiverId}.r${revision}`;
  return [
    `FleetPosture.WaiverExpired ${JSON.stringify({ server: r.server, rule: r.ruleId, waiverId, reason, status: r.status })}`,
    `FleetPosture.NewFinding ${JSON.stringify({
      server: r.server,
      rule: r.ruleId,
      status: r.status,
      reasonCode: r.reasonCode,
      previousStatus: r.previousStatus ?? null,
      waived: false,
      waiverId: null,
      cause: `waiver-${reason}`,
      endedAt: iso(endedAt),
      recordId: `${r.server}|${r.ruleId}|${at}|${r.firstSeen}|${r.status}`,
    })}`,
  ];
}

/** An If-Match that holds for `etag` only, with the ETags it was asked about. */
function ifMatch(etag: string) {
  const asked: (string | undefined)[] = [];
  const precondition: Precondition = (e) => (asked.push(e), e === etag);
  return { precondition, asked };
}

const [EXCH1, , EXCH2] = FLEET as [StoredResult, StoredResult, StoredResult];

afterEach(() => {
  vi.useRealTimers();
});

describe('reading waivers', () => {
  it('reads one by its id, and answers none for an id no waiver can have without reading', async () => {
    const w = world();
    expect(await w.waivers.get('w-1')).toStrictEqual(row());
    expect(await w.waivers.get('w-2')).toBeUndefined();
    expect(await w.waivers.get('-w-1')).toBeUndefined();
    expect(await w.waivers.get('w'.repeat(65))).toBeUndefined();
    expect(w.calls).toStrictEqual([
      ['get', 'w-1'],
      ['get', 'w-2'],
    ]);
  });

  it('lists them by id, and in a state as of now: one stored active but past its end is expired', async () => {
    const w = world([row({ id: 'w-c' }), row({ id: 'w-a', expiresAt: NOW }), row({ id: 'w-e', state: 'deleted' }), row({ id: 'w-b', state: 'expired' }), row({ id: 'w-d' })]);
    const ids = (list: readonly StoredWaiver[]) => list.map((x) => x.id);
    expect(ids(await w.waivers.list())).toStrictEqual(['w-a', 'w-b', 'w-c', 'w-d', 'w-e']);
    expect(ids(await w.waivers.list('active'))).toStrictEqual(['w-c', 'w-d']);
    expect(ids(await w.waivers.list('expired'))).toStrictEqual(['w-a', 'w-b']);
    expect(ids(await w.waivers.list('deleted'))).toStrictEqual(['w-e']);
    expect(w.calls).toStrictEqual([['list', undefined], ['list', undefined], ['list', undefined], ['list', undefined]]);
  });

  it('names the waivers in force (the active ones before their end) and which one covers a server: one of that server before a pattern, else the pattern running longest', async () => {
    const pattern = row({ id: 'w-p', server: undefined, serverPattern: 'exch*', expiresAt: NOW + 5 * DAY_MS });
    const shorter = row({ id: 'w-q', server: undefined, serverPattern: 'exch?.corp*', expiresAt: NOW + 2 * DAY_MS });
    const w = world([row(), pattern, shorter, row({ id: 'w-x', expiresAt: NOW }), row({ id: 'w-y', ruleId: betaRule.id, server: id('exch2') })]);
    expect((await w.waivers.active()).map((x) => x.id)).toStrictEqual(['w-1', 'w-p', 'w-q', 'w-y']);
    expect(w.calls).toStrictEqual([['list', 'active']]);
    expect(await w.waivers.waiverOf(id('exch1'), RULE)).toBe('w-1');
    expect(await w.waivers.waiverOf(id('exch2'), RULE)).toBe('w-p');
    expect(await w.waivers.waiverOf(id('exch2'), betaRule.id)).toBe('w-y');
    expect(await w.waivers.waiverOf('mbx1.corp.contoso.com', RULE)).toBeUndefined();
  });

  it('gives the projector one lookup over one read: a waiver the timer has not ended covers findings that began before its end, never at or after it', async () => {
    const w = world([row({ expiresAt: NOW - HOUR }), row({ id: 'w-p', server: undefined, serverPattern: 'exch*', expiresAt: NOW + DAY_MS }), row({ id: 'w-z', state: 'deleted', server: id('exch3') })]);
    const covering = await w.waivers.coverage();
    expect(w.calls).toStrictEqual([['list', 'active']]);
    expect(covering(id('exch1'), RULE, NOW - HOUR - 1)).toBe('w-1');
    expect(covering(id('exch1'), RULE, NOW - HOUR)).toBe('w-p');
    expect(covering(id('exch1'), RULE, NOW + DAY_MS)).toBeUndefined();
    expect(covering(id('exch3'), RULE, NOW)).toBe('w-p');
    expect(covering(id('exch1'), betaRule.id, NOW)).toBeUndefined();
    expect(w.calls).toHaveLength(1);
  });
});

describe('granting a waiver', () => {
  it('creates one on a server named by its host name at revision 1, stores it owing its audit event, then writes the event and clears it from the row', async () => {
    const w = world([]);
    const answer = await w.put(body());
    const first = w.calls[3]![1] as WaiverRecord;
    expect(first.writers).toStrictEqual([expect.stringMatching(UUID)]);
    const next = {
      id: 'w-1',
      ruleId: RULE,
      server: id('exch2'),
      serverPattern: undefined,
      justification: 'Patch due',
      grantedBy: 'bob',
      expiresAt: NOW + 7 * DAY_MS,
      grantedAt: NOW,
      changedAt: NOW,
      state: 'active',
      revision: 1,
      followedUpBy: undefined,
      followUp: { cause: 'waiver-created', at: NOW },
      writers: first.writers,
    };
    expect(answer).toStrictEqual({ created: true, waiver: { ...next, etag: 'e1' }, coverage: { servers: 1, atLeast: false, warnings: [] } });
    const cleared = w.calls[5]![1] as WaiverRecord;
    expect(cleared.followedUpBy).toStrictEqual([expect.stringMatching(UUID)]);
    expect(cleared.followedUpBy![0]).not.toBe(first.writers![0]);
    const event: EventRecord = {
      server: id('exch2'),
      ruleId: RULE,
      ruleVersion: '',
      toStatus: '',
      reasonCode: '',
      severity: '',
      message: { en: `Waiver w-1 created for ${id('exch2')} by bob: Patch due`, ja: `免除 w-1 (waiver-created) ${id('exch2')}: Patch due` },
      firstSeen: NOW,
      snapshotId: 'w-1.r1',
      recordedAt: NOW,
      cause: 'waiver-created',
      waiverId: 'w-1',
      detail: JSON.stringify({
        id: 'w-1',
        rule: RULE,
        server: id('exch2'),
        serverPattern: null,
        justification: 'Patch due',
        grantedBy: 'bob',
        grantedAt: iso(NOW),
        expiresAt: iso(NOW + 7 * DAY_MS),
        changedAt: iso(NOW),
        state: 'active',
        endedAt: null,
        revision: 1,
      }),
    };
    expect(w.calls).toStrictEqual([
      ['serverStanding', 'exch2'],
      ['serversWithPrefix', 'exch2.', 20],
      ['get', 'w-1'],
      ['put', next, undefined],
      ['putEvents', [event]],
      ['put', { ...next, etag: 'e1', followUp: undefined, followedUpBy: cleared.followedUpBy }, 'e1'],
    ]);
    expect(w.stored.get('w-1')).toStrictEqual(dense({ ...next, followUp: undefined, followedUpBy: cleared.followedUpBy, etag: 'e2' }));
    expect(w.lines).toStrictEqual([]);
  });

  it('takes a server by its id in one read of its partition: one that counts covers it, a removed one and one not posted yet cover no server, said', async () => {
    const counts = world([]);
    expect((await counts.put(body({ server: id('exch3') }))).coverage).toStrictEqual({ servers: 1, atLeast: false, warnings: [] });
    expect(counts.calls.slice(0, 2)).toStrictEqual([
      ['serverStanding', id('exch3')],
      ['get', 'w-1'],
    ]);
    const removed = world([]);
    const gone = await removed.put(body({ server: id('gone') }));
    expect(gone.waiver.server).toBe(id('gone'));
    expect(gone.coverage).toStrictEqual({
      servers: 0,
      atLeast: false,
      warnings: [{ code: 'covers_no_server', message: `Server "${id('gone')}" was removed from the fleet, so the waiver covers no server known now; it is stored and covers that server again if it posts under that id.` }],
    });
    expect(removed.steps().slice(0, 2)).toStrictEqual(['serverStanding', 'get']);
    const notYet = world([]);
    const later = await notYet.put(body({ server: 'new1.corp.contoso.com' }));
    expect(later.waiver.server).toBe('new1.corp.contoso.com');
    expect(later.coverage).toStrictEqual({
      servers: 0,
      atLeast: false,
      warnings: [{ code: 'covers_no_server', message: 'No server "new1.corp.contoso.com" has posted yet, so the waiver covers no server known now; it is stored and covers that server once it posts under that id.' }],
    });
    expect(notYet.calls.slice(0, 2)).toStrictEqual([
      ['serverStanding', 'new1.corp.contoso.com'],
      ['serversWithPrefix', 'new1.corp.contoso.com.', 20],
    ]);
  });

  it('refuses a bare name that begins no server, and a name several servers begin (with a dot or without), storing nothing', async () => {
    const w = world([]);
    w.enrolled.push('web.a.contoso.com', 'web.a.fabrikam.com');
    expect(await refusalOf(() => w.put(body({ server: 'exch9' })))).toStrictEqual(['invalid_waiver', 'No server "exch9" is known: no server has that id (its FQDN, lower case) or a host name that begins one.']);
    const several = ['invalid_waiver', 'No server "web.a" is known; did you mean web.a.contoso.com or web.a.fabrikam.com? Use the server id (its FQDN).'];
    expect(await refusalOf(() => w.put(body({ server: 'web.a' })))).toStrictEqual(several);
    expect(w.steps()).toStrictEqual(['serverStanding', 'serversWithPrefix', 'serverStanding', 'serversWithPrefix']);
    expect(w.stored.size).toBe(0);
  });

  it('refuses a body before any read, and stores nothing when counting its coverage fails', async () => {
    const w = world([]);
    expect(await refusalOf(() => w.put(body({ server: undefined })))).toStrictEqual(['invalid_waiver', 'Give exactly one of "server" (a server id) and "serverPattern" (with * or ? wildcards).']);
    expect(await refusalOf(() => w.put(body(), undefined, false, '-bad'))).toStrictEqual(['invalid_waiver', expect.stringContaining('waiver id')]);
    expect(await refusalOf(() => w.put(body({ expiresAt: iso(NOW + 31 * DAY_MS) })))).toStrictEqual(['invalid_waiver', '"expiresAt" may be at most 30 days from now (POSTURE_WAIVER_MAX_DAYS).']);
    expect(w.calls).toStrictEqual([]);
    w.nameReads.push(() => {
      throw unavailable();
    });
    await expect(w.put(body({ server: undefined, serverPattern: 'exch*' }))).rejects.toThrow('unavailable');
    expect(w.steps()).toStrictEqual(['serversWithPrefix']);
  });
});

describe('the coverage of a pattern', () => {
  it('counts the servers known now that it matches, in one read of the range before its first wildcard', async () => {
    const w = world([]);
    const answer = await w.put(body({ server: undefined, serverPattern: 'EXCH*' }));
    expect(answer.coverage).toStrictEqual({ servers: 3, atLeast: false, warnings: [] });
    expect(answer.waiver).toMatchObject({ serverPattern: 'exch*', server: undefined });
    expect(w.calls.slice(0, 2)).toStrictEqual([
      ['serversWithPrefix', 'exch', 5000],
      ['get', 'w-1'],
    ]);
  });

  it('says "or more" where that range held more servers than were read, whether or not any matched', async () => {
    const w = world([]);
    w.nameReads.push(() => w.enrolled.push(...Array.from({ length: 5000 }, (_, i) => `mbx.n${i}.contoso.com`)));
    expect((await w.put(body({ server: undefined, serverPattern: 'mbx?.*' }))).coverage).toStrictEqual({ servers: 0, atLeast: true, warnings: [] });
    expect(w.calls.slice(0, 2)).toStrictEqual([
      ['serversWithPrefix', 'mbx', 5000],
      ['get', 'w-1'],
    ]);
  });

  it('warns of a host-name pattern that matches no id, saying what it would cover as an FQDN', async () => {
    const w = world([]);
    const answer = await w.put(body({ server: undefined, serverPattern: 'exch?' }));
    expect(answer.coverage).toStrictEqual({
      servers: 0,
      atLeast: false,
      warnings: [
        {
          code: 'covers_no_server',
          message: `"serverPattern" "exch?" covers none of the servers known now: servers are known by their id, the FQDN (such as ${id('exch1')}), and "exch?.*" would cover 3 of them; the waiver is stored and covers servers that post under a matching id later.`,
        },
      ],
    });
    expect(w.calls.slice(0, 3)).toStrictEqual([
      ['serversWithPrefix', 'exch', 5000],
      ['serversWithPrefix', 'exch', 5000],
      ['get', 'w-1'],
    ]);
    expect(answer.waiver.serverPattern).toBe('exch?');
  });

  it('counts the FQDNs as "or more" where their range held more than were read', async () => {
    const w = world([]);
    w.nameReads.push(undefined, () => w.enrolled.push(...Array.from({ length: 5000 }, (_, i) => `exchb.n${i}.contoso.com`)));
    const [warning] = (await w.put(body({ server: undefined, serverPattern: 'exch?' }))).coverage.warnings;
    expect(warning!.message).toBe(
      `"serverPattern" "exch?" covers none of the servers known now: servers are known by their id, the FQDN (such as ${id('exch1')}), and "exch?.*" would cover 5000 or more of them; the waiver is stored and covers servers that post under a matching id later.`,
    );
  });

  it('warns of a pattern that matches no id, without a second read where it has a dot or the FQDNs match none either', async () => {
    const none = (pattern: string) => `"serverPattern" "${pattern}" covers none of the servers known now (no server id matches it); the waiver is stored and covers servers that post under a matching id later.`;
    const dotted = world([]);
    expect((await dotted.put(body({ server: undefined, serverPattern: 'zz?.corp' }))).coverage).toStrictEqual({ servers: 0, atLeast: false, warnings: [{ code: 'covers_no_server', message: none('zz?.corp') }] });
    expect(dotted.steps().slice(0, 2)).toStrictEqual(['serversWithPrefix', 'get']);
    const bare = world([]);
    expect((await bare.put(body({ server: undefined, serverPattern: 'zz?' }))).coverage.warnings).toStrictEqual([{ code: 'covers_no_server', message: none('zz?') }]);
    expect(bare.calls.slice(0, 2)).toStrictEqual([
      ['serversWithPrefix', 'zz', 5000],
      ['serversWithPrefix', 'zz', 5000],
    ]);
  });
});

describe('changing a waiver', () => {
  it('replaces one in force: its grant time kept, the next revision, its request named first among the writers, and what it no longer covers re-raised', async () => {
    const old = row({ server: undefined, serverPattern: 'exch*', revision: 3, followedUpBy: ['f-old'] });
    const w = world([old]);
    const answer = await w.put(body({ server: undefined, serverPattern: 'exch1*', justification: 'Only exch1 now' }));
    const next = w.calls[2]![1] as WaiverRecord;
    expect(next).toStrictEqual({
      id: 'w-1',
      ruleId: RULE,
      server: undefined,
      serverPattern: 'exch1*',
      justification: 'Only exch1 now',
      grantedBy: 'bob',
      expiresAt: NOW + 7 * DAY_MS,
      grantedAt: NOW - DAY_MS,
      changedAt: NOW,
      state: 'active',
      revision: 4,
      followedUpBy: ['f-old'],
      followUp: { cause: 'waiver-changed', at: NOW, reRaise: { reason: 'changed', endedAt: NOW, scope: { ruleId: RULE, server: undefined, serverPattern: 'exch*', expiresAt: NOW + DAY_MS } } },
      writers: [expect.stringMatching(UUID), 'w-old'],
    });
    expect(answer.created).toBe(false);
    expect(answer.waiver).toStrictEqual({ ...next, etag: 'e1' });
    expect(w.calls[2]![2]).toBe('seed');
    // exch1 stays covered by the waiver as changed; exch2 is handed back.
    expect(w.lines).toStrictEqual(reRaised(EXCH2, 'w-1', 4, 'changed', NOW));
    expect(w.stored.get('w-1')!.followedUpBy).toStrictEqual([expect.stringMatching(UUID), 'f-old']);
    expect(w.events.map((e) => [e.snapshotId, e.cause, e.server, e.message.en])).toStrictEqual([['w-1.r4', 'waiver-changed', '', 'Waiver w-1 changed for exch1* by bob: Only exch1 now']]);
    expect(w.steps()).toStrictEqual(['serversWithPrefix', 'get', 'put', 'list', 'listResults', 'putEvents', 'put']);
    expect(w.calls.filter((c) => c[0] === 'listResults')).toStrictEqual([['listResults', { server: undefined, ruleId: RULE, statuses: ['Warning', 'Error'] }, [RULE, betaRule.id], 1000, undefined, 'en']]);
  });

  it('creates anew over one that ended (expired or deleted): a new grant time, the revisions counting on, answered as created', async () => {
    for (const state of ['expired', 'deleted'] as const) {
      const w = world([row({ state, endedAt: NOW - HOUR, revision: 2 })]);
      const answer = await w.put(body());
      expect(answer.created).toBe(true);
      expect(answer.waiver).toMatchObject({ grantedAt: NOW, revision: 3, state: 'active', followUp: { cause: 'waiver-created', at: NOW } });
      expect(answer.waiver.followUp!.reRaise).toBeUndefined();
      expect(w.lines).toStrictEqual([]);
    }
  });

  it('first ends one past its end as the timer would (its audit, and its alerts handed back), then creates anew over it', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    const answer = await w.put(body());
    expect(answer.created).toBe(true);
    expect(answer.waiver).toMatchObject({ grantedAt: NOW, revision: 3, server: id('exch2') });
    expect(w.rowWrites()).toStrictEqual([
      [2, 'expired', 'waiver-expired', 'seed'],
      [2, 'expired', 'settled', 'e1'],
      [3, 'active', 'waiver-created', 'e2'],
      [3, 'active', 'settled', 'e3'],
    ]);
    expect(w.written()).toStrictEqual([
      ['w-1.r2', 'waiver-expired', NOW - HOUR],
      ['w-1.r3', 'waiver-created', NOW],
    ]);
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 2, 'expired', NOW));
  });

  it('with If-None-Match: * refuses one in force, and creates over one ended or none', async () => {
    const w = world([row({ revision: 2 })]);
    expect(await refusalOf(() => w.put(body(), undefined, true))).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 is in force already (at "2"), and If-None-Match: * only creates, so nothing was changed; read it, and change it with If-Match if that is what you meant.',
    ]);
    expect(w.steps()).not.toContain('put');
    for (const rows of [[], [row({ expiresAt: NOW - HOUR })], [row({ state: 'deleted' })]]) {
      const fresh = world(rows);
      expect((await fresh.put(body(), undefined, true)).created).toBe(true);
      expect(fresh.stored.get('w-1')).toMatchObject({ server: id('exch2'), state: 'active' });
    }
  });

  it('with If-Match compares the revision as stored, and refuses a stale one, or one naming a waiver there is not, before writing', async () => {
    const w = world([row({ revision: 2 })]);
    const one = ifMatch('"1"');
    expect(await refusalOf(() => w.put(body(), one.precondition))).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 is at "2" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect(one.asked).toStrictEqual(['"2"']);
    expect(await refusalOf(() => w.put(body(), one.precondition, false, 'w-2'))).toStrictEqual(['precondition_failed', 'There is no waiver "w-2", so If-Match does not hold and nothing was changed.']);
    expect(one.asked).toStrictEqual(['"2"', undefined]);
    expect(w.steps()).not.toContain('put');
    const two = ifMatch('"2"');
    expect((await w.put(body(), two.precondition)).waiver.revision).toBe(3);
    expect(two.asked).toStrictEqual(['"2"']);
  });

  it('holds If-Match to the revision it read past its end, which this request ends first, when its write is decided again', async () => {
    const w = world([row({ expiresAt: NOW - HOUR, revision: 2 })]);
    const two = ifMatch('"2"');
    // The row's ETag moves (its follow-up cleared once more) just before the request writes its change.
    w.meanwhile.push(undefined, undefined, () => void w.land(w.stored.get('w-1')!));
    const answer = await w.put(body(), two.precondition);
    expect(answer).toMatchObject({ created: true, waiver: { revision: 4, server: id('exch2') } });
    expect(two.asked).toStrictEqual(['"2"']);
    expect(w.rowWrites()).toStrictEqual([
      [3, 'expired', 'waiver-expired', 'seed'],
      [3, 'expired', 'settled', 'e1'],
      [4, 'active', 'waiver-created', 'e2'],
      [4, 'active', 'waiver-created', 'e3'],
      [4, 'active', 'settled', 'e4'],
    ]);
  });
});

describe('a change meeting another', () => {
  it('is decided again on the row there now when another admin changed it meanwhile, without If-Match', async () => {
    const w = world([row()]);
    w.meanwhile.push(() => void w.land({ ...row(), revision: 2, justification: 'Carol was here', grantedBy: 'carol' }));
    const answer = await w.put(body());
    expect(answer.waiver).toMatchObject({ revision: 3, grantedBy: 'bob', grantedAt: NOW - DAY_MS });
    expect(w.rowWrites()).toStrictEqual([
      [2, 'active', 'waiver-changed', 'seed'],
      [3, 'active', 'waiver-changed', 'e1'],
      [3, 'active', 'settled', 'e2'],
    ]);
    expect(w.written()).toStrictEqual([['w-1.r3', 'waiver-changed', NOW]]);
  });

  it('is refused with If-Match when another admin changed it meanwhile, and goes on when only its follow-up was cleared meanwhile', async () => {
    const w = world([row()]);
    const one = ifMatch('"1"');
    w.meanwhile.push(() => void w.land({ ...row(), revision: 2, grantedBy: 'carol' }));
    expect(await refusalOf(() => w.put(body(), one.precondition))).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 is at "2" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect(one.asked).toStrictEqual(['"1"']);
    const cleared = world([row()]);
    cleared.meanwhile.push(() => void cleared.land(row({ followedUpBy: ['f-1'] })));
    const answer = await cleared.put(body(), one.precondition);
    expect(answer.waiver).toMatchObject({ revision: 2, followedUpBy: ['f-1'] });
    expect(cleared.rowWrites()).toStrictEqual([
      [2, 'active', 'waiver-changed', 'seed'],
      [2, 'active', 'waiver-changed', 'e1'],
      [2, 'active', 'settled', 'e2'],
    ]);
  });

  it('without If-Match decides a creation again over the waiver another request created meanwhile, and replaces it', async () => {
    const w = world([]);
    w.meanwhile.push(() => void w.land(row({ revision: 1 })));
    const answer = await w.put(body());
    expect(answer).toMatchObject({ created: false, waiver: { revision: 2 } });
  });

  it('waits before it tries again', async () => {
    vi.useFakeTimers();
    const w = world([row()]);
    w.meanwhile.push(() => void w.land(row({ revision: 2 })));
    const answer = w.put(body());
    await vi.advanceTimersByTimeAsync(0);
    expect(w.steps()).toStrictEqual(['serverStanding', 'serversWithPrefix', 'get', 'put', 'get']);
    await vi.advanceTimersByTimeAsync(100);
    expect(w.steps().slice(5, 7)).toStrictEqual(['get', 'put']);
    expect((await answer).waiver.revision).toBe(3);
    vi.useRealTimers();
  });

  it(`gives up after ${CONTENDED_ATTEMPTS} attempts: the conflict without If-Match, with it a refusal saying the waiver was changed meanwhile`, async () => {
    vi.useFakeTimers();
    const w = world([row()]);
    w.writes.push(...Array.from({ length: CONTENDED_ATTEMPTS }, conflict));
    const plain = w.put(body()).catch((error: unknown) => error);
    await vi.runAllTimersAsync();
    expect(await plain).toBeInstanceOf(ConcurrencyConflictError);
    expect(w.rowWrites()).toHaveLength(CONTENDED_ATTEMPTS);
    const guarded = world([row()]);
    guarded.writes.push(...Array.from({ length: CONTENDED_ATTEMPTS }, conflict));
    const refusal = refusalOf(() => guarded.put(body(), ifMatch('"1"').precondition));
    await vi.runAllTimersAsync();
    expect(await refusal).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 was changed by someone else after the version in If-Match was read, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect(guarded.rowWrites()).toHaveLength(CONTENDED_ATTEMPTS);
    expect(guarded.stored.get('w-1')).toStrictEqual(row());
    vi.useRealTimers();
  });

  it('throws any other failure of its write at once, once the row read back shows the write did not land', async () => {
    for (const rows of [[row()], []]) {
      const w = world(rows);
      w.writes.push(unavailable());
      await expect(w.put(body())).rejects.toThrow('unavailable');
      expect(w.steps().slice(-2)).toStrictEqual(['put', 'get']);
    }
  });

  it('answers a write whose answer was lost as it was stored, and does its follow-up', async () => {
    const w = world([row()]);
    w.writes.push(() => unavailable());
    const answer = await w.put(body());
    expect(answer.waiver).toStrictEqual(dense({ ...(w.calls[3]![1] as WaiverRecord), etag: 'e1' }));
    expect(answer.waiver.followUp!.cause).toBe('waiver-changed');
    expect(w.rowWrites()).toStrictEqual([
      [2, 'active', 'waiver-changed', 'seed'],
      [2, 'active', 'settled', 'e1'],
    ]);
    expect(w.written()).toStrictEqual([['w-1.r2', 'waiver-changed', NOW]]);
  });

  it('answers a lost write that another change replaced meanwhile as written, its follow-up left to that change', async () => {
    const w = world([row()]);
    w.writes.push((landed) => (w.land({ ...landed, revision: 3, followUp: undefined, writers: ['other', ...landed.writers!] }), conflict()));
    const answer = await w.put(body());
    const mine = w.calls[3]![1] as WaiverRecord;
    expect(answer).toStrictEqual({ created: false, waiver: { ...mine, followUp: undefined, etag: '' }, coverage: { servers: 1, atLeast: false, warnings: [] } });
    expect(w.steps()).toStrictEqual(['serverStanding', 'serversWithPrefix', 'get', 'put', 'get']);
    expect(w.lines).toStrictEqual([]);
  });

  it('throws a lost write that another request made, not this one', async () => {
    const w = world([row()]);
    w.writes.push(() => unavailable());
    w.reads.push(undefined, () => void w.land(row({ revision: 2, writers: ['other'] })));
    await expect(w.put(body())).rejects.toThrow('unavailable');
  });
});

describe('the follow-up of a change', () => {
  it('logs the alerts after its clearing landed, also when the answer of the clearing was lost', async () => {
    const w = world([row()]);
    w.writes.push(undefined, () => unavailable());
    expect(await w.remove()).toMatchObject({ state: 'deleted', revision: 2 });
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 2, 'deleted', NOW));
    expect(w.stored.get('w-1')!.followUp).toBeUndefined();
  });

  it('logs nothing when another run cleared it first, which logged them', async () => {
    const w = world([row()]);
    w.meanwhile.push(undefined, () => void w.land({ ...w.stored.get('w-1')!, followUp: undefined, followedUpBy: ['other'] }));
    expect(await w.remove()).toMatchObject({ state: 'deleted' });
    expect(w.lines).toStrictEqual([]);
    expect(w.written()).toStrictEqual([['w-1.r2', 'waiver-deleted', NOW]]);
  });

  it('is left owed when its event or its clearing fails, logged, and the change still answered', async () => {
    const owed = (what: string) => `Waiver w-1 revision 2 is stored; its audit event and alerts are owed (${what}) and follow with the waiver-expiry job.`;
    const event = world([row()]);
    event.eventWrites.push(unavailable());
    expect(await event.remove()).toMatchObject({ state: 'deleted', followUp: { cause: 'waiver-deleted' } });
    expect(event.lines).toStrictEqual([owed('unavailable')]);
    expect(event.stored.get('w-1')!.followUp).toMatchObject({ cause: 'waiver-deleted' });
    expect(event.steps().filter((s) => s === 'put')).toHaveLength(1);
    const clearing = world([row()]);
    clearing.writes.push(undefined, unavailable());
    expect((await clearing.put(body())).waiver.revision).toBe(2);
    expect(clearing.lines).toStrictEqual([owed('unavailable')]);
    expect(clearing.stored.get('w-1')!.followUp).toMatchObject({ cause: 'waiver-changed' });
    // The row read back gone (as no row is): the failure is what is logged.
    const gone = world([row()]);
    gone.writes.push(undefined, unavailable());
    gone.reads.push(undefined, () => void gone.stored.delete('w-1'));
    await gone.remove();
    expect(gone.lines).toStrictEqual([owed('unavailable')]);
  });

  it('re-raises each failing result it covered, not one another waiver in force covers, nor one that began once it no longer covered it', async () => {
    const results = [
      ...FLEET,
      result('mbx1.corp.contoso.com', { firstSeen: NOW - 1 }),
      result('mbx2.corp.contoso.com', { firstSeen: NOW }),
      result('mbx3.corp.contoso.com'),
      result('mbx4.corp.contoso.com', { status: 'Error', ruleId: betaRule.id }),
      result('web1.corp.contoso.com'),
    ];
    const w = world([row({ server: undefined, serverPattern: 'mbx*' }), row({ id: 'w-3', server: 'mbx3.corp.contoso.com' })], results);
    await w.remove();
    expect(w.lines).toStrictEqual(reRaised(results[5]!, 'w-1', 2, 'deleted', NOW));
  });
});

describe('ending a waiver', () => {
  it('stores it deleted now, owing its audit and the alerts it held back, and answers it', async () => {
    const w = world([row({ revision: 2 })]);
    const answer = await w.remove();
    const deleted = w.calls.find((c) => c[0] === 'put')![1] as WaiverRecord;
    expect(deleted).toStrictEqual({
      ...row({ revision: 3 }),
      etag: 'seed',
      state: 'deleted',
      endedAt: NOW,
      changedAt: NOW,
      followUp: { cause: 'waiver-deleted', at: NOW, reRaise: { reason: 'deleted', endedAt: NOW, scope: { ruleId: RULE, server: id('exch1'), serverPattern: undefined, expiresAt: NOW + DAY_MS } } },
      writers: [expect.stringMatching(UUID), 'w-old'],
    });
    expect(answer).toStrictEqual({ ...deleted, etag: 'e1' });
    expect(w.events.map((e) => [e.snapshotId, e.cause, e.server, e.firstSeen, e.message])).toStrictEqual([
      ['w-1.r3', 'waiver-deleted', id('exch1'), NOW, { en: `Waiver w-1 deleted for ${id('exch1')} (granted by alice): Relay moves in January`, ja: `免除 w-1 (waiver-deleted) ${id('exch1')}: Relay moves in January` }],
    ]);
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 3, 'deleted', NOW));
    expect(w.calls.filter((c) => c[0] === 'listResults')).toStrictEqual([['listResults', { server: id('exch1'), ruleId: RULE, statuses: ['Warning', 'Error'] }, [RULE, betaRule.id], 1000, undefined, 'en']]);
  });

  it('answers none for one that is not there or has ended, whatever If-Match says, writing nothing', async () => {
    const w = world([row({ state: 'expired', endedAt: NOW - HOUR }), row({ id: 'w-2', state: 'deleted' })]);
    const stale = ifMatch('"9"');
    expect(await w.remove(stale.precondition)).toBeUndefined();
    expect(await w.remove(stale.precondition, 'w-2')).toBeUndefined();
    expect(await w.remove(stale.precondition, 'w-3')).toBeUndefined();
    expect(await w.remove(undefined, '-no')).toBeUndefined();
    expect(stale.asked).toStrictEqual([]);
    expect(w.steps()).toStrictEqual(['get', 'get', 'get']);
  });

  it('refuses a stale If-Match on one in force', async () => {
    const w = world([row()]);
    expect(await refusalOf(() => w.remove(ifMatch('"2"').precondition))).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 is at "1" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect((await w.remove(ifMatch('"1"').precondition))!.state).toBe('deleted');
  });

  it('ends one past its end by its expiry, and then has nothing to delete, whatever If-Match says', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    expect(await w.remove(ifMatch('"7"').precondition)).toBeUndefined();
    expect(w.rowWrites()).toStrictEqual([
      [2, 'expired', 'waiver-expired', 'seed'],
      [2, 'expired', 'settled', 'e1'],
    ]);
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 2, 'expired', NOW));
  });

  it('settles the follow-up the row owes before it changes it, also one a change stored meanwhile owes', async () => {
    const owing = row({ revision: 2, followUp: { cause: 'waiver-changed', at: NOW - HOUR, reRaise: { reason: 'changed', endedAt: NOW - HOUR, scope: { ruleId: RULE, server: id('exch2'), expiresAt: NOW + DAY_MS } } } });
    const w = world([owing]);
    // Once the first follow-up is done, another admin has stored a change owing its own.
    w.reads.push(undefined, () => void w.land({ ...w.stored.get('w-1')!, revision: 3, followUp: { cause: 'waiver-changed', at: NOW } }));
    expect(await w.remove()).toMatchObject({ revision: 4, state: 'deleted' });
    expect(w.written()).toStrictEqual([
      ['w-1.r2', 'waiver-changed', NOW - HOUR],
      ['w-1.r3', 'waiver-changed', NOW],
      ['w-1.r4', 'waiver-deleted', NOW],
    ]);
    expect(w.lines).toStrictEqual([...reRaised(EXCH2, 'w-1', 2, 'changed', NOW - HOUR), ...reRaised(EXCH1, 'w-1', 4, 'deleted', NOW)]);
  });
});

describe('a change finding the waiver past its end', () => {
  it('goes on when the timer ended it meanwhile, also under If-Match, logging the alerts once', async () => {
    for (const precondition of [undefined, ifMatch('"1"').precondition]) {
      const w = world([row({ expiresAt: NOW - HOUR })]);
      w.meanwhile.push(() => void w.land({ ...row({ expiresAt: NOW - HOUR }), state: 'expired', endedAt: NOW - HOUR, changedAt: NOW, revision: 2 }));
      expect(await w.put(body(), precondition)).toMatchObject({ created: true, waiver: { revision: 3 } });
      expect(w.lines).toStrictEqual([]);
    }
  });

  it.each([
    ['its revision', { revision: 3 }],
    ['its state', { state: 'deleted' }],
    ['its end', { endedAt: NOW }],
    ['its rule', { ruleId: betaRule.id }],
    ['its server', { server: id('exch2') }],
    ['its pattern', { serverPattern: 'exch*' }],
    ['its justification', { justification: 'Other' }],
    ['its grantor', { grantedBy: 'carol' }],
    ['its grant time', { grantedAt: NOW }],
    ['its expiry', { expiresAt: NOW - 1 }],
  ])('refuses under If-Match an end meanwhile that changed %s besides', async (_what, over) => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.meanwhile.push(() => void w.land({ ...row({ expiresAt: NOW - HOUR }), state: 'expired', endedAt: NOW - HOUR, changedAt: NOW, revision: 2, ...over } as WaiverRecord));
    expect(await refusalOf(() => w.put(body(), ifMatch('"1"').precondition))).toStrictEqual([
      'precondition_failed',
      'Waiver w-1 was changed by someone else after the version in If-Match was read, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
  });

  it('throws another failure of ending it, and logs a failure of its follow-up as owed', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.writes.push(unavailable());
    await expect(w.put(body())).rejects.toThrow('unavailable');
    expect(w.rowWrites()).toStrictEqual([[2, 'expired', 'waiver-expired', 'seed']]);
    const owed = world([row({ expiresAt: NOW - HOUR })]);
    owed.eventWrites.push(unavailable());
    expect((await owed.put(body())).waiver.revision).toBe(3);
    expect(owed.lines[0]).toBe('Waiver w-1 revision 2 is stored; its audit event and alerts are owed (unavailable) and follow with the waiver-expiry job.');
    expect(owed.written()).toStrictEqual([
      ['w-1.r2', 'waiver-expired', NOW - HOUR],
      ['w-1.r3', 'waiver-created', NOW],
    ]);
  });
});

describe('the expiry timer', () => {
  it('ends each waiver past its end, re-raising what it held back that began before its end, and leaves the others', async () => {
    const results = [...FLEET, result(id('exch4'), { firstSeen: NOW - 2 * HOUR - 1 }), result(id('exch5'), { firstSeen: NOW - 2 * HOUR })];
    const ending = row({ server: undefined, serverPattern: 'exch*', expiresAt: NOW - 2 * HOUR, revision: 4 });
    const w = world([ending, row({ id: 'w-2', server: id('exch2') }), row({ id: 'w-3', state: 'deleted', expiresAt: NOW - DAY_MS })], results);
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 2, failed: 0 });
    const ended = w.calls.find((c) => c[0] === 'put')!;
    expect(ended).toStrictEqual([
      'put',
      {
        ...ending,
        state: 'expired',
        endedAt: NOW - 2 * HOUR,
        changedAt: NOW,
        revision: 5,
        followUp: { cause: 'waiver-expired', at: NOW - 2 * HOUR, reRaise: { reason: 'expired', endedAt: NOW, scope: { ruleId: RULE, server: undefined, serverPattern: 'exch*', expiresAt: NOW - 2 * HOUR } } },
        // The run's name first: an expiry whose answer was lost is known by it.
        writers: [expect.stringMatching(/^[0-9a-f-]{36}$/), ...ending.writers!],
      },
      'seed',
    ]);
    // exch2 is held back by w-2 still; exch5 began at the end, so it alerted when it was projected.
    expect(w.lines).toStrictEqual([...reRaised(EXCH1, 'w-1', 5, 'expired', NOW), ...reRaised(results[5]!, 'w-1', 5, 'expired', NOW)]);
    expect(w.events.map((e) => [e.snapshotId, e.cause, e.server, e.firstSeen, e.message.en])).toStrictEqual([['w-1.r5', 'waiver-expired', '', NOW - 2 * HOUR, 'Waiver w-1 expired for exch* (granted by alice): Relay moves in January']]);
    expect(w.stored.get('w-1')).toMatchObject({ state: 'expired', revision: 5 });
    expect(w.stored.get('w-1')!.followUp).toBeUndefined();
    expect(w.steps()).toStrictEqual(['list', 'put', 'list', 'listResults', 'listResults', 'putEvents', 'put']);
    expect(w.calls.filter((c) => c[0] === 'listResults').map((c) => c[4])).toStrictEqual([undefined, '2']);
  });

  it('ends a row written by hand that names neither a server nor a pattern, its audit naming none and nothing re-raised', async () => {
    const w = world([row({ server: undefined, expiresAt: NOW - HOUR })]);
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 0, failed: 0 });
    expect(w.events.map((e) => [e.server, e.message])).toStrictEqual([['', { en: 'Waiver w-1 expired for  (granted by alice): Relay moves in January', ja: '免除 w-1 (waiver-expired) : Relay moves in January' }]]);
  });

  it('does first what earlier changes still owe, counting what they re-raised', async () => {
    const owing = row({ state: 'deleted', endedAt: NOW - HOUR, revision: 2, followUp: { cause: 'waiver-deleted', at: NOW - HOUR, reRaise: { reason: 'deleted', endedAt: NOW - HOUR, scope: { ruleId: RULE, server: id('exch1'), expiresAt: NOW + DAY_MS } } } });
    const w = world([owing]);
    expect(await w.expire()).toStrictEqual({ expired: 0, reRaised: 1, failed: 0 });
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 2, 'deleted', NOW - HOUR));
    expect(w.steps()).toStrictEqual(['list', 'list', 'listResults', 'putEvents', 'put', 'get']);
  });

  it('leaves one another run claimed (or that changed meanwhile) to it, counting nothing', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.writes.push(conflict());
    expect(await w.expire()).toStrictEqual({ expired: 0, reRaised: 0, failed: 0 });
    expect(w.lines).toStrictEqual([]);
  });

  it('counts an expiry whose answer was lost after it landed as its own, re-raising at once', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.writes.push(() => conflict());
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 1, failed: 0 });
    expect(w.lines).toStrictEqual(reRaised(EXCH1, 'w-1', 2, 'expired', NOW));
    expect(w.written()).toStrictEqual([['w-1.r2', 'waiver-expired', NOW - HOUR]]);
    expect(w.stored.get('w-1')).toMatchObject({ state: 'expired', revision: 2 });
    expect(w.stored.get('w-1')!.followUp).toBeUndefined();
    expect(w.steps()).toStrictEqual(['list', 'put', 'get', 'list', 'listResults', 'putEvents', 'put', 'get']);
  });

  it('counts an expiry whose answer was lost, and whose follow-up a change stored meanwhile did, once and re-raising nothing more', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.writes.push((landed) => (w.land({ ...landed, revision: 3, state: 'deleted', followUp: undefined, writers: ['other', ...landed.writers!] }), conflict()));
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 0, failed: 0 });
    expect(w.lines).toStrictEqual([]);
    expect(w.written()).toStrictEqual([]);
  });

  it('counts a waiver whose work fails as failed, logs it, and goes on with the next', async () => {
    const w = world([row({ expiresAt: NOW - HOUR, revision: 3 }), row({ id: 'w-2', expiresAt: NOW - HOUR })]);
    w.writes.push(unavailable());
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 1, failed: 1 });
    expect(w.lines[0]).toBe('Waiver w-1 revision 3: the waiver-expiry run could not do what it owes (unavailable); the next run tries again.');
    expect(w.lines.slice(1)).toStrictEqual(reRaised(EXCH1, 'w-2', 2, 'expired', NOW));
  });

  it('gives up on a waiver whose changes keep owing more while it does them', async () => {
    const owes = (revision: number) => row({ revision, state: 'deleted', followUp: { cause: 'waiver-deleted', at: NOW } });
    const w = world([owes(1)]);
    w.reads.push(...Array.from({ length: CONTENDED_ATTEMPTS }, (_, i) => () => void w.land(owes(i + 2))));
    expect(await w.expire()).toStrictEqual({ expired: 0, reRaised: 0, failed: 1 });
    expect(w.lines).toStrictEqual(['Waiver w-1 revision 1: the waiver-expiry run could not do what it owes (Waiver w-1 kept changing while what its changes owe was done.); the next run tries again.']);
    expect(w.written()).toHaveLength(CONTENDED_ATTEMPTS);
  });

  it('stops listing the results of a scope after a thousand pages', async () => {
    const w = world([row({ expiresAt: NOW - HOUR })]);
    w.endless.pages = true;
    expect(await w.expire()).toStrictEqual({ expired: 1, reRaised: 0, failed: 0 });
    expect(w.steps().filter((s) => s === 'listResults')).toHaveLength(1000);
    expect(w.calls.filter((c) => c[0] === 'listResults')[1]).toStrictEqual(['listResults', { server: id('exch1'), ruleId: RULE, statuses: ['Warning', 'Error'] }, [RULE, betaRule.id], 1000, 'more', 'en']);
  });
});
