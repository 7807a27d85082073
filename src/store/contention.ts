// Writers of one row (a counts row, a Hosts row) that lost a race read again and retry, a bounded
// number of times, each after a short random pause so writers that collided spread out.

/** Attempts before a write gives up as contended. */
export const CONTENDED_ATTEMPTS = 10;

/**
 * A short random pause before attempt `attempt + 1`: 5 ms and up to `spreadMs` more per attempt
 * made, so writers that keep colliding spread out further. A server's commit and its keys use a
 * wider spread (20 ms) than the fleet-wide rows: their writers are one server's own requests.
 */
export const backOff = (attempt: number, spreadMs = 15) => new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * spreadMs * (attempt + 1)));
