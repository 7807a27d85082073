// When the drift and the summary warn that a re-evaluation is still owed for a rule: only while
// servers can still carry two versions of the rule, never for a pass that leaves the rule as every
// server already had it (another rule changed). And a state that cannot be read leaves the notice
// out, with a warning, rather than answering that nothing is owed.
import { describe, expect, it } from 'vitest';
import { pendingReevaluation as withEffect, readProgress } from '../../src/app/pending-reevaluation';
import { mcafeePort25Blocked as rule } from '../../src/rules/mcafee-port25-blocked';
import { reevalProgress, type ReevalPass } from '../support/reeval-progress';

const pendingReevaluation = (p: Parameters<typeof withEffect>[0], r: Parameters<typeof withEffect>[1]) => withEffect(p, r, 'servers keep the earlier result.');
const progress = (pass: Partial<ReevalPass>, upToDate = false) =>
  reevalProgress({ ruleVersions: { [rule.id]: rule.version, other: '2.0.0' }, fromRuleVersions: { [rule.id]: rule.version, other: '1.0.0' }, state: 'running', ...pass }, upToDate);

describe('pendingReevaluation', () => {
  it('is null while a pass runs or waits that started from this version of the rule', () => {
    for (const state of ['running', 'waiting'] as const) expect(pendingReevaluation(progress({ state }), rule), state).toBeNull();
  });

  it('names the version while a pass that changes the rule has not finished', () => {
    const p = pendingReevaluation(progress({ fromRuleVersions: { [rule.id]: '1.1.0' } }), rule);
    expect(p?.ruleVersion).toBe(rule.version);
    expect(p?.note).toBe('A re-evaluation against version 1.2.0 of mcafee-port25-blocked has not finished: servers keep the earlier result.');
  });

  it('shows the notice when the pass does not record where it started, or not for this rule', () => {
    expect(pendingReevaluation(progress({ fromRuleVersions: null }), rule)).not.toBeNull();
    expect(pendingReevaluation(progress({ fromRuleVersions: { other: '1.0.0' } }), rule)).not.toBeNull();
  });

  it('names the newer release\'s version to an older instance, and is null when that pass leaves the rule', () => {
    const older = { ...rule, version: '1.1.0' };
    expect(pendingReevaluation(progress({ newerRelease: true, fromRuleVersions: { [rule.id]: '1.1.0' } }), older)?.ruleVersion).toBe(rule.version);
    expect(pendingReevaluation(progress({ newerRelease: true }), older)).toBeNull();
  });

  it('names the loaded version while an older rule set\'s pass moves servers away from it (a release rolled back)', () => {
    expect(pendingReevaluation(progress({ ruleVersions: { [rule.id]: '1.1.0' }, fromRuleVersions: { [rule.id]: rule.version } }), rule)?.ruleVersion).toBe(rule.version);
  });

  it('is null once the pass of this version is done, or with no pass at all', () => {
    expect(pendingReevaluation(undefined, rule)).toBeNull();
    expect(pendingReevaluation(progress({ state: 'done', fromRuleVersions: null }, true), rule)).toBeNull();
    expect(pendingReevaluation(progress({ state: 'done', fromRuleVersions: null }), rule)).toBeNull();
    expect(pendingReevaluation({ loadedRuleSetVersion: 'x', upToDate: false, pass: null }, rule)).toBeNull();
    expect(pendingReevaluation(progress({ state: 'done', ruleVersions: { [rule.id]: '1.1.0' } }), rule)?.ruleVersion).toBe(rule.version);
  });
});

describe('readProgress', () => {
  const log = () => {
    const warnings: string[] = [];
    return { warnings, warn: (m: string) => void warnings.push(m) };
  };

  it('answers the progress as known, or known and absent when nothing reads it', async () => {
    const l = log();
    const p = progress({});
    expect(await readProgress(async () => p, 'summary', l)).toEqual({ progress: p, known: true });
    expect(await readProgress(undefined, 'summary', l)).toEqual({ progress: undefined, known: true });
    expect(l.warnings).toEqual([]);
  });

  it('answers unknown and names the answer and the cause in one warning when the read fails', async () => {
    const l = log();
    expect(await readProgress(() => Promise.reject(new Error('storage is down')), 'drift', l)).toEqual({ known: false });
    expect(l.warnings).toEqual(['The drift is answered without pendingReevaluation: the re-evaluation state could not be read (storage is down).']);
  });
});
