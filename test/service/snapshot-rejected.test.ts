// A snapshot refused for its content or its sending, posted with the server's own key, over real
// HTTP on Azurite: each refusal is logged as FleetPosture.SnapshotRejected (server, status, code,
// message), the record the snapshot-rejected alert counts, so a server none of whose snapshots is
// accepted is seen although no fleet view lists it; the refusal changes no table. A refusal that
// is not about the snapshot (a key of the wrong kind, an unknown key) logs no such record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fqdn } from '../support/enrolment-client';
import { alertRecords, type Json } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

const MIN = 60_000;
let stack: TestStack;

async function post(key: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${stack.baseUrl}/api/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key, ...headers }, body });
  return { status: r.status, body: (await r.json()) as Json };
}
const postAs = async (server: string, body: string, headers: Record<string, string> = {}) => post(await stack.serverKey(server), body, headers);
const valid = (host: string, collectedAt = Date.now() - MIN) => JSON.stringify(snapshot({ host, collectedAt }));
const rejections = () => alertRecords(stack).filter((a) => a.name === 'FleetPosture.SnapshotRejected');

beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);
afterAll(async () => stack?.stop());

describe('a snapshot refused for its content', () => {
  it('logs each refusal with the server, the status, the code and the message, and changes no table', async () => {
    const server = fqdn('REJ01');
    await stack.serverKey(server);
    const before = await dumpTables(stack);
    const cases: [string, Record<string, string>, number, string][] = [
      [JSON.stringify({ schema: 'fleet-posture/snapshot@1' }), {}, 400, 'invalid_snapshot'],
      ['{"schema":', {}, 400, 'invalid_json'],
      [valid('REJ01'), { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      [valid('REJ01', Date.now() + 3 * 60 * MIN), {}, 400, 'collected_in_future'],
      [valid('REJ02'), {}, 403, 'forbidden'],
    ];
    const answers: Json[] = [];
    for (const [body, headers, status, code] of cases) {
      const r = await postAs(server, body, headers);
      expect({ status: r.status, code: r.body.error }).toEqual({ status, code });
      answers.push(r.body);
    }
    expect(rejections().filter((a) => a.fields.server === server)).toEqual(
      answers.map((a, i) => ({ name: 'FleetPosture.SnapshotRejected', fields: { server, status: cases[i]![2], code: a.error, message: a.message } })),
    );
    expect(await dumpTables(stack)).toEqual(before);
  });

  it('logs none for an accepted snapshot, nor for a refusal of the key rather than the snapshot', async () => {
    const before = rejections().length;
    expect((await postAs(fqdn('REJ03'), valid('REJ03'))).status).toBe(201);
    expect((await post(TEST_KEYS.reader, valid('REJ03'))).status).toBe(403);
    const madeUp = (await stack.serverKey(fqdn('REJ03'))).replace(/.{4}$/, 'AAAA');
    expect((await post(madeUp, JSON.stringify({})) ).status).toBe(401);
    expect(rejections()).toHaveLength(before);
  });
});
