# Windows counterpart of check-parameters.sh (azd preprovision hook): refuses parameter combinations
# the templates cannot honour, before anything is created.
$ErrorActionPreference = 'Stop'

function Stop-WithError([string]$message) {
    Write-Error $message
    exit 2
}

$prefix = if ($env:NAME_PREFIX) { $env:NAME_PREFIX } else { 'dtrans' }
if ($prefix -cnotmatch '^[a-z][a-z0-9]{1,9}$') {
    Stop-WithError "NAME_PREFIX '$prefix' must be 2-10 lowercase letters or digits, starting with a letter"
}

$mode = if ($env:STORAGE_ACCESS_MODE) { $env:STORAGE_ACCESS_MODE } else { 'sas' }
if ($mode -cnotin @('sas', 'managed-identity')) {
    Stop-WithError "STORAGE_ACCESS_MODE '$mode' must be sas or managed-identity"
}

$private = if ($env:PRIVATE_NETWORKING) { $env:PRIVATE_NETWORKING } else { 'false' }
if ($private -cnotin @('true', 'false')) {
    Stop-WithError "PRIVATE_NETWORKING '$private' must be true or false"
}
if ($private -eq 'true' -and $mode -ne 'managed-identity') {
    Stop-WithError ("PRIVATE_NETWORKING=true needs STORAGE_ACCESS_MODE=managed-identity: the storage firewall " +
        "admits the Translator by its identity (resource-instance rule), never a SAS")
}

foreach ($name in 'STUCK_JOB_AFTER_MINUTES', 'GROUPING_WINDOW_SECONDS', 'LOG_DAILY_CAP_GB', 'DELETE_SOURCES_AFTER_DAYS', 'DELETE_TRANSLATIONS_AFTER_DAYS', 'DELETE_REPORTS_AFTER_DAYS', 'CHARACTER_BUDGET_PER_DAY', 'CHARACTER_BUDGET_PER_MONTH') {
    $value = [Environment]::GetEnvironmentVariable($name)
    if ($value -and $value -notmatch '^[0-9]+$') {
        Stop-WithError "$name '$value' must be a whole number"
    }
}
$window = [Environment]::GetEnvironmentVariable('GROUPING_WINDOW_SECONDS')
if ($window -and [int]$window -gt 60) {
    Stop-WithError "GROUPING_WINDOW_SECONDS '$window' must be 60 or less: files would wait that long for their job"
}

