// A server that enrolled and has not posted yet, over real HTTP on Azurite: every read of one
// server (by id or host name) answers 404 saying it enrolled and has no snapshot accepted yet,
// and where a refused collector or snapshot shows, instead of "no server is known"; a name that never
// enrolled keeps the plain answer; its removal says there is nothing to remove but its key, and
// names the route that revokes it. None of these changes anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fqdn } from '../support/enrolment-client';
import { get } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { dumpTables } from '../support/tables';

let stack: TestStack;
const WAITING = fqdn('WAIT01');

beforeAll(async () => {
  stack = await startTestStack();
  await stack.serverKey(WAITING);
}, 120_000);
afterAll(async () => stack?.stop());

const READS = (name: string) => [`servers/${name}`, `servers/${name}/history`, `servers/${name}/drift?rule=mcafee-port25-blocked`, `results?server=${name}`, `events?server=${name}`];

describe('a server that enrolled and has not posted', () => {
  it('is a 404 that says it enrolled and has no snapshot yet, by its id and by its host name', async () => {
    const said =
      `Server "${WAITING}" has enrolled but no snapshot of it has been accepted yet: its results, history and drift appear with its first one ` +
      `(GET /api/refused-servers lists a collector whose key is refused; a refused snapshot is logged as FleetPosture.SnapshotRejected).`;
    for (const name of [WAITING, 'WAIT01', 'wait01']) {
      for (const path of READS(name)) {
        const r = await get(stack, path);
        expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 404, body: { error: 'not_found', message: said } });
      }
    }
  });

  it('leaves the plain answer for a name that never enrolled', async () => {
    for (const path of READS('nowhere01')) {
      const r = await get(stack, path);
      expect(r.status).toBe(404);
      expect(r.body.message).toBe('No server "nowhere01" is known: no server has that id (its FQDN, lower case) or a host name that begins one.');
    }
  });

  it('is removed as nothing, naming the route that revokes its key, and stays enrolled', async () => {
    const before = await dumpTables(stack);
    const r = await stack.request(`servers/${WAITING}?removedBy=ops`, { method: 'DELETE', key: 'admin' });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: 'not_found',
      message: `No snapshot from server "${WAITING}" has been stored, so there is nothing to remove; a key issued to it is revoked with DELETE /api/servers/${WAITING}/key.`,
    });
    expect(await dumpTables(stack)).toEqual(before);
  });
});
