// Log Analytics workspace and workspace-based Application Insights.
// Ingestion is Entra-only (DisableLocalAuth): the instrumentation key in the connection
// string is not enough to send telemetry, the app's identity must hold Monitoring Metrics Publisher.

@description('Azure region of the workspace and the Application Insights component.')
param location string

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Days the workspace keeps logs; 30 is included in the ingestion price.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Daily ingestion cap in GB; 0 for none. Past the cap, telemetry is dropped until the next day (alerts go blind too).')
@minValue(0)
param dailyCapGb int = 0

@description('Tags applied to every resource.')
param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    // -1 is the service's "no cap".
    workspaceCapping: {
      dailyQuotaGb: (dailyCapGb > 0) ? dailyCapGb : -1
    }
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
