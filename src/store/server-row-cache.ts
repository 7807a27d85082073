// The row a one-rule server's last commit (or read) left, as this process knows it: its columns,
// kept as written and turned into a row only when a post asks for it. Ingest decides a post on it
// instead of reading the row again, and the commit's ETag condition proves it was still the stored
// row: a refused commit means another writer (another instance, a revocation) changed it, so the
// row is forgotten and read. When several instances serve a fleet's posts in turn, an instance's
// rows are often outdated and each such post pays a refused write before its read; so the cache
// stops serving for a while once refusals make up a good share of its uses (refusals after this
// process's own change to the row aside: those are two posts of one server in flight here).
// Full, it keeps the rows it has and lets a new server's row in only in place of rows left unused
// for a while: on an hourly round, dropping the oldest row instead would drop each row just before
// its server's next post, and a fleet larger than the memory would find none.
import { entityToResult } from './entities';
import type { StoredResult } from './records';

/** A Results row as written or read: its columns by name. */
type RowColumns = Readonly<Record<string, unknown>>;
interface Entry {
  readonly columns: RowColumns;
  readonly bytes: number;
  /** When it was remembered (the server's last commit or read here). */
  readonly at: number;
}

export interface ServerRowCacheOptions {
  /** Bytes of memory the remembered rows may take in all, as estimated (columnBytes); 0 remembers nothing. */
  readonly maxBytes?: number;
  /**
   * How long a row may go unremembered before, memory being full, a new server's row may take its
   * place. The app passes its stale-server threshold: a server silent that long does not post
   * through this instance now.
   */
  readonly idleMs?: number;
  readonly clock?: () => number;
}

/** About 11,000 servers' rows at a typical size (10,000 measured 19 MB of heap; the estimate runs high). */
export const ROW_CACHE_MAX_BYTES = 32 * 1024 * 1024;
/** How many commits decided on remembered rows the pause decision looks back over. */
export const ROW_CACHE_WINDOW = 32;
/** Refused commits in that window that pause serving: a quarter. */
export const ROW_CACHE_PAUSE_AT = 8;
export const ROW_CACHE_PAUSE_MS = 10 * 60 * 1000;
/** The default idle time: the default stale-server threshold (180 minutes). */
export const ROW_CACHE_IDLE_MS = 3 * 60 * 60 * 1000;

/**
 * Columns not remembered: a commit never reads the old evidence, remediation or fingerprint facts
 * (it writes the new verdict's), and they are most of a row's size.
 */
const NOT_REMEMBERED = /^(EvidenceJson|EvidenceTruncated|EvidenceChars|Remediation[A-Za-z]*Json|FingerprintFactsJson)$/;

/** What a remembered row's columns take in memory, estimated: the texts plus a share per column. */
export function columnBytes(columns: RowColumns): number {
  let bytes = 0;
  for (const v of Object.values(columns)) bytes += 24 + (typeof v === 'string' ? v.length : 24);
  return bytes;
}

export class ServerRowCache {
  readonly #maxBytes: number;
  readonly #idleMs: number;
  readonly #clock: () => number;
  /** Columns by server, least recently remembered first (a Map keeps insertion order). */
  readonly #rows = new Map<string, Entry>();
  #bytes = 0;
  /** Rows handed out, with the entry each came from: a commit on one of them reports its outcome. */
  readonly #served = new WeakMap<StoredResult, Entry>();
  /** Outcomes of the latest commits decided on served rows: true when refused. */
  #outcomes: boolean[] = [];
  #pausedUntil = 0;

  constructor(options: ServerRowCacheOptions = {}) {
    this.#maxBytes = options.maxBytes ?? ROW_CACHE_MAX_BYTES;
    this.#idleMs = options.idleMs ?? ROW_CACHE_IDLE_MS;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * The server's remembered row, unless serving is paused: as a read would return it, but with no
   * evidence (`{}`), remediation or fingerprint facts.
   */
  serve(server: string): StoredResult | undefined {
    if (this.#clock() < this.#pausedUntil) return undefined;
    const entry = this.#rows.get(server);
    if (!entry) return undefined;
    const row = entityToResult(entry.columns);
    this.#served.set(row, entry);
    return row;
  }

  /** Whether `row` is one `serve` handed out. */
  served(row: StoredResult): boolean {
    return this.#served.has(row);
  }

  /**
   * Whether memory still holds the entry `row` was served from: false once this process committed,
   * read or cleared the server since. A commit on `row` refused then says nothing of other writers
   * (two posts of one server in flight collide just the same when each reads first).
   */
  current(server: string, row: StoredResult): boolean {
    const entry = this.#served.get(row);
    return entry !== undefined && this.#rows.get(server) === entry;
  }

  /**
   * Remembers the server's row, from its columns as written (with the new ETag) or read, as the
   * newest. A server already remembered stays remembered (its old row's room is its new one's);
   * when memory is full, rows unremembered for the idle time make room, oldest first, and if that
   * is not enough the row is not kept.
   */
  remember(server: string, row: RowColumns): void {
    this.forget(server);
    const columns = Object.fromEntries(Object.entries(row).filter(([name]) => !NOT_REMEMBERED.test(name)));
    const bytes = columnBytes(columns);
    if (bytes > this.#maxBytes / 100) return; // a row that would crowd out a hundred others is read instead
    const now = this.#clock();
    for (const [idle, entry] of this.#rows) {
      if (this.#bytes + bytes <= this.#maxBytes || now - entry.at < this.#idleMs) break;
      this.#rows.delete(idle);
      this.#bytes -= entry.bytes;
    }
    if (this.#bytes + bytes > this.#maxBytes) return;
    this.#rows.set(server, { columns, bytes, at: now });
    this.#bytes += bytes;
  }

  forget(server: string): void {
    const entry = this.#rows.get(server);
    if (!entry) return;
    this.#rows.delete(server);
    this.#bytes -= entry.bytes;
  }

  /** A commit decided on a served row landed (false) or was refused (true) while the row was current. */
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
