// Where a result's guide link points: the page the service serves for the rule, the section whose
// heading is the reason code, listed before the rule's own references — and nothing added for a
// rule without a guide. The rule gives the page's path below the route prefix; the app makes the
// URL. (The dashboard tests check that every such link resolves on a running host.)
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { servedUrl } from '../../src/app/route-prefix';
import { guideAnchor, guidePath, guideReference, referencesFor } from '../../src/rules/guide';
import { evaluateRule, RULES } from '../../src/rules/registry';
import type { NormalisedSnapshot } from '../../src/snapshot/normalise';

const own = [{ title: 'KB 123', url: 'https://example.invalid/kb123' }];

describe('a rule guide link', () => {
  it('names the served page, and the section by the reason code in lower case', () => {
    expect(guidePath('mcafee-port25-blocked')).toBe('dashboard/guide-mcafee-port25-blocked.html');
    expect(guideAnchor('SmtpNotExcluded')).toBe('smtpnotexcluded');
    expect(guideReference('mcafee-port25-blocked', 'SmtpNotExcluded', servedUrl)).toEqual({
      title: 'What SmtpNotExcluded means and what to do',
      url: '/api/dashboard/guide-mcafee-port25-blocked.html#smtpnotexcluded',
    });
  });

  it('is the page\'s path below the route prefix, which the URL the app gives makes a link', () => {
    const elsewhere = (below: string) => `/v2/${below}`;
    expect(guideReference('mcafee-port25-blocked', 'SmtpNotExcluded', elsewhere).url).toBe('/v2/dashboard/guide-mcafee-port25-blocked.html#smtpnotexcluded');
  });

  it('comes first among a result\'s references when the rule has a guide, and is absent otherwise', () => {
    expect(referencesFor({ id: 'r', guide: true, references: own }, 'Blocked', servedUrl)).toEqual([guideReference('r', 'Blocked', servedUrl), ...own]);
    expect(referencesFor({ id: 'r', guide: false, references: own }, 'Blocked', servedUrl)).toEqual(own);
    expect(referencesFor({ id: 'r', references: own }, 'Blocked', servedUrl)).toEqual(own);
  });

  it('is in a result when the evaluation is told where the service serves its pages, and only then', () => {
    const rule = { ...RULES[0]!, configurationFacts: undefined, evaluate: () => ({ status: 'Pass' as const, reasonCode: 'Ok', message: { en: '', ja: '' }, remediation: [], evidence: {} }) };
    const snapshot = {} as NormalisedSnapshot;
    expect(rule.guide).toBe(true);
    expect(evaluateRule(rule, snapshot, servedUrl).references).toEqual(referencesFor(rule, 'Ok', servedUrl));
    expect(evaluateRule(rule, snapshot).references).toEqual(rule.references);
  });

  it('is there exactly for the loaded rules that have a guide in docs/rules, which the build serves', () => {
    for (const rule of RULES) {
      const written = existsSync(path.resolve(__dirname, '../../docs/rules', `${rule.id}.md`));
      expect(rule.guide === true, rule.id).toBe(written);
    }
  });
});
