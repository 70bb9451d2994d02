// The Translator resource that runs Document Translation batches.
// Regional (never 'global') with a custom subdomain: both are required for Entra-token calls,
// for the service to reach storage with its system-assigned identity, and for a private endpoint.

@description('Azure region of the Translator resource; a regional location, never global.')
param location string

@description('Name of the Translator resource.')
param translatorName string

@description('Globally unique custom subdomain: the endpoint becomes https://<subdomain>.cognitiveservices.azure.com.')
param customSubDomainName string

@description('Resource id of the Log Analytics workspace that receives the Translator logs and metrics.')
param workspaceId string

@description('Subnet for a private endpoint; empty keeps the public endpoint open (still Entra-only).')
param privateEndpointSubnetId string = ''

@description('Resource id of the privatelink.cognitiveservices.azure.com zone (with privateEndpointSubnetId).')
param privateDnsZoneId string = ''

@description('Tags applied to every resource.')
param tags object = {}

var isPrivate = !empty(privateEndpointSubnetId)

resource translator 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134: public network access is Disabled when main.bicep's privateNetworking is on; otherwise the endpoint takes Entra tokens only (disableLocalAuth)
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
    // Private: only the app, through the private endpoint, reaches the API.
    publicNetworkAccess: isPrivate ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: isPrivate ? 'Deny' : 'Allow'
    }
  }
}

module privateEndpoint 'private-endpoint.bicep' = if (isPrivate) {
  name: '${translatorName}-pe'
  params: {
    location: location
    privateEndpointName: '${translatorName}-pe'
    targetResourceId: translator.id
    groupId: 'account'
    subnetId: privateEndpointSubnetId
    privateDnsZoneId: privateDnsZoneId
    tags: tags
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
