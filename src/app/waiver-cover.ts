// Which waiver covers a server's result of a rule: read at every query and alert, never copied onto
// results, so granting or ending a waiver is one write however many servers it names.
import { globMatch } from '../rules/common/glob';
import type { WaiverRecord } from '../store';
import { isFinding } from './findings';

/** Does the waiver name this server (exactly, or by its `*`/`?` pattern, case-insensitive)? */
export function waiverMatches(w: Pick<WaiverRecord, 'server' | 'serverPattern'>, server: string): boolean {
  if (w.server !== undefined) return w.server === server;
  return w.serverPattern !== undefined && globMatch(w.serverPattern, server.toLowerCase());
}

/** The waiver that covers (server, rule) among `active`: an exact one first, else the longest-running pattern. */
export function coverOf<W extends WaiverRecord>(active: readonly W[], server: string, ruleId: string): W | undefined {
  let best: W | undefined;
  for (const w of active) {
    if (w.ruleId !== ruleId || !waiverMatches(w, server)) continue;
    if (!best || (w.server !== undefined && best.server === undefined) || ((w.server === undefined) === (best.server === undefined) && w.expiresAt > best.expiresAt)) best = w;
  }
  return best;
}

/**
 * The waiver a result is flagged with: only a failing one (Warning or Error), the findings a waiver
 * accepts and the summary counts as waived; a passing result in a waiver's scope is not waived.
 */
export function waiverOfResult<W extends WaiverRecord>(active: readonly W[], r: { server: string; ruleId: string; status: string }): W | undefined {
  return isFinding(r.status) ? coverOf(active, r.server, r.ruleId) : undefined;
}
