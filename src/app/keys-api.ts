// The routes that keep every collector reachable (admin key): the servers whose collector is
// refused, the re-enrolment requests, and an admin's decision on one.
import { ApiError } from './errors';
import { checkParams, invalidQuery, json, pathServer, single, type ApiResponse, type RouteCall } from './http-io';
import type { Reenrolment } from './reenrolment';
import type { ServerNames } from './server-names';

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DECISIONS = { approve: 'approved', deny: 'denied' } as const;
const STATES = ['pending', 'approved', 'denied'] as const;

export interface KeysApiDeps {
  readonly reenrolment: Reenrolment;
  /** The server a key route names: posted or enrolled, by id or host name. */
  readonly keyNames: Pick<ServerNames, 'resolveOrSelf'>;
}

export class KeysApi {
  constructor(private readonly deps: KeysApiDeps) {}

  /** Servers whose collector is refused: no active key, enrolment blocked or denied, approval pending, a revoked key refused. */
  async refusedServers({ req }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    return json(200, await this.deps.reenrolment.refusedServers());
  }

  /** Re-enrolment requests by state (default pending). */
  async enrolments({ req }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['state']);
    const state = (single(req.query, 'state') ?? 'pending').toLowerCase();
    if (!(STATES as readonly string[]).includes(state)) throw invalidQuery(`"state" must be one of ${STATES.join(', ')}, not "${state.slice(0, 20)}".`);
    return json(200, await this.deps.reenrolment.requests(state as (typeof STATES)[number]));
  }

  /** Approve or deny one re-enrolment request. */
  async decide({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const name = pathServer(req.params);
    const requestId = req.params.request ?? '';
    if (!REQUEST_ID.test(requestId)) throw invalidQuery(`The request in the path must be the id of a re-enrolment request, not "${requestId.slice(0, 64)}".`);
    const decision = (req.params.decision ?? '').toLowerCase();
    // Own keys only: `in` would also find what every object inherits (constructor, __proto__).
    if (!Object.hasOwn(DECISIONS, decision)) throw new ApiError('not_found', `There is no action "${decision.slice(0, 20)}"; use approve or deny.`);
    const server = await this.deps.keyNames.resolveOrSelf(name);
    const wanted = DECISIONS[decision as keyof typeof DECISIONS];
    const decided = await this.deps.reenrolment.decide(server, requestId, wanted, log);
    if (!decided) throw new ApiError('not_found', `There is no re-enrolment request "${requestId}" of ${server}.`);
    // The first decision stands. Deciding it the same way again is harmless (200); the other way
    // would read as done when it is not: a deny after an approval must not look like a block.
    if (decided.state === 'expired') {
      throw new ApiError('request_closed', `The re-enrolment request "${requestId}" of ${server} has expired and cannot be ${wanted} now; the server's next enrolment files a new request.`);
    }
    if (decided.state !== wanted) {
      const then = decided.state === 'approved' ? 'to shut the server out, revoke its key with reenrol=deny' : 'the requester can file a new request';
      throw new ApiError('already_decided', `The re-enrolment request "${requestId}" of ${server} was already ${decided.state} at ${decided.decidedAt ?? 'an earlier time'} and cannot be ${wanted} now; ${then}.`);
    }
    return json(200, decided);
  }
}
