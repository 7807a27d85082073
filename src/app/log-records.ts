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
  /** A server has not posted for longer than the stale interval. */
  serverStale: 'FleetPosture.ServerStale',
  /** A stale server posted again. */
  serverReturned: 'FleetPosture.ServerReturned',
  /** A waiver reached its expiry date while its result still fails. */
  waiverExpired: 'FleetPosture.WaiverExpired',
} as const;

export type LogRecordName = (typeof LOG_RECORDS)[keyof typeof LOG_RECORDS];

export function formatLogRecord(name: LogRecordName, fields: Readonly<Record<string, string | number | boolean | null>>): string {
  return `${name} ${JSON.stringify(fields)}`;
}
