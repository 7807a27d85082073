// `npm run bench:dashboard`: how long the dashboard takes to show a 10,000-server fleet in
// Chromium. Azurite (in memory) gets the fleet by direct batched writes (bench/lib/fleet-loader),
// the local host serves the API and the page on 127.0.0.1, and each run opens the page in a fresh
// browser context (empty cache) and reads the page's own mark "posture:fleet-rendered": time from
// navigation start to the Fleet view in the DOM, summary request included, and that time in its
// parts (the page until it asks for the summary, the request, its answer to the view). The fleet's servers
// have keys too, and a few more servers enrolled and never posted: the Fleet view's figure of those
// is read beside the view (GET /api/servers?neverPosted=true, which lists every key head), and
// its request is timed as well. Also the page's weight. Prints a table and writes bench/results/dashboard-latest.json. Never part of `npm test`.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createApp } from '../src/app/create-app';
import { loadSettings } from '../src/app/settings';
import { publicDir } from '../src/dashboard/assets';
import { startAzurite } from '../src/local/azurite';
import { startLocalHost } from '../src/local/host';
import { dashboardUrl } from '../src/local/main';
import { chromiumPresent, launchChromium, MISSING_CHROMIUM, type PageGlobals } from '../test/support/chromium';
import { buildFleet, ROOT } from './lib/fleet';
import { enrolFleet } from './lib/fleet-keys';
import { loadFleet } from './lib/fleet-loader';
import { round } from './lib/measure';

const SERVERS = Number(process.env.BENCH_DASHBOARD_SERVERS) || 10_000;
const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS) || 20;
const TARGET_MS = 1000;
/** Servers enrolled that never posted, beyond the fleet; their keys and the fleet's were issued three hours ago. */
const AWAITING = 20;
const KEY_AGE_MS = 3 * 3_600_000;
const BUDGET_GZIP = 150 * 1024;
const READER = 'bench-reader-key';
const OUT = path.join(ROOT, 'bench', 'results', 'dashboard-latest.json');

const sortedOf = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

function weight(): { files: number; bytes: number; gzipBytes: number } {
  const dir = publicDir();
  const names = readdirSync(dir);
  const bodies = names.map((n) => readFileSync(path.join(dir, n)));
  return { files: names.length, bytes: bodies.reduce((n, b) => n + b.length, 0), gzipBytes: bodies.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0) };
}

async function main(): Promise<void> {
  if (!chromiumPresent()) throw new Error(MISSING_CHROMIUM);
  const azurite = await startAzurite();
  try {
    const fleet = buildFleet();
    const loaded = await loadFleet(azurite.connectionString, 'Dash', fleet.rules, SERVERS, { templateOf: (i) => fleet.pool[i % fleet.pool.length]! });
    console.log(`loaded ${loaded.servers} servers (${loaded.entitiesWritten} entities) in ${round(loaded.loadMs / 1000, 1)} s`);
    const settings = loadSettings({ POSTURE_STORAGE_CONNECTION_STRING: azurite.connectionString, POSTURE_TABLE_PREFIX: 'Dash', POSTURE_READER_KEYS: READER });
    const app = createApp({ settings, rules: fleet.rules });
    const enrolled = await enrolFleet(app.keyStore, SERVERS, { awaiting: AWAITING, ageMs: KEY_AGE_MS });
    console.log(`enrolled ${SERVERS + AWAITING} servers in ${round(enrolled.loadMs / 1000, 1)} s (${AWAITING} never posted)`);
    const host = await startLocalHost({ app, port: 0, hostname: '127.0.0.1', log: () => undefined });
    const browser = await launchChromium();
    try {
      const url = dashboardUrl(`${host.baseUrl}/api`, READER);
      const firstRender: number[] = [];
      const summaryMs: number[] = [];
      const neverPostedMs: number[] = [];
      const askedAt: number[] = [];
      const afterSummary: number[] = [];
      let hostsShown = '';
      let neverPostedShown = '';
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        await page.goto(url);
        await page.locator('[data-metric="hosts"]').waitFor();
        await page.locator('[data-metric="never-posted"]:not([aria-busy])').waitFor();
        const m = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          const summary = g.performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/summary'));
          return {
            rendered: g.performance.getEntriesByName('posture:fleet-rendered')[0]?.startTime ?? NaN,
            summary: summary?.duration ?? NaN,
            summaryAskedAt: summary?.startTime ?? NaN,
            summaryEnd: summary?.responseEnd ?? NaN,
            neverPosted: g.performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/servers?neverPosted=true'))?.duration ?? NaN,
            hosts: g.document.querySelector('[data-metric="hosts"]')?.textContent ?? '',
            neverPostedShown: g.document.querySelector('[data-metric="never-posted"]')?.textContent ?? '',
          };
        });
        firstRender.push(m.rendered);
        summaryMs.push(m.summary);
        askedAt.push(m.summaryAskedAt);
        afterSummary.push(m.rendered - m.summaryEnd);
        neverPostedMs.push(m.neverPosted);
        hostsShown = m.hosts;
        neverPostedShown = m.neverPostedShown;
        await context.close();
      }
      const sorted = sortedOf(firstRender);
      const sortedSummary = sortedOf(summaryMs);
      const sortedNeverPosted = sortedOf(neverPostedMs);
      const sortedAskedAt = sortedOf(askedAt);
      const sortedAfterSummary = sortedOf(afterSummary);
      const w = weight();
      const result = {
        at: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadAverage: os.loadavg().map((x) => round(x, 2)),
        servers: SERVERS,
        hostsShown,
        runs: RUNS,
        firstRenderMs: { median: round(quantile(sorted, 0.5), 1), p95: round(quantile(sorted, 0.95), 1), max: round(sorted[sorted.length - 1] ?? NaN, 1), target: TARGET_MS },
        summaryRequestMs: { median: round(quantile(sortedSummary, 0.5), 1), p95: round(quantile(sortedSummary, 0.95), 1) },
        // The first render in its parts: the page and its modules until the summary is asked, then
        // from the summary's last byte to the view in the DOM (parsing it and building the view).
        summaryAskedAtMs: { median: round(quantile(sortedAskedAt, 0.5), 1), p95: round(quantile(sortedAskedAt, 0.95), 1) },
        summaryToViewMs: { median: round(quantile(sortedAfterSummary, 0.5), 1), p95: round(quantile(sortedAfterSummary, 0.95), 1) },
        neverPosted: {
          enrolled: SERVERS + AWAITING,
          awaiting: AWAITING,
          keyAgeHours: KEY_AGE_MS / 3_600_000,
          shown: neverPostedShown,
          requestMs: { median: round(quantile(sortedNeverPosted, 0.5), 1), p95: round(quantile(sortedNeverPosted, 0.95), 1) },
        },
        assets: { ...w, budgetGzipBytes: BUDGET_GZIP },
      };
      mkdirSync(path.dirname(OUT), { recursive: true });
      writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`
dashboard, ${SERVERS} servers (page shows ${hostsShown}), ${RUNS} cold loads, ${os.cpus().length} cores, load ${result.loadAverage.join(' ')}
  first render (navigation start → Fleet view in the DOM)  median ${result.firstRenderMs.median} ms  p95 ${result.firstRenderMs.p95} ms  max ${result.firstRenderMs.max} ms  (target < ${TARGET_MS} ms)
  … the page until it asks for the summary                 median ${result.summaryAskedAtMs.median} ms  p95 ${result.summaryAskedAtMs.p95} ms
  … GET /api/summary                                       median ${result.summaryRequestMs.median} ms  p95 ${result.summaryRequestMs.p95} ms
  … from the summary's answer to the view in the DOM       median ${result.summaryToViewMs.median} ms  p95 ${result.summaryToViewMs.p95} ms
  GET /api/servers?neverPosted=true (beside the view)      median ${result.neverPosted.requestMs.median} ms  p95 ${result.neverPosted.requestMs.p95} ms  (${SERVERS + AWAITING} keys, page shows ${neverPostedShown} never posted)
  page files                                               ${w.files} files, ${w.bytes} bytes, ${w.gzipBytes} bytes gzipped (budget ${BUDGET_GZIP})
written to ${path.relative(ROOT, OUT)}`);
    } finally {
      await browser.close();
      await host.close();
    }
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
