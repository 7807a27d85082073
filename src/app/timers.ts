// The scheduled work of the service, in one table: Azure Functions registers each as a timer
// function (src/functions); the local host runs the same jobs on a short interval.
import type { JobName } from './lifecycle-api';

export interface Timer {
  /** The function name in Azure. */
  readonly name: string;
  /** NCRONTAB, as the Functions timer trigger reads it. */
  readonly schedule: string;
  readonly job: JobName;
  /** How long one run may take; none runs one bounded step. */
  readonly budgetMs?: number;
}

export const TIMERS: readonly Timer[] = [
  // Marks servers that stopped posting as stale (and logs FleetPosture.ServerStale).
  { name: 'staleHosts', schedule: '0 */15 * * * *', job: 'stale-hosts' },
  // Ends waivers past their expiry; still-failing results they covered alert again.
  { name: 'waiverExpiry', schedule: '0 */15 * * * *', job: 'waiver-expiry' },
  // After a rule change, re-evaluates stored snapshots in leased batches until done; the budget
  // stays well inside the Functions timeout and shorter than the next run's interval.
  { name: 'reevaluate', schedule: '0 */5 * * * *', job: 'reevaluate', budgetMs: 4 * 60_000 },
];
