// The dashboard end to end: served by the local host over real HTTP, read in Debian's Chromium,
// against a demo fleet in Azurite. The page's numbers, links and texts are compared with what the
// API answers for the same fleet.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_TIMEOUTS, type PageGlobals } from '../support/chromium';
import { chromiumSuite, type ChromiumSuite } from '../support/chromium-suite';
import { showView } from '../support/dashboard-page';
import { dashboardUrl } from '../../src/local/main';
import { diffFacts } from '../../src/app/drift';
import { get, getAll } from '../support/http';
import { injectedError } from '../support/faults';
import { startTestStack, TEST_KEYS, type TestStack } from '../support/stack';
import type { StoragePolicy } from '../../src/store';
import { ensureDashboardBuilt, PUBLIC_DIR, ROOT } from './build';
import { CHANGED_SERVER, seedFleet, SILENT_SERVER, type SeededFleet } from './demo-fleet';

const RULE = 'mcafee-port25-blocked';
const ASSET_BUDGET_GZIP = 150 * 1024;
const RESULTS_DIR = path.join(ROOT, 'test-results');

const shift = { ms: 0 };
/** While above zero, each read of the rule index answers 503 with Retry-After: 1 and counts down: storage busy for a moment. */
const busy = { ruleIndexReads: 0, refused: 0 };
const busyPolicy: StoragePolicy = {
  name: 'testDashboardBusy',
  async sendRequest(request, next) {
    if (busy.ruleIndexReads > 0 && request.method === 'GET' && decodeURIComponent(request.url).includes('RuleIndex')) {
      busy.ruleIndexReads--;
      busy.refused++;
      throw injectedError(request, 503, 'Injected storage fault', (name) => (name.toLowerCase() === 'retry-after' ? '1' : undefined));
    }
    return next(request);
  },
};
let stack: TestStack;
let fleet: SeededFleet;

beforeAll(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack({ clock: () => Date.now() + shift.ms, storagePolicies: [busyPolicy] });
  fleet = await seedFleet(stack, shift);
}, 180_000);

afterAll(async () => stack?.stop());

describe('GET /api/dashboard over HTTP', () => {
  it('serves the page without a key, with a strict CSP, and with no inline script, style or handler', async () => {
    const res = await fetch(`${stack.baseUrl}/api/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="dashboard\/[\w.-]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
  });

  it('serves every file the page loads, and they weigh less than 150 KB gzipped', async () => {
    const names = readdirSync(PUBLIC_DIR).filter((n) => n !== 'index.html');
    let gzipped = gzipSync(readFileSync(path.join(PUBLIC_DIR, 'index.html'))).length;
    for (const name of names) {
      const res = await fetch(`${stack.baseUrl}/api/dashboard/${name}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-security-policy'), name).toContain("default-src 'self'");
      gzipped += gzipSync(Buffer.from(await res.arrayBuffer())).length;
    }
    // Every module another one imports is among the served files.
    const imports = names.filter((n) => n.endsWith('.js')).flatMap((n) => [...readFileSync(path.join(PUBLIC_DIR, n), 'utf8').matchAll(/\bfrom '\.\/([\w.-]+)'/g)].map((m) => m[1]!));
    expect(imports.length).toBeGreaterThan(0);
    for (const m of imports) expect(names).toContain(m);
    // The page names every module up front (modulepreload), so they load at once, not one import level at a time.
    const page = readFileSync(path.join(PUBLIC_DIR, 'index.html'), 'utf8');
    const named = [...page.matchAll(/<(?:link rel="modulepreload"|script type="module") (?:href|src)="dashboard\/([\w.-]+\.js)"/g)].map((m) => m[1]);
    expect(named.sort()).toEqual(names.filter((n) => n.endsWith('.js')).sort());
    expect(gzipped).toBeLessThan(ASSET_BUDGET_GZIP);
  });
});

interface Session {
  readonly page: Page;
  /** Every request the page made: URL and headers. */
  readonly requests: { url: string; headers: Record<string, string> }[];
  /** Uncaught errors and console errors of the page. */
  readonly errors: string[];
  violations(): Promise<string[]>;
  close(): Promise<void>;
}

const keyFragment = (key: string) => `#key=${encodeURIComponent(key)}`;

describe('the dashboard in Chromium', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  const chromium: ChromiumSuite = suite;

  /** A fresh browser context on the dashboard: a full URL, or the fragment to open it with. */
  async function open(target: string): Promise<Session> {
    const { page, errors, close } = await chromium.open('en-GB');
    await page.addInitScript(() => {
      const w = globalThis as unknown as PageGlobals;
      w.__violations = [];
      w.document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const requests: Session['requests'] = [];
    page.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
    await page.goto(target.startsWith('http') ? target : `${stack.baseUrl}/api/dashboard${target}`);
    return {
      page,
      requests,
      errors,
      violations: () => page.evaluate(() => (globalThis as unknown as PageGlobals).__violations),
      close,
    };
  }

  /** Runs `fn` on a fresh session, closed afterwards whatever happens. */
  async function inSession(target: string, fn: (s: Session) => Promise<void>): Promise<void> {
    const s = await open(target);
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  }

  const digits = (text: string | null) => Number((text ?? '').replace(/[^\d]/g, ''));

  it('shows the numbers of /api/summary, after taking the key out of the address bar', async () => {
    // The link the local host's banner prints.
    const url = dashboardUrl(`${stack.baseUrl}/api`, TEST_KEYS.reader);
    expect(url).toMatch(/\/api\/dashboard#key=/);
    await inSession(url, async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      // The servers enrolled that never reported come from a read of their own, which the view does not wait for.
      await s.page.locator('[data-metric="never-posted"]:not([aria-busy])').waitFor();
      const shown = new Map(await s.page.$$eval('[data-metric]', (els) => els.map((e) => [e.getAttribute('data-metric')!, e.textContent ?? ''] as [string, string])));
      const summary = (await get(stack, 'summary')).body;
      expect(summary.hosts).toBeGreaterThan(40);
      expect(digits(shown.get('hosts')!)).toBe(summary.hosts);
      expect(digits(shown.get('stale')!)).toBe(summary.staleHosts);
      expect(summary.staleHosts).toBe(1);
      expect(digits(shown.get('warnings')!)).toBe(summary.totals.Warning);
      expect(digits(shown.get('errors')!)).toBe(summary.totals.Error);
      expect(digits(shown.get('waived')!)).toBe(summary.waivedTotals.Warning + summary.waivedTotals.Error);
      expect(summary.waivedTotals.Warning).toBe(1);
      expect(digits(shown.get('activeWaivers')!)).toBe(summary.activeWaivers);
      expect(digits(shown.get('never-posted')!)).toBe((await get(stack, 'servers?neverPosted=true')).body.items.length);
      for (const r of summary.rules) for (const st of summary.statuses) expect(digits(shown.get(`${r.ruleId}:${st}`) ?? 'missing'), `${r.ruleId}:${st}`).toBe(r.counts[st]);
      // One bar segment per status present, titled with its count.
      const segments = await s.page.$$eval(`[data-rule="${RULE}"] svg.bar rect title`, (els) => els.map((e) => e.textContent));
      const rule = summary.rules.find((r: any) => r.ruleId === RULE);
      expect(segments).toEqual(summary.statuses.filter((st: string) => rule.counts[st] > 0).map((st: string) => expect.stringContaining(`: ${rule.counts[st]}`)));

      expect(s.page.url()).toBe(`${stack.baseUrl}/api/dashboard`);
      expect(await s.page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.getItem('posture.readerKey'))).toBe(TEST_KEYS.reader);
      const api = s.requests.filter((r) => r.url.includes('/api/') && !r.url.includes('/api/dashboard'));
      expect(api.length).toBeGreaterThan(0);
      for (const r of api) {
        expect(r.url).not.toContain(TEST_KEYS.reader);
        expect(r.headers['x-api-key']).toBe(TEST_KEYS.reader);
      }
      expect(s.errors).toEqual([]);
      expect(await s.violations()).toEqual([]);

      mkdirSync(RESULTS_DIR, { recursive: true });
      const png = await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-fleet.png'), fullPage: true });
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      // The README's picture (the page down to the end of the Fleet view): rewritten on request,
      // so an ordinary test run leaves the tree clean.
      if (process.env.POSTURE_UPDATE_SCREENSHOTS === '1') {
        const box = await s.page.locator('.fleet').boundingBox();
        const height = Math.ceil((box?.y ?? 0) + (box?.height ?? 600) + 24);
        writeFileSync(path.join(ROOT, 'docs', 'dashboard.png'), await s.page.screenshot({ clip: { x: 0, y: 0, width: 1280, height } }));
      }
    });
  });

  it('asks again by itself when storage is busy for a moment, and then shows the numbers', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      const answers: number[] = [];
      s.page.on('response', (r) => (r.url().endsWith('/api/summary') ? answers.push(r.status()) : undefined));
      // The store retries once itself, so two refused reads make the summary answer 503 once.
      busy.refused = 0;
      busy.ruleIndexReads = 2;
      await s.page.reload();
      await s.page.locator('[data-metric="hosts"]').waitFor();
      expect(busy.refused).toBe(2);
      expect(answers).toEqual([503, 200]);
      expect(digits(await s.page.locator('[data-metric="hosts"]').textContent())).toBe((await get(stack, 'summary')).body.hosts);
      expect(await s.page.locator('.error').count()).toBe(0);
    });
  });

  it('opens a Warning from the fleet chart as a server with its remediation', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator(`[data-metric="${RULE}:Warning"]`).click();
      const rows = s.page.locator('table.findings tbody tr');
      await rows.first().waitFor();
      expect(new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status'))))).toEqual(new Set(['Warning']));
      const warnings = await getAll(stack, `results?rule=${RULE}&status=Warning`);
      expect(await rows.count()).toBe(warnings.items.length);
      // The waived one is flagged.
      expect(await rows.evaluateAll((trs) => trs.filter((tr) => /waived/.test(tr.lastElementChild?.textContent ?? '')).map((tr) => tr.getAttribute('data-server')))).toEqual([fleet.waivedServer]);

      const server = (await rows.first().getAttribute('data-server'))!;
      await rows.first().locator('a.server-link').click();
      const card = s.page.locator(`.server-view[data-server="${server}"] article.result[data-rule="${RULE}"]`);
      await card.waitFor();
      const view = (await get(stack, `servers/${encodeURIComponent(server)}`)).body;
      const result = view.results.find((r: any) => r.ruleId === RULE);
      expect(result.status).toBe('Warning');
      expect(result.remediation.length).toBeGreaterThan(0);
      expect(await card.locator('ol.remediation li').allTextContents()).toEqual(result.remediation);
      expect(await card.locator('p.message').textContent()).toBe(result.message);
      expect(await card.getAttribute('data-status')).toBe('Warning');
      // Host facts and the last snapshot; the evidence as lists, its raw JSON one click away.
      const facts = await s.page.locator('dl.facts').textContent();
      expect(facts).toContain(view.host.name);
      expect(facts).toContain(view.lastSnapshotId);
      expect(await card.locator('.evidence dl.ev').count()).toBeGreaterThan(0);
      const raw = card.locator('details.raw');
      expect(await raw.locator('pre').isVisible()).toBe(false);
      await raw.locator('summary').click();
      expect(await raw.locator('pre').isVisible()).toBe(true);
      expect(JSON.parse((await raw.locator('pre').textContent())!)).toEqual(result);
      expect(s.errors).toEqual([]);
      await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-server.png'), fullPage: true });
    });
  });

  it('switches to Japanese: its own labels and the API\'s texts (Accept-Language: ja)', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      expect(await s.page.locator('nav a[data-view="fleet"]').textContent()).toBe('Fleet');
      const before = s.requests.length;
      await s.page.selectOption('select[data-control="lang"]', 'ja');
      await s.page.locator('nav a[data-view="fleet"]', { hasText: 'フリート' }).waitFor();
      const jaRules = (await get(stack, 'rules', { headers: { 'accept-language': 'ja' } })).body.rules;
      const title = jaRules.find((r: any) => r.id === RULE).title;
      expect(title).toBe('ポート 25 がブロックされている');
      await s.page.locator(`[data-rule="${RULE}"] h2`, { hasText: title }).waitFor();
      expect(await s.page.getAttribute('html', 'lang')).toBe('ja');
      expect(await s.page.locator('.metric .label').first().textContent()).toBe('サーバー');
      const summaryCall = s.requests.slice(before).find((r) => r.url.endsWith('/api/summary'));
      expect(summaryCall?.headers['accept-language']).toBe('ja');

      // A server's message and remediation come back in Japanese too.
      await showView(s.page, `#/server/${encodeURIComponent(CHANGED_SERVER)}`);
      const card = s.page.locator(`article.result[data-rule="${RULE}"]`);
      await card.waitFor();
      const ja = (await get(stack, `servers/${CHANGED_SERVER}`, { headers: { 'accept-language': 'ja' } })).body.results[0];
      expect(await card.locator('ol.remediation li').allTextContents()).toEqual(ja.remediation);
      expect(await card.locator('h4').first().textContent()).toBe('対処方法');
      await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-server-ja.png'), fullPage: true });

      await s.page.selectOption('select[data-control="lang"]', 'en');
      await s.page.locator('nav a[data-view="fleet"]', { hasText: 'Fleet' }).waitFor();
      await s.page.locator('article.result h4', { hasText: 'What to do' }).first().waitFor();
      expect(s.errors).toEqual([]);
    });
  });

  it('shows HTML and script from a snapshot as text and runs none of it', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await showView(s.page, `#/server/${encodeURIComponent(fleet.hostileServer)}`);
      const card = s.page.locator(`article.result[data-rule="${RULE}"]`);
      await card.waitFor();
      const img = `<img src=x onerror="window.__pwned='img'">`;
      const script = `<script>window.__pwned='script'</script>`;
      expect(await card.locator('p.message').textContent()).toContain(img + script);
      const evidence = (await card.locator('.evidence').textContent())!;
      expect(evidence).toContain(img);
      expect(evidence).toContain(script);
      await card.locator('details.raw summary').click();
      expect(await card.locator('details.raw pre').textContent()).toContain(img.replace(/"/g, '\\"'));
      // The same text in the findings list.
      await showView(s.page, `#/findings?server=${encodeURIComponent(fleet.hostileServer)}`);
      await s.page.locator(`table.findings tr[data-server="${fleet.hostileServer}"] td.message`, { hasText: script }).waitFor();

      expect(await s.page.$$eval('main img, main script, main iframe', (els) => els.length)).toBe(0);
      expect(await s.page.evaluate(() => (globalThis as unknown as PageGlobals).__pwned)).toBeUndefined();
      expect(s.requests.filter((r) => /\/x$/.test(r.url))).toEqual([]);
      expect(await s.violations()).toEqual([]);
      expect(s.errors).toEqual([]);
    });

    // The same evidence parsed as HTML (a page without our CSP) does run and does fetch: the
    // checks above would have seen an injection.
    await inSession(keyFragment(TEST_KEYS.reader), async (control) => {
      const line = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'hostile-evidence.json'), 'utf8')).files[0].tail as string;
      await control.page.route(`${stack.baseUrl}/control`, (r) => r.fulfill({ contentType: 'text/html', body: `<!doctype html><p>${line}</p>` }));
      await control.page.goto(`${stack.baseUrl}/control`);
      await control.page.waitForFunction(() => (globalThis as unknown as PageGlobals).__pwned === 'img');
      expect(control.requests.some((r) => r.url === `${stack.baseUrl}/x`)).toBe(true);
    });
  });

  it('refuses a wrong, a revoked and a server key with a clear message, and takes another', async () => {
    await inSession(keyFragment('not-a-key'), async (s) => {
      const note = s.page.locator('form.key-form .error');
      await note.waitFor();
      expect(await note.textContent()).toBe('The key was refused (unauthorized): The key is not valid. Enter another key.');
      expect(await s.page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.getItem('posture.readerKey'))).toBeNull();
      await s.page.fill('#key', TEST_KEYS.reader);
      await s.page.click('form.key-form button[type="submit"]');
      await s.page.locator('[data-metric="hosts"]').waitFor();

      const revoked = await stack.serverKey('revoked01.corp.contoso.com');
      const del = await stack.request('servers/revoked01.corp.contoso.com/key', { method: 'DELETE', key: 'admin' });
      expect(del.status).toBe(200);
      await s.page.click('button[data-action="change-key"]');
      await s.page.fill('#key', revoked);
      await s.page.click('form.key-form button[type="submit"]');
      await s.page.locator('form.key-form .error', { hasText: 'key_revoked' }).waitFor();
      expect(await note.textContent()).toContain('This server key was revoked');

      await s.page.fill('#key', await stack.serverKey(CHANGED_SERVER));
      await s.page.click('form.key-form button[type="submit"]');
      await s.page.locator('form.key-form .error', { hasText: 'cannot read fleet data' }).waitFor();
      expect(await note.textContent()).toMatch(/^This key cannot read fleet data: This is the server key of changed01\.corp\.contoso\.com; .* Enter a reader or admin key\.$/);

      await s.page.fill('#key', TEST_KEYS.admin);
      await s.page.click('form.key-form button[type="submit"]');
      await s.page.locator('[data-metric="hosts"]').waitFor();
      expect(s.errors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
    });
  });

  it('lists changes since a time (new failures first) and the servers not reporting', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await s.page.locator('[data-metric="stale"]').click();
      const stale = s.page.locator('[data-list="stale"] li');
      await stale.first().waitFor();
      expect(await stale.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-server')))).toEqual([SILENT_SERVER]);

      const failing = s.page.locator('[data-list="new-failing"] li.event');
      await failing.first().waitFor();
      const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
      const api = (await get(stack, `events?since=${since}&status=Warning,Error&top=50`)).body.items;
      const shown = await failing.evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-server')} ${li.getAttribute('data-to')}`));
      expect(shown).toEqual(api.map((e: any) => `${e.server} ${e.toStatus}`));
      expect(shown).toContain(`${CHANGED_SERVER} Error`);
      const change = failing.filter({ has: s.page.locator(`a[href="#/server/${CHANGED_SERVER}"]`) }).first();
      expect(await change.locator('.badge').allTextContents()).toEqual(['Pass', 'Error']);
      // The silent server changed two days ago: not in the last 24 hours.
      expect(shown.some((x) => x.startsWith(SILENT_SERVER))).toBe(false);
      await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-changes.png'), fullPage: true });
    });
  });

  /**
   * The Changes view's whole event list (every page, through "Load more") as `<server> <toStatus>
   * <cause>` lines; with `kind`, once the list of that kind is shown.
   */
  async function changesShown(page: Page, kind?: string): Promise<string[]> {
    const list = page.locator(kind ? `[data-list="all-changes"][data-kind="${kind}"]` : '[data-list="all-changes"]');
    const entries = list.locator('li.event');
    await entries.first().waitFor();
    const more = page.locator('[data-list="all-changes"] + .more button');
    for (let pages = 1; (await more.count()) > 0 && pages < 20; pages++) {
      await more.click();
      await page.locator('[data-list="all-changes"] + .more', { hasNotText: 'Loading' }).waitFor({ state: 'attached' });
    }
    return entries.evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-server')} ${li.getAttribute('data-to')} ${li.querySelector('.cause')?.textContent}`));
  }

  /** The `since` the page asked `/api/events` for (the page computes "the last 24 hours" itself). */
  function sinceAsked(s: Session): string {
    const call = s.requests.map((r) => new URL(r.url)).filter((u) => u.pathname.endsWith('/api/events') && !u.searchParams.has('status')).pop();
    expect(call, 'the page asked for events').toBeDefined();
    return call!.searchParams.get('since')!;
  }

  const eventLines = async (query: string) =>
    ((await getAll(stack, `events?${query}&top=50`)).items as any[]).map((e) => `${e.server} ${e.toStatus ?? ''} ${causeLabel[e.cause as string] ?? e.cause}`);
  /** The page's English words for the API's causes. */
  const causeLabel: Record<string, string> = {
    snapshot: 'snapshot',
    'rule-change': 'rule change',
    stale: 'stopped reporting',
    returned: 'reporting again',
    'waiver-created': 'waiver created',
    'waiver-changed': 'waiver changed',
    'waiver-expired': 'waiver expired',
    'waiver-deleted': 'waiver deleted',
    'baseline-set': 'baseline set',
    'baseline-changed': 'baseline changed',
    'baseline-deleted': 'baseline cleared',
  };

  it('lists status changes on the Changes view by default, without the waiver and baseline audit records', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await showView(s.page, '#/changes');
      const shown = await changesShown(s.page);
      const since = encodeURIComponent(sinceAsked(s));
      // The fleet holds an audit record in the same window: the waiver the seed created through the API.
      const audit = await eventLines(`since=${since}&kind=waiver`);
      expect(audit).toContain(`${fleet.waivedServer}  waiver created`);

      expect(shown).toEqual(await eventLines(`since=${since}&kind=status`));
      expect(shown).toContain(`${CHANGED_SERVER} Error snapshot`);
      expect(shown.filter((l) => / (waiver|baseline) /.test(l))).toEqual([]);
      expect(await s.page.locator('[data-list="all-changes"] li.event[data-kind="status"]').count()).toBe(shown.length);
      expect(await s.page.locator('section.panel h2').allTextContents()).toContain('Status changes');
      expect(await s.page.inputValue('select[data-control="kind"]')).toBe('status');
      expect(s.errors).toEqual([]);
    });
  });

  it('shows the audit records when the Changes filter asks for them, and keeps the filter in the address', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      const since = new Date(Date.now() - 6 * 3_600_000).toISOString();
      await showView(s.page, `#/changes?since=${encodeURIComponent(since)}`);
      await changesShown(s.page, 'status');
      await s.page.selectOption('select[data-control="kind"]', 'waiver');
      const waivers = await changesShown(s.page, 'waiver');
      expect(waivers).toEqual(await eventLines(`since=${encodeURIComponent(since)}&kind=waiver`));
      expect(waivers).toContain(`${fleet.waivedServer}  waiver created`);
      expect(waivers.some((l) => / snapshot$/.test(l))).toBe(false);
      // The fragment holds the filter beside the time, so a reload (or a bookmark) shows the same.
      const url = new URL(s.page.url());
      const params = new URLSearchParams(url.hash.replace(/^#\/changes\?/, ''));
      expect(params.get('kind')).toBe('waiver');
      expect(params.get('since')).toBe(since);
      await s.page.reload();
      expect(await changesShown(s.page, 'waiver')).toEqual(waivers);
      expect(await s.page.inputValue('select[data-control="kind"]')).toBe('waiver');
      expect(await s.page.locator('section.panel h2').allTextContents()).toContain('Waiver records (audit)');

      // "All events" puts both kinds in one list, as the API answers without a kind.
      await s.page.selectOption('select[data-control="kind"]', 'all');
      const all = await changesShown(s.page, 'all');
      expect(all).toEqual(await eventLines(`since=${encodeURIComponent(since)}`));
      expect(all).toEqual(expect.arrayContaining([`${CHANGED_SERVER} Error snapshot`, `${fleet.waivedServer}  waiver created`]));
      expect(s.errors).toEqual([]);
    });
  });

  it('says which kind of event the Changes view found none of', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      // A time nothing can have happened after yet.
      const later = new Date(Date.now() + 24 * 3_600_000).toISOString();
      await showView(s.page, `#/changes?since=${encodeURIComponent(later)}`);
      const empty = s.page.locator('[data-list="all-changes"] + .more p');
      await empty.filter({ hasNotText: 'Loading' }).waitFor();
      expect(await empty.textContent()).toMatch(/^No status changes since .+\.$/);
      expect(await s.page.locator('[data-list="new-failing"] + .more p').textContent()).toMatch(/^No new warnings or errors since .+\.$/);
      await showView(s.page, `#/changes?since=${encodeURIComponent(later)}&kind=waiver`);
      await s.page.locator('[data-list="all-changes"][data-kind="waiver"] + .more p', { hasNotText: 'Loading' }).waitFor();
      expect(await s.page.locator('[data-list="all-changes"] + .more p').textContent()).toMatch(/^No waiver records since .+\.$/);
    });
  });

  it('filters and pages the findings with the API\'s continuation tokens', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await showView(s.page, '#/findings?top=5');
      const rows = s.page.locator('table.findings tbody tr');
      const serversOf = () => rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-server')} ${tr.getAttribute('data-status')}`));
      await rows.first().waitFor();
      const pages: string[][] = [];
      let token: string | null = null;
      do {
        const r: any = await get(stack, `results?status=Warning,Error&top=5${token ? `&continuationToken=${token}` : ''}`);
        pages.push(r.body.items.map((i: any) => `${i.server} ${i.status}`));
        token = r.body.continuationToken;
      } while (token && pages.length < 3);
      expect(pages.length).toBeGreaterThan(1);
      expect(await serversOf()).toEqual(pages[0]);
      await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-findings.png'), fullPage: true });
      await s.page.click('[data-action="next-page"]');
      await s.page.locator('.pager', { hasText: 'Page 2' }).waitFor();
      expect(await serversOf()).toEqual(pages[1]);
      await s.page.click('.pager button:has-text("Previous page")');
      await s.page.locator('.pager', { hasText: 'Page 1' }).waitFor();
      expect(await serversOf()).toEqual(pages[0]);

      // The filter form writes the fragment; the table follows it.
      await s.page.fill('.filters input[name="server"]', CHANGED_SERVER);
      await s.page.selectOption('.filters select[name="status"]', 'Error');
      await s.page.click('.filters button[type="submit"]');
      // The server may already be on the page before the filter: wait for the filtered table itself.
      await expect.poll(serversOf, { timeout: 10_000 }).toEqual([`${CHANGED_SERVER} Error`]);
      expect(s.page.url()).toContain(`server=${encodeURIComponent(CHANGED_SERVER)}`);
      expect(s.page.url()).toContain('status=Error');
    });
  });

  it('reads a time without a zone in the findings fragment as the browser\'s local time, not as an error', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await showView(s.page, '#/findings?since=2020-01-01T00:00&top=5');
      await s.page.locator('table.findings tbody tr').first().waitFor();
      expect(await s.page.locator('.error').count()).toBe(0);
      const asked = s.requests.map((r) => new URL(r.url)).filter((u) => u.pathname.endsWith('/api/results')).pop();
      const since = asked?.searchParams.get('since') ?? '';
      expect(since).toMatch(/Z$/);
      const local = await s.page.evaluate(() => new Date('2020-01-01T00:00').toISOString());
      expect(since).toBe(local);
    });
  });

  it('shows the configurations of a rule as the drift API counts them, against the largest or a baseline', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator(`[data-rule="${RULE}"] a[data-action="drift"]`).click();
      const panels = s.page.locator('section.cluster');
      await panels.first().waitFor();
      const api = (await get(stack, `drift?rule=${RULE}`)).body;
      expect(api.configurations).toBeGreaterThan(5);
      expect(await panels.count()).toBe(api.clusters.length);
      const shown = await panels.evaluateAll((els) => els.map((e) => ({ fp: e.getAttribute('data-fingerprint'), servers: e.querySelector('[data-metric$=":servers"]')?.textContent, sample: [...e.querySelectorAll('a.server-link')].map((a) => a.getAttribute('data-server')) })));
      expect(shown).toEqual(api.clusters.map((c: any) => ({ fp: c.fingerprint, servers: String(c.servers), sample: c.sample })));
      // The largest is the reference; every other cluster lists exactly the facts in which it differs from it.
      expect(await panels.first().getAttribute('class')).toContain('reference');
      for (const [i, c] of api.clusters.entries()) {
        if (i === 0) continue;
        const fields = await panels.nth(i).locator('table.facts-diff tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-field')));
        expect(fields).toEqual(diffFacts(c.facts, api.clusters[0].facts).map((d) => d.field));
      }
      expect(await s.page.locator('.drift-summary').textContent()).toContain(`${api.servers} servers in ${api.configurations} configurations`);
      await s.page.screenshot({ path: path.join(RESULTS_DIR, 'dashboard-drift.png'), fullPage: true });

      // A baseline named by an admin becomes the reference.
      const odd = api.clusters[api.clusters.length - 1];
      const put = await stack.request(`baselines/${RULE}`, { method: 'PUT', key: 'admin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ server: odd.sample[0], setBy: 'dashboard-test' }) });
      expect(put.status).toBe(201);
      try {
        await s.page.reload();
        await s.page.locator(`.against[data-baseline="${odd.sample[0]}"]`).waitFor();
        const reference = s.page.locator('section.cluster.reference');
        expect(await reference.count()).toBe(1);
        expect(await reference.getAttribute('data-fingerprint')).toBe(odd.fingerprint);
        expect(await reference.locator('.reference-badge').textContent()).toBe('baseline');
        const firstFields = await panels.first().locator('table.facts-diff tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-field')));
        expect(firstFields).toEqual(diffFacts(api.clusters[0].facts, odd.facts).map((d) => d.field));

        // With the baseline's cluster on a later page, the page says the largest is the reference.
        await showView(s.page, `#/drift?rule=${RULE}&top=1`);
        await s.page.locator('.against', { hasText: 'not among those shown' }).waitFor();
        expect(await s.page.locator('.against').getAttribute('data-baseline')).toBe('');
        expect(await s.page.locator('.against').textContent()).toContain(odd.sample[0]);
        expect(await panels.count()).toBe(1);
        expect(await panels.first().getAttribute('data-fingerprint')).toBe(api.clusters[0].fingerprint);
        expect(await panels.first().locator('.reference-badge').textContent()).toBe('largest');
      } finally {
        expect((await stack.request(`baselines/${RULE}`, { method: 'DELETE', key: 'admin' })).status).toBe(200);
      }
      expect(s.errors).toEqual([]);
      expect(await s.violations()).toEqual([]);
    });
  });

  it('draws a server\'s history as a timeline', async () => {
    await inSession(keyFragment(TEST_KEYS.reader), async (s) => {
      await s.page.locator('[data-metric="hosts"]').waitFor();
      await showView(s.page, `#/server/${CHANGED_SERVER}`);
      const entries = s.page.locator('ol.timeline li.event');
      await entries.first().waitFor();
      const history = (await get(stack, `servers/${CHANGED_SERVER}/history`)).body.items;
      expect(history.length).toBe(2);
      expect(await entries.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-to')))).toEqual(history.map((e: any) => e.toStatus));
      expect(await entries.first().locator('.message').textContent()).toBe(history[0].message);
    });
  });
});
