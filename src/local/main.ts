// `npm start`: Azurite's table service plus the local host on http://localhost:7071, every route of the route table.
// Ctrl-C stops both: the requests and timer jobs in progress finish first, then Azurite stops.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { messageOf } from '../app/errors';
import { TIMERS } from '../app/timers';
import { ROUTE_BASE } from '../app/route-prefix';
import { ROUTES, routeUrl, type RouteAccess } from '../app/routes';
import { startAzurite, freePort, type AzuriteHandle } from './azurite';
import { probeHost } from './demo-target';
import { createLocalApp } from './local-app';
import { startLocalHost } from './host';
import { startJobTimers } from './job-timers';
import { bannerKey, exportNote } from './banner-keys';
import { localSettings } from './settings-file';

const USAGE = `Usage: npm start -- [--port N] [--storage-port N] [--persist [DIR]]

  --port N          HTTP port of the API (default 7071, or PORT)
  --storage-port N  Azurite table port (default 10002, or a free one when taken)
  --persist [DIR]   keep data on disk in DIR (default .azurite/) instead of in memory`;

interface Args {
  port: number;
  storagePort?: number;
  persist?: string;
}

/** A wrong command line: said in one sentence with the usage, not as a crash with a stack. */
class StartUsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = { port: Number(process.env.PORT) || 7071 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name: string) => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new StartUsageError(`${name} needs a port number.`);
      if (!/^[0-9]{1,5}$/.test(v) || Number(v) > 65535) throw new StartUsageError(`${name} needs a port number (0-65535), not ${JSON.stringify(v)}.`);
      return Number(v);
    };
    if (a === '--port') args.port = num('--port');
    else if (a === '--storage-port') args.storagePort = num('--storage-port');
    else if (a === '--persist') args.persist = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i] : '.azurite';
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new StartUsageError(`Unknown option ${a}.`);
  }
  return args;
}

/** The first fixture file, to make the printed curl line work as is. */
export function findFixtures(root = 'test/fixtures'): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) out.push(p);
    }
  };
  walk(root);
  return out;
}

/**
 * The snapshot the banner's curl lines post: a transport server with VirusScan 8.8 at its defaults,
 * so a newcomer's first result is a Warning with what to do (any fixture when that one is missing).
 */
export const SAMPLE_FIXTURE = 'test/fixtures/port25/vse88-x64-transport-not-excluded.json';

export function sampleFixture(): string | undefined {
  return existsSync(SAMPLE_FIXTURE) ? SAMPLE_FIXTURE : findFixtures()[0];
}

/** The host facts of a fixture (what its collector would enrol with). */
function fixtureHost(file: string | undefined): { name: string; fqdn?: string } {
  try {
    const host = (JSON.parse(readFileSync(file ?? '', 'utf8')) as { host?: { name?: unknown; fqdn?: unknown } }).host;
    if (typeof host?.name === 'string') return { name: host.name, ...(typeof host.fqdn === 'string' ? { fqdn: host.fqdn } : {}) };
  } catch {
    // no fixture: the placeholder below
  }
  return { name: 'EXCH01', fqdn: 'exch01.corp.contoso.com' };
}

/**
 * The dashboard with the reader key in the fragment, which never reaches the server: the page
 * moves it to the tab's session storage and clears it from the address bar.
 */
export function dashboardUrl(apiBase: string, readerKey: string | undefined): string {
  return `${routeUrl(apiBase, 'getDashboard')}${readerKey ? `#key=${encodeURIComponent(readerKey)}` : ''}`;
}

/**
 * The banner's enrolment line, for bash. It keeps the server key in KEY; when there is none (a
 * refused secret, a host that is not running) it prints the service's own sentence, or curl's,
 * and ends non-zero with KEY empty: a KEY of "undefined" made the next post fail with only "the
 * key is not valid", far from the cause. The post line refuses an empty KEY for the same reason.
 */
export function enrolLine(url: string, keyHeader: string, body: string): string {
  const keyOrMessage =
    'const t=require("fs").readFileSync(0,"utf8");let a={};try{a=JSON.parse(t)}catch{}' +
    'if(a.key)console.log(a.key);else{console.error(a.message||t||"No answer from the host: is npm start running?");process.exit(1)}';
  return `KEY=$(curl -sS -X POST ${url} -H ${keyHeader} -H 'Content-Type: application/json' -d '${body}' | node -e '${keyOrMessage}')`;
}

const WHO: Readonly<Record<RouteAccess, string>> = {
  enrol: 'enrolment secret',
  ingest: "that server's key",
  collector: 'server, reader or admin key',
  read: 'reader key',
  admin: 'admin key',
  public: 'no key',
};

/** One line per route of the route table: methods, URL and the key it needs. */
function apiLines(base: string): string {
  return ROUTES.map((r) => `    ${r.methods.join('|').padEnd(14)} ${base}/${r.route}`.padEnd(70) + `  (${WHO[r.access]})`).join('\n');
}

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof StartUsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const storagePort = args.storagePort ?? ((await portIsFree(10002)) ? 10002 : await freePort());
  if (args.persist) mkdirSync(args.persist, { recursive: true });
  // The host and the timers, stopped together; Azurite after them, as their work needs it.
  const stopFirst: (() => Promise<void>)[] = [];
  let azurite: AzuriteHandle | undefined = undefined;
  let stopping = false;
  // `quiet`: a failed start has nothing in progress to let finish, so it says nothing more.
  const shutdown = async (code: number, quiet = false) => {
    if (stopping) {
      // A second Ctrl-C: stop now, without waiting for the work in progress.
      await azurite?.stop();
      process.exit(1);
    }
    stopping = true;
    if (!quiet) console.log('\nStopping: letting the requests and jobs in progress finish (Ctrl-C again stops at once)…');
    await Promise.all(stopFirst.map((stop) => stop().catch(() => undefined)));
    await azurite?.stop();
    // An Azurite still starting is killed on the way out (its own process group: no signal reaches it).
    process.exit(code);
  };
  // Before Azurite starts: a signal that killed this process outright would leave it running.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
  azurite = await startAzurite({ port: storagePort, location: args.persist, ownProcessGroup: true });

  try {
    const { settings, keySource, keyOrigins } = localSettings(azurite.connectionString);
    const app = createLocalApp({ settings });
    await app.store.ensureTables();
    const host = await startLocalHost({ app, port: args.port, hostname: '127.0.0.1' });
    stopFirst.push(() => host.close());
    // The timers of Azure, on a short local interval (the run-a-job route runs one now).
    const timers = startJobTimers(
      TIMERS.map((t) => t.job),
      (job) => app.jobs.run(job, console, 30_000),
      60_000,
      (job, error) => console.warn(`${job}: ${messageOf(error)}`),
    );
    stopFirst.push(() => timers.stop());
    const base = `http://localhost:${host.port}${ROUTE_BASE}`;
    const fixture = sampleFixture();
    const enrolment = bannerKey(settings.enrolmentSecrets[0], 'POSTURE_ENROLMENT_SECRETS', keyOrigins.POSTURE_ENROLMENT_SECRETS, 'ENROLMENT_SECRET');
    const reader = bannerKey(settings.readerKeys[0], 'POSTURE_READER_KEYS', keyOrigins.POSTURE_READER_KEYS, 'READER_KEY');
    const admin = bannerKey(settings.adminKeys[0], 'POSTURE_ADMIN_KEYS', keyOrigins.POSTURE_ADMIN_KEYS, 'ADMIN_KEY');
    // A masked reader key stays out of the dashboard address too: the page asks for it instead.
    const dashboard = dashboardUrl(base, reader.variable ? undefined : settings.readerKeys[0]);
    const note = exportNote([enrolment, reader]);
    const enrolBody = JSON.stringify({ host: fixtureHost(fixture) });
    const body = fixture
      ? `--data-binary @${fixture.split(path.sep).join('/')}`
      : `--data-binary @<snapshot.json>`;
    console.log(`fleet-posture local host
  Table Storage: Azurite on 127.0.0.1:${azurite.port} (${args.persist ? `persisted in ${args.persist}/` : 'in memory; --persist keeps data'})
  Dashboard:     ${dashboard}
  API:           ${base}/
${apiLines(base)}
  Keys (${keySource}): enrolment=${enrolment.shown} reader=${reader.shown} admin=${admin.shown}

Try:${note ? `\n  ${note}` : ''}
  ${enrolLine(routeUrl(base, 'enroll'), enrolment.header, enrolBody)}
  curl -s -X POST ${routeUrl(base, 'postSnapshot')} -H "x-api-key: \${KEY:?the enrolment line above gave no key}" -H 'Content-Type: application/json' ${body}
    # → a Warning (SmtpNotExcluded), what to do, and the guide: ${routeUrl(base, 'getDashboard', { asset: 'guide-mcafee-port25-blocked.html' })}#smtpnotexcluded
  curl -s ${routeUrl(base, 'getSummary')} -H ${reader.header}
    # "countsPending":true for a second after a post: its counts are still being added; ask again
  npm run demo${host.port === 7071 ? '' : ` -- --port ${host.port}`}     # posts every test fixture to this host as a small fleet and prints the summary

Ctrl-C stops the host and Azurite.`);
  } catch (error) {
    console.error(await startFailure(error, args.port));
    await shutdown(1, true);
  }
}

/**
 * Why the host did not start, in one sentence. A port held by a fleet-posture host (asked at its
 * health route) is told as that, with where to find it: a second "npm start" is the usual cause.
 */
async function startFailure(error: unknown, port: number): Promise<string> {
  const message = messageOf(error);
  if ((error as { cause?: { code?: string } }).cause?.code !== 'EADDRINUSE') return message;
  const probe = await probeHost(`http://127.0.0.1:${port}`);
  if (probe.kind !== 'fleet-posture') return message;
  const next = port === 7071 ? 7072 : port + 1;
  return `Port ${port} on 127.0.0.1 already serves a fleet-posture host${probe.version ? ` (version ${probe.version})` : ''}, most likely a second "npm start": use that one (its dashboard is ${routeUrl(`http://localhost:${port}${ROUTE_BASE}`, 'getDashboard')}), or start another on a free port: npm start -- --port ${next}.`;
}

if (require.main === module) void main();
