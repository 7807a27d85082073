// HTTP for fleet drift, on the same auth, language and error mapping as the rest of the API:
//   GET /api/drift?rule=&top=&continuationToken=      reader   configurations as clusters, largest first
//   GET /api/servers/{server}/drift?rule=             reader   one server against the baseline or the largest cluster
//   GET|PUT|DELETE /api/baselines/{rule}              admin    the rule's baseline server (audited)
import type { Rule } from '../rules/types';
import { baselineView, type Baselines } from './baselines';
import type { DriftQueries } from './drift-queries';
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
  type ApiContext,
  type ApiRequest,
  type ApiResponse,
  type HttpApi,
} from './http-api';

export interface DriftApiDeps {
  readonly http: HttpApi;
  readonly queries: DriftQueries;
  readonly baselines: Baselines;
  readonly rules: readonly Rule[];
}

const MAX_BASELINE_BYTES = 4 * 1024;

function requiredRule(q: URLSearchParams, rules: readonly Rule[]): string {
  const rule = parseRule(q, rules);
  if (rule === undefined) throw new ApiError('invalid_query', 'Drift is per rule: give "rule", e.g. ?rule=mcafee-port25-blocked.');
  return rule;
}

async function readJson(req: ApiRequest): Promise<unknown> {
  checkJsonType(req);
  const text = decodeUtf8(await readBody(req, MAX_BASELINE_BYTES, 'A baseline'));
  if (text.trim() === '') throw new ApiError('invalid_baseline', 'The body is empty; send {"server": "<server id>", "setBy": "<who>"}.');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'The body is not valid JSON.');
  }
}

export class DriftApi {
  constructor(private readonly deps: DriftApiDeps) {}

  /** GET /api/drift?rule=&top=&continuationToken= */
  fleet(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'read', async () => {
      checkParams(req.query, ['rule', 'top', 'continuationToken']);
      const rule = requiredRule(req.query, this.deps.rules);
      const { entitiesRead, ...body } = await this.deps.queries.fleet(rule, parseTop(req.query), parseToken(req.query));
      // What the answer cost in storage, for operators watching a large fleet.
      return json(200, body, { 'X-Entities-Read': String(entitiesRead) });
    });
  }

  /** GET /api/servers/{server}/drift?rule= */
  server(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'read', async () => {
      checkParams(req.query, ['rule']);
      const server = parseServer(req.params.server ?? '', 'The server in the path') ?? '';
      const rule = requiredRule(req.query, this.deps.rules);
      const view = await this.deps.queries.server(server, rule);
      if (!view) throw new ApiError('not_found', `No configuration of server "${server}" is recorded for ${rule}.`);
      return json(200, view);
    });
  }

  /** GET|PUT|DELETE /api/baselines/{rule} */
  baselines(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      checkParams(req.query, []);
      const method = req.method.toUpperCase();
      const ruleId = (req.params.rule ?? '').trim();
      if (ruleId === '') throw new ApiError('invalid_baseline', `${method} needs a rule in the path: /api/baselines/{rule}.`);
      const { baselines } = this.deps;
      if (method === 'GET') {
        const b = await baselines.get(ruleId);
        if (!b) throw new ApiError('not_found', `No baseline is named for ${baselines.rule(ruleId).id}; drift is measured against the largest cluster.`);
        return json(200, baselineView(b));
      }
      if (method === 'PUT') {
        baselines.rule(ruleId);
        const { created, baseline } = await baselines.put(ruleId, await readJson(req));
        return json(created ? 201 : 200, baselineView(baseline));
      }
      if (method === 'DELETE') {
        const ended = await baselines.remove(ruleId);
        if (!ended) throw new ApiError('not_found', `No baseline is named for ${baselines.rule(ruleId).id}.`);
        return json(200, { ...baselineView(ended), cleared: true });
      }
      throw new ApiError('invalid_query', `/api/baselines/{rule} accepts GET, PUT and DELETE, not ${method}.`);
    });
  }
}
