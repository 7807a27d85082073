// Which VirusScan generation is installed, where it was found and its version.
import { getKey, getValue, type NormalisedSnapshot, type RegistryKeyState, type RegistryView } from '../../snapshot/normalise';
import { generationFromVersion, INSTALLED_KEYS, VIEWS, type Generation } from './locations';
import { readText } from './registry-values';

export interface KeyRef {
  readonly path: string;
  readonly view: RegistryView;
}

export interface Product {
  readonly generation: Generation;
  /** `szProductVer`, when readable. */
  readonly version: string | null;
  /** How the generation was decided: from the version, from the key family, or from which settings key exists. */
  readonly generationFrom: 'version' | 'installedKey' | 'settingsKey';
  readonly installedKey: KeyRef;
  /** Other installed keys found (leftovers of an upgrade, or the other view). */
  readonly alsoFound: KeyRef[];
  /** The installed key exists but could not be read. */
  readonly installedKeyError: string | null;
}

/** A key is there when the collector found it, or could not read it for a reason other than absence. */
export function keyIsThere(k: RegistryKeyState | undefined): k is RegistryKeyState {
  return k !== undefined && (k.exists || (k.error !== undefined && k.error.code !== 'NotFound'));
}

function found(s: NormalisedSnapshot, path: string): RegistryKeyState[] {
  return VIEWS.map((v) => getKey(s, path, v)).filter(keyIsThere);
}

/**
 * The newest generation wins when several are found. For the McAfee\DesktopProtection family the
 * version decides 8.5/8.7 vs 8.8; `settingsGeneration` breaks the tie when it cannot be read.
 */
export function detectProduct(s: NormalisedSnapshot, settingsGeneration: (view: RegistryView) => Generation | undefined): Product | undefined {
  const mcafee = found(s, INSTALLED_KEYS.mcafee);
  const nai = found(s, INSTALLED_KEYS.nai);
  const all = [...mcafee, ...nai];
  const key = all[0];
  if (!key) return undefined;
  const ver = getValue(key, 'szProductVer');
  const read = ver ? readText(ver) : undefined;
  const version = read?.ok && read.value.trim() !== '' ? read.value.trim() : null;
  const fromVersion = generationFromVersion(version ?? undefined);
  let generation: Generation;
  let generationFrom: Product['generationFrom'];
  if (key.path.toLowerCase() === INSTALLED_KEYS.nai.toLowerCase()) {
    generation = 'VSE80i';
    generationFrom = 'installedKey';
  } else if (fromVersion && fromVersion !== 'VSE80i') {
    generation = fromVersion;
    generationFrom = 'version';
  } else {
    const bySettings = settingsGeneration(key.view);
    generation = bySettings ?? 'VSE88';
    generationFrom = 'settingsKey';
  }
  return {
    generation,
    version,
    generationFrom,
    installedKey: { path: key.path, view: key.view },
    alsoFound: all.slice(1).map((k) => ({ path: k.path, view: k.view })),
    installedKeyError: key.error ? key.error.code : null,
  };
}

export function productLabel(p: Product): string {
  const base = { VSE80i: 'McAfee VirusScan Enterprise 8.0i', 'VSE85-87': 'McAfee VirusScan Enterprise 8.5i/8.7i', VSE88: 'McAfee VirusScan Enterprise 8.8' }[p.generation];
  return p.version ? `${base} (${p.version})` : base;
}
