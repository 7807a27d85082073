// A snapshot refused for what it holds or how it was sent, though its key was the server's own:
// the collector logs it and sets a snapshot wrong in itself aside, and without a record here a
// server whose every snapshot is refused would never show up in the fleet (or would only go
// stale). So each such refusal is logged as FleetPosture.SnapshotRejected, which an alert counts.
// It writes nothing: a refused request changes no table.
import type { AlertLog } from './alert-log';
import { audit } from './enrolment';
import { ApiError, type ApiErrorCode } from './errors';
import { LOG_RECORDS } from './log-records';

/** The refusals that say the collector's snapshot (or its sending) is wrong, not the service or the moment. */
export const REJECTING_CODES: ReadonlySet<ApiErrorCode> = new Set<ApiErrorCode>([
  'invalid_json',
  'invalid_snapshot',
  'collected_in_future',
  'forbidden',
  'snapshot_id_reused',
  'too_large',
  'unsupported_media_type',
]);

/** The part of the refusal's message the record keeps. */
const MESSAGE_CHARS = 500;

/** Logs `error` when it refuses the snapshot of `server` for its content; anything else is left to its own handling. */
export function logRejectedSnapshot(log: AlertLog, server: string, error: unknown): void {
  if (!(error instanceof ApiError) || !REJECTING_CODES.has(error.code)) return;
  audit(log, LOG_RECORDS.snapshotRejected, { server, status: error.status, code: error.code, message: error.message.slice(0, MESSAGE_CHARS) });
}
