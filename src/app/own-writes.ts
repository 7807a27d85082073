// Which request stored a record an admin edits (a waiver, a drift baseline). A write whose answer
// was lost reads the row back to learn whether it landed, and another admin may have changed the
// row again in that moment; content cannot tell (two admins may send the same change), so each
// write names its request on the row together with the requests that stored the revisions before.
import { randomUUID } from 'node:crypto';

/** Writers a row keeps: far more changes than can land between a lost answer and its read-back. */
const KEPT_WRITERS = 8;

/** A row naming who stored its latest revisions, newest first. */
export interface Written {
  readonly writers?: readonly string[];
}

/** A new request's name, and the writers its write of the row after `before` stores. */
export function newWrite(before: Written | undefined): { readonly run: string; readonly writers: readonly string[] } {
  const run = randomUUID();
  return { run, writers: [run, ...(before?.writers ?? [])].slice(0, KEPT_WRITERS) };
}

/** Whether the request `run` stored a revision of the row as read, the latest or one shortly before. */
export const wrote = (row: Written | undefined, run: string): boolean => row?.writers?.includes(run) === true;
