// A waiver on the wire: the PUT body an admin sends, checked field by field (every refusal one
// sentence naming the field), and the view GET answers. Storage and the fleet play no part here;
// waivers.ts looks the server up and stores the change.
import { findRule } from '../rules/registry';
import type { Rule } from '../rules/types';
import { asciiLower } from '../snapshot/normalise';
import type { StoredWaiver, WaiverRecord, WaiverState } from '../store';
import { ApiError } from './errors';
import { requiredServerId, requiredText } from './free-text';
import { isoInstant as iso, parseIsoInstant } from './iso-time';

const DAY_MS = 24 * 60 * 60 * 1000;
export const WAIVER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PATTERN = /^[a-z0-9_.*?-]{1,253}$/;
const FIELDS = new Set(['id', 'rule', 'server', 'serverPattern', 'justification', 'grantedBy', 'expiresAt']);
/**
 * What GET and PUT answer besides the fields a PUT sets. A body read from GET may be sent back as it
 * is (as a resource manager ignores the read-only properties of a PUT): these are ignored, not
 * refused, since the service sets them; anything else unknown is a typo and refused.
 */
const READ_ONLY = new Set(['grantedAt', 'changedAt', 'state', 'endedAt', 'revision', 'coveredServers', 'coveredServersAtLeast', 'warnings']);

const invalid = (message: string) => new ApiError('invalid_waiver', message);
const text = (body: Record<string, unknown>, name: string, max: number): string => requiredText(body, name, max, invalid);

export interface WaiverInput {
  readonly ruleId: string;
  readonly server?: string;
  readonly serverPattern?: string;
  readonly justification: string;
  readonly grantedBy: string;
  readonly expiresAt: number;
}

export interface WaiverBodyOptions {
  readonly rules: readonly Rule[];
  /** Epoch ms: the end must lie after it, and at most `maxDays` beyond it. */
  readonly now: number;
  readonly maxDays: number;
}

/** Checks the PUT body of waiver `id`; every problem is one sentence naming the field. */
export function readWaiverBody(id: string, doc: unknown, { rules, now, maxDays }: WaiverBodyOptions): WaiverInput {
  if (!WAIVER_ID.test(id)) throw invalid('The waiver id must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('The body must be one JSON object describing the waiver.');
  const body = doc as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !FIELDS.has(k) && !READ_ONLY.has(k));
  if (unknown !== undefined) throw invalid(`Unknown field "${unknown.slice(0, 50)}"; a waiver has rule, server or serverPattern, justification, grantedBy and expiresAt.`);
  if (body.id !== undefined && body.id !== id) throw invalid('The "id" in the body must match the id in the path.');
  const ruleName = text(body, 'rule', 100);
  const rule = findRule(ruleName.toLowerCase(), rules);
  if (!rule) throw invalid(`Unknown rule "${ruleName}"; the rules are ${rules.map((r) => r.id).join(', ')}.`);
  // GET shows the one of server and serverPattern a waiver does not have as null: null is "none".
  const hasServer = body.server !== undefined && body.server !== null;
  const hasPattern = body.serverPattern !== undefined && body.serverPattern !== null;
  if (hasServer === hasPattern) throw invalid('Give exactly one of "server" (a server id) and "serverPattern" (with * or ? wildcards).');
  let server: string | undefined;
  let serverPattern: string | undefined;
  if (hasServer) {
    server = requiredServerId(body, 'server', invalid);
  } else {
    serverPattern = asciiLower(text(body, 'serverPattern', 253));
    if (!PATTERN.test(serverPattern)) throw invalid('"serverPattern" may hold only letters, digits, dots, dashes, underscores and the wildcards * and ?.');
    if (!/[*?]/.test(serverPattern)) throw invalid('"serverPattern" has no wildcard; use "server" for one server.');
    if (!/[a-z0-9_-]/.test(serverPattern)) throw invalid('"serverPattern" must name some servers, not the whole fleet; a waiver may not silence a rule for everyone.');
  }
  const justification = text(body, 'justification', 2000);
  const grantedBy = text(body, 'grantedBy', 200);
  const rawExpiry = body.expiresAt;
  if (rawExpiry === undefined) throw invalid('"expiresAt" is required: every waiver needs an end date.');
  const expiresAt = typeof rawExpiry === 'string' ? parseIsoInstant(rawExpiry.trim(), { requireZone: true }) : undefined;
  if (expiresAt === undefined) throw invalid('"expiresAt" must be an existing ISO 8601 date and time with a zone, such as 2027-03-31T00:00:00Z.');
  if (expiresAt <= now) throw invalid('"expiresAt" must be in the future.');
  if (expiresAt > now + maxDays * DAY_MS) throw invalid(`"expiresAt" may be at most ${maxDays} days from now (POSTURE_WAIVER_MAX_DAYS).`);
  return { ruleId: rule.id, server, serverPattern, justification, grantedBy, expiresAt };
}

type Timed = Pick<WaiverRecord, 'state' | 'expiresAt'>;

/** Stored as active but past its end at `now`: the expiry timer has yet to end it (and a change ends it first). */
export const overdueAt = (w: Timed, now: number): boolean => w.state === 'active' && w.expiresAt <= now;

/** In force at `now`: stored as active and not yet past its end. */
export const inForceAt = (w: Timed, now: number): boolean => w.state === 'active' && w.expiresAt > now;

/** A waiver's state at `now`: an active one past its end is expired before the timer stores it so. */
export const waiverStateAt = (w: Timed, now: number): WaiverState => (overdueAt(w, now) ? 'expired' : w.state);

/** The waiver as GET answers it, in its state at `now`. */
export function waiverView(w: StoredWaiver | WaiverRecord, now: number) {
  return {
    id: w.id,
    rule: w.ruleId,
    server: w.server ?? null,
    serverPattern: w.serverPattern ?? null,
    justification: w.justification,
    grantedBy: w.grantedBy,
    grantedAt: iso(w.grantedAt),
    expiresAt: iso(w.expiresAt),
    changedAt: iso(w.changedAt),
    state: waiverStateAt(w, now),
    endedAt: w.endedAt === undefined ? null : iso(w.endedAt),
    revision: w.revision,
  };
}
