// The rule "Port 25 is blocked" (McAfee VirusScan vs. Exchange SMTP): the decision table of
// docs/rules/mcafee-port25-blocked.md, read top-down, first matching row decides.
import { getService, type NormalisedSnapshot } from '../../snapshot/normalise';
import type { Localised, Rule, RuleOutcome, Status } from '../types';
import { readConfig, generationBySettings, type ConfigRead } from './config';
import { DEFAULT_MASS_MAILING_EXCLUSIONS, USER_RULES_VALUE } from './decode-user-rules';
import { configurationFacts } from './fingerprint';
import {
  ACCESS_LOG_FILES,
  BEHAVIOUR_BLOCKING_DEPTH,
  BEHAVIOUR_BLOCKING_KEYS,
  GENERATIONS,
  INSTALLED_KEYS,
  SERVICES,
} from './locations';
import { observedBlocks, type ObservedBlocks } from './observed-blocks';
import { appliesTo, blocksOutbound25, coversOutbound25, formatPorts, isMassMailingRule, type Applicability, type PortRule } from './port-rules';
import { detectProduct, productLabel, type Product } from './product';
import { smtpServices, type SmtpService } from '../common/smtp-services';
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
} from './texts';

export const REASON_CODES = {
  NotInstalled: 'NotApplicable',
  NoSmtpService: 'NotApplicable',
  ScannerStateUnknown: 'Unknown',
  ScannerNotRunning: 'Pass',
  BlockObserved: 'Error',
  ConfigUnreadable: 'Unknown',
  AccessProtectionOff: 'Pass',
  RuleDisabled: 'Pass',
  SmtpExcluded: 'Pass',
  SmtpNotExcluded: 'Warning',
} as const satisfies Record<string, Status>;

export type ReasonCode = keyof typeof REASON_CODES;

/** The row of the decision table each reason code comes from. */
export const ROW_OF: Readonly<Record<ReasonCode, number>> = {
  NotInstalled: 1,
  NoSmtpService: 2,
  ScannerStateUnknown: 3,
  ScannerNotRunning: 4,
  BlockObserved: 5,
  ConfigUnreadable: 6,
  AccessProtectionOff: 7,
  RuleDisabled: 8,
  SmtpExcluded: 9,
  SmtpNotExcluded: 10,
};

interface Assumption {
  readonly code: string;
  readonly detail: string;
}

/** One (SMTP service × blocking rule) pair: does the rule apply to the service's sender? */
interface Pair {
  readonly svc: SmtpService;
  readonly rule: PortRule;
  readonly applies: Applicability;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function ruleEvidence(r: PortRule): Record<string, unknown> {
  return {
    name: r.name,
    id: r.id,
    builtIn: isMassMailingRule(r),
    source: r.source,
    block: r.enabled,
    report: r.report,
    ports: formatPorts(r.ports),
    direction: r.direction,
    include: r.include,
    exclude: r.exclude,
    coversOutbound25: coversOutbound25(r),
    assumed: r.assumed,
  };
}

function configEvidence(c: ConfigRead): Record<string, unknown> {
  return {
    key: { path: c.path, view: c.view, lastWriteTime: iso(c.lastWriteMs) },
    read: c.state,
    problems: c.problems,
    apEnabled: c.apEnabled,
    apInstalled: c.apInstalled,
    leftovers: c.leftovers,
    olderLayoutValues: c.olderLayoutValues,
    logPathSettings: c.logPathSettings,
    userRules: c.userRules
      ? {
          encoding: c.userRules.encoding,
          trailingNul: c.userRules.trailingNul,
          userEnforce: c.userRules.enforce ?? null,
          userReport: c.userRules.report ?? null,
          userExclusions: c.userRules.userExclusions,
          userDefinedRules: c.userRules.userDefined,
          otherLines: c.userRules.otherLines,
        }
      : null,
    rules: c.rules.map(ruleEvidence),
  };
}

function productEvidence(p: Product): Record<string, unknown> {
  return { generation: p.generation, version: p.version, generationFrom: p.generationFrom, installedKey: p.installedKey, installedKeyError: p.installedKeyError, alsoFound: p.alsoFound };
}

function pairsOf(services: readonly SmtpService[], blocking: readonly PortRule[]): Pair[] {
  return services.flatMap((svc) => blocking.map((rule) => ({ svc, rule, applies: appliesTo(rule, svc.image) })));
}

function coverageEvidence(p: Pair): Record<string, unknown> {
  return { service: p.svc.name, image: p.svc.image, rule: p.rule.name, ruleId: p.rule.id, applies: p.applies.applies, excludedBy: p.applies.excludedBy ?? null, notIncluded: p.applies.notIncluded === true };
}

/** A rule that blocks an SMTP sender, with its lists so a reader sees why the process is inside it. */
function culpritEvidence(p: Pair): Culprit & Record<string, unknown> {
  return { service: p.svc.name, image: p.svc.image, rule: p.rule.name, ruleId: p.rule.id, ports: formatPorts(p.rule.ports), direction: p.rule.direction, include: p.rule.include, exclude: p.rule.exclude };
}

function evaluate(s: NormalisedSnapshot): RuleOutcome {
  const assumptions: Assumption[] = [];
  const ev: Record<string, unknown> = {
    evidenceVersion: 1,
    decidedBy: 0,
    product: null,
    scanner: null,
    smtpServices: [],
    config: null,
    coverage: [],
    culprits: [],
    reportOnlyRules: [],
    log: null,
    assumptions,
  };
  const ctx: { -readonly [K in keyof TextContext]: TextContext[K] } = textContext();
  const done = (code: ReasonCode, remediation: Localised[] = []): RuleOutcome => {
    ev.decidedBy = ROW_OF[code];
    return { status: REASON_CODES[code], reasonCode: code, message: MESSAGES[code]!(ctx), remediation, evidence: ev };
  };

  // Row 1: is VirusScan installed?
  const product = detectProduct(s, (view) => generationBySettings(s, view));
  if (!product) return done('NotInstalled');
  ev.product = productEvidence(product);
  ctx.product = productLabel(product);
  if (product.generationFrom === 'settingsKey') {
    assumptions.push({ code: 'GenerationFromSettingsKey', detail: 'szProductVer was not readable or names no known 8.x version; the generation was taken from which BehaviourBlocking key exists (8.8 when none does)' });
  }

  // Row 2: an Exchange SMTP service, whatever its state.
  const smtp = smtpServices(s);
  ev.smtpServices = smtp;
  ctx.images = [...new Set(smtp.map((x) => x.image))];
  for (const x of smtp.filter((x) => x.assumed)) {
    assumptions.push({ code: 'SmtpImageAssumed', detail: `${x.name} has no PathName; its sending process is assumed to be ${x.image}` });
  }
  if (smtp.length === 0) return done('NoSmtpService');

  // Rows 3 and 4: the on-access scanner.
  const shield = getService(s, SERVICES.scanner);
  ev.scanner = shield ? { service: shield.name, present: true, state: shield.state, started: shield.started } : { service: SERVICES.scanner, present: false };
  if (!shield) return done('ScannerStateUnknown', [SCANNER_UNKNOWN_REMEDIATION]);
  ctx.scannerState = shield.state;
  if (!shield.started) return done('ScannerNotRunning');

  // Read the settings now: row 5 needs the key's last write, and its texts name the rules.
  const config = readConfig(s, product.generation, product.installedKey.view);
  ev.config = configEvidence(config);
  ctx.configKey = `${config.path} (view ${config.view ?? '-'})`;
  ctx.problems = config.problems;
  if (config.assumedDefaultState) {
    assumptions.push({ code: 'BuiltInRuleStateFromDefaults', detail: 'no "UserEnforce AVO10" line: the mass-mailing rule is assumed to keep its product default (Block on)' });
  }
  if (config.rules.some((r) => r.assumed.includes('report'))) {
    assumptions.push({ code: 'BuiltInRuleReportFromDefaults', detail: 'no "UserReport AVO10" line: the Report setting of the mass-mailing rule was not read; it is assumed to keep its product default (Report on)' });
  }
  if (config.rules.some((r) => r.source !== 'reference-layout')) {
    assumptions.push({ code: 'BuiltInRuleDefinitionFromDefaults', detail: `the mass-mailing rule is taken to cover ports 25 and 587 outbound with the default exclusions (${DEFAULT_MASS_MAILING_EXCLUSIONS.length} processes) plus any UserExclude lines` });
  }
  const userDefined = config.userRules?.userDefined ?? [];
  if (userDefined.length > 0) {
    ctx.userDefinedRules = userDefined.map((u) => u.id);
    assumptions.push({
      code: 'UserDefinedRulesNotAssessed',
      detail: `${userDefined.length} user-defined rule(s) in ${USER_RULES_VALUE} (${ctx.userDefinedRules.join(', ')}) were not assessed: their encoding is not public, so the verdict is about the built-in rule only`,
    });
  }
  const blocking = config.rules.filter(blocksOutbound25);
  const reportOnly = config.rules.filter((r) => !r.enabled && r.report && coversOutbound25(r));
  ev.reportOnlyRules = reportOnly.map((r) => r.name);
  ctx.reportOnlyRules = reportOnly.map((r) => r.name);
  ctx.reportAssumedRules = reportOnly.filter((r) => r.assumed.includes('report')).map((r) => r.name);
  const pairs = config.state === 'ok' ? pairsOf(smtp, blocking) : [];
  const coverage = pairs.map(coverageEvidence);
  const culprits = pairs.filter((p) => p.applies.applies).map(culpritEvidence);
  ctx.culprits = culprits;
  ctx.blockingRules = [...new Set(blocking.map((r) => r.name))];

  // Row 5: the log proves a block of an SMTP process on port 25.
  const log: ObservedBlocks = observedBlocks(s, ctx.images, config.lastWriteMs);
  ev.log = log;
  if (!log.offsetKnown && (log.proving.length + log.earlier.length > 0)) {
    assumptions.push({ code: 'LogTimeZoneUnknown', detail: 'host.utcOffsetMinutes is absent: log times were read under every offset from UTC-12 to UTC+14' });
  }
  const proof = log.proving[0];
  if (proof) {
    ctx.blockLine = { process: proof.process, rule: proof.rule, target: proof.target, time: proof.localTime.replace('T', ' ') };
    ev.culprits = culprits;
    return done('BlockObserved', blockRemediation(ctx));
  }

  // Row 6: settings missing, unreadable or in an unknown layout.
  if (config.state !== 'ok') return done('ConfigUnreadable', unreadableRemediation(ctx));

  // Row 7: Access Protection off as a whole: not installed, or not enabled.
  const offBy = [...(config.apInstalled === false ? ['APInstalled'] : []), ...(config.apEnabled === false ? ['APEnabled'] : [])];
  if (offBy.length > 0) {
    ev.accessProtectionOffBy = offBy;
    ctx.offBy = offBy;
    return done('AccessProtectionOff');
  }

  // Row 8: nothing blocks outbound 25.
  if (blocking.length === 0) return done('RuleDisabled');

  // Rows 9 and 10: is every SMTP sender outside every blocking rule?
  ev.coverage = coverage;
  ev.culprits = culprits;
  ctx.assumedDefaults = pairs.some((p) => p.applies.applies && p.rule.assumed.includes('enabled'));
  if (culprits.length === 0) return done('SmtpExcluded');
  return done('SmtpNotExcluded', blockRemediation(ctx));
}

const bbNeeds = GENERATIONS.map((g) => ({ path: BEHAVIOUR_BLOCKING_KEYS[g], recurse: true, maxDepth: BEHAVIOUR_BLOCKING_DEPTH }));

export const mcafeePort25Blocked: Rule = {
  id: 'mcafee-port25-blocked',
  version: '1.2.0',
  title: TITLE,
  rationale: RATIONALE,
  severity: 'Warning',
  references: REFERENCES,
  guide: true,
  reasonCodes: REASON_CODES,
  needs: {
    registry: [
      { path: INSTALLED_KEYS.nai, recurse: false },
      { path: INSTALLED_KEYS.mcafee, recurse: false },
      ...bbNeeds,
    ],
    services: [SERVICES.scanner, ...SERVICES.smtp],
    files: ACCESS_LOG_FILES,
  },
  // VSE is a 32-bit product: on 64-bit Windows its keys are under Wow6432Node.
  installedKeys: { paths: [INSTALLED_KEYS.nai, INSTALLED_KEYS.mcafee], view: '32' },
  evaluate,
  configurationFacts,
};
