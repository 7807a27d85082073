// Matching process names against Access Protection include/exclude entries: case-insensitive,
// on the file name (a full-path entry matches its file name), with `*` and `?` wildcards.

/** The file name of a path or bare name, without surrounding quotes or blanks. */
export function fileNameOf(entry: string): string {
  const trimmed = entry.trim().replace(/^"+|"+$/g, '').trim();
  const cut = Math.max(trimmed.lastIndexOf('\\'), trimmed.lastIndexOf('/'));
  return cut >= 0 ? trimmed.slice(cut + 1) : trimmed;
}

/**
 * `*`/`?` glob match without regular expressions: the greedy two-pointer algorithm is O(n·m) even
 * for hostile patterns such as `a*a*a*a*b` read from a registry value.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Does the process (path or name) match the list entry? */
export function processMatches(entry: string, process: string): boolean {
  const name = fileNameOf(process).toLowerCase();
  const pattern = fileNameOf(entry).toLowerCase();
  if (name === '' || pattern === '') return false;
  return globMatch(pattern, name);
}

/** The first entry of `list` that matches `process`, if any. */
export function firstMatch(list: readonly string[], process: string): string | undefined {
  return list.find((e) => processMatches(e, process));
}

/** Splits a REG_SZ process list on `,` or `;`; REG_MULTI_SZ items are taken as they are. */
export function splitProcessList(data: string | readonly string[]): string[] {
  const items = typeof data === 'string' ? data.split(/[,;]/) : data.flatMap((d) => d.split(/[,;]/));
  return items.map((s) => s.trim()).filter((s) => s !== '');
}
