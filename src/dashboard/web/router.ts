// Views live in the fragment (#/findings?rule=…), so the page is one document at …/dashboard,
// links can be bookmarked, and the back button works. The key is never part of a route.

export type ViewName = 'fleet' | 'findings' | 'server' | 'changes' | 'drift';

export interface Route {
  readonly view: ViewName;
  /** The server id of #/server/<id>. */
  readonly arg: string;
  readonly params: URLSearchParams;
}

const VIEWS: readonly ViewName[] = ['fleet', 'findings', 'server', 'changes', 'drift'];

export function parseRoute(hash: string): Route {
  const m = /^#\/([a-z]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(hash);
  const view = VIEWS.find((v) => v === m?.[1]) ?? 'fleet';
  let arg = '';
  try {
    arg = decodeURIComponent(m?.[2] ?? '');
  } catch {
    arg = '';
  }
  return { view, arg, params: new URLSearchParams(m?.[3] ?? '') };
}

/** The fragment of a view; empty parameters are left out. */
export function href(view: ViewName, params: Readonly<Record<string, string | undefined>> = {}, arg?: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const qs = q.toString();
  return `#/${view}${arg !== undefined ? `/${encodeURIComponent(arg)}` : ''}${qs ? `?${qs}` : ''}`;
}

export const serverHref = (server: string): string => href('server', {}, server);
