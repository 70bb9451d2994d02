// One storage account; main.bicep deploys it twice: the Functions host's account (AzureWebJobsStorage
// and the Flex code package) and the documents account (drop folder, translations, reports, records,
// queues). Every client reaches it with Entra identities: shared keys are off, so no connection
// string with an account key exists anywhere.

@description('Azure region of the storage account.')
param location string

@description('Globally unique storage account name: 3-24 lowercase letters and digits.')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Redundancy: Standard_LRS, or Standard_ZRS to survive the loss of a zone.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param skuName string = 'Standard_LRS'

@description('Blob containers to create.')
param containerNames array

@description('Tables to create.')
param tableNames array = []

@description('Queues to create.')
param queueNames array = []

@description('Lifecycle rules: objects {name, prefix (container/path), days}; blobs under prefix are deleted days after their last change.')
param lifecycleRules array = []

@description('Days a deleted blob or container can still be restored.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 7

@description('Resource id of the Log Analytics workspace that receives the storage logs and metrics.')
param workspaceId string

@description('Enabled, or Disabled to accept private-endpoint traffic only.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Firewall default for the public endpoint: Allow, or Deny to admit only the rules below and trusted Azure services.')
@allowed([
  'Allow'
  'Deny'
])
param networkDefaultAction string = 'Allow'

@description('Resource ids (same tenant) admitted through the firewall by their managed identity: resource-instance rules.')
param trustedResourceIds array = []

@description('Public IPv4 addresses or CIDR ranges admitted through the firewall.')
param allowedIpRanges array = []

@description('Subnet for the blob, queue and table private endpoints; empty for none.')
param privateEndpointSubnetId string = ''

@description('Private DNS zone ids by service (blob, queue, table) the endpoints register in.')
param privateDnsZoneIds object = {}

@description('Tags applied to every resource.')
param tags object = {}

var privateServices = empty(privateEndpointSubnetId) ? [] : [
  'blob'
  'queue'
  'table'
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the firewall denies by default when main.bicep's privateNetworking is on; otherwise every request still needs an Entra token with a data role (shared keys are off)
  // checkov:skip=CKV_AZURE_59: same as CKV_AZURE_35: public access is closed (host account) or deny-by-default (documents account) with privateNetworking
  // checkov:skip=CKV_AZURE_206: Standard_ZRS when main.bicep's zoneRedundantStorage is on; locally redundant by default to keep a small deployment cheap
  // checkov:skip=CKV_AZURE_43: the name is a parameter (main.bicep derives it from letters and digits; @minLength/@maxLength bound it), which the check cannot evaluate
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      // Event Grid writes dead letters as a trusted service with its identity.
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      resourceAccessRules: [
        for resourceId in trustedResourceIds: {
          tenantId: tenant().tenantId
          resourceId: resourceId
        }
      ]
      ipRules: [
        for range in allowedIpRanges: {
          value: range
          action: 'Allow'
        }
      ]
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
  properties: {
    // A user who deletes a dropped file or a translation by mistake can undelete it.
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

// Deletions by these rules go through soft delete like any other.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (!empty(lifecycleRules)) {
  parent: storageAccount
  name: 'default'
  properties: {
    policy: {
      rules: [
        for rule in lifecycleRules: {
          enabled: true
          name: rule.name
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                rule.prefix
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: rule.days
                }
              }
            }
          }
        }
      ]
    }
  }
}

module privateEndpoints 'private-endpoint.bicep' = [
  for service in privateServices: {
    name: '${storageAccountName}-${service}-pe'
    params: {
      location: location
      privateEndpointName: '${storageAccountName}-${service}-pe'
      targetResourceId: storageAccount.id
      groupId: service
      subnetId: privateEndpointSubnetId
      privateDnsZoneId: privateDnsZoneIds[service]
      tags: tags
    }
  }
]

// Storage logs live on each service; the account itself only has metrics.
resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storageAccount
  properties: {
    workspaceId: workspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

output name string = storageAccount.name
output id string = storageAccount.id
output blobEndpoint string = storageAccount.properties.primaryEndpoints.blob
output queueEndpoint string = storageAccount.properties.primaryEndpoints.queue
output tableEndpoint string = storageAccount.properties.primaryEndpoints.table
