// Alert rules on the structured log records the service writes (src/app/log-records.ts):
// "<RecordName> <json>" in the message of an Application Insights trace; and one on the absence of
// the projector's runs, which reads the host's own row per function execution instead.
//
// The rules are scoped to the Application Insights component and query its `traces` table
// (columns `message`, `timestamp`), not the workspace's `AppTraces` table: scoped to the component,
// a rule sees only this app's telemetry even when the Log Analytics workspace is shared, and the
// same query runs unchanged in the portal's Application Insights "Logs" blade and in the KQL
// comment of log-records.ts. The infra tests check every record name below against LOG_RECORDS.
// (The rule on the projector's silence queries the component's `requests` table the same way.)
//
// host.json excludes Trace and Request from sampling, so every record and every execution's row
// reaches its table.
//
// Late records: a record reaches the table minutes after its timestamp (ingestion delay). A rule
// that looked back over exactly its frequency would miss a record stamped just before one run
// and ingested just after it. So each rule looks back over alertWindowByFrequency (at least 30
// minutes more than it runs), and a record is counted at every run while it is in that window.
// Alerts are stateful (autoMitigate): an alert per dimension combination (server, rule, reason)
// fires when the first run sees a record, stays fired while later runs still see one, and is
// resolved once none is left in the window. So a late record raises its alert, and the same record
// seen by several overlapping runs raises it once; a second record for the same server, rule and
// reason while the alert is still fired adds no second notification (it is the same finding).
//
// Floods: a rule change, a policy push, an expired pattern waiver or a network outage can flip the
// whole fleet at once, and one alert per server would be thousands of notifications (which the
// action group rate-limits, dropping most e-mails). So the rules that split by server name each
// server apart only up to 20 servers for the same rule and reason (or waiver, or staleness) in the
// window (ALERT_FLOOD_SERVERS in log-records.ts); beyond that, one row whose Server is the fixed
// "(more than 20 servers)" stands for all of them, one alert whose ServerCount (in the search
// results the notification links to) says how many. The per-server alerts already raised resolve
// when that row takes over (their rows left the answer), so a flood is a few dozen notifications,
// not one per rule and reason. docs/deploy.md says where each rule's servers are listed.

import { resourceTags } from 'types.bicep'

param location string
param tags resourceTags
param resourceToken string
@description('Resource id of the Application Insights component the rules query.')
param applicationInsightsId string
param alertEmailAddress string
@secure()
param alertWebhookUrl string
@description('Evaluation frequency of every rule, in minutes (a key of alertWindowByFrequency).')
param alertFrequencyMinutes int

// Look-back window per frequency: the frequency plus at least 30 minutes for ingestion delay.
var alertWindowByFrequency = {
  '5': 'PT1H'
  '10': 'PT1H'
  '15': 'PT1H'
  '30': 'PT1H'
  '60': 'PT2H'
}

// Look-back window of the rule on the projector's silence, per frequency: how long no run may have
// succeeded before it fires. Fifteen minutes is 180 periods of the default 5-second timer, so the
// few minutes a run's telemetry takes to arrive never empty it; never shorter than the frequency,
// so every moment is looked at. Window sizes come from the fixed set Azure Monitor accepts.
var silenceWindowByFrequency = {
  '5': 'PT15M'
  '10': 'PT15M'
  '15': 'PT15M'
  '30': 'PT30M'
  '60': 'PT1H'
}

// The flood grouping every rule that splits by server ends with (see Floods above; 20 and the
// fixed name are ALERT_FLOOD_SERVERS and ALERT_MANY_SERVERS in log-records.ts, which the infra
// tests compare): the servers of each group of the rule's other dimensions (`by`, '' for none),
// each its own row up to 20, else one fixed row with ServerCount. `carried` ('' for none) is a
// column of each server's own, looked up again per server after the grouping; in a flood's one row
// it says where the servers are listed (`listedAt`). A function because Bicep functions cannot read
// variables: the rules pass what differs, the grouping is written once.
func serversOrMore(by string, carried string, listedAt string) string =>
  '| summarize timestamp = min(timestamp), Servers = make_set(Server)${empty(carried) ? '' : ', ${carried}ByServer = make_bag(bag_pack(Server, ${carried}))'}${empty(by) ? '' : ' by ${by}'}\n| extend ServerCount = array_length(Servers)\n| mv-expand Server = iff(ServerCount > 20, dynamic(["(more than 20 servers)"]), Servers) to typeof(string)\n${empty(carried) ? '' : '| extend ${carried} = iff(ServerCount > 20, "(${listedAt})", tostring(${carried}ByServer[Server]))\n'}'

// One status change can be logged twice: the projector logs its records after the projections
// and before it clears the outbox, so a process that stops in between leaves them for the next run
// (which cannot know they went out). Each copy carries the change's recordId; the finding queries
// keep the first record per id (a finding a waiver's end hands back carries one per waiver change).
// Records written before recordId existed fall back to the change's own fields (server, rule,
// snapshot, status).
//
// A status entered Error. Waived results raise no alert: the record says waived: true.
var newErrorQuery = $'''
traces
| where message startswith "FleetPosture.NewFinding "
| extend record = parse_json(substring(message, strlen("FleetPosture.NewFinding ")))
| extend Server = tostring(record.server), RuleId = tostring(record.rule), Status = tostring(record.status), ReasonCode = tostring(record.reasonCode)
| where Status == "Error" and tostring(record.waived) != "true"
| extend RecordId = coalesce(tostring(record.recordId), strcat(Server, "|", RuleId, "|", tostring(record.snapshotId), "|", Status))
| summarize arg_min(timestamp, *) by RecordId
${serversOrMore('RuleId, ReasonCode', '', '')}| project timestamp, Server, RuleId, ReasonCode, ServerCount
'''

// A status entered Warning.
var newWarningQuery = $'''
traces
| where message startswith "FleetPosture.NewFinding "
| extend record = parse_json(substring(message, strlen("FleetPosture.NewFinding ")))
| extend Server = tostring(record.server), RuleId = tostring(record.rule), Status = tostring(record.status), ReasonCode = tostring(record.reasonCode)
| where Status == "Warning" and tostring(record.waived) != "true"
| extend RecordId = coalesce(tostring(record.recordId), strcat(Server, "|", RuleId, "|", tostring(record.snapshotId), "|", Status))
| summarize arg_min(timestamp, *) by RecordId
${serversOrMore('RuleId, ReasonCode', '', '')}| project timestamp, Server, RuleId, ReasonCode, ServerCount
'''

// A status entered Unknown: the rule could not decide from what the snapshot carries (a registry
// key or service it needs missing or unreadable), most often a collector that broke or lost its
// rights and now posts incomplete snapshots. A finding may hide behind it, so it alerts; below a
// new warning, as nothing is known to be wrong. Once per entry into Unknown (a server that stays
// Unknown changes no status and logs nothing more); a fleet-wide collector fault is one alert per
// rule and reason beyond 20 servers. Never waived: a waiver accepts a failing result, and an
// Unknown one is not failing.
var verdictUnknownQuery = $'''
traces
| where message startswith "FleetPosture.VerdictUnknown "
| extend record = parse_json(substring(message, strlen("FleetPosture.VerdictUnknown ")))
| extend Server = tostring(record.server), RuleId = tostring(record.rule), ReasonCode = tostring(record.reasonCode), RecordId = tostring(record.recordId)
| summarize arg_min(timestamp, *) by RecordId
${serversOrMore('RuleId, ReasonCode', '', '')}| project timestamp, Server, RuleId, ReasonCode, ServerCount
'''

// A server has not posted for longer than the stale interval. LastSeen (when it last posted) is a
// dimension, so the notification itself says how long each server has been silent; a server that
// returned and went stale again within the window shows its latest silence (a new LastSeen, so a
// new alert). The servers' LastSeen ride through the flood grouping in a bag keyed by server; the
// one row for a flood has no single LastSeen and names where the list is.
var serverStaleQuery = $'''
traces
| where message startswith "FleetPosture.ServerStale "
| extend record = parse_json(substring(message, strlen("FleetPosture.ServerStale ")))
| extend Server = tostring(record.server), LastSeen = tostring(record.lastSeen)
| summarize arg_max(timestamp, LastSeen) by Server
${serversOrMore('', 'LastSeen', 'see GET /api/servers?stale=true')}| project timestamp, Server, LastSeen, ServerCount
'''

// A server's active key was issued more than two hours ago and nothing of it is stored: its
// collector never ran, or all it sent was refused. It has no results, so it can never go stale;
// every stale-hosts run logs it again while it lasts, so the alert stays fired until it posts or
// an admin revokes its key.
// KeyIssuedAt rides through the flood grouping as the stale rule's LastSeen does.
var neverPostedQuery = $'''
traces
| where message startswith "FleetPosture.ServerNeverPosted "
| extend record = parse_json(substring(message, strlen("FleetPosture.ServerNeverPosted ")))
| extend Server = tostring(record.server), KeyIssuedAt = tostring(record.keyIssuedAt)
| summarize arg_max(timestamp, KeyIssuedAt) by Server
${serversOrMore('', 'KeyIssuedAt', 'see GET /api/refused-servers')}| project timestamp, Server, KeyIssuedAt, ServerCount
'''

// A waiver stopped covering a result that still fails: it expired, was deleted, or was changed to
// cover less (Reason says which). The finding is live again.
var waiverExpiredQuery = $'''
traces
| where message startswith "FleetPosture.WaiverExpired "
| extend record = parse_json(substring(message, strlen("FleetPosture.WaiverExpired ")))
| extend Server = tostring(record.server), RuleId = tostring(record.rule), WaiverId = tostring(record.waiverId), Reason = tostring(record.reason)
${serversOrMore('RuleId, WaiverId, Reason', '', '')}| project timestamp, Server, RuleId, WaiverId, Reason, ServerCount
'''

// A server's collector was refused: a revoked or replaced key, an enrolment an admin blocked or
// denied. Not 'unknown' keys: anyone can make one up, and such a collector enrols again (or, if it
// cannot, goes stale and raises that alert). An admin revoking many servers at once, or a stolen
// secret pushing out many collectors, is one alert per reason beyond 20 servers.
var keyRefusedQuery = $'''
traces
| where message startswith "FleetPosture.ServerKeyRefused "
| extend record = parse_json(substring(message, strlen("FleetPosture.ServerKeyRefused ")))
| extend Server = tostring(record.server), Reason = tostring(record.reason)
| where Reason != "unknown"
${serversOrMore('Reason', '', '')}| project timestamp, Server, Reason, ServerCount
'''

// A snapshot posted with the server's own key was refused for what it held or how it was sent
// (Code: invalid_snapshot, too_large, collected_in_future, …): the collector set it aside, so the
// server's verdicts stand still, and a server that never got one accepted is in no count. A
// collector release that breaks the contract fleet-wide is one alert per code beyond 20 servers.
var snapshotRejectedQuery = $'''
traces
| where message startswith "FleetPosture.SnapshotRejected "
| extend record = parse_json(substring(message, strlen("FleetPosture.SnapshotRejected ")))
| extend Server = tostring(record.server), Code = tostring(record.code)
${serversOrMore('Code', '', '')}| project timestamp, Server, Code, ServerCount
'''

// A server's key was replaced by a re-enrolment. The record's grant says what let it: the enrolment
// secret alone (open), an admin's approval, or the server's current key (a collector renewing its
// own key, e.g. a reinstall that kept it). The two rules below split on it.
var reenrolmentRecords = '''
traces
| where message startswith "FleetPosture.ServerKeyIssued "
| extend record = parse_json(substring(message, strlen("FleetPosture.ServerKeyIssued ")))
| extend Server = tostring(record.server), Reason = tostring(record.reason), Grant = tostring(record.grant)
| where Reason == "re-enrolment"
'''

// Replaced without the current key: expected after a reinstall, a take-over otherwise. Severity 1,
// as a new error: under POSTURE_REENROLMENT=open this alert is the only guard against whoever holds
// the enrolment secret posting as the server (hiding its findings), and the real collector, pushed
// out, may well re-enrol within the hour and so look like a reinstall. A fleet reinstall is one
// alert per grant beyond 20 servers.
var reenrolmentQuery = $'''
${reenrolmentRecords}| where Grant != "current-key"
${serversOrMore('Grant', '', '')}| project timestamp, Server, Grant, ServerCount
'''

// Renewed with the server's current key: only the server's own collector holds it, so it cannot
// be a take-over by the enrolment secret; noted at a low severity, not paged as one.
var keyRenewalQuery = $'''
${reenrolmentRecords}| where Grant == "current-key"
${serversOrMore('Grant', '', '')}| project timestamp, Server, Grant, ServerCount
'''

// A re-enrolment waits for an admin (POSTURE_REENROLMENT=approval): GET /api/enrolments. The
// request id is each server's own (its latest request), not a group: a fleet reinstall is one alert
// beyond 20 servers, whose row says where the requests are listed.
var reenrolmentRequestQuery = $'''
traces
| where message startswith "FleetPosture.ReenrolmentRequested "
| extend record = parse_json(substring(message, strlen("FleetPosture.ReenrolmentRequested ")))
| extend Server = tostring(record.server), RequestId = tostring(record.requestId)
| summarize arg_max(timestamp, RequestId) by Server
${serversOrMore('', 'RequestId', 'see GET /api/enrolments')}| project timestamp, Server, RequestId, ServerCount
'''

// The projector set an outbox entry aside: projecting it failed on its own with an error that is
// not an outage (a bug, or an entry another release wrote). Its change is kept, not projected: the
// events, history, counts and alert record it owes wait. GET /api/jobs/projector lists held
// entries; once the cause is fixed, POST /api/jobs/requeue-held/run puts them back.
var projectionHeldQuery = '''
traces
| where message startswith "FleetPosture.ProjectionHeld "
| extend record = parse_json(substring(message, strlen("FleetPosture.ProjectionHeld ")))
| extend Server = tostring(record.server), CommitId = tostring(record.commitId), Error = tostring(record.error)
| project timestamp, Server, CommitId, Error
'''

// Every projector run of an instance has failed for at least ten minutes (the record of each failed
// run says since when): nothing accepted since is counted or alerted on. One failed run, or a
// minute of storage throttling, is not enough: the next runs retry. Split by the kind of error.
var projectionFailingQuery = '''
traces
| where message startswith "FleetPosture.ProjectionFailed "
| extend record = parse_json(substring(message, strlen("FleetPosture.ProjectionFailed ")))
| extend ErrorKind = tostring(record.errorKind), FailingMinutes = toint(record.failingMinutes), Error = tostring(record.error)
| where FailingMinutes >= 10
| summarize arg_max(timestamp, *) by ErrorKind
| project timestamp, ErrorKind, FailingMinutes, Error
'''

// An accepted change has waited in the outbox longer than a working projector lets it (the 5
// minutes an uncommitted attempt may wait, and a few runs more): logged by every projector run that
// found work, failed runs included, from the entry's storage time, so it fires whichever instance
// runs and however often instances restart (the failing rule above counts per process). Silent
// when no projector runs at all: the rule on the projector's silence below covers that.
// One backlog is one alert: the server waiting longest changes as entries drain, so it is no
// dimension (each server that was oldest would be an alert of its own, open for the window); the
// latest record's OldestServer and counts ride along as columns. `top`, not a summarize without
// `by`, which would answer one empty row (an alert) when no record is over the threshold.
var projectorBacklogQuery = '''
traces
| where message startswith "FleetPosture.ProjectorBacklog "
| extend record = parse_json(substring(message, strlen("FleetPosture.ProjectorBacklog ")))
| extend OldestServer = tostring(record.oldestServer), OldestWaitingMinutes = toint(record.oldestWaitingMinutes), Waiting = toint(record.waiting)
| where OldestWaitingMinutes >= 15
| top 1 by timestamp desc
| project timestamp, OldestServer, OldestWaitingMinutes, Waiting
'''

// No projector run succeeded within the window: its timer stopped (the function app stopped, the
// function disabled, a broken deploy, the timer's lock stuck), or every run failed. The records the
// two rules above read come from runs, so then nothing else alerts while accepted changes wait.
// Not a record of ours: the Functions host writes a row of `requests` for every execution, named
// after the function (TIMERS in src/app/timers.ts), with whether it succeeded, even for the idle
// runs the projector logs nothing about; host.json keeps requests out of sampling. A summarize
// without `by` yields one row even when no row matched (counts 0), so an empty window is a row
// that alerts; any success in the window removes it, which resolves the alert. Azure Monitor counts
// a rule's rows per time bin of its window, by the rows' time column, and the summarize leaves none:
// the row is stamped with the evaluation time (not the last run's, which is empty when no run is
// left in the window, the very case it alerts on).
var projectorSilentQuery = '''
requests
| where operation_Name == "projector"
| summarize Succeeded = countif(success == true), Failed = countif(success == false)
| where Succeeded == 0
| project timestamp = now(), Succeeded, Failed
'''

var alertRules = [
  {
    key: 'new-error'
    displayName: 'Fleet posture: new error'
    description: 'A server/rule status entered Error (FleetPosture.NewFinding). One alert per server, rule and reason; one per rule and reason beyond 20 servers in the window (Server "(more than 20 servers)", ServerCount how many).'
    severity: 1
    query: newErrorQuery
    dimensions: [
      'Server'
      'RuleId'
      'ReasonCode'
    ]
  }
  {
    key: 'new-warning'
    displayName: 'Fleet posture: new warning'
    description: 'A server/rule status entered Warning (FleetPosture.NewFinding). One alert per server, rule and reason; one per rule and reason beyond 20 servers in the window (Server "(more than 20 servers)", ServerCount how many).'
    severity: 2
    query: newWarningQuery
    dimensions: [
      'Server'
      'RuleId'
      'ReasonCode'
    ]
  }
  {
    key: 'verdict-unknown'
    displayName: 'Fleet posture: a rule could not decide (Unknown)'
    description: 'A server/rule status entered Unknown (FleetPosture.VerdictUnknown): the snapshot lacked what the rule needs, often a broken collector, so a finding may be hidden. ReasonCode says what was missing; GET /api/results?status=Unknown lists such servers. One alert per server, rule and reason; one per rule and reason beyond 20 servers in the window.'
    severity: 3
    query: verdictUnknownQuery
    dimensions: [
      'Server'
      'RuleId'
      'ReasonCode'
    ]
  }
  {
    key: 'server-stale'
    displayName: 'Fleet posture: server stopped reporting'
    description: 'A server has not posted a snapshot for longer than the stale interval (FleetPosture.ServerStale); LastSeen says when it last posted. One alert for all beyond 20 servers in the window (Server "(more than 20 servers)").'
    severity: 2
    query: serverStaleQuery
    dimensions: [
      'Server'
      'LastSeen'
    ]
  }
  {
    key: 'waiver-expired'
    displayName: 'Fleet posture: waiver ended on a failing result'
    description: 'A waiver stopped covering a result that still fails: it expired, was deleted, or was changed to cover less (FleetPosture.WaiverExpired; Reason says which); one per waiver and rule beyond 20 servers in the window.'
    severity: 3
    query: waiverExpiredQuery
    dimensions: [
      'Server'
      'RuleId'
      'WaiverId'
      'Reason'
    ]
  }
  {
    key: 'key-refused'
    displayName: 'Fleet posture: a collector was refused'
    description: 'A server key was refused as revoked or replaced, or an enrolment as blocked or denied (FleetPosture.ServerKeyRefused); GET /api/refused-servers lists such servers. One alert per server and reason; one per reason beyond 20 servers in the window (Server "(more than 20 servers)", ServerCount how many).'
    severity: 2
    query: keyRefusedQuery
    dimensions: [
      'Server'
      'Reason'
    ]
  }
  {
    key: 'never-posted'
    displayName: 'Fleet posture: an enrolled server never posted'
    description: 'A server\'s active key was issued more than two hours ago and no snapshot of it is stored (FleetPosture.ServerNeverPosted, logged by every stale-hosts run while it lasts): its collector never ran, or all it sent was refused (see the snapshot-rejected alert). It has no results, so it is in no count and cannot go stale; GET /api/servers?neverPosted=true and the dashboard\'s Changes view list it, and GET /api/refused-servers says why its collector is refused (never-posted). KeyIssuedAt says when its key was issued. It fires until the server posts; for a server that is gone, revoke its key (DELETE /api/servers/{server}/key). One alert per server; one beyond 20 servers in the window (Server "(more than 20 servers)", ServerCount how many).'
    severity: 3
    query: neverPostedQuery
    dimensions: [
      'Server'
      'KeyIssuedAt'
    ]
  }
  {
    key: 'snapshot-rejected'
    displayName: 'Fleet posture: a server\'s snapshot was refused'
    description: 'A snapshot posted with the server\'s own key was refused for its content or how it was sent (FleetPosture.SnapshotRejected; Code says why, e.g. invalid_snapshot after a collector change, collected_in_future for a clock far ahead): its verdicts do not move until one is accepted, and a server none of whose snapshots was accepted is in no count (GET /api/servers?neverPosted=true lists it). The record carries the refusal\'s message. One alert per server and code; one per code beyond 20 servers in the window (Server "(more than 20 servers)", ServerCount how many).'
    severity: 2
    query: snapshotRejectedQuery
    dimensions: [
      'Server'
      'Code'
    ]
  }
  {
    key: 're-enrolment'
    displayName: 'Fleet posture: server key replaced by a re-enrolment'
    description: 'A re-enrolment replaced a server\'s key without its current key (FleetPosture.ServerKeyIssued, reason re-enrolment; Grant open or admin-approval): a reinstall, or someone holding the enrolment secret taking the server over. Confirm a reinstall with the server\'s owner; otherwise DELETE /api/servers/{server}/key?reenrol=deny. One alert per grant beyond 20 servers in the window.'
    severity: 1
    query: reenrolmentQuery
    dimensions: [
      'Server'
      'Grant'
    ]
  }
  {
    key: 'key-renewal'
    displayName: 'Fleet posture: server key renewed with the current key'
    description: 'A collector renewed its server\'s key with the current one (FleetPosture.ServerKeyIssued, reason re-enrolment, Grant current-key), e.g. a reinstall in approval mode that kept its key: not a take-over by the enrolment secret, which lacks that key. One alert beyond 20 servers in the window.'
    severity: 3
    query: keyRenewalQuery
    dimensions: [
      'Server'
      'Grant'
    ]
  }
  {
    key: 'projection-held'
    displayName: 'Fleet posture: a change was set aside by the projector'
    description: 'Projecting one accepted change failed on its own (FleetPosture.ProjectionHeld): it is kept, not counted. GET /api/jobs/projector lists held changes; after the fix, POST /api/jobs/requeue-held/run.'
    severity: 2
    query: projectionHeldQuery
    dimensions: [
      'Server'
      'CommitId'
    ]
  }
  {
    key: 'projection-failing'
    displayName: 'Fleet posture: the projector keeps failing'
    description: 'Every projector run has failed for ten minutes or more (FleetPosture.ProjectionFailed): accepted changes are not counted, and no new finding alerts. Error says why.'
    severity: 1
    query: projectionFailingQuery
    dimensions: [
      'ErrorKind'
    ]
  }
  {
    key: 'projector-backlog'
    displayName: 'Fleet posture: accepted changes wait for the projector'
    description: 'An accepted change has waited 15 minutes or more to be counted (FleetPosture.ProjectorBacklog, logged by each projector run from the entry\'s storage time, whichever instance runs). One alert for the backlog; OldestServer (in the search results) is the server waiting longest at the latest run; the status of the projector job answers the same.'
    severity: 1
    query: projectorBacklogQuery
    dimensions: []
  }
  {
    key: 'projector-silent'
    displayName: 'Fleet posture: the projector has not run'
    description: 'No run of the projector timer succeeded in the window (Application Insights requests of the function projector): its timer stopped, or every run failed (Failed counts those; the failing rule names the error). Accepted changes are not counted or alerted on meanwhile. Check that the function app runs and its projector function is enabled.'
    severity: 1
    query: projectorSilentQuery
    dimensions: []
  }
  {
    key: 'reenrolment-request'
    displayName: 'Fleet posture: re-enrolment waits for approval'
    description: 'A re-enrolment request waits for an admin (FleetPosture.ReenrolmentRequested); approve or deny it with POST /api/servers/{server}/enrolments/{request}/approve|deny. One alert per server (RequestId its latest request); one beyond 20 servers in the window, listed by GET /api/enrolments.'
    severity: 3
    query: reenrolmentRequestQuery
    dimensions: [
      'Server'
      'RequestId'
    ]
  }
]

// Rules that look back over a window of their own; every other rule over alertWindowByFrequency.
var windowByRule = {
  'projector-silent': silenceWindowByFrequency[string(alertFrequencyMinutes)]
}

var emailReceivers = empty(alertEmailAddress) ? [] : [
  {
    name: 'operator-email'
    emailAddress: alertEmailAddress
    useCommonAlertSchema: true
  }
]

var webhookReceivers = empty(alertWebhookUrl) ? [] : [
  {
    name: 'operator-webhook'
    serviceUri: alertWebhookUrl
    useCommonAlertSchema: true
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-posture-${resourceToken}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'fleetpost'
    enabled: true
    emailReceivers: emailReceivers
    webhookReceivers: webhookReceivers
  }
}

resource rules 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for rule in alertRules: {
    name: 'alert-posture-${rule.key}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsightsId
      ]
      targetResourceTypes: [
        'microsoft.insights/components'
      ]
      evaluationFrequency: 'PT${alertFrequencyMinutes}M'
      windowSize: windowByRule[?rule.key] ?? alertWindowByFrequency[string(alertFrequencyMinutes)]
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            dimensions: [
              for dimension in rule.dimensions: {
                name: dimension
                operator: 'Include'
                values: [
                  '*'
                ]
              }
            ]
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      // Stateful: one notification per dimension combination while its records are in the window.
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
        customProperties: {
          application: 'fleet-posture'
        }
      }
    }
  }
]

output actionGroupId string = actionGroup.id
output ruleNames string[] = [for (rule, i) in alertRules: rules[i].name]
