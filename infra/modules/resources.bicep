// Everything fleet-posture runs on, inside one resource group: storage (tables + the Flex
// deployment container), the user-assigned identity and its roles, Log Analytics + Application
// Insights, the Flex Consumption plan and function app, and the alert rules (alerts.bicep).

import { principal, resourceTags } from 'types.bicep'

param location string
param tags resourceTags
@description('Short unique suffix for globally unique names.')
param resourceToken string
param principalId string
param principalType 'User' | 'ServicePrincipal'
param tableReaders principal[]
param tablePrefix string
param maxSnapshotBytes int
param staleAfterMinutes int
param waiverMaxDays int
param reevaluateBatchSize int
param rememberedRowsMb int
@description('NCRONTAB schedule of the projector timer.')
param projectorSchedule string
@secure()
param ingestKeys string
@secure()
param readerKeys string
@secure()
param adminKeys string
@secure()
param enrolmentSecrets string
param allowSharedIngestKeys bool
param rateLimitBurst int
param rateLimitPerMinute int
@description('Re-enrolment of an enrolled server (POSTURE_REENROLMENT): open (the enrolment secret suffices) or approval (its current key, or an admin\'s approval).')
@allowed([
  'open'
  'approval'
])
param reenrolment string = 'open'
param alertEmailAddress string
@secure()
param alertWebhookUrl string
param alertFrequencyMinutes int
param maximumInstanceCount int
param instanceMemoryMB int
param httpPerInstanceConcurrency int

// Built-in role definition ids, from Microsoft's "Azure built-in roles" reference. The infra tests
// compare each with the documented id, so a typo fails `npm test`, not a deployment.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// The tables the service uses (TABLES in src/store/client.ts; a test holds the two equal). Fixed
// here rather than a parameter: the service knows no other set, so a deployment that created
// fewer would fail at run time and one that created more would leave tables nothing reads.
var tableNames = [
  'Results'
  'Events'
  'Hosts'
  'Snapshots'
  'RuleIndex'
  'Waivers'
  'Lifecycle'
  'History'
  'ServerKeys'
  'Outbox'
  'Drift'
]

var deploymentContainerName = 'app-package'
var functionAppName = 'func-posture-${resourceToken}'
var tableEndpoint = 'https://${storage.name}.table.${environment().suffixes.storage}'

// ---------------------------------------------------------------- identity

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-posture-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- storage

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: 'stposture${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: '${tablePrefix}${tableName}'
  }
]

// ---------------------------------------------------------------- monitoring

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: 'log-posture-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    // No workspace keys: nothing here sends data with them (Application Insights writes into the
    // workspace itself), so they would only be a way in for whoever got hold of one.
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-posture-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry only with an Entra token (Monitoring Metrics Publisher below), never the key alone.
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------- role assignments (app identity)

// Blob: Flex deployment package container and the host's blob leases (AzureWebJobsStorage). With
// HTTP and timer triggers only, that is all the host needs: Microsoft lists Storage Blob Data Owner
// for the host and adds no role for timers (their locks are blobs); queues serve blob triggers and
// Durable Functions, which this app has not, so the identity gets no queue role.
// Account scope, not the deployment container alone: the host creates its own containers
// (azure-webjobs-hosts for leases and timer schedules, azure-webjobs-secrets for its keys) when it
// first starts, which a role on one container does not allow, and Microsoft documents the host's
// role on the account. A blob role reaches no table, so this grant reads no ServerKeys row.
resource blobOwnerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Table: the service's tables. Account scope, because the service may create a table it adds
// later (createTable at start) and the host's table client shares the account (its diagnostic events).
resource tableContributorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights with local auth off: the identity publishes telemetry with a token.
resource metricsPublisherAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- role assignments (people)

// People who read the tables with their own Entra sign-in (tableReaders; Power BI cannot, it takes
// the query API) and the deployer, who may look at the data after a deployment: read the app
// tables, nothing else. Table by table, so that no one
// but the app reads ServerKeys (key hashes are no reader's business); the price is that a
// table-scoped role cannot list the account's tables, so readers open each table by name
// (docs/deploy.md). A deployer who is also listed is dropped from the list by id, whatever its case
// or type there: the assignment's name comes from the id, so a second entry would name it twice.
var tableReaderPrincipals = concat(filter(tableReaders, r => empty(principalId) || toLower(r.id) != toLower(principalId)), empty(principalId) ? [] : [
  {
    id: principalId
    type: principalType
  }
])

module tableReaderGrants 'table-readers.bicep' = [
  for (tableName, i) in tableNames: if (!empty(tableReaderPrincipals) && tableName != 'ServerKeys') {
    name: 'table-readers-${i}'
    params: {
      storageAccountName: storage.name
      tableName: tables[i].name
      readers: tableReaderPrincipals
      roleDefinitionGuid: roles.storageTableDataReader
    }
  }
]

// ---------------------------------------------------------------- Flex Consumption plan + app

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: 'plan-posture-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // Set, not left to the platform's default (which follows instanceMemoryMB): the number is
        // sized for the worker's heap, not the instance's memory (src/local/http-concurrency.ts).
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  dependsOn: [
    deploymentContainer
  ]
}

// No deployment user name and password: FTP and the SCM (Kudu) site take Entra tokens only, so the
// only way to put code on the app is a role on it (azd deploys with the signed-in user's token).
// Microsoft's "Disable basic authentication in App Service deployments" names these two switches.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// Every app setting in one place. The infra tests compare the POSTURE_* names here with
// SETTING_NAMES in src/app/settings.ts. Flex Consumption rejects the old platform settings
// (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, ...):
// runtime and deployment live in functionAppConfig above.
resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Host storage through the managed identity: no account key anywhere.
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    // Telemetry with an Entra token (local auth is off on the component).
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    // The Node worker's heap settings (src/local/node-options.ts says why): without a limit V8 lets
    // the heap grow to several times the live data, and RSS with it.
    NODE_OPTIONS: '--max-old-space-size=512 --max-semi-space-size=8'
    // Read by the service (src/app/settings.ts).
    POSTURE_TABLE_ENDPOINT: tableEndpoint
    AZURE_CLIENT_ID: identity.properties.clientId
    POSTURE_TABLE_PREFIX: tablePrefix
    POSTURE_MAX_SNAPSHOT_BYTES: string(maxSnapshotBytes)
    POSTURE_STALE_AFTER_MINUTES: string(staleAfterMinutes)
    POSTURE_WAIVER_MAX_DAYS: string(waiverMaxDays)
    POSTURE_REEVALUATE_BATCH_SIZE: string(reevaluateBatchSize)
    POSTURE_REMEMBERED_ROWS_MB: string(rememberedRowsMb)
    POSTURE_PROJECTOR_SCHEDULE: projectorSchedule
    POSTURE_INGEST_KEYS: ingestKeys
    POSTURE_READER_KEYS: readerKeys
    POSTURE_ADMIN_KEYS: adminKeys
    POSTURE_ENROLMENT_SECRETS: enrolmentSecrets
    // Not string(): ARM writes a bool as True or False there, not the true or false the docs give.
    POSTURE_ALLOW_SHARED_INGEST_KEYS: allowSharedIngestKeys ? 'true' : 'false'
    POSTURE_RATE_LIMIT_BURST: string(rateLimitBurst)
    POSTURE_RATE_LIMIT_PER_MINUTE: string(rateLimitPerMinute)
    POSTURE_REENROLMENT: reenrolment
    // POSTURE_CONTINUATION_TOKEN_SECRET is left unset: every instance then seals continuation tokens
    // with the one secret the store keeps in the Lifecycle table, so a page handed out before a
    // deployment still opens after it (a secret made per deployment would refuse it).
  }
  dependsOn: [
    blobOwnerAssignment
    tableContributorAssignment
    metricsPublisherAssignment
  ]
}

// ---------------------------------------------------------------- alerts

module alerts 'alerts.bicep' = {
  name: 'fleet-posture-alerts'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    applicationInsightsId: appInsights.id
    alertEmailAddress: alertEmailAddress
    alertWebhookUrl: alertWebhookUrl
    alertFrequencyMinutes: alertFrequencyMinutes
  }
}

output functionAppName string = functionApp.name
output apiBaseUrl string = 'https://${functionApp.properties.defaultHostName}/api'
output storageAccountName string = storage.name
output tableEndpoint string = tableEndpoint
output applicationInsightsName string = appInsights.name
output alertRuleNames string[] = alerts.outputs.ruleNames
