// Parameters for main.bicep. Values come from the environment so scripts/deploy.sh and
// `azd env set NAME value` drive the same file; the second argument is the default, the same as
// main.bicep's (docs/deployment.md lists them all).
// The location is the resource group's (scripts/deploy.sh creates the group in the region you name).
using './main.bicep'

param namePrefix = readEnvironmentVariable('NAME_PREFIX', 'dtrans')
param targetLanguages = readEnvironmentVariable('TARGET_LANGUAGES', 'fr,de')
param sourceLanguage = readEnvironmentVariable('SOURCE_LANGUAGE', '')
param storageAccessMode = readEnvironmentVariable('STORAGE_ACCESS_MODE', 'sas')
param pollSchedule = readEnvironmentVariable('POLL_SCHEDULE', '0 */2 * * * *')
param groupingWindowSeconds = int(readEnvironmentVariable('GROUPING_WINDOW_SECONDS', '30'))
param retranslatePolicy = readEnvironmentVariable('RETRANSLATE_POLICY', 'replace')
param rulesBlob = readEnvironmentVariable('RULES_BLOB', '')
param privateNetworking = bool(readEnvironmentVariable('PRIVATE_NETWORKING', 'false'))
param allowedIpRanges = empty(readEnvironmentVariable('ALLOWED_IP_RANGES', '')) ? [] : split(readEnvironmentVariable('ALLOWED_IP_RANGES', ''), ',')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
param stuckJobAfterMinutes = int(readEnvironmentVariable('STUCK_JOB_AFTER_MINUTES', '120'))
param zoneRedundantStorage = bool(readEnvironmentVariable('ZONE_REDUNDANT_STORAGE', 'false'))
param logDailyCapGb = int(readEnvironmentVariable('LOG_DAILY_CAP_GB', '0'))
param deleteSourcesAfterDays = int(readEnvironmentVariable('DELETE_SOURCES_AFTER_DAYS', '0'))
param deleteTranslationsAfterDays = int(readEnvironmentVariable('DELETE_TRANSLATIONS_AFTER_DAYS', '0'))
param deleteReportsAfterDays = int(readEnvironmentVariable('DELETE_REPORTS_AFTER_DAYS', '0'))
param outcomeEvents = readEnvironmentVariable('OUTCOME_EVENTS', 'queue')
param characterBudgetPerDay = readEnvironmentVariable('CHARACTER_BUDGET_PER_DAY', '')
param characterBudgetPerMonth = readEnvironmentVariable('CHARACTER_BUDGET_PER_MONTH', '')
param pricePerMillionCharacters = readEnvironmentVariable('PRICE_PER_MILLION_CHARACTERS', '')
param tags = {
  workload: 'drop-folder-translation'
}
