// The Findings view's "Download CSV": in Chromium against the local host and Azurite, the file the
// browser saves holds every finding the view's filters select (not only the page shown), in the
// export's columns; a failure says why beside the button and can be tried again; a refused key
// goes back to the key form.
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_CSV_COLUMNS, UTF8_BOM } from '../../src/app/export-results';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { parseCsv } from '../support/csv';
import { drainOutbox } from '../support/drain';
import { openDashboardReady, showView } from '../support/dashboard-page';
import { getAll, post } from '../support/http';
import { alphaRule, betaRule, snapshot } from '../support/snapshots';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt } from './build';

const WARNING_HOSTS = ['DL1', 'DL2', 'DL3'];
/** A second rule that answers as test-alpha does: a rule filter then selects half of the findings. */
const gammaRule = { ...alphaRule, id: 'test-gamma' };

let stack: TestStack;
beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ rules: [alphaRule, gammaRule, betaRule] });
  for (const host of WARNING_HOSTS) expect((await post(stack, snapshot({ host, testState: 'Warning' }))).status).toBe(201);
  expect((await post(stack, snapshot({ host: 'DLERR', testState: 'Error' }))).status).toBe(201);
  expect((await post(stack, snapshot({ host: 'DLPASS', testState: 'Pass' }))).status).toBe(201);
  await drainOutbox(stack);
}, 120_000);
afterAll(async () => stack?.stop());

/** The saved file's rows by column name; the file keeps the export's byte-order mark, which Excel needs. */
function rowsOf(text: string): Record<string, string>[] {
  expect(text.startsWith(UTF8_BOM)).toBe(true);
  const [header, ...rows] = parseCsv(text.slice(UTF8_BOM.length));
  expect(header).toEqual([...RESULT_CSV_COLUMNS]);
  return rows.map((row) => Object.fromEntries(header!.map((c, i) => [c, row[i]!])));
}

const localDay = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const keysOf = (items: readonly { server: string; ruleId: string }[]) => items.map((r) => `${r.server}|${r.ruleId}`).sort();

describe('downloading the findings as CSV', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;

  async function findings(fragment: string, locale = 'en-GB'): Promise<{ page: Page; errors: string[] }> {
    const { page, errors } = await suite!.open(locale);
    await openDashboardReady(page, stack.baseUrl);
    await showView(page, fragment);
    await page.locator('table.findings tbody tr').first().waitFor();
    return { page, errors };
  }

  async function download(page: Page): Promise<{ name: string; text: string }> {
    const [file] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action="download-csv"]').click()]);
    return { name: file.suggestedFilename(), text: readFileSync((await file.path())!, 'utf8') };
  }

  it('saves every finding of the filters, beyond the page shown, as the export answers them', async () => {
    // One row a page: the file still holds all three warnings.
    const { page, errors } = await findings('#/findings?status=Warning&top=1');
    expect(await page.locator('table.findings tbody tr').count()).toBe(1);
    const before = localDay(new Date());
    const saved = await download(page);
    // Named by the day it was saved, in the browser's time zone (the machine's, as here).
    expect([before, localDay(new Date())].map((d) => `findings-${d}.csv`)).toContain(saved.name);
    const rows = rowsOf(saved.text);
    const list = await getAll(stack, 'results?status=Warning&top=1000');
    expect(list.items.length).toBeGreaterThanOrEqual(WARNING_HOSTS.length);
    expect(keysOf(rows.map((r) => ({ server: r.Server!, ruleId: r.RuleId! })))).toEqual(keysOf(list.items as { server: string; ruleId: string }[]));
    expect(new Set(rows.map((r) => r.Status))).toEqual(new Set(['Warning']));
    // Evidence comes with the file, as it does from the export.
    for (const r of rows) expect(JSON.parse(r.EvidenceJson!)).toBeTypeOf('object');
    expect(await page.locator('.download .error').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('holds Warning and Error alike when the view shows both, and the view’s rule alone when it names one', async () => {
    const both = await findings('#/findings');
    const all = rowsOf((await download(both.page)).text);
    expect(new Set(all.map((r) => r.Status))).toEqual(new Set(['Warning', 'Error']));
    expect(keysOf(all.map((r) => ({ server: r.Server!, ruleId: r.RuleId! })))).toEqual(keysOf((await getAll(stack, 'results?status=Warning,Error&top=1000')).items as { server: string; ruleId: string }[]));
    const one = await findings(`#/findings?rule=${alphaRule.id}`);
    const ruleRows = rowsOf((await download(one.page)).text);
    expect(ruleRows.length).toBeGreaterThan(0);
    expect(ruleRows.length).toBeLessThan(all.length);
    expect(new Set(ruleRows.map((r) => r.RuleId))).toEqual(new Set([alphaRule.id]));
  });

  it('says why a download failed beside the button, in Japanese too, and Try again saves the file', async () => {
    const { page, errors } = await findings('#/findings?status=Error', 'ja-JP');
    await page.selectOption('select[data-control="lang"]', 'ja');
    await page.locator('[data-action="download-csv"]', { hasText: 'CSV をダウンロード' }).waitFor();
    let refuse = true;
    await page.route(/\/export\/results\.csv/, (route) => (refuse ? route.fulfill({ status: 503, headers: { 'retry-after': '5' }, json: { error: 'storage_unavailable', message: 'Storage is busy.' } }) : route.continue()));
    await page.locator('[data-action="download-csv"]').click();
    const box = page.locator('.download .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('サービスまたはストレージが混雑しているか利用できません。5 秒後にもう一度お試しください。');
    expect(await page.locator('[data-action="download-csv"]').isDisabled()).toBe(false);
    refuse = false;
    const [file] = await Promise.all([page.waitForEvent('download'), box.locator('button').click()]);
    const rows = rowsOf(readFileSync((await file.path())!, 'utf8'));
    expect(rows.map((r) => r.Status)).toEqual(['Error', 'Error']);
    await expect.poll(() => page.locator('.download .error').count()).toBe(0);
    // The refused answer's console line is the browser's own; the page reported nothing else.
    expect(errors.filter((e) => !/503/.test(e))).toEqual([]);
  });

  it('takes a sign-in page that answers OK for no file, and a refused key back to the key form', async () => {
    const { page } = await findings('#/findings');
    await page.route(/\/export\/results\.csv/, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Sign in</title>' }));
    let downloads = 0;
    page.on('download', () => downloads++);
    await page.locator('[data-action="download-csv"]').click();
    const box = page.locator('.download .error[role="alert"]');
    await box.waitFor();
    expect(await box.locator('p').textContent()).toBe('The answer did not come from the fleet API (a sign-in page or a proxy in between, perhaps); sign in again or reload the page.');
    await page.unroute(/\/export\/results\.csv/);
    await page.route(/\/export\/results\.csv/, (route) => route.fulfill({ status: 401, json: { error: 'unauthorized', message: 'The key is not valid.' } }));
    await page.locator('[data-action="download-csv"]').click();
    await page.locator('.key-form').waitFor();
    expect(downloads).toBe(0);
  });
});
