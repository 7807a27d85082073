// What the drift tests share: a store and its Drift table on a fresh Azurite, and the port-25
// fixtures whose configurations differ.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../src/local/azurite';
import { startLocalHost, type LocalHost } from '../../src/local/host';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { RULES } from '../../src/rules/registry';
import { STATUSES, type Rule } from '../../src/rules/types';
import { createTestApp, createTestStore, type TestStack } from './stack';
import { DriftStore, type PostureStore } from '../../src/store';

/** For the file: a PostureStore and a DriftStore over their tables on a new in-memory Azurite, handed to `use` before the tests and stopped after them. */
export function onDriftStore(use: (s: { store: PostureStore; drift: DriftStore }) => void): void {
  let azurite: AzuriteHandle | undefined;
  beforeAll(async () => {
    azurite = await startAzurite({});
    const store = createTestStore({ connectionString: azurite.connectionString, statuses: STATUSES, maxRetries: 1 });
    await store.ensureTables();
    use({ store, drift: new DriftStore(store) });
  });
  afterAll(async () => azurite?.stop());
}

export const DRIFT_RULE = 'mcafee-port25-blocked';
/** VSE 8.0i with the default exclusion list (inetinfo.exe excluded). */
export const DEFAULT_LIST = 'vse80i-exchange2003-inetinfo-default-excluded.json';
/** The same with inetinfo.exe removed from the list: another configuration. */
export const REMOVED = 'vse80i-exchange2003-inetinfo-removed-from-list.json';
export const serverIdOf = (host: string) => `${host.toLowerCase()}.corp.contoso.com`;

/** A fixture posted as `host` (its name and FQDN), with a new snapshot id. */
export function fixtureAs(fixture: Record<string, unknown>, host: string, collectedAt: number): Record<string, unknown> {
  return { ...fixture, snapshotId: randomUUID(), collectedAt: new Date(collectedAt).toISOString(), host: { ...(fixture.host as object), name: host, fqdn: serverIdOf(host) } };
}

/** A new version of the port-25 rule whose facts name one more field: every server's fingerprint changes, its configuration does not. */
export const port25WithMoreFacts: Rule = {
  ...mcafeePort25Blocked,
  version: '2.0.0',
  configurationFacts: (s) => ({ ...mcafeePort25Blocked.configurationFacts!(s), 'facts.revision': 2 }),
};

/** A second local host on the stack's storage that loads `port25WithMoreFacts` (a release after a rule change), its projector run only by its job route; close it after. */
export function startNewRuleHost(stack: TestStack): Promise<LocalHost> {
  const app = createTestApp({ settings: stack.settings, rules: RULES.map((r) => (r.id === DRIFT_RULE ? port25WithMoreFacts : r)), storeOptions: { maxRetries: 1 } });
  return startLocalHost({ app, port: 0, log: () => undefined, projectorIntervalMs: 0 });
}
