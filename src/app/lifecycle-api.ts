// HTTP for the lifecycle routes (issue 6), on the same auth, language and error mapping as the
// rest of the API (HttpApi.handle):
//   GET  /api/servers?stale=true                 reader   stale servers
//   GET  /api/servers/{server}/history           reader   status changes, newest first, paged
//   GET  /api/waivers[/{id}]  PUT|DELETE /api/waivers/{id}   admin only
//   POST /api/jobs/{job}/run                     admin    run a timer's work now (ops, local host, tests)
import type { AlertLog } from './ingest';
import { ApiError } from './errors';
import {
  checkJsonType,
  checkParams,
  decodeUtf8,
  json,
  parseRule,
  parseServer,
  parseToken,
  parseTop,
  readBody,
  single,
  type ApiContext,
  type ApiRequest,
  type ApiResponse,
  type HttpApi,
} from './http-api';
import type { LifecycleQueries } from './lifecycle-queries';
import type { Projector } from './projector';
import type { Reevaluation } from './reevaluate';
import type { StaleHosts } from './stale-hosts';
import { waiverView, type Waivers } from './waivers';
import type { Rule } from '../rules/types';

export const JOBS = ['stale-hosts', 'waiver-expiry', 'reevaluate', 'projector'] as const;
export type JobName = (typeof JOBS)[number];

/** What the timers run; the timer functions and POST /api/jobs/{job}/run share it. */
export class Jobs {
  constructor(
    private readonly deps: { readonly staleHosts: StaleHosts; readonly waivers: Waivers; readonly reevaluation: Reevaluation; readonly projector: Projector },
  ) {}

  /** `budgetMs` bounds a re-evaluation or projector run (batches until done or spent); 0: one re-evaluation batch, a one-minute drain. */
  async run(job: JobName, log: AlertLog, budgetMs = 0): Promise<unknown> {
    switch (job) {
      case 'stale-hosts':
        return this.deps.staleHosts.run(log);
      case 'waiver-expiry':
        return this.deps.waivers.expire(log);
      case 'reevaluate':
        // Its alert records are logged by the projector, from the outbox entries of its commits.
        return budgetMs > 0 ? this.deps.reevaluation.runAll(budgetMs) : this.deps.reevaluation.runBatch();
      case 'projector':
        return this.deps.projector.drain(log, budgetMs > 0 ? budgetMs : 60_000);
    }
  }
}

const MAX_WAIVER_BYTES = 64 * 1024;

async function readJson(req: ApiRequest): Promise<unknown> {
  checkJsonType(req);
  const text = decodeUtf8(await readBody(req, MAX_WAIVER_BYTES, 'A waiver'));
  if (text.trim() === '') throw new ApiError('invalid_waiver', 'The body is empty; send the waiver as one JSON object.');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'The body is not valid JSON.');
  }
}

export interface LifecycleApiDeps {
  readonly http: HttpApi;
  readonly queries: LifecycleQueries;
  readonly waivers: Waivers;
  readonly jobs: Jobs;
  readonly rules: readonly Rule[];
  readonly clock: () => number;
}

export class LifecycleApi {
  constructor(private readonly deps: LifecycleApiDeps) {}

  /** GET /api/servers?stale=true */
  listServers(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'read', async () => {
      checkParams(req.query, ['stale']);
      const stale = single(req.query, 'stale');
      if (stale?.toLowerCase() !== 'true') throw new ApiError('invalid_query', 'Listing servers needs "stale=true" (the stale servers); GET /api/results lists every result.');
      return json(200, await this.deps.queries.staleServers());
    });
  }

  /** GET /api/servers/{server}/history?rule=&top=&continuationToken= */
  history(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'read', async (lang) => {
      checkParams(req.query, ['rule', 'top', 'continuationToken']);
      const server = parseServer(req.params.server ?? '', 'The server in the path') ?? '';
      return json(200, await this.deps.queries.history(server, parseRule(req.query, this.deps.rules), parseTop(req.query), parseToken(req.query), lang));
    });
  }

  /** GET|PUT|DELETE /api/waivers/{id?} */
  waivers(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      const method = req.method.toUpperCase();
      const id = req.params.id;
      const now = this.deps.clock();
      const { waivers } = this.deps;
      const missing = () => new ApiError('not_found', `There is no waiver "${(id ?? '').slice(0, 64)}".`);
      if (method === 'GET' && !id) {
        checkParams(req.query, ['state']);
        const state = single(req.query, 'state')?.toLowerCase();
        if (state !== undefined && !['active', 'expired', 'deleted'].includes(state)) throw new ApiError('invalid_query', `"state" must be active, expired or deleted, not "${state.slice(0, 20)}".`);
        const list = await waivers.list(state as 'active' | 'expired' | 'deleted' | undefined);
        return json(200, { items: list.map((w) => waiverView(w, now)) });
      }
      checkParams(req.query, []);
      if (!id) throw new ApiError('invalid_waiver', `${method} needs a waiver id in the path: /api/waivers/{id}.`);
      if (method === 'GET') {
        const w = await waivers.get(id);
        if (!w) throw missing();
        return json(200, waiverView(w, now));
      }
      if (method === 'PUT') {
        const body = await readJson(req);
        const { created, waiver } = await waivers.put(id, body, ctx);
        return json(created ? 201 : 200, waiverView(waiver, now));
      }
      if (method === 'DELETE') {
        const ended = await waivers.remove(id, ctx);
        if (!ended) throw new ApiError('not_found', `There is no active waiver "${id.slice(0, 64)}".`);
        return json(200, waiverView(ended, now));
      }
      throw new ApiError('invalid_query', `/api/waivers accepts GET, PUT and DELETE, not ${method}.`);
    });
  }

  /** POST /api/jobs/{job}/run */
  runJob(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      checkParams(req.query, []);
      const job = (req.params.job ?? '').toLowerCase();
      if (!(JOBS as readonly string[]).includes(job)) throw new ApiError('not_found', `There is no job "${job.slice(0, 40)}"; jobs are ${JOBS.join(', ')}.`);
      return json(200, { job, result: await this.deps.jobs.run(job as JobName, ctx) });
    });
  }
}
