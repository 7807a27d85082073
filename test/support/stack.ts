// A real service for end-to-end tests: Azurite's table service on a free port, the local host on
// another, both torn down by stop(). Later issues reuse it: startTestStack({ rules, settings }).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LogLevel } from '@azure/functions';
import { createApp, type PostureApp } from '../../src/app/create-app';
import { loadSettings, type Settings } from '../../src/app/settings';
import type { Rule } from '../../src/rules/types';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import type { StoragePolicy } from '../../src/store';

export const TEST_KEYS = {
  ingest: 'test-ingest-key-1',
  ingest2: 'test-ingest-key-2',
  reader: 'test-reader-key-1',
  admin: 'test-admin-key-1',
} as const;

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
}

export interface TestStack {
  readonly baseUrl: string;
  readonly app: PostureApp;
  readonly settings: Settings;
  readonly logs: LogEntry[];
  /** Requests sent to storage (reset it before the part you measure). */
  readonly roundTrips: PostureApp['store']['counter'];
  /** fetch with the path relative to /api and a key kind (or none). */
  request(pathAndQuery: string, init?: RequestInit & { key?: keyof typeof TEST_KEYS | null }): Promise<Response>;
  /** Stops Azurite (an outage); the host keeps running. */
  stopStorage(): Promise<void>;
  /** Starts Azurite again on the same port (and folder, when persisted). */
  startStorage(): Promise<void>;
  stop(): Promise<void>;
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
    ...options.settings,
  });
  const app = createApp({ settings, rules: options.rules, clock: options.clock, storeOptions: { policies: options.storagePolicies, maxRetries: 1 } });
  await app.store.ensureTables();
  const logs: LogEntry[] = [];
  let host: LocalHost;
  try {
    host = await startLocalHost({ app, port: 0, log: (e) => logs.push(e) });
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
    request(pathAndQuery, init = {}) {
      const { key = 'reader', ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key) headers.set('x-api-key', TEST_KEYS[key]);
      return fetch(`${baseUrl}/api/${pathAndQuery.replace(/^\//, '')}`, { ...rest, headers });
    },
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
