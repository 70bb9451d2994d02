// The function app on the Flex Consumption plan: Python 3.11, one user-assigned identity for
// everything (host storage, bindings, deployment package, Translator calls, telemetry), no keys.

@description('Azure region of the plan and the app (a region that offers Flex Consumption).')
param location string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app (its host name is <name>.azurewebsites.net).')
param functionAppName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: tells the Azure SDKs and the host which identity to use.')
param identityClientId string

@description('Name of the storage account (AzureWebJobsStorage and the TRANSLATION_STORAGE connection).')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('The settings the app code reads (SETTINGS_SPEC in shared/settings.py); connection and host settings are added here.')
param appSettings object

@description('Upper bound of instances the plan scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Tags applied to every resource; the app also gets the azd service tag.')
param tags object = {}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
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

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
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
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Deployments go through Entra-authenticated publishing (Core Tools, azd); no FTP or Kudu passwords.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// Not FUNCTIONS_WORKER_RUNTIME nor FUNCTIONS_EXTENSION_VERSION: Flex Consumption takes the runtime
// from functionAppConfig and rejects those settings.
resource appSettingsConfig 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, {
    // The host's own storage, identity-based.
    AzureWebJobsStorage__accountName: storageAccount.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // The bindings' connection (connection="TRANSLATION_STORAGE"), identity-based.
    TRANSLATION_STORAGE__blobServiceUri: storageAccount.properties.primaryEndpoints.blob
    TRANSLATION_STORAGE__queueServiceUri: storageAccount.properties.primaryEndpoints.queue
    TRANSLATION_STORAGE__tableServiceUri: storageAccount.properties.primaryEndpoints.table
    TRANSLATION_STORAGE__credential: 'managedidentity'
    TRANSLATION_STORAGE__clientId: identityClientId
    // The connection string only locates the component; ingestion is authorised by the identity.
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  })
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
