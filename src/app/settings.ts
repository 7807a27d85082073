// Every app setting the service reads, in one place: the infra cross-check test compares this
// list with the settings the Bicep sets. Read once at start-up from process.env.

/** Setting names the code reads (the platform's own, like AzureWebJobsStorage, are not listed). */
export const SETTING_NAMES = [
  'POSTURE_STORAGE_CONNECTION_STRING',
  'POSTURE_TABLE_ENDPOINT',
  'AZURE_CLIENT_ID',
  'POSTURE_TABLE_PREFIX',
  'POSTURE_INGEST_KEYS',
  'POSTURE_READER_KEYS',
  'POSTURE_ADMIN_KEYS',
  'POSTURE_MAX_SNAPSHOT_BYTES',
  'POSTURE_STALE_AFTER_MINUTES',
  'POSTURE_WAIVER_MAX_DAYS',
  'POSTURE_REEVALUATE_BATCH_SIZE',
  // Trust: enrolment, the shared-key migration switch, the per-server rate limit.
  'POSTURE_ENROLMENT_SECRETS',
  'POSTURE_ALLOW_SHARED_INGEST_KEYS',
  'POSTURE_RATE_LIMIT_BURST',
  'POSTURE_RATE_LIMIT_PER_MINUTE',
  // Hostile input and recovery: sealed continuation tokens, re-enrolment governance.
  'POSTURE_CONTINUATION_TOKEN_SECRET',
  'POSTURE_REENROLMENT',
  // The projector timer's NCRONTAB schedule (the Functions host reads it as %POSTURE_PROJECTOR_SCHEDULE%).
  'POSTURE_PROJECTOR_SCHEDULE',
  // Memory per instance for the rows of the servers it last committed (a post then skips its read).
  'POSTURE_REMEMBERED_ROWS_MB',
] as const;

export type SettingName = (typeof SETTING_NAMES)[number];

export interface Settings {
  /** Local/dev: a connection string (e.g. UseDevelopmentStorage=true). */
  readonly storageConnectionString?: string;
  /** Azure: https://<account>.table.core.windows.net, used with DefaultAzureCredential. */
  readonly tableEndpoint?: string;
  /** Client id of the user-assigned managed identity (read by DefaultAzureCredential). */
  readonly managedIdentityClientId?: string;
  /** Prefix for table names, so tests and environments can share one account. */
  readonly tablePrefix: string;
  readonly ingestKeys: readonly string[];
  readonly readerKeys: readonly string[];
  readonly adminKeys: readonly string[];
  readonly maxSnapshotBytes: number;
  /** A server that has not posted for longer than this is marked stale (default 180). */
  readonly staleAfterMinutes: number;
  /** The longest a waiver may run, from now (default 180). */
  readonly waiverMaxDays: number;
  /** Servers re-evaluated per batch after a rule change (default 50). */
  readonly reevaluateBatchSize: number;
  /** Fleet enrolment secrets (a list, so a new one can be added before the old is removed). */
  readonly enrolmentSecrets: readonly string[];
  /** Migration only: shared ingest keys may post for any host. Default false (server keys only). */
  readonly allowSharedIngestKeys: boolean;
  /** The projector timer's schedule: six NCRONTAB fields, seconds first (default every 5 s). */
  readonly projectorSchedule: string;
  /** Per-server token bucket: requests a server may make at once, and tokens refilled per minute. */
  readonly rateLimitBurst: number;
  readonly rateLimitPerMinute: number;
  /**
   * HMAC key that seals continuation tokens, shared by every instance (a token from one page is
   * valid on any instance). Unset: a random one the first instance stores in the Lifecycle table
   * and every instance reads (src/store/shared-secret.ts).
   */
  readonly continuationTokenSecret?: string;
  /**
   * Re-enrolment of a server that already has a key: 'open' (the enrolment secret suffices, the
   * default) or 'approval' (it also needs the server's current key, or an admin's approval).
   */
  readonly reenrolment: ReenrolmentPolicy;
  /**
   * Memory, in MB as estimated, an instance gives to the rows its commits of one-rule servers left,
   * so the servers' next posts skip their read; 0: none, every post reads its row first.
   */
  readonly rememberedRowsMb: number;
}

export const REENROLMENT_POLICIES = ['open', 'approval'] as const;
export type ReenrolmentPolicy = (typeof REENROLMENT_POLICIES)[number];

/** The shortest continuation-token secret accepted (a GUID has 36 characters). */
export const MIN_TOKEN_SECRET_CHARS = 32;

function list(value: string | undefined): string[] {
  return (value ?? '').split(/[,;\s]/).filter((s) => s !== '');
}

/** A whole number of at least `min` (1 unless 0 means something). */
function wholeNumber(name: SettingName, value: string | undefined, fallback: number, min: 0 | 1 = 1): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`Setting ${name} must be ${min === 0 ? '0 or ' : ''}a positive integer, not ${JSON.stringify(value)}.`);
  return n;
}

/**
 * The stale interval's bounds. Collectors post hourly with a random delay of up to 50 minutes, so
 * one on schedule may be silent 110 minutes; below 120 such servers would turn stale, and a
 * returning one could wait past the hourly Hosts refresh that clears the mark. Above 30 days the
 * last-seen index's hours leave the range of a date.
 */
export const STALE_AFTER_RANGE = { min: 120, max: 30 * 24 * 60 } as const;

function staleAfter(value: string | undefined): number {
  if (value === undefined || value === '') return 180;
  const n = Number(value);
  const { min, max } = STALE_AFTER_RANGE;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`Setting POSTURE_STALE_AFTER_MINUTES must be a whole number of minutes from ${min} to ${max} (collectors on schedule post up to 110 minutes apart), not ${JSON.stringify(value)}.`);
  }
  return n;
}

function flag(name: SettingName, value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return false;
  if (/^(true|1|yes)$/i.test(value.trim())) return true;
  if (/^(false|0|no)$/i.test(value.trim())) return false;
  throw new Error(`Setting ${name} must be true or false, not ${JSON.stringify(value)}.`);
}

function secret(name: SettingName, value: string | undefined, min: number): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (v.length < min) throw new Error(`Setting ${name} must be at least ${min} characters long.`);
  return v;
}

function oneOf<T extends string>(name: SettingName, value: string | undefined, allowed: readonly T[], fallback: T): T {
  const v = value?.trim().toLowerCase();
  if (!v) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`Setting ${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}.`);
  return v as T;
}

/** Six space-separated NCRONTAB fields (seconds, minutes, hours, day, month, weekday). */
function ncrontab(name: SettingName, value: string | undefined, fallback: string): string {
  if (value === undefined || value.trim() === '') return fallback;
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 6 || !fields.every((f) => /^[0-9*/,-]+$|^[A-Za-z]{3}(?:-[A-Za-z]{3})?$/.test(f))) {
    throw new Error(`Setting ${name} must be an NCRONTAB schedule of six fields, seconds first (e.g. "*/5 * * * * *"), not ${JSON.stringify(value)}.`);
  }
  return fields.join(' ');
}

export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  return {
    storageConnectionString: env.POSTURE_STORAGE_CONNECTION_STRING || undefined,
    tableEndpoint: env.POSTURE_TABLE_ENDPOINT || undefined,
    managedIdentityClientId: env.AZURE_CLIENT_ID || undefined,
    tablePrefix: env.POSTURE_TABLE_PREFIX ?? '',
    ingestKeys: list(env.POSTURE_INGEST_KEYS),
    readerKeys: list(env.POSTURE_READER_KEYS),
    adminKeys: list(env.POSTURE_ADMIN_KEYS),
    maxSnapshotBytes: wholeNumber('POSTURE_MAX_SNAPSHOT_BYTES', env.POSTURE_MAX_SNAPSHOT_BYTES, 1024 * 1024),
    staleAfterMinutes: staleAfter(env.POSTURE_STALE_AFTER_MINUTES),
    waiverMaxDays: wholeNumber('POSTURE_WAIVER_MAX_DAYS', env.POSTURE_WAIVER_MAX_DAYS, 180),
    reevaluateBatchSize: Math.min(500, wholeNumber('POSTURE_REEVALUATE_BATCH_SIZE', env.POSTURE_REEVALUATE_BATCH_SIZE, 50)),
    enrolmentSecrets: list(env.POSTURE_ENROLMENT_SECRETS),
    allowSharedIngestKeys: flag('POSTURE_ALLOW_SHARED_INGEST_KEYS', env.POSTURE_ALLOW_SHARED_INGEST_KEYS),
    rateLimitBurst: wholeNumber('POSTURE_RATE_LIMIT_BURST', env.POSTURE_RATE_LIMIT_BURST, 30),
    rateLimitPerMinute: wholeNumber('POSTURE_RATE_LIMIT_PER_MINUTE', env.POSTURE_RATE_LIMIT_PER_MINUTE, 6),
    continuationTokenSecret: secret('POSTURE_CONTINUATION_TOKEN_SECRET', env.POSTURE_CONTINUATION_TOKEN_SECRET, MIN_TOKEN_SECRET_CHARS),
    reenrolment: oneOf('POSTURE_REENROLMENT', env.POSTURE_REENROLMENT, REENROLMENT_POLICIES, 'open'),
    projectorSchedule: ncrontab('POSTURE_PROJECTOR_SCHEDULE', env.POSTURE_PROJECTOR_SCHEDULE, '*/5 * * * * *'),
    rememberedRowsMb: wholeNumber('POSTURE_REMEMBERED_ROWS_MB', env.POSTURE_REMEMBERED_ROWS_MB, 32, 0),
  };
}
