// Fleet: the host count, servers not reporting, waived findings, and per rule the servers in each
// status as a stacked bar with the counts beside it. Everything but one figure comes from the
// summary, one small document kept by counters, so this view costs the same for 10 or 10,000
// servers; the servers enrolled that never reported have no results to count, so that figure is
// the length of their list, read once when the view is drawn. That read looks at every server's
// key, so it is asked once the summary has come, not beside it (on one instance the two would
// share the thread and storage, and the view would come later), and the view does not wait for
// it: the figure shows when it comes, or why it did not.
// The counters follow a post by a moment (the projector writes them): while the summary says
// changes are still waiting, the view says so and asks again by itself. After a rule change, a
// rule whose counts still mix its two versions (the re-evaluation is owed) says so in its panel.
import { ApiFailure, apiGet, type NeverPostedServer, type Summary } from './api.js';
import { h, link, replace, svg, type Child } from './dom.js';
import { formatNumber, formatTime, statusText, t, type TextKey } from './i18n.js';
import { followPending } from './pending-line.js';
import { href } from './router.js';
import { failureText, type Fail } from './widgets.js';

/** Statuses that have a findings list (results filtered by status). */
const FINDING = new Set(['Warning', 'Error']);

/** A figure not read (yet): "…" while asked, "—" with the reason once the read failed. */
interface FigureNotRead {
  readonly note?: string;
}

/** `value` "1,000+" when `atLeast` (a list cut at its limit). */
function metric(label: TextKey, value: number | FigureNotRead, name: string, target?: string, atLeast = false): HTMLElement {
  const known = typeof value === 'number';
  const shown = known ? formatNumber(value) + (atLeast ? '+' : '') : value.note === undefined ? '…' : '—';
  const number = h('span', { class: 'value', 'data-metric': name, 'aria-busy': known || value.note !== undefined ? null : 'true' }, shown);
  const note = known || value.note === undefined ? null : h('span', { class: 'muted note', 'data-note': name }, value.note);
  return h('div', { class: 'metric' }, known && target ? link(target, null, number) : number, h('span', { class: 'label' }, t(label)), note);
}

/** The servers enrolled that never reported, as the Fleet view knows them: asked, read, or failed. */
type NeverPostedFigure = { readonly items: readonly NeverPostedServer[]; readonly truncated: boolean } | FigureNotRead;

/** One bar: a rectangle per status, widths in a 0..100 view box (the drift view draws its clusters with it too). */
export function statusBar(counts: Readonly<Record<string, number>>, statuses: readonly string[], total: number): SVGSVGElement {
  const chart = svg('svg', { class: 'bar', viewBox: '0 0 100 6', preserveAspectRatio: 'none', role: 'img', 'aria-label': t('perStatus') });
  let x = 0;
  for (const s of statuses) {
    const n = counts[s] ?? 0;
    if (n === 0 || total === 0) continue;
    const w = (n / total) * 100;
    chart.appendChild(
      svg('rect', { class: `fill-${s}`, x: x.toFixed(3), y: 0, width: w.toFixed(3), height: 6 }, svg('title', null, `${statusText(s)}: ${formatNumber(n)}`)),
    );
    x += w;
  }
  return chart;
}

export async function renderFleet(fail: Fail): Promise<Node> {
  // Fixed slots: the figures around the pending line are redrawn from every summary, while the
  // line (a status element, read out again whenever it is put on the page) stays where it is.
  const figures = h('div');
  const slot = h('div', { class: 'pending-line' });
  const rest = h('div');
  const view = h('div', { class: 'fleet' }, figures, slot, rest);
  const ask = () => apiGet<Summary>('summary');
  let neverPosted: NeverPostedFigure = {};
  let latest: Summary | undefined;
  const drawFigures = () => {
    if (latest) replace(figures, metrics(latest, neverPosted));
  };
  const first = await ask();
  apiGet<{ items: NeverPostedServer[]; truncated: boolean }>('servers', { neverPosted: 'true' }).then(
    (answer) => {
      neverPosted = answer;
      drawFigures();
    },
    (error: unknown) => {
      if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
      neverPosted = { note: failureText(error) };
      drawFigures();
    },
  );
  followPending(view, first, ask, fail, (s, line) => {
    latest = s;
    drawFigures();
    if (!line || line.parentNode !== slot) replace(slot, line);
    replace(rest, rules(s, line !== null));
  });
  return view;
}

function metrics(s: Summary, neverPosted: NeverPostedFigure): HTMLElement {
  const waived = (s.waivedTotals?.Warning ?? 0) + (s.waivedTotals?.Error ?? 0);
  return h(
    'div',
    { class: 'metrics' },
    metric('hosts', s.hosts, 'hosts'),
    metric('stale', s.staleHosts ?? 0, 'stale', href('changes')),
    'items' in neverPosted ? metric('neverPosted', neverPosted.items.length, 'never-posted', href('changes'), neverPosted.truncated) : metric('neverPosted', neverPosted, 'never-posted'),
    metric('warnings', s.totals.Warning ?? 0, 'warnings', href('findings', { status: 'Warning' })),
    metric('errors', s.totals.Error ?? 0, 'errors', href('findings', { status: 'Error' })),
    metric('waived', waived, 'waived'),
    metric('activeWaivers', s.activeWaivers ?? 0, 'activeWaivers'),
  );
}

function rules(s: Summary, pending: boolean): Child[] {
  const panels = s.rules.map((r) =>
    h(
      'section',
      { class: 'panel rule', 'data-rule': r.ruleId },
      h('h2', null, r.title, ' ', h('code', { class: 'rule-id' }, r.ruleId), ' ', link(href('drift', { rule: r.ruleId }), { class: 'drift-link', 'data-action': 'drift' }, t('driftLink'))),
      // Not a status element: the panels are redrawn from every summary while counts catch up, and
      // the line would be read out again each time.
      r.pendingReevaluation ? h('p', { class: 'notice', 'data-notice': 'reevaluation-pending' }, t('countsReevaluating', { version: r.pendingReevaluation.ruleVersion })) : null,
      statusBar(r.counts, s.statuses, r.total),
      h(
        'ul',
        { class: 'counts' },
        s.statuses.map((st) => {
          const n = r.counts[st] ?? 0;
          const value = h('span', { class: 'value', 'data-metric': `${r.ruleId}:${st}` }, formatNumber(n));
          const label = [h('span', { class: `swatch fill-${st}` }), h('span', { class: 'status-name' }, statusText(st))];
          const w = r.waived?.[st] ?? 0;
          return h(
            'li',
            { class: `count status-${st}` },
            FINDING.has(st) && n > 0 ? link(href('findings', { rule: r.ruleId, status: st }), { class: 'count-link' }, label, value) : [label, value],
            w > 0 ? h('span', { class: 'muted' }, ` (${t('waivedBadge')} ${formatNumber(w)})`) : null,
          );
        }),
      ),
    ),
  );
  return [
    // An empty fleet whose first posts are still being counted is not empty. An empty one says how
    // servers come to be in it, and where one whose collector cannot post is named.
    s.hosts === 0 && !pending ? h('div', { 'data-notice': 'fleet-empty' }, h('p', { class: 'muted' }, t('fleetEmpty')), h('p', { class: 'muted' }, t('fleetEmptyNext'))) : null,
    panels,
    h('p', { class: 'muted generated' }, t('asOf', { time: formatTime(s.generatedAt) })),
  ];
}
