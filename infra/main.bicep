// fleet-posture on Azure: entry point for `azd up` (and `az deployment sub create`).
// Subscription scope so that an empty subscription needs nothing made by hand: this file creates
// the resource group and hands everything else to modules/resources.bicep.
targetScope = 'subscription'

import { principal, tablePrefixProblem } from 'modules/types.bicep'

@minLength(1)
@maxLength(48)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the person or pipeline running the deployment (azd sets AZURE_PRINCIPAL_ID). Gets Storage Table Data Reader on each app table but ServerKeys, as tableReaders do, for checking the data; empty skips it.')
param principalId string = ''

@description('What principalId is (azd sets AZURE_PRINCIPAL_TYPE): User, or ServicePrincipal for a pipeline.')
param principalType 'User' | 'ServicePrincipal' = 'User'

@description('Users, groups or service principals that read the tables with their own Entra sign-in (Storage Explorer, az, scripts; Power BI uses the query API): Storage Table Data Reader on each app table but ServerKeys. Table-scoped, so they cannot list the tables and open each by name. Each: { id: object id, type: \'User\' | \'Group\' | \'ServicePrincipal\' }.')
param tableReaders principal[] = []

@description('Prefix for every table name (POSTURE_TABLE_PREFIX): empty for none, else a letter followed by letters and digits, at most 31 characters (a deployment with any other value fails).')
@maxLength(31)
param tablePrefix string = ''

@description('Largest snapshot body accepted, in bytes (POSTURE_MAX_SNAPSHOT_BYTES).')
@minValue(1024)
param maxSnapshotBytes int = 1048576

@description('A server that has not posted for longer than this many minutes is marked stale (POSTURE_STALE_AFTER_MINUTES). At least 120: collectors on schedule post up to 110 minutes apart.')
@minValue(120)
@maxValue(43200)
param staleAfterMinutes int = 180

@description('The longest a waiver may run, in days (POSTURE_WAIVER_MAX_DAYS).')
@minValue(1)
@maxValue(3650)
param waiverMaxDays int = 180

@description('Servers re-evaluated per batch after a rule change (POSTURE_REEVALUATE_BATCH_SIZE).')
@minValue(1)
@maxValue(500)
param reevaluateBatchSize int = 50

@description('Memory, in MB as estimated, each instance gives to the rows of the servers whose posts it last committed, so their next posts skip a storage read (POSTURE_REMEMBERED_ROWS_MB). 0 turns it off: set it when many instances serve the same servers in turn.')
@minValue(0)
@maxValue(1024)
param rememberedRowsMb int = 32

@description('When the projector drains the outbox into events, history, rule index and counts, hosts, raw snapshots and alert records (POSTURE_PROJECTOR_SCHEDULE): an NCRONTAB schedule of six fields, seconds first. Every 5 s keeps the projection lag of a fleet-wide burst to seconds. Keep runs a few minutes apart at most: the alert "the projector has not run" fires when none succeeded for 15 minutes (more when alertFrequencyMinutes is 30 or 60).')
@minLength(11)
param projectorSchedule string = '*/5 * * * * *'

@description('Ingest keys (POSTURE_INGEST_KEYS): comma-separated; collectors send one in x-api-key. azd generates one on first provision and keeps it in the environment config.')
@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 40
      noSpecial: true
    }
  }
})
param ingestKeys string

@description('Reader keys (POSTURE_READER_KEYS): comma-separated; query API and Power BI send one in x-api-key.')
@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 40
      noSpecial: true
    }
  }
})
param readerKeys string

@description('Admin keys (POSTURE_ADMIN_KEYS): comma-separated; waivers and other admin calls.')
@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 40
      noSpecial: true
    }
  }
})
param adminKeys string

@description('Enrolment secrets (POSTURE_ENROLMENT_SECRETS): comma-separated; a collector\'s install script presents one to POST /api/enroll to get its server key. Add a new one, move installers, remove the old: enrolled servers keep working.')
@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 40
      noSpecial: true
    }
  }
})
param enrolmentSecrets string

@description('Migration only (POSTURE_ALLOW_SHARED_INGEST_KEYS): shared ingest keys may post snapshots for any host. Keep false once collectors enrol.')
param allowSharedIngestKeys bool = false

@description('Per-server rate limit (POSTURE_RATE_LIMIT_BURST): requests one server may make at once, per instance.')
@minValue(1)
param rateLimitBurst int = 30

@description('Per-server rate limit (POSTURE_RATE_LIMIT_PER_MINUTE): requests refilled per server and minute, per instance.')
@minValue(1)
param rateLimitPerMinute int = 6

@description('Re-enrolment of an enrolled server (POSTURE_REENROLMENT): open (the enrolment secret suffices) or approval (its current key, or an admin\'s approval). See SECURITY.md.')
@allowed([
  'open'
  'approval'
])
param reenrolment string = 'open'

@description('E-mail address that receives alerts; empty for none.')
param alertEmailAddress string = ''

@description('Webhook (https) that receives alerts in the common alert schema; empty for none.')
@secure()
param alertWebhookUrl string = ''

@description('How often the alert rules run, in minutes. Each looks back further than that (see modules/alerts.bicep), so a record that reaches Application Insights late still raises its alert, once.')
@allowed([
  5
  10
  15
  30
  60
])
param alertFrequencyMinutes int = 5

@description('Upper bound of Flex Consumption instances, 40 to 1000: Microsoft\'s Flex Consumption page gives 40 as the lowest maximum. Instances of all Flex Consumption apps in the subscription and region share one quota (250 cores by default; 1 core per 2,048 MB instance).')
// Microsoft's Flex Consumption plan page (Considerations, Scale) gives 40 as the lowest maximum.
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance, in MB: 2048 or 4096. Not 512: the instance holds the Functions host beside the Node worker, whose heap may grow to its 512 MB cap (NODE_OPTIONS), so the cap would protect nothing and the platform would stop the instance first.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('HTTP requests one instance runs at once (Flex Consumption perInstanceConcurrency); more scale out to further instances. Sized for the Node worker\'s 512 MB heap: keep it equal to HTTP_PER_INSTANCE_CONCURRENCY in src/local/http-concurrency.ts, which the local host uses and a test compares.')
@minValue(1)
param httpPerInstanceConcurrency int = 16

// The service refuses any other prefix at start-up; refuse it at deployment, before anything is made.
var tablePrefixError = tablePrefixProblem(tablePrefix)

var tags = {
  'azd-env-name': environmentName
  application: 'fleet-posture'
}

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module resources 'modules/resources.bicep' = {
  name: 'fleet-posture-resources'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: toLower(uniqueString(subscription().id, environmentName, location))
    principalId: principalId
    principalType: principalType
    tableReaders: tableReaders
    tablePrefix: empty(tablePrefixError) ? tablePrefix : fail(tablePrefixError)
    maxSnapshotBytes: maxSnapshotBytes
    staleAfterMinutes: staleAfterMinutes
    waiverMaxDays: waiverMaxDays
    reevaluateBatchSize: reevaluateBatchSize
    rememberedRowsMb: rememberedRowsMb
    projectorSchedule: projectorSchedule
    ingestKeys: ingestKeys
    readerKeys: readerKeys
    adminKeys: adminKeys
    enrolmentSecrets: enrolmentSecrets
    allowSharedIngestKeys: allowSharedIngestKeys
    rateLimitBurst: rateLimitBurst
    rateLimitPerMinute: rateLimitPerMinute
    reenrolment: reenrolment
    alertEmailAddress: alertEmailAddress
    alertWebhookUrl: alertWebhookUrl
    alertFrequencyMinutes: alertFrequencyMinutes
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
  }
}

// azd writes these to .azure/<env>/.env; the README's commands read them from there.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output API_BASE_URL string = resources.outputs.apiBaseUrl
output STORAGE_ACCOUNT_NAME string = resources.outputs.storageAccountName
output POSTURE_TABLE_ENDPOINT string = resources.outputs.tableEndpoint
output APPLICATIONINSIGHTS_NAME string = resources.outputs.applicationInsightsName
output ALERT_RULE_NAMES string[] = resources.outputs.alertRuleNames
@description('Where the API keys are: the function app settings named here (never the values).')
output API_KEYS_COMMAND string = 'az functionapp config appsettings list --resource-group ${rg.name} --name ${resources.outputs.functionAppName} --query "[?ends_with(name, \'_KEYS\') || ends_with(name, \'_SECRETS\')].{name:name, value:value}" --output table'
