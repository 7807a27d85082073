// Table key encoding. Azure Table keys may not contain / \ # ? or control characters; server ids
// from the contract are already safe (DNS labels), but the store must never depend on that.
// '%' escapes itself and '|' is escaped because we use it as a separator inside keys.

// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const UNSAFE = /[%/\\#?|\u0000-\u001f\u007f-\u009f']/g;
const EMPTY = '%00e';

/** Encodes any string into a valid, order-preserving-enough table key component. */
export function encodeKey(value: string): string {
  if (value.length === 0) return EMPTY;
  const key = escapeUnsafe(value);
  // NUL then "e" would read back as the empty text; escaping its "e" too keeps every key one text's.
  return key === EMPTY ? '%00%65' : key;
}

function escapeUnsafe(value: string): string {
  return value.replace(UNSAFE, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** The keys that begin with `prefix` (encoded): from it, up to the first key after all of them. */
export function prefixRange(prefix: string): { readonly from: string; readonly to: string } {
  // Escaped as the start of a longer text is: the keys of the empty text and of NUL then "e" are
  // whole keys, never the beginning of another.
  const from = escapeUnsafe(prefix);
  if (from.length === 0) return { from, to: '\uffff' };
  return { from, to: from.slice(0, -1) + String.fromCharCode(from.charCodeAt(from.length - 1) + 1) };
}

export function decodeKey(key: string): string {
  if (key === EMPTY) return '';
  return key.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Epoch ms → fixed-width digits that sort newest first (ascending RowKey = descending time). */
export function invertedTime(ms: number): string {
  const MAX = 9_999_999_999_999; // year 2286
  return String(MAX - Math.max(0, Math.min(MAX, Math.trunc(ms)))).padStart(13, '0');
}

/** Small stable hash for spreading servers over a few partitions. */
export function bucketOf(value: string, buckets: number): string {
  let h = 2166136261;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  const n = (h >>> 0) % buckets;
  return 'b' + n.toString(16).padStart(2, '0');
}
