// What a process believes of the layout migration's record, without storage: a layout recorded
// empty is believed so for good; one not yet is asked again only after the recheck interval; one
// read is in flight at a time; a record that cannot be read counts as not there.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dateTime } from '../../src/store/columns';
import { OLDER_LAYOUTS_STATE_KEYS } from '../../src/store/entities';
import { OLDER_LAYOUTS_RECHECK_MS, RecordedEmpty } from '../../src/store/recorded-empty';
import type { SiblingTable } from '../../src/store/sibling-table';
import { asRead } from '../support/sdk-rows';

/** A Lifecycle table holding `row` as the migration record (or none), counting its reads. */
function lifecycle(row: () => Record<string, unknown> | undefined | Error) {
  const reads: string[] = [];
  const table = {
    ready: async () => undefined,
    get: async (pk: string, rk: string) => {
      reads.push(`${pk}/${rk}`);
      await Promise.resolve();
      const r = row();
      if (r instanceof Error) throw r;
      return r;
    },
  };
  return { table: table as unknown as SiblingTable, reads };
}

const T = Date.parse('2026-12-06T10:00:00.000Z');

// Only the clock is faked: the interval is read from Date.now().
beforeEach(() => {
  vi.useFakeTimers({ now: T, toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RecordedEmpty', () => {
  it('reads the migration record\'s column and believes a layout recorded empty for good', async () => {
    const { table, reads } = lifecycle(() => asRead({ EmptyAt: dateTime(T - 1) }));
    const empty = new RecordedEmpty(table, 'EmptyAt');
    expect(await empty.gone()).toBe(true);
    vi.setSystemTime(T + 10 * OLDER_LAYOUTS_RECHECK_MS);
    expect(await empty.gone()).toBe(true);
    expect(reads).toEqual([`${OLDER_LAYOUTS_STATE_KEYS.partitionKey}/${OLDER_LAYOUTS_STATE_KEYS.rowKey}`]);
  });

  it('reads its own column only: the drift layout is not the history layout', async () => {
    const { table } = lifecycle(() => asRead({ EmptyAt: dateTime(T) }));
    expect(await new RecordedEmpty(table, 'DriftEmptyAt').gone()).toBe(false);
    const { table: other } = lifecycle(() => asRead({ DriftEmptyAt: dateTime(T) }));
    expect(await new RecordedEmpty(other, 'DriftEmptyAt').gone()).toBe(true);
  });

  it('asks again after the recheck interval, not before, while the layout is not recorded empty', async () => {
    let row: Record<string, unknown> | undefined = undefined;
    const { table, reads } = lifecycle(() => row);
    const empty = new RecordedEmpty(table, 'EmptyAt');
    expect(await empty.gone()).toBe(false);
    row = asRead({ EmptyAt: dateTime(T) });
    vi.setSystemTime(T + OLDER_LAYOUTS_RECHECK_MS - 1);
    expect(await empty.gone()).toBe(false);
    expect(reads).toHaveLength(1);
    vi.setSystemTime(T + OLDER_LAYOUTS_RECHECK_MS);
    expect(await empty.gone()).toBe(true);
    expect(reads).toHaveLength(2);
    expect(OLDER_LAYOUTS_RECHECK_MS).toBe(15 * 60_000);
  });

  it('counts a record without the column, or one that cannot be read, as not there', async () => {
    let answer: Record<string, unknown> | Error = asRead({ Cursor: 'x' });
    const { table, reads } = lifecycle(() => answer);
    const empty = new RecordedEmpty(table, 'EmptyAt');
    expect(await empty.gone()).toBe(false);
    answer = new Error('storage unavailable');
    vi.setSystemTime(T + OLDER_LAYOUTS_RECHECK_MS);
    expect(await empty.gone()).toBe(false);
    expect(reads).toHaveLength(2);
  });

  it('has one read in flight: callers meanwhile share its answer', async () => {
    const { table, reads } = lifecycle(() => asRead({ EmptyAt: dateTime(T) }));
    const empty = new RecordedEmpty(table, 'EmptyAt');
    expect(await Promise.all([empty.gone(), empty.gone(), empty.gone()])).toEqual([true, true, true]);
    expect(reads).toHaveLength(1);
    const { table: notYet, reads: notYetReads } = lifecycle(() => undefined);
    const waiting = new RecordedEmpty(notYet, 'EmptyAt');
    expect(await Promise.all([waiting.gone(), waiting.gone()])).toEqual([false, false]);
    expect(notYetReads).toHaveLength(1);
  });
});
