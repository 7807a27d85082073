// The CSV export: the whole Results table as one CSV for Power BI and Excel, the
// key-free way in when shared-key access to storage is off. Column names are the Results table's
// (reports/fleet-posture.pq reads them by name), plus the lifecycle flags Stale and Waived and the
// configuration fingerprint that fleet drift groups servers by; the file starts with a UTF-8
// byte-order mark for Excel.
import { LANGUAGES } from '../rules/types';
import type { StoredResult } from '../store';
import type { PostureApp } from './create-app';
import { csvLine, type CsvValue } from './csv';
import { ApiError } from './errors';
import { checkParams, single, type ApiResponse, type RouteCall } from './http-io';
import { iso } from './present';
import { coverOf } from './waivers';

export const RESULT_CSV_COLUMNS = [
  'Server',
  'RuleId',
  'RuleVersion',
  'Status',
  'ReasonCode',
  'Severity',
  ...LANGUAGES.map((lang) => `Message${lang.charAt(0).toUpperCase()}${lang.slice(1)}`),
  'FirstSeen',
  'LastSeen',
  'CollectedAt',
  'SnapshotId',
  'EvidenceJson',
  'Stale',
  'Waived',
  'WaiverId',
  // The configuration fingerprint (fleet drift), empty for rules without configuration facts.
  'Fingerprint',
] as const;

export const UTF8_BOM = '\uFEFF';

/** The columns of the file that are not Results columns. */
const LIFECYCLE_COLUMNS: ReadonlySet<string> = new Set(['Stale', 'Waived', 'WaiverId']);

/**
 * The Results columns the file shows, the only ones read (a row holds much more: both languages'
 * remediation, the fingerprint's facts, commit bookkeeping); evidence only when asked for.
 */
export const exportedResultColumns = (evidence: boolean): string[] =>
  RESULT_CSV_COLUMNS.filter((c) => !LIFECYCLE_COLUMNS.has(c) && (evidence || c !== 'EvidenceJson'));

/** The export reads the fleet page by page; this bounds one response (10,000 servers × 10 rules). */
export const MAX_EXPORT_ROWS = 100_000;
const PAGE = 1000;

function row(r: StoredResult, stale: boolean, waiverId: string | undefined, evidence: boolean): CsvValue[] {
  return [
    r.server,
    r.ruleId,
    r.ruleVersion,
    r.status,
    r.reasonCode,
    r.severity,
    ...LANGUAGES.map((lang) => r.message[lang]),
    iso(r.firstSeen),
    iso(r.lastSeen),
    iso(r.collectedAt),
    r.snapshotId,
    evidence ? r.evidenceJson : '',
    stale,
    waiverId !== undefined,
    waiverId ?? '',
    r.fingerprint ?? '',
  ];
}

function parseEvidence(q: URLSearchParams): boolean {
  const v = single(q, 'evidence');
  if (v === undefined || v === 'true') return true;
  if (v === 'false') return false;
  throw new ApiError('invalid_query', `The query parameter "evidence" must be true or false, not "${v}".`);
}

export async function exportResultsCsv(app: PostureApp, { req }: RouteCall): Promise<ApiResponse> {
  checkParams(req.query, ['evidence']);
  const evidence = parseEvidence(req.query);
  const [stale, active] = await Promise.all([listStaleServers(app), app.waivers.active()]);
  const select = exportedResultColumns(evidence);
  // The UTF-8 byte-order mark makes Excel read the file as UTF-8 (else MessageJa is garbled);
  // Power BI and RFC 4180 readers skip it.
  const parts: string[] = [UTF8_BOM, csvLine(RESULT_CSV_COLUMNS)];
  let rows = 0;
  let token: string | undefined;
  do {
    const page = await app.store.listAllResults(PAGE, token, select);
    for (const r of page.items) parts.push(csvLine(row(r, stale.has(r.server), coverOf(active, r.server, r.ruleId)?.id, evidence)));
    rows += page.items.length;
    token = page.continuationToken;
  } while (token && rows < MAX_EXPORT_ROWS);
  const headers: Record<string, string> = {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': 'attachment; filename="results.csv"',
    'Cache-Control': 'no-store',
  };
  // Cut at the bound rather than fail: the header says so, and the JSON API pages the rest.
  if (token) headers['X-Export-Truncated'] = `true; rows=${rows}`;
  // Bytes, not a string, for the same reason as JSON answers (`json` in http-io.ts), at a far larger size.
  return { status: 200, headers, body: Buffer.from(parts.join(''), 'utf8') };
}

async function listStaleServers(app: PostureApp): Promise<Set<string>> {
  const markers = await app.queries.staleServers();
  return new Set(markers.items.map((m) => m.server));
}
