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
    const refusedTexts = [undefined, '', 'x', 'null', '5', 'true', '"s"', '[]', '{}', '{"l":[null]}', '{"l":[null,{"n":1}]}', '{"a":3,"l":[null,null]}', '{"a":null,"l":[null,null]}', '{"l":"ab"}'];
    const refusedStates = ['{"n":"a","t":"b"}', '{"t":5}', '{}', '{"x":"a"}', '["a"]', '[]', '0', 'false', '"other"', '""'];
    for (const text of [...refusedTexts, ...refusedStates.map((state) => `{"l":[null,${state}]}`)]) {
      expect(() => decodePosition(text, 2), String(text)).toThrow(InvalidContinuationTokenError);
    }
    expect(decodePosition('{"a":"k","l":["done",{"t":"x"}]}', 2)).toStrictEqual({ a: 'k', l: ['done', { t: 'x' }] });
    expect(decodePosition('{"l":[null,{"n":"b"}]}', 2)).toStrictEqual({ l: [null, { n: 'b' }] });
  });

  it('starts knowing nothing of any layout', () => {
    expect(walkStart(3)).toStrictEqual({ l: [null, null, null] });
  });
});

/**
 * A layout of `keys` (`pageRows` rows a page) that writes each query into `log` as
 * `name(after,max,token)`, and answers its queries numbered in `empties` with an empty page and a
 * continuation, as storage may.
 */
function tracedLayout(name: string, keys: readonly string[], pageRows: number, log: string[], empties: readonly number[] = []): HistoryLayout {
  let calls = 0;
  return {
    async read(after, max, token) {
      calls++;
      log.push(`${name}(${after ?? '-'},${max},${token ?? '-'})`);
      const rest = [...keys].sort().filter((k) => after === undefined || k > after);
      const from = token === undefined ? 0 : Number(token);
      if (empties.includes(calls) && from < rest.length) return { rows: [], token: String(from) };
      const rows = rest.slice(from, from + Math.min(max, pageRows)).map((key) => ({ key, entity: { key, layout: name } }));
      return from + rows.length < rest.length ? { rows, token: String(from + rows.length) } : { rows };
    },
  };
}

/** The walk's pages (keys and layouts, then the position after) and its queries, a page's ended by "|". */
async function trace(layouts: readonly HistoryLayout[], top: number, log: string[]): Promise<{ pages: string[]; queries: string }> {
  const pages: string[] = [];
  let at: HistoryPosition | undefined = walkStart(layouts.length);
  while (at) {
    const page: { rows: Record<string, unknown>[]; next?: HistoryPosition } = await walkPage(layouts, at, top);
    pages.push(`${page.rows.map((r) => `${String(r.key)}${String(r.layout)}`).join(',')} ${page.next ? encodePosition(page.next) : 'end'}`);
    log.push('|');
    at = page.next && decodePosition(encodePosition(page.next), layouts.length);
  }
  return { pages, queries: log.join(' ') };
}

// Each walk below was followed by hand: every query it makes is one the page needs, since without
// its rows the page could not be filled or a row of it could not be known to be next.
describe('the History walk, query by query', () => {
  it('asks each layout for the rows after the last page when both interleave', async () => {
    const log: string[] = [];
    expect(await trace([tracedLayout('B', ['01', '03', '05', '07'], 100, log), tracedLayout('O', ['02', '04', '06', '08'], 100, log)], 2, log)).toEqual({
      pages: ['01B,02O {"a":"02","l":[{"n":"03"},{"n":"04"}]}', '03B,04O {"a":"04","l":[{"n":"05"},{"n":"06"}]}', '05B,06O {"a":"06","l":[{"n":"07"},{"n":"08"}]}', '07B,08O end'],
      queries: 'B(-,2,-) O(-,2,-) | B(02,2,-) O(02,2,-) | B(04,2,-) O(04,2,-) | B(06,2,-) O(06,2,-) |',
    });
  });

  it('stops a page where a layout whose storage page ended early is known, and keeps the first layout\'s row of a change in both', async () => {
    const log: string[] = [];
    expect(await trace([tracedLayout('B', ['01', '02', '05'], 1, log), tracedLayout('O', ['02', '03', '05', '06'], 2, log)], 3, log)).toEqual({
      pages: ['01B {"a":"01","l":[null,{"n":"02"}]}', '02B {"a":"02","l":[null,{"n":"03"}]}', '03O,05B {"a":"05","l":["done",null]}', '06O end'],
      queries: 'B(-,3,-) O(-,3,-) | B(01,3,-) O(01,3,-) | B(02,3,-) O(02,3,-) | O(05,3,-) |',
    });
  });

  it('resumes a query that came back empty with its continuation, and only that one', async () => {
    const log: string[] = [];
    // A page of nothing has no last key to stand after.
    const first = await walkPage([tracedLayout('B', ['01'], 100, [], [1]), tracedLayout('O', [], 100, [])], walkStart(2), 2);
    expect(first).toStrictEqual({ rows: [], next: { l: [{ t: '0' }, 'done'] } });
    expect(await trace([tracedLayout('B', ['01', '02', '03'], 100, log, [1]), tracedLayout('O', ['04'], 100, log, [1, 2])], 2, log)).toEqual({
      pages: [' {"l":[{"t":"0"},{"t":"0"}]}', ' {"l":[{"n":"01"},{"t":"0"}]}', '01B,02B {"a":"02","l":[null,{"n":"04"}]}', '03B,04O end'],
      queries: 'B(-,2,-) O(-,2,-) | B(-,2,0) O(-,2,0) | O(-,2,0) B(-,2,-) | B(02,2,-) O(02,2,-) |',
    });
  });

  it('asks the layouts whose next row is known nearest first, and not one the others\' rows fill the page before', async () => {
    const log: string[] = [];
    const layouts = [tracedLayout('A', ['01', '02', '03', '04', '05', '06'], 100, log), tracedLayout('B', ['05', '09'], 100, log), tracedLayout('C', ['03', '07'], 100, log)];
    expect(await trace(layouts, 2, log)).toEqual({
      pages: ['01A,02A {"a":"02","l":[null,{"n":"05"},{"n":"03"}]}', '03A,04A {"a":"04","l":[null,{"n":"05"},{"n":"07"}]}', '05A,06A {"a":"06","l":["done",{"n":"09"},{"n":"07"}]}', '07C,09B end'],
      queries: 'A(-,2,-) B(-,2,-) C(-,2,-) | A(02,2,-) C(02,2,-) | A(04,2,-) B(04,2,-) | C(06,2,-) B(06,2,-) |',
    });
  });
});
