// Table clients: a connection string locally (UseDevelopmentStorage=true or an Azurite/account
// string), the table endpoint with DefaultAzureCredential (managed identity) in Azure. Account keys
// are never needed in Azure. Every request passes a counting policy so tests and benchmarks can
// assert how many storage round trips an operation costs (and see the retries apart).
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

export const TABLES = {
  results: 'Results',
  events: 'Events',
  hosts: 'Hosts',
  snapshots: 'Snapshots',
  ruleIndex: 'RuleIndex',
  waivers: 'Waivers',
  lifecycle: 'Lifecycle',
  history: 'History',
  serverKeys: 'ServerKeys',
  outbox: 'Outbox',
  drift: 'Drift',
} as const;

export type TableKind = keyof typeof TABLES;

/**
 * Counts the requests sent to storage: the round trips an operation costs by design. The SDK's
 * retry policy sends a failed attempt again as the same request (the same object, so the same
 * x-ms-client-request-id): that is still one request, and each attempt after its first is counted
 * apart in `retries`, so a connection reset or a 503 on a loaded machine neither changes an exact
 * count nor goes unseen.
 */
export class RoundTripCounter {
  #count = 0;
  #writes = 0;
  #retries = 0;
  #byTable = new Map<string, number>();
  /** The requests already counted; weak, so a finished request is not kept. Kept by reset(): a retry after it is still no new request. */
  #seen = new WeakSet<object>();
  get count(): number {
    return this.#count;
  }
  /** Requests that may change data (anything but GET: inserts, updates, deletes, batches). */
  get writes(): number {
    return this.#writes;
  }
  /** Attempts beyond the first of a request (the SDK's retries after a 503, a timeout or a dropped connection). */
  get retries(): number {
    return this.#retries;
  }
  /** Requests per table name; entity-group transactions count under "$batch". */
  get byTable(): ReadonlyMap<string, number> {
    return this.#byTable;
  }
  /** Called on every attempt with the request it sends; only its first attempt counts as a request. */
  record(request: { readonly url: string; readonly method: string }): void {
    if (this.#seen.has(request)) {
      this.#retries++;
      return;
    }
    this.#seen.add(request);
    this.#count++;
    if (request.method !== 'GET') this.#writes++;
    const path = decodeURIComponent(new URL(request.url).pathname);
    const m = /\/([A-Za-z][A-Za-z0-9]*)(?:\(|\/|$)/.exec(path.replace(/^\/devstoreaccount1/, ''));
    const table = path.endsWith('/$batch') ? '$batch' : (m?.[1] ?? '?');
    this.#byTable.set(table, (this.#byTable.get(table) ?? 0) + 1);
  }
  reset(): void {
    this.#count = 0;
    this.#writes = 0;
    this.#retries = 0;
    this.#byTable = new Map();
  }
}

/** A pipeline step the caller may add, e.g. to inject faults in tests. */
export type StoragePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

export interface TableClientFactoryOptions {
  /** Local: a connection string; `UseDevelopmentStorage=true` means Azurite on 127.0.0.1:10002. */
  readonly connectionString?: string;
  /** Azure: `https://<account>.table.core.windows.net`, used with a token credential. */
  readonly tableEndpoint?: string;
  /** User-assigned managed identity client id for DefaultAzureCredential. */
  readonly managedIdentityClientId?: string;
  /** Overrides DefaultAzureCredential (tests, other token sources). */
  readonly credential?: TokenCredential;
  /** Prefix for every table name (letters and digits only). */
  readonly tablePrefix?: string;
  readonly counter?: RoundTripCounter;
  /** Extra pipeline policies, run on every attempt. */
  readonly policies?: readonly StoragePolicy[];
  /** Retries inside one request before we give up and answer 503 (default 2). */
  readonly maxRetries?: number;
  /** Per-attempt deadline, answer body included, so a storage account that hangs becomes a 503, not a hung function (default 10 s). */
  readonly requestTimeoutMs?: number;
}

export type TableClients = Readonly<Record<TableKind, TableClient>>;

const PREFIX = /^[A-Za-z][A-Za-z0-9]{0,30}$/;

export function tableNames(prefix = ''): Readonly<Record<TableKind, string>> {
  if (prefix !== '' && !PREFIX.test(prefix)) {
    throw new Error(`Table prefix ${JSON.stringify(prefix)} must start with a letter and hold only letters and digits (at most 31).`);
  }
  const out = {} as Record<TableKind, string>;
  for (const [kind, name] of Object.entries(TABLES) as [TableKind, string][]) out[kind] = prefix + name;
  return out;
}

/** Azurite's well-known development account, what UseDevelopmentStorage=true stands for. */
const DEV_STORAGE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
  'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
  'TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';

export function resolveConnectionString(connectionString: string): string {
  return /^\s*UseDevelopmentStorage=true\s*;?\s*$/i.test(connectionString) ? DEV_STORAGE : connectionString;
}

/** How often a request that never reached storage is sent again, beyond the SDK's own retries. */
export const UNSENT_RETRIES = 2;

/**
 * Sends a request again when the connection was closed before it was written (EPIPE): storage
 * cannot have acted on a request it did not receive, whatever the request does. The SDK retries a
 * connection reset but not this; a 3.85 MB transaction met it against Azurite once, and passed
 * when sent again.
 */
const sendAgainIfUnsent: StoragePolicy['sendRequest'] = async (request, next) => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await next(request);
    } catch (error) {
      if (attempt >= UNSENT_RETRIES || request.abortSignal?.aborted || (error as { code?: unknown }).code !== 'EPIPE') throw error;
    }
  }
};

/** Requests an attempt of which failed without an answer (weak: a finished request is not kept). */
const unanswered = new WeakSet<object>();

/**
 * Notes a request whose attempt got no answer (a dropped connection, a deadline, a lost answer),
 * though it may have landed: the SDK sends the same request again, and that resend meets the
 * request's own result. EPIPE is left out, as storage never saw that attempt.
 */
const noteUnanswered: StoragePolicy['sendRequest'] = async (request, next) => {
  try {
    return await next(request);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPIPE') unanswered.add(request);
    throw error;
  }
};

/**
 * Whether `error` (or the error it wraps) is storage's answer to a request an earlier attempt of
 * which got none: a conflict or a 404 it carries may be the request's own landed write, met again.
 */
export function answeredAfterLostAnswer(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    const request = (e as { request?: unknown }).request;
    if (typeof request === 'object' && request !== null && unanswered.has(request)) return true;
  }
  return false;
}

export function createTableClients(options: TableClientFactoryOptions): TableClients {
  const counter = options.counter;
  const timeout = options.requestTimeoutMs ?? 10_000;
  const policies: TableServiceClientOptions['additionalPolicies'] = [
    { position: 'perCall', policy: { name: 'fleetPostureUnsentRetry', sendRequest: sendAgainIfUnsent } },
    {
      // The SDK's own request timeout stops counting once an answer's headers arrive, so an answer
      // whose body stops coming would hold the call for good: each attempt gets a deadline for the
      // whole exchange, body included, and is aborted (a transient failure, 503) when it passes.
      position: 'perRetry',
      policy: {
        name: 'fleetPostureAttemptDeadline',
        sendRequest: async (request, next) => {
          const caller = request.abortSignal;
          const deadline = new AbortController();
          const abort = () => deadline.abort();
          if (caller?.aborted) abort();
          caller?.addEventListener('abort', abort);
          const timer = setTimeout(abort, timeout);
          request.abortSignal = deadline.signal;
          try {
            return await next(request);
          } finally {
            clearTimeout(timer);
            caller?.removeEventListener('abort', abort);
            request.abortSignal = caller;
          }
        },
      },
    },
  ];
  // Inside the deadline, so an attempt it aborts is seen failing.
  policies.push({ position: 'perRetry', policy: { name: 'fleetPostureUnanswered', sendRequest: noteUnanswered } });
  if (counter) {
    policies.push({
      position: 'perRetry',
      // Per retry, so it sees every attempt (its retries included) and the URL and method each is sent with.
      policy: { name: 'fleetPostureRoundTripCounter', sendRequest: (request, next) => (counter.record(request), next(request)) },
    });
  }
  for (const policy of options.policies ?? []) policies.push({ position: 'perRetry', policy });
  const clientOptions: TableServiceClientOptions = {
    additionalPolicies: policies,
    retryOptions: { maxRetries: options.maxRetries ?? 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
  const names = tableNames(options.tablePrefix);
  const out = {} as Record<TableKind, TableClient>;

  if (options.connectionString) {
    const cs = resolveConnectionString(options.connectionString);
    const insecure = /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\//i.test(cs);
    for (const kind of Object.keys(names) as TableKind[]) {
      out[kind] = TableClient.fromConnectionString(cs, names[kind], { ...clientOptions, allowInsecureConnection: insecure });
    }
    return out;
  }
  if (options.tableEndpoint) {
    if (!/^https:\/\//i.test(options.tableEndpoint)) {
      throw new Error(`The table endpoint must be https:// when a managed identity is used, not ${JSON.stringify(options.tableEndpoint)}.`);
    }
    const credential =
      options.credential ?? new DefaultAzureCredential(options.managedIdentityClientId ? { managedIdentityClientId: options.managedIdentityClientId } : {});
    for (const kind of Object.keys(names) as TableKind[]) {
      out[kind] = new TableClient(options.tableEndpoint, names[kind], credential, clientOptions);
    }
    return out;
  }
  throw new Error('No storage configured: set POSTURE_STORAGE_CONNECTION_STRING (local) or POSTURE_TABLE_ENDPOINT (Azure, managed identity).');
}
