// A busy API port stops the local host with a sentence that says what to do, not a bare EADDRINUSE;
// the ports tests start hosts on are free and, asked for together, different.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/local/azurite';
import { listenError, startLocalHost } from '../../src/local/host';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

describe('local host on a busy port', () => {
  it('refuses with the port, the likely cause and another port to use', async () => {
    const busy = Number(new URL(stack.baseUrl).port);
    const error = await startLocalHost({ app: stack.app, port: busy, hostname: '127.0.0.1', log: () => undefined }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toBe(
      `Port ${busy} is already in use on 127.0.0.1, by another program (a second "npm start", or "func start"?). Stop it, or start on another port: npm start -- --port ${busy + 1}.`,
    );
    expect((error!.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    // The host that owns the port still answers.
    expect((await stack.request('summary', { key: 'reader' })).status).toBe(200);
  });

  it('suggests 7072 when the default port is taken, and words other failures too', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    expect(listenError(inUse, 7071, '127.0.0.1').message).toContain('npm start -- --port 7072.');
    const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
    expect(listenError(denied, 80, '127.0.0.1').message).toMatch(/^Not allowed to listen on 127\.0\.0\.1:80/);
    expect(listenError(new Error('boom'), 1, 'h').message).toBe('Cannot listen on h:1: boom');
  });

  it('hands out ports asked for together that differ and are each free to listen on', async () => {
    for (let round = 0; round < 5; round++) {
      const ports = await freePorts(8);
      expect(new Set(ports).size).toBe(8);
      const servers = ports.map(() => createServer());
      try {
        await Promise.all(servers.map((srv, i) => new Promise<void>((resolve, reject) => srv.once('error', reject).listen(ports[i], '127.0.0.1', resolve))));
      } finally {
        await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
      }
    }
  });
});
