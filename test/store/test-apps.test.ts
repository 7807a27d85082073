// Every app a test builds carries the storage policies that refuse what Azure Table storage refuses
// and Azurite takes (src/local/azure-limits.ts, which the local host carries too): a
// second instance, an older release or a projector of a test's own writes and queries the same
// storage, and what it sends could otherwise pass here and fail in Azure. So does every store a
// test builds itself (a migration with hooks, a projector that stalls), and every table client a
// test opens itself to seed or read rows past the app (an older layout's rows, a lease row it
// takes over). Apps are built through createTestApp alone, stores through createTestStore and
// table clients through createTestTables (or stackTables), which this file checks in two ways: what
// such an app, store or client refuses and keeps, and a scan of the tests' sources for one built
// otherwise.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/app/settings';
import { STATUSES } from '../../src/rules/types';
import { TABLES, type StoragePolicy } from '../../src/store';
import { MAX_FILTER_COMPARISONS } from '../../src/store/filters';
import { MAX_STRING_CHARS } from '../../src/local/azure-limits';
import { injectedError } from '../support/faults';
import { TEST_RULES } from '../support/snapshots';
import { createTestApp, createTestStore, createTestTables } from '../support/stack';

const ROOT = path.resolve(__dirname, '..', '..');
/** The helper's own file: the one place under test/ that calls createApp. */
const HELPER = path.join('test', 'support', 'stack.ts');

/** A caller's policy that records each request reaching it and answers `status` itself (nothing reaches storage). */
function answering(status: number): { seen: string[]; policy: StoragePolicy } {
  const seen: string[] = [];
  return {
    seen,
    policy: {
      name: 'testAnswering',
      sendRequest(request) {
        seen.push(`${request.method} ${decodeURIComponent(new URL(request.url).pathname)}`);
        return Promise.reject(injectedError(request, status, `answered ${status} by the caller's policy`));
      },
    },
  };
}

// Never contacted: the caller's policy answers every request that gets past the limits.
const settings = loadSettings({ POSTURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });

describe('an app a test builds with createTestApp', () => {
  it('refuses what Azure refuses, in the requests\' store and the projector\'s, before the caller\'s own policies see it', async () => {
    const caller = answering(418);
    const app = createTestApp({ settings, rules: TEST_RULES, storeOptions: { policies: [caller.policy], maxRetries: 0 } });
    const filter = Array.from({ length: MAX_FILTER_COMPARISONS + 1 }, (_, i) => `RowKey eq 'r${i}'`).join(' or ');
    for (const store of [app.store, app.projectorStore]) {
      const events = store.siblingTable('events');
      await expect(events.call('too long a string', (t) => t.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS + 1) }))).rejects.toMatchObject({ statusCode: 400, code: 'PropertyValueTooLarge' });
      await expect(events.call('too many comparisons', (t) => t.listEntities({ queryOptions: { filter } }).byPage().next())).rejects.toMatchObject({ statusCode: 400 });
      expect(caller.seen).toEqual([]);
      // What Azure takes goes on to the caller's policies.
      await expect(events.call('a row Azure takes', (t) => t.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS) }))).rejects.toMatchObject({ statusCode: 418 });
      expect(caller.seen).toEqual([`POST /devstoreaccount1/${TABLES.events}`]);
      caller.seen.length = 0;
    }
  });

  it('keeps the caller\'s other options: settings, rules, retries', async () => {
    const caller = answering(503);
    const app = createTestApp({ settings, rules: TEST_RULES, storeOptions: { policies: [caller.policy], maxRetries: 1 } });
    expect(app.settings).toBe(settings);
    expect(app.rules).toBe(TEST_RULES);
    await expect(app.store.siblingTable('events').get('p', 'r', 'a point read')).rejects.toThrow();
    // One attempt and the one retry the caller asked for (the SDK's default is more).
    expect(caller.seen).toHaveLength(2);
  });
});

describe('a store a test builds with createTestStore', () => {
  it('refuses what Azure refuses before the caller\'s own policies see it, and keeps the caller\'s other options', async () => {
    const caller = answering(418);
    const store = createTestStore({ connectionString: 'UseDevelopmentStorage=true', statuses: STATUSES, policies: [caller.policy], maxRetries: 0 });
    const events = store.siblingTable('events');
    const filter = Array.from({ length: MAX_FILTER_COMPARISONS + 1 }, (_, i) => `RowKey eq 'r${i}'`).join(' or ');
    await expect(events.call('too long a string', (t) => t.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS + 1) }))).rejects.toMatchObject({ statusCode: 400, code: 'PropertyValueTooLarge' });
    await expect(events.call('too many comparisons', (t) => t.listEntities({ queryOptions: { filter } }).byPage().next())).rejects.toMatchObject({ statusCode: 400 });
    expect(caller.seen).toEqual([]);
    // What Azure takes goes on to the caller's policies, once: the caller's maxRetries 0 holds.
    await expect(events.call('a row Azure takes', (t) => t.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS) }))).rejects.toMatchObject({ statusCode: 418 });
    expect(caller.seen).toEqual([`POST /devstoreaccount1/${TABLES.events}`]);
  });
});

describe('table clients a test opens with createTestTables', () => {
  it('refuse what Azure refuses before the caller\'s own policies see it, and keep the caller\'s other options', async () => {
    const caller = answering(418);
    const tables = createTestTables({ connectionString: 'UseDevelopmentStorage=true', tablePrefix: 'Seed', policies: [caller.policy], maxRetries: 0 });
    const filter = Array.from({ length: MAX_FILTER_COMPARISONS + 1 }, (_, i) => `RowKey eq 'r${i}'`).join(' or ');
    await expect(tables.events.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS + 1) })).rejects.toMatchObject({ statusCode: 400, code: 'PropertyValueTooLarge' });
    await expect(tables.events.listEntities({ queryOptions: { filter } }).byPage().next()).rejects.toMatchObject({ statusCode: 400 });
    expect(caller.seen).toEqual([]);
    // What Azure takes goes on to the caller's policies, once (its maxRetries 0), under its prefix.
    await expect(tables.events.createEntity({ partitionKey: 'p', rowKey: 'r', text: 'x'.repeat(MAX_STRING_CHARS) })).rejects.toMatchObject({ statusCode: 418 });
    expect(caller.seen).toEqual([`POST /devstoreaccount1/Seed${TABLES.events}`]);
  });
});

/** Every source file under test/, relative to the repository. */
function testSources(dir = 'test'): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(path.join(ROOT, p)).isDirectory() ? testSources(p) : /\.[cm]?[jt]s$/.test(name) ? [p] : [];
  });
}

/**
 * Where a source builds an app or a store other than through createTestApp or createTestStore: a
 * call of createApp (this module's or a copy's), createApp imported as a value (under its name or
 * another), or `new PostureStore(` / `new ServerKeyStore(` (a copy's too), comment lines aside.
 */
function directBuilds(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"][^'"]*app\/create-app(?:\.[cm]?[jt]s)?['"]/g)) {
    const values = m[1]!.split(',').map((s) => s.trim()).filter((s) => /^createApp\b/.test(s));
    for (const value of values) found.push(`imports ${value}`);
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (/^\s*(?:\/\/|\/\*|\*)/.test(line)) continue;
    if (/\bcreateApp\s*\(/.test(line) || /\bnew\s+(?:[\w$]+\s*\.\s*)*(?:PostureStore|ServerKeyStore)\s*\(/.test(line)) found.push(`line ${i + 1}: ${line.trim()}`);
  }
  return found;
}

describe('no test builds an app or a store but through createTestApp or createTestStore', () => {
  const sources = testSources();

  it('finds the tests\' sources, and the apps they build through it', () => {
    expect(sources).toEqual(expect.arrayContaining([HELPER, path.join('test', 'support', 'drift.ts'), path.join('test', 'rules', 'adding-a-rule.test.ts')]));
    const through = sources.filter((f) => /\bcreateTestApp\s*\(/.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(through.length).toBeGreaterThanOrEqual(15);
  });

  it('neither calls createApp nor builds a PostureStore or ServerKeyStore with new, under test/ but in the helper', () => {
    const offenders = sources.filter((f) => f !== HELPER).flatMap((f) => directBuilds(readFileSync(path.join(ROOT, f), 'utf8')).map((where) => `${f} ${where}`));
    expect(offenders, 'build the app with createTestApp and a store with createTestStore (test/support/stack.ts), which add the Azure limit policies').toEqual([]);
  });

  it('the check finds a direct call, a copy\'s, and an import of createApp under any name', () => {
    const call = 'create' + 'App';
    expect(directBuilds(`const app = ${call}({ settings });`)).toHaveLength(1);
    expect(directBuilds(`const app = copy.${call}.${call} ({ settings });`)).toHaveLength(1);
    expect(directBuilds(`import { ${call} as make, type PostureApp } from '../../src/app/create-app';`)).toEqual([`imports ${call} as make`]);
    expect(directBuilds(`import {\n  projectionStores,\n  ${call},\n} from '../../src/app/create-app';`)).toEqual([`imports ${call}`]);
    // What the helper's callers write, and comments, are not builds of their own.
    expect(directBuilds(`import { projectionStores, type PostureApp } from '../../src/app/create-app';\nconst app = createTestApp({ settings }, copy.${call}.${call});\n// ${call}( in a comment`)).toEqual([]);
  });

  it('the check finds a PostureStore or ServerKeyStore built with new, a copy\'s too', () => {
    const [store, keys] = ['Posture' + 'Store', 'ServerKey' + 'Store'];
    expect(directBuilds(`const s = new ${store}({ statuses: STATUSES });`)).toHaveLength(1);
    expect(directBuilds(`const index = new RuleIndexStore(new ${store}({ statuses }));`)).toHaveLength(1);
    expect(directBuilds(`const k = new copy.store.${keys} ({ connectionString });`)).toHaveLength(1);
    // The helper's callers, the class named as a type, and comments are not builds of their own.
    expect(directBuilds(`let s: ${store};\nconst index = new RuleIndexStore(createTestStore({ statuses }));\n// new ${store}( in a comment`)).toEqual([]);
  });
});

/**
 * The files under test/ that open a table client past createTestTables on purpose, each with how
 * many such constructions (imports included) it holds and why; any other, or one more, is refused.
 */
const DIRECT_TABLES: Readonly<Record<string, { readonly count: number; readonly why: string }>> = {
  [path.join('test', 'store', 'azure-limits.test.ts')]: {
    count: 2,
    why: 'the limits\' own test measures the payload of writes the limits would refuse, with a client whose policy refuses every request itself (nothing reaches storage)',
  },
};

/**
 * Where a source opens a table client other than through createTestTables: a TableClient or
 * TableServiceClient built with new or fromConnectionString (a namespace's too), either class or
 * createTableClients imported as a value (under its name or another), or a call of
 * createTableClients, comment lines aside. A type-only import is no client.
 */
function directTables(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/import\s*(type\s*)?\{([^}]*)\}\s*from\s*['"]([^'"]*)['"]/g)) {
    if (m[1]) continue;
    const from = m[3]!;
    const names = from === '@azure/data-tables' ? /^(?:TableClient|TableServiceClient)\b/ : /(?:^|\/)src\/store(?:\/client|\/index)?(?:\.[cm]?[jt]s)?$/.test(from) ? /^createTableClients\b/ : undefined;
    if (!names) continue;
    for (const value of m[2]!.split(',').map((s) => s.trim()).filter((s) => names.test(s))) found.push(`imports ${value}`);
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (/^\s*(?:\/\/|\/\*|\*)/.test(line)) continue;
    const builds =
      /\b(?:TableClient|TableServiceClient)\s*\.\s*fromConnectionString\s*\(/.test(line) ||
      /\bnew\s+(?:[\w$]+\s*\.\s*)*(?:TableClient|TableServiceClient)\s*\(/.test(line) ||
      /\bcreateTableClients\s*\(/.test(line);
    if (builds) found.push(`line ${i + 1}: ${line.trim()}`);
  }
  return found;
}

describe('no test opens a table client but through createTestTables', () => {
  const sources = testSources();

  it('finds the clients the tests open through it', () => {
    const through = sources.filter((f) => /\b(?:createTestTables|stackTables)\s*\(/.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(through.length).toBeGreaterThanOrEqual(20);
  });

  it('builds no TableClient, TableServiceClient or createTableClients under test/ but in the helper and the exceptions named', () => {
    const offenders: string[] = [];
    for (const f of sources.filter((s) => s !== HELPER)) {
      const found = directTables(readFileSync(path.join(ROOT, f), 'utf8'));
      const allowed = DIRECT_TABLES[f]?.count ?? 0;
      if (found.length !== allowed) offenders.push(...(found.length > 0 ? found.map((where) => `${f} ${where}`) : [`${f}: the exception named holds no direct client now`]));
    }
    expect(offenders, 'open tables with createTestTables or stackTables (test/support/stack.ts), which add the Azure limit policies; a deliberate exception goes in DIRECT_TABLES with why').toEqual([]);
  });

  it('the check finds a client built with new or from a connection string, a namespace\'s too, and createTableClients', () => {
    const [client, service, factory] = ['Table' + 'Client', 'TableService' + 'Client', 'create' + 'TableClients'];
    expect(directTables(`const t = ${client}.fromConnectionString(cs, name, { allowInsecureConnection: true });`)).toHaveLength(1);
    expect(directTables(`const t = new ${client}(url, name, credential);`)).toHaveLength(1);
    expect(directTables(`const s = tables.${service} . fromConnectionString(cs);`)).toHaveLength(1);
    expect(directTables(`const t = new sdk.${service}(url, credential);`)).toHaveLength(1);
    expect(directTables(`const { outbox } = ${factory}({ connectionString });`)).toHaveLength(1);
  });

  it('the check finds a value import of either class or of createTableClients, under any name, and not a type-only one', () => {
    const [client, factory] = ['Table' + 'Client', 'create' + 'TableClients'];
    expect(directTables(`import { odata, ${client} as T } from '@azure/data-tables';`)).toEqual([`imports ${client} as T`]);
    expect(directTables(`import {\n  ${factory} as open,\n  tableNames,\n} from '../../src/store';`)).toEqual([`imports ${factory} as open`]);
    expect(directTables(`import { ${factory} } from '../../src/store/client';`)).toEqual([`imports ${factory}`]);
    // Types, the helper's callers, and comments are not clients of their own.
    expect(directTables(`import type { ${client} } from '@azure/data-tables';\nimport { odata, type ${client} } from '@azure/data-tables';\nlet t: ${client};\nconst { drift } = stackTables(stack);\n// ${client}.fromConnectionString( in a comment`)).toEqual([]);
  });
});
