// The wire contract v1 (docs/snapshot.md) as zod schemas. Every field rule of the
// contract is a validation rule here; checks that need the receiver's clock or the whole snapshot
// (future collectedAt, duplicate keys after normalisation) live in parse.ts.
import { z } from 'zod';
import { wholeCharacters } from './whole-characters';

export const SNAPSHOT_SCHEMA_ID = 'fleet-posture/snapshot@1';
export const MANIFEST_SCHEMA_ID = 'fleet-posture/manifest@1';

/** Upper bounds that keep one snapshot well inside the 1 MiB request limit and Table Storage. */
export const LIMITS = {
  registryEntries: 5000,
  valuesPerKey: 2000,
  multiSzItems: 10_000,
  services: 500,
  files: 50,
  tailChars: 1024 * 1024,
  textChars: 32_767,
  valueNameChars: 16_383,
  pathChars: 2048,
  pathSources: 16,
} as const;

const HIVE_PATTERN =
  /^(HKLM|HKCU|HKU|HKCR|HKCC|HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER|HKEY_USERS|HKEY_CLASSES_ROOT|HKEY_CURRENT_CONFIG)(\\[^\\]+)*$/i;

const isoDateTime = z.iso.datetime({ offset: true });

/** The issue of a string holding half of a UTF-16 surrogate pair (parse.ts keeps only the first). */
export const HALF_CHARACTER_ISSUE =
  'must be whole characters: it holds half of a UTF-16 surrogate pair (a character cut in two), which strict JSON readers of the answers cannot decode';

/**
 * A string the service may answer back (its answers quote snapshots' strings): whole characters.
 * Strings a pattern, format or enum already confines to ASCII need no such check.
 */
const wholeString = () => z.string().refine(wholeCharacters, { message: HALF_CHARACTER_ISSUE });

export const registryPathSchema = wholeString()
  .min(1)
  .max(LIMITS.pathChars)
  .refine((p) => !p.endsWith('\\'), { message: 'registry path must not end with a backslash' })
  .refine((p) => HIVE_PATTERN.test(p), {
    message: 'registry path must start with a hive (HKLM, HKCU, HKU, HKCR, HKCC or its long name) and have no empty segments',
  });

export const readErrorSchema = z.object({
  code: z.enum(['AccessDenied', 'NotFound', 'IoError', 'Timeout', 'Other']),
  message: wholeString().max(LIMITS.textChars).optional(),
});

const valueName = wholeString().max(LIMITS.valueNameChars);
const text = wholeString().max(LIMITS.textChars);
const UINT64_MAX = 18446744073709551615n;

export const registryValueSchema = z.discriminatedUnion('type', [
  z.object({ name: valueName, type: z.literal(['REG_SZ', 'REG_EXPAND_SZ']), data: text }),
  z.object({ name: valueName, type: z.literal('REG_MULTI_SZ'), data: z.array(text).max(LIMITS.multiSzItems) }),
  z.object({ name: valueName, type: z.literal('REG_DWORD'), data: z.int().min(0).max(4294967295) }),
  z.object({
    name: valueName,
    type: z.literal('REG_QWORD'),
    data: z
      .string()
      .regex(/^[0-9]{1,20}$/, { message: 'REG_QWORD data must be a string of decimal digits' })
      .refine((d) => !/^[0-9]{1,20}$/.test(d) || BigInt(d) <= UINT64_MAX, { message: 'REG_QWORD data must not exceed 18446744073709551615' }),
  }),
  z.object({
    name: valueName,
    type: z.literal([
      'REG_BINARY',
      'REG_NONE',
      'REG_DWORD_BIG_ENDIAN',
      'REG_LINK',
      'REG_RESOURCE_LIST',
      'REG_FULL_RESOURCE_DESCRIPTOR',
      'REG_RESOURCE_REQUIREMENTS_LIST',
    ]),
    data: z.base64().max(LIMITS.tailChars),
  }),
]);

export const registryEntrySchema = z
  .object({
    path: registryPathSchema,
    view: z.enum(['64', '32']),
    exists: z.boolean(),
    lastWriteTime: isoDateTime.optional(),
    values: z.array(registryValueSchema).max(LIMITS.valuesPerKey).optional(),
    error: readErrorSchema.optional(),
  })
  .refine((e) => e.exists || !e.values || e.values.length === 0, {
    message: 'a key that does not exist cannot carry values',
    path: ['values'],
  });

export const serviceSchema = z.object({
  name: wholeString().min(1).max(256),
  displayName: wholeString().max(256).nullable().optional(),
  state: wholeString().min(1).max(64),
  started: z.boolean(),
  startMode: wholeString().max(64).nullable().optional(),
  pathName: wholeString().max(LIMITS.pathChars).nullable().optional(),
  processId: z.int().min(0).max(4294967295).nullable().optional(),
});

/** The registry value a file's path was read from (present only when it came from one). */
export const filePathSourceSchema = z.object({
  registryPath: registryPathSchema,
  view: z.enum(['64', '32']),
  valueName: valueName,
});

export const fileSchema = z
  .object({
    path: wholeString().min(1).max(LIMITS.pathChars),
    pathFrom: filePathSourceSchema.optional(),
    exists: z.boolean(),
    size: z.int().min(0).optional(),
    lastWriteTime: isoDateTime.optional(),
    tail: wholeString().max(LIMITS.tailChars).optional(),
    error: readErrorSchema.optional(),
  })
  .refine((f) => f.exists || f.tail === undefined, { message: 'a file that does not exist cannot carry a tail', path: ['tail'] });

// A NetBIOS name or DNS label: letters, digits, hyphen (and underscore, which NetBIOS allows),
// not starting or ending with a hyphen.
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const FQDN = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

export const hostSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(HOST_LABEL, { message: 'host name must be 1-63 letters, digits, hyphens or underscores, not starting or ending with a hyphen' }),
  fqdn: z.string().max(253).regex(FQDN, { message: 'fqdn must be dot-separated host labels, at most 253 characters' }).optional(),
  os: z
    .object({
      caption: wholeString().max(256).optional(),
      version: wholeString().max(64).optional(),
      architecture: wholeString().max(64).optional(),
    })
    .optional(),
  utcOffsetMinutes: z.int().min(-720).max(840).optional(),
});

export const collectorSchema = z.object({
  name: wholeString().min(1).max(128),
  version: wholeString().min(1).max(64),
  manifestVersion: wholeString().max(128).optional(),
});

export const snapshotSchema = z.object({
  schema: z.literal(SNAPSHOT_SCHEMA_ID),
  snapshotId: z.guid({ message: 'snapshotId must be a UUID' }),
  collectedAt: isoDateTime,
  collector: collectorSchema,
  host: hostSchema,
  registry: z.array(registryEntrySchema).max(LIMITS.registryEntries),
  services: z.array(serviceSchema).max(LIMITS.services),
  files: z.array(fileSchema).max(LIMITS.files).default([]),
});

export type Snapshot = z.output<typeof snapshotSchema>;
export type SnapshotInput = z.input<typeof snapshotSchema>;
export type RegistryEntry = z.output<typeof registryEntrySchema>;
export type RegistryValue = z.output<typeof registryValueSchema>;
export type RegistryValueType = RegistryValue['type'];
export type ServiceEntry = z.output<typeof serviceSchema>;
export type FileEntry = z.output<typeof fileSchema>;
export type ReadError = z.output<typeof readErrorSchema>;

export const manifestRegistryEntrySchema = z.object({
  path: registryPathSchema,
  recurse: z.boolean(),
  maxDepth: z.int().min(0).max(16).optional(),
});

/** A registry value that may name a file's path; the collector tries them in order, view "64" then "32". */
export const manifestPathSourceSchema = z.object({
  registryPath: registryPathSchema,
  valueName: valueName,
});

export const manifestFileEntrySchema = z.object({
  /** The default path, read when no `pathFrom` value names one. */
  path: z.string().min(1).max(LIMITS.pathChars),
  tailBytes: z.int().min(0).max(LIMITS.tailChars),
  pathFrom: z.array(manifestPathSourceSchema).max(LIMITS.pathSources).optional(),
});

export const manifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA_ID),
  version: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  registry: z.array(manifestRegistryEntrySchema),
  services: z.array(z.string().min(1).max(256)),
  files: z.array(manifestFileEntrySchema),
});

export type Manifest = z.output<typeof manifestSchema>;
export type ManifestRegistryEntry = z.output<typeof manifestRegistryEntrySchema>;
export type ManifestFileEntry = z.output<typeof manifestFileEntrySchema>;
export type ManifestPathSource = z.output<typeof manifestPathSourceSchema>;
export type FilePathSource = z.output<typeof filePathSourceSchema>;
