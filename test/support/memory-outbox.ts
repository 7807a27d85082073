// The Outbox table held in memory, for the projector's unit tests: its entries in key order, the
// held partition, and the projector's lease row with its owner, expiry and generation, answered as
// src/store/outbox-store.ts answers them (one instance at a time, a generation that goes up when
// the lease changes hands). Every call is recorded in the test's call list, in order; what a call
// does instead of answering (throw, land and lose its answer, let another instance act first) is
// queued per method, one per call.
import type { HeldOutboxEntry, StoredOutboxEntry } from '../../src/store';

export type OutboxMethod = 'list' | 'remove' | 'hold' | 'listHeld' | 'requeueHeld' | 'oldestWaiting' | 'holdLease' | 'renewLease' | 'releaseLease';

/** Instead of answering: throw before acting, act and then throw (the answer lost), or let something happen first. */
export type OutboxFault = { readonly fail: unknown } | { readonly lost: unknown } | { readonly before: () => void | Promise<void> };

export interface LeaseRow {
  readonly owner: string;
  readonly until: number;
  readonly generation: number;
}

/** An entry as a test writes it: the rest of a stored entry has defaults. */
export type SeededEntry = Pick<StoredOutboxEntry, 'server' | 'commitId' | 'payload'> & Partial<StoredOutboxEntry>;

/**
 * Keys sort one server's entries together, earliest commit id first, as the table's row keys do
 * (there the servers' order is their bucket's; here it is their name's).
 */
const keyOf = (e: Pick<StoredOutboxEntry, 'server' | 'commitId'>) => `${e.server}|${e.commitId}`;

export function memoryOutbox(calls: unknown[][], options: { onCall?: (method: OutboxMethod) => void } = {}) {
  const entries = new Map<string, StoredOutboxEntry>();
  const held = new Map<string, HeldOutboxEntry & { payload: string }>();
  const faults = new Map<OutboxMethod, OutboxFault[]>();
  const state: { lease: LeaseRow | undefined } = { lease: undefined };
  const sorted = () => [...entries.values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));

  /** Records the call, then does what its queued fault says; `act` runs unless the fault throws first. */
  const call = async <R>(method: OutboxMethod, args: unknown[], act: () => R): Promise<R> => {
    calls.push([method, ...args]);
    options.onCall?.(method);
    const fault = faults.get(method)?.shift();
    if (fault && 'before' in fault) await fault.before();
    if (fault && 'fail' in fault) throw fault.fail;
    const answer = act();
    if (fault && 'lost' in fault) throw fault.lost;
    return answer;
  };

  const store = {
    list: (max: number, maxBytes = Infinity) =>
      call('list', maxBytes === Infinity ? [max] : [max, maxBytes], () => {
        const out: StoredOutboxEntry[] = [];
        let bytes = 0;
        for (const e of sorted()) {
          if (out.length >= max || (out.length > 0 && bytes >= maxBytes)) break;
          out.push(e);
          bytes += e.payload.length;
        }
        return out;
      }),
    remove: (list: readonly Pick<StoredOutboxEntry, 'server' | 'commitId'>[]) =>
      call('remove', [list.map((e) => e.commitId)], () => list.filter((e) => entries.delete(keyOf(e))).length),
    hold: (entry: StoredOutboxEntry, error: string, proven: boolean, now: number) =>
      call('hold', [entry.commitId, error, proven, now], () => {
        entries.delete(keyOf(entry));
        held.set(keyOf(entry), { server: entry.server, commitId: entry.commitId, writtenAt: entry.writtenAt, heldAt: now, error, proven, payload: entry.payload });
      }),
    listHeld: (max: number) => call('listHeld', [max], () => [...held.values()].slice(0, max).map(({ payload: _, ...h }) => h)),
    requeueHeld: () =>
      call('requeueHeld', [], () => {
        for (const [key, h] of held) {
          entries.set(key, { server: h.server, commitId: h.commitId, writtenAt: h.writtenAt, payload: h.payload, etag: 'requeued', storedAt: Date.now(), partitionKey: 'entries', rowKey: key, requeued: true, proven: h.proven });
          held.delete(key);
        }
        return { requeued: entries.size, more: false };
      }),
    oldestWaiting: (max: number) =>
      call('oldestWaiting', [max], () => {
        let count = 0;
        let oldest: { storedAt: number; server: string } | undefined;
        for (const e of sorted()) {
          if (count >= max) return { entries: count, more: true, oldest };
          count++;
          if (!oldest || e.storedAt < oldest.storedAt) oldest = { storedAt: e.storedAt, server: e.server };
        }
        return { entries: count, more: false, oldest };
      }),
    holdLease: (owner: string, now: number, until: number, above = 0) =>
      call('holdLease', [owner, now, until, above], () => {
        const current = state.lease;
        if (current && current.owner !== owner && current.until > now) return undefined;
        const was = current?.generation ?? 0;
        const keeps = current?.owner === owner && was > 0 && was > above;
        const generation = keeps ? was : Math.max(was + 1, Math.floor(now), Math.floor(above) + 1);
        state.lease = { owner, until, generation };
        return generation;
      }),
    renewLease: (owner: string, generation: number, until: number) =>
      call('renewLease', [owner, generation, until], () => {
        const current = state.lease;
        if (!current || current.owner !== owner || current.generation !== generation) return false;
        state.lease = { ...current, until };
        return true;
      }),
    releaseLease: async (owner: string) => {
      try {
        await call('releaseLease', [owner], () => {
          if (state.lease?.owner === owner) state.lease = { owner: '', until: 0, generation: state.lease.generation };
        });
      } catch {
        // As the store's: the lease lapses on its own.
      }
    },
  };

  return {
    /** The store the projector is handed (cast at the caller: only these methods are used). */
    store,
    entries,
    held,
    state,
    /** Writes an entry as a committing request would (not recorded: the test's setup). */
    seed(e: SeededEntry): StoredOutboxEntry {
      const stored: StoredOutboxEntry = { writtenAt: Date.now(), storedAt: Date.now(), etag: 'e', partitionKey: 'entries', rowKey: keyOf(e), requeued: false, proven: false, ...e };
      entries.set(keyOf(e), stored);
      return stored;
    },
    /** The commit ids waiting, in key order. */
    waiting: () => sorted().map((e) => e.commitId),
    /** Queues what the next calls of `method` do, one each. */
    fault(method: OutboxMethod, ...queued: OutboxFault[]) {
      faults.set(method, [...(faults.get(method) ?? []), ...queued]);
    },
    /** Another instance takes the lease (a higher generation), until `until`. */
    takenBy(owner: string, until: number) {
      state.lease = { owner, until, generation: (state.lease?.generation ?? 0) + 1 };
    },
  };
}
