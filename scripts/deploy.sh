#!/usr/bin/env bash
# Deploys the drop-folder translation service into one resource group, end to end:
# infrastructure (infra/main.bicep), the function code (Core Tools), then the Event Grid
# subscriptions that feed the two blob triggers (infra/eventgrid-subscription.bicep).
# Running it again with the same arguments converges to the same state: names are derived
# from the resource group, deployment names are fixed, nothing random is generated.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh RESOURCE_GROUP LOCATION [NAME_PREFIX]

  RESOURCE_GROUP  resource group to create or reuse (e.g. rg-doc-translation)
  LOCATION        Azure region offering Flex Consumption and Translator (e.g. swedencentral)
  NAME_PREFIX     2-10 lowercase letters/digits, starting with a letter (default: dtrans)

Optional environment (read by infra/main.bicepparam; defaults in brackets; docs/deployment.md):
  TARGET_LANGUAGES [fr,de]   SOURCE_LANGUAGE []   STORAGE_ACCESS_MODE [sas|managed-identity]
  POLL_SCHEDULE [0 */2 * * * *]   GROUPING_WINDOW_SECONDS [30]   RETRANSLATE_POLICY [replace|keep]
  PRIVATE_NETWORKING [false|true] (needs STORAGE_ACCESS_MODE=managed-identity)   ALLOWED_IP_RANGES []
  ALERT_EMAIL []   STUCK_JOB_AFTER_MINUTES [120]   ZONE_REDUNDANT_STORAGE [false]   LOG_DAILY_CAP_GB [0]
  DELETE_SOURCES_AFTER_DAYS [0]   DELETE_TRANSLATIONS_AFTER_DAYS [0]   DELETE_REPORTS_AFTER_DAYS [0]

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
export NAME_PREFIX="${3:-${NAME_PREFIX:-dtrans}}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN_DEPLOYMENT="drop-folder-translation"

# Before any tool or login check: a bad value is the user's to fix, whatever else is missing.
sh "$REPO_ROOT/scripts/check-parameters.sh"

for tool in az func; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is not on PATH; see the README, \"Deploying to Azure\" / Prerequisites." >&2
    exit 1
  fi
done
if ! az account show --output none 2>/dev/null; then
  echo "error: not logged in to Azure; run 'az login' (and 'az account set --subscription ...')." >&2
  exit 1
fi

# Registering a provider needs subscription-level rights; someone with rights on one resource group
# only cannot, and needs not when an administrator registered them already. Only what is not
# registered is attempted, and a refusal is a warning: the deployment names what is really missing.
echo "==> Resource providers"
for namespace in Microsoft.Web Microsoft.App Microsoft.Storage Microsoft.CognitiveServices Microsoft.EventGrid \
  Microsoft.Insights Microsoft.OperationalInsights Microsoft.ManagedIdentity Microsoft.Network; do
  state="$(az provider show --namespace "$namespace" --query registrationState --output tsv 2>/dev/null || true)"
  if [[ "$state" == "Registered" ]]; then
    continue
  fi
  echo "    registering $namespace (state: ${state:-unknown})"
  if ! az provider register --namespace "$namespace" --wait --output none 2>/dev/null; then
    echo "warning: could not register $namespace (subscription-level rights needed); carrying on." \
      "If the deployment fails on it, ask an administrator to run: az provider register --namespace $namespace" >&2
  fi
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
TARGET_CONTAINER="$(deployment_output TARGET_CONTAINER)"
DEAD_LETTER_CONTAINER="$(deployment_output DEAD_LETTER_CONTAINER)"

echo "==> Publishing the function code to $FUNCTION_APP_NAME"
(cd "$REPO_ROOT" && func azure functionapp publish "$FUNCTION_APP_NAME" --python)

echo "==> Event Grid subscriptions (infra/eventgrid-subscription.bicep)"
"$REPO_ROOT/scripts/apply-event-subscription.sh" \
  "$RESOURCE_GROUP" "$FUNCTION_APP_NAME" "$EVENT_GRID_SYSTEM_TOPIC_NAME" \
  "$STORAGE_ACCOUNT_NAME" "$SOURCE_CONTAINER" "$TARGET_CONTAINER" "$DEAD_LETTER_CONTAINER"

cat <<DONE
==> Done.
Drop a file:  az storage blob upload --auth-mode login --account-name $STORAGE_ACCOUNT_NAME \\
                --container-name $SOURCE_CONTAINER --name hello.docx --file ./hello.docx
Translations appear in container '$TARGET_CONTAINER' and a report in 'reports'.
(Your own account needs a data role such as Storage Blob Data Contributor to upload: see the README, "Deploying to Azure".)
DONE
