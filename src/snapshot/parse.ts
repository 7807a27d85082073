// The one way in: raw JSON value → validated, normalised snapshot, or a list of issues, each a
// path and one sentence. A snapshot that fails here never reaches a rule.
import type { z } from 'zod';
import { normaliseSnapshot, registryKeyId, type NormalisedSnapshot } from './normalise';
import { HALF_CHARACTER_ISSUE, snapshotSchema, type Snapshot } from './schema';

export interface ContractIssue {
  /** Dotted path with indices, e.g. `registry[2].values[0].type`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

/** A `collectedAt` further ahead of the receiver's clock than allowed: by how much, and the allowance (ms). */
export interface CollectedAhead {
  readonly aheadMs: number;
  readonly maxFutureMs: number;
}

export interface ParseFailure {
  readonly ok: false;
  readonly issues: readonly ContractIssue[];
  /**
   * Set when one of `issues` is a `collectedAt` too far in the future. Unlike every other issue,
   * that one goes away by itself as time passes, so a receiver may want to answer it apart.
   */
  readonly collectedAhead?: CollectedAhead;
}

export type ParseResult = { readonly ok: true; readonly snapshot: Snapshot; readonly normalised: NormalisedSnapshot } | ParseFailure;

export interface ParseOptions {
  /** The receiver's clock, epoch ms (injectable for tests). */
  readonly now?: number;
  /** How far in the future `collectedAt` may be; the contract says 5 minutes. */
  readonly maxFutureMs?: number;
}

export const MAX_FUTURE_MS = 5 * 60 * 1000;
/**
 * The earliest `collectedAt` taken: no server this reads ran before 2000 (Exchange 2003 is the
 * oldest), so an earlier time is a host clock that is wrong. Taken, it would also sort wrongly:
 * event keys count time from 1970 and cannot hold an earlier one.
 */
export const EARLIEST_COLLECTED_AT = '2000-01-01T00:00:00.000Z';

export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Zod's issues in the contract's words (one message per field, the same wording everywhere). */
export function contractIssues(error: z.ZodError): ContractIssue[] {
  return error.issues.map((i) => ({ path: formatIssuePath(i.path), message: describeIssue(i) }));
}

const TYPE_NAMES: Readonly<Record<string, string>> = { int: 'an integer', array: 'an array', object: 'an object' };
const typeName = (t: string): string => TYPE_NAMES[t] ?? `a ${t}`;
const plural = (n: number | bigint, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "at least 1 character long", "at most 500 items", "at most 840": the bound in the value's own terms. */
function bound(origin: string, limit: number | bigint, inclusive: boolean | undefined, least: boolean): string | undefined {
  const word = least ? 'at least' : 'at most';
  if (origin === 'string') return `must be ${word} ${plural(limit, 'character')} long`;
  if (origin === 'array') return `must have ${word} ${plural(limit, 'item')}`;
  if (origin === 'number' || origin === 'int') return inclusive === false ? `must be ${least ? 'greater' : 'less'} than ${limit}` : `must be ${word} ${limit}`;
  return undefined;
}

const FORMATS: Readonly<Record<string, string>> = {
  datetime: 'must be an ISO 8601 date and time with an offset, such as 2026-11-28T01:00:00Z',
  base64: 'must be base64',
};

/**
 * A field left out, told the same way whatever the field's own message says. Parsed with
 * `reportInput`, an issue carries the input it met (undefined: absent); without it, zod's default
 * message is the only sign.
 */
function isMissing(issue: z.core.$ZodIssue): boolean {
  return 'input' in issue ? issue.input === undefined : issue.message.endsWith('received undefined');
}

/** One sentence per issue, in the contract's words rather than zod's. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_union':
      // zod notes a discriminated union whose discriminator matched no option (not in its issue type).
      return (issue as { note?: unknown }).note === 'No matching discriminator' ? 'unknown value: expected one of the types the contract lists' : issue.message;
    case 'invalid_type':
      return isMissing(issue) ? `is required (${typeName(issue.expected)}) but missing` : `must be ${typeName(issue.expected)}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
      return isMissing(issue) ? `is required (one of ${values}) but missing` : `must be one of ${values}`;
    }
    case 'too_small':
      return bound(issue.origin, issue.minimum, issue.inclusive, true) ?? issue.message;
    case 'too_big':
      return bound(issue.origin, issue.maximum, issue.inclusive, false) ?? issue.message;
    case 'invalid_format':
      return FORMATS[issue.format] ?? issue.message;
    default:
      return issue.message;
  }
}

/**
 * The first string holding half a character, of all of them: a tail or a REG_MULTI_SZ can hold
 * thousands, and one path tells the sender what to look at.
 */
function firstHalfCharacter(issues: readonly ContractIssue[]): ContractIssue[] {
  const first = issues.findIndex((i) => i.message === HALF_CHARACTER_ISSUE);
  return issues.filter((i, at) => i.message !== HALF_CHARACTER_ISSUE || at === first);
}

export function parseSnapshot(input: unknown, options: ParseOptions = {}): ParseResult {
  const parsed = snapshotSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) return { ok: false, issues: firstHalfCharacter(contractIssues(parsed.error)) };
  const snapshot = parsed.data;
  const issues: ContractIssue[] = [];
  let collectedAhead: CollectedAhead | undefined;

  const now = options.now ?? Date.now();
  const maxFuture = options.maxFutureMs ?? MAX_FUTURE_MS;
  const collectedAt = Date.parse(snapshot.collectedAt);
  if (collectedAt > now + maxFuture) {
    collectedAhead = { aheadMs: collectedAt - now, maxFutureMs: maxFuture };
    issues.push({
      path: 'collectedAt',
      message: `collectedAt is more than ${Math.round(maxFuture / 60000)} minutes in the future of the receiver's clock`,
    });
  } else if (collectedAt < Date.parse(EARLIEST_COLLECTED_AT)) {
    issues.push({ path: 'collectedAt', message: `collectedAt is before ${EARLIEST_COLLECTED_AT.slice(0, 10)}, so the host's clock is wrong` });
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
      // Stryker disable next-line MethodExpression: any one case folding works as the key.
      const lower = v.name.toLowerCase();
      if (names.has(lower)) issues.push({ path: `registry[${i}].values[${j}].name`, message: 'a value name may appear only once per key (names compare case-insensitively)' });
      names.add(lower);
    });
  });

  const services = new Set<string>();
  snapshot.services.forEach((svc, i) => {
    // Stryker disable next-line MethodExpression: any one case folding works as the key.
    const lower = svc.name.toLowerCase();
    if (services.has(lower)) issues.push({ path: `services[${i}].name`, message: 'a service may appear only once (names compare case-insensitively)' });
    services.add(lower);
  });

  if (issues.length > 0) return collectedAhead ? { ok: false, issues, collectedAhead } : { ok: false, issues };
  return { ok: true, snapshot, normalised: normaliseSnapshot(snapshot) };
}

/**
 * The future `collectedAt` of a failed parse when it is the only issue: the document is otherwise
 * right, and the same snapshot is taken once the receiver's clock has caught up. Undefined when
 * anything else is wrong too (then the document needs fixing whatever the time).
 */
export function onlyCollectedAhead(failure: ParseFailure): CollectedAhead | undefined {
  return failure.issues.length === 1 ? failure.collectedAhead : undefined;
}
