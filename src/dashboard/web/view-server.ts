// A server: host facts, the last snapshot and when it was seen, every rule's result with its
// message, remediation steps and evidence (readable, the raw JSON one click away), and the
// server's history of status changes as a timeline (the server and history routes).
// A post writes the server's results itself; its host facts, raw snapshot and history follow a
// moment later (the projector): while the service says so (countsPending), a line says it, an
// empty history says nothing more, and the view is read again once the wait is over.
// A server an admin removed has no results any more; view-removed.ts shows it instead.
import { ApiFailure, apiGet, type ServerResult, type ServerView } from './api.js';
import { externalLink, h, replace, type Child } from './dom.js';
import { renderEvidence } from './evidence.js';
import { formatNumber, phrase, t, type TextKey } from './i18n.js';
import { PendingWait } from './pending-line.js';
import { badge, section, showFailureIn, time, type Fail } from './widgets.js';
import { historyTimeline } from './events.js';
import { removedServerView } from './view-removed.js';

function fact(label: TextKey, ...value: Child[]): Node[] {
  return [h('dt', null, t(label)), h('dd', null, ...value)];
}

const text = (v: string | null | undefined): string => v ?? '—';

function utcOffset(minutes: number | null): string {
  if (minutes === null) return '—';
  const sign = minutes < 0 ? '−' : '+';
  const m = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function facts(v: ServerView): HTMLElement {
  const host = v.host;
  const os = host ? [host.os.caption, host.os.version, host.os.architecture].filter(Boolean).join(' · ') : '';
  return h(
    'dl',
    { class: 'facts' },
    host ? fact('name', host.name) : null,
    host ? fact('fqdn', text(host.fqdn)) : null,
    host ? fact('os', os || '—') : null,
    host ? fact('utcOffset', utcOffset(host.utcOffsetMinutes)) : null,
    host ? fact('collector', `${host.collector.name} ${host.collector.version}`) : null,
    host?.collector.manifestVersion ? fact('manifestVersion', h('code', null, host.collector.manifestVersion)) : null,
    host ? fact('firstSeen', time(host.firstSeen)) : null,
    fact('lastSeen', time(v.lastSeen), v.stale ? [' ', h('span', { class: 'flag' }, phrase('staleSince', { time: time(v.staleSince ?? null) }))] : ''),
    fact('lastSnapshot', h('code', null, text(v.lastSnapshotId)), ' ', h('span', { class: 'muted' }, '(', phrase('collectedAt', { time: time(v.lastCollectedAt) }), ')')),
    v.rawSnapshot ? fact('rawSnapshot', t('bytes', { n: formatNumber(v.rawSnapshot.bytes) }), ' ', h('code', { class: 'hash' }, v.rawSnapshot.contentHash)) : null,
  );
}

function resultCard(r: ServerResult): HTMLElement {
  return h(
    'article',
    { class: `result status-${r.status}`, 'data-rule': r.ruleId, 'data-status': r.status },
    h('header', null, badge(r.status), ' ', h('h3', null, r.title), ' ', h('code', { class: 'rule-id' }, r.ruleId, ' ', r.ruleVersion)),
    h('p', { class: 'message' }, r.message),
    h(
      'p',
      { class: 'muted' },
      t('reasonCode'),
      ': ',
      h('code', null, r.reasonCode),
      r.firstSeen ? [' · ', phrase('statusSince', { time: time(r.firstSeen) })] : null,
      r.previousStatus ? [' · ', phrase('previously', { status: badge(r.previousStatus) })] : null,
      r.waived ? [' · ', h('span', { class: 'flag' }, t('waiver', { id: r.waiverId ?? '' }))] : null,
    ),
    h('h4', null, t('remediation')),
    r.remediation.length > 0 ? h('ol', { class: 'remediation' }, r.remediation.map((step) => h('li', null, step))) : h('p', { class: 'muted' }, t('noRemediation')),
    r.references.length > 0 ? [h('h4', null, t('references')), h('ul', { class: 'references' }, r.references.map((ref) => h('li', null, externalLink(ref.url, ref.title))))] : null,
    h('h4', null, t('evidence')),
    renderEvidence(r.evidence),
    h('details', { class: 'raw' }, h('summary', null, t('rawJson')), h('pre', null, JSON.stringify(r, null, 2))),
  );
}

export async function renderServer(server: string, fail: Fail): Promise<Node> {
  const path = `servers/${encodeURIComponent(server)}`;
  const pending = await PendingWait.ask();
  let v: ServerView;
  try {
    v = await apiGet<ServerView>(path);
  } catch (error) {
    // A removed server has no results (404), but its history stays: show that, and when it went.
    const removed = error instanceof ApiFailure && error.status === 404 ? await removedServerView(server, fail) : undefined;
    if (removed) return removed;
    throw error;
  }
  const problem = h('div', { class: 'reload-problem' });
  const body = h('div', null, content(v, pending, fail));
  // Read again after the wait: what is shown stays if that fails, under the error (one, however
  // often it fails).
  const reload = () =>
    void apiGet<ServerView>(path).then((next) => {
      replace(problem);
      replace(body, content(next, pending, fail));
    }, showFailureIn(problem, fail, reload));
  const line = pending.line(fail, reload);
  return h(
    'div',
    { class: 'server-view', 'data-server': v.server },
    h('h1', null, v.server, v.stale ? [' ', h('span', { class: 'flag' }, t('staleBadge'))] : null),
    line,
    problem,
    body,
  );
}

function content(v: ServerView, pending: PendingWait, fail: Fail): Child[] {
  const titles = new Map(v.results.map((r) => [r.ruleId, r.title]));
  const history = historyTimeline(v.server, titles, pending.empty(t('noHistory')), fail);
  return [
    section(t('host'), facts(v)),
    section(t('results'), v.results.map(resultCard)),
    section(t('history'), history),
    h('details', { class: 'raw' }, h('summary', null, t('rawServerJson')), h('pre', null, JSON.stringify(v, null, 2))),
  ];
}
