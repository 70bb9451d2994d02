"""What a reviewer checks by hand in each resource: security flags, SKUs, names the app expects."""

from __future__ import annotations

import pytest

from shared.settings import SETTINGS_SPEC
from tests.infra.bicep_tree import (
    INFRA,
    ParamRef,
    dotted,
    function_call,
    module_params,
    parse,
    resolve,
    resources,
    single,
)

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}


def _storage_module_lists(module: str, param: str) -> list:
    main = parse("main.bicep")
    return resolve(main, module_params(main, module).get(param, []))


def test_storage_accounts_allow_only_entra_https_tls12_private_access():
    account = single(parse("modules/storage.bicep"), "Microsoft.Storage/storageAccounts").body["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["supportsHttpsTrafficOnly"] is True
    assert account["allowBlobPublicAccess"] is False


def test_blob_and_container_soft_delete_are_on():
    blob_service = single(parse("modules/storage.bicep"), "Microsoft.Storage/storageAccounts/blobServices").body
    properties = blob_service["properties"]
    assert properties["deleteRetentionPolicy"]["enabled"] is True
    assert properties["containerDeleteRetentionPolicy"]["enabled"] is True


def test_documents_account_holds_the_app_containers_table_and_queues_by_their_default_names():
    containers = set(_storage_module_lists("documentsStorage", "containerNames"))
    assert {
        DEFAULTS["SOURCE_CONTAINER"],
        DEFAULTS["TARGET_CONTAINER"],
        DEFAULTS["GLOSSARY_CONTAINER"],
        DEFAULTS["REPORTS_CONTAINER"],
        "eventgrid-deadletter",
    } == containers
    assert _storage_module_lists("documentsStorage", "tableNames") == [DEFAULTS["RECORDS_TABLE"]]
    assert set(_storage_module_lists("documentsStorage", "queueNames")) == {
        DEFAULTS["RESULTS_QUEUE"],
        f"{DEFAULTS['RESULTS_QUEUE']}-poison",
        # The Functions blob extension's poison queue, in the triggering blob's account.
        "webjobs-blobtrigger-poison",
        DEFAULTS["POLL_SHARDS_QUEUE"],
        f"{DEFAULTS['POLL_SHARDS_QUEUE']}-poison",
        # Outcome events for consumers (OUTCOME_EVENTS=queue); nothing in the app reads it, so no poison twin.
        DEFAULTS["OUTCOME_QUEUE"],
    }


def test_host_account_holds_only_the_code_package_and_no_user_data():
    main = parse("main.bicep")
    assert _storage_module_lists("hostStorage", "containerNames") == [
        resolve(main, module_params(main, "functionApp")["deploymentContainerName"])
    ]
    assert _storage_module_lists("hostStorage", "tableNames") == []
    assert _storage_module_lists("hostStorage", "queueNames") == []
    names = main["variables"]["names"]["value"]
    assert names["hostStorage"] != names["documentsStorage"]
    app = module_params(main, "functionApp")
    assert dotted(app["hostStorageAccountName"]) == "hostStorage.outputs.name"
    assert dotted(app["documentsStorageAccountName"]) == "documentsStorage.outputs.name"
    site = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body
    package = site["properties"]["functionAppConfig"]["deployment"]["storage"]["value"]
    assert package == "${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}"


def test_storage_module_creates_one_resource_per_listed_name():
    storage = parse("modules/storage.bicep")
    for resource_type, listed in (
        ("Microsoft.Storage/storageAccounts/blobServices/containers", "containerNames"),
        ("Microsoft.Storage/storageAccounts/tableServices/tables", "tableNames"),
        ("Microsoft.Storage/storageAccounts/queueServices/queues", "queueNames"),
    ):
        resource = single(storage, resource_type)
        assert resource.loop is not None and resource.loop["detail"]["array_name"] == listed
        assert resource.body["name"] == resource.loop["detail"]["item_name"]


def _rule(main, variable: str) -> dict:
    value = main["variables"][variable]["value"]
    if isinstance(value, list):
        return value[0]
    return value["operator"]["operands"]["true_value"][0]


def test_staging_copies_are_always_deleted_after_seven_days():
    main = parse("main.bicep")
    staging = _rule(main, "stagingRule")
    assert main["variables"]["stagingRule"]["value"] == [staging]  # unconditional
    assert resolve(main, staging["prefix"]) == f"{DEFAULTS['TARGET_CONTAINER']}/.inflight/"
    assert staging["days"] == 7


@pytest.mark.parametrize(
    ("variable", "parameter", "container"),
    [
        ("sourcesRule", "deleteSourcesAfterDays", "SOURCE_CONTAINER"),
        ("translationsRule", "deleteTranslationsAfterDays", "TARGET_CONTAINER"),
        ("reportsRule", "deleteReportsAfterDays", "REPORTS_CONTAINER"),
    ],
)
def test_retention_rules_are_off_by_default_and_follow_their_parameter(variable, parameter, container):
    main = parse("main.bicep")
    assert main["parameters"][parameter]["default"] == 0
    operands = main["variables"][variable]["value"]["operator"]["operands"]
    assert operands["condition"] == {
        "operator": {"type": "greater_than", "operands": {"operand_1": parameter, "operand_2": 0}}
    }
    assert operands["false_value"] == []
    rule = _rule(main, variable)
    assert resolve(main, rule["prefix"]) == f"{DEFAULTS[container]}/"
    assert rule["days"] == parameter
    rules = function_call(main["variables"]["lifecycleRules"]["value"], "concat")
    assert variable in rules.values() and "stagingRule" in rules.values()
    assert module_params(main, "documentsStorage")["lifecycleRules"] == "lifecycleRules"


def test_lifecycle_policy_deletes_block_blobs_under_each_prefix():
    policy = single(parse("modules/storage.bicep"), "Microsoft.Storage/storageAccounts/managementPolicies")
    assert policy.body["name"] == "default"
    assert policy.condition == {
        "operator": {
            "type": "not",
            "operands": {
                "bool_value": {"function": {"type": "empty", "parameters": {"item_to_test": "lifecycleRules"}}}
            },
        }
    }
    rules = policy.body["properties"]["policy"]["rules"]
    assert rules["loop_type"]["detail"] == {"item_name": "rule", "array_name": "lifecycleRules"}
    rule = rules["config"]
    assert dotted(rule["definition"]["filters"]["prefixMatch"][0]) == "rule.prefix"
    delete = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert dotted(delete["daysAfterModificationGreaterThan"]) == "rule.days"


def test_production_switches_are_parameters_off_by_default():
    main = parse("main.bicep")
    assert main["parameters"]["zoneRedundantStorage"]["default"] is False
    assert main["parameters"]["logDailyCapGb"]["default"] == 0
    sku = main["variables"]["storageSku"]["value"]["operator"]["operands"]
    assert sku == {"condition": "zoneRedundantStorage", "true_value": "Standard_ZRS", "false_value": "Standard_LRS"}
    for module in ("hostStorage", "documentsStorage"):
        assert module_params(main, module)["skuName"] == "storageSku"
    assert module_params(main, "monitoring")["dailyCapGb"] == "logDailyCapGb"
    workspace = single(parse("modules/monitoring.bicep"), "Microsoft.OperationalInsights/workspaces").body
    cap = workspace["properties"]["workspaceCapping"]["dailyQuotaGb"]["operator"]["operands"]
    assert cap["true_value"] == "dailyCapGb"
    assert cap["false_value"] == {"operator": {"type": "minus", "operands": {"integer_value": 1}}}


def test_translator_is_a_regional_s1_text_translation_account_with_keys_off():
    translator = single(parse("modules/translator.bicep"), "Microsoft.CognitiveServices/accounts").body
    assert translator["kind"] == "TextTranslation"
    assert translator["sku"]["name"] == "S1"
    assert translator["identity"]["type"] == "SystemAssigned"
    assert translator["properties"]["disableLocalAuth"] is True
    assert translator["properties"]["customSubDomainName"] == "customSubDomainName"
    assert translator["location"] == "location"


def test_translator_gets_the_deployment_region_and_a_subdomain():
    main = parse("main.bicep")
    params = module_params(main, "translator")
    assert resolve(main, params["location"]) == ParamRef("location")
    location = main["parameters"]["location"]
    assert dotted(location["default"]) is None and "resource_group" in str(location["default"])
    assert not any(
        "global" in str(decorator["argument"]).lower()
        for decorator in location["decorators"]
        if decorator["type"] == "allowed"
    )
    assert "global" not in (INFRA / "main.bicepparam").read_text().lower()
    subdomain = resolve(main, params["customSubDomainName"])
    assert isinstance(subdomain, str) and "${resourceToken}" in subdomain


def test_function_app_runs_python_311_on_flex_consumption_with_its_identity():
    app_module = parse("modules/functionapp.bicep")
    plan = single(app_module, "Microsoft.Web/serverfarms").body
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = single(app_module, "Microsoft.Web/sites").body
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    properties = site["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"] == {"minTlsVersion": "1.2"}
    config = properties["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    assert config["deployment"]["storage"]["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    assert set(config["scaleAndConcurrency"]) >= {"maximumInstanceCount", "instanceMemoryMB"}


def test_function_app_allows_no_basic_auth_publishing():
    policies = resources(parse("modules/functionapp.bicep"), "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {policy.body["name"]: policy.body["properties"]["allow"] for policy in policies} == {
        "ftp": False,
        "scm": False,
    }


def test_main_runs_the_app_as_the_identity_that_holds_the_roles():
    main = parse("main.bicep")
    app = module_params(main, "functionApp")
    roles = module_params(main, "roles")
    identity = single(main, "Microsoft.ManagedIdentity/userAssignedIdentities").symbol
    assert dotted(app["identityId"]) == f"{identity}.id"
    assert dotted(app["identityClientId"]) == f"{identity}.properties.clientId"
    assert dotted(roles["functionPrincipalId"]) == f"{identity}.properties.principalId"


def test_application_insights_is_workspace_based_with_entra_only_ingestion():
    monitoring = parse("modules/monitoring.bicep")
    workspace = single(monitoring, "Microsoft.OperationalInsights/workspaces")
    component = single(monitoring, "Microsoft.Insights/components").body["properties"]
    assert component["DisableLocalAuth"] is True
    assert dotted(component["WorkspaceResourceId"]) == f"{workspace.symbol}.id"


def test_storage_services_and_translator_send_logs_to_the_workspace():
    storage = parse("modules/storage.bicep")
    scoped = {}
    for setting in resources(storage, "Microsoft.Insights/diagnosticSettings"):
        scope_type = next(r.type for r in resources(storage, existing=None) if r.symbol == setting.body["scope"])
        scoped[scope_type.rsplit("/", 1)[-1]] = setting.body["properties"]
    for service in ("blobServices", "queueServices", "tableServices"):
        assert service in scoped, f"no diagnostic setting on {service}"
        assert scoped[service]["workspaceId"] == "workspaceId"
        assert any(log["enabled"] for log in scoped[service]["logs"])
        assert any(metric["enabled"] for metric in scoped[service]["metrics"])
    translator = parse("modules/translator.bicep")
    setting = single(translator, "Microsoft.Insights/diagnosticSettings").body
    assert setting["scope"] == single(translator, "Microsoft.CognitiveServices/accounts").symbol
    assert setting["properties"]["workspaceId"] == "workspaceId"
    assert any(log["enabled"] for log in setting["properties"]["logs"])
    topic = parse("modules/eventgrid-topic.bicep")
    setting = single(topic, "Microsoft.Insights/diagnosticSettings").body
    assert setting["scope"] == single(topic, "Microsoft.EventGrid/systemTopics").symbol
    assert setting["properties"]["logs"] == [{"category": "DeliveryFailures", "enabled": True}]
    main = parse("main.bicep")
    for module in ("hostStorage", "documentsStorage", "translator", "eventGridTopic"):
        assert dotted(module_params(main, module)["workspaceId"]) == "monitoring.outputs.workspaceId"
