// Rows as an earlier version left them: committed with the fleet-wide projections still owed, each
// flagged on the row itself (EventPending, IndexPending, SyncPending) and AcceptPending until the
// request could answer 201. This version hands such rows to the projector on a repeat of their snapshot.
import type { TableClient } from '@azure/data-tables';
import { encodeKey } from '../../src/store';

export const PENDING_FLAGS = ['EventPending', 'IndexPending', 'SyncPending', 'AcceptPending'] as const;

/** The server's Results rows, every column. */
export async function resultRowsOf(results: TableClient, server: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of results.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey(server)}'` } })) out.push(e);
  return out;
}

/** Makes the server's state what an earlier version left after committing and before projecting. */
export async function leaveAsEarlierVersion(tables: { results: TableClient; outbox: TableClient }, server: string): Promise<void> {
  const { results, outbox } = tables;
  for await (const e of outbox.listEntities({ queryOptions: { filter: `Server eq '${server}'` } })) await outbox.deleteEntity(String(e.partitionKey), String(e.rowKey));
  for (const row of await resultRowsOf(results, server)) {
    await results.updateEntity({ partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), ...Object.fromEntries(PENDING_FLAGS.map((f) => [f, true])) }, 'Merge');
  }
}
