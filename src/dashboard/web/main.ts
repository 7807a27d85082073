// The dashboard's shell: header (views, server box, language, key), the key form when needed, and
// the current view from the fragment. A render that finishes after the user moved on is dropped.
import { announce, announcer } from './announce.js';
import { ApiFailure, forgetKey, storedKey, takeKeyFromFragment } from './api.js';
import { h, replace } from './dom.js';
import { initialLang, lang, setLang, t, type Lang } from './i18n.js';
import { href, parseRoute, serverHref, type ViewName } from './router.js';
import { renderChanges } from './view-changes.js';
import { renderDrift } from './view-drift.js';
import { renderFindings } from './view-findings.js';
import { renderFleet } from './view-fleet.js';
import { renderKeyForm } from './view-key.js';
import { renderServer } from './view-server.js';
import { errorBox } from './widgets.js';

const root = document.getElementById('app') ?? document.body;
const header = h('header', { class: 'top' });
// Not a live region: a screen reader would read each view out in full; the announcer says what changed.
const main = h('main', { id: 'view' });
let generation = 0;

function renderHeader(current: ViewName | 'key'): void {
  const nav = h(
    'nav',
    null,
    (['fleet', 'findings', 'changes'] as const).map((v) =>
      h('a', { href: href(v), 'data-view': v, 'aria-current': v === current ? 'page' : null }, t(v === 'fleet' ? 'navFleet' : v === 'findings' ? 'navFindings' : 'navChanges')),
    ),
  );
  const serverBox = h('input', { type: 'search', name: 'server', placeholder: t('openServer'), 'aria-label': t('openServer'), autocomplete: 'off', spellcheck: 'false' });
  const goto = h('form', { class: 'goto' }, serverBox, h('button', { type: 'submit' }, t('open')));
  goto.addEventListener('submit', (e) => {
    e.preventDefault();
    const s = serverBox.value.trim();
    if (s) location.hash = serverHref(s);
  });
  const langSelect = h(
    'select',
    { name: 'lang', 'aria-label': t('language'), 'data-control': 'lang' },
    h('option', { value: 'en', selected: lang() === 'en' }, 'English'),
    h('option', { value: 'ja', selected: lang() === 'ja' }, '日本語'),
  );
  langSelect.addEventListener('change', () => {
    setLang(langSelect.value as Lang);
    show();
  });
  const keyButton = h('button', { type: 'button', 'data-action': 'change-key' }, t('changeKey'));
  keyButton.addEventListener('click', () => {
    forgetKey();
    askForKey(undefined);
  });
  const focused = focusedControl();
  replace(header, h('a', { class: 'brand', href: href('fleet') }, t('appTitle')), current === 'key' ? null : [nav, goto], langSelect, current === 'key' ? null : keyButton);
  if (focused) header.querySelector<HTMLElement>(focused)?.focus();
}

/**
 * The header is built anew on every view and language change; the control the keyboard was on
 * (a view link, the language list) is found again by what names it, so focus does not fall back
 * to the top of the page and a keyboard user does not have to tab back to where they were.
 */
function focusedControl(): string | undefined {
  const el = document.activeElement;
  if (!el || !header.contains(el)) return undefined;
  for (const attr of ['data-view', 'data-control', 'data-action', 'name']) {
    const v = el.getAttribute(attr);
    if (v) return `${el.tagName.toLowerCase()}[${attr}="${CSS.escape(v)}"]`;
  }
  return el.classList.contains('brand') ? 'a.brand' : undefined;
}

function askForKey(problem: ApiFailure | undefined): void {
  generation++;
  document.title = t('appTitle');
  renderHeader('key');
  replace(main, renderKeyForm(problem, show));
  announce(t('keyTitle'));
}

/** A key problem anywhere (also in a later page of a list) sends the user back to the key form. */
function fail(error: unknown): void {
  if (error instanceof ApiFailure && error.isKeyProblem) {
    if (error.status === 401) forgetKey();
    askForKey(error);
  }
}

function show(): void {
  if (!storedKey()) return askForKey(undefined);
  const route = parseRoute(location.hash);
  const mine = ++generation;
  renderHeader(route.view);
  const name = t(route.view === 'findings' ? 'navFindings' : route.view === 'changes' ? 'navChanges' : route.view === 'drift' ? 'driftTitle' : 'navFleet');
  document.title = `${name} · ${t('appTitle')}`;
  const viewName = route.view === 'server' && route.arg ? route.arg : name;
  replace(main, h('p', { class: 'muted loading' }, t('loading')));
  announce(t('loading'));
  const view =
    route.view === 'findings'
      ? renderFindings(route, fail)
      : route.view === 'changes'
        ? renderChanges(route, fail)
        : route.view === 'drift'
          ? renderDrift(route, fail)
        : route.view === 'server' && route.arg
          ? renderServer(route.arg, fail)
          : renderFleet(fail);
  view.then(
    (node) => {
      if (mine !== generation) return;
      replace(main, node);
      if (route.view === 'server') document.title = `${route.arg} · ${t('appTitle')}`;
      announce(t('viewShown', { view: viewName }));
      performance.mark(`posture:${route.view}-rendered`);
    },
    (error: unknown) => {
      if (mine !== generation) return;
      if (error instanceof ApiFailure && error.isKeyProblem) return fail(error);
      replace(main, errorBox(error, show));
      announce(t('viewFailed', { view: viewName }));
    },
  );
}

setLang(initialLang());
takeKeyFromFragment();
replace(root, header, announcer(), main);
// A `#key=…` link opened in a tab that already shows the page changes only the fragment: the key
// must leave the address bar and the history then too, not only when the page loads.
window.addEventListener('hashchange', () => {
  takeKeyFromFragment();
  show();
});
show();
