// A re-evaluation's progress as GET /api/jobs/reevaluate reports it, for the pure functions that
// read it: a pass of the loaded rule set with nothing done yet, and what a test changes of it.
import type { ReevalProgress } from '../../src/app/reevaluate';

export type ReevalPass = NonNullable<ReevalProgress['pass']>;
export const LOADED_RULE_SET = 'sha256:loaded';

/** Progress whose pass (null: none recorded) starts as the loaded rule set's, untouched, with `pass` laid over it. */
export function reevalProgress(pass: Partial<ReevalPass> | null, upToDate = false): ReevalProgress {
  return {
    loadedRuleSetVersion: LOADED_RULE_SET,
    upToDate,
    pass: pass && {
      ruleSetVersion: LOADED_RULE_SET,
      ruleVersions: {},
      fromRuleVersions: {},
      retired: [],
      newerRelease: false,
      state: 'waiting',
      startedAt: '2026-12-01T00:00:00.000Z',
      finishedAt: null,
      lastActiveAt: '2026-12-01T00:00:00.000Z',
      evaluated: 0,
      changed: 0,
      unavailable: 0,
      ...pass,
    },
  };
}
