// Drift baselines without storage: naming, changing and clearing a rule's baseline over its row held
// in memory with ETags, each change stored with its audit event owed and the event written after,
// and the timer writing the events still owed. Another admin's change landing meanwhile, a write
// whose answer was lost (with or without a conflict), a row the previous release wrote without
// writers, If-Match and If-None-Match: *, and event storage refusing are played by the fakes, which
// record every call in order. The service tests run the same paths over HTTP and Azurite.
import { RestError } from '@azure/data-tables';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BASELINE_CAUSES, Baselines, type BaselinesDeps } from '../../src/app/baselines';
import { EVENT_CAUSES } from '../../src/app/http-io';
import type { Precondition } from '../../src/app/preconditions';
import { ServerNames, type ServerSource } from '../../src/app/server-names';
import type { Rule } from '../../src/rules/types';
import { ConcurrencyConflictError, type DriftBaseline, type EventRecord, type StoragePolicy, type StoredBaseline } from '../../src/store';
import { statusCodeOf } from '../../src/store/errors';
import { connectionReset } from '../support/faults';
import { createTestTables } from '../support/stack';
import { memoryEvents } from '../support/memory-events';
import { memoryGuardedRows } from '../support/memory-guarded-rows';
import { refusalOf } from '../support/api-request';
import { alphaRule, betaRule } from '../support/snapshots';

/**
 * The store's refusal (a 412, wrapped as ConcurrencyConflictError) of the resend of a write whose
 * first attempt lost its connection, made by the store's own table clients so that their pipeline
 * notes it; nothing reaches any storage (a policy answers both attempts).
 */
async function resendRefusal(): Promise<ConcurrencyConflictError> {
  let attempts = 0;
  const headers = { get: () => undefined, has: () => false, set: () => undefined, delete: () => undefined, toJSON: () => ({}), [Symbol.iterator]: () => [][Symbol.iterator]() };
  const noStorage: StoragePolicy = {
    name: 'testNoStorage',
    sendRequest: async (request) => {
      if (++attempts === 1) throw connectionReset(request);
      return { request, status: 412, headers };
    },
  };
  const { drift } = createTestTables({ connectionString: 'UseDevelopmentStorage=true', maxRetries: 1, policies: [noStorage] });
  const error = await drift.updateEntity({ partitionKey: 'p', rowKey: 'baseline' }, 'Replace', { etag: 'W/"x"' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect([attempts, statusCodeOf(error)]).toEqual([2, 412]);
  return new ConcurrencyConflictError(`The baseline of ${RULE} was changed meanwhile.`, { cause: error });
}

const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const EARLIER = NOW - 3_600_000;
const RULE = 'drift-a';
const RULES: readonly Rule[] = [{ ...alphaRule, id: RULE, configurationFacts: () => ({}) }, betaRule, { ...alphaRule, id: 'drift-b', configurationFacts: () => ({}) }];
const id = (host: string) => `${host}.corp.contoso.com`;
/** Servers that posted; exch4 has no configuration recorded for any rule. */
const SERVERS = ['exch1', 'exch2', 'exch3', 'exch4'].map(id);
const FINGERPRINTS: Readonly<Record<string, string>> = { [id('exch1')]: 'fp-1', [id('exch2')]: 'fp-2', [id('exch3')]: 'fp-3' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const unavailable = () => new RestError('unavailable', { statusCode: 503 });

/** A baseline row as the store reads it back. */
const row = (over: Partial<StoredBaseline> = {}): StoredBaseline => ({ ruleId: RULE, server: id('exch1'), setBy: 'alice', setAt: EARLIER, revision: 2, auditOwed: undefined, writers: ['w-old'], etag: 'seed', ...over });

/** Rows of the Drift table's baselines in memory, the events written, and every call made, in order. */
function world(rows: readonly StoredBaseline[] = []) {
  const calls: unknown[][] = [];
  const lines: string[] = [];
  /** What the next reads of a baseline throw (undefined: the read answers). */
  const reads: (Error | undefined)[] = [];
  const { events, eventWrites, store: eventStore } = memoryEvents(calls);
  const { stored, writes, meanwhile, land, put } = memoryGuardedRows<DriftBaseline, StoredBaseline>(calls, {
    name: 'putBaseline',
    key: (b) => b.ruleId,
    stored: (b, etag) => ({ ruleId: b.ruleId, server: b.server, setBy: b.setBy, setAt: b.setAt, revision: b.revision, auditOwed: b.auditOwed, writers: b.writers, etag }),
    conflict: (b) => new ConcurrencyConflictError(`The baseline of ${b.ruleId} was changed meanwhile.`),
    seed: rows,
  });
  const source = { hasServer: async (name: string) => SERVERS.includes(name), serversWithPrefix: async (prefix: string, max: number) => SERVERS.filter((s) => s.startsWith(prefix)).slice(0, max) } as ServerSource;
  const deps = {
    rules: RULES,
    clock: () => NOW,
    names: new ServerNames(source),
    drift: {
      getMember: async (ruleId: string, server: string) => {
        calls.push(['getMember', ruleId, server]);
        return FINGERPRINTS[server] === undefined ? undefined : { ruleId, server, fingerprint: FINGERPRINTS[server] };
      },
      getBaseline: async (ruleId: string) => {
        calls.push(['getBaseline', ruleId]);
        const failure = reads.shift();
        if (failure) throw failure;
        return stored.get(ruleId);
      },
      putBaseline: put,
    },
    events: eventStore,
  };
  const baselines = new Baselines(deps as unknown as BaselinesDeps);
  const log = { log: (l: string) => void lines.push(l) };
  return {
    baselines,
    stored,
    calls,
    lines,
    events,
    writes,
    meanwhile,
    reads,
    eventWrites,
    land,
    log,
    put: (server: string, setBy: string, precondition?: Precondition, createOnly?: boolean) => baselines.put(RULE, { server, setBy }, log, precondition, createOnly),
    remove: (precondition?: Precondition) => baselines.remove(RULE, log, precondition),
    /** The calls by name. */
    steps: () => calls.map((c) => c[0]),
    /** The baseline row's writes as revision, server and whether it owes an event, with the ETag written under. */
    rowWrites: () => calls.filter((c) => c[0] === 'putBaseline').map(([, b, etag]) => [(b as DriftBaseline).revision, (b as DriftBaseline).server, (b as DriftBaseline).auditOwed ? 'owing' : 'settled', etag]),
    /** The events written, as snapshot id and cause. */
    written: () => events.map((e) => [e.snapshotId, e.cause]),
  };
}

/** The event a change owes, as #event builds it for a set or a change. */
const namedEvent = (revision: number, server: string, setBy: string, fingerprint: string, previous?: string): EventRecord => ({
  server,
  ruleId: RULE,
  ruleVersion: '',
  toStatus: '',
  reasonCode: '',
  severity: '',
  message: previous
    ? { en: `Drift baseline for ${RULE} changed from ${previous} to ${server} by ${setBy}.`, ja: `${RULE} のドリフト基準を${previous} から ${server} へ変更 (${setBy})。` }
    : { en: `Drift baseline for ${RULE} set to ${server} by ${setBy}.`, ja: `${RULE} のドリフト基準を${server} に設定 (${setBy})。` },
  firstSeen: NOW,
  snapshotId: `baseline.r${revision}`,
  recordedAt: NOW,
  cause: previous ? 'baseline-changed' : 'baseline-set',
  detail: JSON.stringify({ rule: RULE, server, previousServer: previous ?? null, setBy, revision, fingerprint }),
});

/** An If-Match that holds for `etag` only, with the ETags it was asked about. */
function ifMatch(etag: string) {
  const asked: (string | undefined)[] = [];
  const precondition: Precondition = (e) => (asked.push(e), e === etag);
  return { precondition, asked };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the rule from the path', () => {
  it('is found by its id in any case', async () => {
    const w = world([row()]);
    expect(w.baselines.rule('DRIFT-A')).toBe(RULES[0]);
    expect(await w.baselines.get('Drift-A')).toStrictEqual(row());
    expect(w.calls).toStrictEqual([['getBaseline', RULE]]);
    expect(await world().baselines.get(RULE)).toBeUndefined();
  });

  it('is refused when unknown (named as sent, cut to 100 characters, with the rules there are) or when it declares no configuration facts, before anything is read', async () => {
    const w = world([row()]);
    const long = `Nope${'x'.repeat(150)}`;
    expect(await refusalOf(async () => w.baselines.get(long))).toStrictEqual(['not_found', `There is no rule "${long.slice(0, 100)}"; the rules are drift-a, test-beta, drift-b.`]);
    const noFacts = ['invalid_baseline', 'The rule "test-beta" declares no configuration facts, so it can have no baseline.'];
    expect(await refusalOf(() => w.baselines.get('TEST-BETA'))).toStrictEqual(noFacts);
    expect(await refusalOf(() => w.baselines.put('test-beta', { server: 'exch1', setBy: 'alice' }, w.log))).toStrictEqual(noFacts);
    expect(await refusalOf(() => w.baselines.remove('test-beta', w.log))).toStrictEqual(noFacts);
    expect(w.calls).toStrictEqual([]);
  });

  it('names the three audit causes of a baseline, each one an event cause the API lists', () => {
    expect(BASELINE_CAUSES).toStrictEqual(['baseline-set', 'baseline-changed', 'baseline-deleted']);
    for (const cause of BASELINE_CAUSES) expect(EVENT_CAUSES).toContain(cause);
  });
});

describe('naming a baseline', () => {
  it('sets the first one (the server by its host name) at revision 1, stores it owing its audit event, then writes the event and clears it from the row', async () => {
    const w = world();
    const answer = await w.put('EXCH2', 'alice');
    const written = w.stored.get(RULE)!;
    expect(written.writers).toStrictEqual([expect.stringMatching(UUID)]);
    const next = { ruleId: RULE, server: id('exch2'), setBy: 'alice', setAt: NOW, revision: 1, auditOwed: namedEvent(1, id('exch2'), 'alice', 'fp-2'), writers: written.writers };
    expect(answer).toStrictEqual({ created: true, baseline: { ...next, auditOwed: undefined, etag: '' } });
    expect(w.calls).toStrictEqual([
      ['getMember', RULE, id('exch2')],
      ['getBaseline', RULE],
      ['putBaseline', next, undefined],
      ['putEvents', [namedEvent(1, id('exch2'), 'alice', 'fp-2')]],
      ['putBaseline', { ...next, etag: 'e1', auditOwed: undefined }, 'e1'],
    ]);
    expect(written).toStrictEqual({ ...next, auditOwed: undefined, etag: 'e2' });
    expect(w.lines).toStrictEqual([]);
  });

  it('changes a named one to another server: the next revision, its request named first among the writers, an event naming the server replaced, answered as not created', async () => {
    const w = world([row()]);
    const answer = await w.put(id('exch3'), 'bob');
    const written = w.stored.get(RULE)!;
    expect(written.writers).toStrictEqual([expect.stringMatching(UUID), 'w-old']);
    expect(answer).toStrictEqual({ created: false, baseline: { ruleId: RULE, server: id('exch3'), setBy: 'bob', setAt: NOW, revision: 3, auditOwed: undefined, writers: written.writers, etag: '' } });
    expect(w.rowWrites()).toStrictEqual([
      [3, id('exch3'), 'owing', 'seed'],
      [3, id('exch3'), 'settled', 'e1'],
    ]);
    expect(w.events).toStrictEqual([namedEvent(3, id('exch3'), 'bob', 'fp-3', id('exch1'))]);
  });

  it('names one again on a cleared row: the revisions count on, and it is a set, answered as created', async () => {
    const w = world([row({ server: '', revision: 4, writers: undefined })]);
    const answer = await w.put('exch1', 'carol');
    expect(answer.created).toBe(true);
    expect(answer.baseline).toMatchObject({ server: id('exch1'), setBy: 'carol', revision: 5 });
    expect(w.stored.get(RULE)!.writers).toStrictEqual([expect.stringMatching(UUID)]);
    expect(w.events).toStrictEqual([namedEvent(5, id('exch1'), 'carol', 'fp-1')]);
  });

  it('answers the baseline as stored, writing nothing, when it names that server already', async () => {
    const w = world([row()]);
    expect(await w.put('exch1', 'bob')).toStrictEqual({ created: false, baseline: row() });
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline']);
  });

  it('refuses an unknown rule before the body, a body before the server, a name that is no server, and a server with no configuration for the rule, storing nothing', async () => {
    const w = world([row()]);
    expect((await refusalOf(() => w.baselines.put('nope', 'not an object', w.log)))[0]).toBe('not_found');
    expect(await refusalOf(() => w.baselines.put(RULE, { server: 'exch1' }, w.log))).toStrictEqual(['invalid_baseline', expect.stringContaining('setBy')]);
    expect(await refusalOf(() => w.put('exch9', 'alice'))).toStrictEqual(['invalid_baseline', 'No server "exch9" is known: no server has that id (its FQDN, lower case) or a host name that begins one.']);
    expect(w.calls).toStrictEqual([]);
    expect(await refusalOf(() => w.put('exch4', 'alice'))).toStrictEqual(['invalid_baseline', `Server "${id('exch4')}" has no configuration recorded for ${RULE}; it must post a snapshot before it can be the baseline.`]);
    expect(w.calls).toStrictEqual([['getMember', RULE, id('exch4')]]);
  });

  it('with If-None-Match: * refuses where a baseline is named, that server included, and creates where none is or it was cleared', async () => {
    const w = world([row()]);
    const inForce = ['precondition_failed', 'The baseline of drift-a is in force already (at "2"), and If-None-Match: * only creates, so nothing was changed; read it, and change it with If-Match if that is what you meant.'];
    expect(await refusalOf(() => w.put('exch2', 'bob', undefined, true))).toStrictEqual(inForce);
    expect(await refusalOf(() => w.put('exch1', 'bob', undefined, true))).toStrictEqual(inForce);
    expect(w.steps()).not.toContain('putBaseline');
    for (const rows of [[], [row({ server: '' })]]) {
      const fresh = world(rows);
      expect((await fresh.put('exch2', 'bob', undefined, true)).created).toBe(true);
      expect(fresh.stored.get(RULE)).toMatchObject({ server: id('exch2'), setBy: 'bob' });
    }
  });

  it('with If-Match compares the revision as stored ("0" with no row), and refuses a stale one before writing', async () => {
    const none = world();
    const zero = ifMatch('"0"');
    expect((await none.put('exch1', 'alice', zero.precondition)).created).toBe(true);
    expect(zero.asked).toStrictEqual(['"0"']);
    const named = world([row()]);
    const two = ifMatch('"2"');
    expect((await named.put('exch2', 'bob', two.precondition)).baseline.revision).toBe(3);
    expect(await refusalOf(() => named.put('exch1', 'carol', two.precondition))).toStrictEqual([
      'precondition_failed',
      'The baseline of drift-a is at "3" now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect(two.asked).toStrictEqual(['"2"', '"3"']);
    expect(named.rowWrites()).toHaveLength(2);
    // On a cleared row too: a PUT names a baseline, so its If-Match is checked.
    const cleared = world([row({ server: '', revision: 6 })]);
    expect((await refusalOf(() => cleared.put('exch1', 'alice', two.precondition)))[1]).toContain('is at "6" now');
  });

  it('is decided again on no baseline when the row was deleted by hand before the write: a set at revision 1, answered as created', async () => {
    const w = world([row()]);
    w.meanwhile.push(() => void w.stored.delete(RULE));
    expect(await w.put('exch2', 'bob')).toMatchObject({ created: true, baseline: { server: id('exch2'), revision: 1 } });
    expect(w.rowWrites()).toStrictEqual([
      [3, id('exch2'), 'owing', 'seed'],
      [1, id('exch2'), 'owing', undefined],
      [1, id('exch2'), 'settled', 'e1'],
    ]);
    expect(w.events).toStrictEqual([namedEvent(1, id('exch2'), 'bob', 'fp-2')]);
  });
});

describe('a change another admin made meanwhile', () => {
  it('without If-Match, has the change decided again on it: the audit event it still owes first, then one naming the server it really replaces', async () => {
    const w = world();
    const bobs = namedEvent(1, id('exch2'), 'bob', 'fp-2');
    w.meanwhile.push(() => void w.land({ ruleId: RULE, server: id('exch2'), setBy: 'bob', setAt: NOW, revision: 1, auditOwed: bobs, writers: ['bob-run'] }));
    const answer = await w.put('exch3', 'alice');
    expect(answer).toMatchObject({ created: false, baseline: { server: id('exch3'), revision: 2 } });
    expect(w.rowWrites()).toStrictEqual([
      [1, id('exch3'), 'owing', undefined],
      [1, id('exch2'), 'settled', 'e1'],
      [2, id('exch3'), 'owing', 'e2'],
      [2, id('exch3'), 'settled', 'e3'],
    ]);
    expect(w.events).toStrictEqual([bobs, namedEvent(2, id('exch3'), 'alice', 'fp-3', id('exch2'))]);
    expect(w.stored.get(RULE)!.writers).toStrictEqual([answer.baseline.writers![0], 'bob-run']);
  });

  it('with If-Match, refuses the change as overtaken (not as stale) and stores nothing over it', async () => {
    const w = world([row()]);
    const two = ifMatch('"2"');
    w.meanwhile.push(() => void w.land({ ...row(), server: id('exch3'), revision: 3, writers: ['bob-run'] }));
    expect(await refusalOf(() => w.put('exch2', 'alice', two.precondition))).toStrictEqual([
      'precondition_failed',
      'The baseline of drift-a was changed by someone else after the version in If-Match was read, so nothing was changed; read it again and repeat the change on what is there now.',
    ]);
    expect(two.asked).toStrictEqual(['"2"', '"3"']);
    expect(w.rowWrites()).toHaveLength(1);
    expect(w.stored.get(RULE)).toMatchObject({ server: id('exch3'), revision: 3 });
  });

  it('making the identical change is not taken for this request: answered as not created, with nothing written twice', async () => {
    const w = world();
    w.meanwhile.push(() => void w.land({ ruleId: RULE, server: id('exch2'), setBy: 'alice', setAt: NOW, revision: 1, writers: ['other-run'] }));
    const answer = await w.put('exch2', 'alice');
    expect(answer).toStrictEqual({ created: false, baseline: { ruleId: RULE, server: id('exch2'), setBy: 'alice', setAt: NOW, revision: 1, auditOwed: undefined, writers: ['other-run'], etag: 'e1' } });
    expect(w.rowWrites()).toHaveLength(1);
    expect(w.events).toStrictEqual([]);
  });

  it('again and again gives up after ten attempts with the conflict', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const w = world();
    for (let i = 1; i <= 10; i++) w.meanwhile.push(() => void w.land({ ruleId: RULE, server: id('exch1'), setBy: 'bob', setAt: NOW, revision: i, writers: [`bob-${i}`] }));
    await expect(w.put('exch2', 'alice')).rejects.toThrow(new ConcurrencyConflictError('The baseline of drift-a was changed meanwhile.'));
    expect(w.rowWrites().map((r) => r[0])).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(w.events).toStrictEqual([]);
  });
});

describe('a write whose answer was lost', () => {
  it('that landed and then met its own ETag is known by its mark on the next read: its event written once, answered as its own', async () => {
    const w = world();
    w.writes.push(() => new ConcurrencyConflictError('the retry met its own ETag'));
    const answer = await w.put('exch1', 'alice', ifMatch('"0"').precondition);
    expect(answer).toMatchObject({ created: true, baseline: { server: id('exch1'), revision: 1, etag: '' } });
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'getBaseline', 'putEvents', 'putBaseline', 'getBaseline']);
    expect(w.written()).toStrictEqual([['baseline.r1', 'baseline-set']]);
  });

  it('that another change replaced meanwhile is still its own (named among the writers): answered, not refused and not stored again', async () => {
    const w = world([row()]);
    w.writes.push((ours) => (w.land({ ...ours, server: id('exch3'), setBy: 'bob', revision: ours.revision + 1, auditOwed: undefined, writers: ['bob-run', ...ours.writers!] }), new ConcurrencyConflictError('overtaken')));
    const answer = await w.put('exch2', 'alice', ifMatch('"2"').precondition);
    expect(answer).toMatchObject({ created: false, baseline: { server: id('exch2'), setBy: 'alice', revision: 3 } });
    expect(w.rowWrites()).toStrictEqual([[3, id('exch2'), 'owing', 'seed']]);
    expect(w.stored.get(RULE)).toMatchObject({ server: id('exch3'), revision: 4 });
  });

  it('with every answer lost (no conflict) is read back: found with its mark, it is answered and its event written', async () => {
    const w = world();
    w.writes.push(unavailable);
    const answer = await w.put('exch1', 'alice');
    expect(answer).toMatchObject({ created: true, baseline: { server: id('exch1'), revision: 1 } });
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'getBaseline', 'putEvents', 'putBaseline']);
    expect(w.rowWrites()).toStrictEqual([
      [1, id('exch1'), 'owing', undefined],
      [1, id('exch1'), 'settled', 'e1'],
    ]);
    expect(w.written()).toStrictEqual([['baseline.r1', 'baseline-set']]);
  });

  it('read back once its event was written elsewhere writes no event again', async () => {
    const w = world();
    w.writes.push((ours) => (w.land({ ...ours, auditOwed: undefined }), unavailable()));
    expect((await w.put('exch1', 'alice')).created).toBe(true);
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'getBaseline']);
  });

  it('not found on the read-back fails with the storage error, as does one whose read-back fails too', async () => {
    for (const readBack of [undefined, new Error('read refused')]) {
      const w = world();
      const lost = unavailable();
      w.writes.push(lost);
      w.reads.push(undefined, readBack);
      await expect(w.put('exch1', 'alice')).rejects.toBe(lost);
      expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'getBaseline']);
    }
    const w = world([row()]);
    const lost = unavailable();
    w.writes.push(lost);
    await expect(w.put('exch2', 'alice')).rejects.toBe(lost);
    expect(w.stored.get(RULE)).toStrictEqual(row());
  });

  it('read back without writers (the previous release cleared its event) is judged by revision, server, who and when', async () => {
    const w = world();
    w.writes.push((ours) => (w.land({ ...ours, auditOwed: undefined, writers: undefined }), unavailable()));
    expect(await w.put('exch1', 'alice')).toMatchObject({ created: true, baseline: { server: id('exch1'), revision: 1 } });
    const others: Partial<DriftBaseline>[] = [{ revision: 2 }, { server: id('exch2') }, { setBy: 'bob' }, { setAt: NOW + 1 }];
    for (const other of others) {
      const v = world();
      const lost = unavailable();
      v.writes.push((ours) => (v.land({ ...ours, auditOwed: undefined, writers: undefined, ...other }), lost));
      await expect(v.put('exch1', 'alice'), JSON.stringify(other)).rejects.toBe(lost);
    }
  });
});

describe('the audit event of a change', () => {
  it('refused by event storage leaves the change stored with its event owed and answered, and says so in the log', async () => {
    const w = world([row()]);
    w.eventWrites.push(new Error('events refused'));
    const answer = await w.put('exch2', 'bob');
    expect(answer).toMatchObject({ created: false, baseline: { server: id('exch2'), revision: 3 } });
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'putEvents']);
    expect(w.stored.get(RULE)!.auditOwed).toStrictEqual(namedEvent(3, id('exch2'), 'bob', 'fp-2', id('exch1')));
    expect(w.lines).toStrictEqual(['The baseline of drift-a (revision 3) is stored; its audit event is owed (events refused) and follows with the waiver-expiry job.']);
  });

  it('not cleared from the row because a newer change came first is left to that change, without a log line', async () => {
    const w = world([row()]);
    w.writes.push(undefined, new ConcurrencyConflictError('a newer change'));
    expect((await w.put('exch2', 'bob')).baseline.revision).toBe(3);
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putBaseline', 'putEvents', 'putBaseline']);
    expect(w.lines).toStrictEqual([]);
  });

  it('that an earlier change still owes is written first, and the change builds on the row it leaves', async () => {
    const owed = namedEvent(2, id('exch1'), 'alice', 'fp-1');
    const w = world([row({ auditOwed: owed })]);
    await w.put('exch2', 'bob');
    expect(w.calls.slice(0, 5)).toStrictEqual([
      ['getMember', RULE, id('exch2')],
      ['getBaseline', RULE],
      ['putEvents', [owed]],
      ['putBaseline', row(), 'seed'],
      ['getBaseline', RULE],
    ]);
    expect(w.rowWrites().slice(1)).toStrictEqual([
      [3, id('exch2'), 'owing', 'e1'],
      [3, id('exch2'), 'settled', 'e2'],
    ]);
    expect(w.written()).toStrictEqual([
      ['baseline.r2', 'baseline-set'],
      ['baseline.r3', 'baseline-changed'],
    ]);
  });

  it('that an earlier change owes and storage refuses fails the change, which stores nothing', async () => {
    const w = world([row({ auditOwed: namedEvent(2, id('exch1'), 'alice', 'fp-1') })]);
    const refused = new Error('events refused');
    w.eventWrites.push(refused);
    await expect(w.put('exch2', 'bob')).rejects.toBe(refused);
    expect(w.steps()).toStrictEqual(['getMember', 'getBaseline', 'putEvents']);
  });

  it('still owed after ten rounds of clearing (the row kept changing) fails the change', async () => {
    const w = world([row({ auditOwed: namedEvent(2, id('exch1'), 'alice', 'fp-1') })]);
    for (let i = 0; i < 11; i++) w.writes.push(new ConcurrencyConflictError('changed'));
    await expect(w.put('exch2', 'bob')).rejects.toThrow(new ConcurrencyConflictError('The baseline of drift-a kept changing while the audit events its changes owe were written.'));
    expect(w.steps().filter((s) => s === 'putEvents')).toHaveLength(10);
    expect(w.steps().filter((s) => s === 'getBaseline')).toHaveLength(11);
    expect(w.rowWrites().every(([rev, , owing]) => rev === 2 && owing === 'settled')).toBe(true);
  });
});

describe('clearing a baseline', () => {
  it('keeps the row with no server, the next revision and who set it, and writes an event naming the server it was and who set it', async () => {
    const w = world([row()]);
    const answer = await w.remove();
    expect(answer).toStrictEqual({ ...row(), revision: 3 });
    const written = w.stored.get(RULE)!;
    expect(written.writers).toStrictEqual([expect.stringMatching(UUID), 'w-old']);
    const deleted: EventRecord = {
      server: id('exch1'),
      ruleId: RULE,
      ruleVersion: '',
      toStatus: '',
      reasonCode: '',
      severity: '',
      message: { en: `Drift baseline for ${RULE} cleared (was ${id('exch1')}); it was set by alice.`, ja: `${RULE} のドリフト基準を解除 (${id('exch1')}) (設定者 alice)。` },
      firstSeen: NOW,
      snapshotId: 'baseline.r3',
      recordedAt: NOW,
      cause: 'baseline-deleted',
      detail: JSON.stringify({ rule: RULE, server: null, previousServer: id('exch1'), setBy: 'alice', revision: 3, fingerprint: null }),
    };
    const cleared = { ruleId: RULE, server: '', setBy: 'alice', setAt: NOW, revision: 3, auditOwed: deleted, writers: written.writers };
    expect(w.calls).toStrictEqual([
      ['getBaseline', RULE],
      ['putBaseline', cleared, 'seed'],
      ['putEvents', [deleted]],
      ['putBaseline', { ...cleared, auditOwed: undefined, etag: 'e1' }, 'e1'],
    ]);
    expect(written).toStrictEqual({ ...cleared, auditOwed: undefined, etag: 'e2' });
  });

  it('answers undefined and writes nothing when none is named or it is cleared already, whatever If-Match says', async () => {
    for (const rows of [[], [row({ server: '' })]]) {
      const w = world(rows);
      const never = ifMatch('"never"');
      expect(await w.remove(never.precondition)).toBeUndefined();
      expect(never.asked).toStrictEqual([]);
      expect(w.steps()).toStrictEqual(['getBaseline']);
    }
  });

  it('checks If-Match on a named baseline: a stale one is refused, a current one clears it', async () => {
    const w = world([row()]);
    const one = ifMatch('"1"');
    expect(await refusalOf(() => w.remove(one.precondition))).toStrictEqual(['precondition_failed', expect.stringContaining('is at "2" now')]);
    expect(w.steps()).toStrictEqual(['getBaseline']);
    expect((await w.remove(ifMatch('"2"').precondition))?.revision).toBe(3);
    expect(w.stored.get(RULE)).toMatchObject({ server: '', revision: 3 });
  });

  it('whose answer was lost is known on the read-back even once the baseline was named again meanwhile, and is not cleared again', async () => {
    const w = world([row()]);
    w.writes.push((ours) => (w.land({ ...ours, server: id('exch3'), setBy: 'bob', revision: 4, auditOwed: undefined, writers: ['bob-run', ...ours.writers!] }), unavailable()));
    expect(await w.remove()).toStrictEqual({ ...row(), revision: 3 });
    expect(w.rowWrites()).toStrictEqual([[3, '', 'owing', 'seed']]);
    expect(w.stored.get(RULE)).toMatchObject({ server: id('exch3'), revision: 4 });
  });
});

describe('the timer writing the owed audit events', () => {
  it('reads each rule with configuration facts once, writes the events owed and counts them', async () => {
    const owed = namedEvent(2, id('exch1'), 'alice', 'fp-1');
    const w = world([row({ auditOwed: owed }), row({ ruleId: 'drift-b', etag: 'seed-b' })]);
    expect(await w.baselines.writeOwedAudits(w.log)).toStrictEqual({ written: 1, failed: 0 });
    expect(w.calls).toStrictEqual([
      ['getBaseline', RULE],
      ['putEvents', [owed]],
      ['putBaseline', row(), 'seed'],
      ['getBaseline', 'drift-b'],
    ]);
    expect(w.lines).toStrictEqual([]);
  });

  it('counts nothing where no baseline was ever named', async () => {
    const w = world();
    expect(await w.baselines.writeOwedAudits(w.log)).toStrictEqual({ written: 0, failed: 0 });
    expect(w.calls).toStrictEqual([
      ['getBaseline', RULE],
      ['getBaseline', 'drift-b'],
    ]);
  });

  it('counts an event whose clearing landed but lost its answer (its resend refused by the ETag it left) as written', async () => {
    const owed = namedEvent(2, id('exch1'), 'alice', 'fp-1');
    const w = world([row({ auditOwed: owed })]);
    const refusal = await resendRefusal();
    w.writes.push(() => refusal);
    expect(await w.baselines.writeOwedAudits(w.log)).toStrictEqual({ written: 1, failed: 0 });
    expect(w.stored.get(RULE)).toMatchObject({ revision: 2, auditOwed: undefined });
    expect(w.written()).toStrictEqual([['baseline.r2', 'baseline-set']]);
    expect(w.lines).toStrictEqual([]);
  });

  it('counts an event a newer change settled first as neither written nor failed', async () => {
    const w = world([row({ auditOwed: namedEvent(2, id('exch1'), 'alice', 'fp-1') })]);
    w.writes.push(new ConcurrencyConflictError('a newer change'));
    expect(await w.baselines.writeOwedAudits(w.log)).toStrictEqual({ written: 0, failed: 0 });
    expect(w.lines).toStrictEqual([]);
  });

  it('logs and counts a rule whose event, row or read storage refuses, and still writes the next rule', async () => {
    const rows = [row({ auditOwed: namedEvent(2, id('exch1'), 'alice', 'fp-1') }), row({ ruleId: 'drift-b', auditOwed: { ...namedEvent(7, id('exch2'), 'bob', 'fp-2'), ruleId: 'drift-b' } })];
    const failed = (cause: string) => `The baseline of drift-a: the waiver-expiry run could not write the audit event it owes (${cause}); the next run tries again.`;
    const events = world(rows);
    events.eventWrites.push(new Error('events refused'));
    expect(await events.baselines.writeOwedAudits(events.log)).toStrictEqual({ written: 1, failed: 1 });
    expect(events.lines).toStrictEqual([failed('events refused')]);
    expect(events.written()).toStrictEqual([['baseline.r7', 'baseline-set']]);
    const clearing = world(rows);
    clearing.writes.push(unavailable());
    expect(await clearing.baselines.writeOwedAudits(clearing.log)).toStrictEqual({ written: 1, failed: 1 });
    expect(clearing.lines).toStrictEqual([failed('unavailable')]);
    const reading = world(rows);
    reading.reads.push(new Error('read refused'));
    expect(await reading.baselines.writeOwedAudits(reading.log)).toStrictEqual({ written: 1, failed: 1 });
    expect(reading.lines).toStrictEqual([failed('read refused')]);
  });
});
