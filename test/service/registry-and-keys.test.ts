// The service with the real rule registry (whatever its rules answer), and the store's key and
// column encoding, which must hold for any server id and any evidence size.
import { createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildManifest } from '../../src/rules/manifest';
import { RULES } from '../../src/rules/registry';
import { STATUSES } from '../../src/rules/types';
import { azuriteConnectionString } from '../../src/local/azurite';
import { decodeKey, encodeKey, fitEvidence, invertedTime, MAX_STRING_CHARS, StorageUnavailableError } from '../../src/store';
import { get, post, type Json } from '../support/http';
import { snapshot } from '../support/snapshots';
import { createTestStore, startTestStack, type TestStack } from '../support/stack';

describe('with the registry rules', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  it('answers every loaded rule with a known status, stores it and counts it', async () => {
    const r = await post(stack, snapshot({ host: 'REG01' }));
    expect(r.status).toBe(201);
    expect(r.body.results.map((x: Json) => x.ruleId).sort()).toEqual(RULES.map((x) => x.id).sort());
    for (const x of r.body.results) expect(STATUSES).toContain(x.status);
    const summary = (await get(stack, 'summary')).body;
    expect(summary.hosts).toBe(1);
    expect(summary.rules.map((x: Json) => x.ruleId)).toEqual(RULES.map((x) => x.id));
  });

  it('serves the manifest of the registry', async () => {
    expect((await get(stack, 'manifest', { key: 'ingest' })).body).toEqual(buildManifest(RULES));
  });
});

describe('store encoding', () => {
  it('encodes any string into a valid table key and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const k = encodeKey(s);
        // eslint-disable-next-line no-control-regex -- what table keys must not hold
        expect(k).not.toMatch(/[/\\#?\u0000-\u001f\u007f-\u009f]/);
        expect(k.length).toBeGreaterThan(0);
        expect(decodeKey(k)).toBe(s);
      }),
    );
  });

  it('inverted time sorts newest first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9e12 }), fc.integer({ min: 0, max: 9e12 }), (a, b) => {
        if (a < b) expect(invertedTime(a) > invertedTime(b)).toBe(true);
      }),
    );
  });

  it('evidence JSON always fits one string column, and is marked when cut', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 100 }), fc.integer({ min: 0, max: 3000 }), (chunk, times) => {
        const json = JSON.stringify({ text: chunk.repeat(times) });
        const fitted = fitEvidence(json);
        expect(fitted.text.length).toBeLessThanOrEqual(MAX_STRING_CHARS);
        if (json.length <= MAX_STRING_CHARS) expect(fitted).toEqual({ text: json, truncated: false });
        else expect(JSON.parse(fitted.text)).toMatchObject({ truncated: true, originalChars: json.length });
      }),
      { numRuns: 50 },
    );
  });
});

describe('store against storage that hangs', () => {
  it('gives up after the request timeout with StorageUnavailableError', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const store = createTestStore({ connectionString: azuriteConnectionString(port), statuses: STATUSES, maxRetries: 0, requestTimeoutMs: 300 });
      const started = Date.now();
      await expect(store.readServer('x')).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('gives up on an answer whose body stops coming after its headers, with StorageUnavailableError', async () => {
    const sockets: Socket[] = [];
    // Answers every request with headers and the start of a body, then nothing more.
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"va'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const store = createTestStore({ connectionString: azuriteConnectionString(port), statuses: STATUSES, maxRetries: 0, requestTimeoutMs: 300 });
      // Far past the timeout: a call still waiting then was never going to give up.
      const outcome = await Promise.race([store.readServer('x').then(() => 'answered', (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]);
      expect(outcome).toBeInstanceOf(StorageUnavailableError);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
