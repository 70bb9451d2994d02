#!/usr/bin/env bash
# Applies infra/eventgrid-subscription.bicep once the function code is running: its two subscriptions
# feed submit_on_drop (drops into the source container) and notice_translation_written (the service's
# staging writes under the target container's .inflight/).
# Event Grid validates each webhook when its subscription is created, and only the running blob
# extension answers that handshake; its system key exists once the host has loaded the blob-trigger
# functions. So: wake the app, wait for the key, then create the subscriptions, retrying with back-off
# while a cold or scaling app misses the handshake.
# The key itself is read inside the Bicep template and never passes through this script.
set -euo pipefail

if [[ $# -ne 7 ]]; then
  echo "Usage: $0 RESOURCE_GROUP FUNCTION_APP_NAME SYSTEM_TOPIC_NAME STORAGE_ACCOUNT_NAME SOURCE_CONTAINER TARGET_CONTAINER DEAD_LETTER_CONTAINER" >&2
  exit 2
fi

RESOURCE_GROUP="$1"
FUNCTION_APP_NAME="$2"
SYSTEM_TOPIC_NAME="$3"
STORAGE_ACCOUNT_NAME="$4"
SOURCE_CONTAINER="$5"
TARGET_CONTAINER="$6"
DEAD_LETTER_CONTAINER="$7"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEY_ATTEMPTS="${KEY_WAIT_ATTEMPTS:-30}"
KEY_DELAY_SECONDS="${KEY_WAIT_DELAY_SECONDS:-10}"
SUBSCRIBE_ATTEMPTS="${SUBSCRIBE_ATTEMPTS:-5}"
SUBSCRIBE_FIRST_DELAY_SECONDS="${SUBSCRIBE_FIRST_DELAY_SECONDS:-15}"

# Any request wakes a Flex Consumption app that scaled to zero; the host then loads the functions.
warm_up() {
  local host
  host="$(az functionapp show --resource-group "$RESOURCE_GROUP" --name "$FUNCTION_APP_NAME" \
    --query defaultHostName --output tsv 2>/dev/null || true)"
  if [[ -n "$host" ]] && command -v curl >/dev/null 2>&1; then
    curl --silent --output /dev/null --max-time 60 "https://$host/" || true
  fi
}

# Asks only whether the key exists (true/false): the key's value is never printed.
blobs_extension_key_exists() {
  az functionapp keys list \
    --resource-group "$RESOURCE_GROUP" \
    --name "$FUNCTION_APP_NAME" \
    --query "systemKeys.blobs_extension != null" \
    --output tsv 2>/dev/null
}

echo "    waking $FUNCTION_APP_NAME"
warm_up

attempt=1
until [[ "$(blobs_extension_key_exists || true)" == "true" ]]; do
  if ((attempt >= KEY_ATTEMPTS)); then
    echo "error: the blobs_extension system key of $FUNCTION_APP_NAME did not appear; is the code published" \
      "and does function_app.py import? Check the app's logs in Application Insights, then run this script again." >&2
    exit 1
  fi
  echo "    waiting for the blob extension's system key ($attempt/$KEY_ATTEMPTS)"
  attempt=$((attempt + 1))
  sleep "$KEY_DELAY_SECONDS"
done

delay="$SUBSCRIBE_FIRST_DELAY_SECONDS"
attempt=1
while true; do
  warm_up
  if az deployment group create \
    --resource-group "$RESOURCE_GROUP" \
    --name "drop-folder-translation-events" \
    --template-file "$REPO_ROOT/infra/eventgrid-subscription.bicep" \
    --parameters \
    functionAppName="$FUNCTION_APP_NAME" \
    systemTopicName="$SYSTEM_TOPIC_NAME" \
    storageAccountName="$STORAGE_ACCOUNT_NAME" \
    sourceContainerName="$SOURCE_CONTAINER" \
    targetContainerName="$TARGET_CONTAINER" \
    deadLetterContainerName="$DEAD_LETTER_CONTAINER" \
    --output none; then
    break
  fi
  if ((attempt >= SUBSCRIBE_ATTEMPTS)); then
    echo "error: Event Grid could not validate the webhook of $FUNCTION_APP_NAME after $attempt attempts." \
      "Check that the app runs (Application Insights), then run this script again." >&2
    exit 1
  fi
  echo "    the webhook handshake failed (attempt $attempt/$SUBSCRIBE_ATTEMPTS); retrying in ${delay}s"
  sleep "$delay"
  attempt=$((attempt + 1))
  delay=$((delay * 2))
done
echo "    subscriptions in place: blobs created in '$SOURCE_CONTAINER' and in '$TARGET_CONTAINER/.inflight/' now reach their functions."
