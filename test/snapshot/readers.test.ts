// The offline readers at their edges: .reg exports (values twice, keys in two exports, every
// data form regedit writes) and services CSVs (with and without a final line break).
import { describe, expect, it } from 'vitest';
import { CodePageError, decodeRegBytes, entriesTheManifestReads, parseRegExport, registryEntriesFromExports, RegExportError } from '../../src/snapshot/reg-export';
import { parseCsvRecords, parseServicesCsv, ServicesCsvError } from '../../src/snapshot/services-csv';

const REG5 = 'Windows Registry Editor Version 5.00\r\n\r\n';
const reg = (body: string) => parseRegExport(REG5 + body);

describe('.reg values and keys that appear twice', () => {
  it('keeps the later of two values with one name in one key, and says so', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"APEnabled"=dword:00000001\r\n"Other"="o"\r\n"apenabled"=dword:00000000\r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: 'Other', type: 'REG_SZ', data: 'o' },
      { name: 'apenabled', type: 'REG_DWORD', data: 0 },
    ]);
    expect(ex.notes).toEqual(['line 6: value "apenabled" appears twice in [HKEY_LOCAL_MACHINE\\SOFTWARE\\X]; the later one is kept']);
  });

  it('merges one key from two exports (and one key twice in one export), the later value winning', () => {
    const a = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\X]\r\n"a"="1"\r\n"b"="1"\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\X]\r\n"c"="1"\r\n');
    const b = parseRegExport('REGEDIT4\r\n\r\n[HKLM\\SOFTWARE\\WOW6432NODE\\mcafee\\x]\r\n"A"="2"\r\n');
    expect(registryEntriesFromExports([a, b])).toEqual([
      {
        path: 'HKLM\\SOFTWARE\\McAfee\\X',
        view: '32',
        exists: true,
        values: [
          { name: 'b', type: 'REG_SZ', data: '1' },
          { name: 'c', type: 'REG_SZ', data: '1' },
          { name: 'A', type: 'REG_SZ', data: '2' },
        ],
      },
    ]);
  });

  it('keeps the same key in the two views apart', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"v"="64"\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\X]\r\n"v"="32"\r\n');
    expect(registryEntriesFromExports([ex]).map((e) => [e.view, e.values?.[0]?.data])).toEqual([
      ['64', '64'],
      ['32', '32'],
    ]);
  });
});

describe('.reg data forms', () => {
  it('reads every form of a value line', () => {
    const ex = reg(
      [
        '[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]',
        '@="default"',
        '"Spaced" = "v"',
        '"Dword"=DWORD:0000001a',
        '"Short"=dword:1',
        '"Hex"=hex:',
        '"Sz"=hex(1):41,00,42,00,00,00',
        '"Odd"=hex(1):41,00,42',
        '"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00',
        '"MultiEmpty"=hex(7):00,00',
        '"BadDword"=hex(4):01,02',
        '"BadQword"=hex(b):01',
        '"Qword"=hex(b):01,00,00,00,00,00,00,00',
        '"Link"=hex(6):00',
        '"Upper"=hex(A):FF',
        '"Esc"="a\\\\b\\"c\\n"',
        '; a comment',
        '',
      ].join('\r\n'),
    );
    const values = Object.fromEntries((ex.keys[0]?.values ?? []).map((v) => [v.name, v]));
    expect(values['']).toEqual({ name: '', type: 'REG_SZ', data: 'default' });
    expect(values.Spaced).toEqual({ name: 'Spaced', type: 'REG_SZ', data: 'v' });
    expect(values.Dword).toEqual({ name: 'Dword', type: 'REG_DWORD', data: 26 });
    expect(values.Short).toEqual({ name: 'Short', type: 'REG_DWORD', data: 1 });
    expect(values.Hex).toEqual({ name: 'Hex', type: 'REG_BINARY', data: '' });
    expect(values.Sz).toEqual({ name: 'Sz', type: 'REG_SZ', data: 'AB' });
    expect(values.Odd).toEqual({ name: 'Odd', type: 'REG_SZ', data: 'A' });
    expect(values.Multi).toEqual({ name: 'Multi', type: 'REG_MULTI_SZ', data: ['a', 'b'] });
    expect(values.MultiEmpty).toEqual({ name: 'MultiEmpty', type: 'REG_MULTI_SZ', data: [] });
    expect(values.BadDword).toEqual({ name: 'BadDword', type: 'REG_BINARY', data: Buffer.from([1, 2]).toString('base64') });
    expect(values.BadQword).toEqual({ name: 'BadQword', type: 'REG_BINARY', data: Buffer.from([1]).toString('base64') });
    expect(values.Qword).toEqual({ name: 'Qword', type: 'REG_QWORD', data: '1' });
    expect(values.Link).toEqual({ name: 'Link', type: 'REG_LINK', data: 'AA==' });
    expect(values.Upper).toEqual({ name: 'Upper', type: 'REG_RESOURCE_REQUIREMENTS_LIST', data: '/w==' });
    expect(values.Esc).toEqual({ name: 'Esc', type: 'REG_SZ', data: 'a\\b"c\\n' });
    expect(ex.notes).toEqual([
      'line 13: value "BadDword" is hex(4) with 2 bytes; kept as REG_BINARY',
      'line 14: value "BadQword" is hex(b) with 1 bytes; kept as REG_BINARY',
    ]);
  });

  it('joins wrapped hex lines but not a string that ends in a backslash', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"b"=hex:01,02,\\\r\n  03,\\\r\n  04\r\n"s"="C:\\\\"\r\n"n"=dword:00000002\r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: 'b', type: 'REG_BINARY', data: Buffer.from([1, 2, 3, 4]).toString('base64') },
      { name: 's', type: 'REG_SZ', data: 'C:\\' },
      { name: 'n', type: 'REG_DWORD', data: 2 },
    ]);
  });

  it('does not join the line after a comment that ends in a backslash (a hand-annotated file)', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n; exported from C:\\temp\\\r\n"APEnabled"=dword:00000001\r\n');
    expect(ex.keys[0]?.values).toEqual([{ name: 'APEnabled', type: 'REG_DWORD', data: 1 }]);
  });

  it('reads a binary value wrapped over thousands of lines whole', () => {
    const bytes = Array.from({ length: 60_000 }, (_, i) => i % 256);
    const hex = bytes.map((b) => b.toString(16).padStart(2, '0'));
    const lines: string[] = [];
    for (let i = 0; i < hex.length; i += 25) lines.push(hex.slice(i, i + 25).join(','));
    const ex = reg(`[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"big"=hex:${lines.join(',\\\r\n  ')}\r\n"n"=dword:00000002\r\n`);
    expect(ex.keys[0]?.values).toEqual([
      { name: 'big', type: 'REG_BINARY', data: Buffer.from(bytes).toString('base64') },
      { name: 'n', type: 'REG_DWORD', data: 2 },
    ]);
  });

  it('skips deleted keys and values, with a note each', () => {
    const ex = reg('[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old]\r\n"x"="ignored"\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"gone"=-\r\n"kept"="1"\r\n');
    expect(ex.keys.map((k) => [k.rawPath, k.line, k.values.map((v) => v.name)])).toEqual([['HKEY_LOCAL_MACHINE\\SOFTWARE\\X', 6, ['kept']]]);
    expect(ex.notes).toEqual([
      'line 3: deleted-key line [-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old] skipped (a .reg file deletes it on import; it says nothing about the registry)',
      'line 7: deleted value "gone" in [HKEY_LOCAL_MACHINE\\SOFTWARE\\X] skipped',
    ]);
  });

  it('finds the header after blank lines, lines of blanks and a BOM', () => {
    expect(parseRegExport('   \r\n\t\r\nREGEDIT4\r\n').format).toBe('REGEDIT4');
    expect(parseRegExport('\uFEFF\r\n\r\nREGEDIT4\r\n[HKEY_LOCAL_MACHINE\\X]\r\n').format).toBe('REGEDIT4');
    expect(parseRegExport('  Windows Registry Editor Version 5.00  \n').format).toBe('REGEDIT5');
  });

  it.each([
    ['', 'line 1: not a registry export: the first line must be "Windows Registry Editor Version 5.00" or "REGEDIT4"'],
    ['\r\n\r\nREGEDIT 4\r\n', 'line 3: not a registry export: the first line must be "Windows Registry Editor Version 5.00" or "REGEDIT4"'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X\r\n`, 'line 3: a key line must end with "]"'],
    [`${REG5}[]\r\n`, 'line 3: malformed key path ""'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X\\]\r\n`, 'line 3: malformed key path "HKEY_LOCAL_MACHINE\\\\X\\\\"'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\\\X]\r\n`, 'line 3: malformed key path "HKEY_LOCAL_MACHINE\\\\\\\\X"'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\nname="v"\r\n`, 'line 4: cannot read "name=\\"v\\"": a value line starts with "name" or @'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a" "v"\r\n`, 'line 4: expected "=" after the value name'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a"="v" x\r\n`, 'line 4: unexpected text after a string value'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a"=dword:123456789\r\n`, 'line 4: cannot read the data of value "a": "dword:123456789"'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a"=hex:1,2,345\r\n`, 'line 4: "345" is not a hex byte'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a"=hex:01,,02\r\n`, 'line 4: "" is not a hex byte'],
    [`${REG5}[HKEY_LOCAL_MACHINE\\X]\r\n"a\\`, 'line 4: a line goes on past the end of the file (its last line ends with "\\"): the file is cut short; export it again'],
    [`${REG5}"a"="v"\r\n`, 'line 3: a value line before any [key] line'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseRegExport(text)).toThrow(new RegExportError(message.replace(/^line \d+: /, ''), Number(/^line (\d+)/.exec(message)?.[1])));
    try {
      parseRegExport(text);
    } catch (e) {
      expect((e as Error).message).toBe(message);
    }
  });

  it('decodes UTF-16BE and UTF-16LE without a BOM', () => {
    const text = 'REGEDIT4\r\n';
    const be = Buffer.from([0xfe, 0xff, ...Buffer.from(text, 'utf16le').swap16()]);
    expect(decodeRegBytes(be)).toBe(text);
    expect(decodeRegBytes(Buffer.from(text, 'utf16le'))).toBe(text);
    expect(decodeRegBytes(Buffer.from([0x52, 0x45]))).toBe('RE');
  });
});

describe('manifest keys a .reg export says nothing about, or says are missing', () => {
  const manifest = [
    { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false },
    { path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', recurse: true, maxDepth: 3 },
    { path: 'HKCU\\Software\\McAfee', recurse: false },
  ];

  it('on 32-bit Windows (no Wow6432Node), a manifest key under an exported branch is missing in view 32', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection]\r\n"szProductVer"="8.5.0.781"\r\n');
    expect(registryEntriesFromExports([ex], manifest, { nativeView: '32' })).toEqual([
      { path: 'HKLM\\SOFTWARE\\McAfee', view: '32', exists: true, values: [] },
      { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32', exists: true, values: [{ name: 'szProductVer', type: 'REG_SZ', data: '8.5.0.781' }] },
      { path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', view: '32', exists: false },
    ]);
  });

  it('on 64-bit Windows, a native export covers view 64 only, and HKCU has no 32-bit spelling', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]\r\n\r\n[HKEY_CURRENT_USER\\Software]\r\n');
    expect(registryEntriesFromExports([ex], manifest).filter((e) => !e.exists)).toEqual([
      { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '64', exists: false },
      { path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', view: '64', exists: false },
      { path: 'HKCU\\Software\\McAfee', view: '64', exists: false },
    ]);
  });

  it('an exported key with a similar name is not a parent', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfeeX]\r\n');
    expect(registryEntriesFromExports([ex], manifest).filter((e) => !e.exists)).toEqual([]);
  });

  it('a manifest key spelled with its long hive name is found too', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]\r\n');
    expect(registryEntriesFromExports([ex], [{ path: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false }]).filter((e) => !e.exists)).toEqual([
      { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32', exists: false },
    ]);
  });
});

describe('services CSV', () => {
  const header = '"Name","DisplayName","State","Started","StartMode","PathName"';
  const row = '"MSExchangeTransport","Microsoft Exchange Transport","Running","True","Auto","""C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeTransport.exe"""';
  const entry = { name: 'MSExchangeTransport', displayName: 'Microsoft Exchange Transport', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeTransport.exe"' };

  it('reads a file without a final line break the same as one with it', () => {
    expect(parseServicesCsv(`${header}\r\n${row}`)).toEqual([entry]);
    expect(parseServicesCsv(`${header}\r\n${row}\r\n`)).toEqual([entry]);
    expect(parseServicesCsv(`${header}\n${row}\n\n`)).toEqual([entry]);
    expect(parseServicesCsv(`${header}\r${row}\r`)).toEqual([entry]);
  });

  it('numbers records by their first line, also after a quoted line break', () => {
    expect(parseCsvRecords('a,"b\r\nc"\r\nd\r\n\r\ne')).toEqual([
      { fields: ['a', 'b\r\nc'], line: 1 },
      { fields: ['d'], line: 3 },
      { fields: ['e'], line: 5 },
    ]);
    expect(parseCsvRecords('')).toEqual([]);
    expect(parseCsvRecords('x"y",z')).toEqual([{ fields: ['x"y"', 'z'], line: 1 }]);
  });

  it('reads columns in any order and case, with blanks around names and flags', () => {
    expect(parseServicesCsv('" state ",NAME,started\r\nStopped,McShield, false \r\n')).toEqual([{ name: 'McShield', state: 'Stopped', started: false }]);
    expect(parseServicesCsv('Name,State,Started,ProcessId\r\nx,Running,TRUE,\r\n')).toEqual([{ name: 'x', state: 'Running', started: true }]);
  });

  it.each([
    ['', 'the services CSV is empty'],
    ['#TYPE Selected.Microsoft.Management.Infrastructure.CimInstance\r\n', 'the services CSV is empty'],
    ['"Name","State"\r\n', 'line 1: the services CSV has no started column (write it with: Get-CimInstance Win32_Service | Select Name,DisplayName,State,Started,StartMode,PathName | Export-Csv services.csv)'],
    ['#TYPE x\r\n"State","Started"\r\n', 'line 2: the services CSV has no name column (write it with: Get-CimInstance Win32_Service | Select Name,DisplayName,State,Started,StartMode,PathName | Export-Csv services.csv)'],
    ['Name,State,Started\r\nx,Running,Yes\r\n', 'line 2: Started must be True or False, not "Yes"'],
    ['Name,State,Started\r\n,Running,True\r\n', 'line 2: a service without a Name'],
    ['Name,State,Started\r\nx,,True\r\n', 'line 2: service x has no State'],
    ['Name,State,Started,ProcessId\r\nx,Running,True,12a\r\n', 'line 2: ProcessId must be a number, not "12a"'],
    ['Name,State,Started\r\nx,Running,True,extra\r\n', 'line 2: expected 3 fields, found 4'],
    ['Name,State,Started\r\n"x,Running,True\r\n', 'line 2: a quoted field is not closed'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseServicesCsv(text)).toThrow(ServicesCsvError);
    expect(() => parseServicesCsv(text)).toThrow(message);
    try {
      parseServicesCsv(text);
    } catch (e) {
      expect((e as Error).message).toBe(message);
    }
  });
});

describe('reader edges a mutation run found unpinned', () => {
  it('takes a BOM only as a whole: half of one is text', () => {
    expect(decodeRegBytes(Buffer.from([0x41, 0xff]))).toBe('Aÿ');
    expect(decodeRegBytes(Buffer.from([0xfe, 0x41]))).toBe('þA');
    expect(decodeRegBytes(Buffer.from([0xff, 0x41]))).toBe('ÿA');
    expect(decodeRegBytes(Buffer.from([0x41, 0xfe]))).toBe('Aþ');
    expect(decodeRegBytes(Buffer.from([0xef, 0xbb, 0x41]))).toBe('ï»A');
    expect(decodeRegBytes(Buffer.from([0xef, 0x41, 0xbf]))).toBe('ïA¿');
    expect(decodeRegBytes(Buffer.from([0x41, 0xbb, 0xbf]))).toBe('A»¿');
    expect(decodeRegBytes(Buffer.from([0xef, 0xbb, 0xbf, 0x41]))).toBe('A');
    // After a UTF-8 BOM, bytes that are not UTF-8 are still read as UTF-8 (replaced), not as ANSI.
    expect(decodeRegBytes(Buffer.from([0xef, 0xbb, 0xbf, 0xff]))).toBe('\uFFFD');
  });

  it('takes UTF-16LE without a BOM only when the first two characters have zero high bytes and the first is not NUL', () => {
    expect(decodeRegBytes(Buffer.from([0x41, 0, 0x42, 0]))).toBe('AB');
    expect(decodeRegBytes(Buffer.from([0x41, 0, 0x42]))).toBe('A\0B');
    expect(decodeRegBytes(Buffer.from([0x41, 0x42, 0x43, 0]))).toBe('ABC\0');
    expect(decodeRegBytes(Buffer.from([0x41, 0, 0x42, 0x43]))).toBe('A\0BC');
    expect(decodeRegBytes(Buffer.from([0, 0, 0x42, 0]))).toBe('\0\0B\0');
  });

  it('removes a BOM only at the very start', () => {
    for (const bom of ['\uFEFF', '']) {
      const ex = parseRegExport(`${bom}REGEDIT4\r\n[HKEY_LOCAL_MACHINE\\X]\r\n"v"="a\uFEFFb"\r\n`);
      expect(ex.keys[0]?.values[0]?.data).toBe('a\uFEFFb');
      expect(parseServicesCsv(`${bom}Name,State,Started\r\nx\uFEFF,Running,True\r\n`)[0]?.name).toBe('x\uFEFF');
    }
  });

  it('reads hex lists with blanks inside, a final comma, and a wrapped line with blanks after its backslash', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\X]\r\n"a"=hex:01, 02 ,03,\r\n"b\\\\c"=hex:04,\\  \r\n   05\r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: 'a', type: 'REG_BINARY', data: Buffer.from([1, 2, 3]).toString('base64') },
      { name: 'b\\c', type: 'REG_BINARY', data: Buffer.from([4, 5]).toString('base64') },
    ]);
  });

  it('strips every trailing NUL of a string, and only trailing ones', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\X]\r\n"s"=hex(1):41,00,00,00,42,00,00,00,00,00\r\n"t"=hex(2):41,00,00,00\r\n');
    expect(ex.keys[0]?.values.map((v) => v.data)).toEqual(['A\0B', 'A']);
  });

  it('names the registry types 5 and 9', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\X]\r\n"be"=hex(5):00,00,00,19\r\n"full"=hex(9):01\r\n');
    expect(ex.keys[0]?.values.map((v) => v.type)).toEqual(['REG_DWORD_BIG_ENDIAN', 'REG_FULL_RESOURCE_DESCRIPTOR']);
  });

  it('reads indented lines, @ with blanks around "=", and refuses data that only contains a known form', () => {
    const ex = reg('  [HKEY_LOCAL_MACHINE\\X]  \r\n  @ = "d"  \r\n\t"n"=dword:00000002 \r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: '', type: 'REG_SZ', data: 'd' },
      { name: 'n', type: 'REG_DWORD', data: 2 },
    ]);
    expect(() => reg('[HKEY_LOCAL_MACHINE\\X]\r\n"a"=xdword:00000001\r\n')).toThrow('line 4: cannot read the data of value "a": "xdword:00000001"');
    expect(() => reg('[HKEY_LOCAL_MACHINE\\X]\r\n"a"=xhex:01\r\n')).toThrow('line 4: cannot read the data of value "a": "xhex:01"');
  });

  it('quotes at most 40 characters of what it cannot read', () => {
    const long = 'x'.repeat(60);
    expect(() => reg(`[HKEY_LOCAL_MACHINE\\X]\r\n"a"=${long}\r\n`)).toThrow(`line 4: cannot read the data of value "a": "${'x'.repeat(40)}"`);
    expect(() => reg(`[HKEY_LOCAL_MACHINE\\X]\r\n${long}\r\n`)).toThrow(`line 4: cannot read "${'x'.repeat(40)}": a value line starts with "name" or @`);
  });

  it('an error without a line number is the bare message', () => {
    expect(new RegExportError('bad').message).toBe('bad');
    expect(new RegExportError('bad', 3)).toMatchObject({ message: 'line 3: bad', line: 3 });
    expect(new ServicesCsvError('bad').message).toBe('bad');
  });
});

describe('manifest keys under every hive', () => {
  it.each([
    ['HKEY_USERS\\S-1-5-18\\Software', 'HKU\\S-1-5-18\\Software\\X'],
    ['HKEY_CLASSES_ROOT\\CLSID', 'HKCR\\CLSID\\X'],
    ['HKEY_CURRENT_CONFIG\\System', 'HKCC\\System\\X'],
    ['HKEY_CURRENT_USER\\Software', 'HKCU\\Software\\X'],
    ['hku\\S-1-5-18', 'HKU\\S-1-5-18\\X'],
  ])('a key missing below [%s] is said not to exist', (exported, manifestKey) => {
    const entries = registryEntriesFromExports([reg(`[${exported}]\r\n`)], [{ path: manifestKey, recurse: false }]);
    expect(entries.filter((e) => !e.exists)).toEqual([{ path: manifestKey, view: '64', exists: false }]);
  });

  it('a hive alone is a key too, and its export holds both views of HKLM\\SOFTWARE', () => {
    expect(registryEntriesFromExports([reg('[HKEY_LOCAL_MACHINE]\r\n')], [{ path: 'HKLM\\SOFTWARE', recurse: false }])).toEqual([
      { path: 'HKLM', view: '64', exists: true, values: [] },
      { path: 'HKLM\\SOFTWARE', view: '64', exists: false },
      { path: 'HKLM\\SOFTWARE', view: '32', exists: false },
    ]);
  });

  it('HKLM\\SOFTWARE itself has a 32-bit spelling; a key that only contains that text has none', () => {
    const wow = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\X]\r\n');
    expect(registryEntriesFromExports([reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Y]\r\n')], [{ path: 'HKLM\\SOFTWARE', recurse: false }]).filter((e) => !e.exists)).toEqual([]);
    expect(registryEntriesFromExports([wow], [{ path: 'HKLM\\SOFTWARE\\X\\Y', recurse: false }]).filter((e) => !e.exists)).toEqual([{ path: 'HKLM\\SOFTWARE\\X\\Y', view: '32', exists: false }]);
    // Only a path that starts with HKLM\SOFTWARE, and is it or below it, has a Wow6432Node spelling.
    const wowZ = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Z]\r\n');
    expect(registryEntriesFromExports([wowZ], [{ path: 'HKCU\\Software\\HKLM\\SOFTWARE\\Z\\Y', recurse: false }]).filter((e) => !e.exists)).toEqual([]);
    const wowRoot = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n');
    expect(registryEntriesFromExports([reg('[HKEY_LOCAL_MACHINE]\r\n')], [{ path: 'HKLM\\SOFTWAREX\\Y', recurse: false }]).filter((e) => !e.exists)).toEqual([{ path: 'HKLM\\SOFTWAREX\\Y', view: '64', exists: false }]);
    expect(registryEntriesFromExports([wowRoot], [{ path: 'HKLM\\SOFTWAREX', recurse: false }]).filter((e) => !e.exists)).toEqual([]);
  });

  it('a key whose name only begins like an exported key is not below it', () => {
    expect(registryEntriesFromExports([reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAf]\r\n')], [{ path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false }]).filter((e) => !e.exists)).toEqual([]);
  });

  it('a 32-bit export says nothing about a 64-bit view, even when it spells Wow6432Node', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee]\r\n');
    expect(registryEntriesFromExports([ex], [{ path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false }], { nativeView: '32' }).filter((e) => !e.exists)).toEqual([]);
  });

  it('lists a manifest key given twice in two spellings once', () => {
    const ex = reg('[HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee]\r\n');
    const entries = registryEntriesFromExports([ex], [{ path: 'HKLM\\SOFTWARE\\McAfee\\X', recurse: false }, { path: 'HKEY_LOCAL_MACHINE\\software\\mcafee\\x', recurse: true }]);
    expect(entries.filter((e) => !e.exists)).toEqual([{ path: 'HKLM\\SOFTWARE\\McAfee\\X', view: '64', exists: false }]);
  });
});

describe('.reg files in an ANSI code page', () => {
  // "マス" and "ソ" in code page 932 (Shift-JIS); the second byte of "ソ" is a backslash in ASCII.
  const masu = [0x83, 0x7d, 0x83, 0x58];
  const so = [0x83, 0x5c];

  it('decodes the bytes in the code page given, and in 1252 when none is', () => {
    const bytes = Buffer.from([...Buffer.from('REGEDIT4\r\n"a"="'), ...masu, ...so, 0x22]);
    expect(decodeRegBytes(bytes, 932)).toBe('REGEDIT4\r\n"a"="マスソ"');
    expect(decodeRegBytes(bytes)).toBe('REGEDIT4\r\n"a"="ƒ}ƒXƒ\\"');
    expect(() => decodeRegBytes(Buffer.from([0x41, 0xe9, 0x22]), 932)).toThrow(CodePageError);
  });

  it('decodes bytes 0x80-0x9F of code page 1252 as 1252 defines them, not as Latin-1 control characters', () => {
    expect(decodeRegBytes(Buffer.from([0x93, 0x41, 0x94, 0x80, 0x92, 0x9f, 0x81]))).toBe('“A”€’Ÿ\u0081');
    expect(decodeRegBytes(Buffer.from([0x93, 0x41, 0x94]), 1250)).toBe('“A”');
  });

  it('reads REGEDIT4 hex(1), hex(2) and hex(7) data in the code page too, and refuses bytes it does not define', () => {
    const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(',');
    const text = `REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"Sz"=hex(1):${hex([...masu, 0])}\r\n"Exp"=hex(2):${hex([...so, 0])}\r\n"Multi"=hex(7):${hex([...masu, 0, ...so, 0, 0])}\r\n`;
    expect(parseRegExport(text, 932).keys[0]?.values.map((v) => v.data)).toEqual(['マス', 'ソ', ['マス', 'ソ']]);
    expect(() => parseRegExport('REGEDIT4\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"Sz"=hex(1):83,20,00\r\n', 932)).toThrow(
      'line 3: value "Sz": the text is not valid in code page 932',
    );
  });
});

describe('the keys of an export the manifest reads', () => {
  const entry = (path: string) => ({ path, view: '32' as const, exists: true, values: [] });
  const paths = (manifest: Parameters<typeof entriesTheManifestReads>[1], ...keys: string[]) => entriesTheManifestReads(keys.map(entry), manifest).map((e) => e.path);

  it('keeps a manifest key (any spelling of its hive, any case) and drops its parent, its children and a similarly named key', () => {
    const manifest = [{ path: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false }];
    expect(paths(manifest, 'HKLM\\SOFTWARE\\McAfee', 'HKLM\\SOFTWARE\\mcafee\\desktopprotection', 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection\\Tasks', 'HKLM\\SOFTWARE\\McAfee\\DesktopProtectionX')).toEqual([
      'HKLM\\SOFTWARE\\mcafee\\desktopprotection',
    ]);
  });

  it('keeps the keys below a recursing manifest key down to its maxDepth, or any depth when it gives none', () => {
    const keys = ['HKLM\\SOFTWARE\\X', 'HKLM\\SOFTWARE\\X\\a', 'HKLM\\SOFTWARE\\X\\a\\b', 'HKLM\\SOFTWARE\\X\\a\\b\\c', 'HKLM\\SOFTWARE\\Y'];
    expect(paths([{ path: 'HKLM\\SOFTWARE\\X', recurse: true, maxDepth: 2 }], ...keys)).toEqual(keys.slice(0, 3));
    expect(paths([{ path: 'HKLM\\SOFTWARE\\X', recurse: true }], ...keys)).toEqual(keys.slice(0, 4));
    expect(paths([{ path: 'HKLM\\SOFTWARE\\X', recurse: true, maxDepth: 0 }], ...keys)).toEqual(keys.slice(0, 1));
  });
});

describe('services CSV edges', () => {
  it('counts lines across LF pairs and keeps a last record that starts with an empty field', () => {
    expect(parseCsvRecords('a\n\nb')).toEqual([
      { fields: ['a'], line: 1 },
      { fields: ['b'], line: 3 },
    ]);
    expect(parseCsvRecords('a\n,x')).toEqual([
      { fields: ['a'], line: 1 },
      { fields: ['', 'x'], line: 2 },
    ]);
  });

  it('leaves out absent columns and turns empty ones into null', () => {
    expect(parseServicesCsv('Name,State,Started\r\nx,Running,True\r\n')).toStrictEqual([{ name: 'x', state: 'Running', started: true }]);
    expect(parseServicesCsv('Name,State,Started,DisplayName,StartMode,PathName,ProcessId\r\nx,Running,True,,,,\r\n')).toStrictEqual([
      { name: 'x', state: 'Running', started: true, displayName: null, startMode: null, pathName: null },
    ]);
    expect(parseServicesCsv('Name,State,Started,DisplayName,StartMode,PathName,ProcessId\r\nx,Running,True,X,Auto,C:\\x.exe,1234\r\n')).toStrictEqual([
      { name: 'x', state: 'Running', started: true, displayName: 'X', startMode: 'Auto', pathName: 'C:\\x.exe', processId: 1234 },
    ]);
  });

  it('refuses a ProcessId with anything but digits', () => {
    expect(() => parseServicesCsv('Name,State,Started,ProcessId\r\nx,Running,True,a12\r\n')).toThrow('line 2: ProcessId must be a number, not "a12"');
  });
});
