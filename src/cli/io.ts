// Small I/O helpers shared by the CLI commands.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Reads a file, or standard input for "-". */
  readonly read: (path: string) => Promise<Buffer>;
  /**
   * Reads a file (not standard input) in pieces, for files that may be too large to hold whole
   * (a whole-hive regedit export); without it, `read` serves.
   */
  readonly stream?: (path: string) => AsyncIterable<Uint8Array>;
  /** Standard input in pieces, read once, for the same files piped in; without it, `read("-")` serves. */
  readonly stdin?: () => AsyncIterable<Uint8Array>;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  read: (p) => (p === '-' ? readStdin() : readFile(p)),
  stream: (p) => createReadStream(p),
  stdin: () => process.stdin,
};

/** Exit codes: 0 done, 1 unexpected failure, 2 bad input or usage. */
export const EXIT = { ok: 0, failure: 1, badInput: 2 } as const;

export class UsageError extends Error {}

/** Decodes a text file as JSON, accepting a UTF-8 or UTF-16 byte-order mark. */
export function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString('utf8');
  return bytes.toString('utf8');
}

/**
 * A JSON document from a file or standard input, or the one problem that stopped it, worded like
 * the contract's problems ("<source>: <problem>"). Empty standard input usually means the command
 * piped into this one failed, which its own message (just above) explains.
 */
export async function readSnapshotDocument(file: string, io: Io): Promise<{ ok: true; document: unknown } | { ok: false; problem: string }> {
  let bytes: Buffer;
  try {
    bytes = await io.read(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, problem: 'no such file' };
    if (code === 'EISDIR') return { ok: false, problem: 'is a folder, not a snapshot file' };
    return { ok: false, problem: `cannot be read (${(e as Error).message})` };
  }
  const text = decodeText(bytes);
  if (text.trim() === '') {
    return { ok: false, problem: file === '-' ? 'standard input is empty: no snapshot arrived (if it was piped from another command, that command failed; see its message above)' : 'the file is empty: no snapshot in it' };
  }
  try {
    return { ok: true, document: JSON.parse(text) };
  } catch (e) {
    return { ok: false, problem: `is not JSON: ${(e as Error).message}` };
  }
}
