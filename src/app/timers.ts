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
  /** Log the run only when it did something (a timer every few seconds would fill the log). */
  readonly quietWhenIdle?: boolean;
}

export const TIMERS: readonly Timer[] = [
  // Marks servers that stopped posting as stale (and logs FleetPosture.ServerStale), and logs
  // FleetPosture.ServerNeverPosted for servers that enrolled and never posted.
  { name: 'staleHosts', schedule: '0 */15 * * * *', job: 'stale-hosts' },
  // Ends waivers past their expiry; still-failing results they covered alert again. Also writes
  // what waiver and baseline changes still owe (audit events, alerts) after a storage failure.
  { name: 'waiverExpiry', schedule: '0 */15 * * * *', job: 'waiver-expiry' },
  // After a rule change, re-evaluates stored snapshots in leased batches until done; the budget
  // stays well inside the Functions timeout and shorter than the next run's interval.
  { name: 'reevaluate', schedule: '0 */5 * * * *', job: 'reevaluate', budgetMs: 4 * 60_000 },
  // Drains the outbox into events, history, rule index and counts, hosts, raw snapshots and alert
  // records. The schedule is an app setting (every 5 s in the Bicep), so the projection lag can be
  // tuned without a build; the local host drains every second and after each commit instead.
  { name: 'projector', schedule: '%POSTURE_PROJECTOR_SCHEDULE%', job: 'projector', budgetMs: 4 * 60_000, quietWhenIdle: true },
  // Puts raw bodies whose staging row outlived its outbox entry (projected by an earlier version,
  // or given up on while its request stalled) into their slot, and removes such rows. They are
  // rare (an upgrade, a crash), so hourly; a run reads the Snapshots keys, bodies only to copy.
  { name: 'stagedRawSweep', schedule: '0 40 * * * *', job: 'staged-raw-sweep' },
  // Moves History rows and raw snapshots of the layouts before the buckets into the buckets, so the
  // readers can stop asking the older partitions. A timer, not an operator's chore: nobody has to
  // know when it is done, and rows an instance of such a deployment writes late are moved too. A
  // run takes up to ~4 min of batches; once nothing is left it costs a few empty range reads.
  { name: 'layoutMigration', schedule: '0 50 * * * *', job: 'layout-migration', budgetMs: 4 * 60_000 },
];
