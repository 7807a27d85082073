// Draining the outbox in end-to-end tests: everything waiting is projected, and, to show a
// projection is safe to repeat, the same entries are put back and projected once more (what a run
// that stopped after projecting but before clearing them leaves behind).
import { expect } from 'vitest';
import { OutboxStore, type StoredOutboxEntry } from '../../src/store';
import type { TestStack } from './stack';

/** Projects everything waiting; nothing is dropped or left waiting. */
export async function drainOutbox(stack: TestStack): Promise<void> {
  expect(await stack.projected()).toMatchObject({ status: 'done', dropped: 0, waiting: 0 });
  expect(await new OutboxStore(stack.app.store).list(10)).toEqual([]);
}

/** Projects what waits, then puts the same entries back and projects them again. */
export async function drainTwice(stack: TestStack): Promise<void> {
  const outbox = new OutboxStore(stack.app.store);
  const entries: StoredOutboxEntry[] = await outbox.list(1000);
  expect(entries.length).toBeGreaterThan(0);
  await drainOutbox(stack);
  for (const e of entries) await outbox.put({ server: e.server, commitId: e.commitId, writtenAt: e.writtenAt, payload: e.payload });
  expect(await stack.projected()).toMatchObject({ projected: entries.length, dropped: 0, waiting: 0 });
}
