// Reading drift: a rule's configurations as clusters (from the counters kept as snapshots arrive,
// never from the results), and one server's differences from the baseline or the largest cluster.
import { newestMember, type CursorCodec, type DriftCounts, type DriftStore, type ResultRecord, type StoredBaseline } from '../store';
import type { Facts, Rule } from '../rules/types';
import { chooseReference, mergeClusters, serverDrift, type Cluster, type DriftReference } from './drift';
import { ApiError } from './errors';
import { iso } from './present';
import type { ApiContext } from './http-io';
import { pendingReevaluation, readProgress } from './pending-reevaluation';
import type { ReevalProgress } from './reevaluate';
import { ROUTE_BASE } from './route-prefix';
import { routeUrl } from './routes';

export interface DriftQueryDeps {
  readonly drift: DriftStore;
  readonly rules: readonly Rule[];
  /** Seals continuation tokens: the store's codec, so its secret is the same. */
  readonly cursors: CursorCodec;
  /** The server's Results row of the rule (a point read): its newest snapshot, which the member row names only when it moved the server. */
  readonly resultRow: (server: string, ruleId: string) => Promise<Pick<ResultRecord, 'fingerprint' | 'fingerprintFactsJson' | 'status' | 'collectedAt'> | undefined>;
  /** Where the re-evaluation pass stands (one point read); without it the fleet's answer says nothing of one. */
  readonly reevaluation?: () => Promise<ReevalProgress>;
}

/** What a reader of the clusters sees while a re-evaluation that changes the rule's facts is owed. */
const TWO_CLUSTERS = 'servers it has not reached yet are counted under the configuration facts of the version that evaluated them, so a configuration whose facts changed can show as two clusters until it finishes.';

/** Facts as stored; text a reader cannot parse (cut at the column limit) is shown as that, not hidden. */
export function parseFacts(json: string): Facts {
  try {
    const v: unknown = JSON.parse(json);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Facts;
  } catch {
    // fall through
  }
  return { unreadable: json.slice(0, 200) };
}

/** How long the lag lasts: usually moments, but a change the projector set aside waits for an operator. */
const UNTIL_PROJECTED = `when the projector counts it (usually within moments; a change it set aside waits, listed by GET ${routeUrl(ROUTE_BASE, 'getJob', { job: 'projector' })})`;

/** Why a server's drift is shown while the fleet's drift does not count it as its result says. */
const notCountedNote = (server: string, countedBefore: boolean): string =>
  countedBefore
    ? `The drift has not counted the newest snapshot of ${server} yet, which changed its configuration or status: this is the configuration it last counted, and it moves ${UNTIL_PROJECTED}.`
    : `The drift has not counted ${server} yet: this is the configuration its result holds, and the fleet's clusters include it ${UNTIL_PROJECTED}.`;

/**
 * What the drift measures against while the rule's named baseline has no configuration recorded:
 * the end of one sentence, so the drift's note and the removal's warning say it the same way.
 */
export const measuredAgainstLargest = (ruleId: string): string =>
  `servers are measured against the largest configuration until an admin names another server or clears the baseline (PUT or DELETE ${routeUrl(ROUTE_BASE, 'baselines', { rule: ruleId })})`;

/** Why a named baseline is not the reference: its server has no configuration recorded for the rule any more. */
const baselineUnrecordedNote = (server: string, ruleId: string): string =>
  `The baseline server ${server} has no configuration recorded for ${ruleId} (removed from the fleet, or no longer evaluated by the rule), so ${measuredAgainstLargest(ruleId)}.`;

const baselineView = (b: StoredBaseline | undefined) =>
  b && b.server !== '' ? { server: b.server, setBy: b.setBy, setAt: iso(b.setAt), revision: b.revision } : null;

export class DriftQueries {
  readonly #cursors: CursorCodec;
  constructor(private readonly deps: DriftQueryDeps) {
    this.#cursors = deps.cursors;
  }

  /** The rule, when it declares configuration facts; otherwise a 400 naming why. */
  ruleWithFacts(ruleId: string): Rule {
    const rule = this.deps.rules.find((r) => r.id === ruleId);
    if (!rule?.configurationFacts) throw new ApiError('invalid_query', `The rule "${ruleId}" declares no configuration facts, so it has no drift.`);
    return rule;
  }

  async #clusters(ruleId: string): Promise<{ clusters: Cluster[]; entitiesRead: number }> {
    const { rows, entitiesRead } = await this.deps.drift.listCounts(ruleId);
    return { clusters: mergeClusters(rows.map((r: DriftCounts) => ({ ...r, facts: parseFacts(r.factsJson) }))), entitiesRead };
  }

  /** The rule's configurations as clusters, largest first, `top` at a time. */
  async fleet(ruleId: string, top: number, token: string | undefined, log: Pick<ApiContext, 'warn'>) {
    const rule = this.ruleWithFacts(ruleId);
    const query = `drift:${ruleId}`;
    // Opened before any read: a foreign or altered token is a 400 that costs no storage (but the
    // shared secret's one read, once per process, when no setting gives one).
    const start = (await this.#cursors.open(token, query)).i;
    const [{ clusters, entitiesRead }, baseline, { progress, known }] = await Promise.all([this.#clusters(ruleId), this.deps.drift.getBaseline(ruleId), readProgress(this.deps.reevaluation, 'drift', log)]);
    const rows = baseline && baseline.server !== '' ? await this.deps.drift.readMembers(ruleId, baseline.server) : [];
    const member = newestMember(rows);
    const named = baselineView(baseline);
    const end = start + top;
    return {
      ruleId,
      servers: clusters.reduce((n, c) => n + c.servers, 0),
      configurations: clusters.length,
      baseline: named && { ...named, fingerprint: member?.fingerprint ?? null, note: member ? null : baselineUnrecordedNote(named.server, ruleId) },
      // Left out when unknown: null would say that nothing is pending.
      ...(known && { pendingReevaluation: pendingReevaluation(progress, rule, TWO_CLUSTERS) }),
      clusters: clusters.slice(start, end),
      // Pages are positions in the ranking at the time of each read; the counters move as snapshots arrive.
      continuationToken: end < clusters.length ? await this.#cursors.seal(query, { i: end }) : null,
      // The baseline row, its server's member rows and the re-evaluation's row are read too, and count as such.
      entitiesRead: entitiesRead + (baseline ? 1 : 0) + rows.length + (progress?.pass ? 1 : 0),
    };
  }

  /**
   * One server against its reference; undefined when the server has no configuration recorded for
   * the rule. A server the drift has not counted yet (its first snapshot still owed to the
   * projector) is shown from its Results row, which the request wrote: it exists and has a
   * configuration, so "not found" would be wrong; `pending` and `note` say the drift lags it.
   */
  async server(server: string, ruleId: string) {
    this.ruleWithFacts(ruleId);
    const { drift } = this.deps;
    const [member, baseline, row] = await Promise.all([drift.getMember(ruleId, server), drift.getBaseline(ruleId), this.deps.resultRow(server, ruleId)]);
    const shown = member
      ? { fingerprint: member.fingerprint, factsJson: member.factsJson, status: member.status, collectedAt: member.sourceCollectedAt }
      : row?.fingerprint !== undefined && row.fingerprintFactsJson !== undefined
        ? { fingerprint: row.fingerprint, factsJson: row.fingerprintFactsJson, status: row.status, collectedAt: row.collectedAt }
        : undefined;
    if (!shown) return undefined;
    // The row agrees with what is shown unless the drift has yet to count its newest snapshot.
    const agrees = row !== undefined && row.fingerprint === shown.fingerprint && row.status === shown.status;
    const counted = member !== undefined && (!row || agrees);
    // A cleared baseline keeps its row with server '': none is named.
    const named = baseline?.server || undefined;
    const baseMember = named ? (named === server ? shown : await drift.getMember(ruleId, named)) : undefined;
    // Without a baseline (or with one whose server has no configuration recorded), the largest cluster.
    // Stryker disable next-line ArrayDeclaration: a named baseline is the reference whatever the clusters hold, so they are not read.
    const clusters = baseMember ? [] : (await this.#clusters(ruleId)).clusters;
    const reference: DriftReference | undefined = chooseReference(
      baseMember ? { server: named!, fingerprint: baseMember.fingerprint, facts: parseFacts(baseMember.factsJson) } : undefined,
      clusters,
    );
    const facts = parseFacts(shown.factsJson);
    const d = serverDrift({ fingerprint: shown.fingerprint, facts }, reference);
    return {
      server,
      ruleId,
      fingerprint: shown.fingerprint,
      status: shown.status,
      // A snapshot that leaves the server where it was rewrites its Results row but not its member
      // row, so the newest snapshot showing this configuration is the row's, while the two agree.
      collectedAt: iso(agrees ? Math.max(row.collectedAt, shown.collectedAt) : shown.collectedAt),
      facts,
      pending: !counted,
      note: counted ? null : notCountedNote(server, member !== undefined),
      reference: reference
        ? reference.kind === 'baseline'
          ? { kind: reference.kind, server: reference.server, fingerprint: reference.fingerprint, note: null }
          : { kind: reference.kind, fingerprint: reference.fingerprint, servers: reference.servers, note: named && !baseMember ? baselineUnrecordedNote(named, ruleId) : null }
        : null,
      matches: d.matches,
      differences: d.differences,
    };
  }
}
