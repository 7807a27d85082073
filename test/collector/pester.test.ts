// npm test's run of the collector's Pester suite (collector/tests/*.Tests.ps1) under PowerShell 7
// in strict mode: one vitest case per Pester test, so a Pester failure fails npm test by name and
// the closing count includes them. Tests that need Windows are left to the Windows workflow.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCollectorTests } from '../../scripts/test-collector.cjs';

interface PesterRecord {
  readonly name: string;
  readonly file: string;
  readonly result: string;
  readonly message: string;
}

const dir = mkdtempSync(path.join(tmpdir(), 'posture-pester-'));
const resultPath = path.join(dir, 'pester.json');
// Collected when the file loads: the Pester tests' names become this file's test cases.
const run = runCollectorTests({ resultPath, stdio: 'pipe' });
let records: PesterRecord[] = [];
try {
  records = JSON.parse(readFileSync(resultPath, 'utf8')) as PesterRecord[];
} catch {
  records = [];
}
const summary = /collector: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(run.output);
const testFiles = readdirSync(path.join(__dirname, '..', '..', 'collector', 'tests')).filter((f) => f.endsWith('.Tests.ps1'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('collector Pester suite under pwsh (strict mode)', () => {
  it('ran every test file to the end and printed its count', () => {
    expect(summary, run.output.slice(-4000)).not.toBeNull();
    console.log(summary![0]);
    expect(new Set(records.map((r) => r.file))).toEqual(new Set(testFiles));
    expect(records.length).toBe(Number(summary![1]) + Number(summary![2]) + Number(summary![3]));
  });

  for (const r of records.filter((t) => t.result !== 'Skipped')) {
    it(`${r.file}: ${r.name}`, () => {
      expect(r.result, r.message).toBe('Passed');
    });
  }
});
