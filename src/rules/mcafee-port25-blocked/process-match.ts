// Matching process names against Access Protection include/exclude entries: case-insensitive,
// on the file name (a full-path entry matches its file name), with `*` and `?` wildcards.

/** The file name of a path or bare name, without surrounding quotes or blanks. */
export function fileNameOf(entry: string): string {
  let trimmed = entry.trim();
  // Hot (every list entry of every rule): the regular expression only when there are quotes.
  // Stryker disable next-line ConditionalExpression,StringLiteral: without quotes the replacement changes nothing; the test only saves time.
  if (trimmed.startsWith('"') || trimmed.endsWith('"')) trimmed = trimmed.replace(/^"+|"+$/g, '').trim();
  // A loop, not lastIndexOf: the name is short and lastIndexOf is a slow path in V8.
  // Stryker disable next-line ArithmeticOperator: starting one past the end reads NaN, which is no slash.
  for (let i = trimmed.length - 1; i >= 0; i--) {
    const c = trimmed.charCodeAt(i);
    if (c === 0x5c || c === 0x2f) return trimmed.slice(i + 1);
  }
  return trimmed;
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
  // Past the pattern's end pattern[p] is undefined, which equals no character of the name.
  while (n < name.length) {
    if (pattern[p] === '?' || pattern[p] === name[n]) {
      p++;
      n++;
    } else if (pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

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
