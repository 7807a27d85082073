// Writers of one row (a counts row, a Hosts row) that lost a race read again and retry, a bounded
// number of times, each after a short random pause so writers that collided spread out.

/** Attempts before a write gives up as contended. */
export const CONTENDED_ATTEMPTS = 10;

/**
 * A short random pause before attempt `attempt + 1`: 5 ms and up to `spreadMs` more per attempt
 * made, so writers that keep colliding spread out further. A server's commit, its keys and its
 * re-enrolment pass 20 ms, the spread they used before they shared this pause.
 */
export const backOff = (attempt: number, spreadMs = 15) => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * spreadMs * (attempt + 1)));
