// How every route of the table is served, by both hosts: the key is checked against the route's
// access, the language chosen, the handler run, and any failure mapped to its answer. No input
// yields a 500: everything a client can send maps to a 4xx, and storage trouble to 503 with
// Retry-After.
import { negotiateLanguage } from '../rules/localise';
import { ConcurrencyConflictError, InvalidContinuationTokenError, keyTagOf, StorageUnavailableError, type StoredResult } from '../store';
import type { Access } from './auth';
import type { PostureApp } from './create-app';
import type { Principal } from './enrolment';
import { ApiError } from './errors';
import { errorResponse, invalidQuery, type ApiContext, type ApiRequest, type ApiResponse, type KeyRecheck } from './http-io';
import type { Route } from './routes';

export async function serveRoute(app: PostureApp, route: Route, incoming: ApiRequest, log: ApiContext): Promise<ApiResponse> {
  const head = incoming.method.toUpperCase() === 'HEAD';
  const req = head ? asGet(incoming) : incoming;
  const lang = negotiateLanguage(req.headers.get('accept-language'));
  // A public route answers for itself, in its own format.
  if (route.access === 'public') return route.handler(app, { req, log, lang });
  try {
    const { who, rows, recheck, remembered } = await admit(app, route.access, req, log);
    const res = await route.handler(app, { req, log, lang, who, rows, recheck, remembered });
    const answer = { ...res, headers: { 'Content-Language': lang, Vary: 'Accept-Language', ...res.headers } };
    return head ? withoutStream(answer) : answer;
  } catch (error) {
    return failure(error, log);
  }
}

/**
 * A HEAD request as GET's handler sees it: the same key check, query and answer. Both hosts send
 * the answer's headers without its body.
 */
function asGet(req: ApiRequest): ApiRequest {
  return { method: 'GET', url: req.url, headers: req.headers, query: req.query, params: req.params, body: req.body };
}

/**
 * A streamed body (the CSV export) is cancelled before it reads past its first page, so a HEAD of
 * the export does not scan the fleet for bytes nobody receives; a body already in memory is kept,
 * so that its Content-Length is GET's.
 */
function withoutStream(res: ApiResponse): ApiResponse {
  if (!(res.body instanceof ReadableStream)) return res;
  void res.body.cancel().catch(() => undefined);
  return { status: res.status, headers: res.headers };
}

/**
 * Who is calling, checked against what the route needs. A post's server key is checked against
 * the verified-key tag on its server's rows, which ingest needs anyway: the rows are read first
 * (or taken from this instance's memory of its last commit), then the key is verified (ServerKeys
 * is read only when the tag does not vouch for it), and the rows go on to ingest, so a steady post
 * reads them at most once. A post comes with a recheck: ingest commits on remembered rows only
 * under their ETags and checks the key again against rows it reads later, as it does when rows
 * read after a conflict show the server was removed meanwhile.
 */
async function admit(
  app: PostureApp,
  access: Access,
  req: ApiRequest,
  log: ApiContext,
): Promise<{ who: Principal; rows?: readonly StoredResult[]; recheck?: KeyRecheck; remembered?: boolean }> {
  const claimed = access === 'ingest' ? app.auth.claimedServer(req.headers) : undefined;
  if (claimed === undefined) return { who: await app.auth.authorize(req.headers, access, log) };
  const ruleIds = app.rules.map((r) => r.id);
  const remembered = app.store.rememberedServerRows(claimed, ruleIds);
  const rows = remembered ?? (await app.store.readServerRows(claimed, ruleIds));
  const who = await app.auth.authorize(req.headers, access, log, keyTagOf(rows));
  // Stryker disable next-line ConditionalExpression: a principal of another kind has no server, so the comparison refuses it alike; the kind test is for the type.
  if (who.kind !== 'server' || who.server !== claimed) return { who };
  const recheck: KeyRecheck = async (read) => {
    const again = await app.auth.authorize(req.headers, access, log, keyTagOf(read), { rateLimited: false });
    // Stryker disable next-line ConditionalExpression: as above, another kind has no server to compare.
    if (again.kind !== 'server' || again.server !== claimed) throw new Error(`The key of ${claimed} named another principal when checked again.`);
    return again.keyTag;
  };
  return { who, rows, recheck, remembered: remembered !== undefined };
}

function failure(error: unknown, log: ApiContext): ApiResponse {
  if (error instanceof ApiError) return errorResponse(error);
  if (error instanceof InvalidContinuationTokenError) return errorResponse(invalidQuery(error.message));
  if (error instanceof StorageUnavailableError || error instanceof ConcurrencyConflictError) {
    const retry = error instanceof StorageUnavailableError ? error.retryAfterSeconds : 1;
    log.warn(`storage_unavailable: ${error.message}`);
    return errorResponse(
      new ApiError('storage_unavailable', `Storage is unavailable or busy right now; retry after ${retry} seconds (part of the request may have been stored; sending it again is safe).`, undefined, {
        'Retry-After': String(retry),
      }),
    );
  }
  log.error('Unexpected failure', error);
  return errorResponse(new ApiError('internal_error', 'The service failed unexpectedly; the failure was logged.'));
}
