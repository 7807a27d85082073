// Drift of one rule: the fleet's configurations as clusters, largest first, each with its servers
// per status, a few of its servers, and the facts in which it differs from the reference (the
// baseline server's configuration when one is named, else the largest cluster). One call to
// the drift route, which reads the counters the projector keeps: the same cost for 10 or 10,000
// servers. Those follow a post by a moment: while the service says so (countsPending), a line says
// it, an empty drift says nothing more, and the view reads the drift again once the wait is over.
import { ApiFailure, apiGet, type Counts, type Query } from './api.js';
import { h, link, replace, type Child } from './dom.js';
import { formatNumber, formatTime, statusText, t } from './i18n.js';
import type { Route } from './router.js';
import { serverHref } from './router.js';
import { PendingWait } from './pending-line.js';
import { statusBar } from './view-fleet.js';
import { button, errorBox, showFailureIn, type Fail } from './widgets.js';

type FactValue = string | number | boolean | null | readonly string[];
type Facts = Readonly<Record<string, FactValue>>;

interface Cluster {
  readonly fingerprint: string;
  readonly servers: number;
  readonly counts: Counts;
  readonly facts: Facts;
  readonly sample: readonly string[];
}

interface Drift {
  readonly ruleId: string;
  readonly servers: number;
  readonly configurations: number;
  readonly baseline: { readonly server: string; readonly setBy: string; readonly setAt: string | null; readonly fingerprint: string | null } | null;
  readonly clusters: readonly Cluster[];
  readonly continuationToken: string | null;
  /** A re-evaluation after a rule change has not finished: one configuration may show as two clusters meanwhile. */
  readonly pendingReevaluation?: { readonly ruleVersion: string; readonly note: string } | null;
}

const STATUSES = ['Pass', 'Warning', 'Error', 'NotApplicable', 'Unknown'];

const show = (v: FactValue | undefined): string => (v === undefined || v === null ? '—' : Array.isArray(v) ? (v.length === 0 ? '[]' : v.join(', ')) : String(v));
const same = (a: FactValue | undefined, b: FactValue | undefined): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null) && (a === undefined) === (b === undefined);

/** The fields in which `facts` differ from `reference`, in field order. */
function differing(facts: Facts, reference: Facts): string[] {
  return [...new Set([...Object.keys(facts), ...Object.keys(reference)])].filter((k) => !same(facts[k], reference[k])).sort();
}

function factTable(facts: Facts, reference: Facts | undefined, fields: readonly string[]): HTMLElement {
  return h(
    'table',
    { class: 'facts-diff' },
    h('thead', null, h('tr', null, h('th', null, t('driftField')), h('th', null, t('driftThis')), reference ? h('th', null, t('driftReference')) : null)),
    h(
      'tbody',
      null,
      fields.map((f) => h('tr', { 'data-field': f }, h('td', null, h('code', null, f)), h('td', { class: 'this' }, show(facts[f])), reference ? h('td', { class: 'ref' }, show(reference[f])) : null)),
    ),
  );
}

function clusterPanel(c: Cluster, rank: number, reference: Cluster | undefined, baselineServer: string | undefined): HTMLElement {
  const isReference = reference?.fingerprint === c.fingerprint;
  const fields = reference && !isReference ? differing(c.facts, reference.facts) : [];
  return h(
    'section',
    { class: `panel cluster${isReference ? ' reference' : ''}`, 'data-fingerprint': c.fingerprint, 'data-rank': rank },
    h(
      'h2',
      null,
      h('span', { class: 'value', 'data-metric': `cluster:${rank}:servers` }, formatNumber(c.servers)),
      ' ',
      t('driftServers'),
      isReference ? h('span', { class: 'badge reference-badge' }, baselineServer ? t('driftBaselineBadge') : t('driftLargestBadge')) : null,
    ),
    statusBar(c.counts, STATUSES, c.servers),
    h(
      'ul',
      { class: 'counts' },
      STATUSES.filter((s) => (c.counts[s] ?? 0) > 0).map((s) =>
        h('li', { class: `count status-${s}` }, h('span', { class: `swatch fill-${s}` }), h('span', { class: 'status-name' }, statusText(s)), h('span', { class: 'value', 'data-metric': `cluster:${rank}:${s}` }, formatNumber(c.counts[s] ?? 0))),
      ),
    ),
    h('p', { class: 'sample' }, t('driftSample'), ' ', c.sample.map((s, i) => [i > 0 ? ', ' : '', link(serverHref(s), { class: 'server-link', 'data-server': s }, s)]), c.servers > c.sample.length ? ' …' : ''),
    isReference || !reference
      ? h('details', { class: 'all-facts' }, h('summary', null, t('driftAllFacts')), factTable(c.facts, undefined, Object.keys(c.facts).sort()))
      : [h('h3', null, t('driftDiffers')), factTable(c.facts, reference.facts, fields)],
    h('p', { class: 'muted fingerprint' }, h('code', null, c.fingerprint)),
  );
}

export async function renderDrift(route: Route, fail: Fail): Promise<Node> {
  // Clusters per page: `top` in the fragment (1–1000, as the API allows), else 100.
  const top = Number(route.params.get('top'));
  const query: Query = { rule: route.params.get('rule') ?? '', top: Number.isInteger(top) && top >= 1 && top <= 1000 ? String(top) : '100' };
  const pending = await PendingWait.ask();
  const first = await apiGet<Drift>('drift', query);
  // Read again after the wait, or from the first page when a further page is refused: what is
  // shown stays if that fails, under the error and its retry.
  const reload = (): void =>
    void apiGet<Drift>('drift', query).then((next) => {
      replace(problem);
      replace(body, content(next, query, pending, fail, reload));
    }, showFailureIn(problem, fail, reload));
  const problem = h('div', { class: 'reload-problem' });
  const body = h('div', null, content(first, query, pending, fail, reload));
  const line = pending.line(fail, reload);
  return h('div', { class: 'drift', 'data-rule': first.ruleId }, h('h1', null, t('driftTitle'), ' ', h('code', { class: 'rule-id' }, first.ruleId)), line, problem, body);
}

/** The drift's counts, clusters and paging; `restart` reads the drift again from its first page. */
function content(first: Drift, query: Query, pending: PendingWait, fail: Fail, restart: () => void): Child[] {
  const clusters: Cluster[] = [...first.clusters];
  const baselineCluster = first.baseline?.fingerprint ? clusters.find((c) => c.fingerprint === first.baseline?.fingerprint) : undefined;
  const reference = baselineCluster ?? clusters[0];
  const list = h('div', { class: 'clusters' });
  const more = h('div', { class: 'more' });
  const add = (items: readonly Cluster[], from: number) => items.forEach((c, i) => list.appendChild(clusterPanel(c, from + i + 1, reference, baselineCluster ? first.baseline?.server : undefined)));
  const load = (token: string, shown: number) => {
    replace(more, h('p', { class: 'muted' }, t('loading')));
    apiGet<Drift>('drift', { ...query, continuationToken: token }).then(
      (page) => {
        add(page.clusters, shown);
        next(page.continuationToken, shown + page.clusters.length);
      },
      (error: unknown) => {
        if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
        // The clusters shown stay; errorBox decides between asking for the page again and reading
        // the drift again from its first page.
        replace(more, errorBox(error, () => load(token, shown), { label: t('driftFromStart'), go: restart }));
      },
    );
  };
  const next = (token: string | null, shown: number) => {
    if (!token) return replace(more);
    replace(more, button(t('loadMore'), () => load(token, shown)));
  };
  add(clusters, 0);
  next(first.continuationToken, clusters.length);
  // A baseline whose configuration is not among the clusters read (its server has none recorded any
  // more, or its cluster is on a later page) is not what the others are compared with: the page
  // says so, and which of the two.
  const named = first.baseline ? { server: first.baseline.server, setBy: first.baseline.setBy, time: first.baseline.setAt ? formatTime(first.baseline.setAt) : '—' } : undefined;
  const against = !named
    ? t('driftAgainstLargest')
    : baselineCluster
      ? t('driftAgainstBaseline', named)
      : t(first.baseline?.fingerprint === null ? 'driftBaselineUnrecorded' : 'driftBaselineNotShown', named);
  return [
    h(
      'p',
      { class: 'drift-summary' },
      t('driftSummary', { servers: formatNumber(first.servers), configurations: formatNumber(first.configurations) }),
      ' ',
      h('span', { class: 'against', 'data-baseline': baselineCluster ? (first.baseline?.server ?? '') : '' }, against),
    ),
    first.servers === 0 ? pending.empty(h('p', { class: 'muted' }, t('driftEmpty'))) : null,
    first.pendingReevaluation ? h('p', { class: 'notice', role: 'status', 'data-notice': 'reevaluation-pending' }, t('driftReevaluating', { version: first.pendingReevaluation.ruleVersion })) : null,
    list,
    more,
  ];
}
