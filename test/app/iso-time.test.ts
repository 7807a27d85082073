// Strict ISO 8601 instants: what every date a client sends is read with (query parameters, waivers),
// and the one form the service writes them in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoInstant, parseIsoInstant } from '../../src/app/iso-time';

describe('parseIsoInstant', () => {
  it('reads every real instant as Date does (400 runs)', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
        expect(parseIsoInstant(d.toISOString())).toBe(d.getTime());
      }),
      { numRuns: 400 },
    );
  });

  it('reads offsets, dates alone and times without a zone (as UTC)', () => {
    expect(parseIsoInstant('2026-11-28T09:00:00+09:00')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2026-11-28T09:00+0900')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2026-11-27T19:00:00.5-05:00')).toBe(Date.parse('2026-11-28T00:00:00.500Z'));
    expect(parseIsoInstant('2026-11-28')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2026-11-28T00:00')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2024-02-29T00:00:00Z')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(parseIsoInstant('2000-02-29')).toBe(Date.parse('2000-02-29T00:00:00Z'));
  });

  it('reads the widest offsets there are (+23:59, -23:59) and half-hour ones to the minute', () => {
    expect(parseIsoInstant('2026-11-28T23:59:00+23:59')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2026-11-28T00:00:00-23:59')).toBe(Date.parse('2026-11-28T23:59:00Z'));
    expect(parseIsoInstant('2026-11-28T05:30:00+05:30')).toBe(Date.parse('2026-11-28T00:00:00Z'));
    expect(parseIsoInstant('2026-11-28T00:00:00-09:30')).toBe(Date.parse('2026-11-28T09:30:00Z'));
  });

  it.each([
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29',
    '2026-04-31',
    '2026-13-01',
    '2026-00-10',
    '2026-01-00',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+05:60',
    '2026-1-01',
    '20260101',
    'tomorrow',
    '',
    ' 2026-01-01',
    'x2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00Z ',
    '2026-01-01T00:00:00Zjunk',
    '2026-01-01junk',
  ])('refuses %j', (text) => {
    expect(parseIsoInstant(text)).toBeUndefined();
  });

  it('requires a time and a zone when asked', () => {
    expect(parseIsoInstant('2027-03-31', { requireTime: true })).toBeUndefined();
    expect(parseIsoInstant('2027-03-31T00:00:00', { requireZone: true })).toBeUndefined();
    expect(parseIsoInstant('2027-03-31T00:00:00Z', { requireTime: true, requireZone: true })).toBe(Date.parse('2027-03-31T00:00:00Z'));
  });

  it('never throws, whatever the text (1000 runs)', () => {
    const isoLike = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
      .map(([y, m, d, h, s]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:${String(s).padStart(2, '0')}Z`);
    fc.assert(
      fc.property(fc.oneof(fc.string(), isoLike), (text) => {
        const t = parseIsoInstant(text);
        if (t !== undefined) expect(new Date(t).toISOString().slice(0, 10)).toBe(text.slice(0, 10));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('isoInstant', () => {
  it('writes UTC with milliseconds, which parseIsoInstant reads back', () => {
    expect(isoInstant(Date.parse('2026-12-06T10:00:00Z'))).toBe('2026-12-06T10:00:00.000Z');
    expect(isoInstant(1)).toBe('1970-01-01T00:00:00.001Z');
    expect(parseIsoInstant(isoInstant(1_765_000_000_123))).toBe(1_765_000_000_123);
  });
});
