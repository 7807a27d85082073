// Matching process names against Access Protection include/exclude entries: case-insensitive,
// on the file name (a full-path entry matches its file name), with `*` and `?` wildcards.

/** The file name of a path or bare name, without surrounding quotes or blanks. */
export function fileNameOf(entry: string): string {
  const trimmed = entry.trim().replace(/^"+|"+$/g, '').trim();
  const cut = Math.max(trimmed.lastIndexOf('\\'), trimmed.lastIndexOf('/'));
  return cut >= 0 ? trimmed.slice(cut + 1) : trimmed;
}

const cache = new Map<string, RegExp>();

function patternOf(entry: string): RegExp {
  const name = fileNameOf(entry).toLowerCase();
  let re = cache.get(name);
  if (!re) {
    const body = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 's');
    if (cache.size > 1000) cache.clear();
    cache.set(name, re);
  }
  return re;
}

/** Does the process (path or name) match the list entry? */
export function processMatches(entry: string, process: string): boolean {
  const name = fileNameOf(process).toLowerCase();
  if (name === '' || fileNameOf(entry) === '') return false;
  return patternOf(entry).test(name);
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
