// Canonical JSON: one text for equal content, whatever the key order, so hashes of it compare.
/**
 * JSON with object keys sorted, so equal content always hashes the same. Every post hashes its
 * whole snapshot with it, so it builds one string in place of intermediate arrays.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // As JSON.stringify would write it, bar `undefined`, which an array join leaves empty.
      out += canonicalJson(value[i]) ?? '';
    }
    return out + ']';
  }
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    let out = '';
    // Keys sort by code unit, like the `<` comparison; an undefined value leaves its key out.
    for (const k of Object.keys(o).sort()) {
      if (o[k] === undefined) continue;
      out += (out === '' ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(o[k]);
    }
    return '{' + out + '}';
  }
  return JSON.stringify(value);
}
