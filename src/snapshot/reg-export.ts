// Parser for `reg export` / regedit `.reg` files ("Windows Registry Editor Version 5.00", UTF-16LE
// with BOM, or "REGEDIT4", ANSI) into the wire contract's registry entries. Pure: takes bytes or
// text (whole, or in pieces as a file is read), never the file system.
//
// What a .reg file can and cannot say:
// - It holds keys and values, never a key's last-write time, never a read error.
// - A key present in the file exists (view "32" when its path spells out Wow6432Node, otherwise the
//   native view: "64", or "32" when the caller says the export came from 32-bit Windows).
// - `reg export` always writes a whole branch. So a manifest key that is absent from the file, but
//   lies below a key the file holds, does not exist: it becomes an `exists: false` entry. A manifest
//   key outside every exported branch is left out (the file says nothing about it).
// - Deleted-key lines `[-HKEY_...]` and deleted values `"x"=-` are what a .reg file applies, not
//   what a registry holds: they are skipped with a note.
import { canonicalRegistryPath, registryKeyId, shortHive, type RegistryView } from './normalise';
import type { ManifestRegistryEntry, RegistryEntry, RegistryValue } from './schema';

export class RegExportError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
  }
}

export interface RegExportOptions {
  /** The view of paths without Wow6432Node: "64" (64-bit Windows, the default) or "32" (32-bit Windows). */
  readonly nativeView?: RegistryView;
}

export interface RegExportKey {
  /** The path as the file spells it, long hive name and all (with Wow6432Node put in by asWow64Export). */
  readonly rawPath: string;
  readonly line: number;
  readonly values: RegistryValue[];
}

export interface RegExport {
  readonly format: 'REGEDIT5' | 'REGEDIT4';
  readonly keys: readonly RegExportKey[];
  /** Things skipped or assumed, one sentence each, with the line. */
  readonly notes: readonly string[];
  /**
   * REGEDIT4 string data written as hex (hex(1), hex(2), hex(7)) held bytes beyond ASCII, so it was
   * read in the ANSI code page, which nothing in the file names, even where the rest of the file is
   * plain ASCII.
   */
  readonly ansiHexStrings: boolean;
}

/**
 * The Windows ANSI code pages, by number, as TextDecoder labels. REGEDIT4 writes a .reg file in the
 * exporting Windows' ANSI code page (Japanese Windows: 932, Shift-JIS), and nothing in the file
 * names it: 1252 (English and Western European Windows) unless the caller says otherwise.
 */
export const ANSI_CODE_PAGES: Readonly<Record<number, string>> = {
  874: 'windows-874',
  932: 'shift_jis',
  936: 'gbk',
  949: 'euc-kr',
  950: 'big5',
  1250: 'windows-1250',
  1251: 'windows-1251',
  1252: 'windows-1252',
  1253: 'windows-1253',
  1254: 'windows-1254',
  1255: 'windows-1255',
  1256: 'windows-1256',
  1257: 'windows-1257',
  1258: 'windows-1258',
};

export const DEFAULT_CODE_PAGE = 1252;

/** Text that cannot be decoded: not valid in the code page it was read in, or UTF-16 cut inside a character. */
export class CodePageError extends Error {}

/**
 * Bytes 0x80-0x9F of code page 1252 (€, ‚, ƒ, „, …, the curly quotes, Š, Ÿ...). Node 20.18.3 and
 * later decode "windows-1252" as Latin-1, which turns them into control characters; this puts them
 * right, and changes nothing where Node decodes them correctly.
 */
const CP1252_80_9F = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';

/** Bytes in an ANSI code page as text; bytes that code page does not define are refused, not replaced. */
function decodeAnsi(bytes: Uint8Array, codePage: number): string {
  const label = ANSI_CODE_PAGES[codePage];
  if (label === undefined) throw new CodePageError(`code page ${codePage} is not one of ${Object.keys(ANSI_CODE_PAGES).join(', ')}`);
  try {
    const text = new TextDecoder(label, { fatal: true }).decode(bytes);
    return codePage === 1252 ? text.replace(/[\u0080-\u009f]/g, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80]!) : text;
  } catch {
    throw new CodePageError(`the text is not valid in code page ${codePage}; give the ANSI code page of the Windows that wrote it with --code-page (932 for Japanese, 1252 for English and Western European)`);
  }
}

export interface DecodedText {
  readonly text: string;
  /** Read in the ANSI code page: no byte-order mark, not UTF-16, and not valid UTF-8 (so not plain ASCII either). */
  readonly ansi: boolean;
}

/**
 * Decodes a .reg (or CSV) file: UTF-16LE/BE with BOM (regedit 5), UTF-8 with or without BOM, else
 * the ANSI code page (REGEDIT4). Valid UTF-8 beyond ASCII is all but never ANSI text by chance, so
 * it goes first.
 */
export function decodeTextFile(bytes: Uint8Array, codePage: number = DEFAULT_CODE_PAGE): DecodedText {
  const unicode = (label: string, from = 0): DecodedText => {
    // Every UTF-16 character is two bytes (or four): an odd count is a file cut short, whose last
    // byte would otherwise be read as a stray U+FFFD and reported as some other fault of that line.
    // Its BOM is two bytes too, so the whole file's length has the text's parity.
    if (label.startsWith('utf-16') && bytes.length % 2 !== 0) {
      throw new CodePageError('its UTF-16 text is an odd number of bytes, so it ends inside a character: the file is cut short; export it again');
    }
    if (label === 'utf-8') return { text: new TextDecoder(label).decode(bytes.subarray(from)), ansi: false };
    return { text: utf16(bytes.subarray(from), label === 'utf-16be'), ansi: false };
  };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return unicode('utf-16le', 2);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return unicode('utf-16be', 2);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return unicode('utf-8', 3);
  // UTF-16LE without a BOM: every other byte of the ASCII header is NUL.
  if (bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0) return unicode('utf-16le');
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), ansi: false };
  } catch {
    return { text: decodeAnsi(bytes, codePage), ansi: true };
  }
}

/** The text of a .reg file (see decodeTextFile). */
export function decodeRegBytes(bytes: Uint8Array, codePage: number = DEFAULT_CODE_PAGE): string {
  return decodeTextFile(bytes, codePage).text;
}

/** What a line that wraps past the end of the file holds, for the message: a value's data by its name, or a key line. */
function wrappedPart(line: string): string {
  const s = line.trim();
  if (s.startsWith('[')) return 'a key line';
  if (s.startsWith('@')) return 'the data of the default value';
  try {
    return `the data of value ${JSON.stringify(readQuoted(s, 0, 0).value)}`;
  } catch {
    return 'a line';
  }
}

/** Reads a quoted string starting at `from` (which must be `"`): returns the unescaped text and the index after it. */
function readQuoted(s: string, from: number, lineNo: number): { value: string; end: number } {
  // Runs between escapes are taken whole: a string built a character at a time holds a node per
  // character until flattened, so the parse of an 83 MB export kept 375 MB of heap (106 MB so).
  let out = '';
  let run = from + 1;
  // Stryker disable next-line EqualityOperator: one step past the end reads undefined and ends the same way, unclosed.
  for (let i = from + 1; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      // A backslash never ends a logical line: it joins the next, or the file is cut short. Only
      // wrappedPart passes a physical line, and there a string that ends so is unclosed anyway.
      // Stryker disable next-line StringLiteral: only an unclosed string gets the default, refused as unclosed whatever it holds.
      const next = s[i + 1] ?? '';
      // regedit escapes only \\ and \"; keep any other pair as it is.
      out += s.slice(run, i) + (next === '\\' || next === '"' ? next : c + next);
      i++;
      run = i + 1;
    } else if (c === '"') {
      return { value: out + s.slice(run, i), end: i + 1 };
    }
  }
  throw new RegExportError('a quoted string is not closed', lineNo);
}

function hexBytes(list: string, lineNo: number): Uint8Array {
  // regedit ends a wrapped list with a comma before the line break: drop that last empty item only.
  const parts = list.replace(/\s/g, '').split(',').filter((p, i, all) => !(p === '' && i === all.length - 1));
  const bytes = new Uint8Array(parts.length);
  parts.forEach((p, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) throw new RegExportError(`"${p}" is not a hex byte`, lineNo);
    bytes[i] = parseInt(p, 16);
  });
  return bytes;
}

/**
 * UTF-16 text as it is, half of a surrogate pair included: TextDecoder would put U+FFFD in its
 * place, a string other than the registry's, without a word. Kept, the snapshot contract refuses
 * it where a rule reads it (at its path), and a key no rule reads is left out as ever.
 */
function utf16(bytes: Uint8Array, bigEndian = false): string {
  const even = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length - (bytes.length % 2));
  return (bigEndian ? Buffer.from(even).swap16() : even).toString('utf16le');
}

/** What parsing one file learns and needs beyond each line. */
interface ParseState {
  readonly format: RegExport['format'];
  readonly codePage: number;
  readonly notes: string[];
  ansiHexStrings: boolean;
}

/** String data of hex(1)/hex(2)/hex(7): UTF-16LE in regedit 5, the ANSI code page in REGEDIT4. */
function regString(bytes: Uint8Array, state: ParseState, name: string, lineNo: number): string {
  if (state.format === 'REGEDIT5') return utf16(bytes);
  // ASCII reads alike in every ANSI code page; beyond it, the code page was a guess or a choice.
  if (bytes.some((b) => b >= 0x80)) state.ansiHexStrings = true;
  try {
    return decodeAnsi(bytes, state.codePage);
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: decodeAnsi throws nothing but CodePageError, so the other way out is never taken.
    if (!(e instanceof CodePageError)) throw e;
    throw new RegExportError(`value ${JSON.stringify(name)}: ${e.message}`, lineNo);
  }
}

function stripTrailingNul(s: string): string {
  return s.replace(/\0+$/, '');
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

const HEX_TYPES: Readonly<Record<number, RegistryValue['type']>> = {
  0x0: 'REG_NONE',
  0x1: 'REG_SZ',
  0x2: 'REG_EXPAND_SZ',
  0x3: 'REG_BINARY',
  0x4: 'REG_DWORD',
  0x5: 'REG_DWORD_BIG_ENDIAN',
  0x6: 'REG_LINK',
  0x7: 'REG_MULTI_SZ',
  0x8: 'REG_RESOURCE_LIST',
  0x9: 'REG_FULL_RESOURCE_DESCRIPTOR',
  0xa: 'REG_RESOURCE_REQUIREMENTS_LIST',
  0xb: 'REG_QWORD',
};

function parseData(name: string, data: string, state: ParseState, lineNo: number): RegistryValue {
  const { notes } = state;
  if (data.startsWith('"')) {
    const { value, end } = readQuoted(data, 0, lineNo);
    // `data` is trimmed, so anything after the closing quote is text.
    if (data.slice(end) !== '') throw new RegExportError('unexpected text after a string value', lineNo);
    return { name, type: 'REG_SZ', data: value };
  }
  const dword = /^dword:([0-9a-fA-F]{1,8})\s*$/i.exec(data);
  if (dword) return { name, type: 'REG_DWORD', data: parseInt(dword[1] as string, 16) };
  const hex = /^hex(?:\(([0-9a-fA-F]+)\))?:(.*)/is.exec(data);
  if (!hex) throw new RegExportError(`cannot read the data of value ${JSON.stringify(name)}: ${JSON.stringify(data.slice(0, 40))}`, lineNo);
  const typeNumber = hex[1] === undefined ? 3 : parseInt(hex[1], 16);
  const bytes = hexBytes(hex[2]!, lineNo);
  const type = HEX_TYPES[typeNumber];
  switch (type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
      return { name, type, data: stripTrailingNul(regString(bytes, state, name, lineNo)) };
    case 'REG_MULTI_SZ': {
      const items = regString(bytes, state, name, lineNo).split('\0');
      // The list ends with an empty string (the double NUL); drop the terminators only.
      while (items[items.length - 1] === '') items.pop();
      return { name, type, data: items };
    }
    case 'REG_DWORD':
      if (bytes.length !== 4) {
        notes.push(`line ${lineNo}: value ${JSON.stringify(name)} is hex(4) with ${bytes.length} bytes; kept as REG_BINARY`);
        return { name, type: 'REG_BINARY', data: base64(bytes) };
      }
      return { name, type, data: Buffer.from(bytes).readUInt32LE(0) };
    case 'REG_QWORD':
      if (bytes.length !== 8) {
        notes.push(`line ${lineNo}: value ${JSON.stringify(name)} is hex(b) with ${bytes.length} bytes; kept as REG_BINARY`);
        return { name, type: 'REG_BINARY', data: base64(bytes) };
      }
      return { name, type, data: Buffer.from(bytes).readBigUInt64LE(0).toString() };
    case undefined:
      notes.push(`line ${lineNo}: value ${JSON.stringify(name)} has registry type ${typeNumber}, which the contract does not name; kept as REG_BINARY`);
      return { name, type: 'REG_BINARY', data: base64(bytes) };
    default:
      return { name, type, data: base64(bytes) };
  }
}

const CUT_SHORT = (what: string): string => `${what} goes on past the end of the file (its last line ends with "\\"): the file is cut short; export it again`;

const WRAPPED = /\\\s*$/;

/**
 * Parses a .reg file's text given in pieces, in order (`push`), into keys and values, in file order
 * (`end`). Only the line being read is held, plus the keys kept, so a whole-hive export is read in
 * the memory of the keys wanted. `keepKey` says which keys to keep (all, unless given); every line
 * is read and checked all the same, so a file is refused, and noted on, exactly as when all are kept.
 *
 * A file is refused for what is wrong with it as a whole before what is wrong on a line: a file
 * cut short inside wrapped data, then a missing header, then the first bad line.
 */
export class RegExportParser {
  private readonly codePage: number;
  private readonly keepKey: (rawPath: string) => boolean;
  private readonly keys: RegExportKey[] = [];
  private readonly notes: string[] = [];
  private state: ParseState | undefined;
  private failure: RegExportError | undefined;
  private current: RegExportKey | undefined;
  private skipping = false;
  /** The text after the last line break seen. */
  private rest = '';
  private physical = 0;
  /** A logical line being joined from wrapped physical lines. */
  private wrapped: { parts: string[]; line: number; first: string } | undefined;
  /**
   * A logical line whose wrapped data ended on a blank line: it stands if any text follows, and
   * means the file is cut short if none does (the wrapping backslash was on the last line with text).
   */
  private held: { text: string; line: number; first: string } | undefined;

  constructor(codePage: number = DEFAULT_CODE_PAGE, keepKey: (rawPath: string) => boolean = () => true) {
    this.codePage = codePage;
    this.keepKey = keepKey;
  }

  push(text: string): void {
    // A byte-order mark left at the start needs no stripping: it can only stand before the header
    // or on a blank line, and trim() and \s take U+FEFF for white space.
    const data = this.rest + text;
    let from = 0;
    // A CR last in this piece may be the first half of a CRLF: it is no break yet, and waits in
    // `rest` for the next piece (or for end()).
    const breaks = /\r\n|\n|\r(?!$)/g;
    for (let m = breaks.exec(data); m; m = breaks.exec(data)) {
      this.physicalLine(data.slice(from, m.index));
      from = m.index + m[0].length;
    }
    this.rest = data.slice(from);
  }

  end(): RegExport {
    // What String#split makes of the end: a last line without a break, or an empty one after it.
    // Stryker disable ConditionalExpression,MethodExpression: a CR kept on the last line is a trailing blank, which every line drops, and an empty line after it changes nothing.
    if (this.rest.endsWith('\r')) {
      this.physicalLine(this.rest.slice(0, -1));
      this.physicalLine('');
    } else this.physicalLine(this.rest);
    // Stryker restore ConditionalExpression,MethodExpression
    // regedit never ends a value on a backslash: the file stops inside the value's data, and read
    // as it stands the value would be shorter than the one exported, without a word.
    if (this.wrapped) {
      const w = this.wrapped;
      throw new RegExportError(CUT_SHORT(wrappedPart(w.first)), w.line);
    }
    if (this.held) throw new RegExportError(CUT_SHORT(wrappedPart(this.held.first)), this.held.line);
    if (this.failure) throw this.failure;
    if (!this.state) throw new RegExportError('not a registry export: the first line must be "Windows Registry Editor Version 5.00" or "REGEDIT4"', 1);
    return { format: this.state.format, keys: this.keys, notes: this.notes, ansiHexStrings: this.state.ansiHexStrings };
  }

  private physicalLine(text: string): void {
    const line = ++this.physical;
    const w = this.wrapped;
    if (w) {
      // Only wrapped hex data ends in a backslash (a string value ends with its closing quote); the
      // indent of the next line goes with the other blanks hexBytes drops. Each physical line is
      // tested alone and the parts joined once: testing the joined text again for every wrapped
      // line made a large binary value take minutes.
      if (WRAPPED.test(text)) {
        w.parts.push(text.replace(WRAPPED, ''));
        return;
      }
      w.parts.push(text);
      this.wrapped = undefined;
      const joined = { text: w.parts.join(''), line: w.line, first: w.first };
      if (text.trim() === '') this.held = joined;
      else this.logicalLine(joined.text, joined.line);
      return;
    }
    if (text.trim() === '') return;
    if (this.held) {
      this.logicalLine(this.held.text, this.held.line);
      this.held = undefined;
    }
    // A comment is never wrapped.
    if (!/^\s*;/.test(text) && WRAPPED.test(text)) {
      const stripped = text.replace(WRAPPED, '');
      // The cut-short message names the value by its first line, with or without the backslash alike.
      this.wrapped = { parts: [stripped], line, first: stripped };
      return;
    }
    this.logicalLine(text, line);
  }

  private logicalLine(raw: string, line: number): void {
    if (this.failure) return;
    try {
      this.interpret(raw, line);
    } catch (e) {
      if (!(e instanceof RegExportError)) throw e;
      // Kept for the end: the rest of the file may yet show it is cut short, which is said first.
      this.failure = e;
    }
  }

  private interpret(raw: string, line: number): void {
    const s = raw.trim();
    if (!this.state) {
      let format: RegExport['format'];
      if (s === 'Windows Registry Editor Version 5.00') format = 'REGEDIT5';
      else if (s === 'REGEDIT4') format = 'REGEDIT4';
      else throw new RegExportError('not a registry export: the first line must be "Windows Registry Editor Version 5.00" or "REGEDIT4"', line);
      this.state = { format, codePage: this.codePage, notes: this.notes, ansiHexStrings: false };
      return;
    }
    const { notes } = this;
    if (s.startsWith(';')) return;
    if (s.startsWith('[')) {
      if (!s.endsWith(']')) throw new RegExportError('a key line must end with "]"', line);
      const inner = s.slice(1, -1);
      if (inner.startsWith('-')) {
        notes.push(`line ${line}: deleted-key line [${inner}] skipped (a .reg file deletes it on import; it says nothing about the registry)`);
        this.current = undefined;
        this.skipping = true;
        return;
      }
      if (inner === '' || inner.endsWith('\\') || inner.includes('\\\\')) throw new RegExportError(`malformed key path ${JSON.stringify(inner)}`, line);
      // A key not kept is still read to its end, its values checked and noted on like any other.
      this.current = { rawPath: inner, line, values: [] };
      if (this.keepKey(inner)) this.keys.push(this.current);
      this.skipping = false;
      return;
    }
    if (this.skipping) return;
    const current = this.current;
    if (!current) throw new RegExportError('a value line before any [key] line', line);
    let name: string;
    let rest: string;
    if (s.startsWith('@')) {
      name = '';
      rest = s.slice(1).trimStart();
    } else if (s.startsWith('"')) {
      const q = readQuoted(s, 0, line);
      name = q.value;
      rest = s.slice(q.end).trimStart();
    } else throw new RegExportError(`cannot read ${JSON.stringify(s.slice(0, 40))}: a value line starts with "name" or @`, line);
    if (!rest.startsWith('=')) throw new RegExportError('expected "=" after the value name', line);
    const data = rest.slice(1).trim();
    if (data === '-') {
      notes.push(`line ${line}: deleted value ${JSON.stringify(name)} in [${current.rawPath}] skipped`);
      return;
    }
    const value = parseData(name, data, this.state, line);
    const existing = current.values.findIndex((v) => v.name.toLowerCase() === name.toLowerCase());
    if (existing >= 0) {
      notes.push(`line ${line}: value ${JSON.stringify(name)} appears twice in [${current.rawPath}]; the later one is kept`);
      current.values.splice(existing, 1);
    }
    current.values.push(value);
  }
}

/**
 * Parses the text of a .reg file into keys and values, in file order. `codePage` is the ANSI code
 * page of REGEDIT4 string data written as hex (hex(1), hex(2), hex(7)).
 */
export function parseRegExport(text: string, codePage: number = DEFAULT_CODE_PAGE): RegExport {
  const parser = new RegExportParser(codePage);
  parser.push(text);
  return parser.end();
}

/** Turns a file's bytes, given in pieces, into text as decodeTextFile would the whole. */
interface PieceDecoder {
  write(bytes: Uint8Array): string;
  end(): string;
}

function utf16Decoder(bigEndian: boolean): PieceDecoder {
  // A piece may end inside a character: its odd byte waits for the next piece. A surrogate pair
  // split between pieces comes out as its two halves, which joined are the pair.
  let carry: Uint8Array = new Uint8Array(0);
  return {
    write(bytes) {
      const all = Buffer.concat([carry, bytes]);
      const even = all.length - (all.length % 2);
      carry = all.slice(even);
      return utf16(all.subarray(0, even), bigEndian);
    },
    end() {
      return '';
    },
  };
}

/** `fatal`: invalid text throws (TypeError) rather than becoming U+FFFD. */
function textDecoder(label: string, fatal: boolean): PieceDecoder {
  const decoder = new TextDecoder(label, { fatal });
  return { write: (bytes) => decoder.decode(bytes, { stream: true }), end: () => decoder.decode() };
}

function ansiDecoder(codePage: number): PieceDecoder {
  const label = ANSI_CODE_PAGES[codePage];
  if (label === undefined) throw new CodePageError(`code page ${codePage} is not one of ${Object.keys(ANSI_CODE_PAGES).join(', ')}`);
  const decoder = textDecoder(label, true);
  // Node 20 decodes a whole text in code page 1252 as ISO 8859-1 (decodeAnsi repairs that); its
  // streaming decoder, like Node 22's, gives the letters, so this repair is a guard here.
  // Stryker disable next-line ConditionalExpression: equivalent on Node 20 and 22, as above.
  const fix = (text: string): string => (codePage === 1252 ? text.replace(/[\u0080-\u009f]/g, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80]!) : text);
  const checked = (decode: () => string): string => {
    try {
      return fix(decode());
    } catch {
      throw new CodePageError(`the text is not valid in code page ${codePage}; give the ANSI code page of the Windows that wrote it with --code-page (932 for Japanese, 1252 for English and Western European)`);
    }
  };
  return { write: (bytes) => checked(() => decoder.write(bytes)), end: () => checked(() => decoder.end()) };
}

/** Thrown by the source of a file's bytes (so not a fault of its text): what reading it failed with. */
export class ReadError extends Error {
  constructor(readonly failure: unknown) {
    super((failure as Error).message);
  }
}

async function* reading(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await it.next();
    } catch (e) {
      throw new ReadError(e);
    }
    if (next.done) return;
    yield next.value;
  }
}

/**
 * Reads a .reg file from `open` (which gives its bytes in pieces, from the start, each time it is
 * called) as decodeTextFile and parseRegExport would read the whole, holding only a piece at a
 * time, and the keys `keepKey` keeps. A file that is neither Unicode by its first bytes nor valid
 * UTF-8 is only known to be ANSI once its bytes stop being valid UTF-8: it is then read again from
 * the start. A failure of `open` is thrown as a ReadError.
 */
export async function parseRegExportFile(
  open: () => AsyncIterable<Uint8Array>,
  codePage: number = DEFAULT_CODE_PAGE,
  keepKey?: (rawPath: string) => boolean,
): Promise<{ parsed: RegExport; ansi: boolean }> {
  const parsed = await readPass(open(), new Reading(codePage, keepKey, false));
  return parsed ? { parsed, ansi: false } : { parsed: (await readPass(open(), new Reading(codePage, keepKey, true)))!, ansi: true };
}

/**
 * Reads a .reg file from `source` as parseRegExportFile reads it from a file, where the bytes can
 * be read only once (standard input): the same decoding, result and errors. While the file could
 * yet prove not to be UTF-8 (no byte-order mark, valid UTF-8 so far), it is also read as ANSI,
 * side by side, since there is no going back to the start; that second reading is dropped as soon
 * as the first bytes show a mark, and used only if the first reading ends not UTF-8. A failure of
 * `source` is thrown as a ReadError.
 */
export async function parseRegExportStream(
  source: AsyncIterable<Uint8Array>,
  codePage: number = DEFAULT_CODE_PAGE,
  keepKey?: (rawPath: string) => boolean,
): Promise<{ parsed: RegExport; ansi: boolean }> {
  // Each reading is dropped once it can no longer be the one that counts: the first when its
  // bytes stop being UTF-8, the second when the first bytes show a mark or it fails.
  let first: Reading | undefined = new Reading(codePage, keepKey, false);
  let second: Reading | undefined = new Reading(codePage, keepKey, true);
  // What the ANSI reading failed with: thrown only if it is the reading that counts, as
  // parseRegExportFile's second pass would throw it then.
  let secondFailure: { error: unknown } | undefined;
  for await (const piece of reading(source)) {
    if (first) {
      try {
        first.write(piece);
      } catch (e) {
        if (!(e instanceof NotUtf8)) throw e;
        first = undefined;
      }
      // Stryker disable next-line ConditionalExpression: reading on as ANSI only costs time: a file with a mark never ends not UTF-8, so that reading is never used.
      if (first && !first.mayBeAnsi) second = undefined;
    }
    if (second) {
      try {
        second.write(piece);
      } catch (e) {
        secondFailure = { error: e };
        second = undefined;
      }
    }
    // Neither reading can stand: the rest of the input would change nothing.
    if (!first && secondFailure) throw secondFailure.error;
  }
  if (first) {
    try {
      return { parsed: first.end(), ansi: false };
    } catch (e) {
      if (!(e instanceof NotUtf8)) throw e;
    }
  }
  if (secondFailure) throw secondFailure.error;
  return { parsed: second!.end(), ansi: true };
}

/** Not valid UTF-8 where no byte-order mark said what the file is: it is ANSI. */
class NotUtf8 extends Error {}

/** The decoder decodeTextFile would choose for a file starting with `bytes`, and how many bytes its mark takes. */
function decoderFor(bytes: Uint8Array): { decoder: PieceDecoder; skip: number; utf16: boolean; utf8Guess?: true } {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { decoder: utf16Decoder(false), skip: 2, utf16: true };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { decoder: utf16Decoder(true), skip: 2, utf16: true };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { decoder: textDecoder('utf-8', false), skip: 3, utf16: false };
  // UTF-16LE without a BOM: every other byte of the ASCII header is NUL.
  if (bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0) return { decoder: utf16Decoder(false), skip: 0, utf16: true };
  const utf8 = textDecoder('utf-8', true);
  const notUtf8 = (decode: () => string): string => {
    try {
      return decode();
    } catch {
      throw new NotUtf8();
    }
  };
  return { decoder: { write: (b) => notUtf8(() => utf8.write(b)), end: () => notUtf8(() => utf8.end()) }, skip: 0, utf16: false, utf8Guess: true };
}

/**
 * One reading of a file, given its bytes a piece at a time: as its first bytes say, or as ANSI
 * (`ansi`). Reading as UTF-8 for want of a mark, `write` or `end` throws NotUtf8 once it is not.
 */
class Reading {
  private readonly parser: RegExportParser;
  private chosen: ReturnType<typeof decoderFor> | undefined;
  private head: Uint8Array = new Uint8Array(0);
  private size = 0;

  constructor(
    private readonly codePage: number,
    keepKey: ((rawPath: string) => boolean) | undefined,
    private readonly ansi: boolean,
  ) {
    this.parser = new RegExportParser(codePage, keepKey);
  }

  /** Of a reading not as ANSI: whether it may yet throw NotUtf8 (its encoding is not chosen yet, or is UTF-8 for want of a mark). */
  get mayBeAnsi(): boolean {
    // Stryker disable next-line ConditionalExpression: true only keeps the ANSI reading on, which a file with a mark never uses.
    return this.chosen === undefined || this.chosen.utf8Guess === true;
  }

  write(piece: Uint8Array): void {
    // Stryker disable next-line AssignmentOperator: only the parity is read, and -n has the parity of n.
    this.size += piece.length;
    if (this.chosen) {
      this.parser.push(this.chosen.decoder.write(piece));
      return;
    }
    // Four bytes tell the encoding (fewer only in a file that short).
    this.head = Buffer.concat([this.head, piece]);
    // Stryker disable next-line EqualityOperator: choosing at the fifth byte chooses the same, from the first four.
    if (this.head.length >= 4) this.choose();
  }

  end(): RegExport {
    if (!this.chosen) this.choose();
    const chosen = this.chosen!;
    // Every UTF-16 character is two bytes (or four): an odd count is a file cut short, whose last
    // byte would otherwise be read as a stray U+FFFD and reported as some other fault of that line.
    // Its BOM is two bytes too, so the whole file's length has the text's parity.
    if (chosen.utf16 && this.size % 2 !== 0) {
      throw new CodePageError('its UTF-16 text is an odd number of bytes, so it ends inside a character: the file is cut short; export it again');
    }
    this.parser.push(chosen.decoder.end());
    return this.parser.end();
  }

  private choose(): void {
    const chosen = this.ansi ? { decoder: ansiDecoder(this.codePage), skip: 0, utf16: false } : decoderFor(this.head);
    this.chosen = chosen;
    this.parser.push(chosen.decoder.write(this.head.subarray(chosen.skip)));
    this.head = new Uint8Array(0);
  }
}

/** One reading of the file, to its end. Undefined when read as UTF-8 for want of a mark and it is not. */
async function readPass(source: AsyncIterable<Uint8Array>, pass: Reading): Promise<RegExport | undefined> {
  try {
    for await (const piece of reading(source)) pass.write(piece);
    return pass.end();
  } catch (e) {
    if (e instanceof NotUtf8) return undefined;
    throw e;
  }
}

/**
 * Where a key of the 32-bit view sits in a 64-bit export: under Wow6432Node, the hive spelled as
 * given. Undefined outside HKLM\SOFTWARE, which WOW64 does not redirect.
 */
function wowSpelling(path: string): string | undefined {
  const m = /^((?:HKLM|HKEY_LOCAL_MACHINE)\\SOFTWARE)((?:\\.*)?)$/i.exec(path);
  return m ? `${m[1]}\\Wow6432Node${m[2]}` : undefined;
}

/**
 * An export of the 32-bit view taken on 64-bit Windows (`reg export <key> <file> /reg:32`, or the
 * 32-bit regedit in SysWOW64) names its keys as a 32-bit program sees them, without Wow6432Node,
 * since the redirection is hidden from that program; nothing in the file tells it from an export
 * of the 64-bit view. Given that it is one, this spells its keys as a 64-bit export would, so every
 * later step reads them in view "32". Keys outside HKLM\SOFTWARE are shared by both views and
 * stay; a key already spelled under Wow6432Node is in view "32" already.
 */
export function asWow64Export(ex: RegExport): RegExport {
  return { ...ex, keys: ex.keys.map((k) => ({ ...k, rawPath: asWow64Path(k.rawPath) })) };
}

/** A key path of an export of the 32-bit view as asWow64Export spells it. */
export function asWow64Path(rawPath: string): string {
  const spelled = rawPath.split('\\').some((s) => s.toLowerCase() === 'wow6432node') ? undefined : wowSpelling(rawPath);
  return spelled ?? rawPath;
}

/**
 * Which keys of an export can matter to registryEntriesFromExports, entriesTheManifestReads and
 * exportsCover asked about `paths` (the manifest's keys, and any other key asked about): those at,
 * below or above one of them, in either view. `rawPath` is as the export (after asWow64Export)
 * spells it. Every other key is left out of the snapshot and covers none of them, so a parse that
 * drops it gives the same answers in the memory of the keys kept. The canonical path (short hive,
 * no Wow6432Node) is the same for every spelling of a key in either view, and is at, above or
 * below another's whenever some spelling of the one is of the other's, so comparing it alone is
 * enough.
 */
export function keysThatMatter(paths: readonly string[]): (rawPath: string) => boolean {
  // Stryker disable next-line StringLiteral,MethodExpression: the view does not change the path, and any one case folding compares alike.
  const canonical = (path: string): string => canonicalRegistryPath(path, '64').path.toLowerCase();
  const targets = [...new Set(paths.map(canonical))];
  const related = (a: string, b: string): boolean => a === b || a.startsWith(b + '\\') || b.startsWith(a + '\\');
  return (rawPath) => {
    const path = canonical(rawPath);
    return targets.some((t) => related(path, t));
  };
}

/**
 * How a key of one view is spelled in an export from Windows of the given native view; undefined
 * when no export can hold it (the 32-bit view of a key outside HKLM\SOFTWARE, or view "64" on
 * 32-bit Windows).
 */
export function exportSpelling(path: string, view: RegistryView, nativeView: RegistryView): string | undefined {
  if (view === nativeView) return shortHive(path);
  return view === '32' ? wowSpelling(shortHive(path)) : undefined;
}

/** Strictly below: a manifest key the file holds itself is in its entries already. */
function isBelow(path: string, ancestor: string): boolean {
  return path.toLowerCase().startsWith(ancestor.toLowerCase() + '\\');
}

function exportedPaths(exports: readonly RegExport[]): string[] {
  return exports.flatMap((ex) => ex.keys.map((k) => shortHive(k.rawPath)));
}

/**
 * Whether the exports say anything about a key: they hold it, or a branch above it (`reg export`
 * writes whole branches, so a key missing there does not exist). Outside every branch, a missing
 * key was simply not exported.
 */
export function exportsCover(exports: readonly RegExport[], path: string, view: RegistryView, options: RegExportOptions = {}): boolean {
  const spelled = exportSpelling(path, view, options.nativeView ?? '64');
  if (spelled === undefined) return false;
  return exportedPaths(exports).some((p) => p.toLowerCase() === spelled.toLowerCase() || isBelow(spelled, p));
}

/** How many levels `path` lies below `ancestor` (0: the key itself), or undefined when it is not at or below it. */
function depthBelow(path: string, ancestor: string): number | undefined {
  if (path.toLowerCase() === ancestor.toLowerCase()) return 0;
  return isBelow(path, ancestor) ? path.slice(ancestor.length + 1).split('\\').length : undefined;
}

/**
 * The entries a collector following the manifest would send: each manifest key and, below one
 * that recurses, the keys down to its maxDepth (any depth when it gives none). An export holds
 * whole branches; the keys no rule reads stay out, so a value there (of any size) cannot make the
 * snapshot invalid.
 */
export function entriesTheManifestReads(entries: readonly RegistryEntry[], manifestKeys: readonly ManifestRegistryEntry[]): RegistryEntry[] {
  return entries.filter((e) =>
    manifestKeys.some((m) => {
      const depth = depthBelow(e.path, shortHive(m.path));
      // Stryker disable next-line ConditionalExpression: without it, undefined is not 0 and not <= any depth, so the answer is false all the same.
      if (depth === undefined) return false;
      return depth === 0 || (m.recurse && depth <= (m.maxDepth ?? Infinity));
    }),
  );
}

/**
 * The contract's registry entries for one or more parsed exports: every key of the files (merged
 * when a key appears twice), then `exists: false` for each manifest key that lies inside an
 * exported branch but is missing from it.
 */
export function registryEntriesFromExports(
  exports: readonly RegExport[],
  manifestKeys: readonly ManifestRegistryEntry[] = [],
  options: RegExportOptions = {},
): RegistryEntry[] {
  const nativeView = options.nativeView ?? '64';
  const entries = new Map<string, { path: string; view: RegistryView; values: RegistryValue[] }>();
  const rawPaths = exportedPaths(exports);
  for (const ex of exports) {
    for (const key of ex.keys) {
      const short = shortHive(key.rawPath);
      const c = canonicalRegistryPath(short, nativeView);
      const id = registryKeyId(c.path, c.view);
      const entry = entries.get(id) ?? { path: c.path, view: c.view, values: [] };
      for (const v of key.values) {
        const i = entry.values.findIndex((x) => x.name.toLowerCase() === v.name.toLowerCase());
        if (i >= 0) entry.values.splice(i, 1);
        entry.values.push(v);
      }
      entries.set(id, entry);
    }
  }
  const out: RegistryEntry[] = [...entries.values()].map((e) => ({ path: e.path, view: e.view, exists: true, values: e.values }));

  // On 32-bit Windows exportSpelling has no spelling for view "64", so that view adds nothing there.
  const views: RegistryView[] = ['64', '32'];
  for (const m of manifestKeys) {
    for (const view of views) {
      const canonical = canonicalRegistryPath(shortHive(m.path), view);
      const spelled = exportSpelling(m.path, view, nativeView);
      if (spelled === undefined) continue;
      if (!rawPaths.some((p) => isBelow(spelled, p))) continue;
      // Held by the file (exists), or already added for another spelling of the same key.
      const id = registryKeyId(canonical.path, canonical.view);
      if (out.some((e) => registryKeyId(e.path, e.view) === id)) continue;
      out.push({ path: canonical.path, view: canonical.view, exists: false });
    }
  }
  return out;
}
