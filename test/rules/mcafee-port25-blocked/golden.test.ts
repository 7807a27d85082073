// Whole verdicts for one fixture per situation: the English message word for word, how many
// remedies, and every assumption with its wording (read and checked against the fixture by hand).
import { describe, expect, it } from 'vitest';
import { mcafeePort25Blocked } from '../../../src/rules/mcafee-port25-blocked';
import { parseSnapshot } from '../../../src/snapshot/parse';
import { readFixture } from './fixture-table';

function evaluate(file: string) {
  const parsed = parseSnapshot(readFixture(file), { now: Date.parse('2026-12-01T00:00:00Z') });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return mcafeePort25Blocked.evaluate(parsed.normalised);
}

const AVO10 = 'Prevent mass mailing worms from sending mail';
const A = {
  definition: { code: 'BuiltInRuleDefinitionFromDefaults', detail: 'the mass-mailing rule is taken to cover ports 25 and 587 outbound with the default exclusions (19 processes) plus any UserExclude lines' },
  state: { code: 'BuiltInRuleStateFromDefaults', detail: 'no "UserEnforce AVO10" line: the mass-mailing rule is assumed to keep its product default (Block on)' },
  report: { code: 'BuiltInRuleReportFromDefaults', detail: 'no "UserReport AVO10" line: the Report setting of the mass-mailing rule was not read; it is assumed to keep its product default (Report on)' },
  zone: { code: 'LogTimeZoneUnknown', detail: 'host.utcOffsetMinutes is absent: log times were read under every offset from UTC-12 to UTC+14' },
  generation: { code: 'GenerationFromSettingsKey', detail: 'szProductVer was not readable or names no known 8.x version; the generation was taken from which BehaviourBlocking key exists (8.8 when none does)' },
  inetinfo: { code: 'SmtpImageAssumed', detail: 'SMTPSVC has no PathName; its sending process is assumed to be inetinfo.exe' },
  userDefined: { code: 'UserDefinedRulesNotAssessed', detail: '2 user-defined rule(s) in AccessProtectionUserRules (UR1, UR2) were not assessed: their encoding is not public, so the verdict is about the built-in rule only' },
};
const SETTINGS_85 = 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking';
const SETTINGS_80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const UNREADABLE = (product: string, key: string, problems: string) =>
  `The Access Protection settings of ${product} (${key}) could not be read or were in a layout no decoder recognises: ${problems}. It cannot be told whether port 25 is blocked.`;

const CASES: readonly { file: string; en: string; remedies: number; assumptions: readonly { code: string; detail: string }[] }[] = [
  { file: 'no-virusscan-exchange2010.json', en: 'McAfee VirusScan Enterprise is not installed on this server (no product key in either registry view).', remedies: 0, assumptions: [] },
  {
    file: 'vse87-no-smtp-service-domain-controller.json',
    en: 'McAfee VirusScan Enterprise 8.5i/8.7i (8.7.0.570) is installed, but no Exchange SMTP service (SMTPSVC, MSExchangeTransport, MSExchangeFrontEndTransport) exists on this server.',
    remedies: 0,
    assumptions: [],
  },
  {
    file: 'vse85-exchange2007-mcshield-missing.json',
    en: 'McAfee VirusScan Enterprise 8.5i/8.7i (8.5.0.781) is installed, but the snapshot does not hold the McShield service, so it cannot be told whether the on-access scanner runs.',
    remedies: 1,
    assumptions: [],
  },
  { file: 'vse80i-exchange2000-mcshield-stopped.json', en: 'The McAfee on-access scanner (McShield) is not running (state Stopped), so Access Protection blocks nothing now. It will if the service starts again.', remedies: 0, assumptions: [] },
  {
    file: 'vse88-x64-block-observed-no-offset-key-unreadable.json',
    en: `The access-protection log shows VirusScan blocking Exchange mail: at 2026-11-27 09:15:44 (server time) C:\\PROGRAM FILES\\MICROSOFT\\EXCHANGE SERVER\\V14\\BIN\\EDGETRANSPORT.EXE was blocked connecting to 192.0.2.25:25 by "Anti-virus Standard Protection:${AVO10}". Mail flow is broken now.`,
    remedies: 2,
    assumptions: [A.zone],
  },
  {
    file: 'vse85-behaviourblocking-missing.json',
    en: UNREADABLE('McAfee VirusScan Enterprise 8.5i/8.7i (8.5.0.781)', `${SETTINGS_85} (view -)`, 'the BehaviourBlocking key is not in the snapshot or does not exist'),
    remedies: 1,
    assumptions: [],
  },
  {
    file: 'vse80i-behaviourblocking-access-denied.json',
    en: UNREADABLE('McAfee VirusScan Enterprise 8.0i (8.0.0.912)', `${SETTINGS_80} (view 32)`, 'the collector could not read the key (AccessDenied)'),
    remedies: 1,
    assumptions: [],
  },
  {
    file: 'vse87-userrules-not-text.json',
    en: UNREADABLE('McAfee VirusScan Enterprise 8.5i/8.7i (8.7.0.570)', `${SETTINGS_85} (view 32)`, 'AccessProtectionUserRules holds binary data, not Access Protection text'),
    remedies: 1,
    assumptions: [],
  },
  {
    file: 'vse80i-port-rule-malformed-enabled-flag.json',
    en: UNREADABLE('McAfee VirusScan Enterprise 8.0i (8.0.0.912)', `${SETTINGS_80} (view 32)`, 'rule #3: PortBlockEnabled_3 is REG_BINARY, not a 0/1 flag'),
    remedies: 1,
    assumptions: [],
  },
  { file: 'vse80i-apenabled-off.json', en: 'Access Protection of McAfee VirusScan Enterprise 8.0i (8.0.0.912) is turned off as a whole (APEnabled = 0), so no port-blocking rule is in force.', remedies: 0, assumptions: [] },
  {
    file: 'vse88-x64-report-only.json',
    en: `No port-blocking rule of McAfee VirusScan Enterprise 8.8 (8.8.0.1804) blocks outbound port 25. Report-only (not blocking): "${AVO10}".`,
    remedies: 0,
    assumptions: [A.definition],
  },
  {
    file: 'vse85-userenforce-off.json',
    en: `No port-blocking rule of McAfee VirusScan Enterprise 8.5i/8.7i (8.5.0.781) blocks outbound port 25. Report-only (not blocking): "${AVO10}" (its Report setting is assumed from the product default: no UserReport line records it).`,
    remedies: 0,
    assumptions: [A.report, A.definition],
  },
  { file: 'vse80i-exchange2003-inetinfo-default-excluded.json', en: `Outbound port 25 is blocked by "${AVO10}", but the Exchange SMTP process inetinfo.exe is excluded from it.`, remedies: 0, assumptions: [] },
  {
    file: 'vse88-exchange2003-smtpsvc-pathname-null.json',
    en: `Outbound port 25 is blocked by "${AVO10}", but the Exchange SMTP process inetinfo.exe is excluded from it.`,
    remedies: 0,
    assumptions: [A.inetinfo, A.state, A.report, A.definition],
  },
  {
    file: 'vse8x-version-unreadable-vscore-settings.json',
    en: `Outbound port 25 is blocked by "${AVO10}", but the Exchange SMTP process EdgeTransport.exe is excluded from it.`,
    remedies: 0,
    assumptions: [A.generation, A.report, A.definition],
  },
  {
    file: 'vse88-x64-user-defined-rules-not-assessed.json',
    en:
      `Outbound port 25 is blocked by "${AVO10}", but the Exchange SMTP processes EdgeTransport.exe, MSExchangeFrontendTransport.exe are excluded from it.` +
      ' 2 user-defined rules were not assessed (UR1, UR2): how AccessProtectionUserRules stores them is not public, so whether they block port 25 is unknown.',
    remedies: 0,
    assumptions: [A.definition, A.userDefined],
  },
  {
    file: 'vse80i-exchange2003-inetinfo-removed-from-list.json',
    en: `McAfee VirusScan Enterprise 8.0i (8.0.0.912) may block Exchange mail on port 25: inetinfo.exe (service SMTPSVC) is blocked by "${AVO10}" (ports 25, Outbound).`,
    remedies: 2,
    assumptions: [],
  },
  {
    file: 'vse87-x64-wow6432node-exchange2010-not-excluded.json',
    en: `McAfee VirusScan Enterprise 8.5i/8.7i (8.7.0.570) may block Exchange mail on port 25: EdgeTransport.exe (service MSExchangeTransport) is blocked by "${AVO10}" (ports 25,587, Outbound).`,
    remedies: 2,
    assumptions: [A.definition],
  },
  {
    file: 'vse88-x64-userrules-untouched-no-nul.json',
    en:
      `McAfee VirusScan Enterprise 8.8 (8.8.0.1804) may block Exchange mail on port 25: EdgeTransport.exe (service MSExchangeTransport) is blocked by "${AVO10}" (ports 25,587, Outbound); ` +
      `MSExchangeFrontendTransport.exe (service MSExchangeFrontEndTransport) is blocked by "${AVO10}" (ports 25,587, Outbound). (The rule state is assumed from product defaults: no change to it is recorded.)`,
    remedies: 2,
    assumptions: [A.state, A.report, A.definition],
  },
  {
    file: 'vse88-block-ambiguous-time-no-offset.json',
    en:
      `McAfee VirusScan Enterprise 8.8 (8.8.0.1804) may block Exchange mail on port 25: EdgeTransport.exe (service MSExchangeTransport) is blocked by "${AVO10}" (ports 25,587, Outbound); ` +
      `MSExchangeFrontendTransport.exe (service MSExchangeFrontEndTransport) is blocked by "${AVO10}" (ports 25,587, Outbound).`,
    remedies: 2,
    assumptions: [A.definition, A.zone],
  },
];

describe('whole verdicts', () => {
  it.each(CASES)('$file', (c) => {
    const r = evaluate(c.file);
    expect(r.message.en).toBe(c.en);
    expect(r.remediation).toHaveLength(c.remedies);
    expect(r.evidence.assumptions).toEqual(c.assumptions);
  });

  it('a server without VirusScan carries the empty evidence of row 1', () => {
    expect(evaluate('no-virusscan-exchange2010.json').evidence).toEqual({
      evidenceVersion: 1,
      decidedBy: 1,
      product: null,
      scanner: null,
      smtpServices: [],
      config: null,
      coverage: [],
      culprits: [],
      reportOnlyRules: [],
      log: null,
      assumptions: [],
    });
  });

  it('the scanner-unknown remedy asks for McShield in the manifest', () => {
    expect(evaluate('vse85-exchange2007-mcshield-missing.json').remediation[0]?.en).toBe('Collect again with the McShield service in the collection manifest (fleet-posture manifest lists it).');
  });

  it('speaks Japanese for the same verdicts', () => {
    expect(evaluate('no-virusscan-exchange2010.json').message.ja).toBe('このサーバーには McAfee VirusScan Enterprise がインストールされていません (どちらのレジストリ ビューにも製品キーがありません)。');
    expect(evaluate('vse80i-apenabled-off.json').message.ja).toBe('McAfee VirusScan Enterprise 8.0i (8.0.0.912) のアクセス保護は全体が無効です (APEnabled = 0)。ポート ブロック ルールは適用されません。');
    expect(evaluate('vse88-x64-report-only.json').message.ja).toBe('McAfee VirusScan Enterprise 8.8 (8.8.0.1804) には送信方向のポート 25 をブロックするルールがありません。レポートのみ (ブロックしない): 「マス メール型ワームによるメールの送信を防止する」。');
  });
});
