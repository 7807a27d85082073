// The compiled alert rules against the structured log records the code writes
// (src/app/log-records.ts): each query must match a record name exactly, as formatLogRecord spells
// the message, every alert-worthy record must have a rule, and a late record must still alert once.
// One rule reads no record but the host's row per projector execution, and alerts on its absence.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALERT_FLOOD_SERVERS, ALERT_MANY_SERVERS, formatLogRecord, LOG_RECORDS, PROJECTION_FAILING_ALERT_MINUTES, PROJECTOR_BACKLOG_ALERT_MINUTES } from '../../src/app/log-records';
import type { LogRecordName } from '../../src/app/log-records';
import type { ReenrolmentGrant } from '../../src/app/enrolment';
import { PROJECTOR_GRACE_MS } from '../../src/app/projector';
import { TIMERS } from '../../src/app/timers';
import type { ArmResource, Json, JsonObject, TemplateScope } from './arm';
import { dig, evaluateString, mainTemplate, REPO_ROOT, resolveVariable, resourcesOfType } from './arm';

/** Records that must raise an alert: a new warning or error, a rule that could not decide, a stale server, a waiver expiry, a projector that set a change aside, keeps failing, or leaves changes waiting. */
const ALERT_WORTHY: readonly LogRecordName[] = [LOG_RECORDS.newFinding, LOG_RECORDS.verdictUnknown, LOG_RECORDS.serverStale, LOG_RECORDS.waiverExpired, LOG_RECORDS.projectionHeld, LOG_RECORDS.projectionFailed, LOG_RECORDS.projectorBacklog];
const RECORD_NAMES = new Set<string>(Object.values(LOG_RECORDS));

interface Rule {
  readonly key: string;
  readonly name: string;
  readonly query: string;
  readonly dimensions: string[];
  readonly severity: number;
}

/** The one scheduled query rule resource (a loop over the alertRules variable) and its template. */
let resource: ArmResource;
let scope: TemplateScope;
let props: JsonObject;
let rules: Rule[];
/** The rules on structured log records (`traces`); the rest read the host's own telemetry. */
let recordRules: Rule[];

/** The rule that fires when no projector run succeeded for its window. */
const SILENT_KEY = 'projector-silent';

/** `[variables('alertRules')[copyIndex()].x]` must read field x of the loop's item. */
function loopField(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? /^\[variables\('alertRules'\)\[copyIndex\(\)\]\.(\w+)\]$/.exec(value)?.[1] : undefined;
}

/** ISO 8601 duration PTnM / PTnH → minutes. */
function minutes(duration: Json | undefined): number {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(String(duration));
  if (!m) throw new Error(`not a PTnHnM duration: ${String(duration)}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

beforeAll(() => {
  const found = resourcesOfType('Microsoft.Insights/scheduledQueryRules');
  expect(found, 'one scheduledQueryRules resource (a loop)').toHaveLength(1);
  ({ resource, scope } = found[0]!);
  props = resource.properties as JsonObject;
  const criterion = dig(props, 'criteria', 'allOf');
  const first = Array.isArray(criterion) ? criterion[0] : undefined;
  expect(loopField(dig(first, 'query'))).toBe('query');
  expect(loopField(dig(props, 'displayName'))).toBe('displayName');
  const list = scope.template.variables?.alertRules;
  expect(Array.isArray(list)).toBe(true);
  rules = (list as JsonObject[]).map((r) => ({
    key: String(r.key),
    name: String(r.displayName),
    query: String(evaluateString(scope, r.query) ?? ''),
    dimensions: Array.isArray(r.dimensions) ? r.dimensions.map(String) : [],
    severity: Number(r.severity),
  }));
  recordRules = rules.filter((r) => r.query.startsWith('traces\n'));
});

/** `"FleetPosture.X "` in `where message startswith "FleetPosture.X "` → `FleetPosture.X`. */
function startsWithNames(query: string): string[] {
  return [...query.matchAll(/\bmessage\s+startswith(?:_cs)?\s+"([^"]*)"/g)].map((m) => m[1]!);
}

/** `text` as a literal inside a RegExp. */
const asPattern = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Projected column names of the last `project` of a query. */
function projected(query: string): string[] {
  const projects = [...query.matchAll(/\|\s*project\s+([^|]+)/g)];
  const last = projects[projects.length - 1];
  return last ? last[1]!.split(',').map((c) => c.trim().split(/\s*=\s*/)[0]!) : [];
}

describe('alert rules', () => {
  it('are LogAlert scheduled query rules, one per entry of alertRules, each with one criterion and a query', () => {
    expect(rules.length).toBeGreaterThanOrEqual(3);
    expect(resource.kind).toBe('LogAlert');
    expect(resource.copy).toMatchObject({ count: "[length(variables('alertRules'))]" });
    expect(dig(props, 'criteria', 'allOf')).toHaveLength(1);
    // Every rule reads a record of ours, except the one on the projector's silence.
    expect(rules.filter((r) => !recordRules.includes(r)).map((r) => r.key)).toEqual([SILENT_KEY]);
  });

  it('each names exactly one record, spelled as in LOG_RECORDS and followed by a space', () => {
    for (const rule of recordRules) {
      const names = startsWithNames(rule.query);
      expect(names, rule.name).toHaveLength(1);
      const literal = names[0]!;
      expect(literal.endsWith(' '), `${rule.name}: "${literal}" must end with a space so FleetPosture.NewFindingX does not match`).toBe(true);
      expect(RECORD_NAMES.has(literal.trimEnd()), `${rule.name}: "${literal.trimEnd()}" is not in LOG_RECORDS`).toBe(true);
      // Every other quoted FleetPosture.* literal (e.g. in strlen(...)) names the same record.
      for (const m of rule.query.matchAll(/"(FleetPosture\.[^"]*)"/g)) expect(m[1], rule.name).toBe(literal);
    }
  });

  it('match what formatLogRecord writes, and the rest of the message parses as JSON', () => {
    for (const rule of recordRules) {
      const literal = startsWithNames(rule.query)[0]!;
      const name = literal.trimEnd() as LogRecordName;
      const message = formatLogRecord(name, { server: 'exch01.corp.contoso.com', rule: 'mcafee-port25-blocked', status: 'Warning' });
      expect(message.startsWith(literal), rule.name).toBe(true);
      expect(JSON.parse(message.slice(literal.length))).toMatchObject({ server: 'exch01.corp.contoso.com' });
    }
  });

  it('cover every alert-worthy record', () => {
    const covered = new Set(rules.flatMap((r) => startsWithNames(r.query).map((n) => n.trimEnd())));
    expect(ALERT_WORTHY.filter((name) => !covered.has(name))).toEqual([]);
  });

  it('alert on new errors and on new warnings, never on waived findings', () => {
    const finding = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.newFinding);
    const statuses = finding.flatMap((r) => [...r.query.matchAll(/Status\s*(?:==|in)\s*\(?"(\w+)"/g)].map((m) => m[1]));
    expect(new Set(statuses)).toEqual(new Set(['Error', 'Warning']));
    for (const rule of finding) expect(rule.query, rule.name).toMatch(/waived/);
  });

  it('count a finding once per record id, so a record the projector logged again (after a restart) alerts once', () => {
    const finding = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.newFinding);
    expect(finding.length).toBeGreaterThan(0);
    for (const rule of finding) {
      expect(rule.query, rule.name).toMatch(/extend RecordId = coalesce\(tostring\(record\.recordId\),/);
      expect(rule.query, rule.name).toMatch(/\| summarize arg_min\(timestamp, \*\) by RecordId\n/);
      // Deduplicated before the last projection, so the dimensions still come from the record.
      expect(rule.query.indexOf('summarize'), rule.name).toBeLessThan(rule.query.lastIndexOf('| project'));
    }
  });

  it('alert when a status enters Unknown (the rule could not decide), below a new warning, once per record id, split by server, rule and reason', () => {
    const unknown = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.verdictUnknown);
    expect(unknown).toHaveLength(1);
    const [rule] = unknown as [Rule];
    const warning = rules.find((r) => r.key === 'new-warning');
    expect(rule.severity).toBeGreaterThan(warning!.severity);
    expect(rule.severity).toBeLessThanOrEqual(4);
    expect(rule.dimensions).toEqual(['Server', 'RuleId', 'ReasonCode']);
    expect(rule.query).toMatch(/RecordId = tostring\(record\.recordId\)/);
    expect(rule.query).toMatch(/\| summarize arg_min\(timestamp, \*\) by RecordId\n/);
  });

  it('alert on a key replaced by a re-enrolment (a possible take-over) at severity 1, as high as a new error', () => {
    const reenrolment = rules.find((r) => r.key === 're-enrolment');
    expect(reenrolment?.query).toMatch(/\| where Reason == "re-enrolment"\n/);
    expect(reenrolment?.severity).toBe(1);
    expect(reenrolment?.severity).toBe(rules.find((r) => r.key === 'new-error')?.severity);
  });

  it('alert on a key renewed with the current key (not a take-over by the enrolment secret) at severity 3, and every other re-enrolment at severity 1', () => {
    const reenrolment = rules.find((r) => r.key === 're-enrolment')!;
    const renewal = rules.find((r) => r.key === 'key-renewal');
    if (!renewal) throw new Error('no alert rule key-renewal');
    // What the record's grant says when the caller proved the current key (src/app/reenrolment.ts).
    const currentKey: ReenrolmentGrant = 'current-key';
    expect(renewal.severity).toBe(3);
    expect(renewal.query).toMatch(/\| where Reason == "re-enrolment"\n/);
    expect(renewal.query).toContain(`| where Grant == "${currentKey}"\n`);
    expect(reenrolment.query).toContain(`| where Grant != "${currentKey}"\n`);
    // The same records, split by one grant: every re-enrolment is in exactly one of the two rules.
    const head = (q: string): string => q.slice(0, q.indexOf('| where Grant'));
    expect(head(renewal.query)).toBe(head(reenrolment.query));
    expect(renewal.dimensions).toEqual(reenrolment.dimensions);
  });

  it('say why a waiver ended (expired, deleted, changed): the waiver rule splits by the record\'s reason', () => {
    const waiver = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.waiverExpired);
    expect(waiver).toHaveLength(1);
    expect(waiver[0]!.query).toMatch(/Reason = tostring\(record\.reason\)/);
    expect(waiver[0]!.dimensions).toContain('Reason');
    expect(waiver[0]!.name).not.toMatch(/expired/);
  });

  it('alert on every change the projector set aside, one alert per server and commit', () => {
    const held = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.projectionHeld);
    expect(held).toHaveLength(1);
    expect(held[0]!.dimensions.sort()).toEqual(['CommitId', 'Server']);
    expect(held[0]!.query).toMatch(/Server = tostring\(record\.server\), CommitId = tostring\(record\.commitId\)/);
    expect(held[0]!.query).not.toMatch(/\| where (?!message)/);
  });

  it('alert on a failing projector only once its runs have failed for the threshold the code names, split by the kind of error', () => {
    const failing = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.projectionFailed);
    expect(failing).toHaveLength(1);
    const query = failing[0]!.query;
    expect(query).toMatch(/FailingMinutes = toint\(record\.failingMinutes\)/);
    expect(query).toContain(`| where FailingMinutes >= ${PROJECTION_FAILING_ALERT_MINUTES}\n`);
    expect(query).toMatch(/ErrorKind = tostring\(record\.errorKind\)/);
    expect(failing[0]!.dimensions).toEqual(['ErrorKind']);
  });

  it('alert on a change that waited in the outbox for the threshold the code names, from every run\'s record (not per process), one alert however the oldest server moves', () => {
    const backlog = rules.filter((r) => startsWithNames(r.query)[0]?.trimEnd() === LOG_RECORDS.projectorBacklog);
    expect(backlog).toHaveLength(1);
    const query = backlog[0]!.query;
    expect(query).toMatch(/OldestWaitingMinutes = toint\(record\.oldestWaitingMinutes\)/);
    expect(query).toContain(`| where OldestWaitingMinutes >= ${PROJECTOR_BACKLOG_ALERT_MINUTES}\n`);
    // The oldest server changes as entries drain: a column to read, never a dimension to split by.
    expect(query).toMatch(/OldestServer = tostring\(record\.oldestServer\)/);
    expect(backlog[0]!.dimensions).toEqual([]);
    expect(projected(query)).toContain('OldestServer');
    // The latest record only, and no row at all when none is over the threshold (a summarize
    // without `by` would answer one empty row, which alerts).
    expect(query).toContain('| top 1 by timestamp desc\n');
    expect(query).not.toMatch(/\| summarize (?![^\n]*\bby\b)/);
    // Above the time an entry whose commit is not visible yet may wait before it is dropped.
    expect(PROJECTOR_BACKLOG_ALERT_MINUTES * 60_000).toBeGreaterThan(PROJECTOR_GRACE_MS);
  });

  it('each answer rows with a time column (Azure Monitor counts rows per time bin of the window)', () => {
    for (const rule of rules) expect(projected(rule.query)[0], rule.name).toBe('timestamp');
  });

  it('query the Application Insights `traces` table of the component they are scoped to', () => {
    for (const rule of rules) expect(rule.query, rule.name).not.toMatch(/\bAppTraces\b/);
    expect(dig(props, 'targetResourceTypes')).toEqual(['microsoft.insights/components']);
    expect(dig(props, 'scopes')).toEqual(["[parameters('applicationInsightsId')]"]);
    expect(String(scope.passed.applicationInsightsId)).toMatch(/^\[resourceId\('Microsoft\.Insights\/components'/);
  });

  it('split by columns the query projects (each record rule by at least one, but the backlog, which is one alert)', () => {
    for (const rule of recordRules.filter((r) => r.key !== 'projector-backlog')) expect(rule.dimensions.length, rule.name).toBeGreaterThan(0);
    for (const rule of rules) {
      const columns = projected(rule.query);
      expect(rule.dimensions.filter((d) => !columns.includes(d)), rule.name).toEqual([]);
    }
  });

  it('look back at least 30 minutes further than they run, for every frequency the deployment allows (record rules)', () => {
    expect(dig(props, 'evaluationFrequency')).toBe("[format('PT{0}M', parameters('alertFrequencyMinutes'))]");
    // A rule's own window (windowByRule, by key) or else alertWindowByFrequency; only the silence rule has its own.
    expect(dig(props, 'windowSize')).toBe(
      "[coalesce(tryGet(variables('windowByRule'), variables('alertRules')[copyIndex()].key), variables('alertWindowByFrequency')[string(parameters('alertFrequencyMinutes'))])]",
    );
    expect(Object.keys(scope.template.variables?.windowByRule as JsonObject)).toEqual([SILENT_KEY]);
    const windows = scope.template.variables?.alertWindowByFrequency;
    const allowed = mainTemplate().parameters?.alertFrequencyMinutes?.allowedValues;
    expect(Array.isArray(allowed) && allowed.length > 0).toBe(true);
    for (const frequency of allowed as number[]) {
      const window = minutes(dig(windows, String(frequency)));
      expect(window - frequency, `frequency ${frequency} min, window ${window} min`).toBeGreaterThanOrEqual(30);
    }
  });

  it('alert once per server/rule/reason while records stay in the window (stateful), and notify the action group', () => {
    // A record is seen by every run while it is in the window; a stateful alert fires on the first
    // and stays fired (no second notification) until no record is left.
    expect(dig(props, 'autoMitigate')).toBe(true);
    const criteria = dig(props, 'criteria', 'allOf') as Json[];
    expect(dig(criteria[0], 'failingPeriods')).toEqual({ numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 });
    expect(String(dig(props, 'actions', 'actionGroups'))).toMatch(/Microsoft\.Insights\/actionGroups/);
  });
});

/**
 * Rules a fleet-wide event fires for every server at once: a rule change, a policy push, an expired
 * pattern waiver, a network outage; an admin revoking many keys, a fleet reinstall (re-enrolments,
 * renewals, requests), a stolen enrolment secret pushing out many collectors, a collector release
 * whose snapshots the service refuses, a rollout whose collectors never run.
 */
const FLOOD_KEYS = ['new-error', 'new-warning', 'verdict-unknown', 'waiver-expired', 'server-stale', 'never-posted', 'key-refused', 'snapshot-rejected', 're-enrolment', 'key-renewal', 'reenrolment-request'];
/** Dimensions that are each server's own (looked up after the grouping), not a group of servers. */
const PER_SERVER: Readonly<Record<string, readonly string[]>> = { 'server-stale': ['LastSeen'], 'never-posted': ['KeyIssuedAt'], 'reenrolment-request': ['RequestId'] };

describe('a flood (2,000 servers flipping at once)', () => {
  it('alerts per server up to the threshold the code names, and beyond it once per rule, status and reason (or waiver), not once per server', () => {
    for (const key of FLOOD_KEYS) {
      const rule = rules.find((r) => r.key === key);
      if (!rule) throw new Error(`no alert rule ${key}`);
      const { query, dimensions } = rule;
      expect(dimensions, key).toContain('Server');
      const own = PER_SERVER[key] ?? [];
      const others = dimensions.filter((d) => d !== 'Server' && !own.includes(d));
      // The servers of each group of the other dimensions, gathered after the de-duplication by record id.
      const gather = `| summarize timestamp = min(timestamp), Servers = make_set(Server)${own.length > 0 ? ', ' : ''}`;
      const by = others.length > 0 ? ` by ${others.join(', ')}\n` : '\n';
      expect(query, key).toMatch(new RegExp(`${asPattern(gather)}${own.length > 0 ? '[^\\n|]*' : ''}${asPattern(by)}`));
      expect(query.indexOf(gather), key).toBeGreaterThan(query.lastIndexOf('by RecordId'));
      expect(query, key).toContain('| extend ServerCount = array_length(Servers)\n');
      // Each server its own row (its own alert) up to the threshold; one fixed row beyond it, whose
      // dimension does not move while the count grows, so the flood stays one alert.
      expect(query, key).toContain(`| mv-expand Server = iff(ServerCount > ${ALERT_FLOOD_SERVERS}, dynamic(["${ALERT_MANY_SERVERS}"]), Servers) to typeof(string)\n`);
      expect(projected(query), key).toEqual(['timestamp', 'Server', ...own, ...others, 'ServerCount']);
    }
  });

  it('the stale rule says when each server last posted (LastSeen, a dimension, so the notification carries it), and where to look in a flood', () => {
    const stale = rules.find((r) => r.key === 'server-stale');
    if (!stale) throw new Error('no alert rule server-stale');
    const { query, dimensions } = stale;
    expect(dimensions).toEqual(['Server', 'LastSeen']);
    expect(query).toContain('LastSeen = tostring(record.lastSeen)');
    // Each server's latest silence, carried through the flood grouping keyed by server.
    expect(query).toContain('| summarize arg_max(timestamp, LastSeen) by Server\n');
    expect(query).toContain('LastSeenByServer = make_bag(bag_pack(Server, LastSeen))\n');
    const lookup = `| extend LastSeen = iff(ServerCount > ${ALERT_FLOOD_SERVERS}, "(see GET /api/servers?stale=true)", tostring(LastSeenByServer[Server]))\n`;
    expect(query).toContain(lookup);
    expect(query.indexOf(lookup)).toBeGreaterThan(query.indexOf('| mv-expand Server'));
  });

  it('are the rules that split by server one by one, besides the one on changes the projector set aside (one per commit)', () => {
    const perServer = rules.filter((r) => r.dimensions.includes('Server')).map((r) => r.key);
    expect(perServer.filter((k) => !FLOOD_KEYS.includes(k)).sort()).toEqual(['projection-held']);
  });

  it('the request rule names each server\'s latest request, and where the requests are listed in a flood', () => {
    const { query, dimensions } = rules.find((r) => r.key === 'reenrolment-request')!;
    expect(dimensions).toEqual(['Server', 'RequestId']);
    expect(query).toContain('| summarize arg_max(timestamp, RequestId) by Server\n');
    expect(query).toContain(`| extend RequestId = iff(ServerCount > ${ALERT_FLOOD_SERVERS}, "(see GET /api/enrolments)", tostring(RequestIdByServer[Server]))\n`);
  });

  it('is written once in alerts.bicep and used by every rule that splits by server', () => {
    const source = readFileSync(path.join(REPO_ROOT, 'infra', 'modules', 'alerts.bicep'), 'utf8');
    expect(source.match(/mv-expand Server/g)).toHaveLength(1);
    expect(source.match(/make_set\(Server\)/g)).toHaveLength(1);
  });
});

/** Window sizes a log alert rule accepts, in minutes (Azure Monitor refuses others). */
const WINDOW_MINUTES = [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880];

/** Seconds between runs of an NCRONTAB schedule that repeats every N seconds or every N minutes. */
function periodSeconds(schedule: string): number {
  const seconds = /^\*\/(\d+) \* \* \* \* \*$/.exec(schedule);
  if (seconds) return Number(seconds[1]);
  const minutes = /^0 \*\/(\d+) \* \* \* \*$/.exec(schedule);
  if (minutes) return Number(minutes[1]) * 60;
  throw new Error(`not an every-N-seconds or every-N-minutes schedule: ${schedule}`);
}

describe('the rule on a projector that does not run', () => {
  const silent = (): Rule => {
    const found = rules.find((r) => r.key === SILENT_KEY);
    if (!found) throw new Error(`no alert rule ${SILENT_KEY}`);
    return found;
  };

  it('counts the successful executions of the projector timer in the host\'s requests, one row even when there is none, and alerts on zero', () => {
    const { query, dimensions } = silent();
    const projector = TIMERS.find((t) => t.job === 'projector');
    expect(query).toMatch(/^requests\n/);
    expect(query).toContain(`| where operation_Name == "${projector?.name}"\n`);
    // Without `by`, summarize answers one row on an empty input (counts 0): no run at all alerts too.
    const summarize = /\| summarize ([^\n]*)\n/.exec(query)?.[1] ?? '';
    expect(summarize).toContain('Succeeded = countif(success == true)');
    expect(summarize).not.toMatch(/\bby\b/);
    expect(query.indexOf('| where Succeeded == 0\n')).toBeGreaterThan(query.indexOf('| summarize'));
    // Stamped with the evaluation time: no run's time is left when no run is in the window.
    expect(query).toMatch(/\| project timestamp = now\(\), [^\n]*\n$/);
    // One alert for the app, not one per anything.
    expect(dimensions).toEqual([]);
    // Every execution's row reaches the table: requests are kept out of sampling.
    const host = JSON.parse(readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8')) as unknown;
    const sampling = dig(host, 'logging', 'applicationInsights', 'samplingSettings');
    if (dig(sampling, 'isEnabled') !== false) expect(String(dig(sampling, 'excludedTypes') ?? '').split(';').map((t) => t.trim())).toContain('Request');
  });

  it('looks back at least 15 minutes and at least its frequency, over a window Azure accepts, many projector periods long', () => {
    const own = String(dig(scope.template.variables?.windowByRule, SILENT_KEY));
    const byFrequency = /^\[variables\('(\w+)'\)\[string\(parameters\('alertFrequencyMinutes'\)\)\]\]$/.exec(own)?.[1];
    expect(byFrequency, own).toBeDefined();
    const windows = scope.template.variables?.[byFrequency!];
    const allowed = mainTemplate().parameters?.alertFrequencyMinutes?.allowedValues as number[];
    const period = periodSeconds(String(mainTemplate().parameters?.projectorSchedule?.defaultValue));
    for (const frequency of allowed) {
      const window = minutes(dig(windows, String(frequency)));
      expect(WINDOW_MINUTES, `frequency ${frequency} min, window ${window} min`).toContain(window);
      expect(window, `frequency ${frequency} min`).toBeGreaterThanOrEqual(Math.max(15, frequency));
      // Not a record rule's hour when it runs often: a stopped projector is news within minutes.
      if (frequency <= 15) expect(window, `frequency ${frequency} min`).toBe(15);
      // Telemetry reaches the table within a few minutes; the rest of the window still holds many runs.
      expect(((window - 5) * 60) / period, `frequency ${frequency} min`).toBeGreaterThanOrEqual(10);
    }
  });
});

describe('host.json', () => {
  it('keeps traces out of Application Insights sampling, so no alert record is dropped', () => {
    const host = JSON.parse(readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8')) as unknown;
    const sampling = dig(host, 'logging', 'applicationInsights', 'samplingSettings');
    if (dig(sampling, 'isEnabled') === false) return;
    const excluded = String(dig(sampling, 'excludedTypes') ?? '').split(';').map((t) => t.trim());
    expect(excluded).toContain('Trace');
  });
});

describe('action group', () => {
  it('sends to the e-mail address and webhook given as parameters, the webhook kept secure', () => {
    const groups = resourcesOfType('Microsoft.Insights/actionGroups');
    expect(groups).toHaveLength(1);
    const { scope: groupScope, resource: group } = groups[0]!;
    const email = resolveVariable(groupScope, dig(group, 'properties', 'emailReceivers'));
    const webhook = resolveVariable(groupScope, dig(group, 'properties', 'webhookReceivers'));
    expect(String(email)).toMatch(/createObject\('name', 'operator-email', 'emailAddress', parameters\('alertEmailAddress'\)/);
    expect(String(webhook)).toMatch(/createObject\('name', 'operator-webhook', 'serviceUri', parameters\('alertWebhookUrl'\)/);
    expect(groupScope.template.parameters?.alertWebhookUrl?.type).toBe('securestring');
    expect(mainTemplate().parameters?.alertWebhookUrl?.type).toBe('securestring');
  });
});
