// A server's move in its rule's drift, worked out from the new Results row and the one it
// replaces: the member it becomes, the commit its member row names, and where the drift counted it
// before (or that the projector must read that, when the old row cannot tell).
import { describe, expect, it } from 'vitest';
import { driftCommitOf, driftMemberOf, driftMoveOf, driftPlaceBefore } from '../../src/app/drift-projection';
import { RESULT_TIMES, storedResult } from '../support/stored-results';

const withPrint = (over: Parameters<typeof storedResult>[0] = {}) => storedResult({ fingerprint: 'sha256:a', fingerprintFactsJson: '{"rules":1}', driftCommitId: 'c-old', ...over });

describe('driftMemberOf', () => {
  it('is the row as a member: its fingerprint, facts, status and the snapshot and commit it comes from', () => {
    expect(driftMemberOf(withPrint())).toStrictEqual({
      ruleId: 'mcafee-port25-blocked',
      server: 'exch1.corp.contoso.com',
      fingerprint: 'sha256:a',
      factsJson: '{"rules":1}',
      status: 'Warning',
      sourceSnapshotId: '3b1f6c2e-5d4a-4c8b-9e7f-0a1b2c3d4e5f',
      sourceCollectedAt: RESULT_TIMES.collectedAt,
      sourceCommitId: 'c-old',
    });
  });

  it('without facts recorded is an empty object of facts, and without a commit names none', () => {
    const member = driftMemberOf(withPrint({ fingerprintFactsJson: undefined, driftCommitId: undefined }));
    expect(member?.factsJson).toBe('{}');
    expect(member).not.toHaveProperty('sourceCommitId');
  });

  it('is none for a row without a fingerprint', () => {
    expect(driftMemberOf(storedResult())).toBeUndefined();
    expect(driftMemberOf(withPrint({ fingerprint: '' }))).toBeUndefined();
  });
});

describe('driftCommitOf', () => {
  const prev = withPrint({ driftCommitId: 'c-prev' });

  it('names the new commit when the row moves its server to another place', () => {
    expect(driftCommitOf({ fingerprint: 'sha256:b', status: 'Warning' }, true, 'c-new', prev)).toBe('c-new');
    expect(driftCommitOf({ fingerprint: 'sha256:a', status: 'Pass' }, true, 'c-new', prev)).toBe('c-new');
    expect(driftCommitOf({ fingerprint: 'sha256:a', status: 'Warning' }, true, 'c-new', undefined)).toBe('c-new');
    expect(driftCommitOf({ fingerprint: 'sha256:a', status: 'Warning' }, true, 'c-new', withPrint({ driftCommitId: undefined }))).toBe('c-new');
  });

  it('keeps the previous commit for a move to where the server already is', () => {
    expect(driftCommitOf({ fingerprint: 'sha256:a', status: 'Warning' }, true, 'c-new', prev)).toBe('c-prev');
  });

  it('keeps the previous commit when the row owes no move or has no fingerprint, even one that differs', () => {
    expect(driftCommitOf({ fingerprint: 'sha256:b', status: 'Pass' }, false, 'c-new', prev)).toBe('c-prev');
    expect(driftCommitOf({ fingerprint: undefined, status: 'Pass' }, true, 'c-new', prev)).toBe('c-prev');
    expect(driftCommitOf({ fingerprint: undefined, status: 'Pass' }, true, 'c-new', undefined)).toBeUndefined();
  });
});

describe('driftPlaceBefore', () => {
  it('is null for a server never counted (no row), and the old row place when it can tell', () => {
    expect(driftPlaceBefore(undefined)).toBeNull();
    expect(driftPlaceBefore(withPrint({ status: 'Pass' }))).toStrictEqual({ fingerprint: 'sha256:a', status: 'Pass', commitId: 'c-old' });
    expect(driftPlaceBefore(withPrint({ driftCommitId: undefined }))).toStrictEqual({ fingerprint: 'sha256:a', status: 'Warning' });
  });

  it('cannot tell for a row without a fingerprint or with projections still owed', () => {
    expect(driftPlaceBefore(storedResult())).toBeUndefined();
    expect(driftPlaceBefore(withPrint({ indexPending: true }))).toBeUndefined();
    expect(driftPlaceBefore(withPrint({ eventPending: true }))).toBeUndefined();
  });
});

describe('driftMoveOf', () => {
  it('is the member with where it was counted before, or the member alone when the old row cannot tell', () => {
    const row = withPrint({ fingerprint: 'sha256:b', driftCommitId: 'c-new' });
    const member = driftMemberOf(row);
    expect(driftMoveOf(row, undefined)).toStrictEqual({ ...member, from: null });
    expect(driftMoveOf(row, withPrint())).toStrictEqual({ ...member, from: { fingerprint: 'sha256:a', status: 'Warning', commitId: 'c-old' } });
    expect(driftMoveOf(row, withPrint({ indexPending: true }))).toStrictEqual(member);
  });

  it('is none for a row without a fingerprint', () => {
    expect(driftMoveOf(storedResult(), withPrint())).toBeUndefined();
  });
});
