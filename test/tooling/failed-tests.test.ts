// CI keeps only the end of its log, so it ends by naming the failed tests of both vitest passes.
// These reports come from a real vitest run over a passing, a failing and a broken test file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { again, describe as describeReports, failedFiles } from '../../scripts/failed-tests.cjs';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'failed-tests-'));
const report = path.join(dir, 'report.json');
const second = path.join(dir, 'second.json');
const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

/** Runs vitest over `files` in `dir` (its own root: the project's config stays out), writing `out`. */
function runVitest(out: string, files: string[] = []): number | null {
  return spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--globals', '--reporter=json', `--outputFile=${out}`, ...files], { cwd: dir, encoding: 'utf8' }).status;
}

beforeAll(() => {
  writeFileSync(path.join(dir, 'mixed.test.js'), "describe('group', () => {\n  it('passes', () => expect(1).toBe(1));\n  it('fails', () => expect({ a: 1 }).toEqual({ a: 2 }));\n});\n");
  writeFileSync(path.join(dir, 'broken.test.js'), "import './missing.js';\nit('never runs', () => {});\n");
  writeFileSync(path.join(dir, 'green.test.js'), "it('passes too', () => expect(2).toBe(2));\n");
  // Fails on its first run only: the marker file it leaves makes the second run pass.
  const marker = JSON.stringify(path.join(dir, 'ran-once'));
  writeFileSync(path.join(dir, 'flaky.test.js'), `const fs = require('node:fs');\nit('fails the first time', () => { const first = !fs.existsSync(${marker}); fs.writeFileSync(${marker}, ''); expect(first).toBe(false); });\n`);
  expect(runVitest(report)).toBe(1);
  // CI's second run: only the files of the failed tests.
  expect(runVitest(second, failedFiles(report, dir))).toBe(1);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the failed-tests summary CI prints last', () => {
  it('names each failed test with its file and the first lines of its error, and a file that failed to load', () => {
    const lines = describeReports([report], dir);
    expect(lines).toEqual([
      'FAILED broken.test.js > (the file itself)',
      expect.stringMatching(/^ {4}Cannot find module '\.\/missing\.js'/),
      'FAILED flaky.test.js > fails the first time',
      '    AssertionError: expected true to be false // Object.is equality',
      expect.stringMatching(/^ {4}at .*flaky\.test\.js:2:/),
      'FAILED mixed.test.js > group fails',
      '    AssertionError: expected { a: 1 } to deeply equal { a: 2 }',
      expect.stringMatching(/^ {4}at .*mixed\.test\.js:3:/),
    ]);
  });

  it('gives CI the files of the failed tests to run once more, and says which test passed then and which failed again', () => {
    expect(failedFiles(report, dir)).toEqual(['broken.test.js', 'flaky.test.js', 'mixed.test.js']);
    expect(again(report, second, dir)).toEqual([
      'AGAIN failed again: broken.test.js > (the file itself)',
      'AGAIN passed on a second run: flaky.test.js > fails the first time',
      'AGAIN failed again: mixed.test.js > group fails',
    ]);
    expect(again(report, path.join(dir, 'none.json'), dir)).toEqual([`${path.join(dir, 'none.json')}: no report (the run ended before writing it).`]);
    expect(failedFiles(path.join(dir, 'none.json'), dir)).toEqual([]);
  });

  it('says when a report is missing, and leaves out the tests that passed', () => {
    expect(describeReports([path.join(dir, 'none.json')], dir)).toEqual([`${path.join(dir, 'none.json')}: no report (the run ended before writing it).`]);
    const all = describeReports([report], dir).join('\n');
    expect(all).not.toContain('green.test.js');
    expect(all).not.toContain('passes');
  });
});
