// A test client without retries sends a request once more when storage dropped its connection,
// and only then: a stand-in for storage (a plain TCP server) resets connections on cue, answers
// a Table-service 404 or 503, or is not there at all.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../src/local/azurite';
import { createTestTables } from '../support/stack';

const NOT_FOUND = JSON.stringify({ 'odata.error': { code: 'ResourceNotFound', message: { lang: 'en-US', value: 'The specified resource does not exist.' } } });

/** What the stand-in does with each request, in turn; past the list it answers 404. */
type Turn = 'reset' | 503;

let open: { server: Server; sockets: Socket[] } | undefined;
afterEach(async () => {
  for (const s of open?.sockets ?? []) s.destroy();
  await new Promise((resolve) => (open ? open.server.close(resolve) : resolve(undefined)));
  open = undefined;
});

/** Starts the stand-in; `requests()` says how many requests reached it. */
async function standIn(turns: readonly Turn[]): Promise<{ port: number; requests: () => number }> {
  let requests = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => {
      const turn = turns[requests++];
      if (turn === 'reset') return void socket.resetAndDestroy();
      const [status, text] = turn === 503 ? [503, 'Service Unavailable'] : [404, 'Not Found'];
      const body = turn === 503 ? '' : NOT_FOUND;
      socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json;odata=minimalmetadata\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open = { server, sockets };
  return { port: (server.address() as { port: number }).port, requests: () => requests };
}

const read = (port: number, maxRetries?: number) =>
  createTestTables({ connectionString: azuriteConnectionString(port), tablePrefix: 'Resend', maxRetries, requestTimeoutMs: 5000 }).results.getEntity('p', 'r');

describe('a test client without retries, when storage drops a connection', () => {
  it('sends the request once more and gets its answer', async () => {
    const storage = await standIn(['reset']);
    await expect(read(storage.port, 0)).rejects.toMatchObject({ statusCode: 404 });
    expect(storage.requests()).toBe(2);
  });

  it('sends it only once more: a second reset is the answer', async () => {
    const storage = await standIn(['reset', 'reset']);
    await expect(read(storage.port, 0)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(storage.requests()).toBe(2);
  });

  it('does not send again what storage answered, a 503 included', async () => {
    const storage = await standIn([503]);
    await expect(read(storage.port, 0)).rejects.toMatchObject({ statusCode: 503 });
    expect(storage.requests()).toBe(1);
  });

  it('does not send again when nothing listens (storage stopped)', async () => {
    const storage = await standIn([]);
    const { port } = storage;
    await new Promise((resolve) => open!.server.close(resolve));
    open = undefined;
    await expect(read(port, 0)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('leaves a client with retries to the SDK: each of its attempts goes out once', async () => {
    const storage = await standIn(['reset', 'reset', 'reset']);
    await expect(read(storage.port, 2)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(storage.requests()).toBe(3);
  });
});
