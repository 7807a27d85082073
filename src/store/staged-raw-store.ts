// The Snapshots table's staging rows: a raw body too large for its outbox entry, staged by its
// request under its commit attempt (PK = s|<server bucket>, RK = <server>|stage|<commit id>),
// copied into its slot by the projector and then removed. And what the hourly sweep of staging
// rows reads and writes: staging rows found by their keys alone, the few columns that say which
// content a staging row, a slot and a server's Results rows hold, and a copy into a slot that
// happens only if the slot is still as it was read.
import { odata } from '@azure/data-tables';
import { commitMarks, entityToRawMeta, LIVE_RESULTS, parseRawStageKey, rawSlotKey, rawStageKey, serverRange, SNAPSHOT_BUCKETS_RANGE, snapshotPartition, stagedRawToEntity, stagedToSlotEntity } from './entities';
import { ms, num, str } from './columns';
import { statusCodeOf } from './errors';
import { and } from './filters';
import { encodeKey } from './keys';
import { isNewerSnapshot } from './snapshot-order';
import type { PostureStore } from './posture-store';
import type { CommitMark, RawSnapshotMeta, RawSnapshotRecord } from './records';
import { WRITE_PARALLEL, type SiblingTable } from './sibling-table';
import { settleBounded } from './transactions';

/** A staging row as the key scan finds it. */
export interface StagedRawKey {
  readonly server: string;
  readonly commitId: string;
  /** When storage last wrote the row (its Timestamp). */
  readonly stagedAt: number;
}

/** A staging row's content, without its body. */
export interface StagedRawMeta extends RawSnapshotMeta {
  readonly commitId: string;
  /** The slot its commit chose; absent on rows staged before the column was written. */
  readonly slot?: number;
}

/** A slot row's content, without its body, and its ETag (a copy replaces it only if unchanged). */
export interface RawSlotState {
  readonly meta: RawSnapshotMeta;
  readonly etag: string;
}

/** What a server's Results rows say of its raw content: the newest commit's. */
export interface RawHead {
  readonly snapshotId: string;
  readonly collectedAt: number;
  readonly contentHash: string;
  readonly rawSlot?: number;
  readonly recentCommits: readonly CommitMark[];
}

/** The meta columns of a raw row: enough to compare contents, no body. */
const META_COLUMNS = ['Server', 'SnapshotId', 'CollectedAt', 'ReceivedAt', 'ContentHash', 'RawBytes', 'RawStored'];
const HEAD_COLUMNS = ['SnapshotId', 'CollectedAt', 'ContentHash', 'RawSlot', 'RecentCommits'];

export class StagedRawStore {
  readonly #snapshots: SiblingTable;
  readonly #results: SiblingTable;

  constructor(store: PostureStore) {
    this.#snapshots = store.siblingTable('snapshots');
    this.#results = store.siblingTable('results');
  }

  /**
   * Stages a raw body too large for its outbox entry under its commit attempt (one upsert). No
   * other attempt writes this row, so an attempt that is then refused cannot replace a body that
   * was accepted; the projector copies it into the slot its commit chose (copyStagedRaw).
   */
  async putStagedRaw(raw: RawSnapshotRecord, commitId: string, slot: number): Promise<void> {
    const entity = stagedRawToEntity(raw, commitId, slot);
    await this.#snapshots.call('staging a raw snapshot', (t) => t.upsertEntity(entity, 'Replace'));
  }

  /**
   * Copies the staged body of `commitId` into the server's `slot` (a read and an upsert, one body
   * in memory). False when no staging row is left: an earlier run copied it, and later entries
   * of the batch that removed it wrote that slot or newer content, so there is nothing to redo.
   */
  async copyStagedRaw(server: string, commitId: string, slot: number): Promise<boolean> {
    const staged = await this.#snapshots.get(snapshotPartition(server), rawStageKey(server, commitId), 'reading a staged raw snapshot');
    if (!staged) return false;
    const entity = stagedToSlotEntity(staged, server, slot);
    await this.#snapshots.call('writing a raw snapshot', (t) => t.upsertEntity(entity, 'Replace'));
    return true;
  }

  /** Removes staging rows (a delete each, WRITE_PARALLEL at a time; one already gone is fine). */
  async deleteStagedRaw(list: ReadonlyArray<{ readonly server: string; readonly commitId: string }>): Promise<void> {
    await settleBounded(list, WRITE_PARALLEL, async ({ server, commitId }) => {
      try {
        await this.#snapshots.call('removing a staged raw snapshot', (t) => t.deleteEntity(snapshotPartition(server), rawStageKey(server, commitId)));
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
    });
  }

  /**
   * Every staging row of every Snapshots bucket, read by key and Timestamp only. A staging key has
   * its marker in the middle of the RowKey, which no range can pick out, so the slot rows (two per
   * server) are listed too, each as its keys: about 100 bytes a row, a page per 1000 rows.
   */
  async listStaged(): Promise<StagedRawKey[]> {
    await this.#snapshots.ready();
    const filter = odata`PartitionKey ge ${SNAPSHOT_BUCKETS_RANGE.from} and PartitionKey lt ${SNAPSHOT_BUCKETS_RANGE.to}`;
    return this.#snapshots.call('listing staged raw snapshots', async (t) => {
      const out: StagedRawKey[] = [];
      for await (const e of t.listEntities({ queryOptions: { filter, select: ['RowKey', 'Timestamp'] } })) {
        const key = parseRawStageKey(String(e.rowKey));
        if (key) out.push({ ...key, stagedAt: stampOf(e) });
      }
      return out;
    });
  }

  /** A staging row's content without its body, or undefined when it is gone. */
  async readStagedMeta(server: string, commitId: string): Promise<StagedRawMeta | undefined> {
    const e = await this.#point(this.#snapshots, snapshotPartition(server), rawStageKey(server, commitId), [...META_COLUMNS, 'StagedSlot'], 'reading a staged raw snapshot');
    if (!e) return undefined;
    return { ...entityToRawMeta(e), commitId, slot: num(e, 'StagedSlot') };
  }

  /** What one of the server's slots holds now (no body), or undefined when the slot was never written. */
  async readSlot(server: string, slot: number): Promise<RawSlotState | undefined> {
    const e = await this.#point(this.#snapshots, snapshotPartition(server), serverRange(server).from + rawSlotKey(slot), META_COLUMNS, 'reading a raw snapshot');
    return e ? { meta: entityToRawMeta(e), etag: String(e.etag) } : undefined;
  }

  /**
   * Copies a staging row into the server's `slot` only if the slot is as it was read: under its
   * ETag, or created when it did not exist (`etag` undefined). 'conflict': someone wrote the slot
   * meanwhile (the projector, with newer content); 'gone': the staging row was removed meanwhile.
   */
  async copyIfUnchanged(server: string, commitId: string, slot: number, etag: string | undefined): Promise<'copied' | 'conflict' | 'gone'> {
    const staged = await this.#point(this.#snapshots, snapshotPartition(server), rawStageKey(server, commitId), undefined, 'reading a staged raw snapshot');
    if (!staged) return 'gone';
    const entity = stagedToSlotEntity(staged, server, slot);
    try {
      await this.#snapshots.call('writing a raw snapshot', (t) => (etag === undefined ? t.createEntity(entity) : t.updateEntity(entity, 'Replace', { etag })));
      return 'copied';
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412 || status === 404) return 'conflict';
      throw error;
    }
  }

  /** The newest commit's raw columns among the server's Results rows (one partition query, a few columns), or undefined without rows. */
  async readHead(server: string): Promise<RawHead | undefined> {
    await this.#results.ready();
    // A removed server's markers name no content: its staging rows belong in no slot.
    const filter = and(odata`PartitionKey eq ${encodeKey(server)}`, LIVE_RESULTS);
    return this.#results.call('reading server state', async (t) => {
      let head: RawHead | undefined;
      for await (const e of t.listEntities({ queryOptions: { filter, select: HEAD_COLUMNS } })) {
        const row: RawHead = {
          snapshotId: str(e, 'SnapshotId'),
          collectedAt: ms(e, 'CollectedAt') ?? 0,
          contentHash: str(e, 'ContentHash'),
          rawSlot: num(e, 'RawSlot'),
          recentCommits: commitMarks(str(e, 'RecentCommits')),
        };
        if (!head || isNewerSnapshot(row, head)) head = row;
      }
      return head;
    });
  }

  async #point(table: SiblingTable, pk: string, rk: string, select: string[] | undefined, what: string): Promise<Record<string, unknown> | undefined> {
    await table.ready();
    return table.get(pk, rk, what, select);
  }
}

/**
 * A row's Timestamp in epoch ms (the SDK hands it over as an ISO string, or as a Date when the
 * answer types it); NaN when missing (Date.parse of no text), which no age test passes.
 */
function stampOf(e: Record<string, unknown>): number {
  const stamp = e.timestamp ?? e.Timestamp;
  return stamp instanceof Date ? stamp.getTime() : Date.parse(String(stamp));
}
