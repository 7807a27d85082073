// The read use cases the API serves: the plain reads (queries.ts) with the fleet's lifecycle on
// them: stale servers marked as such, waived results flagged with their waiver, waived findings
// counted apart in the summary, and a server's history. Stale markers and active waivers are small
// sets, read once per request.
import type { Manifest } from '../snapshot/schema';
import type { Lang, Rule } from '../rules/types';
import { isRemovedRow, type EventFilter, type EventStore, type HostStore, type LifecycleStore, type PostureStore, type ResultFilter, type StaleMarker, type StoredResult, type StoredWaiver } from '../store';
import { iso, viewOfEvent, viewOfHost } from './present';
import type { Queries } from './queries';
import { ApiError } from './errors';
import type { ApiContext } from './http-io';
import { LOG_RECORDS } from './log-records';
import { ROUTE_BASE } from './route-prefix';
import { routeUrl } from './routes';
import { removalView, removedSentence } from './removal-text';
import { pendingReevaluation, readProgress } from './pending-reevaluation';
import type { ReevalProgress } from './reevaluate';
import { noSuchServer, type ServerNames } from './server-names';
import { coverOf, waiverOfResult } from './waiver-cover';
import type { Waivers } from './waivers';
import { FINDING_STATUSES } from './findings';

export interface LifecycleQueryDeps {
  /** The plain reads these add the lifecycle to. */
  readonly plain: Queries;
  readonly store: PostureStore;
  readonly hosts: HostStore;
  /** Where a server's history is read. */
  readonly events: EventStore;
  readonly rules: readonly Rule[];
  readonly lifecycle: LifecycleStore;
  readonly waivers: Waivers;
  readonly names: ServerNames;
  /** The names of the servers an admin removed (their removal markers). */
  readonly removedNames: ServerNames;
  /** The names of the servers that enrolled (ServerKeys), read only when a name fits no other server. */
  readonly enrolledNames: ServerNames;
  /** Where the re-evaluation pass stands (one point read), for the summary's per-rule notice. */
  readonly reevaluation: () => Promise<ReevalProgress>;
}

/** What a reader of the counts sees while a re-evaluation that changes the rule is owed. */
const COUNTS_MIX = 'servers it has not reached yet are still counted with the status an earlier version gave them, so the counts may move as it goes on.';

/** Pages of failing results one summary reads for a waived rule: a bound on one request's reads (a million results). */
export const WAIVED_PAGES_MAX = 1000;

/** A name resolved to a server that counts, or to a removed one with a marker of its removal. */
export interface ResolvedServer {
  readonly server: string;
  readonly removal?: StoredResult;
}

const staleView = (m: StaleMarker | undefined) => ({ stale: m !== undefined, staleSince: m ? iso(m.staleSince) : null });
const waiverFlags = (w: StoredWaiver | undefined) => ({ waived: w !== undefined, waiverId: w?.id ?? null });

export class LifecycleQueries {
  constructor(private readonly ld: LifecycleQueryDeps) {}

  /** Unchanged by the lifecycle: the manifest, the rule catalogue and the events. */
  manifest(): Manifest {
    return this.ld.plain.manifest();
  }

  rules(lang: Lang) {
    return this.ld.plain.rules(lang);
  }

  events(filter: EventFilter, top: number, token: string | undefined, lang: Lang) {
    return this.ld.plain.events(filter, top, token, lang);
  }

  async #context(): Promise<{ stale: Map<string, StaleMarker>; active: StoredWaiver[] }> {
    const [stale, active] = await Promise.all([this.ld.lifecycle.listStale(), this.ld.waivers.active()]);
    return { stale: new Map(stale.map((m) => [m.server, m])), active };
  }

  /**
   * Current results with stale and waiver flags; `waived` keeps only those under an active waiver
   * (true) or not (false). Waivers are read, not stored on rows, so that filter applies to each
   * page as read: a page may hold fewer than `top` items while its token goes on.
   */
  async results(filter: ResultFilter, top: number, token: string | undefined, lang: Lang, waived?: boolean) {
    const [page, ctx] = await Promise.all([this.ld.plain.results({ ...filter, waived }, top, token, lang), this.#context()]);
    const items = page.items.map((i) => ({ ...i, ...staleView(ctx.stale.get(i.server)), ...waiverFlags(waiverOfResult(ctx.active, i)) }));
    return { ...page, items: waived === undefined ? items : items.filter((i) => i.waived === waived) };
  }

  /** The server a path or filter names, by id or host name (ServerNames): unknown or ambiguous, a 404. */
  resolveServer(name: string): Promise<string> {
    return this.ld.names.resolve(name);
  }

  /**
   * As resolveServer; when no server that counts answers to the name, a removed server does, by its
   * id or host name alike (its removal markers), with a marker saying when and by whom: its history
   * and events stay readable for the audit trail, and the markers are the removal's own commit, so
   * this knows of it before the projector writes its History row. An id, of a server that counts or
   * of a removed one, wins over the servers whose id merely begins with it.
   */
  async resolveServerOrRemoved(name: string): Promise<ResolvedServer> {
    const { names, removedNames, store } = this.ld;
    // Whether the name is an id, of a server that counts or of a removed one, in one read of its
    // partition (the store's serverStanding, as waivers ask it), not one read for each.
    const standing = await store.serverStanding(name);
    if (standing === 'counts') return { server: name };
    if (standing === 'removed') return this.#removed(name, name);
    const live = await names.byHostName(name);
    if (live.id !== undefined) return { server: live.id };
    if (live.candidates.length > 0) throw noSuchServer(name, live.candidates);
    const removed = await removedNames.byHostName(name);
    if (removed.id === undefined) throw await this.#unknown(name, removed.candidates);
    return this.#removed(name, removed.id);
  }

  /** Why a name fits no server: one that enrolled and has not posted yet is told apart from none. */
  async #unknown(name: string, candidates: readonly string[]): Promise<ApiError> {
    const enrolled = candidates.length === 0 ? await this.ld.enrolledNames.find(name) : undefined;
    if (enrolled?.id === undefined) return noSuchServer(name, candidates);
    return new ApiError(
      'not_found',
      `Server "${enrolled.id}" has enrolled but no snapshot of it has been accepted yet: its results, history and drift appear with its first one ` +
        `(GET ${routeUrl(ROUTE_BASE, 'listServers')}?neverPosted=true lists it once two hours pass without one, and GET ${routeUrl(ROUTE_BASE, 'listRefusedServers')} says why its collector is refused; ` +
        `a refused snapshot is logged as ${LOG_RECORDS.snapshotRejected}).`,
    );
  }

  /**
   * As resolveServerOrRemoved, for the reads of what a server counts for now (its results, its
   * drift): a removed server is a 404 saying when and by whom it was removed.
   */
  async resolveCountingServer(name: string): Promise<string> {
    const { server, removal } = await this.resolveServerOrRemoved(name);
    if (removal) throw new ApiError('not_found', removedSentence(server, removal));
    return server;
  }

  async #removed(name: string, id: string): Promise<ResolvedServer> {
    const removal = (await this.ld.store.readPartition(id)).find(isRemovedRow);
    // Posted again since it was looked up: its markers were replaced by results.
    if (!removal) return { server: await this.resolveServer(name) };
    return { server: id, removal };
  }

  /** Every server with its host facts and whether it is stale, a page at a time. */
  async servers(top: number, token: string | undefined) {
    const [page, stale] = await Promise.all([this.ld.hosts.listHosts(top, token), this.ld.lifecycle.listStale()]);
    const markers = new Map(stale.map((m) => [m.server, m]));
    return { items: page.items.map((h) => ({ ...viewOfHost(h), ...staleView(markers.get(h.server)) })), continuationToken: page.continuationToken ?? null };
  }

  async server(server: string, lang: Lang) {
    const [view, marker, active] = await Promise.all([this.ld.plain.server(server, lang), this.ld.lifecycle.getStale(server), this.ld.waivers.active()]);
    if (!view) return undefined;
    return { ...view, ...staleView(marker), results: view.results.map((r) => ({ ...r, ...waiverFlags(waiverOfResult(active, { ...r, server })) })) };
  }

  /** Unchanged by the lifecycle: waivers and stale markers do not wait for the projector. */
  countsPending() {
    return this.ld.plain.countsPending();
  }

  /** Adds stale hosts and, per rule, the Warning and Error results under an active waiver (still counted in `counts`). */
  async summary(lang: Lang, log: Pick<ApiContext, 'warn'>) {
    const [base, ctx, { progress, known }] = await Promise.all([this.ld.plain.summary(lang), this.#context(), readProgress(this.ld.reevaluation, 'summary', log)]);
    const ids = this.ld.rules.map((r) => r.id);
    const rules = await Promise.all(
      base.rules.map(async (r) => {
        const waived: Record<string, number> = { Warning: 0, Error: 0 };
        const relevant = ctx.active.filter((w) => w.ruleId === r.ruleId);
        if (relevant.length > 0) {
          // Only the failing rows of a waived rule are read, from the rule index, and of those only
          // the summary's columns (one language's message, none used here).
          let token: string | undefined;
          for (let pages = 0; pages < WAIVED_PAGES_MAX; pages++) {
            const page = await this.ld.store.listResults({ ruleId: r.ruleId, statuses: FINDING_STATUSES }, ids, 1000, token, lang);
            for (const item of page.items) if (coverOf(relevant, item.server, item.ruleId)) waived[item.status] = (waived[item.status] ?? 0) + 1;
            token = page.continuationToken;
            if (!token) break;
          }
        }
        const rule = this.ld.rules.find((x) => x.id === r.ruleId);
        // Left out when unknown: null would say that nothing is owed.
        return { ...r, waived, ...(known && rule && { pendingReevaluation: pendingReevaluation(progress, rule, COUNTS_MIX) }) };
      }),
    );
    const waivedTotals = Object.fromEntries(FINDING_STATUSES.map((s) => [s, rules.reduce((n, r) => n + (r.waived[s] ?? 0), 0)]));
    return { ...base, staleHosts: ctx.stale.size, activeWaivers: ctx.active.length, rules, waivedTotals };
  }

  /** Stale servers, longest silent first. */
  async staleServers() {
    const all = await this.ld.lifecycle.listStale();
    return {
      items: all
        .sort((a, b) => a.lastSeen - b.lastSeen)
        .map((m) => ({ server: m.server, stale: true, lastSeen: iso(m.lastSeen), staleSince: iso(m.staleSince), lastSnapshotId: m.lastSnapshotId || null })),
    };
  }

  /**
   * A server's status changes (per rule, and its stale/returned changes), newest first; for a
   * removed server, when and by whom it was removed, from its markers (null for one that counts).
   */
  async history(resolved: ResolvedServer, ruleId: string | undefined, top: number, token: string | undefined, lang: Lang) {
    const { server, removal } = resolved;
    const page = await this.ld.events.listHistory(server, ruleId, top, token);
    return { server, removed: removal ? removalView(removal, lang) : null, items: page.items.map((e) => viewOfEvent(e, lang)), continuationToken: page.continuationToken ?? null };
  }
}
