// ISO 8601 instants from clients (query parameters, waiver bodies), read strictly: every field is
// range-checked against the calendar, so 2026-02-30 is refused instead of being rolled over into
// March the way Date.parse does. A date alone is midnight UTC; a time without a zone is UTC too
// (Date.parse would use the host's zone, which differs between machines). And the one way the
// service writes an instant back: UTC with milliseconds.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/;

export interface IsoOptions {
  /** Refuse a date without a time. */
  readonly requireTime?: boolean;
  /** Refuse a time without a zone (Z or an offset). */
  readonly requireZone?: boolean;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Epoch ms of a well-formed, existing instant; undefined for anything else (never throws). */
export function parseIsoInstant(text: string, options: IsoOptions = {}): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (h === undefined) return options.requireTime || options.requireZone ? undefined : utc(year, month, day, 0, 0, 0, 0);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? 0);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (zone === undefined && options.requireZone) return undefined;
  let offsetMinutes = 0;
  if (sign !== undefined) {
    const oHours = Number(oh);
    const oMinutes = Number(om);
    if (oHours > 23 || oMinutes > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (oHours * 60 + oMinutes);
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  return utc(year, month, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0-99 to 1900-1999.
  const t = new Date(0);
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(hour, minute, second, ms);
  return t.getTime();
}

/** An instant (epoch ms) as the service answers and logs it: `2026-12-06T10:00:00.000Z`. */
export const isoInstant = (ms: number): string => new Date(ms).toISOString();
