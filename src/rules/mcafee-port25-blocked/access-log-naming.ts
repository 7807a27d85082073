// The log scan of row 5, fast: of a 64 KiB tail (hundreds of lines) only the few lines that
// name an Exchange SMTP image can matter, so those are found with one case-insensitive search
// per image and only they are parsed. The result is exactly what the full scan gives.
import { parseAccessLog, parseAccessLogLine, type LineFilter, type PortBlockLine } from './access-log';
import { fileNameOf } from '../common/glob';

/**
 * parseAccessLog(tail, (p, port) => names.has(fileNameOf(p).toLowerCase()) && (wanted?.(p, port) ?? true)),
 * with `names` lower-case, parsing only the lines that can name one of `names`.
 */
export function parseAccessLogNaming(tail: string, names: ReadonlySet<string>, wanted?: LineFilter): PortBlockLine[] {
  const named: LineFilter = (process, remotePort) => names.has(fileNameOf(process).toLowerCase()) && (wanted === undefined || wanted(process, remotePort));
  const starts = candidateLineStarts(tail, names);
  // Stryker disable next-line ConditionalExpression: the full scan gives the same lines (a property test holds the two equal); only slower.
  if (!starts) return parseAccessLog(tail, named);
  const out: PortBlockLine[] = [];
  for (const start of starts) {
    const end = tail.indexOf('\n', start);
    // Stryker disable next-line EqualityOperator: a candidate line holds a name, so its '\n' is never at offset 0.
    const l = parseAccessLogLine(tail.slice(start, end < 0 ? undefined : end), named);
    if (l) out.push(l);
  }
  return out;
}

function isAscii(s: string): boolean {
  // Stryker disable next-line EqualityOperator: reading past the end gives NaN (not > 0x7f); counting DEL as non-ASCII only sends such a name to the full scan, which finds the same lines.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

const KELVIN = '\u212a';

/**
 * Offsets in `tail` of the lines holding one of `names` (lower-case) in ASCII case-insensitive
 * form, ascending and distinct; undefined when that could miss a line the full scan keeps.
 *
 * Why this finds every line whose process file name lower-cases to a name: of the characters
 * outside ASCII only 'İ' (to "i̇", with a non-ASCII dot) and the Kelvin sign (to 'k') lower-case
 * to anything holding ASCII (a test checks every code point). So for an ASCII name and a tail
 * without the Kelvin sign, a file name lower-cases to the name exactly when it is ASCII and equal
 * to it ignoring ASCII case — what a non-Unicode /i regular expression matches (its case folding
 * never maps a non-ASCII character to an ASCII one). Other names and such tails take the full scan.
 * A line naming an image in another field is only a false candidate: the filter rejects it.
 */
export function candidateLineStarts(tail: string, names: ReadonlySet<string>): number[] | undefined {
  for (const name of names) if (name === '' || !isAscii(name)) return undefined;
  if (tail.includes(KELVIN)) return undefined;
  const starts: number[] = [];
  for (const name of names) {
    // A process never spans lines, so a name holding '\n' matches nothing the filter keeps.
    // Stryker disable next-line ConditionalExpression: searching for it anyway only yields lines the filter then rejects.
    if (name.includes('\n')) continue;
    const re = searchFor(name);
    re.lastIndex = 0;
    for (let m = re.exec(tail); m; m = re.exec(tail)) {
      starts.push(tail.lastIndexOf('\n', m.index) + 1);
      // One hit per line is enough: go on after its end, which also bounds the work by the tail's size.
      const end = tail.indexOf('\n', m.index);
      // Stryker disable next-line EqualityOperator: a match precedes its line's '\n', so that is never at offset 0.
      if (end < 0) break;
      re.lastIndex = end + 1;
    }
  }
  // Stryker disable next-line ConditionalExpression,EqualityOperator: one name's hits are already ascending and distinct; sorting them changes nothing.
  if (names.size > 1) {
    starts.sort((a, b) => a - b);
    // Stryker disable next-line ArithmeticOperator: comparing with the next start instead keeps the last of each run of equal starts, the same set.
    return starts.filter((s, k) => s !== starts[k - 1]);
  }
  return starts;
}

// Compiling a regular expression costs more than a search; the same few image names recur.
const SEARCHES = new Map<string, RegExp>();
const MAX_SEARCHES = 64;

function searchFor(name: string): RegExp {
  let re = SEARCHES.get(name);
  // Stryker disable next-line ConditionalExpression: a cache; compiling again gives the same expression (callers reset lastIndex).
  if (!re) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: forgetting sooner or later only costs a compile.
    if (SEARCHES.size >= MAX_SEARCHES) SEARCHES.clear();
    re = new RegExp(name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gi');
    SEARCHES.set(name, re);
  }
  return re;
}
