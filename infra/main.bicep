// Drop-folder document translation: everything except the Event Grid subscription, which
// eventgrid-subscription.bicep adds once the code is published (its webhook handshake needs the
// running blob-trigger function). Deploy with scripts/deploy.sh or `azd up` (docs/deployment.md).
targetScope = 'resourceGroup'

@description('Short prefix of every resource name: 2-10 lowercase letters or digits (names get a suffix unique to the resource group).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'dtrans'

@description('Azure region of every resource; must offer Flex Consumption and Translator (a regional location, never global).')
param location string = resourceGroup().location

@description('Comma-separated target languages (at most 10), e.g. fr,de. App setting TARGET_LANGUAGES.')
param targetLanguages string = 'fr,de'

@description('Source language code; empty lets the service detect it. App setting SOURCE_LANGUAGE.')
param sourceLanguage string = ''

@description('How the Translator reaches storage: managed-identity (its system identity holds a blob role) or sas (user-delegation SAS URLs signed by the app). App setting STORAGE_ACCESS_MODE.')
@allowed([
  'managed-identity'
  'sas'
])
param storageAccessMode string = 'managed-identity'

@description('NCRONTAB schedule of the poll function (six fields, seconds first). App setting POLL_SCHEDULE.')
param pollSchedule string = '0 */1 * * * *'

@description('A new version of a translated file: replace (translate again) or keep (reject). App setting RETRANSLATE_POLICY.')
@allowed([
  'replace'
  'keep'
])
param retranslatePolicy string = 'replace'

@description('Upper bound of Flex Consumption instances (caps cost under a burst of drops).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Tags applied to every resource.')
param tags object = {}

// Deterministic: the same resource group gives the same names, so a second deployment updates in place.
var resourceToken = toLower(uniqueString(resourceGroup().id))
var prefix = toLower(namePrefix)

var names = {
  identity: '${prefix}-id-${resourceToken}'
  storageAccount: take('${replace(prefix, '-', '')}st${resourceToken}', 24)
  translator: '${prefix}-tr-${resourceToken}'
  translatorSubdomain: '${prefix}-tr-${resourceToken}'
  workspace: '${prefix}-log-${resourceToken}'
  applicationInsights: '${prefix}-appi-${resourceToken}'
  plan: '${prefix}-plan-${resourceToken}'
  functionApp: '${prefix}-func-${resourceToken}'
  systemTopic: '${prefix}-evgt-${resourceToken}'
}

// The app's defaults (SETTINGS_SPEC in shared/settings.py); the infra creates exactly these.
var dataNames = {
  sourceContainer: 'source'
  targetContainer: 'target'
  glossaryContainer: 'glossaries'
  reportsContainer: 'reports'
  jobsTable: 'translationjobs'
  resultsQueue: 'translation-results'
  // Infra-only containers: undeliverable blob events, and the Flex Consumption code package.
  deadLetterContainer: 'eventgrid-deadletter'
  deploymentContainer: 'app-package'
}

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
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: names.storageAccount
    containerNames: [
      dataNames.sourceContainer
      dataNames.targetContainer
      dataNames.glossaryContainer
      dataNames.reportsContainer
      dataNames.deadLetterContainer
      dataNames.deploymentContainer
    ]
    tableNames: [
      dataNames.jobsTable
    ]
    queueNames: [
      dataNames.resultsQueue
      '${dataNames.resultsQueue}-poison'
    ]
    workspaceId: monitoring.outputs.workspaceId
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
    tags: tags
  }
}

module eventGridTopic 'modules/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic'
  params: {
    location: location
    systemTopicName: names.systemTopic
    storageAccountName: storage.outputs.name
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: dataNames.deadLetterContainer
    translatorName: translator.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    functionPrincipalId: identity.properties.principalId
    translatorPrincipalId: translator.outputs.principalId
    eventGridPrincipalId: eventGridTopic.outputs.principalId
    grantTranslatorStorageAccess: storageAccessMode == 'managed-identity'
  }
}

// Every setting the code reads (SETTINGS_SPEC). The storage connection and the host's settings
// are added by the function app module.
var appSettings = {
  SOURCE_CONTAINER: dataNames.sourceContainer
  TARGET_CONTAINER: dataNames.targetContainer
  GLOSSARY_CONTAINER: dataNames.glossaryContainer
  REPORTS_CONTAINER: dataNames.reportsContainer
  JOBS_TABLE: dataNames.jobsTable
  RESULTS_QUEUE: dataNames.resultsQueue
  POLL_SCHEDULE: pollSchedule
  TARGET_LANGUAGES: targetLanguages
  SOURCE_LANGUAGE: sourceLanguage
  TRANSLATION_CATEGORY: ''
  TRANSLATOR_ENDPOINT: translator.outputs.endpoint
  // Empty: the app authenticates with its identity (AZURE_CLIENT_ID); the Translator has keys disabled.
  TRANSLATOR_KEY: ''
  TRANSLATOR_REGION: location
  TRANSLATOR_API_VERSION: '2026-03-01'
  STORAGE_ACCESS_MODE: storageAccessMode
  SAS_EXPIRY_MINUTES: '240'
  RETRANSLATE_POLICY: retranslatePolicy
  SUBMIT_RECONCILE_AFTER_SECONDS: '300'
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
    storageAccountName: storage.outputs.name
    deploymentContainerName: dataNames.deploymentContainer
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    tags: tags
  }
  // The host starts as soon as the app exists: its identity should already hold its roles.
  dependsOn: [
    roles
  ]
}

// Names and endpoints for scripts/deploy.sh and the azd hook (azd stores outputs as environment values).
// No key, SAS or connection string here.
output AZURE_LOCATION string = location
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_ID string = functionApp.outputs.id
output FUNCTION_APP_HOST_NAME string = functionApp.outputs.defaultHostName
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STORAGE_ACCOUNT_ID string = storage.outputs.id
output STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output TRANSLATOR_NAME string = translator.outputs.name
output TRANSLATOR_ENDPOINT string = translator.outputs.endpoint
output EVENT_GRID_SYSTEM_TOPIC_NAME string = eventGridTopic.outputs.name
output SOURCE_CONTAINER string = dataNames.sourceContainer
output TARGET_CONTAINER string = dataNames.targetContainer
output DEAD_LETTER_CONTAINER string = dataNames.deadLetterContainer
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
