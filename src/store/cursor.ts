// Continuation tokens: a position in a paged query (which partition of the walk, the table SDK's
// own token inside it), sealed with HMAC-SHA256 under a secret setting and bound to the query's
// filters. Anything a client alters, forges or carries over from another query or another secret
// fails the check and is refused before the table is asked; the SDK never sees a foreign token.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Cursor {
  /** Partition index for queries that walk several partitions. */
  readonly i: number;
  /** The table SDK's continuation token within that partition; for the History walk, its own position (history-walk). */
  readonly t?: string;
}

export class InvalidContinuationTokenError extends Error {
  override readonly name = 'InvalidContinuationTokenError';
}

/** A query's identity for its tokens: its kind and its filters. */
export function queryId(kind: string, filter: object): string {
  return kind + ':' + JSON.stringify(filter);
}

const MAC_BYTES = 32;
/** A partition index: a whole number from 0 (Number.isInteger refuses what is not a number). */
const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
/** The refusal of a token not sealed for the query it came with. */
export const refused = () => new InvalidContinuationTokenError('The continuation token is not one this service issued for this query; repeat the query without it.');

const keyOf = (secret: string): Buffer => createHash('sha256').update(`fleet-posture continuation token\n${secret}`).digest();

export class CursorCodec {
  #key: Buffer | undefined;
  readonly #source: (() => Promise<string>) | undefined;
  #loading: Promise<Buffer> | undefined;

  /**
   * `secret`: the setting's text; a function that fetches one secret every instance shares (once,
   * when a token is first sealed or opened); none: a random key, so tokens work only on the
   * instance that issued them.
   */
  constructor(secret?: string | (() => Promise<string>)) {
    if (typeof secret === 'function') this.#source = secret;
    else this.#key = secret ? keyOf(secret) : randomBytes(32);
  }

  /** The key; a fetch that failed is tried again by the next token. */
  #keyNow(): Buffer | Promise<Buffer> {
    if (this.#key) return this.#key;
    this.#loading ??= this.#source!().then(
      (secret) => (this.#key = keyOf(secret)),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  async #mac(query: string, payload: Buffer): Promise<Buffer> {
    return createHmac('sha256', await this.#keyNow()).update(query).update('\n').update(payload).digest();
  }

  /** The token for `cursor` within `query` (the query's identity: its kind and filters). */
  async seal(query: string, cursor: Cursor): Promise<string> {
    // JSON leaves out a `t` that is undefined.
    const payload = Buffer.from(JSON.stringify({ i: cursor.i, t: cursor.t }));
    return Buffer.concat([await this.#mac(query, payload), payload]).toString('base64url');
  }

  /**
   * The start of `query` without a token; its cursor for a token this codec sealed for it; else
   * rejects. A token that cannot be one is refused before the key is fetched.
   */
  async open(token: string | undefined, query: string): Promise<Cursor> {
    if (token === undefined) return { i: 0 };
    const raw = Buffer.from(token, 'base64url');
    if (raw.toString('base64url') !== token) throw refused();
    // Stryker disable next-line EqualityOperator: a token of the MAC alone is refused either way (an empty payload is no JSON).
    if (raw.length <= MAC_BYTES) throw refused();
    const mac = raw.subarray(0, MAC_BYTES);
    const payload = raw.subarray(MAC_BYTES);
    if (!timingSafeEqual(mac, await this.#mac(query, payload))) throw refused();
    // Sealed by this service, so well-formed; checked anyway so a leaked secret cannot crash a query.
    let c: unknown;
    // Stryker disable next-line BlockStatement: without the parse, `c` stays undefined, which is refused below as well.
    try {
      c = JSON.parse(payload.toString('utf8'));
    } catch {
      // Not JSON: `c` stays undefined, which the check below refuses.
    }
    const cur = c as Partial<Cursor> | null;
    if (!cur || !isIndex(cur.i) || (cur.t !== undefined && typeof cur.t !== 'string')) throw refused();
    return { i: cur.i, t: cur.t };
  }
}
