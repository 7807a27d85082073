// The service under test, in its own process: the local host (the same function handlers Azure
// runs) on 127.0.0.1 with a store that counts storage round trips and, when asked, the entities
// storage returned. The benchmark talks to it over IPC for counters; RSS and CPU are read from
// /proc by the parent, so they are this process's alone.
import { createApp } from '../src/app/create-app';
import { loadSettings } from '../src/app/settings';
import { startLocalHost } from '../src/local/host';
import type { StoragePolicy } from '../src/store';
import { rulesFor } from './lib/fleet';

export const BENCH_KEYS = { ingest: 'bench-ingest-key', reader: 'bench-reader-key', enrolment: 'bench-enrolment-secret' } as const;

export type ChildRequest = { type: 'stats' } | { type: 'reset' } | { type: 'countEntities'; on: boolean } | { type: 'alerts' } | { type: 'stop' };

/** Alert records the service logged (NewFinding, FindingResolved): when each was first seen, and how many lines in all. */
export interface ChildAlerts {
  readonly type: 'alerts';
  /** `<record name>|<server>|<rule>|<snapshot id>` → first seen (epoch ms). */
  readonly firstSeen: Record<string, number>;
  readonly lines: number;
}
export interface ChildStats {
  readonly type: 'stats';
  readonly roundTrips: number;
  readonly byTable: Record<string, number>;
  /** Round trips of the server-key check (ServerKeys), counted apart from the posture tables. */
  readonly keyRoundTrips: number;
  /** Requests the SDK sent again (a dropped connection, a 503, a timeout), posture tables and key check: not in the round trips. */
  readonly retries: number;
  readonly entities: number;
  readonly entitiesByTable: Record<string, number>;
  readonly bytesByTable: Record<string, { sent: number; received: number }>;
  readonly logLines: number;
  readonly rss: number;
  /** V8 heap (total reserved, used) when the stats were taken: how much of RSS is live data. */
  readonly heapTotal: number;
  readonly heapUsed: number;
}

let countEntities = false;
let entities = 0;
let entitiesByTable = new Map<string, number>();
let logLines = 0;
let alertFirstSeen = new Map<string, number>();
let alertLines = 0;
const ALERT_RECORD = /^(FleetPosture\.(?:NewFinding|FindingResolved)) (\{.*\})$/s;

/** Counts the alert records of status changes, keyed by what makes one change unique. */
function noteLog(message: string): void {
  logLines++;
  const m = ALERT_RECORD.exec(message);
  if (!m) return;
  alertLines++;
  const d = JSON.parse(m[2]!) as { server?: string; rule?: string; snapshotId?: string };
  const key = `${m[1]}|${d.server}|${d.rule}|${d.snapshotId}`;
  if (!alertFirstSeen.has(key)) alertFirstSeen.set(key, Date.now());
}

/** The table a request is for, from its URL's first path segment after the account (no URL object: this runs on every request the service makes, in the process measured). */
function tableOf(url: string): string {
  const path = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const m = /^\/([A-Za-z][A-Za-z0-9]*)(?:\(|\/|\?|$)/.exec(path.startsWith('/devstoreaccount1/') ? path.slice('/devstoreaccount1'.length) : path);
  return m?.[1] ?? '?';
}

/** Request and response bytes per table (what Azurite parses and writes for the service). */
let bytesByTable = new Map<string, { sent: number; received: number }>();
// Characters, not bytes: the bodies are ASCII JSON (and this stays O(1) on the hot path).
const byteLength = (x: unknown) => (typeof x === 'string' ? x.length : 0);

/** Counts entities in query and point-read responses (only while switched on: it parses bodies). */
const entityCounter: StoragePolicy = {
  name: 'benchEntityCounter',
  async sendRequest(request, next) {
    const response = await next(request);
    const table = tableOf(request.url);
    const b = bytesByTable.get(table) ?? { sent: 0, received: 0 };
    b.sent += byteLength(request.body);
    b.received += byteLength(response.bodyAsText);
    bytesByTable.set(table, b);
    if (countEntities && request.method === 'GET' && response.status === 200 && response.bodyAsText) {
      let n = 0;
      try {
        const body = JSON.parse(response.bodyAsText) as { value?: unknown[]; PartitionKey?: unknown };
        n = Array.isArray(body.value) ? body.value.length : body.PartitionKey !== undefined ? 1 : 0;
      } catch {
        n = 0;
      }
      entities += n;
      const t = tableOf(request.url);
      entitiesByTable.set(t, (entitiesByTable.get(t) ?? 0) + n);
    }
    return response;
  },
};

async function main(): Promise<void> {
  const connectionString = process.env.BENCH_STORAGE ?? '';
  const settings = loadSettings({
    POSTURE_STORAGE_CONNECTION_STRING: connectionString,
    POSTURE_TABLE_PREFIX: process.env.BENCH_TABLE_PREFIX ?? '',
    POSTURE_INGEST_KEYS: BENCH_KEYS.ingest,
    POSTURE_READER_KEYS: BENCH_KEYS.reader,
    POSTURE_ENROLMENT_SECRETS: BENCH_KEYS.enrolment,
  });
  const app = createApp({ settings, rules: rulesFor(process.env.BENCH_WITH_DRIVER === '1'), storeOptions: { policies: [entityCounter] } });
  await app.store.ensureTables();
  const host = await startLocalHost({ app, port: 0, hostname: '127.0.0.1', log: (e) => {
      noteLog(e.message);
      // BENCH_TRACE=1: the projector's run lines on the bench's console (where its time went).
      if (process.env.BENCH_TRACE === '1' && e.message.startsWith('projector:')) process.stderr.write(`[service] ${e.message}\n`);
    },
  });
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: ChildRequest) => {
    if (m.type === 'stats') {
      const stats: ChildStats = {
        type: 'stats',
        roundTrips: app.store.counter.count,
        byTable: Object.fromEntries(app.store.counter.byTable),
        keyRoundTrips: app.keyStore.counter.count,
        retries: app.store.counter.retries + app.keyStore.counter.retries,
        entities,
        entitiesByTable: Object.fromEntries(entitiesByTable),
        bytesByTable: Object.fromEntries(bytesByTable),
        logLines,
        rss: process.memoryUsage().rss,
        heapTotal: process.memoryUsage().heapTotal,
        heapUsed: process.memoryUsage().heapUsed,
      };
      send(stats);
    } else if (m.type === 'reset') {
      app.store.counter.reset();
      app.keyStore.counter.reset();
      entities = 0;
      entitiesByTable = new Map();
      bytesByTable = new Map();
      logLines = 0;
      alertFirstSeen = new Map();
      alertLines = 0;
      send({ type: 'reset' });
    } else if (m.type === 'alerts') {
      const alerts: ChildAlerts = { type: 'alerts', firstSeen: Object.fromEntries(alertFirstSeen), lines: alertLines };
      send(alerts);
    } else if (m.type === 'countEntities') {
      countEntities = m.on;
      send({ type: 'countEntities' });
    } else if (m.type === 'stop') {
      void host.close().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => void host.close().then(() => process.exit(0)));
  send({ type: 'ready', port: host.port });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
