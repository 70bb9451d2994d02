// An Azure Monitor workbook over the app's telemetry: files per day by outcome, characters charged,
// failures by reason code, outstanding jobs and their age, time from drop to final record.
// Its queries live in ../workbooks/translation.workbook.json (edit it in the portal, export, commit).

@description('Azure region of the workbook.')
param location string

@description('Resource id of the Log Analytics workspace the queries run against.')
param workspaceId string

@description('Tags applied to every resource.')
param tags object = {}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook names are GUIDs; derived from the group so a redeployment updates the same one.
  name: guid(resourceGroup().id, 'drop-folder-translation-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Drop-folder translation'
    category: 'workbook'
    sourceId: workspaceId
    serializedData: loadTextContent('../workbooks/translation.workbook.json')
  }
}

output id string = workbook.id
