// import-reg reads a whole-hive export (tens or hundreds of MB) in the memory of the keys the rules
// read, not of the file: run in a child process whose JavaScript heap is capped well below the
// file's size, it still writes the snapshot it writes for those keys alone. Reading the whole file
// (bytes, text, lines and every key's values at once) needs several times the file's size there.
// The same goes for the export piped to standard input (`import-reg -`). The heap cap does not see
// Buffers and large strings held outside the JavaScript heap (standard input read whole was both,
// and ran within it), so peak resident memory above the run on those keys alone is held below one
// and a half times the file's size too: reading the file whole holds its bytes and its text, at
// least twice its size (standard input read whole took 120 MB above it for this 40 MB file; read
// in pieces, about 33 MB, not growing with the file).
import { execFile } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const MAX_RSS = path.join(ROOT, 'test', 'support', 'max-rss.cjs');

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  /** Peak resident memory, MB. */
  rssMb: number;
}

/** Runs import-reg on `file`, or on "-" with `piped` (a file's path) piped to its standard input. */
function importReg(dir: string, file: string, heapMb?: number, piped?: string): Promise<Run> {
  const flags = heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`];
  const rssFile = path.join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const env = { ...process.env, MAX_RSS_FILE: rssFile };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...flags, '--require', MAX_RSS, BIN, 'import-reg', file, '--host', 'EXCH16'], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      let rssMb = NaN;
      try {
        rssMb = Number(readFileSync(rssFile, 'utf8')) / 1024;
      } catch {
        // No exit handler ran (killed): NaN fails any bound.
      }
      resolve({ code: error ? (error.code ?? error.signal ?? 1) : 0, stdout, stderr, rssMb });
    });
    // A child that runs out of memory stops reading: the pipe then fails, which is its exit's business.
    child.stdin!.on('error', () => undefined);
    if (piped === undefined) child.stdin!.end();
    else createReadStream(piped).pipe(child.stdin!);
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
    const big = await importReg(dir, large, HEAP_MB);
    expect(big.stderr).not.toMatch(/heap out of memory/);
    expect(big.code).toBe(0);
    const alone = await importReg(dir, FIXTURE);
    expect(alone.code).toBe(0);
    expect(registryOf(big.stdout)).toEqual(registryOf(alone.stdout));
    expect(big.stderr).toBe(alone.stderr);
    expect(big.rssMb).toBeLessThan(alone.rssMb + 1.5 * FILE_MB);
  }, 60_000);

  it(`reads the same ${FILE_MB} MB export piped to standard input with a ${HEAP_MB} MB heap, as the file`, async () => {
    const piped = await importReg(dir, '-', HEAP_MB, large);
    expect(piped.stderr).not.toMatch(/heap out of memory/);
    expect(piped.code).toBe(0);
    const alone = await importReg(dir, FIXTURE);
    expect(registryOf(piped.stdout)).toEqual(registryOf(alone.stdout));
    expect(piped.stderr).toBe(alone.stderr.split(FIXTURE).join('-'));
    expect(piped.rssMb).toBeLessThan(alone.rssMb + 1.5 * FILE_MB);
  }, 60_000);
});
