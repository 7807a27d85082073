// Credentials: three kinds of keys from settings (comma-separated lists, so a key can be rotated by
// adding the new one before removing the old). Every configured key is compared, in constant time
// per key, so timing reveals neither which key matched nor how much of it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors';
import type { Settings } from './settings';

export type CredentialKind = 'ingest' | 'reader' | 'admin' | 'enrolment';

/** What a route needs: posting snapshots, reading fleet data, collector configuration, admin. */
export type Access = 'ingest' | 'read' | 'collector' | 'admin' | 'enrol';

const ALLOWED: Readonly<Record<Access, readonly CredentialKind[]>> = {
  ingest: ['ingest'],
  read: ['reader', 'admin'],
  // The manifest and the rule catalogue: collectors (ingest keys) need them, readers may see them.
  collector: ['ingest', 'reader', 'admin'],
  admin: ['admin'],
  // Enrolment: only the fleet's enrolment secret (see enrolment.ts for server keys).
  enrol: ['enrolment'],
};

/** How a refusal names a kind of key, article included. */
const KIND_NAMES: Readonly<Record<CredentialKind, string>> = {
  ingest: 'a shared ingest key',
  reader: 'a reader key',
  admin: 'an admin key',
  enrolment: 'the enrolment secret',
};

/** Headers that may carry a key, in order of preference. */
export const KEY_HEADERS = ['x-api-key', 'authorization', 'x-functions-key'] as const;

export interface HeaderSource {
  get(name: string): string | null;
}

export function presentedKey(headers: HeaderSource): string | undefined {
  const apiKey = headers.get('x-api-key')?.trim();
  if (apiKey) return apiKey;
  const auth = headers.get('authorization')?.trim();
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m?.[1];
  }
  const fnKey = headers.get('x-functions-key')?.trim();
  return fnKey || undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class KeyRing {
  readonly #keys: ReadonlyArray<{ kind: CredentialKind; digest: Buffer }>;
  constructor(settings: Pick<Settings, 'ingestKeys' | 'readerKeys' | 'adminKeys' | 'enrolmentSecrets'>) {
    this.#keys = [
      ...settings.ingestKeys.map((k) => ({ kind: 'ingest' as const, digest: digest(k) })),
      ...settings.readerKeys.map((k) => ({ kind: 'reader' as const, digest: digest(k) })),
      ...settings.adminKeys.map((k) => ({ kind: 'admin' as const, digest: digest(k) })),
      ...settings.enrolmentSecrets.map((k) => ({ kind: 'enrolment' as const, digest: digest(k) })),
    ];
  }

  /** The kinds a key belongs to (normally one); empty when it matches none. */
  kindsOf(key: string): Set<CredentialKind> {
    const d = digest(key);
    const kinds = new Set<CredentialKind>();
    for (const k of this.#keys) if (timingSafeEqual(d, k.digest)) kinds.add(k.kind);
    return kinds;
  }

  /** Throws 401 for a missing or unknown key, 403 for a key of the wrong kind. */
  authorize(headers: HeaderSource, access: Access): CredentialKind {
    const key = presentedKey(headers);
    if (!key) {
      throw new ApiError('unauthorized', 'A key is required: send it in the x-api-key header (or Authorization: Bearer, or x-functions-key).', undefined, {
        'WWW-Authenticate': 'Bearer realm="fleet-posture"',
      });
    }
    const kinds = this.kindsOf(key);
    if (kinds.size === 0) {
      throw new ApiError('unauthorized', 'The key is not valid.', undefined, { 'WWW-Authenticate': 'Bearer realm="fleet-posture", error="invalid_token"' });
    }
    const allowed = ALLOWED[access].find((k) => kinds.has(k));
    if (!allowed) {
      const what = access === 'ingest' ? 'post snapshots' : access === 'admin' ? 'use admin functions' : access === 'enrol' ? 'enrol servers' : 'read fleet data';
      throw new ApiError('forbidden', `This key is ${[...kinds].map((k) => KIND_NAMES[k]).join(' and ')} and cannot ${what}.`);
    }
    return allowed;
  }
}
