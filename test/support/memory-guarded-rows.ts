// Rows that admins change (drift baselines, risk waivers), held in memory and written only under
// the ETag they were read with, as Table storage's conditional writes do: a write without an ETag
// creates and is refused over an existing row, one with an ETag is refused once the row changed.
// Another writer landing just before a write, a write failing before it lands and one whose answer
// is lost after it landed are queued one per write, so a use case's retries can be played exactly.

/** What the next write does instead of landing plainly: an Error is thrown before it lands; a function is called once it landed, and what it answers is thrown. */
export type WriteOutcome<S> = Error | ((landed: S) => Error);

export interface GuardedRowsOptions<R, S> {
  /** The name each write is recorded under in the call list. */
  name: string;
  key: (row: R) => string;
  /** The row as the store reads it back, under the ETag it was given. */
  stored: (row: R, etag: string) => S;
  /** The refusal's message when the row changed since it was read. */
  conflict: (row: R) => Error;
  seed?: readonly S[];
}

export function memoryGuardedRows<R, S extends { etag: string }>(calls: unknown[][], options: GuardedRowsOptions<R, S>) {
  const stored = new Map((options.seed ?? []).map((s) => [options.key(s as unknown as R), s]));
  const writes: (WriteOutcome<S> | undefined)[] = [];
  /** Run just before the next writes are tried (undefined: nothing): another writer landing meanwhile. */
  const meanwhile: ((() => void) | undefined)[] = [];
  let etags = 0;
  /** Stores a row under a new ETag, as another writer or a landed write does. */
  const land = (row: R): S => {
    const s = options.stored(row, `e${++etags}`);
    stored.set(options.key(row), s);
    return s;
  };
  const put = async (row: R, etag: string | undefined): Promise<string> => {
    calls.push([options.name, row, etag]);
    meanwhile.shift()?.();
    const outcome = writes.shift();
    if (outcome instanceof Error) throw outcome;
    const now = stored.get(options.key(row));
    if (etag === undefined ? now !== undefined : now?.etag !== etag) throw options.conflict(row);
    const landed = land(row);
    if (outcome) throw outcome(landed);
    return landed.etag;
  };
  return { stored, writes, meanwhile, land, put };
}
