// The fleet view while a post is still waiting to be counted, in Chromium against the local host
// and Azurite: the page says so (English and Japanese), asks again by itself, shows the post's
// counts once the projector has drained it and drops the line — and gives up asking after a
// bounded number of tries when the wait goes on. The projector runs only when a test drains
// (projectorIntervalMs: 0), as if the timer had not come round yet.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PENDING_RELOAD_MS, PENDING_RELOADS } from '../../src/dashboard/web/counts-pending';
import { BROWSER_TIMEOUTS, browserRequired, chromiumPresent, launchChromium, MISSING_CHROMIUM } from '../support/chromium';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

const LINE = '[data-notice="counts-pending"]';
/** The page's DOM as these callbacks use it (the tests' TypeScript config has Node's types). */
interface PageDom {
  readonly document: { querySelector(selector: string): { setAttribute(name: string, value: string): void; hasAttribute(name: string): boolean } | null };
}
const digits = (text: string | null) => Number((text ?? '').replace(/[^\d]/g, ''));

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0 });
}, 180_000);
afterAll(async () => stack?.stop());

/** A post the projector has not drained yet. */
async function postWaiting(host: string, testState: string): Promise<void> {
  expect((await post(stack, snapshot({ host, testState, collectedAt: Date.now() - 60_000 }), { drain: false })).status).toBe(201);
  expect((await get(stack, 'summary')).body.countsPending).toBe(true);
}

describe('the fleet view while counts catch up, in Chromium', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  if (!chromiumPresent()) {
    it('needs Chromium', (ctx) => {
      if (browserRequired()) throw new Error(MISSING_CHROMIUM);
      console.warn(MISSING_CHROMIUM);
      ctx.skip(MISSING_CHROMIUM);
    });
    return;
  }

  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, BROWSER_TIMEOUTS.launchMs + 10_000);
  afterAll(async () => browser?.close());
  const contexts = new Set<BrowserContext>();
  afterEach(async () => {
    await Promise.all([...contexts].map((c) => c.close().catch(() => undefined)));
    contexts.clear();
    // Whatever a test left waiting is counted before the next one starts.
    await stack.projected();
  });

  /** The fleet view with the reader key; `fakeClock` gives the page a clock the test moves. */
  async function openFleet(locale: string, fakeClock = false): Promise<{ page: Page; summaryCalls: () => number; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale });
    contexts.add(context);
    context.setDefaultTimeout(BROWSER_TIMEOUTS.stepMs);
    const page = await context.newPage();
    let calls = 0;
    const errors: string[] = [];
    page.on('response', (r) => (new URL(r.url()).pathname === '/api/summary' ? calls++ : undefined));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    if (fakeClock) await page.clock.install();
    await page.goto(`${stack.baseUrl}/api/dashboard#key=${encodeURIComponent(TEST_KEYS.reader)}`);
    return { page, summaryCalls: () => calls, errors };
  }

  it('says the counts are catching up, then shows the post counted and drops the line by itself', async () => {
    await postWaiting('WAIT01', 'Warning');
    const { page, summaryCalls, errors } = await openFleet('en-GB');
    const line = page.locator(LINE);
    await line.waitFor();
    expect(await line.textContent()).toBe('Recent changes are still being counted; this view updates by itself in a moment.');
    expect(digits(await page.locator('[data-metric="hosts"]').textContent())).toBe(0);
    // Not "no server has posted": one has, it is being counted.
    expect(await page.locator('.fleet').textContent()).not.toContain('No server has posted');

    // The projector comes round; the page asks again on its own (no reload, no click).
    await stack.projected();
    await line.waitFor({ state: 'detached' });
    expect(digits(await page.locator('[data-metric="hosts"]').textContent())).toBe(1);
    expect(digits(await page.locator('[data-metric="warnings"]').textContent())).toBe(1);
    expect(digits(await page.locator('[data-metric="test-alpha:Warning"]').textContent())).toBe(1);
    expect(summaryCalls()).toBeGreaterThanOrEqual(2);

    // Counted: it stops asking.
    const calls = summaryCalls();
    await page.waitForTimeout(PENDING_RELOAD_MS + 1000);
    expect(summaryCalls()).toBe(calls);
    expect(errors).toEqual([]);
  });

  it('says so in Japanese, and stops asking after a bounded number of tries while the wait goes on', async () => {
    await postWaiting('WAIT02', 'Error');
    const { page, summaryCalls, errors } = await openFleet('ja-JP', true);
    const line = page.locator(LINE);
    await line.waitFor();
    expect(await line.textContent()).toBe('最近の変更をまだ集計しています。この画面はまもなく自動で更新されます。');
    // Each try renders a new line; the test marks the one it saw, and waits for the next.
    const nextTry = async () => {
      await page.evaluate((sel) => (globalThis as unknown as PageDom).document.querySelector(sel)?.setAttribute('data-seen', ''), LINE);
      await page.clock.runFor(PENDING_RELOAD_MS);
      await page.waitForFunction((sel) => (globalThis as unknown as PageDom).document.querySelector(sel)?.hasAttribute('data-seen') === false, LINE);
    };
    for (let i = 0; i < PENDING_RELOADS; i++) await nextTry();
    expect(summaryCalls()).toBe(1 + PENDING_RELOADS);
    expect(await line.textContent()).toBe('最近の変更をまだ集計しています。しばらくしてからページを再読み込みしてください。');
    // No more tries, however long the page stays open.
    await page.clock.runFor(10 * PENDING_RELOAD_MS);
    await page.waitForTimeout(500);
    expect(summaryCalls()).toBe(1 + PENDING_RELOADS);
    expect(errors).toEqual([]);
  });
});
