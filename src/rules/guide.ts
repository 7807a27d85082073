// Where a rule's guide explains a reason code: docs/rules/<rule>.md, which the build also turns
// into a page the dashboard serves, so the link works offline from the service itself. Rules know
// the page's path below the service's route prefix; the app, which knows the prefix, makes the URL.
import type { Reference, Rule } from './types';

/** The root-relative URL the service answers a path below its route prefix at (the app gives it). */
export type ServedUrl = (pathBelowPrefix: string) => string;

/** The page the service serves a rule's guide under, relative to its route prefix. */
export function guidePath(ruleId: string): string {
  return `dashboard/guide-${ruleId}.html`;
}

/** A reason code's section in the guide: the heading is the code, so its anchor is the code in lower case. */
export function guideAnchor(reasonCode: string): string {
  return reasonCode.toLowerCase();
}

/** The link to what a reason code means and what to do about it (root-relative to the service). */
export function guideReference(ruleId: string, reasonCode: string, servedUrl: ServedUrl): Reference {
  return { title: `What ${reasonCode} means and what to do`, url: servedUrl(`${guidePath(ruleId)}#${guideAnchor(reasonCode)}`) };
}

/** A result's references: its reason code's guide section first, when the rule has a guide. */
export function referencesFor(rule: Pick<Rule, 'id' | 'guide' | 'references'>, reasonCode: string, servedUrl: ServedUrl): readonly Reference[] {
  return rule.guide ? [guideReference(rule.id, reasonCode, servedUrl), ...rule.references] : rule.references;
}
