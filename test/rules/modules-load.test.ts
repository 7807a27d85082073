// Every module of the rules and the snapshot contract loads. Imported inside a test, so that a
// module that throws while loading fails this test instead of silently emptying other test files.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('modules', () => {
  it.each([...modules(path.join(SRC, 'rules')), ...modules(path.join(SRC, 'snapshot'))].map((m) => path.relative(SRC, m)))('%s loads and exports something', async (file) => {
    const mod = (await import(path.join(SRC, file))) as Record<string, unknown>;
    expect(Object.keys(mod).length).toBeGreaterThan(0);
  });
});
