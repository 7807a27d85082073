// Golden texts: every message and remediation, in English and Japanese, written out in full by
// hand (and read for sense and grammar), so that a change of wording is a visible change here.
import { describe, expect, it } from 'vitest';
import { mcafeePort25Blocked, REASON_CODES } from '../../../src/rules/mcafee-port25-blocked';
import {
  blockRemediation,
  MESSAGES,
  RATIONALE,
  REFERENCES,
  SCANNER_UNKNOWN_REMEDIATION,
  textContext,
  TITLE,
  unreadableRemediation,
  type Culprit,
  type TextContext,
} from '../../../src/rules/mcafee-port25-blocked/texts';

const AVO10 = 'Prevent mass mailing worms from sending mail';
const AVO10_JA = 'マス メール型ワームによるメールの送信を防止する';
const BB = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking (view 32)';

const base: TextContext = { ...textContext(), product: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804)', images: ['EdgeTransport.exe'], configKey: BB, scannerState: 'Stopped' };
const ctx = (over: Partial<TextContext>): TextContext => ({ ...base, ...over });
const message = (code: string, over: Partial<TextContext> = {}) => MESSAGES[code]!(ctx(over));

const edge: Culprit = { service: 'MSExchangeTransport', image: 'EdgeTransport.exe', rule: AVO10, ports: '25,587', direction: 'Outbound' };
const front: Culprit = { service: 'MSExchangeFrontEndTransport', image: 'MSExchangeFrontendTransport.exe', rule: 'Block legacy ports 20-30', ports: '20-30', direction: 'Both' };
const inbound: Culprit = { service: 'SMTPSVC', image: 'inetinfo.exe', rule: 'Custom', ports: '25', direction: 'Inbound' };

describe('the rule\'s fixed texts', () => {
  it('has the seed\'s title, a rationale and the seed\'s references', () => {
    expect(TITLE).toEqual({ en: 'Port 25 is blocked', ja: 'ポート 25 がブロックされている' });
    expect(RATIONALE.en).toBe(
      'McAfee VirusScan Enterprise can block outbound TCP port 25 for every process not on an exclusion list ' +
        '(the access-protection rule "Prevent mass mailing worms from sending mail", or any custom port-blocking rule). ' +
        'If the Exchange SMTP process is not excluded, Exchange cannot deliver mail to other servers.',
    );
    expect(RATIONALE.ja).toBe(
      'McAfee VirusScan Enterprise は、除外リストにないすべてのプロセスについて送信方向の TCP ポート 25 をブロックできます' +
        ' (アクセス保護ルール「マス メール型ワームによるメールの送信を防止する」、または独自のポート ブロック ルール)。' +
        'Exchange の SMTP プロセスが除外されていないと、Exchange は他のサーバーへメールを配送できません。',
    );
    expect(REFERENCES).toEqual([
      { title: 'Exchange Server Analyzer: Port 25 is blocked (TechNet bb219030)' },
      { title: 'Microsoft KB 823166: Overview of Exchange Server 2003 and antivirus software', url: 'https://support.microsoft.com/kb/823166' },
      { title: 'Microsoft KB 328841: Exchange and antivirus software (Exchange 2000)', url: 'https://support.microsoft.com/kb/328841' },
      { title: 'Microsoft white paper: hardening Exchange against e-mail-borne viruses and worms', url: 'https://go.microsoft.com/fwlink/?LinkId=30732' },
      { title: 'McAfee (Trellix) knowledge base', url: 'https://knowledge.mcafee.com' },
    ]);
    expect(mcafeePort25Blocked).toMatchObject({ title: TITLE, rationale: RATIONALE, references: REFERENCES, severity: 'Warning' });
  });

  it('has a message for every reason code and no other', () => {
    expect(Object.keys(MESSAGES).sort()).toEqual(Object.keys(REASON_CODES).sort());
  });
});

describe('messages per reason code', () => {
  it('start from a context that names the product without a version and holds nothing found', () => {
    expect(textContext()).toEqual({
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
    });
    expect(textContext()).not.toBe(textContext());
  });

  it('NotInstalled', () => {
    expect(MESSAGES.NotInstalled!(textContext())).toEqual({
      en: 'McAfee VirusScan Enterprise is not installed on this server (no product key in either registry view).',
      ja: 'このサーバーには McAfee VirusScan Enterprise がインストールされていません (どちらのレジストリ ビューにも製品キーがありません)。',
    });
  });

  it('NoSmtpService', () => {
    expect(message('NoSmtpService')).toEqual({
      en: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) is installed, but no Exchange SMTP service (SMTPSVC, MSExchangeTransport, MSExchangeFrontEndTransport) exists on this server.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) はインストールされていますが、このサーバーには Exchange の SMTP サービス (SMTPSVC、MSExchangeTransport、MSExchangeFrontEndTransport) がありません。',
    });
  });

  it('ScannerStateUnknown', () => {
    expect(message('ScannerStateUnknown')).toEqual({
      en: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) is installed, but the snapshot does not hold the McShield service, so it cannot be told whether the on-access scanner runs.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) はインストールされていますが、スナップショットに McShield サービスがないため、オンアクセス スキャナーが動作しているか判断できません。',
    });
  });

  it('ScannerNotRunning names the service state', () => {
    expect(message('ScannerNotRunning', { scannerState: 'Stopped' })).toEqual({
      en: 'The McAfee on-access scanner (McShield) is not running (state Stopped), so Access Protection blocks nothing now. It will if the service starts again.',
      ja: 'McAfee オンアクセス スキャナー (McShield) は動作していません (状態 Stopped)。現在アクセス保護は何もブロックしませんが、サービスが再開すればブロックします。',
    });
  });

  it('BlockObserved quotes the log line, with the rule\'s category and name in Japanese', () => {
    const blockLine = { time: '2026-11-26 15:42:10', process: 'C:\\X\\EdgeTransport.exe', target: '198.51.100.25:25', rule: `Anti-virus Standard Protection:${AVO10}` };
    expect(message('BlockObserved', { blockLine })).toEqual({
      en: `The access-protection log shows VirusScan blocking Exchange mail: at 2026-11-26 15:42:10 (server time) C:\\X\\EdgeTransport.exe was blocked connecting to 198.51.100.25:25 by "Anti-virus Standard Protection:${AVO10}". Mail flow is broken now.`,
      ja: `アクセス保護ログに Exchange のメール送信がブロックされた記録があります: 2026-11-26 15:42:10 (サーバー時刻) に C:\\X\\EdgeTransport.exe から 198.51.100.25:25 への接続がルール「ウイルス対策標準保護:${AVO10_JA}」によりブロックされました。現在メール フローが止まっています。`,
    });
    // A name the product does not translate stays as written; so does an unknown category.
    expect(message('BlockObserved', { blockLine: { ...blockLine, rule: 'User-defined Rules:Block SMTP' } }).ja).toContain('ルール「User-defined Rules:Block SMTP」により');
  });

  it('ConfigUnreadable lists the problems', () => {
    expect(message('ConfigUnreadable', { problems: ['the collector could not read the key (AccessDenied)', 'rule #3: PortBlockEnabled_3 is missing'] })).toEqual({
      en: `The Access Protection settings of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) (${BB}) could not be read or were in a layout no decoder recognises: the collector could not read the key (AccessDenied), rule #3: PortBlockEnabled_3 is missing. It cannot be told whether port 25 is blocked.`,
      ja: `McAfee VirusScan Enterprise 8.8 (8.8.0.1804) のアクセス保護の設定 (${BB}) を読み取れないか、認識できない形式でした: the collector could not read the key (AccessDenied)、rule #3: PortBlockEnabled_3 is missing。ポート 25 がブロックされているか判断できません。`,
    });
    expect(message('ConfigUnreadable', { problems: [] }).en).toContain('recognises: -. It cannot');
    expect(message('ConfigUnreadable', { problems: [] }).ja).toContain('形式でした: -。');
  });

  it('AccessProtectionOff names the value that decided', () => {
    expect(message('AccessProtectionOff', { offBy: ['APEnabled'] })).toEqual({
      en: 'Access Protection of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) is turned off as a whole (APEnabled = 0), so no port-blocking rule is in force.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) のアクセス保護は全体が無効です (APEnabled = 0)。ポート ブロック ルールは適用されません。',
    });
    expect(message('AccessProtectionOff', { offBy: ['APInstalled'] })).toEqual({
      en: 'Access Protection of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) is not installed (APInstalled = 0), so no port-blocking rule is in force.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) のアクセス保護はインストールされていません (APInstalled = 0)。ポート ブロック ルールは適用されません。',
    });
    expect(message('AccessProtectionOff', { offBy: ['APInstalled', 'APEnabled'] })).toEqual({
      en: 'Access Protection of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) is not installed and turned off (APInstalled = 0, APEnabled = 0), so no port-blocking rule is in force.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) のアクセス保護はインストールされておらず、無効です (APInstalled = 0、APEnabled = 0)。ポート ブロック ルールは適用されません。',
    });
  });

  it('RuleDisabled, plain', () => {
    expect(message('RuleDisabled')).toEqual({
      en: 'No port-blocking rule of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) blocks outbound port 25.',
      ja: 'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) には送信方向のポート 25 をブロックするルールがありません。',
    });
  });

  it('RuleDisabled names report-only rules and says which Report setting was assumed, not read', () => {
    expect(message('RuleDisabled', { reportOnlyRules: ['Custom 25', AVO10], reportAssumedRules: [AVO10] })).toEqual({
      en:
        'No port-blocking rule of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) blocks outbound port 25.' +
        ` Report-only (not blocking): "Custom 25", "${AVO10}" (its Report setting is assumed from the product default: no UserReport line records it).`,
      ja:
        'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) には送信方向のポート 25 をブロックするルールがありません。' +
        `レポートのみ (ブロックしない): 「Custom 25」、「${AVO10_JA}」 (UserReport 行がないため、レポート設定は製品の既定値とみなしました)。`,
    });
  });

  it('RuleDisabled counts the user-defined rules it did not assess (one, several)', () => {
    expect(message('RuleDisabled', { userDefinedRules: ['UR1'] })).toEqual({
      en:
        'No port-blocking rule of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) blocks outbound port 25.' +
        ' 1 user-defined rule was not assessed (UR1): how AccessProtectionUserRules stores them is not public, so whether it blocks port 25 is unknown.',
      ja:
        'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) には送信方向のポート 25 をブロックするルールがありません。' +
        'ユーザー定義ルール 1 件 (UR1) は評価していません。AccessProtectionUserRules での保存形式が公開されていないため、ポート 25 をブロックするかどうか判断できません。',
    });
    expect(message('RuleDisabled', { userDefinedRules: ['UR1', 'UR7'] }).en).toContain(' 2 user-defined rules were not assessed (UR1, UR7): how AccessProtectionUserRules stores them is not public, so whether they block port 25 is unknown.');
    expect(message('RuleDisabled', { userDefinedRules: ['UR1', 'UR7'] }).ja).toContain('ユーザー定義ルール 2 件 (UR1、UR7) は評価していません。');
  });

  it('SmtpExcluded, one process and one rule', () => {
    expect(message('SmtpExcluded', { blockingRules: [AVO10] })).toEqual({
      en: `Outbound port 25 is blocked by "${AVO10}", but the Exchange SMTP process EdgeTransport.exe is excluded from it.`,
      ja: `送信方向のポート 25 は「${AVO10_JA}」でブロックされますが、Exchange の SMTP プロセス EdgeTransport.exe は除外されています。`,
    });
  });

  it('SmtpExcluded, several processes and rules, with user-defined rules not assessed', () => {
    expect(message('SmtpExcluded', { blockingRules: [AVO10, 'Custom'], images: ['EdgeTransport.exe', 'MSExchangeFrontendTransport.exe'], userDefinedRules: ['UR1', 'UR2'] })).toEqual({
      en:
        `Outbound port 25 is blocked by "${AVO10}", "Custom", but the Exchange SMTP processes EdgeTransport.exe, MSExchangeFrontendTransport.exe are excluded from them.` +
        ' 2 user-defined rules were not assessed (UR1, UR2): how AccessProtectionUserRules stores them is not public, so whether they block port 25 is unknown.',
      ja:
        `送信方向のポート 25 は「${AVO10_JA}」、「Custom」でブロックされますが、Exchange の SMTP プロセス EdgeTransport.exe、MSExchangeFrontendTransport.exe は除外されています。` +
        'ユーザー定義ルール 2 件 (UR1、UR2) は評価していません。AccessProtectionUserRules での保存形式が公開されていないため、ポート 25 をブロックするかどうか判断できません。',
    });
  });

  it('SmtpNotExcluded names each culprit with ports and direction', () => {
    expect(message('SmtpNotExcluded', { culprits: [edge, front] })).toEqual({
      en:
        'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) may block Exchange mail on port 25: ' +
        `EdgeTransport.exe (service MSExchangeTransport) is blocked by "${AVO10}" (ports 25,587, Outbound); ` +
        'MSExchangeFrontendTransport.exe (service MSExchangeFrontEndTransport) is blocked by "Block legacy ports 20-30" (ports 20-30, Both).',
      ja:
        'McAfee VirusScan Enterprise 8.8 (8.8.0.1804) が Exchange のポート 25 の通信をブロックする可能性があります: ' +
        `EdgeTransport.exe (サービス MSExchangeTransport) はルール「${AVO10_JA}」 (ポート 25,587、送信) でブロックされます。` +
        'MSExchangeFrontendTransport.exe (サービス MSExchangeFrontEndTransport) はルール「Block legacy ports 20-30」 (ポート 20-30、送受信) でブロックされます。',
    });
    expect(message('SmtpNotExcluded', { culprits: [inbound] }).ja).toContain('(ポート 25、受信)');
  });

  it('SmtpNotExcluded says when the rule state was assumed from defaults', () => {
    expect(message('SmtpNotExcluded', { culprits: [edge], assumedDefaults: true, userDefinedRules: ['UR3'] })).toEqual({
      en:
        `McAfee VirusScan Enterprise 8.8 (8.8.0.1804) may block Exchange mail on port 25: EdgeTransport.exe (service MSExchangeTransport) is blocked by "${AVO10}" (ports 25,587, Outbound).` +
        ' (The rule state is assumed from product defaults: no change to it is recorded.)' +
        ' 1 user-defined rule was not assessed (UR3): how AccessProtectionUserRules stores them is not public, so whether it blocks port 25 is unknown.',
      ja:
        `McAfee VirusScan Enterprise 8.8 (8.8.0.1804) が Exchange のポート 25 の通信をブロックする可能性があります: EdgeTransport.exe (サービス MSExchangeTransport) はルール「${AVO10_JA}」 (ポート 25,587、送信) でブロックされます。` +
        '(ルールの状態は変更の記録がないため製品の既定値とみなしました。)' +
        'ユーザー定義ルール 1 件 (UR3) は評価していません。AccessProtectionUserRules での保存形式が公開されていないため、ポート 25 をブロックするかどうか判断できません。',
    });
  });
});

describe('remediation', () => {
  it('gives both options of the seed for the culprit rules and processes, each named once, the exclusion first', () => {
    const twice: Culprit = { ...edge, service: 'MSExchangeFrontEndTransport', image: 'MSExchangeFrontendTransport.exe' };
    expect(blockRemediation(ctx({ culprits: [edge, twice, { ...edge }] }))).toEqual([
      {
        en: `Add the Exchange SMTP processes EdgeTransport.exe, MSExchangeFrontendTransport.exe to the "Processes to exclude" list of "${AVO10}" (preferred: every other process stays blocked).`,
        ja: `Exchange の SMTP プロセス EdgeTransport.exe、MSExchangeFrontendTransport.exe を「${AVO10_JA}」の「除外するプロセス」に追加してください (推奨: ほかのプロセスはブロックされたままです)。`,
      },
      {
        en: `Or consider disabling the port-blocking rule "${AVO10}" in the VirusScan Console (Access Protection properties), or clear its Block setting; this also ends its protection against mass-mailing worms.`,
        ja: `または VirusScan コンソール (アクセス保護のプロパティ) でポート ブロック ルール「${AVO10_JA}」を無効にするか、ブロックの設定を解除することを検討してください。この場合、マス メール型ワームに対する保護もなくなります。`,
      },
    ]);
  });

  it('names several rules', () => {
    const [exclude, disable] = blockRemediation(ctx({ culprits: [edge, front] }));
    expect(disable?.ja).toBe(`または VirusScan コンソール (アクセス保護のプロパティ) でポート ブロック ルール「${AVO10_JA}」、「Block legacy ports 20-30」を無効にするか、ブロックの設定を解除することを検討してください。この場合、マス メール型ワームに対する保護もなくなります。`);
    expect(exclude?.en).toBe(`Add the Exchange SMTP processes EdgeTransport.exe, MSExchangeFrontendTransport.exe to the "Processes to exclude" list of "${AVO10}", "Block legacy ports 20-30" (preferred: every other process stays blocked).`);
    expect(disable?.en).toBe(`Or consider disabling the port-blocking rule "${AVO10}", "Block legacy ports 20-30" in the VirusScan Console (Access Protection properties), or clear its Block setting; this also ends its protection against mass-mailing worms.`);
    expect(exclude?.ja).toBe(`Exchange の SMTP プロセス EdgeTransport.exe、MSExchangeFrontendTransport.exe を「${AVO10_JA}」、「Block legacy ports 20-30」の「除外するプロセス」に追加してください (推奨: ほかのプロセスはブロックされたままです)。`);
  });

  it('without a culprit (a block seen in the log, settings unreadable) takes the rule from the log line and every SMTP process', () => {
    const c = ctx({ images: ['EdgeTransport.exe', 'MSExchangeFrontendTransport.exe'], blockLine: { time: 't', process: 'p', target: 'x:25', rule: `Anti-virus Standard Protection:${AVO10}` } });
    expect(blockRemediation(c)).toEqual([
      {
        en: `Add the Exchange SMTP processes EdgeTransport.exe, MSExchangeFrontendTransport.exe to the "Processes to exclude" list of "${AVO10}" (preferred: every other process stays blocked).`,
        ja: `Exchange の SMTP プロセス EdgeTransport.exe、MSExchangeFrontendTransport.exe を「${AVO10_JA}」の「除外するプロセス」に追加してください (推奨: ほかのプロセスはブロックされたままです)。`,
      },
      {
        en: `Or consider disabling the port-blocking rule "${AVO10}" in the VirusScan Console (Access Protection properties), or clear its Block setting; this also ends its protection against mass-mailing worms.`,
        ja: `または VirusScan コンソール (アクセス保護のプロパティ) でポート ブロック ルール「${AVO10_JA}」を無効にするか、ブロックの設定を解除することを検討してください。この場合、マス メール型ワームに対する保護もなくなります。`,
      },
    ]);
    // A rule name without a category is taken whole; one process is "process".
    const one = blockRemediation(ctx({ blockLine: { time: 't', process: 'p', target: 'x:25', rule: 'Block SMTP' } }));
    expect(one[1]?.en).toContain('rule "Block SMTP" in');
    expect(one[0]?.en).toBe('Add the Exchange SMTP process EdgeTransport.exe to the "Processes to exclude" list of "Block SMTP" (preferred: every other process stays blocked).');
  });

  it('tells how to make the settings readable', () => {
    expect(unreadableRemediation(base)).toEqual([
      {
        en: `Let the collector read ${BB} (run it as LocalSystem or an administrator) and collect again; if the key holds a layout this rule does not know, report it with a .reg export.`,
        ja: `収集スクリプトが ${BB} を読み取れるようにして (LocalSystem または管理者として実行) 再収集してください。このルールが知らない形式の場合は .reg ファイルのエクスポートを添えて報告してください。`,
      },
    ]);
  });

  it('asks for McShield in the manifest when the scanner state is unknown', () => {
    expect(SCANNER_UNKNOWN_REMEDIATION).toEqual({
      en: 'Collect again with the McShield service in the collection manifest (fleet-posture manifest lists it).',
      ja: '収集マニフェストに McShield サービスを含めて再収集してください (fleet-posture manifest に記載があります)。',
    });
  });
});
