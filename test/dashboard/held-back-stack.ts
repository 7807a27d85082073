// The stack the "still being counted" browser tests share: the local host and Azurite with the
// projector run only when a test drains (projectorIntervalMs: 0), as if its timer had not come
// round yet, and a post it has not drained.
import { afterAll, beforeAll, expect } from 'vitest';
import type { Rule } from '../../src/rules/types';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

/** The line a view shows while the summary says countsPending. */
export const PENDING_LINE = '[data-notice="counts-pending"]';

export interface HeldBackStack {
  readonly stack: () => TestStack;
  /** Posts a test-rule snapshot the projector has not drained yet (the summary says so); returns the server id. */
  postWaiting(host: string, testState: string): Promise<string>;
  /** Posts `body` so, whatever rule set the stack runs. */
  postWaitingBody(body: Record<string, unknown>): Promise<void>;
}

/** Registers the stack's start and stop in the calling file (or describe); the test rules unless told. */
export function heldBackStack(rules: readonly Rule[] = TEST_RULES): HeldBackStack {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    ensureDashboardBuilt();
    stack = await startTestStack({ rules, projectorIntervalMs: 0 });
  }, 180_000);
  afterAll(async () => stack?.stop());
  const started = () => {
    if (!stack) throw new Error('The stack is not started: use it inside a test.');
    return stack;
  };
  const postWaitingBody = async (body: Record<string, unknown>) => {
    const res = await post(started(), body, { drain: false });
    expect(res.status).toBe(201);
    expect((await get(started(), 'summary')).body.countsPending).toBe(true);
  };
  return {
    stack: started,
    postWaitingBody,
    async postWaiting(host, testState) {
      await postWaitingBody(snapshot({ host, testState, collectedAt: Date.now() - 60_000 }));
      return `${host.toLowerCase()}.corp.contoso.com`;
    },
  };
}
