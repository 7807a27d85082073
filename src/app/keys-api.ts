// HTTP for keeping every collector reachable (admin key), on the same auth, language and error
// mapping as the rest of the API (HttpApi.handle):
//   GET  /api/refused-servers                                       servers whose collector is refused
//   GET  /api/enrolments?state=pending|approved|denied               re-enrolment requests
//   POST /api/servers/{server}/enrolments/{request}/approve|deny     decide one
import { ApiError } from './errors';
import { adminServer, checkParams, invalidQuery, json, single, type ApiContext, type ApiRequest, type ApiResponse, type HttpApi } from './http-api';
import type { Reenrolment } from './reenrolment';

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DECISIONS = { approve: 'approved', deny: 'denied' } as const;
const STATES = ['pending', 'approved', 'denied'] as const;

export interface KeysApiDeps {
  readonly http: HttpApi;
  readonly reenrolment: Reenrolment;
}

export class KeysApi {
  constructor(private readonly deps: KeysApiDeps) {}

  /** GET /api/refused-servers */
  refusedServers(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      checkParams(req.query, []);
      return json(200, await this.deps.reenrolment.refusedServers());
    });
  }

  /** GET /api/enrolments?state= (default pending) */
  enrolments(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      checkParams(req.query, ['state']);
      const state = (single(req.query, 'state') ?? 'pending').toLowerCase();
      if (!(STATES as readonly string[]).includes(state)) throw invalidQuery(`"state" must be one of ${STATES.join(', ')}, not "${state.slice(0, 20)}".`);
      return json(200, await this.deps.reenrolment.requests(state as (typeof STATES)[number]));
    });
  }

  /** POST /api/servers/{server}/enrolments/{request}/{approve|deny} */
  decide(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
    return this.deps.http.handle(req, ctx, 'admin', async () => {
      checkParams(req.query, []);
      const server = adminServer(req);
      const requestId = req.params.request ?? '';
      if (!REQUEST_ID.test(requestId)) throw invalidQuery(`The request in the path must be a request id from GET /api/enrolments, not "${requestId.slice(0, 64)}".`);
      const decision = (req.params.decision ?? '').toLowerCase();
      if (!(decision in DECISIONS)) throw new ApiError('not_found', `There is no action "${decision.slice(0, 20)}"; use approve or deny.`);
      const decided = await this.deps.reenrolment.decide(server, requestId, DECISIONS[decision as keyof typeof DECISIONS], ctx);
      if (!decided) throw new ApiError('not_found', `There is no re-enrolment request "${requestId}" of ${server}.`);
      return json(200, decided);
    });
  }
}
