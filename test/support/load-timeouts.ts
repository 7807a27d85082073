// Timeouts for tests whose work is CPU-bound (HTTP round trips to the local host and Azurite,
// thousands of generated cases, a .NET tool's start-up), so their time grows with the machine's
// load. The hostile-input fuzzer takes 3-5 s in CI but went past vitest's 30 s with the load
// average at 12-16 on this 2-core machine (a full suite beside other work): about ten times
// slower. Such a test's timeout is therefore ten times what it measured in a full `npm test` with
// the load average at 6-7 (already a loaded run), never below the default: a slow machine slows it
// without failing it, while a test that really hangs still fails.

/** Headroom over the time measured at load 6-7. */
const LOAD_HEADROOM = 10;
const DEFAULT_TEST_MS = 30_000;

/** The timeout of a test that measured `measuredMs` in a full run at load 6-7, rounded up to 10 s. */
export function loadedTimeout(measuredMs: number): number {
  return Math.max(DEFAULT_TEST_MS, Math.ceil((measuredMs * LOAD_HEADROOM) / 10_000) * 10_000);
}
