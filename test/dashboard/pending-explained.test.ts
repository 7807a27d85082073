// When a view's wait for counts outlasts its tries, in Chromium against the local host and Azurite:
// the line says why when the projector's state shows it — a change the projector set aside, which
// waits for an admin, or an entry older than the projector ever leaves one (it is not running) —
// and otherwise keeps saying to reload later. The projector runs only when a test drains
// (projectorIntervalMs: 0); the service's clock is the test's, moved to age the waiting entry.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PENDING_RELOAD_MS, PENDING_RELOADS, STALLED_AFTER_SECONDS } from '../../src/dashboard/web/counts-pending';
import { OutboxStore } from '../../src/store';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboard } from '../support/dashboard-page';
import { get, post } from '../support/http';
import { snapshot, TEST_RULES } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';
import { PENDING_LINE } from './held-back-stack';

/** The page's DOM as these callbacks use it (the tests' TypeScript config has Node's types). */
interface PageDom {
  readonly document: { querySelector(selector: string): { readonly textContent: string | null } | null };
}

let stack: TestStack;
let now = Date.now();
const HOST = 'SLOW01';

beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ rules: TEST_RULES, projectorIntervalMs: 0, clock: () => now });
  expect((await post(stack, snapshot({ host: HOST, testState: 'Warning', collectedAt: now - 60_000 }), { drain: false })).status).toBe(201);
}, 180_000);
afterAll(async () => stack?.stop());

describe('the line after the tries, when the projector\'s state says why', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  /** The fleet view on the page's own clock, run through every try; the line's text then. */
  async function lineAfterTries(locale: string): Promise<{ page: Page; text: () => Promise<string | null>; projectorAsks: () => number }> {
    const { page, errors } = await chromium.open(locale);
    let asks = 0;
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/jobs/projector') asks++;
    });
    await page.clock.install();
    await openDashboard(page, stack.baseUrl);
    const line = page.locator(PENDING_LINE);
    await line.waitFor();
    for (let i = 0; i < PENDING_RELOADS; i++) {
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/summary');
      await page.clock.runFor(PENDING_RELOAD_MS);
      await answered;
    }
    expect(errors).toEqual([]);
    return { page, text: () => line.textContent(), projectorAsks: () => asks };
  }

  it('keeps saying to reload later while the oldest change is younger than the projector ever leaves one', async () => {
    const { page, text, projectorAsks } = await lineAfterTries('en-GB');
    await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/jobs/projector');
    await page.waitForTimeout(200);
    expect(await text()).toBe('Recent changes are still being counted; reload the page in a while to see them.');
    expect(projectorAsks()).toBe(1);
  });

  it('says the projector may not be running once the oldest change has waited longer', async () => {
    now += (STALLED_AFTER_SECONDS + 4 * 60) * 1000;
    const { page, text, projectorAsks } = await lineAfterTries('en-GB');
    await page.waitForFunction((sel) => /not be running/.test((globalThis as unknown as PageDom).document.querySelector(sel)?.textContent ?? ''), PENDING_LINE);
    // The entry's age is the service's clock (the test's, standing still) less its storage time.
    const { oldestSeconds } = (await get(stack, 'jobs/projector')).body.waiting;
    expect(oldestSeconds).toBeGreaterThan(STALLED_AFTER_SECONDS);
    expect(await text()).toBe(`Recent changes are still being counted, and the oldest has waited ${Math.floor(oldestSeconds / 60)} minutes: the projector may not be running; tell an admin.`);
    // Asked once, however long the page stays open.
    await page.clock.runFor(10 * PENDING_RELOAD_MS);
    await page.waitForTimeout(300);
    expect(projectorAsks()).toBe(1);
  });

  it('says a change was set aside and waits for an admin, quoting its error, in English and Japanese', async () => {
    // As a newer release would write the entry: this one cannot read it, so the projector sets it aside.
    const outbox = new OutboxStore(stack.app.projectorStore);
    const [entry] = await outbox.list(10);
    await outbox.put({ server: entry!.server, commitId: entry!.commitId, writtenAt: entry!.writtenAt, payload: JSON.stringify({ v: 2, server: entry!.server }) });
    expect(await stack.projected()).toMatchObject({ held: 1 });
    expect((await get(stack, 'summary')).body.countsPending).toBe(true);

    for (const [locale, sentence] of [
      ['en-GB', /^Recent changes are still being counted, but the projector set 1 aside that it could not count \("This version cannot read the entry .*"\): they wait for an admin/],
      ['ja-JP', /^最近の変更をまだ集計していますが、プロジェクターが集計できなかった変更 1 件を保留しています \(「This version cannot read/],
    ] as const) {
      const { page, text } = await lineAfterTries(locale);
      await page.waitForFunction((sel) => /set 1 aside|1 件/.test((globalThis as unknown as PageDom).document.querySelector(sel)?.textContent ?? ''), PENDING_LINE);
      expect(await text(), locale).toMatch(sentence);
    }
  });
});
