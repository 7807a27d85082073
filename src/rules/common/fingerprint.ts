// Configuration fingerprints: the hash that names a set of facts, and the helpers rules use to
// normalise them, so that two servers configured alike hash alike.
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { Facts, Fingerprint } from '../types';

/** `sha256:` + hex of the facts' canonical JSON: stable across key order, processes and releases. */
export function fingerprintHash(facts: Facts): string {
  return 'sha256:' + createHash('sha256').update(canonicalJson(facts)).digest('hex');
}

export function fingerprintOf(facts: Facts): Fingerprint {
  return { hash: fingerprintHash(facts), facts };
}

/** Distinct entries in code-unit order (sort's own order for strings): list order and repeats never split two servers. */
export function sortedSet(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}
