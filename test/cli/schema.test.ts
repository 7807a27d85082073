// `fleet-posture schema --write` updates the copies under schema/ of the repository it is run in;
// run anywhere else it says so in one sentence and exits 2, with no stack trace.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureServiceBuilt } from '../support/built';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'fleet-posture.js');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => ensureServiceBuilt(path.join(ROOT, 'dist', 'src', 'cli', 'schema.js')));

describe('fleet-posture schema --write', () => {
  it('outside the repository: one sentence, exit 2, nothing written', async () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'schema-write-'));
    const r = await cli(['schema', 'snapshot', '--write'], elsewhere);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("fleet-posture schema: cannot write schema/snapshot-v1.schema.json (there is no schema folder here): run --write from the repository's root folder\n");
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});
