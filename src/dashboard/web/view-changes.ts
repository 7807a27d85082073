// Changes since a chosen time (default: the last 24 hours): new warnings and errors, the servers
// that stopped reporting or enrolled and never reported, and the events of one kind. Status
// changes are what "what changed on my fleet" means, so they are the default; waiver and baseline
// audit records change no status and are shown only when the filter asks for them (the filter
// lives in the fragment, like `since`).
// Events and the stale list follow a post by a moment: while the service says so (countsPending),
// a line says it, empty lists say nothing more, and the lists are read again once the wait is over.
// The never-reported list is read from the keys and the stored snapshots, which no post waits on.
import { apiGet, rules, type EventItem, type NeverPostedServer, type Page, type StaleServer } from './api.js';
import { h, link, replace } from './dom.js';
import { eventEntry } from './events.js';
import { formatTime, phrase, t, type TextKey } from './i18n.js';
import { PendingWait } from './pending-line.js';
import { href, serverHref, type Route } from './router.js';
import { fromLocalInput, toLocalInput } from './view-findings.js';
import { pagedList, pagesOf, section, showFailureIn, time, type Fail } from './widgets.js';

const HOUR = 3_600_000;
/** Entries per page of each list (the stale servers, which come whole, too). */
const PAGE_SIZE = 50;

/** The kinds the events route takes (its `kind` parameter), and `all` for no `kind` at all. */
export const CHANGE_KINDS = ['status', 'waiver', 'baseline', 'all'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The fragment's `kind`; anything else (absent, misspelt) is the default, status changes. */
export function changeKindOf(value: string | null): ChangeKind {
  return CHANGE_KINDS.find((k) => k === value) ?? 'status';
}

/** Per kind: the filter's label, the list's title and its empty sentence ({time}: since when). */
const KIND_TEXTS: Record<ChangeKind, { option: TextKey; title: TextKey; empty: TextKey }> = {
  status: { option: 'kindStatus', title: 'statusChanges', empty: 'noStatusChanges' },
  waiver: { option: 'kindWaiver', title: 'waiverRecords', empty: 'noWaiverRecords' },
  baseline: { option: 'kindBaseline', title: 'baselineRecords', empty: 'noBaselineRecords' },
  all: { option: 'kindAll', title: 'allEvents', empty: 'noEvents' },
};

/** The windows the fragment's `last` names, ending when the view is drawn. */
const WINDOWS: Readonly<Record<string, number>> = { '24h': 24 * HOUR, '7d': 7 * 24 * HOUR };

/**
 * A link to the window of `last` that ends when the link is followed. The address names the window
 * (`last=24h`), not its start: a time worked out when the view was drawn, or when the page last
 * saw the link used, goes stale while a view stays open (a wall display), and a link dragged to the
 * tab bar or copied is taken as its address stands, with no event the page could update it on
 * first (Chromium fills a drag before it sends dragstart). Clicked while its window is shown, the
 * fragment stays as it is and the browser sends no hashchange, so the link sends it: the view is
 * drawn again for the window ending now.
 */
function windowLink(last: string, kind: string | undefined, label: string): HTMLAnchorElement {
  const a = link(href('changes', { last, kind }), { class: 'button-link' }, label);
  a.addEventListener('click', (e) => {
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || location.hash !== a.hash) return;
    e.preventDefault();
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
  return a;
}

export async function renderChanges(route: Route, fail: Fail): Promise<Node> {
  const given = route.params.get('since');
  const givenSince = given && !Number.isNaN(Date.parse(given)) ? new Date(given).toISOString() : undefined;
  // A time given wins; else the window the fragment names (`last`), else the last 24 hours.
  const last = givenSince ? undefined : Object.keys(WINDOWS).find((w) => w === route.params.get('last'));
  const since = givenSince ?? new Date(Date.now() - (last ? WINDOWS[last]! : 24 * HOUR)).toISOString();
  const kind = changeKindOf(route.params.get('kind'));
  // The default is left out of the fragment, so the view's plain link and a bookmark of it agree.
  const kindParam = (k: ChangeKind) => (k === 'status' ? undefined : k);
  const [catalogue, pending] = await Promise.all([rules(), PendingWait.ask()]);
  const titles = new Map(catalogue.map((r) => [r.id, r.title]));

  const input = h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(since) });
  const kindSelect = h(
    'select',
    { name: 'kind', 'data-control': 'kind' },
    CHANGE_KINDS.map((k) => h('option', { value: k, selected: k === kind }, t(KIND_TEXTS[k].option))),
  );
  const go = (sinceIso: string | undefined, lastWindow?: string) => {
    location.hash = href('changes', { since: sinceIso, last: lastWindow, kind: kindParam(changeKindOf(kindSelect.value)) });
  };
  const form = h(
    'form',
    { class: 'filters' },
    h('label', null, t('changesSince'), input),
    h('label', null, t('showKind'), kindSelect),
    h('button', { type: 'submit' }, t('apply')),
    windowLink('24h', kindParam(kind), t('last24h')),
    windowLink('7d', kindParam(kind), t('last7d')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(fromLocalInput(input.value));
  });
  // Choosing a kind shows it at once, for the time or window already applied (not a half-typed one).
  kindSelect.addEventListener('change', () => go(givenSince, last));

  const events = (query: { kind?: string; status?: string }) => (token: string | undefined) =>
    apiGet<Page<EventItem>>('events', { since, ...query, top: String(PAGE_SIZE), continuationToken: token });
  const row = (e: EventItem) => eventEntry(e, true, titles);
  const staleRow = (s: StaleServer) =>
    h('li', { 'data-server': s.server }, link(serverHref(s.server), { class: 'server-link' }, s.server), ' · ', t('lastSeen'), ' ', time(s.lastSeen), ' · ', phrase('staleSince', { time: time(s.staleSince) }));
  // No server page to link to: a server that never reported has none.
  const neverPostedRow = (s: NeverPostedServer) => h('li', { 'data-server': s.server }, h('span', { class: 'server-name' }, s.server), ' · ', phrase('keyIssued', { time: time(s.keyIssuedAt) }));
  const when = formatTime(since);
  const texts = KIND_TEXTS[kind];
  const lists = h('div', { class: 'change-lists' });
  const fill = async () => {
    // The never-reported list looks at every server's key, so the view does not wait for it: its
    // list shows it loading, and a failure in its place with Try again, which asks anew. The service
    // answers it whole; its pages are cut here, as the stale list's are.
    const neverPostedMore = h('div');
    let neverPosted: Promise<{ items: NeverPostedServer[]; truncated: boolean }> | undefined;
    const neverPostedPage = (token: string | undefined) => {
      if (!token || !neverPosted) {
        neverPosted = apiGet('servers', { neverPosted: 'true' });
        neverPosted.then((a) => replace(neverPostedMore, a.truncated ? h('p', { class: 'muted', 'data-notice': 'never-posted-more' }, t('neverPostedMore')) : null), () => undefined);
      }
      return neverPosted.then((a) => pagesOf(a.items, PAGE_SIZE)(token));
    };
    const stale = await apiGet<{ items: StaleServer[] }>('servers', { stale: 'true' });
    replace(
      lists,
      section(t('newFailing'), pagedList(events({ kind: 'status', status: 'Warning,Error' }), row, pending.empty(t('noNewFailing', { time: when })), fail, { 'data-list': 'new-failing' })),
      section(
        t('staleTitle'),
        pagedList(pagesOf(stale.items, PAGE_SIZE), staleRow, pending.empty(t('noStale')), fail, { class: 'stale-list', 'data-list': 'stale' }),
      ),
      section(
        t('neverPostedTitle'),
        h('p', { class: 'muted' }, t('neverPostedHelp')),
        pagedList(neverPostedPage, neverPostedRow, t('noNeverPosted'), fail, { class: 'never-posted-list', 'data-list': 'never-posted' }),
        neverPostedMore,
      ),
      section(
        t(texts.title),
        pagedList(events({ kind: kind === 'all' ? undefined : kind }), row, pending.empty(t(texts.empty, { time: when })), fail, { 'data-list': 'all-changes', 'data-kind': kind }),
      ),
    );
  };
  // Read again after the wait: the lists shown stay if that fails, under the error (one, however
  // often it fails).
  const problem = h('div', { class: 'reload-problem' });
  const refill = () => void fill().then(() => replace(problem), showFailureIn(problem, fail, refill));
  await fill();
  const line = pending.line(fail, refill);
  return h('div', { class: 'changes-view', 'data-kind': kind }, h('h1', null, t('navChanges')), line, form, problem, lists);
}
