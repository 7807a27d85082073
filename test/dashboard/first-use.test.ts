// What an administrator meets on first use beyond the happy path: a key link opened in a tab that
// already shows the page, an answer that is not the API's (a sign-in page of a proxy in between),
// a "load more" that fails once or is refused, and times that say their zone. Chromium against the
// local host and Azurite; the odd answers are made by intercepting the page's own requests.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TIMEOUTS, type PageGlobals } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { openDashboard, openDashboardReady, showView } from '../support/dashboard-page';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

/** The service's own rule, the one the stack evaluates. */
const RULE = 'mcafee-port25-blocked';

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack();
  expect((await post(stack, snapshot({ host: 'FIRST1', testState: 'Warning' }))).status).toBe(201);
}, 120_000);
afterAll(async () => stack?.stop());

const globals = (page: Page) => page.evaluate(() => {
  const w = globalThis as unknown as PageGlobals;
  return { href: w.location.href, key: w.sessionStorage.getItem('posture.readerKey') };
});

describe('the dashboard on first use', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const { page, errors } = await suite!.open('en-GB');
    await openDashboardReady(page, stack.baseUrl);
    return { page, errors };
  }

  it('takes a #key= link opened in a tab already showing the page out of the address bar and history', async () => {
    const { page } = await open();
    const before = await page.evaluate(() => (globalThis as unknown as PageGlobals).history.length);
    // Pasting the banner's link into the same tab changes only the fragment: no new page load.
    await showView(page, `#key=${encodeURIComponent(TEST_KEYS.admin)}`);
    await expect.poll(async () => (await globals(page)).key, { timeout: 10_000 }).toBe(TEST_KEYS.admin);
    const after = await globals(page);
    expect(after.href).not.toContain('key=');
    expect(after.href).not.toContain(encodeURIComponent(TEST_KEYS.admin));
    // The fragment's entry was replaced: going back leads to the page before it, not to the key.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).history.length)).toBe(before + 1);
    await page.goBack();
    expect((await globals(page)).href).not.toContain('key=');
    await page.locator('[data-metric="hosts"]').waitFor();
  });

  it('says an OK answer that is not the API\'s JSON (a proxy\'s sign-in page) is not the fleet, and asks again on Try again', async () => {
    const { page } = await suite!.open('en-GB');
    let signIn = true;
    await page.route(/\/api\/summary(\?|$)/, (route) => (signIn ? route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Sign in</title><form>Sign in</form>' }) : route.continue()));
    await openDashboard(page, stack.baseUrl);
    const box = page.locator('main .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('The answer did not come from the fleet API (a sign-in page or a proxy in between, perhaps); sign in again or reload the page.');
    signIn = false;
    await box.locator('button', { hasText: 'Try again' }).click();
    await page.locator('[data-metric="hosts"]').waitFor();
    expect(await page.locator('[data-metric="hosts"]').textContent()).toBe('1');
  });

  it('says an OK answer that is JSON but not an object, or not served as JSON, is not the fleet, without a script error', async () => {
    // null, a bare string, and the fleet's own shape under text/html: none is the API's answer.
    const answers = [
      { contentType: 'application/json', body: 'null' },
      { contentType: 'application/json', body: '"ok"' },
      { contentType: 'text/html', body: JSON.stringify({ generatedAt: new Date().toISOString(), hosts: 7, statuses: [], rules: [], totals: {} }) },
    ];
    for (const answer of answers) {
      const { page, errors } = await suite!.open('en-GB');
      await page.route(/\/api\/summary(\?|$)/, (route) => route.fulfill({ status: 200, ...answer }));
      await openDashboard(page, stack.baseUrl);
      const box = page.locator('main .error[role="alert"]');
      await box.waitFor();
      expect(await box.locator('p').textContent(), answer.body).toBe('The answer did not come from the fleet API (a sign-in page or a proxy in between, perhaps); sign in again or reload the page.');
      expect(await page.locator('[data-metric="hosts"]').count()).toBe(0);
      expect(errors).toEqual([]);
    }
  });

  it('offers Try again when a further page of configurations fails, and then adds that page', async () => {
    const { page } = await open();
    // Two pages of one configuration each; the second fails once (502, a gateway that lost the
    // service for a moment) before it is answered.
    const cluster = (fingerprint: string) => ({ fingerprint, servers: 1, counts: { Pass: 1 }, facts: { enabled: true }, sample: ['first1.corp.contoso.com'] });
    const drift = (fingerprint: string, continuationToken: string | null) => ({ ruleId: 'test-alpha', servers: 2, configurations: 2, baseline: null, clusters: [cluster(fingerprint)], continuationToken });
    let secondPageAsked = 0;
    await page.route(/\/api\/drift\?/, (route) => {
      if (!new URL(route.request().url()).searchParams.has('continuationToken')) return route.fulfill({ json: drift('fp-one', 'next') });
      if (secondPageAsked++ === 0) return route.fulfill({ status: 502, json: { error: 'bad_gateway', message: 'The service did not answer.' } });
      return route.fulfill({ json: drift('fp-two', null) });
    });
    await showView(page, '#/drift?rule=test-alpha');
    await page.locator('section.cluster[data-fingerprint="fp-one"]').waitFor();
    await page.locator('.drift .more button', { hasText: 'Load more' }).click();
    const box = page.locator('.drift .more .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('The request failed (502 bad_gateway): The service did not answer.');
    await box.locator('button', { hasText: 'Try again' }).click();
    await page.locator('section.cluster[data-fingerprint="fp-two"]').waitFor();
    expect(await page.locator('section.cluster').count()).toBe(2);
    expect(secondPageAsked).toBe(2);
  });

  it('shows the service\'s sentence, without Try again, when it refuses a further page of configurations, and reads the drift again from its first page', async () => {
    // The post's counts reach the drift a moment after it: wait for them, so the view shows them at once.
    await expect.poll(async () => (await get(stack, `drift?rule=${RULE}`)).body.servers, { timeout: 30_000 }).toBe(1);
    const { page } = await open();
    // The service's own first page, handed out with a token it will refuse until it has refused one;
    // the service answers the next request (400) and, on the way back, the first page as it is.
    let refused = 0;
    let firstPagesAfter = 0;
    await page.route(/\/api\/drift\?/, async (route) => {
      if (new URL(route.request().url()).searchParams.has('continuationToken')) {
        refused++;
        return route.continue();
      }
      if (refused > 0) {
        firstPagesAfter++;
        return route.continue();
      }
      const real = await route.fetch();
      await route.fulfill({ response: real, json: { ...((await real.json()) as object), continuationToken: 'not a token!' } });
    });
    await showView(page, `#/drift?rule=${RULE}`);
    await page.locator('section.cluster').first().waitFor();
    await page.locator('.drift .more button', { hasText: 'Load more' }).click();
    const box = page.locator('.drift .more .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('The request failed (400 invalid_query): The continuation token is not one this service issued for this query; repeat the query without it.');
    expect(await page.locator('.drift .more button', { hasText: 'Try again' }).count()).toBe(0);
    await page.locator('.drift .more button', { hasText: 'Show the configurations from the first page' }).click();
    await expect.poll(() => page.locator('.drift .more').textContent(), { timeout: 10_000 }).toBe('');
    expect(firstPagesAfter).toBe(1);
    expect(refused).toBe(1);
    expect(await page.locator('.drift .error').count()).toBe(0);
    expect(await page.locator('section.cluster').count()).toBe(1);
  });

  /**
   * Hands out the first page of `path` (the service's own, or `firstPage` where this fleet has none
   * to show) with a token the service refuses; counts the further pages and first pages asked after.
   */
  async function refuseFurtherPages(page: Page, path: RegExp, firstPage?: object): Promise<{ refused: number; firstPagesAfter: number }> {
    const seen = { refused: 0, firstPagesAfter: 0 };
    await page.route(path, async (route) => {
      if (new URL(route.request().url()).searchParams.has('continuationToken')) {
        seen.refused++;
        return route.continue();
      }
      if (seen.refused > 0) seen.firstPagesAfter++;
      if (firstPage) return route.fulfill({ json: { ...firstPage, continuationToken: 'not a token!' } });
      if (seen.refused > 0) return route.continue();
      const real = await route.fetch();
      await route.fulfill({ response: real, json: { ...((await real.json()) as object), continuationToken: 'not a token!' } });
    });
    return seen;
  }
  const REFUSED = 'The request failed (400 invalid_query): The continuation token is not one this service issued for this query; repeat the query without it.';

  it('shows the service\'s sentence, without Try again, when it refuses a further page of Findings, and leads back to page 1', async () => {
    const { page } = await open();
    // This fleet's one server has no finding under the service's rule: page 1 holds a made-up one.
    const finding = { server: 'first1.corp.contoso.com', ruleId: RULE, status: 'Warning', reasonCode: 'Blocked', message: 'Port 25 is not blocked.', firstSeen: null, previousStatus: null };
    const seen = await refuseFurtherPages(page, /\/api\/results\?/, { items: [finding] });
    await showView(page, '#/findings');
    await page.locator('table.findings tbody tr[data-server="first1.corp.contoso.com"]').waitFor();
    await page.locator('.findings-view .pager button', { hasText: 'Next page' }).click();
    const box = page.locator('.findings-view .table-status .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe(REFUSED);
    expect(await box.locator('button', { hasText: 'Try again' }).count()).toBe(0);
    await box.locator('button', { hasText: 'Back to the first page' }).click();
    await box.waitFor({ state: 'detached' });
    await expect.poll(() => page.locator('.findings-view .pager').textContent(), { timeout: 10_000 }).toMatch(/^Page 1Next page$/);
    expect(await page.locator('table.findings tbody tr[data-server="first1.corp.contoso.com"]').count()).toBe(1);
    expect(seen).toEqual({ refused: 1, firstPagesAfter: 1 });
  });

  it('shows the service\'s sentence, without Try again, when it refuses a further page of a Changes list, and lists it again from its first page', async () => {
    const { page } = await open();
    // Only the status-change list (the view's second list) gets the refused token.
    const seen = await refuseFurtherPages(page, /\/api\/events\?(?!.*status=)/);
    await showView(page, '#/changes');
    const list = page.locator('[data-list="all-changes"]');
    await list.locator('li.event[data-server="first1.corp.contoso.com"]').waitFor();
    const before = await list.locator('li.event').count();
    await page.locator('div:has(> [data-list="all-changes"]) > .more button', { hasText: 'Load more' }).click();
    const box = page.locator('div:has(> [data-list="all-changes"]) > .more .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe(REFUSED);
    expect(await box.locator('button', { hasText: 'Try again' }).count()).toBe(0);
    await box.locator('button', { hasText: 'Back to the first page' }).click();
    await box.waitFor({ state: 'detached' });
    // The first page once, not added under what was shown.
    await expect.poll(() => list.locator('li.event').count(), { timeout: 10_000 }).toBe(before);
    expect(seen).toEqual({ refused: 1, firstPagesAfter: 1 });
  });

  // The read after a wait, failing again on every Try again: one error box, not one more per failure.
  const reloads = [
    { view: 'Configurations', hash: `#/drift?rule=${RULE}`, read: /\/api\/drift\?/, shown: '.drift section.cluster' },
    { view: 'a server', hash: '#/server/first1.corp.contoso.com', read: /\/api\/servers\/first1\.corp\.contoso\.com(\?|$)/, shown: '.server-view article.result' },
    { view: 'Changes', hash: '#/changes', read: /\/api\/servers\?stale=true/, shown: '.changes-view [data-list="all-changes"] li.event' },
  ];
  for (const r of reloads) {
    it(`keeps one error box when the read of ${r.view} after a wait fails again and again, and drops it once the read succeeds`, async () => {
      await expect.poll(async () => (await get(stack, `drift?rule=${RULE}`)).body.servers, { timeout: 30_000 }).toBe(1);
      const { page } = await open();
      // The first ask says changes are waiting, the next that they are counted: the view reads again.
      let asked = 0;
      await page.route(/\/api\/summary\?only=countsPending/, (route) => route.fulfill({ json: { countsPending: asked++ === 0 } }));
      let reads = 0;
      let failing = true;
      await page.route(r.read, (route) => (reads++ === 0 || !failing ? route.continue() : route.fulfill({ status: 502, json: { error: 'bad_gateway', message: 'The service did not answer.' } })));
      await showView(page, r.hash);
      await page.locator(r.shown).first().waitFor();
      const boxes = page.locator('main .error[role="alert"]');
      // Each failure's box is told from the ones before it by a mark on those.
      const fresh = page.locator('main .error[role="alert"]:not([data-seen])');
      await fresh.waitFor();
      for (let i = 0; i < 2; i++) {
        expect(await boxes.count()).toBe(1);
        expect(await fresh.locator('p').textContent()).toBe('The request failed (502 bad_gateway): The service did not answer.');
        await fresh.evaluate((e) => e.setAttribute('data-seen', ''));
        await boxes.locator('button', { hasText: 'Try again' }).first().click();
        await fresh.waitFor();
      }
      expect(await boxes.count()).toBe(1);
      failing = false;
      await fresh.locator('button', { hasText: 'Try again' }).click();
      await boxes.first().waitFor({ state: 'detached' });
      await page.locator(r.shown).first().waitFor();
      expect(reads).toBe(5);
    });
  }

  it('offers no Try again when the service refuses what a view asks (a 400), only its sentence', async () => {
    const { page } = await suite!.open('en-GB');
    await page.route(/\/api\/summary(\?|$)/, (route) => route.fulfill({ status: 400, json: { error: 'invalid_query', message: 'The query is not one the service takes.' } }));
    await openDashboard(page, stack.baseUrl);
    const box = page.locator('main .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('The request failed (400 invalid_query): The query is not one the service takes.');
    expect(await box.locator('button').count()).toBe(0);
  });

  it('names the time zone of the times it shows (the browser\'s, here Asia/Tokyo)', async () => {
    const { page } = await suite!.open('en-GB');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'Asia/Tokyo' });
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, '#/server/first1.corp.contoso.com');
    const seen = page.locator('dl.facts time').first();
    await seen.waitFor();
    const iso = (await seen.getAttribute('datetime'))!;
    // The same instant in Tokyo (UTC+9, no daylight saving), as hours and minutes.
    const tokyo = new Date(Date.parse(iso) + 9 * 3_600_000);
    const hhmm = `${String(tokyo.getUTCHours()).padStart(2, '0')}:${String(tokyo.getUTCMinutes()).padStart(2, '0')}`;
    expect(await seen.textContent()).toMatch(new RegExp(`^${tokyo.getUTCDate()} \\w{3,4} ${tokyo.getUTCFullYear()}, ${hhmm} GMT\\+9$`));
  });

  it('draws every status badge and the "yes" of evidence with text contrast of at least 4.5:1 (WCAG AA)', async () => {
    const { page } = await open();
    // Elements with the classes the page gives them (widgets.ts badge(), evidence.ts), measured
    // under the page's own stylesheet: text colour against the nearest background that is drawn.
    const ratios = (await page.evaluate(`(() => {
      const statuses = ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown', 'Stale', 'Reporting', 'Removed', 'other'];
      const host = document.createElement('div');
      host.className = 'panel';
      for (const s of statuses) { const b = document.createElement('span'); b.className = 'badge status-' + s; b.textContent = s; host.appendChild(b); }
      const yes = document.createElement('span'); yes.className = 'yes'; yes.textContent = 'yes'; host.appendChild(yes);
      document.querySelector('main').appendChild(host);
      const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
      const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
      return [...host.children].map((el) => {
        const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
        return el.className + ' ' + ((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)).toFixed(2);
      });
    })()`)) as string[];
    expect(ratios).toHaveLength(10);
    const low = ratios.filter((r) => Number(r.split(' ').pop()) < 4.5);
    expect(low).toEqual([]);
  });

  it('keeps the keyboard on the header control used: a view link followed with Enter, the language changed with the arrow keys', async () => {
    const { page } = await open();
    const focused = () => page.evaluate(`(() => { const e = document.activeElement; return e ? e.tagName + ' ' + (e.getAttribute('data-view') ?? e.getAttribute('name') ?? '') : ''; })()`);
    await page.focus('header nav a[data-view="findings"]');
    await page.keyboard.press('Enter');
    await page.locator('.findings-view').waitFor();
    expect(await focused()).toBe('A findings');
    await page.focus('header select[name="lang"]');
    await page.keyboard.press('ArrowDown');
    await page.locator('header nav a[data-view="findings"]', { hasText: '検出結果' }).waitFor();
    expect(await focused()).toBe('SELECT lang');
  });
});
