// A server an admin just removed, before the projector has written the removal into its history,
// in Chromium against the local host and Azurite (the projector runs only when a test drains): the
// Server view, opened by the server's id or by its host name in the server box, already says it
// was removed, when and by whom — the removal's own commit says so — and shows the history as it
// stands, with no error. Once drained, the host name leads to the same view with the removal on top.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { OutboxStore } from '../../src/store';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboard } from '../support/dashboard-page';
import { get, type Json } from '../support/http';
import { heldBackStack } from './held-back-stack';

const HOST = 'DECOM1';
const REMOVED_BY = 'ciso@contoso.com';

const { stack: held, postWaiting } = heldBackStack();

/** The page's errors but the console's note of the server route's 404, which the view asks first. */
const unexpected = (errors: readonly string[]) => errors.filter((e) => !/responded with a status of 404/.test(e));

describe('a removed server on the dashboard before its removal is in its history', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;
  let server = '';
  let removedAt = '';
  /** The statuses of its history before the removal, newest first, as the API answers them. */
  let before: string[] = [];

  /** Opens the dashboard, then `name` through the header's server box, as a person would. */
  async function openByServerBox(name: string): Promise<{ page: Page; errors: string[] }> {
    const { page, errors } = await chromium.open('en-GB');
    await openDashboard(page, held().baseUrl);
    await page.locator('.fleet').waitFor();
    await page.fill('form.goto input[name="server"]', name);
    await page.click('form.goto button[type="submit"]');
    return { page, errors };
  }

  /** The removed view of the server: its time, its message and its timeline's statuses, newest first. */
  async function removedView(page: Page, entries: number): Promise<{ at: string | null; message: string | null; statuses: (string | null)[] }> {
    const view = page.locator(`.removed-server[data-server="${server}"]`);
    await view.waitFor();
    await view.locator('ol.timeline li.event').nth(entries - 1).waitFor();
    expect(await page.locator('main .error').count()).toBe(0);
    return {
      at: await view.locator('.removed-at time').getAttribute('datetime'),
      message: await view.locator('.removal-message').textContent(),
      statuses: await view.locator('ol.timeline li.event').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-to'))),
    };
  }

  it('the moment the removal is answered, its id and its host name open the removed view: when, by whom, and the history so far', async () => {
    server = await postWaiting(HOST, 'Warning');
    await held().projected();
    const res = await held().request(`servers/${server}?removedBy=${encodeURIComponent(REMOVED_BY)}`, { method: 'DELETE', key: 'admin' });
    expect(res.status).toBe(200);
    removedAt = ((await res.json()) as Json).removedAt;
    // The history does not hold the removal yet: its entry waits for the projector.
    const history = (await get(held(), `servers/${server}/history`)).body.items as Json[];
    expect(history.map((e) => e.cause)).toEqual(history.map(() => 'snapshot'));
    before = history.map((e) => e.toStatus);

    for (const name of [server, HOST]) {
      const { page, errors } = await openByServerBox(name);
      expect(await removedView(page, before.length), name).toEqual({
        at: removedAt,
        message: `${server} was removed from the fleet by ${REMOVED_BY}; its results no longer count.`,
        statuses: before,
      });
      expect(unexpected(errors)).toEqual([]);
    }
    expect(await new OutboxStore(held().app.store).list(10)).toHaveLength(1);
  });

  it('once drained, its host name opens the same view with the removal on top of its history', async () => {
    await held().projected();
    expect(await new OutboxStore(held().app.store).list(10)).toEqual([]);
    const { page, errors } = await openByServerBox(HOST.toLowerCase());
    expect(await removedView(page, before.length + 1)).toEqual({
      at: removedAt,
      message: `${server} was removed from the fleet by ${REMOVED_BY}; its results no longer count.`,
      statuses: ['Removed', ...before],
    });
    expect(unexpected(errors)).toEqual([]);
  });
});
