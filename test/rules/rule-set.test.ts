// The rule set as a whole: the collection manifest derived from the rules' needs (with the paths
// that name log files), the rule-set version, evaluation, and choosing a language.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLang, localiseResult, negotiateLanguage } from '../../src/rules/localise';
import { buildManifest, canonicalJson } from '../../src/rules/manifest';
import { mcafeePort25Blocked } from '../../src/rules/mcafee-port25-blocked';
import { evaluateAll, evaluateRule, findRule, RULES, ruleSetVersion } from '../../src/rules/registry';
import type { Rule } from '../../src/rules/types';
import { manifestSchema } from '../../src/snapshot/schema';
import type { NormalisedSnapshot } from '../../src/snapshot/normalise';
import { propertyRuns } from '../support/property-runs';

const BB = {
  VSE80i: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking',
  'VSE85-87': 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking',
  VSE88: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking',
};
const logValues = (key: string) => [
  { registryPath: key, valueName: 'szLogFileName' },
  { registryPath: key, valueName: 'szLogFileName_Ent' },
];

function rule(id: string, needs: Partial<Rule['needs']>, version = '1.0.0'): Rule {
  return {
    id,
    version,
    title: { en: id, ja: id },
    rationale: { en: '', ja: '' },
    severity: 'Info',
    references: [],
    reasonCodes: { Ok: 'Pass' },
    needs: { registry: [], services: [], files: [], ...needs },
    evaluate: () => ({ status: 'Pass', reasonCode: 'Ok', message: { en: `${id} ok`, ja: `${id} OK` }, remediation: [], evidence: { id } }),
  };
}

describe('the collection manifest', () => {
  it('reads the access-protection log from the path its generation\'s settings name, else the default path', () => {
    const m = buildManifest([mcafeePort25Blocked]);
    expect(m.files).toEqual([
      { path: '%ALLUSERSPROFILE%\\Application Data\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', tailBytes: 65536, pathFrom: [...logValues(BB.VSE88), ...logValues(BB['VSE85-87'])] },
      { path: '%ALLUSERSPROFILE%\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt', tailBytes: 65536, pathFrom: logValues(BB.VSE80i) },
      { path: '%ProgramData%\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', tailBytes: 65536, pathFrom: [...logValues(BB.VSE88), ...logValues(BB['VSE85-87'])] },
    ]);
  });

  it('collects every key a path source names (so the collector finds the value in the snapshot)', () => {
    const m = buildManifest([mcafeePort25Blocked]);
    const keys = new Set(m.registry.map((r) => r.path.toLowerCase()));
    for (const f of m.files) for (const s of f.pathFrom ?? []) expect(keys.has(s.registryPath.toLowerCase()), s.registryPath).toBe(true);
    expect(m.registry).toEqual([
      { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false },
      { path: BB.VSE88, recurse: true, maxDepth: 3 },
      { path: BB['VSE85-87'], recurse: true, maxDepth: 3 },
      { path: BB.VSE80i, recurse: true, maxDepth: 3 },
      { path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', recurse: false },
    ]);
    expect(m.services).toEqual(['McShield', 'MSExchangeFrontEndTransport', 'MSExchangeTransport', 'SMTPSVC']);
  });

  it('is the one published in collector/examples, to the byte (regenerate it with `npm run manifest:reference`)', () => {
    const text = readFileSync(path.resolve(__dirname, '../../collector/examples/manifest.reference.json'), 'utf8');
    expect(text).toBe(JSON.stringify(buildManifest(), null, 2) + '\n');
    expect(manifestSchema.safeParse(JSON.parse(text)).success).toBe(true);
  });

  it('adds a key named only by a path source, and merges sources of one file from two rules in order, each once', () => {
    const a = rule('a', { registry: [{ path: 'HKLM\\SOFTWARE\\A', recurse: true, maxDepth: 2 }], files: [{ path: 'C:\\Log.txt', tailBytes: 10, pathFrom: [{ registryPath: 'HKLM\\SOFTWARE\\A', valueName: 'Log' }] }] });
    const b = rule('b', {
      files: [
        { path: 'c:\\log.txt', tailBytes: 5, pathFrom: [{ registryPath: 'hklm\\software\\a', valueName: 'LOG' }, { registryPath: 'HKLM\\SOFTWARE\\B', valueName: 'Path' }] },
        { path: 'C:\\Plain.txt', tailBytes: 7 },
      ],
    });
    const m = buildManifest([a, b]);
    expect(m.registry).toEqual([
      { path: 'HKLM\\SOFTWARE\\A', recurse: true, maxDepth: 2 },
      { path: 'HKLM\\SOFTWARE\\B', recurse: false },
    ]);
    expect(m.files).toEqual([
      { path: 'C:\\Log.txt', tailBytes: 10, pathFrom: [{ registryPath: 'HKLM\\SOFTWARE\\A', valueName: 'Log' }, { registryPath: 'HKLM\\SOFTWARE\\B', valueName: 'Path' }] },
      { path: 'C:\\Plain.txt', tailBytes: 7 },
    ]);
    expect('pathFrom' in m.files[1]!).toBe(false);
    // Sources only in the second rule's entry, or only in the first's, are kept.
    const plain = rule('p', { files: [{ path: 'C:\\Log.txt', tailBytes: 1 }] });
    expect(buildManifest([plain, a]).files).toEqual([{ path: 'C:\\Log.txt', tailBytes: 10, pathFrom: [{ registryPath: 'HKLM\\SOFTWARE\\A', valueName: 'Log' }] }]);
    expect(buildManifest([a, plain]).files).toEqual([{ path: 'C:\\Log.txt', tailBytes: 10, pathFrom: [{ registryPath: 'HKLM\\SOFTWARE\\A', valueName: 'Log' }] }]);
  });

  it('merges one key asked for by two rules: recursing if either does, as deep as the deeper', () => {
    const m = (x: Rule['needs']['registry'], y: Rule['needs']['registry']) => buildManifest([rule('x', { registry: x }), rule('y', { registry: y })]).registry;
    expect(m([{ path: 'HKLM\\K', recurse: false }], [{ path: 'hklm\\k', recurse: true, maxDepth: 4 }])).toEqual([{ path: 'HKLM\\K', recurse: true, maxDepth: 4 }]);
    expect(m([{ path: 'HKLM\\K', recurse: true, maxDepth: 5 }], [{ path: 'HKLM\\K', recurse: true }])).toEqual([{ path: 'HKLM\\K', recurse: true, maxDepth: 5 }]);
    expect(m([{ path: 'HKLM\\K', recurse: true, maxDepth: 2 }], [{ path: 'HKLM\\K', recurse: true, maxDepth: 6 }])).toEqual([{ path: 'HKLM\\K', recurse: true, maxDepth: 6 }]);
    // A depth comes only from a recursing entry: none given leaves the collector's default, never 0.
    expect(m([{ path: 'HKLM\\K', recurse: true }], [{ path: 'HKLM\\K', recurse: false, maxDepth: 9 }])).toEqual([{ path: 'HKLM\\K', recurse: true }]);
    expect(m([{ path: 'HKLM\\K', recurse: false, maxDepth: 2 }], [{ path: 'HKLM\\K', recurse: true, maxDepth: 1 }])).toEqual([{ path: 'HKLM\\K', recurse: true, maxDepth: 1 }]);
    expect(m([{ path: 'HKLM\\K', recurse: false }], [{ path: 'HKLM\\K', recurse: false }])).toEqual([{ path: 'HKLM\\K', recurse: false }]);
  });

  it('sorts case-insensitively, keeps the first spelling, and hashes the canonical JSON of its lists', () => {
    const m = buildManifest([rule('x', { services: ['b', 'A', 'a'], files: [{ path: 'b.txt', tailBytes: 1 }, { path: 'A.txt', tailBytes: 1 }] })]);
    expect(m.services).toEqual(['A', 'b']);
    expect(m.files.map((f) => f.path)).toEqual(['A.txt', 'b.txt']);
    expect(m.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(buildManifest([rule('y', { services: ['A', 'b'], files: [{ path: 'A.txt', tailBytes: 1 }, { path: 'b.txt', tailBytes: 1 }] })]).version).toBe(m.version);
    expect(buildManifest([rule('y', { services: ['A', 'c'] })]).version).not.toBe(m.version);
    expect(m.schema).toBe('fleet-posture/manifest@1');
  });

  it('writes canonical JSON with sorted keys and no undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }, null], c: true })).toBe('{"a":[{"c":"x"},null],"b":1,"c":true}');
    expect(canonicalJson({ B: 1, a: 2, A: 3 })).toBe('{"A":3,"B":1,"a":2}');
    expect(canonicalJson('s')).toBe('"s"');
  });

  // Stored hashes (content, fingerprints, the manifest version) were made with the text this writes:
  // it must stay the same text for every value, not only equal content.
  it('writes the text the earlier releases wrote, for any value (fast-check)', () => {
    const earlier = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(earlier).join(',')}]`;
      if (value !== null && typeof value === 'object') {
        const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${earlier(v)}`).join(',')}}`;
      }
      return JSON.stringify(value);
    };
    const values = fc.anything({ withBigInt: false, withDate: false, withMap: false, withSet: false, withTypedArray: false, withSparseArray: false, withBoxedValues: false, withNullPrototype: false, maxDepth: 4 });
    fc.assert(
      fc.property(values, (v) => canonicalJson(v) === earlier(v)),
      { numRuns: propertyRuns(500), seed: 20261202 },
    );
    expect(canonicalJson([1, undefined, { a: undefined }])).toBe(earlier([1, undefined, { a: undefined }]));
  });
});

describe('the rule set', () => {
  it('holds the port-25 rule, found by its exact id only', () => {
    expect(RULES).toContain(mcafeePort25Blocked);
    expect(findRule('mcafee-port25-blocked')).toBe(mcafeePort25Blocked);
    expect(findRule('MCAFEE-PORT25-BLOCKED')).toBeUndefined();
    expect(findRule('nope')).toBeUndefined();
  });

  it('has a version that changes when a rule is re-versioned, added or removed, and not with order', () => {
    const a = rule('a', {});
    const b = rule('b', {});
    const v = ruleSetVersion([a, b]);
    expect(v).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ruleSetVersion([b, a])).toBe(v);
    expect(ruleSetVersion([a, rule('b', {}, '1.0.1')])).not.toBe(v);
    expect(ruleSetVersion([a])).not.toBe(v);
    // The port-25 rule's bump moves the loaded rule set: stored verdicts are re-evaluated.
    expect(ruleSetVersion()).not.toBe(ruleSetVersion([{ ...mcafeePort25Blocked, version: '1.0.0' }]));
  });

  it('attaches the rule\'s identity to each outcome', () => {
    const snapshot = {} as NormalisedSnapshot;
    const a = rule('a', {});
    expect(evaluateRule(a, snapshot)).toEqual({ status: 'Pass', reasonCode: 'Ok', message: { en: 'a ok', ja: 'a OK' }, remediation: [], evidence: { id: 'a' }, ruleId: 'a', ruleVersion: '1.0.0', title: { en: 'a', ja: 'a' }, severity: 'Info', references: [] });
    expect(evaluateAll(snapshot, [a, rule('b', {})]).map((r) => r.ruleId)).toEqual(['a', 'b']);
  });
});

describe('the port-25 rule\'s version', () => {
  it('is the one its documentation describes', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/rules/mcafee-port25-blocked.md'), 'utf8');
    expect(doc).toContain(`Version **${mcafeePort25Blocked.version}**`);
    expect(doc).toContain(`- **${mcafeePort25Blocked.version}** —`);
  });
});

describe('languages', () => {
  it.each([
    [undefined, 'en'],
    [null, 'en'],
    ['', 'en'],
    ['ja', 'ja'],
    ['ja-JP,ja;q=0.9,en;q=0.8', 'ja'],
    ['en-US,en;q=0.9,ja;q=0.8', 'en'],
    ['fr-FR, ja;q=0.5', 'ja'],
    ['en;q=0.4, JA;q=0.6', 'ja'],
    ['ja;q=0, en;q=0.1', 'en'],
    ['ja;q=abc, fr', 'en'],
    ['ja;q=0.5, en;q=0.5', 'ja'],
    ['de, fr', 'en'],
    [' ja ; q=1 ', 'ja'],
    ['ja;level=1;q=0.9, en;q=0.8', 'ja'],
    ['ja; q=0.5, en;q=0.9', 'en'],
    ['ja;q=0', 'en'],
    ['ja-JP;q=0.0', 'en'],
  ])('Accept-Language %j → %s', (header, lang) => {
    expect(negotiateLanguage(header)).toBe(lang);
  });

  it('knows its languages', () => {
    expect(isLang('ja')).toBe(true);
    expect(isLang('en')).toBe(true);
    expect(isLang('fr')).toBe(false);
  });

  it('picks one language out of a result', () => {
    const r = { ...evaluateRule(rule('a', {}), {} as NormalisedSnapshot), remediation: [{ en: 'do', ja: 'する' }] };
    expect(localiseResult(r, 'ja')).toEqual({ ruleId: 'a', ruleVersion: '1.0.0', title: 'a', severity: 'Info', status: 'Pass', reasonCode: 'Ok', message: 'a OK', remediation: ['する'], references: [], evidence: { id: 'a' } });
    expect(localiseResult(r, 'en').remediation).toEqual(['do']);
  });
});
