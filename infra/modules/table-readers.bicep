// Storage Table Data Reader on one table for a list of principals (users, groups, pipelines): what a
// Power BI / Fabric analyst needs to read that table with an organisational account.

import { principal } from 'types.bicep'

param storageAccountName string
param tableName string
param readers principal[]
@description('Role definition GUID; resources.bicep passes Storage Table Data Reader.')
param roleDefinitionGuid string

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' existing = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' existing = {
  parent: tableService
  name: tableName
}

resource readerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for reader in readers: {
    name: guid(table.id, reader.id, roleDefinitionGuid)
    scope: table
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionGuid)
      principalId: reader.id
      principalType: reader.type
    }
  }
]
