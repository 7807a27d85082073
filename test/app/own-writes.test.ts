// How a write an admin makes (a waiver, a drift baseline) is recognised on its row after its
// answer was lost, without storage: each request gets its own name, the row keeps it ahead of
// the names of the writes before it, at most eight, and a read-back finds it only among them.
// The service tests lose real answers to such writes.
import { describe, expect, it } from 'vitest';
import { marked, newMark } from '../../src/app/own-writes';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newMark', () => {
  it('names each request anew and stores the name alone on a row that had none', () => {
    const a = newMark(undefined);
    const b = newMark([]);
    expect(a.run).toMatch(UUID);
    expect(b.run).toMatch(UUID);
    expect(a.run).not.toBe(b.run);
    expect(a.marks).toStrictEqual([a.run]);
    expect(b.marks).toStrictEqual([b.run]);
  });

  it('puts the name before those of earlier writes and keeps the newest eight', () => {
    const earlier = ['7', '6', '5', '4', '3', '2', '1', '0'];
    const m = newMark(earlier.slice(0, 3));
    expect(m.marks).toStrictEqual([m.run, '7', '6', '5']);
    const full = newMark(earlier);
    expect(full.marks).toStrictEqual([full.run, ...earlier.slice(0, 7)]);
  });
});

describe('marked', () => {
  it('finds a request only among the marks the row was read with', () => {
    expect(marked(['a', 'b'], 'b')).toBe(true);
    expect(marked(['a', 'b'], 'c')).toBe(false);
    expect(marked([], 'a')).toBe(false);
    expect(marked(undefined, 'a')).toBe(false);
  });
});
