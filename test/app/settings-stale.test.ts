// The stale interval is bounded where it stays meaningful: collectors on the installer's schedule
// post up to 110 minutes apart, so anything under 120 minutes marks servers stale that are not;
// past 30 days the last-seen index's hours leave the range of a date. A value outside the bounds
// stops the app at start with one sentence that names the setting and the range.
import { describe, expect, it } from 'vitest';
import { loadSettings, STALE_AFTER_RANGE } from '../../src/app/settings';
import { mainTemplate } from '../infra/arm';

const load = (value?: string) => loadSettings({ POSTURE_STALE_AFTER_MINUTES: value });

describe('POSTURE_STALE_AFTER_MINUTES', () => {
  it('defaults to 180 and takes any whole number of minutes from 120 to 43200', () => {
    expect(STALE_AFTER_RANGE).toEqual({ min: 120, max: 43_200 });
    expect(load().staleAfterMinutes).toBe(180);
    expect(load('').staleAfterMinutes).toBe(180);
    for (const v of [120, 181, 1440, 43_200]) expect(load(String(v)).staleAfterMinutes).toBe(v);
  });

  it('refuses what would mark servers on schedule stale, or break the index, in one sentence', () => {
    for (const v of ['15', '60', '119', '43201', '200000000000', '1e11', '180.5', 'three hours']) {
      expect(() => load(v), v).toThrow(
        `Setting POSTURE_STALE_AFTER_MINUTES must be a whole number of minutes from 120 to 43200 (collectors on schedule post up to 110 minutes apart), not ${JSON.stringify(v)}.`,
      );
    }
  });
});

describe('the deployment parameter staleAfterMinutes', () => {
  it('refuses what the app would refuse at start', () => {
    expect(mainTemplate().parameters?.staleAfterMinutes).toMatchObject({ type: 'int', defaultValue: 180, minValue: STALE_AFTER_RANGE.min, maxValue: STALE_AFTER_RANGE.max });
  });
});
