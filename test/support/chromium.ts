// Debian's Chromium driven by playwright-core (which never downloads a browser). .ci/run installs
// it with apt-get; a developer without it gets one line saying so, and in CI its absence fails.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.POSTURE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags that work in this sandbox: no sandbox, no GPU, nothing reaching out to the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export const chromiumPresent = (): boolean => existsSync(CHROMIUM_PATH);

/** CI (CI=true or 1) and POSTURE_REQUIRE_TOOLS=1 need the browser: its absence is a failure there. */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? '').toLowerCase();
  return (ci !== '' && ci !== '0' && ci !== 'false') || env.POSTURE_REQUIRE_TOOLS === '1';
}

export const MISSING_CHROMIUM = `Browser tests not run: no Chromium at ${CHROMIUM_PATH} (install it with "apt-get install -y chromium", or set POSTURE_CHROMIUM).`;

/**
 * How long browser tests may take, in one place. On an idle 2-core machine a dashboard test takes
 * 2-6 s; with the load average at 12-17 (a full suite beside other work) the slowest took 17-20 s,
 * two thirds of the 30 s every test had, so a little more load failed them. A step (a navigation,
 * a wait for an element, a click) may take BROWSER_STEP_MS, so a step that never completes fails
 * with Playwright's own message naming what it waited for, well before the test's BROWSER_TEST_MS.
 */
export const BROWSER_TIMEOUTS = {
  /** Starting Chromium (measured 2-2.5 s with the load average at 16). */
  launchMs: 60_000,
  stepMs: 30_000,
  testMs: 120_000,
} as const;

/** A fresh browser (playwright gives each launch its own temporary profile). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS], timeout: BROWSER_TIMEOUTS.launchMs });
}

/**
 * The browser globals that page callbacks (page.evaluate, addInitScript) use: the tests' TypeScript
 * config has Node's types, not the DOM's. Use as `(globalThis as unknown as PageGlobals)`.
 */
export interface PageGlobals {
  readonly location: { hash: string; readonly href: string };
  readonly history: { readonly length: number };
  readonly sessionStorage: { getItem(key: string): string | null };
  readonly document: {
    addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
    querySelector(selector: string): { textContent: string | null } | null;
  };
  readonly performance: {
    getEntriesByName(name: string): { startTime: number }[];
    getEntriesByType(type: 'resource'): { name: string; duration: number; startTime: number; responseEnd: number }[];
  };
  /** Set by the hostile fixture's payload, were it ever run. */
  __pwned?: string;
  /** CSP violations the page reported (collected by an init script). */
  __violations: string[];
}
