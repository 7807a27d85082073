// Small helpers of the service, without storage: the CSV export's fields and lines, the check of
// text people write into records, the bounded memory of seen ids, what a removal marker says, and
// the structured log records alert rules count.
import { describe, expect, it } from 'vitest';
import { csvField, csvLine } from '../../src/app/csv';
import { halfCharacterMessage, requiredText } from '../../src/app/free-text';
import { ALERT_FLOOD_SERVERS, ALERT_MANY_SERVERS, formatLogRecord, LOG_RECORDS } from '../../src/app/log-records';
import { RecentSet } from '../../src/app/recent-set';
import { removalView, removedSentence } from '../../src/app/removal-text';
import type { StoredResult } from '../../src/store';

describe('csvField / csvLine', () => {
  it('writes nothing for null and undefined, and numbers and booleans as text', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(0)).toBe('0');
    expect(csvField(-3)).toBe('-3');
    expect(csvField(false)).toBe('false');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('')).toBe('');
  });

  it('quotes a field holding a comma, a quote or a line break, doubling its quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvField('a\rb')).toBe('"a\rb"');
  });

  it('prefixes text a spreadsheet would run as a formula with a quote mark', () => {
    for (const lead of ['=', '+', '-', '@', '\t']) expect(csvField(`${lead}SUM(A1)`)).toBe(`'${lead}SUM(A1)`);
    expect(csvField('\r1')).toBe(`"'\r1"`);
    expect(csvField('=1,2')).toBe(`"'=1,2"`);
    // Only at the start, and only for text (a negative number is a number).
    expect(csvField('a=1')).toBe('a=1');
    expect(csvField('x-1')).toBe('x-1');
  });

  it('joins a line with commas and ends it with CRLF', () => {
    expect(csvLine(['a', 1, null, 'b,c'])).toBe('a,1,,"b,c"\r\n');
    expect(csvLine([])).toBe('\r\n');
  });
});

describe('requiredText', () => {
  const invalid = (message: string) => new RangeError(message);

  it('answers the text trimmed', () => {
    expect(requiredText({ reason: '  approved by change board  ' }, 'reason', 100, invalid)).toBe('approved by change board');
    expect(requiredText({ reason: 'abc' }, 'reason', 3, invalid)).toBe('abc');
    expect(requiredText({ reason: ' abc ' }, 'reason', 3, invalid)).toBe('abc');
  });

  it('refuses a field missing, not text or blank', () => {
    for (const v of [undefined, 5, null, '', '   ', '\n\t']) {
      expect(() => requiredText({ reason: v }, 'reason', 100, invalid)).toThrow(new RangeError('"reason" is required and must be a non-empty string.'));
    }
  });

  it('refuses text longer than the bound, naming it', () => {
    expect(() => requiredText({ who: 'abcd' }, 'who', 3, invalid)).toThrow(new RangeError('"who" must be at most 3 characters.'));
  });

  it('refuses half a character, and keeps whole ones and control characters', () => {
    expect(() => requiredText({ who: 'a\ud800b' }, 'who', 100, invalid)).toThrow(new RangeError(halfCharacterMessage('who')));
    expect(halfCharacterMessage('who')).toBe('"who" holds half of a UTF-16 surrogate pair (a character cut in two), which readers of the audit records cannot decode; send whole characters.');
    expect(requiredText({ who: '山田\u{1F600}\tx' }, 'who', 100, invalid)).toBe('山田\u{1F600}\tx');
  });
});

describe('RecentSet', () => {
  it('forgets the oldest member past its bound, a member added again counting as new', () => {
    const s = new RecentSet(2);
    s.add('a');
    s.add('b');
    expect(s.has('a') && s.has('b')).toBe(true);
    s.add('a'); // a is now newer than b
    s.add('c');
    expect(s.has('b')).toBe(false);
    expect(s.has('a')).toBe(true);
    expect(s.has('c')).toBe(true);
    expect(s.has('d')).toBe(false);
  });

  it('holds exactly its bound', () => {
    const s = new RecentSet(3);
    for (const x of ['a', 'b', 'c']) s.add(x);
    expect(['a', 'b', 'c'].every((x) => s.has(x))).toBe(true);
    s.add('d');
    expect(['a', 'b', 'c', 'd'].map((x) => s.has(x))).toEqual([false, true, true, true]);
  });
});

describe('removal text', () => {
  const marker = (over: Partial<StoredResult>) => ({ firstSeen: Date.parse('2026-12-01T08:00:00Z'), message: { en: 'Decommissioned.', ja: '廃止。' }, ...over }) as StoredResult;

  it('says when, by whom and why a server was removed, null where the marker does not', () => {
    expect(removalView(marker({ removedBy: 'alice' }), 'ja')).toStrictEqual({ removedAt: '2026-12-01T08:00:00.000Z', removedBy: 'alice', message: '廃止。' });
    expect(removalView(marker({ message: { en: '', ja: '' } }), 'en')).toStrictEqual({ removedAt: '2026-12-01T08:00:00.000Z', removedBy: null, message: null });
  });

  it('says it in one sentence, with who removed it where known', () => {
    expect(removedSentence('exch1.corp.contoso.com', marker({ removedBy: 'alice' }))).toBe('Server "exch1.corp.contoso.com" was removed from the fleet at 2026-12-01T08:00:00.000Z by alice; its history stays readable.');
    expect(removedSentence('exch1.corp.contoso.com', marker({}), 'is removed')).toBe('Server "exch1.corp.contoso.com" is removed at 2026-12-01T08:00:00.000Z; its history stays readable.');
  });
});

describe('log records', () => {
  it('are the record name, a space and one JSON object', () => {
    expect(formatLogRecord(LOG_RECORDS.newFinding, { server: 'exch1', count: 2, waived: false, waiverId: null })).toBe('FleetPosture.NewFinding {"server":"exch1","count":2,"waived":false,"waiverId":null}');
    expect(Object.values(LOG_RECORDS).every((n) => n.startsWith('FleetPosture.'))).toBe(true);
  });

  it('name the servers of a flood together in one fixed Server dimension', () => {
    expect(ALERT_FLOOD_SERVERS).toBe(20);
    expect(ALERT_MANY_SERVERS).toBe('(more than 20 servers)');
  });
});
