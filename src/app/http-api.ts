// HTTP in and out for every route, independent of the hosting (Azure Functions or the local host):
// a request with web-standard headers and body stream in, a plain status/headers/JSON out. The
// function files only forward to these methods. No input yields a 500: everything a client can
// send maps to a 4xx, and storage trouble to 503 with Retry-After.
import { negotiateLanguage } from '../rules/localise';
import { findRule } from '../rules/registry';
import { STATUSES, type Lang, type Status } from '../rules/types';
import { ConcurrencyConflictError, InvalidContinuationTokenError, StorageUnavailableError, type StoredResult } from '../store';
import { type Access, type KeyRing } from './auth';
import { enrolmentRequestSchema, SERVER_ID, serverOfFacts, type Authorizer, type Enrolment, type Principal } from './enrolment';
import type { Reenrolment } from './reenrolment';
import { ApiError, errorBody } from './errors';
import { parseIsoInstant } from './iso-time';
import { keyTagOf, type AlertLog, type Ingest } from './ingest';
import type { Queries } from './queries';
import type { Rule } from '../rules/types';

export interface ApiRequest {
  readonly method: string;
  readonly headers: { get(name: string): string | null };
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Shaped like @azure/functions' HttpResponseInit. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly jsonBody?: unknown;
  /** A text body (CSV export); JSON routes use jsonBody. */
  readonly body?: string;
}

/** The logging part of an InvocationContext. */
export interface ApiContext extends AlertLog {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface HttpApiDeps {
  readonly ingest: Ingest;
  readonly queries: Queries;
  readonly keys: KeyRing;
  readonly rules: readonly Rule[];
  readonly maxSnapshotBytes: number;
  /** Server keys, the enrolment secret, shared keys and the per-server rate limit (issue 8). */
  readonly auth: Authorizer;
  readonly enrolment: Enrolment;
  /** POST /api/enroll under the re-enrolment policy. */
  readonly reenrolment: Reenrolment;
}

/** Largest enrolment request body (host facts only). */
const MAX_ENROL_BYTES = 16 * 1024;

export const MAX_TOP = 1000;
export const DEFAULT_TOP = 100;

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  jsonBody: body,
});

export function errorResponse(e: ApiError): ApiResponse {
  return json(e.status, errorBody(e), e.headers);
}

export function invalidQuery(message: string): ApiError {
  return new ApiError('invalid_query', message);
}

/** Query parameters a route accepts; `code` is what the Functions host uses for function keys. */
export function checkParams(q: URLSearchParams, allowed: readonly string[]): void {
  for (const name of new Set(q.keys())) {
    if (name === 'code') continue;
    if (!allowed.includes(name)) {
      throw invalidQuery(
        allowed.length === 0 ? `This route takes no query parameters, but got "${name}".` : `Unknown query parameter "${name}"; this route accepts ${allowed.join(', ')}.`,
      );
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
  if (!/^[0-9]{1,7}$/.test(v) || Number(v) < 1 || Number(v) > MAX_TOP) throw invalidQuery(`"top" must be a whole number from 1 to ${MAX_TOP}, not "${v}".`);
  return Number(v);
}

function parseSince(q: URLSearchParams): number | undefined {
  const v = single(q, 'since');
  if (v === undefined) return undefined;
  const t = parseIsoInstant(v);
  if (t === undefined) throw invalidQuery(`"since" must be an existing ISO 8601 date or time such as 2026-11-28T00:00:00Z, not "${v.slice(0, 100)}".`);
  return t;
}

const STATUS_BY_LOWER = new Map(STATUSES.map((s) => [s.toLowerCase(), s]));

/** `status=Warning&status=Error` or `status=Warning,Error`, any case. */
function parseStatuses(q: URLSearchParams): Status[] | undefined {
  const raw = q.getAll('status');
  if (raw.length === 0) return undefined;
  const out = new Set<Status>();
  for (const part of raw.flatMap((v) => v.split(','))) {
    const s = STATUS_BY_LOWER.get(part.trim().toLowerCase());
    if (!s) throw invalidQuery(`"status" must be one or more of ${STATUSES.join(', ')}, not "${part.trim()}".`);
    out.add(s);
  }
  return [...out];
}

export const EVENT_CAUSES = ['snapshot', 'rule-change', 'stale', 'returned', 'waiver-created', 'waiver-changed', 'waiver-expired', 'waiver-deleted', 'baseline-set', 'baseline-changed', 'baseline-deleted'] as const;

/** `cause=rule-change` or `cause=stale,returned`. */
function parseCauses(q: URLSearchParams): string[] | undefined {
  const raw = q.getAll('cause');
  if (raw.length === 0) return undefined;
  const out = new Set<string>();
  for (const part of raw.flatMap((v) => v.split(','))) {
    const c = part.trim().toLowerCase();
    if (!(EVENT_CAUSES as readonly string[]).includes(c)) throw invalidQuery(`"cause" must be one or more of ${EVENT_CAUSES.join(', ')}, not "${part.trim()}".`);
    out.add(c);
  }
  return [...out];
}

export function parseRule(q: URLSearchParams, rules: readonly Rule[]): string | undefined {
  const v = single(q, 'rule');
  if (v === undefined) return undefined;
  const rule = findRule(v, rules);
  if (!rule) throw invalidQuery(`Unknown rule "${v}"; GET /api/rules lists the rules.`);
  return rule.id;
}

const SERVER = /^[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?$/;

export function parseServer(v: string | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase().replace(/\.$/, '');
  if (!SERVER.test(s)) throw invalidQuery(`${what} must be a server id (a host name or fqdn, as the snapshot sent it), not "${v.slice(0, 100)}".`);
  return s;
}

export function parseToken(q: URLSearchParams): string | undefined {
  const v = single(q, 'continuationToken');
  if (v !== undefined && (v.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(v))) throw invalidQuery('"continuationToken" must be a token returned by a previous page, unchanged.');
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
    const { done, value } = await reader.read();
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

export function checkJsonType(req: ApiRequest): void {
  const ct = req.headers.get('content-type');
  const m = ct ? /^\s*application\/json\s*(?:;(.*))?$/i.exec(ct) : null;
  const charset = m?.[1] ? /charset\s*=\s*"?([^";\s]+)/i.exec(m[1])?.[1] : undefined;
  if (!m || (charset !== undefined && !/^utf-?8$/i.test(charset))) {
    throw new ApiError('unsupported_media_type', `Send the snapshot as Content-Type: application/json (UTF-8), not ${ct ? JSON.stringify(ct) : 'without a Content-Type'}.`);
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    throw new ApiError('invalid_json', 'The body is not valid UTF-8 text.');
  }
}

export class HttpApi {
  constructor(private readonly deps: HttpApiDeps) {}

  /** Runs a route of another module (lifecycle, waivers) with the same auth, language and error mapping. */
  handle(req: ApiRequest, ctx: ApiContext, access: Access, fn: (lang: Lang, who: Principal) => Promise<ApiResponse>): Promise<ApiResponse> {
    return this.#handle(req, ctx, access, fn);
  }

  async #handle(
    req: ApiRequest,
    ctx: ApiContext,
    access: Access,
    fn: (lang: Lang, who: Principal) => Promise<ApiResponse>,
    knownTag?: (server: string) => Promise<string | undefined>,
  ): Promise<ApiResponse> {
    try {
      const who = await this.deps.auth.authorize(req.headers, access, knownTag, ctx);
      const lang = negotiateLanguage(req.headers.get('accept-language'));
      const res = await fn(lang, who);
      return { ...res, headers: { 'Content-Language': lang, Vary: 'Accept-Language', ...res.headers } };
    } catch (error) {
      return this.#failure(error, ctx);
    }
  }

  #failure(error: unknown, ctx: ApiContext): ApiResponse {
    if (error instanceof ApiError) return errorResponse(error);
    if (error instanceof InvalidContinuationTokenError) return errorResponse(invalidQuery(error.message));
    if (error instanceof StorageUnavailableError || error instanceof ConcurrencyConflictError) {
      const retry = error instanceof StorageUnavailableError ? error.retryAfterSeconds : 1;
      ctx.warn(`storage_unavailable: ${error.message}`);
      return errorResponse(
        new ApiError('storage_unavailable', `Storage is unavailable or busy right now; nothing was stored, retry after ${retry} seconds.`, undefined, {
          'Retry-After': String(retry),
        }),
      );
    }
    ctx.error('Unexpected failure', error);
    return errorResponse(new ApiError('internal_error', 'The service failed unexpectedly; the failure was logged.'));
  }

  /** POST /api/snapshots */
  postSnapshot(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    // A server key is checked against the tag on its server's rows, which ingest reads anyway:
    // that one partition read serves both, so a steady post costs two round trips, not three.
    let read: { server: string; rows: readonly StoredResult[] } | undefined;
    const knownTag = async (server: string) => {
      read = { server, rows: await this.deps.ingest.readServer(server) };
      return keyTagOf(read.rows);
    };
    return this.#handle(
      req,
      ctx,
      'ingest',
      async (lang, who) => {
        checkParams(req.query, []);
        checkJsonType(req);
        const bytes = await readBody(req, this.deps.maxSnapshotBytes);
        if (bytes.byteLength === 0) throw new ApiError('invalid_json', 'The body is empty; send one snapshot as JSON.');
        const bound = who.kind === 'server' ? { server: who.server, keyTag: who.keyTag, rows: read?.server === who.server ? read.rows : undefined } : undefined;
        const result = await this.deps.ingest.run(decodeUtf8(bytes), lang, ctx, bound);
        return json(result.outcome === 'accepted' ? 201 : 200, result);
      },
      knownTag,
    );
  }

  /** GET /api/manifest — with an ETag, so collectors can ask cheaply whether it changed. */
  getManifest(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'collector', async () => {
      checkParams(req.query, []);
      const manifest = this.deps.queries.manifest();
      const etag = `"${manifest.version}"`;
      const headers = { ETag: etag, 'Cache-Control': 'no-cache' };
      const inm = req.headers.get('if-none-match');
      if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
        return { status: 304, headers };
      }
      return json(200, manifest, headers);
    });
  }

  /** GET /api/rules */
  getRules(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'collector', async (lang) => {
      checkParams(req.query, []);
      return json(200, this.deps.queries.rules(lang));
    });
  }

  /** GET /api/results?server=&rule=&status=&since=&top=&continuationToken= */
  getResults(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'read', async (lang) => {
      const q = req.query;
      checkParams(q, ['server', 'rule', 'status', 'since', 'top', 'continuationToken']);
      const filter = {
        server: parseServer(single(q, 'server'), '"server"'),
        ruleId: parseRule(q, this.deps.rules),
        statuses: parseStatuses(q),
        since: parseSince(q),
      };
      return json(200, await this.deps.queries.results(filter, parseTop(q), parseToken(q), lang));
    });
  }

  /** GET /api/events?since=&rule=&status=&server=&cause=&top=&continuationToken= (newest first) */
  getEvents(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'read', async (lang) => {
      const q = req.query;
      checkParams(q, ['server', 'rule', 'status', 'since', 'cause', 'top', 'continuationToken']);
      const filter = {
        server: parseServer(single(q, 'server'), '"server"'),
        ruleId: parseRule(q, this.deps.rules),
        statuses: parseStatuses(q),
        since: parseSince(q),
        causes: parseCauses(q),
      };
      return json(200, await this.deps.queries.events(filter, parseTop(q), parseToken(q), lang));
    });
  }

  /** GET /api/servers/{server} */
  getServer(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'read', async (lang) => {
      checkParams(req.query, []);
      const server = parseServer(req.params.server ?? '', 'The server in the path') ?? '';
      const view = await this.deps.queries.server(server, lang);
      if (!view) throw new ApiError('not_found', `No snapshot from server "${server}" has been stored.`);
      return json(200, view);
    });
  }

  /** GET /api/summary */
  getSummary(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'read', async (lang) => {
      checkParams(req.query, []);
      return json(200, await this.deps.queries.summary(lang));
    });
  }

  // ---- enrolment and server keys (issue 8) ------------------------------------------------------

  /** POST /api/enroll — enrolment secret + host facts → this server's key (201). */
  enroll(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'enrol', async () => {
      checkParams(req.query, []);
      checkJsonType(req);
      const text = decodeUtf8(await readBody(req, MAX_ENROL_BYTES, 'The enrolment request'));
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new ApiError('invalid_json', 'The body is not valid JSON; send {"host": {"name": ..., "fqdn": ...}}.');
      }
      const parsed = enrolmentRequestSchema.safeParse(doc);
      if (!parsed.success) {
        throw new ApiError(
          'invalid_snapshot',
          'The enrolment request must be {"host": {"name": "<NetBIOS name>", "fqdn": "<optional fqdn>"}}.',
          parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
        );
      }
      const server = serverOfFacts(parsed.data.host);
      this.deps.auth.limit(`enrol:${server}`);
      const { host, collector } = parsed.data;
      const facts = {
        hostName: host.name,
        fqdn: host.fqdn,
        collector: collector?.name ? `${collector.name} ${collector.version ?? ''}`.trim() : undefined,
        source: req.headers.get('x-forwarded-for')?.split(',')[0]?.trim().slice(0, 64) || undefined,
      };
      const proofs = { currentKey: req.headers.get('x-server-key')?.trim() || undefined, claim: req.headers.get('x-enrolment-claim')?.trim() || undefined };
      const answer = await this.deps.reenrolment.enrol(server, facts, proofs, ctx);
      return json(answer.status, answer.body);
    });
  }

  /**
   * DELETE /api/servers/{server}/key[?reenrol=deny] — admin: the server's key stops working at
   * once; with reenrol=deny the enrolment secret cannot issue it a new one (until a rotation).
   */
  revokeServerKey(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'admin', async () => {
      checkParams(req.query, ['reenrol']);
      const reenrol = single(req.query, 'reenrol') ?? 'allow';
      if (reenrol !== 'allow' && reenrol !== 'deny') throw invalidQuery(`"reenrol" must be allow or deny, not "${reenrol.slice(0, 20)}".`);
      const server = adminServer(req);
      const out = await this.deps.enrolment.revoke(server, ctx, reenrol === 'deny');
      if (!out) throw new ApiError('not_found', `Server "${server}" has never enrolled.`);
      return json(200, { server, revoked: out.revoked, reenrol });
    });
  }

  /** POST /api/servers/{server}/key/rotate — admin: a new key (shown once), the old one revoked. */
  rotateServerKey(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.#handle(req, ctx, 'admin', async () => {
      checkParams(req.query, []);
      const server = adminServer(req);
      return json(201, await this.deps.enrolment.issue(server, {}, 'admin-rotation', ctx));
    });
  }
}

export function adminServer(req: ApiRequest): string {
  const raw = (req.params.server ?? '').trim().toLowerCase().replace(/\.$/, '');
  if (!SERVER_ID.test(raw)) throw invalidQuery(`The server in the path must be a server id (a host name or fqdn), not "${(req.params.server ?? '').slice(0, 100)}".`);
  return raw;
}
