// Normalisation of a validated snapshot into the form rules read: canonical registry paths
// (short hive names, Wow6432Node folded into view "32"), case-insensitive look-ups for keys,
// values and services, and times as epoch milliseconds.
import type { FileEntry, ReadError, RegistryValue, ServiceEntry, Snapshot } from './schema';

export type RegistryView = '64' | '32';

export interface RegistryKeyState {
  /** Canonical path: short hive, no Wow6432Node segment, original casing otherwise. */
  readonly path: string;
  readonly view: RegistryView;
  readonly exists: boolean;
  /** Epoch milliseconds, when the collector could read it. */
  readonly lastWriteTime?: number;
  /** Keyed by lower-case value name ("" is the (Default) value). */
  readonly values: ReadonlyMap<string, RegistryValue>;
  readonly error?: ReadError;
}

export interface ServiceState extends ServiceEntry {
  readonly nameLower: string;
}

export interface FileState extends FileEntry {
  readonly lastWriteTimeMs?: number;
}

export interface NormalisedSnapshot {
  readonly snapshotId: string;
  /** Epoch milliseconds. */
  readonly collectedAt: number;
  readonly collector: Snapshot['collector'];
  readonly host: Snapshot['host'];
  /** Lower-cased fqdn when present, else lower-cased name. */
  readonly serverId: string;
  /** Keyed by registryKeyId(path, view). */
  readonly registry: ReadonlyMap<string, RegistryKeyState>;
  /** Keyed by lower-case service name. */
  readonly services: ReadonlyMap<string, ServiceState>;
  readonly files: readonly FileState[];
}

const LONG_HIVES: Record<string, string> = {
  hkey_local_machine: 'HKLM',
  hkey_current_user: 'HKCU',
  hkey_users: 'HKU',
  hkey_classes_root: 'HKCR',
  hkey_current_config: 'HKCC',
  hklm: 'HKLM',
  hkcu: 'HKCU',
  hku: 'HKU',
  hkcr: 'HKCR',
  hkcc: 'HKCC',
};

/**
 * Canonical form of a registry path and the view it names: long hive names become short, and a
 * spelled-out `Wow6432Node` segment (as in a .reg export) is removed and means view "32".
 */
export function canonicalRegistryPath(path: string, view: RegistryView): { path: string; view: RegistryView } {
  const [hive, ...rest] = shortHive(path).split('\\');
  const kept = rest.filter((s) => s.toLowerCase() !== 'wow6432node');
  return { path: [hive, ...kept].join('\\'), view: kept.length !== rest.length ? '32' : view };
}

/** The path with its hive in the short upper-case form (`HKEY_LOCAL_MACHINE` → `HKLM`), the rest as it is. */
export function shortHive(path: string): string {
  const [hive, ...rest] = path.split('\\');
  return [LONG_HIVES[hive!.toLowerCase()] ?? hive!.toUpperCase(), ...rest].join('\\');
}

// Rules ask for the same few constant paths on every evaluation, and snapshots from a fleet hold
// the same keys: remember their ids (bounded, so odd input cannot grow it without limit).
const KEY_IDS: Readonly<Record<RegistryView, Map<string, string>>> = { '64': new Map(), '32': new Map() };
const MAX_KEY_IDS = 1024;

/** The look-up id of a key: view and lower-case canonical path. */
export function registryKeyId(path: string, view: RegistryView): string {
  const ids = KEY_IDS[view];
  let id = ids.get(path);
  // Stryker disable next-line ConditionalExpression: a cache; computing the id again gives the same id.
  if (id === undefined) {
    const c = canonicalRegistryPath(path, view);
    id = `${c.view}:${c.path.toLowerCase()}`;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: forgetting sooner or later only costs a recomputation.
    if (ids.size >= MAX_KEY_IDS) ids.clear();
    ids.set(path, id);
  }
  return id;
}

/**
 * A server id as the service keys it: a lower-cased host name or fqdn without the final dot, with
 * the snapshot's own rules for them (labels of 1–63 letters, digits, hyphens and underscores, not
 * beginning or ending with a hyphen; 253 characters in all). Anything else names a server no
 * collector can post as, so a key or waiver for it would serve no one.
 */
export const SERVER_ID = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Lower case for ASCII letters only. String#toLowerCase folds some other letters into them (the
 * Kelvin sign into k), which would make a look-alike name another spelling of a server.
 */
export const asciiLower = (v: string): string => v.replace(/[A-Z]/g, (m) => m.toLowerCase());

/** A server id as a person types it (any case, a final dot allowed); undefined when it is none. */
export function serverIdOfName(name: string): string | undefined {
  const id = asciiLower(name).replace(/\.$/, '');
  return SERVER_ID.test(id) ? id : undefined;
}

export function serverIdOf(host: { name: string; fqdn?: string }): string {
  return (host.fqdn ?? host.name).replace(/\.$/, '').toLowerCase();
}

function epochMs(iso: string | undefined): number | undefined {
  return iso === undefined ? undefined : Date.parse(iso);
}

export function normaliseSnapshot(s: Snapshot): NormalisedSnapshot {
  const registry = new Map<string, RegistryKeyState>();
  for (const entry of s.registry) {
    const c = canonicalRegistryPath(entry.path, entry.view);
    const values = new Map<string, RegistryValue>();
    for (const v of entry.values ?? []) values.set(v.name.toLowerCase(), v);
    registry.set(`${c.view}:${c.path.toLowerCase()}`, {
      path: c.path,
      view: c.view,
      exists: entry.exists,
      lastWriteTime: epochMs(entry.lastWriteTime),
      values,
      error: entry.error,
    });
  }
  const services = new Map<string, ServiceState>();
  for (const svc of s.services) services.set(svc.name.toLowerCase(), { ...svc, nameLower: svc.name.toLowerCase() });
  return {
    snapshotId: s.snapshotId.toLowerCase(),
    collectedAt: Date.parse(s.collectedAt),
    collector: s.collector,
    host: s.host,
    serverId: serverIdOf(s.host),
    registry,
    services,
    files: s.files.map((f) => ({ ...f, lastWriteTimeMs: epochMs(f.lastWriteTime) })),
  };
}

/** The key at `path` in `view`, if the snapshot holds it. */
export function getKey(s: NormalisedSnapshot, path: string, view: RegistryView): RegistryKeyState | undefined {
  return s.registry.get(registryKeyId(path, view));
}

/** Keys strictly below `path` in `view` (a recursed branch is sent flat, one entry per key). */
export function keysBelow(s: NormalisedSnapshot, path: string, view: RegistryView): RegistryKeyState[] {
  const prefix = registryKeyId(path, view) + '\\';
  const out: RegistryKeyState[] = [];
  for (const [id, key] of s.registry) if (id.startsWith(prefix)) out.push(key);
  return out;
}

export function getService(s: NormalisedSnapshot, name: string): ServiceState | undefined {
  return s.services.get(name.toLowerCase());
}

export function getValue(key: RegistryKeyState | undefined, name: string): RegistryValue | undefined {
  return key?.values.get(name.toLowerCase());
}
