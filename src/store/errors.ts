// Errors the store raises. Callers map StorageUnavailableError to 503 + Retry-After; everything
// else that escapes the store is a programming error.
import { RestError } from '@azure/data-tables';

/** Storage could not be reached, throttled us, or failed on its side; nothing was committed. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  /** Seconds the caller should wait before retrying (from the service's Retry-After when given). */
  readonly retryAfterSeconds: number;
  constructor(message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  }
}

/** A conditional write lost a race (ETag mismatch, row created or deleted meanwhile). */
export class ConcurrencyConflictError extends Error {
  override readonly name = 'ConcurrencyConflictError';
}

/**
 * The projector's lease passed to another instance while it worked: that one may already have
 * written newer rows, so this one stops writing. Not an outage: nothing is wrong with storage.
 */
export class LeaseLostError extends Error {
  override readonly name: string = 'LeaseLostError';
}

/**
 * A fenced table (the rule index, drift) refused a projector's write: a projector under a later
 * lease generation (`fence`) wrote there. Either the lease passed on (then renewing it fails too), or this projector holds the
 * lease under a generation below one written before (a clock ahead, or a lease row that lost its
 * generation): it then needs a generation above `fence`.
 */
export class FencedOutError extends LeaseLostError {
  override readonly name: string = 'FencedOutError';
  constructor(
    message: string,
    readonly fence: number,
  ) {
    super(message);
  }
}

export const DEFAULT_RETRY_AFTER_SECONDS = 5;

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
// Holds no `undefined`: typed to take an error's code as it comes.
const NETWORK_CODES: ReadonlySet<string | undefined> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function statusCodeOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

function retryAfterOf(error: RestError): number | undefined {
  const header = error.response?.headers.get('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(Math.ceil(seconds), 300);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(1, Math.min(300, Math.ceil((date - Date.now()) / 1000)));
}

/** Storage refused this identity (401/403: a role or key scoped wrongly): every call fails alike until it is fixed. */
export function isAccessDenied(error: unknown): boolean {
  const status = statusCodeOf(error);
  return status === 401 || status === 403;
}

/**
 * Storage answered and refused the request (a 4xx that is neither throttling nor a timeout): the
 * write did not happen, where an outage leaves it unknown whether it landed.
 */
export function isRefusal(error: unknown): boolean {
  const status = statusCodeOf(error) ?? 0;
  return Math.floor(status / 100) === 4 && !TRANSIENT_STATUS.has(status);
}

/** True for errors that mean "storage is down or throttling", as opposed to a logical conflict. */
export function isTransient(error: unknown): boolean {
  if (error instanceof StorageUnavailableError) return true;
  if (error instanceof RestError) {
    if (error.statusCode === undefined) return true;
    return TRANSIENT_STATUS.has(error.statusCode) || NETWORK_CODES.has(error.code);
  }
  const e = error as { code?: unknown; name?: unknown } | null;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return true;
  return typeof e?.code === 'string' && NETWORK_CODES.has(e.code);
}

/** Wraps transient failures as StorageUnavailableError; rethrows anything else unchanged. */
export function toStorageError(error: unknown, what: string): unknown {
  if (error instanceof StorageUnavailableError || error instanceof ConcurrencyConflictError) return error;
  // A table that vanished (a restarted in-memory emulator, a deleted table) is recreated on the
  // next request; until then the caller should retry, like any outage.
  if (error instanceof RestError && (error.code === 'TableNotFound' || /TableNotFound/.test(error.message))) {
    return new StorageUnavailableError(`A table is missing (${what}); it will be recreated.`, { retryAfterSeconds: 1, cause: error });
  }
  if (isTransient(error)) {
    const retryAfterSeconds = error instanceof RestError ? retryAfterOf(error) : undefined;
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return new StorageUnavailableError(`Table Storage is unavailable (${what}): ${detail}`, { retryAfterSeconds, cause: error });
  }
  return error;
}

/** Waits for every call (none is left running unobserved), then throws the first failure. */
export async function settleAll(calls: readonly Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Runs a storage call and converts transient failures. */
export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toStorageError(error, what);
  }
}
