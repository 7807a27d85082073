// Every row of every table of a test stack, for "a refused request changes no table": ETags and
// timestamps are kept, so even a rewrite with the same content shows as a change.
import { TableClient } from '@azure/data-tables';
import { resolveConnectionString, tableNames } from '../../src/store';
import type { TestStack } from './stack';

export type TableDump = Record<string, string[]>;

/** With `light`, only keys, ETag and Timestamp per row: enough to see any write, far cheaper. */
export async function dumpTables(stack: TestStack, options: { light?: boolean } = {}): Promise<TableDump> {
  // What earlier accepted posts owe the fleet-wide tables is written first, so a dump taken before
  // a request and one taken after differ only by what that request wrote.
  await stack.projected().catch(() => undefined);
  const cs = resolveConnectionString(stack.settings.storageConnectionString ?? '');
  const out: TableDump = {};
  for (const [kind, name] of Object.entries(tableNames(stack.settings.tablePrefix))) {
    const client = TableClient.fromConnectionString(cs, name, { allowInsecureConnection: true });
    const rows: string[] = [];
    const queryOptions = options.light ? { select: ['PartitionKey', 'RowKey', 'Timestamp'] } : {};
    for await (const e of client.listEntities({ queryOptions })) rows.push(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    out[kind] = rows.sort();
  }
  return out;
}
