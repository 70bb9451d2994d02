#!/usr/bin/env bash
# Applies infra/eventgrid-subscription.bicep once the function code is running.
# Event Grid validates the webhook when the subscription is created, and the blob extension's
# system key only exists after the host has loaded the blob-trigger function: wait for it first.
# The key itself is read inside the Bicep template and never passes through this script.
set -euo pipefail

if [[ $# -ne 6 ]]; then
  echo "Usage: $0 RESOURCE_GROUP FUNCTION_APP_NAME SYSTEM_TOPIC_NAME STORAGE_ACCOUNT_NAME SOURCE_CONTAINER DEAD_LETTER_CONTAINER" >&2
  exit 2
fi

RESOURCE_GROUP="$1"
FUNCTION_APP_NAME="$2"
SYSTEM_TOPIC_NAME="$3"
STORAGE_ACCOUNT_NAME="$4"
SOURCE_CONTAINER="$5"
DEAD_LETTER_CONTAINER="$6"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ATTEMPTS="${KEY_WAIT_ATTEMPTS:-30}"
DELAY_SECONDS="${KEY_WAIT_DELAY_SECONDS:-10}"

# Asks only whether the key exists (true/false): the key's value is never printed.
blobs_extension_key_exists() {
  az functionapp keys list \
    --resource-group "$RESOURCE_GROUP" \
    --name "$FUNCTION_APP_NAME" \
    --query "systemKeys.blobs_extension != null" \
    --output tsv 2>/dev/null
}

attempt=1
until [[ "$(blobs_extension_key_exists || true)" == "true" ]]; do
  if ((attempt >= ATTEMPTS)); then
    echo "error: the blobs_extension system key of $FUNCTION_APP_NAME did not appear; is the code published" \
      "and does function_app.py import? Check the app's logs in Application Insights, then run this script again." >&2
    exit 1
  fi
  echo "    waiting for the blob extension's system key ($attempt/$ATTEMPTS)"
  attempt=$((attempt + 1))
  sleep "$DELAY_SECONDS"
done

az deployment group create \
  --resource-group "$RESOURCE_GROUP" \
  --name "drop-folder-translation-events" \
  --template-file "$REPO_ROOT/infra/eventgrid-subscription.bicep" \
  --parameters \
    functionAppName="$FUNCTION_APP_NAME" \
    systemTopicName="$SYSTEM_TOPIC_NAME" \
    storageAccountName="$STORAGE_ACCOUNT_NAME" \
    sourceContainerName="$SOURCE_CONTAINER" \
    deadLetterContainerName="$DEAD_LETTER_CONTAINER" \
  --output none
echo "    subscription in place: blobs created in '$SOURCE_CONTAINER' now reach the function."
