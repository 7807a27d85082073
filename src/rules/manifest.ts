// The collection manifest: the union of what the loaded rules need, with a version hash over
// its canonical JSON so collectors and the service can tell which one a snapshot answered.
import { createHash } from 'node:crypto';
import { MANIFEST_SCHEMA_ID, type Manifest, type ManifestFileEntry, type ManifestPathSource, type ManifestRegistryEntry } from '../snapshot/schema';
import { canonicalJson } from './common/canonical-json';
import { RULES } from './registry';
import type { Rule } from './types';

export { canonicalJson };

function byLowerPath<T extends { path: string }>(a: T, b: T): number {
  const x = a.path.toLowerCase();
  const y = b.path.toLowerCase();
  // Stryker disable next-line EqualityOperator,ConditionalExpression: entries are merged by lower-case path first, so no two compare equal.
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Sources of both entries in order, each once (paths compare case-insensitively). */
function mergePathFrom(a: readonly ManifestPathSource[] | undefined, b: readonly ManifestPathSource[] | undefined): ManifestPathSource[] | undefined {
  if (!a && !b) return undefined;
  const out: ManifestPathSource[] = [];
  const seen = new Set<string>();
  for (const s of [...(a ?? []), ...(b ?? [])]) {
    // Stryker disable next-line MethodExpression: any one case folding works as the key for the ASCII paths rules declare.
    const id = `${s.registryPath.toLowerCase()}|${s.valueName.toLowerCase()}`;
    if (!seen.has(id)) out.push(s);
    seen.add(id);
  }
  return out;
}

function addRegistry(registry: Map<string, ManifestRegistryEntry>, r: ManifestRegistryEntry): void {
  // Stryker disable next-line MethodExpression: any one case folding works as the key for the ASCII paths rules declare.
  const id = r.path.toLowerCase();
  const prev = registry.get(id);
  // Two rules asking for one key: recurse if either does, as deep as the deeper one. Only recursing
  // entries have a depth; none given leaves it to the collector.
  if (!prev) registry.set(id, { ...r });
  else {
    const depths = [prev, r].filter((e) => e.recurse && e.maxDepth !== undefined).map((e) => e.maxDepth as number);
    if (!prev.recurse && !r.recurse) registry.set(id, { path: prev.path, recurse: false });
    else registry.set(id, depths.length > 0 ? { path: prev.path, recurse: true, maxDepth: Math.max(...depths) } : { path: prev.path, recurse: true });
  }
}

export function buildManifest(rules: readonly Rule[] = RULES): Manifest {
  const registry = new Map<string, ManifestRegistryEntry>();
  const services = new Map<string, string>();
  const files = new Map<string, ManifestFileEntry>();
  for (const rule of rules) {
    for (const r of rule.needs.registry) addRegistry(registry, r);
    for (const s of rule.needs.services) if (!services.has(s.toLowerCase())) services.set(s.toLowerCase(), s);
    for (const f of rule.needs.files) {
      // Stryker disable next-line MethodExpression: any one case folding works as the key for the ASCII paths rules declare.
      const id = f.path.toLowerCase();
      const prev = files.get(id);
      const pathFrom = mergePathFrom(prev?.pathFrom, f.pathFrom);
      files.set(id, { path: prev?.path ?? f.path, tailBytes: Math.max(prev?.tailBytes ?? 0, f.tailBytes), ...(pathFrom ? { pathFrom } : {}) });
      // The collector reads a path source from the snapshot's registry, so its key is always collected.
      for (const s of f.pathFrom ?? []) addRegistry(registry, { path: s.registryPath, recurse: false });
    }
  }
  const lists = {
    registry: [...registry.values()].sort(byLowerPath),
    // Stryker disable next-line MethodExpression: localeCompare orders letters alike in either case.
    services: [...services.values()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())),
    files: [...files.values()].sort(byLowerPath),
  };
  const version = 'sha256:' + createHash('sha256').update(canonicalJson(lists)).digest('hex');
  return { schema: MANIFEST_SCHEMA_ID, version, ...lists };
}
