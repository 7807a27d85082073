// The re-evaluation's progress says in one sentence why it is not up to date and what comes next:
// no pass yet, a newer release's pass, a pass of another rule set, or a pass of the loaded rule set
// still running or waiting for the timer; nothing when it is up to date.
import { describe, expect, it } from 'vitest';
import { reevaluationNote } from '../../src/app/reevaluation-note';
import { reevalProgress } from '../support/reeval-progress';

const progress = (pass: Parameters<typeof reevalProgress>[0], upToDate = false) => reevalProgress(pass && { ruleVersions: { rule: '2.0.0' }, fromRuleVersions: { rule: '1.0.0' }, ...pass }, upToDate);
const RUN = 'POST /api/jobs/reevaluate/run';

describe('reevaluationNote', () => {
  it('says nothing when the fleet is re-evaluated against the loaded rule set', () => {
    expect(reevaluationNote(progress({ state: 'done', finishedAt: '2026-12-01T00:05:00.000Z' }, true))).toBeNull();
  });

  it('before any pass: the next timer run starts one, or the run route now', () => {
    expect(reevaluationNote(progress(null))).toBe(
      `No re-evaluation pass is recorded yet: the reevaluate timer's next run starts one for the loaded rule set, which re-evaluates every server whose results an older version of a rule wrote (${RUN} starts it now).`,
    );
  });

  it('a newer release\'s pass: this instance leaves it be, naming that rule set', () => {
    const note = reevaluationNote(progress({ ruleSetVersion: 'sha256:newer', newerRelease: true }));
    expect(note).toBe("A newer release's pass (rule set sha256:newer) was active within the last hour, so this instance, of an older release, leaves re-evaluation to it.");
  });

  it('a finished pass of another rule set: the timer starts one for the loaded rule set', () => {
    const note = reevaluationNote(progress({ ruleSetVersion: 'sha256:before', state: 'done', finishedAt: '2026-11-30T00:00:00.000Z' }));
    expect(note).toBe(`The last pass was for another rule set (sha256:before): the reevaluate timer's next run starts one for the loaded rule set (${RUN} starts it now).`);
  });

  it('a pass of the loaded rule set under way: how far it went, and whether it runs or waits for the timer', () => {
    expect(reevaluationNote(progress({ state: 'running', evaluated: 1 }))).toBe('The pass for the loaded rule set is running and has re-evaluated 1 server so far.');
    expect(reevaluationNote(progress({ state: 'waiting', evaluated: 150 }))).toBe(
      `The pass for the loaded rule set has re-evaluated 150 servers so far and goes on at the reevaluate timer's next run (${RUN} goes on now).`,
    );
  });
});
