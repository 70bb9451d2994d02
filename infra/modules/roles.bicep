// Every role assignment of the deployment, least privilege, each named
// guid(scope, principal, role) so a second deployment finds and keeps the same assignment.
// Kept in a module so the principal ids (outputs of other resources) are known when the names are computed.

@description('Name of the storage account.')
param storageAccountName string

@description('Name of the blob container that receives Event Grid dead letters.')
param deadLetterContainerName string

@description('Name of the Translator resource.')
param translatorName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Principal (object) id of the function app\'s user-assigned identity.')
param functionPrincipalId string

@description('Principal id of the Translator\'s system-assigned identity.')
param translatorPrincipalId string

@description('Principal id of the Event Grid system topic\'s system-assigned identity.')
param eventGridPrincipalId string

@description('Grant the Translator\'s identity blob access (STORAGE_ACCESS_MODE=managed-identity); with SAS it needs none.')
param grantTranslatorStorageAccess bool

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource translator 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: translatorName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Owner rather than Contributor: the account is also AzureWebJobsStorage, and the Functions host's
// blob trigger (blob receipts, leases, host locks) and the Flex deployment-package access are
// documented to need Storage Blob Data Owner there. It also covers the user-delegation key of SAS mode.
resource functionBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, functionPrincipalId, roleIds.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The results queue trigger and its poison queue, and the blob trigger's own poison queue.
resource functionQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, functionPrincipalId, roleIds.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The job records table.
resource functionTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, functionPrincipalId, roleIds.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Calls to the Translator with an Entra token (local auth is disabled on it).
resource functionCognitiveServicesUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(translator.id, functionPrincipalId, roleIds.cognitiveServicesUser)
  scope: translator
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.cognitiveServicesUser)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Entra-authenticated telemetry ingestion (the component has DisableLocalAuth).
resource functionMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Managed-identity mode: the service reads sources and glossaries and writes translations with
// plain URLs; the documented requirement is Storage Blob Data Contributor on the account.
resource translatorBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantTranslatorStorageAccess) {
  name: guid(storageAccount.id, translatorPrincipalId, roleIds.storageBlobDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: translatorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Identity-based dead-lettering: Event Grid writes only into the dead-letter container.
resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount::blobService::deadLetterContainer.id, eventGridPrincipalId, roleIds.storageBlobDataContributor)
  scope: storageAccount::blobService::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}
