// The Findings pager when answers come back out of order: a page request the user clicked past
// (held here by intercepting it) that answers last must neither replace the page shown nor put its
// error under it. Chromium against the local host and Azurite.
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { openDashboardReady, showView } from '../support/dashboard-page';
import { post } from '../support/http';
import { alphaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ rules: [alphaRule] });
  for (const host of ['LATE1', 'LATE2', 'LATE3']) expect((await post(stack, snapshot({ host, testState: 'Warning' }))).status).toBe(201);
  await stack.projected();
}, 120_000);
afterAll(async () => stack?.stop());

/** How many answers of each URL the page has read, counted where the page reads a body. */
interface ReadCounter {
  __reads?: Record<string, number>;
}

describe('Findings with a late answer', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;

  /** Findings one row a page; the next request after `hold()` is held until the test lets it go. */
  async function open(counts?: { pending: boolean }): Promise<{ page: Page; held: Route[]; hold: () => void }> {
    const { page } = await suite!.open('en-GB');
    // When given, the counts wait answers as `counts.pending` says, so a test can end the wait.
    if (counts) await page.route(/\/api\/summary\?only=countsPending/, (route) => route.fulfill({ status: 200, json: { countsPending: counts.pending } }));
    await page.addInitScript(() => {
      const w = globalThis as unknown as ReadCounter & { Response: { prototype: { text(): Promise<string>; url: string } } };
      const text = w.Response.prototype.text;
      w.Response.prototype.text = function (this: { url: string }) {
        return text.call(this).then((body: string) => {
          const reads = (w.__reads ??= {});
          reads[this.url] = (reads[this.url] ?? 0) + 1;
          return body;
        });
      };
    });
    const held: Route[] = [];
    let armed = false;
    await page.route(/\/api\/results\?/, (route) => {
      if (!armed) return void route.continue();
      armed = false;
      held.push(route);
    });
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, '#/findings?top=1');
    await pagerSays(page, /^Page 1Next page$/);
    return { page, held, hold: () => (armed = true) };
  }
  const pagerSays = (page: Page, text: RegExp) => expect.poll(() => page.locator('.findings-view .pager').textContent(), { timeout: 10_000 }).toMatch(text);
  const rows = (page: Page) => page.locator('table.findings tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-server')));
  const readsOf = (page: Page, url: string) => page.evaluate((u) => (globalThis as unknown as ReadCounter).__reads?.[u] ?? 0, url);

  /** Lets the held request answer and waits until the page has read that answer and run what follows. */
  async function release(page: Page, route: Route, answer: (r: Route) => Promise<void>): Promise<void> {
    const url = route.request().url();
    const before = await readsOf(page, url);
    await answer(route);
    await expect.poll(() => readsOf(page, url), { timeout: 10_000 }).toBe(before + 1);
    // The view's handling of that answer runs in the microtasks after the read: one task later it is done.
    await page.evaluate(() => new Promise((resolve) => (globalThis as unknown as { setTimeout(f: () => void, ms: number): void }).setTimeout(() => resolve(undefined), 0)));
  }

  it('keeps page 2 when an earlier request for it fails after the later one answered', async () => {
    const { page, held, hold } = await open();
    const next = page.locator('.findings-view .pager button', { hasText: 'Next page' });
    hold();
    await next.click();
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    // Still on page 1 with its Next button: a second click asks again, and that answer comes first.
    await next.click();
    await pagerSays(page, /^Previous pagePage 2Next page$/);
    const page2 = await rows(page);
    expect(page2).toHaveLength(1);
    await release(page, held[0]!, (r) => r.fulfill({ status: 502, json: { error: 'bad_gateway', message: 'The service did not answer.' } }));
    expect(await page.locator('.findings-view .table-status .error').count()).toBe(0);
    await pagerSays(page, /^Previous pagePage 2Next page$/);
    expect(await rows(page)).toEqual(page2);
  });

  it('keeps page 3 when the page-1 answer of an earlier Previous click comes after it', async () => {
    const { page, held, hold } = await open();
    const page1 = await rows(page);
    await page.locator('.findings-view .pager button', { hasText: 'Next page' }).click();
    await pagerSays(page, /^Previous pagePage 2Next page$/);
    hold();
    await page.locator('.findings-view .pager button', { hasText: 'Previous page' }).click();
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    await page.locator('.findings-view .pager button', { hasText: 'Next page' }).click();
    await pagerSays(page, /^Previous pagePage 3$/);
    const page3 = await rows(page);
    expect(page3).not.toEqual(page1);
    await release(page, held[0]!, (r) => r.continue());
    await pagerSays(page, /^Previous pagePage 3$/);
    expect(await rows(page)).toEqual(page3);
  });

  it('keeps the page asked for when the counts wait ends while that page is on its way', async () => {
    const counts = { pending: true };
    const { page, held, hold } = await open(counts);
    await page.locator('[data-notice="counts-pending"]').waitFor();
    let resultsAsked = 0;
    page.on('request', (r) => void (/\/api\/results\?/.test(r.url()) && resultsAsked++));
    hold();
    await page.locator('.findings-view .pager button', { hasText: 'Next page' }).click();
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    // The wait ends while page 2 is held: the view reads again, and must read the page asked for.
    const before = resultsAsked;
    const url = held[0]!.request().url();
    const readBefore = await readsOf(page, url);
    counts.pending = false;
    await expect.poll(() => resultsAsked, { timeout: 10_000 }).toBeGreaterThan(before);
    // The re-read asks the held URL too: let its answer be read first, so release counts only the held one.
    await expect.poll(() => readsOf(page, url), { timeout: 10_000 }).toBe(readBefore + 1);
    await release(page, held[0]!, (r) => r.continue());
    await pagerSays(page, /^Previous pagePage 2Next page$/);
  });
});
