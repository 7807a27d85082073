// Every module of the rules, the snapshot contract, the service and the store loads. Imported
// inside a test, so that a module that throws while loading fails this test instead of silently
// emptying other test files (which a mutation run would count as a mutant that survived).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('modules', () => {
  it.each(['rules', 'snapshot', 'app', 'store'].flatMap((dir) => modules(path.join(SRC, dir))).map((m) => path.relative(SRC, m)))('%s loads and exports something', async (file) => {
    const mod = (await import(path.join(SRC, file))) as Record<string, unknown>;
    // A module that declares only types has nothing to export at run time.
    const typesOnly = !/^export (?!type |interface )/m.test(readFileSync(path.join(SRC, file), 'utf8'));
    expect(Object.keys(mod).length > 0 || typesOnly).toBe(true);
  });
});
