// When the fleet's drift warns that a re-evaluation may split one configuration into two clusters:
// only while servers can still carry two versions of the rule, never for a pass that leaves the
// rule as every server already had it (another rule changed).
import { describe, expect, it } from 'vitest';
import { pendingReevaluation } from '../../src/app/drift-queries';
import { mcafeePort25Blocked as rule } from '../../src/rules/mcafee-port25-blocked';
import { reevalProgress, type ReevalPass } from '../support/reeval-progress';

const progress = (pass: Partial<ReevalPass>, upToDate = false) =>
  reevalProgress({ ruleVersions: { [rule.id]: rule.version, other: '2.0.0' }, fromRuleVersions: { [rule.id]: rule.version, other: '1.0.0' }, state: 'running', ...pass }, upToDate);

describe('pendingReevaluation', () => {
  it('is null while a pass runs or waits that started from this version of the rule', () => {
    for (const state of ['running', 'waiting'] as const) expect(pendingReevaluation(progress({ state }), rule), state).toBeNull();
  });

  it('names the version while a pass that changes the rule has not finished', () => {
    const p = pendingReevaluation(progress({ fromRuleVersions: { [rule.id]: '1.1.0' } }), rule);
    expect(p?.ruleVersion).toBe(rule.version);
    expect(p?.note).toMatch(/^A re-evaluation against version 1\.2\.0 of mcafee-port25-blocked has not finished/);
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

  it('is null once the pass of this version is done, or with no pass at all', () => {
    expect(pendingReevaluation(progress({ state: 'done', fromRuleVersions: null }, true), rule)).toBeNull();
    expect(pendingReevaluation(progress({ state: 'done', fromRuleVersions: null }), rule)).toBeNull();
    expect(pendingReevaluation({ loadedRuleSetVersion: 'x', upToDate: false, pass: null }, rule)).toBeNull();
    expect(pendingReevaluation(progress({ state: 'done', ruleVersions: { [rule.id]: '1.1.0' } }), rule)?.ruleVersion).toBe(rule.version);
  });
});
