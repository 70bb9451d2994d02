"""privateNetworking: off by default; when on, storage and the Translator are reached privately."""

from __future__ import annotations

from tests.infra.bicep_tree import dotted, module_params, parse, resources, single


def _conditional(value) -> dict:
    operands = value["operator"]["operands"]
    assert operands["condition"] == "privateNetworking", value
    return operands


def test_the_option_is_off_by_default_and_builds_the_network_only_when_on():
    main = parse("main.bicep")
    assert main["parameters"]["privateNetworking"]["default"] is False
    assert main["modules"]["network"]["config"]["condition"] == "privateNetworking"


def test_the_app_integrates_with_the_delegated_subnet():
    main = parse("main.bicep")
    subnet = _conditional(module_params(main, "functionApp")["virtualNetworkSubnetId"])
    assert dotted(subnet["true_value"]) == "network.outputs.appSubnetId" and subnet["false_value"] == ""
    network = parse("modules/network.bicep")
    vnet = single(network, "Microsoft.Network/virtualNetworks").body
    app_subnet = next(s for s in vnet["properties"]["subnets"] if s["name"] == "app")
    delegations = app_subnet["properties"]["delegations"]
    assert [d["properties"]["serviceName"] for d in delegations] == ["Microsoft.App/environments"]
    site = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body
    assert "virtualNetworkSubnetId" in site["properties"]


def test_private_dns_zones_cover_blob_queue_table_and_the_translator_and_are_linked():
    network = parse("modules/network.bicep")
    zones = network["variables"]["dnsZoneNames"]["value"]
    assert zones == [
        "privatelink.blob.${environment().suffixes.storage}",
        "privatelink.queue.${environment().suffixes.storage}",
        "privatelink.table.${environment().suffixes.storage}",
        "privatelink.cognitiveservices.azure.com",
    ]
    output = network["outputs"]["privateDnsZoneIds"]["value"]
    for index, service in enumerate(("blob", "queue", "table", "cognitiveservices")):
        accessor = output[service]["operator"]["operands"]
        assert accessor["operand_2"] == "id"
        assert accessor["operand_1"]["operator"]["operands"] == {"operand_1": "dnsZones", "operand_2": index}
    link = single(network, "Microsoft.Network/privateDnsZones/virtualNetworkLinks").body
    assert dotted(link["properties"]["virtualNetwork"]["id"]) == "virtualNetwork.id"
    assert link["properties"]["registrationEnabled"] is False


def test_both_storage_accounts_get_blob_queue_and_table_private_endpoints():
    storage = parse("modules/storage.bicep")
    services = storage["variables"]["privateServices"]["value"]["operator"]["operands"]
    assert services["true_value"] == [] and services["false_value"] == ["blob", "queue", "table"]
    endpoint = storage["modules"]["privateEndpoints"]
    assert endpoint["config"]["loop_type"]["detail"]["array_name"] == "privateServices"
    main = parse("main.bicep")
    for module in ("hostStorage", "documentsStorage"):
        subnet = _conditional(module_params(main, module)["privateEndpointSubnetId"])
        assert dotted(subnet["true_value"]) == "network.outputs.privateEndpointSubnetId"
    translator = _conditional(module_params(main, "translator")["privateEndpointSubnetId"])
    assert dotted(translator["true_value"]) == "network.outputs.privateEndpointSubnetId"
    endpoint = parse("modules/private-endpoint.bicep")
    group = single(endpoint, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups").body
    assert group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"] == "privateDnsZoneId"


def test_public_access_closes_on_storage_and_the_translator():
    main = parse("main.bicep")
    host = module_params(main, "hostStorage")
    assert _conditional(host["publicNetworkAccess"])["true_value"] == "Disabled"
    assert _conditional(host["networkDefaultAction"])["true_value"] == "Deny"
    documents = module_params(main, "documentsStorage")
    # Deny-by-default firewall rather than 'Disabled', which would also shut out the
    # resource-instance rule (Translator) and trusted-service dead-lettering (Event Grid).
    assert documents["publicNetworkAccess"] == "Enabled"
    assert _conditional(documents["networkDefaultAction"])["true_value"] == "Deny"
    translator = single(parse("modules/translator.bicep"), "Microsoft.CognitiveServices/accounts").body
    access = translator["properties"]["publicNetworkAccess"]["operator"]["operands"]
    assert access["condition"] == "isPrivate" and access["true_value"] == "Disabled"


def test_the_translator_reaches_the_documents_account_through_a_resource_instance_rule():
    main = parse("main.bicep")
    trusted = _conditional(module_params(main, "documentsStorage")["trustedResourceIds"])
    assert [dotted(item) for item in trusted["true_value"]] == ["translator.outputs.id"]
    assert trusted["false_value"] == []
    account = single(parse("modules/storage.bicep"), "Microsoft.Storage/storageAccounts").body
    acls = account["properties"]["networkAcls"]
    rules = acls["resourceAccessRules"]
    assert rules["loop_type"]["detail"]["array_name"] == "trustedResourceIds"
    assert dotted(rules["config"]["resourceId"]) == "resourceId"
    # Event Grid's identity-based dead-lettering passes the firewall as a trusted service.
    assert acls["bypass"] == "AzureServices"


def test_private_networking_requires_the_translators_identity_not_sas():
    description = next(
        d["argument"]
        for d in parse("main.bicep")["parameters"]["privateNetworking"]["decorators"]
        if d["type"] == "description"
    )
    assert "managed-identity" in description
    from tests.infra.bicep_tree import REPO_ROOT

    assert (
        "PRIVATE_NETWORKING=true needs STORAGE_ACCESS_MODE=managed-identity"
        in (REPO_ROOT / "scripts" / "check-parameters.sh").read_text()
    )


def test_the_function_app_keeps_a_public_inbound_endpoint_for_the_event_grid_webhook():
    site = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body
    assert "publicNetworkAccess" not in site["properties"]
    assert not resources(parse("modules/functionapp.bicep"), "Microsoft.Network/privateEndpoints")
