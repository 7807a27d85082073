// The rule index and drift transactions when one lands but its answer is lost (a 503, which the SDK
// sends again into a 412 on the counts row, or a 404 or 409 on a member): neither store reads that
// as another writer's work to redo blindly; each falls back to reading the server's rows and
// comparing, finds its own move there, and writes nothing more. So a first join, a move and a
// leave each count the server once. On Azurite over real HTTP, with a storage policy that lets the
// next transaction of the table land and loses its answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { STATUSES } from '../../src/rules/types';
import { DriftStore, RuleIndexStore, tableNames, type DriftMove, type IndexMove, type IndexRecord, type PostureStore } from '../../src/store';
import { lostAnswers } from '../support/faults';
import { createTestStore } from '../support/stack';

const lose = lostAnswers('testLoseIndexAndDriftAnswers');
let azurite: AzuriteHandle | undefined;
let store: PostureStore;
let index: RuleIndexStore;
let drift: DriftStore;

beforeAll(async () => {
  azurite = await startAzurite({});
  store = createTestStore({ connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1, policies: [lose.policy] });
  await store.ensureTables();
  index = new RuleIndexStore(store);
  drift = new DriftStore(store);
});
afterAll(async () => azurite?.stop());

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const SERVER = 'lost0001.corp.contoso.com';
const source = (minutes: number) => ({ sourceSnapshotId: `snap-${String(minutes).padStart(6, '0')}`, sourceCollectedAt: T0 + minutes * 60_000 });
/** The next transaction on `table` lands, and its answer is lost. */
const loseNextBatchOf = (table: string) => {
  lose.when = ({ url, body }) => url.endsWith('$batch') && body.includes(`/${table}`);
};

describe('a rule index transaction whose answer was lost', () => {
  const rule = 'lost-index-rule';
  const row = (status: string, minutes: number): IndexRecord => ({ server: SERVER, ruleId: rule, ruleVersion: '1.0.0', status, reasonCode: `State${status}`, severity: 'Warning', message: { en: status, ja: status }, firstSeen: T0, previousStatus: undefined, ...source(minutes) });
  const counts = async () => Object.fromEntries([...(await index.getRuleCounts([rule])).get(rule)!].filter(([, n]) => n !== 0));

  it('counts a first join, a move and a leave once each', async () => {
    const table = tableNames().ruleIndex;
    loseNextBatchOf(table);
    await index.applyIndexMoves(rule, [{ record: row('Warning', 1) } satisfies IndexMove]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual({ Warning: 1 });

    loseNextBatchOf(table);
    await index.applyIndexMoves(rule, [{ record: row('Error', 2), from: 'Warning' }]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual({ Error: 1 });

    loseNextBatchOf(table);
    await index.applyIndexMoves(rule, [{ leave: true, ruleId: rule, server: SERVER, from: 'Error', ...source(3) }]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual({});
  });
});

describe('a drift transaction whose answer was lost', () => {
  const rule = 'lost-drift-rule';
  const member = (fingerprint: string, status: string, minutes: number) => ({ ruleId: rule, server: SERVER, fingerprint, status, factsJson: JSON.stringify({ fp: fingerprint }), ...source(minutes) });
  const counts = async () => (await drift.listCounts(rule)).rows.map((r) => [r.fingerprint, Object.fromEntries(Object.entries(r.counts).filter(([, n]) => n !== 0))]).filter(([, c]) => Object.keys(c as object).length > 0);

  it('counts a first join, a move and a leave once each, with one member row', async () => {
    const table = tableNames().drift;
    loseNextBatchOf(table);
    await drift.applyMoves(rule, [{ ...member('fa', 'Pass', 1), from: null } satisfies DriftMove]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual([['fa', { Pass: 1 }]]);

    loseNextBatchOf(table);
    await drift.applyMoves(rule, [{ ...member('fb', 'Warning', 2), from: { fingerprint: 'fa', status: 'Pass' } }]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual([['fb', { Warning: 1 }]]);
    expect((await drift.readMembers(rule, SERVER)).map((m) => [m.member.fingerprint, m.member.status])).toEqual([['fb', 'Warning']]);

    loseNextBatchOf(table);
    await drift.applyMoves(rule, [{ leave: true, ruleId: rule, server: SERVER, from: { fingerprint: 'fb', status: 'Warning' }, ...source(3) }]);
    expect(lose.when).toBeUndefined();
    expect(await counts()).toEqual([]);
    expect(await drift.readMembers(rule, SERVER)).toEqual([]);
  });
});
