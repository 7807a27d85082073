// If-Match on records an admin edits (waivers, drift baselines): each record's ETag is its revision,
// which every change bumps, so two admins editing one record cannot overwrite each other unseen.
// If-None-Match: * does the same for two admins creating one: the second is refused, not let
// replace the first's unseen.
import { ApiError } from './errors';
import { etagListed, type ApiRequest } from './http-io';

/**
 * A condition a change requires of the record as stored (the request's If-Match): given the
 * record's ETag now (undefined when there is no such record), whether the change may go on.
 */
export type Precondition = (etag: string | undefined) => boolean;

/** The ETag of a record: its revision, which every change bumps (and nothing else changes). */
export const revisionEtag = (r: { readonly revision: number }): string => `"${r.revision}"`;

/** The request's If-Match as a precondition (compared strongly, as RFC 9110 says); undefined without one. */
export function ifMatchOf(req: Pick<ApiRequest, 'headers'>): Precondition | undefined {
  const ifMatch = req.headers.get('if-match');
  // Stryker disable next-line StringLiteral: etagListed compares weakly only when told 'weak', so any other word is the strong comparison.
  return ifMatch === null ? undefined : (etag) => etagListed(ifMatch, etag, 'strong');
}

/** 412 before anything was changed: `what` (e.g. "Waiver w1") is at `etag` now, not the version If-Match names. */
export const staleIfMatch = (what: string, etag: string) =>
  new ApiError('precondition_failed', `${what} is at ${etag} now, not the version in If-Match, so nothing was changed; read it again and repeat the change on what is there now.`);

/** 412 for a change decided on the If-Match version that another change overtook before it was stored. */
export const changedMeanwhile = (what: string) =>
  new ApiError('precondition_failed', `${what} was changed by someone else after the version in If-Match was read, so nothing was changed; read it again and repeat the change on what is there now.`);

/**
 * Whether the request's If-None-Match asks a PUT to create only (`*`): refused with 412 where the
 * record is in force. A list of ETags would mean "unless it is at one of these", which no client of
 * these records needs, so it is refused rather than ignored.
 */
export function createOnlyOf(req: Pick<ApiRequest, 'headers'>): boolean {
  const ifNoneMatch = req.headers.get('if-none-match');
  if (ifNoneMatch === null) return false;
  if (ifNoneMatch.trim() === '*') return true;
  // Shown as sent (cut short): ETags carry their own quotes.
  throw new ApiError('invalid_query', `If-None-Match on a PUT takes only * (create, never replace), not ${ifNoneMatch.trim().slice(0, 100)}.`);
}

/** 412 for a create-only PUT (If-None-Match: *) over `what`, in force at `etag`. */
export const inForceAlready = (what: string, etag: string) =>
  new ApiError('precondition_failed', `${what} is in force already (at ${etag}), and If-None-Match: * only creates, so nothing was changed; read it, and change it with If-Match if that is what you meant.`);
