// Storage Table Data Reader on one table for a list of principals (users or groups): what a
// Power BI / Fabric analyst needs to read that table with an organisational account.

param storageAccountName string
param tableName string
param principalIds array
@description('Role definition GUID; resources.bicep passes Storage Table Data Reader.')
param roleDefinitionGuid string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: tableName
}

resource readerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in principalIds: {
    name: guid(table.id, principalId, roleDefinitionGuid)
    scope: table
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionGuid)
      principalId: principalId
    }
  }
]
