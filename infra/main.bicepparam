// Parameters for main.bicep. Values come from the environment so scripts/deploy.sh and
// `azd env set NAME value` drive the same file; the second argument is the default.
// The location is the resource group's (scripts/deploy.sh creates the group in the region you name).
using './main.bicep'

param namePrefix = readEnvironmentVariable('NAME_PREFIX', 'dtrans')
param targetLanguages = readEnvironmentVariable('TARGET_LANGUAGES', 'fr,de')
param sourceLanguage = readEnvironmentVariable('SOURCE_LANGUAGE', '')
param storageAccessMode = readEnvironmentVariable('STORAGE_ACCESS_MODE', 'managed-identity')
param pollSchedule = readEnvironmentVariable('POLL_SCHEDULE', '0 */1 * * * *')
param retranslatePolicy = readEnvironmentVariable('RETRANSLATE_POLICY', 'replace')
param tags = {
  workload: 'drop-folder-translation'
}
