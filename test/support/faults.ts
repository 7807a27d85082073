// Storage faults made up by test pipeline policies: the error a refused or lost request surfaces
// as, and a policy that lets a request land but loses its answer (the case a retry must recognise).
import { RestError } from '@azure/data-tables';
import type { StoragePolicy } from '../../src/store';

type Request = Parameters<StoragePolicy['sendRequest']>[0];

/** What the SDK throws when storage answers `status` (headers from `header`, none by default). */
export function injectedError(request: Request, status: number, message = 'Injected storage fault', header: (name: string) => string | undefined = () => undefined): RestError {
  const headers = { get: header, has: (name: string) => header(name) !== undefined } as never;
  return new RestError(message, { statusCode: status, request, response: { status, headers, request } as never });
}

export interface LostAnswers {
  /** The next request this matches reaches storage, then its answer is replaced by a 503; `when` clears itself. */
  when?: (request: { readonly url: string; readonly method: string; readonly body: string }) => boolean;
  /** While true, `when` stays set: the SDK's retries of the request lose their answers too, so the request fails. */
  every?: boolean;
  readonly policy: StoragePolicy;
}

export function lostAnswers(name: string): LostAnswers {
  const self: LostAnswers = {
    policy: {
      name,
      async sendRequest(request, next) {
        const hit = self.when?.({ url: request.url, method: request.method, body: typeof request.body === 'string' ? request.body : '' });
        const response = await next(request);
        if (!hit) return response;
        if (!self.every) self.when = undefined;
        throw injectedError(request, 503, 'Injected lost answer');
      },
    },
  };
  return self;
}

export interface RefusedWrites {
  /** The table whose writes are refused (its full name, prefix included); none while empty. */
  table: string;
  /** While true, every write reaching `table`, alone or inside a transaction, is refused before it lands. */
  on: boolean;
  /** When set, only the writes whose body holds this text are refused (one rule's or one server's rows, say). */
  matching?: string;
  /** The status they are answered with: 503 (an outage) unless set. */
  status?: number;
  readonly policy: StoragePolicy;
}

export function refusedWrites(name: string): RefusedWrites {
  const self: RefusedWrites = {
    table: '',
    on: false,
    policy: {
      name,
      async sendRequest(request, next) {
        const body = typeof request.body === 'string' ? request.body : '';
        // A transaction's parts name the table in its body: `/<table>(keys)` updates or deletes a
        // row, `/<table> HTTP/1.1` (a POST to the table itself) creates one.
        const inBody = body.includes(`/${self.table}(`) || body.includes(`/${self.table} `);
        const hit = self.table !== '' && (decodeURIComponent(request.url).includes(`/${self.table}`) || inBody);
        const matched = self.matching === undefined || body.includes(self.matching);
        if (self.on && hit && matched && request.method !== 'GET') throw injectedError(request, self.status ?? 503);
        return next(request);
      },
    },
  };
  return self;
}

export interface RefusedReads {
  /** The table whose reads are refused (its full name, prefix included); none while empty. */
  table: string;
  /** While true, every read (GET) of `table` is answered 503, a retry too. */
  on: boolean;
  readonly policy: StoragePolicy;
}

export function refusedReads(name: string): RefusedReads {
  const self: RefusedReads = {
    table: '',
    on: false,
    policy: {
      name,
      async sendRequest(request, next) {
        const hit = self.table !== '' && request.method === 'GET' && decodeURIComponent(request.url).includes(`/${self.table}`);
        if (self.on && hit) throw injectedError(request, 503);
        return next(request);
      },
    },
  };
  return self;
}

export interface RequestGate {
  /** Runs once before the next transaction on the gate's table is sent (then clears itself): another writer's turn. */
  beforeWrite?: () => Promise<void>;
  readonly policy: StoragePolicy;
}

/** A policy that holds the next transaction ($batch) on `table` while the gate's hook runs. */
export function transactionGate(name: string, table: string): RequestGate {
  const self: RequestGate = {
    policy: {
      name,
      async sendRequest(request, next) {
        const body = typeof request.body === 'string' ? request.body : '';
        const hook = self.beforeWrite;
        if (hook && request.url.endsWith('$batch') && body.includes(`/${table}`)) {
          self.beforeWrite = undefined;
          await hook();
        }
        return next(request);
      },
    },
  };
  return self;
}

/** The gate of the rule index's transactions. */
export const ruleIndexGate = (name: string): RequestGate => transactionGate(name, 'RuleIndex');

export interface HeldStorage {
  /** While true, every request to storage waits (before it is sent) until release(). */
  hold: boolean;
  /** While true, every request to storage is answered 503 (a retry too) instead of being sent. */
  fail: boolean;
  /** Requests that have waited since the last release (they reached storage's door). */
  readonly arrived: number;
  /** Lets the waiting requests go on (or fail, when `fail` is set) and stops holding new ones. */
  release(): void;
  readonly policy: StoragePolicy;
}

/** Storage that stalls for as long as a test wants: what a slow or unreachable account looks like from the host. */
export function heldStorage(name: string): HeldStorage {
  let waiting: (() => void)[] = [];
  const self: HeldStorage = {
    hold: false,
    fail: false,
    get arrived() {
      return waiting.length;
    },
    release() {
      self.hold = false;
      const go = waiting;
      waiting = [];
      go.forEach((resume) => resume());
    },
    policy: {
      name,
      async sendRequest(request, next) {
        if (self.hold) await new Promise<void>((resume) => waiting.push(resume));
        if (self.fail) throw injectedError(request, 503);
        return next(request);
      },
    },
  };
  return self;
}

/** What the SDK's HTTP client throws when storage drops the connection before answering (a kept-alive socket reset under load). */
export function connectionReset(request: Request): RestError {
  return new RestError('socket hang up', { code: 'ECONNRESET', request });
}

/** What the SDK throws when the connection was closed before the request was written: storage never saw it. */
export function connectionClosedBeforeSent(request: Request): RestError {
  return new RestError('write EPIPE', { code: 'EPIPE', request });
}

export interface FailedFirstAttempts {
  /** Each fires once: the first attempt it returns an error for fails with that error (the SDK retries the request). */
  readonly next: ((request: Request) => RestError | undefined)[];
  readonly policy: StoragePolicy;
}

/** Fails the first attempt of chosen requests, before it is sent: the retry is the same request, sent again. */
export function failedFirstAttempts(name: string): FailedFirstAttempts {
  const self: FailedFirstAttempts = {
    next: [],
    policy: {
      name,
      async sendRequest(request, next) {
        for (const [i, fail] of self.next.entries()) {
          const error = fail(request);
          if (!error) continue;
          self.next.splice(i, 1);
          throw error;
        }
        return next(request);
      },
    },
  };
  return self;
}

/**
 * For a test's recording policy: true on a request's first attempt only. The SDK sends the same
 * request object again after a dropped connection or a 503, and on a loaded machine storage's
 * loopback connections do drop now and then (a kept-alive socket reset): a recorder that counted
 * every attempt would count one request twice and fail an exact count, as the round-trip counter
 * does not (its retries count apart).
 */
export function oncePerRequest(): (request: Request) => boolean {
  const seen = new WeakSet<Request>();
  return (request) => {
    if (seen.has(request)) return false;
    seen.add(request);
    return true;
  };
}

export interface DroppedAttempts {
  /** Attempts that failed below every test policy: no answer from storage (a reset or refused connection). */
  count: number;
  readonly policy: StoragePolicy;
}

/**
 * Counts the attempts storage itself left unanswered. Last among a test's policies it sees only
 * what reached the wire (an error status comes back as an answer here, not a throw), so a test
 * that asserts how many retries its injected faults cost can add those a loaded machine causes.
 */
export function droppedAttempts(name: string): DroppedAttempts {
  const self: DroppedAttempts = {
    count: 0,
    policy: {
      name,
      async sendRequest(request, next) {
        try {
          return await next(request);
        } catch (error) {
          self.count++;
          throw error;
        }
      },
    },
  };
  return self;
}

/** Codes of a connection that was open and then dropped, as a kept-alive loopback socket sometimes is. */
const DROPPED = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Sends a request once more when its connection dropped under it. A client built without retries
 * (a test that checks what a first attempt's refusal does) would otherwise fail on a reset no
 * test caused: storage closing a kept-alive socket just as a request went out on it, which a
 * loaded machine makes likely. Refusals and answers of any status pass through untouched, and so
 * does a connection refused outright (storage stopped), so an outage a test makes still shows.
 */
export function resendOnReset(): StoragePolicy {
  return {
    name: 'testResendOnReset',
    async sendRequest(request, next) {
      try {
        return await next(request);
      } catch (error) {
        if (!DROPPED.has(String((error as { code?: unknown }).code))) throw error;
        return next(request);
      }
    },
  };
}
