// A server by the name people know it by, wherever a server is named: the results and events
// filters, a waiver's server and a baseline's server take the host name (EXCH10G) as they take the
// id (its FQDN). A name that stands for no server, or for several, is refused with the candidates:
// an empty list, or a waiver stored under a name no result carries, would read as "nothing wrong".
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Json } from '../support/http';
import { DRIFT_RULE, REMOVED } from '../support/drift';
import { startTestStack, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';

const RULE = DRIFT_RULE;
const WARNING_FIXTURE = 'vse88-x64-transport-not-excluded.json';
const EXCH10G = 'exch10g.corp.contoso.com';
const MBX_CORP = 'mbx1.corp.contoso.com';
const MBX_LAB = 'mbx1.lab.contoso.com';
const DAY = 24 * 60 * 60_000;

let stack: TestStack;

async function postAs(name: string, fqdn: string, fixture: string): Promise<void> {
  const f = readFixture(fixture) as Record<string, unknown>;
  const body = { ...f, snapshotId: randomUUID(), collectedAt: new Date(Date.now() - 60_000).toISOString(), host: { ...(f.host as object), name, fqdn } };
  const r = await post(stack, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

const admin = async (path: string, method: string, body?: unknown): Promise<{ status: number; body: Json }> => {
  const r = await stack.request(path, { method, key: 'admin', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
};
const waiver = (server: string) => ({
  rule: RULE,
  server,
  justification: 'The relay replacement is scheduled; port 25 blocking is accepted until then.',
  grantedBy: 'messaging-lead@contoso.com',
  expiresAt: new Date(Date.now() + 7 * DAY).toISOString(),
});

beforeAll(async () => {
  stack = await startTestStack();
  await postAs('EXCH10G', EXCH10G, WARNING_FIXTURE);
  await postAs('MBX1', MBX_CORP, WARNING_FIXTURE);
  await postAs('MBX1', MBX_LAB, REMOVED);
}, 120_000);
afterAll(async () => stack?.stop());

describe('the results and events filters', () => {
  it('take the host name as they take the id, any case', async () => {
    for (const route of ['results', 'events']) {
      const byId = await get(stack, `${route}?server=${EXCH10G}`);
      expect(byId.status).toBe(200);
      expect(byId.body.items.length, route).toBeGreaterThan(0);
      for (const name of ['EXCH10G', 'exch10g', 'Exch10G.']) {
        const byName = await get(stack, `${route}?server=${name}`);
        expect(byName.status, `${route} ${name}`).toBe(200);
        expect(byName.body, `${route} ${name}`).toEqual(byId.body);
      }
    }
  });

  it('refuse a name no server answers to with 404, not an empty list', async () => {
    for (const route of ['results', 'events']) {
      for (const name of ['exch11g', 'exch10g.other.example']) {
        const r = await get(stack, `${route}?server=${name}`);
        expect(r.status, `${route} ${name}`).toBe(404);
        expect(r.body).toEqual({ error: 'not_found', message: `No server "${name}" is known: no server has that id (its FQDN, lower case) or a host name that begins one.` });
      }
    }
  });

  it('refuse a host name two servers share, naming both ids', async () => {
    for (const route of ['results', 'events']) {
      const r = await get(stack, `${route}?server=MBX1`);
      expect(r.status).toBe(404);
      expect(r.body.message).toBe(`No server "mbx1" is known; did you mean ${MBX_CORP} or ${MBX_LAB}? Use the server id (its FQDN).`);
      expect((await get(stack, `${route}?server=${MBX_LAB}`)).body.items.every((i: Json) => i.server === MBX_LAB)).toBe(true);
    }
  });

  it('check every other parameter before the name is looked up', async () => {
    const r = await get(stack, 'results?server=nobody&status=Broken');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_query');
  });
});

describe('a waiver for one server', () => {
  it('named by host name is stored under the id and covers that server’s result', async () => {
    const put = await admin('waivers/exch10g-relay', 'PUT', waiver('EXCH10G'));
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect(put.body.server).toBe(EXCH10G);
    const result = (await get(stack, `results?server=${EXCH10G}`)).body.items.find((i: Json) => i.ruleId === RULE);
    expect(result).toMatchObject({ status: 'Warning', waived: true, waiverId: 'exch10g-relay' });
    const summary = await get(stack, 'summary');
    expect(summary.body.rules.find((r: Json) => r.ruleId === RULE).waived.Warning).toBe(1);
    expect((await admin('waivers/exch10g-relay', 'DELETE')).status).toBe(200);
  });

  it('named by a bare name that fits no server, or several, is refused and nothing is stored', async () => {
    const unknown = await admin('waivers/typo', 'PUT', waiver('exch11g'));
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ error: 'invalid_waiver', message: 'No server "exch11g" is known: no server has that id (its FQDN, lower case) or a host name that begins one.' });
    const shared = await admin('waivers/shared', 'PUT', waiver('mbx1'));
    expect(shared.status).toBe(400);
    expect(shared.body.message).toContain(`did you mean ${MBX_CORP} or ${MBX_LAB}?`);
    expect((await admin('waivers/typo', 'GET')).status).toBe(404);
    expect((await admin('waivers/shared', 'GET')).status).toBe(404);
  });

  it('may name by its id (its FQDN) a server that has not posted yet', async () => {
    const put = await admin('waivers/new-build', 'PUT', waiver('exch20.corp.contoso.com'));
    expect(put.status).toBe(201);
    expect(put.body.server).toBe('exch20.corp.contoso.com');
    expect((await admin('waivers/new-build', 'DELETE')).status).toBe(200);
  });
});

describe('a baseline', () => {
  it('named by host name is set on the id; a name that fits no server says so', async () => {
    const set = await admin(`baselines/${RULE}`, 'PUT', { server: 'EXCH10G', setBy: 'alice' });
    expect(set.status, JSON.stringify(set.body)).toBe(201);
    expect(set.body.server).toBe(EXCH10G);
    const unknown = await admin(`baselines/${RULE}`, 'PUT', { server: 'exch11g', setBy: 'alice' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_baseline');
    expect(unknown.body.message).toMatch(/^No server "exch11g" is known/);
    expect((await admin(`baselines/${RULE}`, 'GET')).body.server).toBe(EXCH10G);
  });
});
