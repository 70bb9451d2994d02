"""The Event Grid path from a dropped blob to the blob-trigger function."""

from __future__ import annotations

import re

from shared.settings import SETTINGS_SPEC
from tests.infra.bicep_tree import dotted, module_params, parse, resolve, single
from tests.infra.declared_functions import declared_functions

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}
TEMPLATE = "eventgrid-subscription.bicep"


def _subscription():
    return single(parse(TEMPLATE), "Microsoft.EventGrid/systemTopics/eventSubscriptions").body


def _default(name: str):
    return parse(TEMPLATE)["parameters"][name]["default"]


def test_system_topic_watches_the_storage_account():
    topic = single(parse("modules/eventgrid-topic.bicep"), "Microsoft.EventGrid/systemTopics").body
    assert topic["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert dotted(topic["properties"]["source"]) == "storageAccount.id"
    assert topic["identity"]["type"] == "SystemAssigned"
    main = parse("main.bicep")
    assert dotted(module_params(main, "eventGridTopic")["storageAccountName"]) == "documentsStorage.outputs.name"


def test_subscription_is_not_in_main_because_it_needs_the_published_code():
    assert not any(
        "eventSubscriptions" in resource["type"] for resource in parse("main.bicep").get("resources", {}).values()
    )


def test_only_blob_created_events_are_delivered():
    assert _subscription()["properties"]["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]


def test_subject_filter_points_at_the_source_container():
    subject = _subscription()["properties"]["filter"]["subjectBeginsWith"]
    assert subject == "/blobServices/default/containers/${sourceContainerName}/"
    assert _default("sourceContainerName") == DEFAULTS["SOURCE_CONTAINER"]


def test_webhook_targets_the_blob_extension_of_the_blob_trigger_function():
    destination = _subscription()["properties"]["destination"]
    assert destination["endpointType"] == "WebHook"
    url = destination["properties"]["endpointUrl"]
    match = re.fullmatch(
        r"https://\$\{functionApp\.properties\.defaultHostName\}/runtime/webhooks/blobs"
        r"\?functionName=Host\.Functions\.\$\{(\w+)\}&code=\$\{(\w+)\}",
        url,
    )
    assert match, url
    function_parameter, key_variable = match.groups()
    assert function_parameter == "blobTriggerFunctionName"
    key = parse(TEMPLATE)["variables"][key_variable]["value"]["operator"]["operands"]
    call = key["operand_1"]["function"]
    assert call["type"] == "list_func" and call["parameters"]["func_name"] == "listKeys"
    assert call["parameters"]["resource_identifier"] == "${functionApp.id}/host/default"
    assert dotted(key["operand_2"]) == "systemKeys.blobs_extension"


def test_webhook_function_name_is_the_blob_trigger_function_app_declares():
    blob_functions = [
        name
        for name, bindings in declared_functions().items()
        if any(binding["type"] == "blobTrigger" for binding in bindings)
    ]
    assert blob_functions == [_default("blobTriggerFunctionName")]


def test_undeliverable_events_are_retried_then_dead_lettered_with_the_topic_identity():
    properties = _subscription()["properties"]
    assert properties["retryPolicy"]["maxDeliveryAttempts"] == "maxDeliveryAttempts"
    assert properties["retryPolicy"]["eventTimeToLiveInMinutes"] == "eventTimeToLiveInMinutes"
    dead_letter = properties["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"]["type"] == "SystemAssigned"
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    assert dotted(destination["properties"]["resourceId"]) == "storageAccount.id"
    assert destination["properties"]["blobContainerName"] == "deadLetterContainerName"
    main = parse("main.bicep")
    assert _default("deadLetterContainerName") == resolve(main, "dataNames.deadLetterContainer")


def test_main_outputs_what_the_subscription_template_needs():
    outputs = parse("main.bicep")["outputs"]
    for name in (
        "FUNCTION_APP_NAME",
        "EVENT_GRID_SYSTEM_TOPIC_NAME",
        "STORAGE_ACCOUNT_NAME",
        "SOURCE_CONTAINER",
        "DEAD_LETTER_CONTAINER",
    ):
        assert name in outputs


def test_subscription_name_is_valid_for_event_grid():
    defaults = {name: parameter.get("default") for name, parameter in parse(TEMPLATE)["parameters"].items()}

    def evaluate(match: re.Match[str]) -> str:
        expression = match.group(1)
        call = re.fullmatch(r"replace\((\w+), '([^']*)', '([^']*)'\)", expression)
        if call:
            return str(defaults[call.group(1)]).replace(call.group(2), call.group(3))
        return str(defaults[expression])

    name = re.sub(r"\$\{([^}]*)\}", evaluate, _subscription()["name"])
    assert re.fullmatch(r"[A-Za-z0-9-]{3,64}", name), f"{name!r}: Event Grid allows letters, digits and hyphens"


def test_only_writes_that_commit_a_whole_blob_are_delivered():
    from devstack.host.event_filter import BLOB_COMMITTING_APIS

    [advanced] = _subscription()["properties"]["filter"]["advancedFilters"]
    assert (advanced["operatorType"], advanced["key"]) == ("StringIn", "data.api")
    assert advanced["values"] == ["PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"]
    # The local stand-in for Event Grid filters the same way.
    assert tuple(advanced["values"]) == BLOB_COMMITTING_APIS
