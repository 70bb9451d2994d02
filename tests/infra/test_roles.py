"""Every identity holds exactly the roles the flow needs, on the right scope, under a stable name."""

from __future__ import annotations

import pytest

from tests.infra.bicep_tree import dotted, function_call, module_params, parse, resolve, resources

# Built-in role definition ids, the same in every tenant.
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# (principal parameter, role, type of the scope resource)
REQUIRED = {
    ("functionPrincipalId", STORAGE_BLOB_DATA_OWNER, "Microsoft.Storage/storageAccounts"),
    ("functionPrincipalId", STORAGE_QUEUE_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts"),
    ("functionPrincipalId", STORAGE_TABLE_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts"),
    ("functionPrincipalId", COGNITIVE_SERVICES_USER, "Microsoft.CognitiveServices/accounts"),
    ("functionPrincipalId", MONITORING_METRICS_PUBLISHER, "Microsoft.Insights/components"),
    ("translatorPrincipalId", STORAGE_BLOB_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts"),
    (
        "eventGridPrincipalId",
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
    ),
}


def _scope_type(tree, scope: str) -> str:
    symbol = scope.replace("::", "__")
    return next(resource.type for resource in resources(tree, existing=None) if resource.symbol == symbol)


def _assignments():
    tree = parse("modules/roles.bicep")
    found = {}
    for assignment in resources(tree, "Microsoft.Authorization/roleAssignments"):
        properties = assignment.body["properties"]
        definition = function_call(properties["roleDefinitionId"], "subscription_resource_id")
        assert definition and definition["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        role = resolve(tree, definition["resource_name_1"])
        scope = dotted(assignment.body["scope"])
        found[(properties["principalId"], role, _scope_type(tree, scope))] = assignment
    return tree, found


def test_all_needed_role_assignments_exist_and_no_others():
    _, found = _assignments()
    assert set(found) == REQUIRED


@pytest.mark.parametrize("key", sorted(REQUIRED), ids=lambda key: f"{key[0]}-{key[1][:8]}")
def test_assignment_is_named_guid_of_scope_principal_role(key):
    tree, found = _assignments()
    assignment = found[key]
    name = function_call(assignment.body["name"], "guid")
    assert name is not None, "role assignment names must be guid(...) so redeployments reuse them"
    scope = dotted(assignment.body["scope"])
    assert dotted(name["base_string"]) == f"{scope}.id"
    assert name["extra_string_1"] == key[0]
    assert resolve(tree, name["extra_string_2"]) == key[1]
    assert assignment.body["properties"]["principalType"] == "ServicePrincipal"


def test_translator_storage_role_is_granted_in_managed_identity_mode_only():
    _tree, found = _assignments()
    translator_role = found[
        ("translatorPrincipalId", STORAGE_BLOB_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts")
    ]
    assert translator_role.condition == "grantTranslatorStorageAccess"
    unconditional = [a for k, a in found.items() if k[0] != "translatorPrincipalId"]
    assert all(a.condition is None for a in unconditional)
    granted = module_params(parse("main.bicep"), "roles")["grantTranslatorStorageAccess"]
    assert granted == {
        "operator": {"type": "equals", "operands": {"operand_1": "storageAccessMode", "operand_2": "managed-identity"}}
    }


def test_event_grid_role_is_limited_to_the_dead_letter_container():
    tree = parse("modules/roles.bicep")
    container = next(
        r for r in resources(tree, "Microsoft.Storage/storageAccounts/blobServices/containers", existing=True)
    )
    assert container.body["name"] == "deadLetterContainerName"
    main = parse("main.bicep")
    assert resolve(main, module_params(main, "roles")["deadLetterContainerName"]) == resolve(
        main, "dataNames.deadLetterContainer"
    )


def test_principals_are_the_identities_that_act():
    main = parse("main.bicep")
    roles = module_params(main, "roles")
    assert dotted(roles["translatorPrincipalId"]) == "translator.outputs.principalId"
    assert dotted(roles["eventGridPrincipalId"]) == "eventGridTopic.outputs.principalId"
    translator_output = parse("modules/translator.bicep")["outputs"]["principalId"]["value"]
    assert dotted(translator_output) == "translator.identity.principalId"
    topic_output = parse("modules/eventgrid-topic.bicep")["outputs"]["principalId"]["value"]
    assert dotted(topic_output) == "systemTopic.identity.principalId"


def test_app_is_created_after_its_roles():
    depends_on = parse("main.bicep")["modules"]["functionApp"]["config"].get("dependsOn") or []
    assert "roles" in depends_on
