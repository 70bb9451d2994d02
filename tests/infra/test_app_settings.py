"""The function app's settings in Bicep are exactly the settings the code and the Functions host read."""

from __future__ import annotations

import pytest

from shared.settings import SETTINGS_SPEC, STORAGE_CONNECTION
from tests.infra.bicep_tree import ParamRef, dotted, function_call, module_params, parse, resolve, single
from tests.infra.declared_functions import declared_functions

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}
IDENTITY_CONNECTION_KEYS = {
    f"{STORAGE_CONNECTION}__{suffix}"
    for suffix in ("blobServiceUri", "queueServiceUri", "tableServiceUri", "credential", "clientId")
}
HOST_SETTINGS_ALLOWED = {
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
}


def _module_settings() -> dict:
    """The object the function app module merges into the passed-in app settings."""
    config = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites/config").body
    assert config["name"] == "appsettings"
    merged = function_call(config["properties"], "union")
    assert merged is not None and merged["arg_1"] == "appSettings", "the module must merge the appSettings parameter"
    return merged["arg_2"]


def _code_settings() -> dict:
    main = parse("main.bicep")
    passed = module_params(main, "functionApp")["appSettings"]
    assert isinstance(passed, str) and passed in main["variables"], "main passes its appSettings variable"
    return main["variables"][passed]["value"]


def test_settings_are_exactly_what_the_code_and_the_host_read():
    code, module = _code_settings(), _module_settings()
    assert not set(code) & set(module), "a setting is defined twice"
    names = set(code) | set(module)
    missing = ({spec.name for spec in SETTINGS_SPEC} | IDENTITY_CONNECTION_KEYS) - names
    unexpected = names - {spec.name for spec in SETTINGS_SPEC} - IDENTITY_CONNECTION_KEYS - HOST_SETTINGS_ALLOWED
    assert missing == set()
    assert unexpected == set()
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in names and "AzureWebJobsStorage__credential" in names


def test_no_runtime_settings_flex_consumption_rejects():
    names = set(_code_settings()) | set(_module_settings())
    assert "FUNCTIONS_WORKER_RUNTIME" not in names
    assert "FUNCTIONS_EXTENSION_VERSION" not in names


def test_storage_connections_are_identity_based_on_the_apps_identity():
    module = _module_settings()
    assert module[f"{STORAGE_CONNECTION}__credential"] == "managedidentity"
    assert module[f"{STORAGE_CONNECTION}__clientId"] == "identityClientId"
    assert module["AzureWebJobsStorage__credential"] == "managedidentity"
    assert module["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        # The bindings reach user documents; the host keeps its own state in the other account.
        uri = dotted(module[f"{STORAGE_CONNECTION}__{service}ServiceUri"])
        assert uri == f"documentsStorage.properties.primaryEndpoints.{service}"
        host_uri = dotted(module[f"AzureWebJobsStorage__{service}ServiceUri"])
        assert host_uri == f"hostStorage.properties.primaryEndpoints.{service}"
    assert module["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    assert not any("AccountKey" in str(value) for value in module.values())


def test_translator_is_called_with_the_identity_not_a_key():
    main = parse("main.bicep")
    code = _code_settings()
    assert code["TRANSLATOR_KEY"] == ""
    assert dotted(code["TRANSLATOR_ENDPOINT"]) == "translator.outputs.endpoint"
    identity = single(main, "Microsoft.ManagedIdentity/userAssignedIdentities").symbol
    assert dotted(code["AZURE_CLIENT_ID"]) == f"{identity}.properties.clientId"
    endpoint = parse("modules/translator.bicep")["outputs"]["endpoint"]["value"]
    assert endpoint == "https://${customSubDomainName}.cognitiveservices.azure.com"


@pytest.mark.parametrize(
    "name",
    [
        "SOURCE_CONTAINER",
        "TARGET_CONTAINER",
        "GLOSSARY_CONTAINER",
        "REPORTS_CONTAINER",
        "RECORDS_TABLE",
        "RESULTS_QUEUE",
        "POLL_SHARDS_QUEUE",
        "OUTCOME_QUEUE",
    ],
)
def test_storage_names_are_the_app_defaults(name):
    main = parse("main.bicep")
    assert resolve(main, _code_settings()[name]) == DEFAULTS[name]


@pytest.mark.parametrize(
    "name",
    [
        "TRANSLATION_CATEGORY",
        "TRANSLATOR_API_VERSION",
        "SAS_EXPIRY_MINUTES",
        "SUBMIT_RECONCILE_AFTER_SECONDS",
        "TRANSLATOR_TIMEOUT_SECONDS",
        "CATCH_UP_SCHEDULE",
        "CATCH_UP_AFTER_SECONDS",
    ],
)
def test_fixed_settings_keep_the_app_defaults(name):
    assert _code_settings()[name] == DEFAULTS[name]


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("POLL_SCHEDULE", "pollSchedule"),
        ("TARGET_LANGUAGES", "targetLanguages"),
        ("SOURCE_LANGUAGE", "sourceLanguage"),
        ("RETRANSLATE_POLICY", "retranslatePolicy"),
        ("RULES_BLOB", "rulesBlob"),
    ],
)
def test_tunable_settings_come_from_parameters_defaulting_to_the_app_defaults(name, parameter):
    main = parse("main.bicep")
    assert resolve(main, _code_settings()[name]) == ParamRef(parameter)
    assert main["parameters"][parameter]["default"] == DEFAULTS[name]


def test_the_grouping_window_comes_from_a_bounded_parameter_defaulting_to_the_apps():
    main = parse("main.bicep")
    value = function_call(_code_settings()["GROUPING_WINDOW_SECONDS"], "string")
    assert value == {"value_to_convert": "groupingWindowSeconds"}
    parameter = main["parameters"]["groupingWindowSeconds"]
    assert str(parameter["default"]) == DEFAULTS["GROUPING_WINDOW_SECONDS"]
    bounds = {decorator["type"]: decorator["argument"] for decorator in parameter["decorators"]}
    assert (bounds["min_value"], bounds["max_value"]) == (0, 60)


def test_stuck_job_threshold_comes_from_the_parameter_the_alert_also_reads():
    main = parse("main.bicep")
    value = function_call(_code_settings()["STUCK_JOB_AFTER_MINUTES"], "string")
    assert value == {"value_to_convert": "stuckJobAfterMinutes"}
    assert str(main["parameters"]["stuckJobAfterMinutes"]["default"]) == DEFAULTS["STUCK_JOB_AFTER_MINUTES"]
    assert module_params(main, "alerts")["stuckJobAfterMinutes"] == "stuckJobAfterMinutes"


def test_storage_access_defaults_to_the_codes_default_with_managed_identity_as_the_alternative():
    main = parse("main.bicep")
    assert resolve(main, _code_settings()["STORAGE_ACCESS_MODE"]) == ParamRef("storageAccessMode")
    parameter = main["parameters"]["storageAccessMode"]
    assert parameter["default"] == DEFAULTS["STORAGE_ACCESS_MODE"] == "sas"
    allowed = next(decorator["argument"] for decorator in parameter["decorators"] if decorator["type"] == "allowed")
    assert sorted(allowed) == ["managed-identity", "sas"]
    description = next(d["argument"] for d in parameter["decorators"] if d["type"] == "description")
    assert "sas (default" in description


def test_telemetry_settings_give_the_python_worker_opentelemetry_with_entra_ingestion():
    module = _module_settings()
    # The guide's setting: the worker configures the distro (and the app leaves it be).
    assert module["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    # Worker 4.34 configures the distro a second time with it; later builds fail invocations (#1881).
    assert "PYTHON_ENABLE_OPENTELEMETRY" not in set(_code_settings()) | set(module)
    assert module["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    assert dotted(module["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == (
        "applicationInsights.properties.ConnectionString"
    )


def test_every_setting_a_binding_names_is_deployed():
    names = set(_code_settings()) | set(_module_settings())
    for function_name, bindings in declared_functions().items():
        for binding in bindings:
            for key, value in binding.items():
                if isinstance(value, str) and value.count("%") >= 2:
                    setting = value.split("%")[1]
                    assert setting in names, f"{function_name}.{key} reads %{setting}%, which Bicep does not set"
                if key == "connection":
                    assert f"{value}__blobServiceUri" in names and f"{value}__credential" in names


def test_blob_trigger_is_event_grid_sourced_as_flex_consumption_requires():
    blob_triggers = [
        binding
        for bindings in declared_functions().values()
        for binding in bindings
        if binding["type"] == "blobTrigger"
    ]
    assert blob_triggers, "function_app.py declares no blob trigger"
    assert all(binding.get("source") == "EventGrid" for binding in blob_triggers)
