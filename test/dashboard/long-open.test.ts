// What a page left open (a wall display, a tab kept for the day) and a screen reader meet: a live
// region that announces status only, time windows that follow the clock, a long list of silent
// servers shown a page at a time, and Findings paging that matches the page shown after a failure.
// Chromium against the local host and Azurite; large or failing answers are made by intercepting
// the page's own requests.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PENDING_RELOAD_MS } from '../../src/dashboard/web/counts-pending';
import { BROWSER_TIMEOUTS, type PageGlobals } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { openDashboardReady, showView } from '../support/dashboard-page';
import { post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

const HOUR = 3_600_000;
const ANNOUNCER = '[role="status"][data-announce]';

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack();
  expect((await post(stack, snapshot({ host: 'LONG1', testState: 'Warning' }))).status).toBe(201);
}, 120_000);
afterAll(async () => stack?.stop());

/** A request the test answers when it says so (the page stays in its loading state until then). */
function held(): { release: () => void; wait: Promise<void> } {
  let release!: () => void;
  const wait = new Promise<void>((r) => (release = r));
  return { release, wait };
}

describe('a dashboard left open, and read with a screen reader', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;

  async function open(prepare?: (page: Page) => Promise<unknown>): Promise<Page> {
    const { page } = await suite!.open('en-GB');
    await prepare?.(page);
    await openDashboardReady(page, stack.baseUrl);
    return page;
  }
  const hashOf = (page: Page) => page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash);

  it('announces loading, shown, failed and counted in one small live region, not the whole view', async () => {
    const gate = held();
    let pendingOnce = true;
    const page = await open(async (p) => {
      await p.route(/\/api\/results\?/, async (route) => {
        await gate.wait;
        return route.continue();
      });
      // The Fleet view's first summary says changes are still being counted, the next that they are.
      await p.route(/\/api\/summary$/, async (route) => {
        const real = await route.fetch();
        const body = (await real.json()) as object;
        await route.fulfill({ response: real, json: { ...body, countsPending: pendingOnce } });
        pendingOnce = false;
      });
    });
    const live = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ tagName: string; closest(s: string): unknown }> } }).document;
      return Array.from(d.querySelectorAll('[aria-live], [role="status"], [role="log"]'), (e) => ({ tag: e.tagName, inMain: e.closest('main') !== null }));
    });
    // The view itself is not live: only the announcer (outside it) and the view's own short status lines.
    expect(await page.locator('main').getAttribute('aria-live')).toBeNull();
    expect(await page.locator('main [aria-live]').count()).toBe(0);
    expect(live.filter((e) => !e.inMain)).toEqual([{ tag: 'P', inMain: false }]);
    const announcer = page.locator(ANNOUNCER);
    expect(await announcer.getAttribute('aria-live')).toBe('polite');
    await expect.poll(() => announcer.textContent(), { timeout: 10_000 }).toBe('Recent changes have been counted.');

    await showView(page, '#/findings');
    await expect.poll(() => announcer.textContent(), { timeout: 10_000 }).toBe('Loading…');
    gate.release();
    await expect.poll(() => announcer.textContent(), { timeout: 10_000 }).toBe('Findings shown.');
    // The announcer holds a sentence, never the view's rows.
    expect(await announcer.locator('*').count()).toBe(0);

    // A view that cannot be shown at all (a server no one knows) says so there too.
    await showView(page, '#/server/nobody.corp.contoso.com');
    await page.locator('main .error[role="alert"]').waitFor();
    await expect.poll(() => announcer.textContent(), { timeout: 10_000 }).toBe('nobody.corp.contoso.com could not be loaded.');
  });

  /** The `since` the Changes view asks the events for once `fragment` is followed (from another view). */
  async function sinceShownFor(page: Page, fragment: string): Promise<number> {
    await showView(page, '#/fleet');
    await page.locator('[data-metric="hosts"]').waitFor();
    const asked = page.waitForRequest((r) => /\/api\/events\?/.test(r.url()));
    await showView(page, fragment);
    return Date.parse(new URL((await asked).url()).searchParams.get('since') ?? '');
  }

  it('shows the window ending now when "Last 24 hours" or "Last 7 days" is clicked, however long the Changes view was open', async () => {
    const page = await open((p) => p.clock.install());
    await showView(page, '#/changes');
    await page.locator('.changes-view [data-list="all-changes"]').waitFor();
    let now = Date.now();
    // The view stays open for two days before each click; the last click is on the link of the window shown.
    for (const [label, span] of [['Last 24 hours', 24 * HOUR], ['Last 7 days', 7 * 24 * HOUR], ['Last 7 days', 7 * 24 * HOUR]] as const) {
      now += 48 * HOUR;
      await page.clock.setSystemTime(now);
      const asked = page.waitForRequest((r) => /\/api\/events\?/.test(r.url()));
      await page.locator('.changes-view form.filters a', { hasText: label }).click();
      const since = Date.parse(new URL((await asked).url()).searchParams.get('since') ?? '');
      // The window starts `span` before the page's clock now, give or take the click.
      expect(Math.abs(since - (now - span)), label).toBeLessThan(HOUR);
      await expect.poll(() => page.locator(ANNOUNCER).textContent(), { timeout: 10_000 }).toBe('Changes shown.');
    }
    // Another kind keeps the window the fragment names.
    await page.locator('.changes-view select[name="kind"]').selectOption('waiver');
    await expect.poll(() => hashOf(page), { timeout: 10_000 }).toBe('#/changes?last=7d&kind=waiver');
  });

  it('keeps each window link\'s address the window ending when it is followed, with nothing done to the link first', async () => {
    // A link dragged to the tab bar or the address bar, or copied, is its href as it stands then:
    // the page gets no event it could update the address on before the browser takes it.
    const page = await open((p) => p.clock.install());
    await showView(page, '#/changes');
    const link = page.locator('.changes-view form.filters a', { hasText: 'Last 24 hours' });
    await link.waitFor();
    // Two days with the view open and the link untouched.
    let now = Date.now() + 48 * HOUR;
    await page.clock.setSystemTime(now);
    const untouched = (await link.getAttribute('href')) ?? '';
    expect(Math.abs((await sinceShownFor(page, untouched)) - (now - 24 * HOUR))).toBeLessThan(HOUR);

    // Reached with the keyboard, then left focused for two more days.
    await showView(page, '#/changes');
    await link.waitFor();
    await page.locator('.changes-view form.filters button[type="submit"]').focus();
    await page.keyboard.press('Tab');
    expect(await link.evaluate((a) => a === (a.ownerDocument as unknown as { activeElement: unknown }).activeElement)).toBe(true);
    now += 48 * HOUR;
    await page.clock.setSystemTime(now);
    const focused = (await link.getAttribute('href')) ?? '';
    expect(Math.abs((await sinceShownFor(page, focused)) - (now - 24 * HOUR))).toBeLessThan(HOUR);
  });

  it('drags the window ending when the link is dragged, even after the press that starts the drag waited', async () => {
    const page = await open((p) => p.clock.install());
    await showView(page, '#/changes');
    const link = page.locator('.changes-view form.filters a', { hasText: 'Last 7 days' });
    await link.waitFor();
    // What the browser puts in the drag: read where the drag starts, before any handler of the page.
    await page.evaluate(() => {
      const g = globalThis as unknown as { dragged?: string; addEventListener(t: string, l: (e: { dataTransfer: { getData(f: string): string } | null }) => void, capture: boolean): void };
      g.addEventListener('dragstart', (e) => (g.dragged = e.dataTransfer?.getData('text/uri-list') ?? ''), true);
    });
    const box = (await link.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    const now = Date.now() + 48 * HOUR;
    await page.clock.setSystemTime(now);
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 80, { steps: 8 });
    await page.mouse.up();
    const dragged = await page.evaluate(() => (globalThis as unknown as { dragged?: string }).dragged ?? '');
    expect(dragged).toMatch(/#\/changes/);
    expect(Math.abs((await sinceShownFor(page, new URL(dragged).hash)) - (now - 7 * 24 * HOUR))).toBeLessThan(HOUR);
  });

  it('keeps the counts-pending line one unchanged element while the answer stays the same, so it is announced once', async () => {
    let asked = 0;
    const page = await open(async (p) => {
      await p.clock.install();
      await p.route(/\/api\/summary\?only=countsPending$/, (route) => {
        asked++;
        return route.fulfill({ json: { countsPending: true } });
      });
    });
    await showView(page, '#/findings');
    const line = page.locator('.findings-view [data-notice="counts-pending"]');
    await line.waitFor();
    // Mark the element and record every change under the line's slot from now on.
    await page.evaluate(() => {
      interface Observer {
        observe(target: unknown, options: object): void;
      }
      const g = globalThis as unknown as {
        document: { querySelector(s: string): { marked?: boolean; parentNode: unknown } | null };
        MutationObserver: new (callback: (records: readonly unknown[]) => void) => Observer;
        mutations: number;
      };
      const notice = g.document.querySelector('.findings-view [data-notice="counts-pending"]')!;
      notice.marked = true;
      g.mutations = 0;
      new g.MutationObserver((records) => (g.mutations += records.length)).observe(notice.parentNode, { childList: true, subtree: true, characterData: true });
    });
    const before = asked;
    await page.clock.runFor(PENDING_RELOAD_MS);
    await expect.poll(() => asked, { timeout: 10_000 }).toBe(before + 1);
    await page.clock.runFor(PENDING_RELOAD_MS);
    await expect.poll(() => asked, { timeout: 10_000 }).toBe(before + 2);
    // Both answers handled (the next ask is scheduled only after one is), still pending: same element, same text, no mutation.
    await page.clock.runFor(PENDING_RELOAD_MS);
    await expect.poll(() => asked, { timeout: 10_000 }).toBe(before + 3);
    const seen = await page.evaluate(() => {
      const g = globalThis as unknown as { document: { querySelector(s: string): { marked?: boolean } | null }; mutations: number };
      return { marked: g.document.querySelector('.findings-view [data-notice="counts-pending"]')?.marked === true, mutations: g.mutations };
    });
    expect(seen).toEqual({ marked: true, mutations: 0 });
    expect(await line.textContent()).toBe('Recent changes are still being counted; this view updates by itself in a moment.');
  });

  it('shows 10,000 servers not reporting a page at a time, with Load more', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => ({ server: `silent${String(i).padStart(5, '0')}.corp.contoso.com`, lastSeen: '2026-11-01T00:00:00.000Z', staleSince: '2026-11-02T00:00:00.000Z' }));
    const page = await open((p) => p.route(/\/api\/servers\?stale=true$/, (route) => route.fulfill({ json: { items } })));
    await showView(page, '#/changes');
    const rows = page.locator('[data-list="stale"] li');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);
    expect(await rows.first().getAttribute('data-server')).toBe('silent00000.corp.contoso.com');
    const more = page.locator('div:has(> [data-list="stale"]) > .more button', { hasText: 'Load more' });
    await more.click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(100);
    expect(await rows.nth(50).getAttribute('data-server')).toBe('silent00050.corp.contoso.com');
  });

  it('drops the Next button of the page shown when the next page fails, and pages on once Try again succeeds', async () => {
    const finding = (server: string) => ({ server, ruleId: 'test-alpha', status: 'Warning', reasonCode: 'Blocked', message: 'Port 25 is not blocked.', firstSeen: null, previousStatus: null });
    let nextAsked = 0;
    const page = await open((p) =>
      p.route(/\/api\/results\?/, (route) => {
        if (!new URL(route.request().url()).searchParams.has('continuationToken')) return route.fulfill({ json: { items: [finding('one.corp.contoso.com')], continuationToken: 'page-two' } });
        if (nextAsked++ === 0) return route.fulfill({ status: 502, json: { error: 'bad_gateway', message: 'The service did not answer.' } });
        return route.fulfill({ json: { items: [finding('two.corp.contoso.com')], continuationToken: null } });
      }),
    );
    await showView(page, '#/findings');
    await page.locator('table.findings tbody tr[data-server="one.corp.contoso.com"]').waitFor();
    const pager = page.locator('.findings-view .pager');
    await pager.locator('button', { hasText: 'Next page' }).click();
    const box = page.locator('.findings-view .table-status .error[role="alert"]');
    await box.waitFor();
    // Page 1's rows stay and so does its number; the way on is the error's Try again, not a Next
    // that would repeat the failed request.
    expect(await page.locator('table.findings tbody tr').count()).toBe(1);
    expect(await pager.textContent()).toBe('Page 1');
    expect(await pager.locator('button').count()).toBe(0);
    await box.locator('button', { hasText: 'Try again' }).click();
    await page.locator('table.findings tbody tr[data-server="two.corp.contoso.com"]').waitFor();
    expect(await pager.textContent()).toBe('Previous pagePage 2');
    expect(nextAsked).toBe(2);
  });
});
