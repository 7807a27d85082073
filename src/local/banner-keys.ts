// How the start-up banner shows a key. The built-in development keys are printed whole (they are
// in the repository anyway); any other key is masked, since the banner ends up in terminal and CI
// logs, and the Try lines then read it from a shell variable the user exports.
import { DEV_KEYS, type KeySetting } from './settings-file';

export interface BannerKey {
  /** The key as the Keys line shows it: whole, or its first few characters and where it was set. */
  readonly shown: string;
  /** The x-api-key header argument of a curl line, ready to paste in bash. */
  readonly header: string;
  /** The shell variable the Try lines read, for a masked key. */
  readonly variable?: string;
  /** Where a masked key is set: the setting and its source. */
  readonly from?: string;
}

const BUILT_IN_VALUES: ReadonlySet<string> = new Set(Object.values(DEV_KEYS));

export function bannerKey(value: string | undefined, setting: KeySetting, origin: string | undefined, variable: string): BannerKey {
  if (value === undefined) return { shown: '-', header: `'x-api-key: <${variable}>'` };
  if (BUILT_IN_VALUES.has(value)) return { shown: value, header: `'x-api-key: ${value}'` };
  const from = `the first of ${setting} in ${origin ?? 'the settings'}`;
  // A few leading characters tell keys apart; never more than a quarter of the key, so a short
  // key is not printed whole (or nearly).
  const start = value.slice(0, Math.min(4, Math.floor(value.length / 4)));
  return { shown: `${start}… (${from})`, header: `"x-api-key: \${${variable}:?export ${variable} first: ${from}}"`, variable, from };
}

/** The line before the Try lines naming the variables to export, when any key is masked. */
export function exportNote(keys: readonly BannerKey[]): string | undefined {
  const masked = keys.filter((k) => k.variable);
  if (masked.length === 0) return undefined;
  return `# Keys are shown masked above: first export ${masked.map((k) => `${k.variable} (${k.from})`).join(' and ')}.`;
}
