// A request as the routes see it, built in memory for tests of the HTTP edge without a host: its
// headers looked up in any case, as fetch's Headers and the Functions host do; and a JSON answer's
// bytes read back.
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
