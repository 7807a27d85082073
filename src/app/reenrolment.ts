// Enrolment under the re-enrolment policy (POSTURE_REENROLMENT), and what an admin needs to
// keep every collector reachable: the requests waiting for approval, and the servers refused.
//
// 'open' (default): the enrolment secret issues a key for any server, replacing the one it had.
// 'approval': for a server already enrolled (or that has posted before), the secret alone only
// files a request (202) with a claim for its requester; the key comes once an admin approves it
// and the requester comes back with the claim, or at once when the request carries the server's
// current key (a collector renewing its own key). A first enrolment needs nothing more.
import { randomBytes } from 'node:crypto';
import {
  backOff,
  ConcurrencyConflictError,
  keyRecordOf,
  MAX_REQUESTS_PER_SERVER,
  type EnrolmentRequest,
  type KeyAttention,
  type KeyPartition,
  type ReplacedReason,
  type RequestDecision,
  type ServerKeyStore,
} from '../store';
import type { ReenrolmentPolicy } from './settings';
import { audit, blockedError, hashSecret, logRefusal, parseServerKey, secretMatches, type Enrolment, type IssuedKey } from './enrolment';
import { compareVersions } from '../rules/rule-set-order';
import { ApiError } from './errors';
import type { AlertLog } from './alert-log';
import { LOG_RECORDS } from './log-records';
import { NeverPosted } from './never-posted';
import { isoInstant as iso } from './iso-time';

/** A request not claimed within this time is void; the collector files a new one. */
export const REQUEST_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Most rows one admin listing reads. */
export const MAX_LISTED = 5000;
const ATTEMPTS = 6;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** An enrolment's request secret: at least 128 random bits, base64url. */
const REQUEST_SECRET = /^[A-Za-z0-9_-]{22,128}$/;

/** A request secret as a key or a request keeps it: base64 salt and HMAC, never the secret itself. */
export interface SealedRequestSecret {
  readonly requestSalt: string;
  readonly requestHash: string;
}

/** Seals a request secret for storage, under a salt of its own. */
export function sealRequestSecret(secret: string): SealedRequestSecret {
  const salt = randomBytes(16);
  return { requestSalt: salt.toString('base64'), requestHash: hashSecret(salt, secret).toString('base64') };
}

/**
 * Whether `secret` is the request secret a key or a request keeps (in constant time); false when it
 * keeps none. The one check of a request secret: what a match then proves is each caller's to say.
 */
function keepsRequestSecret(kept: { readonly requestSalt?: string; readonly requestHash?: string }, secret: string): boolean {
  return kept.requestHash !== undefined && secretMatches(kept.requestSalt ?? '', kept.requestHash, secret);
}

export interface EnrolmentFacts {
  readonly hostName: string;
  readonly fqdn?: string;
  /** "<name> <version>" of the collector, when it said. */
  readonly collector?: string;
  /** The client address the front end reported (the last X-Forwarded-For entry), for the admin who decides. */
  readonly source?: string;
}

/** Proofs a re-enrolment may carry besides the enrolment secret. */
export interface EnrolmentProofs {
  /** The server's current key (header x-server-key). */
  readonly currentKey?: string;
  /** The claim a 202 answer handed out (header x-enrolment-claim). */
  readonly claim?: string;
  /**
   * A secret the caller made for this enrolment and sends again with each resend of it (header
   * x-enrolment-request): a resend of a first enrolment whose answer was lost gets the key again.
   */
  readonly request?: string;
}

export interface PendingEnrolment {
  readonly server: string;
  readonly status: 'pending';
  readonly requestId: string;
  /** Only in the answer that filed the request: what the requester sends back to collect its key. */
  readonly claim?: string;
  readonly requestedAt: string;
  readonly message: string;
}

export type EnrolmentAnswer = { readonly status: 201; readonly body: IssuedKey } | { readonly status: 202; readonly body: PendingEnrolment };

export interface ReenrolmentDeps {
  readonly enrolment: Enrolment;
  readonly keyStore: ServerKeyStore;
  readonly policy: ReenrolmentPolicy;
  /** Whether the server has posted before (a row in its Results partition, removal markers included): storage that lost a key must not make it look new. */
  readonly hasPosted: (server: string) => Promise<boolean>;
  /**
   * Whether the server's rows were committed after `since` (a post, or a re-evaluation, which
   * errs on the safe side), or carry a key tag (a key posted since its keys last changed).
   */
  readonly committedSince: (server: string, since: number) => Promise<boolean>;
  readonly clock: () => number;
}

/**
 * The first collector release that keeps its request secret across runs. An older one made a new
 * secret each run, so its resend at the next run after a lost answer carries another secret.
 */
export const SECRET_KEEPING_COLLECTOR = '1.1.0';
/** "<name> <version>" as a request records it: whether that collector keeps its request secret. */
const keepsItsSecret = (collector: string): boolean => {
  const version = collector.split(' ').at(-1)!;
  return /^\d+(\.\d+)*$/.test(version) && compareVersions(version, SECRET_KEEPING_COLLECTOR) >= 0;
};
const collectorName = (collector: string | undefined) => collector?.split(' ')[0];

/**
 * Whether a request filed again is the repeat of `r` by the same requester. The facts shown to the
 * admin prove nothing (anyone holding the enrolment secret can send them, and from the
 * collector's own network its address too), so a request whose collector keeps its request secret
 * is repeated only by that secret, from any address and after an upgrade (one that came without a
 * secret only by another without one). One made by an older collector (no secret, or a new one
 * each run) is repeated by a request that repeats its facts: host name, fqdn, collector and source
 * address (the collector's version aside, so that an upgrade's first run replaces the request its
 * last run filed).
 */
const sameRequester = (r: EnrolmentRequest, facts: EnrolmentFacts, secret: string | undefined) => {
  // The 1.0 collector named no collector at all: its request is repeated by any (its upgrade's first run).
  const sameCollector = r.collector === undefined || collectorName(r.collector) === collectorName(facts.collector);
  const sameFacts = r.hostName === facts.hostName && r.fqdn === facts.fqdn && sameCollector && r.source === facts.source;
  if (r.collector === undefined || !keepsItsSecret(r.collector)) return sameFacts;
  if (r.requestHash === undefined) return secret === undefined && sameFacts;
  return secret !== undefined && keepsRequestSecret(r, secret);
};

export function requestView(r: EnrolmentRequest, now: number) {
  return {
    server: r.server,
    requestId: r.requestId,
    state: now - r.requestedAt > REQUEST_TTL_MS ? 'expired' : r.state,
    requestedAt: iso(r.requestedAt),
    decidedAt: r.decidedAt === undefined ? null : iso(r.decidedAt),
    hostName: r.hostName ?? null,
    fqdn: r.fqdn ?? null,
    collector: r.collector ?? null,
    source: r.source ?? null,
  };
}

export class Reenrolment {
  readonly #neverPosted: NeverPosted;
  constructor(private readonly deps: ReenrolmentDeps) {
    this.#neverPosted = new NeverPosted({
      awaitingFirstPost: (to, unmarkedFrom, max) => deps.keyStore.keysAwaitingFirstPost(to, unmarkedFrom, max),
      hasPosted: deps.hasPosted,
      markPosted: (server) => deps.keyStore.markPosted(server),
      markNotPosted: (server, etag) => deps.keyStore.markNotPosted(server, etag),
    });
  }

  /** Enrols `server` under the policy: a key (201), or a request waiting for an admin (202). */
  async enrol(server: string, facts: EnrolmentFacts, proofs: EnrolmentProofs, log: AlertLog): Promise<EnrolmentAnswer> {
    const { enrolment, keyStore, policy } = this.deps;
    if (proofs.request !== undefined && !REQUEST_SECRET.test(proofs.request)) {
      throw new ApiError('invalid_enrolment', 'The x-enrolment-request header must be 22 to 128 letters, digits, dashes or underscores: a random secret made once per enrolment and sent again with each resend of it.');
    }
    const started = this.deps.clock();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const basis = await keyStore.keyPartition(server);
      if (basis.head?.blocked) {
        logRefusal(log, server, 'enrolment-blocked');
        throw blockedError(server);
      }
      try {
        // Every key an enrolment issues keeps its request secret: the answer to a renewal or to an
        // approved claim can be lost as well as a first enrolment's, and only its caller can resend it.
        const issue = async (grant?: 'current-key' | 'admin-approval' | 'same-request', requestAt?: number): Promise<EnrolmentAnswer> => ({
          status: 201,
          body: await enrolment.issue(server, { hostName: facts.hostName, fqdn: facts.fqdn }, 'enrolment', log, {
            basis,
            grant,
            request: proofs.request === undefined ? undefined : sealRequestSecret(proofs.request),
            requestAt,
          }),
        });
        const enrolled = basis.head !== undefined || (policy === 'approval' && (await this.deps.hasPosted(server)));
        if (!enrolled) return await issue();
        const repeat = proofs.request === undefined ? undefined : await this.#repeatOf(basis, proofs.request, started);
        if (repeat === 'superseded') {
          throw new ApiError('enrolment_superseded', `A later attempt of this enrolment of ${server} (the same x-enrolment-request) got a key while this one waited; this attempt issues none, and the key that attempt got stays valid.`);
        }
        if (repeat !== undefined) return await issue('same-request', repeat.requestAt);
        if (policy === 'open') return await issue();
        if (proofs.currentKey !== undefined) {
          if (!this.#isCurrentKey(basis, proofs.currentKey)) {
            throw new ApiError('forbidden', `The key in x-server-key is not the current key of ${server}; without it an admin must approve the re-enrolment.`);
          }
          return await issue('current-key');
        }
        const claimed = proofs.claim !== undefined ? this.#claimed(basis, proofs.claim) : proofs.request !== undefined ? this.#decidedFor(basis, proofs.request) : undefined;
        if (claimed?.state === 'approved') return await issue('admin-approval');
        if (claimed?.state === 'denied') {
          logRefusal(log, server, 'enrolment-denied', { requestId: claimed.requestId });
          throw new ApiError('forbidden', `An admin denied the re-enrolment request ${claimed.requestId} of ${server}; ask an admin to approve a new one or rotate its key.`);
        }
        if (claimed) return { status: 202, body: pending(claimed) };
        return { status: 202, body: await this.#request(server, facts, basis, log, proofs.request) };
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        // Another enrolment of this server changed its keys: decide again on what is there now.
        await backOff(attempt, 20);
      }
    }
    throw new ConcurrencyConflictError(`Keys of ${server} stayed contended.`);
  }

  /**
   * Whether the proofs show the request comes from the server's own collector: its current key,
   * the claim of one of its live requests, or the request secret of the enrolment whose answer it
   * lost. The enrolment rate limit asks this once the allowance the secret alone spends is gone.
   * Returns what was proven (the key, or the request), so that each proof is limited on its own;
   * undefined when nothing was.
   */
  async proves(server: string, proofs: EnrolmentProofs): Promise<string | undefined> {
    const { currentKey, claim, request } = proofs;
    if (currentKey === undefined && claim === undefined && request === undefined) return undefined;
    const basis = await this.deps.keyStore.keyPartition(server);
    // The holder of the current key, or of the request secret that issued it, is the server's
    // collector, whose every renewal makes a new key: one bucket for it, named by nothing a renewal
    // changes. A claim names a request, which renewals do not touch.
    if (currentKey !== undefined && this.#isCurrentKey(basis, currentKey)) return 'collector';
    let claimed: EnrolmentRequest | undefined;
    try {
      // Stryker disable next-line ConditionalExpression: #claimed throws on no claim at all, which the catch takes as no proof, as this guard does.
      claimed = claim === undefined ? undefined : this.#claimed(basis, claim);
    } catch {
      // A claim refused proves nothing.
    }
    if (claimed !== undefined) return `request:${claimed.requestId}`;
    // The secret of a pending request proves nothing here: anyone holding the enrolment secret can
    // file requests with secrets of its own, and each would bring an allowance of its own. Once an
    // admin decided the request, its secret stands for its lost claim, with the claim's allowance.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a test of undefined reads the text "undefined", no request secret; and since no key or request keeps a secret not well formed, the lookups below find nothing for one either.
    if (request === undefined || !REQUEST_SECRET.test(request)) return undefined;
    const decided = this.#decidedFor(basis, request);
    if (decided !== undefined) return `request:${decided.requestId}`;
    return (await this.#repeatOf(basis, request, this.deps.clock())) !== undefined ? 'collector' : undefined;
  }

  /** Whether the key in x-server-key is this server's active key, as the partition read shows. */
  #isCurrentKey(basis: KeyPartition, presented: string): boolean {
    const key = parseServerKey(presented);
    if (!key || key.server !== basis.server || key.keyId !== basis.head?.currentKeyId) return false;
    const row = basis.rows.find((r) => r.rowKey === key.keyId);
    const record = row && keyRecordOf(row);
    return record?.status === 'active' && secretMatches(record.salt, record.hash, key.secret);
  }

  /**
   * Whether this enrolment resends the enrolment that issued the server's current key: the key
   * carries that enrolment's request secret, which only its caller knows (the fleet's enrolment
   * secret, shared by every server, proves nothing here). Its answer was lost, since a caller that
   * got the key would not enrol again: the key nobody holds is replaced, keeping the time of the
   * enrolment's first key. Not once the key has posted (it reached its caller, so the secret is
   * spent), nor past the time a re-enrolment request stays open from that first key (a collector
   * resends within its run, or at its next run). 'superseded': a later attempt of this enrolment
   * got the key while this one waited (a slow attempt its caller stopped waiting for), so this one
   * must not replace the key its caller now holds.
   */
  async #repeatOf(basis: KeyPartition, request: string, started: number): Promise<{ requestAt: number } | 'superseded' | undefined> {
    const row = basis.rows.find((r) => r.rowKey === basis.head?.currentKeyId);
    const key = row && keyRecordOf(row);
    if (key?.status !== 'active' || !keepsRequestSecret(key, request)) return undefined;
    if (key.issuedAt > started) return 'superseded';
    const requestAt = key.requestAt ?? key.issuedAt;
    if (this.deps.clock() - requestAt > REQUEST_TTL_MS || (await this.deps.committedSince(basis.server, key.issuedAt))) return undefined;
    return { requestAt };
  }

  /**
   * The live request a claim names, after checking its secret; undefined when it is gone or expired
   * (a new one is filed). A request in a state this version does not know is refused (409), so the
   * requester keeps its claim and asks again, perhaps of an instance that knows the state.
   */
  #claimed(basis: KeyPartition, claim: string): EnrolmentRequest | undefined {
    const [requestId, secret, extra] = claim.split('.');
    if (!requestId || !secret || extra !== undefined || !B64URL.test(requestId) || !B64URL.test(secret)) {
      throw new ApiError('invalid_query', 'The x-enrolment-claim header must be the claim a 202 answer of enrolment handed out, unchanged.');
    }
    // A request a revocation closed is told as such (409), not silently re-filed: the requester
    // learns that an admin revoked the server's keys after it asked.
    const closed = basis.replaced.filter((r) => r.replaced?.reason === 'revoked');
    const request = [...basis.requests, ...basis.unknown, ...closed].find((r) => r.requestId === requestId);
    if (!request || this.deps.clock() - request.requestedAt > REQUEST_TTL_MS) return undefined;
    if (!secretMatches(request.claimSalt, request.claimHash, secret)) {
      throw new ApiError('forbidden', `The claim does not belong to re-enrolment request ${requestId} of ${basis.server}.`);
    }
    if (request.state === 'unknown') throw unknownState(request, 'collected');
    if (request.state === 'replaced') throw closedByRevocation(request);
    return request;
  }

  /**
   * The decided request this request secret filed, while it lasts: the 202 answer that handed out
   * its claim can be lost, and the resend carries only the secret. It gets what the decision gave,
   * as its claim would (the key settles the request, so an approval yields one key). A pending one
   * is undefined: the resend files a request in its place, whose claim it then holds.
   */
  #decidedFor(basis: KeyPartition, secret: string): EnrolmentRequest | undefined {
    const now = this.deps.clock();
    return basis.requests.find(
      (r) => r.state !== 'pending' && now - r.requestedAt <= REQUEST_TTL_MS && keepsRequestSecret(r, secret),
    );
  }

  async #request(server: string, facts: EnrolmentFacts, basis: KeyPartition, log: AlertLog, requestSecret: string | undefined): Promise<PendingEnrolment> {
    const requestId = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const request: EnrolmentRequest = {
      server,
      requestId,
      claimSalt: salt.toString('base64'),
      claimHash: hashSecret(salt, secret).toString('base64'),
      state: 'pending',
      requestedAt: this.deps.clock(),
      hostName: facts.hostName,
      fqdn: facts.fqdn,
      collector: facts.collector,
      source: facts.source,
      ...(requestSecret === undefined ? {} : sealRequestSecret(requestSecret)),
    };
    // A requester whose answer was lost (a timeout) asks again without a claim. Its earlier pending
    // request is one the admin could not tell from the new one, and one whose claim nobody holds:
    // approving it would strand the requester. The new request takes its place.
    const repeats = basis.requests.filter((r) => r.state === 'pending' && sameRequester(r, facts, requestSecret));
    await this.deps.keyStore.addRequest(request, basis, repeats);
    audit(log, LOG_RECORDS.reenrolmentRequested, {
      server,
      requestId,
      hostName: facts.hostName,
      fqdn: facts.fqdn ?? null,
      collector: facts.collector ?? null,
      source: facts.source ?? null,
      replaces: repeats.map((r) => r.requestId).join(',') || null,
    });
    return { ...pending(request), claim: `${requestId}.${secret}` };
  }

  /**
   * An admin's decision on a request: the request as it stands (an earlier decision stands), or
   * undefined when there is no such request. Only the decision that changed it is audited. A
   * request a newer one or a new key replaced (also while this decision was on its way) is a
   * conflict: the decision would be on a request nobody can collect any more. So is a request in
   * a state this version does not know: what deciding it would mean is not known here.
   */
  async decide(server: string, requestId: string, decision: RequestDecision, log: AlertLog) {
    const decided = await this.deps.keyStore.decideRequest(server, requestId, decision, this.deps.clock(), REQUEST_TTL_MS);
    if (!decided) return undefined;
    if (decided.request.state === 'unknown') throw unknownState(decided.request, decision);
    const replaced = decided.request.replaced;
    if (replaced) throw new ApiError('request_replaced', `The re-enrolment request "${requestId}" of ${server} ${REPLACED_WHY[replaced.reason](replaced.by)}.`);
    if (decided.decidedNow) audit(log, LOG_RECORDS.reenrolmentDecided, { server, requestId, decision: decided.request.state });
    return requestView(decided.request, this.deps.clock());
  }

  /** Re-enrolment requests of the fleet in one state, newest first. */
  async requests(state: 'pending' | RequestDecision) {
    const now = this.deps.clock();
    const { requests, truncated } = await this.deps.keyStore.listRequests(state, MAX_LISTED);
    const live = requests.filter((r) => now - r.requestedAt <= REQUEST_TTL_MS).sort((a, b) => b.requestedAt - a.requestedAt);
    return { items: live.map((r) => requestView(r, now)), truncated };
  }

  /**
   * Servers whose collector cannot post now, or was refused: no active key (revoked, not enrolled
   * again), enrolment blocked, re-enrolment waiting for approval, a revoked key refused since the
   * current key was issued, or an active key issued more than two hours ago to a server none of
   * whose snapshots has been stored (a collector that never ran, or whose every snapshot was
   * refused: such a server has no results, so it is in no count and cannot go stale). Collectors
   * refused with a key the service has no record of, and collectors that stopped trying after
   * posting, show as stale servers.
   */
  async refusedServers() {
    const now = this.deps.clock();
    const [{ servers, truncated }, silent] = await Promise.all([this.deps.keyStore.listAttention(MAX_LISTED), this.#neverPosted.find(now)]);
    const attention = new Map(servers.map((s) => [s.server, s]));
    const issued = new Map(silent.servers.map((s) => [s.server, s.issuedAt]));
    // Stryker disable next-line ArrayDeclaration: whatever stood in this list has no request time, so it is never live and never shown.
    for (const server of issued.keys()) if (!attention.has(server)) attention.set(server, { server, requests: [] });
    const items = [...attention.values()].map((s) => refusedView(s, issued.get(s.server), now)).filter((s) => s.reasons.length > 0);
    // Stryker disable next-line EqualityOperator: the servers are the keys of a map, so never equal, and `<=` orders them the same.
    items.sort((a, b) => (a.server < b.server ? -1 : 1));
    return { items, truncated: truncated || silent.truncated };
  }

  /**
   * For readers: the servers given a key more than two hours ago that have posted nothing since,
   * oldest key first (the refused-servers listing's never-posted ones, without the admin's detail).
   */
  async neverPostedServers() {
    const { servers, truncated } = await this.#neverPosted.find(this.deps.clock());
    return { items: servers.map((s) => ({ server: s.server, keyIssuedAt: iso(s.issuedAt) })), truncated };
  }

  /** The stale-hosts timer's part: one FleetPosture.ServerNeverPosted record per server listed never-posted. */
  async logNeverPosted(log: AlertLog): Promise<{ neverPosted: number; neverPostedAtLeast: boolean }> {
    const { servers, truncated } = await this.#neverPosted.find(this.deps.clock(), { mark: true });
    for (const s of servers) audit(log, LOG_RECORDS.serverNeverPosted, { server: s.server, keyIssuedAt: iso(s.issuedAt) });
    return { neverPosted: servers.length, neverPostedAtLeast: truncated };
  }
}

/** Why a decision on a replaced request decides nothing, and what to do instead (the end of one sentence). */
const REPLACED_WHY: Readonly<Record<ReplacedReason, (by: string) => string>> = {
  repeat: (by) => `was replaced by the newer request "${by}" of the same requester before this decision took effect, so nothing was decided; decide on the newer one`,
  limit: (by) =>
    `gave way to the newer request "${by}" (a server keeps at most ${MAX_REQUESTS_PER_SERVER} open requests) before this decision took effect, so nothing was decided; the requester can file a new request`,
  key: (by) => `was settled by the key "${by}" issued to the server before this decision took effect, so nothing was decided; the requester can file a new request`,
  revoked: (at) => `was closed when an admin revoked the keys of the server at ${at}, before this decision took effect, so nothing was decided; the requester can file a new request`,
};

/** A claim of a request a revocation closed (which names when): it yields no key, and the requester may ask anew. */
const closedByRevocation = (r: EnrolmentRequest) =>
  new ApiError(
    'request_closed',
    `The re-enrolment request "${r.requestId}" of ${r.server} was closed when an admin revoked the keys of the server at ${r.replaced!.by}, so it yields no key; enrol again without the claim to file a new request.`,
  );

/** A request in a state this version does not know (a newer version wrote it): nobody here acts on it. */
const unknownState = (r: EnrolmentRequest, action: RequestDecision | 'collected') =>
  new ApiError(
    'unknown_request_state',
    `The re-enrolment request "${r.requestId}" of ${r.server} is in the state "${(r.unknownState ?? '').slice(0, 40)}", which this version of the service does not know, so it cannot be ${action} here and nothing was changed.`,
  );

function pending(r: EnrolmentRequest): PendingEnrolment {
  return {
    server: r.server,
    status: 'pending',
    requestId: r.requestId,
    requestedAt: iso(r.requestedAt),
    message: `The re-enrolment of ${r.server} waits for an admin's approval (request ${r.requestId}); enrol again with the claim in x-enrolment-claim to collect the key once approved.`,
  };
}

function refusedView(s: KeyAttention, neverPostedSince: number | undefined, now: number) {
  const live = s.requests.filter((r) => now - r.requestedAt <= REQUEST_TTL_MS);
  const reasons: string[] = [];
  if (s.head && s.head.currentKeyId === '') reasons.push('no-active-key');
  if (s.head?.blocked) reasons.push('enrolment-blocked');
  if (live.some((r) => r.state === 'pending')) reasons.push('approval-pending');
  if (live.some((r) => r.state === 'denied')) reasons.push('enrolment-denied');
  if (s.refusal) reasons.push(`key-${s.refusal.reason}`);
  if (neverPostedSince !== undefined) reasons.push('never-posted');
  return {
    server: s.server,
    reasons,
    keyRevokedAt: s.head && s.head.currentKeyId === '' ? iso(s.head.updatedAt) : null,
    keyIssuedAt: neverPostedSince !== undefined ? iso(neverPostedSince) : null,
    lastRefusal: s.refusal ? { at: iso(s.refusal.refusedAt), reason: s.refusal.reason, keyId: s.refusal.keyId } : null,
    requests: live.map((r) => requestView(r, now)),
  };
}
