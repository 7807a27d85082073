// `npm run demo`: posts every test fixture as one server each (a small fleet) to a running
// fleet-posture host (--url, --port, or the one on :7071), or to one it starts itself, then prints
// the summary table.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROUTE_BASE } from '../app/route-prefix';
import { routeUrl } from '../app/routes';
import { startAzurite } from './azurite';
import { DEFAULT_DEMO_URL, DEMO_USAGE, DemoUsageError, parseDemoArgs, planDemo, probeHost, type DemoArgs } from './demo-target';
import { startLocalHost } from './host';
import { createLocalApp } from './local-app';
import { findFixtures } from './main';
import { localSettings } from './settings-file';

interface SummaryBody {
  /** Accepted changes are still waiting to be counted (absent from hosts older than the field). */
  countsPending?: boolean;
  hosts: number;
  statuses: string[];
  rules: { ruleId: string; title: string; counts: Record<string, number> }[];
}

/** How often and how long the demo asks the summary while it says counts are pending. */
const DEMO_POLL_MS = 250;
const DEMO_WAIT_MS = 30_000;

/** A host label from a file name: letters, digits and hyphens, at most 63 characters. */
function labelOf(file: string, i: number): string {
  const base = path.basename(file, '.json').replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `demo${String(i + 1).padStart(2, '0')}-${base}`.slice(0, 63).replace(/-+$/, '');
}

function sampleFleet(): { name: string; doc: Record<string, unknown> }[] {
  return ['EXCH01', 'EXCH02', 'EXCH03'].map((name) => ({
    name,
    doc: {
      schema: 'fleet-posture/snapshot@1',
      snapshotId: randomUUID(),
      collectedAt: new Date().toISOString(),
      collector: { name: 'npm-run-demo', version: '1.0.0' },
      host: { name },
      registry: [],
      services: [{ name: 'SMTPSVC', state: 'Running', started: true }],
      files: [],
    },
  }));
}

/** Enrols a demo server (as its collector's install script would) and returns its server key. */
async function enrol(baseUrl: string, enrolmentSecret: string, host: unknown): Promise<string> {
  const res = await fetch(routeUrl(`${baseUrl}${ROUTE_BASE}`, 'enroll'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': enrolmentSecret },
    body: JSON.stringify({ host }),
  });
  const body = (await res.json()) as { key?: string };
  return body.key ?? '';
}

/** `waitMs`: how long to wait for the summary to count the posts (tests shorten it). */
export async function runDemo(
  baseUrl: string,
  enrolmentSecret: string,
  readerKey: string,
  out: (line: string) => void = console.log,
  { waitMs = DEMO_WAIT_MS }: { waitMs?: number } = {},
): Promise<number> {
  const files = findFixtures();
  const fleet = files.length
    ? files.flatMap((file, i) => {
        try {
          const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
          const name = labelOf(file, i);
          // Each fixture becomes its own server, collected just now.
          const host = { ...(doc.host as Record<string, unknown> | undefined), name, fqdn: undefined };
          return [{ name: file, doc: { ...doc, host, snapshotId: randomUUID(), collectedAt: new Date().toISOString() } }];
        } catch {
          out(`skip ${file}: not JSON`);
          return [];
        }
      })
    : sampleFleet();
  if (!files.length) out('No test/fixtures/**/*.json found; posting three sample servers.');
  let failures = 0;
  for (const { name, doc } of fleet) {
    const res = await fetch(routeUrl(`${baseUrl}${ROUTE_BASE}`, 'postSnapshot'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': await enrol(baseUrl, enrolmentSecret, (doc as { host?: unknown }).host) },
      body: JSON.stringify(doc),
    });
    const body = (await res.json()) as { outcome?: string; results?: { ruleId: string; status: string }[]; error?: string; message?: string };
    if (res.status >= 400) failures++;
    const verdicts = body.results?.map((r) => `${r.ruleId}=${r.status}`).join(' ') ?? `${body.error}: ${body.message}`;
    out(`${String(res.status).padEnd(4)}${name}  ${verdicts}`);
  }
  // The summary's counts come from the projector, a moment after the posts: wait until the summary
  // says nothing accepted is still waiting to be counted (a host without the field: until the
  // counts reach the posts), but not for ever.
  const accepted = fleet.length - failures;
  let summary: SummaryBody;
  for (let waited = 0; ; waited += DEMO_POLL_MS) {
    const res = await fetch(routeUrl(`${baseUrl}${ROUTE_BASE}`, 'getSummary'), { headers: { 'x-api-key': readerKey } });
    summary = (await res.json()) as SummaryBody;
    const counted = Math.max(0, ...summary.rules.map((r) => Object.values(r.counts).reduce((a, b) => a + b, 0)));
    if (!(summary.countsPending ?? counted < accepted)) break;
    if (waited >= waitMs) {
      out(`The summary still says recent changes are being counted after ${waitMs / 1000} s; the table below may miss some of them (read the summary again later).`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, DEMO_POLL_MS));
  }
  out('');
  out(`Summary: ${summary.hosts} hosts`);
  const width = Math.max(4, ...summary.rules.map((r) => r.ruleId.length));
  out(['rule'.padEnd(width), ...summary.statuses.map((s) => s.padStart(13))].join(' '));
  for (const r of summary.rules) out([r.ruleId.padEnd(width), ...summary.statuses.map((s) => String(r.counts[s] ?? 0).padStart(13))].join(' '));
  return failures;
}

/**
 * `npm run demo [-- --url URL | --port N]`: posts to the named fleet-posture host, or to the one on
 * :7071, or else to a throwaway host of its own; never to another program. Returns the exit code.
 */
export async function demoMain(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let args: DemoArgs;
  try {
    args = parseDemoArgs(argv, env);
  } catch (error) {
    if (!(error instanceof DemoUsageError)) throw error;
    err(`${error.message}\n${DEMO_USAGE}`);
    return 2;
  }
  if (args.help) {
    out(DEMO_USAGE);
    return 0;
  }
  const keys = localSettings('UseDevelopmentStorage=true').settings;
  const enrolment = args.enrolmentSecret ?? keys.enrolmentSecrets[0] ?? '';
  const reader = args.readerKey ?? keys.readerKeys[0] ?? '';
  const target = args.url ?? DEFAULT_DEMO_URL;
  const plan = planDemo(args.url, await probeHost(target), target);
  if ('refuse' in plan) {
    err(plan.refuse);
    return 1;
  }
  out(plan.note);
  if ('post' in plan) return (await runDemo(plan.post, enrolment, reader, out)) > 0 ? 1 : 0;
  const azurite = await startAzurite();
  try {
    const { settings } = localSettings(azurite.connectionString);
    const app = createLocalApp({ settings });
    await app.store.ensureTables();
    const host = await startLocalHost({ app, port: 0, log: () => undefined });
    try {
      return (await runDemo(host.baseUrl, settings.enrolmentSecrets[0] ?? '', settings.readerKeys[0] ?? '', out)) > 0 ? 1 : 0;
    } finally {
      await host.close();
    }
  } finally {
    await azurite.stop();
  }
}

if (require.main === module) {
  demoMain(process.argv.slice(2), process.env, console.log, console.error).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
