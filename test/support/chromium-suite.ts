// The Chromium lifecycle every browser test suite shares, registered inside its `describe`.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, it } from 'vitest';
import { BROWSER_TIMEOUTS, browserRequired, chromiumPresent, launchChromium, MISSING_CHROMIUM } from './chromium';

/** A page in a fresh browser context, with the errors it reported (uncaught, and console errors). */
export interface SuitePage {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly errors: string[];
  /** Closes the context now rather than after the test. */
  close(): Promise<void>;
}

export interface ChromiumSuite {
  /** A new context (1280 × 900, `locale`) and its page; closed after the test if not before. */
  open(locale: string): Promise<SuitePage>;
}

/**
 * Without Chromium: one test that fails where browsers are required (CI) and is skipped elsewhere,
 * and undefined, so the suite returns. With it: one browser for the suite; after each test the
 * contexts it opened are closed (a test that timed out leaves its page waiting in the shared
 * browser, which would load the next one), then `afterEachTest` runs.
 */
export function chromiumSuite(afterEachTest?: () => Promise<unknown>): ChromiumSuite | undefined {
  if (!chromiumPresent()) {
    it('needs Chromium', (ctx) => {
      if (browserRequired()) throw new Error(MISSING_CHROMIUM);
      console.warn(MISSING_CHROMIUM);
      ctx.skip(MISSING_CHROMIUM);
    });
    return undefined;
  }
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, BROWSER_TIMEOUTS.launchMs + 10_000);
  afterAll(async () => browser?.close());
  const contexts = new Set<BrowserContext>();
  afterEach(async () => {
    await Promise.all([...contexts].map((c) => c.close().catch(() => undefined)));
    contexts.clear();
    await afterEachTest?.();
  });
  return {
    async open(locale) {
      if (!browser) throw new Error('Chromium is not started: open pages inside a test.');
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale });
      contexts.add(context);
      context.setDefaultTimeout(BROWSER_TIMEOUTS.stepMs);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
      const close = async () => {
        contexts.delete(context);
        await context.close();
      };
      return { context, page, errors, close };
    },
  };
}
