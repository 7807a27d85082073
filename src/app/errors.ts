// Errors the use cases answer with: each carries its HTTP status and the contract's error code, and
// its message is one sentence a person can act on.
import type { ContractIssue } from '../snapshot/parse';

/** Every error code of the contract with its HTTP status (docs/api.md lists each; a test holds them equal). */
export const API_ERROR_STATUS = {
  invalid_json: 400,
  invalid_snapshot: 400,
  collected_in_future: 400,
  invalid_query: 400,
  invalid_waiver: 400,
  invalid_baseline: 400,
  invalid_enrolment: 400,
  incomplete_body: 400,
  unauthorized: 401,
  key_revoked: 401,
  forbidden: 403,
  not_found: 404,
  already_decided: 409,
  request_replaced: 409,
  request_closed: 409,
  enrolment_superseded: 409,
  unknown_request_state: 409,
  snapshot_id_reused: 409,
  precondition_failed: 412,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  storage_unavailable: 503,
  deployment_in_progress: 503,
  internal_error: 500,
} as const satisfies Readonly<Record<string, number>>;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

// eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach a message
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Messages quote what the client sent; its line breaks and control characters are shown escaped, so a message stays one line. */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: readonly ContractIssue[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(oneLine(message));
    this.status = API_ERROR_STATUS[code];
  }
}

export interface ErrorBody {
  readonly error: ApiErrorCode;
  readonly message: string;
  readonly issues?: readonly ContractIssue[];
}

export function errorBody(e: ApiError): ErrorBody {
  return e.issues ? { error: e.code, message: e.message, issues: e.issues } : { error: e.code, message: e.message };
}

/** What an error says, for a log line (anything thrown, not only an Error). */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
