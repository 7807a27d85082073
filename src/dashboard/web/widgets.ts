// Small pieces the views share: status badges, times, error boxes, "load more" lists.
import { ApiFailure, filledPage, NOT_API, type Page } from './api.js';
import { h, replace, type Child } from './dom.js';
import { formatTime, statusText, t } from './i18n.js';

/** Verdicts, and the statuses of a server's own events (stopped, resumed, removed): each has a badge style. */
const KNOWN_STATUS = /^(Pass|Warning|Error|NotApplicable|Unknown|Stale|Reporting|Removed)$/;

export function badge(status: string | null | undefined): HTMLElement {
  const s = status ?? '—';
  return h('span', { class: `badge status-${KNOWN_STATUS.test(s) ? s : 'other'}`, 'data-status': s }, statusText(s));
}

export function time(iso: string | null | undefined): HTMLElement {
  return iso ? h('time', { datetime: iso, title: iso }, formatTime(iso)) : h('span', { class: 'muted' }, '—');
}

/** The sentence for a failed call (the key problems are handled by the shell). */
export function failureText(error: unknown): string {
  if (!(error instanceof ApiFailure)) return error instanceof Error ? error.message : String(error);
  if (error.status === 0) return t('errorNetwork', { message: error.message });
  if (error.code === NOT_API) return t('errorNotApi');
  if (error.status === 503 || error.status === 429) return t('errorBusy', { seconds: error.retryAfter ?? 5 });
  return t('errorGeneric', { status: error.status, code: error.code, message: error.message });
}

/**
 * The failure's sentence, with "Try again" only when asking again may help: the service was busy
 * or out of reach, or the answer was not the API's (a proxy's sign-in page, gone once signed in).
 * Any other answer (a 400 for a token the service refuses, a 404 for a server no one knows) would
 * repeat itself; where the view pages, `fromStart` then offers its first page again instead.
 */
export function errorBox(error: unknown, retry?: () => void, fromStart?: { label: string; go: () => void }): HTMLElement {
  const helps = retry && error instanceof ApiFailure && (error.isTransient || error.code === NOT_API);
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', null, failureText(error)),
    helps ? button(t('retry'), retry) : fromStart ? button(fromStart.label, fromStart.go) : null,
  );
}

/**
 * Shows a failed re-read in `slot`, in place of any box an earlier try left there (so failures do
 * not pile up); a key problem goes to the shell instead. Returns the handler for the promise.
 */
export function showFailureIn(slot: HTMLElement, fail: Fail, retry: () => void): (error: unknown) => void {
  return (error) => {
    if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
    replace(slot, errorBox(error, retry));
  };
}

export function button(label: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', onClick);
  return b;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

export type Fail = (error: unknown) => void;

/**
 * Pages of a list the service answers whole (the servers not reporting come in one answer), for
 * `pagedList`: the page draws `size` entries at a time however long the list, as it does the
 * lists the service pages. The token is the next entry's index.
 */
export function pagesOf<T>(items: readonly T[], size: number): (token: string | undefined) => Promise<Page<T>> {
  return (token) => {
    const from = Number(token ?? 0);
    const to = from + size;
    return Promise.resolve({ items: items.slice(from, to), continuationToken: to < items.length ? String(to) : null });
  };
}

/**
 * A list that fetches page after page with the API's continuation tokens: the first page now,
 * the next on "Load more", each past empty pages (filledPage). `row` builds one entry; `empty`
 * is said when there is none (nothing when undefined).
 */
export function pagedList<T>(
  load: (token: string | undefined) => Promise<Page<T>>,
  row: (item: T) => Node,
  empty: string | undefined,
  fail: Fail,
  attrs: Record<string, string> = {},
): HTMLElement {
  const list = h('ol', { class: 'events', ...attrs });
  const more = h('div', { class: 'more' });
  const box = h('div', null, list, more);
  const next = (token: string | undefined) => {
    replace(more, h('p', { class: 'muted' }, t('loading')));
    box.setAttribute('aria-busy', 'true');
    filledPage(load, token).then(
      (page) => {
        box.removeAttribute('aria-busy');
        for (const item of page.items) list.appendChild(row(item));
        if (!token && page.items.length === 0 && !page.continuationToken) replace(more, empty === undefined ? null : h('p', { class: 'muted' }, empty));
        else if (page.continuationToken) {
          const tok = page.continuationToken;
          replace(more, button(t('loadMore'), () => next(tok)));
        } else replace(more);
      },
      (error: unknown) => {
        box.removeAttribute('aria-busy');
        if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
        // A further page the service refuses for good: the list starts over from its first page.
        const restart = () => {
          replace(list);
          next(undefined);
        };
        replace(more, errorBox(error, () => next(token), token ? { label: t('fromStart'), go: restart } : undefined));
      },
    );
  };
  next(undefined);
  return box;
}
