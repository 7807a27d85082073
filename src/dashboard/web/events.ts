// One status change (an event, or a server's history entry) as a timeline entry, and a server's
// history as a paged timeline.
import { apiGet, type EventItem, type HistoryPage } from './api.js';
import { h, link } from './dom.js';
import { causeText, t } from './i18n.js';
import { serverHref } from './router.js';
import { badge, pagedList, time, type Fail } from './widgets.js';

/** `titles` maps rule ids to titles; server events (stale, returned, removed) have no rule. */
export function eventEntry(e: EventItem, showServer: boolean, titles: ReadonlyMap<string, string> = new Map()): HTMLLIElement {
  const what = e.ruleId ? (titles.get(e.ruleId) ?? e.ruleId) : t('serverEvent');
  return h(
    'li',
    { class: `event to-${e.toStatus ?? e.kind ?? 'none'}`, 'data-server': e.server ?? '', 'data-to': e.toStatus ?? '', 'data-kind': e.kind ?? 'status' },
    h('div', { class: 'when' }, time(e.firstSeen ?? e.recordedAt)),
    h(
      'div',
      { class: 'what' },
      showServer && e.server ? [link(serverHref(e.server), { class: 'server-link' }, e.server), ' · '] : null,
      h('span', { class: 'rule-title' }, what),
      ' ',
      e.fromStatus ? [badge(e.fromStatus), ' → '] : null,
      e.toStatus ? badge(e.toStatus) : null,
      ' ',
      h('span', { class: 'cause muted' }, causeText(e.cause)),
      h('p', { class: 'message' }, e.message),
    ),
  );
}

/** A server's history page by page, newest first; it answers for a removed server too (by its id or host name). */
export function historyPage(server: string, token: string | undefined, top = 50): Promise<HistoryPage> {
  return apiGet<HistoryPage>(`servers/${encodeURIComponent(server)}/history`, { top: String(top), continuationToken: token });
}

/** A server's history as a timeline; `empty` is said when it holds nothing (nothing when undefined). */
export function historyTimeline(server: string, titles: ReadonlyMap<string, string>, empty: string | undefined, fail: Fail): HTMLElement {
  return pagedList<EventItem>((token) => historyPage(server, token), (e) => eventEntry(e, false, titles), empty, fail, { class: 'events timeline' });
}
