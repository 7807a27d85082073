// The Hosts table: each server's host facts from its newest snapshot, written by the projector and
// read by the host views and by passes over the fleet.
//   PK = server bucket (one of 16), RK = server — one row a server; a row is only replaced by
//     facts from a newer snapshot (host-rows), under its ETag, and keeps its first-seen time.
import { odata } from '@azure/data-tables';
import { optStr } from './columns';
import { backOff, CONTENDED_ATTEMPTS } from './contention';
import { queryId } from './cursor';
import { entityToHost, hostToEntity } from './entities';
import { ConcurrencyConflictError, statusCodeOf } from './errors';
import { hostState, hostWrite, newestPerServer, type HostRowState, type HostWrite } from './host-rows';
import { bucketOf, encodeKey } from './keys';
import type { PostureStore } from './posture-store';
import type { HostRecord, Page } from './records';
import { WRITE_PARALLEL, type SiblingTable } from './sibling-table';
import { settleBounded, transactionChunks } from './transactions';

export const HOST_BUCKETS = 16;

export class HostStore {
  readonly #hosts: SiblingTable;
  constructor(store: PostureStore) {
    this.#hosts = store.siblingTable('hosts');
  }

  async getHost(server: string): Promise<HostRecord | undefined> {
    await this.#hosts.ready();
    const e = await this.#hosts.get(bucketOf(server, HOST_BUCKETS), encodeKey(server), 'reading a host');
    return e ? entityToHost(e) : undefined;
  }

  /** One page of server ids from the Hosts table (keys only), for a pass over the fleet. */
  async listServersPage(max: number, token: string | undefined): Promise<{ servers: string[]; token?: string }> {
    await this.#hosts.ready();
    return this.#hosts.call('listing servers', async (t) => {
      const pages = t.listEntities({ queryOptions: { select: ['Server'] } }).byPage({ maxPageSize: max, continuationToken: token || undefined });
      const next = await pages.next();
      // Stryker disable next-line ArrayDeclaration: the SDK yields a first page even when it is empty, so it is never done before it.
      const page = next.done ? [] : next.value;
      return { servers: page.map((e) => optStr(e, 'Server')).filter((s): s is string => !!s), token: next.done ? undefined : next.value.continuationToken };
    });
  }

  /** Every server's host facts, a page at a time, in bucket and server order. */
  async listHosts(top: number, token?: string): Promise<Page<HostRecord>> {
    await this.#hosts.ready();
    // Stryker disable next-line StringLiteral: the id only ties a token to this query, and no other query is named '' or 'hosts-all'.
    return this.#hosts.walk([undefined], queryId('hosts-all', {}), token, top, entityToHost);
  }

  /** Writes the host row unless it already reflects a newer snapshot; keeps the first-seen time. */
  async #putHost(host: HostRecord): Promise<void> {
    const pk = bucketOf(host.server, HOST_BUCKETS);
    const rk = encodeKey(host.server);
    for (let attempt = 0; attempt < CONTENDED_ATTEMPTS; attempt++) {
      const existing = await this.#hosts.get(pk, rk, 'reading a host');
      const write = hostWrite(host, existing && hostState(existing));
      if (!write) return;
      try {
        await this.#hosts.writeAtomically([{ entity: hostToEntity(write.record, pk), etag: write.etag }], [], 'writing a host');
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        await backOff(attempt);
      }
    }
    throw new ConcurrencyConflictError(`The host row of ${host.server} stayed contended.`);
  }

  /**
   * Many servers' host rows under putHost's rules, per bucket: one range read of the bucket's rows
   * between the batch's first and last server (three columns; the projector's batches come in
   * server order, so the range holds little else), then the writes in ETag-guarded transactions
   * (≤ 100 rows, bounded bytes). A transaction refused because another writer got there first
   * leaves nothing written; only its servers take the one-server path.
   */
  async putHosts(hosts: readonly HostRecord[]): Promise<void> {
    const byBucket = new Map<string, HostRecord[]>();
    for (const h of newestPerServer(hosts)) {
      const pk = bucketOf(h.server, HOST_BUCKETS);
      byBucket.set(pk, [...(byBucket.get(pk) ?? []), h]);
    }
    if (byBucket.size === 0) return;
    await this.#hosts.ready();
    await settleBounded([...byBucket], WRITE_PARALLEL, async ([pk, list]) => {
      const now = await this.#hostStates(pk, list.map((h) => encodeKey(h.server)));
      const writes = new Map<string, HostWrite>();
      for (const h of list) {
        const write = hostWrite(h, now.get(encodeKey(h.server)));
        if (write) writes.set(encodeKey(h.server), write);
      }
      for (const chunk of transactionChunks([...writes.values()].map((w) => hostToEntity(w.record, pk)))) {
        const inChunk = chunk.map((entity) => ({ entity, write: writes.get(entity.rowKey)! }));
        try {
          await this.#hosts.writeAtomically(inChunk.map(({ entity, write }) => ({ entity, etag: write.etag })), [], 'writing hosts');
        } catch (error) {
          if (!(error instanceof ConcurrencyConflictError)) throw error;
          for (const { write } of inChunk) await this.#putHost(write.record);
        }
      }
    });
  }

  /**
   * Removed servers' rows go (a removal is rare: a read and a delete each). A row that reflects a
   * snapshot newer than `upTo` (the server posted again after re-enrolling) stays, so a replayed
   * removal never takes a re-created server's row; the delete is under the ETag read.
   */
  async removeHosts(removals: ReadonlyArray<{ readonly server: string; readonly upTo: number }>): Promise<void> {
    if (removals.length === 0) return;
    await this.#hosts.ready();
    await settleBounded(removals, WRITE_PARALLEL, async ({ server, upTo }) => {
      const pk = bucketOf(server, HOST_BUCKETS);
      const rk = encodeKey(server);
      for (let attempt = 0; attempt < CONTENDED_ATTEMPTS; attempt++) {
        const row = await this.#hosts.get(pk, rk, 'reading a host', ['LastCollectedAt']);
        if (!row || hostState(row).lastCollectedAt > upTo) return;
        try {
          await this.#hosts.call('removing a host', (t) => t.deleteEntity(pk, rk, { etag: String(row.etag) }));
          return;
        } catch (error) {
          const status = statusCodeOf(error);
          if (status !== 404 && status !== 412) throw error;
          await backOff(attempt);
        }
      }
      throw new ConcurrencyConflictError(`The host row of ${server} stayed contended.`);
    });
  }

  /** What the writes need of the rows of `rowKeys` in the bucket: one range query (a page per 1,000 rows in range). */
  async #hostStates(pk: string, rowKeys: readonly string[]): Promise<Map<string, HostRowState>> {
    const wanted = new Set(rowKeys);
    const sorted = [...wanted].sort();
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${sorted[0]!} and RowKey le ${sorted[sorted.length - 1]!}`;
    return this.#hosts.call('reading hosts', async (t) => {
      const out = new Map<string, HostRowState>();
      for await (const e of t.listEntities({ queryOptions: { filter, select: ['RowKey', 'FirstSeen', 'LastCollectedAt'] } })) {
        // Stryker disable next-line ConditionalExpression: another server's row in the range only adds an entry nobody looks up.
        if (wanted.has(String(e.rowKey))) out.set(String(e.rowKey), hostState(e));
      }
      return out;
    });
  }
}
