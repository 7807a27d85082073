// Every HTTP route of the service, in one table: Azure Functions registers it (src/functions) and
// the local host serves it (src/local), so both answer the same routes with the same handlers.
// Adding a route is one entry here and its handler; `access` is checked before the handler runs.
import { getDashboardFiles } from '../dashboard/serve';
import type { Access } from './auth';
import type { PostureApp } from './create-app';
import { exportResultsCsv } from './export-results';
import { health } from './health';
import type { ApiResponse, RouteCall } from './http-io';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** Who may call a route: a key of the given access, or anyone (the dashboard's static files). */
export type RouteAccess = Access | 'public';

export interface Route {
  /** The function name in Azure (and in the local host's logs). */
  readonly name: string;
  /** HEAD wherever GET: HTTP asks every server to answer it, and probes and `curl -I` send it (serve-route runs GET's handler). */
  readonly methods: readonly HttpMethod[];
  /** Below the route prefix (ROUTE_PREFIX), in the Functions host's syntax: {param} segments, {param?} optional. */
  readonly route: string;
  readonly access: RouteAccess;
  readonly handler: (app: PostureApp, call: RouteCall) => Promise<ApiResponse>;
}

export const ROUTES: readonly Route[] = [
  // Anyone: which service answers here (no storage, no key).
  { name: 'getHealth', methods: ['GET', 'HEAD'], route: 'health', access: 'public', handler: async (app) => health(app) },
  // Collectors
  { name: 'enroll', methods: ['POST'], route: 'enroll', access: 'enrol', handler: (app, c) => app.http.enroll(c) },
  { name: 'postSnapshot', methods: ['POST'], route: 'snapshots', access: 'ingest', handler: (app, c) => app.http.postSnapshot(c) },
  { name: 'getManifest', methods: ['GET', 'HEAD'], route: 'manifest', access: 'collector', handler: (app, c) => app.http.getManifest(c) },
  { name: 'getRules', methods: ['GET', 'HEAD'], route: 'rules', access: 'collector', handler: (app, c) => app.http.getRules(c) },
  // Readers
  { name: 'getResults', methods: ['GET', 'HEAD'], route: 'results', access: 'read', handler: (app, c) => app.http.getResults(c) },
  { name: 'getServer', methods: ['GET', 'HEAD'], route: 'servers/{server}', access: 'read', handler: (app, c) => app.http.getServer(c) },
  { name: 'getSummary', methods: ['GET', 'HEAD'], route: 'summary', access: 'read', handler: (app, c) => app.http.getSummary(c) },
  { name: 'getEvents', methods: ['GET', 'HEAD'], route: 'events', access: 'read', handler: (app, c) => app.http.getEvents(c) },
  { name: 'listServers', methods: ['GET', 'HEAD'], route: 'servers', access: 'read', handler: (app, c) => app.lifecycleHttp.listServers(c) },
  { name: 'getHistory', methods: ['GET', 'HEAD'], route: 'servers/{server}/history', access: 'read', handler: (app, c) => app.lifecycleHttp.history(c) },
  { name: 'exportResultsCsv', methods: ['GET', 'HEAD'], route: 'export/results.csv', access: 'read', handler: (app, c) => exportResultsCsv(app, c) },
  { name: 'getDrift', methods: ['GET', 'HEAD'], route: 'drift', access: 'read', handler: (app, c) => app.driftHttp.fleet(c) },
  { name: 'getServerDrift', methods: ['GET', 'HEAD'], route: 'servers/{server}/drift', access: 'read', handler: (app, c) => app.driftHttp.server(c) },
  // Admins
  { name: 'waivers', methods: ['GET', 'HEAD', 'PUT', 'DELETE'], route: 'waivers/{id?}', access: 'admin', handler: (app, c) => app.lifecycleHttp.waivers(c) },
  { name: 'baselines', methods: ['GET', 'HEAD', 'PUT', 'DELETE'], route: 'baselines/{rule}', access: 'admin', handler: (app, c) => app.driftHttp.baselines(c) },
  { name: 'getJob', methods: ['GET', 'HEAD'], route: 'jobs/{job}', access: 'read', handler: (app, c) => app.lifecycleHttp.getJob(c) },
  { name: 'runJob', methods: ['POST'], route: 'jobs/{job}/run', access: 'admin', handler: (app, c) => app.lifecycleHttp.runJob(c) },
  { name: 'removeServer', methods: ['DELETE'], route: 'servers/{server}', access: 'admin', handler: (app, c) => app.http.removeServer(c) },
  { name: 'revokeServerKey', methods: ['DELETE'], route: 'servers/{server}/key', access: 'admin', handler: (app, c) => app.http.revokeServerKey(c) },
  { name: 'rotateServerKey', methods: ['POST'], route: 'servers/{server}/key/rotate', access: 'admin', handler: (app, c) => app.http.rotateServerKey(c) },
  { name: 'listRefusedServers', methods: ['GET', 'HEAD'], route: 'refused-servers', access: 'admin', handler: (app, c) => app.keysHttp.refusedServers(c) },
  { name: 'listEnrolments', methods: ['GET', 'HEAD'], route: 'enrolments', access: 'admin', handler: (app, c) => app.keysHttp.enrolments(c) },
  {
    name: 'decideEnrolment',
    methods: ['POST'],
    route: 'servers/{server}/enrolments/{request}/{decision}',
    access: 'admin',
    handler: (app, c) => app.keysHttp.decide(c),
  },
  // The dashboard's page and files hold no data; every call the page makes needs a reader key.
  { name: 'getDashboard', methods: ['GET', 'HEAD'], route: 'dashboard/{asset?}', access: 'public', handler: async (_app, c) => getDashboardFiles().serve(c.req) },
];

/**
 * The URL of a route below `apiBase` (…/api: ROUTE_BASE after the origin), its {params} filled in
 * (encoded) and optional ones left out when not given.
 */
export function routeUrl(apiBase: string, name: string, params: Readonly<Record<string, string>> = {}): string {
  return `${apiBase}/${fillRoute(routeNamed(name).route, params, name)}`;
}

/**
 * A route's path (the Functions host's syntax) with its parameters filled in: a segment that is
 * wholly `{param}` or `{param?}` takes the value encoded, an optional one not given is left out,
 * and any other segment is kept as written. `name` says whose route it is in the error.
 */
export function fillRoute(route: string, params: Readonly<Record<string, string>>, name: string): string {
  return route
    .split('/')
    .flatMap((segment) => {
      const m = /^\{(\w+)(\??)\}$/.exec(segment);
      if (!m) return [segment];
      const value = params[m[1]!];
      if (value === undefined && m[2]) return [];
      if (value === undefined) throw new Error(`The route ${name} needs {${m[1]}}.`);
      return [encodeURIComponent(value)];
    })
    .join('/');
}

/** The route of that name (a programming error when there is none). */
export function routeNamed(name: string): Route {
  const route = ROUTES.find((r) => r.name === name);
  if (!route) throw new Error(`No route is named ${name}.`);
  return route;
}
