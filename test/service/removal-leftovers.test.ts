// What still names a server once it is removed, over real HTTP on Azurite: the removal's answer
// warns of the rule whose drift baseline it stays, and of each waiver in force that names it (not
// one that ended, nor one by pattern), with the route that ends each; the drift then says in a note
// why the baseline is not the reference; a server nothing names gets no warning; and when those
// names cannot be read, the removal still answers 200, saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../src/store';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { refusedReads } from '../support/faults';
import { get, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const refused = refusedReads('refuseWaiverReads');
let stack: TestStack;
const [NAMED, PLAIN, UNREAD, KEPT] = ['LEFT01', 'LEFT02', 'LEFT03', 'KEPT01'].map(serverIdOf) as [string, string, string, string];
const EXPIRES = new Date(Date.now() + 30 * 86_400_000).toISOString();

async function post(server: string, fixture: string): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, server.split('.')[0]!.toUpperCase(), Date.now() - 60_000);
  const r = await fetch(`${stack.baseUrl}/api/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': await stack.serverKey(server) },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(201);
  await r.text();
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await stack.request(path, { method, key: 'admin', ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as Json };
}

const waiver = (id: string, scope: { server: string } | { serverPattern: string }) =>
  admin('PUT', `waivers/${id}`, { rule: DRIFT_RULE, ...scope, justification: 'Decommissioned next quarter.', grantedBy: 'ciso@contoso.com', expiresAt: EXPIRES });

beforeAll(async () => {
  stack = await startTestStack({ storagePolicies: [refused.policy] });
  await post(NAMED, REMOVED);
  await post(PLAIN, DEFAULT_LIST);
  await post(UNREAD, DEFAULT_LIST);
  await post(KEPT, DEFAULT_LIST);
  // The drift must have counted the baseline's server before it can be named.
  await admin('POST', 'jobs/projector/run');
  expect((await admin('PUT', `baselines/${DRIFT_RULE}`, { server: NAMED, setBy: 'alice@contoso.com' })).status).toBe(201);
  expect((await waiver('left01-port25', { server: NAMED })).status).toBe(201);
  expect((await waiver('left01-ended', { server: NAMED })).status).toBe(201);
  expect((await admin('DELETE', 'waivers/left01-ended')).status).toBe(200);
  expect((await waiver('left-pattern', { serverPattern: 'left0*' })).status).toBe(201);
  expect((await waiver('left03-port25', { server: UNREAD })).status).toBe(201);
}, 120_000);
afterAll(async () => stack?.stop());

describe('removing a server that a baseline or a waiver still names', () => {
  it('warns of the baseline and of the waiver in force that name it, each with the route that ends it', async () => {
    const r = await admin('DELETE', `servers/${NAMED}?removedBy=ops%40contoso.com`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ server: NAMED, rules: [DRIFT_RULE] });
    expect(r.body.warnings).toEqual([
      {
        code: 'baseline_names_removed_server',
        rule: DRIFT_RULE,
        message:
          `${NAMED} stays the drift baseline of ${DRIFT_RULE} with no configuration recorded any more, so servers are measured against the largest configuration ` +
          `until an admin names another server or clears the baseline (PUT or DELETE /api/baselines/${DRIFT_RULE}).`,
      },
      {
        code: 'waiver_names_removed_server',
        waiver: 'left01-port25',
        message: `Waiver left01-port25 names ${NAMED} and stays in force until ${EXPIRES}, covering nothing unless the server posts again; end it with DELETE /api/waivers/left01-port25.`,
      },
    ]);
    // The warnings change nothing: the baseline and the waiver stay as they were.
    expect((await admin('GET', `baselines/${DRIFT_RULE}`)).body).toMatchObject({ server: NAMED, revision: 1 });
    expect((await admin('GET', 'waivers/left01-port25')).body).toMatchObject({ state: 'active', revision: 1 });
  });

  it('has the drift say why the named baseline is no longer the reference, fleet-wide and for each server', async () => {
    const note =
      `The baseline server ${NAMED} has no configuration recorded for ${DRIFT_RULE} (removed from the fleet, or no longer evaluated by the rule), ` +
      `so servers are measured against the largest configuration until an admin names another server or clears the baseline (PUT or DELETE /api/baselines/${DRIFT_RULE}).`;
    await admin('POST', 'jobs/projector/run');
    const fleet = await get(stack, `drift?rule=${DRIFT_RULE}`);
    expect(fleet.body.baseline).toMatchObject({ server: NAMED, fingerprint: null, note });
    const kept = await get(stack, `servers/${KEPT}/drift?rule=${DRIFT_RULE}`);
    expect(kept.body.reference).toMatchObject({ kind: 'largest-cluster', note });
    // Named again, the baseline is the reference, and no note is left.
    expect((await admin('PUT', `baselines/${DRIFT_RULE}`, { server: KEPT, setBy: 'alice@contoso.com' })).status).toBe(200);
    expect((await get(stack, `drift?rule=${DRIFT_RULE}`)).body.baseline).toMatchObject({ server: KEPT, fingerprint: expect.stringMatching(/^sha256:/), note: null });
    expect((await get(stack, `servers/${UNREAD}/drift?rule=${DRIFT_RULE}`)).body.reference).toEqual({ kind: 'baseline', server: KEPT, fingerprint: expect.stringMatching(/^sha256:/), note: null });
    // Cleared, the largest configuration is the reference with no note.
    expect((await admin('DELETE', `baselines/${DRIFT_RULE}`)).status).toBe(200);
    expect((await get(stack, `servers/${KEPT}/drift?rule=${DRIFT_RULE}`)).body.reference).toMatchObject({ kind: 'largest-cluster', note: null });
  });

  it('gives no warning for a server nothing names but a pattern', async () => {
    const r = await admin('DELETE', `servers/${PLAIN}?removedBy=ops%40contoso.com`);
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([]);
  });

  it('still answers the removal, with a warning saying what could not be read, when the waivers cannot be read', async () => {
    refused.table = tableNames(stack.settings.tablePrefix).waivers;
    refused.on = true;
    try {
      const r = await admin('DELETE', `servers/${UNREAD}?removedBy=ops%40contoso.com`);
      expect(r.status).toBe(200);
      expect(r.body.warnings).toHaveLength(1);
      expect(r.body.warnings[0]).toMatchObject({ code: 'names_not_checked' });
      expect(r.body.warnings[0].message).toMatch(
        new RegExp(`^The removal is done, but whether a drift baseline or a waiver still names ${UNREAD.replace(/\./g, '\\.')} could not be read \\(.+\\); see GET /api/waivers and GET /api/baselines/${DRIFT_RULE}\\.$`),
      );
    } finally {
      refused.on = false;
    }
    // Removed all the same.
    expect((await get(stack, `servers/${UNREAD}`)).status).toBe(404);
  });
});
