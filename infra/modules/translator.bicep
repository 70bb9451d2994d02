// The Translator resource that runs Document Translation batches.
// Regional (never 'global') with a custom subdomain: both are required for Entra-token calls
// and for the service to reach storage with its system-assigned identity.

@description('Azure region of the Translator resource; a regional location, never global.')
param location string

@description('Name of the Translator resource.')
param translatorName string

@description('Globally unique custom subdomain: the endpoint becomes https://<subdomain>.cognitiveservices.azure.com.')
param customSubDomainName string

@description('Resource id of the Log Analytics workspace that receives the Translator logs and metrics.')
param workspaceId string

@description('Tags applied to every resource.')
param tags object = {}

resource translator 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: translatorName
  location: location
  tags: tags
  kind: 'TextTranslation'
  // S1: the free tier (F0) cannot run document translation.
  sku: {
    name: 'S1'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: customSubDomainName
    // Keys are off: the function app calls with its managed identity (Cognitive Services User).
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource translatorDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: translator
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
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = translator.name
output id string = translator.id
output principalId string = translator.identity.principalId
// Document Translation is only served on the custom-domain host, not on the global text endpoint
// that properties.endpoint may return for this kind.
output endpoint string = 'https://${customSubDomainName}.cognitiveservices.azure.com'
