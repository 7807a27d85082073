// OData filter text built from parts, for the queries of every table.

/** The parts joined with `and` (absent parts left out). */
export const and = (...parts: (string | undefined)[]): string => parts.filter((p): p is string => !!p).map((p) => `(${p})`).join(' and ');

/** The parts joined with `or`; none: no filter. */
export const or = (parts: string[]): string | undefined => (parts.length === 0 ? undefined : parts.map((p) => `(${p})`).join(' or '));

/** A DateTime literal for comparisons with a dateTime column. */
export function odataDate(ms: number): string {
  return `datetime'${new Date(ms).toISOString()}'`;
}
