// Setting process.env for one test file. The files of a worker share its process and modules
// (isolate: false in vitest.config.mts), so what a file sets must be put back when it ends, or a
// later file's child processes (the local host, the CLI) would inherit its storage and keys.
import { afterAll } from 'vitest';

export interface FileEnv {
  /** Sets these variables until the file's last test has run. */
  set(vars: Readonly<Record<string, string>>): void;
}

/** Call at a file's top level, so the restore is registered before its tests are collected. */
export function envForThisFile(): FileEnv {
  const before = new Map<string, string | undefined>();
  afterAll(() => {
    for (const [name, value] of before) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    before.clear();
  });
  return {
    set(vars) {
      for (const [name, value] of Object.entries(vars)) {
        if (!before.has(name)) before.set(name, process.env[name]);
        process.env[name] = value;
      }
    },
  };
}
