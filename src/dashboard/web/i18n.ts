// The page's own texts in English and Japanese. Rule titles, messages and remediation come from
// the API in the chosen language (Accept-Language); these are the labels around them.

export type Lang = 'en' | 'ja';

const en = {
  appTitle: 'Fleet posture',
  navFleet: 'Fleet',
  navFindings: 'Findings',
  navChanges: 'Changes',
  openServer: 'Server id',
  open: 'Open',
  changeKey: 'Change key',
  language: 'Language',
  loading: 'Loading…',
  viewShown: '{view} shown.',
  viewFailed: '{view} could not be loaded.',
  countsUpdated: 'Recent changes have been counted.',
  keyTitle: 'Enter a reader key',
  keyHelp:
    'The dashboard reads the fleet with a reader key (POSTURE_READER_KEYS) or an admin key. The key stays in this browser tab (session storage) and is sent in the x-api-key header, never in a URL.',
  keyLabel: 'Key',
  keySubmit: 'Open the dashboard',
  keyEmpty: 'Enter a key.',
  keyRefused: 'The key was refused ({code}): {message} Enter another key.',
  keyForbidden: 'This key cannot read fleet data: {message} Enter a reader or admin key.',
  errorBusy: 'The service or its storage is busy or unavailable; try again in {seconds} seconds.',
  errorNetwork: 'The service could not be reached: {message}',
  errorGeneric: 'The request failed ({status} {code}): {message}',
  errorNotApi: 'The answer did not come from the fleet API (a sign-in page or a proxy in between, perhaps); sign in again or reload the page.',
  retry: 'Try again',
  fromStart: 'Back to the first page',
  hosts: 'Servers',
  stale: 'Not reporting',
  neverPosted: 'Enrolled, never reported',
  waived: 'Waived findings',
  activeWaivers: 'Active waivers',
  warnings: 'Warnings',
  errors: 'Errors',
  asOf: 'Counts as of {time}',
  fleetEmpty: 'No server has posted a snapshot yet.',
  fleetEmptyNext: "A server appears here after its collector's first post: install the collector on each Exchange server with the enrolment secret (collector/README.md). A server whose collector enrolled and has not posted two hours later is counted under \"Enrolled, never reported\" and listed in Changes; an admin sees why in the refused-servers listing. To try the dashboard on a local host, npm run demo posts a sample fleet.",
  countsPending: 'Recent changes are still being counted; this view updates by itself in a moment.',
  countsPendingStopped: 'Recent changes are still being counted; reload the page in a while to see them.',
  countsPendingHeld: 'Recent changes are still being counted, but the projector set {count} aside that it could not count ("{error}"): they wait for an admin to fix the cause and put them back.',
  countsPendingStalled: 'Recent changes are still being counted, and the oldest has waited {minutes} minutes: the projector may not be running; tell an admin.',
  perStatus: 'Servers per status',
  Pass: 'Pass',
  Warning: 'Warning',
  Error: 'Error',
  NotApplicable: 'Not applicable',
  Unknown: 'Unknown',
  Stale: 'Stale',
  Reporting: 'Reporting',
  Removed: 'Removed',
  findingsTitle: 'Warnings and errors',
  rule: 'Rule',
  allRules: 'All rules',
  status: 'Status',
  warningAndError: 'Warning and Error',
  server: 'Server',
  since: 'Since',
  apply: 'Apply',
  clear: 'Clear',
  downloadCsv: 'Download CSV',
  downloading: 'Downloading…',
  reason: 'Reason',
  message: 'Message',
  notes: 'Notes',
  staleBadge: 'not reporting',
  waivedBadge: 'waived',
  noFindings: 'No warnings or errors match.',
  previousPage: 'Previous page',
  nextPage: 'Next page',
  page: 'Page {n}',
  host: 'Host',
  name: 'Name',
  fqdn: 'FQDN',
  os: 'Operating system',
  utcOffset: 'UTC offset',
  collector: 'Collector',
  manifestVersion: 'Manifest version',
  firstSeen: 'First seen',
  lastSeen: 'Last seen',
  lastSnapshot: 'Last snapshot',
  collectedAt: 'collected {time}',
  rawSnapshot: 'Stored raw snapshot',
  bytes: '{n} bytes',
  results: 'Results',
  remediation: 'What to do',
  noRemediation: 'Nothing to do.',
  references: 'References',
  evidence: 'Evidence',
  rawJson: 'Raw JSON',
  rawServerJson: 'Raw JSON of this server',
  reasonCode: 'Reason code',
  statusSince: 'In this status since {time}',
  previously: 'before: {status}',
  waiver: 'Waiver {id}',
  history: 'History',
  noHistory: 'No status change recorded.',
  loadMore: 'Load more',
  changesSince: 'Changes since',
  last24h: 'Last 24 hours',
  last7d: 'Last 7 days',
  newFailing: 'New warnings and errors',
  statusChanges: 'Status changes',
  showKind: 'Show',
  kindStatus: 'Status changes',
  kindWaiver: 'Waiver records',
  kindBaseline: 'Baseline records',
  kindAll: 'All events',
  waiverRecords: 'Waiver records (audit)',
  baselineRecords: 'Baseline records (audit)',
  allEvents: 'All events: status changes and audit records',
  noNewFailing: 'No new warnings or errors since {time}.',
  noStatusChanges: 'No status changes since {time}.',
  noWaiverRecords: 'No waiver records since {time}.',
  noBaselineRecords: 'No baseline records since {time}.',
  noEvents: 'No events since {time}.',
  staleTitle: 'Servers not reporting',
  noStale: 'Every server is reporting.',
  staleSince: 'not reporting since {time}',
  neverPostedTitle: 'Servers enrolled that never reported',
  neverPostedHelp:
    'Each was given a key more than two hours ago and no snapshot of it is stored: its collector never ran, or everything it sent was refused (an admin sees why in the refused-servers listing). It stays here until it reports or its key is revoked.',
  noNeverPosted: 'Every server enrolled more than two hours ago has reported.',
  keyIssued: 'key issued {time}',
  neverPostedMore: 'More servers are waiting than one check reads; the rest are listed as later checks go on.',
  yes: 'yes',
  no: 'no',
  none: 'none',
  causeSnapshot: 'snapshot',
  'causeRule-change': 'rule change',
  causeStale: 'stopped reporting',
  causeReturned: 'reporting again',
  causeRemoved: 'removed from the fleet',
  'causeWaiver-created': 'waiver created',
  'causeWaiver-changed': 'waiver changed',
  'causeWaiver-expired': 'waiver expired',
  'causeWaiver-deleted': 'waiver deleted',
  'causeBaseline-set': 'baseline set',
  'causeBaseline-changed': 'baseline changed',
  'causeBaseline-deleted': 'baseline cleared',
  serverEvent: 'server',
  removedBadge: 'removed',
  removedTitle: 'Removed from the fleet',
  removedAt: 'Removed from the fleet on {time}.',
  removedNote: 'Its results no longer count anywhere; its history below stays for the record.',
  driftLink: 'Configurations',
  driftTitle: 'Configurations',
  driftSummary: '{servers} servers in {configurations} configurations.',
  driftAgainstLargest: 'Each configuration is compared with the largest one.',
  driftFromStart: 'Show the configurations from the first page',
  driftAgainstBaseline: 'Each configuration is compared with the baseline server {server} (named by {setBy}, {time}).',
  driftBaselineNotShown: 'The configuration of the baseline server {server} (named by {setBy}, {time}) is not among those shown, so each configuration is compared with the largest.',
  driftBaselineUnrecorded:
    'The baseline server {server} (named by {setBy}, {time}) has no configuration recorded for this rule (removed from the fleet, or no longer evaluated by the rule), so each configuration is compared with the largest until an admin names another server or clears the baseline.',
  driftServers: 'servers',
  driftLargestBadge: 'largest',
  driftBaselineBadge: 'baseline',
  driftSample: 'Servers:',
  driftDiffers: 'Differs from the reference in',
  driftAllFacts: 'Its facts',
  driftField: 'Fact',
  driftThis: 'This configuration',
  driftReference: 'Reference',
  driftEmpty: 'No configuration is recorded for this rule yet: servers appear with their next snapshot.',
  countsReevaluating: 'The fleet is still being re-evaluated against version {version} of this rule: servers not reached yet are counted with the status its earlier version gave them, so these counts may move until it finishes.',
  driftReevaluating: 'The fleet is still being re-evaluated against version {version} of this rule: servers not reached yet are counted under the facts of their earlier version, so one configuration may show as two clusters until it finishes.',
};

export type TextKey = keyof typeof en;

const ja: Record<TextKey, string> = {
  appTitle: 'フリートの構成状況',
  navFleet: 'フリート',
  navFindings: '検出結果',
  navChanges: '変更',
  openServer: 'サーバー ID',
  open: '開く',
  changeKey: 'キーを変更',
  language: '言語',
  loading: '読み込み中…',
  viewShown: '{view}を表示しました。',
  viewFailed: '{view}を読み込めませんでした。',
  countsUpdated: '最近の変更の集計が終わりました。',
  keyTitle: '閲覧キーを入力してください',
  keyHelp:
    'ダッシュボードは閲覧キー (POSTURE_READER_KEYS) または管理キーでフリートを読み取ります。キーはこのブラウザー タブ (セッション ストレージ) にだけ保持され、URL ではなく x-api-key ヘッダーで送信されます。',
  keyLabel: 'キー',
  keySubmit: 'ダッシュボードを開く',
  keyEmpty: 'キーを入力してください。',
  keyRefused: 'キーが拒否されました ({code}): {message} 別のキーを入力してください。',
  keyForbidden: 'このキーではフリートのデータを読めません: {message} 閲覧キーか管理キーを入力してください。',
  errorBusy: 'サービスまたはストレージが混雑しているか利用できません。{seconds} 秒後にもう一度お試しください。',
  errorNetwork: 'サービスに接続できませんでした: {message}',
  errorGeneric: '要求が失敗しました ({status} {code}): {message}',
  errorNotApi: '応答がフリート API からのものではありません (途中のプロキシやサインイン画面など)。サインインし直すか、ページを再読み込みしてください。',
  retry: '再試行',
  fromStart: '最初のページに戻る',
  hosts: 'サーバー',
  stale: '報告なし',
  neverPosted: '登録後未報告',
  waived: '免除中の検出',
  activeWaivers: '有効な免除',
  warnings: '警告',
  errors: 'エラー',
  asOf: '{time} 時点の件数',
  fleetEmpty: 'まだどのサーバーからもスナップショットが届いていません。',
  fleetEmptyNext: 'サーバーは、そのコレクターが最初のスナップショットを送信するとここに表示されます。各 Exchange サーバーに登録シークレットを使ってコレクターをインストールしてください (collector/README.md)。コレクターが登録して 2 時間たっても送信していないサーバーは「登録後未報告」に数えられ、「変更」に一覧されます。その理由は管理者が拒否されたサーバーの一覧で確認できます。ローカル ホストでダッシュボードを試すには、npm run demo でサンプルのフリートを送信できます。',
  countsPending: '最近の変更をまだ集計しています。この画面はまもなく自動で更新されます。',
  countsPendingStopped: '最近の変更をまだ集計しています。しばらくしてからページを再読み込みしてください。',
  countsPendingHeld: '最近の変更をまだ集計していますが、プロジェクターが集計できなかった変更 {count} 件を保留しています (「{error}」)。管理者が原因を解消して戻すまで待機します。',
  countsPendingStalled: '最近の変更をまだ集計していますが、最も古い変更は {minutes} 分待っています。プロジェクターが動いていない可能性があります。管理者に連絡してください。',
  perStatus: '状態ごとのサーバー数',
  Pass: '合格',
  Warning: '警告',
  Error: 'エラー',
  NotApplicable: '対象外',
  Unknown: '不明',
  Stale: '報告なし',
  Reporting: '報告再開',
  Removed: '削除済み',
  findingsTitle: '警告とエラー',
  rule: 'ルール',
  allRules: 'すべてのルール',
  status: '状態',
  warningAndError: '警告とエラー',
  server: 'サーバー',
  since: '開始日時',
  apply: '適用',
  clear: 'クリア',
  downloadCsv: 'CSV をダウンロード',
  downloading: 'ダウンロード中…',
  reason: '理由',
  message: 'メッセージ',
  notes: '備考',
  staleBadge: '報告なし',
  waivedBadge: '免除',
  noFindings: '該当する警告・エラーはありません。',
  previousPage: '前のページ',
  nextPage: '次のページ',
  page: '{n} ページ目',
  host: 'ホスト',
  name: '名前',
  fqdn: 'FQDN',
  os: 'オペレーティング システム',
  utcOffset: 'UTC オフセット',
  collector: 'コレクター',
  manifestVersion: 'マニフェストのバージョン',
  firstSeen: '初回受信',
  lastSeen: '最終受信',
  lastSnapshot: '最新のスナップショット',
  collectedAt: '{time} に収集',
  rawSnapshot: '保存された生のスナップショット',
  bytes: '{n} バイト',
  results: '結果',
  remediation: '対処方法',
  noRemediation: '対処は不要です。',
  references: '参考資料',
  evidence: '根拠',
  rawJson: '生の JSON',
  rawServerJson: 'このサーバーの生の JSON',
  reasonCode: '理由コード',
  statusSince: '{time} からこの状態',
  previously: '以前: {status}',
  waiver: '免除 {id}',
  history: '履歴',
  noHistory: '状態の変化はまだ記録されていません。',
  loadMore: 'さらに読み込む',
  changesSince: '次の日時以降の変更',
  last24h: '過去 24 時間',
  last7d: '過去 7 日間',
  newFailing: '新しい警告とエラー',
  statusChanges: '状態の変化',
  showKind: '表示',
  kindStatus: '状態の変化',
  kindWaiver: '免除の記録',
  kindBaseline: '基準の記録',
  kindAll: 'すべてのイベント',
  waiverRecords: '免除の記録 (監査)',
  baselineRecords: '基準の記録 (監査)',
  allEvents: 'すべてのイベント: 状態の変化と監査記録',
  noNewFailing: '{time} 以降、新しい警告・エラーはありません。',
  noStatusChanges: '{time} 以降、状態の変化はありません。',
  noWaiverRecords: '{time} 以降、免除の記録はありません。',
  noBaselineRecords: '{time} 以降、基準の記録はありません。',
  noEvents: '{time} 以降、イベントはありません。',
  staleTitle: '報告が途絶えたサーバー',
  noStale: 'すべてのサーバーが報告しています。',
  staleSince: '{time} から報告なし',
  neverPostedTitle: '登録後に一度も報告していないサーバー',
  neverPostedHelp:
    'いずれも 2 時間以上前にキーが発行され、スナップショットが一つも保存されていません。コレクターが実行されていないか、送信したものがすべて拒否されています (理由は管理者が拒否されたサーバーの一覧で確認できます)。報告するか、キーが失効するまでここに表示されます。',
  noNeverPosted: '2 時間以上前に登録したサーバーはすべて報告しています。',
  keyIssued: 'キー発行 {time}',
  neverPostedMore: '1 回の確認で読める数を超えるサーバーが待っています。残りは以降の確認で一覧されます。',
  yes: 'はい',
  no: 'いいえ',
  none: 'なし',
  causeSnapshot: 'スナップショット',
  'causeRule-change': 'ルールの変更',
  causeStale: '報告が途絶えた',
  causeReturned: '報告が再開した',
  causeRemoved: 'フリートから削除',
  'causeWaiver-created': '免除の作成',
  'causeWaiver-changed': '免除の変更',
  'causeWaiver-expired': '免除の期限切れ',
  'causeWaiver-deleted': '免除の削除',
  'causeBaseline-set': '基準の設定',
  'causeBaseline-changed': '基準の変更',
  'causeBaseline-deleted': '基準の解除',
  serverEvent: 'サーバー',
  removedBadge: '削除済み',
  removedTitle: 'フリートから削除済み',
  removedAt: '{time} にフリートから削除されました。',
  removedNote: 'このサーバーの結果はもう集計されません。記録として下の履歴は残ります。',
  driftLink: '構成',
  driftTitle: '構成',
  driftSummary: '{servers} 台のサーバー、{configurations} 種類の構成。',
  driftAgainstLargest: '各構成を最大の構成と比較しています。',
  driftFromStart: '最初のページから構成を表示',
  driftAgainstBaseline: '各構成を基準サーバー {server} ({setBy} が指定、{time}) と比較しています。',
  driftBaselineNotShown: '基準サーバー {server} ({setBy} が指定、{time}) の構成は表示中の構成に含まれないため、各構成を最大の構成と比較しています。',
  driftBaselineUnrecorded:
    '基準サーバー {server} ({setBy} が指定、{time}) には、この規則の構成が記録されていません (フリートから削除されたか、規則の評価対象でなくなりました)。管理者が別のサーバーを指定するか基準を解除するまで、各構成を最大の構成と比較しています。',
  driftServers: '台',
  driftLargestBadge: '最大',
  driftBaselineBadge: '基準',
  driftSample: 'サーバー:',
  driftDiffers: '基準との違い',
  driftAllFacts: '構成の内容',
  driftField: '項目',
  driftThis: 'この構成',
  driftReference: '基準',
  driftEmpty: 'このルールの構成はまだ記録されていません。各サーバーの次のスナップショットで表示されます。',
  countsReevaluating: 'このルールのバージョン {version} による再評価がまだ完了していません。未処理のサーバーは以前のバージョンが出した状態で数えられるため、完了するまでこの件数は変わることがあります。',
  driftReevaluating: 'このルールのバージョン {version} による再評価がまだ完了していません。未処理のサーバーは以前のバージョンの事実で数えられるため、完了するまで同じ構成が 2 つのクラスターに分かれて表示されることがあります。',
};

const TEXTS: Record<Lang, Record<TextKey, string>> = { en, ja };

const LANG_KEY = 'posture.lang';

let current: Lang = 'en';

export function lang(): Lang {
  return current;
}

/** The saved choice, else the browser's language. */
export function initialLang(): Lang {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === 'en' || saved === 'ja') return saved;
  return navigator.language.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

export function setLang(l: Lang): void {
  current = l;
  localStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l;
}

/** A text with {name} placeholders filled in. */
export function t(key: TextKey, vars: Readonly<Record<string, string | number>> = {}): string {
  return TEXTS[current][key].replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** A status name for people; the API's own name when it is one the page does not know. */
export function statusText(status: string): string {
  return status in en ? t(status as TextKey) : status;
}

export function causeText(cause: string): string {
  const key = `cause${cause.charAt(0).toUpperCase()}${cause.slice(1)}`;
  return key in en ? t(key as TextKey) : cause;
}

/**
 * Dates in the page's language and the browser's time zone, which they name (UTC, GMT+9, JST):
 * an admin comparing them with a server's logs or a colleague's screen in another zone must not
 * have to guess, and the UTC value in the tooltip is out of reach of keyboards and touch screens.
 * (dateStyle cannot be combined with timeZoneName, hence the parts spelt out.)
 */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(d);
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current === 'ja' ? 'ja-JP' : 'en-US').format(n);
}

/** A text whose placeholders are filled with elements (a <time>, a badge), in the language's word order. */
export function phrase<T>(key: TextKey, vars: Readonly<Record<string, T>>): (string | T)[] {
  return TEXTS[current][key].split(/(\{\w+\})/).flatMap((part): (string | T)[] => {
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined && name in vars) return [vars[name] as T];
    return part ? [part] : [];
  });
}
