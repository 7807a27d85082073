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
