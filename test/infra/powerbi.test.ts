// reports/fleet-posture.pq: balanced brackets and strings (a cheap syntax check, since no M engine
// runs here), a typed column list per table that matches the documented columns, and its one way
// in (the query API: CSV export and paged JSON, reader key in a header, a fixed base URL).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UTF8_BOM } from '../../src/app/export-results';
import { REPO_ROOT } from './arm';

const PQ = readFileSync(path.join(REPO_ROOT, 'reports', 'fleet-posture.pq'), 'utf8');

/** Removes M comments and string contents, keeping line structure; throws on an unterminated string or comment. */
function stripMText(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const two = text.slice(i, i + 2);
    if (two === '//') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (two === '/*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated /* comment');
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (text[i] === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new Error(`unterminated string at offset ${i}`);
        if (text[j] === '"' && text[j + 1] === '"') j += 2;
        else if (text[j] === '"') break;
        else j++;
      }
      out += '""';
      i = j + 1;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

function unbalanced(code: string): string[] {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: { ch: string; line: number }[] = [];
  const problems: string[] = [];
  code.split('\n').forEach((lineText, index) => {
    for (const ch of lineText) {
      if ('([{'.includes(ch)) stack.push({ ch, line: index + 1 });
      else if (ch in pairs) {
        const open = stack.pop();
        if (open?.ch !== pairs[ch]) problems.push(`line ${index + 1}: ${ch} closes ${open ? open.ch + ' of line ' + open.line : 'nothing'}`);
      }
    }
  });
  for (const open of stack) problems.push(`line ${open.line}: ${open.ch} never closed`);
  return problems;
}

/** `{"Name", type text}` entries of `<Table>Schema = { ... }`. */
function schema(table: string): [string, string][] {
  const block = new RegExp(`${table}Schema = \\{([\\s\\S]*?)\\n    \\},`).exec(PQ);
  if (!block) throw new Error(`${table}Schema not found`);
  return [...block[1]!.matchAll(/\{"(\w+)", type (\w+)\}/g)].map((m) => [m[1]!, m[2]!]);
}

const DATETIME = 'datetime';
const EXPECTED: Record<string, [string, string][]> = {
  Results: [
    ['Server', 'text'], ['RuleId', 'text'], ['RuleVersion', 'text'], ['Status', 'text'], ['PreviousStatus', 'text'], ['ReasonCode', 'text'],
    ['Severity', 'text'], ['MessageEn', 'text'], ['MessageJa', 'text'], ['FirstSeen', DATETIME], ['LastSeen', DATETIME],
    ['CollectedAt', DATETIME], ['SnapshotId', 'text'], ['EvidenceJson', 'text'], ['Stale', 'logical'], ['StaleSince', DATETIME],
    ['Waived', 'logical'], ['WaiverId', 'text'], ['WaiverExpiresAt', DATETIME], ['Fingerprint', 'text'],
  ],
  Events: [
    ['Server', 'text'], ['Kind', 'text'], ['Cause', 'text'], ['RuleId', 'text'], ['RuleVersion', 'text'], ['FromStatus', 'text'],
    ['ToStatus', 'text'], ['ReasonCode', 'text'], ['Severity', 'text'], ['Message', 'text'], ['FirstSeen', DATETIME],
    ['PreviousFirstSeen', DATETIME], ['RecordedAt', DATETIME], ['SnapshotId', 'text'], ['WaiverId', 'text'], ['RemovedBy', 'text'],
  ],
  Hosts: [
    ['Server', 'text'], ['HostName', 'text'], ['Fqdn', 'text'], ['OsCaption', 'text'], ['OsVersion', 'text'], ['OsArchitecture', 'text'],
    ['UtcOffsetMinutes', 'number'], ['CollectorName', 'text'], ['CollectorVersion', 'text'], ['FirstSeen', DATETIME], ['LastSeen', DATETIME],
    ['LastSnapshotId', 'text'], ['LastCollectedAt', DATETIME], ['Stale', 'logical'], ['StaleSince', DATETIME],
  ],
};

describe('Power BI script reports/fleet-posture.pq', () => {
  it('has balanced brackets and terminated strings and comments', () => {
    expect(unbalanced(stripMText(PQ))).toEqual([]);
  });

  it('catches an unbalanced bracket (the check works)', () => {
    expect(unbalanced(stripMText('let a = {1, (2} in a'))).not.toEqual([]);
    expect(() => stripMText('let a = "open in a')).toThrow(/unterminated string/);
  });

  for (const table of Object.keys(EXPECTED)) {
    it(`types every ${table} column`, () => {
      expect(schema(table)).toEqual(EXPECTED[table]);
    });
  }

  it('has one way in: the query API (CSV export and paged JSON) with the reader key in a header', () => {
    // The Table Storage connector needs account keys, which are off on the account.
    expect(PQ).not.toMatch(/AzureStorage\./);
    expect(PQ).toMatch(/Results = FromCsv\("api\/export\/results\.csv", ResultsSchema\)/);
    expect(PQ).toMatch(/Events = FromApi\("api\/events", EventsSchema, EventsFilter\)/);
    expect(PQ).toMatch(/Hosts = FromApi\("api\/servers", HostsSchema\)/);
    expect(PQ).toMatch(/#"x-api-key" = ReaderKey/);
    // ApiKeyName would put the key in the URL, which the service refuses (request logs keep URLs).
    expect(PQ.replace(/\/\/[^\n]*/g, '')).not.toMatch(/ApiKeyName/);
    expect(PQ).toMatch(/List\.Generate\(/);
    // A fixed base URL with RelativePath/Query keeps the source refreshable in the Power BI service.
    expect(PQ).not.toMatch(/Web\.Contents\(ApiBaseUrl &/);
  });

  it('reads the CSV export as UTF-8 and keeps its byte-order mark out of the first column name', () => {
    // The export starts with the mark (for Excel); left on "Server", that column would load empty.
    const fromCsv = /FromCsv = \(relativePath[\s\S]*?\n {12}ApplySchema\((\w+), schema\),/.exec(PQ);
    expect(fromCsv, 'the FromCsv function').not.toBeNull();
    const [body, loaded] = [fromCsv![0], fromCsv![1]!];
    expect(body).toMatch(/Csv\.Document\([^\n]*\[[^\n\]]*\bEncoding = 65001\b/);
    const trim = new RegExp(`\\b${loaded} = Table\\.TransformColumnNames\\(promoted, \\(name\\) => Text\\.TrimStart\\(name, Character\\.FromNumber\\((\\d+)\\)\\)\\)`).exec(body);
    expect(trim, `${loaded} trims the mark off the promoted header names`).not.toBeNull();
    expect(Number(trim![1])).toBe(UTF8_BOM.codePointAt(0));
  });

  it('loads the last EventsSinceDays days of Events (90 by default), with the same since on every page', () => {
    expect(PQ).toMatch(/\n {4}EventsSinceDays = 90,\n/);
    const filter = /\n {4}EventsFilter =\n([\s\S]*?),\n\n/.exec(PQ)?.[1] ?? '';
    expect(filter, 'EventsFilter').toMatch(/if EventsSinceDays = null then \[\]/);
    expect(filter).toMatch(/else \[since = Date\.ToText\(Date\.AddDays\(DateTime\.Date\(DateTimeZone\.UtcNow\(\)\), -EventsSinceDays\), \[Format = "yyyy-MM-dd", Culture = "en-US"\]\)\]$/);
    // The filter goes into the Query of every page, the continuation token's included.
    const page = /page = \(token as nullable text\) =>\n\s*(.*)\n/.exec(PQ)?.[1] ?? '';
    expect(page).toMatch(/Request\(relativePath, \(if filter = null then \[\] else filter\) & \[top = /);
    expect(page).toMatch(/\[continuationToken = token\]/);
    // Results and Hosts are current state: no date filter.
    expect(PQ).toMatch(/Hosts = FromApi\("api\/servers", HostsSchema\)/);
  });

  it('leaves retried statuses and credential statuses to Web.Contents', () => {
    // Web.Contents retries 408, 429, 503, 504 and 509 itself (three times, honouring Retry-After up
    // to two minutes) unless the query handles them; 401 and 403 may only be handled by custom connectors.
    const list = /ManualStatusHandling = \{([\d, ]*)\}/.exec(PQ);
    expect(list, 'ManualStatusHandling list').not.toBeNull();
    const handled = list![1]!.split(',').map((s) => Number(s.trim()));
    expect(handled.filter((code) => [401, 403, 408, 429, 503, 504, 509].includes(code))).toEqual([]);
    expect(handled).toEqual(expect.arrayContaining([400, 404]));
  });

  it('repeats the service\'s own sentence when it refuses a request (400)', () => {
    const request = /Request = \(relativePath[\s\S]*?\n {4}\/\/ A paged JSON listing/.exec(PQ)?.[0] ?? '';
    expect(request, 'the Request function').not.toBe('');
    expect(request).toMatch(/reason = try Record\.FieldOrDefault\(Json\.Document\(response\), "message", null\) otherwise null/);
    expect(request).toMatch(/else if reason is text then ": " & reason/);
  });

  it('parses text into dates and numbers with a fixed culture, not the one of whoever refreshes', () => {
    const code = PQ.replace(/\/\/[^\n]*/g, '');
    const calls = [...code.matchAll(/\b(?:DateTimeZone|DateTime|Date|Number)\.From(?:Text)?\(([^()]*)\)/g)];
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((m) => !/,\s*(?:"en-US"|\[Culture = "en-US"\])$/.test(m[1]!)).map((m) => m[0])).toEqual([]);
  });

  it('docs/power-bi.md names every column the script types', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'docs', 'power-bi.md'), 'utf8');
    for (const [table, columns] of Object.entries(EXPECTED)) {
      const section = new RegExp(`\\*\\*${table}\\*\\* — ([\\s\\S]*?)\\n\\n`).exec(readme)?.[1] ?? '';
      for (const [name] of columns) expect(section, `${table}.${name}`).toMatch(new RegExp(`\\b${name}\\b`));
    }
  });
});
