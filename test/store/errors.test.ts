// Which storage failures the service answers with 503 and Retry-After, without storage: the
// statuses and network codes that mean an outage or throttling, the refusals that mean the write
// did not happen, the wait storage asks for (seconds or a date, bounded), a vanished table, and
// the helpers that wait for every call before throwing. The service tests meet the same errors
// from Azurite and from a storage that is stopped.
import { RestError } from '@azure/data-tables';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConcurrencyConflictError,
  DEFAULT_RETRY_AFTER_SECONDS,
  FencedOutError,
  guard,
  isAccessDenied,
  isRefusal,
  isTransient,
  LeaseLostError,
  settleAll,
  statusCodeOf,
  StorageUnavailableError,
  toStorageError,
} from '../../src/store/errors';

/** A RestError as the SDK raises it; `retryAfter` becomes the answer's Retry-After header. */
function restError(opts: { statusCode?: number; code?: string; message?: string; retryAfter?: string } = {}): RestError {
  const headers = new Map(opts.retryAfter === undefined ? [] : [['retry-after', opts.retryAfter]]);
  const response = { headers: { get: (name: string) => headers.get(name.toLowerCase()) } };
  return new RestError(opts.message ?? 'storage said no', { statusCode: opts.statusCode, code: opts.code, response: response as never });
}

const TRANSIENT = [408, 429, 500, 502, 503, 504];
const NETWORK = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'];

/** The StorageUnavailableError `toStorageError` makes of `error`, or a failure if it made none. */
function unavailable(error: unknown, what = 'reading Results'): StorageUnavailableError {
  const out = toStorageError(error, what);
  if (!(out instanceof StorageUnavailableError)) throw new Error(`not turned into an outage: ${String(out)}`);
  return out;
}

describe('the errors', () => {
  it('name themselves, keep their cause and default to a five-second wait', () => {
    const cause = new Error('socket');
    const e = new StorageUnavailableError('down', { cause });
    expect([e.name, e.message, e.cause, e.retryAfterSeconds]).toStrictEqual(['StorageUnavailableError', 'down', cause, 5]);
    expect(DEFAULT_RETRY_AFTER_SECONDS).toBe(5);
    expect(new StorageUnavailableError('down').retryAfterSeconds).toBe(5);
    expect(new StorageUnavailableError('down', { retryAfterSeconds: 0 }).retryAfterSeconds).toBe(0);
    expect(new ConcurrencyConflictError('raced').name).toBe('ConcurrencyConflictError');
    expect(new LeaseLostError('lost').name).toBe('LeaseLostError');
    const fenced = new FencedOutError('fenced', 7);
    expect([fenced.name, fenced.message, fenced.fence, fenced instanceof LeaseLostError]).toStrictEqual(['FencedOutError', 'fenced', 7, true]);
  });
});

describe('statusCodeOf', () => {
  it('reads the status of a storage error only', () => {
    expect(statusCodeOf(restError({ statusCode: 409 }))).toBe(409);
    expect(statusCodeOf(restError())).toBeUndefined();
    expect(statusCodeOf(Object.assign(new Error('x'), { statusCode: 409 }))).toBeUndefined();
  });
});

describe('isAccessDenied', () => {
  it('is 401 and 403 from storage, nothing else', () => {
    expect([401, 403].map((statusCode) => isAccessDenied(restError({ statusCode })))).toStrictEqual([true, true]);
    expect([400, 402, 404, 500].map((statusCode) => isAccessDenied(restError({ statusCode })))).toStrictEqual([false, false, false, false]);
    expect(isAccessDenied(restError())).toBe(false);
    expect(isAccessDenied({ statusCode: 403 })).toBe(false);
  });
});

describe('isRefusal', () => {
  it('is any 4xx storage answered with except a timeout or throttling', () => {
    expect([400, 401, 404, 409, 412, 413, 499].map((statusCode) => isRefusal(restError({ statusCode })))).toStrictEqual(Array(7).fill(true));
    expect([300, 399, 408, 429, 500, 501, 503, 599].map((statusCode) => isRefusal(restError({ statusCode })))).toStrictEqual(Array(8).fill(false));
    expect(isRefusal(restError())).toBe(false);
    expect(isRefusal(new Error('not storage'))).toBe(false);
  });
});

describe('isTransient', () => {
  it('is true for an outage already named, a storage error without a status and each retryable status', () => {
    expect(isTransient(new StorageUnavailableError('down'))).toBe(true);
    expect(isTransient(restError())).toBe(true);
    for (const statusCode of TRANSIENT) expect(isTransient(restError({ statusCode })), String(statusCode)).toBe(true);
    for (const statusCode of [400, 403, 404, 409, 412, 501]) expect(isTransient(restError({ statusCode })), String(statusCode)).toBe(false);
  });

  it('is true for each network failure, raised by storage with any status or by Node alone', () => {
    for (const code of NETWORK) {
      expect(isTransient(restError({ statusCode: 400, code })), code).toBe(true);
      expect(isTransient(Object.assign(new Error(code), { code })), code).toBe(true);
    }
    expect(isTransient(restError({ statusCode: 400, code: 'InvalidInput' }))).toBe(false);
    expect(isTransient(restError({ statusCode: 400 }))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(false);
  });

  it('is true for an aborted or timed-out call, and false for anything else', () => {
    expect(isTransient({ name: 'AbortError' })).toBe(true);
    expect(isTransient({ name: 'TimeoutError' })).toBe(true);
    expect(isTransient(new Error('AbortError'))).toBe(false);
    expect(isTransient({ code: 5 })).toBe(false);
    expect(isTransient({ code: ['ECONNRESET'] })).toBe(false);
    expect(isTransient(new ConcurrencyConflictError('raced'))).toBe(false);
    expect(isTransient(null)).toBe(false);
    expect(isTransient(undefined)).toBe(false);
    expect(isTransient('ECONNRESET')).toBe(false);
  });
});

describe('toStorageError', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-12-06T10:00:00.000Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes the store own errors and every non-outage through as they are', () => {
    const known = [new StorageUnavailableError('down'), new ConcurrencyConflictError('raced'), restError({ statusCode: 409 }), new Error('bug'), 'text'];
    for (const error of known) expect(toStorageError(error, 'x')).toBe(error);
  });

  it('names what failed and the first line of the cause, and keeps the cause', () => {
    const cause = restError({ statusCode: 503, message: 'Server busy\nRequestId: 1\nTime: now' });
    const e = unavailable(cause);
    expect(e.message).toBe('Table Storage is unavailable (reading Results): Server busy');
    expect(e.cause).toBe(cause);
    expect(unavailable({ name: 'AbortError' }, 'writing').message).toBe('Table Storage is unavailable (writing): [object Object]');
  });

  it('waits as long as storage asks in seconds, rounded up, at most five minutes, and five seconds otherwise', () => {
    const wait = (retryAfter?: string) => unavailable(restError({ statusCode: 503, retryAfter })).retryAfterSeconds;
    expect(wait('0')).toBe(0);
    expect(wait('2.5')).toBe(3);
    expect(wait('300')).toBe(300);
    expect(wait('301')).toBe(300);
    expect(wait(undefined)).toBe(5);
    expect(wait('')).toBe(5);
    expect(wait('soon')).toBe(5);
    expect(wait('Infinity')).toBe(5);
    // Not a number of seconds, so read as a date: one long past.
    expect(wait('-5')).toBe(1);
  });

  it('waits until a date storage gives, at least a second and at most five minutes', () => {
    const wait = (retryAfter: string) => unavailable(restError({ statusCode: 429, retryAfter })).retryAfterSeconds;
    expect(wait('Sun, 06 Dec 2026 10:00:10 GMT')).toBe(10);
    expect(wait('Sun, 06 Dec 2026 09:59:00 GMT')).toBe(1);
    expect(wait('Sun, 06 Dec 2026 11:00:00 GMT')).toBe(300);
    vi.setSystemTime(Date.parse('2026-12-06T10:00:00.400Z'));
    expect(wait('Sun, 06 Dec 2026 10:00:10 GMT')).toBe(10);
  });

  it('waits five seconds after a storage error without an answer', () => {
    expect(unavailable(new RestError('socket closed', { statusCode: 503 })).retryAfterSeconds).toBe(5);
  });

  it('reads the wait only from a storage error', () => {
    const timeout = { name: 'TimeoutError', message: 'slow', response: { headers: { get: () => '60' } } };
    expect(unavailable(timeout).retryAfterSeconds).toBe(5);
  });

  it('asks for a retry after a second when a table vanished, by its code or its message', () => {
    for (const error of [restError({ statusCode: 404, code: 'TableNotFound' }), restError({ statusCode: 404, message: 'The table specified does not exist. TableNotFound' })]) {
      const e = unavailable(error, 'writing Events');
      expect([e.message, e.retryAfterSeconds, e.cause]).toStrictEqual(['A table is missing (writing Events); it will be recreated.', 1, error]);
    }
    const plain = Object.assign(new Error('TableNotFound'), { code: 'TableNotFound' });
    expect(toStorageError(plain, 'x')).toBe(plain);
  });
});

describe('settleAll', () => {
  it('waits for every call, then throws the first failure in the order given', async () => {
    const finished: string[] = [];
    const slow = new Promise<void>((resolve) => setTimeout(() => (finished.push('slow'), resolve()), 20));
    const second = new Error('second');
    const third = new Error('third');
    const late = new Promise((_resolve, reject) => setTimeout(() => reject(second), 10));
    await expect(settleAll([slow, late, Promise.reject(third)])).rejects.toBe(second);
    expect(finished).toStrictEqual(['slow']);
  });

  it('resolves when every call succeeds, or there are none', async () => {
    await expect(settleAll([Promise.resolve(1), Promise.resolve('two')])).resolves.toBeUndefined();
    await expect(settleAll([])).resolves.toBeUndefined();
  });
});

describe('guard', () => {
  it('returns the call answer, turns an outage into StorageUnavailableError and rethrows anything else', async () => {
    await expect(guard('reading', async () => 42)).resolves.toBe(42);
    await expect(guard('reading Hosts', async () => Promise.reject(restError({ statusCode: 500, message: 'boom' })))).rejects.toThrow(
      new StorageUnavailableError('Table Storage is unavailable (reading Hosts): boom'),
    );
    const conflict = restError({ statusCode: 412 });
    await expect(guard('writing', async () => Promise.reject(conflict))).rejects.toBe(conflict);
  });
});
