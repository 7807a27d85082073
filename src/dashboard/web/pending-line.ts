// The line a view shows while the summary says accepted changes are still waiting to be counted
// (countsPending), and the bounded re-asking behind it. The fleet view redraws from every summary;
// the list views (findings, changes, a server's history) reload their own lists once it says the
// wait is over. One summary call per load and one per re-ask, never more.
import { ApiFailure, apiGet, type Summary } from './api.js';
import { PENDING_RELOAD_MS, PENDING_RELOADS } from './counts-pending.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';
import type { Fail } from './widgets.js';

/**
 * Calls `show` with `first` now and, while a summary says pending, with a new one every
 * PENDING_RELOAD_MS, at most PENDING_RELOADS times, as long as `anchor` is on the page. The line
 * is null once a summary is not pending; after the last try (or a failed one) it says to reload.
 */
export function followPending(anchor: Node, first: Summary, fail: Fail, show: (s: Summary, line: HTMLElement | null) => void): void {
  const step = (s: Summary, reloadsLeft: number) => {
    const pending = s.countsPending === true;
    show(s, pending ? h('p', { class: 'notice', role: 'status', 'data-notice': 'counts-pending' }, t(reloadsLeft > 0 ? 'countsPending' : 'countsPendingStopped')) : null);
    if (!pending || reloadsLeft <= 0) return;
    setTimeout(() => {
      // The user moved on (or this render was dropped): nothing to update.
      if (!anchor.isConnected) return;
      apiGet<Summary>('summary').then(
        (next) => {
          if (anchor.isConnected) step(next, reloadsLeft - 1);
        },
        (error: unknown) => {
          if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
          // What is shown stays; the line no longer promises an update.
          if (anchor.isConnected) step(s, 0);
        },
      );
    }, PENDING_RELOAD_MS);
  };
  step(first, PENDING_RELOADS);
}

/**
 * For a view of lists the projector writes: a slot holding the line while `first` (read before
 * the lists) says pending; `reload` runs once a later summary says the wait is over, so the lists
 * it reads then hold every change accepted before. Put the slot in the view as it is returned.
 */
export function pendingLine(first: Summary, fail: Fail, reload: () => void): HTMLElement {
  const slot = h('div', { class: 'pending-line' });
  let waited = false;
  followPending(slot, first, fail, (s, line) => {
    replace(slot, line);
    if (s.countsPending === true) waited = true;
    else if (waited) reload();
  });
  return slot;
}
