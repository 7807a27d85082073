// An entity as @azure/data-tables reads it back: typed DateTime values become dates and Int32 or
// Double numbers plain numbers; strings, booleans and bytes stay as written. Lets the store's
// record ↔ entity mapping be checked in-process, without a table between.
export type ReadRow = Record<string, unknown>;

export function asRead(entity: Readonly<Record<string, unknown>>, etag = 'W/"1"'): ReadRow {
  const out: ReadRow = { etag };
  for (const [k, v] of Object.entries(entity)) {
    const typed = v as { value?: unknown; type?: unknown } | null;
    if (typeof typed !== 'object' || typed === null || v instanceof Uint8Array) out[k] = v;
    else if (typed.type === 'DateTime') out[k] = new Date(String(typed.value));
    else if (typed.type === 'Int32' || typed.type === 'Double') out[k] = Number(typed.value);
    else out[k] = v;
  }
  return out;
}
