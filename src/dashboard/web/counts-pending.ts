// How a view waits for what is still catching up (the summary's countsPending): it asks again this
// often, this many times. The projector drains within seconds; an entry whose commit never shows
// waits out its grace (minutes), which the views do not poll through.
// No DOM here, so the tests can read the same numbers.
export const PENDING_RELOAD_MS = 2000;
export const PENDING_RELOADS = 15;
