// Opening the dashboard the way a user does: a link with the key in its fragment (the page moves
// it to session storage and out of the address bar), then views chosen by the fragment alone.
import type { Page } from 'playwright-core';
import { ROUTE_BASE } from '../../src/app/route-prefix';
import { dashboardUrl } from '../../src/local/main';
import type { PageGlobals } from './chromium';
import type { ChromiumSuite, SuitePage } from './chromium-suite';
import { TEST_KEYS } from './stack';

/** Opens the dashboard by the link the local host prints, with `key` (the reader's unless given); it starts on the Fleet view. */
export async function openDashboard(page: Page, baseUrl: string, key: string = TEST_KEYS.reader): Promise<void> {
  await page.goto(dashboardUrl(`${baseUrl}${ROUTE_BASE}`, key));
}

/** Opens the dashboard and waits for the Fleet view's counts, so that a view chosen next is not raced by the first one. */
export async function openDashboardReady(page: Page, baseUrl: string, key?: string): Promise<void> {
  await openDashboard(page, baseUrl, key);
  await page.locator('[data-metric="hosts"]').waitFor();
}

/** Moves the open page to another view, as following an in-page link does (`#/findings`, `#/server/…`). */
export async function showView(page: Page, fragment: string): Promise<void> {
  await page.evaluate((h) => ((globalThis as unknown as PageGlobals).location.hash = h), fragment);
}

/**
 * A new page of `chromium` in `locale` with the dashboard ready on the Fleet view (switched to
 * Japanese in the page for a `ja` locale, as a user does), then moved to `fragment` if one is given.
 */
export async function openDashboardAt(chromium: ChromiumSuite, baseUrl: string, fragment: string, locale: string): Promise<SuitePage> {
  const opened = await chromium.open(locale);
  await openDashboardReady(opened.page, baseUrl);
  if (locale.startsWith('ja')) {
    await opened.page.selectOption('select[data-control="lang"]', 'ja');
    await opened.page.locator('nav a[data-view="fleet"]', { hasText: 'フリート' }).waitFor();
  }
  if (fragment) await showView(opened.page, fragment);
  return opened;
}
