// What the store's table clients must carry on every request, whatever is done to the SDK's
// pipeline: the shared-key signature or the managed identity's token, retries of an attempt storage
// refused, and the round-trip counter seeing each attempt: one round trip per request, its retries
// counted apart. (The per-attempt timeout is tested with the store, against storage that hangs.)
// The clients are createTableClients' own, opened through createTestTables, whose Azure limit
// policies refuse nothing these tests send.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { answeredAfterLostAnswer, RoundTripCounter, UNSENT_RETRIES, type StoragePolicy } from '../../src/store/client';
import { ConcurrencyConflictError, StorageUnavailableError, toStorageError } from '../../src/store/errors';
import { connectionClosedBeforeSent, connectionReset, injectedError, lostAnswers } from '../support/faults';
import { createTestTables } from '../support/stack';

/** Answers the first `times` attempts that match with a made-up 503, as a busy storage account would. */
function busyFirst(times: number, matches: (method: string) => boolean): { policy: StoragePolicy; refused: number } {
  const self = {
    refused: 0,
    policy: {
      name: 'testBusyStorage',
      sendRequest: async (request, next) => {
        if (self.refused >= times || !matches(request.method)) return next(request);
        self.refused++;
        throw injectedError(request, 503, 'Server busy');
      },
    } satisfies StoragePolicy,
  };
  return self;
}

describe('the table clients against Azurite', () => {
  let azurite: AzuriteHandle | undefined;
  beforeAll(async () => {
    azurite = await startAzurite({});
  });
  afterAll(async () => azurite?.stop());

  it('signs its requests, retries an attempt refused with 503, and counts the request once and its retries apart, transactions included', async () => {
    const counter = new RoundTripCounter();
    const busy = busyFirst(2, (method) => method === 'GET');
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'Pipe', counter, policies: [busy.policy], maxRetries: 2 });
    const table = clients.results;
    await table.createTable();
    await table.submitTransaction([
      ['create', { partitionKey: 'p', rowKey: 'a', n: 1 }],
      ['create', { partitionKey: 'p', rowKey: 'b', n: 2 }],
    ]);
    expect(counter.byTable.get('$batch')).toBe(1);
    expect(counter.retries).toBe(0);
    counter.reset();

    const row = await table.getEntity<{ n: number }>('p', 'b');

    expect(row.n).toBe(2);
    expect(busy.refused).toBe(2);
    expect(counter.count).toBe(1); // one request: two refused attempts and the one storage answered
    expect(counter.retries).toBe(2);
    expect(counter.byTable.get('PipeResults')).toBe(1);
    expect(counter.writes).toBe(0);
  });

  it('counts a transaction sent again after a dropped connection as one write, and the retry apart', async () => {
    const counter = new RoundTripCounter();
    let dropped = 0;
    const dropFirstBatch: StoragePolicy = {
      name: 'testDropFirstBatch',
      sendRequest: async (request, next) => {
        if (dropped > 0 || !request.url.endsWith('$batch')) return next(request);
        dropped++;
        throw connectionReset(request);
      },
    };
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'PipeDrop', counter, policies: [dropFirstBatch], maxRetries: 1 });
    await clients.results.createTable();
    counter.reset();

    await clients.results.submitTransaction([['upsert', { partitionKey: 'p', rowKey: 'a', n: 1 }]]);

    expect(dropped).toBe(1);
    expect([counter.count, counter.writes, counter.retries]).toEqual([1, 1, 1]);
    expect(Object.fromEntries(counter.byTable)).toEqual({ $batch: 1 });
    expect((await clients.results.getEntity<{ n: number }>('p', 'a')).n).toBe(1);
  });

  /** Fails the first `times` transactions' attempts as a connection closed before the request was written. */
  function unsentBatches(times: number): { policy: StoragePolicy; failed: number } {
    const self = {
      failed: 0,
      policy: {
        name: 'testUnsentBatches',
        sendRequest: async (request, next) => {
          if (self.failed >= times || !request.url.endsWith('$batch')) return next(request);
          self.failed++;
          throw connectionClosedBeforeSent(request);
        },
      } satisfies StoragePolicy,
    };
    return self;
  }

  it('sends a transaction again when its connection closed before it was written (EPIPE), beyond the SDK retries, counted apart', async () => {
    const counter = new RoundTripCounter();
    const unsent = unsentBatches(UNSENT_RETRIES);
    // No SDK retries at all: the request is sent again by the store's own policy alone.
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'PipeUnsent', counter, policies: [unsent.policy], maxRetries: 0 });
    await clients.results.createTable();
    counter.reset();

    await clients.results.submitTransaction([['upsert', { partitionKey: 'p', rowKey: 'a', n: 7 }]]);

    expect(unsent.failed).toBe(UNSENT_RETRIES);
    expect([counter.count, counter.writes, counter.retries]).toEqual([1, 1, UNSENT_RETRIES]);
    expect((await clients.results.getEntity<{ n: number }>('p', 'a')).n).toBe(7);
  });

  it('gives up on a request that never reaches storage after its retries, with an error the store maps to "unavailable"', async () => {
    const counter = new RoundTripCounter();
    const unsent = unsentBatches(100);
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'PipeUnsent2', counter, policies: [unsent.policy], maxRetries: 1 });
    await clients.results.createTable();
    counter.reset();

    const failure = await clients.results.submitTransaction([['upsert', { partitionKey: 'p', rowKey: 'a', n: 1 }]]).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'EPIPE' });
    expect(toStorageError(failure, 'a test')).toBeInstanceOf(StorageUnavailableError);
    expect(unsent.failed).toBe(1 + UNSENT_RETRIES);
    expect([counter.count, counter.retries]).toEqual([1, UNSENT_RETRIES]);
    await expect(clients.results.getEntity('p', 'a')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('tells a refusal answering the resend of a request an earlier attempt of which got no answer (it may have landed), also wrapped; not after EPIPE (never sent)', async () => {
    const lose = lostAnswers('testPipeLoseAnswer');
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'PipeLost', policies: [lose.policy], maxRetries: 1 });
    await clients.results.createTable();
    await clients.results.createEntity({ partitionKey: 'p', rowKey: 'a' });
    const refusal = (call: Promise<unknown>) => call.then(() => expect.fail('refused'), (e: unknown) => e);

    // Refused at its first attempt: another writer's row.
    const first = await refusal(clients.results.createEntity({ partitionKey: 'p', rowKey: 'a' }));
    expect(first).toMatchObject({ statusCode: 409 });
    expect(answeredAfterLostAnswer(first)).toBe(false);
    expect(answeredAfterLostAnswer(new ConcurrencyConflictError('refused', { cause: first }))).toBe(false);

    // Landed, its answer lost: the resend meets its own row.
    lose.when = ({ method, body }) => method === 'POST' && body.includes('"RowKey":"b"');
    const own = await refusal(clients.results.createEntity({ partitionKey: 'p', rowKey: 'b' }));
    expect(lose.when).toBeUndefined();
    expect(own).toMatchObject({ statusCode: 409 });
    expect(answeredAfterLostAnswer(own)).toBe(true);
    expect(answeredAfterLostAnswer(new ConcurrencyConflictError('refused', { cause: own }))).toBe(true);

    // Never sent (EPIPE), then sent again by the store's own policy and refused: not its own.
    const unsent = unsentBatches(1);
    const once = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'PipeLost', policies: [unsent.policy], maxRetries: 0 });
    const again = await refusal(once.results.submitTransaction([['create', { partitionKey: 'p', rowKey: 'a' }]]));
    expect(unsent.failed).toBe(1);
    expect(again).toMatchObject({ statusCode: 409 });
    expect(answeredAfterLostAnswer(again)).toBe(false);

    for (const other of [undefined, 'text', new Error('plain'), { request: {} }]) expect(answeredAfterLostAnswer(other)).toBe(false);
  });

  it('gives up once the retries are spent, with the 503 the caller maps to "unavailable"', async () => {
    const busy = busyFirst(10, (method) => method === 'GET');
    const counter = new RoundTripCounter();
    const clients = createTestTables({ connectionString: azurite!.connectionString, tablePrefix: 'Pipe', counter, policies: [busy.policy], maxRetries: 1 });
    await clients.results.createTable();
    counter.reset();

    await expect(clients.results.getEntity('p', 'a')).rejects.toMatchObject({ statusCode: 503 });
    expect(counter.count).toBe(1);
    expect(counter.retries).toBe(1);
  });
});

describe('the table clients with a managed identity', () => {
  it("send the identity's token for the storage scope", async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope) => (scopes.push(String(scope)), { token: 'token-1', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    let authorization: string | undefined;
    // Stands in for the account: sees what reached the wire, answers that the row does not exist.
    const account: StoragePolicy = {
      name: 'testAccount',
      sendRequest: async (request) => {
        authorization = request.headers.get('authorization');
        throw injectedError(request, 404, 'ResourceNotFound');
      },
    };
    const clients = createTestTables({ tableEndpoint: 'https://account.table.core.windows.net', credential, policies: [account], maxRetries: 0 });

    await expect(clients.results.getEntity('p', 'a')).rejects.toMatchObject({ statusCode: 404 });

    expect(authorization).toBe('Bearer token-1');
    expect(scopes).toEqual(['https://storage.azure.com/.default']);
  });
});
