// The line a view shows while accepted changes are still waiting to be counted (countsPending),
// and the bounded re-asking behind it. The fleet view redraws from every full summary; the list
// views (findings, changes, a server, configurations) ask only `summary?only=countsPending` (one
// storage read, where the full summary reads the counters and waivers too) and reload their own
// lists once it says the wait is over. One call per load and one per re-ask, and when the asking
// stops with the wait not over, one read of the projector's state to say why; never more.
import { announce } from './announce.js';
import { ApiFailure, countsPendingNow, projectorState, type CountsPending } from './api.js';
import { PENDING_RELOAD_MS, PENDING_RELOADS, whyStillPending } from './counts-pending.js';
import { h, replace } from './dom.js';
import { formatNumber, t } from './i18n.js';
import type { Fail } from './widgets.js';

/**
 * Calls `show` with `first` now and, while an answer says pending, with a new one from `ask` every
 * PENDING_RELOAD_MS, at most PENDING_RELOADS times, as long as `anchor` is on the page. The line
 * is null once an answer is not pending; after the last try (or a failed one) it says to reload.
 */
export function followPending<T extends CountsPending>(anchor: Node, first: T, ask: () => Promise<T>, fail: Fail, show: (s: T, line: HTMLElement | null) => void): void {
  // One line for the whole wait, its text changed only when it differs: a status element put on
  // the page anew (or rewritten) is read out again, every two seconds.
  let line: HTMLElement | null = null;
  const step = (s: T, reloadsLeft: number) => {
    const pending = s.countsPending === true;
    // Only a later answer can end a wait; the first one was announced with its view.
    if (!pending && reloadsLeft < PENDING_RELOADS) announce(t('countsUpdated'));
    const text = t(reloadsLeft > 0 ? 'countsPending' : 'countsPendingStopped');
    if (!pending) line = null;
    else if (!line) line = h('p', { class: 'notice', role: 'status', 'data-notice': 'counts-pending' }, text);
    else if (line.textContent !== text) line.textContent = text;
    show(s, line);
    if (pending && reloadsLeft <= 0 && line) explain(line);
    if (!pending || reloadsLeft <= 0) return;
    setTimeout(() => {
      // The user moved on (or this render was dropped): nothing to update.
      if (!anchor.isConnected) return;
      ask().then(
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
 * Once the view stops asking, says why the wait is long when the projector's state shows it (one
 * ask): changes set aside, or entries older than the projector ever leaves them. The line keeps
 * its sentence when the state says nothing more or cannot be read; the view has its data.
 */
function explain(line: HTMLElement): void {
  projectorState().then(
    (p) => {
      const why = whyStillPending(p);
      if (!why || !line.isConnected) return;
      line.textContent =
        why.key === 'countsPendingHeld'
          ? t(why.key, { count: `${formatNumber(why.count)}${why.more ? '+' : ''}`, error: why.error })
          : t(why.key, { minutes: formatNumber(why.minutes) });
    },
    () => undefined,
  );
}

/**
 * What a view of lists the projector writes needs while it waits: read `countsPending` first,
 * before the lists, so an answer that says nothing is waiting vouches for them; while the line
 * shows, an empty list says nothing (what it lists may still come: the line says so).
 */
export class PendingWait {
  #showing: boolean;

  private constructor(private readonly first: CountsPending) {
    this.#showing = first.countsPending === true;
  }

  /** Asks the service whether changes are still waiting to be counted. */
  static async ask(): Promise<PendingWait> {
    return new PendingWait(await countsPendingNow());
  }

  /** An empty list's sentence, or none while the line shows. */
  empty<S>(sentence: S): S | undefined {
    return this.#showing ? undefined : sentence;
  }

  /**
   * A slot holding the line while pending; `reload` runs once a later answer says the wait is over
   * (empty lists then say so again), so the lists it reads hold every change accepted before. Put
   * the slot in the view as it is returned: the re-asking stops while it is off the page.
   */
  line(fail: Fail, reload: () => void): HTMLElement {
    const slot = h('div', { class: 'pending-line' });
    followPending(slot, this.first, countsPendingNow, fail, (s, line) => {
      // The same line again is left where it is.
      if (!line || line.parentNode !== slot) replace(slot, line);
      if (s.countsPending === true) return;
      if (this.#showing) {
        this.#showing = false;
        reload();
      }
    });
    return slot;
  }
}
