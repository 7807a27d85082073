// `fleet-posture import-reg <file.reg>... [--reg32 file.reg]... [--services services.csv] [--host NAME] [--arch x64|x86] [--code-page N]`:
// turns `reg export` files (and a services CSV) into a contract snapshot on stdout, so that
// `import-reg x.reg | fleet-posture evaluate -` is an offline analyzer. Parsing lives in
// src/snapshot/reg-export.ts and services-csv.ts; this file reads files and prints.
import { randomUUID } from 'node:crypto';
import { basename, extname, posix, win32 } from 'node:path';
import { parseArgs } from 'node:util';
import { buildManifest } from '../rules/manifest';
import { RULES } from '../rules/registry';
import { shortHive, type RegistryView } from '../snapshot/normalise';
import { parseSnapshot } from '../snapshot/parse';
import {
  ANSI_CODE_PAGES,
  asWow64Export,
  asWow64Path,
  CodePageError,
  decodeTextFile,
  DEFAULT_CODE_PAGE,
  entriesTheManifestReads,
  exportsCover,
  exportSpelling,
  keysThatMatter,
  parseRegExportFile,
  parseRegExportStream,
  ReadError,
  registryEntriesFromExports,
  RegExportError,
  type RegExport,
} from '../snapshot/reg-export';
import { SNAPSHOT_SCHEMA_ID, type RegistryEntry, type SnapshotInput } from '../snapshot/schema';
import { parseServicesCsv, ServicesCsvError } from '../snapshot/services-csv';
import { EXIT, UsageError, type Io } from './io';

export const importRegHelp = `Usage: fleet-posture import-reg <file.reg>... [--reg32 file.reg]... [--services services.csv] [--host NAME] [--arch x64|x86] [--code-page N]

Turns reg export files (and a services CSV) into a snapshot on stdout, for "| fleet-posture evaluate -".
  file.reg     written by "reg export <key> file.reg" or regedit (version 5.00 or REGEDIT4)
  --reg32      a file of the 32-bit view from 64-bit Windows, written by "reg export <key> file.reg /reg:32"
               or the 32-bit regedit (SysWOW64): its keys lack Wow6432Node (repeat for several files)
  --services   written by: Get-CimInstance Win32_Service |
               Select Name,DisplayName,State,Started,StartMode,PathName | Export-Csv services.csv
  --host       the server's name (default: the first file's name without .reg)
  --arch       x64 (default: paths without Wow6432Node are the 64-bit view) or x86 (32-bit Windows)
  --code-page  the ANSI code page of files that are not Unicode (REGEDIT4 writes ANSI): 1252 (default,
               English and Western European Windows), 932 (Japanese), 936, 949, 950, 874, 1250-1258
Notes (skipped lines, assumptions) go to stderr. Exit codes: 0 written, 2 unreadable input or files that
do not reach the keys telling whether a product is installed (one line).`;

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A host label from a file name: "EXCH01.reg" → "EXCH01"; other characters become "-". */
export function hostFromFileName(file: string): string {
  const base = basename(file.replace(/\\/g, '/'), extname(file));
  return base
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-]+|[-]+$/g, '')
    .slice(0, 63)
    .replace(/[-]+$/g, '');
}

/**
 * The first file that names a file given before it (the same path once resolved), if any. Windows
 * file names ignore case, so there A.reg and a.reg are one file; `platform` is whose rules apply.
 */
export function fileGivenTwice<F extends { readonly file: string }>(files: readonly F[], platform: NodeJS.Platform = process.platform): F | undefined {
  const key = platform === 'win32' ? (file: string) => win32.resolve(file).toLowerCase() : (file: string) => posix.resolve(file);
  const seen = new Set<string>();
  return files.find(({ file }) => {
    const k = key(file);
    if (seen.has(k)) return true;
    seen.add(k);
    return false;
  });
}

function readFailure(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${file}: no such file`;
  if (code === 'EISDIR') return `${file}: is a directory`;
  return `${file}: ${(e as Error).message}`;
}

/**
 * A rule's "not installed" means none of its installed keys is there, so it may stand only on files
 * that cover every one of them (the key itself, or an exported branch above it, in the view its
 * product writes): a key nobody exported could be the one the product uses. One key held is enough
 * the other way, since the product is then evidently installed. Returns the refusal for the first
 * rule that fails this, naming exactly the keys the files do not cover.
 */
function uncoveredInstallKeys(exports: readonly RegExport[], registry: readonly RegistryEntry[], nativeView: RegistryView): string | undefined {
  for (const rule of RULES) {
    if (!rule.installedKeys) continue;
    const { paths } = rule.installedKeys;
    const held = registry.some((e) => e.exists && paths.some((p) => shortHive(p).toLowerCase() === e.path.toLowerCase()));
    if (held) continue;
    // The product may have written its keys to either view (it has been seen in the native 64-bit
    // view too, and the rule looks in both), so "not installed" needs both covered on 64-bit
    // Windows; 32-bit Windows has one view, its native one.
    const views: readonly RegistryView[] = nativeView === '32' ? ['32'] : [rule.installedKeys.view, rule.installedKeys.view === '32' ? '64' : '32'];
    const spelled = views.flatMap((view) => paths.filter((p) => !exportsCover(exports, p, view, { nativeView })).map((p) => exportSpelling(p, view, nativeView) ?? p));
    if (spelled.length === 0) continue;
    const [them, those] = spelled.length === 1 ? ['it', 'that key'] : ['them', 'those keys'];
    const hint = nativeView === '64' ? ' (or, if the server runs 32-bit Windows, give --arch x86; a file written by reg export /reg:32 or the 32-bit regedit goes after --reg32)' : '';
    const listed = spelled.length === 1 ? spelled[0] : `${spelled.slice(0, -1).join(', ')} and ${spelled.at(-1)}`;
    return `the files do not reach ${listed}: no key at or above ${them} was exported, so they cannot tell whether rule ${rule.id}'s product is installed; export ${those} or a key above ${them}${hint}`;
  }
  return undefined;
}

interface Decoding {
  readonly codePage: number;
  /** The code page came from --code-page (else it is the default, a guess worth a note). */
  readonly given: boolean;
}

/** The note on text read in the default code page, a guess where nothing in the file names one. */
function codePageNote(file: string, decoding: Decoding): string {
  return `${file}: note: read as code page ${decoding.codePage} (English and Western European Windows); for a file from a Windows with another ANSI code page, give it with --code-page (932 for Japanese)\n`;
}

/** The whole file, or undefined once its read failure is one line on stderr. */
async function readWhole(io: Io, file: string): Promise<Buffer | undefined> {
  try {
    return await io.read(file);
  } catch (e) {
    io.err(readFailure(file, e) + '\n');
    return undefined;
  }
}

/**
 * Reads and parses one input file. An unreadable file, text not valid in the code page, or a parse
 * error of the expected kind is one line on stderr and undefined (the command exits 2); anything
 * else is a bug and is thrown.
 */
async function readInput<T>(
  io: Io,
  file: string,
  parse: (text: string) => T,
  expected: new (...args: never[]) => Error,
  decoding: Decoding,
): Promise<T | undefined> {
  const bytes = await readWhole(io, file);
  if (bytes === undefined) return undefined;
  try {
    const decoded = decodeTextFile(bytes, decoding.codePage);
    const parsed = parse(decoded.text);
    if (decoded.ansi && !decoding.given) io.err(codePageNote(file, decoding));
    return parsed;
  } catch (e) {
    if (!(e instanceof expected) && !(e instanceof CodePageError)) throw e;
    io.err(`${file}: ${(e as Error).message}\n`);
    return undefined;
  }
}

/** The bytes of a file as one piece, when the Io cannot stream it. */
async function* onePiece(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * Reads and parses one .reg file as readInput does, but streamed where the Io can (a whole-hive
 * export may be hundreds of MB, piped in as well as named), keeping only the keys `keepKey` keeps.
 */
async function readRegFile(io: Io, file: string, decoding: Decoding, keepKey: (rawPath: string) => boolean): Promise<RegExport | undefined> {
  let parse: () => Promise<{ parsed: RegExport; ansi: boolean }>;
  const { stream, stdin } = io;
  if (file === '-' && stdin) parse = () => parseRegExportStream(stdin(), decoding.codePage, keepKey);
  else if (stream && file !== '-') parse = () => parseRegExportFile(() => stream(file), decoding.codePage, keepKey);
  else {
    const bytes = await readWhole(io, file);
    if (bytes === undefined) return undefined;
    parse = () => parseRegExportFile(() => onePiece(bytes), decoding.codePage, keepKey);
  }
  try {
    const { parsed, ansi } = await parse();
    // REGEDIT4 hex string data beyond ASCII was read in the code page too, and needs the same note.
    if ((ansi || parsed.ansiHexStrings) && !decoding.given) io.err(codePageNote(file, decoding));
    return parsed;
  } catch (e) {
    if (e instanceof ReadError) {
      io.err(readFailure(file, e.failure) + '\n');
      return undefined;
    }
    if (!(e instanceof RegExportError) && !(e instanceof CodePageError)) throw e;
    io.err(`${file}: ${e.message}\n`);
    return undefined;
  }
}

/**
 * What a snapshot path of a refused value stands for in the files, " (value "x" of HKLM\…, view 32)"
 * or " (service "x")": nobody sees the snapshot that was not written, and its indices alone leave
 * the reader to count keys.
 */
export function whatIsAt(snapshot: SnapshotInput, path: string): string {
  const registry = /^registry\[(\d+)\](?:\.values\[(\d+)\])?/.exec(path);
  if (registry) {
    const entry = snapshot.registry[Number(registry[1])];
    if (!entry) return '';
    const key = `${entry.path}, view ${entry.view}`;
    const value = registry[2] === undefined ? undefined : entry.values?.[Number(registry[2])];
    return value ? ` (value ${JSON.stringify(value.name)} of ${key})` : ` (key ${key})`;
  }
  const service = /^services\[(\d+)\]/.exec(path);
  const name = service ? snapshot.services[Number(service[1])]?.name : undefined;
  return name === undefined ? '' : ` (service ${JSON.stringify(name)})`;
}

/** The --code-page option: a Windows ANSI code page number. */
function codePageOption(value: string | undefined): Decoding {
  if (value === undefined) return { codePage: DEFAULT_CODE_PAGE, given: false };
  const codePage = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (ANSI_CODE_PAGES[codePage] === undefined) throw new UsageError(`--code-page must be one of ${Object.keys(ANSI_CODE_PAGES).join(', ')}, not ${JSON.stringify(value)}`);
  return { codePage, given: true };
}

export async function importRegCommand(args: string[], io: Io): Promise<number> {
  const { values, tokens } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      services: { type: 'string' },
      host: { type: 'string' },
      arch: { type: 'string', default: 'x64' },
      'code-page': { type: 'string' },
      reg32: { type: 'string', multiple: true },
    },
    tokens: true,
  });
  // In command-line order, --reg32 or not: the first names the host, and a later file's value wins.
  const files = tokens.flatMap((t) =>
    t.kind === 'positional' ? [{ file: t.value, view32: false }] : t.kind === 'option' && t.name === 'reg32' && t.value !== undefined ? [{ file: t.value, view32: true }] : [],
  );
  if (files.length === 0) throw new UsageError('import-reg needs at least one .reg file');
  // One file read as both views would put the same keys in both.
  const twice = fileGivenTwice(files);
  if (twice) {
    io.err(`${twice.file}: given twice; give each file once, after --reg32 if it is an export of the 32-bit view\n`);
    return EXIT.badInput;
  }
  const arch = values.arch ?? 'x64';
  if (arch !== 'x64' && arch !== 'x86') throw new UsageError(`--arch must be x64 or x86, not ${JSON.stringify(arch)}`);
  const decoding = codePageOption(values['code-page']);

  // The host name is an argument: checked before any file is read or noted on.
  const first = files[0]!.file;
  const host = values.host ?? hostFromFileName(first);
  if (!HOST_LABEL.test(host)) {
    io.err(`${values.host === undefined ? `cannot make a host name from ${JSON.stringify(first)}` : `--host ${JSON.stringify(host)} is not a host name`}: use --host with 1-63 letters, digits, hyphens or underscores, not beginning or ending with a hyphen\n`);
    return EXIT.badInput;
  }

  const nativeView: RegistryView = arch === 'x64' ? '64' : '32';
  const manifest = buildManifest();
  // Only the keys the snapshot or the installed-key check can use are kept from each file: a
  // whole-hive export would otherwise be held whole, several times its size.
  const matters = keysThatMatter([...manifest.registry.map((m) => m.path), ...RULES.flatMap((r) => r.installedKeys?.paths ?? [])]);
  const exports: RegExport[] = [];
  for (const { file, view32 } of files) {
    const wow64 = view32 && nativeView === '64';
    const parsed = await readRegFile(io, file, decoding, wow64 ? (rawPath) => matters(asWow64Path(rawPath)) : matters);
    if (parsed === undefined) return EXIT.badInput;
    for (const note of parsed.notes) io.err(`${file}: note: ${note}\n`);
    // On 32-bit Windows the 32-bit view is the native one, spelled as every other file.
    exports.push(wow64 ? asWow64Export(parsed) : parsed);
  }

  const registry = entriesTheManifestReads(registryEntriesFromExports(exports, manifest.registry, { nativeView }), manifest.registry);
  const uncovered = uncoveredInstallKeys(exports, registry, nativeView);
  if (uncovered !== undefined) {
    io.err(uncovered + '\n');
    return EXIT.badInput;
  }

  let services: SnapshotInput['services'] = [];
  if (values.services !== undefined) {
    const parsed = await readInput(io, values.services, (text) => parseServicesCsv(text), ServicesCsvError, decoding);
    if (parsed === undefined) return EXIT.badInput;
    services = parsed;
  } else {
    io.err('note: no --services file: the snapshot lists no services, so rules that need them (e.g. the SMTP service) see none\n');
  }

  const snapshot: SnapshotInput = {
    schema: SNAPSHOT_SCHEMA_ID,
    snapshotId: randomUUID(),
    collectedAt: new Date().toISOString(),
    collector: { name: 'import-reg', version: '1.0.0', manifestVersion: manifest.version },
    host: { name: host, os: { architecture: arch === 'x64' ? '64-bit' : '32-bit' } },
    registry,
    services,
    files: [],
  };
  const checked = parseSnapshot(snapshot);
  if (!checked.ok) {
    const first = checked.issues[0];
    const where = first ? `${first.path}${whatIsAt(snapshot, first.path)}` : '(document)';
    io.err(`the files do not make a valid snapshot: ${where}: ${first?.message ?? ''}${checked.issues.length > 1 ? ` (and ${checked.issues.length - 1} more)` : ''}\n`);
    return EXIT.badInput;
  }
  io.out(JSON.stringify(snapshot, null, 2) + '\n');
  return EXIT.ok;
}
