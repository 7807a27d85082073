// The row a one-rule server's last commit (or read) left, as this process knows it. Ingest decides
// a post on it instead of reading the row again, and the commit's ETag condition proves it was
// still the stored row: a refused commit means another writer (another instance, a revocation)
// changed it, so the row is forgotten and read. When several instances serve a fleet's posts in
// turn, an instance's rows are often outdated and each such post pays a refused write before its
// read; so the cache stops serving for a while once refusals make up a good share of its uses.
import type { StoredResult } from './records';

export interface ServerRowCacheOptions {
  /** Characters of text the remembered rows may hold in all (their evidence, texts and facts); 0 remembers nothing. */
  readonly maxChars?: number;
  readonly clock?: () => number;
}

/** About 16 MB of text: every server of a 10,000-server fleet with a typical row (~1,500 characters). */
export const ROW_CACHE_MAX_CHARS = 8_000_000;
/** How many commits decided on remembered rows the pause decision looks back over. */
export const ROW_CACHE_WINDOW = 32;
/** Refused commits in that window that pause serving: a quarter. */
export const ROW_CACHE_PAUSE_AT = 8;
export const ROW_CACHE_PAUSE_MS = 10 * 60 * 1000;

/** What a row weighs here: its texts, plus a fixed share for the keys, numbers and object. */
function charsOf(r: StoredResult): number {
  let n = 500 + r.evidenceJson.length + (r.fingerprintFactsJson?.length ?? 0);
  for (const text of Object.values(r.message)) n += text.length;
  for (const list of Object.values(r.remediation)) for (const text of list) n += text.length;
  return n;
}

export class ServerRowCache {
  readonly #maxChars: number;
  readonly #clock: () => number;
  /** By server, least recently remembered first (a Map keeps insertion order). */
  readonly #rows = new Map<string, { readonly row: StoredResult; readonly chars: number }>();
  #chars = 0;
  /** Rows handed out and not yet committed on: a commit on one of them reports its outcome. */
  readonly #served = new WeakSet<StoredResult>();
  /** Outcomes of the latest commits decided on served rows: true when refused. */
  #outcomes: boolean[] = [];
  #pausedUntil = 0;

  constructor(options: ServerRowCacheOptions = {}) {
    this.#maxChars = options.maxChars ?? ROW_CACHE_MAX_CHARS;
    this.#clock = options.clock ?? Date.now;
  }

  /** The server's remembered row, unless serving is paused. */
  serve(server: string): StoredResult | undefined {
    if (this.#clock() < this.#pausedUntil) return undefined;
    const row = this.#rows.get(server)?.row;
    if (row) this.#served.add(row);
    return row;
  }

  /** Whether `row` is one `serve` handed out. */
  served(row: StoredResult): boolean {
    return this.#served.has(row);
  }

  remember(row: StoredResult): void {
    this.forget(row.server);
    const chars = charsOf(row);
    if (chars > this.#maxChars / 100) return; // a row that would crowd out a hundred others is read instead
    this.#rows.set(row.server, { row, chars });
    this.#chars += chars;
    for (const [server, entry] of this.#rows) {
      if (this.#chars <= this.#maxChars) break;
      this.#rows.delete(server);
      this.#chars -= entry.chars;
    }
  }

  forget(server: string): void {
    const entry = this.#rows.get(server);
    if (!entry) return;
    this.#rows.delete(server);
    this.#chars -= entry.chars;
  }

  /** A commit decided on a served row landed (false) or was refused (true). */
  committed(refused: boolean): void {
    this.#outcomes.push(refused);
    if (this.#outcomes.length > ROW_CACHE_WINDOW) this.#outcomes.shift();
    if (this.#outcomes.filter(Boolean).length >= ROW_CACHE_PAUSE_AT) {
      this.#pausedUntil = this.#clock() + ROW_CACHE_PAUSE_MS;
      this.#outcomes = [];
    }
  }

  get size(): number {
    return this.#rows.size;
  }

  get chars(): number {
    return this.#chars;
  }
}
