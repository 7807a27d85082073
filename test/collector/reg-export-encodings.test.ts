// How a .reg file read in pieces is decoded: the encoding its first bytes say (and only when they
// say it), the ANSI code pages, and line breaks that a piece boundary splits. Each case is read
// in-process, so these are the tests that see a change to the stream decoder.
import { describe, expect, it } from 'vitest';
import { keysThatMatter, parseRegExport, parseRegExportFile, parseRegExportStream, RegExportParser, type RegExport } from '../../src/snapshot/reg-export';
import { pieces, whole } from '../support/reg-pieces';

async function outcome(read: () => Promise<unknown>): Promise<unknown> {
  try {
    return await read();
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

/** What reading the file in pieces gives, the same read once as standard input is (parseRegExportStream) as read from a file. */
async function streamed(bytes: Uint8Array, size: number, codePage?: number): Promise<unknown> {
  const fromFile = await outcome(() => parseRegExportFile(pieces(bytes, size), codePage));
  expect(await outcome(() => parseRegExportStream(pieces(bytes, size)(), codePage)), `read once, in pieces of ${size}`).toEqual(fromFile);
  return fromFile;
}

// 4 is the most the decoder waits for before it chooses; 1-3 split a byte-order mark.
const SIZES = [1, 2, 3, 4, 5, 7, 4096];

async function expectReadAsWhole(bytes: Uint8Array, what: string, codePage?: number): Promise<unknown> {
  const expected = whole(bytes, codePage);
  for (const size of SIZES) expect(await streamed(bytes, size, codePage), `${what} in pieces of ${size}`).toEqual(expected);
  return expected;
}

const REG5 = 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n';
const REG4 = 'REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n';
const le = (text: string): Buffer => Buffer.from(text, 'utf16le');
const be = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();
const bytes = (...parts: (string | number[] | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
/** The values of the only key, or the error. */
const values = (read: unknown): unknown => (typeof read === 'string' ? read : (read as { parsed: RegExport }).parsed.keys[0]?.values);
const odd = (b: Buffer): Buffer => (b.length % 2 === 1 ? b : Buffer.concat([b, Buffer.from(' ')]));
const even = (b: Buffer): Buffer => (b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from(' ')]));

describe('parseRegExportFile: the encoding, from the first bytes', () => {
  it('reads each encoding regedit and other tools write, whatever the pieces', async () => {
    const text = `${REG5}"s"="é€\u{1F600}"\r\n`;
    const files: [string, Buffer, boolean][] = [
      ['UTF-16LE with a BOM', bytes([0xff, 0xfe], le(text)), false],
      ['UTF-16BE with a BOM', bytes([0xfe, 0xff], be(text)), false],
      ['UTF-8 with a BOM', bytes([0xef, 0xbb, 0xbf], Buffer.from(text, 'utf8')), false],
      ['UTF-16LE without a BOM', le(text), false],
      ['UTF-8 without a BOM', Buffer.from(text, 'utf8'), false],
    ];
    for (const [what, file, ansi] of files) {
      const read = await expectReadAsWhole(file, what);
      expect(values(read), what).toEqual([{ name: 's', type: 'REG_SZ', data: 'é€\u{1F600}' }]);
      expect((read as { ansi: boolean }).ansi, what).toBe(ansi);
    }
  });

  it('reads code page 1252 with the letters Node decodes as C1 controls put right, and 932 as Shift-JIS', async () => {
    // € „ “ ” ™ in 1252; é makes the file not UTF-8, so ANSI.
    const cp1252 = bytes(REG4, '"s"="', [0x80, 0x84, 0x93, 0x94, 0x99, 0xe9], '"\r\n');
    expect(values(await expectReadAsWhole(cp1252, 'code page 1252'))).toEqual([{ name: 's', type: 'REG_SZ', data: '€„“”™é' }]);
    expect(values(await expectReadAsWhole(cp1252, 'code page 1252 given', 1252))).toEqual([{ name: 's', type: 'REG_SZ', data: '€„“”™é' }]);
    // 日本 in Shift-JIS.
    const cp932 = bytes(REG4, '"s"="', [0x93, 0xfa, 0x96, 0x7b], '"\r\n');
    expect(values(await expectReadAsWhole(cp932, 'code page 932', 932))).toEqual([{ name: 's', type: 'REG_SZ', data: '日本' }]);
    // Only 1252 is put right: in 1250 byte 0x83 is not ƒ.
    const cp1250 = bytes(REG4, '"s"="', [0x83, 0x8a], '"\r\n');
    const read1250 = await expectReadAsWhole(cp1250, 'code page 1250', 1250);
    expect(values(read1250)).toEqual([{ name: 's', type: 'REG_SZ', data: new TextDecoder('windows-1250').decode(Buffer.from([0x83, 0x8a])) }]);
    expect(JSON.stringify(values(read1250))).not.toContain('ƒ');
  });

  it('names the code pages it knows when given another, for an ANSI file', async () => {
    const ansi = bytes(REG4, '"s"="', [0xe9], '"\r\n');
    const said = 'CodePageError: code page 1234 is not one of 874, 932, 936, 949, 950, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258';
    expect(await expectReadAsWhole(ansi, 'code page 1234', 1234)).toBe(said);
  });

  it('reads UTF-8 with a BOM as UTF-8 even where it is not valid, and whatever its length', async () => {
    const invalid = bytes([0xef, 0xbb, 0xbf], REG5, '"s"="a', [0xe9], '"\r\n');
    expect(await expectReadAsWhole(invalid, 'UTF-8 BOM, invalid')).toEqual(expect.objectContaining({ ansi: false }));
    expect(values(whole(invalid))).toEqual([{ name: 's', type: 'REG_SZ', data: 'a\uFFFD' }]);
    for (const file of [odd(bytes([0xef, 0xbb, 0xbf], `${REG5}"s"="a"\r\n`)), even(bytes([0xef, 0xbb, 0xbf], `${REG5}"s"="a"\r\n`))]) {
      expect(values(await expectReadAsWhole(file, `UTF-8 BOM, ${file.length} bytes`))).toEqual([{ name: 's', type: 'REG_SZ', data: 'a' }]);
    }
  });

  it('refuses UTF-16 of an odd length as cut short, with or without a BOM', async () => {
    const cut = 'CodePageError: its UTF-16 text is an odd number of bytes, so it ends inside a character: the file is cut short; export it again';
    const text = `${REG5}"s"="a"\r\n`;
    for (const [what, file] of [
      ['UTF-16LE BOM', bytes([0xff, 0xfe], le(text), [0x00])],
      ['UTF-16BE BOM', bytes([0xfe, 0xff], be(text), [0x00])],
      ['UTF-16LE without a BOM', bytes(le(text), [0x0a])],
    ] as const) {
      expect(await expectReadAsWhole(file, what), what).toBe(cut);
    }
  });

  it('does not read as Unicode a file whose first bytes only look like a byte-order mark or UTF-16', async () => {
    const notReg = 'RegExportError: line 1: not a registry export: the first line must be "Windows Registry Editor Version 5.00" or "REGEDIT4"';
    // After the look-alike, a file that reads well if the look-alike were a mark and skipped; an
    // odd length, which UTF-16 would refuse as cut short.
    const rest = `\r\n${REG4}"s"="a"\r\n`;
    const lookAlikes = [
      [0xef, 0xbb, 0x41],
      [0xef, 0x41, 0xbf],
      [0x41, 0xbb, 0xbf],
      [0x41, 0x41, 0xbf],
      [0xff, 0x41],
      [0x41, 0xfe],
      [0xfe, 0x41],
      [0x41, 0xff],
      [0x41, 0x00, 0x41, 0x41],
      [0x41, 0x41, 0x41, 0x00],
      [0x00, 0x00, 0x41, 0x00],
    ];
    for (const start of lookAlikes) {
      const file = odd(bytes(start, rest));
      expect(await expectReadAsWhole(file, start.join(' ')), start.join(' ')).toBe(notReg);
    }
  });

  it('reads a file shorter than the four bytes that tell the encoding as the whole file reads', async () => {
    for (const file of [[], [0xff, 0xfe], [0xfe, 0xff], [0xef, 0xbb, 0xbf], [0xff, 0xfe, 0x41], [0x41], [0x41, 0x00], [0x0a, 0x0a, 0x0a]]) {
      await expectReadAsWhole(Buffer.from(file), file.join(' '));
    }
  });
});

describe('RegExportParser: line breaks at the edges of the pieces', () => {
  /** The text pushed a character at a time, so every line break is at a piece's end. */
  function byCharacter(text: string): unknown {
    const parser = new RegExportParser();
    try {
      for (const c of text) parser.push(c);
      return parser.end();
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  }
  function asWhole(text: string): unknown {
    try {
      return parseRegExport(text);
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  }
  const both = (text: string): unknown => {
    const read = asWhole(text);
    expect(byCharacter(text), JSON.stringify(text)).toEqual(read);
    return read;
  };
  const keyValues = (read: unknown): unknown => (typeof read === 'string' ? read : (read as RegExport).keys[0]?.values);

  it('takes a CR alone as a line break, as old Mac files end lines', () => {
    const read = both('REGEDIT4\r\r[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r"a"="b"\r"a"="c"\r"d"="e"');
    expect(keyValues(read)).toEqual([
      { name: 'a', type: 'REG_SZ', data: 'c' },
      { name: 'd', type: 'REG_SZ', data: 'e' },
    ]);
    expect((read as RegExport).notes).toEqual(['line 5: value "a" appears twice in [HKEY_LOCAL_MACHINE\\SOFTWARE\\X]; the later one is kept']);
  });

  it('reads the last line of a file that ends in a CR', () => {
    expect(keyValues(both(`${REG4}"a"="b"\r`))).toEqual([{ name: 'a', type: 'REG_SZ', data: 'b' }]);
    expect(keyValues(both(`${REG4}"a"="b"\r\n"c"="d"\r`))).toEqual([
      { name: 'a', type: 'REG_SZ', data: 'b' },
      { name: 'c', type: 'REG_SZ', data: 'd' },
    ]);
  });

  it('says a file is cut short when its wrapped data ends in a CR, or on a line of blanks', () => {
    const cutShort = 'RegExportError: line 4: the data of value "big" goes on past the end of the file (its last line ends with "\\"): the file is cut short; export it again';
    expect(both(`${REG4}"big"=hex:01,\\\r`)).toBe(cutShort);
    expect(both(`${REG4}"big"=hex:01,\\\r\n  02,\\\r`)).toBe(cutShort);
    expect(both(`${REG4}"big"=hex:01,02,\\\r\n  \r\n`)).toBe(cutShort);
    expect(both(`${REG4}"big"=hex:01,02,\\\r\n\t \r\n\r\n`)).toBe(cutShort);
    // Blanks, then more text: the data stood.
    expect(keyValues(both(`${REG4}"big"=hex:01,02,\\\r\n  \r\n"x"="y"\r\n`))).toEqual([
      { name: 'big', type: 'REG_BINARY', data: 'AQI=' },
      { name: 'x', type: 'REG_SZ', data: 'y' },
    ]);
  });

  it('keeps a U+FEFF inside a value, whatever piece it starts', async () => {
    const text = `${REG5}"s"="a\uFEFFb"\r\n`;
    expect(keyValues(both(text))).toEqual([{ name: 's', type: 'REG_SZ', data: 'a\uFEFFb' }]);
    const file = bytes([0xff, 0xfe], le(text));
    expect(values(await expectReadAsWhole(file, 'UTF-16LE with U+FEFF in a value'))).toEqual([{ name: 's', type: 'REG_SZ', data: 'a\uFEFFb' }]);
  });
});

describe('keysThatMatter: spellings of a key asked about', () => {
  it('keeps a key whatever the spelling of its hive or the case of its path, in either view', () => {
    const matters = keysThatMatter(['HKLM\\SOFTWARE\\McAfee\\DesktopProtection']);
    for (const kept of [
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection',
      'hkey_local_machine\\software\\mcafee\\desktopprotection',
      'HKLM\\SOFTWARE\\McAfee\\DesktopProtection\\Sub',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432NODE\\McAfee\\DesktopProtection',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node',
      'HKEY_LOCAL_MACHINE',
    ]) {
      expect(matters(kept), kept).toBe(true);
    }
    for (const dropped of [
      // A key whose name only begins like one asked about is neither above nor below it.
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\McA',
      'HKEY_LOCAL_MACHINE\\SOFT',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtectionX',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft',
      'HKEY_CURRENT_USER\\SOFTWARE\\McAfee\\DesktopProtection',
      'HKEY_USERS',
    ]) {
      expect(matters(dropped), dropped).toBe(false);
    }
  });

  it('keeps the keys of an asked path spelled under Wow6432Node, and its native spelling', () => {
    const matters = keysThatMatter(['HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Network Associates']);
    expect(matters('HKLM\\SOFTWARE\\Wow6432Node\\Network Associates\\TVD')).toBe(true);
    expect(matters('HKLM\\SOFTWARE\\Network Associates')).toBe(true);
    expect(matters('HKLM\\SOFTWARE\\Network')).toBe(false);
  });
});

describe('parseRegExportFile: a failure that is not the file\'s', () => {
  it('lets an error of keepKey out as it is, not taken for a fault of the file even when the file is cut short too', async () => {
    const file = bytes([0xff, 0xfe], le(`${REG5}"a"="b"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Y]\r\n"big"=hex:01,\\\r\n`));
    const keepKey = (rawPath: string): boolean => {
      if (rawPath.endsWith('Y')) throw new TypeError('keepKey failed');
      return true;
    };
    const read = parseRegExportFile(pieces(file, 4096), undefined, keepKey);
    await expect(read).rejects.toBeInstanceOf(TypeError);
    await expect(read).rejects.toThrow('keepKey failed');
    await expect(parseRegExportStream(pieces(file, 4096)(), undefined, keepKey)).rejects.toThrow('keepKey failed');
  });

  it('read once, lets out an error of keepKey on the ANSI reading only when that reading is the one that counts', async () => {
    // "é" in UTF-8 is "Ã©" read as code page 1252: only the ANSI reading, run alongside, meets "Ã".
    const keepKey = (rawPath: string): boolean => {
      if (rawPath.includes('Ã')) throw new TypeError('keepKey failed');
      return true;
    };
    const key = Buffer.from('[HKEY_LOCAL_MACHINE\\SOFTWARE\\caf\u00e9]\r\n"a"="b"\r\n', 'utf8');
    const utf8 = bytes(REG4, key);
    for (const size of [1, 3, 4096]) {
      const read = await parseRegExportStream(pieces(utf8, size)(), undefined, keepKey);
      expect(read).toEqual(await parseRegExportFile(pieces(utf8, size), undefined, keepKey));
      expect(read.parsed.keys.map((k) => k.rawPath)).toEqual(['HKEY_LOCAL_MACHINE\\SOFTWARE\\X', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\caf\u00e9']);
      // Not UTF-8 after all (0xE9 alone), later: the ANSI reading counts, and its error is the one.
      const ansi = bytes(REG4, key, '"e"="', [0xe9], '"\r\n');
      await expect(parseRegExportFile(pieces(ansi, size), undefined, keepKey)).rejects.toThrow('keepKey failed');
      await expect(parseRegExportStream(pieces(ansi, size)(), undefined, keepKey)).rejects.toThrow('keepKey failed');
    }
  });
});
