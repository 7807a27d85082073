// Edge cases of detection and reading that no single fixture shows: built from a fixture with
// one change each, so the rest of the snapshot stays realistic.
import { describe, expect, it } from 'vitest';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { readFixture } from './fixture-table';

type Doc = { registry: Record<string, unknown>[]; services: Record<string, unknown>[] };

const BB88 = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';
const BB85 = 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking';

function evaluate(doc: unknown) {
  const parsed = parseSnapshot(doc, { now: Date.parse('2030-01-01T00:00:00Z') });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return mcafeePort25Blocked.evaluate(parsed.normalised);
}

function withKey(file: string, path: string, view: string, entry: Record<string, unknown>): Doc {
  const doc = readFixture(file) as Doc;
  const i = doc.registry.findIndex((e) => String(e.path).toLowerCase() === path.toLowerCase() && e.view === view);
  const next = { path, view, ...entry };
  if (i >= 0) doc.registry[i] = next;
  else doc.registry.push(next);
  return doc;
}

describe('port-25 rule edge cases', () => {
  it('evaluates the newer family when 8.0i leftovers are also present, and lists them', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', '32', {
      exists: true,
      values: [{ name: 'szProductVer', type: 'REG_SZ', data: '8.0.0.912' }],
    });
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.evidence).toMatchObject({ product: { generation: 'VSE88', alsoFound: [{ path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', view: '32' }] } });
  });

  it('counts an installed key the collector could not read as installed', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', '32', { exists: true, error: { code: 'AccessDenied' } });
    const r = evaluate(doc);
    expect(r.status).not.toBe('NotApplicable');
    expect(r.evidence).toMatchObject({ product: { version: null, installedKeyError: 'AccessDenied', generationFrom: 'settingsKey', generation: 'VSE88' } });
  });

  it('treats a NotFound error on the installed key as not installed', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', '32', { exists: false, error: { code: 'NotFound' } });
    expect(evaluate(doc).reasonCode).toBe('NotInstalled');
  });

  it('gives Unknown when a subkey of the branch could not be read', () => {
    const doc = withKey('vse88-x64-exchange2013-wildcard-and-full-path-exclusions.json', `${BB88}\\User`, '32', { exists: true, error: { code: 'AccessDenied' } });
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('ConfigUnreadable');
    expect((r.evidence.config as { problems: string[] }).problems.join()).toContain('BehaviourBlocking\\User');
  });

  it('reads port rules kept in a subkey of the branch', () => {
    const doc = withKey('vse88-custom-rule-inbound-25-only.json', `${BB88}\\Custom`, '32', {
      exists: true,
      values: [
        { name: 'PortBlockRuleName_1', type: 'REG_SZ', data: 'Block outbound SMTP' },
        { name: 'PortBlockEnabled_1', type: 'REG_DWORD', data: 1 },
        { name: 'PortBlockPorts_1', type: 'REG_SZ', data: '25' },
      ],
    });
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.evidence).toMatchObject({ culprits: [{ rule: 'Block outbound SMTP', ruleId: 'Custom #1' }, { rule: 'Block outbound SMTP' }] });
  });

  it('keeps going when APEnabled has an unexpected type, and says so', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    const bb = doc.registry.find((e) => e.path === BB88 && e.view === '32') as { values: { name: string; type: string; data: unknown }[] };
    bb.values[0] = { name: 'APEnabled', type: 'REG_BINARY', data: 'AA==' };
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.evidence).toMatchObject({ config: { apEnabled: null, problems: ['APEnabled is REG_BINARY, not a 0/1 flag'] } });
  });

  it('a stopped Exchange service still counts as present (row 2 looks at presence, not state)', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    doc.services = doc.services.map((s) => (s.name === 'MSExchangeTransport' ? { ...s, state: 'Stopped', started: false, processId: 0 } : s));
    expect(evaluate(doc).reasonCode).toBe('SmtpNotExcluded');
  });

  it('a reference-layout copy of the built-in rule on 8.8 replaces the product default', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    const bb = doc.registry.find((e) => e.path === BB88 && e.view === '32') as { values: unknown[] };
    bb.values.push(
      { name: 'PortBlockRuleName_3', type: 'REG_SZ', data: 'マス メール型ワームによるメールの送信を防止する' },
      { name: 'PortBlockEnabled_3', type: 'REG_DWORD', data: 1 },
      { name: 'PortBlockPorts_3', type: 'REG_SZ', data: '25' },
      { name: 'PortBlockExcludedProcesses_3', type: 'REG_SZ', data: 'EdgeTransport.exe' },
    );
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpExcluded');
    expect((r.evidence.config as { rules: unknown[] }).rules).toHaveLength(1);
    expect(r.evidence).toMatchObject({ config: { rules: [{ builtIn: true, source: 'reference-layout' }] }, assumptions: [] });
  });
});

describe('product versions under McAfee\\DesktopProtection', () => {
  const withVersion = (version: string, settingsKey = BB88) => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    const dp = doc.registry.find((e) => e.path === 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection' && e.view === '32') as { values: { name: string; data: unknown }[] };
    dp.values[0]!.data = version;
    const bb = doc.registry.find((e) => e.path === BB88 && e.view === '32')!;
    bb.path = settingsKey;
    doc.registry = doc.registry.filter((e) => e === bb || !(String(e.path) === settingsKey && e.view === '32'));
    return evaluate(doc).evidence.product;
  };
  it.each([
    ['7.1.0.123', BB88, 'VSE88', 'settingsKey'],
    ['8.3.0.1', BB85, 'VSE85-87', 'settingsKey'],
    ['8.0.0.912', BB85, 'VSE85-87', 'settingsKey'],
    ['9.0.0.1', BB88, 'VSE88', 'version'],
    ['8.7.0.570', BB85, 'VSE85-87', 'version'],
  ])('%s with the settings at %s: %s from %s', (version, key, generation, from) => {
    expect(withVersion(version, key)).toMatchObject({ version, generation, generationFrom: from });
  });
});

type Value = { name: string; type: string; data: unknown };
const BB80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const DP = 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection';
const key = (doc: Doc, path: string, view = '32') => doc.registry.find((e) => e.path === path && e.view === view) as { values: Value[]; exists: boolean } & Record<string, unknown>;
const config = (r: ReturnType<typeof evaluate>) => r.evidence.config as Record<string, unknown>;
/** Reference-layout values of an enabled port rule #1. */
const portRule = (name: string, ports: string, exclude?: string): Value[] => [
  { name: 'PortBlockRuleName_1', type: 'REG_SZ', data: name },
  { name: 'PortBlockEnabled_1', type: 'REG_DWORD', data: 1 },
  { name: 'PortBlockPorts_1', type: 'REG_SZ', data: ports },
  ...(exclude === undefined ? [] : [{ name: 'PortBlockExcludedProcesses_1', type: 'REG_SZ', data: exclude }]),
];
const EDGE_LOG = '11/27/2026\t2:20:31 PM\tBlocked by port blocking rule \tC:\\X\\EDGETRANSPORT.EXE\tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail\t192.0.2.25:25\r\n';
const INETINFO_LOG = EDGE_LOG.replace('EDGETRANSPORT.EXE', 'INETINFO.EXE');

describe('which settings key decides', () => {
  it('prefers the installed key\'s view when both views hold the settings, and lists the other view as a leftover', () => {
    for (const installedView of ['32', '64'] as const) {
      const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
      const dp = key(doc, DP);
      const bb = key(doc, BB88);
      doc.registry = doc.registry.filter((e) => !(e.view === '64' && (e.path === DP || e.path === BB88)));
      dp.view = installedView;
      doc.registry.push({ ...bb, view: '64', values: [...bb.values, { name: 'APEnabled', type: 'REG_DWORD', data: 0 }].slice(1) });
      const r = evaluate(doc);
      expect(r.reasonCode, installedView).toBe(installedView === '64' ? 'AccessProtectionOff' : 'SmtpNotExcluded');
      expect(config(r)).toMatchObject({ key: { view: installedView }, leftovers: [{ path: BB88, view: installedView === '64' ? '32' : '64', generation: 'VSE88' }] });
    }
  });

  it('finds the settings in the other view when the installed key\'s view has none', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    doc.registry = doc.registry.filter((e) => !(e.view === '64' && e.path === DP));
    key(doc, DP).view = '64';
    expect(config(evaluate(doc))).toMatchObject({ key: { path: BB88, view: '32' }, leftovers: [] });
  });

  it('takes the view where the key exists over one the collector could not read', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', BB88, '64', { exists: false, error: { code: 'AccessDenied' } });
    doc.registry = doc.registry.filter((e) => !(e.view === '64' && e.path === DP));
    key(doc, DP).view = '64';
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(config(r)).toMatchObject({ key: { view: '32' }, leftovers: [{ path: BB88, view: '64', generation: 'VSE88' }] });
  });

  it('reads the other 8.x family member\'s key when the installed one\'s is missing, and says so', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, BB88).path = BB85;
    doc.registry = doc.registry.filter((e) => !(e.path === BB85 && e.view === '32' && e.exists === false));
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(config(r)).toMatchObject({ key: { path: BB85 }, problems: [`settings found at ${BB85}, not where VSE88 keeps them`], leftovers: [] });
    const other = readFixture('vse85-userenforce-off.json') as Doc;
    key(other, BB85).path = BB88;
    other.registry = other.registry.filter((e) => !(e.path === BB88 && e.view === '32' && e.exists === false));
    expect(config(evaluate(other))).toMatchObject({ key: { path: BB88 }, problems: [`settings found at ${BB88}, not where VSE85-87 keeps them`] });
  });

  it('8.0i has no other family member: its missing key stays missing', () => {
    for (const other of [BB85, BB88]) {
      const doc = readFixture('vse80i-exchange2003-inetinfo-removed-from-list.json') as Doc;
      key(doc, BB80).path = other;
      doc.registry = doc.registry.filter((e) => !(e.path === other && e.exists === false));
      const r = evaluate(doc);
      expect(r.reasonCode).toBe('ConfigUnreadable');
      expect(config(r)).toMatchObject({ read: 'missing', key: { path: BB80, view: null, lastWriteTime: null }, leftovers: [{ path: other, view: '32' }] });
    }
  });

  it('without any settings key and an unknown version, takes 8.8 and finds its key missing', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, DP).values[0]!.data = '7.1.0.123';
    doc.registry = doc.registry.filter((e) => e.path !== BB88);
    const r = evaluate(doc);
    expect(r.evidence.product).toMatchObject({ generation: 'VSE88', generationFrom: 'settingsKey', version: '7.1.0.123' });
    expect(config(r)).toMatchObject({ read: 'missing', key: { path: BB88, view: null } });
  });

  it('lists log path values as written, skipping blank and non-text ones', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, BB88).values.push({ name: 'SZLOGFILENAME', type: 'REG_SZ', data: '   ' }, { name: 'szLogFileName_Ent', type: 'REG_EXPAND_SZ', data: ' %DEFLOGDIR%\\AccessProtectionLog.txt' });
    expect(config(evaluate(doc)).logPathSettings).toEqual([{ valueName: 'szLogFileName_Ent', value: ' %DEFLOGDIR%\\AccessProtectionLog.txt' }]);
    const dword = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(dword, BB88).values.push({ name: 'szLogFileName', type: 'REG_BINARY', data: 'AA==' });
    expect(config(evaluate(dword)).logPathSettings).toEqual([]);
  });

  it('lists 8.0i file-rule values left in a newer key, by their exact form', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, BB88).values.push(
      ...['FileBlockEnabled_27', 'FileBlock_3', 'xFileBlockEnabled_27', 'FileBlockEnabled_27x', 'FileBlockEnabled', 'FileBlockEnabled_'].map((name) => ({ name, type: 'REG_DWORD', data: 0 })),
    );
    expect(config(evaluate(doc)).olderLayoutValues).toEqual(['FileBlockEnabled_27', 'FileBlock_3']);
    expect(config(evaluate(readFixture('vse80i-apenabled-off.json'))).olderLayoutValues).toEqual([]);
  });

  it('an 8.8 key with port-rule values but no AccessProtectionUserRules: the built-in rule from defaults', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, BB88).values = [
      { name: 'APEnabled', type: 'REG_DWORD', data: 1 },
      ...portRule('Block IRC', '6667'),
    ];
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(config(r)).toMatchObject({ userRules: null, rules: [{ id: '#1' }, { id: 'AVO10', source: 'product-default' }] });
    expect((r.evidence.assumptions as { code: string }[]).map((a) => a.code)).toEqual(['BuiltInRuleStateFromDefaults', 'BuiltInRuleReportFromDefaults', 'BuiltInRuleDefinitionFromDefaults']);
  });

  it('names every problem of a malformed rule', () => {
    const doc = readFixture('vse80i-port-rule-malformed-enabled-flag.json') as Doc;
    key(doc, BB80).values.push({ name: 'PortBlockReport_3', type: 'REG_BINARY', data: 'AA==' });
    expect(config(evaluate(doc)).problems).toEqual(['rule #3: PortBlockEnabled_3 is REG_BINARY, not a 0/1 flag, PortBlockReport_3 is REG_BINARY, not a 0/1 flag']);
  });

  it('says which subkey could not be read, with its error', () => {
    const doc = withKey('vse88-x64-exchange2013-wildcard-and-full-path-exclusions.json', `${BB88}\\User`, '32', { exists: true, error: { code: 'IoError' } });
    expect(config(evaluate(doc))).toMatchObject({ read: 'unreadable', problems: [`the collector could not read ${BB88}\\User (IoError)`] });
  });

  it('a key below the branch that does not exist adds nothing', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', `${BB88}\\Gone`, '32', { exists: false });
    expect(evaluate(doc).reasonCode).toBe('SmtpNotExcluded');
  });
});

describe('the installed key and version', () => {
  it('counts an installed key that could not be read (not NotFound) as installed, even when said not to exist', () => {
    const doc = withKey('vse88-x64-transport-not-excluded.json', DP, '32', { exists: false, error: { code: 'AccessDenied' } });
    expect(evaluate(doc).evidence.product).toMatchObject({ installedKeyError: 'AccessDenied', version: null, generation: 'VSE88' });
  });

  it('trims the version, and takes a blank one as none', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, DP).values[0]!.data = ' 8.8.0.1804 ';
    expect(evaluate(doc).evidence.product).toMatchObject({ version: '8.8.0.1804', generationFrom: 'version' });
    key(doc, DP).values[0]!.data = '   ';
    expect(evaluate(doc).evidence.product).toMatchObject({ version: null, generationFrom: 'settingsKey' });
  });

  it('evidence names the product\'s key, view and how the generation was found', () => {
    expect(evaluate(readFixture('vse80i-apenabled-off.json')).evidence.product).toEqual({
      generation: 'VSE80i',
      version: '8.0.0.912',
      generationFrom: 'installedKey',
      installedKey: { path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', view: '32' },
      installedKeyError: null,
      alsoFound: [],
    });
  });
});

describe('decisions that need two rules, or a log and a broken key', () => {
  it('the "state assumed" note appears only when a culprit rule\'s state was assumed', () => {
    // inetinfo.exe is on the built-in rule's default list (state assumed), but a read custom rule blocks it.
    const doc = readFixture('vse88-exchange2003-smtpsvc-pathname-null.json') as Doc;
    key(doc, BB88).values.push(...portRule('Block SMTP', '25'));
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.message.en).toBe('McAfee VirusScan Enterprise 8.8 (8.8.0.1804) may block Exchange mail on port 25: inetinfo.exe (service SMTPSVC) is blocked by "Block SMTP" (ports 25, Outbound).');
    expect(r.evidence.coverage).toEqual([
      { service: 'SMTPSVC', image: 'inetinfo.exe', rule: 'Block SMTP', ruleId: '#1', applies: true, excludedBy: null, notIncluded: false },
      { service: 'SMTPSVC', image: 'inetinfo.exe', rule: 'Prevent mass mailing worms from sending mail', ruleId: 'AVO10', applies: false, excludedBy: 'inetinfo.exe', notIncluded: false },
    ]);
  });

  it('the "state assumed" note appears when an assumed rule blocks, even if another rule excludes the process', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc;
    key(doc, BB88).values.push(...portRule('Block SMTP', '25', 'EdgeTransport.exe'));
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.message.en).toContain('(The rule state is assumed from product defaults: no change to it is recorded.)');
    expect(r.evidence.coverage).toMatchObject([{ rule: 'Block SMTP', applies: false }, { ruleId: 'AVO10', applies: true }]);
  });

  it('a block in the log with settings in an unknown layout: Error, with no culprit from the rules that could be read', () => {
    const doc = readFixture('vse80i-port-rule-malformed-enabled-flag.json') as Doc & { files: unknown[]; host: Record<string, unknown> };
    key(doc, BB80).values.push(...portRule('Block SMTP', '25'));
    doc.host.utcOffsetMinutes = 0;
    doc.files = [{ path: 'C:\\Documents and Settings\\All Users\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt', exists: true, tail: INETINFO_LOG }];
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('BlockObserved');
    expect(r.evidence.culprits).toEqual([]);
    expect(config(r).read).toBe('unrecognised');
    expect(r.remediation[0]?.en).toBe('Add the Exchange SMTP process inetinfo.exe to the "Processes to exclude" list of "Prevent mass mailing worms from sending mail" (preferred: every other process stays blocked).');
  });

  it('a report-only line in the log proves nothing and needs no time zone', () => {
    const doc = readFixture('vse88-x64-report-only.json') as Doc & { host: Record<string, unknown> };
    delete doc.host.utcOffsetMinutes;
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('RuleDisabled');
    expect((r.evidence.assumptions as { code: string }[]).map((a) => a.code)).not.toContain('LogTimeZoneUnknown');
  });

  it('an earlier block without a time zone says how times were read', () => {
    const doc = readFixture('vse88-x64-transport-not-excluded.json') as Doc & { files: unknown[] };
    doc.files = [{ path: 'C:\\ProgramData\\McAfee\\DesktopProtection\\AccessProtectionLog.txt', exists: true, tail: EDGE_LOG.replace('11/27/2026', '1/27/2024') }];
    const r = evaluate(doc);
    expect(r.reasonCode).toBe('SmtpNotExcluded');
    expect(r.evidence.log).toMatchObject({ proving: [], earlier: [{ localTime: '2024-01-27T14:20:31' }] });
    expect((r.evidence.assumptions as { code: string }[]).map((a) => a.code)).toContain('LogTimeZoneUnknown');
  });
});

describe('SMTP services in the evidence', () => {
  it('keeps the PathName as read, and reads the image of a quoted path after blanks or an unquoted one with blanks', () => {
    const doc = readFixture('vse80i-exchange2003-inetinfo-removed-from-list.json') as Doc;
    const smtp = doc.services.find((s) => s.name === 'SMTPSVC')!;
    smtp.pathName = '  "C:\\WINDOWS\\System32\\inet srv\\inetinfo.exe" -k smtp';
    expect(evaluate(doc).evidence.smtpServices).toEqual([
      { name: 'SMTPSVC', state: 'Running', started: true, pathName: '  "C:\\WINDOWS\\System32\\inet srv\\inetinfo.exe" -k smtp', image: 'inetinfo.exe', imageSource: 'pathName', assumed: false },
    ]);
    smtp.pathName = 'C:\\Program Files\\IIS Host\\inetinfo.exe';
    expect(evaluate(doc).evidence.smtpServices).toMatchObject([{ image: 'inetinfo.exe' }]);
  });
});
