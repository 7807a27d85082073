// The text people write into records others read back (a waiver's justification, who granted it,
// who set a baseline): one check for all. A removal's removedBy comes in the query string, whose
// URL decoding (URLSearchParams, in the local host and the Functions host alike) already turns
// half a character into U+FFFD; the collector an enrolment names is checked by the snapshot
// contract's own schema, as every string of a snapshot is.
//
// Control characters (tab, CR and LF too) are kept: the JSON answers escape them, the CSV export
// carries none of these fields, and the dashboard shows text as text. Half a UTF-16 surrogate pair
// is refused: no UTF-8 text can hold it, so the events list would carry it as a bare \ud800 escape,
// which strict JSON readers (.NET's System.Text.Json) refuse for the whole page and others
// (PowerShell's ConvertFrom-Json) silently turn into U+FFFD.
import { serverIdOfName } from '../snapshot/normalise';
import { wholeCharacters } from '../snapshot/whole-characters';

/** The sentence refusing `field` for holding half a character. */
export const halfCharacterMessage = (field: string): string =>
  `"${field}" holds half of a UTF-16 surrogate pair (a character cut in two), which readers of the audit records cannot decode; send whole characters.`;

/**
 * A required text field of a JSON body: trimmed, non-empty, at most `max` characters, whole
 * characters. Each refusal is one sentence naming the field, as `invalid` makes it.
 */
export function requiredText(body: Record<string, unknown>, field: string, max: number, invalid: (message: string) => Error): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`"${field}" is required and must be a non-empty string.`);
  const text = v.trim();
  if (text.length > max) throw invalid(`"${field}" must be at most ${max} characters.`);
  if (!wholeCharacters(text)) throw invalid(halfCharacterMessage(field));
  return text;
}

/**
 * A required server id of a JSON body (a waiver's or a baseline's "server"): a host name or fqdn
 * as its snapshots send it, returned as the id they are stored under (lower case, no trailing dot).
 */
export function requiredServerId(body: Record<string, unknown>, field: string, invalid: (message: string) => Error): string {
  const named = requiredText(body, field, 253, invalid);
  const id = serverIdOfName(named);
  if (id === undefined) throw invalid(`"${field}" must be a server id (a host name or fqdn, as the snapshot sent it), not "${named.slice(0, 100)}".`);
  return id;
}
