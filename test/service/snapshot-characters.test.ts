// Half of a UTF-16 surrogate pair in a snapshot's strings, over real HTTP on Azurite: refused as
// invalid_snapshot at the first such string's path, and nothing is stored. Taken, it reached the
// servers list (Power BI's Hosts table), results, history and drift as a bare \ud800 escape, which
// strict JSON readers (.NET's System.Text.Json) refuse for the whole page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HALF_CHARACTER_ISSUE } from '../../src/snapshot/schema';
import { get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES });
}, 60_000);
afterAll(async () => stack?.stop());

const HOST = 'HALF1';
const SERVER = 'half1.corp.contoso.com';

/** What readers see of the fleet and of one server: every answer a refused post must leave alone. */
const readBack = async () => ({
  servers: (await getAll(stack, 'servers')).items,
  results: (await getAll(stack, 'results')).items,
  server: (await get(stack, `servers/${SERVER}`)).body,
  history: (await get(stack, `servers/${SERVER}/history`)).body,
});

/** Each a snapshot of HOST (or of a host never seen) holding half a pair, and the path the answer names. */
const HALF_SNAPSHOTS: [string, (d: Json) => void][] = [
  ['collector.name', (d) => (d.collector.name = 'col\ud800x')],
  ['host.os.caption', (d) => (d.host.os.caption = 'Windows\udc00')],
  ['registry[0].values[0].data', (d) => (d.registry[0].values[0].data = '8.0.0.912\ud800')],
  ['services[0].pathName', (d) => (d.services[0].pathName = 'C:\\WINDOWS\\\udc00\ud800inetinfo.exe')],
  ['files[0].tail', (d) => (d.files = [{ path: 'C:\\logs\\test.txt', exists: true, tail: 'line\ud83d\n' }])],
];

beforeAll(async () => {
  expect((await post(stack, snapshot({ host: HOST, testState: 'Warning', collectedAt: Date.now() - 10 * 60_000 }))).status).toBe(201);
});

describe('half of a surrogate pair in a snapshot', () => {
  it.each(HALF_SNAPSHOTS)('at %s is a 400 invalid_snapshot naming the string, and nothing is stored', async (path, spoil) => {
    const before = await readBack();
    const doc = snapshot({ host: HOST, testState: 'Error' });
    spoil(doc);
    const body = JSON.stringify(doc);
    // The body carries the half as a JSON escape, as senders write it.
    expect(body).toMatch(/\\ud[89a-f][0-9a-f]{2}/);
    const res = await post(stack, body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_snapshot',
      message: 'The snapshot does not match the contract (1 issue; see issues).',
      issues: [{ path, message: HALF_CHARACTER_ISSUE }],
    });
    expect(await readBack()).toEqual(before);
  });

  it('from a host never seen leaves it unknown, and every answer whole characters', async () => {
    const doc = snapshot({ host: 'HALF2', testState: 'Error' });
    (doc.collector as Json).name = 'col\ud800x';
    expect((await post(stack, doc)).status).toBe(400);
    expect((await get(stack, 'servers/half2.corp.contoso.com')).status).toBe(404);
    for (const route of ['servers', 'results', `servers/${SERVER}`, `servers/${SERVER}/history`, 'summary', 'events']) {
      const res = await stack.request(route, { key: 'reader' });
      expect(res.status, route).toBe(200);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(await res.arrayBuffer()));
      expect(text, route).not.toMatch(/\\ud[89a-f]/i);
      expect(text, route).not.toContain('HALF2');
    }
  });
});
