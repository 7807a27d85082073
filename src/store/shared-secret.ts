// The continuation-token secret every instance shares when the setting gives none: one random
// value in the Lifecycle table (PK 'service', RK 'continuation-token-secret'), written by the first
// instance that needs it and read by the others. Without it each instance would seal tokens with
// a key of its own, and a page asked of another instance (a scale-out, a restart) would be refused.
// Whoever can read the table could forge tokens with it, and a forged token only resumes a query
// the caller may run anyway at another position: the same reach as the setting's secret.
import { randomBytes } from 'node:crypto';
import { str } from './columns';
import { ConcurrencyConflictError } from './errors';
import type { SiblingTable } from './sibling-table';

export const SHARED_SECRET_KEYS = { partitionKey: 'service', rowKey: 'continuation-token-secret' } as const;

/** A stored secret shorter than this (a row edited by hand) is replaced, as the setting refuses one. */
const MIN_CHARS = 32;

/** The shared secret: the stored one, or a new one stored now (the first writer's wins a race). */
export async function sharedContinuationSecret(lifecycle: SiblingTable): Promise<string> {
  await lifecycle.ready();
  const { partitionKey, rowKey } = SHARED_SECRET_KEYS;
  const read = () => lifecycle.get(partitionKey, rowKey, 'reading the continuation-token secret');
  const usable = (row: Record<string, unknown> | undefined): string | undefined => {
    const secret = row ? str(row, 'Secret') : '';
    return secret.length >= MIN_CHARS ? secret : undefined;
  };
  const stored = await read();
  const found = usable(stored);
  if (found) return found;
  const secret = randomBytes(32).toString('base64url');
  try {
    await lifecycle.writeAtomically([{ entity: { partitionKey, rowKey, Secret: secret }, etag: stored ? String(stored.etag) : undefined }], [], 'storing the continuation-token secret');
    return secret;
  } catch (error) {
    if (!(error instanceof ConcurrencyConflictError)) throw error;
    // Another instance stored one first: that one is everybody's.
    const theirs = usable(await read());
    if (!theirs) throw error;
    return theirs;
  }
}
