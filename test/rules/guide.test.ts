// Where a result's guide link points: the page the service serves for the rule, the section whose
// heading is the reason code, listed before the rule's own references — and nothing added for a
// rule without a guide. (The dashboard tests check that every such link resolves on a running host.)
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guideAnchor, guidePath, guideReference, referencesFor } from '../../src/rules/guide';
import { RULES } from '../../src/rules/registry';

const own = [{ title: 'KB 123', url: 'https://example.invalid/kb123' }];

describe('a rule guide link', () => {
  it('names the served page, and the section by the reason code in lower case', () => {
    expect(guidePath('mcafee-port25-blocked')).toBe('dashboard/guide-mcafee-port25-blocked.html');
    expect(guideAnchor('SmtpNotExcluded')).toBe('smtpnotexcluded');
    expect(guideReference('mcafee-port25-blocked', 'SmtpNotExcluded')).toEqual({
      title: 'What SmtpNotExcluded means and what to do',
      url: '/api/dashboard/guide-mcafee-port25-blocked.html#smtpnotexcluded',
    });
  });

  it('comes first among a result\'s references when the rule has a guide, and is absent otherwise', () => {
    expect(referencesFor({ id: 'r', guide: true, references: own }, 'Blocked')).toEqual([guideReference('r', 'Blocked'), ...own]);
    expect(referencesFor({ id: 'r', guide: false, references: own }, 'Blocked')).toEqual(own);
    expect(referencesFor({ id: 'r', references: own }, 'Blocked')).toEqual(own);
  });

  it('is there exactly for the loaded rules that have a guide in docs/rules, which the build serves', () => {
    for (const rule of RULES) {
      const written = existsSync(path.resolve(__dirname, '../../docs/rules', `${rule.id}.md`));
      expect(rule.guide === true, rule.id).toBe(written);
    }
  });
});
