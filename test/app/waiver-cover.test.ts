// Which waiver covers a server's result of a rule, without storage: an exact one before a
// pattern, the later end among equals, only the rule and servers it names, and only findings
// waived. The service tests count waived findings in the summary and the exports.
import { describe, expect, it } from 'vitest';
import { coverOf, waiverMatches, waiverOfResult } from '../../src/app/waiver-cover';
import { DAY_MS as DAY, WAIVER_NOW as NOW, waiverRecord as record } from '../support/waiver-records';

const RULE = 'mcafee-port25-blocked';

describe('waiverMatches', () => {
  it('matches its one server exactly, or a pattern in any case, and nothing without either', () => {
    expect(waiverMatches({ server: 'exch1' }, 'exch1')).toBe(true);
    expect(waiverMatches({ server: 'exch1' }, 'exch10')).toBe(false);
    expect(waiverMatches({ server: 'exch1', serverPattern: 'exch*' }, 'exch2')).toBe(false);
    expect(waiverMatches({ serverPattern: 'exch?' }, 'EXCH2')).toBe(true);
    expect(waiverMatches({ serverPattern: 'exch?' }, 'exch10')).toBe(false);
    expect(waiverMatches({}, 'exch1')).toBe(false);
  });
});

describe('coverOf', () => {
  const exact = record({ id: 'exact', server: 'exch1', expiresAt: NOW + DAY });
  const shortPattern = record({ id: 'short', serverPattern: 'exch*', expiresAt: NOW + 2 * DAY });
  const longPattern = record({ id: 'long', serverPattern: 'exch?', expiresAt: NOW + 3 * DAY });
  const otherRule = record({ id: 'other', ruleId: 'another-rule', server: 'exch1', expiresAt: NOW + 9 * DAY });

  it('prefers a waiver of the server itself to any pattern, whatever their ends', () => {
    expect(coverOf([shortPattern, exact, longPattern], 'exch1', RULE)?.id).toBe('exact');
    expect(coverOf([exact, longPattern], 'exch1', RULE)?.id).toBe('exact');
  });

  it('among patterns, and among exact ones, takes the one that runs longest, the first of equal ends', () => {
    expect(coverOf([shortPattern, longPattern], 'exch1', RULE)?.id).toBe('long');
    expect(coverOf([longPattern, shortPattern], 'exch1', RULE)?.id).toBe('long');
    expect(coverOf([exact, record({ id: 'later', server: 'exch1', expiresAt: NOW + 5 * DAY })], 'exch1', RULE)?.id).toBe('later');
    expect(coverOf([record({ id: 'later', server: 'exch1', expiresAt: NOW + 5 * DAY }), exact], 'exch1', RULE)?.id).toBe('later');
    expect(coverOf([shortPattern, record({ id: 'same', serverPattern: 'ex*', expiresAt: shortPattern.expiresAt })], 'exch1', RULE)?.id).toBe('short');
  });

  it('covers only its rule and the servers it names', () => {
    expect(coverOf([otherRule], 'exch1', RULE)).toBeUndefined();
    expect(coverOf([exact, otherRule], 'exch1', 'another-rule')?.id).toBe('other');
    expect(coverOf([exact, shortPattern], 'mbx1', RULE)).toBeUndefined();
    expect(coverOf([exact, longPattern], 'exch10', RULE)).toBeUndefined();
    expect(coverOf([], 'exch1', RULE)).toBeUndefined();
  });
});

describe('waiverOfResult', () => {
  it('waives a Warning or an Error in scope, never another status', () => {
    const w = record({ server: 'exch1' });
    for (const status of ['Warning', 'Error']) expect(waiverOfResult([w], { server: 'exch1', ruleId: RULE, status })).toBe(w);
    for (const status of ['Pass', 'NotApplicable', 'Unknown']) expect(waiverOfResult([w], { server: 'exch1', ruleId: RULE, status })).toBeUndefined();
    expect(waiverOfResult([w], { server: 'exch2', ruleId: RULE, status: 'Warning' })).toBeUndefined();
  });
});
