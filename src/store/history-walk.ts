// A server's History walk across its layouts (its range of its bucket, and its partition of the
// older layout until the layout migration records that empty), merged by key so that a change in
// both layouts at once (copied by the migration, not yet deleted) is returned once, the bucket's
// row kept. Both layouts key a change the same way past the server's prefix (inverted time, rule,
// snapshot id), newest first, so the merge is a walk in key order and a page ends at a key: the
// next page asks for rows after it, and neither repeats nor loses a change at the boundary.
//
// What the walk learnt of each layout beyond that key travels in the continuation token, so a page
// asks only the layouts that can hold its rows: a layout whose next row lies past a full page of
// the other is not asked, nor one found to hold nothing more. A walk through the bucket's rows of a
// server whose older rows are all older costs a request a page, as a walk of one layout does.
import { refused } from './cursor';
import { settleAll } from './errors';

/** One row of a layout: its key past the server's prefix, and the row. */
export interface WalkRow {
  readonly key: string;
  readonly entity: Record<string, unknown>;
}

/** What one query of a layout returned: rows in key order, and its continuation when more may follow. */
export interface LayoutRead {
  readonly rows: readonly WalkRow[];
  readonly token?: string;
}

/** A layout of a server's History, as the walk reads it. */
export interface HistoryLayout {
  /** Up to `max` rows with keys after `after` (all when undefined), in key order; `token` resumes that query. */
  read(after: string | undefined, max: number, token: string | undefined): Promise<LayoutRead>;
}

/**
 * What the walk knows of a layout after the position: `null` nothing yet (ask it); `'done'` no row
 * after it; `{ n }` its next row is `n` (nothing between); `{ t }` its query from the position
 * stopped before reaching a row (storage's page came back empty), to be resumed with this token.
 */
export type LayoutState = null | 'done' | { readonly n: string } | { readonly t: string };

/** Where a walk stands: after the change keyed `a` (absent at the start), and what it knows of each layout, in order. */
export interface HistoryPosition {
  readonly a?: string;
  readonly l: readonly LayoutState[];
}

/** The start of a walk of `layouts` layouts. */
export const walkStart = (layouts: number): HistoryPosition => ({ l: Array.from({ length: layouts }, () => null) });

/**
 * One page of at most `top` changes from `at`, and the position after it (undefined: the walk is
 * over). `layouts` in order of preference: of two rows with one key, the earlier layout's is kept;
 * an undefined layout is not asked (recorded empty), whatever the position says of it.
 */
export async function walkPage(layouts: readonly (HistoryLayout | undefined)[], at: HistoryPosition, top: number): Promise<{ rows: Record<string, unknown>[]; next?: HistoryPosition }> {
  const after = at.a;
  const states: LayoutState[] = layouts.map((layout, i) => (layout ? (at.l[i] ?? null) : 'done'));
  const reads: (LayoutRead | undefined)[] = layouts.map(() => undefined);
  const ask = async (i: number) => {
    const state = states[i];
    // Stryker disable next-line ConditionalExpression: a layout asked is never 'done', so the type test only narrows.
    reads[i] = await layouts[i]!.read(after, top, state !== null && typeof state === 'object' && 't' in state ? state.t : undefined);
  };
  // Both layouts settle before a failure is reported: one's outage leaves no read of the other running unobserved.
  await settleAll(states.map((s, i) => (s === null || (typeof s === 'object' && 't' in s) ? ask(i) : Promise.resolve())));
  // A layout whose next row is known is asked only when the rows read do not fill the page before it.
  // Stryker disable next-line EqualityOperator: of two layouts with one next key, whichever is asked first returns nothing before it, so both are asked either way.
  const known = states.flatMap((s, i) => (s !== null && typeof s === 'object' && 'n' in s ? [{ i, n: s.n }] : [])).sort((x, y) => (x.n < y.n ? -1 : 1));
  for (const { i } of known) {
    // The rows merged stop before `n`, where this layout, not read, is known to go on.
    if (mergeRows(reads, states, top).length < top) await ask(i);
  }
  const page = mergeRows(reads, states, top);
  const last = page.length > 0 ? page[page.length - 1]!.key : after;
  const next: LayoutState[] = states.map((s, i) => {
    const read = reads[i];
    if (!read) return s;
    const rest = read.rows.find((r) => last === undefined || r.key > last);
    if (rest) return { n: rest.key };
    if (read.token === undefined) return 'done';
    // Nothing of it returned yet: resume its query, so the next page gets further.
    return read.rows.length === 0 ? { t: read.token } : null;
  });
  return { rows: page.map((r) => r.entity), next: next.every((s) => s === 'done') ? undefined : { ...(last === undefined ? {} : { a: last }), l: next } };
}

/**
 * The first `top` rows of the layouts read, in key order, one per key (the earlier layout's), up to
 * where every layout is known: a layout whose query stopped early is known up to its last row; one
 * not read, up to (not including) its next row.
 */
function mergeRows(reads: readonly (LayoutRead | undefined)[], states: readonly LayoutState[], top: number): WalkRow[] {
  const bounds = reads.map((read, i): { key: string; inclusive: boolean } | undefined => {
    const s = states[i];
    // Stryker disable next-line ConditionalExpression: a layout not read is never null (that one is always asked), so the null test only narrows.
    if (!read) return s !== null && typeof s === 'object' && 'n' in s ? { key: s.n, inclusive: false } : undefined;
    if (read.token === undefined) return undefined;
    // An empty read with more to come knows nothing past the position: no row is certain.
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: no key is '' or before it, so any bound at '' holds nothing.
    return read.rows.length > 0 ? { key: read.rows[read.rows.length - 1]!.key, inclusive: true } : { key: '', inclusive: false };
  });
  const within = (key: string) => bounds.every((b) => b === undefined || key < b.key || (b.inclusive && key === b.key));
  const byKey = new Map<string, WalkRow>();
  for (const read of reads) for (const r of read?.rows ?? []) if (!byKey.has(r.key) && within(r.key)) byKey.set(r.key, r);
  // Keys are distinct here, and sort() orders text by code unit, as the walk's `<` does.
  return [...byKey.keys()]
    .sort()
    .slice(0, top)
    .map((key) => byKey.get(key)!);
}

/** The position as a cursor's text. */
export const encodePosition = (p: HistoryPosition): string => JSON.stringify(p);

/** The position a cursor's text holds; refused when it is not one (a token of another walk). */
export function decodePosition(text: string | undefined, layouts: number): HistoryPosition {
  let p: unknown;
  try {
    // Stryker disable next-line StringLiteral: no text and text that is not JSON are refused alike.
    p = JSON.parse(text ?? '');
  } catch {
    // Not JSON: `p` stays undefined and is refused below.
  }
  const v = p as { a?: unknown; l?: unknown } | null | undefined;
  // A value that is no object has no list `l`.
  if (!v || (v.a !== undefined && typeof v.a !== 'string') || !Array.isArray(v.l) || v.l.length !== layouts || !v.l.every(isState)) {
    throw refused();
  }
  return { ...(v.a === undefined ? {} : { a: v.a }), l: v.l as LayoutState[] };
}

function isState(s: unknown): s is LayoutState {
  if (s === null || s === 'done') return true;
  // Parsed JSON is never undefined; any other value but an object of one text field n or t has
  // no such field (a text's keys are its indices, a number has none).
  const o = s as Record<string, unknown>;
  return Object.keys(o).length === 1 && (typeof o.n === 'string' || typeof o.t === 'string');
}
