// Azure Table storage's documented limits on what a request may hold, some of which Azurite does
// not enforce (an entity's size by Azure's formula, its property count, a filter's comparisons):
// pipeline policies that refuse a request over any of them as Azure would (a 400 or 413 of their
// own, before it reaches Azurite), so what would fail in Azure fails on Azurite too.
// The local host (`npm start`, `npm run demo`) and every test stack carry them; the benchmark does
// not (they parse every write's body, which would weigh on what it measures).
import { RestError } from '@azure/data-tables';
import type { StoragePolicy, TableClientFactoryOptions } from '../store';
import { MAX_FILTER_COMPARISONS } from '../store/filters';

type Request = Parameters<StoragePolicy['sendRequest']>[0];

/** An entity's size by Azure's formula, keys and property names included. */
export const MAX_ENTITY_BYTES = 1024 * 1024;
/** Properties besides PartitionKey, RowKey and Timestamp (255 in all). */
export const MAX_CUSTOM_PROPERTIES = 252;
/** A string property: 64 KiB of UTF-16 (the store cuts its texts shorter: src/store/columns.ts). */
export const MAX_STRING_CHARS = 32 * 1024;
export const MAX_BINARY_BYTES = 64 * 1024;
/** PartitionKey and RowKey: 1 KiB each, of UTF-16. */
export const MAX_KEY_CHARS = 512;
export const MAX_TRANSACTION_OPERATIONS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/** What Azure refuses in a key: / \ # ? and the control characters. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_KEY = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

const SYSTEM_PROPERTIES = new Set(['PartitionKey', 'RowKey', 'Timestamp']);

/** What the SDK throws when storage answers `status` with the error code `code` (none: no code). */
function refused(request: Request, status: number, code: string | undefined, message: string): RestError {
  const header = (name: string) => (code !== undefined && name.toLowerCase() === 'x-ms-error-code' ? code : undefined);
  const headers = { get: header, has: (name: string) => header(name) !== undefined } as never;
  return new RestError(code === undefined ? message : `${code}: ${message}`, { code, statusCode: status, request, response: { status, headers, request } as never });
}

/** A property's value size by Azure's formula, from its JSON value and its `@odata.type` annotation. */
function valueBytes(value: unknown, type: string | undefined): number {
  switch (type) {
    case 'Edm.Binary':
      return 4 + Buffer.from(String(value), 'base64').length;
    case 'Edm.Int64':
    case 'Edm.DateTime':
    case 'Edm.Double':
      return 8;
    case 'Edm.Guid':
      return 16;
    case 'Edm.Int32':
      return 4;
    case 'Edm.Boolean':
      return 1;
    case 'Edm.String':
      return 4 + 2 * String(value).length;
    default:
      // No annotation: the type JSON itself gives (a whole number in Int32's range is an Int32).
      if (typeof value === 'string') return 4 + 2 * value.length;
      if (typeof value === 'boolean') return 1;
      if (typeof value === 'number') return Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? 4 : 8;
      return 0;
  }
}

/** The properties of an entity's JSON body that Azure stores: no annotations, no nulls, no system ones. */
function customProperties(entity: Readonly<Record<string, unknown>>): [name: string, value: unknown, type: string | undefined][] {
  const out: [string, unknown, string | undefined][] = [];
  for (const [name, value] of Object.entries(entity)) {
    if (name.includes('@odata.') || name.startsWith('odata.') || SYSTEM_PROPERTIES.has(name) || value === null) continue;
    const type = entity[`${name}@odata.type`];
    out.push([name, value, typeof type === 'string' ? type : undefined]);
  }
  return out;
}

/** An entity's size by Azure's formula: 4 bytes, keys 2 per character, per property 8 + name 2 per character + value. */
export function entityBytes(entity: Readonly<Record<string, unknown>>): number {
  const keys = String(entity.PartitionKey ?? '').length + String(entity.RowKey ?? '').length;
  let size = 4 + 2 * keys;
  for (const [name, value, type] of customProperties(entity)) size += 8 + 2 * name.length + valueBytes(value, type);
  return size;
}

/** Why Azure would refuse this key, or undefined when it takes it. */
function keyFault(name: string, key: string): string | undefined {
  if (key.length > MAX_KEY_CHARS) return `${name} holds ${key.length} characters; Azure Table storage takes at most ${MAX_KEY_CHARS} (1 KiB).`;
  const bad = FORBIDDEN_IN_KEY.exec(key);
  if (bad) return `${name} holds U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, a character Azure Table storage refuses in a key.`;
  return undefined;
}

/** Why Azure would refuse this entity body (keys, property count, value sizes, total size), or undefined. */
export function entityFault(entity: Readonly<Record<string, unknown>>): { code: string; message: string } | undefined {
  for (const name of ['PartitionKey', 'RowKey'] as const) {
    const value = entity[name];
    if (typeof value !== 'string') continue;
    const fault = keyFault(name, value);
    if (fault) return { code: 'OutOfRangeInput', message: fault };
  }
  const properties = customProperties(entity);
  if (properties.length > MAX_CUSTOM_PROPERTIES) {
    return { code: 'TooManyProperties', message: `The entity holds ${properties.length} properties; Azure Table storage takes at most ${MAX_CUSTOM_PROPERTIES} besides its keys and Timestamp.` };
  }
  for (const [name, value, type] of properties) {
    if ((type === undefined || type === 'Edm.String') && typeof value === 'string' && value.length > MAX_STRING_CHARS) {
      return { code: 'PropertyValueTooLarge', message: `The string ${name} holds ${value.length} UTF-16 characters; Azure Table storage takes at most ${MAX_STRING_CHARS} (64 KiB).` };
    }
    if (type === 'Edm.Binary') {
      const bytes = Buffer.from(String(value), 'base64').length;
      if (bytes > MAX_BINARY_BYTES) return { code: 'PropertyValueTooLarge', message: `The binary ${name} holds ${bytes} bytes; Azure Table storage takes at most ${MAX_BINARY_BYTES} (64 KiB).` };
    }
  }
  const size = entityBytes(entity);
  if (size > MAX_ENTITY_BYTES) return { code: 'EntityTooLarge', message: `The entity is ${size} bytes by Azure's formula; Azure Table storage takes at most ${MAX_ENTITY_BYTES} (1 MiB).` };
  return undefined;
}

/** One operation of a write: its method, URL and JSON body (none for a delete). */
interface Operation {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

/** The keys an operation's URL names (`Table(PartitionKey='…',RowKey='…')`), decoded. */
function urlKeys(url: string): { partitionKey: string; rowKey: string } | undefined {
  const m = /\(PartitionKey='((?:[^']|'')*)',RowKey='((?:[^']|'')*)'\)/.exec(new URL(url).pathname);
  if (!m) return undefined;
  const decode = (s: string) => decodeURIComponent(s).replace(/''/g, "'");
  return { partitionKey: decode(m[1]!), rowKey: decode(m[2]!) };
}

function parsedBody(body: string): Record<string, unknown> | undefined {
  if (body.trim() === '') return undefined;
  const parsed: unknown = JSON.parse(body);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/** The operations a transaction's multipart body holds, each `METHOD url HTTP/1.1`, headers, a blank line, its body. */
export function transactionOperations(body: string): Operation[] {
  const boundary = /boundary=(changeset_[^\s;]+)/.exec(body)?.[1];
  if (!boundary) return [];
  const parts = body.split(`--${boundary}`).slice(1, -1);
  return parts.map((part) => {
    const lines = part.replace(/^\r?\n/, '').split(/\r?\n/);
    let i = 0;
    while (i < lines.length && lines[i] !== '') i++; // the part's own headers
    i++;
    const [method = '', url = ''] = (lines[i] ?? '').split(' ');
    i++;
    while (i < lines.length && lines[i] !== '') i++; // the operation's headers
    return { method, url, body: lines.slice(i + 1).join('\n').trim() };
  });
}

function isWrite(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'MERGE';
}

/** Is this request a write of one entity to a table (not the Tables list, not a transaction)? */
function isEntityWrite(request: Request): boolean {
  const path = new URL(request.url).pathname;
  return isWrite(request.method) && !path.endsWith('/$batch') && !/\/Tables(?:\(|$)/.test(path);
}

/**
 * Refuses an entity Azure would refuse: a key over 1 KiB or holding / \ # ? or a control
 * character, more than 252 properties, a string over 64 KiB of UTF-16 or a binary over 64 KiB,
 * or more than 1 MiB in all; alone or inside a transaction.
 */
export const azureEntityLimits: StoragePolicy = {
  name: 'azureEntityLimits',
  sendRequest(request, next) {
    const body = typeof request.body === 'string' ? request.body : '';
    const path = new URL(request.url).pathname;
    const operations = path.endsWith('/$batch') && request.method === 'POST' ? transactionOperations(body) : isEntityWrite(request) ? [{ method: request.method, url: request.url, body }] : [];
    for (const [index, operation] of operations.entries()) {
      if (!isWrite(operation.method)) continue;
      const entity = parsedBody(operation.body);
      const fault = entity && entityFault(entity);
      if (fault) return Promise.reject(refused(request, 400, fault.code, operations.length > 1 || path.endsWith('/$batch') ? `${index}:${fault.message}` : fault.message));
    }
    return next(request);
  },
};

/**
 * Refuses a transaction Azure would refuse: more than 100 operations, rows of more than one
 * partition, a payload over 4 MiB, or two operations on one entity.
 */
export const azureTransactionLimits: StoragePolicy = {
  name: 'azureTransactionLimits',
  sendRequest(request, next) {
    if (request.method !== 'POST' || !new URL(request.url).pathname.endsWith('/$batch')) return next(request);
    const body = typeof request.body === 'string' ? request.body : '';
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_TRANSACTION_BYTES) return Promise.reject(refused(request, 413, 'RequestBodyTooLarge', `The transaction's payload is ${bytes} bytes; Azure Table storage takes at most ${MAX_TRANSACTION_BYTES} (4 MiB).`));
    const operations = transactionOperations(body);
    if (operations.length > MAX_TRANSACTION_OPERATIONS) {
      return Promise.reject(refused(request, 400, 'InvalidInput', `The transaction holds ${operations.length} operations; Azure Table storage takes at most ${MAX_TRANSACTION_OPERATIONS}.`));
    }
    const seen = new Set<string>();
    let partition: string | undefined;
    for (const [index, operation] of operations.entries()) {
      const entity = parsedBody(operation.body);
      const fromBody = entity && typeof entity.PartitionKey === 'string' && typeof entity.RowKey === 'string' ? { partitionKey: entity.PartitionKey, rowKey: entity.RowKey } : undefined;
      const keys = fromBody ?? urlKeys(operation.url);
      if (!keys) continue;
      const table = /\/([A-Za-z][A-Za-z0-9]*)(?:\(|$)/.exec(new URL(operation.url).pathname)?.[1] ?? '';
      const where = `${table}|${keys.partitionKey}`;
      partition ??= where;
      if (where !== partition) {
        return Promise.reject(refused(request, 400, 'CommandsInBatchActOnDifferentPartitions', `${index}:The transaction writes rows of more than one partition (or table); Azure Table storage takes one.`));
      }
      const row = `${keys.partitionKey}\u0000${keys.rowKey}`;
      if (seen.has(row)) return Promise.reject(refused(request, 400, 'InvalidDuplicateRow', `${index}:The transaction holds two operations on one entity; Azure Table storage takes one per entity.`));
      seen.add(row);
    }
    return next(request);
  },
};

/**
 * Refuses a query whose filter holds more than 15 comparisons (`eq`, `lt`…), as Azure does with a
 * 400 of its own (no error code given: nothing relies on one); Azurite takes any number.
 */
export const azureFilterLimit: StoragePolicy = {
  name: 'azureFilterLimit',
  sendRequest(request, next) {
    const filter = new URL(request.url).searchParams.get('$filter');
    const comparisons = filter?.match(/\s(?:eq|ne|gt|ge|lt|le)\s/g)?.length ?? 0;
    if (comparisons > MAX_FILTER_COMPARISONS) {
      return Promise.reject(refused(request, 400, undefined, `The filter holds ${comparisons} comparisons; Azure Table storage takes at most ${MAX_FILTER_COMPARISONS}: ${filter}`));
    }
    return next(request);
  },
};

/** Every limit above, in the order a pipeline runs them. */
export const azureLimits: readonly StoragePolicy[] = [azureFilterLimit, azureTransactionLimits, azureEntityLimits];

/**
 * `options` with Azure's limits ahead of its own policies, so a policy of the caller's (a test's
 * fault injection, say) meets only what Azure would take; its other options are kept.
 */
export function withAzureLimits<T extends Pick<TableClientFactoryOptions, 'policies'>>(options: T): T {
  return { ...options, policies: [...azureLimits, ...(options.policies ?? [])] };
}
