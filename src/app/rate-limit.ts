// A per-server token bucket, in memory, per instance. It exists to stop one collector stuck in a
// loop (or a stolen key used in bulk) from eating storage throughput and alert budget; it is not a
// billing quota. In-memory is deliberate: a storage-backed counter would add a write (and an ETag
// race) to every post, doubling the steady-state cost. On a scaled-out app each instance keeps its
// own buckets, so the fleet-wide ceiling is the limit times the instance count (bounded by the
// Flex maximumInstanceCount); see SECURITY.md.

export interface RateLimitOptions {
  /** Requests a key may make at once (bucket capacity). */
  readonly burst: number;
  /** Tokens added per minute. */
  readonly perMinute: number;
  /** Epoch ms. */
  readonly clock?: () => number;
  /** Buckets kept before full (idle) ones are dropped. */
  readonly maxKeys?: number;
}

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #clock: () => number;
  readonly #maxKeys: number;

  constructor(options: RateLimitOptions) {
    this.#burst = options.burst;
    this.#perMs = options.perMinute / 60_000;
    this.#clock = options.clock ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 50_000;
  }

  /** Takes one token for `key`, or says how many seconds until one is available. */
  take(key: string): RateDecision {
    const now = this.#clock();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) * this.#perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.#remember(key, b);
      return { ok: true };
    }
    this.#remember(key, b);
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000)) };
  }

  /** Whether `key` has a token now, taking none: for a bucket spent only by what the request turns out to be. */
  check(key: string): RateDecision {
    const b = this.#buckets.get(key);
    if (!b) return { ok: true };
    const tokens = Math.min(this.#burst, b.tokens + Math.max(0, this.#clock() - b.at) * this.#perMs);
    return tokens >= 1 ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.#perMs / 1000)) };
  }

  #remember(key: string, b: Bucket): void {
    this.#buckets.delete(key);
    this.#buckets.set(key, b);
    // Map order is least recently used first: drop the oldest entries (a dropped bucket restarts
    // full, which only errs towards letting a request through).
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(k);
    }
  }
}
