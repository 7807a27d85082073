// The core routes: snapshots in, the manifest and rule catalogue for collectors, the fleet's
// results, events and summary for readers, enrolment and server keys. Each method is one route's
// work after the route table's wrapper (serve-route.ts) checked the key and chose the language.
import type { Rule } from '../rules/types';
import { contractIssues } from '../snapshot/parse';
import { refusedToken } from '../store';
import type { Authorizer, Enrolment } from './enrolment';
import { enrolmentRequestSchema, serverOfFacts } from './enrolment';
import { ApiError } from './errors';
import {
  checkParams,
  clientAddress,
  echoed,
  etagListed,
  invalidQuery,
  json,
  parseEventStatuses,
  parseFlag,
  parseKindAndCauses,
  parseResultFilter,
  parseRule,
  parseServer,
  pathServer,
  parseSince,
  parseToken,
  parseTop,
  readJsonBody,
  readJsonText,
  single,
  type ApiResponse,
  type RouteCall,
} from './http-io';
import type { Ingest } from './ingest';
import type { LifecycleQueries } from './lifecycle-queries';
import type { Reenrolment } from './reenrolment';
import type { RemovalWarning } from './removal-leftovers';
import type { ServerNames } from './server-names';
import type { ServerRemoval } from './server-removal';
import { logRejectedSnapshot } from './snapshot-rejections';

export interface HttpApiDeps {
  readonly ingest: Ingest;
  /** The reads, with stale and waiver flags on them. */
  readonly queries: LifecycleQueries;
  readonly rules: readonly Rule[];
  readonly maxSnapshotBytes: number;
  /** For the per-server rate limit of enrolment. */
  readonly auth: Authorizer;
  readonly enrolment: Enrolment;
  /** Enrolment under the re-enrolment policy. */
  readonly reenrolment: Reenrolment;
  /** The server a key route names: posted or enrolled, by id or host name. */
  readonly keyNames: Pick<ServerNames, 'resolveOrSelf' | 'find'>;
  readonly removal: ServerRemoval;
  /** What still names a removed server (a drift baseline, waivers), as warnings for the removal's answer. */
  readonly namedAfterRemoval: (server: string) => Promise<readonly RemovalWarning[]>;
}

/** Longest `removedBy` (who removed a server), as long as a waiver's grantedBy may be. */
const MAX_REMOVED_BY = 200;

/** `reenrol`: allow (default) or deny the server's re-enrolment with the enrolment secret. */
function parseReenrol(q: URLSearchParams): 'allow' | 'deny' {
  const reenrol = single(q, 'reenrol') ?? 'allow';
  if (reenrol !== 'allow' && reenrol !== 'deny') throw invalidQuery(`"reenrol" must be allow or deny, not "${reenrol.slice(0, 20)}".`);
  return reenrol;
}

/** Largest enrolment request body (host facts only). */
const MAX_ENROL_BYTES = 16 * 1024;

export class HttpApi {
  constructor(private readonly deps: HttpApiDeps) {}

  /**
   * A snapshot: its body (the key was verified first, against the server's rows the wrapper read
   * or remembered), then ingest with those rows, so a steady post costs two round trips, not three
   * (one when the rows were remembered).
   */
  async postSnapshot({ req, lang, log, who, rows, recheck, remembered }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const bound = who?.kind === 'server' ? { server: who.server, keyTag: who.keyTag, rows, recheck, remembered } : undefined;
    try {
      const text = await readJsonText(req, { max: this.deps.maxSnapshotBytes, what: 'The snapshot', hint: 'send one snapshot as JSON' });
      const result = await this.deps.ingest.run(text, lang, log, bound);
      return json(result.outcome === 'accepted' ? 201 : 200, result);
    } catch (error) {
      // The key was the server's own: a refusal of what it sent is the server's to see.
      if (bound) logRejectedSnapshot(log, bound.server, error);
      throw error;
    }
  }

  /** The collection manifest, with an ETag so collectors can ask cheaply whether it changed. */
  async getManifest({ req }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const manifest = this.deps.queries.manifest();
    const etag = `"${manifest.version}"`;
    const headers = { ETag: etag, 'Cache-Control': 'no-cache' };
    const inm = req.headers.get('if-none-match');
    if (inm && etagListed(inm, etag, 'weak')) {
      return { status: 304, headers };
    }
    return json(200, manifest, headers);
  }

  async getRules({ req, lang }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    return json(200, this.deps.queries.rules(lang));
  }

  /**
   * The "server" filter, by id or host name, read after every other parameter is checked: a name no
   * server answers to is a 404, not an empty list that would read as nothing wrong with it; a
   * removed server's 404 says when and by whom.
   */
  async #resolved<F extends { server?: string }>(filter: F): Promise<F> {
    return filter.server === undefined ? filter : { ...filter, server: await this.deps.queries.resolveCountingServer(filter.server) };
  }

  /** Current results: server, rule, status, waived, since, top, continuationToken. */
  async getResults({ req, lang }: RouteCall): Promise<ApiResponse> {
    const q = req.query;
    checkParams(q, ['server', 'rule', 'status', 'waived', 'since', 'top', 'continuationToken']);
    const filter = parseResultFilter(q, this.deps.rules);
    const [top, token, waived] = [parseTop(q), parseToken(q), parseFlag(q, 'waived')];
    return json(200, await this.deps.queries.results(await this.#resolved(filter), top, token, lang, waived));
  }

  /** Status changes, waiver records and baseline records, newest first: kind, since, rule, status, server, cause, top, continuationToken. */
  async getEvents({ req, lang }: RouteCall): Promise<ApiResponse> {
    const q = req.query;
    checkParams(q, ['server', 'rule', 'status', 'since', 'cause', 'kind', 'top', 'continuationToken']);
    const causes = parseKindAndCauses(q);
    const filter = {
      server: parseServer(single(q, 'server'), '"server"'),
      ruleId: parseRule(q, this.deps.rules),
      statuses: parseEventStatuses(q),
      since: parseSince(q),
      causes,
    };
    const top = parseTop(q);
    const token = parseToken(q);
    // A removed server's events stay readable by its id or host name (its removal among them).
    const resolved = filter.server === undefined ? filter : { ...filter, server: (await this.deps.queries.resolveServerOrRemoved(filter.server)).server };
    // A kind and causes that exclude each other (kind=status&cause=waiver-created) select nothing:
    // one empty page, which hands out no token, so a token sent with it is none of its own.
    if (causes?.length === 0) {
      if (token !== undefined) throw refusedToken();
      return json(200, { items: [], continuationToken: null });
    }
    return json(200, await this.deps.queries.events(resolved, top, token, lang));
  }

  /** One server, by its id or the host name people know: host facts and every rule's result with evidence. */
  async getServer({ req, lang }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    // A removed server has no results: the 404 says when and by whom it was removed.
    const server = await this.deps.queries.resolveCountingServer(pathServer(req.params));
    const view = await this.deps.queries.server(server, lang);
    if (!view) throw new ApiError('not_found', `No snapshot from server "${server}" has been stored.`);
    return json(200, view);
  }

  /**
   * The counts, or with `only=countsPending` just whether changes are still waiting to be counted:
   * the views that list what the projector writes ask that alone, for one storage round trip.
   */
  async getSummary({ req, lang, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['only']);
    const only = single(req.query, 'only');
    if (only === undefined) return json(200, await this.deps.queries.summary(lang, log));
    if (only === 'countsPending') return json(200, await this.deps.queries.countsPending());
    throw invalidQuery(`The query parameter "only" must be countsPending, not ${echoed(only)}.`);
  }

  /** The enrolment secret and host facts → this server's key (201), or a request for approval (202). */
  async enroll({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const hint = 'send {"host": {"name": "<NetBIOS name>", "fqdn": "<optional fqdn>"}}';
    const doc = await readJsonBody(req, { max: MAX_ENROL_BYTES, what: 'The enrolment request', hint });
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: without the input zod's own message still tells a missing field (describeIssue).
    const parsed = enrolmentRequestSchema.safeParse(doc, { reportInput: true });
    if (!parsed.success) {
      throw new ApiError('invalid_enrolment', 'The enrolment request must be {"host": {"name": "<NetBIOS name>", "fqdn": "<optional fqdn>"}}.', contractIssues(parsed.error));
    }
    const server = serverOfFacts(parsed.data.host);
    const header = (name: string) => req.headers.get(name)?.trim() || undefined;
    const proofs = { currentKey: header('x-server-key'), claim: header('x-enrolment-claim'), request: header('x-enrolment-request') };
    // The enrolment secret is the whole fleet's: its holder must not be able to spend the
    // allowance the server's own collector needs to renew its key or collect an approved one.
    await this.deps.auth.limitUnlessProven(`enrol:${server}`, () => this.deps.reenrolment.proves(server, proofs));
    const { host, collector } = parsed.data;
    if (host.fqdn === undefined) await this.#refuseShadowing(server, host.name);
    const facts = {
      hostName: host.name,
      fqdn: host.fqdn,
      collector: collector?.name ? `${collector.name} ${collector.version ?? ''}`.trim() : undefined,
      source: clientAddress(req.headers),
    };
    const answer = await this.deps.reenrolment.enrol(server, facts, proofs, log);
    return json(answer.status, answer.body);
  }

  /**
   * A host name alone, where servers are known by FQDNs that begin with it, would make a new server
   * whose id is that name: every lookup by the name (key routes, waivers, the dashboard) would then
   * reach it instead of the real one. The host must send its FQDN.
   */
  async #refuseShadowing(server: string, name: string): Promise<void> {
    const match = await this.deps.keyNames.find(server);
    if (match.id === server) return;
    const known = match.id !== undefined ? [match.id] : match.candidates;
    if (known.length === 0) return;
    throw new ApiError('invalid_enrolment', `Servers named ${name} are known by their FQDN (${known.join(', ')}): enrol with "fqdn" too, so the key is bound to the right one.`);
  }

  /**
   * The server's key stops working at once and its re-enrolment requests are closed; with
   * reenrol=deny the enrolment secret cannot issue it a new one (until a rotation).
   */
  async revokeServerKey({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['reenrol']);
    const reenrol = parseReenrol(req.query);
    const server = await this.deps.keyNames.resolveOrSelf(pathServer(req.params));
    const out = await this.deps.enrolment.revoke(server, log, reenrol === 'deny');
    if (!out) throw new ApiError('not_found', `Server "${server}" has never enrolled.`);
    // `settled`: the re-enrolment requests the revocation closed (none of them yields a key now).
    return json(200, { server, revoked: out.revoked, settled: out.settled, reenrol });
  }

  /**
   * A decommissioned server leaves the fleet: its results, counts, drift, Hosts row and stale
   * marker go, its keys are revoked; its History and events stay. `removedBy` names who did it
   * (the audit record); reenrol=deny also refuses its re-enrolment, as for a revocation.
   */
  async removeServer({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, ['removedBy', 'reenrol']);
    // Trimmed, and refused when empty, by `single`.
    const removedBy = single(req.query, 'removedBy') ?? '';
    if (removedBy === '' || removedBy.length > MAX_REMOVED_BY) throw invalidQuery(`"removedBy" must name who removes the server (1 to ${MAX_REMOVED_BY} characters).`);
    const reenrol = parseReenrol(req.query);
    // As on the key routes, a name no server answers to stands for itself: a server removed
    // before is then told apart from one that never posted.
    const server = await this.deps.keyNames.resolveOrSelf(pathServer(req.params));
    const removed = await this.deps.removal.remove(server, removedBy, reenrol === 'deny', log);
    return json(200, { ...removed, reenrol, warnings: await this.deps.namedAfterRemoval(server) });
  }

  /** A new key (shown once); the old one is revoked. */
  async rotateServerKey({ req, log }: RouteCall): Promise<ApiResponse> {
    checkParams(req.query, []);
    const server = await this.deps.keyNames.resolveOrSelf(pathServer(req.params));
    return json(201, await this.deps.enrolment.issue(server, {}, 'admin-rotation', log));
  }
}
