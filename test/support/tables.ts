// Every row of every table of a test stack, for "a refused request changes no table": ETags and
// timestamps are kept, so even a rewrite with the same content shows as a change.
import { expect } from 'vitest';
import { stackTables, type TestStack } from './stack';

export type TableDump = Record<string, string[]>;

/** With `light`, only keys, ETag and Timestamp per row: enough to see any write, far cheaper. */
export async function dumpTables(stack: TestStack, options: { light?: boolean } = {}): Promise<TableDump> {
  // What earlier accepted posts owe the fleet-wide tables is written first, so a dump taken before
  // a request and one taken after differ only by what that request wrote.
  await stack.projected().catch(() => undefined);
  const out: TableDump = {};
  for (const [kind, client] of Object.entries(stackTables(stack))) {
    const rows: string[] = [];
    const queryOptions = options.light ? { select: ['PartitionKey', 'RowKey', 'Timestamp'] } : {};
    for await (const e of client.listEntities({ queryOptions })) rows.push(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    out[kind] = rows.sort();
  }
  return out;
}

/** The rule's counts as the summary reads them (the counts rows) agree with its Results rows' own statuses. */
export async function countsAgree(stack: TestStack, ruleId = 'test-alpha'): Promise<void> {
  const { results } = stackTables(stack);
  const truth: Record<string, number> = {};
  for await (const e of results.listEntities({ queryOptions: { filter: `RuleId eq '${ruleId}'` } })) truth[String(e.Status)] = (truth[String(e.Status)] ?? 0) + 1;
  const summary = (await (await stack.request('summary')).json()) as { rules: { ruleId: string; counts: Record<string, number> }[] };
  const counts = summary.rules.find((r) => r.ruleId === ruleId)!.counts;
  for (const [status, n] of Object.entries(counts)) expect(n, status).toBe(truth[status] ?? 0);
}
