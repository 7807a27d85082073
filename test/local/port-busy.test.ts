// A busy API port stops the local host with a sentence that says what to do, not a bare EADDRINUSE;
// the ports tests start hosts on are free and, asked for together, different.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts, startAzurite } from '../../src/local/azurite';
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

describe('Azurite on a port taken after it was picked', () => {
  /** A server holding a port on 127.0.0.1, as another test file's process would. */
  async function holdPort(): Promise<{ port: number; close: () => Promise<void> }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('picks another port and starts there', async () => {
    const taken = await holdPort();
    const picked: number[] = [];
    // The first pick is the taken port, as when another process binds it between the pick and the start.
    const pickPort = async () => {
      const port = picked.length === 0 ? taken.port : await freePort();
      picked.push(port);
      return port;
    };
    const azurite = await startAzurite({ pickPort });
    try {
      expect(picked).toHaveLength(2);
      expect(azurite.port).toBe(picked[1]);
      expect(azurite.port).not.toBe(taken.port);
      const answer = await fetch(`http://127.0.0.1:${azurite.port}/devstoreaccount1/Tables`);
      expect(answer.status).toBeLessThan(500);
    } finally {
      await azurite.stop();
      await taken.close();
    }
  });

  it('gives up after three taken picks, and does not change a port the caller named', async () => {
    const taken = await holdPort();
    try {
      let picks = 0;
      const always = async () => (picks++, taken.port);
      await expect(startAzurite({ pickPort: always })).rejects.toThrow(/EADDRINUSE/);
      expect(picks).toBe(3);
      await expect(startAzurite({ port: taken.port, pickPort: always })).rejects.toThrow(/EADDRINUSE/);
      expect(picks).toBe(3);
    } finally {
      await taken.close();
    }
  });
});
