// Second step, applied after the code is published: the two Event Grid subscriptions that feed the
// blob triggers (source=EventGrid): drops into the source container reach submit_on_drop, and the
// service's staging writes under the target container's .inflight/ reach notice_translation_written
// (so a job is recorded when its last translation is written, not at the next poll). Creating them
// earlier fails: Event Grid validates each webhook with a handshake that only the running blob
// extension answers, and the extension's system key (blobs_extension) exists only once the host has
// loaded the functions.
targetScope = 'resourceGroup'

@description('Name of the function app (output FUNCTION_APP_NAME of main.bicep).')
param functionAppName string

@description('Name of the Event Grid system topic on the storage account (output EVENT_GRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Name of the documents storage account, which holds the dead-letter container (output STORAGE_ACCOUNT_NAME).')
param storageAccountName string

@description('Container users drop files into (output SOURCE_CONTAINER; app setting SOURCE_CONTAINER).')
param sourceContainerName string = 'source'

@description('Container the service writes translations into, first under .inflight/ (output TARGET_CONTAINER; app setting TARGET_CONTAINER).')
param targetContainerName string = 'target'

@description('Container that receives events Event Grid could not deliver (output DEAD_LETTER_CONTAINER).')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Name of the blob-trigger function in function_app.py that drops into the source container feed.')
param dropFunctionName string = 'submit_on_drop'

@description('Name of the blob-trigger function in function_app.py that the service\'s staging writes (target container, .inflight/) feed.')
param writtenFunctionName string = 'notice_translation_written'

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying an event before dead-lettering it.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

// The key is read here, at deployment time, and goes straight into the endpoint URL, which Event Grid
// stores as a secret: it is never a parameter, an output or a value in a script.
var blobsExtensionKey = listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension

// One subscription per Event Grid blob trigger; each prefix ends inside '/blobs/' so that no other
// container whose name merely starts the same (source-archive, target-old) ever matches.
var subscriptions = [
  {
    functionName: dropFunctionName
    subjectBeginsWith: '/blobServices/default/containers/${sourceContainerName}/blobs/'
  }
  {
    functionName: writtenFunctionName
    subjectBeginsWith: '/blobServices/default/containers/${targetContainerName}/blobs/.inflight/'
  }
]

resource blobCreatedSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for subscription in subscriptions: {
    parent: systemTopic
    // Event subscription names allow letters, digits and hyphens only.
    name: '${replace(subscription.functionName, '_', '-')}-blob-created'
    properties: {
      destination: {
        endpointType: 'WebHook'
        properties: {
          endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${subscription.functionName}&code=${blobsExtensionKey}'
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      eventDeliverySchema: 'EventGridSchema'
      filter: {
        includedEventTypes: [
          'Microsoft.Storage.BlobCreated'
        ]
        // Blob names are case-sensitive: '.INFLIGHT/x' is not a staging write.
        subjectBeginsWith: subscription.subjectBeginsWith
        isSubjectCaseSensitive: true
        // Only writes that commit a whole blob, as Storage's event guidance advises: on an account with
        // a hierarchical namespace a file's CreateFile raises BlobCreated before its data is flushed.
        advancedFilters: [
          {
            operatorType: 'StringIn'
            key: 'data.api'
            values: [
              'PutBlob'
              'PutBlockList'
              'CopyBlob'
              'FlushWithClose'
            ]
          }
        ]
      }
      retryPolicy: {
        maxDeliveryAttempts: maxDeliveryAttempts
        eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      }
      // Identity-based (shared keys are off): the topic's identity holds Storage Blob Data Contributor
      // on this container only (modules/roles.bicep), whichever subscription dead-letters.
      deadLetterWithResourceIdentity: {
        identity: {
          type: 'SystemAssigned'
        }
        deadLetterDestination: {
          endpointType: 'StorageBlob'
          properties: {
            resourceId: storageAccount.id
            blobContainerName: deadLetterContainerName
          }
        }
      }
    }
  }
]

// The names the alerts' EventSubscriptionName dimension reports (modules/alerts.bicep).
output dropSubscriptionName string = blobCreatedSubscriptions[0].name
output writtenSubscriptionName string = blobCreatedSubscriptions[1].name
