// Run before every test file (setupFiles): the file must close what it opened by the time its
// last afterAll has run. The files of a worker share its process, so a server, socket, child or
// timer left open would otherwise live on into the next file, and nothing would say which one
// left it. Registered first, this afterAll runs after the file's own.
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { handlesLeftSince, leftOpenMessage, openHandles } from './open-handles';

/** Time for what is closing to close: an exited child to be reaped, a socket's handle to go. */
const SETTLE_MS = 10_000;

/** The clock functions a file must leave as it found them: fake timers or a spy left in place would stop every timer of the next files (or freeze their clock). */
const CLOCK = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'] as const;
const clockNow = () => [...CLOCK.map((name) => globalThis[name] as unknown), Date.now as unknown];

let before: ReadonlyMap<string, number> = new Map();
let clockBefore: unknown[] = [];
beforeAll(() => {
  before = openHandles();
  clockBefore = clockNow();
});
afterAll(async () => {
  const file = path.relative(process.cwd(), expect.getState().testPath ?? 'this file');
  const clock = clockNow();
  const replaced = [...CLOCK, 'Date.now'].filter((_, i) => clock[i] !== clockBefore[i]);
  if (replaced.length > 0) throw new Error(`${file} left ${replaced.join(', ')} replaced (fake timers or a spy not restored); the next files in this worker would wait for ever.`);
  const left = await handlesLeftSince(before, SETTLE_MS);
  if (Object.keys(left).length === 0) return;
  throw new Error(leftOpenMessage(file, left));
}, SETTLE_MS + 5_000);
