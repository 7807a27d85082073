// The path the Functions host serves every HTTP route below: host.json's
// extensions.http.routePrefix. The local host serves the same paths; a test holds the two equal.
export const ROUTE_PREFIX = 'api';

/** The root-relative base of every route (`/api`), for routeUrl and the hosts. */
export const ROUTE_BASE = `/${ROUTE_PREFIX}`;

/** The root-relative URL the service answers a path below its route prefix at. */
export function servedUrl(pathBelowPrefix: string): string {
  return `${ROUTE_BASE}/${pathBelowPrefix}`;
}
