// Enrolment, in the manner of osquery/Fleet's enroll secret → node key: a server presents the
// fleet's enrolment secret and its host facts and receives its own key, bound to its server id.
// Server keys look like `fp1.<base64url server id>.<key id>.<secret>`: the server id and key id
// make the check one point read, the secret (32 random bytes) is stored only as
// HMAC-SHA256(salt, secret) with a per-key random salt and compared in constant time.
//
// A slow KDF (scrypt) buys nothing for 256-bit random secrets (there is no dictionary to guess
// from) and would cost tens of milliseconds of CPU on every post; see SECURITY.md.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { hostSchema, collectorSchema } from '../snapshot/schema';
import { SERVER_ID, serverIdOf } from '../snapshot/normalise';
import type { KeyPartition, ServerKeyStore } from '../store';
import { presentedKey, type Access, type CredentialKind, type HeaderSource, type KeyRing } from './auth';
import { ApiError } from './errors';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS, type LogRecordName } from './log-records';
import type { RateLimiter } from './rate-limit';
import type { SealedRequestSecret } from './reenrolment';
import { isoInstant } from './iso-time';

export const SERVER_KEY_PREFIX = 'fp1.';
const SECRET_BYTES = 32;
const KEY_ID_BYTES = 12;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** Audit records (structured log lines, like the alert records): who got, lost or was refused a key. */
export const KEY_LOG_RECORDS = {
  keyIssued: LOG_RECORDS.serverKeyIssued,
  keyRevoked: LOG_RECORDS.serverKeyRevoked,
  keyRefused: LOG_RECORDS.serverKeyRefused,
} as const;

export function audit(log: AlertLog, name: LogRecordName, fields: Record<string, string | number | boolean | null>): void {
  log.log(formatLogRecord(name, fields));
}

/** Why a server's collector was refused (the `reason` of FleetPosture.ServerKeyRefused). */
export type RefusalReason = 'replaced' | 'revoked' | 'unknown' | 'enrolment-blocked' | 'enrolment-denied';

/** A refused revoked key is recorded in ServerKeys at most this often per server and instance. */
const REFUSAL_RECORD_INTERVAL_MS = 10 * 60_000;
const REFUSAL_MEMORY = 10_000;

export interface ParsedServerKey {
  readonly server: string;
  readonly keyId: string;
  readonly secret: string;
}

export function formatServerKey(k: ParsedServerKey): string {
  return `${SERVER_KEY_PREFIX}${Buffer.from(k.server).toString('base64url')}.${k.keyId}.${k.secret}`;
}

/**
 * Undefined for anything that is not a well-formed server key (never throws). Strings are UTF-8
 * here as everywhere in Node (Buffer, hashes), so no encoding is named for them.
 */
export function parseServerKey(key: string): ParsedServerKey | undefined {
  if (!key.startsWith(SERVER_KEY_PREFIX)) return undefined;
  // No more than four pieces are made of a key however long (a fourth is refused); the lengths
  // of the key id and the secret are checked before anything reads them.
  const parts = key.slice(SERVER_KEY_PREFIX.length).split('.', 4);
  if (parts.length !== 3) return undefined;
  const [serverPart, keyId, secret] = parts as [string, string, string];
  if (keyId.length !== 16 || secret.length !== 43 || !B64URL.test(keyId) || !B64URL.test(secret)) return undefined;
  // The server part must be the one base64url spelling of a server id: that also refuses any
  // character outside base64url in it (the decoder passes over them), padding and stray low bits.
  const server = Buffer.from(serverPart, 'base64url').toString();
  if (!SERVER_ID.test(server) || Buffer.from(server).toString('base64url') !== serverPart) return undefined;
  return { server, keyId, secret };
}

/**
 * The tag a verified key leaves on its server's Results rows: SHA-256 of the whole key. The key
 * holds 256 random bits, so the tag (readable by anyone who reads Results) cannot be reversed.
 */
export function serverKeyTag(k: ParsedServerKey): string {
  return createHash('sha256').update(formatServerKey(k)).digest('base64url');
}

function sameTag(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function hashSecret(salt: Buffer, secret: string): Buffer {
  return createHmac('sha256', salt).update(secret).digest();
}

/** Whether `secret` is the one stored as base64 `salt` and HMAC `hash` (in constant time). */
export function secretMatches(salt: string, hash: string, secret: string): boolean {
  const expected = Buffer.from(hash, 'base64');
  const actual = hashSecret(Buffer.from(salt, 'base64'), secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** What a request was authenticated as. */
export type Principal = { readonly kind: CredentialKind } | { readonly kind: 'server'; readonly server: string; readonly keyTag: string };

/** Where verified-key tags live and how they are forgotten (the posture store's Results rows). */
export interface KeyTags {
  clearKeyTags(server: string): Promise<void>;
}

export const enrolmentRequestSchema = z.object({
  host: hostSchema.pick({ name: true, fqdn: true }),
  // The collector it names is kept on a re-enrolment request, for the admin who decides it; its
  // strings are whole characters as in a snapshot (the contract's collector schema checks them).
  collector: collectorSchema.partial().optional(),
});

export interface IssuedKey {
  readonly server: string;
  readonly keyId: string;
  readonly key: string;
  readonly issuedAt: string;
  /** Key ids this one replaced (re-enrolment or rotation): they answer 401 key_revoked now. */
  readonly replaced: readonly string[];
}

/**
 * What allowed a re-enrolment: the open policy, the server's current key, or an admin's approval;
 * or 'same-request': it is the resend of the enrolment that issued the current key, whose
 * answer its caller never got (the key is issued again, still as an enrolment).
 */
export type ReenrolmentGrant = 'open' | 'current-key' | 'admin-approval' | 'same-request';

export interface EnrolmentDeps {
  readonly keyStore: ServerKeyStore;
  readonly keyTags: KeyTags;
  readonly clock: () => number;
}

/** A FleetPosture.ServerKeyRefused record for `server`. */
export function logRefusal(log: AlertLog, server: string, reason: RefusalReason, fields: Record<string, string | null> = {}): void {
  audit(log, LOG_RECORDS.serverKeyRefused, { server, reason, ...fields });
}

export class Enrolment {
  readonly #refusalsRecorded = new Map<string, number>();
  constructor(private readonly deps: EnrolmentDeps) {}

  /**
   * Issues a new key for `server`; any key it had stops working in the same transaction. With
   * `basis` (the partition the caller decided on), a concurrent change throws
   * ConcurrencyConflictError instead of being retried, so the caller can decide again.
   */
  async issue(
    server: string,
    facts: { hostName?: string; fqdn?: string },
    issuedBy: 'enrolment' | 'admin-rotation',
    log: AlertLog,
    options: { basis?: KeyPartition; grant?: ReenrolmentGrant; request?: SealedRequestSecret; requestAt?: number } = {},
  ): Promise<IssuedKey> {
    const now = this.deps.clock();
    const keyId = randomBytes(KEY_ID_BYTES).toString('base64url');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const salt = randomBytes(16);
    // The enrolment's request secret, sealed where re-enrolment checks it and kept with its key: a
    // resend of it proves the same caller.
    const request = options.request === undefined ? {} : { ...options.request, requestAt: options.requestAt ?? now };
    const out = await this.deps.keyStore.issue(
      {
      server,
      keyId,
      salt: salt.toString('base64'),
      hash: hashSecret(salt, secret).toString('base64'),
      status: 'active',
      issuedAt: now,
      issuedBy: issuedBy === 'enrolment' ? 'enrolment' : 'admin-rotation',
      hostName: facts.hostName,
      fqdn: facts.fqdn,
      ...request,
      },
      { overrideBlock: issuedBy === 'admin-rotation', basis: options.basis },
    );
    if ('blocked' in out) {
      logRefusal(log, server, 'enrolment-blocked');
      throw blockedError(server);
    }
    const { replaced, settled } = out;
    // Replaced keys must stop working at once: they may be tagged as verified on the Results rows.
    // So may a key revoked before, whose tags a failed clearing left (the revocation answered 503):
    // any server enrolled before has its tags cleared.
    if (replaced.length > 0 || out.enrolledBefore) await this.deps.keyTags.clearKeyTags(server);
    // A server enrolled before (its head row, or what the caller granted) is re-enrolled even when
    // its key was revoked first and so replaces nothing: the re-enrolment alert must see it.
    // The resend of a first enrolment is that enrolment still: it replaces only the key its caller never got.
    const repeated = options.grant === 'same-request';
    const reenrolled = !repeated && (replaced.length > 0 || options.basis?.head !== undefined || options.grant !== undefined);
    const reason = issuedBy === 'enrolment' ? (reenrolled ? 're-enrolment' : 'enrolment') : 'admin-rotation';
    const grant = reason === 're-enrolment' || repeated ? (options.grant ?? 'open') : null;
    // `settled`: the re-enrolment requests this key answered (an approved one among them can no longer be collected).
    audit(log, KEY_LOG_RECORDS.keyIssued, { server, keyId, reason, grant, replaced: replaced.join(',') || null, settled: settled.join(',') || null });
    return { server, keyId, key: formatServerKey({ server, keyId, secret }), issuedAt: isoInstant(now), replaced };
  }

  /**
   * Revokes the server's key and closes its re-enrolment requests (an approved one yields no key
   * after this); with `blockReenrolment`, the enrolment secret can no longer issue a key for it (a
   * compromised or retired server) until an admin rotates its key. Undefined when the server never
   * enrolled.
   */
  async revoke(server: string, log: AlertLog, blockReenrolment = false): Promise<{ revoked: readonly string[]; settled: readonly string[] } | undefined> {
    const out = await this.deps.keyStore.revokeAll(server, this.deps.clock(), blockReenrolment);
    if (out) {
      // After ServerKeys says revoked (not before: a post in between would tag the key again).
      await this.deps.keyTags.clearKeyTags(server);
      // `settled`: the re-enrolment requests the revocation closed (an approved one among them can no longer be collected).
      audit(log, KEY_LOG_RECORDS.keyRevoked, {
        server,
        revoked: out.revoked.join(',') || null,
        settled: out.settled.join(',') || null,
        reenrolment: blockReenrolment ? 'blocked' : 'allowed',
      });
    }
    return out;
  }

  /**
   * The server a key belongs to. A key id on record with another secret is forged or damaged: 401.
   * A revoked or replaced key, and a key id not on record (a revoked key pruned long ago, or a
   * record storage lost), answer 401 key_revoked: the collector's cue to enrol again, so none is
   * left refused for good. Each is a FleetPosture.ServerKeyRefused record; a genuine revoked key
   * is also recorded in its server's ServerKeys partition for the admins' list of refused servers.
   */
  async verify(key: ParsedServerKey, refusal?: { readonly log: AlertLog; readonly access: Access }): Promise<string> {
    const row = await this.deps.keyStore.getKey(key.server, key.keyId);
    const expected = row ? Buffer.from(row.hash, 'base64') : Buffer.alloc(32);
    const actual = hashSecret(row ? Buffer.from(row.salt, 'base64') : Buffer.alloc(16), key.secret);
    const match = expected.length === actual.length && timingSafeEqual(expected, actual);
    if (row && (!match || row.server !== key.server)) throw invalidKey();
    if (!row) {
      if (refusal) logRefusal(refusal.log, key.server, 'unknown', { keyId: key.keyId, access: refusal.access });
      throw keyRevoked('unknown');
    }
    if (row.status !== 'active') {
      const reason = row.revokedReason === 'replaced' ? 'replaced' : 'revoked';
      if (refusal) {
        logRefusal(refusal.log, key.server, reason, { keyId: key.keyId, access: refusal.access });
        await this.#recordRefusal(key.server, key.keyId, reason);
      }
      throw keyRevoked(reason);
    }
    return row.server;
  }

  /** The ServerKeys record of a refused genuine key, at most every few minutes per server; never fails the answer. */
  async #recordRefusal(server: string, keyId: string, reason: string): Promise<void> {
    const now = this.deps.clock();
    // A server never recorded (or forgotten) was last recorded long enough ago.
    const last = this.#refusalsRecorded.get(server) ?? -Infinity;
    if (now - last < REFUSAL_RECORD_INTERVAL_MS) return;
    if (this.#refusalsRecorded.size >= REFUSAL_MEMORY) this.#refusalsRecorded.clear();
    this.#refusalsRecorded.set(server, now);
    await this.deps.keyStore.recordRefusal({ server, keyId, reason, refusedAt: now }).catch(() => this.#refusalsRecorded.delete(server));
  }
}

const invalidKey = () => new ApiError('unauthorized', 'The key is not valid.', undefined, { 'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token"' });

const REVOKED_WHY: Readonly<Record<'replaced' | 'revoked' | 'unknown', string>> = {
  replaced: 'This server key was replaced by a newer one; enrol again with the enrolment secret.',
  revoked: 'This server key was revoked; enrol again with the enrolment secret.',
  unknown: 'This server key is not on record (replaced long ago, or its record was lost); enrol again with the enrolment secret.',
};

const keyRevoked = (why: 'replaced' | 'revoked' | 'unknown') =>
  new ApiError('key_revoked', REVOKED_WHY[why], undefined, {
    'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token", error_description="key_revoked"',
  });

export const blockedError = (server: string) =>
  new ApiError('forbidden', `An admin blocked the enrolment of ${server}; only an admin's rotation of its key can issue it a key now.`);

/** What a server key may do: post its own snapshots and fetch what a collector needs. */
const SERVER_ACCESS: ReadonlySet<Access> = new Set<Access>(['ingest', 'collector']);

export interface AuthorizerDeps {
  readonly keys: KeyRing;
  readonly enrolment: Enrolment;
  readonly limiter: RateLimiter;
  /**
   * The buckets of refused keys. Apart from `limiter`: their names come from keys nobody verified,
   * so made-up key ids fill only this one, never evicting the buckets of servers that posted.
   */
  readonly refusals: RateLimiter;
  /** Migration only: shared ingest keys may post (for any host). */
  readonly allowSharedIngestKeys: boolean;
}

const rateLimited = (seconds: number) =>
  new ApiError('rate_limited', `Too many requests for this server; retry after ${seconds} seconds.`, undefined, { 'Retry-After': String(seconds) });

export class Authorizer {
  constructor(private readonly deps: AuthorizerDeps) {}

  /** The server a presented server key names, before anything is verified (undefined for other keys). */
  claimedServer(headers: HeaderSource): string | undefined {
    const key = presentedKey(headers);
    return key === undefined ? undefined : parseServerKey(key)?.server;
  }

  /**
   * Checks the presented credential against what the route needs: 401 missing/unknown/revoked,
   * 403 wrong kind, 429 when a server key exceeds its rate (checked before any other work).
   * `rowsTag`: for a post, the verified-key tag its server's rows carry; a server key matching it
   * is accepted without reading ServerKeys. Otherwise, or on any doubt, ServerKeys decides.
   * `rateLimited: false` checks the key again for a request already counted against its rate.
   */
  async authorize(headers: HeaderSource, access: Access, log?: AlertLog, rowsTag?: string, options: { readonly rateLimited?: boolean } = {}): Promise<Principal> {
    const key = presentedKey(headers);
    const serverKey = key === undefined ? undefined : parseServerKey(key);
    if (serverKey) {
      const keyTag = serverKeyTag(serverKey);
      const vouched = access === 'ingest' && rowsTag !== undefined && sameTag(rowsTag, keyTag);
      const server = vouched ? serverKey.server : await this.#verify(serverKey, access, log);
      if (!SERVER_ACCESS.has(access)) {
        throw new ApiError('forbidden', `This is the server key of ${server}; it can post that server's snapshots and read the manifest and rules, nothing else.`);
      }
      if (access === 'ingest' && options.rateLimited !== false) this.limit(`server:${server}`);
      return { kind: 'server', server, keyTag };
    }
    const kind = this.deps.keys.authorize(headers, access);
    // The key ring lets no kind but the shared ingest keys post (auth.test.ts holds its whole matrix).
    if (access === 'ingest' && !this.deps.allowSharedIngestKeys) {
      throw new ApiError('forbidden', 'Shared ingest keys can no longer post snapshots (unless POSTURE_ALLOW_SHARED_INGEST_KEYS=true, a switch for migrating collectors); enrol the server for its own key and post with that.');
    }
    return { kind };
  }

  /**
   * A key refused once is refused again at the rate a server posts: past its bucket the
   * answer is 429 before storage is read or a refusal is recorded, so a collector looping on a
   * revoked key costs neither storage nor alerts. The bucket is the key's own (server and key id):
   * made-up keys cannot spend the bucket of the server's current key.
   */
  async #verify(key: ParsedServerKey, access: Access, log: AlertLog | undefined): Promise<string> {
    const bucket = `refused:${key.server}:${key.keyId}`;
    const d = this.deps.refusals.check(bucket);
    if (!d.ok) throw rateLimited(d.retryAfterSeconds);
    try {
      return await this.deps.enrolment.verify(key, log && { log, access });
    } catch (error) {
      // Every ApiError verify throws is its refusal of the key (401: forged, revoked or unknown);
      // a store that fails is no fault of the key and spends nothing.
      if (error instanceof ApiError) this.deps.refusals.take(bucket);
      throw error;
    }
  }

  /** Takes a token from the bucket `bucket`, or answers 429 with Retry-After. */
  limit(bucket: string): void {
    const d = this.deps.limiter.take(bucket);
    if (!d.ok) throw rateLimited(d.retryAfterSeconds);
  }

  /**
   * Like `limit`, but once that bucket is empty a request whose proof `proven` names may go on, on
   * a bucket of that proof's own: whoever can spend the first (anyone holding a shared secret)
   * cannot lock the holder of a proof out, and one proof (a requester polling its own claim, say)
   * cannot spend another's. `proven` is asked only then, so the common request costs no more than `limit`.
   */
  async limitUnlessProven(bucket: string, proven: () => Promise<string | undefined>): Promise<void> {
    const d = this.deps.limiter.take(bucket);
    if (d.ok) return;
    const proof = await proven();
    if (proof === undefined) throw rateLimited(d.retryAfterSeconds);
    this.limit(`${bucket}:proven:${proof}`);
  }
}

/** The server id of enrolment host facts, as a snapshot of that host would have it. */
export function serverOfFacts(host: { name: string; fqdn?: string }): string {
  return serverIdOf(host);
}
