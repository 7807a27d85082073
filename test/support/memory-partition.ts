// One server's Results partition held in memory with ETags, its outbox entries, and every call
// made, in order: the storage of the use-case unit tests that write a server's commit (ingest, a
// server's removal). Another writer's commit between a read and a commit, a commit whose answer is
// lost after it landed, refusals, outages and failing reads are queued on it, one per call.
import { decodeWork, type ProjectionWork } from '../../src/app/projection-work';
import { ConcurrencyConflictError, type ServerCommit, type StoredResult } from '../../src/store';

/** What a commit does instead of landing: throw, or land and then answer a conflict (its answer lost, retried into a 412). */
export type CommitFailure = Error | 'landed-then-conflict';

export interface MemoryEntry {
  readonly server: string;
  readonly commitId: string;
  readonly writtenAt: number;
  readonly payload: string;
}

export function memoryPartition() {
  const rows = new Map<string, StoredResult>();
  const entries = new Map<string, MemoryEntry>();
  const calls: string[] = [];
  /** What the next commits do instead of landing, one each. */
  const failures: CommitFailure[] = [];
  /** Rows another writer commits just before the next commit (a conflict). */
  const interleaved: (() => void)[] = [];
  /** What the next reads throw, one each. */
  const readFailures: Error[] = [];
  let etags = 0;
  const land = (commit: Pick<ServerCommit, 'put' | 'remove'> & Partial<ServerCommit>) => {
    for (const { record } of commit.put) rows.set(record.ruleId, { ...record, etag: `e${++etags}` } as StoredResult);
    for (const ruleId of commit.remove) rows.delete(ruleId);
  };
  return {
    rows,
    entries,
    calls,
    failures,
    interleaved,
    readFailures,
    land,
    /** The rows as stored now, or the next queued read failure. */
    read: (): StoredResult[] => {
      const failure = readFailures.shift();
      if (failure) throw failure;
      return [...rows.values()];
    },
    /** Lands a commit whose every row still has the ETag it was read with; else a conflict. */
    commitServer: async (server: string, commit: ServerCommit) => {
      calls.push(`commit ${commit.put.map((p) => p.record.ruleId).join(',')}${commit.remove.length > 0 ? ` remove ${commit.remove.join(',')}` : ''}`);
      interleaved.shift()?.();
      const failure = failures.shift();
      if (failure instanceof Error) throw failure;
      for (const { record, etag } of commit.put) if (rows.get(record.ruleId)?.etag !== etag) throw new ConcurrencyConflictError(`${server} changed`);
      land(commit);
      if (failure === 'landed-then-conflict') throw new ConcurrencyConflictError('the retry met its own ETags');
    },
    outbox: {
      put: async (e: MemoryEntry) => {
        calls.push(`entry ${e.commitId}`);
        entries.set(e.commitId, e);
      },
      deleteOne: async (_server: string, commitId: string) => (calls.push(`drop entry ${commitId}`), entries.delete(commitId)),
    },
    /** The work of an entry (decoded): the one named, else the first. */
    work: (commitId?: string): ProjectionWork => decodeWork([...entries.values()].find((e) => !commitId || e.commitId === commitId)!.payload)!,
    /** Call names without the commit ids, which are random. */
    steps: () => calls.map((c) => c.replace(/ [0-9a-z]{10}-[0-9a-f-]{36}/g, '')),
  };
}
