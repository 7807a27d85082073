// Fleet drift, pure: the configurations of a fleet as clusters (largest first), and how one
// server's configuration differs, field by field, from the largest cluster or from a baseline.
// No I/O: the store hands over counted rows, this module ranks and compares them.
import { canonicalJson } from '../rules/common/canonical-json';
import { STATUSES, type Facts, type FactValue } from '../rules/types';

/** Servers named per cluster: enough to find the odd ones out, few enough to stay one small row. */
export const SAMPLE_SIZE = 5;

/** A part of a cluster, as counted: one shard of its counters, or one server. */
export interface ClusterPart {
  readonly fingerprint: string;
  /** Servers per status. */
  readonly counts: Readonly<Record<string, number>>;
  readonly facts: Facts;
  /** Some of its servers (any order). */
  readonly sample: readonly string[];
}

/** A whole cluster: its parts merged, every status counted (zero included, in display order), the first servers by name in its sample (at most SAMPLE_SIZE). */
export interface Cluster extends ClusterPart {
  readonly servers: number;
}

/** One server's current configuration for a rule. */
export interface FleetMember {
  readonly server: string;
  readonly fingerprint: string;
  readonly facts: Facts;
  readonly status: string;
}

function zeroCounts(): Record<string, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, 0]));
}

/**
 * Merges counted parts into clusters, largest first; equal sizes in fingerprint order so the
 * answer never depends on read order. Parts with no servers left are dropped.
 */
export function mergeClusters(parts: Iterable<ClusterPart>, sampleSize = SAMPLE_SIZE): Cluster[] {
  const merged = new Map<string, { counts: Record<string, number>; facts: Facts; sample: Set<string> }>();
  for (const p of parts) {
    const m = merged.get(p.fingerprint) ?? { counts: zeroCounts(), facts: p.facts, sample: new Set<string>() };
    for (const [status, n] of Object.entries(p.counts)) m.counts[status] = (m.counts[status] ?? 0) + Math.max(0, n);
    for (const s of p.sample) m.sample.add(s);
    merged.set(p.fingerprint, m);
  }
  // Names are distinct, so sort()'s code-unit order is the whole order; taken in fingerprint order,
  // the clusters keep it within one size, as the sort by size is stable.
  const clusters: Cluster[] = [];
  for (const fingerprint of [...merged.keys()].sort()) {
    const m = merged.get(fingerprint)!;
    const servers = Object.values(m.counts).reduce((a, n) => a + n, 0);
    if (servers === 0) continue;
    clusters.push({ fingerprint, servers, counts: m.counts, facts: m.facts, sample: [...m.sample].sort().slice(0, sampleSize) });
  }
  return clusters.sort((a, b) => b.servers - a.servers);
}

/** Clusters of a fleet held in memory (one member per server). */
export function clusterFleet(members: Iterable<FleetMember>, sampleSize = SAMPLE_SIZE): Cluster[] {
  const parts: ClusterPart[] = [];
  for (const m of members) parts.push({ fingerprint: m.fingerprint, counts: { [m.status]: 1 }, facts: m.facts, sample: [m.server] });
  return mergeClusters(parts, sampleSize);
}

/** One field in which a server differs from its reference; null where the field is absent. */
export interface FactDifference {
  readonly field: string;
  /** changed: both have it; added: only the server has it; missing: only the reference has it. */
  readonly change: 'changed' | 'added' | 'missing';
  readonly server: FactValue;
  readonly reference: FactValue;
}

/** The fields in which `server` differs from `reference`, in field order. */
export function diffFacts(server: Facts, reference: Facts): FactDifference[] {
  const fields = [...new Set([...Object.keys(server), ...Object.keys(reference)])].sort();
  const out: FactDifference[] = [];
  for (const field of fields) {
    const has = Object.hasOwn(server, field);
    const refHas = Object.hasOwn(reference, field);
    const a = has ? server[field]! : null;
    const b = refHas ? reference[field]! : null;
    if (has && refHas && canonicalJson(a) === canonicalJson(b)) continue;
    out.push({ field, change: has && refHas ? 'changed' : has ? 'added' : 'missing', server: a, reference: b });
  }
  return out;
}

/** What a server is compared with: the rule's baseline server, else the fleet's largest cluster. */
export type DriftReference =
  | { readonly kind: 'baseline'; readonly server: string; readonly fingerprint: string; readonly facts: Facts }
  | { readonly kind: 'largest-cluster'; readonly fingerprint: string; readonly servers: number; readonly facts: Facts };

export function chooseReference(baseline: { server: string; fingerprint: string; facts: Facts } | undefined, clusters: readonly Cluster[]): DriftReference | undefined {
  if (baseline) return { kind: 'baseline', ...baseline };
  const largest = clusters[0];
  return largest ? { kind: 'largest-cluster', fingerprint: largest.fingerprint, servers: largest.servers, facts: largest.facts } : undefined;
}

export interface ServerDrift {
  readonly fingerprint: string;
  /** True when the server is configured like its reference. */
  readonly matches: boolean;
  readonly differences: readonly FactDifference[];
}

/** How a server's configuration differs from its reference (none when there is no reference yet). */
export function serverDrift(member: Pick<FleetMember, 'fingerprint' | 'facts'>, reference: DriftReference | undefined): ServerDrift {
  if (!reference) return { fingerprint: member.fingerprint, matches: true, differences: [] };
  // Stryker disable next-line ConditionalExpression: one fingerprint is one set of facts, so diffFacts would find nothing either; the comparison spares the walk.
  const differences = member.fingerprint === reference.fingerprint ? [] : diffFacts(member.facts, reference.facts);
  return { fingerprint: member.fingerprint, matches: differences.length === 0, differences };
}
