// The stack the "still being counted" browser tests share: the local host and Azurite with the
// projector run only when a test drains (projectorIntervalMs: 0), as if its timer had not come
// round yet, and a post it has not drained.
import { afterAll, beforeAll, expect } from 'vitest';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

/** The line a view shows while the summary says countsPending. */
export const PENDING_LINE = '[data-notice="counts-pending"]';

export interface HeldBackStack {
  readonly stack: () => TestStack;
  /** Posts a snapshot the projector has not drained yet (the summary says so); returns the server id. */
  postWaiting(host: string, testState: string): Promise<string>;
}

/** Registers the stack's start and stop in the calling file. */
export function heldBackStack(): HeldBackStack {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    ensureDashboardBuilt();
    stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
  }, 180_000);
  afterAll(async () => stack?.stop());
  const started = () => {
    if (!stack) throw new Error('The stack is not started: use it inside a test.');
    return stack;
  };
  return {
    stack: started,
    async postWaiting(host, testState) {
      const res = await post(started(), snapshot({ host, testState, collectedAt: Date.now() - 60_000 }), { drain: false });
      expect(res.status).toBe(201);
      expect((await get(started(), 'summary')).body.countsPending).toBe(true);
      return `${host.toLowerCase()}.corp.contoso.com`;
    },
  };
}
