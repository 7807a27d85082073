// A server an admin removed from the fleet (the removeServer route): the server route no
// longer answers for it, but its history does, by its id or host name, with when and by whom it was
// removed. That comes from the removal's own commit, so the view says so the moment the removal is
// answered, not only once its change reached the history. It shows the whole history, so a link to
// it from the Changes view or a bookmark still leads somewhere.
import { ApiFailure, rules } from './api.js';
import { h } from './dom.js';
import { historyPage, historyTimeline } from './events.js';
import { phrase, t } from './i18n.js';
import { section, time, type Fail } from './widgets.js';

/** The change the removal writes into the server's history (docs/lifecycle.md, "Removing a server"). */
const REMOVAL_CAUSE = 'removed';

/**
 * The view of the server `name` stands for when an admin removed it; undefined when not (a server
 * that never posted, a name no server answers to): the caller then shows its own error.
 */
export async function removedServerView(name: string, fail: Fail): Promise<Node | undefined> {
  const [newest, catalogue] = await Promise.all([
    historyPage(name, undefined, 1).catch((error: unknown) => {
      if (error instanceof ApiFailure && error.status === 404) return undefined;
      throw error;
    }),
    rules(),
  ]);
  const removed = newest?.removed;
  if (!newest || !removed) return undefined;
  const server = newest.server;
  // Markers written before they kept the message have none; the removal's change in the history has it.
  const entry = newest.items[0]?.cause === REMOVAL_CAUSE ? newest.items[0] : undefined;
  const titles = new Map(catalogue.map((r) => [r.id, r.title]));
  return h(
    'div',
    { class: 'server-view removed-server', 'data-server': server },
    h('h1', null, server, ' ', h('span', { class: 'flag' }, t('removedBadge'))),
    section(
      t('removedTitle'),
      h('p', { class: 'removed-at' }, phrase('removedAt', { time: time(removed.removedAt) })),
      h('p', { class: 'message removal-message' }, removed.message ?? entry?.message ?? ''),
      h('p', { class: 'muted' }, t('removedNote')),
    ),
    section(t('history'), historyTimeline(server, titles, t('noHistory'), fail)),
  );
}
