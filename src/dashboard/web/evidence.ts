// Evidence for people: a rule's evidence object as nested definition lists (names spelled out,
// yes/no, lists as lists) instead of a JSON dump. Every value is text; nothing is interpreted.
import { h, type Child } from './dom.js';
import { t } from './i18n.js';

/** Deeper than this, objects start folded. */
const OPEN_DEPTH = 4;

/** `smtpPort25Lines` → "smtp port25 lines", `apEnabled` → "ap enabled". */
export function spellOut(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function scalar(v: unknown): Child {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, '—');
  if (typeof v === 'boolean') return h('span', { class: v ? 'yes' : 'no' }, v ? t('yes') : t('no'));
  if (typeof v === 'number') return h('span', { class: 'num' }, String(v));
  // Strings keep their exact characters (paths, log lines with tabs): shown as code, wrapped.
  return h('code', { class: 'text' }, String(v));
}

function value(v: unknown, depth: number): Child {
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted' }, t('none'));
    if (v.every((x) => !isPlainObject(x) && !Array.isArray(x))) return h('ul', { class: 'chips' }, v.map((x) => h('li', null, scalar(x))));
    return h('ol', { class: 'ev-list' }, v.map((x) => h('li', null, value(x, depth + 1))));
  }
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    if (entries.length === 0) return h('span', { class: 'muted' }, t('none'));
    const list = h('dl', { class: 'ev' }, entries.map(([k, x]) => [h('dt', { title: k }, spellOut(k)), h('dd', null, value(x, depth + 1))]));
    if (depth < OPEN_DEPTH) return list;
    return h('details', null, h('summary', null, entries.map(([k]) => spellOut(k)).slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '')), list);
  }
  return scalar(v);
}

export function renderEvidence(evidence: unknown): Node {
  return h('div', { class: 'evidence' }, value(evidence, 0));
}
