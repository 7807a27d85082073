// Settings for the local host: local.settings.json's "Values" (what Core Tools reads), then the
// environment, then built-in development keys so `npm start` works on a fresh clone.
import { existsSync, readFileSync } from 'node:fs';
import { loadSettings, type Settings } from '../app/settings';

export const DEV_KEYS = { ingest: 'dev-ingest-key', reader: 'dev-reader-key', admin: 'dev-admin-key', enrolment: 'dev-enrolment-secret' } as const;

/** The settings that hold keys or the enrolment secret. */
const KEY_SETTINGS = ['POSTURE_INGEST_KEYS', 'POSTURE_READER_KEYS', 'POSTURE_ADMIN_KEYS', 'POSTURE_ENROLMENT_SECRETS'] as const;
export type KeySetting = (typeof KEY_SETTINGS)[number];

const BUILT_IN = 'built-in development keys';

export interface LocalSettings {
  readonly settings: Settings;
  /** Where the keys came from, for the start-up banner. */
  readonly keySource: string;
  /** Per key setting, where its value was read (the file's path, the environment, or BUILT_IN); absent when unset. */
  readonly keyOrigins: Partial<Record<KeySetting, string>>;
}

export function readLocalSettingsFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const values = (doc as { Values?: unknown } | null)?.Values;
  if (!values || typeof values !== 'object') return {};
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Settings for a local run against Azurite at `connectionString`. */
export function localSettings(connectionString: string, file = 'local.settings.json', env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const fromFile = readLocalSettingsFile(file);
  const fromEnv = pick(env);
  const merged: Record<string, string | undefined> = { ...fromFile, ...fromEnv };
  const hasKeys = !!(merged.POSTURE_INGEST_KEYS || merged.POSTURE_READER_KEYS || merged.POSTURE_ADMIN_KEYS);
  if (!hasKeys) {
    merged.POSTURE_INGEST_KEYS = DEV_KEYS.ingest;
    merged.POSTURE_READER_KEYS = DEV_KEYS.reader;
    merged.POSTURE_ADMIN_KEYS = DEV_KEYS.admin;
  }
  // Collectors enrol for their server key; locally with the development secret.
  merged.POSTURE_ENROLMENT_SECRETS ||= DEV_KEYS.enrolment;
  // Per setting, the source whose value is used: a file value the environment overrides was not
  // read, so a file kept for other values, or overridden key by key, does not pass for a source.
  const keyOrigins: Partial<Record<KeySetting, string>> = {};
  for (const name of KEY_SETTINGS) {
    const origin = fromEnv[name] ? 'the environment' : fromFile[name] ? file : merged[name] ? BUILT_IN : undefined;
    if (origin) keyOrigins[name] = origin;
  }
  const used = new Set(Object.values(keyOrigins));
  const keySource = [file, 'the environment', BUILT_IN].filter((source) => used.has(source)).join(', ');
  // No continuation-token secret is made up here: unset, the service keeps one in its storage, so
  // with --persist a page's token still opens after a restart.
  // The local host always talks to the Azurite it started.
  merged.POSTURE_STORAGE_CONNECTION_STRING = connectionString;
  merged.POSTURE_TABLE_ENDPOINT = undefined;
  return { settings: loadSettings(merged), keySource, keyOrigins };
}

function pick(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('POSTURE_') && typeof e[1] === 'string' && e[1] !== ''));
}
