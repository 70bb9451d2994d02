// The function app on the Flex Consumption plan: Python 3.11, one user-assigned identity for
// everything (host storage, bindings, deployment package, Translator calls, telemetry), no keys.
// Flex Consumption rejects many App Service site properties (functions-app-settings, "Flex
// Consumption plan deprecations"; tests/infra/test_flex_consumption.py keeps them out).

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

@description('Name of the host storage account (AzureWebJobsStorage and the deployment package).')
param hostStorageAccountName string

@description('Name of the documents storage account (the bindings\' TRANSLATION_STORAGE connection).')
param documentsStorageAccountName string

@description('Blob container of the host storage account that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('The settings the app code reads (SETTINGS_SPEC in shared/settings.py); connection and host settings are added here.')
param appSettings object

@description('Upper bound of instances the plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

// Measured, not guessed: under a 10,000-file bulk the process running every function peaks at about
// 760 MiB (`make bench`: "peak memory of the process running every function"), so 512 MB does not fit;
// 2,048 MB leaves more than twice that. 512 suits an app that only ever sees small drops.
@description('Memory of each instance in MB (2048: a 10,000-file bulk peaks at about 760 MiB; 512 for small drops only).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Subnet (delegated to Microsoft.App/environments) for outbound virtual network integration; empty for none.')
param virtualNetworkSubnetId string = ''

@description('Tags applied to every resource; the app also gets the azd service tag.')
param tags object = {}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource documentsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: documentsStorageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy of a Flex Consumption plan depends on region support; the storage accounts carry the zone-redundancy switch (zoneRedundantStorage)
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
  // checkov:skip=CKV_AZURE_222: Event Grid delivers blob events to the blob extension's webhook on the public endpoint; it needs the blobs_extension system key, and no other HTTP function exists
  // checkov:skip=CKV_AZURE_17: Event Grid webhook delivery cannot present a client certificate
  // checkov:skip=CKV_AZURE_18: Flex Consumption rejects site properties outside its supported set; HTTP/2 brings nothing to a webhook receiving one event per call
  // checkov:skip=CKV_AZURE_67: same as CKV_AZURE_18 (HTTP version)
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design; failover comes from the platform, not a minimum instance count
  // checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState (FTPS not supported); FTP publishing is off through basicPublishingCredentialsPolicies 'ftp' (allow: false) below
  // checkov:skip=CKV_AZURE_213: no HTTP endpoint of our own to probe; the host's health is watched by the failed-execution alert
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
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
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
  // checkov:skip=CKV_AZURE_13: no user-facing HTTP endpoint; the only HTTP route is the blob extension's webhook, authorised by its system key (Easy Auth would reject Event Grid)
  // checkov:skip=CKV_AZURE_222: see the site: Event Grid needs the public webhook
  // checkov:skip=CKV_AZURE_88: Azure Files is not used by Flex Consumption (the package lives in a blob container)
  // checkov:skip=CKV_AZURE_63: App Service HTTP logs do not exist on Flex Consumption; requests and traces go to Application Insights
  // checkov:skip=CKV_AZURE_65: detailed error pages are an App Service web feature, not available on Flex Consumption
  // checkov:skip=CKV_AZURE_66: failed request tracing is an App Service web feature, not available on Flex Consumption
  // checkov:skip=CKV_AZURE_80: a Python app; .NET Framework versions do not apply
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, {
    // The host's own storage, identity-based, on the host account.
    AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: hostStorage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // The bindings' connection (connection="TRANSLATION_STORAGE"), identity-based, on the documents account.
    TRANSLATION_STORAGE__blobServiceUri: documentsStorage.properties.primaryEndpoints.blob
    TRANSLATION_STORAGE__queueServiceUri: documentsStorage.properties.primaryEndpoints.queue
    TRANSLATION_STORAGE__tableServiceUri: documentsStorage.properties.primaryEndpoints.table
    TRANSLATION_STORAGE__credential: 'managedidentity'
    TRANSLATION_STORAGE__clientId: identityClientId
    // The connection string only locates the component; ingestion is authorised by the identity.
    // The host and the Azure Monitor exporter both read the authentication string.
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // The Functions OpenTelemetry guide's setting: the worker sets the distro up before it imports the
    // app, which then leaves it be (shared/telemetry.py). PYTHON_ENABLE_OPENTELEMETRY stays out: see
    // docs/deployment.md (worker 4.34 sets the distro up twice; later builds fail invocations).
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  })
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
