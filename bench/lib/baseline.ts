// The baseline: only the storage calls an ingest fundamentally needs — read the server's Results
// partition, write the new rows in one entity-group transaction (ETag-guarded replaces, or creates
// for a new server) — with the same rows the service writes, no HTTP, no validation, no rules.
import { odata, TableTransaction } from '@azure/data-tables';
import { createTableClients, RoundTripCounter, type TableClients } from '../../src/store/client';
import { resultToEntity } from '../../src/store/entities';
import { encodeKey } from '../../src/store/keys';
import type { ResultRecord } from '../../src/store';

export class Baseline {
  readonly counter = new RoundTripCounter();
  readonly #t: TableClients;
  constructor(connectionString: string, prefix: string) {
    this.#t = createTableClients({ connectionString, tablePrefix: prefix, counter: this.counter });
  }

  async init(): Promise<void> {
    await this.#t.results.createTable();
  }

  /** One ingest's storage work for `server`, writing `records`. */
  async ingest(server: string, records: readonly ResultRecord[]): Promise<void> {
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
}
