// The row a one-rule server's last commit (or read) left, as this process knows it. Ingest decides
// a post on it instead of reading the row again, and the commit's ETag condition proves it was
// still the stored row: a refused commit means another writer (another instance, a revocation)
// changed it, so the row is forgotten and read. When several instances serve a fleet's posts in
// turn, an instance's rows are often outdated and each such post pays a refused write before its
// read; so the cache stops serving for a while once refusals make up a good share of its uses.
import type { StoredResult } from './records';

export interface ServerRowCacheOptions {
  /** Bytes of memory the remembered rows may take in all, as estimated (rowBytes); 0 remembers nothing. */
  readonly maxBytes?: number;
  readonly clock?: () => number;
}

/** About 8,000 servers' rows at a typical size (about 4 KB each, measured on the bench's fleet). */
export const ROW_CACHE_MAX_BYTES = 32 * 1024 * 1024;
/** How many commits decided on remembered rows the pause decision looks back over. */
export const ROW_CACHE_WINDOW = 32;
/** Refused commits in that window that pause serving: a quarter. */
export const ROW_CACHE_PAUSE_AT = 8;
export const ROW_CACHE_PAUSE_MS = 10 * 60 * 1000;

/**
 * A row as remembered: without its evidence, remediation and fingerprint facts, which a commit
 * does not read (it writes the new verdict's) and which make up more than half of a row in memory.
 */
export function rememberedForm(row: StoredResult): StoredResult {
  const remediation = Object.fromEntries(Object.keys(row.remediation).map((lang) => [lang, []])) as unknown as StoredResult['remediation'];
  return { ...row, evidenceJson: '', evidenceTruncated: false, remediation, fingerprintFactsJson: undefined };
}

/** What a remembered row takes in memory, estimated: its texts plus the objects and arrays around them. */
export function rowBytes(r: StoredResult): number {
  let chars = r.server.length + r.snapshotId.length + r.contentHash.length + r.hostHash.length + (r.fingerprint?.length ?? 0) + (r.keyTag?.length ?? 0) + r.etag.length;
  for (const text of Object.values(r.message)) chars += text.length;
  for (const id of r.recentSnapshotIds ?? []) chars += id.length;
  for (const c of r.recentCommits ?? []) chars += c.id.length + 40;
  return 2_000 + chars;
}

export class ServerRowCache {
  readonly #maxBytes: number;
  readonly #clock: () => number;
  /** By server, least recently remembered first (a Map keeps insertion order). */
  readonly #rows = new Map<string, { readonly row: StoredResult; readonly bytes: number }>();
  #bytes = 0;
  /** Rows handed out and not yet committed on: a commit on one of them reports its outcome. */
  readonly #served = new WeakSet<StoredResult>();
  /** Outcomes of the latest commits decided on served rows: true when refused. */
  #outcomes: boolean[] = [];
  #pausedUntil = 0;

  constructor(options: ServerRowCacheOptions = {}) {
    this.#maxBytes = options.maxBytes ?? ROW_CACHE_MAX_BYTES;
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

  /** Remembers the row (in its remembered form), as the newest. */
  remember(stored: StoredResult): void {
    this.forget(stored.server);
    const row = rememberedForm(stored);
    const bytes = rowBytes(row);
    if (bytes > this.#maxBytes / 100) return; // a row that would crowd out a hundred others is read instead
    this.#rows.set(row.server, { row, bytes });
    this.#bytes += bytes;
    for (const [server, entry] of this.#rows) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#rows.delete(server);
      this.#bytes -= entry.bytes;
    }
  }

  forget(server: string): void {
    const entry = this.#rows.get(server);
    if (!entry) return;
    this.#rows.delete(server);
    this.#bytes -= entry.bytes;
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

  get bytes(): number {
    return this.#bytes;
  }
}
