// The files of a vitest worker share its process and modules (isolate: false in
// vitest.config.mts), so a file must not leave behind what would change another file's run:
// module mocks, environment variables, fake timers or process listeners. vitest undoes spies and
// stubs after each test itself; these are the ones it does not, read from the test sources.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'glob';
import { describe, expect, it } from 'vitest';
import { envForThisFile } from '../support/process-env';

const ROOT = path.resolve(__dirname, '..', '..');
/** The one place that may write process.env: it puts every value back when the file ends. */
const ENV_HELPER = 'test/support/process-env.ts';

const FILES = globSync('test/**/*.{ts,mts,cts}', { cwd: ROOT, posix: true }).filter((f) => f !== 'test/tooling/shared-modules.test.ts');
const text = new Map(FILES.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
const count = (s: string, re: RegExp) => [...s.matchAll(re)].length;
const MODULE_MOCK = /\bvi\.(mock|doMock|unmock|doUnmock)\(/;
const ENV_WRITE = /process\.env(\.\w+|\[[^\]]+\])\s*(=(?!=)|\?\?=|\|\|=)|Object\.assign\(\s*process\.env\b|delete\s+process\.env\b/;
const FAKE_TIMERS = /\bvi\.useFakeTimers\(/g;
const REAL_TIMERS = /\bvi\.useRealTimers\(/g;
const LISTENS = /\bprocess\.(on|once|addListener|prependListener)\(/g;
const STOPS_LISTENING = /\bprocess\.(off|removeListener|removeAllListeners)\(/g;
const offenders = (test: (s: string) => boolean) => FILES.filter((f) => test(text.get(f)!));

describe('test files leave nothing behind for the next file of their worker', () => {
  it('reads the test sources', () => {
    expect(FILES.length).toBeGreaterThan(150);
    expect(FILES).toContain(ENV_HELPER);
  });

  it('mock no module (a mocked module would stay mocked for the files after)', () => {
    expect(offenders((s) => MODULE_MOCK.test(s))).toEqual([]);
  });

  it('write process.env only through envForThisFile (test/support/process-env.ts)', () => {
    expect(offenders((s) => ENV_WRITE.test(s)).filter((f) => f !== ENV_HELPER)).toEqual([]);
  });

  it('turn fake timers back into real ones', () => {
    expect(offenders((s) => count(s, FAKE_TIMERS) > count(s, REAL_TIMERS))).toEqual([]);
  });

  it('remove every process listener they add', () => {
    expect(offenders((s) => count(s, LISTENS) > count(s, STOPS_LISTENING))).toEqual([]);
  });

  it('would see each of these in a file (the checks are not blind)', () => {
    expect(MODULE_MOCK.test("vi.mock('../../src/store');")).toBe(true);
    for (const write of ["process.env.A = '1';", "process.env['A'] ??= '1';", 'Object.assign(process.env, vars);', 'delete process.env.A;']) expect(ENV_WRITE.test(write), write).toBe(true);
    expect(ENV_WRITE.test("if (process.env.A === '1') spawn(cmd, { env: { ...process.env } });")).toBe(false);
    expect([count('vi.useFakeTimers(); vi.useFakeTimers();', FAKE_TIMERS), count('vi.useRealTimers();', REAL_TIMERS)]).toEqual([2, 1]);
    expect([count("process.on('exit', f); process.once('SIGINT', g);", LISTENS), count("process.off('exit', f);", STOPS_LISTENING)]).toEqual([2, 1]);
  });
});

describe('envForThisFile', () => {
  const pathBefore = process.env.PATH;
  describe('in a file that sets variables', () => {
    // Registered in this block, so its restore runs when the block ends, as a file's does.
    const env = envForThisFile();
    it('sets them for the tests that follow', () => {
      env.set({ SHARED_MODULES_CHECK: 'set', PATH: '/nowhere' });
      env.set({ SHARED_MODULES_CHECK: 'set again' });
      expect([process.env.SHARED_MODULES_CHECK, process.env.PATH]).toEqual(['set again', '/nowhere']);
    });
  });

  it('puts every value back when that file ends: a new one removed, a changed one as it was', () => {
    expect('SHARED_MODULES_CHECK' in process.env).toBe(false);
    expect(process.env.PATH).toBe(pathBefore);
  });
});
