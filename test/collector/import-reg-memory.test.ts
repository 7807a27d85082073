// import-reg reads a whole-hive export (tens or hundreds of MB) in the memory of the keys the rules
// read, not of the file: run in a child process whose JavaScript heap is capped well below the
// file's size, it still writes the snapshot it writes for those keys alone. Reading the whole file
// (bytes, text, lines and every key's values at once) needs several times the file's size there.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServiceBuilt } from '../support/built';
import { writeLargeRegExport } from '../support/large-reg-export';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'fleet-posture.js');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'reg', 'EXCH16-vse88-not-excluded.reg');
/** Large enough that the whole-file reading ran out of this heap by far (it did from about 40 MB). */
const FILE_MB = 40;
const HEAP_MB = 32;

function importReg(file: string, heapMb?: number): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const flags = heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`];
  return new Promise((resolve) => {
    execFile(process.execPath, [...flags, BIN, 'import-reg', file, '--host', 'EXCH16'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? 1) : 0, stdout, stderr });
    });
  });
}

const registryOf = (stdout: string): unknown => (JSON.parse(stdout) as { registry: unknown }).registry;

describe('import-reg on a whole-hive export', () => {
  let dir: string;
  let large: string;
  beforeAll(() => {
    ensureServiceBuilt(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
    dir = mkdtempSync(path.join(tmpdir(), 'import-reg-memory-'));
    large = path.join(dir, 'EXCH16-whole-hive.reg');
    expect(writeLargeRegExport(large, FILE_MB, FIXTURE)).toBeGreaterThanOrEqual(FILE_MB * 1024 * 1024);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`reads a ${FILE_MB} MB export with a ${HEAP_MB} MB heap, and writes the keys the rules read, as from those keys alone`, async () => {
    const big = await importReg(large, HEAP_MB);
    expect(big.stderr).not.toMatch(/heap out of memory/);
    expect(big.code).toBe(0);
    const alone = await importReg(FIXTURE);
    expect(alone.code).toBe(0);
    expect(registryOf(big.stdout)).toEqual(registryOf(alone.stdout));
    expect(big.stderr).toBe(alone.stderr);
  }, 60_000);
});
