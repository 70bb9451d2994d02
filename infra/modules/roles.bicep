// Every role assignment of the deployment, least privilege, each named
// guid(scope, principal, role) so a second deployment finds and keeps the same assignment.
// Kept in a module so the principal ids (outputs of other resources) are known when the names are computed.
//
// The app's identity holds broad data roles only on the host account, which holds no user document.
// On the documents account every blob role is scoped to the one container it serves.

@description('Name of the host storage account (AzureWebJobsStorage, deployment package).')
param hostStorageAccountName string

@description('Name of the documents storage account.')
param documentsStorageAccountName string

@description('Container users drop files into.')
param sourceContainerName string

@description('Container of translations (and the service\'s .inflight/ staging copies).')
param targetContainerName string

@description('Container of glossaries.')
param glossaryContainerName string

@description('Container of reports.')
param reportsContainerName string

@description('Container that receives Event Grid dead letters.')
param deadLetterContainerName string

@description('Table of records.')
param recordsTableName string

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

@description('Name of the Event Grid custom topic of outcome events (OUTCOME_EVENTS=eventgrid); used only with grantOutcomeTopicSend.')
param outcomeTopicName string = ''

@description('Grant the app\'s identity EventGrid Data Sender on the outcome topic (OUTCOME_EVENTS=eventgrid).')
param grantOutcomeTopicSend bool = false

@description('Grant the Translator\'s identity container roles (STORAGE_ACCESS_MODE=managed-identity); with SAS it needs none.')
param grantTranslatorStorageAccess bool


// Built-in role definition ids (the same in every tenant).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource documentsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: documentsStorageAccountName
}

resource documentsBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: documentsStorage
  name: 'default'
}

resource sourceContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: documentsBlobService
  name: sourceContainerName
}

resource targetContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: documentsBlobService
  name: targetContainerName
}

resource glossaryContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: documentsBlobService
  name: glossaryContainerName
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: documentsBlobService
  name: reportsContainerName
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: documentsBlobService
  name: deadLetterContainerName
}

resource documentsTableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: documentsStorage
  name: 'default'
}

resource recordsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: documentsTableService
  name: recordsTableName
}

resource translator 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: translatorName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource outcomeTopic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: outcomeTopicName
}

// ---- Host account: the Functions host's own storage (documented requirements for AzureWebJobsStorage
// with an identity: blob leases, keys and receipts, the Flex code package; queues and tables the host uses).

resource hostBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roleIds.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource hostQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roleIds.storageQueueDataContributor)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource hostTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roleIds.storageTableDataContributor)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Documents account: what the app does with user documents, and no more.

// Reads dropped files (the blob trigger, the catch-up listing, SAS signing of source URLs).
resource appSourceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(sourceContainer.id, functionPrincipalId, roleIds.storageBlobDataReader)
  scope: sourceContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Lists glossaries and signs read+list URLs for them.
resource appGlossaryReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(glossaryContainer.id, functionPrincipalId, roleIds.storageBlobDataReader)
  scope: glossaryContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Copies translations from .inflight/ staging to their final names, stamps their metadata, deletes
// the staging copies and replaced translations; signs write+list URLs for the service.
resource appTargetContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(targetContainer.id, functionPrincipalId, roleIds.storageBlobDataContributor)
  scope: targetContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Writes one report per source file.
resource appReportsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(reportsContainer.id, functionPrincipalId, roleIds.storageBlobDataContributor)
  scope: reportsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Obtains the user-delegation key (an account-level action) that signs the service's URLs in SAS mode
// and, in every mode, the short read SAS of the app's own copies from staging to published translations.
resource appBlobDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(documentsStorage.id, functionPrincipalId, roleIds.storageBlobDelegator)
  scope: documentsStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDelegator)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The records table.
resource appRecordsTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(recordsTable.id, functionPrincipalId, roleIds.storageTableDataContributor)
  scope: recordsTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Account scope on purpose: the results queue, its poison queue and the blob trigger's poison queue
// are read and written, and the queue extension creates '<queue>-poison' on demand when a poison
// queue's own trigger gives up, which a queue-scoped role could not do. The account holds no other queue.
resource appQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(documentsStorage.id, functionPrincipalId, roleIds.storageQueueDataContributor)
  scope: documentsStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Translator and telemetry.

// Calls to the Translator with an Entra token (local auth is disabled on it).
resource appCognitiveServicesUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(translator.id, functionPrincipalId, roleIds.cognitiveServicesUser)
  scope: translator
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.cognitiveServicesUser)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Entra-authenticated telemetry ingestion (the component has DisableLocalAuth).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Outcome events to the custom topic (its keys are off), on that topic alone.
resource appOutcomeTopicSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantOutcomeTopicSend) {
  name: guid(outcomeTopic.id, functionPrincipalId, roleIds.eventGridDataSender)
  scope: outcomeTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventGridDataSender)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The Translator's own identity, managed-identity mode only: plain URLs, no SAS.

resource translatorSourceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantTranslatorStorageAccess) {
  name: guid(sourceContainer.id, translatorPrincipalId, roleIds.storageBlobDataReader)
  scope: sourceContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: translatorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource translatorGlossaryReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantTranslatorStorageAccess) {
  name: guid(glossaryContainer.id, translatorPrincipalId, roleIds.storageBlobDataReader)
  scope: glossaryContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: translatorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Writes translations under target/.inflight/.
resource translatorTargetContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantTranslatorStorageAccess) {
  name: guid(targetContainer.id, translatorPrincipalId, roleIds.storageBlobDataContributor)
  scope: targetContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: translatorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Event Grid: identity-based dead-lettering, only into the dead-letter container.

resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roleIds.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}
