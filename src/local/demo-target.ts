// Where `npm run demo` posts: the host named on the command line (--url, --port, a URL argument or
// POSTURE_URL), else the default local host, and only ever a fleet-posture host. A program that
// merely answers on the port is not one: the demo asks the health route, which needs no key and
// names the service, before it sends anything.

import { messageOf } from '../app/errors';
import { ROUTE_BASE } from '../app/route-prefix';
import { routeUrl } from '../app/routes';

export const DEMO_USAGE = `Usage: npm run demo -- [--url URL | --port N] [--enrolment-secret S] [--reader-key K]

Posts every test fixture as one server each (a small fleet) and prints the summary table.
  --url URL      a running fleet-posture host, e.g. http://localhost:7072 (also: POSTURE_URL)
  --port N       the same as --url http://localhost:N
  --enrolment-secret S, --reader-key K
                 the host's keys (default: local.settings.json, else the development keys)
Without --url or --port it posts to http://localhost:7071 when a fleet-posture host runs there,
else to a throwaway host (Azurite in memory) it starts and stops itself.`;

export interface DemoArgs {
  /** The host's base URL without its route prefix (/api), when one was named. */
  readonly url?: string;
  readonly enrolmentSecret?: string;
  readonly readerKey?: string;
  readonly help?: boolean;
}

export const DEFAULT_DEMO_URL = 'http://localhost:7071';

export class DemoUsageError extends Error {}

/** A base URL without a trailing slash or the route prefix (/api): both spellings people copy work. */
function baseOf(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DemoUsageError(`--url needs an http:// or https:// URL, not ${JSON.stringify(text)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DemoUsageError(`--url needs an http:// or https:// URL, not ${JSON.stringify(text)}.`);
  const path = url.pathname.replace(/\/+$/, '');
  return url.origin + (path.toLowerCase().endsWith(ROUTE_BASE) ? path.slice(0, -ROUTE_BASE.length) : path);
}

export function parseDemoArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): DemoArgs {
  let url: string | undefined;
  let enrolmentSecret: string | undefined;
  let readerKey: string | undefined;
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new DemoUsageError(`${name} needs a value.`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { help: true };
    if (a === '--url') url = baseOf(value(i++, '--url'));
    else if (a === '--port') {
      const port = Number(value(i++, '--port'));
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DemoUsageError(`--port needs a port number (1-65535), not ${JSON.stringify(argv[i])}.`);
      url = `http://localhost:${port}`;
    } else if (a === '--enrolment-secret') enrolmentSecret = value(i++, '--enrolment-secret');
    else if (a === '--reader-key') readerKey = value(i++, '--reader-key');
    else if (!a.startsWith('-') && url === undefined) url = baseOf(a);
    else throw new DemoUsageError(`Unknown option ${a}.`);
  }
  if (url === undefined && env.POSTURE_URL) url = baseOf(env.POSTURE_URL);
  return { ...(url ? { url } : {}), ...(enrolmentSecret ? { enrolmentSecret } : {}), ...(readerKey ? { readerKey } : {}) };
}

export type Probe =
  | { readonly kind: 'fleet-posture'; readonly version: string }
  | { readonly kind: 'other'; readonly detail: string }
  | { readonly kind: 'none'; readonly detail: string };

/** What answers at `base`: a fleet-posture host, another program, or nothing. */
export async function probeHost(base: string, timeoutMs = 1500): Promise<Probe> {
  let res: Response;
  try {
    res = await fetch(routeUrl(`${base}${ROUTE_BASE}`, 'getHealth'), { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { kind: 'none', detail: cause ?? messageOf(error) };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 200) {
    try {
      const body = JSON.parse(text) as { service?: unknown; version?: unknown };
      if (body.service === 'fleet-posture') return { kind: 'fleet-posture', version: typeof body.version === 'string' ? body.version : '' };
    } catch {
      // not JSON: some other program
    }
  }
  return { kind: 'other', detail: `GET ${routeUrl(ROUTE_BASE, 'getHealth')} answered ${res.status}${res.headers.get('server') ? ` (server: ${res.headers.get('server')})` : ''}` };
}

export type DemoPlan = { readonly post: string; readonly note: string } | { readonly startOwnHost: true; readonly note: string } | { readonly refuse: string };

/** What the demo does, given where it was told to post (if anywhere) and what answers there. */
export function planDemo(named: string | undefined, probe: Probe, probed: string): DemoPlan {
  if (probe.kind === 'fleet-posture') return { post: probed, note: `Posting to the fleet-posture host at ${probed}.` };
  if (named !== undefined) {
    return {
      refuse:
        probe.kind === 'none'
          ? `No host answers at ${probed} (${probe.detail}); start one with "npm start -- --port ${new URL(probed).port || 80}", or leave out --url/--port for a throwaway host. Nothing was posted.`
          : `${probed} is not a fleet-posture host (${probe.detail}); nothing was posted to it.`,
    };
  }
  return {
    startOwnHost: true,
    note:
      probe.kind === 'none'
        ? `No host at ${probed}; starting Azurite and a throwaway local host for this demo (in memory).`
        : `${probed} is not a fleet-posture host (${probe.detail}), so nothing goes there; starting Azurite and a throwaway local host for this demo (in memory).`,
  };
}
