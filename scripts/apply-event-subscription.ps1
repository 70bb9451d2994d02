# Applies infra/eventgrid-subscription.bicep once the function code is running (Windows counterpart of
# apply-event-subscription.sh; same steps, same parameters): the subscriptions feeding submit_on_drop
# (source container) and notice_translation_written (the target container's .inflight/). Event Grid
# validates each webhook when its subscription is created, and only the running blob extension answers
# that handshake: wake the app, wait for the blob extension's system key, then create the subscriptions,
# retrying with back-off.
# The key itself is read inside the Bicep template and never passes through this script.
param(
    [Parameter(Mandatory = $true)][string]$ResourceGroup,
    [Parameter(Mandatory = $true)][string]$FunctionAppName,
    [Parameter(Mandatory = $true)][string]$SystemTopicName,
    [Parameter(Mandatory = $true)][string]$StorageAccountName,
    [string]$SourceContainer = 'source',
    [string]$TargetContainer = 'target',
    [string]$DeadLetterContainer = 'eventgrid-deadletter'
)
$ErrorActionPreference = 'Stop'

$repoRoot = Split-Path -Parent $PSScriptRoot
$keyAttempts = if ($env:KEY_WAIT_ATTEMPTS) { [int]$env:KEY_WAIT_ATTEMPTS } else { 30 }
$keyDelaySeconds = if ($env:KEY_WAIT_DELAY_SECONDS) { [int]$env:KEY_WAIT_DELAY_SECONDS } else { 10 }
$subscribeAttempts = if ($env:SUBSCRIBE_ATTEMPTS) { [int]$env:SUBSCRIBE_ATTEMPTS } else { 5 }
$delay = if ($env:SUBSCRIBE_FIRST_DELAY_SECONDS) { [int]$env:SUBSCRIBE_FIRST_DELAY_SECONDS } else { 15 }

# Any request wakes a Flex Consumption app that scaled to zero; the host then loads the functions.
function Invoke-WarmUp {
    $appHost = az functionapp show --resource-group $ResourceGroup --name $FunctionAppName `
        --query defaultHostName --output tsv 2>$null
    if ($appHost) {
        try { Invoke-WebRequest -Uri "https://$appHost/" -UseBasicParsing -TimeoutSec 60 | Out-Null } catch { }
    }
}

# Asks only whether the key exists (true/false): the key's value is never printed.
function Test-BlobsExtensionKey {
    $exists = az functionapp keys list --resource-group $ResourceGroup --name $FunctionAppName `
        --query "systemKeys.blobs_extension != null" --output tsv 2>$null
    return $exists -eq 'true'
}

Write-Host "    waking $FunctionAppName"
Invoke-WarmUp

$attempt = 1
while (-not (Test-BlobsExtensionKey)) {
    if ($attempt -ge $keyAttempts) {
        Write-Error ("the blobs_extension system key of $FunctionAppName did not appear; is the code published " +
            "and does function_app.py import? Check the app's logs in Application Insights, then run this script again.")
        exit 1
    }
    Write-Host "    waiting for the blob extension's system key ($attempt/$keyAttempts)"
    $attempt++
    Start-Sleep -Seconds $keyDelaySeconds
}

$attempt = 1
while ($true) {
    Invoke-WarmUp
    az deployment group create `
        --resource-group $ResourceGroup `
        --name 'drop-folder-translation-events' `
        --template-file (Join-Path $repoRoot 'infra/eventgrid-subscription.bicep') `
        --parameters `
        "functionAppName=$FunctionAppName" `
        "systemTopicName=$SystemTopicName" `
        "storageAccountName=$StorageAccountName" `
        "sourceContainerName=$SourceContainer" `
        "targetContainerName=$TargetContainer" `
        "deadLetterContainerName=$DeadLetterContainer" `
        --output none
    if ($LASTEXITCODE -eq 0) { break }
    if ($attempt -ge $subscribeAttempts) {
        Write-Error ("Event Grid could not validate the webhook of $FunctionAppName after $attempt attempts. " +
            "Check that the app runs (Application Insights), then run this script again.")
        exit 1
    }
    Write-Host "    the webhook handshake failed (attempt $attempt/$subscribeAttempts); retrying in ${delay}s"
    Start-Sleep -Seconds $delay
    $attempt++
    $delay *= 2
}
Write-Host "    subscriptions in place: blobs created in '$SourceContainer' and in '$TargetContainer/.inflight/' now reach their functions."
