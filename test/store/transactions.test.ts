// How rows written in bulk are cut into transactions storage accepts, without storage: one
// partition each, at most 100 rows and the request-size bound, the last of two rows with one key
// kept, an entity above 1 MiB refused before anything is written; the size estimates against
// their definitions; and the bounded runner that stops starting work after a failure. Azurite
// takes the same transactions in the service tests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entity } from '../../src/store/entities';
import { chunksWithin, MAX_ENTITY_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ROWS, requestBytes, settleBounded, storedBytes, transactionChunks } from '../../src/store/transactions';
import { propertyRuns } from '../support/property-runs';

const RUNS = { numRuns: propertyRuns(200), seed: 20261206 } as const;

const row = (partitionKey: string, rowKey: string, extra: Record<string, Entity[string]> = {}): Entity => ({ partitionKey, rowKey, ...extra });

describe('the bounds', () => {
  it('are storage\'s: 100 rows and 4 MiB less room for framing a transaction, 1 MiB an entity', () => {
    expect(MAX_TRANSACTION_ROWS).toBe(100);
    expect(MAX_TRANSACTION_BYTES).toBe(4 * 1024 * 1024 - 256 * 1024);
    expect(MAX_ENTITY_BYTES).toBe(1024 * 1024);
  });
});

describe('storedBytes', () => {
  it('counts names and strings as UTF-16, binary as it is, every other value as 8 bytes', () => {
    // 4 for the entity; per property 8 plus its name in UTF-16, then its value.
    const base = 4 + (8 + 'partitionKey'.length * 2) + (2 + 4) + (8 + 'rowKey'.length * 2) + (2 + 4);
    expect(storedBytes(row('p', 'r'))).toBe(base);
    expect(storedBytes(row('p', 'r', { S: 'ab' }))).toBe(base + 8 + 2 + (4 + 4));
    expect(storedBytes(row('p', 'r', { B: new Uint8Array(10) }))).toBe(base + 8 + 2 + (10 + 4));
    expect(storedBytes(row('p', 'r', { F: true }))).toBe(base + 8 + 2 + 8);
    expect(storedBytes(row('p', 'r', { N: { value: 5, type: 'Int32' } }))).toBe(base + 8 + 2 + 8);
  });
});

describe('requestBytes', () => {
  it('estimates the JSON of an upsert: framing, the keys twice, and per property its name, annotation and value', () => {
    // 512 per operation, the keys twice (URL and body), then per property its name, 48, and the value as JSON.
    const keys = (pk: string, rk: string) => 512 + 2 * Buffer.byteLength(pk + rk);
    const prop = (name: string, valueBytes: number) => name.length + 48 + valueBytes;
    const base = (pk: string, rk: string) => keys(pk, rk) + prop('partitionKey', Buffer.byteLength(JSON.stringify(pk))) + prop('rowKey', Buffer.byteLength(JSON.stringify(rk)));
    expect(requestBytes(row('p', 'r'))).toBe(base('p', 'r'));
    expect(requestBytes(row('pü', 'r'))).toBe(base('pü', 'r'));
    expect(requestBytes(row('p', 'r', { S: 'a"\n' }))).toBe(base('p', 'r') + prop('S', Buffer.byteLength(JSON.stringify('a"\n'))));
    expect(requestBytes(row('p', 'r', { B: new Uint8Array(4) }))).toBe(base('p', 'r') + prop('B', 8));
    expect(requestBytes(row('p', 'r', { B: new Uint8Array(3) }))).toBe(base('p', 'r') + prop('B', 4));
    expect(requestBytes(row('p', 'r', { F: false }))).toBe(base('p', 'r') + prop('F', 5));
    expect(requestBytes(row('p', 'r', { T: { value: '2026-12-06T00:00:00.000Z', type: 'DateTime' } }))).toBe(base('p', 'r') + prop('T', 24 + 2));
    expect(requestBytes(row('p', 'r', { N: { value: 12345, type: 'Int32' } }))).toBe(base('p', 'r') + prop('N', 5 + 2));
  });
});

describe('chunksWithin', () => {
  it('keeps the order and cuts at the item count or before the bytes would pass the bound', () => {
    const size = (n: number) => n;
    expect(chunksWithin([], size, 3, 10)).toEqual([]);
    expect(chunksWithin([1, 1, 1, 1, 1, 1, 1], size, 3, 100)).toEqual([[1, 1, 1], [1, 1, 1], [1]]);
    expect(chunksWithin([4, 6, 1, 9, 1], size, 10, 10)).toEqual([[4, 6], [1, 9], [1]]);
    // An item larger than the bound alone is a chunk of its own.
    expect(chunksWithin([3, 50, 2], size, 10, 10)).toEqual([[3], [50], [2]]);
    expect(chunksWithin([50], size, 10, 10)).toEqual([[50]]);
  });

  it('never leaves a chunk past either bound unless one item alone is, and loses and repeats nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 40 }), (items, maxItems, maxBytes) => {
        const chunks = chunksWithin(items, (n) => n, maxItems, maxBytes);
        expect(chunks.flat()).toEqual(items);
        for (const [i, c] of chunks.entries()) {
          expect(c.length).toBeGreaterThan(0);
          expect(c.length).toBeLessThanOrEqual(maxItems);
          const sum = c.reduce((a, b) => a + b, 0);
          if (c.length > 1) expect(sum).toBeLessThanOrEqual(maxBytes);
          // Each cut was needed: the next chunk's first item would not have fitted.
          const next = chunks[i + 1];
          if (next) expect(c.length === maxItems || sum + next[0]! > maxBytes).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('takes the transaction bound by default', () => {
    expect(chunksWithin([MAX_TRANSACTION_BYTES, 1], (n) => n, 10)).toEqual([[MAX_TRANSACTION_BYTES], [1]]);
    expect(chunksWithin([MAX_TRANSACTION_BYTES - 1, 1], (n) => n, 10)).toEqual([[MAX_TRANSACTION_BYTES - 1, 1]]);
  });
});

describe('transactionChunks', () => {
  it('puts each partition\'s rows in transactions of their own, at most 100 rows each', () => {
    const rows = [...Array.from({ length: 150 }, (_, i) => row('a', `r${i}`)), row('b', 'x'), row('a', 'last')];
    const chunks = transactionChunks(rows);
    expect(chunks.map((c) => [c[0]!.partitionKey, c.length])).toEqual([
      ['a', 100],
      ['a', 51],
      ['b', 1],
    ]);
    expect(chunks.every((c) => c.every((e) => e.partitionKey === c[0]!.partitionKey))).toBe(true);
  });

  it('keeps the last of two rows with one key, where consecutive upserts would have left it', () => {
    const chunks = transactionChunks([row('a', '1', { V: 'old' }), row('a', '2'), row('a', '1', { V: 'new' })]);
    expect(chunks).toEqual([[row('a', '2'), row('a', '1', { V: 'new' })]]);
  });

  it('cuts a partition\'s rows by the request size', () => {
    const big = 'x'.repeat(400_000);
    const chunks = transactionChunks(Array.from({ length: 12 }, (_, i) => row('a', `r${i}`, { S: big })));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.reduce((n, e) => n + requestBytes(e), 0)).toBeLessThanOrEqual(MAX_TRANSACTION_BYTES);
    expect(chunks.flat()).toHaveLength(12);
  });

  it('refuses an entity above 1 MiB before anything, naming it and its size', () => {
    const huge = row('a', 'big', { B: new Uint8Array(MAX_ENTITY_BYTES) });
    expect(() => transactionChunks([row('a', 'ok'), huge])).toThrow(`The row a/big is ${storedBytes(huge)} bytes, above the 1 MiB entity limit.`);
    const fits = row('a', 'r', { B: new Uint8Array(MAX_ENTITY_BYTES - storedBytes(row('a', 'r', { B: new Uint8Array(0) }))) });
    expect(storedBytes(fits)).toBe(MAX_ENTITY_BYTES);
    expect(transactionChunks([fits])).toEqual([[fits]]);
  });
});

describe('settleBounded', () => {
  it('runs every item with at most n in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await settleBounded([1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 8 - i));
      done.push(i);
      inFlight--;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('starts nothing after a failure, lets the calls in flight settle, then throws the first failure', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const run = settleBounded([1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 1 ? 1 : 20));
      settled.push(i);
      throw new Error(i === 1 ? 'one failed' : 'a later failure');
    });
    await expect(run).rejects.toThrow('one failed');
    expect(started).toEqual([1, 2]);
    expect(settled.sort()).toEqual([1, 2]);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await settleBounded([], 4, async () => void calls++);
    expect(calls).toBe(0);
  });
});
