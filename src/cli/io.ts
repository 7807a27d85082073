// Small I/O helpers shared by the CLI commands.
import { readFile } from 'node:fs/promises';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Reads a file, or standard input for "-". */
  readonly read: (path: string) => Promise<Buffer>;
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
