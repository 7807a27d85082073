// Unit tests of the rule's building blocks: process matching, port lists, the two registry
// decoders, SMTP service images.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeReferenceLayout } from '../../../src/rules/mcafee-port25-blocked/decode-reference-layout';
import { builtInMassMailingRule, decodeUserRules } from '../../../src/rules/mcafee-port25-blocked/decode-user-rules';
import { generationFromVersion } from '../../../src/rules/mcafee-port25-blocked/locations';
import { appliesTo, coversOutbound25, isMassMailingRule, parseDirection, parsePortList } from '../../../src/rules/mcafee-port25-blocked/port-rules';
import { fileNameOf, processMatches, splitProcessList } from '../../../src/rules/mcafee-port25-blocked/process-match';
import { imageOfPathName } from '../../../src/rules/mcafee-port25-blocked/smtp-services';
import type { RegistryKeyState } from '../../../src/snapshot/normalise';
import type { RegistryValue } from '../../../src/snapshot/schema';

const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
const bin = (text: string): RegistryValue => ({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: b64(text) });

function keyWith(values: RegistryValue[], path = 'HKLM\\SOFTWARE\\BB'): RegistryKeyState {
  return { path, view: '32', exists: true, values: new Map(values.map((v) => [v.name.toLowerCase(), v])) };
}

describe('process matching', () => {
  it.each([
    ['EdgeTransport.exe', 'EDGETRANSPORT.EXE', true],
    ['edgetransport.exe', 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe', true],
    ['C:\\Program Files\\Microsoft\\Exchange Server\\V14\\Bin\\EdgeTransport.exe', 'EdgeTransport.exe', true],
    ['"C:\\Program Files\\Exchsrvr\\inetinfo.exe"', 'inetinfo.exe', true],
    ['edge*', 'EdgeTransport.exe', true],
    ['msexchange*transport.exe', 'MSExchangeFrontendTransport.exe', true],
    ['edgetrans?ort.exe', 'EdgeTransport.exe', true],
    ['edgetrans?ort.exe', 'EdgeTransort.exe', false],
    ['*', 'anything.exe', true],
    ['edge.exe', 'EdgeTransport.exe', false],
    ['inetinfo.exe', 'inetinfo.exe.bak', false],
    ['a.b.exe', 'aXb.exe', false],
    ['', 'inetinfo.exe', false],
  ])('%s matches %s: %s', (entry, process, expected) => {
    expect(processMatches(entry, process)).toBe(expected);
  });

  it('takes the file name of paths with either slash', () => {
    expect(fileNameOf('C:/x/y/Z.exe')).toBe('Z.exe');
    expect(fileNameOf('  "C:\\a\\b.exe" ')).toBe('b.exe');
  });

  it('takes the same file name as the plain definition (trim, strip quotes, trim, cut at the last slash)', () => {
    const plain = (e: string): string => {
      const t = e.trim().replace(/^"+|"+$/g, '').trim();
      const cut = Math.max(t.lastIndexOf('\\'), t.lastIndexOf('/'));
      return cut >= 0 ? t.slice(cut + 1) : t;
    };
    const entry = fc.string({ unit: fc.constantFrom('a', 'E', '.', '"', ' ', '\t', '\u00a0', '\ufeff', '\\', '/', ':'), maxLength: 12 });
    fc.assert(fc.property(entry, (e) => {
      expect(fileNameOf(e)).toBe(plain(e));
    }), { numRuns: 2000, seed: 20261129 });
  });

  it('splits REG_SZ lists on , and ; and takes REG_MULTI_SZ items', () => {
    expect(splitProcessList('outlook.exe, eudora.exe;thebat.exe ;; ')).toEqual(['outlook.exe', 'eudora.exe', 'thebat.exe']);
    expect(splitProcessList(['outlook.exe', ' ', 'C:\\x\\y.exe'])).toEqual(['outlook.exe', 'C:\\x\\y.exe']);
  });
});

describe('port lists and directions', () => {
  it('parses ports and ranges', () => {
    expect(parsePortList('25')).toEqual([{ from: 25, to: 25 }]);
    expect(parsePortList('25,587')).toEqual([{ from: 25, to: 25 }, { from: 587, to: 587 }]);
    expect(parsePortList(' 20-30 ; 110 ')).toEqual([{ from: 20, to: 30 }, { from: 110, to: 110 }]);
  });
  it.each(['', 'smtp', '30-20', '0', '70000', '25-', '25,x'])('rejects %j', (text) => {
    expect(parsePortList(text)).toBeUndefined();
  });
  it('covers outbound 25 only outbound or both, and only when 25 is in a list or range', () => {
    const r = (ports: string, direction: 'Outbound' | 'Inbound' | 'Both') => ({ ports: parsePortList(ports) ?? [], direction });
    expect(coversOutbound25(r('20-30', 'Outbound'))).toBe(true);
    expect(coversOutbound25(r('20-30', 'Both'))).toBe(true);
    expect(coversOutbound25(r('25', 'Inbound'))).toBe(false);
    expect(coversOutbound25(r('26-30,587', 'Outbound'))).toBe(false);
    expect(coversOutbound25(r('25-25', 'Outbound'))).toBe(true);
  });
  it('reads directions, Outbound by default', () => {
    expect(parseDirection(undefined)).toBe('Outbound');
    expect(parseDirection('inbound')).toBe('Inbound');
    expect(parseDirection('BOTH')).toBe('Both');
    expect(parseDirection('sideways')).toBeUndefined();
  });
  it('applies to a process in the include list and in no exclusion', () => {
    expect(appliesTo({ include: [], exclude: [] }, 'EdgeTransport.exe')).toEqual({ applies: true });
    expect(appliesTo({ include: ['*'], exclude: ['edge*'] }, 'EdgeTransport.exe')).toEqual({ applies: false, excludedBy: 'edge*' });
    expect(appliesTo({ include: ['outlook.exe'], exclude: [] }, 'EdgeTransport.exe')).toEqual({ applies: false, notIncluded: true });
  });
  it('recognises the built-in rule by id, English or Japanese name', () => {
    expect(isMassMailingRule({ id: 'avo10', name: 'x' })).toBe(true);
    expect(isMassMailingRule({ id: '#3', name: 'Prevent mass mailing worm from sending mail' })).toBe(true);
    expect(isMassMailingRule({ id: '#3', name: 'マス メール型ワームによるメールの送信を防止する' })).toBe(true);
    expect(isMassMailingRule({ id: '#3', name: 'Prevent IRC communication' })).toBe(false);
  });
});

describe('AccessProtectionUserRules', () => {
  it('decodes the untouched default, with and without the trailing NUL', () => {
    for (const text of ['AccessProtection {\r\n}\r\n', 'AccessProtection {\r\n}\r\n\0']) {
      const d = decodeUserRules(bin(text));
      expect(d).toMatchObject({ ok: true, enforce: undefined, report: undefined, userExclusions: [], trailingNul: text.endsWith('\0') });
    }
  });
  it('reads UserEnforce, UserReport and UserExclude for AVO10, last line wins, other rules ignored', () => {
    const text = 'AccessProtection {\r\nUserEnforce AVO10 0\r\nUserEnforce AVO10 1\r\nUserReport AVO10 0\r\nUserEnforce AVO5 1\r\nUserExclude avo10 C:\\Program Files\\X\\EdgeTransport.exe\r\n}\r\n\0';
    expect(decodeUserRules(bin(text))).toMatchObject({ ok: true, enforce: true, report: false, userExclusions: ['C:\\Program Files\\X\\EdgeTransport.exe'], otherLines: 1 });
  });
  it('reads UTF-16LE text too', () => {
    const data = Buffer.from('AccessProtection {\r\nUserEnforce AVO10 0\r\n}\r\n\0', 'utf16le').toString('base64');
    expect(decodeUserRules({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data })).toMatchObject({ ok: true, encoding: 'utf-16le', enforce: false });
  });
  it('refuses binary data, unrelated text and wrong types', () => {
    expect(decodeUserRules({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: Buffer.from([1, 0, 0, 0, 0x9c, 0x3e]).toString('base64') }).ok).toBe(false);
    expect(decodeUserRules(bin('hello world')).ok).toBe(false);
    expect(decodeUserRules({ name: 'AccessProtectionUserRules', type: 'REG_DWORD', data: 1 }).ok).toBe(false);
  });
  it('builds the built-in rule from defaults and says what was assumed', () => {
    const r = builtInMassMailingRule(undefined);
    expect(r).toMatchObject({ id: 'AVO10', enabled: true, direction: 'Outbound', source: 'product-default' });
    expect(r.exclude).toContain('inetinfo.exe');
    expect(r.exclude).not.toContain('EdgeTransport.exe');
    expect(r.assumed).toContain('enabled');
    const d = decodeUserRules(bin('AccessProtection {\r\nUserEnforce AVO10 0\r\nUserExclude AVO10 EdgeTransport.exe\r\n}\r\n'));
    if (!d.ok) throw new Error('decode failed');
    const u = builtInMassMailingRule(d);
    expect(u).toMatchObject({ enabled: false, source: 'AccessProtectionUserRules' });
    expect(u.exclude).toContain('EdgeTransport.exe');
    expect(u.assumed).not.toContain('enabled');
  });
});

describe('8.0i reference layout', () => {
  const sz = (name: string, data: string): RegistryValue => ({ name, type: 'REG_SZ', data });
  const dw = (name: string, data: number): RegistryValue => ({ name, type: 'REG_DWORD', data });

  it('groups values by their _N suffix and decodes each rule', () => {
    const key = keyWith([
      sz('PortBlockRuleName_3', 'Prevent mass mailing worms from sending mail'), dw('PortBlockEnabled_3', 1), dw('PortBlockReport_3', 1), sz('PortBlockPorts_3', '25'),
      { name: 'PortBlockExcludedProcesses_3', type: 'REG_MULTI_SZ', data: ['outlook.exe', 'inetinfo.exe'] },
      sz('PortBlockRuleName_12', 'Custom'), dw('PortBlockEnabled_12', 0), sz('PortBlockPorts_12', '20-30'), sz('PortBlockDirection_12', 'Both'), sz('PortBlockIncludedProcesses_12', 'a.exe;b.exe'),
      dw('FileBlockEnabled_27', 0), dw('APEnabled', 1),
    ]);
    const r = decodeReferenceLayout([key], key.path);
    expect(r.malformed).toEqual([]);
    expect(r.rules).toMatchObject([
      { id: '#3', enabled: true, report: true, ports: [{ from: 25, to: 25 }], direction: 'Outbound', exclude: ['outlook.exe', 'inetinfo.exe'], include: [] },
      { id: '#12', enabled: false, report: false, ports: [{ from: 20, to: 30 }], direction: 'Both', include: ['a.exe', 'b.exe'] },
    ]);
  });
  it('reports an enabled rule whose ports or direction cannot be read as malformed', () => {
    const key = keyWith([dw('PortBlockEnabled_1', 1), sz('PortBlockPorts_1', 'smtp'), dw('PortBlockEnabled_2', 1), sz('PortBlockPorts_2', '25'), sz('PortBlockDirection_2', 'up')]);
    const r = decodeReferenceLayout([key], key.path);
    expect(r.rules).toEqual([]);
    expect(r.malformed.map((m) => m.id)).toEqual(['#1', '#2']);
  });
  it('accepts a disabled rule with unreadable ports (they cannot matter)', () => {
    const key = keyWith([dw('PortBlockEnabled_1', 0), sz('PortBlockPorts_1', '???')]);
    expect(decodeReferenceLayout([key], key.path).rules).toMatchObject([{ id: '#1', enabled: false }]);
  });
  it('finds nothing in a key without port-rule values', () => {
    expect(decodeReferenceLayout([keyWith([dw('APEnabled', 1), dw('FileBlockEnabled_27', 0)])], 'HKLM\\SOFTWARE\\BB')).toEqual({ rules: [], malformed: [] });
  });
  it('names rules from subkeys by their subkey', () => {
    const sub = keyWith([dw('PortBlockEnabled_1', 1), sz('PortBlockPorts_1', '25')], 'HKLM\\SOFTWARE\\BB\\User');
    expect(decodeReferenceLayout([sub], 'HKLM\\SOFTWARE\\BB').rules[0]?.id).toBe('User #1');
  });
});

describe('SMTP service images and versions', () => {
  it.each([
    ['C:\\WINDOWS\\System32\\inetsrv\\inetinfo.exe', 'inetinfo.exe'],
    ['"C:\\Program Files\\X Y\\inetinfo.exe" -k', 'inetinfo.exe'],
    ['C:\\Program Files\\X Y\\inetinfo.exe -k smtp', 'inetinfo.exe'],
    ['C:\\WINDOWS\\system32\\svchost.exe -k iissvcs', 'svchost.exe'],
  ])('%s → %s', (pathName, image) => {
    expect(imageOfPathName(pathName)).toBe(image);
  });
  it('has no image for an absent PathName', () => {
    expect(imageOfPathName(null)).toBeUndefined();
    expect(imageOfPathName('  ')).toBeUndefined();
  });
  it('maps product versions to generations', () => {
    expect(generationFromVersion('8.0.0.912')).toBe('VSE80i');
    expect(generationFromVersion('8.5.0.781')).toBe('VSE85-87');
    expect(generationFromVersion('8.7.0.570')).toBe('VSE85-87');
    expect(generationFromVersion('8.8.0.1804')).toBe('VSE88');
    expect(generationFromVersion('garbage')).toBeUndefined();
  });
});

describe('glob matching on hostile patterns', () => {
  // A backtracking regex would take exponential time here; the two-pointer matcher answers at once.
  it('answers for many stars against a long name', () => {
    expect(processMatches(`${'a*'.repeat(40)}b`, `${'a'.repeat(250)}.exe`)).toBe(false);
    expect(processMatches(`${'a*'.repeat(40)}.exe`, `${'a'.repeat(250)}.exe`)).toBe(true);
    expect(processMatches('***', 'x.exe')).toBe(true);
  });
});
