// The composition root: one object holding the store, the rules, the clock and the use cases.
// Azure builds it once per worker from app settings; the local host and tests build their own,
// with injected rules, clock or storage options.
import { RULES } from '../rules/registry';
import { STATUSES, type Rule } from '../rules/types';
import { PostureStore, ServerKeyStore, type PostureStoreOptions } from '../store';
import { KeyRing } from './auth';
import { Authorizer, Enrolment } from './enrolment';
import { HttpApi } from './http-api';
import { Ingest } from './ingest';
import { Queries } from './queries';
import { RateLimiter } from './rate-limit';
import { loadSettings, type Settings } from './settings';

export interface CreateAppOptions {
  /** Defaults to loadSettings(process.env). */
  readonly settings?: Settings;
  /** Defaults to the rule registry. */
  readonly rules?: readonly Rule[];
  /** Epoch ms; defaults to Date.now. */
  readonly clock?: () => number;
  /** A ready store (tests); otherwise one is built from the settings. */
  readonly store?: PostureStore;
  /** Extra store options (pipeline policies, retry count, a shared round-trip counter). */
  readonly storeOptions?: Partial<PostureStoreOptions>;
}

export interface PostureApp {
  readonly settings: Settings;
  readonly rules: readonly Rule[];
  readonly store: PostureStore;
  readonly ingest: Ingest;
  readonly queries: Queries;
  readonly keys: KeyRing;
  readonly keyStore: ServerKeyStore;
  readonly enrolment: Enrolment;
  readonly http: HttpApi;
}

export function createApp(options: CreateAppOptions = {}): PostureApp {
  const settings = options.settings ?? loadSettings();
  const rules = options.rules ?? RULES;
  const clock = options.clock ?? Date.now;
  const store =
    options.store ??
    new PostureStore({
      connectionString: settings.storageConnectionString,
      tableEndpoint: settings.tableEndpoint,
      managedIdentityClientId: settings.managedIdentityClientId,
      tablePrefix: settings.tablePrefix,
      statuses: STATUSES,
      ...options.storeOptions,
    });
  const ingest = new Ingest({ store, rules, clock });
  const queries = new Queries({ store, rules, clock });
  const keys = new KeyRing(settings);
  const keyStore = new ServerKeyStore({
    connectionString: settings.storageConnectionString,
    tableEndpoint: settings.tableEndpoint,
    managedIdentityClientId: settings.managedIdentityClientId,
    tablePrefix: settings.tablePrefix,
    ...options.storeOptions,
    counter: undefined,
  });
  const enrolment = new Enrolment({ keyStore, clock });
  const limiter = new RateLimiter({ burst: settings.rateLimitBurst, perMinute: settings.rateLimitPerMinute, clock });
  const auth = new Authorizer({ keys, enrolment, limiter, allowSharedIngestKeys: settings.allowSharedIngestKeys });
  const http = new HttpApi({ ingest, queries, keys, rules, maxSnapshotBytes: settings.maxSnapshotBytes, auth, enrolment });
  return { settings, rules, store, ingest, queries, keys, keyStore, enrolment, http };
}

let defaultApp: PostureApp | undefined;

/** The app of this worker process, built from app settings on first use. */
export function getDefaultApp(): PostureApp {
  defaultApp ??= createApp();
  return defaultApp;
}
