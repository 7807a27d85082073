// A server an admin removed from the fleet (the removeServer route): the server route no
// longer answers for it, but its history does, ending with the removal. The view says so — when,
// and who removed it (the removal's own message names them, in the page's language) — and shows
// the whole history, so a link to it from the Changes view or a bookmark still leads somewhere.
import { ApiFailure, rules } from './api.js';
import { h } from './dom.js';
import { historyPage, historyTimeline } from './events.js';
import { phrase, t } from './i18n.js';
import { section, time, type Fail } from './widgets.js';

/** The change the removal wrote into the server's history (docs/lifecycle.md, "Removing a server"). */
const REMOVAL_CAUSE = 'removed';

/**
 * The view of `server` when its newest history entry is its removal; undefined when it is not (a
 * server that never posted, a name that is not an id): the caller then shows its own error.
 */
export async function removedServerView(server: string, fail: Fail): Promise<Node | undefined> {
  const [newest, catalogue] = await Promise.all([
    historyPage(server, undefined, 1).catch((error: unknown) => {
      if (error instanceof ApiFailure && error.status === 404) return undefined;
      throw error;
    }),
    rules(),
  ]);
  const removal = newest?.items[0];
  if (removal?.cause !== REMOVAL_CAUSE) return undefined;
  const titles = new Map(catalogue.map((r) => [r.id, r.title]));
  return h(
    'div',
    { class: 'server-view removed-server', 'data-server': server },
    h('h1', null, server, ' ', h('span', { class: 'flag' }, t('removedBadge'))),
    section(
      t('removedTitle'),
      h('p', { class: 'removed-at' }, phrase('removedAt', { time: time(removal.firstSeen ?? removal.recordedAt) })),
      h('p', { class: 'message removal-message' }, removal.message),
      h('p', { class: 'muted' }, t('removedNote')),
    ),
    section(t('history'), historyTimeline(server, titles, t('noHistory'), fail)),
  );
}
