// The one way in: raw JSON value → validated, normalised snapshot, or a list of issues, each a
// path and one sentence. A snapshot that fails here never reaches a rule.
import type { z } from 'zod';
import { normaliseSnapshot, registryKeyId, type NormalisedSnapshot } from './normalise';
import { snapshotSchema, type Snapshot } from './schema';

export interface ContractIssue {
  /** Dotted path with indices, e.g. `registry[2].values[0].type`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly normalised: NormalisedSnapshot }
  | { readonly ok: false; readonly issues: readonly ContractIssue[] };

export interface ParseOptions {
  /** The receiver's clock, epoch ms (injectable for tests). */
  readonly now?: number;
  /** How far in the future `collectedAt` may be; the contract says 5 minutes. */
  readonly maxFutureMs?: number;
}

export const MAX_FUTURE_MS = 5 * 60 * 1000;

export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function fromZod(error: z.ZodError): ContractIssue[] {
  return error.issues.map((i) => ({ path: formatIssuePath(i.path), message: describe(i) }));
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return 'unknown value: expected one of the types the contract lists';
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return `is required (${issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}) but missing`;
  }
  if (issue.code === 'invalid_type') return `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}`;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message;
}

export function parseSnapshot(input: unknown, options: ParseOptions = {}): ParseResult {
  const parsed = snapshotSchema.safeParse(input);
  if (!parsed.success) return { ok: false, issues: fromZod(parsed.error) };
  const snapshot = parsed.data;
  const issues: ContractIssue[] = [];

  const now = options.now ?? Date.now();
  const maxFuture = options.maxFutureMs ?? MAX_FUTURE_MS;
  if (Date.parse(snapshot.collectedAt) > now + maxFuture) {
    issues.push({
      path: 'collectedAt',
      message: `collectedAt is more than ${Math.round(maxFuture / 60000)} minutes in the future of the receiver's clock`,
    });
  }

  const seenKeys = new Map<string, number>();
  snapshot.registry.forEach((entry, i) => {
    const id = registryKeyId(entry.path, entry.view);
    const first = seenKeys.get(id);
    if (first !== undefined) {
      issues.push({ path: `registry[${i}]`, message: `the same key and view as registry[${first}] (paths compare case-insensitively, Wow6432Node means view "32")` });
    } else seenKeys.set(id, i);
    const names = new Set<string>();
    entry.values?.forEach((v, j) => {
      const lower = v.name.toLowerCase();
      if (names.has(lower)) issues.push({ path: `registry[${i}].values[${j}].name`, message: 'a value name may appear only once per key (names compare case-insensitively)' });
      names.add(lower);
    });
  });

  const services = new Set<string>();
  snapshot.services.forEach((svc, i) => {
    const lower = svc.name.toLowerCase();
    if (services.has(lower)) issues.push({ path: `services[${i}].name`, message: 'a service may appear only once (names compare case-insensitively)' });
    services.add(lower);
  });

  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, snapshot, normalised: normaliseSnapshot(snapshot) };
}
