// A real service for end-to-end tests: Azurite's table service on a free port, the local host on
// another, both torn down by stop(). Later issues reuse it: startTestStack({ rules, settings }).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LogLevel } from '@azure/functions';
import { createApp, type CreateAppOptions, type PostureApp } from '../../src/app/create-app';
import { loadSettings, type Settings } from '../../src/app/settings';
import type { Rule } from '../../src/rules/types';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { withAzureLimits } from '../../src/local/azure-limits';
import { resendOnReset } from './faults';
import { createTableClients, PostureStore, type PostureStoreOptions, type StoragePolicy, type TableClientFactoryOptions } from '../../src/store';
import type { TableClients } from '../../src/store/client';

export const TEST_KEYS = {
  /**
   * The shared ingest key (a migration path, off by default). `request(..., { key: 'ingest' })`
   * does not send it: it sends the server key of DEFAULT_SERVER, the credential collectors use.
   */
  ingest: 'test-ingest-key-1',
  ingest2: 'test-ingest-key-2',
  reader: 'test-reader-key-1',
  admin: 'test-admin-key-1',
  enrolment: 'test-enrolment-secret-1',
  enrolment2: 'test-enrolment-secret-2',
} as const;

/** The server id of snapshot()'s default host; enrolled when the stack starts. */
export const DEFAULT_SERVER = 'exch01.corp.contoso.com';

export interface LogEntry {
  readonly level: LogLevel;
  readonly functionName: string;
  readonly message: string;
}

export interface TestStackOptions {
  readonly rules?: readonly Rule[];
  /** Setting overrides (env-style names, e.g. POSTURE_MAX_SNAPSHOT_BYTES). */
  readonly settings?: Readonly<Record<string, string>>;
  readonly clock?: () => number;
  /** Keep Azurite's data in a temporary folder, so it survives stopStorage()/startStorage(). */
  readonly persist?: boolean;
  /** Extra storage pipeline policies (fault injection). */
  readonly storagePolicies?: readonly StoragePolicy[];
  /** The local host's projector interval in ms (default 1000); 0: only when the test drains (projected()). */
  readonly projectorIntervalMs?: number;
}

export interface TestStack {
  readonly baseUrl: string;
  readonly app: PostureApp;
  readonly settings: Settings;
  readonly logs: LogEntry[];
  /** Requests sent to storage (reset it before the part you measure). */
  readonly roundTrips: PostureApp['store']['counter'];
  /** The server key of `server` (enrolled on first use, then cached). */
  serverKey(server: string): Promise<string>;
  /** fetch with the path relative to /api and a key kind (or none); 'ingest' sends DEFAULT_SERVER's key. */
  request(pathAndQuery: string, init?: RequestInit & { key?: keyof typeof TEST_KEYS | null }): Promise<Response>;
  /**
   * Runs the projector until the outbox holds nothing ready (its alert records go to `logs`, from
   * 'projector'), or `budgetMs` is spent (the deployed default, a minute, unless told).
   */
  projected(budgetMs?: number): Promise<Awaited<ReturnType<PostureApp['projector']['drain']>>>;
  /** Stops Azurite (an outage); the host keeps running. */
  stopStorage(): Promise<void>;
  /** Starts Azurite again on the same port (and folder, when persisted). */
  startStorage(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one way a test builds an app (a stack's, a second instance, an older release, a projector
 * of its own): createApp with the storage policies that refuse what Azure refuses and Azurite
 * takes, ahead of any the caller passes; its other options are the caller's. `build` is another
 * copy's createApp (a test that loads a modified source tree). Building one any other way is
 * refused by test/store/test-apps.test.ts: what such an app writes could pass here and fail in Azure.
 */
export function createTestApp(options: CreateAppOptions, build: typeof createApp = createApp): PostureApp {
  return build({ ...options, storeOptions: withTestPolicies<Partial<PostureStoreOptions>>(options.storeOptions ?? {}) });
}

/**
 * The Azure limit policies ahead of the caller's; behind them, for a client without retries, one
 * that sends again a request whose connection dropped (`resendOnReset`), as the SDK's retries do
 * for every other client.
 */
function withTestPolicies<T extends { readonly policies?: readonly StoragePolicy[]; readonly maxRetries?: number }>(options: T): T {
  const limited = withAzureLimits(options);
  return options.maxRetries === 0 ? { ...limited, policies: [...(limited.policies ?? []), resendOnReset()] } : limited;
}

/**
 * The one way a test builds a store of its own (a projector that stalls, a migration with hooks, a
 * fresh process's reads): a PostureStore with the same Azure limit policies as createTestApp's,
 * ahead of the caller's. test/store/test-apps.test.ts refuses `new PostureStore(` elsewhere, and
 * `new ServerKeyStore(` anywhere under test/ (an app's keyStore carries the limits).
 */
export function createTestStore(options: PostureStoreOptions): PostureStore {
  return new PostureStore(withTestPolicies(options));
}

/**
 * The one way a test opens tables itself, past the app and its stores (to seed rows of an older
 * layout, read what was stored, touch a row while a request waits): createTableClients with the
 * same Azure limit policies as createTestApp's, ahead of the caller's, so a row a test seeds is one
 * Azure would have taken. test/store/test-apps.test.ts refuses a table client built any other way
 * under test/, but for the few exceptions it names.
 */
export function createTestTables(options: TableClientFactoryOptions): TableClients {
  return createTableClients(withTestPolicies(options));
}

/** A stack's own tables (its storage, its prefix), opened as createTestTables opens them. */
export function stackTables(stack: Pick<TestStack, 'settings'>): TableClients {
  return createTestTables({ connectionString: stack.settings.storageConnectionString, tablePrefix: stack.settings.tablePrefix });
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const location = options.persist ? mkdtempSync(path.join(tmpdir(), 'posture-azurite-')) : undefined;
  let azurite: AzuriteHandle = await startAzurite({ location });
  const port = azurite.port;
  const settings = loadSettings({
    POSTURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    POSTURE_INGEST_KEYS: `${TEST_KEYS.ingest},${TEST_KEYS.ingest2}`,
    POSTURE_READER_KEYS: TEST_KEYS.reader,
    POSTURE_ADMIN_KEYS: TEST_KEYS.admin,
    POSTURE_ENROLMENT_SECRETS: `${TEST_KEYS.enrolment},${TEST_KEYS.enrolment2}`,
    // Tests post in bursts; the rate-limit tests set their own numbers.
    POSTURE_RATE_LIMIT_BURST: '100000',
    POSTURE_RATE_LIMIT_PER_MINUTE: '100000',
    // Shared by every app a test builds over the same storage, as instances share it in Azure.
    POSTURE_CONTINUATION_TOKEN_SECRET: 'test-continuation-token-secret-0123456789',
    ...options.settings,
  });
  const app = createTestApp({ settings, rules: options.rules, clock: options.clock, storeOptions: { policies: options.storagePolicies, maxRetries: 1 } });
  await app.store.ensureTables();
  await app.keyStore.ensureTable();
  const serverKeys = new Map<string, Promise<string>>();
  const quiet = { log: () => undefined };
  const serverKey = (server: string): Promise<string> => {
    let k = serverKeys.get(server);
    if (!k) {
      k = app.enrolment.issue(server, {}, 'enrolment', quiet).then((i) => i.key);
      k.catch(() => serverKeys.delete(server));
      serverKeys.set(server, k);
    }
    return k;
  };
  await serverKey(DEFAULT_SERVER);
  const logs: LogEntry[] = [];
  let host: LocalHost;
  try {
    host = await startLocalHost({ app, port: 0, log: (e) => logs.push(e), projectorIntervalMs: options.projectorIntervalMs });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  const baseUrl = host.baseUrl;
  return {
    baseUrl,
    app,
    settings,
    logs,
    roundTrips: app.store.counter,
    serverKey,
    async request(pathAndQuery, init = {}) {
      const { key = 'reader', ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key) headers.set('x-api-key', key === 'ingest' ? await serverKey(DEFAULT_SERVER) : TEST_KEYS[key]);
      return fetch(`${baseUrl}/api/${pathAndQuery.replace(/^\//, '')}`, { ...rest, headers });
    },
    projected: (budgetMs) => app.projector.drain({ log: (message) => logs.push({ level: 'information', functionName: 'projector', message }) }, budgetMs),
    stopStorage: () => azurite.stop(),
    async startStorage() {
      azurite = await startAzurite({ port, location });
    },
    async stop() {
      await host.close();
      await azurite.stop();
      if (location) rmSync(location, { recursive: true, force: true });
    },
  };
}
