// A drift baseline on the wire: the PUT body an admin sends (the server to measure against, and
// who set it), checked field by field, and the view GET and PUT answer. baselines.ts checks the
// server has a configuration recorded and stores the change.
import type { StoredBaseline } from '../store';
import { ApiError } from './errors';
import { requiredServerId, requiredText } from './free-text';
import { iso } from './present';

export interface BaselineInput {
  readonly server: string;
  readonly setBy: string;
}

const FIELDS = new Set(['server', 'setBy']);
const invalid = (message: string) => new ApiError('invalid_baseline', message);

/** Checks a baseline's PUT body; every problem is one sentence naming the field. */
export function readBaselineBody(doc: unknown): BaselineInput {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('The body must be one JSON object: {"server": "<server id>", "setBy": "<who>"}.');
  const body = doc as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw invalid(`Unknown field "${unknown.slice(0, 50)}"; a baseline has server and setBy.`);
  const server = requiredServerId(body, 'server', invalid);
  return { server, setBy: requiredText(body, 'setBy', 200, invalid) };
}

/** A named baseline as GET and PUT answer it (server null once cleared). */
export function baselineView(b: StoredBaseline) {
  return { rule: b.ruleId, server: b.server === '' ? null : b.server, setBy: b.setBy, setAt: iso(b.setAt), revision: b.revision };
}

/** A rule with no baseline named (yet, or any more): drift is measured against its largest cluster. */
export function noBaselineView(ruleId: string, revision = 0) {
  return { rule: ruleId, server: null, setBy: null, setAt: null, revision };
}
