// One server's drift before the projector has counted it: a server that has just posted its first
// snapshot exists and has a configuration (its Results row holds it), so its drift answers that,
// saying in a sentence that the fleet's drift has not counted it yet, not a 404; a server that does
// not exist stays a 404. The projector runs only when a test drains (projectorIntervalMs: 0), so
// "right after a post" holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post } from '../support/http';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
let stack: TestStack;
let minute = 0;

async function postAs(host: string, fixture: string, drain: boolean): Promise<void> {
  const body = fixtureAs(readFixture(fixture) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + minute++ * 60_000);
  const r = await post(stack, body, { drain });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

const serverDrift = (host: string) => get(stack, `servers/${serverIdOf(host)}/drift?rule=${RULE}`);

beforeAll(async () => {
  stack = await startTestStack({ projectorIntervalMs: 0 });
  for (const h of ['EXCH01', 'EXCH02']) await postAs(h, DEFAULT_LIST, true);
}, 120_000);
afterAll(async () => stack?.stop());

describe('GET /api/servers/{server}/drift before the drift has counted the server', () => {
  it('answers the configuration its result holds, against the reference, saying it is not counted yet; then the same, counted', async () => {
    await postAs('NEW01', REMOVED, false);
    const early = await serverDrift('NEW01');
    expect(early.status, JSON.stringify(early.body)).toBe(200);
    expect(early.body).toMatchObject({ server: serverIdOf('NEW01'), ruleId: RULE, status: 'Warning', pending: true, matches: false, reference: { kind: 'largest-cluster', servers: 2 } });
    expect(early.body.note).toMatch(/^The drift has not counted .*new01.* yet/);
    // A change the projector set aside waits indefinitely: the note promises no "moments" without saying where it is listed.
    expect(early.body.note).toMatch(/set aside waits, listed by GET \/api\/jobs\/projector/);
    expect(early.body.differences.map((d: { field: string }) => d.field)).toEqual(['portRule[mass-mailing].exclude']);
    // The fleet's drift does not count it yet either.
    expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(2);

    await stack.projected();
    const counted = await serverDrift('NEW01');
    expect(counted.status).toBe(200);
    expect(counted.body).toMatchObject({ pending: false, note: null, fingerprint: early.body.fingerprint, facts: early.body.facts, differences: early.body.differences, collectedAt: early.body.collectedAt });
    expect((await get(stack, `drift?rule=${RULE}`)).body.servers).toBe(3);
  });

  it('a counted server whose newest snapshot changed its configuration says the drift shows what it last counted', async () => {
    await postAs('EXCH02', REMOVED, false);
    const r = await serverDrift('EXCH02');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ pending: true, status: 'Pass', matches: true });
    expect(r.body.note).toMatch(/newest snapshot/);
    expect(r.body.note).toMatch(/set aside waits, listed by GET \/api\/jobs\/projector/);
    await stack.projected();
    expect((await serverDrift('EXCH02')).body).toMatchObject({ pending: false, status: 'Warning', note: null });
  });

  it('a server that does not exist is still a 404, in one sentence', async () => {
    const r = await get(stack, `servers/nobody.corp.contoso.com/drift?rule=${RULE}`);
    expect(r.status).toBe(404);
    expect(r.body.message).toMatch(/^No server "nobody.corp.contoso.com" is known/);
  });
});
