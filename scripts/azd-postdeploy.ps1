# azd `postdeploy` hook (azure.yaml, windows): after `azd deploy` has published the code, adds the
# Event Grid subscriptions (drops, and the service's staging writes). azd exposes main.bicep's outputs and AZURE_RESOURCE_GROUP as environment values.
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_RESOURCE_GROUP', 'FUNCTION_APP_NAME', 'EVENT_GRID_SYSTEM_TOPIC_NAME', 'STORAGE_ACCOUNT_NAME') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        Write-Error "$name is missing: run azd provision first"
        exit 1
    }
}
$source = if ($env:SOURCE_CONTAINER) { $env:SOURCE_CONTAINER } else { 'source' }
$target = if ($env:TARGET_CONTAINER) { $env:TARGET_CONTAINER } else { 'target' }
$deadLetter = if ($env:DEAD_LETTER_CONTAINER) { $env:DEAD_LETTER_CONTAINER } else { 'eventgrid-deadletter' }

& (Join-Path $PSScriptRoot 'apply-event-subscription.ps1') `
    -ResourceGroup $env:AZURE_RESOURCE_GROUP `
    -FunctionAppName $env:FUNCTION_APP_NAME `
    -SystemTopicName $env:EVENT_GRID_SYSTEM_TOPIC_NAME `
    -StorageAccountName $env:STORAGE_ACCOUNT_NAME `
    -SourceContainer $source `
    -TargetContainer $target `
    -DeadLetterContainer $deadLetter
exit $LASTEXITCODE
