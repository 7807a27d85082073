// The page's one live region. A screen reader reads out every change inside a live region, so the
// views themselves are not live (each render would be read in full); this short line says only
// what changed: a view loading, shown or failed, counts that caught up.
import { h } from './dom.js';

const region = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-announce': '' });

/** The region, to be put on the page once, outside the views. */
export function announcer(): HTMLElement {
  return region;
}

/** Replaces what the region says (plain text: a sentence, never a view's content). */
export function announce(text: string): void {
  region.textContent = text;
}
