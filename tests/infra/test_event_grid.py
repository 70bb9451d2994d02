"""The Event Grid paths to the blob-trigger functions: a dropped blob to submit_on_drop, a staging write
of the service (target container, .inflight/) to notice_translation_written."""

from __future__ import annotations

import re

import pytest

from devstack.host.bindings import BlobPath
from devstack.host.event_filter import blob_subject, passes_subject_filter, subject_begins_with
from shared.settings import SETTINGS_SPEC
from shared.storage.blob_names import STAGING_FOLDER
from tests.infra.bicep_tree import dotted, module_params, parse, resolve, single
from tests.infra.declared_functions import declared_functions

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}
TEMPLATE = "eventgrid-subscription.bicep"


def _subscription():
    return single(parse(TEMPLATE), "Microsoft.EventGrid/systemTopics/eventSubscriptions").body


def _default(name: str):
    return parse(TEMPLATE)["parameters"][name]["default"]


def _with_defaults(text: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda match: str(_default(match.group(1))), text)


def _subscriptions() -> dict[str, dict[str, str]]:
    """The subscriptions the template's loop creates (parameter defaults filled in), by function name."""
    assert _loop()["detail"] == {"item_name": "subscription", "array_name": "subscriptions"}
    return {
        _default(item["functionName"]): {"subjectBeginsWith": _with_defaults(item["subjectBeginsWith"])}
        for item in parse(TEMPLATE)["variables"]["subscriptions"]["value"]
    }


def _loop():
    return single(parse(TEMPLATE), "Microsoft.EventGrid/systemTopics/eventSubscriptions").loop


def _event_grid_blob_triggers() -> dict[str, str]:
    """Each Event Grid-sourced blob trigger of function_app.py and its path, settings resolved to their defaults."""
    return {
        name: re.sub(r"%(\w+)%", lambda match: str(DEFAULTS[match.group(1)]), binding["path"])
        for name, bindings in declared_functions().items()
        for binding in bindings
        if binding["type"] == "blobTrigger" and binding.get("source") == "EventGrid"
    }


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


def test_each_blob_trigger_has_a_subscription_on_its_container_and_prefix():
    triggers = _event_grid_blob_triggers()
    assert set(triggers) == {"submit_on_drop", "notice_translation_written"}
    subscriptions = _subscriptions()
    assert set(subscriptions) == set(triggers)
    for name, path in triggers.items():
        # The local stand-in for Event Grid derives the same prefix from the trigger's path.
        assert subscriptions[name]["subjectBeginsWith"] == subject_begins_with(path), name
    filter_ = _subscription()["properties"]["filter"]
    assert dotted(filter_["subjectBeginsWith"]) == "subscription.subjectBeginsWith"
    assert filter_["isSubjectCaseSensitive"] is True
    assert _default("sourceContainerName") == DEFAULTS["SOURCE_CONTAINER"]
    assert _default("targetContainerName") == DEFAULTS["TARGET_CONTAINER"]
    main = parse("main.bicep")
    assert _default("targetContainerName") == resolve(main, "dataNames.targetContainer")


SUBJECTS = [
    # (container, blob name, the function it must reach or None)
    ("source", "report.docx", "submit_on_drop"),
    ("source", "team/a/report.docx", "submit_on_drop"),
    ("source", f"{STAGING_FOLDER}/k-1/fr.docx", "submit_on_drop"),
    ("source-archive", "report.docx", None),
    ("sources", "report.docx", None),
    ("target", f"{STAGING_FOLDER}/0f3a-1/fr.docx", "notice_translation_written"),
    ("target", f"{STAGING_FOLDER}/0f3a-2/de.pdf", "notice_translation_written"),
    ("target", "report.fr.docx", None),
    ("target", f"{STAGING_FOLDER.upper()}/0f3a-1/fr.docx", None),
    ("target", f"{STAGING_FOLDER}-old/0f3a-1/fr.docx", None),
    ("target", f"team/{STAGING_FOLDER}/fr.docx", None),
    ("target-old", f"{STAGING_FOLDER}/0f3a-1/fr.docx", None),
    ("reports", "report.json", None),
    ("eventgrid-deadletter", "x.json", None),
]


@pytest.mark.parametrize(("container", "blob_name", "expected"), SUBJECTS)
def test_a_blob_event_reaches_exactly_the_function_whose_subscription_matches(container, blob_name, expected):
    subject = blob_subject(container, blob_name)
    reached = [
        name
        for name, subscription in _subscriptions().items()
        if passes_subject_filter(subject, subscription["subjectBeginsWith"])
    ]
    assert reached == ([expected] if expected else [])


@pytest.mark.parametrize(("container", "blob_name", "expected"), SUBJECTS)
def test_the_local_hosts_path_match_agrees_with_the_subscription_filter(container, blob_name, expected):
    for name, path in _event_grid_blob_triggers().items():
        matched = BlobPath.parse(path, function_name=name).match(container, blob_name) is not None
        assert matched == passes_subject_filter(blob_subject(container, blob_name), subject_begins_with(path))
        assert matched == (name == expected)


def test_webhook_targets_the_blob_extension_of_the_blob_trigger_function():
    destination = _subscription()["properties"]["destination"]
    assert destination["endpointType"] == "WebHook"
    url = destination["properties"]["endpointUrl"]
    match = re.fullmatch(
        r"https://\$\{functionApp\.properties\.defaultHostName\}/runtime/webhooks/blobs"
        r"\?functionName=Host\.Functions\.\$\{([\w.]+)\}&code=\$\{(\w+)\}",
        url,
    )
    assert match, url
    function_parameter, key_variable = match.groups()
    assert function_parameter == "subscription.functionName"
    key = parse(TEMPLATE)["variables"][key_variable]["value"]["operator"]["operands"]
    call = key["operand_1"]["function"]
    assert call["type"] == "list_func" and call["parameters"]["func_name"] == "listKeys"
    assert call["parameters"]["resource_identifier"] == "${functionApp.id}/host/default"
    assert dotted(key["operand_2"]) == "systemKeys.blobs_extension"


def test_webhook_function_names_are_the_event_grid_blob_triggers_the_app_declares():
    blob_functions = [
        name
        for name, bindings in declared_functions().items()
        if any(binding["type"] == "blobTrigger" for binding in bindings)
    ]
    assert sorted(blob_functions) == sorted(_event_grid_blob_triggers())
    assert sorted(_subscriptions()) == sorted(blob_functions)
    assert (_default("dropFunctionName"), _default("writtenFunctionName")) == (
        "submit_on_drop",
        "notice_translation_written",
    )


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
        "TARGET_CONTAINER",
        "DEAD_LETTER_CONTAINER",
    ):
        assert name in outputs


def test_subscription_names_are_valid_for_event_grid_distinct_and_output():
    template = _subscription()["name"]
    names = []
    for function_name in _subscriptions():
        call = re.fullmatch(r"\$\{replace\(subscription\.functionName, '([^']*)', '([^']*)'\)\}(.*)", template)
        assert call, template
        name = function_name.replace(call.group(1), call.group(2)) + call.group(3)
        assert re.fullmatch(r"[A-Za-z0-9-]{3,64}", name), f"{name!r}: Event Grid allows letters, digits and hyphens"
        names.append(name)
    # The drop subscription keeps the name it had, so a second deployment updates it in place.
    assert names == ["submit-on-drop-blob-created", "notice-translation-written-blob-created"]
    outputs = parse(TEMPLATE)["outputs"]
    assert {name: dotted(output["value"]["operator"]["operands"]["operand_2"]) for name, output in outputs.items()} == {
        "dropSubscriptionName": "name",
        "writtenSubscriptionName": "name",
    }
    indexes = [
        output["value"]["operator"]["operands"]["operand_1"]["operator"]["operands"] for output in outputs.values()
    ]
    assert [(index["operand_1"], index["operand_2"]) for index in indexes] == [
        ("blobCreatedSubscriptions", 0),
        ("blobCreatedSubscriptions", 1),
    ]
    assert [_default(item["functionName"]) for item in parse(TEMPLATE)["variables"]["subscriptions"]["value"]] == [
        _default("dropFunctionName"),
        _default("writtenFunctionName"),
    ]


def test_only_writes_that_commit_a_whole_blob_are_delivered():
    from devstack.host.event_filter import BLOB_COMMITTING_APIS

    [advanced] = _subscription()["properties"]["filter"]["advancedFilters"]
    assert (advanced["operatorType"], advanced["key"]) == ("StringIn", "data.api")
    assert advanced["values"] == ["PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"]
    # The local stand-in for Event Grid filters the same way.
    assert tuple(advanced["values"]) == BLOB_COMMITTING_APIS
