// GET /api/export/results.csv end to end: the Results table as CSV with the Power BI column names,
// reader key only, waived and stale flags, and RFC 4180 quoting of messages and evidence.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField } from '../../src/app/csv';
import { exportedResultColumns, RESULT_CSV_COLUMNS } from '../../src/app/export-results';
import { parseCsv } from '../support/csv';
import { post } from '../support/http';
import { startTestStack, type TestStack } from '../support/stack';
import { RULES } from '../../src/rules/registry';

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/port25/${name}.json`, 'utf8'));
const FIXTURES = {
  warning: fixture('vse88-x64-transport-not-excluded'),
  pass: fixture('vse87-apenabled-off'),
  notInstalled: fixture('no-virusscan-exchange2010'),
};

async function exportCsv(query = '', key: 'reader' | 'admin' | 'ingest' | null = 'reader') {
  const res = await stack.request(`export/results.csv${query}`, { key });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

let stack: TestStack;
const servers: Record<string, string> = {};
/** The rules the stack loads, the ones the export lists. */
const ids = () => stack.app.rules.map((r) => r.id);

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, doc] of Object.entries(FIXTURES)) {
    const r = await post(stack, doc);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    servers[name] = r.body.server;
  }
});
afterAll(async () => stack?.stop());

describe('GET /api/export/results.csv', () => {
  it('answers every current result with the Results column names and real verdicts', async () => {
    const r = await exportCsv();
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/csv; charset=utf-8/);
    const [header, ...rows] = parseCsv(r.text);
    expect(header).toEqual([...RESULT_CSV_COLUMNS]);
    const col = (name: (typeof RESULT_CSV_COLUMNS)[number]) => header!.indexOf(name);
    // One row per server and loaded rule; the port-25 rule's rows are the ones checked here.
    expect(rows).toHaveLength(3 * RULES.length);
    const port25 = rows.filter((row) => row[col('RuleId')] === 'mcafee-port25-blocked');
    const byServer = new Map(port25.map((row) => [row[col('Server')], row]));
    expect(port25).toHaveLength(3);
    expect(byServer.get(servers.warning!)?.[col('Status')]).toBe('Warning');
    expect(byServer.get(servers.warning!)?.[col('ReasonCode')]).toBe('SmtpNotExcluded');
    expect(byServer.get(servers.pass!)?.[col('ReasonCode')]).toBe('AccessProtectionOff');
    expect(byServer.get(servers.notInstalled!)?.[col('Status')]).toBe('NotApplicable');
    const warning = byServer.get(servers.warning!)!;
    // Messages hold commas and quotes: they must survive the round trip whole.
    expect(warning[col('MessageEn')]).toContain('"Prevent mass mailing worms from sending mail"');
    expect(JSON.parse(warning[col('EvidenceJson')]!).decidedBy).toBe(10);
    expect(new Date(warning[col('CollectedAt')]!).toISOString()).toBe(FIXTURES.warning.collectedAt);
    expect(warning[col('Waived')]).toBe('false');
    expect(warning[col('Stale')]).toBe('false');
  });

  it('reads only the columns it shows, and shows each as a whole row has it', async () => {
    const whole = await stack.app.store.listAllResults(ids(), 1000);
    const byKey = new Map(whole.items.map((r) => [`${r.server}|${r.ruleId}`, r]));
    const time = (ms: number) => new Date(ms).toISOString();
    for (const evidence of [true, false]) {
      const [header, ...rows] = parseCsv((await exportCsv(evidence ? '' : '?evidence=false')).text);
      expect(rows).toHaveLength(whole.items.length);
      const col = (row: string[], name: string) => row[header!.indexOf(name)];
      for (const row of rows) {
        const r = byKey.get(`${col(row, 'Server')}|${col(row, 'RuleId')}`)!;
        expect(r, col(row, 'Server')).toBeDefined();
        expect(
          ['RuleVersion', 'Status', 'PreviousStatus', 'ReasonCode', 'Severity', 'MessageEn', 'MessageJa', 'FirstSeen', 'LastSeen', 'CollectedAt', 'SnapshotId', 'EvidenceJson', 'Fingerprint'].map((c) => col(row, c)),
        ).toEqual([r.ruleVersion, r.status, r.previousStatus ?? '', r.reasonCode, r.severity, r.message.en, r.message.ja, time(r.firstSeen), time(r.lastSeen), time(r.collectedAt), r.snapshotId, evidence ? r.evidenceJson : '', r.fingerprint ?? '']);
      }
    }
    // Read that way, a record holds nothing else: no remediation, no commit bookkeeping.
    const selected = await stack.app.store.listAllResults(ids(), 1000, undefined, exportedResultColumns(false));
    expect(selected.items.every((r) => r.remediation.en.length === 0 && r.recentCommits?.length === 0 && r.evidenceJson === '{}')).toBe(true);
    expect(whole.items.some((r) => r.remediation.en.length > 0)).toBe(true);
  });

  it('starts with a UTF-8 byte-order mark, so Excel reads the Japanese messages as written', async () => {
    const res = await stack.request('export/results.csv', { key: 'reader' });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(3, 3 + 'Server,'.length).toString('utf8')).toBe('Server,');
    // Only one mark, at the very start.
    expect(bytes.indexOf(Buffer.from([0xef, 0xbb, 0xbf]), 3)).toBe(-1);
    const [header, ...rows] = parseCsv(bytes.subarray(3).toString('utf8'));
    const warning = rows.find((row) => row[header!.indexOf('Server')] === servers.warning)!;
    expect(warning[header!.indexOf('MessageJa')]).toContain('マス メール型ワームによるメールの送信を防止する');
  });

  it('flags a result under an active waiver, with the waiver and until when it holds', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const put = await stack.request('waivers/csv-test', {
      method: 'PUT',
      key: 'admin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        rule: 'mcafee-port25-blocked',
        server: servers.warning,
        justification: 'Decommissioned next quarter.',
        grantedBy: 'it-ops',
        expiresAt,
      }),
    });
    expect(put.status).toBe(201);
    const [header, ...rows] = parseCsv((await exportCsv()).text);
    const row = rows.find((x) => x[header!.indexOf('Server')] === servers.warning && x[header!.indexOf('RuleId')] === 'mcafee-port25-blocked')!;
    expect(row[header!.indexOf('Waived')]).toBe('true');
    expect(row[header!.indexOf('WaiverId')]).toBe('csv-test');
    expect(row[header!.indexOf('WaiverExpiresAt')]).toBe(expiresAt);
    expect(row[header!.indexOf('Status')]).toBe('Warning');
    // A result no waiver covers says nothing about one.
    const other = rows.find((x) => x[header!.indexOf('Server')] === servers.pass && x[header!.indexOf('RuleId')] === 'mcafee-port25-blocked')!;
    expect([other[header!.indexOf('Waived')], other[header!.indexOf('WaiverId')], other[header!.indexOf('WaiverExpiresAt')]]).toEqual(['false', '', '']);
  });

  it('names the configuration fingerprint of each result, the one fleet drift counts it under', async () => {
    const [header, ...rows] = parseCsv((await exportCsv()).text);
    const fingerprints = rows.map((row) => row[header!.indexOf('Fingerprint')]);
    for (const f of fingerprints) expect(f).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Three servers, three configurations (8.8 defaults, 8.7 with Access Protection off, no VirusScan).
    expect(new Set(fingerprints).size).toBe(3);
    const drift = (await (await stack.request('drift?rule=mcafee-port25-blocked', { key: 'reader' })).json()) as { clusters: { fingerprint: string }[] };
    expect(drift.clusters.map((c) => c.fingerprint).sort()).toEqual([...fingerprints].sort());
  });

  it('leaves evidence out with evidence=false', async () => {
    const [header, ...rows] = parseCsv((await exportCsv('?evidence=false')).text);
    for (const row of rows) expect(row[header!.indexOf('EvidenceJson')]).toBe('');
  });

  it('refuses bad parameters and keys of the wrong kind', async () => {
    expect((await exportCsv('?evidence=maybe')).status).toBe(400);
    expect((await exportCsv('?top=5')).status).toBe(400);
    expect((await exportCsv('', 'ingest')).status).toBe(403);
    expect((await exportCsv('', null)).status).toBe(401);
    expect((await exportCsv('', 'admin')).status).toBe(200);
  });
});

describe('csvField', () => {
  it('quotes separators and defuses spreadsheet formulas', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\r\nbreak')).toBe('"line\r\nbreak"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('-1')).toBe("'-1");
    expect(csvField(null)).toBe('');
    expect(csvField(true)).toBe('true');
    expect(csvField(3)).toBe('3');
  });
});
