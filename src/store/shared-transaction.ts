// Upserts into one partition from many concurrent requests, written together: while one write is
// in flight, the rows that arrive meanwhile wait and then go as one entity-group transaction (group
// commit). Storage spends most of a call on the call itself, not its rows, so a burst of requests
// that each owe one row costs a fraction of a call each; a lone row still goes at once, alone.
// Each caller's promise settles when its own row is stored (or refused), as with its own call.
import { TableTransaction } from '@azure/data-tables';
import type { Entity } from './entities';
import { MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ROWS, requestBytes } from './transactions';

interface Waiting {
  readonly entity: Entity;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface SharedTransactionWriter {
  /** One row alone (a plain upsert). */
  readonly one: (entity: Entity) => Promise<void>;
  /** Several rows of the partition in one transaction. */
  readonly many: (actions: TableTransaction['actions']) => Promise<void>;
}

export class SharedTransaction {
  readonly #waiting: Waiting[] = [];
  #inFlight = false;

  constructor(private readonly writer: SharedTransactionWriter) {}

  /** Upserts `entity` (Replace), with whatever else is waiting; resolves once it is stored. */
  upsert(entity: Entity): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ entity, bytes: requestBytes(entity), resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#inFlight || this.#waiting.length === 0) return;
    let bytes = 0;
    let n = 0;
    while (n < this.#waiting.length && n < MAX_TRANSACTION_ROWS && (n === 0 || bytes + this.#waiting[n]!.bytes <= MAX_TRANSACTION_BYTES)) bytes += this.#waiting[n++]!.bytes;
    const batch = this.#waiting.splice(0, n);
    this.#inFlight = true;
    void this.#write(batch).finally(() => {
      this.#inFlight = false;
      this.#next();
    });
  }

  async #write(batch: readonly Waiting[]): Promise<void> {
    if (batch.length > 1) {
      const tx = new TableTransaction();
      for (const w of batch) tx.upsertEntity(w.entity, 'Replace');
      try {
        await this.writer.many(tx.actions);
        for (const w of batch) w.resolve();
        return;
      } catch {
        // One refused row fails the whole transaction: each goes alone, so each caller gets its own answer.
      }
    }
    await Promise.all(
      batch.map(async (w) => {
        try {
          await this.writer.one(w.entity);
          w.resolve();
        } catch (error) {
          w.reject(error);
        }
      }),
    );
  }
}
