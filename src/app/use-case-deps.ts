// What every use case is built with (create-app.ts wires them): the posture store (the Results
// table), the loaded rules and the clock. Use cases add what only they need, among them the
// stores of the other tables (events, hosts, raw snapshots, the rule index, the outbox).
import { RETIRED_RULE_IDS } from '../rules/registry';
import { ruleSetViewOf, type RuleSetView } from '../rules/rule-set-order';
import type { Rule } from '../rules/types';
import type { PostureStore } from '../store';

export interface UseCaseDeps {
  readonly store: PostureStore;
  readonly rules: readonly Rule[];
  /** Ids of rules this release retired (their rows go); defaults to the registry's. */
  readonly retiredRuleIds?: readonly string[];
  /** Epoch ms. */
  readonly clock: () => number;
}

/** The loaded rules and the retired ids, as rule sets are compared (rule-set-order.ts). */
export function loadedRuleSet(deps: Pick<UseCaseDeps, 'rules' | 'retiredRuleIds'>): RuleSetView {
  return ruleSetViewOf(deps.rules, deps.retiredRuleIds ?? RETIRED_RULE_IDS);
}
