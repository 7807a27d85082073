// The projector's lease generation as a fence on the rows it keeps counts in, without storage: a
// write is stamped with the writer's generation, a writer older than the row's last one is
// refused before it sends anything, and a writer that changed nothing still stamps the row once.
import { describe, expect, it } from 'vitest';
import { double, int32 } from '../../src/store/columns';
import { FencedOutError } from '../../src/store/errors';
import { fenced, FENCE_COLUMN, stampOwed } from '../../src/store/projector-fence';

const entity = { partitionKey: 'p', rowKey: 'r', Count: int32(3) };
/** A row as read back: the generation comes as a plain number. */
const read = (generation?: number) => (generation === undefined ? { partitionKey: 'p', rowKey: 'r' } : { partitionKey: 'p', rowKey: 'r', [FENCE_COLUMN]: generation });

function refusal(run: () => unknown): FencedOutError | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof FencedOutError) return error;
    throw error;
  }
  return undefined;
}

describe('the fence column', () => {
  it('is the column rows written by earlier versions already carry', () => {
    expect(FENCE_COLUMN).toBe('ProjectorFence');
  });
});

describe('fenced', () => {
  it('stamps the write with the writer generation when the row holds an older one, the same, none, or there is no row', () => {
    for (const before of [read(4), read(5), read(), undefined]) {
      expect(fenced(entity, before, 5, 'RuleIndex')).toStrictEqual({ ...entity, [FENCE_COLUMN]: double(5) });
    }
  });

  it('refuses a writer older than the row last writer, naming the table and both generations', () => {
    const e = refusal(() => fenced(entity, read(6), 5, 'RuleIndex'));
    expect(e?.message).toBe('A projector holding a later lease (6, this one 5) has written RuleIndex: this one stops.');
    expect(e?.fence).toBe(6);
  });

  it('without a fence, keeps the generation the row holds, and adds none to a row that has none', () => {
    expect(fenced(entity, read(6), undefined, 'Drift')).toStrictEqual({ ...entity, [FENCE_COLUMN]: double(6) });
    expect(fenced(entity, read(), undefined, 'Drift')).toBe(entity);
    expect(fenced(entity, undefined, undefined, 'Drift')).toBe(entity);
    // A generation read back typed (as written) counts the same.
    expect(fenced(entity, { [FENCE_COLUMN]: double(7) }, undefined, 'Drift')).toStrictEqual({ ...entity, [FENCE_COLUMN]: double(7) });
  });
});

describe('stampOwed', () => {
  it('owes a stamp only to a fenced writer newer than the row last writer', () => {
    expect(stampOwed(read(4), 5, 'Drift')).toBe(true);
    expect(stampOwed(read(), 5, 'Drift')).toBe(true);
    expect(stampOwed(undefined, 5, 'Drift')).toBe(true);
    expect(stampOwed(read(5), 5, 'Drift')).toBe(false);
    expect(stampOwed(read(9), undefined, 'Drift')).toBe(false);
  });

  it('refuses an older writer as fenced does', () => {
    expect(refusal(() => stampOwed(read(6), 5, 'Drift'))?.message).toBe('A projector holding a later lease (6, this one 5) has written Drift: this one stops.');
  });
});
