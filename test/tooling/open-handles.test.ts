// The check that every test file closes what it opens (test/support/closes-what-it-opens.ts, a
// setup file): it sees a timer and a server left open, sees them go once closed, and names them.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
