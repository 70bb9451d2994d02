"""Every identity holds exactly the roles the flow needs, on the narrowest scope, under a stable name.

Least privilege: the app's identity holds broad data roles only on the host account (no user
document there); on the documents account each blob role is scoped to the container it serves.
"""

from __future__ import annotations

import pytest

from shared.settings import SETTINGS_SPEC
from tests.infra.bicep_tree import dotted, function_call, module_params, parse, resolve, resources

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}

# Built-in role definition ids, the same in every tenant.
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
QUEUE_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
EVENTGRID_DATA_SENDER = "d5a91429-5739-47e2-a06b-3470a27159e7"

APP, TRANSLATOR, EVENT_GRID = "functionPrincipalId", "translatorPrincipalId", "eventGridPrincipalId"
SOURCE = "sourceContainer"
TARGET = "targetContainer"
GLOSSARIES = "glossaryContainer"
REPORTS = "reportsContainer"
DEAD_LETTERS = "deadLetterContainer"
RECORDS = "recordsTable"

# (principal parameter, role, scope) -> condition (None: always)
EXPECTED = {
    (APP, BLOB_OWNER, "hostStorage"): None,
    (APP, QUEUE_CONTRIBUTOR, "hostStorage"): None,
    (APP, TABLE_CONTRIBUTOR, "hostStorage"): None,
    (APP, BLOB_READER, SOURCE): None,
    (APP, BLOB_READER, GLOSSARIES): None,
    (APP, BLOB_CONTRIBUTOR, TARGET): None,
    (APP, BLOB_CONTRIBUTOR, REPORTS): None,
    (APP, BLOB_DELEGATOR, "documentsStorage"): None,
    (APP, TABLE_CONTRIBUTOR, RECORDS): None,
    (APP, QUEUE_CONTRIBUTOR, "documentsStorage"): None,
    (APP, COGNITIVE_SERVICES_USER, "translator"): None,
    (APP, MONITORING_METRICS_PUBLISHER, "applicationInsights"): None,
    (APP, EVENTGRID_DATA_SENDER, "outcomeTopic"): "grantOutcomeTopicSend",
    (TRANSLATOR, BLOB_READER, SOURCE): "grantTranslatorStorageAccess",
    (TRANSLATOR, BLOB_READER, GLOSSARIES): "grantTranslatorStorageAccess",
    (TRANSLATOR, BLOB_CONTRIBUTOR, TARGET): "grantTranslatorStorageAccess",
    (EVENT_GRID, BLOB_CONTRIBUTOR, DEAD_LETTERS): None,
}


def _assignments():
    tree = parse("modules/roles.bicep")
    found = {}
    for assignment in resources(tree, "Microsoft.Authorization/roleAssignments"):
        properties = assignment.body["properties"]
        definition = function_call(properties["roleDefinitionId"], "subscription_resource_id")
        assert definition and definition["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        role = resolve(tree, definition["resource_name_1"])
        key = (properties["principalId"], role, dotted(assignment.body["scope"]))
        assert key not in found, f"{key} assigned twice"
        found[key] = assignment
    return tree, found


def test_all_needed_role_assignments_exist_and_no_others():
    _, found = _assignments()
    assert set(found) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda key: f"{key[0][:-11]}-{key[1][:8]}-{key[2]}")
def test_assignment_is_named_guid_of_scope_principal_role_with_its_condition(key):
    tree, found = _assignments()
    assignment = found[key]
    name = function_call(assignment.body["name"], "guid")
    assert name is not None, "role assignment names must be guid(...) so redeployments reuse them"
    assert dotted(name["base_string"]) == f"{key[2]}.id"
    assert name["extra_string_1"] == key[0]
    assert resolve(tree, name["extra_string_2"]) == key[1]
    assert assignment.body["properties"]["principalType"] == "ServicePrincipal"
    assert assignment.condition == EXPECTED[key]


def test_the_app_holds_no_owner_or_account_wide_blob_role_on_user_documents():
    _, found = _assignments()
    documents_scopes = {"documentsStorage", SOURCE, TARGET, GLOSSARIES, REPORTS, DEAD_LETTERS, RECORDS}
    on_documents = [key for key in found if key[0] == APP and key[2] in documents_scopes]
    assert not [key for key in on_documents if key[1] == BLOB_OWNER]
    account_wide_blob = [
        key for key in on_documents if key[2] == "documentsStorage" and key[1] in (BLOB_CONTRIBUTOR, BLOB_READER)
    ]
    assert account_wide_blob == []
    # Read-only where the app only reads.
    assert (APP, BLOB_READER, SOURCE) in found and (APP, BLOB_CONTRIBUTOR, SOURCE) not in found


def test_scoped_containers_and_table_are_the_ones_main_creates():
    tree = parse("modules/roles.bicep")
    names = {
        resource.symbol: resource.body["name"]
        for resource in resources(tree, existing=True)
        if resource.type.endswith(("/containers", "/tables"))
    }
    main = parse("main.bicep")
    passed = module_params(main, "roles")
    expected = {
        "sourceContainerName": DEFAULTS["SOURCE_CONTAINER"],
        "targetContainerName": DEFAULTS["TARGET_CONTAINER"],
        "glossaryContainerName": DEFAULTS["GLOSSARY_CONTAINER"],
        "reportsContainerName": DEFAULTS["REPORTS_CONTAINER"],
        "recordsTableName": DEFAULTS["RECORDS_TABLE"],
        "deadLetterContainerName": resolve(main, "dataNames.deadLetterContainer"),
    }
    assert set(names.values()) == set(expected)
    for parameter, value in expected.items():
        assert resolve(main, passed[parameter]) == value


def test_role_switches_follow_the_storage_access_mode():
    passed = module_params(parse("main.bicep"), "roles")
    assert passed["grantTranslatorStorageAccess"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "storageAccessMode", "operand_2": "managed-identity"}}
    }
    assert "grantUserDelegation" not in passed  # the app signs its own copies' SAS in every mode
    assert passed["grantOutcomeTopicSend"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "outcomeEvents", "operand_2": "eventgrid"}}
    }


def test_principals_are_the_identities_that_act():
    main = parse("main.bicep")
    roles = module_params(main, "roles")
    assert dotted(roles["translatorPrincipalId"]) == "translator.outputs.principalId"
    assert dotted(roles["eventGridPrincipalId"]) == "eventGridTopic.outputs.principalId"
    assert dotted(roles["hostStorageAccountName"]) == "hostStorage.outputs.name"
    assert dotted(roles["documentsStorageAccountName"]) == "documentsStorage.outputs.name"
    translator_output = parse("modules/translator.bicep")["outputs"]["principalId"]["value"]
    assert dotted(translator_output) == "translator.identity.principalId"
    topic_output = parse("modules/eventgrid-topic.bicep")["outputs"]["principalId"]["value"]
    assert dotted(topic_output) == "systemTopic.identity.principalId"


def test_app_is_created_after_its_roles():
    depends_on = parse("main.bicep")["modules"]["functionApp"]["config"].get("dependsOn") or []
    assert "roles" in depends_on
