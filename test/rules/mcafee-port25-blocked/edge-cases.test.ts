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
