// Where each VirusScan Enterprise generation keeps its "installed" key and its
// BehaviourBlocking (Access Protection) branch. Both registry views are searched: VSE is a
// 32-bit product, so on 64-bit Windows its keys normally sit in view "32" (Wow6432Node).
import type { RegistryView } from '../../snapshot/normalise';
import type { ManifestFileEntry } from '../../snapshot/schema';
import { SMTP_SERVICES } from '../common/smtp-services';

export type Generation = 'VSE80i' | 'VSE85-87' | 'VSE88';

export const GENERATIONS: readonly Generation[] = ['VSE80i', 'VSE85-87', 'VSE88'];

export const INSTALLED_KEYS = {
  /** VSE 8.0i (Tenable plugin 12107). */
  nai: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion',
  /** VSE 8.5i, 8.7i and 8.8. */
  mcafee: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection',
} as const;

export const BEHAVIOUR_BLOCKING_KEYS: Readonly<Record<Generation, string>> = {
  VSE80i: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking',
  'VSE85-87': 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking',
  VSE88: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking',
};

/** Views in the order a 32-bit product is most likely to be found. */
export const VIEWS: readonly RegistryView[] = ['32', '64'];

/** How deep the collector recurses below a BehaviourBlocking key. */
export const BEHAVIOUR_BLOCKING_DEPTH = 3;

export const SERVICES = {
  scanner: 'McShield',
  smtp: SMTP_SERVICES,
} as const;

/**
 * Values of a BehaviourBlocking key that name the access-protection log (environment variables
 * allowed, e.g. `%DEFLOGDIR%\AccessProtectionLog.txt`). Every generation has them; the order is
 * the order the collector tries them in.
 */
export const LOG_PATH_VALUES: readonly string[] = ['szLogFileName', 'szLogFileName_Ent'];

export const ACCESS_LOG_TAIL_BYTES = 65536;

const logPathFrom = (...generations: Generation[]) =>
  generations.flatMap((g) => LOG_PATH_VALUES.map((valueName) => ({ registryPath: BEHAVIOUR_BLOCKING_KEYS[g], valueName })));

/**
 * AccessProtectionLog.txt at its default paths (8.0i and 8.5+ folders, pre-2008 and 2008+ profile
 * roots), each read from the path its generation's settings name when they name one.
 */
export const ACCESS_LOG_FILES: readonly ManifestFileEntry[] = [
  { path: '%ALLUSERSPROFILE%\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt', tailBytes: ACCESS_LOG_TAIL_BYTES, pathFrom: logPathFrom('VSE80i') },
  { path: '%ALLUSERSPROFILE%\\Application Data\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', tailBytes: ACCESS_LOG_TAIL_BYTES, pathFrom: logPathFrom('VSE88', 'VSE85-87') },
  { path: '%ProgramData%\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', tailBytes: ACCESS_LOG_TAIL_BYTES, pathFrom: logPathFrom('VSE88', 'VSE85-87') },
];

export const ACCESS_LOG_NAME = 'accessprotectionlog.txt';

/** Generation of a VSE 8.5+ install from its `szProductVer` (e.g. "8.8.0.1804"). */
export function generationFromVersion(version: string | undefined): Generation | undefined {
  const m = /^\s*(\d+)\.(\d+)/.exec(String(version));
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 8 && minor === 0) return 'VSE80i';
  if (major === 8 && minor >= 5 && minor < 8) return 'VSE85-87';
  if (major > 8 || (major === 8 && minor >= 8)) return 'VSE88';
  return undefined;
}
