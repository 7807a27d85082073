// The rules that are loaded, and evaluation of all of them against one snapshot.
import { createHash } from 'node:crypto';
import type { NormalisedSnapshot } from '../snapshot/normalise';
import { fingerprintOf } from './common/fingerprint';
import { mcafeePort25Blocked } from './mcafee-port25-blocked';
import { referencesFor, type ServedUrl } from './guide';
import type { Rule, RuleResult } from './types';

export const RULES: readonly Rule[] = [mcafeePort25Blocked];

/**
 * Every rule id a release has loaded, in the order they shipped. Only ever appended to: a rule taken
 * out of RULES moves to RETIRED_RULE_IDS, so instances tell its stored rows (to remove) from a newer
 * release's (to leave alone). A test holds the three lists together.
 */
export const SHIPPED_RULE_IDS: readonly string[] = ['mcafee-port25-blocked'];

/** Ids of shipped rules this release no longer loads: their stored rows are removed. */
export const RETIRED_RULE_IDS: readonly string[] = [];

/** The rule with exactly this id (ids are lower case; callers normalise what users type). */
export function findRule(id: string, rules: readonly Rule[] = RULES): Rule | undefined {
  return rules.find((r) => r.id === id);
}

/** Identifies the loaded rule set: changes whenever a rule is added, removed or re-versioned. */
export function ruleSetVersion(rules: readonly Rule[] = RULES): string {
  const ids = rules.map((r) => `${r.id}@${r.version}`).sort();
  return 'sha256:' + createHash('sha256').update(JSON.stringify(ids)).digest('hex');
}

/**
 * One rule's verdict. `servedUrl` is where the service serves its pages (the app gives it): with
 * it, a result of a rule with a guide links to its reason code's section first; without it, the
 * result carries the rule's own references only.
 */
export function evaluateRule(rule: Rule, snapshot: NormalisedSnapshot, servedUrl?: ServedUrl): RuleResult {
  const outcome = rule.evaluate(snapshot);
  return {
    ...outcome,
    ruleId: rule.id,
    ruleVersion: rule.version,
    title: rule.title,
    severity: rule.severity,
    references: servedUrl ? referencesFor(rule, outcome.reasonCode, servedUrl) : rule.references,
    ...(rule.configurationFacts ? { fingerprint: fingerprintOf(rule.configurationFacts(snapshot)) } : {}),
  };
}

export function evaluateAll(snapshot: NormalisedSnapshot, rules: readonly Rule[] = RULES, servedUrl?: ServedUrl): RuleResult[] {
  return rules.map((rule) => evaluateRule(rule, snapshot, servedUrl));
}
