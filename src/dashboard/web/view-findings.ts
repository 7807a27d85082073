// Findings: the current Warning and Error results, filtered by rule, status, server and "since"
// (the filters live in the fragment), one page of results at a time. The continuation
// tokens of the pages seen are kept, so "Previous page" goes back without a new query syntax.
// The rule index follows a post by a moment: while the service says so (countsPending), a line
// says it, an empty page says nothing more, and the page last asked for is read again once the wait is over.
// "Download CSV" saves every finding the filters select, not only the page shown, in the columns
// of the CSV export (evidence included), for a list handed on to whoever fixes the servers.
import { ApiFailure, apiGet, filledPage, resultsCsv, rules, type Page, type ResultItem } from './api.js';
import { h, link, replace } from './dom.js';
import { t } from './i18n.js';
import { PendingWait } from './pending-line.js';
import { href, serverHref, type Route } from './router.js';
import { badge, button, errorBox, time, type Fail } from './widgets.js';

const FINDING_STATUSES = ['Warning', 'Error'];

/** Rows per page; `top` in the fragment overrides it (1–1000, as the API allows). */
const PAGE_SIZE = 50;

/** `datetime-local` value (local time) ⇄ ISO 8601 in UTC. */
export function toLocalInput(iso: string | null): string {
  const d = iso ? new Date(iso) : undefined;
  if (!d || Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fromLocalInput(value: string): string | undefined {
  const d = value ? new Date(value) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

function option(value: string, label: string, selected: boolean): HTMLOptionElement {
  return h('option', { value, selected }, label);
}

export async function renderFindings(route: Route, fail: Fail): Promise<Node> {
  const p = route.params;
  // A time in the fragment without a zone (typed or bookmarked) is this browser's local time, as in
  // the Changes view; the API takes only times with a zone.
  // The view lists findings only: a status other than Warning or Error (a hand-edited fragment)
  // falls back to both rather than list passing results under this title.
  const wanted = p.get('status') ?? '';
  const filter = { rule: p.get('rule') ?? '', status: FINDING_STATUSES.includes(wanted) ? wanted : '', server: p.get('server') ?? '', since: fromLocalInput(p.get('since') ?? '') ?? '' };
  const top = Number(p.get('top'));
  const pageSize = Number.isInteger(top) && top >= 1 && top <= 1000 ? top : PAGE_SIZE;
  const [catalogue, pending] = await Promise.all([rules(), PendingWait.ask()]);
  const titles = new Map(catalogue.map((r) => [r.id, r.title]));

  const ruleSelect = h('select', { name: 'rule' }, option('', t('allRules'), !filter.rule), catalogue.map((r) => option(r.id, r.title, r.id === filter.rule)));
  const statusSelect = h(
    'select',
    { name: 'status' },
    option('', t('warningAndError'), !filter.status),
    option('Warning', t('Warning'), filter.status === 'Warning'),
    option('Error', t('Error'), filter.status === 'Error'),
  );
  const serverInput = h('input', { name: 'server', type: 'search', value: filter.server, autocomplete: 'off', spellcheck: 'false' });
  const sinceInput = h('input', { name: 'since', type: 'datetime-local', value: toLocalInput(filter.since) });
  const form = h(
    'form',
    { class: 'filters' },
    h('label', null, t('rule'), ruleSelect),
    h('label', null, t('status'), statusSelect),
    h('label', null, t('server'), serverInput),
    h('label', null, t('since'), sinceInput),
    h('button', { type: 'submit' }, t('apply')),
    link(href('findings'), { class: 'button-link' }, t('clear')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = href('findings', {
      rule: ruleSelect.value,
      status: statusSelect.value,
      server: serverInput.value.trim(),
      since: fromLocalInput(sinceInput.value),
      top: pageSize === PAGE_SIZE ? undefined : String(pageSize),
    });
  });

  const findingsQuery = { status: filter.status || FINDING_STATUSES.join(','), rule: filter.rule, server: filter.server, since: filter.since };
  const download = downloadControl(findingsQuery, fail);

  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const table = h(
    'table',
    { class: 'findings' },
    h('thead', null, h('tr', null, [t('server'), t('rule'), t('status'), t('reason'), t('message'), t('since'), t('notes')].map((c) => h('th', { scope: 'col' }, c)))),
    body,
  );
  const status = h('div', { class: 'table-status' });

  const tokens: (string | undefined)[] = [undefined];
  // The page whose rows are shown (none before the first answer): after a failed read the pager
  // is that page's.
  let shown: number | undefined;
  // Counts the page requests: an answer to an earlier one (a slow page the user clicked past, or a
  // read after the wait) arrives late and must not replace the page, or put its error under it.
  let asked = 0;
  // The page the read after the wait reads: the latest asked for (a click still on its way
  // included), or the page shown when that request failed.
  let reloadPage = 0;
  const pageLabel = (pageIndex: number) => h('span', { class: 'muted' }, t('page', { n: pageIndex + 1 }));
  const show = async (pageIndex: number) => {
    const mine = ++asked;
    reloadPage = pageIndex;
    replace(status, h('p', { class: 'muted' }, t('loading')));
    let page: Page<ResultItem>;
    try {
      const load = (continuationToken: string | undefined) =>
        apiGet<Page<ResultItem>>('results', { ...findingsQuery, top: String(pageSize), continuationToken });
      page = await filledPage(load, tokens[pageIndex]);
    } catch (error) {
      if (mine !== asked) return;
      reloadPage = shown ?? 0;
      if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
      // A further page the service refuses (its token, say) is refused again: page 1 is the way on.
      replace(status, errorBox(error, () => void show(pageIndex), pageIndex > 0 ? { label: t('fromStart'), go: () => void show(0) } : undefined));
      // The rows shown stay, under their page's number; the shown page's Next or Previous would
      // ask again for what just failed (the error's buttons do that, where it can help) or lead
      // away from the rows shown, so the pager keeps no button.
      replace(pager, shown === undefined ? null : pageLabel(shown));
      return;
    }
    if (mine !== asked) return;
    shown = pageIndex;
    tokens.length = pageIndex + 1;
    if (page.continuationToken) tokens.push(page.continuationToken);
    replace(
      body,
      page.items.map((r) =>
        h(
          'tr',
          { 'data-server': r.server, 'data-rule': r.ruleId, 'data-status': r.status },
          h('td', { class: 'server' }, link(serverHref(r.server), { class: 'server-link' }, r.server)),
          h('td', null, titles.get(r.ruleId) ?? r.ruleId),
          h('td', null, badge(r.status)),
          h('td', null, h('code', null, r.reasonCode)),
          h('td', { class: 'message' }, r.message),
          h('td', null, time(r.firstSeen)),
          h('td', null, r.stale ? h('span', { class: 'flag' }, t('staleBadge')) : null, r.waived ? h('span', { class: 'flag' }, t('waivedBadge')) : null),
        ),
      ),
    );
    replace(status, page.items.length === 0 && pageIndex === 0 && !page.continuationToken ? pending.empty(h('p', { class: 'muted' }, t('noFindings'))) : null);
    replace(
      pager,
      pageIndex > 0 ? button(t('previousPage'), () => void show(pageIndex - 1)) : null,
      pageLabel(pageIndex),
      page.continuationToken ? button(t('nextPage'), () => void show(pageIndex + 1), { 'data-action': 'next-page' }) : null,
    );
  };
  await show(0);
  const line = pending.line(fail, () => void show(reloadPage));
  return h('div', { class: 'findings-view' }, h('h1', null, t('findingsTitle')), line, form, download, table, status, pager);
}

/** The file's name: what it holds and the local day it was saved. */
function findingsFileName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `findings-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}.csv`;
}

/** The download button and the line beside it that says it is under way or why it failed. */
function downloadControl(query: Readonly<Record<string, string>>, fail: Fail): HTMLElement {
  const state = h('div', { class: 'download-state', role: 'status' });
  const start = async () => {
    go.disabled = true;
    replace(state, h('span', { class: 'muted' }, t('downloading')));
    try {
      const file = await resultsCsv(query);
      const url = URL.createObjectURL(file);
      h('a', { href: url, download: findingsFileName(new Date()) }).click();
      // The browser reads the object URL after the click is handled, not during it: it goes later.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(state, null);
    } catch (error) {
      if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
      replace(state, errorBox(error, () => void start()));
    } finally {
      go.disabled = false;
    }
  };
  const go = button(t('downloadCsv'), () => void start(), { 'data-action': 'download-csv' });
  return h('div', { class: 'download' }, go, state);
}
