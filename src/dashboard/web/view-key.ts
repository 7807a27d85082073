// The key form: asked once per tab, and again whenever the API refuses the key (wrong, revoked,
// or of a kind that cannot read), with the API's own sentence.
import { storeKey, type ApiFailure } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';

export function keyProblemText(error: ApiFailure): string {
  return error.status === 403 ? t('keyForbidden', { message: error.message }) : t('keyRefused', { code: error.code, message: error.message });
}

export function renderKeyForm(problem: ApiFailure | undefined, done: () => void): Node {
  const input = h('input', { type: 'password', name: 'key', id: 'key', autocomplete: 'off', spellcheck: 'false', required: true });
  const note = h('p', { class: 'error', role: 'alert', hidden: !problem }, problem ? keyProblemText(problem) : '');
  const form = h(
    'form',
    { class: 'key-form panel' },
    h('h1', null, t('keyTitle')),
    h('p', null, t('keyHelp')),
    note,
    h('label', { for: 'key' }, t('keyLabel')),
    input,
    h('button', { type: 'submit' }, t('keySubmit')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      note.hidden = false;
      note.textContent = t('keyEmpty');
      return;
    }
    storeKey(key);
    done();
  });
  queueMicrotask(() => input.focus());
  return form;
}
