// Structured log records that Azure Monitor alert rules count. The message starts with a fixed
// record name followed by one JSON object, so a KQL query can match the name and parse the rest:
//   traces | where message startswith "FleetPosture.NewFinding "
//          | extend d = parse_json(substring(message, strlen("FleetPosture.NewFinding ")))
// The infra tests check that every alert query names one of these exactly.

export const LOG_RECORDS = {
  /** A (server, rule) status entered Warning or Error. */
  newFinding: 'FleetPosture.NewFinding',
  /** A (server, rule) status left Warning or Error. */
  findingResolved: 'FleetPosture.FindingResolved',
  /**
   * A (server, rule) status entered Unknown: the rule could not decide from the snapshot (data it
   * needs missing or unreadable, often a broken collector), so a finding may hide there. Alerts,
   * below a warning; once per entry, as staying Unknown changes no status.
   */
  verdictUnknown: 'FleetPosture.VerdictUnknown',
  /** A server has not posted for longer than the stale interval. */
  serverStale: 'FleetPosture.ServerStale',
  /** A stale server posted again. */
  serverReturned: 'FleetPosture.ServerReturned',
  /** A waiver stopped covering a result that still fails: `reason` expired, deleted or changed. */
  waiverExpired: 'FleetPosture.WaiverExpired',
  /** A server key was issued: `reason` enrolment, re-enrolment or admin-rotation (audit; re-enrolments alert). */
  serverKeyIssued: 'FleetPosture.ServerKeyIssued',
  /** An admin revoked a server's key (audit). */
  serverKeyRevoked: 'FleetPosture.ServerKeyRevoked',
  /**
   * A server's collector was refused: a revoked, replaced or unknown server key, or an enrolment an
   * admin blocked or denied. Alerts (all but `unknown`, which anyone can provoke with a made-up key).
   */
  serverKeyRefused: 'FleetPosture.ServerKeyRefused',
  /**
   * A snapshot posted with the server's own key was refused for its content or how it was sent
   * (`server`, `status`, `code`, `message`): nothing of it counts, and a server none of whose
   * snapshots is accepted is in no count (only the never-posted list names it). Alerts.
   */
  snapshotRejected: 'FleetPosture.SnapshotRejected',
  /**
   * A server's active key was issued more than two hours ago and nothing of it is stored
   * (`server`, `keyIssuedAt`): its collector never ran, or all it sent was refused. Logged by every
   * stale-hosts run while it lasts, so the alert stays fired until the server posts or an admin
   * revokes its key.
   */
  serverNeverPosted: 'FleetPosture.ServerNeverPosted',
  /** A re-enrolment waits for an admin's approval (POSTURE_REENROLMENT=approval); alerts. */
  reenrolmentRequested: 'FleetPosture.ReenrolmentRequested',
  /** An admin approved or denied a re-enrolment request (audit). */
  reenrolmentDecided: 'FleetPosture.ReenrolmentDecided',
  /** An admin removed a server from the fleet: who, and which rules' results it had (audit). */
  serverRemoved: 'FleetPosture.ServerRemoved',
  /**
   * The projector set an outbox entry aside (`server`, `commitId`, `error`): projecting it failed on
   * its own with an error that is not an outage. Alerts: requeue it once a fix is deployed.
   */
  projectionHeld: 'FleetPosture.ProjectionHeld',
  /**
   * A projector run failed (`error`, `errorKind`), and since when every run of this process has
   * (`failingSince`, `failingMinutes`). Alerts once it has failed for ten minutes.
   */
  projectionFailed: 'FleetPosture.ProjectionFailed',
  /**
   * What still waits in the outbox after a projector run that found work, failed runs included
   * (`waiting`, `more`, `oldestWaitingAt`, `oldestServer`, `oldestWaitingMinutes`). Alerts once an
   * accepted change has waited longer than any healthy projector lets it, whichever instance runs.
   */
  projectorBacklog: 'FleetPosture.ProjectorBacklog',
} as const;

/** How long every projector run must have failed before FleetPosture.ProjectionFailed alerts (the rule's threshold). */
export const PROJECTION_FAILING_ALERT_MINUTES = 10;

/**
 * How long the oldest outbox entry must have waited before FleetPosture.ProjectorBacklog alerts (the
 * rule's threshold): above the 5 minutes an entry whose commit is not visible yet may wait, plus
 * a few runs of the projector.
 */
export const PROJECTOR_BACKLOG_ALERT_MINUTES = 15;

export type LogRecordName = (typeof LOG_RECORDS)[keyof typeof LOG_RECORDS];

export function formatLogRecord(name: LogRecordName, fields: Readonly<Record<string, string | number | boolean | null>>): string {
  return `${name} ${JSON.stringify(fields)}`;
}

/**
 * How many servers one alert rule names one by one for the same rule, status and reason (or
 * waiver) in its window. Beyond it (a rule change or an outage that flips the fleet at once) the
 * rule names them together, as ALERT_MANY_SERVERS, in one alert: operators get one notification
 * per cause rather than thousands, which Azure Monitor would rate-limit and partly drop anyway.
 */
export const ALERT_FLOOD_SERVERS = 20;

/** The Server dimension of that one alert; fixed, so its alert stays one while the count grows. */
export const ALERT_MANY_SERVERS = `(more than ${ALERT_FLOOD_SERVERS} servers)`;
