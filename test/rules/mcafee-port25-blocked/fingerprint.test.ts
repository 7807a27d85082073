// The port-25 rule's configuration fingerprint on the real fixtures: the facts written by hand
// from each fixture's registry values, which fixtures share a configuration and which differ (and
// in which field), and the normalisation helpers one by one.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintHash } from '../../../src/rules/common/fingerprint';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { configurationFacts, normaliseExclusions, normaliseInclusions, normalisePorts } from '../../../src/rules/mcafee-port25-blocked/fingerprint';
import { evaluateRule } from '../../../src/rules/registry';
import type { Facts } from '../../../src/rules/types';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { fixtureFiles, readFixture } from './fixture-table';

const NOW = Date.parse('2026-12-01T00:00:00.000Z');

function normalised(file: string) {
  const parsed = parseSnapshot(readFixture(file), { now: NOW });
  if (!parsed.ok) throw new Error(`${file} does not satisfy the contract`);
  return parsed.normalised;
}

const factsOf = (file: string): Facts => configurationFacts(normalised(file));
const factsOfDoc = (doc: unknown): Facts => {
  const parsed = parseSnapshot(doc, { now: NOW });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return configurationFacts(parsed.normalised);
};
const hashOf = (file: string): string => fingerprintHash(factsOf(file));

/** The fields in which two sets of facts differ. */
function differing(a: Facts, b: Facts): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/** The product-default exclusions of the 8.5+ mass-mailing rule, lower case and sorted. */
const DEFAULTS = [
  'agent.exe', 'amgrsrvc.exe', 'eudora.exe', 'inetinfo.exe', 'mozilla.exe', 'msimn.exe', 'netscp.exe', 'nlnotes.exe', 'nrouter.exe', 'nsmtp.exe',
  'ntaskldr.exe', 'opera.exe', 'outlook.exe', 'pine.exe', 'poco.exe', 'thebat.exe', 'thunderbird.exe', 'tomcat.exe', 'winpm-32.exe',
];

const rule = (key: string, f: { block: boolean; report: boolean; ports: string; direction: string; include?: string[]; exclude?: string[] }) => ({
  [`portRule[${key}].block`]: f.block,
  [`portRule[${key}].report`]: f.report,
  [`portRule[${key}].ports`]: f.ports,
  [`portRule[${key}].direction`]: f.direction,
  [`portRule[${key}].include`]: f.include ?? [],
  [`portRule[${key}].exclude`]: f.exclude ?? [],
});

const VSE80I_OTHER_RULES = {
  ...rule('#1', { block: false, report: true, ports: '6666-6669', direction: 'Outbound', exclude: ['mirc.exe', 'pirch32.exe'] }),
  ...rule('#2', { block: false, report: true, ports: '69', direction: 'Outbound' }),
};

describe('port-25 configuration facts on the fixtures', () => {
  it('no VirusScan: only the missing product', () => {
    expect(factsOf('no-virusscan-exchange2010.json')).toEqual({ 'product.generation': null });
    expect(factsOf('ens10-trellix-only-exchange2019.json')).toEqual({ 'product.generation': null });
  });

  it('8.0i with Access Protection off: every port rule of the reference layout, the mass-mailing rule under its own key', () => {
    expect(factsOf('vse80i-apenabled-off.json')).toEqual({
      'product.generation': 'VSE80i',
      'settings.read': 'ok',
      accessProtection: 'off',
      ...VSE80I_OTHER_RULES,
      ...rule('mass-mailing', { block: true, report: true, ports: '25', direction: 'Outbound', exclude: ['outlook.exe'] }),
    });
  });

  it('a Japanese rule name is the same mass-mailing rule; a REG_MULTI_SZ list is sorted', () => {
    expect(factsOf('vse80i-custom-rule-japanese-name.json')).toEqual({
      'product.generation': 'VSE80i',
      'settings.read': 'ok',
      accessProtection: 'on',
      ...VSE80I_OTHER_RULES,
      ...rule('mass-mailing', { block: true, report: true, ports: '25', direction: 'Outbound', exclude: ['msimn.exe', 'nlnotes.exe', 'outlook.exe'] }),
    });
  });

  it('8.8 report only: the built-in rule with Block off, Report on and the default exclusions', () => {
    expect(factsOf('vse88-x64-report-only.json')).toEqual({
      'product.generation': 'VSE88',
      'settings.read': 'ok',
      accessProtection: 'on',
      ...rule('mass-mailing', { block: false, report: true, ports: '25,587', direction: 'Outbound', exclude: DEFAULTS }),
    });
  });

  it('full paths and wildcards become lower-case file names, merged with the defaults', () => {
    const f = factsOf('vse88-x64-exchange2013-wildcard-and-full-path-exclusions.json');
    expect(f['portRule[mass-mailing].exclude']).toEqual([...DEFAULTS, 'edgetransport.exe', 'msexchange*transport.exe'].sort());
    expect(f['portRule[#1].exclude']).toEqual(['edgetrans?ort.exe', 'msexchangefrontendtransport.exe']);
    expect(f['portRule[#1].ports']).toBe('25,465,587');
  });

  it('an include list and a port range with direction Both', () => {
    const f = factsOf('vse88-custom-rule-include-list-outlook-only.json');
    expect(f).toMatchObject({ 'portRule[#1].include': ['outlook.exe', 'winword.exe'], 'portRule[#1].ports': '20-30', 'portRule[#1].direction': 'Both', 'portRule[mass-mailing].block': false });
  });

  it('APInstalled 0 turns Access Protection off as APEnabled 0 does', () => {
    expect(factsOf('vse88-x64-apinstalled-off.json').accessProtection).toBe('off');
    expect(factsOf('vse88-x64-apenabled-off.json').accessProtection).toBe('off');
    expect(differing(factsOf('vse88-x64-apinstalled-off.json'), factsOf('vse88-x64-apenabled-off.json'))).toEqual([]);
  });

  it('settings not read: how they were not read, and nothing about rules', () => {
    expect(factsOf('vse80i-behaviourblocking-access-denied.json')).toEqual({ 'product.generation': 'VSE80i', 'settings.read': 'unreadable' });
    expect(factsOf('vse80i-port-rule-malformed-enabled-flag.json')).toEqual({ 'product.generation': 'VSE80i', 'settings.read': 'unrecognised' });
    expect(factsOf('vse85-behaviourblocking-missing.json')).toEqual({ 'product.generation': 'VSE85-87', 'settings.read': 'missing' });
  });

  it('servers configured alike share a fingerprint whatever their services, scanner or log', () => {
    // inetinfo in the default list: Pass on Exchange 2003, Unknown without McShield, NotApplicable on a file server.
    const same = ['vse80i-exchange2003-inetinfo-default-excluded.json', 'vse80i-exchange2003-mcshield-missing.json', 'vse80i-no-smtp-service-file-server.json'];
    expect(new Set(same.map(hashOf)).size).toBe(1);
    // A block in the log (Error) and a stopped scanner (Pass) on the same product defaults.
    expect(hashOf('vse85-block-observed-in-log-jst.json')).toBe(hashOf('vse87-exchange2010-mcshield-stopped.json'));
    // APInstalled 1 and an absent APInstalled both leave Access Protection on.
    expect(hashOf('vse88-x64-userrules-untouched-no-nul.json')).toBe(hashOf('vse88-x64-transport-not-excluded.json'));
    // The registry view the keys sit in is where, not what.
    expect(hashOf('vse88-x64-keys-in-native-64-view.json')).toBe(hashOf('vse88-x64-exchange2013-mcshield-disabled.json'));
  });

  it('one removed exclusion is one differing field', () => {
    const withInetinfo = factsOf('vse80i-exchange2003-inetinfo-default-excluded.json');
    const without = factsOf('vse80i-exchange2003-inetinfo-removed-from-list.json');
    expect(differing(withInetinfo, without)).toEqual(['portRule[mass-mailing].exclude']);
    expect(hashOf('vse80i-exchange2003-inetinfo-default-excluded.json')).not.toBe(hashOf('vse80i-exchange2003-inetinfo-removed-from-list.json'));
  });

  it('Block off and Report off are fields of their own', () => {
    expect(differing(factsOf('vse85-userenforce-off.json'), factsOf('vse85-block-observed-in-log-jst.json'))).toEqual(['portRule[mass-mailing].block']);
    expect(differing(factsOf('vse88-x64-userenforce-off-report-off-co14.json'), factsOf('vse88-x64-report-only.json'))).toEqual(['portRule[mass-mailing].report']);
  });

  it('every fixture has JSON facts and a sha256 fingerprint stored with its result', () => {
    for (const file of fixtureFiles()) {
      const r = evaluateRule(mcafeePort25Blocked, normalised(file));
      expect(r.fingerprint?.hash, file).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(r.fingerprint?.facts).toEqual(factsOf(file));
      // The facts name the generation the verdict was reached on.
      expect(r.fingerprint?.facts['product.generation'], file).toBe((r.evidence as { product?: { generation: string } }).product?.generation ?? null);
      expect(JSON.parse(JSON.stringify(r.fingerprint?.facts))).toEqual(r.fingerprint?.facts);
    }
    // The fixtures are built to differ: far more configurations than generations.
    expect(new Set(fixtureFiles().map(hashOf)).size).toBeGreaterThanOrEqual(20);
  });
});

type RegValue = { name: string; type: string; data: unknown };
type Doc = { registry: { path: string; view: string; exists?: boolean; values?: RegValue[] }[] };

const BB80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const BB88 = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';

/** A fixture with one more key of port-rule values below its settings key. */
function withSubkey(file: string, path: string, values: RegValue[]): Doc {
  const doc = readFixture(file) as Doc;
  doc.registry.push({ path, view: '32', exists: true, values });
  return doc;
}

/** A mass-mailing rule's values in the reference layout, as group `_n`. */
function massMailing(n: number, f: { name: string; block: number; report: number; ports: string; exclude: string[] }): RegValue[] {
  return [
    { name: `PortBlockRuleName_${n}`, type: 'REG_SZ', data: f.name },
    { name: `PortBlockEnabled_${n}`, type: 'REG_DWORD', data: f.block },
    { name: `PortBlockReport_${n}`, type: 'REG_DWORD', data: f.report },
    { name: `PortBlockPorts_${n}`, type: 'REG_SZ', data: f.ports },
    { name: `PortBlockDirection_${n}`, type: 'REG_SZ', data: 'Outbound' },
    { name: `PortBlockExcludedProcesses_${n}`, type: 'REG_MULTI_SZ', data: f.exclude },
  ];
}

describe('port-25 configuration facts of rules kept below the settings key', () => {
  const custom = (subkey: string): Doc =>
    withSubkey('vse88-custom-rule-inbound-25-only.json', `${BB88}\\${subkey}`, [
      { name: 'PortBlockRuleName_1', type: 'REG_SZ', data: 'Block outbound SMTP' },
      { name: 'PortBlockEnabled_1', type: 'REG_DWORD', data: 1 },
      { name: 'PortBlockPorts_1', type: 'REG_SZ', data: '25' },
    ]);

  it('a rule in a subkey is keyed by the subkey and its number, in lower case as Windows ignores the case', () => {
    const f = factsOfDoc(custom('Custom'));
    expect(Object.keys(f).filter((k) => k.startsWith('portRule[custom #1]')).sort()).toEqual(
      ['block', 'direction', 'exclude', 'include', 'ports', 'report'].map((field) => `portRule[custom #1].${field}`),
    );
    expect(f).toMatchObject({ 'portRule[custom #1].block': true, 'portRule[custom #1].report': false, 'portRule[custom #1].ports': '25' });
    expect(differing(factsOfDoc(custom('CUSTOM')), f)).toEqual([]);
    expect(fingerprintHash(factsOfDoc(custom('CUSTOM')))).toBe(fingerprintHash(f));
  });

  // The Japanese fixture keeps its mass-mailing rule as group _3 of the 8.0i settings key.
  const X = { name: 'マス メール型ワームによるメールの送信を防止する', block: 1, report: 1, ports: '25', exclude: ['outlook.exe', 'msimn.exe', 'nlnotes.exe'] };
  const Y = { name: 'Prevent mass mailing worms from sending mail', block: 1, report: 0, ports: '587,25', exclude: ['EdgeTransport.exe'] };
  const factsX = { block: true, report: true, ports: '25', direction: 'Outbound', include: [], exclude: ['msimn.exe', 'nlnotes.exe', 'outlook.exe'] };
  const factsY = { block: true, report: false, ports: '25,587', direction: 'Outbound', include: [], exclude: ['edgetransport.exe'] };

  /** The settings key holding `inKey` as its mass-mailing rule, and a subkey holding `below`. */
  function twoMassMailingRules(inKey: typeof X, below: typeof X): Doc {
    const doc = withSubkey('vse80i-custom-rule-japanese-name.json', `${BB80}\\Custom`, massMailing(1, below));
    const bb = doc.registry.find((k) => k.path === BB80)!;
    bb.values = [...bb.values!.filter((v) => !v.name.endsWith('_3')), ...massMailing(3, inKey)];
    return doc;
  }

  it('two mass-mailing rules under one key are told apart by content, not by where the snapshot lists them', () => {
    const expected = {
      'product.generation': 'VSE80i',
      'settings.read': 'ok',
      accessProtection: 'on',
      ...VSE80I_OTHER_RULES,
      // The facts' JSON decides the order: "report":false sorts before "report":true.
      ...rule('mass-mailing', factsY),
      ...rule('mass-mailing~2', factsX),
    };
    expect(factsOfDoc(twoMassMailingRules(X, Y))).toEqual(expected);
    expect(factsOfDoc(twoMassMailingRules(Y, X))).toEqual(expected);
  });
});

describe('fingerprint hash', () => {
  it('is sha256 of the canonical JSON, whatever the key order', () => {
    const canonical = '{"a":["x","y"],"b":null,"c":true}';
    const expected = 'sha256:' + createHash('sha256').update(canonical).digest('hex');
    expect(fingerprintHash({ c: true, b: null, a: ['x', 'y'] })).toBe(expected);
    expect(fingerprintHash({ a: ['x', 'y'], b: null, c: true })).toBe(expected);
    expect(fingerprintHash({ a: ['y', 'x'], b: null, c: true })).not.toBe(expected);
  });
});

describe('normalisation helpers', () => {
  it('ports: sorted, overlapping and adjacent ranges merged', () => {
    expect(normalisePorts([{ from: 587, to: 587 }, { from: 25, to: 25 }])).toBe('25,587');
    expect(normalisePorts([{ from: 25, to: 25 }, { from: 20, to: 30 }, { from: 587, to: 587 }])).toBe('20-30,587');
    expect(normalisePorts([{ from: 20, to: 24 }, { from: 25, to: 25 }])).toBe('20-25');
    expect(normalisePorts([{ from: 20, to: 23 }, { from: 25, to: 25 }])).toBe('20-23,25');
    expect(normalisePorts([{ from: 10, to: 40 }, { from: 20, to: 30 }])).toBe('10-40');
    expect(normalisePorts([])).toBe('');
  });

  it('exclusions: file names in lower case, once each; an empty entry goes; any * is everything', () => {
    expect(normaliseExclusions(['Outlook.EXE', 'C:\\Mail\\outlook.exe', '"C:\\x y\\EdgeTransport.exe"', 'outlook.exe'])).toEqual(['edgetransport.exe', 'outlook.exe']);
    expect(normaliseExclusions(['C:\\dir\\', 'a.exe'])).toEqual(['a.exe']);
    expect(normaliseExclusions(['a.exe', '**'])).toEqual(['*']);
    expect(normaliseExclusions(['a*'])).toEqual(['a*']);
    // Only an entry of nothing but stars is everything: a wildcard pattern keeps its name.
    expect(normaliseExclusions(['*.exe', 'b.exe'])).toEqual(['*.exe', 'b.exe']);
  });

  it('inclusions: empty and * both mean every process; a list of only empty entries includes none', () => {
    expect(normaliseInclusions([])).toEqual([]);
    expect(normaliseInclusions(['outlook.exe', '*'])).toEqual([]);
    expect(normaliseInclusions(['C:\\dir\\'])).toEqual(['']);
    expect(normaliseInclusions(['C:\\dir\\', 'B.exe', 'a.exe'])).toEqual(['a.exe', 'b.exe']);
  });
});
