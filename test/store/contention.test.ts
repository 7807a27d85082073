// The pause before a contended write is tried again: at least 5 ms, and up to 15 ms more (or the
// spread a caller names) for each attempt already made, so writers that collided spread out
// further the longer they collide.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backOff } from '../../src/store/contention';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** How long backOff(attempt) waits, to the millisecond, with Math.random answering `random`. */
async function pauseOf(attempt: number, random: number, spreadMs?: number): Promise<number> {
  vi.useFakeTimers();
  vi.spyOn(Math, 'random').mockReturnValue(random);
  let done = false;
  void backOff(attempt, spreadMs).then(() => (done = true));
  let waited = 0;
  while (!done && waited < 1_000) {
    await vi.advanceTimersByTimeAsync(1);
    waited++;
  }
  vi.useRealTimers();
  return waited;
}

describe('backOff', () => {
  it('waits 5 ms at the least, whatever the attempt', async () => {
    expect(await pauseOf(0, 0)).toBe(5);
    expect(await pauseOf(3, 0)).toBe(5);
  });

  it('adds up to 15 ms for the first attempt and 15 ms more for each one after', async () => {
    expect(await pauseOf(0, 1)).toBe(20);
    expect(await pauseOf(1, 1)).toBe(35);
    expect(await pauseOf(3, 0.5)).toBe(35);
  });

  it('spreads by the width a caller names instead, still from 5 ms', async () => {
    expect(await pauseOf(0, 1, 20)).toBe(25);
    expect(await pauseOf(2, 0.5, 20)).toBe(35);
    expect(await pauseOf(2, 0, 20)).toBe(5);
  });
});
