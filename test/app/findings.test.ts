// Which statuses are findings: the two that alert, that a waiver accepts, and that the summary counts apart when waived.
import { describe, expect, it } from 'vitest';
import { FINDING_STATUSES, isFinding } from '../../src/app/findings';
import { STATUSES } from '../../src/rules/types';

describe('findings', () => {
  it('are Warning and Error, among the statuses a rule gives', () => {
    expect(FINDING_STATUSES).toStrictEqual(['Warning', 'Error']);
    expect(STATUSES.filter(isFinding)).toStrictEqual(['Warning', 'Error']);
  });

  it('are no other text, and not the absence of a status', () => {
    for (const status of [undefined, '', 'warning', 'Removed']) expect(isFinding(status), String(status)).toBe(false);
  });
});
