// Property tests: any snapshot the schema accepts evaluates without throwing to one of the five
// statuses with a declared reason code; and excluding EdgeTransport.exe never creates a Warning.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { STATUSES } from '../../../src/rules/types';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { propertyRuns } from '../../support/property-runs';
import { render, scenario, snapshot, structured } from './arbitraries';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const RUNS = { numRuns: propertyRuns(300), seed: 20261128 } as const;

function evaluate(doc: unknown) {
  const parsed = parseSnapshot(JSON.parse(JSON.stringify(doc)), { now: NOW });
  if (!parsed.ok) throw new Error(`generator made an invalid snapshot: ${JSON.stringify(parsed.issues)}`);
  return mcafeePort25Blocked.evaluate(parsed.normalised);
}

describe('mcafee-port25-blocked properties', () => {
  it('never throws on a snapshot the schema accepts, and answers with a declared status and reason code', () => {
    const reached = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(snapshot, structured), (doc) => {
        const r = evaluate(doc);
        reached.add(r.reasonCode);
        expect(STATUSES).toContain(r.status);
        expect(mcafeePort25Blocked.reasonCodes[r.reasonCode]).toBe(r.status);
        expect(JSON.parse(JSON.stringify(r.evidence))).toEqual(r.evidence);
        expect(typeof r.message.en).toBe('string');
        expect(typeof r.message.ja).toBe('string');
      }),
      RUNS,
    );
    // The generators are only useful if they get past the first rows.
    expect(reached.size).toBeGreaterThanOrEqual(8);
  });

  it('adding an exclusion for EdgeTransport.exe never turns a Pass into a Warning', () => {
    let pairs = 0;
    const reached = new Set<string>();
    fc.assert(
      fc.property(scenario, (s) => {
        const before = evaluate(render(s, false));
        const after = evaluate(render(s, true));
        reached.add(before.reasonCode);
        if (before.status === 'Pass') {
          pairs++;
          expect(after.status).toBe('Pass');
        }
        // Excluding more can only remove culprits, never add them.
        if (before.status === 'Warning' && after.status === 'Warning') {
          expect((after.evidence.culprits as unknown[]).length).toBeLessThanOrEqual((before.evidence.culprits as unknown[]).length);
        }
      }),
      RUNS,
    );
    expect(pairs).toBeGreaterThan(20);
    expect([...reached]).toEqual(expect.arrayContaining(['RuleDisabled', 'SmtpExcluded', 'SmtpNotExcluded']));
  });

  it('a stopped McShield never gives Warning or Error', () => {
    fc.assert(
      fc.property(snapshot, (doc) => {
        const services = doc.services.map((x) => (x.name === 'McShield' ? { ...x, started: false } : x));
        const r = evaluate({ ...doc, services });
        expect(['Warning', 'Error']).not.toContain(r.status);
      }),
      { ...RUNS, numRuns: propertyRuns(150) },
    );
  });
});
