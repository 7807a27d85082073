// Typed column helpers. Every column is written with an explicit EDM type so that each column has
// the same type on every entity (Power BI infers one type per column) and no number silently
// becomes Int64 (which the SDK returns as bigint).
import { LANGUAGES, type Lang } from '../rules/types';

export type EdmValue =
  | string
  | boolean
  | Uint8Array
  | { readonly value: string; readonly type: 'DateTime' | 'Int64' }
  | { readonly value: number; readonly type: 'Int32' | 'Double' };

export const dateTime = (ms: number): EdmValue => ({ value: new Date(ms).toISOString(), type: 'DateTime' });
export const int32 = (n: number): EdmValue => ({ value: Math.trunc(n), type: 'Int32' });
/** A whole number beyond Int32 (a time in ms), kept a plain number on reading (Int64 would come back as text). */
export const double = (n: number): EdmValue => ({ value: n, type: 'Double' });

/** Azure Tables strings are at most 64 KiB of UTF-16: 32,768 code units. Stay a little below. */
export const MAX_STRING_CHARS = 32_000;

/** Cuts text to `max` UTF-16 units without splitting a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end);
}

export const TRUNCATION_MARKER = '…[truncated]';

/** A text column that never exceeds the string limit; longer text ends with a visible marker. */
export function boundedText(text: string, max = MAX_STRING_CHARS): string {
  return text.length <= max ? text : cutText(text, max - TRUNCATION_MARKER.length) + TRUNCATION_MARKER;
}

type Row = Readonly<Record<string, unknown>>;

/** The column of one language's text: MessageEn, MessageJa, RemediationEnJson… */
export const languageColumn = (prefix: string, lang: Lang, suffix = ''): string => `${prefix}${lang.charAt(0).toUpperCase()}${lang.slice(1)}${suffix}`;

/** One bounded text column per language of LANGUAGES. */
export function textColumns(prefix: string, texts: Readonly<Record<Lang, string>>, suffix = ''): Record<string, EdmValue> {
  return Object.fromEntries(LANGUAGES.map((lang) => [languageColumn(prefix, lang, suffix), boundedText(texts[lang])]));
}

/** The texts of those columns, read back (missing columns read as empty). */
export function readTexts(row: Row, prefix: string, suffix = ''): Record<Lang, string> {
  return Object.fromEntries(LANGUAGES.map((lang) => [lang, str(row, languageColumn(prefix, lang, suffix))])) as Record<Lang, string>;
}

export function str(row: Row, name: string): string {
  const v = row[name];
  return typeof v === 'string' ? v : '';
}

export function optStr(row: Row, name: string): string | undefined {
  const v = row[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function bool(row: Row, name: string): boolean {
  return row[name] === true;
}

export function num(row: Row, name: string): number | undefined {
  const v = row[name];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'value' in v) return Number((v as { value: unknown }).value);
  return undefined;
}

/** DateTime columns come back as Date (or ISO strings with type conversion off). */
export function ms(row: Row, name: string): number | undefined {
  const v = row[name];
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  if (v && typeof v === 'object' && 'value' in v) return ms({ x: (v as { value: unknown }).value }, 'x');
  return undefined;
}

export function bytes(row: Row, name: string): Uint8Array | undefined {
  const v = row[name];
  return v instanceof Uint8Array ? v : undefined;
}

/** A gzip body is kept in binary columns of 60 KiB (Azure takes 64 KiB in one). */
export const GZIP_COLUMN_BYTES = 60 * 1024;
/**
 * At most twelve to a row (720 KiB). Azure counts a binary column's bytes against an entity's
 * 1 MiB and would take fifteen, but Azurite counts its base64 text (960 KiB for twelve) and refuses
 * a thirteenth, so the local host and the tests keep exactly the bodies Azure keeps.
 */
export const MAX_GZIP_COLUMNS = 12;

/** How many columns `gz` takes. */
export const gzipColumnCount = (gz: Uint8Array): number => Math.ceil(gz.length / GZIP_COLUMN_BYTES);

/** `gz` cut into its columns, named by `name(0)`, `name(1)`… */
export function gzipColumns(gz: Uint8Array, name: (i: number) => string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const n = gzipColumnCount(gz);
  for (let i = 0; i < n; i++) out[name(i)] = new Uint8Array(gz.subarray(i * GZIP_COLUMN_BYTES, (i + 1) * GZIP_COLUMN_BYTES));
  return out;
}

/** The `count` columns of a gzip body put back together; undefined when one is missing. */
export function readGzipColumns(row: Row, name: (i: number) => string, count: number): Buffer | undefined {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const b = bytes(row, name(i));
    if (!b) return undefined;
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** A JSON text column as the value it holds; undefined when absent, empty or not JSON (a damaged value is ignored, not fatal). */
export function jsonOf<T>(row: Row, name: string): T | undefined {
  const text = row[name];
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    // Not JSON (empty text is not either): as for no column.
  }
  return undefined;
}

/** How a record field is kept in the column named like it (first letter upper case). */
export type ColumnKind = 'text' | 'optText' | 'time' | 'optTime' | 'bool' | 'optInt';
export type ColumnKinds<T> = { readonly [K in keyof T]?: ColumnKind };

const columnOf = (field: string): string => field.charAt(0).toUpperCase() + field.slice(1);

/**
 * The columns of `kinds`' fields: texts as they are (an absent optional one empty), times as
 * DateTime, flags as booleans; an absent optional time or number leaves its column out.
 */
export function writeColumns<T extends object>(record: T, kinds: ColumnKinds<T>): Record<string, EdmValue> {
  const out: Record<string, EdmValue> = {};
  for (const [field, kind] of Object.entries(kinds) as [string, ColumnKind][]) {
    const v = (record as Record<string, unknown>)[field];
    const column = columnOf(field);
    if (kind === 'text' || kind === 'optText') out[column] = v === undefined ? '' : String(v);
    else if (kind === 'bool') out[column] = v === true;
    else if (v !== undefined) out[column] = kind === 'optInt' ? int32(v as number) : dateTime(v as number);
  }
  return out;
}

/** Those fields read back: an empty optional text, a missing optional time or number, is undefined; a missing time is 0. */
export function readColumns<T extends object, K extends keyof T>(row: Row, kinds: { readonly [F in K]: ColumnKind }): Pick<T, K> {
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(kinds) as [string, ColumnKind][]) {
    const column = columnOf(field);
    out[field] =
      kind === 'text' ? str(row, column) : kind === 'optText' ? optStr(row, column) : kind === 'bool' ? bool(row, column) : kind === 'optInt' ? num(row, column) : kind === 'time' ? (ms(row, column) ?? 0) : ms(row, column);
  }
  return out as Pick<T, K>;
}
