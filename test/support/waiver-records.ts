// A waiver as the store holds it, for tests of the code that reads waivers without storage: an
// active waiver of the port-25 rule granted a day before `WAIVER_NOW` and ending a day after it.
import type { WaiverRecord } from '../../src/store';

export const WAIVER_NOW = Date.parse('2026-12-06T10:00:00.000Z');
export const DAY_MS = 24 * 60 * 60 * 1000;

export const waiverRecord = (over: Partial<WaiverRecord> = {}): WaiverRecord => ({
  id: 'w-1',
  ruleId: 'mcafee-port25-blocked',
  justification: 'j',
  grantedBy: 'g',
  grantedAt: WAIVER_NOW - DAY_MS,
  expiresAt: WAIVER_NOW + DAY_MS,
  changedAt: WAIVER_NOW - DAY_MS,
  state: 'active',
  revision: 1,
  ...over,
});
