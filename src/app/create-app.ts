// The composition root: one object holding the store, the rules, the clock and the use cases.
// Azure builds it once per worker from app settings; the local host and tests build their own,
// with injected rules, clock or storage options.
import { RULES } from '../rules/registry';
import { STATUSES, type Rule } from '../rules/types';
import { DriftStore, EventStore, HostStore, LifecycleStore, OlderDriftMembers, OlderLayoutStore, OutboxStore, PostureStore, RawSnapshotStore, RoundTripCounter, RuleIndexStore, ServerKeyStore, ServerRowCache, StagedRawStore, WaiverStore, type PostureStoreOptions } from '../store';
import { Baselines } from './baselines';
import { DriftApi } from './drift-api';
import { DriftQueries } from './drift-queries';
import { KeyRing } from './auth';
import { Authorizer, Enrolment } from './enrolment';
import { HttpApi } from './http-api';
import { Ingest, RECENT_COMMITS } from './ingest';
import { Jobs, LifecycleApi } from './lifecycle-api';
import { LifecycleQueries } from './lifecycle-queries';
import { Queries } from './queries';
import { KeysApi } from './keys-api';
import { LayoutMigration } from './layout-migration';
import { RateLimiter } from './rate-limit';
import { Reenrolment } from './reenrolment';
import { Projector } from './projector';
import type { ProjectionStores } from './projection-writes';
import { Reevaluation } from './reevaluate';
import { StagedRawSweep } from './staged-raw-sweep';
import { loadSettings, type Settings } from './settings';
import { StaleHosts } from './stale-hosts';
import { ServerNames } from './server-names';
import { removalLeftovers } from './removal-leftovers';
import { ServerRemoval } from './server-removal';
import { Waivers } from './waivers';

export interface CreateAppOptions {
  /** Defaults to loadSettings(process.env). */
  readonly settings?: Settings;
  /** Defaults to the rule registry. */
  readonly rules?: readonly Rule[];
  /** Ids of retired rules; defaults to the rule registry's. */
  readonly retiredRuleIds?: readonly string[];
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
  /** The request side's stores of the other tables (built on `store`). */
  readonly events: EventStore;
  readonly hosts: HostStore;
  readonly rawSnapshots: RawSnapshotStore;
  readonly staged: StagedRawStore;
  readonly ingest: Ingest;
  /** Drains the outbox into the fleet-wide tables (its own store and round-trip counter). */
  readonly projector: Projector;
  readonly projectorStore: PostureStore;
  readonly queries: LifecycleQueries;
  readonly keys: KeyRing;
  readonly keyStore: ServerKeyStore;
  readonly enrolment: Enrolment;
  /** Checks every route's key (serve-route.ts). */
  readonly auth: Authorizer;
  readonly http: HttpApi;
  readonly waivers: Waivers;
  readonly staleHosts: StaleHosts;
  readonly reevaluation: Reevaluation;
  readonly jobs: Jobs;
  readonly lifecycleHttp: LifecycleApi;
  readonly reenrolment: Reenrolment;
  readonly keysHttp: KeysApi;
  readonly drift: DriftQueries;
  readonly baselines: Baselines;
  readonly driftHttp: DriftApi;
}

export function createApp(options: CreateAppOptions = {}): PostureApp {
  const settings = options.settings ?? loadSettings();
  const rules = options.rules ?? RULES;
  const clock = options.clock ?? Date.now;
  const storeOptions: PostureStoreOptions = {
    connectionString: settings.storageConnectionString,
    tableEndpoint: settings.tableEndpoint,
    managedIdentityClientId: settings.managedIdentityClientId,
    tablePrefix: settings.tablePrefix,
    statuses: STATUSES,
    continuationTokenSecret: settings.continuationTokenSecret,
    ...options.storeOptions,
  };
  // Only the requests' store remembers rows: it is the one that commits them.
  const rowCache = new ServerRowCache({ maxBytes: settings.rememberedRowsMb * 1024 * 1024, idleMs: settings.staleAfterMinutes * 60_000 });
  const store = options.store ?? new PostureStore({ rowCache, ...storeOptions });
  // The projector's storage calls are counted apart from the requests'.
  const projectorStore = new PostureStore({ ...storeOptions, counter: new RoundTripCounter() });
  const { events, hosts, rawSnapshots, staged, ruleIndex } = projectionStores(store);
  const lifecycle = new LifecycleStore(store);
  const driftStore = new DriftStore(store);
  const names = new ServerNames(store);
  // The servers an admin removed, found by their removal markers.
  const removedServers = { serversWithPrefix: (prefix: string, max: number) => store.removedServersWithPrefix(prefix, max), hasServer: (id: string) => store.hasRemovedServer(id) };
  const removedNames = new ServerNames(removedServers);
  // Waivers and baselines name one server: a removed server's exact id stands for itself, never for
  // a live server whose id begins with it; removed servers are neither host-name candidates nor
  // counted as covered.
  const ownerNames = new ServerNames(store, { ...removedServers, serversWithPrefix: async () => [] });
  const waivers = new Waivers({ store, events, waivers: new WaiverStore(store), rules, clock, maxDays: settings.waiverMaxDays, names: ownerNames });
  const staleHosts = new StaleHosts({ events, lifecycle, clock, staleAfterMinutes: settings.staleAfterMinutes });
  // What the projector reads and writes besides the projections goes through its store too.
  const projection = projectionStores(projectorStore);
  const projectorWaivers = new Waivers({ store: projectorStore, events: projection.events, waivers: new WaiverStore(projectorStore), rules, clock, maxDays: settings.waiverMaxDays, names: new ServerNames(projectorStore) });
  const projectorHosts = new StaleHosts({ events: projection.events, lifecycle: new LifecycleStore(projectorStore), clock, staleAfterMinutes: settings.staleAfterMinutes });
  const projector = new Projector(
    {
      store: projectorStore,
      ...projection,
      outbox: new OutboxStore(projectorStore),
      drift: new DriftStore(projectorStore),
      waivers: () => projectorWaivers.coverage(),
      hostsSynced: (syncs, log) => projectorHosts.hostsSynced(syncs, log),
      hostsRemoved: (removed) => projectorHosts.hostsRemoved(removed),
    },
    RECENT_COMMITS,
  );
  const outbox = new OutboxStore(store);
  const retiredRuleIds = options.retiredRuleIds;
  const reevaluation = new Reevaluation({ store, lifecycle, hosts, rawSnapshots, rules, retiredRuleIds, clock, batchSize: settings.reevaluateBatchSize, outbox, projector });
  const ingest = new Ingest({ store, outbox, staged, projector, rules, retiredRuleIds, clock });
  const plain = new Queries({ store, outbox, events, hosts, rawSnapshots, ruleIndex, rules, clock });
  const keys = new KeyRing(settings);
  const keyStore = new ServerKeyStore({
    connectionString: settings.storageConnectionString,
    tableEndpoint: settings.tableEndpoint,
    managedIdentityClientId: settings.managedIdentityClientId,
    tablePrefix: settings.tablePrefix,
    ...options.storeOptions,
    counter: undefined,
  });
  // A name no posting server answers to may be a server that enrolled and has not posted yet: its 404 says so.
  const queries = new LifecycleQueries({ plain, store, hosts, events, rules, lifecycle, waivers, names, removedNames, enrolledNames: new ServerNames(keyStore), reevaluation: () => reevaluation.progress() });
  const enrolment = new Enrolment({ keyStore, keyTags: store, clock });
  // The key routes also know servers that enrolled and have not posted yet, and removed ones: a
  // removed server's id must not stand for a server whose id merely begins with it.
  const keyNames = new ServerNames(store, keyStore, removedServers);
  const reenrolment = new Reenrolment({
    enrolment,
    keyStore,
    policy: settings.reenrolment,
    // The server's own rows, not its Hosts row: that one follows the post by the projection lag.
    // A removed server posted before too: its markers keep it from looking new. One column read, not whole rows.
    hasPosted: async (server) => (await store.serverStanding(server)) !== undefined,
    committedSince: async (server, since) => (await store.readServer(server)).some((r) => r.keyTag !== undefined || r.recentCommits?.some((c) => c.at >= since)),
    clock,
  });
  const limiter = new RateLimiter({ burst: settings.rateLimitBurst, perMinute: settings.rateLimitPerMinute, clock });
  const refusals = new RateLimiter({ burst: settings.rateLimitBurst, perMinute: settings.rateLimitPerMinute, clock, maxKeys: 10_000 });
  const auth = new Authorizer({ keys, enrolment, limiter, refusals, allowSharedIngestKeys: settings.allowSharedIngestKeys });
  const removal = new ServerRemoval({ store, outbox, enrolment, projector, clock });
  const baselines = new Baselines({ drift: driftStore, events, rules, clock, names: ownerNames });
  const namedAfterRemoval = (server: string) => removalLeftovers({ rules, baselines, waivers }, server);
  const http = new HttpApi({ ingest, queries, rules, maxSnapshotBytes: settings.maxSnapshotBytes, auth, enrolment, reenrolment, keyNames, removal, namedAfterRemoval });
  // Background work like the projector's, so it goes through the projector's store.
  const stagedRawSweep = new StagedRawSweep({ staged: projection.staged, outbox: new OutboxStore(projectorStore), clock });
  const layoutMigration = new LayoutMigration({ older: new OlderLayoutStore(projectorStore), drift: new OlderDriftMembers(projectorStore), clock });
  const jobs = new Jobs({ staleHosts, waivers, baselines, reevaluation, projector, stagedRawSweep, layoutMigration, reenrolment });
  const lifecycleHttp = new LifecycleApi({ queries, waivers, jobs, rules, clock, reenrolment });
  const keysHttp = new KeysApi({ reenrolment, keyNames });
  const drift = new DriftQueries({ drift: driftStore, rules, cursors: store.cursors, resultRow: (server, ruleId) => store.readResultRow(server, ruleId), reevaluation: () => reevaluation.progress() });
  const driftHttp = new DriftApi({ queries: drift, baselines, rules, resolveServer: (name) => queries.resolveCountingServer(name) });
  return { settings, rules, store, events, hosts, rawSnapshots, staged, ingest, projector, projectorStore, queries, keys, keyStore, enrolment, auth, http, waivers, staleHosts, reevaluation, jobs, lifecycleHttp, reenrolment, keysHttp, drift, baselines, driftHttp };
}

/** The stores of the fleet-wide tables, each built on `store` (sharing its clients, guard and token codec). */
export function projectionStores(store: PostureStore): ProjectionStores {
  return { events: new EventStore(store), ruleIndex: new RuleIndexStore(store), hosts: new HostStore(store), rawSnapshots: new RawSnapshotStore(store), staged: new StagedRawStore(store) };
}

let defaultApp: PostureApp | undefined;

/** The app of this worker process, built from app settings on first use. */
export function getDefaultApp(): PostureApp {
  defaultApp ??= createApp();
  return defaultApp;
}
