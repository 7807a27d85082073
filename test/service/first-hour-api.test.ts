// The API as a newcomer first uses it, end to end over HTTP: a server by the host name people know
// (or a 404 that names the id to use), a paged list of every server with its host facts, results
// filtered by waiver, events that tell status changes from waiver records, a Stale filter on
// events, and a key-free health check that names the service.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, getAll, post, type Json } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';

const MIN = 60_000;
const T0 = Date.parse('2026-11-28T00:00:00.000Z');
let now = T0;
let stack: TestStack;

const postAt = (host: string, options: { fqdn?: string | null; testState?: string } = {}) =>
  post(stack, snapshot({ host, ...options, collectedAt: now - MIN }));

beforeAll(async () => {
  stack = await startTestStack({ rules: TEST_RULES, clock: () => now });
  // EXCH19 twice, in two domains; EXCH07 once; LAB01 without an fqdn (its id is its name).
  for (const [host, fqdn, testState] of [
    ['EXCH19', 'exch19.corp.contoso.com', 'Warning'],
    ['EXCH19', 'exch19.lab.contoso.com', 'Pass'],
    ['EXCH07', 'exch07.corp.contoso.com', 'Warning'],
    ['LAB01', null, 'Error'],
  ] as const) {
    const r = await postAt(host, { fqdn, testState });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
});
afterAll(async () => stack?.stop());

describe('a server by the name people know', () => {
  it('answers the host name (any case) with the one server whose FQDN it begins', async () => {
    for (const name of ['EXCH07', 'exch07', 'Exch07']) {
      const r = await get(stack, `servers/${name}`);
      expect(r.status, name).toBe(200);
      expect(r.body.server).toBe('exch07.corp.contoso.com');
      expect(r.body.results.map((x: Json) => x.ruleId).sort()).toEqual(['test-alpha', 'test-beta']);
    }
    const history = await get(stack, 'servers/EXCH07/history');
    expect(history.status).toBe(200);
    expect(history.body.server).toBe('exch07.corp.contoso.com');
    expect(history.body.items.length).toBeGreaterThan(0);
    for (const item of history.body.items) expect(item.server).toBe('exch07.corp.contoso.com');
  });

  it('still answers the id, and a server without an FQDN by its name', async () => {
    expect((await get(stack, 'servers/exch19.lab.contoso.com')).body.server).toBe('exch19.lab.contoso.com');
    expect((await get(stack, 'servers/LAB01')).body.server).toBe('lab01');
  });

  it('names the candidates when a host name is ambiguous, and the ids to use', async () => {
    for (const path of ['servers/EXCH19', 'servers/EXCH19/history']) {
      const r = await get(stack, path);
      expect(r.status, path).toBe(404);
      expect(r.body.error).toBe('not_found');
      expect(r.body.message).toBe('No server "exch19" is known; did you mean exch19.corp.contoso.com or exch19.lab.contoso.com? Use the server id (its FQDN).');
    }
  });

  it('says plainly when nothing matches', async () => {
    const r = await get(stack, 'servers/EXCH99');
    expect(r.status).toBe(404);
    expect(r.body.message).toBe('No server "exch99" is known: no server has that id (its FQDN, lower case) or a host name that begins one.');
    // A prefix of a host name is not the host name.
    expect((await get(stack, 'servers/EXCH')).status).toBe(404);
  });
});

describe('GET /api/servers: every server, paged, with its host facts', () => {
  it('lists each server once with its facts, page by page', async () => {
    const all = await getAll(stack, 'servers?top=2');
    expect(all.pages).toBeGreaterThanOrEqual(2);
    expect(all.items.map((i: Json) => i.server).sort()).toEqual(['exch07.corp.contoso.com', 'exch19.corp.contoso.com', 'exch19.lab.contoso.com', 'lab01']);
    const exch07 = all.items.find((i: Json) => i.server === 'exch07.corp.contoso.com');
    expect(exch07).toEqual({
      server: 'exch07.corp.contoso.com',
      hostName: 'EXCH07',
      fqdn: 'exch07.corp.contoso.com',
      osCaption: 'Microsoft Windows Server 2003 R2 Enterprise Edition',
      osVersion: '5.2.3790',
      osArchitecture: '32-bit',
      utcOffsetMinutes: 540,
      collectorName: 'Send-PostureSnapshot',
      collectorVersion: '1.0.0',
      manifestVersion: null,
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0).toISOString(),
      lastSnapshotId: expect.any(String),
      lastCollectedAt: new Date(T0 - MIN).toISOString(),
      stale: false,
      staleSince: null,
    });
    expect(all.items.find((i: Json) => i.server === 'lab01')).toMatchObject({ hostName: 'LAB01', fqdn: null });
  });

  it('refuses a bad page size or stale value', async () => {
    expect((await get(stack, 'servers?top=0')).status).toBe(400);
    expect((await get(stack, 'servers?stale=maybe')).status).toBe(400);
    expect((await get(stack, 'servers?bogus=1')).status).toBe(400);
  });
});

describe('results filtered by waiver', () => {
  beforeAll(async () => {
    const r = await stack.request('waivers/exch07-alpha', {
      method: 'PUT',
      key: 'admin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rule: 'test-alpha',
        server: 'exch07.corp.contoso.com',
        justification: 'Decommissioned next quarter.',
        grantedBy: 'it-ops',
        expiresAt: new Date(now + 30 * 24 * 60 * MIN).toISOString(),
      }),
    });
    expect(r.status).toBe(201);
  });

  it('waived=true lists only results under an active waiver, waived=false the others', async () => {
    const waived = await getAll(stack, 'results?waived=true');
    expect(waived.items.map((i: Json) => `${i.server} ${i.ruleId}`)).toEqual(['exch07.corp.contoso.com test-alpha']);
    expect(waived.items[0]).toMatchObject({ waived: true, waiverId: 'exch07-alpha', status: 'Warning' });
    const open = await getAll(stack, 'results?waived=false&status=Warning,Error');
    expect(open.items.map((i: Json) => `${i.server} ${i.status}`).sort()).toEqual(['exch19.corp.contoso.com Warning', 'lab01 Error']);
    for (const i of open.items) expect(i.waived).toBe(false);
    const everything = await getAll(stack, 'results');
    expect(everything.items).toHaveLength(8);
  });

  it('refuses a waived value other than true or false', async () => {
    const r = await get(stack, 'results?waived=maybe');
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('The query parameter "waived" must be true or false, not "maybe".');
  });
});

describe('events: status changes and waiver records told apart', () => {
  it('gives every event a kind; waiver records carry no status', async () => {
    const all = await getAll(stack, 'events');
    const waiverRecords = all.items.filter((e: Json) => e.kind === 'waiver');
    expect(waiverRecords).toHaveLength(1);
    expect(waiverRecords[0]).toMatchObject({ kind: 'waiver', cause: 'waiver-created', waiverId: 'exch07-alpha', fromStatus: null, toStatus: null, severity: null });
    // Fields an audit record does not have are null, not empty strings.
    expect(waiverRecords[0]).toMatchObject({ ruleVersion: null, reasonCode: null });
    const changes = all.items.filter((e: Json) => e.kind === 'status');
    expect(changes.length + waiverRecords.length).toBe(all.items.length);
    for (const e of changes) {
      expect(e.toStatus).toEqual(expect.any(String));
      expect(e.waiverId).toBeNull();
    }
  });

  it('kind=status leaves the waiver records out; kind=waiver keeps only them', async () => {
    const status = await getAll(stack, 'events?kind=status');
    expect(status.items.length).toBeGreaterThan(0);
    for (const e of status.items) expect(e.kind).toBe('status');
    const waivers = await getAll(stack, 'events?kind=waiver');
    expect(waivers.items.map((e: Json) => e.cause)).toEqual(['waiver-created']);
    expect((await get(stack, 'events?kind=other')).status).toBe(400);
  });

  it('accepts status=Stale and finds the server that stopped posting', async () => {
    now = T0 + 4 * 60 * MIN;
    for (const host of ['EXCH19', 'EXCH07', 'LAB01']) {
      const fqdn = host === 'LAB01' ? null : `${host.toLowerCase()}.corp.contoso.com`;
      expect((await postAt(host, { fqdn, testState: 'Pass' })).status).toBe(201);
    }
    const job = await stack.request('jobs/stale-hosts/run', { method: 'POST', key: 'admin' });
    expect(job.status).toBe(200);
    const stale = await get(stack, 'events?status=Stale');
    expect(stale.status).toBe(200);
    expect(stale.body.items.map((e: Json) => e.server)).toEqual(['exch19.lab.contoso.com']);
    expect(stale.body.items[0]).toMatchObject({ kind: 'status', cause: 'stale', toStatus: 'Stale', ruleId: null });
    const list = await getAll(stack, 'servers');
    expect(list.items.find((i: Json) => i.server === 'exch19.lab.contoso.com')).toMatchObject({ stale: true, staleSince: expect.any(String) });
    expect(list.items.find((i: Json) => i.server === 'exch07.corp.contoso.com')).toMatchObject({ stale: false, staleSince: null });
  });
});

describe('GET /api/health', () => {
  it('names the service without a key and touches no storage', async () => {
    stack.roundTrips.reset();
    const r = await stack.request('health', { key: null });
    expect(r.status).toBe(200);
    const body = (await r.json()) as Json;
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(body).toEqual({ service: 'fleet-posture', version: pkg.version, ruleSetVersion: expect.stringMatching(/^sha256:/) });
    expect(stack.roundTrips.count).toBe(0);
  });
});

describe('HEAD on the key-free routes', () => {
  it('the health check and the dashboard answer HEAD like GET, without a body; other methods are refused with both named', async () => {
    for (const route of ['health', 'dashboard']) {
      const got = await stack.request(route, { key: null });
      expect(Number(got.headers.get('content-length')), route).toBeGreaterThan(0);
      const head = await stack.request(route, { key: null, method: 'HEAD' });
      expect(head.status, route).toBe(got.status);
      expect(head.headers.get('content-type'), route).toBe(got.headers.get('content-type'));
      // The length and encoding GET would send (the dashboard gzips for clients that accept it).
      expect(head.headers.get('content-length'), route).toBe(got.headers.get('content-length'));
      expect(head.headers.get('content-encoding'), route).toBe(got.headers.get('content-encoding'));
      expect(head.headers.get('etag'), route).toBe(got.headers.get('etag'));
      expect((await head.arrayBuffer()).byteLength, route).toBe(0);
      const post = await stack.request(route, { key: null, method: 'POST' });
      expect(post.status, route).toBe(405);
      expect(post.headers.get('allow'), route).toBe('GET, HEAD');
    }
  });
});
