// import-reg reads a .reg file piped to standard input ("-") as it reads the same bytes from a
// named file: the same snapshot, notes and errors (the file's name aside), in whatever pieces the
// pipe gives, in every encoding, the ANSI ones whose bytes stop being UTF-8 late included. And it
// reads standard input in pieces, never whole.
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { fakeIo } from './cli-io';

const FIX = join(__dirname, '..', 'fixtures');

function regFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? regFiles(p) : p.endsWith('.reg') ? [p] : [];
  });
}
const FIXTURES = regFiles(FIX);

/** `bytes` in pieces of `size`, as a pipe gives them. */
function piecesOf(bytes: Uint8Array, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(Buffer.from(bytes.subarray(i, i + size)));
  return out;
}

/** An Io whose standard input is `bytes` in pieces of `size`; reading it whole is an error, so only streaming passes. */
function stdinIo(stdin: () => Readable): Io & { stdout: string; stderr: string } {
  const io = fakeIo();
  return Object.assign(io, {
    read: (p: string) => (p === '-' ? Promise.reject(new Error('standard input read whole')) : readFileSync(p)),
    stdin,
  });
}

/** An Io that streams named files from disk, as the command line's does. */
function fileIo(): Io & { stdout: string; stderr: string } {
  return Object.assign(fakeIo(), { stream: (p: string) => createReadStream(p, { highWaterMark: 4096 }) });
}

const stable = (stdout: string) => stdout.replace(/"(snapshotId|collectedAt)": "[^"]*"/g, '"$1": ""');

async function run(args: string[], io: Io & { stdout: string; stderr: string }): Promise<[number, string, string]> {
  const code = await main(['import-reg', ...args, '--host', 'H'], io);
  return [code, stable(io.stdout), io.stderr];
}

/** The run on the named file, with its name spelled "-" as the stdin run spells it. */
async function fromFile(file: string, before: string[], after: string[] = []): Promise<[number, string, string]> {
  const [code, stdout, stderr] = await run([...before, file, ...after], fileIo());
  return [code, stdout, stderr.split(file).join('-')];
}

function fromStdin(bytes: Uint8Array, size: number, before: string[], after: string[] = []): Promise<[number, string, string]> {
  return run([...before, '-', ...after], stdinIo(() => Readable.from(piecesOf(bytes, size))));
}

/** The text of a regedit 5 (UTF-16LE with BOM) or REGEDIT4 fixture. */
function textOf(bytes: Buffer): string {
  return bytes[0] === 0xff && bytes[1] === 0xfe ? bytes.subarray(2).toString('utf16le') : bytes.toString('latin1');
}

/** The encodings `encodings` gives a fixture in, in its order. */
const ENCODINGS = ['UTF-8', 'UTF-8 with BOM', 'UTF-16BE', 'UTF-16LE without BOM', 'code page 1252'] as const;

/** A fixture in other encodings: UTF-8 with and without BOM, UTF-16BE, UTF-16LE without BOM, and code page 1252 with a letter beyond ASCII last. */
function encodings(bytes: Buffer): Buffer[] {
  const text = textOf(bytes);
  const late = `${text.replace(/\s*$/, '')}\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Late]\r\n"e"="caf\u00e9 \u20ac"\r\n`;
  return [
    Buffer.from(text, 'utf8'),
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
    Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]),
    Buffer.from(text, 'utf16le'),
    // é is 0xE9 and € 0x80 in code page 1252, neither valid UTF-8: known ANSI only at the end.
    Buffer.from(late.replace('\u20ac', '\u0080'), 'latin1'),
  ];
}

const HEADER = 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n';
const utf16File = (text: string): Buffer => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);

/** Files refused, or read with notes: cut short, no header, bad lines, invalid in a code page. */
const BAD = [
  utf16File(`${HEADER}nonsense\r\n"big"=hex:01,02,\\\r\n\r\n  \r\n`),
  utf16File(`${HEADER}"big"=hex:01,02,\\\r\n  03,\\`),
  utf16File(`${HEADER}"big"=hex:01,02,\\\r\n\r\n"x"="y"\r\n`),
  utf16File('REGEDIT3\r\n"a"=x\r\n'),
  utf16File(''),
  Buffer.alloc(0),
  utf16File(`${HEADER}"a"="b"\r\n`).subarray(0, -1),
  utf16File(`${HEADER}"a"=hex:zz\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X\\]\r\n`),
  utf16File(`${HEADER}"a"=-\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Y]\r\n"d"=hex(4):01\r\n`),
  Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="`), Buffer.from([0x81, 0x20]), Buffer.from('"\r\n')]),
  Buffer.concat([Buffer.from(`REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n${'"a"="b"\r\n'.repeat(2000)}"e"="`), Buffer.from([0xe9]), Buffer.from('"\r\nnonsense\r\n')]),
  Buffer.from('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="\u00e9\r\n', 'utf8').subarray(0, -3),
];

describe('import-reg - (standard input)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'import-reg-stdin-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes, notes and refuses as for the named file, for every .reg fixture, --reg32 and --arch x86 too', async () => {
    expect(FIXTURES.length).toBeGreaterThan(50);
    for (const file of FIXTURES) {
      const bytes = readFileSync(file);
      for (const before of [[], ['--reg32'], ['--arch', 'x86']]) {
        const expected = await fromFile(file, before);
        for (const size of [7, 1000]) expect(await fromStdin(bytes, size, before), `${file} ${before.join(' ')} in pieces of ${size}`).toEqual(expected);
      }
    }
  });

  // One test per encoding: each is every fixture in pieces of 1, 3 and 4096 bytes, tens of
  // thousands of stream chunks of CPU-bound work. As one test the five went past vitest's 30 s
  // on a loaded machine (the load average near 80), where one of them takes a few seconds.
  for (const [e, name] of ENCODINGS.entries()) {
    it(`reads each fixture in ${name} as the named file is read`, async () => {
      for (const [n, fixture] of FIXTURES.entries()) {
        const bytes = encodings(readFileSync(fixture))[e]!;
        const file = join(dir, `e${e}-f${n}.reg`);
        writeFileSync(file, bytes);
        const expected = await fromFile(file, []);
        for (const size of [1, 3, 4096]) expect(await fromStdin(bytes, size, []), `${fixture} as ${file} in pieces of ${size}`).toEqual(expected);
      }
    });
  }

  it('reads code page 1252 as ANSI, with the note that says so', async () => {
    const ansi = await fromStdin(encodings(readFileSync(FIXTURES[0]!))[ENCODINGS.indexOf('code page 1252')]!, 5, []);
    expect(ansi[2]).toContain('-: note: read as code page 1252');
  });

  it('refuses and notes on bad files as for the named file, in code pages 1252 and 932', async () => {
    for (const [i, bytes] of BAD.entries()) {
      const file = join(dir, `bad${i}.reg`);
      writeFileSync(file, bytes);
      for (const codePage of [[], ['--code-page', '932']]) {
        const expected = await fromFile(file, [], codePage);
        for (const size of [1, 2, 5, 4096]) expect(await fromStdin(bytes, size, [], codePage), `bad file ${i} ${codePage.join(' ')} in pieces of ${size}`).toEqual(expected);
      }
    }
  });

  it('reads standard input with other files, the host named by --host', async () => {
    const [a, b] = [FIXTURES.find((f) => f.endsWith('EXCH16-vse88-not-excluded.reg'))!, FIXTURES.find((f) => f.endsWith('EXCH16-vse88-reg32.reg'))!];
    const named = await run([a, '--reg32', b], fileIo());
    const piped = await run([a, '--reg32', '-'], Object.assign(fileIo(), { stdin: () => Readable.from(piecesOf(readFileSync(b), 11)) }));
    expect(piped).toEqual([named[0], named[1], named[2].split(b).join('-')]);
    expect(named[0]).toBe(0);
  });

  it('says standard input could not be read in one line, as when read whole', async () => {
    const failing = () =>
      new Readable({
        read() {
          this.push(utf16File(HEADER));
          this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
        },
      });
    const piped = await run(['-'], stdinIo(failing));
    expect(piped).toEqual([2, '', '-: EIO: i/o error, read\n']);
    const whole = await run(['-'], Object.assign(fakeIo(), { read: () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })) }));
    expect(piped).toEqual(whole);
  });
});
