// Which request made a write of a record an admin edits (a waiver, a drift baseline). A write whose
// answer was lost reads the row back to learn whether it landed, and another change may have landed
// after it in that moment; content cannot tell (two admins may send the same change), so a write
// names its request on the row, after the requests that made the same kind of write before it.
import { randomUUID } from 'node:crypto';

/** Names a row keeps: far more writes than can land between a lost answer and its read-back. */
const KEPT_MARKS = 8;

/** A new request's name, and the marks its write stores: it, then `earlier` (newest first). */
export function newMark(earlier: readonly string[] | undefined): { readonly run: string; readonly marks: readonly string[] } {
  const run = randomUUID();
  return { run, marks: [run, ...(earlier ?? [])].slice(0, KEPT_MARKS) };
}

/** Whether the request `run` is among the marks a row was read with: its write landed. */
export const marked = (marks: readonly string[] | undefined, run: string): boolean => marks?.includes(run) === true;
