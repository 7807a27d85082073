// The contract every rule of the registry keeps, whatever it checks: a unique lower-case id, a
// status for every reason code it declares, texts in every language, and, over arbitrary snapshots
// built from what the rule itself asks the collector for, an answer that never throws and always
// gives a declared reason code with the status declared for it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateRule, RULES } from '../../src/rules/registry';
import { LANGUAGES, STATUSES, type Rule } from '../../src/rules/types';
import { parseSnapshot } from '../../src/snapshot/parse';
import { propertyRuns } from '../support/property-runs';
import { registryValueOf } from '../support/registry-arbitraries';
import { alphaRule } from '../support/snapshots';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const RUNS = { numRuns: propertyRuns(200), seed: 20261201 } as const;
const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const iso = fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2029-12-31T00:00:00Z') }).map((ms) => new Date(ms).toISOString());
const text = fc.oneof(fc.string({ maxLength: 24 }), fc.constantFrom('0', '1', '25', 'Outbound', 'Running', 'Stopped', '8.8.0.1804', '%TEMP%\\x.txt', 'a;b,c', ''));
const b64 = fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u).toString('base64'));

/** A value of any registry type under `name`. */
const registryValue = registryValueOf(text, b64);

/** Arbitrary snapshots around what `rule` needs: its keys (and keys below the recursed ones), services and files, each present or not. */
function snapshotsFor(rule: Rule) {
  const names = [...rule.needs.files.flatMap((f) => f.pathFrom ?? []).map((p) => p.valueName), 'Version', 'Enabled', 'Ports', 'szProductVer', ''];
  const values = fc.uniqueArray(fc.constantFrom(...names), { maxLength: 5 }).chain((ns) => fc.tuple(...ns.map(registryValue)));
  const keyPaths = rule.needs.registry.flatMap((r) => (r.recurse ? [r.path, `${r.path}\\User`, `${r.path}\\Sub\\Deeper`] : [r.path]));
  const registryEntry = fc
    .record({
      path: fc.constantFrom(...keyPaths, 'HKLM\\SOFTWARE\\Unrelated'),
      view: fc.constantFrom('64' as const, '32' as const),
      exists: fc.boolean(),
      lastWriteTime: fc.option(iso, { nil: undefined }),
      values,
      error: fc.option(fc.record({ code: fc.constantFrom('AccessDenied' as const, 'NotFound' as const, 'IoError' as const, 'Timeout' as const, 'Other' as const) }), { nil: undefined, freq: 6 }),
    })
    .map((e) => ({ ...e, values: e.exists ? e.values : [] }));
  const service = (name: string) =>
    fc.record({
      name: fc.constant(name),
      state: fc.constantFrom('Running', 'Stopped', 'Start Pending', 'Paused', 'Unknown'),
      started: fc.boolean(),
      pathName: fc.option(fc.constantFrom('C:\\x\\y.exe', '"C:\\a b\\c.exe" -k', '', 'svchost.exe -k x'), { nil: null }),
    });
  const serviceNames = [...rule.needs.services, 'W3SVC'];
  const file = fc.record({
    path: fc.constantFrom(...rule.needs.files.map((f) => f.path), 'C:\\other.txt'),
    exists: fc.boolean(),
    tail: fc.array(fc.oneof(text, fc.string({ maxLength: 80 })), { maxLength: 5 }).map((ls) => ls.join('\r\n')),
  });
  return fc.record({
    schema: fc.constant('fleet-posture/snapshot@1'),
    snapshotId: fc.uuid(),
    collectedAt: iso,
    collector: fc.constant({ name: 'contract', version: '1' }),
    host: fc.record({ name: fc.constant('EXCH01'), utcOffsetMinutes: fc.option(fc.integer({ min: -720, max: 840 }), { nil: undefined }) }),
    registry: fc.uniqueArray(registryEntry, { selector: (e) => `${e.view}:${e.path.toLowerCase()}`, maxLength: 8 }),
    services: fc.uniqueArray(fc.constantFrom(...serviceNames), { maxLength: serviceNames.length }).chain((ns) => fc.tuple(...ns.map(service))),
    files: fc.array(file, { maxLength: 2 }).map((fs) => fs.map((f) => (f.exists ? { ...f, size: f.tail.length } : { path: f.path, exists: false }))),
  });
}

describe('every rule of the registry', () => {
  it('has a unique, lower-case id and a version', () => {
    expect(RULES.length).toBeGreaterThan(0);
    for (const rule of RULES) {
      expect(rule.id, rule.id).toMatch(ID);
      expect(rule.version, rule.id).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
  });

  it('maps every reason code it declares to a status, and speaks every language', () => {
    for (const rule of RULES) {
      const codes = Object.entries(rule.reasonCodes);
      expect(codes.length, rule.id).toBeGreaterThan(0);
      for (const [code, status] of codes) {
        expect(code, rule.id).toMatch(/^[A-Z][A-Za-z0-9]*$/);
        expect(STATUSES, `${rule.id} ${code}`).toContain(status);
      }
      for (const lang of LANGUAGES) {
        expect(rule.title[lang], `${rule.id} title ${lang}`).toMatch(/\S/);
        expect(rule.rationale[lang], `${rule.id} rationale ${lang}`).toMatch(/\S/);
      }
    }
  });

  for (const rule of RULES) {
    it(`${rule.id}: over arbitrary snapshots of what it needs, never throws and always gives a declared reason with its status`, () => {
      const judged = { parsed: 0 };
      fc.assert(keepsTheContract(rule, judged), RUNS);
      // The generator makes snapshots the contract accepts, so the property judged the rule.
      expect(judged.parsed).toBeGreaterThan(RUNS.numRuns / 2);
    });
  }

  it('the property catches a rule that answers a code it did not declare', () => {
    // alphaRule (a test rule) answers State<status> but declares only FromState.
    expect(fc.check(keepsTheContract(alphaRule, { parsed: 0 }), RUNS).failed).toBe(true);
  });
});

function keepsTheContract(rule: Rule, judged: { parsed: number }) {
  return fc.property(snapshotsFor(rule), (doc) => {
    const p = parseSnapshot(doc, { now: NOW });
    if (!p.ok) return;
    judged.parsed++;
    const r = evaluateRule(rule, p.normalised);
    expect(Object.keys(rule.reasonCodes), JSON.stringify(r.evidence).slice(0, 300)).toContain(r.reasonCode);
    expect(r.status).toBe(rule.reasonCodes[r.reasonCode]);
    for (const lang of LANGUAGES) {
      expect(r.message[lang]).toMatch(/\S/);
      for (const step of r.remediation) expect(step[lang]).toMatch(/\S/);
    }
    expect(() => JSON.stringify(r.evidence)).not.toThrow();
  });
}
