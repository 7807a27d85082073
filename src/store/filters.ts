// OData filter text built from parts, for the queries of every table.

/** The most comparisons (`eq`, `lt`…) Azure Table storage takes in one filter; Azurite takes any number. */
export const MAX_FILTER_COMPARISONS = 15;

/** The parts joined with `and` (absent parts left out). */
export const and = (...parts: (string | undefined)[]): string => parts.filter((p): p is string => !!p).map((p) => `(${p})`).join(' and ');

/** The parts joined with `or`; none: no filter. */
export const or = (parts: string[]): string | undefined => (parts.length === 0 ? undefined : parts.map((p) => `(${p})`).join(' or '));

/**
 * The earliest DateTime Azure Table storage holds (its range begins at 1601-01-01 UTC; Azurite
 * accepts earlier literals, Azure need not). No stored time is earlier, so a comparison with an
 * earlier time means the same as one with this.
 */
export const EARLIEST_TABLE_TIME = Date.UTC(1601, 0, 1);

/**
 * The latest: past 9999-12-31 an ISO string turns into a six-digit year (+010000-…), which is no
 * DateTime literal. No stored time is later either.
 */
export const LATEST_TABLE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A DateTime literal for comparisons with a dateTime column, within the range storage holds. */
export function odataDate(ms: number): string {
  return `datetime'${new Date(Math.min(Math.max(ms, EARLIEST_TABLE_TIME), LATEST_TABLE_TIME)).toISOString()}'`;
}
