// One private endpoint and its DNS registration: the target's usual host name resolves to the
// endpoint's private address for everything in the linked virtual network.

@description('Azure region of the endpoint (the virtual network\'s).')
param location string

@description('Name of the private endpoint.')
param privateEndpointName string

@description('Resource id of the storage account or Translator the endpoint reaches.')
param targetResourceId string

@description('Sub-resource of the target: blob, queue, table (storage) or account (Translator).')
@allowed([
  'blob'
  'queue'
  'table'
  'account'
])
param groupId string

@description('Resource id of the subnet that holds private endpoints.')
param subnetId string

@description('Resource id of the private DNS zone for this sub-resource.')
param privateDnsZoneId string

@description('Tags applied to every resource.')
param tags object = {}

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2025-09-01' = {
  name: privateEndpointName
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: groupId
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource dnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-09-01' = {
  parent: privateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}

output id string = privateEndpoint.id
