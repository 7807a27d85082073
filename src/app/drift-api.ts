// The fleet drift routes (keys and language are the route table's wrapper's):
//   drift?rule=&top=&continuationToken=      reader   configurations as clusters, largest first
//   servers/{server}/drift?rule=             reader   one server against the baseline or the largest cluster
//   baselines/{rule}  GET|PUT|DELETE         admin    the rule's baseline server (audited; ETag, If-Match)
import type { Rule } from '../rules/types';
import { baselineView, noBaselineView } from './baseline-body';
import type { Baselines } from './baselines';
import type { DriftQueries } from './drift-queries';
import { ApiError } from './errors';
import { createOnlyOf, ifMatchOf, revisionEtag } from './preconditions';
import { checkParams, json, parseRule, parseToken, parseTop, pathServer, readJsonBody, type ApiResponse, type RouteCall } from './http-io';

export interface DriftApiDeps {
  readonly queries: DriftQueries;
  readonly baselines: Baselines;
  readonly rules: readonly Rule[];
  /** The server a path names: its id, or the host name people know (as the other server routes take it); a removed one is a 404 saying so. */
  readonly resolveServer: (name: string) => Promise<string>;
}

const BASELINE_BODY = { max: 4 * 1024, what: 'A baseline', hint: 'send {"server": "<server id>", "setBy": "<who>"}' } as const;

/** The drift rule a query names; a rule without configuration facts is a 400 before anything is read, whatever else the request names. */
function requiredRule(q: URLSearchParams, rules: readonly Rule[], queries: DriftQueries): string {
  const rule = parseRule(q, rules);
  if (rule === undefined) throw new ApiError('invalid_query', 'Drift is per rule: give "rule", e.g. ?rule=mcafee-port25-blocked.');
  return queries.ruleWithFacts(rule).id;
}

export class DriftApi {
  constructor(private readonly deps: DriftApiDeps) {}

  /** The rule's configurations as clusters: rule, top, continuationToken. */
  async fleet({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['rule', 'top', 'continuationToken']);
    const rule = requiredRule(req.query, this.deps.rules, this.deps.queries);
    const { entitiesRead, ...body } = await this.deps.queries.fleet(rule, parseTop(req.query), parseToken(req.query), log);
    // What the answer cost in storage, for operators watching a large fleet.
    return json(200, body, { 'X-Entities-Read': String(entitiesRead) });
  }

  /** One server's configuration against its reference: rule. */
  async server({ req }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['rule']);
    const rule = requiredRule(req.query, this.deps.rules, this.deps.queries);
    const server = await this.deps.resolveServer(pathServer(req.params));
    const view = await this.deps.queries.server(server, rule);
    if (!view) throw new ApiError('not_found', `No configuration of server "${server}" is recorded for ${rule}.`);
    return json(200, view);
  }

  /** GET reads the rule's baseline; PUT names it; DELETE clears it. Each answer's ETag is the baseline's revision. */
  async baselines({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const method = req.method.toUpperCase();
    const ruleId = (req.params.rule ?? '').trim();
    const { baselines } = this.deps;
    if (method === 'GET') {
      // No baseline is an answer too (server null): the rule's drift is then measured against its largest cluster.
      const b = await baselines.get(ruleId);
      const view = b && b.server !== '' ? baselineView(b) : noBaselineView(baselines.rule(ruleId).id, b?.revision);
      return json(200, view, { ETag: revisionEtag(view) });
    }
    // Two admins changing one baseline: the one whose If-Match is no longer the baseline's ETag is
    // refused; two naming one where none was, with If-None-Match: *, the second is.
    const precondition = ifMatchOf(req);
    if (method === 'PUT') {
      baselines.rule(ruleId);
      const createOnly = createOnlyOf(req);
      const { created, baseline } = await baselines.put(ruleId, await readJsonBody(req, BASELINE_BODY), log, precondition, createOnly);
      return json(created ? 201 : 200, baselineView(baseline), { ETag: revisionEtag(baseline) });
    }
    if (method === 'DELETE') {
      const ended = await baselines.remove(ruleId, log, precondition);
      if (!ended) throw new ApiError('not_found', `No baseline is named for ${baselines.rule(ruleId).id}.`);
      return json(200, { ...baselineView(ended), cleared: true }, { ETag: revisionEtag(ended) });
    }
    throw new ApiError('invalid_query', `The baselines route accepts GET, PUT and DELETE, not ${method}.`);
  }
}
