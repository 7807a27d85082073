// The Configurations and Fleet views while a re-evaluation after a rule change has not finished,
// in Chromium against a local host and Azurite: the rule's new version names one more fact, so the
// one configuration of the fleet shows as two clusters until every server is re-evaluated, and a
// line above them says why; the Fleet view's panel of the rule says its counts may still move;
// once the pass is done, one cluster and no line on either view. A second local host loads
// the new rule and runs the re-evaluation one server per batch; projectors run only when a test
// drains (projectorIntervalMs: 0), so the drift holds exactly what the test had projected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../src/local/host';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { openDashboard } from '../support/dashboard-page';
import { DEFAULT_LIST, DRIFT_RULE, fixtureAs, startNewRuleHost } from '../support/drift';
import { post } from '../support/http';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import { readFixture } from '../rules/mcafee-port25-blocked/fixture-table';
import { ensureDashboardBuilt } from './build';

const NOTICE = '[data-notice="reevaluation-pending"]';
let stack: TestStack;
let v2: LocalHost;

const admin = async (job: string) => {
  const r = await fetch(`${v2.baseUrl}/api/jobs/${job}/run`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.admin } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { result: { status?: string } }).result;
};

beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ settings: { POSTURE_REEVALUATE_BATCH_SIZE: '1' }, projectorIntervalMs: 0 });
  for (const [i, host] of ['RV01', 'RV02'].entries()) {
    const r = await post(stack, fixtureAs(readFixture(DEFAULT_LIST) as Record<string, unknown>, host, Date.now() - 60 * 60_000 + i * 60_000));
    expect(r.status).toBe(201);
  }
  v2 = await startNewRuleHost(stack);
}, 180_000);
afterAll(async () => {
  await v2?.close();
  await stack?.stop();
});

describe('the Configurations view during a re-evaluation', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  async function clusters(): Promise<{ sizes: (string | null)[]; notice: string | null }> {
    const { page } = await chromium.open('en-GB');
    await openDashboard(page, v2.baseUrl);
    await page.goto(`${v2.baseUrl}/api/dashboard#/drift?rule=${DRIFT_RULE}`);
    const panels = page.locator('section.cluster');
    await panels.first().waitFor();
    const notice = page.locator(NOTICE);
    return {
      sizes: await panels.evaluateAll((els) => els.map((e) => e.querySelector('[data-metric$=":servers"]')?.textContent ?? null)),
      notice: (await notice.count()) > 0 ? await notice.textContent() : null,
    };
  }

  /** The Fleet view's re-evaluation line per rule panel, in the browser's language (no choice saved). */
  async function fleetNotices(locale: string): Promise<Record<string, string | null>> {
    const { page } = await chromium.open(locale);
    await openDashboard(page, v2.baseUrl);
    await page.goto(`${v2.baseUrl}/api/dashboard#/fleet`);
    const panels = page.locator('section.rule');
    await panels.first().waitFor();
    return Object.fromEntries(await panels.evaluateAll((els, sel) => els.map((e) => [e.getAttribute('data-rule') ?? '', e.querySelector(sel)?.textContent ?? null]), NOTICE));
  }

  it('says one configuration may show as two clusters, and the rule\'s counts may move, while the pass is owed, and nothing once it is done', async () => {
    expect(await admin('reevaluate')).toMatchObject({ status: 'progress' });
    await admin('projector');
    const during = await clusters();
    expect(during.sizes).toEqual(['1', '1']);
    expect(during.notice).toMatch(/re-evaluated against version 2\.0\.0 .* two clusters/);
    const fleet = await fleetNotices('en-GB');
    expect(fleet[DRIFT_RULE]).toMatch(/re-evaluated against version 2\.0\.0 of this rule: .*counts may move/);
    // Only the changed rule's panel says so.
    expect(Object.entries(fleet).filter(([id, line]) => id !== DRIFT_RULE && line !== null)).toEqual([]);
    expect((await fleetNotices('ja-JP'))[DRIFT_RULE]).toMatch(/バージョン 2\.0\.0 による再評価/);

    for (let i = 0; i < 10 && (await admin('reevaluate')).status !== 'done'; i++);
    await admin('projector');
    expect(await clusters()).toEqual({ sizes: ['2'], notice: null });
    expect(Object.values(await fleetNotices('en-GB')).filter((line) => line !== null)).toEqual([]);
  });
});
