// Every port-25 fixture with the verdict the decision table (docs/rules/mcafee-port25-blocked.md)
// gives it, written by hand from the fixture's data and the table, never computed by the rule.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURE_DIR = path.resolve(__dirname, '../../fixtures/port25');

export type Gen = 'VSE80i' | 'VSE85-87' | 'VSE88';

export interface Expectation {
  readonly file: string;
  /** null where no product is installed (row 1 has no generation). */
  readonly generation: Gen | null;
  readonly status: 'Pass' | 'Warning' | 'Error' | 'NotApplicable' | 'Unknown';
  readonly reasonCode: string;
  readonly row: number;
  /** A subset of the evidence the verdict must carry. */
  readonly evidence: Record<string, unknown>;
  /** Assumption codes that must be listed (and, when given, no others). */
  readonly assumptions?: readonly string[];
}

const AVO10 = 'Prevent mass mailing worms from sending mail';
const V80 = { path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', view: '32' };
const VMC = { path: 'HKLM\\SOFTWARE\\McAfee\\DesktopProtection', view: '32' };
const BB80 = 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking';
const BB85 = 'HKLM\\SOFTWARE\\McAfee\\VSCore\\On Access Scanner\\BehaviourBlocking';
const BB88 = 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking';
const EDGE = { name: 'MSExchangeTransport', image: 'EdgeTransport.exe', imageSource: 'knownWorker', assumed: false };
const FRONT = { name: 'MSExchangeFrontEndTransport', image: 'MSExchangeFrontendTransport.exe', imageSource: 'knownWorker', assumed: false };
const INETINFO = { name: 'SMTPSVC', image: 'inetinfo.exe', imageSource: 'pathName', assumed: false };
const DEF = 'BuiltInRuleDefinitionFromDefaults';
const STATE = 'BuiltInRuleStateFromDefaults';
const REPORT = 'BuiltInRuleReportFromDefaults';

export const TABLE: readonly Expectation[] = [
  // Row 1: not installed.
  { file: 'no-virusscan-exchange2010.json', generation: null, status: 'NotApplicable', reasonCode: 'NotInstalled', row: 1, evidence: { product: null, decidedBy: 1 }, assumptions: [] },
  { file: 'ens10-trellix-only-exchange2019.json', generation: null, status: 'NotApplicable', reasonCode: 'NotInstalled', row: 1, evidence: { product: null } },
  // Row 2: no Exchange SMTP service.
  { file: 'vse80i-no-smtp-service-file-server.json', generation: 'VSE80i', status: 'NotApplicable', reasonCode: 'NoSmtpService', row: 2, evidence: { product: { version: '8.0.0.912', installedKey: V80 }, smtpServices: [] } },
  { file: 'vse87-no-smtp-service-domain-controller.json', generation: 'VSE85-87', status: 'NotApplicable', reasonCode: 'NoSmtpService', row: 2, evidence: { product: { version: '8.7.0.570', installedKey: VMC }, smtpServices: [] } },
  { file: 'vse88-x64-no-exchange.json', generation: 'VSE88', status: 'NotApplicable', reasonCode: 'NoSmtpService', row: 2, evidence: { product: { version: '8.8.0.1804' }, smtpServices: [] } },
  // Row 3: McShield not in the snapshot.
  { file: 'vse80i-exchange2003-mcshield-missing.json', generation: 'VSE80i', status: 'Unknown', reasonCode: 'ScannerStateUnknown', row: 3, evidence: { scanner: { present: false }, smtpServices: [INETINFO] } },
  { file: 'vse85-exchange2007-mcshield-missing.json', generation: 'VSE85-87', status: 'Unknown', reasonCode: 'ScannerStateUnknown', row: 3, evidence: { product: { version: '8.5.0.781' }, scanner: { present: false }, smtpServices: [EDGE] } },
  { file: 'vse88-x64-exchange2016-mcshield-missing.json', generation: 'VSE88', status: 'Unknown', reasonCode: 'ScannerStateUnknown', row: 3, evidence: { scanner: { present: false }, smtpServices: [EDGE, FRONT] } },
  // Row 4: McShield stopped.
  { file: 'vse80i-exchange2000-mcshield-stopped.json', generation: 'VSE80i', status: 'Pass', reasonCode: 'ScannerNotRunning', row: 4, evidence: { scanner: { present: true, started: false, state: 'Stopped' }, smtpServices: [INETINFO], config: null } },
  { file: 'vse87-exchange2010-mcshield-stopped.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'ScannerNotRunning', row: 4, evidence: { scanner: { started: false } } },
  { file: 'vse88-x64-exchange2013-mcshield-disabled.json', generation: 'VSE88', status: 'Pass', reasonCode: 'ScannerNotRunning', row: 4, evidence: { scanner: { started: false } } },
  // Row 5: a block of the SMTP process on port 25 in the log.
  {
    file: 'vse80i-exchange2003-block-observed-us-dates-offset.json', generation: 'VSE80i', status: 'Error', reasonCode: 'BlockObserved', row: 5,
    evidence: {
      log: {
        offsetKnown: true, window: 'sinceLastWrite',
        proving: [
          { process: 'C:\\WINDOWS\\SYSTEM32\\INETSRV\\INETINFO.EXE', target: '192.0.2.25:25', localTime: '2026-11-27T16:12:07', utcEarliest: '2026-11-27T21:12:07.000Z', utcLatest: '2026-11-27T21:12:07.000Z' },
          { target: '198.51.100.7:25' },
        ],
      },
      culprits: [{ image: 'inetinfo.exe', rule: AVO10, ports: '25' }],
    },
  },
  {
    file: 'vse85-block-observed-in-log-jst.json', generation: 'VSE85-87', status: 'Error', reasonCode: 'BlockObserved', row: 5,
    evidence: { log: { proving: [{ rule: 'ウイルス対策標準保護:マス メール型ワームによるメールの送信を防止する', localTime: '2026-11-28T07:41:03', utcEarliest: '2026-11-27T22:41:03.000Z' }] } },
    assumptions: [STATE, REPORT, DEF],
  },
  // The log read where szLogFileName says (another name, another drive); a block on :587 is not proof, the one on :25 is.
  {
    file: 'vse88-x64-log-at-configured-path.json', generation: 'VSE88', status: 'Error', reasonCode: 'BlockObserved', row: 5,
    evidence: {
      config: { logPathSettings: [{ valueName: 'szLogFileName', value: 'D:\\Logs\\VirusScan\\AccessProtection.log' }, { valueName: 'szLogFileName_Ent', value: '%DEFLOGDIR%\\AccessProtectionLog.txt' }] },
      log: {
        files: [
          { path: 'D:\\Logs\\VirusScan\\AccessProtection.log', source: 'configured', configuredBy: { registryPath: BB88, view: '32', valueName: 'szLogFileName' }, exists: true, smtpPort25Lines: 1 },
          { path: 'C:\\ProgramData\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt', source: 'default', configuredBy: null, exists: false, smtpPort25Lines: 0 },
        ],
        proving: [{ target: '198.51.100.25:25', localTime: '2026-11-26T15:42:10', utcEarliest: '2026-11-26T14:42:10.000Z' }],
        wouldBlock: [], unread: [], earlier: [],
      },
      culprits: [{ image: 'EdgeTransport.exe' }, { image: 'MSExchangeFrontendTransport.exe' }],
    },
    assumptions: [STATE, REPORT, DEF],
  },
  {
    file: 'vse88-x64-block-observed-no-offset-key-unreadable.json', generation: 'VSE88', status: 'Error', reasonCode: 'BlockObserved', row: 5,
    evidence: { config: { read: 'unreadable', key: { lastWriteTime: null } }, log: { offsetKnown: false, window: 'last24h', proving: [{ localTime: '2026-11-27T09:15:44', utcEarliest: '2026-11-26T19:15:44.000Z', utcLatest: '2026-11-27T21:15:44.000Z' }] } },
    assumptions: ['LogTimeZoneUnknown'],
  },
  // Row 6: settings missing, unreadable or unknown.
  { file: 'vse80i-behaviourblocking-access-denied.json', generation: 'VSE80i', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6, evidence: { config: { read: 'unreadable', key: { path: BB80, view: '32' } } } },
  { file: 'vse80i-port-rule-malformed-enabled-flag.json', generation: 'VSE80i', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6, evidence: { config: { read: 'unrecognised', problems: ['rule #3: PortBlockEnabled_3 is REG_BINARY, not a 0/1 flag'] } } },
  { file: 'vse85-behaviourblocking-missing.json', generation: 'VSE85-87', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6, evidence: { config: { read: 'missing', key: { path: BB85, view: null } } } },
  { file: 'vse87-userrules-not-text.json', generation: 'VSE85-87', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6, evidence: { config: { read: 'unrecognised', key: { path: BB85 } } } },
  // The values public tools read on 8.0i, without the reconstructed port-rule values: not decodable.
  {
    file: 'vse80i-public-values-only.json', generation: 'VSE80i', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6,
    evidence: {
      config: {
        read: 'unrecognised', apEnabled: true, problems: ['the key holds neither port-blocking rule values nor AccessProtectionUserRules'],
        logPathSettings: [{ valueName: 'szLogFileName', value: '%ALLUSERSPROFILE%\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt' }, { valueName: 'szLogFileName_Ent' }],
      },
    },
  },
  { file: 'vse88-x64-behaviourblocking-no-recognisable-values.json', generation: 'VSE88', status: 'Unknown', reasonCode: 'ConfigUnreadable', row: 6, evidence: { config: { read: 'unrecognised', apEnabled: true, key: { path: BB88, view: '32' } } } },
  // Row 7: Access Protection off.
  { file: 'vse80i-apenabled-off.json', generation: 'VSE80i', status: 'Pass', reasonCode: 'AccessProtectionOff', row: 7, evidence: { config: { read: 'ok', apEnabled: false } } },
  { file: 'vse87-apenabled-off.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'AccessProtectionOff', row: 7, evidence: { config: { apEnabled: false, userRules: { userEnforce: true } } } },
  { file: 'vse88-x64-apenabled-off.json', generation: 'VSE88', status: 'Pass', reasonCode: 'AccessProtectionOff', row: 7, evidence: { accessProtectionOffBy: ['APEnabled'], config: { apEnabled: false } } },
  { file: 'vse88-x64-apinstalled-off.json', generation: 'VSE88', status: 'Pass', reasonCode: 'AccessProtectionOff', row: 7, evidence: { accessProtectionOffBy: ['APInstalled'], config: { apEnabled: true, apInstalled: false } } },
  // Row 8: no Block-on rule covers outbound 25.
  { file: 'vse80i-mass-mailing-rule-disabled.json', generation: 'VSE80i', status: 'Pass', reasonCode: 'RuleDisabled', row: 8, evidence: { reportOnlyRules: [AVO10], config: { rules: [{ id: '#1' }, { id: '#2' }, { id: '#3', name: AVO10, block: false, report: true, ports: '25' }] } } },
  // No UserReport line: the built-in rule is listed as report-only on an assumed Report setting, and says so.
  {
    file: 'vse85-userenforce-off.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'RuleDisabled', row: 8,
    evidence: { reportOnlyRules: [AVO10], config: { userRules: { userEnforce: false, userReport: null, trailingNul: true }, rules: [{ id: 'AVO10', block: false, report: true, assumed: ['report', 'ports', 'direction', 'defaultExclusions'] }] } },
    assumptions: [REPORT, DEF],
  },
  // UserReport AVO10 0 read: nothing is report-only; another built-in rule's line (CO14) is counted, not used.
  {
    file: 'vse88-x64-userenforce-off-report-off-co14.json', generation: 'VSE88', status: 'Pass', reasonCode: 'RuleDisabled', row: 8,
    evidence: { reportOnlyRules: [], config: { userRules: { userEnforce: false, userReport: false, otherLines: 1, userDefinedRules: [] }, rules: [{ id: 'AVO10', block: false, report: false }] } },
    assumptions: [DEF],
  },
  {
    file: 'vse88-x64-report-only.json', generation: 'VSE88', status: 'Pass', reasonCode: 'RuleDisabled', row: 8,
    evidence: { reportOnlyRules: [AVO10], config: { userRules: { userEnforce: false, userReport: true } }, log: { proving: [], wouldBlock: [{ process: 'C:\\PROGRAM FILES\\MICROSOFT\\EXCHANGE SERVER\\V15\\BIN\\EDGETRANSPORT.EXE' }] } },
  },
  { file: 'vse88-custom-rule-inbound-25-only.json', generation: 'VSE88', status: 'Pass', reasonCode: 'RuleDisabled', row: 8, evidence: { config: { rules: [{ name: 'Block inbound SMTP from the internet', block: true, direction: 'Inbound', coversOutbound25: false }, { id: 'AVO10', block: false }] } } },
  // An 8.0i to 8.5 upgrade: the 8.5 key decides (its leftover FileBlockEnabled_27 values are listed), the 8.0i keys are leftovers.
  {
    file: 'vse85-upgraded-from-vse80i-leftovers.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'RuleDisabled', row: 8,
    evidence: {
      product: { version: '8.5.0.781', installedKey: VMC, alsoFound: [V80] },
      config: { key: { path: BB85, view: '32' }, leftovers: [{ path: BB80, view: '32', generation: 'VSE80i' }], olderLayoutValues: ['FileBlockEnabled_27', 'FileBlockEnabled_28'], rules: [{ id: 'AVO10', block: false }] },
    },
    assumptions: [REPORT, DEF],
  },
  // Row 9: every SMTP sender outside every blocking rule.
  {
    file: 'vse88-x64-user-defined-rules-not-assessed.json', generation: 'VSE88', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9,
    evidence: {
      config: {
        userRules: {
          userEnforce: true, userReport: true, trailingNul: true, otherLines: 0, userExclusions: ['EdgeTransport.exe', 'MSExchangeFrontendTransport.exe'],
          userDefinedRules: [{ id: 'UR1', block: true, report: true, lines: 3 }, { id: 'UR2', block: false, report: true, lines: 3 }],
        },
      },
      coverage: [{ image: 'EdgeTransport.exe', excludedBy: 'EdgeTransport.exe' }, { image: 'MSExchangeFrontendTransport.exe', excludedBy: 'MSExchangeFrontendTransport.exe' }],
    },
    assumptions: [DEF, 'UserDefinedRulesNotAssessed'],
  },
  { file: 'vse80i-exchange2003-inetinfo-default-excluded.json', generation: 'VSE80i', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9, evidence: { coverage: [{ image: 'inetinfo.exe', rule: AVO10, applies: false, excludedBy: 'inetinfo.exe' }], culprits: [] }, assumptions: [] },
  { file: 'vse85-exchange2007-edgetransport-userexclude.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9, evidence: { config: { userRules: { trailingNul: false, userExclusions: ['EdgeTransport.exe'] } }, coverage: [{ image: 'EdgeTransport.exe', excludedBy: 'EdgeTransport.exe' }] } },
  {
    file: 'vse87-block-before-last-change-then-excluded.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9,
    evidence: { log: { proving: [], earlier: [{ localTime: '2026-11-25T10:03:51' }] }, coverage: [{ image: 'EdgeTransport.exe', applies: false }] },
  },
  {
    file: 'vse88-x64-exchange2013-wildcard-and-full-path-exclusions.json', generation: 'VSE88', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9,
    evidence: {
      coverage: [
        { image: 'EdgeTransport.exe', rule: 'Block SMTP except mail servers', excludedBy: 'edgetrans?ort.exe' },
        { image: 'EdgeTransport.exe', rule: AVO10, excludedBy: 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe' },
        { image: 'MSExchangeFrontendTransport.exe', rule: 'Block SMTP except mail servers', excludedBy: 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeFrontendTransport.exe' },
        { image: 'MSExchangeFrontendTransport.exe', rule: AVO10, excludedBy: 'msexchange*transport.exe' },
      ],
    },
  },
  {
    file: 'vse8x-version-unreadable-vscore-settings.json', generation: 'VSE85-87', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9,
    evidence: { product: { version: null, generationFrom: 'settingsKey' }, config: { key: { path: BB85 } }, coverage: [{ image: 'EdgeTransport.exe', excludedBy: 'EdgeTransport.exe' }] },
    assumptions: ['GenerationFromSettingsKey', REPORT, DEF],
  },
  { file: 'vse88-custom-rule-include-list-outlook-only.json', generation: 'VSE88', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9, evidence: { coverage: [{ image: 'EdgeTransport.exe', rule: 'Block mail client SMTP', notIncluded: true }, { image: 'MSExchangeFrontendTransport.exe', notIncluded: true }] } },
  {
    file: 'vse88-exchange2003-smtpsvc-pathname-null.json', generation: 'VSE88', status: 'Pass', reasonCode: 'SmtpExcluded', row: 9,
    evidence: { smtpServices: [{ name: 'SMTPSVC', image: 'inetinfo.exe', imageSource: 'assumedDefault', assumed: true }], coverage: [{ excludedBy: 'inetinfo.exe' }] },
    assumptions: ['SmtpImageAssumed', STATE, REPORT, DEF],
  },
  // Row 10: an SMTP sender is inside a blocking rule.
  // The untouched default text, exactly as written (no trailing NUL): product defaults throughout.
  {
    file: 'vse88-x64-userrules-untouched-no-nul.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10,
    evidence: {
      config: { apEnabled: true, apInstalled: true, leftovers: [], userRules: { encoding: 'ascii', trailingNul: false, userEnforce: null, userReport: null, userExclusions: [], userDefinedRules: [], otherLines: 0 } },
      culprits: [{ image: 'EdgeTransport.exe', rule: AVO10, ports: '25,587' }, { image: 'MSExchangeFrontendTransport.exe', rule: AVO10 }],
    },
    assumptions: [STATE, REPORT, DEF],
  },
  // An 8.7 to 8.8 upgrade: 8.8's key (defaults) decides; the 8.7 key, whose rule is off, is only listed.
  {
    file: 'vse88-x64-upgraded-from-vse87-leftover-key.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10,
    evidence: { config: { key: { path: BB88, view: '32' }, leftovers: [{ path: BB85, view: '32', generation: 'VSE85-87' }], userRules: { userEnforce: null } }, culprits: [{ image: 'EdgeTransport.exe' }, { image: 'MSExchangeFrontendTransport.exe' }] },
    assumptions: [STATE, REPORT, DEF],
  },
  // A day-first date with a 24-hour clock, and a block line without date and time: neither is read, neither proves.
  {
    file: 'vse88-x64-block-day-first-date-unread.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10,
    evidence: {
      log: {
        proving: [], earlier: [],
        unread: [
          { localTime: null, target: '198.51.100.25:25', line: '11/05/2026\t15:14:07\tBlocked by port blocking rule \tC:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe\tAnti-virus Standard Protection:Prevent mass mailing worms from sending mail\t198.51.100.25:25' },
          { localTime: null, target: '198.51.100.26:25', process: 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\EdgeTransport.exe', rule: 'Anti-virus Standard Protection:Prevent mass mailing worms from sending mail' },
          { localTime: null, target: '198.51.100.25:25' },
          { localTime: null, target: '198.51.100.26:25' },
        ],
      },
    },
  },
  {
    file: 'vse88-x64-transport-not-excluded.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10,
    evidence: { config: { key: { path: BB88, view: '32', lastWriteTime: '2025-01-10T09:01:00.000Z' }, userRules: { userEnforce: null, userReport: null, trailingNul: true } }, culprits: [{ service: 'MSExchangeTransport', image: 'EdgeTransport.exe', rule: AVO10, ports: '25,587', direction: 'Outbound' }] },
    assumptions: [STATE, REPORT, DEF],
  },
  { file: 'vse80i-exchange2003-inetinfo-removed-from-list.json', generation: 'VSE80i', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { culprits: [{ service: 'SMTPSVC', image: 'inetinfo.exe', rule: AVO10, ports: '25' }] }, assumptions: [] },
  { file: 'vse80i-custom-rule-japanese-name.json', generation: 'VSE80i', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { culprits: [{ image: 'inetinfo.exe', rule: 'マス メール型ワームによるメールの送信を防止する' }] } },
  { file: 'vse85-log-unreadable-time.json', generation: 'VSE85-87', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { log: { proving: [], unread: [{ localTime: null, process: 'C:\\PROGRAM FILES\\MICROSOFT\\EXCHANGE SERVER\\BIN\\EDGETRANSPORT.EXE' }] } } },
  {
    file: 'vse87-x64-wow6432node-exchange2010-not-excluded.json', generation: 'VSE85-87', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10,
    evidence: { product: { installedKey: VMC }, config: { key: { path: BB85, view: '32' }, userRules: { userEnforce: true, trailingNul: true } }, culprits: [{ image: 'EdgeTransport.exe' }] },
    assumptions: [DEF],
  },
  { file: 'vse88-block-ambiguous-time-no-offset.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { log: { proving: [], earlier: [{ localTime: '2026-11-27T11:00:00' }] } } },
  { file: 'vse88-custom-rule-port-range-20-30-both.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { culprits: [{ image: 'EdgeTransport.exe', rule: 'Block legacy ports 20-30', ruleId: '#1', ports: '20-30', direction: 'Both', include: [], exclude: ['outlook.exe'] }, { image: 'MSExchangeFrontendTransport.exe', rule: 'Block legacy ports 20-30' }] } },
  { file: 'vse88-exchange2016-frontend-not-excluded.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { culprits: [{ service: 'MSExchangeFrontEndTransport', image: 'MSExchangeFrontendTransport.exe', rule: AVO10 }] } },
  { file: 'vse88-x64-keys-in-native-64-view.json', generation: 'VSE88', status: 'Warning', reasonCode: 'SmtpNotExcluded', row: 10, evidence: { product: { installedKey: { view: '64' } }, config: { key: { view: '64' } } } },
];

export function fixtureFiles(): string[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

export function readFixture(file: string): unknown {
  return JSON.parse(readFileSync(path.join(FIXTURE_DIR, file), 'utf8'));
}
