// Whether a rule's stored results may still come from an older version of it: after a rule change
// the reevaluate timer works through the fleet in batches, and until it is done the servers it has
// not reached keep what the earlier version wrote. The drift and the summary both say so, each in
// terms of what the reader sees there (two clusters, mixed counts).
import { messageOf } from './errors';
import type { ApiContext } from './http-io';
import type { ReevalProgress } from './reevaluate';

/** A rule's re-evaluation still owed: the version it works towards, and what that means for the answer. */
export interface PendingReevaluation {
  readonly ruleVersion: string;
  readonly note: string;
}

/**
 * The version of the rule a re-evaluation is still owed against, or null when every server's rows
 * carry it: the pass of the loaded rule set is done, or it started from that version of the rule
 * (another rule changed). When the pass does not record where it started, it is owed.
 */
function owedVersion(progress: ReevalProgress | undefined, rule: { readonly id: string; readonly version: string }): string | null {
  const pass = progress?.pass;
  if (!pass || progress.upToDate) return null;
  // An instance of an older release names the version the newer release's pass is re-evaluating against.
  const version = pass.newerRelease ? (pass.ruleVersions[rule.id] ?? rule.version) : rule.version;
  const reached = pass.state === 'done' ? pass.ruleVersions[rule.id] : pass.fromRuleVersions?.[rule.id];
  return pass.ruleVersions[rule.id] === version && reached === version ? null : version;
}

/** The rule's owed re-evaluation with a note ending in `effect` (what the reader sees meanwhile), or null. */
export function pendingReevaluation(progress: ReevalProgress | undefined, rule: { readonly id: string; readonly version: string }, effect: string): PendingReevaluation | null {
  const version = owedVersion(progress, rule);
  return version === null ? null : { ruleVersion: version, note: `A re-evaluation against version ${version} of ${rule.id} has not finished: ${effect}` };
}

/**
 * The pass's progress for an answer that can do without it: a state that cannot be read leaves the
 * answer's `pendingReevaluation` out (null would say nothing is owed) and is logged, not refused.
 */
export async function readProgress(read: (() => Promise<ReevalProgress>) | undefined, answer: string, log: Pick<ApiContext, 'warn'>): Promise<{ progress?: ReevalProgress; known: boolean }> {
  try {
    return { progress: await read?.(), known: true };
  } catch (error) {
    log.warn(`The ${answer} is answered without pendingReevaluation: the re-evaluation state could not be read (${messageOf(error)}).`);
    return { known: false };
  }
}
