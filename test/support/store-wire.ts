// A store's requests to the tables a test watches, seen on the store's own pipeline: recorded as
// sent, and refused, preceded by another writer's act, or answered otherwise where a test says;
// and what an outage of one of them must look like to the store's caller.
import type { TableClient } from '@azure/data-tables';
import { expect } from 'vitest';
import { StorageUnavailableError, type StoragePolicy } from '../../src/store';
import { injectedError } from './faults';

export interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly ifMatch?: string;
}
export type WireResponse = Awaited<ReturnType<StoragePolicy['sendRequest']>>;

export interface StoreWire {
  /** Forgets what was sent and every hook, for the next test. */
  reset(): void;
  sent: Sent[];
  /** The status to refuse a request with (none: sent). */
  refuse?: (r: Sent) => number | undefined;
  /** Runs once, before the next request goes. */
  before?: (r: Sent) => Promise<void>;
  /** The answer the store gets instead of storage's. */
  after?: (r: Sent, response: WireResponse) => WireResponse;
}

/** A policy named `name` watching the tables named `tables`, and the wire a test sets. */
export function storeWire(name: string, tables: readonly string[]): { readonly wire: StoreWire; readonly policy: StoragePolicy } {
  const wire: StoreWire = {
    sent: [],
    reset() {
      wire.sent = [];
      wire.refuse = wire.before = wire.after = undefined;
    },
  };
  const policy: StoragePolicy = {
    name,
    async sendRequest(request, next) {
      const r: Sent = { method: request.method, url: decodeURIComponent(request.url), body: typeof request.body === 'string' ? request.body : '', ifMatch: request.headers.get('If-Match') };
      if (!tables.some((t) => `${r.url} ${r.body}`.includes(`/${t}`))) return next(request);
      wire.sent.push(r);
      const before = wire.before;
      wire.before = undefined;
      await before?.(r);
      const status = wire.refuse?.(r);
      if (status !== undefined) throw injectedError(request, status);
      const response = await next(request);
      return wire.after ? wire.after(r, response) : response;
    },
  };
  return { wire, policy };
}

/** `call` fails as an outage, its message naming the call storage refused. */
export async function outage(call: () => Promise<unknown>, what: string): Promise<void> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageUnavailableError);
  expect((error as Error).message).toContain(`(${what})`);
}

/** Deletes every row of `tables`, so each test starts from empty tables. */
export async function emptyTables(...tables: TableClient[]): Promise<void> {
  for (const table of tables) {
    for await (const e of table.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) await table.deleteEntity(String(e.partitionKey), String(e.rowKey));
  }
}
