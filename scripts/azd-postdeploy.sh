#!/bin/sh
# azd `postdeploy` hook (azure.yaml, posix): after `azd deploy` has published the code, adds the Event
# Grid subscriptions (drops, and the service's staging writes). azd exposes main.bicep's outputs and AZURE_RESOURCE_GROUP as environment values.
# POSIX sh: azd runs posix hooks with sh, which is dash on Debian and Ubuntu.
set -eu

: "${AZURE_RESOURCE_GROUP:?azd did not provide AZURE_RESOURCE_GROUP}"
: "${FUNCTION_APP_NAME:?run azd provision first: output FUNCTION_APP_NAME is missing}"
: "${EVENT_GRID_SYSTEM_TOPIC_NAME:?output EVENT_GRID_SYSTEM_TOPIC_NAME is missing}"
: "${STORAGE_ACCOUNT_NAME:?output STORAGE_ACCOUNT_NAME is missing}"

bash "$(dirname "$0")/apply-event-subscription.sh" \
  "$AZURE_RESOURCE_GROUP" "$FUNCTION_APP_NAME" "$EVENT_GRID_SYSTEM_TOPIC_NAME" \
  "$STORAGE_ACCOUNT_NAME" "${SOURCE_CONTAINER:-source}" "${TARGET_CONTAINER:-target}" \
  "${DEAD_LETTER_CONTAINER:-eventgrid-deadletter}"
