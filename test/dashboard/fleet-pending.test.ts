// The fleet view while a post is still waiting to be counted, in Chromium against the local host
// and Azurite: the page says so (English and Japanese), asks again by itself, shows the post's
// counts once the projector has drained it and drops the line — and gives up asking after a
// bounded number of tries when the wait goes on. The projector runs only when a test drains
// (projectorIntervalMs: 0), as if the timer had not come round yet.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PENDING_RELOAD_MS, PENDING_RELOADS } from '../../src/dashboard/web/counts-pending';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboard } from '../support/dashboard-page';
import { heldBackStack, PENDING_LINE } from './held-back-stack';

/** The page's DOM as these callbacks use it (the tests' TypeScript config has Node's types). */
interface PageDom {
  readonly document: { querySelector(selector: string): { setAttribute(name: string, value: string): void; hasAttribute(name: string): boolean } | null };
}
/** What the page keeps about the pending line while a test watches it. */
interface LineWatch {
  /** The line when the watch began. */
  readonly line: { readonly isConnected: boolean; readonly textContent: string | null };
  /** How often that element was taken off the page (each time a screen reader may read it anew). */
  removed: number;
  /** Its text after each change of it. */
  readonly sentences: string[];
}
interface WatchedPage {
  readonly document: { querySelector(selector: string): LineWatch['line'] | null };
  readonly MutationObserver: new (callback: (records: readonly { target: unknown; removedNodes: ArrayLike<unknown> }[]) => void) => {
    observe(target: unknown, options: object): void;
  };
  lineWatch?: LineWatch;
}
const digits = (text: string | null) => Number((text ?? '').replace(/[^\d]/g, ''));

const { stack: heldStack, postWaiting } = heldBackStack();

describe('the fleet view while counts catch up, in Chromium', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  // Whatever a test left waiting is counted before the next one starts.
  const suite = chromiumSuite(() => heldStack().projected());
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  /** The fleet view with the reader key; `fakeClock` gives the page a clock the test moves. */
  async function openFleet(locale: string, fakeClock = false): Promise<{ page: Page; summaryCalls: () => number; errors: string[] }> {
    const { page, errors } = await chromium.open(locale);
    let calls = 0;
    // Full summaries only (no query): the view shows the counts, so it never asks countsPending alone.
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.pathname === '/api/summary' && url.search === '') calls++;
    });
    if (fakeClock) await page.clock.install();
    await openDashboard(page, heldStack().baseUrl);
    return { page, summaryCalls: () => calls, errors };
  }

  it('an empty fleet, before any post: says how servers come to be in it, in English and Japanese', async () => {
    for (const [locale, first, next] of [
      ['en-GB', 'No server has posted a snapshot yet.', /first post: install the collector .*collector\/README\.md.*counted under "Enrolled, never reported" and listed in Changes; an admin sees why in the refused-servers listing.*npm run demo/],
      ['ja-JP', 'まだどのサーバーからもスナップショットが届いていません。', /コレクターをインストールしてください \(collector\/README\.md\).*「登録後未報告」に数えられ、「変更」に一覧されます.*npm run demo/],
    ] as const) {
      const { page, errors } = await openFleet(locale);
      const empty = page.locator('[data-notice="fleet-empty"] p');
      await empty.first().waitFor();
      expect(await empty.allTextContents(), locale).toEqual([first, expect.stringMatching(next)]);
      expect(digits(await page.locator('[data-metric="hosts"]').textContent()), locale).toBe(0);
      expect(await page.locator(PENDING_LINE).count(), locale).toBe(0);
      expect(errors, locale).toEqual([]);
    }
  });

  it('says the counts are catching up, then shows the post counted and drops the line by itself', async () => {
    await postWaiting('WAIT01', 'Warning');
    const { page, summaryCalls, errors } = await openFleet('en-GB');
    const line = page.locator(PENDING_LINE);
    await line.waitFor();
    expect(await line.textContent()).toBe('Recent changes are still being counted; this view updates by itself in a moment.');
    expect(digits(await page.locator('[data-metric="hosts"]').textContent())).toBe(0);
    // Not "no server has posted": one has, it is being counted.
    expect(await page.locator('.fleet').textContent()).not.toContain('No server has posted');

    // The projector comes round; the page asks again on its own (no reload, no click).
    await heldStack().projected();
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
    const line = page.locator(PENDING_LINE);
    await line.waitFor();
    expect(await line.textContent()).toBe('最近の変更をまだ集計しています。この画面はまもなく自動で更新されます。');
    // The line is a status element: put on the page anew, or its text rewritten, it is read out
    // again. Watch the view for the line being taken off it and for changes of the line's text.
    await page.evaluate(
      ([root, sel]) => {
        const g = globalThis as unknown as WatchedPage;
        const watch: LineWatch = { line: g.document.querySelector(sel)!, removed: 0, sentences: [] };
        g.lineWatch = watch;
        new g.MutationObserver((records) => {
          for (const r of records) {
            if (Array.from(r.removedNodes).includes(watch.line)) watch.removed++;
            if (r.target === watch.line) watch.sentences.push(watch.line.textContent ?? '');
          }
        }).observe(g.document.querySelector(root), { childList: true, subtree: true, characterData: true });
      },
      ['.fleet', PENDING_LINE] as const,
    );
    // Each try redraws the view's figures (the line itself stays the same element); the test marks
    // the figures it saw, and waits for the next.
    const FIGURES = '.fleet .metrics';
    const nextTry = async () => {
      await page.evaluate((sel) => (globalThis as unknown as PageDom).document.querySelector(sel)?.setAttribute('data-seen', ''), FIGURES);
      await page.clock.runFor(PENDING_RELOAD_MS);
      await page.waitForFunction((sel) => (globalThis as unknown as PageDom).document.querySelector(sel)?.hasAttribute('data-seen') === false, FIGURES);
    };
    for (let i = 0; i < PENDING_RELOADS; i++) await nextTry();
    expect(summaryCalls()).toBe(1 + PENDING_RELOADS);
    expect(await line.textContent()).toBe('最近の変更をまだ集計しています。しばらくしてからページを再読み込みしてください。');
    // Every try but the last kept the sentence: the same element stayed, untouched, and changed
    // once, to say the page stopped asking.
    const watched = await page.evaluate(() => {
      const { line, removed, sentences } = (globalThis as unknown as WatchedPage).lineWatch!;
      return { connected: line.isConnected, removed, sentences };
    });
    expect(watched).toEqual({ connected: true, removed: 0, sentences: ['最近の変更をまだ集計しています。しばらくしてからページを再読み込みしてください。'] });
    // No more tries, however long the page stays open.
    await page.clock.runFor(10 * PENDING_RELOAD_MS);
    await page.waitForTimeout(500);
    expect(summaryCalls()).toBe(1 + PENDING_RELOADS);
    expect(errors).toEqual([]);
  });
});
