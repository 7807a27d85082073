// The refusedWrites fault (test/support/faults.ts) against Azurite: the tests that use it to make a
// table's writes fail rely on it refusing every write to that table, whatever form it takes on the
// wire, and nothing else. A transaction's parts name their table in its body: an update or delete
// as `/<table>(keys)`, a create as a POST to `/<table>` itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { tableNames, type TableClients } from '../../src/store/client';
import { refusedWrites } from '../support/faults';
import { createTestTables } from '../support/stack';

const PREFIX = 'Refuse';
const refused = refusedWrites('testRefusedWrites');
let azurite: AzuriteHandle | undefined;
let clients: TableClients;

beforeAll(async () => {
  azurite = await startAzurite({});
  // No retries: a refused write fails at once, as it would after the SDK's retries.
  clients = createTestTables({ connectionString: azurite.connectionString, tablePrefix: PREFIX, policies: [refused.policy], maxRetries: 0 });
  await clients.events.createTable();
  await clients.results.createTable();
  refused.table = tableNames(PREFIX).events;
});
afterEach(() => {
  refused.on = false;
});
afterAll(async () => azurite?.stop());

/** The row keys of a partition of the table. */
const rowKeys = async (table: 'events' | 'results', partition: string) => {
  const keys: string[] = [];
  for await (const e of clients[table].listEntities({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) keys.push(String(e.rowKey));
  return keys.sort();
};

describe('refusedWrites', () => {
  it('refuses a transaction made only of creates to its table, and one that updates; nothing lands', async () => {
    refused.on = true;
    const creates = clients.events.submitTransaction([
      ['create', { partitionKey: 'p', rowKey: 'a' }],
      ['create', { partitionKey: 'p', rowKey: 'b' }],
    ]);
    await expect(creates).rejects.toMatchObject({ statusCode: 503 });
    await expect(clients.events.submitTransaction([['upsert', { partitionKey: 'p', rowKey: 'c' }]])).rejects.toMatchObject({ statusCode: 503 });
    await expect(clients.events.createEntity({ partitionKey: 'p', rowKey: 'd' })).rejects.toMatchObject({ statusCode: 503 });
    expect(await rowKeys('events', 'p')).toEqual([]);
  });

  it("lets another table's transactions through, and its own table's writes once it is off", async () => {
    refused.on = true;
    await clients.results.submitTransaction([['create', { partitionKey: 'q', rowKey: 'a' }]]);
    expect(await rowKeys('results', 'q')).toEqual(['a']);
    refused.on = false;
    await clients.events.submitTransaction([['create', { partitionKey: 'q', rowKey: 'a' }]]);
    expect(await rowKeys('events', 'q')).toEqual(['a']);
  });
});
