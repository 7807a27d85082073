// Changes since a chosen time (default: the last 24 hours): new warnings and errors, the servers
// that stopped reporting, and the events of one kind. Status changes are what "what changed on my
// fleet" means, so they are the default; waiver and baseline audit records change no status and
// are shown only when the filter asks for them (the filter lives in the fragment, like `since`).
// Events and the stale list follow a post by a moment: while the service says so (countsPending),
// a line says it, empty lists say nothing more, and the lists are read again once the wait is over.
import { apiGet, rules, type EventItem, type Page, type StaleServer } from './api.js';
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

/**
 * A link to the window of `span` that ends now. A view left open (a wall display) would otherwise
 * link to the window that ended when it was drawn, so the address is worked out again whenever the
 * link is about to be used: pointed at, focused, pressed, clicked (before the browser follows it),
 * middle-clicked for a new tab (auxclick, not click), dragged to the tab bar or copied. A pointer
 * resting on the link since it entered sends no more pointerenter, hence the press itself too.
 */
function windowLink(span: number, kind: string | undefined, label: string): HTMLAnchorElement {
  const target = () => href('changes', { since: new Date(Date.now() - span).toISOString(), kind });
  const a = link(target(), { class: 'button-link' }, label);
  for (const type of ['pointerenter', 'focus', 'pointerdown', 'click', 'auxclick', 'dragstart', 'contextmenu']) a.addEventListener(type, () => a.setAttribute('href', target()));
  return a;
}

export async function renderChanges(route: Route, fail: Fail): Promise<Node> {
  const given = route.params.get('since');
  const since = given && !Number.isNaN(Date.parse(given)) ? new Date(given).toISOString() : new Date(Date.now() - 24 * HOUR).toISOString();
  const givenSince = given && !Number.isNaN(Date.parse(given)) ? since : undefined;
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
  const go = (sinceIso: string | undefined) => {
    location.hash = href('changes', { since: sinceIso, kind: kindParam(changeKindOf(kindSelect.value)) });
  };
  const form = h(
    'form',
    { class: 'filters' },
    h('label', null, t('changesSince'), input),
    h('label', null, t('showKind'), kindSelect),
    h('button', { type: 'submit' }, t('apply')),
    windowLink(24 * HOUR, kindParam(kind), t('last24h')),
    windowLink(7 * 24 * HOUR, kindParam(kind), t('last7d')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(fromLocalInput(input.value));
  });
  // Choosing a kind shows it at once, for the time already applied (not a half-typed one).
  kindSelect.addEventListener('change', () => go(givenSince));

  const events = (query: { kind?: string; status?: string }) => (token: string | undefined) =>
    apiGet<Page<EventItem>>('events', { since, ...query, top: String(PAGE_SIZE), continuationToken: token });
  const row = (e: EventItem) => eventEntry(e, true, titles);
  const staleRow = (s: StaleServer) =>
    h('li', { 'data-server': s.server }, link(serverHref(s.server), { class: 'server-link' }, s.server), ' · ', t('lastSeen'), ' ', time(s.lastSeen), ' · ', phrase('staleSince', { time: time(s.staleSince) }));
  const when = formatTime(since);
  const texts = KIND_TEXTS[kind];
  const lists = h('div', { class: 'change-lists' });
  const fill = async () => {
    const stale = await apiGet<{ items: StaleServer[] }>('servers', { stale: 'true' });
    replace(
      lists,
      section(t('newFailing'), pagedList(events({ kind: 'status', status: 'Warning,Error' }), row, pending.empty(t('noNewFailing', { time: when })), fail, { 'data-list': 'new-failing' })),
      section(
        t('staleTitle'),
        pagedList(pagesOf(stale.items, PAGE_SIZE), staleRow, pending.empty(t('noStale')), fail, { class: 'stale-list', 'data-list': 'stale' }),
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
