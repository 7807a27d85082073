// The rows of one server's ServerKeys partition besides its keys, and the partition as read:
//   '~head'            the current key id, whether an admin blocked enrolment, whether the server
//                      has posted (Posted; heads of earlier versions lack it until the stale-hosts
//                      run gives it); its ETag serialises every change of the server's keys
//   '~request.<id>'    a re-enrolment waiting for (or given, or refused) an admin's approval, or
//                      one a newer request or a new key replaced (kept until the next change of
//                      the requests, so an admin deciding on it meanwhile learns what happened)
//   '~refused'         the last time a genuine but revoked key of the server was refused, or,
//                      once a new key answered it, marked cleared (kept, never deleted: a delete
//                      in a transaction sends no ETag, and would lose a refusal recorded meanwhile)
// Key rows have base64url row keys, which all sort below '~': one range holds the special rows.
import { dateTime, ms, str } from './columns';
import { encodeKey } from './keys';

export const HEAD_ROW = '~head';
export const REFUSED_ROW = '~refused';
export const REQUEST_PREFIX = '~request.';
/** Row keys at or above this are special rows, not keys. */
export const SPECIAL_ROWS_FROM = '~';

export type Row = Record<string, unknown>;

export const isKeyRow = (r: Row): boolean => !String(r.rowKey).startsWith(SPECIAL_ROWS_FROM);

/**
 * The states this version knows. A row may hold another, written by a newer version (during a
 * rolling deploy, or after a downgrade): it reads as 'unknown' and is acted on by no one here.
 */
export type RequestState = 'pending' | 'approved' | 'denied' | 'replaced';
/** An admin's decision on a pending request. */
export type RequestDecision = 'approved' | 'denied';
/**
 * Why a request was replaced: the same requester asked again, the server had too many open, a new
 * key was issued to the server (which settles every request it had), or an admin revoked the
 * server's keys (which closes every request it had, so none yields a key after the revocation).
 */
export type ReplacedReason = 'repeat' | 'limit' | 'key' | 'revoked';

export interface EnrolmentRequest {
  readonly server: string;
  readonly requestId: string;
  /** base64 salt and HMAC-SHA256(salt, claim secret): the requester proves with the secret that it is the requester. */
  readonly claimSalt: string;
  readonly claimHash: string;
  readonly state: RequestState | 'unknown';
  /** Set when state is 'unknown': the State column as stored. */
  readonly unknownState?: string;
  readonly requestedAt: number;
  readonly decidedAt?: number;
  readonly hostName?: string;
  readonly fqdn?: string;
  readonly collector?: string;
  /** The client address the request came from, as the front end reported it (the last X-Forwarded-For entry). */
  readonly source?: string;
  /**
   * The requester's x-enrolment-request secret, as base64 salt and HMAC: the facts above are the
   * requester's own word, so only this proves that a request filed again comes from the same caller.
   */
  readonly requestSalt?: string;
  readonly requestHash?: string;
  /**
   * Set when state is 'replaced': the request that took its place (for reason 'key', the key id;
   * for 'revoked', the time of the revocation as an ISO date), and why.
   */
  readonly replaced?: { readonly by: string; readonly reason: ReplacedReason };
  readonly etag?: string;
}

export interface KeyRefusal {
  readonly server: string;
  readonly keyId: string;
  /** 'replaced' or 'revoked' (the key's own revocation reason). */
  readonly reason: string;
  readonly refusedAt: number;
}

export interface KeyHead {
  readonly currentKeyId: string;
  readonly blocked: boolean;
  readonly updatedAt: number;
  readonly etag: string;
}

export function requestToEntity(r: EnrolmentRequest) {
  return {
    partitionKey: encodeKey(r.server),
    rowKey: REQUEST_PREFIX + r.requestId,
    Server: r.server,
    RequestId: r.requestId,
    ClaimSalt: r.claimSalt,
    ClaimHash: r.claimHash,
    State: r.state === 'unknown' ? (r.unknownState ?? '') : r.state,
    RequestedAt: dateTime(r.requestedAt),
    HostName: r.hostName ?? '',
    Fqdn: r.fqdn ?? '',
    Collector: r.collector ?? '',
    Source: r.source ?? '',
    ...(r.requestHash === undefined ? {} : { RequestSalt: r.requestSalt ?? '', RequestHash: r.requestHash }),
    ...(r.decidedAt === undefined ? {} : { DecidedAt: dateTime(r.decidedAt) }),
    ...(r.replaced === undefined ? {} : replacedColumns(r.replaced.by, r.replaced.reason)),
  };
}

const replacedColumns = (by: string, reason: ReplacedReason) => ({ ReplacedBy: by, ReplacedReason: reason });

/** The merge that marks request `r` replaced by `by` (for an update under the ETag `r` was read with). */
export function replacedMark(r: EnrolmentRequest, by: string, reason: ReplacedReason) {
  return { partitionKey: encodeKey(r.server), rowKey: REQUEST_PREFIX + r.requestId, State: 'replaced', ...replacedColumns(by, reason) };
}

const STATES: readonly string[] = ['pending', 'approved', 'denied', 'replaced'] satisfies RequestState[];
const REASONS: readonly string[] = ['repeat', 'limit', 'key', 'revoked'] satisfies ReplacedReason[];

export function entityToRequest(e: Row): EnrolmentRequest {
  const state = str(e, 'State');
  const known = STATES.includes(state);
  const reasonColumn = str(e, 'ReplacedReason');
  const reason = REASONS.includes(reasonColumn) ? (reasonColumn as ReplacedReason) : 'repeat';
  return {
    server: str(e, 'Server'),
    requestId: str(e, 'RequestId'),
    claimSalt: str(e, 'ClaimSalt'),
    claimHash: str(e, 'ClaimHash'),
    // Never 'pending' by default: a state this version does not know may mean anything, and acting
    // on it as pending would approve, list or collect what a newer version settled.
    state: known ? (state as RequestState) : 'unknown',
    ...(known ? {} : { unknownState: state }),
    requestedAt: ms(e, 'RequestedAt') ?? 0,
    decidedAt: ms(e, 'DecidedAt'),
    hostName: str(e, 'HostName') || undefined,
    fqdn: str(e, 'Fqdn') || undefined,
    collector: str(e, 'Collector') || undefined,
    source: str(e, 'Source') || undefined,
    requestSalt: str(e, 'RequestSalt') || undefined,
    requestHash: str(e, 'RequestHash') || undefined,
    replaced: state === 'replaced' ? { by: str(e, 'ReplacedBy'), reason } : undefined,
    etag: typeof e.etag === 'string' ? e.etag : undefined,
  };
}

/** The Reason of a '~refused' row a new key answered: it records no refusal any more. */
export const REFUSAL_CLEARED = 'cleared';

/** The merge that marks the '~refused' row cleared by the key `keyId` (for an update under the ETag it was read with). */
export function refusalClearedMark(server: string, keyId: string) {
  return { partitionKey: encodeKey(server), rowKey: REFUSED_ROW, Reason: REFUSAL_CLEARED, ClearedBy: keyId };
}

/** Whether a '~refused' row records a refusal (not cleared by a new key since). */
export const isRefusal = (e: Row): boolean => str(e, 'Reason') !== REFUSAL_CLEARED;

export function refusalToEntity(r: KeyRefusal) {
  return { partitionKey: encodeKey(r.server), rowKey: REFUSED_ROW, Server: r.server, KeyId: r.keyId, Reason: r.reason, RefusedAt: dateTime(r.refusedAt) };
}

export function entityToRefusal(e: Row): KeyRefusal {
  return { server: str(e, 'Server'), keyId: str(e, 'KeyId'), reason: str(e, 'Reason'), refusedAt: ms(e, 'RefusedAt') ?? 0 };
}

export function entityToHead(e: Row): KeyHead {
  return { currentKeyId: str(e, 'CurrentKeyId'), blocked: e.ReenrolBlocked === true, updatedAt: ms(e, 'UpdatedAt') ?? 0, etag: String(e.etag) };
}

/** Whether a request is pending or decided, as this version knows those states. */
export const isInForce = (r: EnrolmentRequest): boolean => r.state === 'pending' || r.state === 'approved' || r.state === 'denied';

/** One server's partition as read in one query: what an enrolment decides on. */
export interface KeyPartition {
  readonly server: string;
  readonly rows: readonly Row[];
  readonly head?: KeyHead;
  /** The requests in force (pending or decided); those replaced are apart, only to be cleaned up. */
  readonly requests: readonly EnrolmentRequest[];
  readonly replaced: readonly EnrolmentRequest[];
  /** Requests in a state this version does not know: acted on by no one here, counted like decided ones. */
  readonly unknown: readonly EnrolmentRequest[];
  readonly refusal?: KeyRefusal;
}

export function keyPartitionOf(server: string, rows: readonly Row[]): KeyPartition {
  const head = rows.find((r) => r.rowKey === HEAD_ROW);
  const refused = rows.find((r) => r.rowKey === REFUSED_ROW);
  const requests = rows.filter((r) => String(r.rowKey).startsWith(REQUEST_PREFIX)).map(entityToRequest);
  return {
    server,
    rows,
    head: head ? entityToHead(head) : undefined,
    requests: requests.filter(isInForce),
    replaced: requests.filter((r) => r.state === 'replaced'),
    unknown: requests.filter((r) => r.state === 'unknown'),
    refusal: refused && isRefusal(refused) ? entityToRefusal(refused) : undefined,
  };
}
