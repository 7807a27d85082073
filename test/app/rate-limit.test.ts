// The per-server token bucket, on a clock the test moves: how many tokens a key has after a wait,
// what Retry-After says, `check` (which takes none), and which buckets are forgotten first.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/app/rate-limit';

function limiter(burst: number, perMinute: number, maxKeys?: number) {
  const clock = { now: 0 };
  const rl = new RateLimiter({ burst, perMinute, clock: () => clock.now, ...(maxKeys === undefined ? {} : { maxKeys }) });
  return { rl, clock };
}

describe('RateLimiter.take', () => {
  it('says how long until the missing part of a token has refilled', () => {
    const { rl, clock } = limiter(3, 6); // a token every 10 s
    for (let i = 0; i < 3; i++) expect(rl.take('a').ok).toBe(true);
    clock.now = 4_000; // 0.4 of a token back
    expect(rl.take('a')).toEqual({ ok: false, retryAfterSeconds: 6 });
    clock.now = 9_999;
    expect(rl.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock.now = 10_000;
    expect(rl.take('a')).toEqual({ ok: true });
  });

  it('refills no further than the burst, and a clock that steps back refills nothing', () => {
    const { rl, clock } = limiter(2, 60);
    rl.take('a');
    rl.take('a');
    clock.now = 3_600_000;
    expect([rl.take('a').ok, rl.take('a').ok, rl.take('a').ok]).toEqual([true, true, false]);
    clock.now = 0;
    expect(rl.take('a').ok).toBe(false);
  });
});

describe('RateLimiter.check', () => {
  it('answers ok for a key it has no bucket for, and takes no token', () => {
    const { rl } = limiter(1, 1);
    expect(rl.check('a')).toEqual({ ok: true });
    expect(rl.check('a')).toEqual({ ok: true });
    expect(rl.take('a')).toEqual({ ok: true });
    expect(rl.check('a')).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it('counts the refill since the last take, to the whole token, as take would', () => {
    const { rl, clock } = limiter(3, 6);
    for (let i = 0; i < 3; i++) rl.take('a');
    clock.now = 4_000;
    expect(rl.check('a')).toEqual({ ok: false, retryAfterSeconds: 6 });
    clock.now = 1_000;
    expect(rl.check('a')).toEqual({ ok: false, retryAfterSeconds: 9 });
    clock.now = 10_000;
    expect(rl.check('a')).toEqual({ ok: true });
    expect(rl.check('a')).toEqual({ ok: true });
    expect(rl.take('a')).toEqual({ ok: true });
    expect(rl.check('a').ok).toBe(false);
  });

  it('is ok with exactly one token back', () => {
    const { rl, clock } = limiter(1, 60); // a token a second
    rl.take('a');
    clock.now = 1_000;
    expect(rl.check('a')).toEqual({ ok: true });
  });

  it('never refills more than the burst', () => {
    const { rl, clock } = limiter(1, 60);
    rl.take('a');
    clock.now = 3_600_000;
    expect(rl.check('a').ok).toBe(true);
    rl.take('a');
    expect(rl.check('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
  });
});

describe('RateLimiter memory', () => {
  it('forgets the least recently used buckets past maxKeys, and only as many as it must', () => {
    const { rl } = limiter(1, 1, 2);
    rl.take('a');
    rl.take('b');
    rl.take('a'); // a is now the most recently used
    rl.take('c'); // b goes
    expect(rl.check('a').ok).toBe(false);
    expect(rl.check('c').ok).toBe(false);
    expect(rl.check('b').ok).toBe(true);
  });
});
