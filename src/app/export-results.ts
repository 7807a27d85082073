// The CSV export: the Results table (the rows of the rules this instance loads, as every read of
// current results) as one CSV for Power BI and Excel, the key-free way in when shared-key access
// to storage is off. Column names are the Results table's
// (reports/fleet-posture.pq reads them by name), plus the lifecycle columns (Stale and since when,
// Waived, the waiver and until when it holds) and the configuration fingerprint that fleet drift
// groups servers by; the file starts with a UTF-8 byte-order mark for Excel. The filters of the
// results list narrow it to what that list answers (the dashboard's Findings view downloads it).
import { LANGUAGES } from '../rules/types';
import type { StoredResult } from '../store';
import type { PostureApp } from './create-app';
import { csvLine, type CsvValue } from './csv';
import { messageOf } from './errors';
import { checkParams, parseFlag, parseResultFilter, type ApiResponse, type RouteCall } from './http-io';
import { iso } from './present';
import { waiverOfResult } from './waiver-cover';

export const RESULT_CSV_COLUMNS = [
  'Server',
  'RuleId',
  'RuleVersion',
  'Status',
  // The status before the current one (empty for a first result): "what was it before".
  'PreviousStatus',
  'ReasonCode',
  'Severity',
  ...LANGUAGES.map((lang) => `Message${lang.charAt(0).toUpperCase()}${lang.slice(1)}`),
  'FirstSeen',
  'LastSeen',
  'CollectedAt',
  'SnapshotId',
  'EvidenceJson',
  'Stale',
  // When the server stopped posting (empty while it posts).
  'StaleSince',
  'Waived',
  'WaiverId',
  // Until when the waiver accepts the risk (empty when not waived).
  'WaiverExpiresAt',
  // The configuration fingerprint (fleet drift), empty for rules without configuration facts.
  'Fingerprint',
] as const;

export const UTF8_BOM = '\uFEFF';

/** The columns of the file that are not Results columns. */
const LIFECYCLE_COLUMNS: ReadonlySet<string> = new Set(['Stale', 'StaleSince', 'Waived', 'WaiverId', 'WaiverExpiresAt']);

/**
 * The Results columns the file shows, the only ones read (a row holds much more: both languages'
 * remediation, the fingerprint's facts, commit bookkeeping); evidence only when asked for.
 */
export const exportedResultColumns = (evidence: boolean): string[] =>
  RESULT_CSV_COLUMNS.filter((c) => !LIFECYCLE_COLUMNS.has(c) && (evidence || c !== 'EvidenceJson'));

/** Results read per page: the file is written a page at a time, so this is about all it holds in memory. */
const PAGE = 1000;

/** What the file adds to a result: whether its server is stale and since when, and the waiver covering it. */
interface Lifecycle {
  readonly stale: boolean;
  readonly staleSince: string | null;
  readonly waiver: { readonly id: string; readonly expiresAt: number } | undefined;
}

function row(r: StoredResult, { stale, staleSince, waiver }: Lifecycle, evidence: boolean): CsvValue[] {
  return [
    r.server,
    r.ruleId,
    r.ruleVersion,
    r.status,
    r.previousStatus ?? '',
    r.reasonCode,
    r.severity,
    ...LANGUAGES.map((lang) => r.message[lang]),
    iso(r.firstSeen),
    iso(r.lastSeen),
    iso(r.collectedAt),
    r.snapshotId,
    evidence ? r.evidenceJson : '',
    stale,
    staleSince ?? '',
    waiver !== undefined,
    waiver?.id ?? '',
    waiver ? iso(waiver.expiresAt) : '',
    r.fingerprint ?? '',
  ];
}

/**
 * The file streams a page at a time, so memory holds a page or two however large the fleet (built
 * whole, 10,000 servers with evidence took 34 MB as text and 330–390 MB of RSS with its copies).
 * The first page is read before the answer starts, so storage trouble then is a 503 like any
 * route's; a failure after that aborts the transfer, which a reader sees as an incomplete
 * response, never as a shorter file.
 */
export async function exportResultsCsv(app: PostureApp, { req, log }: RouteCall): Promise<ApiResponse> {
  // The results list's filters, so a file holds what that list (or the dashboard's Findings view)
  // shows: every result when none is given.
  checkParams(req.query, ['evidence', 'server', 'rule', 'status', 'waived', 'since']);
  const filter = { ...parseResultFilter(req.query, app.rules), waived: parseFlag(req.query, 'waived') };
  // Evidence is in the file unless asked to leave it out.
  const evidence = parseFlag(req.query, 'evidence') ?? true;
  // A name no server answers to is a 404, as for the results list, not an empty file.
  if (filter.server !== undefined) filter.server = await app.queries.resolveCountingServer(filter.server);
  const [stale, active] = await Promise.all([listStaleServers(app), app.waivers.active()]);
  const select = exportedResultColumns(evidence);
  const ruleIds = app.rules.map((r) => r.id);
  const read = async (token?: string) => {
    const page = await app.store.listAllResults(ruleIds, PAGE, token, select, filter);
    return filter.waived === undefined ? page : { ...page, items: page.items.filter((r) => (waiverOfResult(active, r) !== undefined) === filter.waived) };
  };
  let next: Awaited<ReturnType<typeof read>> | undefined = await read();
  let token: string | undefined;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // The UTF-8 byte-order mark makes Excel read the file as UTF-8 (else MessageJa is garbled);
      // Power BI and RFC 4180 readers skip it.
      controller.enqueue(encoder.encode(UTF8_BOM + csvLine(RESULT_CSV_COLUMNS)));
    },
    async pull(controller) {
      try {
        const page = next ?? (await read(token));
        next = undefined;
        controller.enqueue(encoder.encode(page.items.map((r) => csvLine(row(r, { stale: stale.has(r.server), staleSince: stale.get(r.server) ?? null, waiver: waiverOfResult(active, r) }, evidence))).join('')));
        token = page.continuationToken;
        if (!token) controller.close();
      } catch (error) {
        log.warn(`The CSV export stopped part-way, its transfer aborted: ${messageOf(error)}`);
        throw error;
      }
    },
  });
  return {
    status: 200,
    headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="results.csv"', 'Cache-Control': 'no-store' },
    body,
  };
}

/** Stale server → since when. */
async function listStaleServers(app: PostureApp): Promise<Map<string, string | null>> {
  const markers = await app.queries.staleServers();
  return new Map(markers.items.map((m) => [m.server, m.staleSince]));
}
