// Event Grid system topic on the documents storage account, which holds both the source and the target
// container. The two blob triggers (source=EventGrid) are fed by subscriptions on this topic, created by
// ../eventgrid-subscription.bicep once the code is published.

@description('Azure region of the storage account (a system topic lives where its source is).')
param location string

@description('Name of the system topic.')
param systemTopicName string

@description('Name of the storage account whose blob events the topic publishes.')
param storageAccountName string

@description('Resource id of the Log Analytics workspace that receives delivery-failure logs and metrics.')
param workspaceId string

@description('Tags applied to every resource.')
param tags object = {}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  // The identity writes undeliverable events to the dead-letter container: shared keys are off.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storageAccount.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Why a delivery failed (table AegDeliveryFailureLogs), beside the topic's metrics.
resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: systemTopic
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'DeliveryFailures'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = systemTopic.name
output id string = systemTopic.id
output principalId string = systemTopic.identity.principalId
