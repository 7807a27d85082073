// A server an admin removed (DELETE /api/servers/{server}), in Chromium against the local host and
// Azurite: the server route answers 404 for it, but its History stays, ending with the removal.
// The Server view says it was removed (when, by whom) and shows that history instead of an error;
// the removal's change is named in the page's language (English and Japanese) with a badge of its
// own, in the timeline and on the Changes view, whose link leads to that view. The Drift view says
// why the removed server, still named as the baseline, is not the reference. A name that is no
// server still gets the API's error, without a button to ask again.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboardAt, showView } from '../support/dashboard-page';
import { DEFAULT_LIST, fixtureAs, REMOVED, serverIdOf } from '../support/drift';
import { get, post, type Json } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

const GONE = serverIdOf('GONE01');
const KEPT = serverIdOf('KEPT01');
const REMOVED_BY = 'ciso@contoso.com';
const RULE = 'mcafee-port25-blocked';
const MIN = 60_000;

/** The page's errors but the console's note of the server route's 404, which the view asks first. */
const unexpected = (errors: readonly string[]) => errors.filter((e) => !/responded with a status of 404/.test(e));

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/port25/${name}`, 'utf8')) as Record<string, unknown>;

let stack: TestStack;
/** GONE's history as the API answers it after the removal, in English and in Japanese. */
const history: { en: Json[]; ja: Json[] } = { en: [], ja: [] };

beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack();
  const now = Date.now();
  // GONE changes status once before it is removed, so its history holds more than the removal.
  for (const [host, list, at] of [['GONE01', DEFAULT_LIST, now - 10 * MIN], ['GONE01', REMOVED, now - 5 * MIN], ['KEPT01', DEFAULT_LIST, now - 5 * MIN]] as const) {
    const r = await post(stack, fixtureAs(fixture(list), host, at));
    if (r.status !== 201) throw new Error(`Posting ${host} failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
  // GONE is the rule's drift baseline when it is removed, and stays named.
  await stack.projected();
  const baseline = await stack.request(`baselines/${RULE}`, { method: 'PUT', key: 'admin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ server: GONE, setBy: REMOVED_BY }) });
  if (baseline.status !== 201) throw new Error(`Naming the baseline failed: ${baseline.status} ${await baseline.text()}`);
  const removal = await stack.request(`servers/${GONE}?removedBy=${encodeURIComponent(REMOVED_BY)}`, { method: 'DELETE', key: 'admin' });
  if (removal.status !== 200) throw new Error(`The removal failed: ${removal.status} ${await removal.text()}`);
  await stack.projected();
  history.en = (await get(stack, `servers/${GONE}/history`)).body.items;
  history.ja = (await get(stack, `servers/${GONE}/history`, { headers: { 'accept-language': 'ja' } })).body.items;
}, 180_000);

afterAll(async () => stack?.stop());

describe('a removed server on the dashboard', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  const openAt = (fragment: string, locale: string) => openDashboardAt(chromium, stack.baseUrl, fragment, locale);

  it('the setup: the server route refuses the removed server, its history ends with the removal', async () => {
    expect((await get(stack, `servers/${GONE}`)).status).toBe(404);
    expect(history.en.map((e) => e.toStatus)).toEqual(['Removed', 'Warning', 'Pass']);
    expect(history.en[0]).toMatchObject({ cause: 'removed', ruleId: null });
    expect(history.en[0].message).toContain(REMOVED_BY);
  });

  it('shows when and by whom the server was removed, and its whole history, instead of an error', async () => {
    const { page, errors } = await openAt(`#/server/${GONE}`, 'en-GB');
    const view = page.locator(`.removed-server[data-server="${GONE}"]`);
    await view.waitFor();
    expect(await page.locator('main .error').count()).toBe(0);
    expect(await view.locator('h1 .flag').textContent()).toBe('removed');
    const removal = history.en[0];
    expect(await view.locator('.removed-at time').getAttribute('datetime')).toBe(removal.firstSeen);
    expect(await view.locator('.removed-at').textContent()).toMatch(/^Removed from the fleet on .+\.$/);
    expect(await view.locator('.removal-message').textContent()).toBe(removal.message);

    const entries = view.locator('ol.timeline li.event');
    await entries.nth(history.en.length - 1).waitFor();
    expect(await entries.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-to')))).toEqual(history.en.map((e) => e.toStatus));
    const first = entries.first();
    expect(await first.locator('.badge').last().getAttribute('class')).toBe('badge status-Removed');
    expect(await first.locator('.badge').last().textContent()).toBe('Removed');
    expect(await first.locator('.cause').textContent()).toBe('removed from the fleet');
    expect(unexpected(errors)).toEqual([]);
  });

  it('names the removal in Japanese on the Changes view, and its link opens the removed server', async () => {
    const { page, errors } = await openAt('#/changes', 'ja-JP');
    const row = page.locator(`[data-list="all-changes"] li.event[data-server="${GONE}"][data-to="Removed"]`);
    await row.waitFor();
    expect(await row.locator('.badge').last().getAttribute('class')).toBe('badge status-Removed');
    expect(await row.locator('.badge').last().textContent()).toBe('削除済み');
    // The status it went from (a reporting server), too, is Japanese, not the API's English name.
    expect(await row.locator('.badge').first().textContent()).toBe('報告再開');
    expect(await row.locator('.cause').textContent()).toBe('フリートから削除');

    await row.locator('a.server-link').click();
    const view = page.locator(`.removed-server[data-server="${GONE}"]`);
    await view.waitFor();
    expect(await view.locator('h1 .flag').textContent()).toBe('削除済み');
    expect(await view.locator('.removed-at').textContent()).toMatch(/^.+ にフリートから削除されました。$/);
    expect(await view.locator('.removal-message').textContent()).toBe(history.ja[0].message);
    expect(history.ja[0].message).toContain(REMOVED_BY);
    await view.locator('ol.timeline li.event').nth(history.ja.length - 1).waitFor();
    expect(await view.locator('ol.timeline li.event .badge').allTextContents()).toEqual(['報告再開', '削除済み', '合格', '警告', '合格']);
    expect(unexpected(errors)).toEqual([]);
  });

  it('says on the Drift view, in English and Japanese, that the removed baseline server has no configuration recorded', async () => {
    const api = (await get(stack, `drift?rule=${RULE}`)).body;
    expect(api.baseline).toMatchObject({ server: GONE, fingerprint: null });
    for (const [locale, text] of [
      ['en-GB', `The baseline server ${GONE} (named by ${REMOVED_BY}, `],
      ['ja-JP', `基準サーバー ${GONE} (${REMOVED_BY} が指定、`],
    ] as const) {
      const { page, errors } = await openAt(`#/drift?rule=${RULE}`, locale);
      const against = page.locator('.drift .against');
      await against.waitFor();
      const said = (await against.textContent()) ?? '';
      expect(said.startsWith(text), said).toBe(true);
      expect(said).toContain(locale === 'en-GB' ? 'has no configuration recorded for this rule (removed from the fleet' : 'この規則の構成が記録されていません');
      expect(await against.getAttribute('data-baseline')).toBe('');
      expect(await page.locator('section.cluster.reference .reference-badge').textContent()).toBe(locale === 'en-GB' ? 'largest' : '最大');
      expect(unexpected(errors)).toEqual([]);
    }
  });

  it('still shows the API\'s error for a server that is not known, and the view of a server that stays', async () => {
    const { page } = await openAt(`#/server/nobody.corp.contoso.com`, 'en-GB');
    const error = page.locator('main .error');
    await error.waitFor();
    const answer = await get(stack, 'servers/nobody.corp.contoso.com');
    expect(answer.status).toBe(404);
    expect(await error.locator('p').textContent()).toBe(`The request failed (404 not_found): ${answer.body.message}`);
    // Asking again cannot make an unknown server known: no "Try again" button.
    expect(await error.locator('button').count()).toBe(0);
    expect(await page.locator('.removed-server').count()).toBe(0);

    await showView(page, `#/server/${KEPT}`);
    await page.locator(`.server-view[data-server="${KEPT}"] article.result`).first().waitFor();
    expect(await page.locator('.removed-server').count()).toBe(0);
  });
});
