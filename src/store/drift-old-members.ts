// Drift's member rows of the layout before members were keyed by place (`m|<server>`, no anchor),
// as the layout migration finds and moves them. Until none is left, every read of a server's
// members pays a point read of that row beside the range read of its keyed rows, and a batched
// move of such a server fails its whole transaction and falls back to read-and-compare.
//
// A move here changes no count: the old row is deleted and the keyed row created at the same
// place, with the anchor, in one transaction. A transaction ignores an ETag on a delete, so what
// guards it is the counter row the member is counted in, updated (no properties) under the ETag it
// had before the member was read: any move of that server since (by DriftStore, or by an instance
// of an older version) changed that row or removed the old member, and the transaction fails whole.
import { odata, TableTransaction } from '@azure/data-tables';
import { answeredAfterLostAnswer } from './client';
import { backOff } from './contention';
import { decodeKey } from './keys';
import { DRIFT_COUNTER_KEYS, DRIFT_MEMBER_KEYS, driftAnchorEntity, driftCountsKey, driftMemberEntity, driftShardOf, DriftStore, isNewerSource, oldLayoutMemberServer, type StoredDriftMember } from './drift-store';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import { afterFilters, type KeyPosition } from './older-layouts';
import type { PostureStore } from './posture-store';
import type { SiblingTable } from './sibling-table';
import { settleBounded } from './transactions';

/** A row's keys. */
export interface RowKeys {
  readonly partitionKey: string;
  readonly rowKey: string;
}

/**
 * What became of an old-layout member: moved into the keyed layout (also when the move's answer was
 * lost and its resend refused); resolved through DriftStore's read-and-compare path (the server also
 * had a keyed member, or its counter row was missing); gone (moved by someone else first); left for
 * a later run (contended throughout).
 */
export type OldMemberOutcome = 'moved' | 'resolved' | 'gone' | 'left';

const ATTEMPTS = 5;
/** Keys per page of a listing (the most a page holds). */
const PAGE = 1000;

/** The newest of a server's member rows (as the moves order them). */
function newest(members: readonly StoredDriftMember[]): StoredDriftMember {
  return members.reduce((a, b) => (isNewerSource(b.member, a.member) ? b : a));
}

export class OlderDriftMembers {
  readonly #table: SiblingTable;
  /** Reads old-layout rows always: a row written late is still one to move. */
  readonly #drift: DriftStore;

  constructor(store: PostureStore) {
    this.#table = store.siblingTable('drift');
    this.#drift = new DriftStore(store, { oldLayoutMembers: 'always' });
  }

  /**
   * Up to `max` member row keys (either layout) after `after`, every rule's partition in key order,
   * keys only: no range picks out the old layout, whose key is a prefix of the server's keyed rows.
   * The rest of the position's partition first, then the partitions after it.
   */
  async listMemberKeys(after: KeyPosition | undefined, max: number): Promise<{ keys: RowKeys[]; more: boolean }> {
    await this.#table.ready();
    const members = odata`RowKey ge ${DRIFT_MEMBER_KEYS.from} and RowKey lt ${DRIFT_MEMBER_KEYS.to}`;
    const { rest, later } = afterFilters(after);
    const filters = [...(rest === undefined ? [] : [`${rest} and ${odata`RowKey lt ${DRIFT_MEMBER_KEYS.to}`}`]), later === undefined ? members : `${later} and ${members}`];
    const keys: RowKeys[] = [];
    for (const [i, filter] of filters.entries()) {
      let token: string | undefined;
      do {
        const page = await this.#table.call('listing drift members', async (client) => {
          const pages = client.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }).byPage({ maxPageSize: Math.min(PAGE, max - keys.length), continuationToken: token });
          const next = await pages.next();
          return next.done ? undefined : next.value;
        });
        for (const e of page ?? []) keys.push({ partitionKey: String(e.partitionKey), rowKey: String(e.rowKey) });
        token = page?.continuationToken;
      } while (token && keys.length < max);
      if (keys.length >= max) return { keys: keys.slice(0, max), more: token !== undefined || i < filters.length - 1 };
    }
    return { keys, more: false };
  }

  /** Old-layout members left, counted up to `max` (every member key is listed: a page per 1,000). */
  async count(max: number): Promise<number> {
    let n = 0;
    let after: KeyPosition | undefined;
    for (;;) {
      const { keys, more } = await this.listMemberKeys(after, PAGE);
      n += keys.filter((k) => oldLayoutMemberServer(k.rowKey) !== undefined).length;
      if (n >= max || !more || keys.length === 0) return Math.min(n, max);
      after = keys[keys.length - 1];
    }
  }

  /**
   * Moves old-layout members into the keyed layout. Per rule, its counter rows are read first (one
   * range read); then the members of one counter shard go one after another (they may share a
   * counter row, whose ETag each move changes), shards `parallel` at a time.
   */
  async move(keys: readonly RowKeys[], parallel = 4): Promise<Record<OldMemberOutcome, number>> {
    const outcomes: Record<OldMemberOutcome, number> = { moved: 0, resolved: 0, gone: 0, left: 0 };
    const groups = new Map<string, { partitionKey: string; servers: string[] }>();
    for (const k of keys) {
      const server = oldLayoutMemberServer(k.rowKey);
      if (server === undefined) continue;
      const id = `${k.partitionKey}\n${driftShardOf(server)}`;
      const group = groups.get(id) ?? { partitionKey: k.partitionKey, servers: [] };
      group.servers.push(server);
      groups.set(id, group);
    }
    const counters = new Map<string, Map<string, string | null>>();
    for (const pk of new Set([...groups.values()].map((g) => g.partitionKey))) counters.set(pk, await this.#counterEtags(pk));
    await settleBounded([...groups.values()], parallel, async ({ partitionKey, servers }) => {
      for (const server of servers) {
        const outcome = await this.#moveOne(partitionKey, server, counters.get(partitionKey)!).catch((error: unknown) => {
          // The read-and-compare path gave up on a contended counter row: a later run tries again.
          if (error instanceof ConcurrencyConflictError) return 'left' as const;
          throw error;
        });
        outcomes[outcome]++;
      }
    });
    return outcomes;
  }

  /**
   * One old-layout member: read the server's members (both layouts), then one transaction under
   * the ETag its counter row had before that read. `counters` holds ETags read before any member
   * read since (null: the row is not there); a row not in it is read, and the members again after.
   */
  async #moveOne(pk: string, server: string, counters: Map<string, string | null>): Promise<OldMemberOutcome> {
    const ruleId = decodeKey(pk);
    const shard = driftShardOf(server);
    /** The last attempt's transaction was refused on a resend after a lost answer: it may have landed. */
    let resent = false;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const members = await this.#drift.readMembers(ruleId, server);
      const old = members.find((x) => oldLayoutMemberServer(x.rowKey) !== undefined);
      // Gone after this run's resent move: most likely the move landed and only its answer was lost (a count only).
      if (!old) return resent ? 'moved' : 'gone';
      if (members.length > 1) {
        // Counted in both layouts (a first join that did not meet the old row, which has no
        // anchor): the read-and-compare path keeps the newest and removes the others.
        await this.#drift.syncMember(newest(members).member);
        return 'resolved';
      }
      const key = driftCountsKey(old.member.fingerprint, shard);
      const etag = counters.get(key);
      if (etag === undefined) {
        counters.set(key, await this.#counterEtag(pk, key));
        continue;
      }
      if (etag === null) {
        // Counted nowhere: nothing to guard the move with, and a count to repair; the
        // read-and-compare path does both under its own guards.
        await this.#drift.syncMember(old.member);
        return 'resolved';
      }
      const tx = new TableTransaction();
      tx.deleteEntity(pk, old.rowKey);
      tx.createEntity(driftMemberEntity(old.member));
      tx.upsertEntity(driftAnchorEntity(ruleId, server), 'Replace');
      const guardOp = tx.actions.length;
      tx.updateEntity({ partitionKey: pk, rowKey: key }, 'Merge', { etag });
      try {
        const response = await this.#table.call('moving an old-layout drift member', (t) => t.submitTransaction(tx.actions));
        const next = response.subResponses[guardOp]?.etag;
        if (next) counters.set(key, next);
        else counters.delete(key);
        return 'moved';
      } catch (error) {
        // 404: the old row (or the counter row) is gone; 409: the keyed row exists already; 412:
        // the counter row changed. Read again: the next attempt sees what happened.
        const status = statusCodeOf(error);
        if (status !== 404 && status !== 409 && status !== 412) throw error;
        resent = answeredAfterLostAnswer(error);
        counters.delete(key);
        await backOff(attempt);
      }
    }
    return 'left';
  }

  /** The ETags of a rule's counter rows (one range read, keys only). */
  async #counterEtags(pk: string): Promise<Map<string, string | null>> {
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${DRIFT_COUNTER_KEYS.from} and RowKey lt ${DRIFT_COUNTER_KEYS.to}`;
    return this.#table.call('reading drift', async (t) => {
      const out = new Map<string, string | null>();
      for await (const e of t.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) if (e.etag) out.set(String(e.rowKey), String(e.etag));
      return out;
    });
  }

  /** One counter row's ETag; null when it is not there. */
  async #counterEtag(pk: string, rowKey: string): Promise<string | null> {
    try {
      const e = await this.#table.call('reading drift', (t) => t.getEntity(pk, rowKey, { queryOptions: { select: ['RowKey'] } }));
      return e.etag ? String(e.etag) : null;
    } catch (error) {
      if (statusCodeOf(error) === 404) return null;
      throw error;
    }
  }
}
