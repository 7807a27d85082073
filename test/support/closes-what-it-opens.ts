// Run before every test file (setupFiles): the file must close what it opened by the time its
// last afterAll has run. The files of a worker share its process, so a server, socket, child or
// timer left open would otherwise live on into the next file, and nothing would say which one
// left it; so would the clock, Math.random or process.env left changed (left-changed.ts).
// Registered first, this afterAll runs after the file's own.
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type Globals, globalsNow, leftChangedMessage } from './left-changed';
import { handlesLeftSince, leftOpenMessage, openHandles } from './open-handles';

/** Time for what is closing to close: an exited child to be reaped, a socket's handle to go. */
const SETTLE_MS = 10_000;

let before: ReadonlyMap<string, number> = new Map();
let globalsBefore: Globals | undefined;
beforeAll(() => {
  before = openHandles();
  globalsBefore = globalsNow();
});
afterAll(async () => {
  const file = path.relative(process.cwd(), expect.getState().testPath ?? 'this file');
  const changed = globalsBefore && leftChangedMessage(file, globalsBefore, globalsNow());
  if (changed) throw new Error(changed);
  const left = await handlesLeftSince(before, SETTLE_MS);
  if (Object.keys(left).length === 0) return;
  throw new Error(leftOpenMessage(file, left));
}, SETTLE_MS + 5_000);
