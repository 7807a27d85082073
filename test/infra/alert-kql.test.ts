// The alert queries compiled, not only read as text: each compiled rule's KQL goes through
// Kusto.Language against the `traces` and `requests` tables of a workspace-based Application
// Insights component (kql.ts, app-insights-schema.ts). A misspelt column, a function given the
// wrong types, a `summarize by` a dynamic or a dimension the query never answers would otherwise
// pass the string tests of alerts.test.ts and fail in Azure, at deployment or at every evaluation.
// The KQL examples in the code's comments and in the docs are compiled the same way.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'glob';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from './arm';
import { evaluateString, REPO_ROOT, resourcesOfType } from './arm';
import { compileKql, describeDiagnostic, loadKql } from './kql';

interface Rule {
  readonly key: string;
  readonly query: string;
  readonly dimensions: readonly string[];
}

/**
 * Column types a log search alert splits by: "Dimensions can be only string or numeric columns"
 * (Azure Monitor, "Create or edit a log search alert rule"). Every dimension of ours is a string.
 */
const DIMENSION_TYPES = ['string', 'int', 'long', 'real', 'decimal'];

/** The column Azure Monitor bins a rule's rows by over its window (see alerts.bicep). */
const TIME_COLUMN = 'timestamp';

/**
 * What Azure would refuse or get wrong in a rule's query: compile errors, a dimension that is not
 * a string or numeric column of the result, no datetime `timestamp` in the result. Empty when sound.
 */
function problems(query: string, dimensions: readonly string[]): string[] {
  const { errors, columns } = compileKql(query);
  const out = errors.map((d) => describeDiagnostic(query, d));
  if (!columns) return [...out, 'the query answers no table'];
  const types = new Map(columns.map((c) => [c.name, c.type]));
  for (const dimension of dimensions) {
    const type = types.get(dimension);
    if (type === undefined) out.push(`dimension ${dimension} is not a column of the result (${columns.map((c) => c.name).join(', ')})`);
    else if (!DIMENSION_TYPES.includes(type)) out.push(`dimension ${dimension} is a ${type}, not a string or number`);
  }
  if (types.get(TIME_COLUMN) !== 'datetime') out.push(`no ${TIME_COLUMN} of type datetime in the result (${TIME_COLUMN}: ${types.get(TIME_COLUMN) ?? 'absent'})`);
  return out;
}

let rules: Rule[];

beforeAll(() => {
  loadKql();
  const found = resourcesOfType('Microsoft.Insights/scheduledQueryRules');
  expect(found).toHaveLength(1);
  const { scope } = found[0]!;
  rules = (scope.template.variables?.alertRules as JsonObject[]).map((r) => ({
    key: String(r.key),
    query: String(evaluateString(scope, r.query) ?? ''),
    dimensions: Array.isArray(r.dimensions) ? r.dimensions.map(String) : [],
  }));
  expect(rules.length).toBeGreaterThan(0);
});

/** The rule with this key. */
function rule(key: string): Rule {
  const found = rules.find((r) => r.key === key);
  if (!found) throw new Error(`no alert rule ${key}`);
  return found;
}

/** `query` with `from` replaced once; fails if `from` is not in it, so a changed query cannot make a case vacuous. */
function edited(query: string, from: string, to: string): string {
  expect(query, `the query holds ${JSON.stringify(from)}`).toContain(from);
  return query.replace(from, to);
}

describe('the alert queries compiled with Kusto.Language against the Application Insights schema', () => {
  it('compile without errors, answer every dimension as a string or number column, and a datetime timestamp', () => {
    for (const { key, query, dimensions } of rules) expect(problems(query, dimensions), key).toEqual([]);
  });

  it('answer exactly the columns the rules project, with the types the notifications show', () => {
    const columns = (key: string): string[] | undefined => compileKql(rule(key).query).columns?.map((c) => `${c.name}:${c.type}`);
    expect(columns('new-error')).toEqual(['timestamp:datetime', 'Server:string', 'RuleId:string', 'ReasonCode:string', 'ServerCount:long']);
    expect(columns('server-stale')).toEqual(['timestamp:datetime', 'Server:string', 'LastSeen:string', 'ServerCount:long']);
    expect(columns('projection-failing')).toEqual(['timestamp:datetime', 'ErrorKind:string', 'FailingMinutes:int', 'Error:string']);
    expect(columns('projector-silent')).toEqual(['timestamp:datetime', 'Succeeded:long', 'Failed:long']);
  });
});

describe('the check fails a query Azure would refuse or misread (modified copies of real queries, not the Bicep)', () => {
  it('a misspelt column', () => {
    const { query, dimensions } = rule('new-error');
    const found = problems(edited(query, 'where message startswith', 'where mesage startswith'), dimensions);
    expect(found).toEqual([expect.stringMatching(/^KS142 The name 'mesage' does not refer to any known column, table, variable or function\./)]);
  });

  it('a dimension the query does not answer', () => {
    const { query, dimensions } = rule('new-error');
    const found = problems(edited(query, '| project timestamp, Server, RuleId, ReasonCode, ServerCount', '| project timestamp, Server, RuleId, ServerCount'), dimensions);
    expect(found).toEqual([expect.stringMatching(/^dimension ReasonCode is not a column of the result/)]);
  });

  it('a dimension that is a dynamic (the parsed record itself), which Azure cannot split by', () => {
    const { query } = rule('projection-held');
    const found = problems(edited(query, '| project timestamp, Server, CommitId, Error', '| project timestamp, Server, CommitId = record.commitId, Error'), ['Server', 'CommitId']);
    expect(found).toEqual(['dimension CommitId is a dynamic, not a string or number']);
  });

  it('a summarize by a dynamic', () => {
    const { query, dimensions } = rule('projection-failing');
    const found = problems(edited(query, 'by ErrorKind', 'by ErrorKind = record.errorKind'), dimensions);
    expect(found).toEqual([
      'KS116 The value of type \'dynamic\' is not allowed in this context. (at "ErrorKind = record.errorKind")',
      // The grouping column stays a dynamic in the result, so the dimension is refused as well.
      'dimension ErrorKind is a dynamic, not a string or number',
    ]);
  });

  it('a function given the wrong type', () => {
    const { query, dimensions } = rule('new-error');
    const found = problems(edited(query, 'strlen("FleetPosture.NewFinding ")', 'strlen(timestamp)'), dimensions);
    expect(found).toEqual(['KS141 The expression must have one of the types: string or dynamic. (at "timestamp")']);
  });

  it('no timestamp in the result (Azure bins the rows of the window by it)', () => {
    const { query, dimensions } = rule('projector-silent');
    const found = problems(edited(query, '| project timestamp = now(), ', '| project '), dimensions);
    expect(found).toEqual([expect.stringMatching(/^no timestamp of type datetime in the result/)]);
  });
});

/** Whole queries in `//` comment lines: a line `// traces | …` (or requests) and the `// | …` lines after it. */
function commentQueries(text: string): string[] {
  const lines = text.split('\n').map((line) => /^\s*\/\/\s*(.*)$/.exec(line)?.[1]);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i];
    if (first === undefined || !/^(?:traces|requests)\s*\|/.test(first)) continue;
    const query = [first];
    while (lines[i + 1]?.startsWith('|')) query.push(lines[++i]!);
    out.push(query.join('\n'));
  }
  return out;
}

/** Queries in Markdown: inline code that starts with a table and a pipe, and ```kusto / ```kql blocks. */
function markdownQueries(text: string): string[] {
  const inline = [...text.matchAll(/(?<!`)`((?:traces|requests)\s*\|[^`]+)`(?!`)/g)].map((m) => m[1]!);
  const fenced = [...text.matchAll(/```(?:kusto|kql)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return [...inline, ...fenced];
}

describe('the KQL examples in the code and the docs compile against the same schema', () => {
  const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

  it('the one in src/app/log-records.ts', () => {
    const queries = commentQueries(read('src/app/log-records.ts'));
    expect(queries).toHaveLength(1);
    for (const query of queries) expect(compileKql(query).errors.map((d) => describeDiagnostic(query, d)), query).toEqual([]);
  });

  it('those in docs/*.md (each a whole query)', () => {
    const found = globSync('docs/**/*.md', { cwd: REPO_ROOT }).flatMap((file) => markdownQueries(read(file)).map((query) => ({ file, query })));
    expect(found.map((f) => f.file)).toContain('docs/deploy.md');
    for (const { file, query } of found) expect(compileKql(query).errors.map((d) => describeDiagnostic(query, d)), `${file}: ${query}`).toEqual([]);
  });

  it('the extraction finds what it should (so an empty search cannot pass)', () => {
    expect(commentQueries('// a\n//   traces | where x\n//          | extend y = 1\n// b\n')).toEqual(['traces | where x\n| extend y = 1']);
    expect(markdownQueries('see `traces | where message startswith "A "` and `code`')).toEqual(['traces | where message startswith "A "']);
  });
});
