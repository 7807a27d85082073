// The alert rules against the structured log records the code writes (src/app/log-records.ts):
// each query must match a record name exactly, as formatLogRecord spells the message, and every
// alert-worthy record must have a rule.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatLogRecord, LOG_RECORDS } from '../../src/app/log-records';
import type { LogRecordName } from '../../src/app/log-records';
import type { BicepFile, Value } from './bicep';
import { dig, isObject, loadBicepFiles, REPO_ROOT, resourceInstances } from './bicep';

/** Records that must raise an alert (issue 3: new warning/error; issue 6: stale server, waiver expiry). */
const ALERT_WORTHY: readonly LogRecordName[] = [LOG_RECORDS.newFinding, LOG_RECORDS.serverStale, LOG_RECORDS.waiverExpired];
const RECORD_NAMES = new Set<string>(Object.values(LOG_RECORDS));

interface Rule {
  readonly name: string;
  readonly apiVersion: string;
  readonly value: { [key: string]: Value };
  readonly query: string;
  readonly dimensions: string[];
}

let files: BicepFile[];
let rules: Rule[];

/** `"FleetPosture.X "` in `where message startswith "FleetPosture.X "` → `FleetPosture.X`. */
function startsWithNames(query: string): string[] {
  return [...query.matchAll(/\bmessage\s+startswith(?:_cs)?\s+"([^"]*)"/g)].map((m) => m[1]!);
}

/** Projected column names of the last `project` of a query. */
function projected(query: string): string[] {
  const projects = [...query.matchAll(/\|\s*project\s+([^|]+)/g)];
  const last = projects[projects.length - 1];
  return last ? last[1]!.split(',').map((c) => c.trim().split(/\s*=\s*/)[0]!) : [];
}

beforeAll(async () => {
  files = await loadBicepFiles();
  rules = resourceInstances(files, 'Microsoft.Insights/scheduledQueryRules').map(({ resource, value }) => {
    const allOf = dig(value, 'properties', 'criteria', 'allOf');
    const criterion = Array.isArray(allOf) ? allOf[0] : undefined;
    const query = dig(criterion, 'query');
    const dims = dig(criterion, 'dimensions');
    return {
      name: String(dig(value, 'properties', 'displayName')),
      apiVersion: resource.apiVersion,
      value,
      query: typeof query === 'string' ? query : '',
      dimensions: Array.isArray(dims) ? dims.map((d) => String(dig(d, 'name'))) : [],
    };
  });
});

describe('alert rules', () => {
  it('exist as LogAlert scheduled query rules of API 2023-12-01 with a resolvable query', () => {
    expect(rules.length).toBeGreaterThanOrEqual(3);
    for (const rule of rules) {
      expect(rule.value.kind, rule.name).toBe('LogAlert');
      expect(rule.apiVersion, rule.name).toBe('2023-12-01');
      expect(rule.query, `${rule.name}: query must be a literal string or var`).not.toBe('');
      expect(dig(rule.value, 'properties', 'criteria', 'allOf'), rule.name).toHaveLength(1);
    }
  });

  it('each names exactly one record, spelled as in LOG_RECORDS and followed by a space', () => {
    for (const rule of rules) {
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
    for (const rule of rules) {
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

  it('query the Application Insights `traces` table of the component they are scoped to', () => {
    for (const rule of rules) {
      expect(rule.query.trim().split(/\s/)[0], rule.name).toBe('traces');
      expect(rule.query, rule.name).not.toMatch(/\bAppTraces\b/);
      expect(dig(rule.value, 'properties', 'targetResourceTypes'), rule.name).toEqual(['microsoft.insights/components']);
      expect(String(dig(rule.value, 'properties', 'scopes')), rule.name).toMatch(/appInsights\.id/);
    }
  });

  it('split by columns the query projects', () => {
    for (const rule of rules) {
      expect(rule.dimensions.length, rule.name).toBeGreaterThan(0);
      const columns = projected(rule.query);
      expect(rule.dimensions.filter((d) => !columns.includes(d)), rule.name).toEqual([]);
    }
  });

  it('run as often as the window they look back over, and notify the action group', () => {
    for (const rule of rules) {
      const props = rule.value.properties;
      expect(isObject(props)).toBe(true);
      expect(dig(props, 'evaluationFrequency'), rule.name).toEqual(dig(props, 'windowSize'));
      expect(String(dig(props, 'actions', 'actionGroups')), rule.name).toMatch(/actionGroup\.id/);
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
  it('sends to the e-mail address and webhook given as parameters', () => {
    const groups = resourceInstances(files, 'Microsoft.Insights/actionGroups');
    expect(groups).toHaveLength(1);
    const file = files.find((f) => f.rel === groups[0]!.file.rel)!;
    expect(file.text).toMatch(/emailAddress:\s*alertEmailAddress/);
    expect(file.text).toMatch(/serviceUri:\s*alertWebhookUrl/);
    const main = files.find((f) => f.rel === 'infra/main.bicep')!;
    expect(main.text).toMatch(/param alertEmailAddress string/);
    expect(main.text).toMatch(/@secure\(\)\s*\nparam alertWebhookUrl string/);
  });
});
