// The Findings view and the "load more" lists against pages that come back empty with a token, as
// the service answers a status filter over more rules than one request walks (and Azure may answer
// any long scan), plus what the Findings view does with a fragment or a server id it must not
// trust: Chromium against the local host and Azurite.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../src/rules/types';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { openDashboardReady, showView } from '../support/dashboard-page';
import { get, post } from '../support/http';
import { alphaRule, betaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

// Nine always-passing rules whose rule-index partitions sort before the one that warns: a request
// for warnings reads them first and stops before it reaches the last.
const passing: Rule[] = Array.from({ length: 9 }, (_, i) => ({ ...betaRule, id: `a-pass-${i}` }));
const RULES: Rule[] = [...passing, { ...alphaRule, id: 'z-alpha' }];
const label = 'l'.repeat(63);
/** A server id at the length limit: one word of 253 characters. */
const LONG = `${label}.${label}.${label}.${'m'.repeat(61)}`;
const WARNING_SERVER = 'ef1.corp.contoso.com';

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ rules: RULES });
  expect(LONG).toHaveLength(253);
  expect((await post(stack, snapshot({ host: 'EF1', testState: 'Warning' }))).status).toBe(201);
  expect((await post(stack, snapshot({ host: 'LONGHOST', fqdn: LONG, testState: 'Error' }))).status).toBe(201);
  expect((await post(stack, snapshot({ host: 'PASSER', testState: 'Pass' }))).status).toBe(201);
}, 120_000);
afterAll(async () => stack?.stop());

describe('Findings and lists over empty pages', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;

  async function open(hash: string): Promise<Page> {
    const { page } = await suite!.open('en-GB');
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, hash);
    return page;
  }
  const rowsOf = (page: Page) => page.locator('table.findings tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-server')} ${tr.getAttribute('data-status')}`));

  it('the service answers the first page of warnings empty, with a token', async () => {
    const first = await get(stack, 'results?status=Warning,Error&top=50');
    expect(first.body.items).toEqual([]);
    expect(first.body.continuationToken).toEqual(expect.any(String));
  });

  it('Findings follows the token past empty pages and lists the findings on page 1', async () => {
    const page = await open('#/findings');
    await page.locator('.findings-view .pager').waitFor();
    await expect.poll(() => rowsOf(page), { timeout: 10_000 }).toEqual(expect.arrayContaining([`${WARNING_SERVER} Warning`, `${LONG} Error`]));
    expect(await page.locator('.findings-view .pager').textContent()).toContain('Page 1');
    expect(await page.locator('.table-status').textContent()).not.toContain('No warnings or errors match.');
  });

  it('Findings lists only warnings and errors, whatever status the fragment names', async () => {
    const page = await open('#/findings?status=Pass');
    await page.locator('table.findings tbody tr').first().waitFor();
    expect(await page.locator('select[name="status"]').inputValue()).toBe('');
    expect((await rowsOf(page)).map((r) => r.split(' ')[1]).sort()).toEqual(['Error', 'Warning']);
  });

  it('Findings keeps a 253-character server id inside the window', async () => {
    // By rule: one partition, so the first page holds the row however the other fixes behave.
    const page = await open('#/findings?rule=z-alpha');
    await page.locator(`table.findings tbody tr[data-server="${LONG}"]`).waitFor();
    const [scrollWidth, clientWidth] = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return [d.scrollWidth, d.clientWidth];
    });
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
  });

  it('a "load more" list follows the token of an empty first page rather than say there is nothing', async () => {
    const { page } = await suite!.open('en-GB');
    // The service's own second page, handed out as the first page was by the results route above:
    // empty, with the token that resumes after the first change.
    let answered = false;
    await page.route(/\/api\/events\?/, async (route) => {
      const url = new URL(route.request().url());
      if (answered || url.searchParams.get('status') !== 'Warning,Error' || url.searchParams.has('continuationToken')) return route.continue();
      answered = true;
      url.searchParams.set('top', '1');
      const real = await route.fetch({ url: url.toString() });
      const body = (await real.json()) as { continuationToken: string | null };
      await route.fulfill({ response: real, json: { items: [], continuationToken: body.continuationToken } });
    });
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, '#/changes');
    const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
    const all = (await get(stack, `events?since=${since}&kind=status&status=Warning,Error&top=50`)).body.items;
    expect(all).toHaveLength(2);
    const failing = page.locator('[data-list="new-failing"] li.event');
    await expect.poll(() => failing.count(), { timeout: 10_000 }).toBe(1);
    expect(answered).toBe(true);
    expect(await page.locator('[data-list="new-failing"]').textContent()).not.toContain('No new');
  });
});
