// Private networking (main.bicep's privateNetworking): a virtual network whose first subnet carries the
// Flex Consumption app's outbound traffic and whose second holds the private endpoints of both storage
// accounts and of the Translator, with the private DNS zones that make their usual host names resolve
// to those endpoints inside the network.

@description('Azure region of the virtual network.')
param location string

@description('Name of the virtual network.')
param virtualNetworkName string

@description('Address ranges: virtualNetwork, appSubnet (the app\'s outbound integration) and privateEndpointSubnet.')
param addresses object = {
  virtualNetwork: '10.60.0.0/22'
  appSubnet: '10.60.0.0/24'
  privateEndpointSubnet: '10.60.1.0/24'
}

@description('Tags applied to every resource.')
param tags object = {}

// Blob, queue and table zones follow the cloud's storage suffix; the Translator's custom subdomain
// lives under cognitiveservices.azure.com in the public cloud.
var dnsZoneNames = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.cognitiveservices.azure.com'
]

resource appSubnetNsg 'Microsoft.Network/networkSecurityGroups@2025-09-01' = {
  name: '${virtualNetworkName}-app-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource privateEndpointSubnetNsg 'Microsoft.Network/networkSecurityGroups@2025-09-01' = {
  name: '${virtualNetworkName}-pe-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource virtualNetwork 'Microsoft.Network/virtualNetworks@2025-09-01' = {
  name: virtualNetworkName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addresses.virtualNetwork
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: addresses.appSubnet
          networkSecurityGroup: {
            id: appSubnetNsg.id
          }
          // Flex Consumption integrates through a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: addresses.privateEndpointSubnet
          networkSecurityGroup: {
            id: privateEndpointSubnetNsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in dnsZoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource dnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zoneName, index) in dnsZoneNames: {
    parent: dnsZones[index]
    name: virtualNetworkName
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: virtualNetwork.id
      }
    }
  }
]

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', virtualNetwork.name, 'app')
output privateEndpointSubnetId string = resourceId(
  'Microsoft.Network/virtualNetworks/subnets',
  virtualNetwork.name,
  'private-endpoints'
)
// In the order of dnsZoneNames.
output privateDnsZoneIds object = {
  blob: dnsZones[0].id
  queue: dnsZones[1].id
  table: dnsZones[2].id
  cognitiveservices: dnsZones[3].id
}
