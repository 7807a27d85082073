// The memory tests read a child's peak resident memory through test/support/max-rss.cjs. That peak
// must be the child's own: the test worker that starts it may hold far more after many files, and
// getrusage's peak is kept across exec (the piped import-reg run, 92–96 MB, reported 167.5 MB once
// in CI).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAX_RSS = path.resolve(__dirname, '..', 'support', 'max-rss.cjs');
const run = promisify(execFile);

/**
 * In a process of its own holding `parentMb` of touched memory, starts a child that holds
 * `childMb` with max-rss.cjs preloaded; answers the parent's resident memory and the child's peak
 * as max-rss.cjs wrote it, in MB.
 */
async function measure(dir: string, parentMb: number, childMb: number): Promise<{ parent: number; child: number }> {
  const file = path.join(dir, `peak-${parentMb}-${childMb}`);
  const child = `globalThis.held = Buffer.alloc(${childMb} * 1048576, 1)`;
  const parent = `
    const held = Buffer.alloc(${parentMb} * 1048576, 1);
    require('node:child_process').execFileSync(process.execPath, ['--require', ${JSON.stringify(MAX_RSS)}, '-e', ${JSON.stringify(child)}], { env: { ...process.env, MAX_RSS_FILE: ${JSON.stringify(file)} } });
    console.log(process.memoryUsage().rss / 1048576, held.length);`;
  const { stdout } = await run(process.execPath, ['-e', parent]);
  return { parent: Number(stdout.split(' ')[0]), child: Number(readFileSync(file, 'utf8')) / 1024 };
}

describe('a child process\'s peak resident memory (max-rss.cjs)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'max-rss-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the child\'s own, not that of the larger process that started it', async () => {
    const { parent, child } = await measure(dir, 300, 0);
    expect(parent).toBeGreaterThan(300);
    // Node and the preload alone: about 40 MB.
    expect(child).toBeGreaterThan(10);
    expect(child).toBeLessThan(120);
  });

  it('counts what the child holds outside the JavaScript heap', async () => {
    const { child } = await measure(dir, 0, 200);
    expect(child).toBeGreaterThan(200);
    expect(child).toBeLessThan(320);
  });
});
