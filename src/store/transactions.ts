// Rows written in bulk, split into entity-group transactions that storage accepts: one partition
// each, at most 100 operations, and a request body of at most 4 MiB. Each transaction costs one
// round trip whatever it carries (about 2.5 ms of Azurite's single thread), so a batch of many
// servers' rows costs about one call per partition instead of one per server.
import type { EdmValue } from './columns';
import type { Entity } from './entities';

export const MAX_TRANSACTION_ROWS = 100;
/** Storage refuses a transaction whose request exceeds 4 MiB; the estimate leaves room for the framing. */
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024 - 256 * 1024;
/** Storage refuses an entity above 1 MiB (its properties, strings counted as UTF-16). */
export const MAX_ENTITY_BYTES = 1024 * 1024;

/** Per operation: its multipart headers and request line (keys and table name aside). */
const OPERATION_OVERHEAD = 512;
/** Per property: its quotes, colon, comma and an `@odata.type` annotation. */
const PROPERTY_OVERHEAD = 48;

/** Bytes `value` takes in a JSON request body (binary travels as base64). */
function valueBytes(value: EdmValue): number {
  if (value instanceof Uint8Array) return Math.ceil(value.length / 3) * 4;
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(value));
  if (typeof value === 'boolean') return 5;
  return Buffer.byteLength(String(value.value)) + 2;
}

/** An upper estimate of what one upsert of `entity` adds to a transaction's request body. */
export function requestBytes(entity: Entity): number {
  let n = OPERATION_OVERHEAD + 2 * Buffer.byteLength(entity.partitionKey + entity.rowKey);
  for (const [name, value] of Object.entries(entity)) n += name.length + PROPERTY_OVERHEAD + valueBytes(value as EdmValue);
  return n;
}

/** The entity's size as storage counts it against the 1 MiB limit. */
export function storedBytes(entity: Entity): number {
  let n = 4;
  for (const [name, value] of Object.entries(entity)) {
    n += 8 + name.length * 2;
    if (value instanceof Uint8Array) n += value.length + 4;
    else if (typeof value === 'string') n += value.length * 2 + 4;
    else n += 8;
  }
  return n;
}

/**
 * Groups `entities` by partition and splits each partition's rows into transactions of at most 100
 * rows and MAX_TRANSACTION_BYTES. Two rows with one key cannot share a transaction: the last one
 * wins, as consecutive upserts would leave it. Throws for an entity storage would refuse, before
 * anything is written.
 */
export function transactionChunks(entities: readonly Entity[]): Entity[][] {
  const byPartition = new Map<string, Map<string, Entity>>();
  for (const e of entities) {
    const size = storedBytes(e);
    if (size > MAX_ENTITY_BYTES) throw new Error(`The row ${e.partitionKey}/${e.rowKey} is ${size} bytes, above the 1 MiB entity limit.`);
    const rows = byPartition.get(e.partitionKey) ?? new Map<string, Entity>();
    rows.delete(e.rowKey);
    rows.set(e.rowKey, e);
    byPartition.set(e.partitionKey, rows);
  }
  return [...byPartition.values()].flatMap((rows) => chunksWithin(rows.values(), requestBytes, MAX_TRANSACTION_ROWS));
}

/**
 * `items` in order, in chunks of at most `maxItems` whose `bytesOf` add up to at most `maxBytes`
 * (an item larger than that alone is a chunk of its own).
 */
export function chunksWithin<T>(items: Iterable<T>, bytesOf: (item: T) => number, maxItems: number, maxBytes = MAX_TRANSACTION_BYTES): T[][] {
  const out: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (chunk.length > 0 && (chunk.length >= maxItems || bytes + size > maxBytes)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

/**
 * Runs `fn` over `items` with at most `n` in flight. After a failure no further item starts (the
 * caller's whole write is replayed anyway); the calls in flight settle before it is thrown.
 */
export async function settleBounded<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length && failures.length === 0) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}
