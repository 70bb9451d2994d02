// Drop-folder document translation: everything except the two Event Grid subscriptions, which
// eventgrid-subscription.bicep adds once the code is published (their webhook handshakes need the
// running blob-trigger functions). Deploy with scripts/deploy.sh or `azd up`: docs/deployment.md
// explains every parameter, the options and what stays unverified without a live deployment.
targetScope = 'resourceGroup'

@description('Short prefix of every resource name: 2-10 lowercase letters or digits, starting with a letter (names get a suffix unique to the resource group).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'dtrans'

@description('Azure region of every resource; must offer Flex Consumption and Translator (a regional location, never global).')
param location string = resourceGroup().location

@description('Comma-separated target languages (at most 10), e.g. fr,de. App setting TARGET_LANGUAGES.')
param targetLanguages string = 'fr,de'

@description('Source language code; empty lets the service detect it. App setting SOURCE_LANGUAGE.')
param sourceLanguage string = ''

// The code's default (shared/settings.py). sas works the moment the deployment ends (no wait for the
// Translator's role to propagate), bounds every job's access in time and leaves the Translator with no
// standing role on user documents. managed-identity is required with privateNetworking: a firewalled
// account admits the Translator by its identity (resource-instance rule), never a SAS.
@description('How the Translator reaches storage: sas (default: short-lived user-delegation SAS URLs signed by the app) or managed-identity (its system identity holds container roles; required with privateNetworking). App setting STORAGE_ACCESS_MODE.')
@allowed([
  'sas'
  'managed-identity'
])
param storageAccessMode string = 'sas'

@description('NCRONTAB schedule of the poll function (six fields, seconds first); each tick reads only what is due. App setting POLL_SCHEDULE.')
param pollSchedule string = '0 */2 * * * *'

@description('The longest that files still arriving wait to share one job, in seconds (the first job of a bulk waits at most 5; a file dropped alone is submitted at once). App setting GROUPING_WINDOW_SECONDS.')
@minValue(0)
@maxValue(60)
param groupingWindowSeconds int = 30

@description('A new version of a translated file: replace (translate again) or keep (reject). App setting RETRANSLATE_POLICY.')
@allowed([
  'replace'
  'keep'
])
param retranslatePolicy string = 'replace'

@description('Rules per folder: <container>/<blob> of the JSON rules document (README: Rules per folder), in a container the app reads (like glossaries/rules.json); empty: no rules. App setting RULES_BLOB.')
param rulesBlob string = ''

@description('Upper bound of Flex Consumption instances (caps cost under a burst of drops).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Private networking: a virtual network with the app\'s outbound integration, private endpoints for storage and the Translator, their public access closed. Needs storageAccessMode managed-identity.')
param privateNetworking bool = false

@description('Address ranges of the virtual network and its two subnets (privateNetworking only); change them to avoid overlapping a network you peer with.')
param virtualNetworkAddresses object = {
  virtualNetwork: '10.60.0.0/22'
  appSubnet: '10.60.0.0/24'
  privateEndpointSubnet: '10.60.1.0/24'
}

@description('Public IPv4 addresses or CIDR ranges allowed to reach the documents storage account when privateNetworking is on (for example the office that uploads files).')
param allowedIpRanges array = []

@description('E-mail address that receives the alerts; empty creates the alerts without a recipient (they still show in the portal).')
param alertEmail string = ''

@description('Minutes after which an outstanding job counts as stuck: app setting STUCK_JOB_AFTER_MINUTES and the stuck-job alert threshold.')
@minValue(10)
param stuckJobAfterMinutes int = 120

@description('Zone-redundant storage (Standard_ZRS) for both accounts instead of locally redundant (Standard_LRS).')
param zoneRedundantStorage bool = false

@description('Daily ingestion cap of the Log Analytics workspace in GB; 0 for no cap.')
@minValue(0)
param logDailyCapGb int = 0

@description('Delete dropped source files this many days after their last change; 0 keeps them.')
@minValue(0)
param deleteSourcesAfterDays int = 0

@description('Delete translations this many days after they were written; 0 keeps them.')
@minValue(0)
param deleteTranslationsAfterDays int = 0

@description('Delete reports this many days after they were written; 0 keeps them.')
@minValue(0)
param deleteReportsAfterDays int = 0

@description('Tags applied to every resource.')
param tags object = {}

@description('Where each final record publishes its outcome event (App setting OUTCOME_EVENTS): queue (default: the documents account\'s translation-outcomes queue), eventgrid (creates an Event Grid custom topic, keys off, the app sending with its identity) or none.')
@allowed([
  'queue'
  'eventgrid'
  'none'
])
param outcomeEvents string = 'queue'

@description('Characters (x target languages) the app may have translated per UTC day; a file past it waits (BudgetExceeded) until the day turns or the budget is raised. Empty: no daily budget. App setting CHARACTER_BUDGET_PER_DAY.')
param characterBudgetPerDay string = ''

@description('Characters (x target languages) per UTC calendar month, as characterBudgetPerDay. Empty: no monthly budget. App setting CHARACTER_BUDGET_PER_MONTH.')
param characterBudgetPerMonth string = ''

@description('Optional price of a million characters (your currency), so that translation-ops status and the reports show spend as money. App setting PRICE_PER_MILLION_CHARACTERS.')
param pricePerMillionCharacters string = ''

// Deterministic: the same resource group gives the same names, so a second deployment updates in place.
var resourceToken = toLower(uniqueString(resourceGroup().id))
var prefix = toLower(namePrefix)

var names = {
  identity: '${prefix}-id-${resourceToken}'
  // The documents account keeps the name the single account had, so an existing deployment keeps its files.
  documentsStorage: take('${prefix}st${resourceToken}', 24)
  hostStorage: take('${prefix}fn${resourceToken}', 24)
  translator: '${prefix}-tr-${resourceToken}'
  translatorSubdomain: '${prefix}-tr-${resourceToken}'
  workspace: '${prefix}-log-${resourceToken}'
  applicationInsights: '${prefix}-appi-${resourceToken}'
  plan: '${prefix}-plan-${resourceToken}'
  functionApp: '${prefix}-func-${resourceToken}'
  systemTopic: '${prefix}-evgt-${resourceToken}'
  outcomeTopic: '${prefix}-evot-${resourceToken}'
  virtualNetwork: '${prefix}-vnet-${resourceToken}'
  actionGroup: '${prefix}-ag-${resourceToken}'
}

// The app's defaults (SETTINGS_SPEC in shared/settings.py); the infra creates exactly these.
var dataNames = {
  sourceContainer: 'source'
  targetContainer: 'target'
  glossaryContainer: 'glossaries'
  reportsContainer: 'reports'
  recordsTable: 'translationrecords'
  resultsQueue: 'translation-results'
  // A busy poll hands shards of due work to the poll_shard function through this queue.
  pollShardsQueue: 'translation-poll-shards'
  // Outcome events (OUTCOME_EVENTS=queue): one CloudEvents message per final record, for consumers.
  outcomeQueue: 'translation-outcomes'
  // The Functions blob extension moves a blob it failed to process five times here, in the
  // triggering blob's account; a queue trigger records it as needing attention.
  blobTriggerPoisonQueue: 'webjobs-blobtrigger-poison'
  // Infra-only: undeliverable blob events (an operator tool replays them), and the Flex code package.
  deadLetterContainer: 'eventgrid-deadletter'
  deploymentContainer: 'app-package'
}

// Lifecycle rules of the documents account. The translation service's per-attempt staging copies are
// always swept: the record step moves them to their final names within minutes of a job's end.
var stagingRule = [
  {
    name: 'deleteStaging'
    prefix: '${dataNames.targetContainer}/.inflight/'
    days: 7
  }
]
var sourcesRule = (deleteSourcesAfterDays > 0) ? [
  {
    name: 'deleteSources'
    prefix: '${dataNames.sourceContainer}/'
    days: deleteSourcesAfterDays
  }
] : []
var translationsRule = (deleteTranslationsAfterDays > 0) ? [
  {
    name: 'deleteTranslations'
    prefix: '${dataNames.targetContainer}/'
    days: deleteTranslationsAfterDays
  }
] : []
var reportsRule = (deleteReportsAfterDays > 0) ? [
  {
    name: 'deleteReports'
    prefix: '${dataNames.reportsContainer}/'
    days: deleteReportsAfterDays
  }
] : []
var lifecycleRules = concat(stagingRule, sourcesRule, translationsRule, reportsRule)

var storageSku = zoneRedundantStorage ? 'Standard_ZRS' : 'Standard_LRS'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: names.workspace
    applicationInsightsName: names.applicationInsights
    dailyCapGb: logDailyCapGb
    tags: tags
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    location: location
    virtualNetworkName: names.virtualNetwork
    addresses: virtualNetworkAddresses
    tags: tags
  }
}

module translator 'modules/translator.bicep' = {
  name: 'translator'
  params: {
    location: location
    translatorName: names.translator
    customSubDomainName: names.translatorSubdomain
    workspaceId: monitoring.outputs.workspaceId
    privateEndpointSubnetId: privateNetworking ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneId: privateNetworking ? network.outputs.privateDnsZoneIds.cognitiveservices : ''
    tags: tags
  }
}

// The Functions host's own storage and the code package: no user document ever lands here.
module hostStorage 'modules/storage.bicep' = {
  name: 'host-storage'
  params: {
    location: location
    storageAccountName: names.hostStorage
    skuName: storageSku
    containerNames: [
      dataNames.deploymentContainer
    ]
    workspaceId: monitoring.outputs.workspaceId
    // Only the app (through the virtual network) uses this account.
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkDefaultAction: privateNetworking ? 'Deny' : 'Allow'
    privateEndpointSubnetId: privateNetworking ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneIds: privateNetworking ? network.outputs.privateDnsZoneIds : {}
    tags: tags
  }
}

// The drop folder and everything made from it.
module documentsStorage 'modules/storage.bicep' = {
  name: 'documents-storage'
  params: {
    location: location
    storageAccountName: names.documentsStorage
    skuName: storageSku
    containerNames: [
      dataNames.sourceContainer
      dataNames.targetContainer
      dataNames.glossaryContainer
      dataNames.reportsContainer
      dataNames.deadLetterContainer
    ]
    tableNames: [
      dataNames.recordsTable
    ]
    queueNames: [
      dataNames.resultsQueue
      '${dataNames.resultsQueue}-poison'
      dataNames.blobTriggerPoisonQueue
      dataNames.pollShardsQueue
      '${dataNames.pollShardsQueue}-poison'
      dataNames.outcomeQueue
    ]
    lifecycleRules: lifecycleRules
    workspaceId: monitoring.outputs.workspaceId
    // Stays 'Enabled' with a deny-by-default firewall even when private: 'Disabled' would also shut out
    // the Translator's resource-instance rule and Event Grid's trusted-service dead-lettering.
    publicNetworkAccess: 'Enabled'
    networkDefaultAction: privateNetworking ? 'Deny' : 'Allow'
    trustedResourceIds: privateNetworking ? [
      translator.outputs.id
    ] : []
    allowedIpRanges: privateNetworking ? allowedIpRanges : []
    privateEndpointSubnetId: privateNetworking ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneIds: privateNetworking ? network.outputs.privateDnsZoneIds : {}
    tags: tags
  }
}

module eventGridTopic 'modules/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic'
  params: {
    location: location
    systemTopicName: names.systemTopic
    storageAccountName: documentsStorage.outputs.name
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module outcomeTopic 'modules/outcome-topic.bicep' = if (outcomeEvents == 'eventgrid') {
  name: 'outcome-topic'
  params: {
    location: location
    topicName: names.outcomeTopic
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  dependsOn: [
    outcomeTopic
  ]
  params: {
    hostStorageAccountName: hostStorage.outputs.name
    documentsStorageAccountName: documentsStorage.outputs.name
    sourceContainerName: dataNames.sourceContainer
    targetContainerName: dataNames.targetContainer
    glossaryContainerName: dataNames.glossaryContainer
    reportsContainerName: dataNames.reportsContainer
    deadLetterContainerName: dataNames.deadLetterContainer
    recordsTableName: dataNames.recordsTable
    translatorName: translator.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    functionPrincipalId: identity.properties.principalId
    translatorPrincipalId: translator.outputs.principalId
    eventGridPrincipalId: eventGridTopic.outputs.principalId
    grantTranslatorStorageAccess: storageAccessMode == 'managed-identity'
    outcomeTopicName: names.outcomeTopic
    grantOutcomeTopicSend: outcomeEvents == 'eventgrid'
  }
}

// Every setting the code reads (SETTINGS_SPEC). The storage connections and the host's settings
// are added by the function app module.
var appSettings = {
  SOURCE_CONTAINER: dataNames.sourceContainer
  TARGET_CONTAINER: dataNames.targetContainer
  GLOSSARY_CONTAINER: dataNames.glossaryContainer
  REPORTS_CONTAINER: dataNames.reportsContainer
  RECORDS_TABLE: dataNames.recordsTable
  RESULTS_QUEUE: dataNames.resultsQueue
  POLL_SHARDS_QUEUE: dataNames.pollShardsQueue
  OUTCOME_EVENTS: outcomeEvents
  OUTCOME_QUEUE: dataNames.outcomeQueue
  OUTCOME_TOPIC_ENDPOINT: outcomeEvents == 'eventgrid' ? outcomeTopic!.outputs.endpoint : ''
  POLL_SCHEDULE: pollSchedule
  GROUPING_WINDOW_SECONDS: string(groupingWindowSeconds)
  CATCH_UP_SCHEDULE: '0 */10 * * * *'
  CATCH_UP_AFTER_SECONDS: '600'
  STUCK_JOB_AFTER_MINUTES: string(stuckJobAfterMinutes)
  TARGET_LANGUAGES: targetLanguages
  SOURCE_LANGUAGE: sourceLanguage
  TRANSLATION_CATEGORY: ''
  RULES_BLOB: rulesBlob
  TRANSLATOR_ENDPOINT: translator.outputs.endpoint
  // Empty: the app authenticates with its identity (AZURE_CLIENT_ID); the Translator has keys disabled.
  TRANSLATOR_KEY: ''
  TRANSLATOR_REGION: location
  TRANSLATOR_API_VERSION: '2026-03-01'
  STORAGE_ACCESS_MODE: storageAccessMode
  SAS_EXPIRY_MINUTES: '240'
  RETRANSLATE_POLICY: retranslatePolicy
  // A file whose bytes and plan were translated before gets copies of those translations, no job.
  REUSE_TRANSLATIONS: 'on'
  // Character budget (shared/pipeline/budget.py): empty is no budget (and no price shown).
  CHARACTER_BUDGET_PER_DAY: characterBudgetPerDay
  CHARACTER_BUDGET_PER_MONTH: characterBudgetPerMonth
  PRICE_PER_MILLION_CHARACTERS: pricePerMillionCharacters
  SUBMIT_RECONCILE_AFTER_SECONDS: '300'
  TRANSLATOR_TIMEOUT_SECONDS: '30'
  AZURE_CLIENT_ID: identity.properties.clientId
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    planName: names.plan
    functionAppName: names.functionApp
    identityId: identity.id
    identityClientId: identity.properties.clientId
    hostStorageAccountName: hostStorage.outputs.name
    documentsStorageAccountName: documentsStorage.outputs.name
    deploymentContainerName: dataNames.deploymentContainer
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    virtualNetworkSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
    tags: tags
  }
  // The host starts as soon as the app exists: its identity should already hold its roles.
  dependsOn: [
    roles
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    actionGroupName: names.actionGroup
    alertEmail: alertEmail
    workspaceId: monitoring.outputs.workspaceId
    systemTopicId: eventGridTopic.outputs.id
    stuckJobAfterMinutes: stuckJobAfterMinutes
    tags: tags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

// Names and endpoints for scripts/deploy.sh and the azd hook (azd stores outputs as environment values).
// No key, SAS or connection string here.
output AZURE_LOCATION string = location
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_ID string = functionApp.outputs.id
output FUNCTION_APP_HOST_NAME string = functionApp.outputs.defaultHostName
output STORAGE_ACCOUNT_NAME string = documentsStorage.outputs.name
output STORAGE_ACCOUNT_ID string = documentsStorage.outputs.id
output STORAGE_BLOB_ENDPOINT string = documentsStorage.outputs.blobEndpoint
output HOST_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.name
output TRANSLATOR_NAME string = translator.outputs.name
output TRANSLATOR_ENDPOINT string = translator.outputs.endpoint
output EVENT_GRID_SYSTEM_TOPIC_NAME string = eventGridTopic.outputs.name
output SOURCE_CONTAINER string = dataNames.sourceContainer
output TARGET_CONTAINER string = dataNames.targetContainer
output DEAD_LETTER_CONTAINER string = dataNames.deadLetterContainer
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output WORKBOOK_ID string = workbook.outputs.id
