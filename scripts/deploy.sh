#!/usr/bin/env bash
# Deploys the drop-folder translation service into one resource group, end to end:
# infrastructure (infra/main.bicep), the function code (Core Tools), then the Event Grid
# subscription that feeds the blob trigger (infra/eventgrid-subscription.bicep).
# Running it again with the same arguments converges to the same state: names are derived
# from the resource group, deployment names are fixed, nothing random is generated.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh RESOURCE_GROUP LOCATION [NAME_PREFIX]

  RESOURCE_GROUP  resource group to create or reuse (e.g. rg-doc-translation)
  LOCATION        Azure region offering Flex Consumption and Translator (e.g. swedencentral)
  NAME_PREFIX     2-10 lowercase letters/digits starting every resource name (default: dtrans)

Optional environment (read by infra/main.bicepparam; defaults in brackets):
  TARGET_LANGUAGES [fr,de]   SOURCE_LANGUAGE []   STORAGE_ACCESS_MODE [managed-identity|sas]
  POLL_SCHEDULE [0 */1 * * * *]   RETRANSLATE_POLICY [replace|keep]

Needs: az (logged in: az login), Bicep (az bicep install), Azure Functions Core Tools v4 (func).
See the README, section "Deploying to Azure".
USAGE
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  usage
  exit 0
fi
if [[ $# -lt 2 || $# -gt 3 ]]; then
  usage >&2
  exit 2
fi

RESOURCE_GROUP="$1"
LOCATION="$2"
export NAME_PREFIX="${3:-dtrans}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN_DEPLOYMENT="drop-folder-translation"

for tool in az func; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is not on PATH; see the README, "Deploying to Azure" / Prerequisites." >&2
    exit 1
  fi
done
if ! az account show --output none 2>/dev/null; then
  echo "error: not logged in to Azure; run 'az login' (and 'az account set --subscription ...')." >&2
  exit 1
fi

echo "==> Registering resource providers (no-op when already registered)"
for namespace in Microsoft.Web Microsoft.Storage Microsoft.CognitiveServices Microsoft.EventGrid \
  Microsoft.Insights Microsoft.OperationalInsights Microsoft.ManagedIdentity; do
  az provider register --namespace "$namespace" --wait --output none
done

echo "==> Resource group $RESOURCE_GROUP in $LOCATION"
az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none

echo "==> Infrastructure (infra/main.bicep)"
az deployment group create \
  --resource-group "$RESOURCE_GROUP" \
  --name "$MAIN_DEPLOYMENT" \
  --template-file "$REPO_ROOT/infra/main.bicep" \
  --parameters "$REPO_ROOT/infra/main.bicepparam" \
  --output none

deployment_output() {
  az deployment group show \
    --resource-group "$RESOURCE_GROUP" \
    --name "$MAIN_DEPLOYMENT" \
    --query "properties.outputs.$1.value" \
    --output tsv
}

FUNCTION_APP_NAME="$(deployment_output FUNCTION_APP_NAME)"
STORAGE_ACCOUNT_NAME="$(deployment_output STORAGE_ACCOUNT_NAME)"
EVENT_GRID_SYSTEM_TOPIC_NAME="$(deployment_output EVENT_GRID_SYSTEM_TOPIC_NAME)"
SOURCE_CONTAINER="$(deployment_output SOURCE_CONTAINER)"
DEAD_LETTER_CONTAINER="$(deployment_output DEAD_LETTER_CONTAINER)"

echo "==> Publishing the function code to $FUNCTION_APP_NAME"
(cd "$REPO_ROOT" && func azure functionapp publish "$FUNCTION_APP_NAME" --python)

echo "==> Event Grid subscription (infra/eventgrid-subscription.bicep)"
"$REPO_ROOT/scripts/apply-event-subscription.sh" \
  "$RESOURCE_GROUP" "$FUNCTION_APP_NAME" "$EVENT_GRID_SYSTEM_TOPIC_NAME" \
  "$STORAGE_ACCOUNT_NAME" "$SOURCE_CONTAINER" "$DEAD_LETTER_CONTAINER"

cat <<DONE
==> Done.
Drop a file:  az storage blob upload --auth-mode login --account-name $STORAGE_ACCOUNT_NAME \\
                --container-name $SOURCE_CONTAINER --name hello.docx --file ./hello.docx
Translations appear in container 'target' and a report in 'reports'.
(Your own account needs a data role such as Storage Blob Data Contributor to upload: see the README, "Deploying to Azure".)
DONE
