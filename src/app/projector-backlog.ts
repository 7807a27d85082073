// How long accepted changes have waited in the outbox for the projector. FleetPosture.ProjectionFailed
// counts how long one process's runs have failed, so an instance restarted more often than its
// threshold never alerts; the age of the oldest waiting entry is kept by storage, so it grows
// across restarts, and across instances. Each projector run that found work logs it (a record the
// backlog alert rule reads), and the projector job's status route answers it.
import type { OutboxStore } from '../store';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { isoInstant } from './iso-time';

/**
 * Waiting entries read to find the oldest: entries are keyed by server, not by time, so the oldest
 * is found only by reading them all. One listing of keys, server and time (no payloads) covers a
 * healthy outbox many times over; past it the age is of the oldest among those read.
 */
export const BACKLOG_READ = 1000;

export interface OutboxBacklog {
  /** Entries waiting (counted up to BACKLOG_READ). */
  readonly waiting: number;
  /** More than BACKLOG_READ wait: `oldestAt` is then the oldest of those read, a lower bound on the age. */
  readonly more: boolean;
  /** When the oldest waiting entry was stored (epoch ms), and its server; absent when none waits. */
  readonly oldestAt?: number;
  readonly oldestServer?: string;
}

export async function readBacklog(outbox: OutboxStore): Promise<OutboxBacklog> {
  const { entries, more, oldest } = await outbox.oldestWaiting(BACKLOG_READ);
  return { waiting: entries, more, ...(oldest ? { oldestAt: oldest.storedAt, oldestServer: oldest.server } : {}) };
}

/** Whole seconds the oldest entry has waited at `now` (0 when none waits). */
export const waitedSeconds = (b: OutboxBacklog, now: number): number => (b.oldestAt === undefined ? 0 : Math.max(0, Math.floor((now - b.oldestAt) / 1000)));

/** Logs the backlog as the record the alert rule reads. */
export function logBacklog(log: AlertLog, b: OutboxBacklog, now: number): void {
  log.log(
    formatLogRecord(LOG_RECORDS.projectorBacklog, {
      waiting: b.waiting,
      more: b.more,
      oldestWaitingAt: b.oldestAt === undefined ? null : isoInstant(b.oldestAt),
      oldestServer: b.oldestServer ?? null,
      oldestWaitingMinutes: Math.floor(waitedSeconds(b, now) / 60),
    }),
  );
}
