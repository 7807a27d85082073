// The compiled service (dist/src), rebuilt when a file the test runs is missing or older than any
// source, so tests that run the built code run what the code says.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Runs `tsc -p tsconfig.json` unless `builtFile` is newer than every file under src/. */
export function ensureServiceBuilt(builtFile: string): void {
  if (existsSync(builtFile) && statSync(builtFile).mtimeMs >= newestSource(path.join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}
