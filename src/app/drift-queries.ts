// Reading drift: a rule's configurations as clusters (from the counters kept as snapshots arrive,
// never from the results), and one server's differences from the baseline or the largest cluster.
import { CursorCodec, newestMember, type DriftCounts, type DriftStore, type ResultRecord, type StoredBaseline } from '../store';
import type { Facts, Rule } from '../rules/types';
import { chooseReference, mergeClusters, serverDrift, type Cluster, type DriftReference } from './drift';
import { ApiError } from './errors';
import { iso } from './present';

export interface DriftQueryDeps {
  readonly drift: DriftStore;
  readonly rules: readonly Rule[];
  /** Seals continuation tokens (the same secret as the store's). */
  readonly continuationTokenSecret?: string;
  /** The server's Results row of the rule (a point read): its newest snapshot, which the member row names only when it moved the server. */
  readonly resultRow: (server: string, ruleId: string) => Promise<Pick<ResultRecord, 'fingerprint' | 'status' | 'collectedAt'> | undefined>;
}

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

const baselineView = (b: StoredBaseline | undefined) =>
  b && b.server !== '' ? { server: b.server, setBy: b.setBy, setAt: iso(b.setAt), revision: b.revision } : null;

export class DriftQueries {
  readonly #cursors: CursorCodec;
  constructor(private readonly deps: DriftQueryDeps) {
    this.#cursors = new CursorCodec(deps.continuationTokenSecret);
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
  async fleet(ruleId: string, top: number, token: string | undefined) {
    this.ruleWithFacts(ruleId);
    const query = `drift:${ruleId}`;
    // Opened before any read: a foreign or altered token is a 400 that costs no storage.
    const start = this.#cursors.open(token, query).i;
    const [{ clusters, entitiesRead }, baseline] = await Promise.all([this.#clusters(ruleId), this.deps.drift.getBaseline(ruleId)]);
    const rows = baseline && baseline.server !== '' ? await this.deps.drift.readMembers(ruleId, baseline.server) : [];
    const member = newestMember(rows);
    const end = start + top;
    return {
      ruleId,
      servers: clusters.reduce((n, c) => n + c.servers, 0),
      configurations: clusters.length,
      baseline: baselineView(baseline) && { ...baselineView(baseline)!, fingerprint: member?.fingerprint ?? null },
      clusters: clusters.slice(start, end),
      // Pages are positions in the ranking at the time of each read; the counters move as snapshots arrive.
      continuationToken: end < clusters.length ? this.#cursors.seal(query, { i: end }) : null,
      // The baseline row and its server's member rows are read too, and count as such.
      entitiesRead: entitiesRead + (baseline ? 1 : 0) + rows.length,
    };
  }

  /** One server against its reference; undefined when the server has no configuration recorded for the rule. */
  async server(server: string, ruleId: string) {
    this.ruleWithFacts(ruleId);
    const { drift } = this.deps;
    const [member, baseline, row] = await Promise.all([drift.getMember(ruleId, server), drift.getBaseline(ruleId), this.deps.resultRow(server, ruleId)]);
    if (!member) return undefined;
    const baseMember = baseline && baseline.server !== '' ? (baseline.server === server ? member : await drift.getMember(ruleId, baseline.server)) : undefined;
    // Without a baseline (or with one whose server has no configuration recorded), the largest cluster.
    const clusters = baseMember ? [] : (await this.#clusters(ruleId)).clusters;
    const reference: DriftReference | undefined = chooseReference(
      baseMember ? { server: baseMember.server, fingerprint: baseMember.fingerprint, facts: parseFacts(baseMember.factsJson) } : undefined,
      clusters,
    );
    const facts = parseFacts(member.factsJson);
    const d = serverDrift({ fingerprint: member.fingerprint, facts }, reference);
    return {
      server,
      ruleId,
      fingerprint: member.fingerprint,
      status: member.status,
      // A snapshot that leaves the server where it was rewrites its Results row but not its member
      // row, so the newest snapshot showing this configuration is the row's, while the two agree.
      collectedAt: iso(row && row.fingerprint === member.fingerprint && row.status === member.status ? Math.max(row.collectedAt, member.sourceCollectedAt) : member.sourceCollectedAt),
      facts,
      reference: reference
        ? reference.kind === 'baseline'
          ? { kind: reference.kind, server: reference.server, fingerprint: reference.fingerprint }
          : { kind: reference.kind, fingerprint: reference.fingerprint, servers: reference.servers }
        : null,
      matches: d.matches,
      differences: d.differences,
    };
  }
}
