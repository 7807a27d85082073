// What the projector hands the rule index and the drift as the truth about a server, without
// storage: the record or member its Results row of the rule says it holds, and nothing to count
// for a server whose row is gone or marks its removal. The service tests replay moves after a
// removal against Azurite.
import { describe, expect, it } from 'vitest';
import { driftMemberOf } from '../../src/app/drift-projection';
import { driftTruthOf, indexTruthOf } from '../../src/app/projection-truth';
import { indexOf } from '../../src/app/result-records';
import { REMOVED_STATUS, type PostureStore, type ResultRecord } from '../../src/store';

const T = Date.parse('2026-12-06T09:00:00Z');

const row = (over: Partial<ResultRecord> = {}): ResultRecord =>
  ({ server: 'exch1', ruleId: 'mcafee-port25-blocked', ruleVersion: '1.2.0', status: 'Warning', reasonCode: 'SmtpNotExcluded', severity: 'Warning', message: { en: 'm', ja: 'm' }, firstSeen: T, snapshotId: 's1', collectedAt: T, fingerprint: 'f1', fingerprintFactsJson: '{"a":1}', ...over }) as ResultRecord;

/** A store holding `rows` by "server rule", recording what it is asked. */
function store(rows: Record<string, ResultRecord>) {
  const asked: string[] = [];
  const s = { readResultRow: async (server: string, ruleId: string) => (asked.push(`${server} ${ruleId}`), rows[`${server} ${ruleId}`] ?? null) } as unknown as PostureStore;
  return { s, asked };
}

describe('indexTruthOf', () => {
  it('is the index record of the server row of the rule', async () => {
    const r = row();
    const { s, asked } = store({ 'exch1 mcafee-port25-blocked': r });
    expect(await indexTruthOf(s)('mcafee-port25-blocked', 'exch1')).toStrictEqual(indexOf(r));
    expect(asked).toStrictEqual(['exch1 mcafee-port25-blocked']);
  });

  it('is null for a server without that row, or whose row marks its removal', async () => {
    const { s } = store({ 'exch1 mcafee-port25-blocked': row({ status: REMOVED_STATUS }) });
    expect(await indexTruthOf(s)('mcafee-port25-blocked', 'exch1')).toBeNull();
    expect(await indexTruthOf(s)('mcafee-port25-blocked', 'exch2')).toBeNull();
  });
});

describe('driftTruthOf', () => {
  it('is the drift member of the server row of the rule, or undefined when the row tells no configuration', async () => {
    const r = row();
    const bare = row({ server: 'exch2', fingerprint: undefined });
    const { s, asked } = store({ 'exch1 mcafee-port25-blocked': r, 'exch2 mcafee-port25-blocked': bare });
    expect(await driftTruthOf(s)('mcafee-port25-blocked', 'exch1')).toStrictEqual(driftMemberOf(r));
    expect(await driftTruthOf(s)('mcafee-port25-blocked', 'exch2')).toBeUndefined();
    expect(asked).toStrictEqual(['exch1 mcafee-port25-blocked', 'exch2 mcafee-port25-blocked']);
  });

  it('is null for a server without that row, or whose row marks its removal', async () => {
    const { s } = store({ 'exch1 mcafee-port25-blocked': row({ status: REMOVED_STATUS }) });
    expect(await driftTruthOf(s)('mcafee-port25-blocked', 'exch1')).toBeNull();
    expect(await driftTruthOf(s)('mcafee-port25-blocked', 'exch2')).toBeNull();
  });
});
