// Why the views' wait for counts is long, from the projector's state (no browser: the decision
// alone; pending-explained.test.ts shows the sentences in Chromium).
import { describe, expect, it } from 'vitest';
import { PROJECTOR_GRACE_MS } from '../../src/app/projector';
import { STALLED_AFTER_SECONDS, whyStillPending, type ProjectorState } from '../../src/dashboard/web/counts-pending';

const state = (p: Partial<ProjectorState>): ProjectorState => ({ held: [], more: false, waiting: { oldestSeconds: 0 }, ...p });

describe('whyStillPending', () => {
  it('names the held changes first, with their count, whether more are held, and the first error cut to 200 characters', () => {
    const held = [
      { server: 'a', error: 'x'.repeat(300) },
      { server: 'b', error: 'other' },
    ];
    expect(whyStillPending(state({ held, more: true, waiting: { oldestSeconds: 10_000 } }))).toEqual({ key: 'countsPendingHeld', count: 2, more: true, error: 'x'.repeat(200) });
    expect(whyStillPending(state({ held: held.slice(1) }))).toEqual({ key: 'countsPendingHeld', count: 1, more: false, error: 'other' });
  });

  it('says the projector is stalled only past the grace and a run, in whole minutes', () => {
    // Longer than any entry waits for a projector that runs: its grace, and a minute for a run.
    expect(STALLED_AFTER_SECONDS * 1000).toBe(PROJECTOR_GRACE_MS + 60_000);
    expect(whyStillPending(state({ waiting: { oldestSeconds: STALLED_AFTER_SECONDS } }))).toBeNull();
    expect(whyStillPending(state({ waiting: { oldestSeconds: STALLED_AFTER_SECONDS + 1 } }))).toEqual({ key: 'countsPendingStalled', minutes: 6 });
    expect(whyStillPending(state({ waiting: { oldestSeconds: 3599 } }))).toEqual({ key: 'countsPendingStalled', minutes: 59 });
  });

  it('says nothing more when nothing is held and nothing waits long', () => {
    expect(whyStillPending(state({}))).toBeNull();
  });
});
