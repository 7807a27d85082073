// A fake Io for running CLI commands in tests.
import { readFile } from 'node:fs/promises';
import type { Io } from '../../src/cli/io';

export function fakeIo(stdin = ''): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
    read: (p: string) => (p === '-' ? Promise.resolve(Buffer.from(stdin)) : readFile(p)),
  };
  return io;
}

/** A fake Io that reads the given in-memory files by name, and other paths from disk. */
export function fakeIoWith(files: Readonly<Record<string, Buffer>>, stdin = ''): Io & { stdout: string; stderr: string } {
  const io = fakeIo(stdin);
  const fromDisk = io.read;
  return Object.assign(io, { read: (p: string) => (p in files ? Promise.resolve(files[p] as Buffer) : fromDisk(p)) });
}

/** A regedit 5 export as regedit writes it: UTF-16LE with a BOM, CRLF line ends. */
export function regFile(...lines: string[]): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(['Windows Registry Editor Version 5.00', '', ...lines, ''].join('\r\n'), 'utf16le')]);
}
