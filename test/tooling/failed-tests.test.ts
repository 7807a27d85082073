// CI keeps only the end of its log, so it ends by naming the failed tests of both vitest passes.
// These reports come from a real vitest run over a passing, a failing and a broken test file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describe as describeReports } from '../../scripts/failed-tests.cjs';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'failed-tests-'));
const report = path.join(dir, 'report.json');

beforeAll(() => {
  writeFileSync(path.join(dir, 'mixed.test.js'), "describe('group', () => {\n  it('passes', () => expect(1).toBe(1));\n  it('fails', () => expect({ a: 1 }).toEqual({ a: 2 }));\n});\n");
  writeFileSync(path.join(dir, 'broken.test.js'), "import './missing.js';\nit('never runs', () => {});\n");
  writeFileSync(path.join(dir, 'green.test.js'), "it('passes too', () => expect(2).toBe(2));\n");
  const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  // Its own root, so the project's config (projects, global setup) stays out of this small run.
  const r = spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--globals', '--reporter=json', `--outputFile=${report}`], { cwd: dir, encoding: 'utf8' });
  expect(r.status).toBe(1);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the failed-tests summary CI prints last', () => {
  it('names each failed test with its file and the first lines of its error, and a file that failed to load', () => {
    const lines = describeReports([report], dir);
    expect(lines).toEqual([
      'FAILED broken.test.js > (the file itself)',
      expect.stringMatching(/^ {4}Cannot find module '\.\/missing\.js'/),
      'FAILED mixed.test.js > group fails',
      '    AssertionError: expected { a: 1 } to deeply equal { a: 2 }',
      expect.stringMatching(/^ {4}at .*mixed\.test\.js:3:/),
    ]);
  });

  it('says when a report is missing, and leaves out the tests that passed', () => {
    expect(describeReports([path.join(dir, 'none.json')], dir)).toEqual([`${path.join(dir, 'none.json')}: no report (the run ended before writing it).`]);
    const all = describeReports([report], dir).join('\n');
    expect(all).not.toContain('green.test.js');
    expect(all).not.toContain('passes');
  });
});
