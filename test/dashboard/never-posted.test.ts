// Servers that enrolled and never reported, in Chromium against the local host and Azurite: they
// have no results, so no count holds them. The Fleet view says how many there are (the length of
// GET /api/servers?neverPosted=true, "1,000+" for a list cut at its limit; the view does not wait
// for that read, and a failed one shows "—" with the reason, the rest of the view intact) and links to the
// Changes view, which lists them by name with when their key was issued, under a sentence saying
// what the list means, in English and Japanese; none of them links to a server page, since none
// has one. Before two hours have passed since a key was issued, the server is not listed and the
// list says every server enrolled that long ago has reported. The Changes view does not wait for
// the list either: a failed read shows in its place, with Try again.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TIMEOUTS, type PageGlobals } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboardAt, openDashboardReady, showView } from '../support/dashboard-page';
import { fqdn } from '../support/enrolment-client';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

const WAITING = [fqdn('WAIT01'), fqdn('WAIT02')];
const HOUR = 3_600_000;
/** The service's clock: moved past the two hours' grace by the tests that need it. */
let now = Date.now();
let stack: TestStack;

beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ clock: () => now });
  // The stack's own server posts, so that only WAITING never reported.
  const r = await post(stack, snapshot({ host: 'EXCH01', collectedAt: now - 60_000 }));
  if (r.status !== 201) throw new Error(`Posting EXCH01 failed: ${r.status} ${JSON.stringify(r.body)}`);
  for (const server of WAITING) await stack.serverKey(server);
  await stack.projected();
}, 180_000);

afterAll(async () => stack?.stop());

describe('servers that enrolled and never reported, on the dashboard', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  const openAt = (fragment: string, locale: string) => openDashboardAt(chromium, stack.baseUrl, fragment, locale);
  const listed = (page: Page) => page.locator('[data-list="never-posted"] li');
  /** The Fleet view's figure once its read has answered (the view is drawn before it). */
  const figure = async (page: Page) => {
    await page.locator('[data-metric="never-posted"]:not([aria-busy])').waitFor();
    return page.locator('[data-metric="never-posted"]').textContent();
  };

  it('lists none, and says so, before two hours have passed since the keys were issued', async () => {
    expect((await get(stack, 'servers?neverPosted=true')).body).toEqual({ items: [], truncated: false });
    const { page, errors } = await openAt('', 'en-GB');
    expect(await figure(page)).toBe('0');
    await showView(page, '#/changes');
    await page.locator('.changes-view').getByText('Every server enrolled more than two hours ago has reported.').waitFor();
    expect(await listed(page).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('counts them on the Fleet view, linking to the Changes view, which names each with its key\'s issue time and no link', async () => {
    now += 3 * HOUR;
    const api = (await get(stack, 'servers?neverPosted=true')).body as { items: { server: string; keyIssuedAt: string }[] };
    expect(api.items.map((i) => i.server).sort()).toEqual([...WAITING].sort());
    const { page, errors } = await openAt('', 'en-GB');
    const metric = page.locator('[data-metric="never-posted"]');
    expect(await figure(page)).toBe('2');
    expect(await page.locator('.metric', { has: metric }).locator('.label').textContent()).toBe('Enrolled, never reported');
    await metric.click();
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).location.hash.startsWith('#/changes'));
    await listed(page).first().waitFor();
    // In the service's order, oldest key first.
    expect(await listed(page).evaluateAll((lis) => lis.map((li) => li.getAttribute('data-server')))).toEqual(api.items.map((i) => i.server));
    const row = await listed(page).first().textContent();
    expect(row).toContain(api.items[0]!.server);
    expect(row).toContain('key issued');
    expect(await page.locator('[data-list="never-posted"] a').count()).toBe(0);
    await page.getByText('its collector never ran, or everything it sent was refused').waitFor();
    expect(errors).toEqual([]);
  });

  it('says it in Japanese', async () => {
    const { page, errors } = await openAt('#/changes', 'ja-JP');
    await page.getByRole('heading', { name: '登録後に一度も報告していないサーバー' }).waitFor();
    await listed(page).nth(1).waitFor();
    expect(await listed(page).first().textContent()).toContain('キー発行');
    expect(errors).toEqual([]);
  });

  it('draws the Fleet view without waiting for the list, and fills the figure in when it comes', async () => {
    const { page, errors } = await chromium.open('en-GB');
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/servers\?neverPosted=true$/, async (route) => {
      await held;
      await route.continue();
    });
    await openDashboardReady(page, stack.baseUrl);
    const figure = page.locator('[data-metric="never-posted"]');
    expect(await figure.textContent()).toBe('…');
    expect(await figure.getAttribute('aria-busy')).toBe('true');
    expect(await page.locator('.metric a [data-metric="never-posted"]').count()).toBe(0);
    release();
    await page.locator('.metric a [data-metric="never-posted"]', { hasText: '2' }).waitFor();
    expect(await figure.getAttribute('aria-busy')).toBeNull();
    expect(errors).toEqual([]);
  });

  it('says why the figure is missing when its read fails, and shows the rest of the Fleet view', async () => {
    const { page, errors } = await chromium.open('en-GB');
    // Busy for longer than the page waits by itself, so it says so at once.
    await page.route(/\/api\/servers\?neverPosted=true$/, (route) => route.fulfill({ status: 503, headers: { 'retry-after': '60' }, json: { error: 'storage_unavailable', message: 'Storage is busy.' } }));
    await openDashboardReady(page, stack.baseUrl);
    await page.locator('[data-note="never-posted"]').waitFor();
    expect(await page.locator('[data-metric="never-posted"]').textContent()).toBe('—');
    expect(await page.locator('[data-note="never-posted"]').textContent()).toBe('The service or its storage is busy or unavailable; try again in 60 seconds.');
    expect(await page.locator('[data-metric="hosts"]').textContent()).toBe('1');
    expect(await page.locator('.fleet .error').count()).toBe(0);
    expect(errors.filter((e) => !/status of 503/.test(e))).toEqual([]);
  });

  it('shows a failed read of the list in its place on the Changes view, and Try again asks anew', async () => {
    const { page, errors } = await chromium.open('en-GB');
    let fail = true;
    await page.route(/\/api\/servers\?neverPosted=true$/, (route) => (fail ? route.fulfill({ status: 502, body: 'Bad Gateway' }) : route.continue()));
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, '#/changes');
    const section = page.locator('section', { has: page.locator('[data-list="never-posted"]') });
    await section.locator('.error').waitFor();
    expect(await section.locator('.error p').textContent()).toMatch(/^The request failed \(502 /);
    // The rest of the view is there: the stale list answered.
    await page.getByText('Every server is reporting.').waitFor();
    expect(await page.locator('.changes-view > .reload-problem .error').count()).toBe(0);
    fail = false;
    await section.getByRole('button', { name: 'Try again' }).click();
    await listed(page).nth(1).waitFor();
    expect(await section.locator('.error').count()).toBe(0);
    expect(errors.filter((e) => !/status of 502/.test(e))).toEqual([]);
  });

  it('shows a list cut at its limit as a floor, and says the rest follow', async () => {
    const { page, errors } = await chromium.open('en-GB');
    const items = Array.from({ length: 1000 }, (_, i) => ({ server: `exch${String(i).padStart(4, '0')}.corp.contoso.com`, keyIssuedAt: new Date(now - 5 * HOUR).toISOString() }));
    await page.route(/\/api\/servers\?neverPosted=true$/, (route) => route.fulfill({ json: { items, truncated: true } }));
    await openDashboardReady(page, stack.baseUrl);
    expect(await figure(page)).toBe('1,000+');
    await showView(page, '#/changes');
    await page.locator('[data-notice="never-posted-more"]').waitFor();
    expect(await page.locator('[data-notice="never-posted-more"]').textContent()).toBe('More servers are waiting than one check reads; the rest are listed as later checks go on.');
    expect(errors).toEqual([]);
  });
});
