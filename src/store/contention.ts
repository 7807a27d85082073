// Writers of one row (a counts row, a Hosts row) that lost a race read again and retry, a bounded
// number of times, each after a short random pause so writers that collided spread out.

/** Attempts before a write gives up as contended. */
export const CONTENDED_ATTEMPTS = 10;

/** A short random pause before attempt `attempt + 1`. */
export const backOff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15 * (attempt + 1)));
