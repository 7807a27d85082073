// The Snapshots table's slot rows: each server's raw snapshots as the projector stores them, a few
// slots a server in its bucket, so the newest raw body is one range read however large the fleet.
//   PK = s|<server bucket>, RK = <server>|slot<n> — one raw snapshot, its body gzip in binary columns
//   PK = <server> — rows of the older layouts, until the layout migration records them empty
// Staging rows (bodies too large for their outbox entry) share the table: staged-raw-store.
import { odata } from '@azure/data-tables';
import { entityToRawBody, entityToRawMeta, legacyServerPartition, rawSlotRange, rawToEntity, snapshotPartition } from './entities';
import type { PostureStore } from './posture-store';
import type { RecordedEmpty } from './recorded-empty';
import type { RawSnapshotMeta, RawSnapshotRecord } from './records';
import type { SiblingTable } from './sibling-table';
import { isNewerSnapshot } from './snapshot-order';

export class RawSnapshotStore {
  readonly #snapshots: SiblingTable;
  /** Whether the older layouts are recorded empty (the store's one belief, shared with History). */
  readonly #olderLayouts: RecordedEmpty;

  constructor(store: PostureStore) {
    this.#snapshots = store.siblingTable('snapshots');
    this.#olderLayouts = store.olderLayouts;
  }

  /**
   * Stores many servers' raw snapshots in their slots: one transaction per bucket of servers,
   * split at 100 rows and by bytes (bodies are up to 720 KiB of gzip each). In list order, so when one
   * slot of a server comes twice the later write wins.
   */
  async putRawSnapshots(list: ReadonlyArray<{ readonly record: RawSnapshotRecord; readonly slot: number }>): Promise<void> {
    await this.#snapshots.upsertRows(
      list.map((r) => rawToEntity(r.record, r.slot)),
      'writing raw snapshots',
    );
  }

  /**
   * The newest stored raw snapshot of a server (metadata, and the body when `withBody`): every slot
   * row of its range in its bucket (staging rows are not slots: their commit may not have landed),
   * and side by side the partition of the older layouts (until the layout migration has recorded
   * them empty); the newest (CollectedAt, then SnapshotId) wins.
   */
  async getLatestRaw(server: string, withBody = false): Promise<(RawSnapshotMeta & { body?: string }) | undefined> {
    await this.#snapshots.ready();
    const range = rawSlotRange(server);
    const filters = [odata`PartitionKey eq ${snapshotPartition(server)} and RowKey ge ${range.from} and RowKey lt ${range.to}`];
    if (!(await this.#olderLayouts.gone())) filters.push(odata`PartitionKey eq ${legacyServerPartition(server)}`);
    const select = withBody ? undefined : ['Server', 'SnapshotId', 'CollectedAt', 'ReceivedAt', 'ContentHash', 'RawBytes', 'RawStored'];
    const rows = await Promise.all(
      filters.map((filter) =>
        this.#snapshots.call('reading a raw snapshot', async (t) => {
          const out: Record<string, unknown>[] = [];
          for await (const e of t.listEntities({ queryOptions: { filter, select } })) out.push(e);
          return out;
        }),
      ),
    );
    let newest: { meta: RawSnapshotMeta; entity: Record<string, unknown> } | undefined;
    for (const e of rows.flat()) {
      const meta = entityToRawMeta(e);
      if (!newest || isNewerSnapshot(meta, newest.meta)) {
        newest = { meta, entity: e };
      }
    }
    if (!newest) return undefined;
    return { ...newest.meta, ...(withBody ? { body: entityToRawBody(newest.entity) } : {}) };
  }
}
