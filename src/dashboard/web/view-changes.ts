// Changes since a chosen time (default: the last 24 hours): new warnings and errors, every status
// change, and the servers that stopped reporting (events, and the stale servers).
import { apiGet, rules, type EventItem, type Page, type StaleServer } from './api.js';
import { h, link } from './dom.js';
import { eventEntry } from './events.js';
import { phrase, t } from './i18n.js';
import { href, serverHref, type Route } from './router.js';
import { fromLocalInput, toLocalInput } from './view-findings.js';
import { pagedList, section, time, type Fail } from './widgets.js';

const HOUR = 3_600_000;

export async function renderChanges(route: Route, fail: Fail): Promise<Node> {
  const given = route.params.get('since');
  const since = given && !Number.isNaN(Date.parse(given)) ? new Date(given).toISOString() : new Date(Date.now() - 24 * HOUR).toISOString();
  const [catalogue, stale] = await Promise.all([rules(), apiGet<{ items: StaleServer[] }>('servers', { stale: 'true' })]);
  const titles = new Map(catalogue.map((r) => [r.id, r.title]));

  const input = h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(since) });
  const form = h(
    'form',
    { class: 'filters' },
    h('label', null, t('changesSince'), input),
    h('button', { type: 'submit' }, t('apply')),
    link(href('changes', { since: new Date(Date.now() - 24 * HOUR).toISOString() }), { class: 'button-link' }, t('last24h')),
    link(href('changes', { since: new Date(Date.now() - 7 * 24 * HOUR).toISOString() }), { class: 'button-link' }, t('last7d')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = href('changes', { since: fromLocalInput(input.value) });
  });

  const events = (status?: string) => (token: string | undefined) => apiGet<Page<EventItem>>('events', { since, status, top: '50', continuationToken: token });
  const row = (e: EventItem) => eventEntry(e, true, titles);
  return h(
    'div',
    { class: 'changes-view' },
    h('h1', null, t('navChanges')),
    form,
    section(t('newFailing'), pagedList(events('Warning,Error'), row, t('noChanges'), fail, { 'data-list': 'new-failing' })),
    section(
      t('staleTitle'),
      stale.items.length === 0
        ? h('p', { class: 'muted' }, t('noStale'))
        : h(
            'ul',
            { class: 'stale-list', 'data-list': 'stale' },
            stale.items.map((s) =>
              h('li', { 'data-server': s.server }, link(serverHref(s.server), { class: 'server-link' }, s.server), ' · ', t('lastSeen'), ' ', time(s.lastSeen), ' · ', phrase('staleSince', { time: time(s.staleSince) })),
            ),
          ),
    ),
    section(t('allChanges'), pagedList(events(), row, t('noChanges'), fail, { 'data-list': 'all-changes' })),
  );
}
