// Every app a test builds carries the storage policies that refuse what Azure Table storage refuses
// and Azurite takes (test/support/azure-limits.ts, the filter limit of test/support/stack.ts): a
// second instance, an older release or a projector of a test's own writes and queries the same
// storage, and what it sends could otherwise pass here and fail in Azure. They are built through
// createTestApp alone, which this file checks in two ways: what such an app refuses and keeps, and
// a scan of the tests' sources for an app built any other way.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/app/settings';
import { TABLES, type StoragePolicy } from '../../src/store';
import { MAX_FILTER_COMPARISONS } from '../../src/store/filters';
import { MAX_STRING_CHARS } from '../support/azure-limits';
import { injectedError } from '../support/faults';
import { TEST_RULES } from '../support/snapshots';
import { createTestApp } from '../support/stack';

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

/** Every source file under test/, relative to the repository. */
function testSources(dir = 'test'): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(path.join(ROOT, p)).isDirectory() ? testSources(p) : /\.[cm]?[jt]s$/.test(name) ? [p] : [];
  });
}

/**
 * Where a source builds an app other than through createTestApp: a call of createApp (this
 * module's or a copy's), or createApp imported as a value (under its name or another), comment
 * lines aside.
 */
function directBuilds(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"][^'"]*app\/create-app(?:\.[cm]?[jt]s)?['"]/g)) {
    const values = m[1]!.split(',').map((s) => s.trim()).filter((s) => /^createApp\b/.test(s));
    for (const value of values) found.push(`imports ${value}`);
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (/^\s*(?:\/\/|\/\*|\*)/.test(line)) continue;
    if (/\bcreateApp\s*\(/.test(line)) found.push(`line ${i + 1}: ${line.trim()}`);
  }
  return found;
}

describe('no test builds an app but through createTestApp', () => {
  const sources = testSources();

  it('finds the tests\' sources, and the apps they build through it', () => {
    expect(sources).toEqual(expect.arrayContaining([HELPER, path.join('test', 'support', 'drift.ts'), path.join('test', 'rules', 'adding-a-rule.test.ts')]));
    const through = sources.filter((f) => /\bcreateTestApp\s*\(/.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(through.length).toBeGreaterThanOrEqual(15);
  });

  it('calls createApp nowhere under test/ but in the helper', () => {
    const offenders = sources.filter((f) => f !== HELPER).flatMap((f) => directBuilds(readFileSync(path.join(ROOT, f), 'utf8')).map((where) => `${f} ${where}`));
    expect(offenders, 'build the app with createTestApp (test/support/stack.ts), which adds the Azure limit policies').toEqual([]);
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
});
