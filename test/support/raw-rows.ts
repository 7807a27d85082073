// What tests of raw bodies read straight from the tables, past the service: a server's Snapshots
// rows (slots and staging rows), its waiting outbox entries, and the few facts of a posted snapshot
// they compare against.
import { bucketOf, encodeKey } from '../../src/store/keys';
import { stackTables, type TestStack } from './stack';

/** A server's raw row: what follows `<server>|` in its RowKey (`slot2`, `stage|<commit>`), and its snapshot. */
export interface RawRow {
  readonly slot: string;
  readonly snapshotId: string;
}

/** The stack's tables, opened directly, and the reads the raw-body tests make of them. */
export function rawTables(stack: TestStack) {
  const tables = stackTables(stack);
  const { snapshots, outbox } = tables;

  /** The server's raw rows, slots and staging rows alike, in RowKey order. */
  const rawRows = async (server: string): Promise<RawRow[]> => {
    const k = encodeKey(server);
    const filter = `PartitionKey eq 's|${bucketOf(server, 16)}' and RowKey ge '${k}|' and RowKey lt '${k}}'`;
    const out: RawRow[] = [];
    for await (const e of snapshots.listEntities({ queryOptions: { filter, select: ['RowKey', 'SnapshotId'] } })) {
      out.push({ slot: String(e.rowKey).slice(k.length + 1), snapshotId: String(e.SnapshotId) });
    }
    return out.sort((a, b) => a.slot.localeCompare(b.slot));
  };
  const slotRows = async (server: string): Promise<RawRow[]> => (await rawRows(server)).filter((r) => r.slot.startsWith('slot'));

  return {
    snapshots,
    outbox,
    results: tables.results,
    events: tables.events,
    history: tables.history,
    rawRows,
    slotRows,
    /** The snapshot ids of the server's slot rows. */
    storedIds: async (server: string): Promise<string[]> => (await slotRows(server)).map((r) => r.snapshotId),
    /** The snapshot ids of the server's staging rows (bodies waiting for the projector). */
    stagedIds: async (server: string): Promise<string[]> => (await rawRows(server)).filter((r) => r.slot.startsWith('stage|')).map((r) => r.snapshotId),
    /** How many outbox entries of the server wait. */
    waitingEntries: async (server: string): Promise<number> => {
      let n = 0;
      for await (const e of outbox.listEntities({ queryOptions: { filter: `Server eq '${server}'`, select: ['RowKey'] } })) n += e.rowKey ? 1 : 0;
      return n;
    },
  };
}

export const serverOf = (host: string): string => `${host.toLowerCase()}.corp.contoso.com`;
export const idOf = (doc: Record<string, unknown>): string => String(doc.snapshotId).toLowerCase();
/** The file tail a posted snapshot carried. */
export const sentTail = (doc: Record<string, unknown>): string => (doc.files as { tail: string }[])[0]!.tail;
/** The file tail of a stored raw body. */
export const tailOf = (body: string | undefined): string | undefined => (JSON.parse(body ?? '{}') as { files?: { tail?: string }[] }).files?.[0]?.tail;
