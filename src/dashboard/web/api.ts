// The API as the page calls it: same origin, the reader key in x-api-key, the page's language in
// Accept-Language. The key lives in sessionStorage (this tab only), never in a URL.
import type { ProjectorState } from './counts-pending.js';
import { lang } from './i18n.js';

const KEY_ITEM = 'posture.readerKey';

/** Where the API lives: the page is served at <api>/dashboard. */
const API_BASE = new URL('.', location.href).pathname.replace(/\/$/, '');

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}

/**
 * A `#key=…` fragment (the local host's banner prints such a link) becomes the tab's key, and the
 * fragment is removed from the address bar and the history at once.
 */
export function takeKeyFromFragment(): void {
  const m = /^#key=([^&]*)/.exec(location.hash);
  if (!m) return;
  let key = '';
  try {
    key = decodeURIComponent(m[1] ?? '').trim();
  } catch {
    key = '';
  }
  if (key) storeKey(key);
  history.replaceState(null, '', `${location.pathname}${location.search}`);
}

/** The code of an answer that said OK but was not the API's JSON. */
export const NOT_API = 'not_api_answer';

/** A failed call: the HTTP status and the API's error body, or status 0 when nothing answered. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  /** The key is wrong, revoked or of the wrong kind: the page asks for another. */
  get isKeyProblem(): boolean {
    return this.status === 401 || this.status === 403;
  }

  /** The service or its storage is busy for a moment (503, 429): asking again later may succeed. */
  get isBusy(): boolean {
    return this.status === 503 || this.status === 429;
  }

  /**
   * Busy, or nothing (or only a gateway) answered: asking again may succeed. Any other answer,
   * a 400 for a token the service refuses say, would come back the same.
   */
  get isTransient(): boolean {
    return this.isBusy || this.status === 0 || this.status === 502 || this.status === 504;
  }
}

/**
 * A busy answer is asked again after its Retry-After, at most this often and only for short
 * waits, before the page shows it: a storage hiccup should not leave a wall display on an error.
 */
const BUSY_RETRIES = 2;
const BUSY_WAIT_MAX_SECONDS = 10;

export type Query = Readonly<Record<string, string | undefined | null>>;

/**
 * A link to a rule guide's section the service itself serves (<api>/dashboard/guide-<rule>.html#<code>,
 * the first of a result's references), below the same route prefix as the page.
 */
export function isGuideLink(url: string): boolean {
  const page = `${API_BASE}/dashboard/guide-`;
  return url.startsWith(page) && /^[a-z0-9-]+\.html#[a-z0-9-]*$/.test(url.slice(page.length));
}

export function apiUrl(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, v);
  const qs = params.toString();
  return `${API_BASE}/${path}${qs ? `?${qs}` : ''}`;
}

export async function apiGet<T>(path: string, query: Query = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getOnce<T>(path, query);
    } catch (error) {
      const wait = error instanceof ApiFailure && error.isBusy ? (error.retryAfter ?? 1) : undefined;
      if (wait === undefined || wait > BUSY_WAIT_MAX_SECONDS || attempt >= BUSY_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
}

async function getOnce<T>(path: string, query: Query): Promise<T> {
  const res = await send(path, query, 'application/json');
  const body = parseJson(await res.text());
  if (!res.ok) throw failureOf(res, body);
  // Every route the page reads answers a JSON object: anything else that says OK (a proxy's or a
  // gateway's sign-in page, or its bare "ok") is not the fleet's answer and must not be read as one.
  if (!isJsonType(res.headers.get('content-type')) || !isObject(body)) throw new ApiFailure(res.status, NOT_API, '');
  return body as T;
}

/**
 * A file the API answers (the CSV export), whole: fetched with the key like every call, as a
 * plain link cannot send one. A transfer the service cuts off part-way fails here rather than
 * give a shorter file.
 */
async function apiFile(path: string, query: Query, type: string): Promise<Blob> {
  const res = await send(path, query, type);
  if (!res.ok) throw failureOf(res, parseJson(await res.text()));
  if ((res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== type) throw new ApiFailure(res.status, NOT_API, '');
  try {
    return await res.blob();
  } catch (error) {
    throw new ApiFailure(0, 'network', error instanceof Error ? error.message : String(error));
  }
}

async function send(path: string, query: Query, accept: string): Promise<Response> {
  try {
    return await fetch(apiUrl(path, query), {
      headers: { 'x-api-key': storedKey() ?? '', 'accept-language': lang(), accept },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiFailure(0, 'network', error instanceof Error ? error.message : String(error));
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** A refusal as the API words it (its error body), or the HTTP status text when the body is not the API's. */
function failureOf(res: Response, body: unknown): ApiFailure {
  const e = (body ?? {}) as { error?: unknown; message?: unknown };
  const retry = Number(res.headers.get('retry-after'));
  return new ApiFailure(
    res.status,
    typeof e.error === 'string' ? e.error : 'http_error',
    typeof e.message === 'string' ? e.message : res.statusText,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

function isJsonType(contentType: string | null): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

function isObject(body: unknown): body is object {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}

// ---- response shapes (see docs/api.md) ------------------------------------------------------------

export type Counts = Readonly<Record<string, number>>;

/** Accepted changes are still waiting to be counted: the counts (and events, history, drift) will change in a moment. */
export interface CountsPending {
  readonly countsPending?: boolean;
}

/** The summary's countsPending alone: one storage read, for the views that do not show the counts. */
export function countsPendingNow(): Promise<CountsPending> {
  return apiGet<CountsPending>('summary', { only: 'countsPending' });
}

/** The CSV export of the current results the query selects (filters as for the results list). */
export function resultsCsv(query: Query): Promise<Blob> {
  return apiFile('export/results.csv', query, 'text/csv');
}

/** The projector's held changes and what waits for it (a reader may ask). */
export function projectorState(): Promise<ProjectorState> {
  return apiGet<ProjectorState>('jobs/projector');
}

export interface Summary extends CountsPending {
  readonly generatedAt: string;
  readonly hosts: number;
  readonly statuses: readonly string[];
  readonly staleHosts?: number;
  readonly activeWaivers?: number;
  /** pendingReevaluation: while a re-evaluation after a change of the rule is owed (absent when its state could not be read). */
  readonly rules: readonly { ruleId: string; title: string; severity: string; counts: Counts; total: number; waived?: Counts; pendingReevaluation?: { readonly ruleVersion: string } | null }[];
  readonly totals: Counts;
  readonly waivedTotals?: Counts;
}

export interface RuleInfo {
  readonly id: string;
  readonly title: string;
  readonly severity: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly continuationToken: string | null;
}

/** Empty pages followed before one is shown as it is (with its token, for the next-page button). */
const EMPTY_PAGES_FOLLOWED = 4;

/**
 * The page at `token`, or, while a page comes back empty with a token, the next one, a few times
 * at most: a filtered list may answer empty pages before its matches (the service reads storage a
 * bounded number of times per request), and an empty first page must not read as "nothing".
 */
export async function filledPage<T>(load: (token: string | undefined) => Promise<Page<T>>, token: string | undefined): Promise<Page<T>> {
  let page = await load(token);
  for (let i = 0; i < EMPTY_PAGES_FOLLOWED && page.items.length === 0 && page.continuationToken; i++) page = await load(page.continuationToken);
  return page;
}

export interface ResultItem {
  readonly server: string;
  readonly ruleId: string;
  readonly status: string;
  readonly reasonCode: string;
  readonly message: string;
  readonly firstSeen: string | null;
  readonly previousStatus: string | null;
  readonly stale?: boolean;
  readonly waived?: boolean;
}

export interface EventItem {
  readonly server: string | null;
  /** A status change, or a waiver's or a drift baseline's audit record (no status: toStatus is null). */
  readonly kind?: 'status' | 'waiver' | 'baseline';
  readonly ruleId: string | null;
  readonly fromStatus: string | null;
  readonly toStatus: string | null;
  /** Null for an audit record. */
  readonly reasonCode: string | null;
  readonly message: string;
  readonly firstSeen: string | null;
  readonly recordedAt: string | null;
  readonly cause: string;
  readonly waiverId?: string | null;
  /** Who removed the server (a removal). */
  readonly removedBy?: string | null;
}

/**
 * A page of a server's history, under the server's id; for a server an admin removed, its removal
 * as its Results markers say it (null for a server that counts).
 */
export interface HistoryPage extends Page<EventItem> {
  readonly server: string;
  readonly removed: { readonly removedAt: string; readonly removedBy: string | null; readonly message: string | null } | null;
}

export interface Reference {
  readonly title: string;
  readonly url?: string;
}

export interface ServerResult {
  readonly ruleId: string;
  readonly ruleVersion: string;
  readonly title: string;
  readonly severity: string;
  readonly status: string;
  readonly reasonCode: string;
  readonly message: string;
  readonly remediation: readonly string[];
  readonly references: readonly Reference[];
  readonly evidence: unknown;
  readonly firstSeen?: string;
  readonly previousStatus?: string | null;
  readonly waived?: boolean;
  readonly waiverId?: string | null;
}

export interface ServerView {
  readonly server: string;
  readonly lastSeen: string | null;
  readonly lastSnapshotId: string | null;
  readonly lastCollectedAt: string | null;
  readonly stale?: boolean;
  readonly staleSince?: string | null;
  readonly host: {
    readonly name: string;
    readonly fqdn: string | null;
    readonly os: { readonly caption: string | null; readonly version: string | null; readonly architecture: string | null };
    readonly utcOffsetMinutes: number | null;
    readonly collector: { readonly name: string; readonly version: string; readonly manifestVersion: string | null };
    readonly firstSeen: string | null;
  } | null;
  readonly rawSnapshot: { readonly snapshotId: string; readonly collectedAt: string | null; readonly bytes: number; readonly contentHash: string } | null;
  readonly results: readonly ServerResult[];
}

export interface StaleServer {
  readonly server: string;
  readonly lastSeen: string | null;
  readonly staleSince: string | null;
}

/** A server given a key over two hours ago of which no snapshot is stored (`servers?neverPosted=true`). */
export interface NeverPostedServer {
  readonly server: string;
  readonly keyIssuedAt: string;
}

let rulesCache: { lang: string; rules: Promise<readonly RuleInfo[]> } | undefined;

/** The rule catalogue in the page's language, fetched once per language. */
export function rules(): Promise<readonly RuleInfo[]> {
  if (rulesCache?.lang !== lang()) {
    const p = apiGet<{ rules: RuleInfo[] }>('rules').then((r) => r.rules);
    p.catch(() => (rulesCache = undefined));
    rulesCache = { lang: lang(), rules: p };
  }
  return rulesCache.rules;
}
