// For any bytes, cut into pieces any way (one byte, empty pieces, uneven ones), a .reg file piped to
// standard input (parseRegExportStream, which reads it as ANSI side by side since it cannot go back)
// reads exactly as the same bytes from a named file (parseRegExportFile, which reads it again as
// ANSI when it stops being UTF-8): the same result, or an error of the same class with the same
// words. Read with every key kept, both also read as the whole file does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildManifest } from '../../src/rules/manifest';
import { RULES } from '../../src/rules/registry';
import { asWow64Path, keysThatMatter, parseRegExportFile, parseRegExportStream } from '../../src/snapshot/reg-export';
import type { RegistryValue } from '../../src/snapshot/schema';
import { propertyRuns } from '../support/property-runs';
import { whole } from '../support/reg-pieces';
import { registryValueOf } from '../support/registry-arbitraries';

const SEED = 20261205;

type Outcome = { result: unknown } | { error: unknown; message: string };

async function outcome(read: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { result: await read() };
  } catch (e) {
    return { error: (e as Error).constructor, message: (e as Error).message };
  }
}

/** `bytes` cut by `sizes`, taken in turn; a size of 0 is an empty piece, and then one comes last too. */
function cut(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const steps = sizes.some((n) => n > 0) ? sizes : [...sizes, 1];
  const out: Uint8Array[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = steps[k % steps.length]!;
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  if (sizes.includes(0)) out.push(new Uint8Array(0));
  return out;
}

const splits = fc.oneof(
  fc.constant([1]),
  fc.integer({ min: 1, max: 9 }).map((n) => [n]),
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 }),
);

const manifest = buildManifest();
const asked = [...manifest.registry.map((m) => m.path), ...RULES.flatMap((r) => r.installedKeys?.paths ?? [])];
const matters = keysThatMatter(asked);
const KEEPS: Record<string, ((rawPath: string) => boolean) | undefined> = {
  all: undefined,
  manifest: matters,
  'manifest, 32-bit view': (p) => matters(asWow64Path(p)),
  other: keysThatMatter(['HKLM\\SOFTWARE\\Other']),
};

/** The same outcome from standard input as from a named file, and as from the whole file when every key is kept. */
async function expectSameReading(bytes: Uint8Array, sizes: readonly number[], codePage: number | undefined, keep: string): Promise<void> {
  const keepKey = KEEPS[keep];
  const fromFile = await outcome(() =>
    parseRegExportFile(async function* () {
      // A file opened again gives its bytes afresh.
      for (const piece of cut(bytes, sizes)) yield Uint8Array.from(piece);
    }, codePage, keepKey),
  );
  const fromStdin = await outcome(() =>
    parseRegExportStream(
      (async function* () {
        yield* cut(bytes, sizes);
      })(),
      codePage,
      keepKey,
    ),
  );
  expect(fromStdin).toStrictEqual(fromFile);
  if (keepKey === undefined) {
    const read = 'result' in fromFile ? fromFile.result : `${(fromFile.error as { name: string }).name}: ${fromFile.message}`;
    expect(read).toStrictEqual(whole(bytes, codePage));
  }
}

// Key paths at, above, below and beside the keys the rules read, in both views' spellings.
const long = (p: string): string => p.replace(/^HKLM\\/, 'HKEY_LOCAL_MACHINE\\');
const KEY_PATHS = [
  ...asked.slice(0, 6).map(long),
  ...asked.slice(0, 3).map((p) => long(asWow64Path(p))),
  ...asked.slice(0, 2).map((p) => `${long(p)}\\Sub`),
  'HKEY_LOCAL_MACHINE\\SOFTWARE',
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Other\\X',
  'HKEY_CURRENT_USER\\Software\\X',
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\日本',
];

const text = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('é€„™', '日本語', 'ｱ。', '\u{1F600}', 'a\\b', 'q"q', ''),
  // à is C3 A0 in UTF-8, and A0 starts no letter in code page 932.
  fc.constantFrom('é€„™', '日本語', 'ｱ。', 'voilà'),
);
const binary = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u).toString('base64'));
const registryValue = registryValueOf(text, binary, ['REG_BINARY', 'REG_NONE', 'REG_DWORD_BIG_ENDIAN']);
const valueName = fc.oneof(fc.constantFrom('', 'Enabled', 'Path', 'x"y', 'a\\b', '日本'), fc.string({ maxLength: 6 }));

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Hex data as regedit writes it: comma-separated, wrapped with a backslash every 25 bytes. */
function hexList(bytes: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 25) out.push([...bytes.subarray(i, i + 25)].map((b) => b.toString(16).padStart(2, '0')).join(','));
  return out.join(',\\\r\n  ');
}

/** A value's line as regedit writes it: strings in UTF-16LE as hex in version 5, in the code page (Latin-1 here) in REGEDIT4. */
function valueLine(v: RegistryValue, reg4: boolean): string {
  const name = v.name === '' ? '@' : quote(v.name);
  const strings = (s: string): Buffer => (reg4 ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf16le'));
  switch (v.type) {
    case 'REG_SZ':
      return `${name}=${quote(v.data as string)}`;
    case 'REG_EXPAND_SZ':
      return `${name}=hex(2):${hexList(strings(`${v.data as string}\0`))}`;
    case 'REG_MULTI_SZ':
      return `${name}=hex(7):${hexList(strings(`${(v.data as string[]).map((s) => `${s}\0`).join('')}\0`))}`;
    case 'REG_DWORD':
      return `${name}=dword:${(v.data as number).toString(16).padStart(8, '0')}`;
    case 'REG_QWORD': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v.data as string));
      return `${name}=hex(b):${hexList(b)}`;
    }
    default: {
      const kind = v.type === 'REG_BINARY' ? '' : v.type === 'REG_NONE' ? '(0)' : '(5)';
      return `${name}=hex${kind}:${hexList(Buffer.from(v.data as string, 'base64'))}`;
    }
  }
}

const line = (reg4: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: valueName.chain(registryValue).map((v) => valueLine(v as RegistryValue, reg4)) },
    { weight: 1, arbitrary: valueName.map((n) => `${quote(n)}=-`) },
    { weight: 2, arbitrary: fc.constantFrom('; a comment', '; café, 日本', '', '  ', '; a comment', '', '  ', 'nonsense') },
  );

const key = (reg4: boolean) =>
  fc.record({ deleted: fc.integer({ min: 0, max: 7 }).map((n) => n === 0), path: fc.constantFrom(...KEY_PATHS), lines: fc.array(line(reg4), { maxLength: 4 }) }).map(
    ({ deleted, path, lines }) => [`[${deleted ? '-' : ''}${path}]`, ...lines, ''],
  );

/** A .reg file's text: a header (or, now and then, none), keys and values, CRLF or LF line breaks. */
const regText = fc.constantFrom('Windows Registry Editor Version 5.00', 'REGEDIT4', 'Windows Registry Editor Version 5.00', 'REGEDIT4', 'REGEDIT3').chain((header) =>
  fc
    .tuple(fc.array(key(header === 'REGEDIT4'), { maxLength: 4 }), fc.constantFrom('\r\n', '\r\n', '\n'), fc.constantFrom('', '\r\n', '', '\r\n', '\\\r\n', '\r'))
    .map(([keys, br, end]) => [header, '', ...keys.flat()].join(br) + end),
);

/** Bytes 0x80-0x9F of code page 1252, as reg-export reads them. */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';
const SHIFT_JIS: Record<string, number[]> = { 日: [0x93, 0xfa], 本: [0x96, 0x7b], 語: [0x8c, 0xea], ｱ: [0xb1], '。': [0x81, 0x42] };

function ansiBytes(s: string, codePage: 1252 | 932): Buffer {
  const out: number[] = [];
  for (const c of s) {
    const u = c.codePointAt(0)!;
    if (u < 0x80) out.push(u);
    else if (codePage === 932) out.push(...(SHIFT_JIS[c] ?? [0x3f]));
    else if (CP1252_HIGH.includes(c)) out.push(0x80 + CP1252_HIGH.indexOf(c));
    else out.push(u <= 0xff ? u : 0x3f);
  }
  return Buffer.from(out);
}

const ENCODINGS = {
  'UTF-8': (s: string) => Buffer.from(s, 'utf8'),
  'UTF-8 with a BOM': (s: string) => Buffer.from(`\uFEFF${s}`, 'utf8'),
  'UTF-16LE': (s: string) => Buffer.from(s, 'utf16le'),
  'UTF-16LE with a BOM': (s: string) => Buffer.from(`\uFEFF${s}`, 'utf16le'),
  'UTF-16BE': (s: string) => Buffer.from(s, 'utf16le').swap16(),
  'UTF-16BE with a BOM': (s: string) => Buffer.from(`\uFEFF${s}`, 'utf16le').swap16(),
  'code page 1252': (s: string) => ansiBytes(s, 1252),
  'code page 932': (s: string) => ansiBytes(s, 932),
};

/** A few bytes flipped, put in or taken out, or a letter begun at the end that the file never finishes. */
const mutations = fc.oneof(
  { weight: 3, arbitrary: fc.constant([]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((byte) => [{ op: 'unfinished', at: 0, byte }]) },
  { weight: 2, arbitrary: fc.array(fc.record({ op: fc.constantFrom('flip', 'insert', 'delete', 'unfinished'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }) },
);

function mutate(bytes: Uint8Array, changes: readonly { op: string; at: number; byte: number }[]): Uint8Array {
  const out = [...bytes];
  for (const { op, at, byte } of changes) {
    const i = at % (out.length + 1);
    if (op === 'unfinished') out.push(0xc2 + (byte % 0x33));
    else if (op === 'insert') out.splice(i, 0, byte);
    else if (i < out.length) {
      if (op === 'delete') out.splice(i, 1);
      else out[i] = out[i]! ^ (byte || 0x80);
    }
  }
  return Uint8Array.from(out);
}

// The ANSI ones twice as often: only they make a file that stops being UTF-8 part way.
const encodings = fc.constantFrom(...(Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[]), 'code page 1252', 'code page 932');
// 1234 is no code page: the ANSI reading fails as it starts.
const codePages = fc.constantFrom(undefined, 1252, 932, 1234);
const keeps = fc.constantFrom(...Object.keys(KEEPS));

describe('parseRegExportStream reads as parseRegExportFile does', () => {
  it('any bytes, after any start, cut into any pieces', async () => {
    const starts = fc.constantFrom([], [0xff, 0xfe], [0xfe, 0xff], [0xef, 0xbb, 0xbf], [0x52, 0x00, 0x45, 0x00], [...Buffer.from('REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"="')]);
    await fc.assert(
      fc.asyncProperty(starts, fc.uint8Array({ maxLength: 48 }), splits, codePages, keeps, async (start, rest, sizes, codePage, keep) => {
        await expectSameReading(Uint8Array.from([...start, ...rest]), sizes, codePage, keep);
      }),
      { numRuns: propertyRuns(600), seed: SEED },
    );
  });

  it('.reg files in every encoding, some with a few bytes changed, cut into any pieces', async () => {
    await fc.assert(
      fc.asyncProperty(regText, encodings, mutations, splits, codePages, keeps, async (reg, encoding, changes, sizes, codePage, keep) => {
        await expectSameReading(mutate(ENCODINGS[encoding](reg), changes), sizes, codePage, keep);
      }),
      { numRuns: propertyRuns(600), seed: SEED + 1 },
    );
  });
});
