// The globals a test file must leave as it found them, besides its handles: the files of a worker
// share its process (isolate: false), so fake timers or a spy left in place, or a variable left set,
// would act on every later file of the worker, far from the file that caused it.

/** The clock functions: fake timers or a spy left in place would stop every later file's timers, or freeze its clock. */
const CLOCK = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'] as const;

export interface Globals {
  readonly clock: readonly unknown[];
  readonly random: unknown;
  /** The environment as it was: a variable left set would reach later files' child processes (the local host, the CLI). */
  readonly env: ReadonlyMap<string, string | undefined>;
}

export function globalsNow(): Globals {
  return { clock: [...CLOCK.map((name) => globalThis[name] as unknown), Date.now], random: Math.random, env: new Map(Object.entries(process.env)) };
}

/** One sentence per kind of global `file` left changed since `before`; undefined when it left none. */
export function leftChangedMessage(file: string, before: Globals, now: Globals): string | undefined {
  const problems: string[] = [];
  const clock = [...CLOCK, 'Date.now'].filter((_, i) => now.clock[i] !== before.clock[i]);
  if (clock.length > 0) problems.push(`${file} left ${clock.join(', ')} replaced (fake timers or a spy not restored); the next files in this worker would wait for ever.`);
  if (now.random !== before.random) problems.push(`${file} left Math.random replaced (a spy not restored); the next files in this worker would draw the same number every time.`);
  const names = [...new Set([...before.env.keys(), ...now.env.keys()])].filter((name) => now.env.get(name) !== before.env.get(name)).sort();
  // Names only: the values may be keys or connection strings.
  if (names.length > 0) problems.push(`${file} left process.env changed (${names.join(', ')}); set variables through envForThisFile, which puts them back.`);
  return problems.length > 0 ? problems.join(' ') : undefined;
}
