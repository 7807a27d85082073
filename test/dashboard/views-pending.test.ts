// The list views while a post is still waiting to be counted, in Chromium against the local host
// and Azurite: Findings, Changes, a server's history and Configurations say so in the same line as
// the Fleet view, show what the projector has written so far (nothing of the post) without saying
// a list is empty, and once it has drained read their lists again by themselves, drop the line and
// say so of a list that really is empty. They ask only summary?only=countsPending, never the full
// summary. The projector runs only when a test drains (projectorIntervalMs: 0), as if the timer
// had not come round yet.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PENDING_RELOAD_MS } from '../../src/dashboard/web/counts-pending';
import { BROWSER_TIMEOUTS, type PageGlobals } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboard, showView } from '../support/dashboard-page';
import { get, post } from '../support/http';
import { snapshot } from '../support/snapshots';
import type { TestStack } from '../support/stack';
import { heldBackStack, PENDING_LINE } from './held-back-stack';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs } from '../support/drift';
import { RULES } from '../../src/rules/registry';
import { readFileSync } from 'node:fs';

const fixture = JSON.parse(readFileSync(`test/fixtures/port25/${DEFAULT_LIST}`, 'utf8')) as Record<string, unknown>;

const EN_LINE = 'Recent changes are still being counted; this view updates by itself in a moment.';
const JA_LINE = '最近の変更をまだ集計しています。この画面はまもなく自動で更新されます。';

const { stack: heldStack, postWaiting } = heldBackStack();

/** What the list views ask instead of the full summary (which the Fleet view reads). */
const PENDING_ASK = 'summary?only=countsPending';
const asks = (calls: readonly string[]) => calls.filter((c) => c === PENDING_ASK).length;
const fullSummaries = (calls: readonly string[]) => calls.filter((c) => c === 'summary').length;

/** The page's DOM as these callbacks use it (the tests' TypeScript config has Node's types). */
interface PageDom {
  readonly document: { querySelectorAll(selector: string): { length: number } };
}

/** Waits until every paged list in `scope` has loaded its first page (none is busy) and there are `lists` of them. */
async function listsLoaded(page: Page, scope: string, lists: number): Promise<void> {
  await page.waitForFunction(
    ([sel, n]) => {
      const d = (globalThis as unknown as PageDom).document;
      return d.querySelectorAll(`${sel} ol.events`).length === n && d.querySelectorAll(`${sel} [aria-busy]`).length === 0;
    },
    [scope, lists] as const,
  );
}

/**
 * From now on the page gets the answers its change lists are read from late: the stale servers
 * (read before the lists) and the new warnings and errors a second, every other events list half
 * a second more. Once the line has gone the old lists stay a while, then the new ones show
 * "Loading…" a while, one after the other, so a test that reads a list before it has loaded again
 * fails every time instead of now and then.
 */
async function slowLists(page: Page): Promise<void> {
  await page.route(/\/api\/(events|servers)\?/, async (route) => {
    const url = route.request().url();
    const late = url.includes('/api/events?') && !/[?&]status=/.test(url) ? 1500 : 1000;
    await new Promise((resolve) => setTimeout(resolve, late));
    await route.continue();
  });
}

/**
 * A view of `stack` with the reader key; `apiCalls` lists the API paths the page asked, in order,
 * the summary's with its query (which tells the full summary from the countsPending ask).
 */
async function openViewOf(chromium: ChromiumSuite, stack: TestStack, fragment: string, locale: string): Promise<{ page: Page; apiCalls: string[]; errors: string[]; close: () => Promise<void> }> {
  const { page, errors, close } = await chromium.open(locale);
  const apiCalls: string[] = [];
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/api/') && !p.startsWith('/api/dashboard')) apiCalls.push(p.slice('/api/'.length) + (p === '/api/summary' ? new URL(r.url()).search : ''));
  });
  await openDashboard(page, stack.baseUrl);
  // The page opens on the fleet view; the calls counted are the chosen view's.
  await page.locator('.fleet').waitFor();
  apiCalls.length = 0;
  await showView(page, fragment);
  return { page, apiCalls, errors, close };
}

describe('the list views while changes are still being counted, in Chromium', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  // Whatever a test left waiting is counted before the next one starts.
  const suite = chromiumSuite(() => heldStack().projected());
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  const openView = (fragment: string, locale: string) => openViewOf(chromium, heldStack(), fragment, locale);


  it('Findings: says the index is catching up over an empty list, then shows the post\'s finding and drops the line', async () => {
    const server = await postWaiting('WAITF1', 'Warning');
    const { page, apiCalls, errors } = await openView('#/findings', 'en-GB');
    const line = page.locator(`.findings-view ${PENDING_LINE}`);
    await line.waitFor();
    expect(await line.textContent()).toBe(EN_LINE);
    expect(await page.locator('table.findings tbody tr').count()).toBe(0);
    // The line says why the list is empty; "nothing matches" would contradict it.
    expect(await page.locator('.findings-view .table-status').textContent()).toBe('');
    // One ask, before the list it vouches for, and not the full summary.
    expect(asks(apiCalls)).toBe(1);
    expect(apiCalls.indexOf(PENDING_ASK)).toBeLessThan(apiCalls.indexOf('results'));

    await heldStack().projected();
    await line.waitFor({ state: 'detached' });
    const row = page.locator(`table.findings tbody tr[data-server="${server}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('Warning');
    expect(await row.getAttribute('data-rule')).toBe('test-alpha');

    // Caught up: it stops asking; one ask per try, never more, and never the full summary.
    const asked = asks(apiCalls);
    expect(asked).toBeGreaterThanOrEqual(2);
    // The list is read again once, after the ask that said the wait was over.
    expect(apiCalls.filter((c) => c === 'results')).toHaveLength(2);
    expect(apiCalls.lastIndexOf(PENDING_ASK)).toBeLessThan(apiCalls.lastIndexOf('results'));
    await page.waitForTimeout(PENDING_RELOAD_MS + 1000);
    expect(asks(apiCalls)).toBe(asked);
    expect(fullSummaries(apiCalls)).toBe(0);
    expect(errors).toEqual([]);
  });

  it('Changes: says so in Japanese over what is counted so far, then shows the post\'s change and drops the line', async () => {
    // A server counted before, so the list's first page is known to have loaded.
    expect((await post(heldStack(), snapshot({ host: 'WAITC0', testState: 'Warning' }))).status).toBe(201);
    const server = await postWaiting('WAITC1', 'Error');
    const { page, apiCalls, errors } = await openView('#/changes', 'ja-JP');
    const line = page.locator(`.changes-view ${PENDING_LINE}`);
    await line.waitFor();
    expect(await line.textContent()).toBe(JA_LINE);
    const newFailing = page.locator('[data-list="new-failing"]');
    await newFailing.locator('li.event[data-server="waitc0.corp.contoso.com"]').waitFor();
    expect(await newFailing.locator(`li.event[data-server="${server}"]`).count()).toBe(0);

    await slowLists(page);
    await heldStack().projected();
    await line.waitFor({ state: 'detached' });
    // Each list is read again on its own: each is waited for.
    const change = newFailing.locator(`li.event[data-server="${server}"]`);
    await change.waitFor();
    expect(await change.getAttribute('data-to')).toBe('Error');
    const inAll = page.locator(`[data-list="all-changes"] li.event[data-server="${server}"][data-to="Error"]`);
    await inAll.waitFor();
    expect(await inAll.count()).toBe(1);
    expect(asks(apiCalls)).toBeGreaterThanOrEqual(2);
    expect(fullSummaries(apiCalls)).toBe(0);
    expect(errors).toEqual([]);
  });

  it('Server: its own verdict shows at once; its history says it is catching up, then shows the change', async () => {
    const server = await postWaiting('WAITS1', 'Warning');
    const { page, apiCalls, errors } = await openView(`#/server/${encodeURIComponent(server)}`, 'en-GB');
    const line = page.locator(`.server-view ${PENDING_LINE}`);
    await line.waitFor();
    expect(await line.textContent()).toBe(EN_LINE);
    // The post wrote the verdict itself: no wait for it.
    expect(await page.locator('article.result[data-rule="test-alpha"]').getAttribute('data-status')).toBe('Warning');
    // The history's first page has loaded, empty, and says nothing of it under the line (a
    // server's first post always gives it history, so "nothing recorded" would be wrong).
    await listsLoaded(page, '.server-view', 1);
    expect(await page.locator('ol.timeline li.event').count()).toBe(0);
    expect(await page.locator('div:has(> ol.timeline) > .more').textContent()).toBe('');

    await heldStack().projected();
    await line.waitFor({ state: 'detached' });
    const entry = page.locator('ol.timeline li.event[data-to="Warning"]');
    await entry.waitFor();
    expect(await entry.count()).toBe(1);
    expect(await entry.textContent()).toContain('Test alpha');
    expect(asks(apiCalls)).toBeGreaterThanOrEqual(2);
    expect(fullSummaries(apiCalls)).toBe(0);
    expect(errors).toEqual([]);
  });
  it('Findings: says nothing matches only once the line has gone, not under it', async () => {
    const server = await postWaiting('EMPTYF1', 'Pass');
    const { page, errors } = await openView(`#/findings?server=${encodeURIComponent(server)}`, 'en-GB');
    const line = page.locator(`.findings-view ${PENDING_LINE}`);
    await line.waitFor();
    const status = page.locator('.findings-view .table-status');
    expect(await page.locator('table.findings tbody tr').count()).toBe(0);
    expect(await status.textContent()).toBe('');

    await heldStack().projected();
    await line.waitFor({ state: 'detached' });
    // The post passed: the list is really empty now, and says so.
    await page.locator('.findings-view .table-status p', { hasText: 'No warnings or errors match.' }).waitFor();
    expect(await page.locator('table.findings tbody tr').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('Changes: its empty lists say nothing under the line, then each says it is empty once the line has gone', async () => {
    await postWaiting('EMPTYC1', 'Error');
    // Nothing can have changed since a time to come: every list of changes is really empty.
    const since = new Date(Date.now() + 3_600_000).toISOString();
    const { page, errors } = await openView(`#/changes?since=${encodeURIComponent(since)}`, 'en-GB');
    const line = page.locator(`.changes-view ${PENDING_LINE}`);
    await line.waitFor();
    await listsLoaded(page, '.change-lists', 2);
    expect(await page.locator('.change-lists li').count()).toBe(0);
    // The servers that never reported are read from the keys and the stored snapshots, which no
    // post waits on: that list says it is empty under the line too. The lists that follow posts do not.
    await page.locator('[data-list="never-posted"] ~ .more p.muted', { hasText: 'Every server enrolled more than two hours ago has reported.' }).waitFor();
    const followingPosts = `.change-lists section:not(:has([data-list="never-posted"])) p`;
    expect(await page.locator(followingPosts).allTextContents()).toEqual([]);

    await slowLists(page);
    await heldStack().projected();
    await line.waitFor({ state: 'detached' });
    // The lists are read again after the line has gone: the sentences come once they have loaded.
    await page.locator('.change-lists p.muted', { hasText: /^No new warnings or errors since / }).waitFor();
    await page.locator('.change-lists p.muted', { hasText: /^No status changes since / }).waitFor();
    await listsLoaded(page, '.change-lists', 2);
    const said = await page.locator(`${followingPosts}.muted`).allTextContents();
    expect(said).toEqual([expect.stringMatching(/^No new warnings or errors since /), 'Every server is reporting.', expect.stringMatching(/^No status changes since /)]);
    expect(errors).toEqual([]);
  });
});

describe('the Configurations view while drift is being counted, in Chromium', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  // Drift needs a rule with configuration facts: this stack runs the real rule set.
  const { stack: driftStack, postWaitingBody } = heldBackStack(RULES);
  const suite = chromiumSuite(() => driftStack().projected());
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  const servers = async () => (await get(driftStack(), `drift?rule=${DRIFT_RULE}`)).body.servers as number;
  const emptySentence = 'No configuration is recorded for this rule yet';

  it('says no configuration is recorded only without the line: not while the first post is being counted', async () => {
    // Nothing posted, nothing waiting: the rule really has no configuration yet, and says so.
    expect(await servers()).toBe(0);
    const fresh = await openViewOf(chromium, driftStack(), `#/drift?rule=${DRIFT_RULE}`, 'en-GB');
    await fresh.page.locator('.drift p.muted', { hasText: emptySentence }).waitFor();
    expect(await fresh.page.locator(`.drift ${PENDING_LINE}`).count()).toBe(0);
    await fresh.close();

    await postWaitingBody(fixtureAs(fixture, 'WAITD9', Date.now() - 180_000));
    const { page, errors } = await openViewOf(chromium, driftStack(), `#/drift?rule=${DRIFT_RULE}`, 'en-GB');
    const line = page.locator(`.drift ${PENDING_LINE}`);
    await line.waitFor();
    expect(await page.locator('.drift-summary').textContent()).toContain('0 servers');
    expect(await page.locator('.drift p.muted', { hasText: emptySentence }).count()).toBe(0);

    await driftStack().projected();
    await line.waitFor({ state: 'detached' });
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('.drift-summary')?.textContent ?? '').includes('1 server'));
    expect(await page.locator('.drift p.muted', { hasText: emptySentence }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('says the drift counts are catching up, then counts the post\'s server and drops the line', async () => {
    // A server counted before (and the one of the test before), so the view has clusters to show while it waits.
    expect((await post(driftStack(), fixtureAs(fixture, 'WAITD0', Date.now() - 120_000))).status).toBe(201);
    expect(await servers()).toBe(2);
    await postWaitingBody(fixtureAs(fixture, 'WAITD1', Date.now() - 60_000));

    const { page, apiCalls, errors } = await openViewOf(chromium, driftStack(), `#/drift?rule=${DRIFT_RULE}`, 'en-GB');
    const line = page.locator(`.drift ${PENDING_LINE}`);
    await line.waitFor();
    expect(await line.textContent()).toBe(EN_LINE);
    const counted = page.locator('.drift-summary');
    expect(await counted.textContent()).toContain('2 servers');
    expect(apiCalls.indexOf(PENDING_ASK)).toBeLessThan(apiCalls.indexOf('drift'));

    await driftStack().projected();
    await line.waitFor({ state: 'detached' });
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('.drift-summary')?.textContent ?? '').includes('3 servers'));
    // Read again once, after the ask that said the wait was over; never the full summary.
    expect(apiCalls.filter((c) => c === 'drift')).toHaveLength(2);
    expect(apiCalls.lastIndexOf(PENDING_ASK)).toBeLessThan(apiCalls.lastIndexOf('drift'));
    expect(fullSummaries(apiCalls)).toBe(0);
    expect(errors).toEqual([]);
  });
});
