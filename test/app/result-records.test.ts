// From a rule's result to what the store keeps, without storage: the verdict a Results row holds,
// the event and index rows picked from it, when an index row is stale, and what a commit owes the
// fleet-wide tables for rows of rules that left the rule set.
import { describe, expect, it } from 'vitest';
import { eventOf, indexedStatusOf, indexOf, verdictMoved, verdictOf } from '../../src/app/result-records';
import { leavesOf } from '../../src/app/retired-results';
import type { RuleResult } from '../../src/rules/types';
import type { ResultRecord, StoredResult } from '../../src/store';

const T = Date.parse('2026-12-06T10:00:00Z');

const result = (over: Partial<RuleResult> = {}): RuleResult => ({
  ruleId: 'r',
  ruleVersion: '1.2.0',
  title: { en: 'Title', ja: 'タイトル' },
  severity: 'Warning',
  references: [],
  status: 'Warning',
  reasonCode: 'SmtpNotExcluded',
  message: { en: 'Blocked.', ja: 'ブロック。' },
  remediation: [
    { en: 'Exclude it.', ja: '除外する。' },
    { en: 'Or disable the rule.', ja: 'またはルールを無効にする。' },
  ],
  evidence: { process: 'EdgeTransport.exe', ports: [25, 587] },
  ...over,
});

const stored = (over: Partial<StoredResult> = {}): StoredResult =>
  ({
    server: 's.x',
    ruleId: 'r',
    ruleVersion: '1.2.0',
    status: 'Warning',
    reasonCode: 'SmtpNotExcluded',
    severity: 'Warning',
    message: { en: 'Blocked.', ja: 'ブロック。' },
    remediation: { en: [], ja: [] },
    evidenceJson: '{}',
    firstSeen: T - 60_000,
    snapshotId: 'snap2',
    collectedAt: T - 1_000,
    lastSeen: T,
    eventPending: false,
    indexPending: false,
    etag: 'W/"1"',
    evidenceTruncated: false,
    ...over,
  }) as StoredResult;

describe('verdictOf', () => {
  it('keeps the rule, status, reason and messages, the remediation per language in order, and the evidence as JSON', () => {
    expect(verdictOf(result())).toStrictEqual({
      ruleId: 'r',
      ruleVersion: '1.2.0',
      status: 'Warning',
      reasonCode: 'SmtpNotExcluded',
      severity: 'Warning',
      message: { en: 'Blocked.', ja: 'ブロック。' },
      remediation: { en: ['Exclude it.', 'Or disable the rule.'], ja: ['除外する。', 'またはルールを無効にする。'] },
      evidenceJson: '{"process":"EdgeTransport.exe","ports":[25,587]}',
    });
  });

  it('adds the fingerprint and its facts (canonical JSON) for a rule that declares configuration facts', () => {
    const v = verdictOf(result({ fingerprint: { hash: 'sha256:abc', facts: { b: 2, a: ['x'] } } }));
    expect([v.fingerprint, v.fingerprintFactsJson]).toEqual(['sha256:abc', '{"a":["x"],"b":2}']);
  });
});

describe('eventOf and indexOf', () => {
  it('pick the status change and the index row from a Results row', () => {
    const row = stored({ previousStatus: 'Pass', previousFirstSeen: T - 120_000, changeCause: 'reevaluation' } as Partial<StoredResult>);
    expect(eventOf(row, T)).toStrictEqual({
      server: 's.x',
      ruleId: 'r',
      ruleVersion: '1.2.0',
      reasonCode: 'SmtpNotExcluded',
      severity: 'Warning',
      message: row.message,
      firstSeen: T - 60_000,
      previousFirstSeen: T - 120_000,
      snapshotId: 'snap2',
      fromStatus: 'Pass',
      toStatus: 'Warning',
      recordedAt: T,
      cause: 'reevaluation',
    });
    expect(indexOf(row)).toStrictEqual({
      server: 's.x',
      ruleId: 'r',
      ruleVersion: '1.2.0',
      status: 'Warning',
      reasonCode: 'SmtpNotExcluded',
      severity: 'Warning',
      message: row.message,
      firstSeen: T - 60_000,
      previousStatus: 'Pass',
      sourceSnapshotId: 'snap2',
      sourceCollectedAt: T - 1_000,
    });
  });

  it('name a snapshot as the cause when the row records none', () => {
    expect(eventOf(stored(), T).cause).toBe('snapshot');
  });
});

describe('indexedStatusOf', () => {
  it('is the previous status while the change is not projected yet, the status once it is', () => {
    expect(indexedStatusOf(stored({ previousStatus: 'Pass', eventPending: true }))).toBe('Pass');
    expect(indexedStatusOf(stored({ previousStatus: 'Pass', eventPending: false }))).toBe('Warning');
  });
});

describe('verdictMoved', () => {
  const prev = stored() as ResultRecord;
  const same = verdictOf(result());

  it('is false for the same verdict, whatever the evidence and remediation', () => {
    expect(verdictMoved(prev, { ...same, evidenceJson: '{"other":1}', remediation: { en: ['x'], ja: ['y'] } })).toBe(false);
  });

  it('is true when the status, the reason, the rule version or the message in any language moved', () => {
    const moves = [
      { ...same, status: 'Error' as const },
      { ...same, reasonCode: 'Other' },
      { ...same, ruleVersion: '1.3.0' },
      { ...same, message: { en: 'Other.', ja: 'ブロック。' } },
      { ...same, message: { en: 'Blocked.', ja: '別。' } },
    ];
    for (const next of moves) expect(verdictMoved(prev, next), JSON.stringify(next)).toBe(true);
  });
});

describe('leavesOf', () => {
  const at = { snapshotId: 'snap3', collectedAt: T, commitId: 'c3' };

  it('owes nothing when no row is removed', () => {
    expect(leavesOf([], at)).toStrictEqual({});
  });

  it('has each removed row leave its rule index from its status; a row with a fingerprint leaves the drift too', () => {
    const plain = stored({ ruleId: 'gone' });
    const counted = stored({ ruleId: 'drifting', status: 'Pass', fingerprint: 'sha256:f', driftCommitId: 'c2' } as Partial<StoredResult>);
    expect(leavesOf([plain, counted], at)).toStrictEqual({
      indexLeaves: [
        { leave: true, ruleId: 'gone', server: 's.x', from: 'Warning', sourceSnapshotId: 'snap3', sourceCollectedAt: T },
        { leave: true, ruleId: 'drifting', server: 's.x', from: 'Pass', sourceSnapshotId: 'snap3', sourceCollectedAt: T },
      ],
      driftLeaves: [
        { leave: true, ruleId: 'drifting', server: 's.x', from: { fingerprint: 'sha256:f', status: 'Pass', commitId: 'c2' }, sourceSnapshotId: 'snap3', sourceCollectedAt: T, sourceCommitId: 'c3' },
      ],
    });
  });

  it('gives no drift leaves when no removed row has a fingerprint', () => {
    expect(leavesOf([stored()], at)).not.toHaveProperty('driftLeaves');
  });

  it('leaves out where the server is held when the row still owes projections, so the projector reads it', () => {
    for (const owed of [{ eventPending: true }, { indexPending: true }]) {
      const row = stored({ fingerprint: 'sha256:f', ...owed } as Partial<StoredResult>);
      const leaves = leavesOf([row], at);
      expect(leaves.indexLeaves?.[0], JSON.stringify(owed)).not.toHaveProperty('from');
      expect(leaves.driftLeaves?.[0], JSON.stringify(owed)).not.toHaveProperty('from');
      expect(leaves.driftLeaves?.[0]).toMatchObject({ leave: true, ruleId: 'r', sourceCommitId: 'c3' });
    }
  });
});
