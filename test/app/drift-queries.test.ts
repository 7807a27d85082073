// Reading drift, without storage: a rule's clusters from its counter rows (shards merged, largest
// first, paged by a sealed position, with what the answer read), the baseline named or gone, and
// one server against the baseline or the largest cluster, shown from its Results row while the
// drift has yet to count it. The service tests read drift written by real posts in Azurite.
import { describe, expect, it } from 'vitest';
import { DriftQueries, measuredAgainstLargest, parseFacts, type DriftQueryDeps } from '../../src/app/drift-queries';
import { ApiError } from '../../src/app/errors';
import { isoInstant as iso } from '../../src/app/iso-time';
import type { ReevalProgress } from '../../src/app/reevaluate';
import { RULES } from '../../src/rules/registry';
import { CursorCodec, InvalidContinuationTokenError, type DriftCounts, type DriftMember, type StoredBaseline } from '../../src/store';
import { warnLog as warnings } from '../support/api-request';

const RULE = RULES[0]!;
const T = Date.parse('2026-12-06T09:00:00.000Z');

const counts = (fingerprint: string, warning: number, sample: string[], facts = { f: fingerprint }): DriftCounts => ({ fingerprint, counts: { Warning: warning }, factsJson: JSON.stringify(facts), sample });
const member = (server: string, fingerprint: string, over: Partial<DriftMember> = {}): DriftMember => ({
  ruleId: RULE.id,
  server,
  fingerprint,
  factsJson: JSON.stringify({ f: fingerprint }),
  status: 'Warning',
  sourceSnapshotId: 's1',
  sourceCollectedAt: T,
  ...over,
});
const baseline = (server: string): StoredBaseline => ({ ruleId: RULE.id, server, setBy: 'alice', setAt: T, revision: 2, etag: 'e' }) as StoredBaseline;

interface World {
  rows?: DriftCounts[];
  entitiesRead?: number;
  baseline?: StoredBaseline;
  members?: Record<string, DriftMember>;
  results?: Record<string, { fingerprint?: string; fingerprintFactsJson?: string; status: string; collectedAt: number }>;
  reevaluation?: () => Promise<ReevalProgress>;
}

/** Queries over a world held in memory; `reads` names every store call. */
function queries(world: World = {}) {
  const reads: string[] = [];
  const deps: DriftQueryDeps = {
    rules: [...RULES, { ...RULE, id: 'no-facts', configurationFacts: undefined }],
    cursors: new CursorCodec('s3cret'),
    drift: {
      listCounts: async (ruleId: string) => (reads.push(`counts ${ruleId}`), { rows: world.rows ?? [], entitiesRead: world.entitiesRead ?? 0 }),
      getBaseline: async (ruleId: string) => (reads.push(`baseline ${ruleId}`), world.baseline),
      readMembers: async (_ruleId: string, server: string) => (reads.push(`members ${server}`), world.members?.[server] ? [{ rowKey: 'k', etag: 'e', member: world.members[server] }] : []),
      getMember: async (_ruleId: string, server: string) => (reads.push(`member ${server}`), world.members?.[server]),
    } as unknown as DriftQueryDeps['drift'],
    resultRow: async (server: string) => (reads.push(`result ${server}`), world.results?.[server]),
    ...(world.reevaluation ? { reevaluation: world.reevaluation } : {}),
  };
  return { q: new DriftQueries(deps), reads };
}

const baselineUnrecorded = (server: string) =>
  `The baseline server ${server} has no configuration recorded for ${RULE.id} (removed from the fleet, or no longer evaluated by the rule), so ${measuredAgainstLargest(RULE.id)}.`;

describe('parseFacts', () => {
  it('reads an object, and shows anything else as the text it is, cut to 200 characters', () => {
    expect(parseFacts('{"a":1}')).toStrictEqual({ a: 1 });
    for (const text of ['[1]', 'null', '5', '"x"']) expect(parseFacts(text), text).toStrictEqual({ unreadable: text });
    expect(parseFacts(`{"a":"${'x'.repeat(300)}`)).toStrictEqual({ unreadable: `{"a":"${'x'.repeat(194)}` });
  });
});

describe('ruleWithFacts', () => {
  it('is the rule when it declares configuration facts, and a 400 naming why otherwise', () => {
    const { q } = queries();
    expect(q.ruleWithFacts(RULE.id)).toBe(RULE);
    for (const id of ['no-facts', 'unknown']) {
      expect(() => q.ruleWithFacts(id)).toThrow(new ApiError('invalid_query', `The rule "${id}" declares no configuration facts, so it has no drift.`));
    }
  });
});

describe('fleet', () => {
  const rows = [counts('b', 1, ['s2']), counts('a', 2, ['s1']), counts('b', 3, ['s3']), counts('c', 1, ['s9'])];

  it('merges the shards into clusters, largest first, a page at a time, with what it read', async () => {
    const { q, reads } = queries({ rows, entitiesRead: 4 });
    const first = await q.fleet(RULE.id, 2, undefined, warnings().log);
    expect({ ...first, continuationToken: typeof first.continuationToken }).toStrictEqual({
      ruleId: RULE.id,
      servers: 7,
      configurations: 3,
      baseline: null,
      pendingReevaluation: null,
      clusters: [
        expect.objectContaining({ fingerprint: 'b', servers: 4, sample: ['s2', 's3'] }),
        expect.objectContaining({ fingerprint: 'a', servers: 2, facts: { f: 'a' } }),
      ],
      continuationToken: 'string',
      entitiesRead: 4,
    });
    expect(reads).toStrictEqual([`counts ${RULE.id}`, `baseline ${RULE.id}`]);
    const second = await q.fleet(RULE.id, 2, first.continuationToken!, warnings().log);
    expect([second.clusters.map((c) => c.fingerprint), second.continuationToken]).toStrictEqual([['c'], null]);
    // A position sealed for this rule's drift by any instance (the secret is shared) opens here.
    const sealed = await new CursorCodec('s3cret').seal(`drift:${RULE.id}`, { i: 1 });
    expect((await q.fleet(RULE.id, 1, sealed, warnings().log)).clusters.map((c) => c.fingerprint)).toStrictEqual(['a']);
    const exact = await q.fleet(RULE.id, 3, undefined, warnings().log);
    expect([exact.clusters.length, exact.continuationToken]).toStrictEqual([3, null]);
  });

  it('refuses a token of another query before reading anything, and a rule without facts', async () => {
    const { q, reads } = queries({ rows });
    const other = await new CursorCodec('s3cret').seal('drift:another-rule', { i: 1 });
    await expect(q.fleet(RULE.id, 2, other, warnings().log)).rejects.toBeInstanceOf(InvalidContinuationTokenError);
    await expect(q.fleet('no-facts', 2, undefined, warnings().log)).rejects.toBeInstanceOf(ApiError);
    expect(reads).toStrictEqual([]);
  });

  it('names the baseline with its configuration, and counts its rows as read', async () => {
    const { q, reads } = queries({ rows, entitiesRead: 4, baseline: baseline('exch1'), members: { exch1: member('exch1', 'a') } });
    const answer = await q.fleet(RULE.id, 10, undefined, warnings().log);
    expect(answer.baseline).toStrictEqual({ server: 'exch1', setBy: 'alice', setAt: iso(T), revision: 2, fingerprint: 'a', note: null });
    expect(answer.entitiesRead).toBe(6);
    expect(reads).toContain('members exch1');
  });

  it('says when the baseline server has no configuration recorded, and names no baseline once cleared', async () => {
    const gone = await queries({ rows, baseline: baseline('exch1') }).q.fleet(RULE.id, 10, undefined, warnings().log);
    expect(gone.baseline).toStrictEqual({ server: 'exch1', setBy: 'alice', setAt: iso(T), revision: 2, fingerprint: null, note: baselineUnrecorded('exch1') });
    expect(gone.entitiesRead).toBe(1);
    const { q, reads } = queries({ rows, baseline: baseline('') });
    const cleared = await q.fleet(RULE.id, 10, undefined, warnings().log);
    expect([cleared.baseline, cleared.entitiesRead]).toStrictEqual([null, 1]);
    expect(reads.some((r) => r.startsWith('members'))).toBe(false);
  });

  it('says a re-evaluation is owed, counting its state as read, and leaves that out when the state cannot be read', async () => {
    const pass = { ruleSetVersion: 'v2', ruleVersions: { [RULE.id]: '9.9.9' }, fromRuleVersions: null, retired: [], newerRelease: false, state: 'running', startedAt: iso(T), finishedAt: null, lastActiveAt: iso(T), evaluated: 1, changed: 0, unavailable: 0 } as const;
    const owed = await queries({ rows, reevaluation: async () => ({ loadedRuleSetVersion: 'v2', upToDate: false, pass }) }).q.fleet(RULE.id, 10, undefined, warnings().log);
    expect(owed.pendingReevaluation?.note).toMatch(/has not finished: servers it has not reached yet are counted under the configuration facts of the version that evaluated them, so a configuration whose facts changed can show as two clusters until it finishes\.$/);
    expect(owed.entitiesRead).toBe(1);
    const { log, lines } = warnings();
    const unknown = await queries({ rows, reevaluation: () => Promise.reject(new Error('down')) }).q.fleet(RULE.id, 10, undefined, log);
    expect('pendingReevaluation' in unknown).toBe(false);
    expect(lines).toStrictEqual(['The drift is answered without pendingReevaluation: the re-evaluation state could not be read (down).']);
  });
});

describe('server', () => {
  const clusters = [counts('a', 5, ['s1']), counts('b', 2, ['s2'])];

  it('shows a counted server against the largest cluster, dated by the newer of its row and member', async () => {
    const { q, reads } = queries({ rows: clusters, members: { exch1: member('exch1', 'b') }, results: { exch1: { fingerprint: 'b', status: 'Warning', collectedAt: T + 5000 } } });
    expect(await q.server('exch1', RULE.id)).toStrictEqual({
      server: 'exch1',
      ruleId: RULE.id,
      fingerprint: 'b',
      status: 'Warning',
      collectedAt: iso(T + 5000),
      facts: { f: 'b' },
      pending: false,
      note: null,
      reference: { kind: 'largest-cluster', fingerprint: 'a', servers: 5, note: null },
      matches: false,
      differences: [{ field: 'f', change: 'changed', server: 'b', reference: 'a' }],
    });
    expect(reads).toStrictEqual([`member exch1`, `baseline ${RULE.id}`, 'result exch1', `counts ${RULE.id}`]);
    const older = await queries({ rows: clusters, members: { exch1: member('exch1', 'b', { sourceCollectedAt: T + 9000 }) }, results: { exch1: { fingerprint: 'b', status: 'Warning', collectedAt: T } } }).q.server('exch1', RULE.id);
    expect(older?.collectedAt).toBe(iso(T + 9000));
  });

  it('counts a member without a Results row as counted', async () => {
    const shown = await queries({ rows: clusters, members: { exch1: member('exch1', 'a') } }).q.server('exch1', RULE.id);
    expect([shown?.pending, shown?.note, shown?.matches, shown?.collectedAt]).toStrictEqual([false, null, true, iso(T)]);
  });

  it('shows a server the drift has not counted yet from its Results row, saying so', async () => {
    const shown = await queries({ rows: clusters, results: { exch1: { fingerprint: 'c', fingerprintFactsJson: '{"f":"c"}', status: 'Error', collectedAt: T + 1 } } }).q.server('exch1', RULE.id);
    expect(shown).toMatchObject({ fingerprint: 'c', status: 'Error', collectedAt: iso(T + 1), facts: { f: 'c' }, pending: true });
    expect(shown?.note).toMatch(/^The drift has not counted exch1 yet: this is the configuration its result holds, and the fleet's clusters include it when the projector counts it/);
  });

  it('shows the configuration last counted while the newest snapshot moved the server, saying so', async () => {
    for (const result of [
      { fingerprint: 'c', fingerprintFactsJson: '{"f":"c"}', status: 'Warning', collectedAt: T + 7 },
      { fingerprint: 'b', fingerprintFactsJson: '{"f":"b"}', status: 'Pass', collectedAt: T + 7 },
    ]) {
      const shown = await queries({ rows: clusters, members: { exch1: member('exch1', 'b') }, results: { exch1: result } }).q.server('exch1', RULE.id);
      expect(shown).toMatchObject({ fingerprint: 'b', status: 'Warning', collectedAt: iso(T), pending: true });
      expect(shown?.note).toMatch(/^The drift has not counted the newest snapshot of exch1 yet, which changed its configuration or status: this is the configuration it last counted, and it moves when the projector counts it/);
    }
  });

  it('is undefined without a member or a Results row that tells a configuration', async () => {
    expect(await queries({ rows: clusters }).q.server('exch1', RULE.id)).toBeUndefined();
    expect(await queries({ rows: clusters, results: { exch1: { fingerprint: 'c', status: 'Warning', collectedAt: T } } }).q.server('exch1', RULE.id)).toBeUndefined();
    expect(await queries({ rows: clusters, results: { exch1: { fingerprintFactsJson: '{}', status: 'Warning', collectedAt: T } } }).q.server('exch1', RULE.id)).toBeUndefined();
    await expect(queries().q.server('exch1', 'no-facts')).rejects.toBeInstanceOf(ApiError);
  });

  it('measures against the named baseline without reading the clusters', async () => {
    const { q, reads } = queries({ rows: clusters, baseline: baseline('exch2'), members: { exch1: member('exch1', 'b'), exch2: member('exch2', 'a') } });
    const shown = await q.server('exch1', RULE.id);
    expect([shown?.reference, shown?.matches]).toStrictEqual([{ kind: 'baseline', server: 'exch2', fingerprint: 'a', note: null }, false]);
    expect(reads).toStrictEqual([`member exch1`, `baseline ${RULE.id}`, 'result exch1', 'member exch2']);
  });

  it('measures the baseline server against itself', async () => {
    const { q, reads } = queries({ rows: clusters, baseline: baseline('exch1'), members: { exch1: member('exch1', 'b') } });
    const shown = await q.server('exch1', RULE.id);
    expect([shown?.reference, shown?.matches, shown?.differences]).toStrictEqual([{ kind: 'baseline', server: 'exch1', fingerprint: 'b', note: null }, true, []]);
    expect(reads.filter((r) => r.startsWith('member'))).toStrictEqual(['member exch1']);
  });

  it('falls back on the largest cluster while the baseline server has no configuration recorded, saying so', async () => {
    const shown = await queries({ rows: clusters, baseline: baseline('exch2'), members: { exch1: member('exch1', 'a') } }).q.server('exch1', RULE.id);
    expect(shown?.reference).toStrictEqual({ kind: 'largest-cluster', fingerprint: 'a', servers: 5, note: baselineUnrecorded('exch2') });
    const cleared = await queries({ rows: clusters, baseline: baseline(''), members: { exch1: member('exch1', 'a') } }).q.server('exch1', RULE.id);
    expect(cleared?.reference).toStrictEqual({ kind: 'largest-cluster', fingerprint: 'a', servers: 5, note: null });
  });

  it('has no reference, and matches, in a fleet of no clusters', async () => {
    const shown = await queries({ members: { exch1: member('exch1', 'a') } }).q.server('exch1', RULE.id);
    expect([shown?.reference, shown?.matches, shown?.differences]).toStrictEqual([null, true, []]);
  });
});
