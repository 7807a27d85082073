// The CSV export without storage: the results read a page at a time from a fake store that records
// each read, the file streamed a page at a time with the lifecycle columns, the list's filters,
// and a failure before the first page (an error answer) or after it (the transfer aborted). The
// service test (test/service/export-stream.test.ts) reads the same file over HTTP from Azurite.
import { describe, expect, it } from 'vitest';
import type { PostureApp } from '../../src/app/create-app';
import { ApiError } from '../../src/app/errors';
import { exportedResultColumns, exportResultsCsv, RESULT_CSV_COLUMNS, UTF8_BOM } from '../../src/app/export-results';
import type { ApiResponse } from '../../src/app/http-io';
import { isoInstant as iso } from '../../src/app/iso-time';
import type { StoredResult } from '../../src/store';
import { apiRequest, refusalOf, warnLog } from '../support/api-request';
import { csvRecords, parseCsv } from '../support/csv';
import { alphaRule, betaRule } from '../support/snapshots';
import { storedResult } from '../support/stored-results';
import { DAY_MS, waiverRecord, WAIVER_NOW as T } from '../support/waiver-records';

const result = (server: string, ruleId: string, status: string, over: Partial<StoredResult> = {}): StoredResult =>
  storedResult({
    server,
    ruleId,
    status,
    reasonCode: `${status}Reason`,
    severity: status === 'Pass' ? 'Info' : status,
    message: { en: `${ruleId} is ${status}`, ja: `${ruleId} は ${status}` },
    remediation: { en: [], ja: [] },
    evidenceJson: '{"ports":[25]}',
    firstSeen: T - 3 * DAY_MS,
    snapshotId: `snap-${server}`,
    collectedAt: T - 60_000,
    lastSeen: T - 30_000,
    ...over,
  });

interface Read {
  readonly ruleIds: readonly string[];
  readonly max: number;
  readonly token: string | undefined;
  readonly select: readonly string[];
  readonly filter: Record<string, unknown>;
}

/** An app whose store answers `pages` in turn (each with a token to the next but the last), recording each read. */
function world(pages: StoredResult[][], options: { stale?: Record<string, string | null>; waivers?: ReturnType<typeof waiverRecord>[]; failAtRead?: number; names?: Record<string, string> } = {}) {
  const reads: Read[] = [];
  const resolved: string[] = [];
  const app = {
    rules: [alphaRule, betaRule],
    queries: {
      resolveCountingServer: async (name: string) => {
        resolved.push(name);
        const server = options.names?.[name];
        if (!server) throw new ApiError('not_found', `No server answers to "${name}".`);
        return server;
      },
      staleServers: async () => ({ items: Object.entries(options.stale ?? {}).map(([server, staleSince]) => ({ server, staleSince })) }),
    },
    waivers: { active: async () => options.waivers ?? [] },
    store: {
      listAllResults: async (ruleIds: readonly string[], max: number, token: string | undefined, select: readonly string[], filter: Record<string, unknown>) => {
        reads.push({ ruleIds, max, token, select, filter: { ...filter } });
        if (reads.length === options.failAtRead) throw new Error('storage went away');
        const at = token === undefined ? 0 : Number(token.slice(1));
        return { items: pages[at] ?? [], ...(at + 1 < pages.length ? { continuationToken: `p${at + 1}` } : {}) };
      },
    },
  };
  const warnings = warnLog();
  return {
    reads,
    resolved,
    warnings: warnings.lines,
    exportCsv: (query = '') => exportResultsCsv(app as unknown as PostureApp, { req: apiRequest({ query }), log: warnings.log } as never),
  };
}

/** The whole body, and the chunks it came in. */
async function bodyOf(res: ApiResponse): Promise<{ text: string; chunks: string[] }> {
  const chunks: string[] = [];
  // The byte-order mark is part of the file: the decoder must not swallow it.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for await (const chunk of res.body as ReadableStream<Uint8Array>) chunks.push(decoder.decode(chunk, { stream: true }));
  return { text: chunks.join(''), chunks };
}

describe('the file', () => {
  it('is CSV with a byte-order mark, a header of every column, one line per result, and never cached', async () => {
    const w = world([[result('a.contoso.com', 'test-alpha', 'Warning', { previousStatus: 'Pass', fingerprint: 'sha256:ab' }), result('b.contoso.com', 'test-beta', 'Pass')]]);
    const res = await w.exportCsv();
    expect(res.status).toBe(200);
    expect(res.headers).toStrictEqual({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="results.csv"', 'Cache-Control': 'no-store' });
    const { text } = await bodyOf(res);
    expect(text.startsWith(UTF8_BOM)).toBe(true);
    expect(parseCsv(text.slice(1))[0]).toStrictEqual([...RESULT_CSV_COLUMNS]);
    expect(csvRecords(text)).toStrictEqual([
      {
        Server: 'a.contoso.com',
        RuleId: 'test-alpha',
        RuleVersion: '1.0.0',
        Status: 'Warning',
        PreviousStatus: 'Pass',
        ReasonCode: 'WarningReason',
        Severity: 'Warning',
        MessageEn: 'test-alpha is Warning',
        MessageJa: 'test-alpha は Warning',
        FirstSeen: iso(T - 3 * DAY_MS),
        LastSeen: iso(T - 30_000),
        CollectedAt: iso(T - 60_000),
        SnapshotId: 'snap-a.contoso.com',
        EvidenceJson: '{"ports":[25]}',
        Stale: 'false',
        StaleSince: '',
        Waived: 'false',
        WaiverId: '',
        WaiverExpiresAt: '',
        Fingerprint: 'sha256:ab',
      },
      expect.objectContaining({ Server: 'b.contoso.com', PreviousStatus: '', Fingerprint: '' }),
    ]);
  });

  it('says which servers are stale and since when, and which findings a waiver covers until when', async () => {
    const waiver = waiverRecord({ id: 'w-7', ruleId: 'test-alpha', server: 'a.contoso.com', expiresAt: T + 2 * DAY_MS });
    const w = world([[result('a.contoso.com', 'test-alpha', 'Error'), result('a.contoso.com', 'test-beta', 'Warning'), result('b.contoso.com', 'test-alpha', 'Pass')]], { stale: { 'a.contoso.com': iso(T - DAY_MS), 'b.contoso.com': null }, waivers: [waiver] });
    const records = csvRecords((await bodyOf(await w.exportCsv())).text);
    expect(records.map((r) => [r.Server, r.RuleId, r.Stale, r.StaleSince, r.Waived, r.WaiverId, r.WaiverExpiresAt])).toStrictEqual([
      ['a.contoso.com', 'test-alpha', 'true', iso(T - DAY_MS), 'true', 'w-7', iso(T + 2 * DAY_MS)],
      ['a.contoso.com', 'test-beta', 'true', iso(T - DAY_MS), 'false', '', ''],
      // A passing result in a waiver scope is not waived; a stale server whose marker has no time says so with an empty field.
      ['b.contoso.com', 'test-alpha', 'true', '', 'false', '', ''],
    ]);
  });

  it('reads the loaded rules a thousand results a page, only the columns it shows, and streams a chunk per page', async () => {
    const pages = [[result('a', 'test-alpha', 'Pass')], [result('b', 'test-alpha', 'Pass'), result('c', 'test-alpha', 'Pass')], [result('d', 'test-alpha', 'Pass')]];
    const w = world(pages);
    const { text, chunks } = await bodyOf(await w.exportCsv());
    expect(w.reads.map((r) => [r.ruleIds, r.max, r.token])).toStrictEqual([
      [['test-alpha', 'test-beta'], 1000, undefined],
      [['test-alpha', 'test-beta'], 1000, 'p1'],
      [['test-alpha', 'test-beta'], 1000, 'p2'],
    ]);
    expect(w.reads[0]!.select).toStrictEqual(exportedResultColumns(true));
    expect(csvRecords(text).map((r) => r.Server)).toStrictEqual(['a', 'b', 'c', 'd']);
    // The header, then one chunk per page.
    expect(chunks).toHaveLength(4);
    expect(csvRecords(chunks[0]! + chunks[2]!).map((r) => r.Server)).toStrictEqual(['b', 'c']);
  });

  it('reads the first page before it answers, and the next only as the reader asks', async () => {
    const w = world([[result('a', 'test-alpha', 'Pass')], [result('b', 'test-alpha', 'Pass')]]);
    const res = await w.exportCsv();
    expect(w.reads).toHaveLength(1);
    await bodyOf(res);
    expect(w.reads).toHaveLength(2);
  });

  it('of an empty fleet is the header alone', async () => {
    const { text } = await bodyOf(await world([]).exportCsv());
    expect(parseCsv(text.slice(1))).toStrictEqual([[...RESULT_CSV_COLUMNS]]);
  });
});

describe('evidence', () => {
  it('is in the file unless asked to leave it out, and then not even read', async () => {
    for (const [query, shown] of [
      ['', true],
      ['evidence=true', true],
      ['evidence=false', false],
    ] as const) {
      const w = world([[result('a', 'test-alpha', 'Warning')]]);
      const records = csvRecords((await bodyOf(await w.exportCsv(query))).text);
      expect(records[0]!.EvidenceJson, query).toBe(shown ? '{"ports":[25]}' : '');
      expect(w.reads[0]!.select.includes('EvidenceJson'), query).toBe(shown);
    }
  });

  it('the columns read are the Results columns of the file, never the lifecycle ones', () => {
    expect(exportedResultColumns(true)).toStrictEqual(['Server', 'RuleId', 'RuleVersion', 'Status', 'PreviousStatus', 'ReasonCode', 'Severity', 'MessageEn', 'MessageJa', 'FirstSeen', 'LastSeen', 'CollectedAt', 'SnapshotId', 'EvidenceJson', 'Fingerprint']);
    expect(exportedResultColumns(false)).toStrictEqual(exportedResultColumns(true).filter((c) => c !== 'EvidenceJson'));
  });
});

describe('the filters of the results list', () => {
  it('narrow the read to a server by any name it answers to, a rule, statuses and a time', async () => {
    const w = world([[]], { names: { exch01: 'exch01.corp.contoso.com' } });
    await bodyOf(await w.exportCsv('server=EXCH01&rule=test-beta&status=Warning,Error&since=2026-12-01T00:00:00Z'));
    expect(w.resolved).toStrictEqual(['exch01']);
    expect(w.reads[0]!.filter).toStrictEqual({ server: 'exch01.corp.contoso.com', ruleId: 'test-beta', statuses: ['Warning', 'Error'], since: Date.parse('2026-12-01T00:00:00Z'), waived: undefined });
  });

  it('keep only the waived findings, or only those not waived, as the list does', async () => {
    const waiver = waiverRecord({ id: 'w-1', ruleId: 'test-alpha', serverPattern: '*' });
    const rows = [result('a', 'test-alpha', 'Warning'), result('b', 'test-beta', 'Warning'), result('c', 'test-alpha', 'Pass')];
    for (const [query, servers] of [
      ['waived=true', ['a']],
      ['waived=false', ['b', 'c']],
      ['', ['a', 'b', 'c']],
    ] as const) {
      const w = world([rows], { waivers: [waiver] });
      const records = csvRecords((await bodyOf(await w.exportCsv(query))).text);
      expect(records.map((r) => r.Server), query).toStrictEqual(servers);
    }
  });

  it('a name no server answers to is a 404, not an empty file, and nothing is read', async () => {
    const w = world([[result('a', 'test-alpha', 'Pass')]]);
    expect(await refusalOf(() => w.exportCsv('server=nobody'))).toStrictEqual(['not_found', 'No server answers to "nobody".']);
    expect(w.reads).toStrictEqual([]);
  });

  it('an unknown parameter is refused, naming those the route takes', async () => {
    expect(await refusalOf(() => world([[]]).exportCsv('top=5'))).toStrictEqual(['invalid_query', 'Unknown query parameter "top"; this route accepts "evidence", "server", "rule", "status", "waived", "since".']);
  });
});

describe('storage failing', () => {
  it('before the first page: the error goes up before any answer, for the route to answer 503', async () => {
    const w = world([[result('a', 'test-alpha', 'Pass')]], { failAtRead: 1 });
    await expect(w.exportCsv()).rejects.toThrow('storage went away');
  });

  it('after the first page: the transfer aborts (never a shorter file that looks whole) and a warning says why', async () => {
    const w = world([[result('a', 'test-alpha', 'Pass')], [result('b', 'test-alpha', 'Pass')]], { failAtRead: 2 });
    const res = await w.exportCsv();
    await expect(bodyOf(res)).rejects.toThrow('storage went away');
    expect(w.warnings).toStrictEqual(['The CSV export stopped part-way, its transfer aborted: storage went away']);
  });
});
