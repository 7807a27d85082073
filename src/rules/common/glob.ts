// Names and patterns every rule may match: file names out of paths, and `*`/`?` globs (process
// lists, server-name patterns of waivers).

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
