// What a removed server's marker says of its removal, for the answers that name it: the history's
// `removed` field and the one sentence of a 404. Markers written before they kept who removed the
// server, or the removal's message, have neither.
import type { Lang } from '../rules/types';
import type { StoredResult } from '../store';
import { iso } from './present';

/** When, by whom and the removal's message, as its marker says them (null where it does not). */
export function removalView(marker: StoredResult, lang: Lang) {
  return { removedAt: iso(marker.firstSeen), removedBy: marker.removedBy ?? null, message: marker.message[lang] || null };
}

/** One sentence saying that `server` is removed, when and (if its marker says) by whom. */
export function removedSentence(server: string, marker: StoredResult, verb = 'was removed from the fleet'): string {
  // Stryker disable next-line StringLiteral: the sentence takes none of the marker's texts, so the language is not read.
  const { removedAt, removedBy } = removalView(marker, 'en');
  const by = removedBy === null ? '' : ` by ${removedBy}`;
  return `Server "${server}" ${verb} at ${removedAt}${by}; its history stays readable.`;
}
