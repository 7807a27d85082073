// What a server's stored rows tell about themselves: whether they remember a commit (it landed,
// even if its answer was lost) and the verified-key tag they all carry, on which a post skips the
// ServerKeys read. Rows written by an older version carry neither.
import { describe, expect, it } from 'vitest';
import { isRemovedRow, keyTagOf, remembersCommit, REMOVED_STATUS } from '../../src/store';
import { storedResult } from '../support/stored-results';

const commit = (id: string) => ({ id, at: Date.parse('2026-12-06T12:00:00.000Z') });

describe('remembersCommit', () => {
  it('is true when any row names the commit among its recent ones', () => {
    const rows = [storedResult({ recentCommits: [commit('a')] }), storedResult({ ruleId: 'other', recentCommits: [commit('b'), commit('c')] })];
    expect(remembersCommit(rows, 'c')).toBe(true);
    expect(remembersCommit(rows, 'a')).toBe(true);
    expect(remembersCommit(rows, 'd')).toBe(false);
  });

  it('is false for rows an older version wrote without recent commits, and for no rows', () => {
    expect(remembersCommit([storedResult(), storedResult({ ruleId: 'other', recentCommits: [commit('b')] })], 'a')).toBe(false);
    expect(remembersCommit([], 'a')).toBe(false);
  });
});

describe('keyTagOf', () => {
  it('is the tag every row carries', () => {
    expect(keyTagOf([storedResult({ keyTag: 't1' }), storedResult({ ruleId: 'other', keyTag: 't1' })])).toBe('t1');
  });

  it('is none when one row carries another tag or none, when no row has one, and for no rows', () => {
    expect(keyTagOf([storedResult({ keyTag: 't1' }), storedResult({ ruleId: 'other', keyTag: 't2' })])).toBeUndefined();
    expect(keyTagOf([storedResult({ keyTag: 't1' }), storedResult({ ruleId: 'other' })])).toBeUndefined();
    expect(keyTagOf([storedResult(), storedResult({ ruleId: 'other', keyTag: 't1' })])).toBeUndefined();
    expect(keyTagOf([storedResult(), storedResult({ ruleId: 'other' })])).toBeUndefined();
    expect(keyTagOf([])).toBeUndefined();
  });
});

describe('isRemovedRow', () => {
  it('tells a removal marker from a result', () => {
    expect(isRemovedRow({ status: REMOVED_STATUS })).toBe(true);
    expect(isRemovedRow({ status: 'Warning' })).toBe(false);
  });
});
