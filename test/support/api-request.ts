// A request as the routes see it, built in memory for tests of the HTTP edge without a host: its
// headers looked up in any case, as fetch's Headers and the Functions host do, a JSON body as a
// stream; a JSON answer's bytes read back, and the refusal a handler throws.
import { ApiError } from '../../src/app/errors';
import type { ApiRequest, ApiResponse } from '../../src/app/http-io';

export interface RequestParts {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The query string, without its `?`. */
  readonly query?: string;
  readonly params?: Readonly<Record<string, string | undefined>>;
  readonly body?: ReadableStream<Uint8Array> | null;
}

export function apiRequest(parts: RequestParts = {}): ApiRequest {
  const headers = new Map(Object.entries(parts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method: parts.method ?? 'GET',
    url: parts.url ?? 'http://localhost/api/x',
    headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
    query: new URLSearchParams(parts.query ?? ''),
    params: parts.params ?? {},
    body: parts.body ?? null,
  };
}

/** A JSON answer's body (the UTF-8 bytes `json` writes), parsed. */
export const jsonOf = <T = Record<string, unknown>>(res: Pick<ApiResponse, 'body'>): T => JSON.parse(Buffer.from(res.body as Uint8Array).toString('utf8')) as T;

/** `text` as a body stream of one chunk. */
export const streamOf = (text: string): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });

/** The parts of a request carrying `text` as JSON. */
export const jsonBody = (text: string): Pick<RequestParts, 'headers' | 'body'> => ({ headers: { 'content-type': 'application/json' }, body: streamOf(text) });

/** The code and message of the ApiError `run` refuses with; an answer, or another error, fails the test. */
export async function refusalOf(run: () => Promise<unknown>): Promise<[string, string]> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ApiError) return [error.code, error.message];
    throw error;
  }
  throw new Error('answered instead of refusing');
}

/** A log that keeps the warnings a read answers beside (`log.warn`), for the test to read in `lines`. */
export function warnLog() {
  const lines: string[] = [];
  return { log: { warn: (l: string) => void lines.push(l) }, lines };
}
