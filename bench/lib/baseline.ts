// The baseline: only the storage calls an ingest fundamentally needs, made the cheapest way the
// service makes them — with the same rows the service writes, no HTTP, no validation, no rules. A
// server with one row (a one-rule set) is read by key and written by one conditional replace (or a
// create for a new server), as the service does; more rows are read by a partition query and written
// in one entity-group transaction. Were the baseline to query a partition the service reads by key,
// the ratio would measure Azurite's table scan rather than the service's own work.
import { odata, RestError, TableTransaction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClientFactoryOptions, type TableClients } from '../../src/store/client';
import { resultToEntity } from '../../src/store/entities';
import { encodeKey } from '../../src/store/keys';
import type { ResultRecord } from '../../src/store';

export class Baseline {
  readonly counter = new RoundTripCounter();
  readonly #t: TableClients;
  /** `open`: how its tables are opened (a test passes createTestTables, so the rows it writes meet Azure's limits). */
  constructor(connectionString: string, prefix: string, open: (options: TableClientFactoryOptions) => TableClients = createTableClients) {
    this.#t = open({ connectionString, tablePrefix: prefix, counter: this.counter });
  }

  async init(): Promise<void> {
    await this.#t.results.createTable();
  }

  /** One ingest's storage work for `server`, writing `records`. */
  async ingest(server: string, records: readonly ResultRecord[]): Promise<void> {
    const [only] = records;
    if (only && records.length === 1) return this.#ingestOne(only);
    const pk = encodeKey(server);
    const etags = new Map<string, string>();
    for await (const e of this.#t.results.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}` } })) etags.set(String(e.rowKey), String(e.etag));
    const tx = new TableTransaction();
    for (const r of records) {
      const entity = resultToEntity(r);
      const etag = etags.get(entity.rowKey);
      if (etag) tx.updateEntity(entity, 'Replace', { etag });
      else tx.createEntity(entity);
    }
    await this.#t.results.submitTransaction(tx.actions);
  }

  async #ingestOne(record: ResultRecord): Promise<void> {
    const entity = resultToEntity(record);
    const etag = await this.#t.results.getEntity(entity.partitionKey, entity.rowKey).then(
      (e) => e.etag,
      (error: unknown) => {
        if (error instanceof RestError && error.statusCode === 404) return undefined;
        throw error;
      },
    );
    if (etag) await this.#t.results.updateEntity(entity, 'Replace', { etag });
    else await this.#t.results.createEntity(entity);
  }
}
