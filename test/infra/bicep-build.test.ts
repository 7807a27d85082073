// The Bicep is checked by the pinned Bicep CLI (npm run tools), not by a reader of our own:
// bicepconfig.json makes every lint rule an error, infra/main.bicep builds with no diagnostic at
// all, a planted problem does fail, and the deployment's tablePrefix rule is the service's rule.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compileInfra } from '../../scripts/infra-build.cjs';
import { tableNames } from '../../src/store/client';
import { bicepConsole, bicepRun, REPO_ROOT } from './arm';
import { loadedTimeout } from '../support/load-timeouts';

const config = JSON.parse(readFileSync(path.join(REPO_ROOT, 'bicepconfig.json'), 'utf8')) as {
  analyzers: { core: { enabled?: boolean; rules: Record<string, { level: string }> } };
};
const work = mkdtempSync(path.join(tmpdir(), 'posture-bicep-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bicepconfig.json', () => {
  it('keeps the core linter on and makes every rule an error', () => {
    expect(config.analyzers.core.enabled).toBe(true);
    const rules = Object.entries(config.analyzers.core.rules);
    expect(rules.length).toBeGreaterThanOrEqual(40);
    expect(rules.filter(([, r]) => r.level !== 'error').map(([name]) => name)).toEqual([]);
  });
});

// The Bicep CLI (.NET) starts for each: measured 11.9 s and 4.7 s in a full run at load 6-7.
describe('npm run infra:build', { timeout: loadedTimeout(11_900) }, () => {
  it('compiles infra/main.bicep and its modules with no warning and no error', () => {
    const out = path.join(work, 'main.json');
    const r = compileInfra(out);
    expect(r).toMatchObject({ lintDiagnostics: 0, buildDiagnostics: 0 });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveProperty('resources');
  });

  it('fails on a lint finding that Bicep would only warn about by default (the config is in force)', () => {
    // A copy of infra/ with one unused parameter, next to the same bicepconfig.json.
    const copy = path.join(work, 'planted');
    mkdirSync(path.join(copy, 'infra'), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, 'bicepconfig.json'), path.join(copy, 'bicepconfig.json'));
    writeFileSync(path.join(copy, 'infra', 'main.bicep'), "targetScope = 'subscription'\nparam unused string = 'x'\n");
    const r = bicepRun(['lint', path.join(copy, 'infra', 'main.bicep')]);
    expect(r).toMatch(/Error no-unused-params: Parameter "unused" is declared but never used/);
  });
});

// Generated prefixes through the Bicep CLI: measured 3.7 s and 8.2 s in a full run at load 6-7.
describe('tablePrefix: the deployment refuses exactly what the service refuses', { timeout: loadedTimeout(8_200) }, () => {
  const source = readFileSync(path.join(REPO_ROOT, 'infra', 'modules', 'types.bicep'), 'utf8');
  // The exported function, as one console line (its comment lines dropped).
  const declaration = source
    .slice(source.indexOf('func tablePrefixProblem'))
    .split('\n')
    .filter((l) => !l.trim().startsWith('//'))
    .join(' ');
  const serviceAccepts = (prefix: string): boolean => {
    try {
      tableNames(prefix);
      return true;
    } catch {
      return false;
    }
  };
  const bicepAccepts = (prefixes: string[]): boolean[] =>
    bicepConsole([declaration, ...prefixes.map((p) => `tablePrefixProblem('${p.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}')`)]).map((l) => l === "''");

  it('agrees on chosen cases', () => {
    const cases = ['', 'a', 'Z9', 'posture', 'p1r2', '1abc', '_a', 'a-b', 'a b', 'a.b', 'a~b', 'ab\'c', 'é', 'aé', 'a'.repeat(31), 'a'.repeat(32)];
    expect(bicepAccepts(cases)).toEqual(cases.map(serviceAccepts));
  });

  it('agrees on generated prefixes (letters, digits, punctuation, non-ASCII)', () => {
    const alphabet = [...'abcXYZ019-_.~ \'é Ωß'];
    const prefixes = fc.sample(fc.array(fc.constantFrom(...alphabet), { maxLength: 34 }).map((cs) => cs.join('')), { numRuns: 200, seed: 42 });
    expect(bicepAccepts(prefixes)).toEqual(prefixes.map(serviceAccepts));
  });
});
