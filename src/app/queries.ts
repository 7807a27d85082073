// The plain read use cases: results, one server, summary, events, the rule catalogue and the
// manifest, as the store holds them. The API serves them through LifecycleQueries, which adds
// stale and waiver flags.
import { buildManifest } from '../rules/manifest';
import { ruleSetVersion } from '../rules/registry';
import { STATUSES, type Lang } from '../rules/types';
import type { Manifest } from '../snapshot/schema';
import { type EventFilter, type EventStore, type HostStore, type OutboxStore, type RawSnapshotStore, type ResultFilter, type RuleIndexStore, type StoredResult } from '../store';
import { iso, viewOfEvent, viewOfStored, viewOfSummary } from './present';
import type { UseCaseDeps } from './use-case-deps';

export interface QueryDeps extends UseCaseDeps {
  /** Asked whether accepted changes are still waiting for the projector (the summary says so). */
  readonly outbox: OutboxStore;
  readonly events: EventStore;
  readonly hosts: HostStore;
  readonly rawSnapshots: RawSnapshotStore;
  /** The per-rule counters the summary reads. */
  readonly ruleIndex: RuleIndexStore;
}

export class Queries {
  readonly #manifest: Manifest;
  constructor(private readonly deps: QueryDeps) {
    this.#manifest = buildManifest(deps.rules);
  }

  manifest(): Manifest {
    return this.#manifest;
  }

  rules(lang: Lang) {
    return {
      ruleSetVersion: ruleSetVersion(this.deps.rules),
      language: lang,
      rules: this.deps.rules.map((r) => ({
        id: r.id,
        version: r.version,
        title: r.title[lang],
        rationale: r.rationale[lang],
        severity: r.severity,
        references: r.references,
        reasonCodes: Object.entries(r.reasonCodes).map(([code, status]) => ({ code, status })),
        needs: r.needs,
      })),
    };
  }

  async results(filter: ResultFilter, top: number, token: string | undefined, lang: Lang) {
    const page = await this.deps.store.listResults(filter, this.deps.rules.map((r) => r.id), top, token, lang);
    return { items: page.items.map((r) => viewOfSummary(r, lang)), continuationToken: page.continuationToken ?? null };
  }

  async events(filter: EventFilter, top: number, token: string | undefined, lang: Lang) {
    const page = await this.deps.events.listEvents(filter, top, token, lang);
    return { items: page.items.map((e) => viewOfEvent(e, lang)), continuationToken: page.continuationToken ?? null };
  }

  /** One server, or undefined when it never posted. */
  async server(server: string, lang: Lang) {
    const { store, hosts, rawSnapshots, rules } = this.deps;
    const [rows, host, raw] = await Promise.all([store.readServer(server), hosts.getHost(server), rawSnapshots.getLatestRaw(server)]);
    if (rows.length === 0 && !host) return undefined;
    // The newest snapshot; of rows of one snapshot, the first read (rule order), so the answer is stable.
    const latest = rows.reduce<StoredResult | undefined>((a, r) => (!a || r.collectedAt > a.collectedAt ? r : a), undefined);
    const byRule = new Map(rows.map((r) => [r.ruleId, r]));
    return {
      server,
      lastSeen: iso(latest?.lastSeen),
      lastSnapshotId: latest?.snapshotId ?? null,
      lastCollectedAt: iso(latest?.collectedAt),
      host: host
        ? {
            name: host.hostName,
            fqdn: host.fqdn ?? null,
            os: { caption: host.osCaption ?? null, version: host.osVersion ?? null, architecture: host.osArchitecture ?? null },
            utcOffsetMinutes: host.utcOffsetMinutes ?? null,
            collector: { name: host.collectorName, version: host.collectorVersion, manifestVersion: host.manifestVersion ?? null },
            firstSeen: iso(host.firstSeen),
          }
        : null,
      rawSnapshot: raw ? { snapshotId: raw.snapshotId, collectedAt: iso(raw.collectedAt), bytes: raw.rawBytes, contentHash: raw.contentHash } : null,
      // The rules this instance loads, in their order, as the summary and the results list count
      // them: a retired rule's row or a newer release's is left out.
      results: rules.flatMap((rule) => {
        const row = byRule.get(rule.id);
        return row ? [viewOfStored(row, lang, rules)] : [];
      }),
    };
  }

  /** Only whether accepted changes are still waiting to be counted: one listing of the Outbox, nothing else. */
  async countsPending() {
    return { countsPending: await this.deps.outbox.changesWaiting() };
  }

  /**
   * Counts per rule × status from the counters the projector keeps (the lifecycle's waived counts
   * read more), and whether accepted changes are still waiting to be counted.
   */
  async summary(lang: Lang) {
    const { ruleIndex, outbox, rules, clock } = this.deps;
    // The outbox first, then the counters: the projector writes counts before it removes an entry,
    // so an empty outbox means the counters read next hold every change accepted before it.
    // Read side by side, a drain finishing in between would answer old counts as complete.
    const countsPending = await outbox.changesWaiting();
    const counts = await ruleIndex.getRuleCounts(rules.map((r) => r.id));
    const totals = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
    let hosts = 0;
    const perRule = rules.map((r) => {
      const c = counts.get(r.id) ?? new Map<string, number>();
      const row = Object.fromEntries(STATUSES.map((s) => [s, c.get(s) ?? 0])) as Record<string, number>;
      const total = STATUSES.reduce((n, s) => n + (row[s] ?? 0), 0);
      for (const s of STATUSES) totals[s] = (totals[s] ?? 0) + (row[s] ?? 0);
      // Every server gets a result for every rule, so the largest rule total is the host count.
      hosts = Math.max(hosts, total);
      return { ruleId: r.id, title: r.title[lang], severity: r.severity, counts: row, total };
    });
    return { generatedAt: new Date(clock()).toISOString(), ruleSetVersion: ruleSetVersion(rules), countsPending, hosts, statuses: STATUSES, rules: perRule, totals };
  }
}
