// The merge of a server's two History layouts, page by page, over layouts kept in memory that page
// as storage does (a few rows a page, sometimes none with a continuation). Every change is returned
// once, in key order, the bucket's row where both layouts hold it, at any page size; a page asks
// only the layouts that can hold its rows. Azurite runs the same walk in
// test/service/layout-migration.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePosition, encodePosition, walkPage, walkStart, type HistoryLayout, type HistoryPosition, type LayoutRead } from '../../src/store/history-walk';
import { InvalidContinuationTokenError } from '../../src/store';
import { propertyRuns } from '../support/property-runs';

/** A layout of `keys` whose queries return at most `pageRows` rows a page, and every `emptyEvery`-th page none (with a continuation). */
function memoryLayout(name: string, keys: readonly string[], pageRows: number, emptyEvery = 0) {
  const sorted = [...new Set(keys)].sort();
  const calls = { n: 0 };
  const layout: HistoryLayout = {
    async read(after, max, token): Promise<LayoutRead> {
      calls.n++;
      const rest = sorted.filter((k) => after === undefined || k > after);
      const from = token === undefined ? 0 : Number(token);
      if (emptyEvery > 0 && calls.n % emptyEvery === 0 && from < rest.length) return { rows: [], token: String(from) };
      const rows = rest.slice(from, from + Math.min(max, pageRows)).map((key) => ({ key, entity: { key, layout: name } }));
      const end = from + rows.length;
      return end < rest.length ? { rows, token: String(end) } : { rows };
    },
  };
  return { layout, calls };
}

/** Every page of the walk, through the text a token carries; the pages' rows. */
async function walkAll(layouts: readonly (HistoryLayout | undefined)[], top: number): Promise<{ pages: Record<string, unknown>[][] }> {
  const pages: Record<string, unknown>[][] = [];
  let at: HistoryPosition | undefined = walkStart(layouts.length);
  for (let i = 0; at && i < 1000; i++) {
    const page: { rows: Record<string, unknown>[]; next?: HistoryPosition } = await walkPage(layouts, at, top);
    pages.push(page.rows);
    at = page.next && decodePosition(encodePosition(page.next), layouts.length);
  }
  expect(at).toBeUndefined();
  return { pages };
}

describe('the History walk across two layouts', () => {
  it('for any keys in either or both layouts, any page size and any paging of storage: each change once, in key order, the bucket row kept', async () => {
    const key = fc.integer({ min: 0, max: 60 }).map((n) => String(n).padStart(3, '0'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(key, { maxLength: 25 }),
        fc.array(key, { maxLength: 25 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(0, 2, 3),
        async (bucketKeys, olderKeys, top, bucketPage, olderPage, emptyEvery) => {
          const bucket = memoryLayout('bucket', bucketKeys, bucketPage, emptyEvery);
          const older = memoryLayout('older', olderKeys, olderPage, emptyEvery);
          const { pages } = await walkAll([bucket.layout, older.layout], top);
          const expected = [...new Set([...bucketKeys, ...olderKeys])].sort().map((k) => ({ key: k, layout: bucketKeys.includes(k) ? 'bucket' : 'older' }));
          expect(pages.flat()).toEqual(expected);
          for (const p of pages) expect(p.length).toBeLessThanOrEqual(top);
        },
      ),
      { numRuns: propertyRuns(400) },
    );
  });

  it('walks the bucket alone at a request a page while the older rows are all older, then the older rows', async () => {
    const bucket = memoryLayout('bucket', ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10'], 1000);
    const older = memoryLayout('older', ['11', '12', '13', '14', '15'], 1000);
    const { pages } = await walkAll([bucket.layout, older.layout], 2);
    expect(pages.map((p) => p.map((r) => r.key).join(','))).toEqual(['01,02', '03,04', '05,06', '07,08', '09,10', '11,12', '13,14', '15']);
    // The first page asks both; the next four the bucket alone; then the older layout alone.
    expect([bucket.calls.n, older.calls.n]).toEqual([5, 4]);
  });

  it('asks no layout that is not given (recorded empty), whatever the position says of it', async () => {
    const bucket = memoryLayout('bucket', ['01', '03'], 1000);
    const older = memoryLayout('older', ['02', '04'], 1000);
    const first = await walkPage([bucket.layout, older.layout], walkStart(2), 1);
    expect(first.rows).toEqual([{ key: '01', layout: 'bucket' }]);
    const rest = await walkPage([bucket.layout, undefined], first.next!, 10);
    expect(rest).toEqual({ rows: [{ key: '03', layout: 'bucket' }] });
    expect(older.calls.n).toBe(1);
  });

  it('refuses a position that is not one', () => {
    for (const text of [undefined, '', 'x', '{}', '{"l":[null]}', '{"l":[null,{"n":1}]}', '{"a":3,"l":[null,null]}', '{"l":[null,{"n":"a","t":"b"}]}']) {
      expect(() => decodePosition(text, 2), String(text)).toThrow(InvalidContinuationTokenError);
    }
    expect(decodePosition('{"a":"k","l":["done",{"t":"x"}]}', 2)).toEqual({ a: 'k', l: ['done', { t: 'x' }] });
  });
});
