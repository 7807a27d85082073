// Everything the rule says, in English and Japanese (the seed's language). Messages name the
// server's specifics: product, processes, services and rules.
import type { Localised, Reference } from '../types';
import type { Direction } from './port-rules';

export const TITLE: Localised = { en: 'Port 25 is blocked', ja: 'ポート 25 がブロックされている' };

export const RATIONALE: Localised = {
  en:
    'McAfee VirusScan Enterprise can block outbound TCP port 25 for every process not on an exclusion list ' +
    '(the access-protection rule "Prevent mass mailing worms from sending mail", or any custom port-blocking rule). ' +
    'If the Exchange SMTP process is not excluded, Exchange cannot deliver mail to other servers.',
  ja:
    'McAfee VirusScan Enterprise は、除外リストにないすべてのプロセスについて送信方向の TCP ポート 25 をブロックできます' +
    ' (アクセス保護ルール「マス メール型ワームによるメールの送信を防止する」、または独自のポート ブロック ルール)。' +
    'Exchange の SMTP プロセスが除外されていないと、Exchange は他のサーバーへメールを配送できません。',
};

export const REFERENCES: readonly Reference[] = [
  { title: 'Exchange Server Analyzer: Port 25 is blocked (TechNet bb219030)' },
  { title: 'Microsoft KB 823166: Overview of Exchange Server 2003 and antivirus software', url: 'https://support.microsoft.com/kb/823166' },
  { title: 'Microsoft KB 328841: Exchange and antivirus software (Exchange 2000)', url: 'https://support.microsoft.com/kb/328841' },
  { title: 'Microsoft white paper: hardening Exchange against e-mail-borne viruses and worms', url: 'https://go.microsoft.com/fwlink/?LinkId=30732' },
  { title: 'McAfee (Trellix) knowledge base', url: 'https://knowledge.mcafee.com' },
];

/** One SMTP process that a rule blocks. */
export interface Culprit {
  readonly service: string;
  readonly image: string;
  readonly rule: string;
  readonly ports: string;
  readonly direction: Direction;
}

export interface TextContext {
  readonly product: string;
  readonly images: readonly string[];
  readonly culprits: readonly Culprit[];
  readonly blockingRules: readonly string[];
  readonly reportOnlyRules: readonly string[];
  /** Report-only rules whose Report setting was assumed from the product default, not read. */
  readonly reportAssumedRules: readonly string[];
  /** Ids of user-defined rules that were found but not assessed. */
  readonly userDefinedRules: readonly string[];
  /** The values that turned Access Protection off (`APInstalled`, `APEnabled`). */
  readonly offBy: readonly string[];
  readonly problems: readonly string[];
  readonly configKey: string;
  /** The log line that proved a block (row 5); empty fields before one is found. */
  readonly blockLine: { readonly process: string; readonly rule: string; readonly target: string; readonly time: string };
  readonly scannerState: string;
  readonly assumedDefaults: boolean;
}

/** What the texts say before the snapshot has told anything: the product without its version, nothing found. */
export function textContext(): TextContext {
  return {
    product: 'McAfee VirusScan Enterprise',
    images: [],
    culprits: [],
    blockingRules: [],
    reportOnlyRules: [],
    reportAssumedRules: [],
    userDefinedRules: [],
    offBy: [],
    problems: [],
    configKey: '',
    scannerState: '',
    assumedDefaults: false,
    blockLine: { process: '', rule: '', target: '', time: '' },
  };
}

const q = (s: string): string => `"${s}"`;
// The built-in rule's name and category as the Japanese product shows them; a log names a rule as
// "<category>:<name>".
const JA_NAMES: Readonly<Record<string, string>> = {
  'prevent mass mailing worms from sending mail': 'マス メール型ワームによるメールの送信を防止する',
  'anti-virus standard protection': 'ウイルス対策標準保護',
};
const ja = (s: string): string => JA_NAMES[s.toLowerCase()] ?? s;
function jaRuleName(s: string): string {
  const colon = s.indexOf(':');
  return colon === -1 ? ja(s) : `${ja(s.slice(0, colon))}:${ja(s.slice(colon + 1))}`;
}
const jq = (s: string): string => `「${jaRuleName(s)}」`;
const JA_DIRECTIONS: Readonly<Record<Direction, string>> = { Outbound: '送信', Inbound: '受信', Both: '送受信' };
const list = (xs: readonly string[]): string => (xs.length === 0 ? '-' : xs.join(', '));
const jlist = (xs: readonly string[]): string => (xs.length === 0 ? '-' : xs.join('、'));

/** The sentence every Pass or Warning about the settings carries when user-defined rules were skipped. */
function notAssessedEn(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  const n = ids.length;
  return ` ${n} user-defined rule${n === 1 ? ' was' : 's were'} not assessed (${list(ids)}): how AccessProtectionUserRules stores them is not public, so whether ${n === 1 ? 'it blocks' : 'they block'} port 25 is unknown.`;
}
function notAssessedJa(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  return `ユーザー定義ルール ${ids.length} 件 (${jlist(ids)}) は評価していません。AccessProtectionUserRules での保存形式が公開されていないため、ポート 25 をブロックするかどうか判断できません。`;
}

function reportOnlyEn(c: TextContext): string {
  if (c.reportOnlyRules.length === 0) return '';
  const named = c.reportOnlyRules.map((r) => q(r) + (c.reportAssumedRules.includes(r) ? ' (its Report setting is assumed from the product default: no UserReport line records it)' : ''));
  return ` Report-only (not blocking): ${named.join(', ')}.`;
}
function reportOnlyJa(c: TextContext): string {
  if (c.reportOnlyRules.length === 0) return '';
  const named = c.reportOnlyRules.map((r) => jq(r) + (c.reportAssumedRules.includes(r) ? ' (UserReport 行がないため、レポート設定は製品の既定値とみなしました)' : ''));
  return `レポートのみ (ブロックしない): ${named.join('、')}。`;
}

function offEn(c: TextContext): string {
  const values = c.offBy.map((v) => `${v} = 0`).join(', ');
  const installed = c.offBy.includes('APInstalled');
  const enabled = c.offBy.includes('APEnabled');
  const what = installed && enabled ? 'is not installed and turned off' : installed ? 'is not installed' : 'is turned off as a whole';
  return `Access Protection of ${c.product} ${what} (${values}), so no port-blocking rule is in force.`;
}
function offJa(c: TextContext): string {
  const values = c.offBy.map((v) => `${v} = 0`).join('、');
  const installed = c.offBy.includes('APInstalled');
  const enabled = c.offBy.includes('APEnabled');
  const what = installed && enabled ? 'インストールされておらず、無効です' : installed ? 'インストールされていません' : '全体が無効です';
  return `${c.product} のアクセス保護は${what} (${values})。ポート ブロック ルールは適用されません。`;
}

function culpritsEn(c: readonly Culprit[]): string {
  return c.map((x) => `${x.image} (service ${x.service}) is blocked by ${q(x.rule)} (ports ${x.ports}, ${x.direction})`).join('; ');
}
function culpritsJa(c: readonly Culprit[]): string {
  return c.map((x) => `${x.image} (サービス ${x.service}) はルール${jq(x.rule)} (ポート ${x.ports}、${JA_DIRECTIONS[x.direction]}) でブロックされます`).join('。');
}

export const MESSAGES: Readonly<Record<string, (c: TextContext) => Localised>> = {
  NotInstalled: (c) => ({
    en: `${c.product} is not installed on this server (no product key in either registry view).`,
    ja: `このサーバーには ${c.product} がインストールされていません (どちらのレジストリ ビューにも製品キーがありません)。`,
  }),
  NoSmtpService: (c) => ({
    en: `${c.product} is installed, but no Exchange SMTP service (SMTPSVC, MSExchangeTransport, MSExchangeFrontEndTransport) exists on this server.`,
    ja: `${c.product} はインストールされていますが、このサーバーには Exchange の SMTP サービス (SMTPSVC、MSExchangeTransport、MSExchangeFrontEndTransport) がありません。`,
  }),
  ScannerStateUnknown: (c) => ({
    en: `${c.product} is installed, but the snapshot does not hold the McShield service, so it cannot be told whether the on-access scanner runs.`,
    ja: `${c.product} はインストールされていますが、スナップショットに McShield サービスがないため、オンアクセス スキャナーが動作しているか判断できません。`,
  }),
  ScannerNotRunning: (c) => ({
    en: `The McAfee on-access scanner (McShield) is not running (state ${c.scannerState}), so Access Protection blocks nothing now. It will if the service starts again.`,
    ja: `McAfee オンアクセス スキャナー (McShield) は動作していません (状態 ${c.scannerState})。現在アクセス保護は何もブロックしませんが、サービスが再開すればブロックします。`,
  }),
  BlockObserved: (c) => ({
    en: `The access-protection log shows VirusScan blocking Exchange mail: at ${c.blockLine.time} (server time) ${c.blockLine.process} was blocked connecting to ${c.blockLine.target} by ${q(c.blockLine.rule)}. Mail flow is broken now.`,
    ja: `アクセス保護ログに Exchange のメール送信がブロックされた記録があります: ${c.blockLine.time} (サーバー時刻) に ${c.blockLine.process} から ${c.blockLine.target} への接続がルール${jq(c.blockLine.rule)}によりブロックされました。現在メール フローが止まっています。`,
  }),
  ConfigUnreadable: (c) => ({
    en: `The Access Protection settings of ${c.product} (${c.configKey}) could not be read or were in a layout no decoder recognises: ${list(c.problems)}. It cannot be told whether port 25 is blocked.`,
    ja: `${c.product} のアクセス保護の設定 (${c.configKey}) を読み取れないか、認識できない形式でした: ${jlist(c.problems)}。ポート 25 がブロックされているか判断できません。`,
  }),
  AccessProtectionOff: (c) => ({ en: offEn(c), ja: offJa(c) }),
  RuleDisabled: (c) => ({
    en: `No port-blocking rule of ${c.product} blocks outbound port 25.` + reportOnlyEn(c) + notAssessedEn(c.userDefinedRules),
    ja: `${c.product} には送信方向のポート 25 をブロックするルールがありません。` + reportOnlyJa(c) + notAssessedJa(c.userDefinedRules),
  }),
  SmtpExcluded: (c) => ({
    en:
      `Outbound port 25 is blocked by ${c.blockingRules.map(q).join(', ')}, but the Exchange SMTP process${c.images.length > 1 ? 'es' : ''} ${list(c.images)} ${c.images.length > 1 ? 'are' : 'is'} excluded from ${c.blockingRules.length > 1 ? 'them' : 'it'}.` +
      notAssessedEn(c.userDefinedRules),
    ja: `送信方向のポート 25 は${c.blockingRules.map(jq).join('、')}でブロックされますが、Exchange の SMTP プロセス ${jlist(c.images)} は除外されています。` + notAssessedJa(c.userDefinedRules),
  }),
  SmtpNotExcluded: (c) => ({
    en:
      `${c.product} may block Exchange mail on port 25: ${culpritsEn(c.culprits)}.` +
      (c.assumedDefaults ? ' (The rule state is assumed from product defaults: no change to it is recorded.)' : '') +
      notAssessedEn(c.userDefinedRules),
    ja:
      `${c.product} が Exchange のポート 25 の通信をブロックする可能性があります: ${culpritsJa(c.culprits)}。` +
      (c.assumedDefaults ? '(ルールの状態は変更の記録がないため製品の既定値とみなしました。)' : '') +
      notAssessedJa(c.userDefinedRules),
  }),
};

/**
 * Both options of the seed, naming the rules and processes concerned. The exclusion comes first:
 * it keeps the worm protection for every other process, where disabling the rule gives it up.
 */
export function blockRemediation(c: TextContext): Localised[] {
  const rules = [...new Set(c.culprits.map((x) => x.rule))];
  const images = [...new Set(c.culprits.map((x) => x.image))];
  // Without a culprit (row 5 with unreadable settings) the log line names the rule, after its category.
  const r = rules.length > 0 ? rules : [c.blockLine.rule.slice(c.blockLine.rule.indexOf(':') + 1)];
  const p = images.length > 0 ? images : c.images;
  return [
    {
      en: `Add the Exchange SMTP process${p.length > 1 ? 'es' : ''} ${list(p)} to the "Processes to exclude" list of ${r.map(q).join(', ')} (preferred: every other process stays blocked).`,
      ja: `Exchange の SMTP プロセス ${jlist(p)} を${r.map(jq).join('、')}の「除外するプロセス」に追加してください (推奨: ほかのプロセスはブロックされたままです)。`,
    },
    {
      en: `Or consider disabling the port-blocking rule ${r.map(q).join(', ')} in the VirusScan Console (Access Protection properties), or clear its Block setting; this also ends its protection against mass-mailing worms.`,
      ja: `または VirusScan コンソール (アクセス保護のプロパティ) でポート ブロック ルール${r.map(jq).join('、')}を無効にするか、ブロックの設定を解除することを検討してください。この場合、マス メール型ワームに対する保護もなくなります。`,
    },
  ];
}

export function unreadableRemediation(c: TextContext): Localised[] {
  return [
    {
      en: `Let the collector read ${c.configKey} (run it as LocalSystem or an administrator) and collect again; if the key holds a layout this rule does not know, report it with a .reg export.`,
      ja: `収集スクリプトが ${c.configKey} を読み取れるようにして (LocalSystem または管理者として実行) 再収集してください。このルールが知らない形式の場合は .reg ファイルのエクスポートを添えて報告してください。`,
    },
  ];
}

export const SCANNER_UNKNOWN_REMEDIATION: Localised = {
  en: 'Collect again with the McShield service in the collection manifest (fleet-posture manifest lists it).',
  ja: '収集マニフェストに McShield サービスを含めて再収集してください (fleet-posture manifest に記載があります)。',
};
