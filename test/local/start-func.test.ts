// `npm run start:func` on a machine without Azure Functions Core Tools: one sentence at once, no build.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFunc } from '../../scripts/start-func.cjs';

const SCRIPT = path.resolve(__dirname, '../../scripts/start-func.cjs');

describe('start:func', () => {
  it('without func on PATH says so in one sentence and builds nothing', () => {
    const run = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { ...process.env, PATH: path.dirname(process.execPath) } });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^Azure Functions Core Tools \(func\) are not on PATH: .*"npm start", which needs none\.$/m);
  });

  it('finds func in a folder of PATH', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'func-'));
    try {
      const func = path.join(dir, process.platform === 'win32' ? 'func.cmd' : 'func');
      writeFileSync(func, '');
      chmodSync(func, 0o755);
      expect(findFunc(['/nonexistent', dir].join(path.delimiter))).toBe(func);
      expect(findFunc('/nonexistent')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
