// Unit tests of the rule's building blocks: process matching, port lists, the two registry
// decoders, SMTP service images.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeReferenceLayout } from '../../../src/rules/mcafee-port25-blocked/decode-reference-layout';
import { builtInMassMailingRule, decodeUserRules } from '../../../src/rules/mcafee-port25-blocked/decode-user-rules';
import { generationFromVersion } from '../../../src/rules/mcafee-port25-blocked/locations';
import { appliesTo, blocksOutbound25, coversOutbound25, formatPorts, isMassMailingRule, parseDirection, parsePortList } from '../../../src/rules/mcafee-port25-blocked/port-rules';
import { firstMatch, processMatches, splitProcessList } from '../../../src/rules/mcafee-port25-blocked/process-match';
import { fileNameOf } from '../../../src/rules/common/glob';
import { readFlag, readList, readText } from '../../../src/rules/mcafee-port25-blocked/registry-values';
import { imageOfPathName } from '../../../src/rules/common/smtp-services';
import type { RegistryKeyState } from '../../../src/snapshot/normalise';
import type { RegistryValue } from '../../../src/snapshot/schema';
import { propertyRuns } from '../../support/property-runs';

const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
const bin = (text: string): RegistryValue => ({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: b64(text) });
const msz = (name: string, data: string[]): RegistryValue => ({ name, type: 'REG_MULTI_SZ', data });

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
    }), { numRuns: propertyRuns(2000), seed: 20261129 });
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

describe('what a rule covers, at the edges', () => {
  const rule = (ports: string) => ({ ports: parsePortList(ports) ?? [], direction: 'Outbound' as const });
  it.each([
    ['21', false],
    ['20-24', false],
    ['26-30', false],
    ['24-25', true],
    ['25-26', true],
    ['1-65535', true],
    ['21,110,587', false],
    ['21,25', true],
  ])('ports %s cover 25: %s', (ports, expected) => {
    expect(coversOutbound25(rule(ports))).toBe(expected);
  });
  it('a rule without ports covers nothing', () => {
    expect(coversOutbound25({ ports: [], direction: 'Both' })).toBe(false);
  });
  it.each([['65535', [{ from: 65535, to: 65535 }]], ['1', [{ from: 1, to: 1 }]], ['7-7', [{ from: 7, to: 7 }]]])('accepts the edge port list %s', (text, expected) => {
    expect(parsePortList(text)).toEqual(expected);
  });
  it.each(['65536', '0-25', '25-65536', ' , ; '])('rejects %j', (text) => expect(parsePortList(text)).toBeUndefined());
  it('formats single ports and ranges', () => {
    expect(formatPorts([{ from: 25, to: 25 }, { from: 20, to: 30 }])).toBe('25,20-30');
    expect(formatPorts([])).toBe('');
  });
  it.each([
    [' ', 'Outbound'],
    ['OUT', 'Outbound'],
    ['In', 'Inbound'],
    ['Inbound and Outbound', 'Both'],
    [' both ', 'Both'],
    ['outgoing', undefined],
  ])('reads the direction %j as %s', (text, expected) => {
    expect(parseDirection(text)).toBe(expected);
  });
  it('only a Block-on rule covering outbound 25 blocks', () => {
    const r = { ...builtInMassMailingRule(undefined) };
    expect(blocksOutbound25(r)).toBe(true);
    expect(blocksOutbound25({ ...r, enabled: false })).toBe(false);
    expect(blocksOutbound25({ ...r, direction: 'Inbound' })).toBe(false);
    expect(blocksOutbound25({ ...r, ports: [{ from: 587, to: 587 }] })).toBe(false);
  });
  it('recognises the built-in rule by the forms of its name, and nothing else', () => {
    for (const name of ['Prevent mass mailing worms from sending mail', 'prevent MASS-MAILING worms', 'Mass  mailing worm', 'マス メール型ワーム', 'マスメール型ワームによる']) {
      expect(isMassMailingRule({ id: '#1', name }), name).toBe(true);
    }
    for (const name of ['Prevent mass mailing', 'mailing worm', 'マス メール']) expect(isMassMailingRule({ id: '#1', name }), name).toBe(false);
    expect(isMassMailingRule({ id: 'AVO1', name: '' })).toBe(false);
    expect(isMassMailingRule({ id: 'AVO100', name: '' })).toBe(false);
  });
});

describe('process names that only look alike', () => {
  it.each([
    ['transport.exe', 'EdgeTransport.exe', false],
    ['EdgeTransport.exe', 'transport.exe', false],
    ['transport.exe', 'C:\\Bin\\Transport.exe', true],
    ['*transport.exe', 'EdgeTransport.exe', true],
    ['edgetransport', 'EdgeTransport.exe', false],
    ['edgetransport.exe*', 'EdgeTransport.exe', true],
    ['edgetransport.ex?', 'EdgeTransport.exe', true],
    ['edgetransport.exe?', 'EdgeTransport.exe', false],
    ['?dgetransport.exe', 'EdgeTransport.exe', true],
    ['e*t*.exe', 'EdgeTransport.exe', true],
    ['e*x.exe', 'EdgeTransport.exe', false],
    ['*.exe', '', false],
    ['"outlook.exe"', '"C:\\Program Files\\Office\\OUTLOOK.EXE"', true],
  ])('%j matches %j: %s', (entry, process, expected) => {
    expect(processMatches(entry, process)).toBe(expected);
  });
  it('finds the first matching entry of a list, or none', () => {
    expect(firstMatch(['outlook.exe', 'edge*', 'EdgeTransport.exe'], 'C:\\X\\EDGETRANSPORT.EXE')).toBe('edge*');
    expect(firstMatch(['outlook.exe'], 'EdgeTransport.exe')).toBeUndefined();
    expect(firstMatch([], 'EdgeTransport.exe')).toBeUndefined();
  });
  it('takes file names as they are when there is nothing to strip', () => {
    expect(fileNameOf('EdgeTransport.exe')).toBe('EdgeTransport.exe');
    expect(fileNameOf('C:\\')).toBe('');
    expect(fileNameOf('"a\\b.exe')).toBe('b.exe');
    expect(fileNameOf('b.exe"')).toBe('b.exe');
  });
  it('splits REG_MULTI_SZ items that hold separators themselves', () => {
    expect(splitProcessList(['a.exe;b.exe', 'c.exe , d.exe'])).toEqual(['a.exe', 'b.exe', 'c.exe', 'd.exe']);
    expect(splitProcessList('')).toEqual([]);
  });
});

describe('8.0i reference layout, values that cannot be read', () => {
  const sz = (name: string, data: string): RegistryValue => ({ name, type: 'REG_SZ', data });
  const dw = (name: string, data: number): RegistryValue => ({ name, type: 'REG_DWORD', data });
  const decode = (values: RegistryValue[]) => decodeReferenceLayout([keyWith(values)], 'HKLM\\SOFTWARE\\BB');

  it('an enabled rule without PortBlockPorts is malformed', () => {
    expect(decode([dw('PortBlockEnabled_4', 1)])).toEqual({ rules: [], malformed: [{ id: '#4', problems: ['PortBlockPorts is missing'] }] });
  });
  it('an enabled rule whose ports are of a type that is not text is malformed', () => {
    expect(decode([dw('PortBlockEnabled_4', 1), { name: 'PortBlockPorts_4', type: 'REG_BINARY', data: 'GQ==' }]).malformed).toEqual([{ id: '#4', problems: ['PortBlockPorts_4 is REG_BINARY, not text'] }]);
  });
  it('an enabled rule with unreadable ports says which value and what it held', () => {
    expect(decode([dw('PortBlockEnabled_4', 1), sz('PortBlockPorts_4', 'smtp')]).malformed).toEqual([{ id: '#4', problems: ['PortBlockPorts_4 "smtp" is not a list of ports'] }]);
  });
  it('an enabled rule with an include or exclude list of the wrong type is malformed', () => {
    const r = decode([
      dw('PortBlockEnabled_4', 1), sz('PortBlockPorts_4', '25'), dw('PortBlockExcludedProcesses_4', 1),
      dw('PortBlockEnabled_5', 1), sz('PortBlockPorts_5', '25'), { name: 'PortBlockIncludedProcesses_5', type: 'REG_BINARY', data: 'AA==' },
    ]);
    expect(r).toEqual({
      rules: [],
      malformed: [
        { id: '#4', problems: ['PortBlockExcludedProcesses_4 is REG_DWORD, not a process list'] },
        { id: '#5', problems: ['PortBlockIncludedProcesses_5 is REG_BINARY, not a process list'] },
      ],
    });
  });
  it('an enabled rule with a direction of the wrong type or an unknown direction is malformed', () => {
    const r = decode([dw('PortBlockEnabled_4', 1), sz('PortBlockPorts_4', '25'), { name: 'PortBlockDirection_4', type: 'REG_BINARY', data: 'AA==' }, dw('PortBlockEnabled_5', 1), sz('PortBlockPorts_5', '25'), sz('PortBlockDirection_5', 'up')]);
    expect(r.malformed).toEqual([
      { id: '#4', problems: ['PortBlockDirection_4 is REG_BINARY, not text'] },
      { id: '#5', problems: ['PortBlockDirection_5 is not Outbound, Inbound or Both'] },
    ]);
  });
  it('a rule without a Block flag, or with an unreadable Report flag, is malformed whether on or not', () => {
    expect(decode([sz('PortBlockPorts_6', '25')]).malformed).toEqual([{ id: '#6', problems: ['PortBlockEnabled is missing'] }]);
    expect(decode([dw('PortBlockEnabled_6', 0), { name: 'PortBlockReport_6', type: 'REG_BINARY', data: 'AQ==' }]).malformed).toEqual([{ id: '#6', problems: ['PortBlockReport_6 is REG_BINARY, not a 0/1 flag'] }]);
  });
  it('a disabled rule may hold anything in its ports, direction and lists', () => {
    const r = decode([dw('PortBlockEnabled_7', 0), dw('PortBlockExcludedProcesses_7', 3), sz('PortBlockDirection_7', 'up'), { name: 'PortBlockPorts_7', type: 'REG_BINARY', data: 'AA==' }]);
    expect(r.malformed).toEqual([]);
    expect(r.rules).toMatchObject([{ id: '#7', enabled: false, ports: [], direction: 'Outbound', exclude: [], include: [] }]);
  });
  it('reads flags written as text or QWORD, and numbers written as DWORD ports', () => {
    const r = decode([sz('PortBlockEnabled_8', ' 1 '), { name: 'PortBlockReport_8', type: 'REG_QWORD', data: '0' }, dw('PortBlockPorts_8', 25), msz('PortBlockRuleName_8', ['Block', 'SMTP'])]);
    expect(r.rules).toMatchObject([{ id: '#8', name: 'Block,SMTP', enabled: true, report: false, ports: [{ from: 25, to: 25 }] }]);
    expect(decode([{ name: 'PortBlockEnabled_9', type: 'REG_QWORD', data: '00' }]).rules[0]?.enabled).toBe(false);
    expect(decode([{ name: 'PortBlockEnabled_9', type: 'REG_QWORD', data: '0010' }, sz('PortBlockPorts_9', '25')]).rules[0]?.enabled).toBe(true);
    expect(decode([sz('PortBlockEnabled_9', '0')]).rules[0]?.enabled).toBe(false);
    expect(decode([sz('PortBlockEnabled_9', 'yes')]).malformed).toEqual([{ id: '#9', problems: ['PortBlockEnabled_9 is REG_SZ, not a 0/1 flag'] }]);
  });
  it('names a rule by its value, trimmed, or by its number when the name is blank or unreadable', () => {
    expect(decode([dw('PortBlockEnabled_2', 0), sz('PortBlockRuleName_2', '  Block IRC  ')]).rules[0]?.name).toBe('Block IRC');
    expect(decode([dw('PortBlockEnabled_2', 0), sz('PortBlockRuleName_2', '   ')]).rules[0]?.name).toBe('Port blocking rule #2');
    expect(decode([dw('PortBlockEnabled_2', 0), { name: 'PortBlockRuleName_2', type: 'REG_BINARY', data: 'AA==' }]).rules[0]?.name).toBe('Port blocking rule #2');
  });
  it('groups by number whatever the case of the value name or leading zeros, in numeric order', () => {
    const r = decode([dw('portblockenabled_010', 0), dw('PORTBLOCKENABLED_9', 0), sz('PortBlockRuleName_10', 'ten'), dw('PortBlockEnabled_x', 1), dw('Other_3', 1)]);
    expect(r.rules.map((x) => [x.id, x.name])).toEqual([['#9', 'Port blocking rule #9'], ['#10', 'ten']]);
    expect(r.rules[0]).toMatchObject({ source: 'reference-layout', assumed: [], report: false });
  });
});

describe('AccessProtectionUserRules as public tools find it', () => {
  it('reads the untouched default, byte for byte, with no trailing NUL', () => {
    expect(decodeUserRules(bin('AccessProtection {\r\n}\r\n'))).toEqual({ ok: true, trailingNul: false, encoding: 'ascii', enforce: undefined, report: undefined, userExclusions: [], userDefined: [], otherLines: 0 });
  });
  it('reads the tokens audit tools search for, one rule at a time', () => {
    const d = decodeUserRules(bin('AccessProtection {\r\nUserEnforce CO14 1\r\nUserReport AVO10 0\r\nUserEnforce AVO10 1\r\n}\r\n'));
    expect(d).toEqual({ ok: true, trailingNul: false, encoding: 'ascii', enforce: true, report: false, userExclusions: [], userDefined: [], otherLines: 1 });
  });
  it('lists user-defined rules (UR<n> ids, UserString lines) without assessing them', () => {
    const text = [
      'AccessProtection {',
      'UserEnforce UR1 1',
      'UserReport ur1 0',
      'UserString UR1 Block outbound SMTP',
      'UserEnforce UR2 x',
      'UserString 7 Another rule',
      'UserString UR10',
      '}',
      '',
    ].join('\r\n');
    const d = decodeUserRules(bin(text));
    expect(d).toMatchObject({
      ok: true,
      enforce: undefined,
      userDefined: [
        { id: 'UR1', block: true, report: false, lines: 3 },
        { id: 'UR2', block: null, report: null, lines: 1 },
        { id: '7', block: null, report: null, lines: 1 },
        { id: 'UR10', block: null, report: null, lines: 1 },
      ],
      otherLines: 0,
    });
  });
  it.each(['2', 'on', '1 1', '-1'])('refuses "UserEnforce AVO10 %s" rather than guess', (arg) => {
    expect(decodeUserRules(bin(`AccessProtection {\r\nUserEnforce AVO10 ${arg}\r\n}\r\n`))).toEqual({ ok: false, problem: `AccessProtectionUserRules sets UserEnforce AVO10 to ${JSON.stringify(arg)}, not 0 or 1` });
  });
  it('refuses "UserReport AVO10 2" and "UserEnforce AVO10" without a setting', () => {
    expect(decodeUserRules(bin('AccessProtection {\r\nUserReport avo10 2\r\n}'))).toEqual({ ok: false, problem: 'AccessProtectionUserRules sets UserReport AVO10 to "2", not 0 or 1' });
    expect(decodeUserRules(bin('AccessProtection {\r\nUserEnforce AVO10\r\n}'))).toEqual({ ok: false, problem: 'AccessProtectionUserRules sets UserEnforce AVO10 to "", not 0 or 1' });
  });
  it('counts AVO10 lines it does not know, and an empty UserExclude, as other lines', () => {
    expect(decodeUserRules(bin('AccessProtection {\r\nUserExclude AVO10\r\nUserComment AVO10 hello\r\nnot a rule line\r\n}'))).toMatchObject({ ok: true, userExclusions: [], otherLines: 3 });
  });
  it.each([
    ['a control character inside the text', 'AccessProtection {\r\nUserEnforce AVO10 1\u0007\r\n}\r\n'],
    ['a NUL that does not end the text', 'AccessProtection {\r\n\0UserEnforce AVO10 1\r\n}\r\n'],
    ['DEL', 'AccessProtection {\u007f\r\n}\r\n'],
    ['an escape sequence', '\u001b[0mAccessProtection {\r\n}\r\n'],
  ])('refuses binary data: %s', (_why, text) => {
    expect(decodeUserRules(bin(text))).toEqual({ ok: false, problem: 'AccessProtectionUserRules holds binary data, not Access Protection text' });
  });
  it('keeps tabs and both line ends, and several trailing NULs', () => {
    expect(decodeUserRules(bin('AccessProtection {\n\tUserEnforce\tAVO10\t0\n}\0\0'))).toMatchObject({ ok: true, trailingNul: true, enforce: false });
  });
  it('reads REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ and REG_NONE copies of the value', () => {
    const name = 'AccessProtectionUserRules';
    expect(decodeUserRules({ name, type: 'REG_SZ', data: 'AccessProtection {\r\nUserEnforce AVO10 0\r\n}' })).toMatchObject({ ok: true, encoding: 'text', enforce: false });
    expect(decodeUserRules({ name, type: 'REG_EXPAND_SZ', data: 'AccessProtection {\r\n}' })).toMatchObject({ ok: true, encoding: 'text' });
    expect(decodeUserRules({ name, type: 'REG_MULTI_SZ', data: ['AccessProtection {', 'UserEnforce AVO10 1', '}'] })).toMatchObject({ ok: true, encoding: 'text', enforce: true });
    expect(decodeUserRules({ name, type: 'REG_NONE', data: b64('AccessProtection {\r\n}\r\n') })).toMatchObject({ ok: true, encoding: 'ascii' });
    expect(decodeUserRules({ name, type: 'REG_QWORD', data: '1' })).toEqual({ ok: false, problem: 'AccessProtectionUserRules is REG_QWORD, not text or binary' });
  });
  it('tells UTF-16LE from ASCII by the zero high bytes', () => {
    const utf16 = (s: string): RegistryValue => ({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: Buffer.from(s, 'utf16le').toString('base64') });
    expect(decodeUserRules(utf16('AccessProtection {\r\n}\r\n'))).toMatchObject({ ok: true, encoding: 'utf-16le', trailingNul: false });
    // Too short to tell: read as single bytes ("{" and a NUL at the end).
    expect(decodeUserRules(utf16('{'))).toMatchObject({ ok: true, encoding: 'ascii', trailingNul: true });
    // A leading NUL byte is not UTF-16LE text.
    expect(decodeUserRules({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: Buffer.from([0, 0, 0, 0, 0x41]).toString('base64') })).toEqual({ ok: false, problem: 'AccessProtectionUserRules holds binary data, not Access Protection text' });
  });
  it('refuses text with no Access Protection line at all', () => {
    expect(decodeUserRules(bin(''))).toEqual({ ok: false, problem: 'AccessProtectionUserRules does not hold Access Protection rule text' });
    expect(decodeUserRules(bin('\0'))).toEqual({ ok: false, problem: 'AccessProtectionUserRules does not hold Access Protection rule text' });
    for (const head of ['AccessProtection', 'accessprotection{', 'AccessProtection  {', '{', '}']) expect(decodeUserRules(bin(head)).ok, head).toBe(true);
    expect(decodeUserRules(bin('AccessProtection x')).ok).toBe(false);
  });
  it('says which parts of the built-in rule were assumed: Report only when no UserReport line was read', () => {
    const read = (text: string) => {
      const d = decodeUserRules(bin(`AccessProtection {\r\n${text}}\r\n`));
      if (!d.ok) throw new Error(d.problem);
      return builtInMassMailingRule(d);
    };
    expect(read('UserEnforce AVO10 1\r\n').assumed).toEqual(['report', 'ports', 'direction', 'defaultExclusions']);
    expect(read('UserReport AVO10 0\r\n').assumed).toEqual(['enabled', 'ports', 'direction', 'defaultExclusions']);
    expect(read('UserReport AVO10 0\r\nUserEnforce AVO10 0\r\n')).toMatchObject({ enabled: false, report: false, assumed: ['ports', 'direction', 'defaultExclusions'] });
    expect(builtInMassMailingRule(undefined)).toEqual({
      name: 'Prevent mass mailing worms from sending mail',
      id: 'AVO10',
      enabled: true,
      report: true,
      ports: [{ from: 25, to: 25 }, { from: 587, to: 587 }],
      direction: 'Outbound',
      include: [],
      exclude: [
        'agent.exe', 'amgrsrvc.exe', 'eudora.exe', 'inetinfo.exe', 'msimn.exe', 'mozilla.exe', 'netscp.exe', 'nlnotes.exe', 'ntaskldr.exe', 'nsmtp.exe',
        'nrouter.exe', 'outlook.exe', 'opera.exe', 'pine.exe', 'poco.exe', 'thebat.exe', 'thunderbird.exe', 'tomcat.exe', 'winpm-32.exe',
      ],
      source: 'product-default',
      assumed: ['enabled', 'report', 'ports', 'direction', 'defaultExclusions'],
    });
  });
});

describe('product versions', () => {
  it.each([
    ['7.1.0.123', undefined],
    ['8.3.0.1', undefined],
    ['8.4', undefined],
    ['8.5', 'VSE85-87'],
    ['8.6.0.0', 'VSE85-87'],
    ['8.8', 'VSE88'],
    ['8.10.0.1', 'VSE88'],
    ['9.0.0.1', 'VSE88'],
    ['10.7.0', 'VSE88'],
    [' 8.0.0.912', 'VSE80i'],
    ['v8.8', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j is %s', (version, generation) => {
    expect(generationFromVersion(version)).toBe(generation);
  });
});

describe('SMTP service images, edge forms', () => {
  it.each([
    ['"C:\\Program Files\\Exchsrvr\\inetinfo.exe', 'inetinfo.exe'],
    ['"C:\\X\\"', undefined],
    ['C:\\WINDOWS\\System32\\inetsrv\\INETINFO.EXE -k', 'INETINFO.EXE'],
    ['inetinfo', 'inetinfo'],
    // Unquoted, with a blank and no .exe: the image ends at the blank (what Windows tries first).
    ['C:\\tools\\mail relay\\run.bat arg', 'mail'],
  ])('%j → %s', (pathName, image) => {
    expect(imageOfPathName(pathName)).toBe(image);
  });
});

describe('edges that only a careful reader would send', () => {
  it('a version whose major is not 8 is not 8.8 just because its minor is 8 or more', () => {
    expect(generationFromVersion('7.8.0.1')).toBeUndefined();
    expect(generationFromVersion('7.9')).toBeUndefined();
  });
  it('port lists: a token with anything before or after its digits is not a port', () => {
    for (const text of ['x25', '25x', '25-30x', 'x25-30', '25--30']) expect(parsePortList(text), text).toBeUndefined();
  });
  it('the built-in rule\'s English name with several blanks between the words', () => {
    expect(isMassMailingRule({ id: '#1', name: 'mass mailing   worms' })).toBe(true);
  });
  it('flags: only REG_SZ or REG_EXPAND_SZ digits are text flags; a REG_QWORD is on when any digit is not 0', () => {
    const v = (type: string, data: unknown) => readFlag({ name: 'F', type, data } as RegistryValue);
    expect(v('REG_EXPAND_SZ', '1')).toEqual({ ok: true, value: true });
    expect(v('REG_SZ', '0000000000')).toEqual({ ok: true, value: false });
    expect(v('REG_SZ', '12345678901')).toEqual({ ok: false, problem: 'F is REG_SZ, not a 0/1 flag' });
    expect(v('REG_SZ', 'a1')).toEqual({ ok: false, problem: 'F is REG_SZ, not a 0/1 flag' });
    expect(v('REG_SZ', '1a')).toEqual({ ok: false, problem: 'F is REG_SZ, not a 0/1 flag' });
    expect(v('REG_SZ', '')).toEqual({ ok: false, problem: 'F is REG_SZ, not a 0/1 flag' });
    expect(v('REG_MULTI_SZ', ['1'])).toEqual({ ok: false, problem: 'F is REG_MULTI_SZ, not a 0/1 flag' });
    expect(v('REG_QWORD', '100')).toEqual({ ok: true, value: true });
    expect(v('REG_QWORD', '000')).toEqual({ ok: true, value: false });
    expect(v('REG_DWORD', 2)).toEqual({ ok: true, value: true });
  });
  it('text and lists: which types are read', () => {
    expect(readText({ name: 'T', type: 'REG_DWORD', data: 25 })).toEqual({ ok: true, value: '25' });
    expect(readText({ name: 'T', type: 'REG_EXPAND_SZ', data: '%X%' })).toEqual({ ok: true, value: '%X%' });
    expect(readText({ name: 'T', type: 'REG_QWORD', data: '25' })).toEqual({ ok: false, problem: 'T is REG_QWORD, not text' });
    expect(readList({ name: 'L', type: 'REG_EXPAND_SZ', data: 'a.exe' })).toEqual({ ok: true, value: 'a.exe' });
    expect(readList({ name: 'L', type: 'REG_MULTI_SZ', data: ['a.exe'] })).toEqual({ ok: true, value: ['a.exe'] });
    expect(readList({ name: 'L', type: 'REG_DWORD', data: 1 })).toEqual({ ok: false, problem: 'L is REG_DWORD, not a process list' });
  });
  it('an empty process name matches no entry, not even *', () => {
    expect(processMatches('*', '')).toBe(false);
    expect(processMatches('*', 'C:\\dir\\')).toBe(false);
    expect(processMatches('', '')).toBe(false);
  });
  it('a value name with text after its number is not a rule value', () => {
    const key = keyWith([{ name: 'PortBlockEnabled_3x', type: 'REG_DWORD', data: 1 }, { name: 'PortBlockEnabled_4', type: 'REG_DWORD', data: 0 }]);
    const r = decodeReferenceLayout([key], key.path);
    expect(r.rules.map((x) => x.id)).toEqual(['#4']);
    expect(r.malformed).toEqual([]);
  });
  it('UTF-16LE is told from bytes by the zero high bytes of the first two characters and a non-zero first byte', () => {
    const raw = (bytes: number[]): RegistryValue => ({ name: 'AccessProtectionUserRules', type: 'REG_BINARY', data: Buffer.from(bytes).toString('base64') });
    const binary = { ok: false, problem: 'AccessProtectionUserRules holds binary data, not Access Protection text' };
    const notRules = { ok: false, problem: 'AccessProtectionUserRules does not hold Access Protection rule text' };
    // 'A', 0, 'B', 'C': the second high byte is not zero, so these are single bytes (with a NUL: binary).
    expect(decodeUserRules(raw([0x41, 0, 0x42, 0x43]))).toEqual(binary);
    // 'A', 'B', 'C', 0, 'D': the first high byte is not zero.
    expect(decodeUserRules(raw([0x41, 0x42, 0x43, 0, 0x44]))).toEqual(binary);
    // Exactly four bytes of UTF-16LE ("{}") are read as UTF-16LE: text, but not rule text.
    expect(decodeUserRules(raw([0x7b, 0, 0x7d, 0]))).toEqual(notRules);
  });
  it('reads user lines with any blanks between their parts, and only at the start of a line', () => {
    expect(decodeUserRules(bin('AccessProtection {\r\nUserEnforce \t AVO10   0\r\n}'))).toMatchObject({ ok: true, enforce: false });
    expect(decodeUserRules(bin('AccessProtection {\r\nxUserEnforce AVO10 0\r\n}'))).toMatchObject({ ok: true, enforce: undefined, otherLines: 1 });
    expect(decodeUserRules(bin('xAccessProtection {\r\n'))).toEqual({ ok: false, problem: 'AccessProtectionUserRules does not hold Access Protection rule text' });
  });
  it('user-defined rule ids are UR and digits only; Block and Report come only from their own 0/1 lines', () => {
    const d = decodeUserRules(bin('AccessProtection {\r\nUserEnforce UR12 1\r\nUserEnforce XUR1 1\r\nUserEnforce UR1X 1\r\nUserEnforce UR3 1\r\nUserReport UR4 x\r\nUserReport UR4 1\r\nUserReport UR4 y\r\n}'));
    expect(d).toMatchObject({
      ok: true,
      userDefined: [
        { id: 'UR12', block: true, report: null, lines: 1 },
        { id: 'UR3', block: true, report: null, lines: 1 },
        { id: 'UR4', block: null, report: true, lines: 3 },
      ],
      otherLines: 2,
    });
  });
});
