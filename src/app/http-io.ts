// The HTTP edge shared by every route, independent of the hosting (Azure Functions or the local
// host): the request and response shapes, JSON answers, query parameters and the one body reader.
import { findRule } from '../rules/registry';
import { STATUSES, type Lang, type Rule, type Status } from '../rules/types';
import { serverIdOfName } from '../snapshot/normalise';
import { refusedToken, type StoredResult } from '../store';
import type { AlertLog } from './alert-log';
import type { Principal } from './enrolment';
import { ApiError, errorBody, messageOf } from './errors';
import { parseIsoInstant } from './iso-time';
import { EVENT_KINDS, eventKindOf, type EventKind } from './present';

export interface ApiRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Shaped like @azure/functions' HttpResponseInit. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The body: JSON routes' UTF-8 bytes (see `json`), the dashboard's files, the CSV export's stream. */
  readonly body?: string | Uint8Array | ReadableStream<Uint8Array>;
}

/** The logging part of an InvocationContext. */
export interface ApiContext extends AlertLog {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** One request as a route's handler sees it, after the key check and the language choice. */
export interface RouteCall {
  readonly req: ApiRequest;
  readonly log: ApiContext;
  readonly lang: Lang;
  /** Who called (undefined on a public route). */
  readonly who?: Principal;
  /** A post's server rows, read to verify its key and handed on to ingest. */
  readonly rows?: readonly StoredResult[];
  /** For a post with a server key: checks the key again against rows read since, and returns its tag. */
  readonly recheck?: KeyRecheck;
  /** `rows` were this instance's memory of its last commit, not read from storage. */
  readonly remembered?: boolean;
}

/** Checks a post's key against its server's rows as read from storage; returns the key's tag or throws the refusal. */
export type KeyRecheck = (rows: readonly StoredResult[]) => Promise<string>;

export const MAX_TOP = 1000;
export const DEFAULT_TOP = 100;

/**
 * A JSON answer, encoded here once: handed a string (what `jsonBody` becomes), the Functions
 * response checks every character of it for lone surrogates (6 % of the service's time on a list
 * of a thousand results); bytes it takes as they are.
 */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  body: Buffer.from(JSON.stringify(body)),
});

/**
 * The client address the front end saw, for admins to judge a request by. Every proxy appends the
 * address it was called from to X-Forwarded-For, after whatever the client itself wrote there, so
 * only the last entry is the platform's word (what App Service's front end saw); the entries before
 * it are the client's. Behind a proxy of the operator's own (Front Door) that entry is the proxy's
 * address. Undefined without the header (the local host has no front end).
 */
export function clientAddress(headers: { get(name: string): string | null }): string | undefined {
  const header = headers.get('x-forwarded-for');
  if (header === null) return undefined;
  return header.slice(header.lastIndexOf(',') + 1).trim().slice(0, 64) || undefined;
}

/**
 * Whether an If-Match or If-None-Match header lists `etag`, the ETag of what is there now
 * (undefined: nothing is). `*` stands for any current representation. If-None-Match compares
 * weakly (a W/ tag matches its strong form); If-Match strongly, as RFC 9110 says.
 */
export function etagListed(header: string, etag: string | undefined, compare: 'weak' | 'strong'): boolean {
  if (etag === undefined) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || (compare === 'weak' ? tag.replace(/^W\//, '') : tag) === etag;
  });
}

export function errorResponse(e: ApiError): ApiResponse {
  return json(e.status, errorBody(e), e.headers);
}

/**
 * A value the caller sent, quoted back in an error message: cut to 100 characters so a hostile
 * or mistaken parameter cannot make the answer (and the logs that keep it) as long as it is.
 */
export function echoed(v: string): string {
  return `"${v.slice(0, 100)}"`;
}

export function invalidQuery(message: string): ApiError {
  return new ApiError('invalid_query', message);
}

/**
 * Query parameters a route accepts; `code` is what the Functions host uses for function keys. The
 * names are quoted in the refusal, as the unknown one is: a route's one parameter "only" would
 * otherwise read as "this route accepts only.".
 */
export function checkParams(q: URLSearchParams, allowed: readonly string[]): void {
  for (const name of new Set(q.keys())) {
    if (name === 'code') continue;
    if (!allowed.includes(name)) {
      const names = allowed.map((a) => `"${a}"`).join(', ');
      throw invalidQuery(allowed.length === 0 ? `This route takes no query parameters, but got ${echoed(name)}.` : `Unknown query parameter ${echoed(name)}; this route accepts ${names}.`);
    }
  }
}

export function single(q: URLSearchParams, name: string): string | undefined {
  const all = q.getAll(name);
  if (all.length > 1) throw invalidQuery(`The query parameter "${name}" may be given only once.`);
  const v = all[0];
  if (v === undefined) return undefined;
  if (v.trim() === '') throw invalidQuery(`The query parameter "${name}" must not be empty.`);
  return v.trim();
}

export function parseTop(q: URLSearchParams): number {
  const v = single(q, 'top');
  if (v === undefined) return DEFAULT_TOP;
  if (!/^[0-9]{1,7}$/.test(v) || Number(v) < 1 || Number(v) > MAX_TOP) throw invalidQuery(`"top" must be a whole number from 1 to ${MAX_TOP}, not ${echoed(v)}.`);
  return Number(v);
}

export function parseSince(q: URLSearchParams): number | undefined {
  const v = single(q, 'since');
  if (v === undefined) return undefined;
  // A time (everything after the T) without a zone would be read in UTC, silently hours off for a
  // reader elsewhere; a date alone is documented as UTC midnight.
  const t = parseIsoInstant(v, { requireZone: v.includes('T') });
  if (t === undefined) {
    throw invalidQuery(`"since" must be an existing ISO 8601 date (UTC midnight) or a time with its zone, such as 2026-11-28T09:00:00+09:00 or 2026-11-28T00:00:00Z, not ${echoed(v)}.`);
  }
  return t;
}

const STATUS_BY_LOWER = new Map(STATUSES.map((s) => [s.toLowerCase(), s]));

/** `status=Warning&status=Error` or `status=Warning,Error`, any case. */
export function parseStatuses(q: URLSearchParams): Status[] | undefined {
  const raw = q.getAll('status');
  if (raw.length === 0) return undefined;
  const out = new Set<Status>();
  for (const part of raw.flatMap((v) => v.split(','))) {
    const s = STATUS_BY_LOWER.get(part.trim().toLowerCase());
    if (!s) throw invalidQuery(`"status" must be one or more of ${STATUSES.join(', ')}, not ${echoed(part.trim())}.`);
    out.add(s);
  }
  return [...out];
}

/** Event statuses beyond the verdicts: a server that stopped posting, one that resumed, and one an admin removed. */
export const SERVER_STATUSES = ['Stale', 'Reporting', 'Removed'] as const;
const EVENT_STATUS_BY_LOWER = new Map([...STATUSES, ...SERVER_STATUSES].map((s) => [s.toLowerCase(), s]));

/** The `status` filter of the events route: a verdict's status, or Stale / Reporting / Removed for a server's. */
export function parseEventStatuses(q: URLSearchParams): string[] | undefined {
  const raw = q.getAll('status');
  if (raw.length === 0) return undefined;
  const out = new Set<string>();
  for (const part of raw.flatMap((v) => v.split(','))) {
    const s = EVENT_STATUS_BY_LOWER.get(part.trim().toLowerCase());
    if (!s) throw invalidQuery(`"status" must be one or more of ${[...STATUSES, ...SERVER_STATUSES].join(', ')}, not ${echoed(part.trim())}.`);
    out.add(s);
  }
  return [...out];
}

/** A true/false query parameter (`waived`, `stale`), or undefined when absent. */
export function parseFlag(q: URLSearchParams, name: string): boolean | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (v.toLowerCase() === 'true') return true;
  if (v.toLowerCase() === 'false') return false;
  throw invalidQuery(`The query parameter "${name}" must be true or false, not ${echoed(v)}.`);
}

export const EVENT_CAUSES = ['snapshot', 'rule-change', 'stale', 'returned', 'removed', 'waiver-created', 'waiver-changed', 'waiver-expired', 'waiver-deleted', 'baseline-set', 'baseline-changed', 'baseline-deleted'] as const;

/** `cause=rule-change` or `cause=stale,returned`. */
export function parseCauses(q: URLSearchParams): string[] | undefined {
  const raw = q.getAll('cause');
  if (raw.length === 0) return undefined;
  const out = new Set<string>();
  for (const part of raw.flatMap((v) => v.split(','))) {
    const c = part.trim().toLowerCase();
    if (!(EVENT_CAUSES as readonly string[]).includes(c)) throw invalidQuery(`"cause" must be one or more of ${EVENT_CAUSES.join(', ')}, not ${echoed(part.trim())}.`);
    out.add(c);
  }
  return [...out];
}

/** Which causes an event `kind` stands for: status changes, waiver records or baseline records. */
export function causesOfKind(kind: EventKind): string[] {
  return EVENT_CAUSES.filter((c) => eventKindOf(c) === kind);
}

/** `kind=status` or `kind=waiver`: the causes it allows, intersected with `cause` when both are given. */
export function parseKindAndCauses(q: URLSearchParams): string[] | undefined {
  const causes = parseCauses(q);
  const kind = single(q, 'kind')?.toLowerCase();
  if (kind === undefined) return causes;
  const known = EVENT_KINDS.find((k) => k === kind);
  if (!known) throw invalidQuery(`"kind" must be ${EVENT_KINDS.join(', ')}, not ${echoed(single(q, 'kind')!)}.`);
  const ofKind = causesOfKind(known);
  return causes ? causes.filter((c) => ofKind.includes(c)) : ofKind;
}

export function parseRule(q: URLSearchParams, rules: readonly Rule[]): string | undefined {
  const v = single(q, 'rule');
  if (v === undefined) return undefined;
  const rule = findRule(v.toLowerCase(), rules);
  if (!rule) throw invalidQuery(`Unknown rule ${echoed(v)}; the rules are ${rules.map((r) => r.id).join(', ')}.`);
  return rule.id;
}

export function parseServer(v: string | undefined, what: string): string | undefined {
  return v === undefined ? undefined : serverIdOrRefusal(v, what);
}

function serverIdOrRefusal(v: string, what: string): string {
  const s = serverIdOfName(v.trim());
  if (s === undefined) throw invalidQuery(`${what} must be a server id (a host name or fqdn, as the snapshot sent it), not ${echoed(v)}.`);
  return s;
}

/**
 * The filters of the current-results list, which the CSV export takes too: server (id or host
 * name, resolved by the caller), rule, status and since. `waived` is each caller's to read.
 */
export function parseResultFilter(q: URLSearchParams, rules: readonly Rule[]): { server?: string; ruleId?: string; statuses?: Status[]; since?: number } {
  return { server: parseServer(single(q, 'server'), '"server"'), ruleId: parseRule(q, rules), statuses: parseStatuses(q), since: parseSince(q) };
}

/** The {server} of a route's path, as a server id. */
export function pathServer(params: ApiRequest['params']): string {
  return serverIdOrRefusal(params.server ?? '', 'The server in the path');
}

export function parseToken(q: URLSearchParams): string | undefined {
  const v = single(q, 'continuationToken');
  // Refused in the same words as a well-formed token that was not issued for the query: to the
  // caller both are a token to drop.
  if (v !== undefined && (v.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(v))) throw refusedToken();
  return v;
}

/**
 * Reads the body, refusing anything past `max` bytes: a declared Content-Length over it before a
 * byte is read, an undeclared (chunked) one as soon as the count passes it.
 */
export async function readBody(req: ApiRequest, max: number, what = 'The snapshot'): Promise<Uint8Array> {
  const tooLarge = () => new ApiError('too_large', `${what} exceeds the limit of ${max} bytes.`);
  const declared = req.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > max) throw tooLarge();
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (error) {
      // A stream that fails here is a client that stopped sending (it closed or timed out mid-body):
      // its fault, not the service's, and nothing has been read into anything yet.
      throw new ApiError('incomplete_body', `${what} stopped arriving before it was complete (${error instanceof Error ? error.message : 'the connection failed'}); nothing was stored.`);
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * `what` names the body as BodySpec does ("A waiver"), for the message. A compressed body is
 * refused as such: read as text it would only be called invalid UTF-8, which sends its sender
 * looking at the wrong thing. Neither the Functions host nor this service decompresses a request.
 */
function checkBodyHeaders(req: ApiRequest, what: string): void {
  const ct = req.headers.get('content-type');
  const m = ct ? /^\s*application\/json\s*(?:;(.*))?$/i.exec(ct) : null;
  const charset = m?.[1] ? /charset\s*=\s*"?([^";\s]+)/i.exec(m[1])?.[1] : undefined;
  const subject = what.charAt(0).toLowerCase() + what.slice(1);
  if (!m || (charset !== undefined && !/^utf-?8$/i.test(charset))) {
    throw new ApiError('unsupported_media_type', `Send ${subject} as Content-Type: application/json (UTF-8), not ${ct ? JSON.stringify(ct) : 'without a Content-Type'}.`);
  }
  const coding = req.headers.get('content-encoding');
  if (coding !== null && !/^\s*(identity\s*)?$/i.test(coding)) {
    // RFC 9110 (415): Accept-Encoding in the answer names the codings the server takes.
    throw new ApiError('unsupported_media_type', `Send ${subject} uncompressed: a body with Content-Encoding ${JSON.stringify(coding)} is not read.`, undefined, { 'Accept-Encoding': 'identity' });
  }
}

/**
 * The decoder itself drops one leading byte order mark (its `ignoreBOM` is false): Windows tools
 * write one. A second is not a mark but text, and JSON.parse refuses it.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError('invalid_json', 'The body is not valid UTF-8 text.');
  }
}

/** What a route reads: its size limit, how messages name it, and what to send instead. */
export interface BodySpec {
  readonly max: number;
  /** "The snapshot", "A waiver": the subject of the too-large and wrong-type messages. */
  readonly what: string;
  /** What to send, appended to refusals ("send one snapshot as JSON"). */
  readonly hint: string;
  /** The error code of an empty body (default invalid_json). */
  readonly emptyCode?: 'invalid_json' | 'invalid_waiver';
}

/**
 * The one body reader: a JSON body (Content-Type and Content-Encoding checked, at most `max` bytes, UTF-8) as text.
 * Snapshots keep the text (it is stored as sent); other routes parse it with readJsonBody.
 */
export async function readJsonText(req: ApiRequest, spec: BodySpec): Promise<string> {
  checkBodyHeaders(req, spec.what);
  const text = decodeUtf8(await readBody(req, spec.max, spec.what));
  if (text.trim() === '') throw new ApiError(spec.emptyCode ?? 'invalid_json', `The body is empty; ${spec.hint}.`);
  return text;
}

export async function readJsonBody(req: ApiRequest, spec: BodySpec): Promise<unknown> {
  return parseJsonText(await readJsonText(req, spec), spec.hint);
}

/** JSON text → value; the parser's own words say where it broke. */
export function parseJsonText(text: string, hint: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = messageOf(error).replace(/\s+/g, ' ');
    throw new ApiError('invalid_json', `The body is not valid JSON (${detail}); ${hint}.`);
  }
}
