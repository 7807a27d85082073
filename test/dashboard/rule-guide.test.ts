// Every reason code of every rule has a section in its guide (docs/rules/<rule>.md) that says what
// to do, every result links to that section, and the link resolves on the running local host: the
// build turns the guide into a page the dashboard serves, with the section's id in it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedUrl } from '../../src/app/route-prefix';
import { guideReference } from '../../src/rules/guide';
import { RULES } from '../../src/rules/registry';
import { anchorsOf, renderGuide } from '../../scripts/markdown.cjs';
import { BROWSER_TIMEOUTS } from '../support/chromium';
import { chromiumSuite } from '../support/chromium-suite';
import { openDashboard, showView } from '../support/dashboard-page';
import { get, post } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { ensureDashboardBuilt, ROOT } from './build';

const guideOf = (ruleId: string) => readFileSync(path.join(ROOT, 'docs', 'rules', `${ruleId}.md`), 'utf8');

/** The text of the section under `### <heading>`, up to the next heading of level 1-3. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n### ${heading}\n`);
  if (start < 0) return '';
  const rest = markdown.slice(start + heading.length + 6);
  const end = rest.search(/\n#{1,3} /);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('rule guides', () => {
  for (const rule of RULES) {
    describe(rule.id, () => {
      it('has a guide', () => {
        expect(rule.guide).toBe(true);
      });

      it('has a section for every reason code, which names its status and what to do', () => {
        const markdown = guideOf(rule.id);
        const anchors = anchorsOf(markdown);
        for (const [code, status] of Object.entries(rule.reasonCodes)) {
          const url = guideReference(rule.id, code, servedUrl).url!;
          expect(anchors.has(url.split('#')[1]!), `${code}: ${url}`).toBe(true);
          const text = section(markdown, code).replace(/\s+/g, ' ');
          expect(text, code).toContain(`**${status}.**`);
          // A finding says how to check the fix; a non-finding says whether anything is to be done.
          if (status === 'Warning' || status === 'Error' || status === 'Unknown') expect(text, code).toMatch(/Check: collect again/);
          else expect(text, code).toMatch(/Nothing to do|Nothing to do for mail/);
        }
      });
    });
  }

  it('the port-25 guide gives both remediations, prefers the exclusion, and warns about ePO', () => {
    const text = section(guideOf('mcafee-port25-blocked'), 'SmtpNotExcluded');
    expect(text).toMatch(/Consider disabling the rule/);
    expect(text).toMatch(/Exclude the Exchange SMTP process/);
    expect(text).toMatch(/Prefer the exclusion[\s\S]*worm protection stays/);
    expect(text).toMatch(/ePO policy[\s\S]*undone by\s+the next policy push/);
    expect(text).toMatch(/turns `Pass` with `SmtpExcluded`/);
  });

  it('the section finder fails on a missing heading (the check works)', () => {
    expect(section('# A\n### One\ntext\n### Two\n', 'Three')).toBe('');
    expect(section('# A\n### One\ntext\n### Two\n', 'One')).toBe('text');
  });

  it('renders a guide without scripts, styles or raw HTML, and repository links as text', () => {
    const html = renderGuide('# T\n\n### `Code`\n\n<script>alert(1)</script>\n\nsee [api](../api.md) and [web](https://example.invalid/) and [here](#code)\n', 'T');
    expect(html).toContain('<h3 id="code">');
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/style=/);
    expect(html).toContain('<span class="repo-link" title="../api.md in the repository">api</span>');
    expect(html).toContain('<a href="https://example.invalid/" rel="noopener noreferrer">web</a>');
    expect(html).toContain('<a href="#code">here</a>');
  });
});

describe('result links on the running local host', () => {
  let stack: TestStack;

  beforeAll(async () => {
    ensureDashboardBuilt();
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  it('each result references its reason code section, and the page serves that section', async () => {
    const doc = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'port25', 'vse88-x64-transport-not-excluded.json'), 'utf8'));
    const posted = await post(stack, doc);
    expect(posted.status).toBe(201);
    const result = posted.body.results[0];
    expect(result.reasonCode).toBe('SmtpNotExcluded');
    expect(result.references[0]).toEqual({ title: 'What SmtpNotExcluded means and what to do', url: '/api/dashboard/guide-mcafee-port25-blocked.html#smtpnotexcluded' });

    // The stored result, as a reader sees it, carries the same link.
    const server = await get(stack, `servers/${encodeURIComponent(posted.body.server)}`);
    expect(server.body.results[0].references[0]).toEqual(result.references[0]);

    const [pathPart, fragment] = (result.references[0].url as string).split('#');
    const page = await fetch(new URL(pathPart!, stack.baseUrl));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain(`id="${fragment}"`);
    // Every reason code's section is in the served page.
    for (const code of Object.keys(RULES[0]!.reasonCodes)) expect(html).toContain(`id="${code.toLowerCase()}"`);
    // Its stylesheet is the dashboard's, served beside it.
    expect(html).toContain('href="dashboard.css"');
    expect((await fetch(new URL('/api/dashboard/dashboard.css', stack.baseUrl))).status).toBe(200);
  });
});

describe('the guide link on the dashboard', { timeout: BROWSER_TIMEOUTS.testMs }, () => {
  const suite = chromiumSuite();
  if (!suite) return;
  let stack: TestStack;
  beforeAll(async () => {
    ensureDashboardBuilt();
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  it('is a link, opened in a new tab, where the server view lists a result\'s references', async () => {
    const doc = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'port25', 'vse88-x64-transport-not-excluded.json'), 'utf8'));
    const posted = await post(stack, doc);
    const url = posted.body.results[0].references[0].url as string;
    const { page } = await suite.open('en-GB');
    await openDashboard(page, stack.baseUrl);
    await showView(page, `#/server/${encodeURIComponent(posted.body.server as string)}`);
    const guide = page.locator('ul.references li').first().locator('a');
    await guide.waitFor();
    expect(await guide.getAttribute('href')).toBe(url);
    expect(await guide.getAttribute('target')).toBe('_blank');
  });
});
