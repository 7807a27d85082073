// The .reg parser and the services CSV parser on files written byte for byte as regedit / reg
// export and Windows PowerShell 5.1 Export-Csv write them (test/fixtures/reg).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANSI_CODE_PAGES, CodePageError, decodeRegBytes, decodeTextFile, exportsCover, exportSpelling, parseRegExport, registryEntriesFromExports, RegExportError, RegExportParser } from '../../src/snapshot/reg-export';
import { parseCsvRecords, parseServicesCsv, ServicesCsvError } from '../../src/snapshot/services-csv';

const FIX = join(__dirname, '..', 'fixtures', 'reg');
const read = (name: string): Buffer => readFileSync(join(FIX, name));

describe('decodeRegBytes', () => {
  it('reads UTF-16LE with BOM (regedit 5.00), UTF-8 with and without BOM, and ANSI (REGEDIT4)', () => {
    expect(decodeRegBytes(read('encodings.reg')).startsWith('Windows Registry Editor Version 5.00\r\n')).toBe(true);
    expect(decodeRegBytes(Buffer.from('\uFEFFREGEDIT4\r\n', 'utf8'))).toBe('REGEDIT4\r\n');
    expect(decodeRegBytes(Buffer.from('REGEDIT4\r\n"a"="é"', 'utf8'))).toContain('é');
    expect(decodeRegBytes(Buffer.from('REGEDIT4\r\n"a"="\xe9"', 'latin1'))).toContain('é');
  });

  it('says text with a UTF-8 BOM is not ANSI (no note on the code page)', () => {
    expect(decodeTextFile(Buffer.from('\uFEFFREGEDIT4\r\n"a"="é"', 'utf8'))).toEqual({ text: 'REGEDIT4\r\n"a"="é"', ansi: false });
  });
});

describe('half of a UTF-16 surrogate pair', () => {
  const HALVES = 'a\ud800b\udc00c\udbff';
  it('is kept as it is in a UTF-16 file, little- or big-endian, never read as U+FFFD (the contract refuses it where a rule reads it)', () => {
    const le = Buffer.from(`\uFEFF${HALVES}`, 'utf16le');
    expect(decodeTextFile(le)).toEqual({ text: HALVES, ansi: false });
    expect(decodeTextFile(Buffer.from(le).swap16())).toEqual({ text: HALVES, ansi: false });
    // Without a BOM, told by the NULs of its ASCII.
    expect(decodeTextFile(Buffer.from(`REGEDIT4${HALVES}`, 'utf16le')).text).toBe(`REGEDIT4${HALVES}`);
  });

  it('is kept as it is in hex(1), hex(2) and hex(7) string data of regedit 5', () => {
    const hex = (text: string) => [...Buffer.from(text, 'utf16le')].map((b) => b.toString(16).padStart(2, '0')).join(',');
    const ex = parseRegExport(
      `Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"sz"=hex(1):${hex(`${HALVES}\0`)}\r\n"expand"=hex(2):${hex(`${HALVES}\0`)}\r\n"multi"=hex(7):${hex(`${HALVES}\0x\0\0`)}\r\n`,
    );
    expect(ex.keys[0]!.values).toEqual([
      { name: 'sz', type: 'REG_SZ', data: HALVES },
      { name: 'expand', type: 'REG_EXPAND_SZ', data: HALVES },
      { name: 'multi', type: 'REG_MULTI_SZ', data: [HALVES, 'x'] },
    ]);
  });
});

describe('ANSI code pages (REGEDIT4 files and CSVs carry no mark of theirs)', () => {
  it('reads each code page --code-page takes in its own letters, and says the text was ANSI', () => {
    // One letter each from the code page's chart, after an ASCII letter.
    const letters: [number, number[], string][] = [
      [874, [0xa1], 'ก'], [932, [0x82, 0xa0], 'あ'], [936, [0xc4, 0xe3], '你'], [949, [0xc7, 0xd1], '한'], [950, [0xa4, 0xa4], '中'],
      [1250, [0xa5], 'Ą'], [1251, [0xc0], 'А'], [1252, [0xe9], 'é'], [1253, [0xc1], 'Α'], [1254, [0xd0], 'Ğ'], [1255, [0xe0], 'א'],
      [1256, [0xc7], 'ا'], [1257, [0xc0], 'Ą'], [1258, [0xc3], 'Ă'],
    ];
    expect(letters.map(([cp]) => String(cp))).toEqual(Object.keys(ANSI_CODE_PAGES));
    for (const [cp, bytes, letter] of letters) expect(decodeTextFile(Uint8Array.from([0x41, ...bytes]), cp), `code page ${cp}`).toEqual({ text: `A${letter}`, ansi: true });
    expect(decodeTextFile(Buffer.from('Aé', 'utf8'), 1251)).toEqual({ text: 'Aé', ansi: false });
  });

  it('reads 0x80-0x9F of 1252 as Windows does (€ and the curly quotes), and leaves other code pages\' bytes there alone', () => {
    expect(decodeTextFile(Uint8Array.from([0x80, 0x93, 0x94]), 1252).text).toBe('€“”');
    // 0x98 is unassigned in 1251: a C1 control, not the 1252 tilde.
    expect(decodeTextFile(Uint8Array.from([0xc0, 0x98]), 1251).text).toBe('А\u0098');
  });

  it('refuses a code page it does not know, naming the ones it does', () => {
    expect(() => decodeTextFile(Uint8Array.from([0xe9]), 437)).toThrow(CodePageError);
    expect(() => decodeTextFile(Uint8Array.from([0xe9]), 437)).toThrow('code page 437 is not one of 874, 932, 936, 949, 950, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258');
  });
});

describe('exportSpelling', () => {
  it('spells a key of the 32-bit view under Wow6432Node on 64-bit Windows, and has no 64-bit view on 32-bit Windows', () => {
    expect(exportSpelling('HKEY_LOCAL_MACHINE\\SOFTWARE\\X', '64', '64')).toBe('HKLM\\SOFTWARE\\X');
    expect(exportSpelling('HKLM\\SOFTWARE\\X', '32', '64')).toBe('HKLM\\SOFTWARE\\Wow6432Node\\X');
    expect(exportSpelling('HKLM\\SYSTEM\\X', '32', '64')).toBeUndefined();
    expect(exportSpelling('HKEY_LOCAL_MACHINE\\SOFTWARE\\X', '32', '32')).toBe('HKLM\\SOFTWARE\\X');
    expect(exportSpelling('HKEY_LOCAL_MACHINE\\SOFTWARE\\X', '64', '32')).toBeUndefined();
  });
});

describe('exportsCover', () => {
  const exported = (...keys: string[]) => parseRegExport(`Windows Registry Editor Version 5.00\r\n\r\n${keys.map((k) => `[${k}]\r\n"v"=dword:00000001\r\n\r\n`).join('')}`);

  it('takes the key itself or a branch above it, in any case, and nothing beside it', () => {
    const ex = exported('HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\App');
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso\\App', '64')).toBe(true);
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\CONTOSO\\app', '64')).toBe(true);
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso\\App\\Settings', '64')).toBe(true);
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso\\Other', '64')).toBe(false);
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso', '64')).toBe(false);
  });

  it('says nothing of a key no export can hold: view "64" on 32-bit Windows, the 32-bit view outside HKLM\\SOFTWARE', () => {
    const ex = exported('HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\App', 'HKEY_LOCAL_MACHINE\\SYSTEM\\X');
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso\\App', '64', { nativeView: '32' })).toBe(false);
    expect(exportsCover([ex], 'HKLM\\SOFTWARE\\Contoso\\App', '32', { nativeView: '32' })).toBe(true);
    expect(exportsCover([ex], 'HKLM\\SYSTEM\\X', '32')).toBe(false);
    expect(exportsCover([ex], 'HKLM\\SYSTEM\\X', '64')).toBe(true);
  });
});

describe('parseRegExport on encodings.reg', () => {
  const ex = parseRegExport(decodeRegBytes(read('encodings.reg')));
  const key = ex.keys[0];
  const value = (name: string) => key?.values.find((v) => v.name === name);

  it('knows the format and the keys, skipping the deleted key with a note', () => {
    expect(ex.format).toBe('REGEDIT5');
    expect(ex.keys.map((k) => k.rawPath)).toEqual([
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\Encodings',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Contoso\\Encodings',
    ]);
    expect(ex.notes.some((n) => /deleted-key line \[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\Old\]/.test(n))).toBe(true);
    expect(ex.notes.some((n) => /deleted value "Removed"/.test(n))).toBe(true);
    expect(value('Removed')).toBeUndefined();
  });

  it('decodes strings with \\\\ and \\" escapes, the default value, and non-ASCII text', () => {
    expect(value('')).toEqual({ name: '', type: 'REG_SZ', data: 'default value' });
    expect(value('Quoted')?.data).toBe('say "hi" from C:\\Temp\\');
    expect(value('Japanese')?.data).toBe('マス メール型ワームによるメールの送信を防止する');
  });

  it('decodes dword:, hex:, hex(0), hex(2), hex(4), hex(7), hex(b), hex(8) and unknown hex(N)', () => {
    expect(value('Zero')).toEqual({ name: 'Zero', type: 'REG_DWORD', data: 0 });
    expect(value('Max')).toEqual({ name: 'Max', type: 'REG_DWORD', data: 4294967295 });
    expect(value('Binary')).toEqual({ name: 'Binary', type: 'REG_BINARY', data: Buffer.from([0, 1, 2, 0xfe, 0xff]).toString('base64') });
    expect(value('EmptyBinary')).toEqual({ name: 'EmptyBinary', type: 'REG_BINARY', data: '' });
    expect(value('Expand')).toEqual({ name: 'Expand', type: 'REG_EXPAND_SZ', data: '%SystemRoot%\\System32\\inetsrv\\inetinfo.exe' });
    expect(value('Multi')).toEqual({ name: 'Multi', type: 'REG_MULTI_SZ', data: ['alpha', 'beta gamma', 'δέλτα'] });
    expect(value('EmptyMulti')).toEqual({ name: 'EmptyMulti', type: 'REG_MULTI_SZ', data: [] });
    expect(value('Qword')).toEqual({ name: 'Qword', type: 'REG_QWORD', data: '18446744073709551615' });
    expect(value('QwordSmall')).toEqual({ name: 'QwordSmall', type: 'REG_QWORD', data: '134089234870000000' });
    expect(value('None')).toEqual({ name: 'None', type: 'REG_NONE', data: Buffer.from([0xde, 0xad]).toString('base64') });
    expect(value('DwordAsHex')).toEqual({ name: 'DwordAsHex', type: 'REG_DWORD', data: 25 });
    expect(value('ResourceList')?.type).toBe('REG_RESOURCE_LIST');
    expect(value('Unknown')?.type).toBe('REG_BINARY');
    expect(ex.notes.some((n) => /registry type 32/.test(n))).toBe(true);
  });

  it('joins continuation lines (",\\" + CRLF + two spaces)', () => {
    expect(Buffer.from(value('Long')?.data as string, 'base64')).toEqual(Buffer.from(Array.from({ length: 100 }, (_, i) => i)));
  });

  it('turns Wow6432Node paths into view "32" and the rest into the native view', () => {
    const entries = registryEntriesFromExports([ex]);
    expect(entries.map((e) => [e.path, e.view])).toEqual([
      ['HKLM\\SOFTWARE\\Contoso\\Encodings', '64'],
      ['HKLM\\SOFTWARE\\Contoso\\Encodings', '32'],
    ]);
    expect(registryEntriesFromExports([ex], [], { nativeView: '32' })[0]?.view).toBe('32');
  });
});

describe('parseRegExport edge cases', () => {
  it('reads REGEDIT4 (ANSI) files', () => {
    const ex = parseRegExport(decodeRegBytes(read('EXCH03-vse80i-not-excluded.reg')));
    expect(ex.format).toBe('REGEDIT4');
    expect(ex.keys.at(-1)?.values.find((v) => v.name === 'szProductVer')?.data).toBe('8.0.0.912');
  });

  it('reads hex(2) of REGEDIT4 as ANSI bytes', () => {
    const ex = parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"p"=hex(2):25,54,45,4d,50,25,00\r\n');
    expect(ex.keys[0]?.values[0]).toEqual({ name: 'p', type: 'REG_EXPAND_SZ', data: '%TEMP%' });
  });

  it('says when REGEDIT4 hex string data went beyond ASCII, and so depended on the code page', () => {
    const parse = (header: string, hex: string) => parseRegExport(`${header}\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"p"=hex(7):${hex}\r\n`, 932);
    const sjis = parse('REGEDIT4', '83,8d,83,4f,00,00');
    expect(sjis.keys[0]?.values[0]?.data).toEqual(['ログ']);
    expect(sjis.ansiHexStrings).toBe(true);
    expect(parse('REGEDIT4', '41,00,00').ansiHexStrings).toBe(false);
    // regedit 5 writes string data in UTF-16LE, whatever the code page.
    expect(parse('Windows Registry Editor Version 5.00', 'ed,30,b0,30,00,00,00,00').ansiHexStrings).toBe(false);
  });

  it('flags hex string data from 0x80 up: € is 0x80 in 1252', () => {
    const ex = parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"p"=hex(2):80,00\r\n', 1252);
    expect(ex.keys[0]?.values[0]).toEqual({ name: 'p', type: 'REG_EXPAND_SZ', data: '€' });
    expect(ex.ansiHexStrings).toBe(true);
  });

  it('joins wrapped hex data after a value name holding a semicolon (only a line starting with one is a comment)', () => {
    const ex = parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a;b"=hex:01,02,\\\r\n  03\r\n; a comment,\\\r\n"n"=dword:00000001\r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: 'a;b', type: 'REG_BINARY', data: Buffer.from([1, 2, 3]).toString('base64') },
      { name: 'n', type: 'REG_DWORD', data: 1 },
    ]);
  });

  it('keeps a string that ends with an escaped backslash on its own line', () => {
    const ex = parseRegExport('Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"dir"="C:\\\\Temp\\\\"\r\n"n"=dword:00000001\r\n');
    expect(ex.keys[0]?.values).toEqual([
      { name: 'dir', type: 'REG_SZ', data: 'C:\\Temp\\' },
      { name: 'n', type: 'REG_DWORD', data: 1 },
    ]);
  });

  it('reads a text that still starts with a byte-order mark as the same file, whole or in pieces', () => {
    const text = 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"n"=dword:00000001\r\n';
    const plain = parseRegExport(text);
    expect(plain.keys[0]?.values).toEqual([{ name: 'n', type: 'REG_DWORD', data: 1 }]);
    const inPieces = (...pieces: string[]) => {
      const parser = new RegExportParser();
      for (const piece of pieces) parser.push(piece);
      return parser.end();
    };
    for (const [label, marked] of [
      ['whole', () => parseRegExport(`\uFEFF${text}`)],
      ['the mark alone first', () => inPieces('', '\uFEFF', text)],
      ['split in the header', () => inPieces('\uFEFFWindows Reg', text.slice(11))],
    ] as const) {
      expect(marked(), label).toEqual(plain);
    }
    // A blank line first moves every line number down by one, and changes nothing else.
    const below = parseRegExport(`\uFEFF\r\n${text}`);
    expect(below.keys.map((k) => ({ ...k, line: k.line - 1 }))).toEqual(plain.keys);
    // Only before the header: the mark is no white space to a key's path or a value's name.
    expect(parseRegExport(text.replace('"n"', '"\uFEFFn"')).keys[0]?.values[0]?.name).toBe('\uFEFFn');
    // A comment before the header stays refused, with the header's sentence, mark or none.
    expect(() => parseRegExport(`\uFEFF; note\r\n${text}`)).toThrow(/^line 1: not a registry export/);
  });

  it('fails with a line number on what it cannot read', () => {
    expect(() => parseRegExport('hello\r\n')).toThrow(RegExportError);
    expect(() => parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n"a"=hex:zz\r\n')).toThrow(/line 4: "zz" is not a hex byte/);
    expect(() => parseRegExport('REGEDIT4\r\n"a"="b"\r\n')).toThrow(/before any \[key\]/);
    expect(() => parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n"a"="open\r\n')).toThrow(/not closed/);
    // 0x81 opens a two-byte character in Shift-JIS; NUL cannot end it.
    const sjis = 'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n"p"=hex(2):81,00\r\n';
    expect(() => parseRegExport(sjis, 932)).toThrow(RegExportError);
    expect(() => parseRegExport(sjis, 932)).toThrow(/^line 4: value "p": the text is not valid in code page 932/);
  });
});

describe('a file cut short', () => {
  const KEY = 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n';
  const CUT = /^line 4: the data of value "big" goes on past the end of the file \(its last line ends with "\\"\): the file is cut short; export it again$/;

  it('is refused when wrapped hex data ends the file, with or without a line break or blank lines after it', () => {
    for (const tail of ['', '\r\n', '\r\n\r\n  \r\n']) {
      // Cut after a whole wrapped line: read as it stands it would be a shorter value, without a word.
      expect(() => parseRegExport(`${KEY}"big"=hex:01,02,\\\r\n  03,04,\\${tail}`), JSON.stringify(tail)).toThrow(CUT);
      expect(() => parseRegExport(`${KEY}"big"=hex:01,02,\\${tail}`), JSON.stringify(tail)).toThrow(CUT);
    }
  });

  it('names what was cut short: a key line or the default value, indented or not', () => {
    const cut = (what: string) => new RegExp(`^line 4: ${what} goes on past the end of the file \\(its last line ends with "\\\\"\\): the file is cut short; export it again$`);
    for (const indent of ['', '  ']) {
      expect(() => parseRegExport(`${KEY}${indent}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Y\\`), indent).toThrow(cut('a key line'));
      expect(() => parseRegExport(`${KEY}${indent}@=hex:01,02,\\\r\n`), indent).toThrow(cut('the data of the default value'));
      expect(() => parseRegExport(`${KEY}${indent}"big"=hex:01,02,\\\r\n`), indent).toThrow(CUT);
    }
  });

  it('a wrapped value that ends where regedit ends it is read whole, the last value of the file too', () => {
    const ex = parseRegExport(`${KEY}"big"=hex:01,02,\\\r\n  03,04\r\n\r\n`);
    expect(ex.keys[0]?.values).toEqual([{ name: 'big', type: 'REG_BINARY', data: Buffer.from([1, 2, 3, 4]).toString('base64') }]);
  });

  it('a UTF-16 file of an odd number of bytes ends inside a character: refused as cut short, not read as a stray character', () => {
    const whole = Buffer.from(`\uFEFF${KEY}"a"="b"\r\n`, 'utf16le');
    expect(decodeRegBytes(whole)).toContain('"a"="b"');
    for (const bytes of [whole.subarray(0, whole.length - 1), whole.subarray(2, whole.length - 1)]) {
      expect(() => decodeRegBytes(bytes)).toThrow(/^its UTF-16 text is an odd number of bytes, so it ends inside a character: the file is cut short; export it again$/);
    }
  });
});

describe('registryEntriesFromExports and the manifest', () => {
  const manifestKeys = [
    { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', recurse: false },
    { path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', recurse: true, maxDepth: 3 },
    { path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', recurse: false },
  ];

  it('marks manifest keys inside an exported branch but missing from it as exists:false; says nothing about others', () => {
    const ex = parseRegExport(decodeRegBytes(read('EXCH16-vse88-no-behaviourblocking.reg')));
    const entries = registryEntriesFromExports([ex], manifestKeys);
    const find = (p: string, v: string) => entries.find((e) => e.path.toLowerCase() === p.toLowerCase() && e.view === v);
    expect(find('HKLM\\SOFTWARE\\McAfee\\DesktopProtection', '32')?.exists).toBe(true);
    // The export is of HKLM\SOFTWARE\Wow6432Node\McAfee: view "32" of McAfee keys is covered...
    expect(find(manifestKeys[1]!.path, '32')).toEqual({ path: manifestKeys[1]!.path, view: '32', exists: false });
    // ...view "64" and the Network Associates branch are not.
    expect(find(manifestKeys[1]!.path, '64')).toBeUndefined();
    expect(find(manifestKeys[2]!.path, '32')).toBeUndefined();
  });

  it('merges a key that appears in two files', () => {
    const a = parseRegExport('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="1"\r\n"b"="1"\r\n');
    const b = parseRegExport('REGEDIT4\r\n\r\n[HKLM\\software\\x]\r\n"B"="2"\r\n');
    const entries = registryEntriesFromExports([a, b]);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.values).toEqual([
      { name: 'a', type: 'REG_SZ', data: '1' },
      { name: 'B', type: 'REG_SZ', data: '2' },
    ]);
  });
});

describe('parseServicesCsv', () => {
  it('reads Export-Csv of Windows PowerShell 5.1 (#TYPE line, quoted fields, doubled quotes)', () => {
    const services = parseServicesCsv(decodeRegBytes(read('services-ex2016.csv')));
    expect(services).toEqual([
      { name: 'McShield', displayName: 'McAfee McShield', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files (x86)\\Common Files\\McAfee\\SystemCore\\mcshield.exe"' },
      { name: 'MSExchangeFrontEndTransport', displayName: 'Microsoft Exchange Frontend Transport', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeFrontendTransport.exe"' },
      { name: 'MSExchangeTransport', displayName: 'Microsoft Exchange Transport', state: 'Running', started: true, startMode: 'Auto', pathName: '"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeTransport.exe"' },
    ]);
  });

  it('reads PowerShell 7 output (no #TYPE, UTF-8 BOM, LF), empty cells as null, ProcessId when present', () => {
    const text = '\uFEFF"Name","State","Started","PathName","ProcessId"\n"McShield","Stopped","False","","0"\n';
    expect(parseServicesCsv(text)).toEqual([{ name: 'McShield', state: 'Stopped', started: false, pathName: null, processId: 0 }]);
  });

  it('keeps commas and line breaks inside quoted fields', () => {
    expect(parseCsvRecords('"a,b","c\r\nd"\r\n"e",f\r\n').map((r) => r.fields)).toEqual([['a,b', 'c\r\nd'], ['e', 'f']]);
  });

  it('fails clearly on a CSV without the needed columns or with a bad Started', () => {
    expect(() => parseServicesCsv('"Name","Status"\r\n"x","Running"\r\n')).toThrow(/no state column/);
    expect(() => parseServicesCsv('"Name","State","Started"\r\n"x","Running","Yes"\r\n')).toThrow(ServicesCsvError);
    expect(() => parseServicesCsv('"Name","State","Started"\r\n"x","Running"\r\n')).toThrow(/line 2: expected 3 fields/);
  });
});
