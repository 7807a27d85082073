// The OData date literal every `since` and cut-off filter is built with: Azure Table storage holds
// DateTime values from 1601-01-01 UTC on, so an earlier `since` (which Azurite takes) is sent as that;
// a `since` past year 9999 (a time zone can push one there) as the end of that year.
import { describe, expect, it } from 'vitest';
import { and, EARLIEST_TABLE_TIME, LATEST_TABLE_TIME, MAX_FILTER_COMPARISONS, odataDate, or } from '../../src/store/filters';

describe('odataDate', () => {
  it('writes a time as a UTC DateTime literal', () => {
    expect(odataDate(Date.parse('2026-11-28T09:00:00+09:00'))).toBe("datetime'2026-11-28T00:00:00.000Z'");
    expect(odataDate(Date.parse('1601-01-01T00:00:00Z'))).toBe("datetime'1601-01-01T00:00:00.000Z'");
  });

  it.each(['0001-01-01T00:00:00Z', '1600-12-31T23:59:59.999Z', '1000-06-15T12:00:00Z'])('clamps %s to 1601-01-01, the earliest Azure Table storage holds', (since) => {
    expect(odataDate(Date.parse(since))).toBe("datetime'1601-01-01T00:00:00.000Z'");
  });

  it.each(['9999-12-31T23:59:59-14:00', '+010000-01-01T00:00:00Z'])('clamps %s to the end of year 9999, past which no DateTime literal is written', (since) => {
    expect(odataDate(Date.parse(since))).toBe("datetime'9999-12-31T23:59:59.999Z'");
  });
});

describe('and / or', () => {
  it('joins parts in parentheses, leaving out absent ones', () => {
    expect(and("PartitionKey eq 'a'", undefined, '', "Status eq 'Warning'")).toBe("(PartitionKey eq 'a') and (Status eq 'Warning')");
    expect(and("Status eq 'Warning'")).toBe("(Status eq 'Warning')");
    expect(and()).toBe('');
    expect(or(["Status eq 'Warning'", "Status eq 'Error'"])).toBe("(Status eq 'Warning') or (Status eq 'Error')");
    expect(or([])).toBeUndefined();
  });

  it('keeps to the range and the comparisons Azure Table storage takes', () => {
    expect(MAX_FILTER_COMPARISONS).toBe(15);
    expect(new Date(EARLIEST_TABLE_TIME).toISOString()).toBe('1601-01-01T00:00:00.000Z');
    expect(new Date(LATEST_TABLE_TIME).toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });
});
