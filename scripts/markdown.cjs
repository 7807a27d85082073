// Markdown helpers shared by the build (the rule guides served as HTML by the dashboard) and the
// documentation tests: the links of a document, the anchors its headings get, and the HTML page.
// Anchors follow GitHub's rule, so a link such as guide.md#smtpnotexcluded works both on GitHub
// and in the served page.
'use strict';
const { readFileSync, readdirSync, mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

/** The text outside fenced code blocks and inline code spans, line by line. */
function proseLines(text) {
  const out = [];
  let fence = null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      out.push('');
      continue;
    }
    out.push(fence === null ? line.replace(/(`+)[\s\S]*?\1/g, '') : '');
  }
  return out;
}

/** Every link and image target of a Markdown document, in order (code spans and blocks excluded). */
function markdownLinks(text) {
  const links = [];
  // A link's text may wrap onto the next lines of its paragraph, never past a blank line.
  const prose = proseLines(text).join('\n');
  for (const m of prose.matchAll(/!?\[(?:[^\]\n]|\n(?![ \t]*\n))*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(m[1]);
  return links;
}

/** GitHub's heading slug: plain text, lower case, punctuation dropped, spaces to hyphens. */
function slug(headingText) {
  const plain = headingText
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return plain
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a document's headings (duplicates numbered as GitHub does) and explicit ids. */
function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  let fence = null;
  for (const line of text.split(/\r?\n/)) {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/**
 * A rule guide as a page of its own. It is served under the dashboard's strict Content-Security-
 * Policy, so it has no script and no inline style, and it must work offline: links into the page
 * and to the web stay links; links to other files of the repository become plain text.
 */
function renderGuide(markdown, title) {
  const { Marked } = require('marked');
  const seen = new Map();
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading({ tokens, depth, text }) {
        const base = slug(text);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        const id = n === 0 ? base : `${base}-${n}`;
        return `<h${depth} id="${escapeHtml(id)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
      link({ href, title: linkTitle, tokens }) {
        const inner = this.parser.parseInline(tokens);
        if (href.startsWith('#') || /^https?:/i.test(href)) {
          const external = href.startsWith('#') ? '' : ' rel="noopener noreferrer"';
          return `<a href="${escapeHtml(href)}"${linkTitle ? ` title="${escapeHtml(linkTitle)}"` : ''}${external}>${inner}</a>`;
        }
        return `<span class="repo-link" title="${escapeHtml(href)} in the repository">${inner}</span>`;
      },
      html({ text }) {
        return escapeHtml(text);
      },
    },
  });
  const body = marked.parse(markdown);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="favicon.svg">
<link rel="stylesheet" href="dashboard.css">
</head>
<body class="guide">
<main class="guide">
${body}</main>
</body>
</html>
`;
}

/** The page name a rule guide is served under: guide-<rule id>.html. */
const guideFileName = (ruleId) => `guide-${ruleId}.html`;

/** Writes every docs/rules/<rule>.md as <outDir>/guide-<rule>.html; returns the files written. */
function buildGuides(root, outDir) {
  const dir = path.join(root, 'docs', 'rules');
  mkdirSync(outDir, { recursive: true });
  const written = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
    const markdown = readFileSync(path.join(dir, name), 'utf8');
    const title = (/^#\s+(.*)$/m.exec(markdown)?.[1] ?? name).replace(/[`*]/g, '');
    const file = path.join(outDir, guideFileName(path.basename(name, '.md')));
    writeFileSync(file, renderGuide(markdown, title));
    written.push(file);
  }
  return written;
}

module.exports = { markdownLinks, anchorsOf, slug, renderGuide, buildGuides, guideFileName };

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const out = process.argv[2] ?? path.join(root, 'dist', 'src', 'dashboard', 'public');
  for (const file of buildGuides(root, out)) console.log(`guide: ${path.relative(root, file)}`);
}
