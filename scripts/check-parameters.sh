#!/bin/sh
# Refuses parameter combinations the templates cannot honour, before anything is created.
# Reads the same environment as infra/main.bicepparam. Used by scripts/deploy.sh and by azd's
# preprovision hook (azure.yaml); POSIX sh so azd can run it wherever it finds one.
set -eu

fail() {
  echo "error: $1" >&2
  exit 2
}

prefix="${NAME_PREFIX:-dtrans}"
case "$prefix" in
  [a-z]*) ;;
  *) fail "NAME_PREFIX '$prefix' must start with a lowercase letter (storage account names derive from it)" ;;
esac
case "$prefix" in
  *[!a-z0-9]*) fail "NAME_PREFIX '$prefix' may hold only lowercase letters and digits" ;;
esac
if [ "${#prefix}" -lt 2 ] || [ "${#prefix}" -gt 10 ]; then
  fail "NAME_PREFIX '$prefix' must be 2-10 characters long"
fi

mode="${STORAGE_ACCESS_MODE:-sas}"
case "$mode" in
  sas | managed-identity) ;;
  *) fail "STORAGE_ACCESS_MODE '$mode' must be sas or managed-identity" ;;
esac

private="${PRIVATE_NETWORKING:-false}"
case "$private" in
  true | false) ;;
  *) fail "PRIVATE_NETWORKING '$private' must be true or false" ;;
esac
if [ "$private" = "true" ] && [ "$mode" != "managed-identity" ]; then
  fail "PRIVATE_NETWORKING=true needs STORAGE_ACCESS_MODE=managed-identity: the storage firewall admits the Translator by its identity (resource-instance rule), never a SAS"
fi

for name in STUCK_JOB_AFTER_MINUTES GROUPING_WINDOW_SECONDS LOG_DAILY_CAP_GB DELETE_SOURCES_AFTER_DAYS DELETE_TRANSLATIONS_AFTER_DAYS DELETE_REPORTS_AFTER_DAYS CHARACTER_BUDGET_PER_DAY CHARACTER_BUDGET_PER_MONTH; do
  eval "value=\${$name:-0}"
  case "$value" in
    '' | *[!0-9]*) fail "$name '$value' must be a whole number" ;;
  esac
done
if [ "${GROUPING_WINDOW_SECONDS:-30}" -gt 60 ]; then
  fail "GROUPING_WINDOW_SECONDS '${GROUPING_WINDOW_SECONDS}' must be 60 or less: files would wait that long for their job"
fi
