// The stand-ins for Azure Table storage's limits that the local host and the test stacks carry
// (src/local/azure-limits.ts), through the real SDK against Azurite: each limit takes a write just
// inside it, which Azurite then stores, and refuses one just over it, as Azure would, before it
// reaches Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { createTableClients, type StoragePolicy } from '../../src/store/client';
import {
  azureTransactionLimits,
  entityBytes,
  MAX_BINARY_BYTES,
  MAX_CUSTOM_PROPERTIES,
  MAX_ENTITY_BYTES,
  MAX_KEY_CHARS,
  MAX_STRING_CHARS,
  MAX_TRANSACTION_BYTES,
  MAX_TRANSACTION_OPERATIONS,
} from '../../src/local/azure-limits';
import { createTestTables } from '../support/stack';

type Entity = { partitionKey: string; rowKey: string } & Record<string, unknown>;

let azurite: AzuriteHandle;
let table: TableClient;
/** The payload size of the last request sent through `measuring` (which then refuses it), and that request. */
let measured = 0;
let lastRequest: Parameters<StoragePolicy['sendRequest']>[0] | undefined;
let measuring: TableClient;

beforeAll(async () => {
  azurite = await startAzurite({});
  table = createTestTables({ connectionString: azurite.connectionString, tablePrefix: 'Limits', maxRetries: 0 }).results;
  const measure: StoragePolicy = {
    name: 'testMeasure',
    sendRequest(request) {
      lastRequest = request;
      measured = Buffer.byteLength(typeof request.body === 'string' ? request.body : '', 'utf8');
      return Promise.reject(new Error('measured'));
    },
  };
  // Past the limits, on purpose: it measures the payload of writes they would refuse before any
  // later policy saw them, and its policy refuses each request itself, so nothing reaches Azurite.
  measuring = createTableClients({ connectionString: azurite.connectionString, tablePrefix: 'Limits', policies: [measure], maxRetries: 0 }).results;
  await table.createTable();
});
afterAll(async () => azurite?.stop());

let rows = 0;
const key = () => `r${++rows}`;

/** Writes `entity` (an insert) and reads it back; rejects with storage's refusal. */
async function stored(entity: Entity): Promise<void> {
  await table.createEntity(entity);
  await table.getEntity(entity.partitionKey, entity.rowKey);
}

/** An entity whose size by Azure's formula is MAX_ENTITY_BYTES + `over` (even): fifteen full binaries and a string. */
function entityOfSize(over: 0 | 2): Entity {
  const entity: Entity = { partitionKey: 'size', rowKey: key() };
  for (let i = 0; i < 15; i++) entity[`b${String(i).padStart(2, '0')}`] = new Uint8Array(MAX_BINARY_BYTES).fill(i);
  const wire = { PartitionKey: entity.partitionKey, RowKey: entity.rowKey, ...Object.fromEntries(Object.entries(entity).filter(([k]) => k.startsWith('b')).map(([k, v]) => [k, Buffer.from(v as Uint8Array).toString('base64')])) };
  const typed = Object.fromEntries(Object.keys(wire).filter((k) => k.startsWith('b')).map((k) => [`${k}@odata.type`, 'Edm.Binary']));
  const sofar = entityBytes({ ...wire, ...typed });
  // A string property `s` costs 8 + 2 (its name) + 4 + 2 per character.
  entity.s = 'x'.repeat((MAX_ENTITY_BYTES + over - sofar - 14) / 2);
  expect(entityBytes({ ...wire, ...typed, s: entity.s })).toBe(MAX_ENTITY_BYTES + over);
  return entity;
}

describe('an entity', () => {
  it('of exactly 1 MiB by Azure’s formula is stored; 2 bytes more is refused as EntityTooLarge', async () => {
    await stored(entityOfSize(0));
    await expect(stored(entityOfSize(2))).rejects.toMatchObject({ statusCode: 400, code: 'EntityTooLarge' });
  });

  it('with 252 properties is stored; with 253 it is refused as TooManyProperties', async () => {
    const withProperties = (n: number): Entity => ({ partitionKey: 'props', rowKey: key(), ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i])) });
    await stored(withProperties(MAX_CUSTOM_PROPERTIES));
    await expect(stored(withProperties(MAX_CUSTOM_PROPERTIES + 1))).rejects.toMatchObject({ statusCode: 400, code: 'TooManyProperties' });
  });

  it('with a string of 32,768 UTF-16 units is stored; one more is refused as PropertyValueTooLarge', async () => {
    // ASCII: Azurite itself refuses some long strings of characters of several UTF-8 bytes that Azure takes.
    await stored({ partitionKey: 'string', rowKey: key(), s: 'x'.repeat(MAX_STRING_CHARS) });
    await expect(stored({ partitionKey: 'string', rowKey: key(), s: 'ジ'.repeat(MAX_STRING_CHARS + 1) })).rejects.toMatchObject({ statusCode: 400, code: 'PropertyValueTooLarge' });
  });

  it('with a binary of 64 KiB is stored; one byte more is refused as PropertyValueTooLarge', async () => {
    await stored({ partitionKey: 'binary', rowKey: key(), b: new Uint8Array(MAX_BINARY_BYTES) });
    await expect(stored({ partitionKey: 'binary', rowKey: key(), b: new Uint8Array(MAX_BINARY_BYTES + 1) })).rejects.toMatchObject({ statusCode: 400, code: 'PropertyValueTooLarge' });
  });
});

describe('a key', () => {
  it.each(['partitionKey', 'rowKey'] as const)('%s of 512 characters is stored; 513 are refused', async (which) => {
    const withKey = (value: string): Entity => ({ partitionKey: 'keys', rowKey: key(), [which]: value });
    await stored(withKey('k'.repeat(MAX_KEY_CHARS)));
    await expect(stored(withKey('k'.repeat(MAX_KEY_CHARS + 1)))).rejects.toMatchObject({ statusCode: 400, code: 'OutOfRangeInput' });
  });

  const forbidden = ['/', '\\', '#', '?', '\u0000', '\u001f', '\u007f', '\u009f'].map((c) => [c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0'), c] as const);
  it.each(forbidden)('holding U+%s is refused (in either key)', async (_, c) => {
    await expect(stored({ partitionKey: `a${c}b`, rowKey: key() })).rejects.toMatchObject({ statusCode: 400, code: 'OutOfRangeInput' });
    await expect(stored({ partitionKey: 'chars', rowKey: `${key()}${c}` })).rejects.toMatchObject({ statusCode: 400, code: 'OutOfRangeInput' });
  });

  it('holding the characters just outside those ranges is stored', async () => {
    for (const c of [' ', '~', '\u00a0', '.', '>', '@', '[', ']', '|', '%']) await stored({ partitionKey: `a${c}b`, rowKey: `${key()}${c}` });
  });
});

describe('an entity-group transaction', () => {
  const creates = (partition: string, n: number, extra: (i: number) => Record<string, unknown> = () => ({})): TransactionAction[] =>
    Array.from({ length: n }, (_, i) => ['create', { partitionKey: partition, rowKey: `r${String(i).padStart(3, '0')}`, ...extra(i) }]);

  it('of 100 operations is stored; 101 are refused', async () => {
    await table.submitTransaction(creates('tx100', MAX_TRANSACTION_OPERATIONS));
    expect((await table.getEntity('tx100', 'r099')).rowKey).toBe('r099');
    await expect(table.submitTransaction(creates('tx101', MAX_TRANSACTION_OPERATIONS + 1))).rejects.toMatchObject({ statusCode: 400, code: 'InvalidInput' });
  });

  it('of one partition is stored; rows of two are refused', async () => {
    await table.submitTransaction(creates('one', 2));
    expect((await table.getEntity('one', 'r001')).rowKey).toBe('r001');
    // The SDK refuses to send rows of two partitions, so the policy is shown such a body by hand:
    // the same transaction with its second row moved to another partition.
    await expect(table.submitTransaction([...creates('two-a', 1), ...creates('two-b', 1)])).rejects.toThrow(/same partitionKey/);
    await measuring.submitTransaction(creates('one', 2)).catch(() => undefined);
    const request = lastRequest!;
    const body = String(request.body);
    request.body = body.replace(/"PartitionKey":"one","RowKey":"r001"/, '"PartitionKey":"other","RowKey":"r001"');
    expect(request.body).not.toBe(body);
    let sent = false;
    const next = () => ((sent = true), Promise.reject(new Error('not sent in this test')));
    await expect(azureTransactionLimits.sendRequest(request, next)).rejects.toMatchObject({ statusCode: 400, code: 'CommandsInBatchActOnDifferentPartitions' });
    expect(sent).toBe(false);
    request.body = body;
    await expect(azureTransactionLimits.sendRequest(request, next)).rejects.toThrow('not sent in this test');
    expect(sent).toBe(true);
  });

  it('of one operation per row is stored; two on one row are refused', async () => {
    await table.submitTransaction([
      ['upsert', { partitionKey: 'dup', rowKey: 'a' }],
      ['upsert', { partitionKey: 'dup', rowKey: 'b' }],
    ]);
    await expect(
      table.submitTransaction([
        ['upsert', { partitionKey: 'dup', rowKey: 'a' }],
        ['delete', { partitionKey: 'dup', rowKey: 'a' }],
      ]),
    ).rejects.toMatchObject({ statusCode: 400, code: 'InvalidDuplicateRow' });
  });

  it('whose payload is exactly 4 MiB is stored; one byte more is refused', async () => {
    // Nine rows of 15 strings of 31,100 ASCII characters, the last row's last string padded to the exact size.
    const actions = (partition: string, pad: number) =>
      creates(partition, 9, (i) => Object.fromEntries(Array.from({ length: 15 }, (_, p) => [`s${p}`, 'y'.repeat(i === 8 && p === 14 ? pad : 31_100)])));
    await measuring.submitTransaction(actions('payload', 0)).catch(() => undefined);
    const pad = MAX_TRANSACTION_BYTES - measured;
    expect(pad).toBeGreaterThan(0);
    expect(pad).toBeLessThanOrEqual(MAX_STRING_CHARS);
    await measuring.submitTransaction(actions('payload', pad)).catch(() => undefined);
    expect(measured).toBe(MAX_TRANSACTION_BYTES);

    await table.submitTransaction(actions('payload', pad));
    expect((await table.getEntity<{ s14: string }>('payload', 'r008')).s14).toHaveLength(pad);
    await expect(table.submitTransaction(actions('payload-over', pad + 1))).rejects.toMatchObject({ statusCode: 413, code: 'RequestBodyTooLarge' });
  });
});
