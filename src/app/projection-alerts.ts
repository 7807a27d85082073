// The alert records the projector logs (FleetPosture.NewFinding, FleetPosture.FindingResolved,
// FleetPosture.VerdictUnknown), per status change, after the change's writes and before its entry goes. The log is not a
// table: a crash in between logs a record again on the next run, so each carries an id (one per
// change) the alert queries count once, and a running projector never logs an id twice.
import type { PostureStore } from '../store';
import { settleBounded as inParallel } from '../store';
import type { AlertLog } from './alert-log';
import { formatLogRecord, LOG_RECORDS } from './log-records';
import { isFinding } from './findings';
import { alertRecordId, UNDECIDED, type AlertWork, type ProjectionWork } from './projection-work';
import { RecentSet } from './recent-set';

export interface ProjectionAlertsDeps {
  /** Where a requeued change's record is checked against its rule's current Results row. */
  readonly store: PostureStore;
  /** Waivers in force now, as a lookup (read once per batch that logs a new finding). */
  readonly waivers: () => Promise<(server: string, ruleId: string, since: number) => string | undefined>;
  /** Storage calls in flight at once (default 16). */
  readonly parallel?: number;
}

export class ProjectionAlerts {
  readonly #emitted = new RecentSet(100_000);

  constructor(private readonly deps: ProjectionAlertsDeps) {}

  /**
   * Logs each change's alert record once per id; a failed waiver read cannot cost an alert (it goes
   * out unwaived). A requeued change (`requeued`: commit ids) was held while its server changed
   * again: its record goes out only while the status it announces is still the rule's current one
   * (same status, same firstSeen); one a later change replaced — a finding resolved since — would
   * page for nothing, so it is logged as superseded, not as an alert record. Returns how many records went out.
   */
  async log(works: readonly ProjectionWork[], log: AlertLog, requeued: ReadonlySet<string>): Promise<number> {
    const owed = works.flatMap((w) => w.alerts.map((a) => ({ a, requeued: requeued.has(w.commitId) }))).filter(({ a }) => !this.#emitted.has(alertRecordId(a)));
    const superseded = new Set<AlertWork>();
    await inParallel(
      owed.filter((o) => o.requeued),
      this.deps.parallel ?? 16,
      async ({ a }) => {
        const row = await this.deps.store.readResultRow(a.server, a.ruleId);
        if (row?.status !== a.status || row.firstSeen !== a.firstSeen) superseded.add(a);
      },
    );
    for (const a of superseded) {
      log.log(`projector: the ${a.status} record of ${a.server} / ${a.ruleId} (snapshot ${a.snapshotId}) was superseded by a later change while its entry was held; not logged as an alert.`);
      this.#emitted.add(alertRecordId(a));
    }
    const due = owed.map((o) => o.a).filter((a) => !superseded.has(a));
    let waiverOf: (server: string, ruleId: string, since: number) => string | undefined = () => undefined;
    if (due.some((a) => isFinding(a.status))) waiverOf = await this.deps.waivers().catch(() => () => undefined);
    let logged = 0;
    const record = (line: string) => {
      log.log(line);
      logged++;
    };
    for (const a of due) {
      const recordId = alertRecordId(a);
      const fields = { server: a.server, rule: a.ruleId, status: a.status, reasonCode: a.reasonCode, previousStatus: a.previousStatus ?? null, snapshotId: a.snapshotId, recordId };
      if (isFinding(a.status)) {
        // Under a waiver the record still goes out, marked, and the alert rules filter it.
        const waiverId = waiverOf(a.server, a.ruleId, a.firstSeen);
        record(formatLogRecord(LOG_RECORDS.newFinding, { ...fields, waived: waiverId !== undefined, waiverId: waiverId ?? null, cause: a.cause }));
      } else {
        // Error to Unknown is both: the finding is gone, and so is the sight of the server's posture.
        if (isFinding(a.previousStatus)) record(formatLogRecord(LOG_RECORDS.findingResolved, { ...fields, cause: a.cause }));
        if (a.status === UNDECIDED) record(formatLogRecord(LOG_RECORDS.verdictUnknown, { ...fields, cause: a.cause }));
      }
      this.#emitted.add(recordId);
    }
    return logged;
  }
}
