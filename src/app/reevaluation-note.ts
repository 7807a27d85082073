// One sentence beside the re-evaluation's progress saying why the fleet is not re-evaluated against
// the loaded rule set and what happens next: `upToDate: false` alone reads as a fault on a fresh
// deployment (no pass recorded yet) as much as during a rule change, and an admin should not have to
// know the timer's rules to tell which.
import type { ReevalProgress } from './reevaluate';
import { ROUTE_BASE } from './route-prefix';
import { routeUrl } from './routes';

/** Built on each call, not when the module loads, so that mutation testing's mutants of it are tested. */
const runNow = (): string => `POST ${routeUrl(ROUTE_BASE, 'runJob', { job: 'reevaluate' })}`;

/** Why the progress is not up to date and what comes next; null when it is. */
export function reevaluationNote(progress: ReevalProgress): string | null {
  const { pass, upToDate } = progress;
  if (upToDate) return null;
  if (!pass) {
    return `No re-evaluation pass is recorded yet: the reevaluate timer's next run starts one for the loaded rule set, which re-evaluates every server whose results an older version of a rule wrote (${runNow()} starts it now).`;
  }
  if (pass.newerRelease) {
    return `A newer release's pass (rule set ${pass.ruleSetVersion}) was active within the last hour, so this instance, of an older release, leaves re-evaluation to it.`;
  }
  if (pass.ruleSetVersion !== progress.loadedRuleSetVersion) {
    return `The last pass was for another rule set (${pass.ruleSetVersion}): the reevaluate timer's next run starts one for the loaded rule set (${runNow()} starts it now).`;
  }
  const sofar = `re-evaluated ${pass.evaluated} server${pass.evaluated === 1 ? '' : 's'} so far`;
  return pass.state === 'running'
    ? `The pass for the loaded rule set is running and has ${sofar}.`
    : `The pass for the loaded rule set has ${sofar} and goes on at the reevaluate timer's next run (${runNow()} goes on now).`;
}
