// The route table without a host: each route hands its call to the one use case named for it, its
// names are ones Azure accepts for functions, and a route's URL is built with its parameters
// encoded. The service tests call every route over HTTP on both hosts; docs/api.md's table is held
// equal to this one by the docs tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PostureApp } from '../../src/app/create-app';
import { json, type ApiRequest, type RouteCall } from '../../src/app/http-io';
import { fillRoute, ROUTES, routeNamed, routeUrl } from '../../src/app/routes';
import { RULES, ruleSetVersion } from '../../src/rules/registry';
import { apiRequest, jsonOf } from '../support/api-request';

const PACKAGE_VERSION = (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Which use case of the app each route calls ("group.method"); health, the dashboard and the CSV export call none of these. */
const DELEGATES: Readonly<Record<string, string>> = {
  enroll: 'http.enroll',
  postSnapshot: 'http.postSnapshot',
  getManifest: 'http.getManifest',
  getRules: 'http.getRules',
  getResults: 'http.getResults',
  getServer: 'http.getServer',
  getSummary: 'http.getSummary',
  getEvents: 'http.getEvents',
  listServers: 'lifecycleHttp.listServers',
  getHistory: 'lifecycleHttp.history',
  getDrift: 'driftHttp.fleet',
  getServerDrift: 'driftHttp.server',
  waivers: 'lifecycleHttp.waivers',
  baselines: 'driftHttp.baselines',
  getJob: 'lifecycleHttp.getJob',
  runJob: 'lifecycleHttp.runJob',
  removeServer: 'http.removeServer',
  revokeServerKey: 'http.revokeServerKey',
  rotateServerKey: 'http.rotateServerKey',
  listRefusedServers: 'keysHttp.refusedServers',
  listEnrolments: 'keysHttp.enrolments',
  decideEnrolment: 'keysHttp.decide',
};

/** An app whose every use case answers which it was, and with which call. */
function recordingApp(): { app: PostureApp; calls: { use: string; call: RouteCall }[] } {
  const calls: { use: string; call: RouteCall }[] = [];
  const group = (name: string) =>
    new Proxy(
      {},
      {
        get: (_target, method) => async (call: RouteCall) => {
          calls.push({ use: `${name}.${String(method)}`, call });
          return json(200, { use: `${name}.${String(method)}` });
        },
      },
    );
  const app = { rules: RULES, http: group('http'), lifecycleHttp: group('lifecycleHttp'), driftHttp: group('driftHttp'), keysHttp: group('keysHttp') } as unknown as PostureApp;
  return { app, calls };
}

const request = (url: string, params: Record<string, string> = {}): ApiRequest => apiRequest({ url, params });

describe('the route table', () => {
  it('hands each route\'s call, as it came, to the use case named for it, and answers what it answers', async () => {
    const { app, calls } = recordingApp();
    for (const route of ROUTES.filter((r) => DELEGATES[r.name] !== undefined)) {
      const call: RouteCall = { req: request(`http://localhost/api/${route.route}`), log: console as never, lang: 'en' };
      const answer = await route.handler(app, call);
      expect(jsonOf(answer), route.name).toEqual({ use: DELEGATES[route.name] });
      expect(calls.at(-1)?.call).toBe(call);
    }
    expect(calls.map((c) => c.use).sort()).toEqual(Object.values(DELEGATES).sort());
  });

  it('answers health from the app\'s rules alone, serves the dashboard\'s files and streams the CSV export, calling none of those use cases', async () => {
    const { app, calls } = recordingApp();
    const health = await routeNamed('getHealth').handler(app, { req: request('http://localhost/api/health'), log: console as never, lang: 'en' });
    expect(health.status).toBe(200);
    // The version a tool sees is the package's: a release that bumps one bumps the other.
    expect(jsonOf(health)).toStrictEqual({ service: 'fleet-posture', version: PACKAGE_VERSION, ruleSetVersion: ruleSetVersion(RULES) });
    const missing = await routeNamed('getDashboard').handler(app, { req: request('http://localhost/api/dashboard/nope.js', { asset: 'nope.js' }), log: console as never, lang: 'en' });
    expect([missing.status, missing.body]).toEqual([404, 'The dashboard has no file "nope.js".']);
    // The CSV export is its own use case: its refusal of a parameter the results list does not take shows the call reached it.
    const req = apiRequest({ url: 'http://localhost/api/export/results.csv', query: 'top=5' });
    await expect(routeNamed('exportResultsCsv').handler(app, { req, log: console as never, lang: 'en' })).rejects.toThrow('Unknown query parameter "top"; this route accepts "evidence", "server", "rule", "status", "waived", "since".');
    expect(calls).toEqual([]);
  });

  it('names every route once, as Azure names functions, and gives each its access and methods', () => {
    const names = ROUTES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of ROUTES) {
      expect(r.name, r.route).toMatch(/^[a-z][A-Za-z]{2,}$/);
      expect(['public', 'enrol', 'ingest', 'collector', 'read', 'admin'], r.name).toContain(r.access);
      expect(r.methods.length, r.name).toBeGreaterThan(0);
      // HEAD wherever GET: probes and curl -I send it.
      expect(r.methods.includes('HEAD'), r.name).toBe(r.methods.includes('GET'));
    }
    expect(ROUTES.filter((r) => r.access === 'public').map((r) => r.name)).toEqual(['getHealth', 'getDashboard']);
    expect(Object.keys(DELEGATES).length + 3).toBe(ROUTES.length);
  });
});

describe('fillRoute', () => {
  it('fills only segments that are wholly a parameter, keeping any other as written', () => {
    expect(fillRoute('a/{x}/b{y}/{z}c/{w?}', { x: '1', y: '2', z: '3' }, 'r')).toBe('a/1/b{y}/{z}c');
    expect(fillRoute('{x?}/{y}', { x: 'é', y: '#' }, 'r')).toBe('%C3%A9/%23');
    expect(() => fillRoute('a/{x}', {}, 'someRoute')).toThrow('The route someRoute needs {x}.');
  });
});

describe('routeUrl / routeNamed', () => {
  it('fills in a route\'s parameters, encoded, below the base', () => {
    expect(routeUrl('https://x.example/api', 'getSummary')).toBe('https://x.example/api/summary');
    expect(routeUrl('/api', 'decideEnrolment', { server: 'ex 01', request: 'r/1', decision: 'approve' })).toBe('/api/servers/ex%2001/enrolments/r%2F1/approve');
  });

  it('leaves out an optional parameter not given, and keeps one given', () => {
    expect(routeUrl('/api', 'waivers')).toBe('/api/waivers');
    expect(routeUrl('/api', 'waivers', { id: 'w?1' })).toBe('/api/waivers/w%3F1');
    expect(routeUrl('/api', 'getDashboard', { asset: 'app.js' })).toBe('/api/dashboard/app.js');
  });

  it('refuses a missing parameter and an unknown route as the programming errors they are', () => {
    expect(() => routeUrl('/api', 'getServer')).toThrow('The route getServer needs {server}.');
    expect(() => routeUrl('/api', 'decideEnrolment', { server: 's' })).toThrow('The route decideEnrolment needs {request}.');
    expect(() => routeNamed('getNothing')).toThrow('No route is named getNothing.');
    expect(routeNamed('getHistory').route).toBe('servers/{server}/history');
  });
});
