// How a view waits for what is still catching up (the summary's countsPending): it asks again this
// often, this many times. The projector drains within seconds; an entry whose commit never shows
// waits out its grace (minutes), which the views do not poll through. When the wait outlasts the
// tries, the projector's state says whether it is more than a moment: changes it set aside wait
// for an admin, and entries older than the grace and a run mean it is not running.
// No DOM here, so the tests can read the same numbers.
export const PENDING_RELOAD_MS = 2000;
export const PENDING_RELOADS = 15;
/** An entry waits at most the projector's 5-minute grace and one run: older, and the projector is not draining. */
export const STALLED_AFTER_SECONDS = 6 * 60;
/** The part of a held change's error the line quotes. */
const ERROR_CHARS = 200;

/** What `GET jobs/projector` answers, as far as the line reads it. */
export interface ProjectorState {
  readonly held: readonly { readonly server: string; readonly error: string }[];
  readonly more: boolean;
  readonly waiting: { readonly oldestSeconds: number };
}

/** Why counts are still pending past the tries: the sentence's key and its values, or null when the state says nothing more. */
export function whyStillPending(p: ProjectorState): { key: 'countsPendingHeld'; count: number; more: boolean; error: string } | { key: 'countsPendingStalled'; minutes: number } | null {
  const first = p.held[0];
  if (first) return { key: 'countsPendingHeld', count: p.held.length, more: p.more, error: first.error.slice(0, ERROR_CHARS) };
  if (p.waiting.oldestSeconds > STALLED_AFTER_SECONDS) return { key: 'countsPendingStalled', minutes: Math.floor(p.waiting.oldestSeconds / 60) };
  return null;
}
