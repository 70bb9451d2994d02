// Event Grid custom topic that receives the app's outcome events (OUTCOME_EVENTS=eventgrid): one
// CloudEvents 1.0 event per final record. Keys are off: the app publishes with its identity, which
// holds EventGrid Data Sender on this topic alone (roles.bicep). Consumers subscribe to it.

@description('Azure region of the topic.')
param location string

@description('Name of the custom topic.')
param topicName string

@description('Resource id of the Log Analytics workspace that receives delivery-failure logs and metrics.')
param workspaceId string

@description('Tags applied to every resource.')
param tags object = {}

resource outcomeTopic 'Microsoft.EventGrid/topics@2022-06-15' = {
  // checkov:skip=CKV_AZURE_193: consumers subscribe from outside the app's network (a subscription is Event Grid pushing out); publishing needs an Entra token (disableLocalAuth), so an open endpoint admits no anonymous or key-based sender
  name: topicName
  location: location
  tags: tags
  // An identity of its own, for subscriptions that deliver or dead-letter with it (no keys anywhere).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

// Why a delivery to a subscriber failed (table AegDeliveryFailureLogs), beside the topic's metrics.
resource outcomeTopicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: outcomeTopic
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

output name string = outcomeTopic.name
output endpoint string = outcomeTopic.properties.endpoint
