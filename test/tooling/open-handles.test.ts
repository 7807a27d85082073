// The check that every test file closes what it opens (test/support/closes-what-it-opens.ts, a
// setup file): it sees a timer and a server left open, sees them go once closed, and names them;
// it sees the clock, Math.random and process.env left changed, and nothing once they are put back.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { globalsNow, leftChangedMessage } from '../support/left-changed';
import { envForThisFile } from '../support/process-env';
import { handlesBeyond, handlesLeftSince, leftOpenMessage, openHandles } from '../support/open-handles';

const ROOT = path.resolve(__dirname, '..', '..');

describe('each test file closes what it opens', () => {
  it('runs before every test file', () => {
    const config = readFileSync(path.join(ROOT, 'vitest.config.mts'), 'utf8');
    expect(config).toMatch(/setupFiles: \[[^\]]*'test\/support\/closes-what-it-opens\.ts'/);
  });

  it('sees a timer left open, and nothing once it is cleared', async () => {
    const before = openHandles();
    const timer = setTimeout(() => undefined, 60_000);
    // Read at once: the worker's own timers come and go, so a wait could see one of them end.
    expect(handlesBeyond(before)).toEqual({ Timeout: 1 });
    clearTimeout(timer);
    expect(await handlesLeftSince(before, 2_000)).toEqual({});
  });

  it('sees a listening server left open, and nothing once it is closed', async () => {
    const before = openHandles();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(handlesBeyond(before).TCPServerWrap).toBe(1);
    } finally {
      server.close();
    }
    // Closing takes a tick or more: the wait sees it go.
    expect(await handlesLeftSince(before, 2_000)).toEqual({});
  });

  it('does not count a timer that does not keep the process alive', async () => {
    const before = openHandles();
    const timer = setTimeout(() => undefined, 60_000).unref();
    expect(handlesBeyond(before)).toEqual({});
    clearTimeout(timer);
  });

  it('names the file and what it left, in one sentence', () => {
    const message = leftOpenMessage('test/x.test.ts', { TCPSocketWrap: 1, ProcessWrap: 2, SomethingNew: 1 });
    expect(message).toBe(
      "test/x.test.ts left open after its last test: 1 TCPSocketWrap (a TCP connection; a response body never read keeps the client's open), 2 ProcessWrap (a child process), 1 SomethingNew (a handle); close what a file opens in its own afterAll, or it lives on into the next file of its worker.",
    );
  });
});

describe('each test file leaves the globals it changed as it found them', () => {
  const NAME = 'FLEET_POSTURE_LEFT_CHANGED_PROBE';
  const env = envForThisFile();

  it('sees Math.random spied on, and nothing once the spy is restored', () => {
    const before = globalsNow();
    const spy = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      expect(leftChangedMessage('test/x.test.ts', before, globalsNow())).toBe(
        'test/x.test.ts left Math.random replaced (a spy not restored); the next files in this worker would draw the same number every time.',
      );
    } finally {
      spy.mockRestore();
    }
    expect(leftChangedMessage('test/x.test.ts', before, globalsNow())).toBeUndefined();
  });

  it('sees a variable set, changed or removed, names it without its value, and nothing once it is put back', () => {
    const before = { ...globalsNow(), env: new Map([['KEPT', 'a'], ['REMOVED', 'b'], ['CHANGED', 'c']]) };
    const now = { ...before, env: new Map([['KEPT', 'a'], ['CHANGED', 'secret'], ['ADDED', 'd']]) };
    const message = leftChangedMessage('test/x.test.ts', before, now);
    expect(message).toBe('test/x.test.ts left process.env changed (ADDED, CHANGED, REMOVED); set variables through envForThisFile, which puts them back.');
    expect(message).not.toContain('secret');
    expect(leftChangedMessage('test/x.test.ts', before, { ...now, env: new Map(before.env) })).toBeUndefined();
  });

  it('reads the environment as it was when read: a variable set afterwards is named (envForThisFile puts it back after the file)', () => {
    const before = globalsNow();
    env.set({ [NAME]: 'probe' });
    expect(before.env.has(NAME)).toBe(false);
    expect(globalsNow().env.get(NAME)).toBe('probe');
    expect(leftChangedMessage('test/x.test.ts', before, globalsNow())).toContain(`(${NAME})`);
  });

  it('sees fake timers, each clock function by name, and nothing once the real ones are back', () => {
    const before = globalsNow();
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const faked = globalsNow();
    vi.useRealTimers();
    expect(leftChangedMessage('test/x.test.ts', before, faked)).toBe(
      'test/x.test.ts left setTimeout, Date.now replaced (fake timers or a spy not restored); the next files in this worker would wait for ever.',
    );
    expect(leftChangedMessage('test/x.test.ts', before, globalsNow())).toBeUndefined();
  });
});
