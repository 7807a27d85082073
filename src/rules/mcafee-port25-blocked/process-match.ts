// Matching process names against Access Protection include/exclude entries: case-insensitive,
// on the file name (a full-path entry matches its file name), with `*` and `?` wildcards.
import { fileNameOf, globMatch } from '../common/glob';

/** Does the list entry match a process's lower-case file name? */
function entryMatches(entry: string, name: string): boolean {
  // An empty name matches nothing, not even `*`; an empty pattern matches only an empty name.
  return name !== '' && globMatch(fileNameOf(entry).toLowerCase(), name);
}

/** Does the process (path or name) match the list entry? */
export function processMatches(entry: string, process: string): boolean {
  return entryMatches(entry, fileNameOf(process).toLowerCase());
}

/** The first entry of `list` that matches `process`, if any. */
export function firstMatch(list: readonly string[], process: string): string | undefined {
  // Stryker disable next-line ConditionalExpression: a shortcut; find on an empty list gives undefined too.
  if (list.length === 0) return undefined;
  const name = fileNameOf(process).toLowerCase();
  return list.find((e) => entryMatches(e, name));
}

/** Splits a REG_SZ process list on `,` or `;`; REG_MULTI_SZ items are taken as they are. */
export function splitProcessList(data: string | readonly string[]): string[] {
  const items = typeof data === 'string' ? data.split(/[,;]/) : data.flatMap((d) => d.split(/[,;]/));
  return items.map((s) => s.trim()).filter((s) => s !== '');
}
