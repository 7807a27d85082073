// The Events table of the use-case unit tests that write audit events (baselines, waivers): every
// write recorded in the test's call list, the events kept, and failures queued one per write.
import type { EventRecord } from '../../src/store';

export function memoryEvents(calls: unknown[][]) {
  const events: EventRecord[] = [];
  /** What the next event writes throw (undefined: written). */
  const eventWrites: (Error | undefined)[] = [];
  const store = {
    putEvents: async (list: readonly EventRecord[]) => {
      calls.push(['putEvents', [...list]]);
      const failure = eventWrites.shift();
      if (failure) throw failure;
      events.push(...list);
    },
  };
  return { events, eventWrites, store };
}
