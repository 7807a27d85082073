// Property tests that name no seed take the suite's, so two runs draw the same cases.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROPERTY_SEED, propertySeed } from '../support/property-seed';

describe('the property seed', () => {
  it('is fixed for the whole suite unless POSTURE_PROPERTY_SEED names another', () => {
    expect(propertySeed({})).toBe(DEFAULT_PROPERTY_SEED);
    expect(propertySeed({ POSTURE_PROPERTY_SEED: '' })).toBe(DEFAULT_PROPERTY_SEED);
    expect(propertySeed({ POSTURE_PROPERTY_SEED: '-42' })).toBe(-42);
    expect(() => propertySeed({ POSTURE_PROPERTY_SEED: 'random' })).toThrow('POSTURE_PROPERTY_SEED must be an integer, such as 20261205; it is "random".');
    expect(() => propertySeed({ POSTURE_PROPERTY_SEED: '1.5' })).toThrow(/must be an integer/);
  });

  it('is the one fast-check uses here, so two runs of a property without a seed draw the same cases', () => {
    expect(fc.readConfigureGlobal().seed).toBe(propertySeed());
    const drawn = () => {
      const seen: string[] = [];
      fc.assert(fc.property(fc.string(), (s) => void seen.push(s)), { numRuns: 30 });
      return seen;
    };
    expect(drawn()).toEqual(drawn());
    expect(new Set(drawn()).size).toBeGreaterThan(1);
  });
});
