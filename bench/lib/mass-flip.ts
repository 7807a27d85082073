// The "mass flip" checks: after a burst in which every server changed status, how long until every
// event, history row, count and alert record of the burst is visible (the projection lag), and
// whether what is visible is right — the summary equals the counts computed from the Results rows,
// every change has exactly one event and one alert record, nothing else was recorded for the burst.
// Reads storage directly (its own clients, not the service's counters) and the service's alert
// records over IPC.
import { odata } from '@azure/data-tables';
import { createTableClients, type TableClients } from '../../src/store/client';
import { COUNTS_RANGE, HISTORY_BUCKETS_RANGE } from '../../src/store/entities';
import { STATUSES } from '../../src/rules/types';
import type { ServiceProcess } from './child';
import { percentile } from './measure';

/** One (server, rule) whose status the burst changed, and the alert record it owes (if any). */
export interface ExpectedChange {
  readonly server: string;
  readonly ruleId: string;
  readonly snapshotId: string;
  readonly from: string;
  readonly to: string;
}

const FINDING = new Set(['Warning', 'Error']);
export const alertNameOf = (c: ExpectedChange): string | undefined =>
  FINDING.has(c.to) ? 'FleetPosture.NewFinding' : FINDING.has(c.from) ? 'FleetPosture.FindingResolved' : undefined;

export interface LagResult {
  /** Every record of the burst became visible within the poll budget. */
  readonly complete: boolean;
  /** Per record (event, history row, alert record), ms from the burst's last response until it was seen (0 if already visible). */
  readonly p50Ms: number;
  /** Until the last of them, and the counts, were visible. */
  readonly maxMs: number;
  readonly eventsMs: number;
  readonly historyMs: number;
  readonly alertsMs: number;
  readonly countsMs: number;
  readonly polls: number;
}

export interface ConsistencyResult {
  readonly summaryEqualsResults: boolean;
  readonly summaryDiff: string[];
  readonly changes: number;
  readonly eventsExactlyOnce: boolean;
  readonly missingEvents: number;
  readonly doubledEvents: number;
  readonly unexpectedEvents: number;
  readonly historyExactlyOnce: boolean;
  readonly alertsExpected: number;
  readonly alertsExactlyOnce: boolean;
  readonly missingAlerts: number;
  readonly alertLines: number;
}

const key = (server: string, ruleId: string, snapshotId: string) => `${server}|${ruleId}|${snapshotId}`;

export class MassFlipProbe {
  readonly #t: TableClients;
  constructor(
    connectionString: string,
    prefix: string,
    private readonly ruleIds: readonly string[],
  ) {
    this.#t = createTableClients({ connectionString, tablePrefix: prefix });
  }

  /**
   * Event keys (server|rule|snapshot) of the burst's snapshots, with how often each occurs. History
   * is read in its bucket partitions only: a row written anywhere else counts as missing.
   */
  async #rows(table: 'events' | 'history', snapshots: ReadonlySet<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const filter = table === 'history' ? odata`PartitionKey ge ${HISTORY_BUCKETS_RANGE.from} and PartitionKey lt ${HISTORY_BUCKETS_RANGE.to}` : undefined;
    for await (const e of this.#t[table].listEntities({ queryOptions: { filter, select: ['Server', 'RuleId', 'SnapshotId'] } })) {
      const s = String(e.SnapshotId ?? '');
      if (!snapshots.has(s)) continue;
      const k = key(String(e.Server), String(e.RuleId), s);
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  }

  /** Outbox entries waiting (the lease row aside). */
  async outboxSize(): Promise<number> {
    let n = 0;
    try {
      for await (const e of this.#t.outbox.listEntities({ queryOptions: { select: ['PartitionKey'] } })) if (!String(e.partitionKey).startsWith('~')) n++;
    } catch {
      return 0; // no Outbox table yet: nothing waits
    }
    return n;
  }

  /** Waits until the projector has drained the outbox; how long that took (ms), NaN past the budget. */
  async drained(budgetMs: number): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < budgetMs) {
      if ((await this.outboxSize()) === 0) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 100));
    }
    return NaN;
  }

  /** rule → status → servers, summed over the rule's counts rows (what /api/summary reads). */
  async counts(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for (const id of this.ruleIds) {
      const total = new Map(STATUSES.map((s) => [s as string, 0]));
      const filter = odata`PartitionKey eq ${id} and RowKey ge ${COUNTS_RANGE.from} and RowKey lt ${COUNTS_RANGE.to}`;
      for await (const e of this.#t.ruleIndex.listEntities({ queryOptions: { filter } })) {
        for (const s of STATUSES) total.set(s, (total.get(s) ?? 0) + (typeof e[s] === 'number' ? (e[s] as number) : 0));
      }
      out.set(id, total);
    }
    return out;
  }

  /** rule → status → servers, computed from the Results rows (the truth the counts must equal). */
  async countsFromResults(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>(this.ruleIds.map((id) => [id, new Map(STATUSES.map((s) => [s as string, 0]))]));
    for await (const e of this.#t.results.listEntities({ queryOptions: { select: ['RuleId', 'Status'] } })) {
      const c = out.get(String(e.RuleId));
      if (!c) continue;
      const s = String(e.Status);
      c.set(s, (c.get(s) ?? 0) + 1);
    }
    return out;
  }

  /**
   * Polls until every expected event, history row, alert record and the expected counts are
   * visible (or `budgetMs` passes). `lastResponseAt` is Date.now() at the burst's last response.
   */
  async waitForProjections(service: ServiceProcess, changes: readonly ExpectedChange[], lastResponseAt: number, budgetMs: number): Promise<LagResult> {
    const snapshots = new Set(changes.map((c) => c.snapshotId));
    const expectedKeys = new Set(changes.map((c) => key(c.server, c.ruleId, c.snapshotId)));
    const expectedAlerts = new Set(changes.flatMap((c) => (alertNameOf(c) ? [`${alertNameOf(c)}|${c.server}|${c.ruleId}|${c.snapshotId}`] : [])));
    const truth = await this.countsFromResults();
    const seen = { events: new Map<string, number>(), history: new Map<string, number>() };
    const done = { events: NaN, history: NaN, alerts: NaN, counts: NaN };
    const lag: number[] = [];
    let alertTimes: Record<string, number> = {};
    let polls = 0;
    const since = () => Math.max(0, Date.now() - lastResponseAt);
    // The four probes run side by side; a record counts as visible at the end of the probe that saw it.
    const probeTable = async (table: 'events' | 'history') => {
      if (!Number.isNaN(done[table])) return;
      const rows = await this.#rows(table, snapshots);
      const at = since();
      for (const k of rows.keys()) if (expectedKeys.has(k) && !seen[table].has(k)) seen[table].set(k, at);
      if ([...expectedKeys].every((k) => rows.has(k))) done[table] = at;
    };
    const probeAlerts = async () => {
      if (!Number.isNaN(done.alerts)) return;
      const a = await service.alerts();
      alertTimes = a.firstSeen;
      if ([...expectedAlerts].every((k) => a.firstSeen[k] !== undefined)) done.alerts = since();
    };
    const probeCounts = async () => {
      if (Number.isNaN(done.counts) && sameCounts(await this.counts(), truth).length === 0) done.counts = since();
    };
    while (Date.now() - lastResponseAt < budgetMs) {
      polls++;
      await Promise.all([probeTable('events'), probeTable('history'), probeAlerts(), probeCounts()]);
      if (Object.values(done).every((v) => !Number.isNaN(v))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const table of ['events', 'history'] as const) for (const v of seen[table].values()) lag.push(v);
    for (const k of expectedAlerts) if (alertTimes[k] !== undefined) lag.push(Math.max(0, alertTimes[k]! - lastResponseAt));
    lag.sort((a, b) => a - b);
    const complete = Object.values(done).every((v) => !Number.isNaN(v));
    return {
      complete,
      p50Ms: percentile(lag, 50),
      maxMs: complete ? Math.max(...Object.values(done)) : NaN,
      eventsMs: done.events,
      historyMs: done.history,
      alertsMs: done.alerts,
      countsMs: done.counts,
      polls,
    };
  }

  /** After the lag: the summary the service answers against the Results rows, and exactly-once of events, history and alerts. */
  async check(service: ServiceProcess, summary: { rules: { ruleId: string; counts: Record<string, number> }[] }, changes: readonly ExpectedChange[]): Promise<ConsistencyResult> {
    const truth = await this.countsFromResults();
    const fromSummary = new Map(summary.rules.map((r) => [r.ruleId, new Map(Object.entries(r.counts))]));
    const summaryDiff = sameCounts(fromSummary, truth);
    const snapshots = new Set(changes.map((c) => c.snapshotId));
    const expected = new Set(changes.map((c) => key(c.server, c.ruleId, c.snapshotId)));
    const exactly = (rows: Map<string, number>) => {
      let missing = 0;
      let doubled = 0;
      for (const k of expected) {
        const n = rows.get(k) ?? 0;
        if (n === 0) missing++;
        else if (n > 1) doubled++;
      }
      const unexpected = [...rows.keys()].filter((k) => !expected.has(k)).length;
      return { missing, doubled, unexpected };
    };
    const ev = exactly(await this.#rows('events', snapshots));
    const hi = exactly(await this.#rows('history', snapshots));
    const a = await service.alerts();
    const expectedAlerts = changes.flatMap((c) => (alertNameOf(c) ? [`${alertNameOf(c)}|${c.server}|${c.ruleId}|${c.snapshotId}`] : []));
    const missingAlerts = expectedAlerts.filter((k) => a.firstSeen[k] === undefined).length;
    const extraAlerts = Object.keys(a.firstSeen).filter((k) => snapshots.has(k.split('|')[3] ?? '') && !expectedAlerts.includes(k)).length;
    return {
      summaryEqualsResults: summaryDiff.length === 0,
      summaryDiff: summaryDiff.slice(0, 5),
      changes: changes.length,
      eventsExactlyOnce: ev.missing === 0 && ev.doubled === 0 && ev.unexpected === 0,
      missingEvents: ev.missing,
      doubledEvents: ev.doubled,
      unexpectedEvents: ev.unexpected,
      historyExactlyOnce: hi.missing === 0 && hi.doubled === 0 && hi.unexpected === 0,
      alertsExpected: expectedAlerts.length,
      // Lines, not only distinct records: a record logged twice is a double.
      alertsExactlyOnce: missingAlerts === 0 && extraAlerts === 0 && a.lines === expectedAlerts.length,
      missingAlerts,
      alertLines: a.lines,
    };
  }
}

/** Differences between two rule → status → count maps, as readable lines (empty when equal). */
export function sameCounts(a: ReadonlyMap<string, ReadonlyMap<string, number>>, b: ReadonlyMap<string, ReadonlyMap<string, number>>): string[] {
  const out: string[] = [];
  for (const id of new Set([...a.keys(), ...b.keys()])) {
    for (const s of STATUSES) {
      const x = a.get(id)?.get(s) ?? 0;
      const y = b.get(id)?.get(s) ?? 0;
      if (x !== y) out.push(`${id} ${s}: ${x} vs ${y}`);
    }
  }
  return out;
}
