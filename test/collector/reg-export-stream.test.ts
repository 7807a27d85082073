// A .reg file read in pieces (as import-reg streams a whole-hive export) reads exactly as the whole
// file does, errors and notes included, and keeping only the keys that matter changes no answer.
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { buildManifest } from '../../src/rules/manifest';
import { RULES } from '../../src/rules/registry';
import {
  asWow64Export,
  asWow64Path,
  entriesTheManifestReads,
  exportsCover,
  keysThatMatter,
  parseRegExportFile,
  parseRegExportStream,
  ReadError,
  registryEntriesFromExports,
  type RegExport,
} from '../../src/snapshot/reg-export';
import type { RegistryView } from '../../src/snapshot/normalise';
import { writeLargeRegExport } from '../support/large-reg-export';
import { pieces, whole } from '../support/reg-pieces';
import { fakeIo } from './cli-io';

const FIX = join(__dirname, '..', 'fixtures', 'reg');
const FILES = [...readdirSync(FIX).map((f) => join(FIX, f)), ...readdirSync(join(FIX, 'port25')).map((f) => join(FIX, 'port25', f))].filter((f) => f.endsWith('.reg'));

async function outcome(read: () => Promise<unknown>): Promise<unknown> {
  try {
    return await read();
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

/** What reading the file in pieces gives, the same read once as standard input is (parseRegExportStream) as read from a file. */
async function streamed(bytes: Uint8Array, size: number, codePage?: number, keepKey?: (rawPath: string) => boolean): Promise<unknown> {
  const fromFile = await outcome(() => parseRegExportFile(pieces(bytes, size), codePage, keepKey));
  expect(await outcome(() => parseRegExportStream(pieces(bytes, size)(), codePage, keepKey)), `read once, in pieces of ${size}`).toEqual(fromFile);
  return fromFile;
}

const SIZES = [1, 2, 3, 5, 4096];
const HEADER = 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n';
const utf16File = (text: string): Buffer => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);

describe('parseRegExportFile: a file read in pieces', () => {
  it('reads every fixture as the whole file reads, whatever the size of the pieces', async () => {
    expect(FILES.length).toBeGreaterThan(20);
    for (const file of FILES) {
      const bytes = readFileSync(file);
      const expected = whole(bytes);
      expect(typeof expected, file).toBe('object');
      for (const size of SIZES) expect(await streamed(bytes, size), `${file} in pieces of ${size}`).toEqual(expected);
    }
  });

  it('joins what a piece splits: CRLF, a surrogate pair, a Shift-JIS letter, UTF-16BE, a UTF-8 letter', async () => {
    const text = `${HEADER}"emoji"="\u{1F600}"\r\n"j"="日本"\r\n"w"=hex:01,\\\r\n  02\r\n`;
    const files = [
      utf16File(text),
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]),
      Buffer.from(text, 'utf8'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
      Buffer.from(text.replace('Windows Registry Editor Version 5.00', 'REGEDIT4'), 'utf16le'),
      // 日本 in Shift-JIS (code page 932), two bytes a letter.
      Buffer.concat([Buffer.from('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"j"="'), Buffer.from([0x93, 0xfa, 0x96, 0x7b]), Buffer.from('"\r\n')]),
    ];
    for (const [i, bytes] of files.entries()) {
      const codePage = i === files.length - 1 ? 932 : undefined;
      const expected = whole(bytes, codePage);
      expect(typeof expected, `file ${i}`).toBe('object');
      for (const size of SIZES) expect(await streamed(bytes, size, codePage), `file ${i} in pieces of ${size}`).toEqual(expected);
    }
    const sjis = (await parseRegExportFile(pieces(files.at(-1)!, 1), 932)).parsed;
    expect(sjis.keys[0]!.values).toEqual([{ name: 'j', type: 'REG_SZ', data: '日本' }]);
  });

  it('reads the letters code page 1252 has at 0x80–0x9F as its letters, in pieces as whole', async () => {
    // € ‚ … ™: Node 20's decoder for windows-1252 gives a whole text's as the control characters of
    // the same numbers (ISO 8859-1), which the reading repairs; read in pieces, they must come out
    // as letters too.
    const bytes = Buffer.concat([Buffer.from('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"e"="'), Buffer.from([0x80, 0x82, 0x85, 0x99]), Buffer.from('"\r\n')]);
    const expected = whole(bytes, 1252);
    for (const size of SIZES) {
      const read = (await streamed(bytes, size, 1252)) as { parsed: RegExport };
      expect(read.parsed.keys[0]!.values, `pieces of ${size}`).toEqual([{ name: 'e', type: 'REG_SZ', data: '€‚…™' }]);
      expect(read).toEqual(expected);
    }
  });

  it('reads a last line ended by a CR alone as a line, as the whole file does', async () => {
    const ended = (end: string) => Buffer.from(`${HEADER}"a"="b"${end}`);
    const expected = whole(ended('\r'));
    expect(expected).toEqual(whole(ended('\r\n')));
    for (const size of SIZES) {
      const read = (await streamed(ended('\r'), size)) as { parsed: RegExport };
      expect(read.parsed.keys[0]!.values, `pieces of ${size}`).toEqual([{ name: 'a', type: 'REG_SZ', data: 'b' }]);
      expect(read).toEqual(expected);
    }
  });

  it('reads a file as ANSI when its bytes stop being UTF-8 late in the file, from the start again', async () => {
    const bytes = Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n${'"a"="b"\r\n'.repeat(20_000)}"e"="`), Buffer.from([0xe9]), Buffer.from('"\r\n')]);
    const read = (await parseRegExportFile(pieces(bytes, 4096))) as { parsed: RegExport; ansi: boolean };
    expect(read.ansi).toBe(true);
    expect(read.parsed.keys[0]!.values.at(-1)).toEqual({ name: 'e', type: 'REG_SZ', data: 'é' });
    expect(read).toEqual(whole(bytes));
  });

  it('refuses what the whole file is refused for, with the same words, and in the same order', async () => {
    const bad = [
      // Cut short inside wrapped data, with blank lines after it: said before a bad line earlier.
      utf16File(`${HEADER}nonsense\r\n"big"=hex:01,02,\\\r\n\r\n  \r\n`),
      utf16File(`${HEADER}"big"=hex:01,02,\\\r\n  03,\\`),
      utf16File(`${HEADER}"big"=hex:01,02,\\\r\n  03,\\\r\n\r\n`),
      // Blank after wrapped data, then text: read, not cut short.
      utf16File(`${HEADER}"big"=hex:01,02,\\\r\n\r\n"x"="y"\r\n`),
      // A missing header is said before a bad line, after a file cut short.
      utf16File('REGEDIT3\r\n"a"=x\r\n'),
      utf16File('REGEDIT3\r\n"a"=hex:01,\\\r\n'),
      utf16File(''),
      Buffer.alloc(0),
      utf16File(`${HEADER}"a"="b"\r\n`).subarray(0, -1),
      utf16File(`${HEADER}"a"=hex:zz\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X\\]\r\n`),
      Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="`), Buffer.from([0x81, 0x20]), Buffer.from('"\r\n')]),
      // UTF-8 (Á is C3 81) to its last byte, which starts a letter the file does not finish, so
      // ANSI; in code page 932, 81 before a quote is no letter, long before that end.
      Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="`), Buffer.from([0xc3, 0x81]), Buffer.from('"\r\n;'), Buffer.from([0xc3])]),
    ];
    for (const [i, bytes] of bad.entries()) {
      for (const codePage of [1252, 932]) {
        const expected = whole(bytes, codePage);
        for (const size of SIZES) expect(await streamed(bytes, size, codePage), `file ${i}, code page ${codePage}, pieces of ${size}`).toEqual(expected);
      }
    }
    expect(whole(bad[0]!)).toMatch(/^RegExportError: line 5: the data of value "big" goes on past the end of the file/);
    expect(whole(bad[3]!)).toEqual(expect.objectContaining({ ansi: false }));
    expect(whole(bad[4]!)).toMatch(/^RegExportError: line 1: not a registry export/);
    expect(whole(bad[5]!)).toMatch(/^RegExportError: line 2: the data of value "a" goes on past the end/);
    expect(whole(bad.at(-1)!, 932)).toMatch(/^CodePageError: the text is not valid in code page 932/);
    expect(whole(bad.at(-1)!, 1252)).toEqual(expect.objectContaining({ ansi: true }));
  });

  it('refuses a file that is neither UTF-8 nor valid in its code page as soon as its bytes show it, reading no further', async () => {
    const bytes = Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="`), Buffer.from([0x81, 0x20]), Buffer.from('"\r\n')]);
    // The source fails once past the file's bytes: reading on to its end would say that instead.
    const thenFailing = async function* (): AsyncGenerator<Uint8Array> {
      yield* pieces(bytes, 5)();
      throw new Error('EIO: i/o error, read');
    };
    const expected = whole(bytes, 932);
    expect(expected).toMatch(/^CodePageError: /);
    expect(await outcome(() => parseRegExportFile(thenFailing, 932))).toBe(expected);
    expect(await outcome(() => parseRegExportStream(thenFailing(), 932))).toBe(expected);
  });

  it('gives a failure of the source as a ReadError, not as a fault of the text', async () => {
    const failing = async function* (): AsyncGenerator<Uint8Array> {
      yield utf16File(HEADER);
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    };
    await expect(parseRegExportFile(failing)).rejects.toBeInstanceOf(ReadError);
    await expect(parseRegExportStream(failing())).rejects.toBeInstanceOf(ReadError);
  });
});

describe('keeping only the keys that matter', () => {
  const manifest = buildManifest();
  const asked = [...manifest.registry.map((m) => m.path), ...RULES.flatMap((r) => r.installedKeys?.paths ?? [])];

  it('keeps a key at, below or above a key asked about, in either view, and drops the rest', () => {
    const matters = keysThatMatter(['HKLM\\SOFTWARE\\McAfee\\DesktopProtection']);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection')).toBe(true);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\mcafee\\desktopprotection\\Sub')).toBe(true);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE')).toBe(true);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node')).toBe(true);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\McAfee\\DesktopProtection')).toBe(true);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtectionX')).toBe(false);
    expect(matters('HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft')).toBe(false);
    expect(matters('HKEY_CURRENT_USER\\SOFTWARE\\McAfee\\DesktopProtection')).toBe(false);
    expect(matters(asWow64Path('HKEY_LOCAL_MACHINE\\SOFTWARE\\McAfee\\DesktopProtection'))).toBe(true);
  });

  it('changes no entry, no cover and no note for any fixture or a large export, in either view and on either Windows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reg-keep-'));
    const large = join(dir, 'large.reg');
    writeLargeRegExport(large, 1, join(FIX, 'EXCH16-vse88-not-excluded.reg'));
    let dropped = 0;
    for (const file of [...FILES, large]) {
      const bytes = readFileSync(file);
      for (const [nativeView, wow64] of [['64', false], ['64', true], ['32', false]] as const) {
        const matters = keysThatMatter(asked);
        const all = (await parseRegExportFile(pieces(bytes, 4096))).parsed;
        const kept = (await parseRegExportFile(pieces(bytes, 4096), undefined, wow64 ? (p) => matters(asWow64Path(p)) : matters)).parsed;
        expect(kept.notes).toEqual(all.notes);
        dropped += all.keys.length - kept.keys.length;
        const answers = (ex: RegExport) => {
          const exports = [ex];
          return {
            registry: entriesTheManifestReads(registryEntriesFromExports(exports, manifest.registry, { nativeView }), manifest.registry),
            cover: asked.flatMap((p) => (['64', '32'] as RegistryView[]).map((view) => exportsCover(exports, p, view, { nativeView }))),
          };
        };
        const as = (ex: RegExport) => (wow64 ? asWow64Export(ex) : ex);
        expect(answers(as(kept)), `${file} ${nativeView} ${wow64}`).toEqual(answers(as(all)));
      }
    }
    rmSync(dir, { recursive: true, force: true });
    // The filler keys of the large export, at least.
    expect(dropped).toBeGreaterThan(500);
  });
});

describe('import-reg streaming its files', () => {
  /** An Io that streams files from disk in pieces of `size`. */
  function streamingIo(size: number): Io & { stdout: string; stderr: string } {
    const io = fakeIo();
    return Object.assign(io, { stream: (p: string) => pieces(readFileSync(p), size)() });
  }
  const stable = (stdout: string) => stdout.replace(/"(snapshotId|collectedAt)": "[^"]*"/g, '"$1": ""');

  it('writes what it writes from the files read whole, for every fixture, --reg32 and --arch x86 too', async () => {
    const runs = FILES.flatMap((f) => [[f], ['--reg32', f], ['--arch', 'x86', f]]);
    for (const args of runs) {
      const a = fakeIo();
      const b = streamingIo(1000);
      const codeA = await main(['import-reg', ...args, '--host', 'H'], a);
      const codeB = await main(['import-reg', ...args, '--host', 'H'], b);
      expect([codeB, stable(b.stdout), b.stderr], args.join(' ')).toEqual([codeA, stable(a.stdout), a.stderr]);
    }
  });

  it('says a file it cannot open is missing, as when read whole', async () => {
    const io = Object.assign(fakeIo(), { stream: (p: string) => createReadStream(p) });
    expect(await main(['import-reg', join(FIX, 'missing.reg')], io)).toBe(2);
    expect(io.stderr).toBe(`${join(FIX, 'missing.reg')}: no such file\n`);
  });
});
