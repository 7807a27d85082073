// The deployment refuses the stale intervals the app would refuse at start (their bounds and
// reasons: settings.test.ts), so a wrong value fails the deployment, not the first start.
import { describe, expect, it } from 'vitest';
import { STALE_AFTER_RANGE } from '../../src/app/settings';
import { mainTemplate } from '../infra/arm';

describe('the deployment parameter staleAfterMinutes', () => {
  it('refuses what the app would refuse at start', () => {
    expect(mainTemplate().parameters?.staleAfterMinutes).toMatchObject({ type: 'int', defaultValue: 180, minValue: STALE_AFTER_RANGE.min, maxValue: STALE_AFTER_RANGE.max });
  });
});
