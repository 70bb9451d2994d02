"""The local functions host serves a toy app's blob, timer and queue triggers against Azurite."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from threading import Event, Thread

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devstack.azurite import Azurite
from devstack.host import HostConfigError, LocalFunctionsHost
from devstack.host.timers import TimerRunner
from devstack.host.webhook import blob_created_event
from tests.integration.host import toy_app
from tests.integration.host.hostkit import at_least, eventually, unique_name

pytestmark = pytest.mark.integration

FAST_QUEUES = {
    "extensions": {
        "queues": {
            "maxDequeueCount": 2,
            "visibilityTimeout": "00:00:00",
            "batchSize": 4,
            "maxPollingInterval": "00:00:01",
        }
    }
}


@pytest.fixture
def toy_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "TOY_CONTAINER": unique_name("drop"),
        "TOY_QUEUE": unique_name("results"),
        # Every second of every minute: far off except in the timer test, which waits for it.
        "TOY_SCHEDULE": "* * * * * *",
        "TRANSLATION_STORAGE": azurite.connection_string,
    }
    # The app's settings are the worker's environment: the SDK-type converter reads the connection there.
    monkeypatch.setenv("TRANSLATION_STORAGE", azurite.connection_string)
    return env


@pytest.fixture
def start_host(toy_env: dict[str, str]) -> Iterator[Callable[..., LocalFunctionsHost]]:
    started: list[LocalFunctionsHost] = []

    def start(**options: object) -> LocalFunctionsHost:
        options.setdefault("env", toy_env)
        options.setdefault("watch", False)
        host = LocalFunctionsHost(toy_app.app, **options).start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop(grace_seconds=2)


@pytest.fixture
def container(azurite: Azurite, toy_env: dict[str, str]):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_container(toy_env["TOY_CONTAINER"])
    yield client
    client.delete_container()


def test_bindings_are_read_from_the_app_object_with_settings_resolved(toy_env):
    host = LocalFunctionsHost(toy_app.app, env=toy_env)

    by_name = {function.name: function for function in host.functions}
    assert by_name["on_blob"].trigger_type == "blobTrigger"
    assert by_name["on_blob"].binding["path"] == f"{toy_env['TOY_CONTAINER']}/{{name}}"
    assert by_name["on_blob"].is_event_grid_blob_trigger
    assert by_name["tick"].binding["schedule"] == "* * * * * *"
    assert by_name["on_message"].binding["queueName"] == toy_env["TOY_QUEUE"]
    # The connection string stays out of what gets printed or logged.
    assert "AccountKey" not in repr(host.functions) and "AccountKey" not in "\n".join(host.describe())


def test_a_missing_setting_is_named_in_the_error(toy_env):
    del toy_env["TOY_QUEUE"]

    with pytest.raises(HostConfigError, match=r"on_message.*%TOY_QUEUE%.*TOY_QUEUE is not set"):
        LocalFunctionsHost(toy_app.app, env=toy_env)


def test_an_identity_based_connection_is_served_with_its_service_uris(toy_env):
    del toy_env["TRANSLATION_STORAGE"]
    toy_env["TRANSLATION_STORAGE__blobServiceUri"] = "https://account.blob.core.windows.net"
    toy_env["TRANSLATION_STORAGE__queueServiceUri"] = "https://account.queue.core.windows.net"

    host = LocalFunctionsHost(toy_app.app, env=toy_env)

    storage = host.function("on_blob").storage()
    assert storage.uses_identity and storage.setting == "TRANSLATION_STORAGE"
    assert storage.service_uri("queue") == "https://account.queue.core.windows.net"


def test_an_invalid_schedule_is_refused(toy_env):
    toy_env["TOY_SCHEDULE"] = "*/5 * * * *"  # 5 fields: Unix cron, not NCRONTAB

    with pytest.raises(HostConfigError, match="NCRONTAB"):
        LocalFunctionsHost(toy_app.app, env=toy_env)


def test_event_grid_subscription_validation_handshake(start_host):
    host = start_host()

    response = httpx.post(
        host.webhook_url("on_blob"),
        headers={"aeg-event-type": "SubscriptionValidation"},
        json=[
            {
                "id": "1",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "subject": "",
                "data": {"validationCode": "ABC-123"},
                "eventTime": "2025-01-01T00:00:00Z",
                "dataVersion": "1",
                "metadataVersion": "1",
            }
        ],
    )

    assert response.status_code == 200
    assert response.json() == {"validationResponse": "ABC-123"}


def test_blob_created_event_invokes_the_function_with_a_blob_client(start_host, container):
    host = start_host()
    blob = container.upload_blob("docs/report.txt", b"hello")

    response = httpx.post(
        host.webhook_url("on_blob"),
        headers={"aeg-event-type": "Notification"},
        json=[blob_created_event(blob.url, etag='"0x1"', size=5, content_type="text/plain")],
    )

    assert response.status_code == 202  # accepted, then run, as the blobs extension does
    [call] = eventually(lambda: toy_app.calls("on_blob", container=container.container_name), what="the call")
    assert issubclass(call.argument_type, BlobClient)
    assert call.details["blob"] == "docs/report.txt"
    assert call.details["size"] == 5


def test_events_for_other_containers_and_types_are_acknowledged_and_ignored(start_host, container):
    host = start_host()
    elsewhere = blob_created_event("http://127.0.0.1/devstoreaccount1/another-container/a.txt", etag='"0x1"', size=1)
    deleted = blob_created_event(container.get_blob_client("a.txt").url, etag='"0x1"', size=1)
    deleted["eventType"] = "Microsoft.Storage.BlobDeleted"

    response = httpx.post(
        host.webhook_url("on_blob"), headers={"aeg-event-type": "Notification"}, json=[elsewhere, deleted]
    )

    assert response.status_code == 200
    assert toy_app.calls("on_blob", container="another-container") == []
    assert toy_app.calls("on_blob", container=container.container_name) == []


def test_unknown_function_is_404(start_host):
    host = start_host()
    url = host.webhook_url("on_blob").replace("Host.Functions.on_blob", "Host.Functions.nope")

    response = httpx.post(url, headers={"aeg-event-type": "Notification"}, json=[])

    assert response.status_code == 404


def test_a_failing_blob_invocation_is_retried_at_once_poison_blob_threshold_times_then_poisoned(
    start_host, container, toy_env
):
    # The Blobs extension's own rules: extensions.queues governs queue triggers, not blob retries.
    host = start_host(
        host_json={
            "extensions": {
                "blobs": {"poisonBlobThreshold": 3},
                "queues": {"maxDequeueCount": 1, "visibilityTimeout": "00:10:00"},
            }
        }
    )
    blob = container.upload_blob("explode.txt", b"boom!")
    etag = blob.get_blob_properties().etag

    response = httpx.post(
        host.webhook_url("on_blob"),
        headers={"aeg-event-type": "Notification"},
        json=[blob_created_event(blob.url, etag=etag, size=5)],
    )

    assert response.status_code == 202  # accepted at once, as the blobs extension answers Event Grid
    poison = QueueClient.from_connection_string(
        toy_env["TRANSLATION_STORAGE"],
        "webjobs-blobtrigger-poison",
        message_decode_policy=TextBase64DecodePolicy(),
    )

    def poisoned():
        try:
            return list(poison.peek_messages(max_messages=32))
        except ResourceNotFoundError:  # created when the first message goes in
            return []

    messages = eventually(poisoned, what="a poison message")
    body = json.loads(messages[0].content)
    assert body["ContainerName"] == container.container_name and body["BlobName"] == "explode.txt"
    assert body["ETag"] == etag and body["FunctionId"] == "Host.Functions.on_blob"
    calls = toy_app.calls("on_blob", container=container.container_name, blob="explode.txt")
    assert len(calls) == 3  # poisonBlobThreshold attempts, no more


def test_watcher_announces_new_and_changed_blobs(start_host, container):
    start_host(watch=True, watch_interval=0.1)

    container.upload_blob("new.txt", b"first")
    first = eventually(lambda: toy_app.calls("on_blob", container=container.container_name), what="first event")
    container.upload_blob("new.txt", b"second version", overwrite=True)
    both = eventually(
        lambda: at_least(2, toy_app.calls("on_blob", container=container.container_name)),
        what="event for the changed blob",
    )

    assert [call.details["blob"] for call in both] == ["new.txt", "new.txt"]
    assert first[0].details["size"] == 5 and both[1].details["size"] == len(b"second version")
    assert both[0].details["etag"] != both[1].details["etag"]


def test_a_metadata_only_change_raises_no_event_but_a_rewrite_does(start_host, container):
    start_host(watch=True, watch_interval=0.1)
    blob = container.upload_blob("meta.txt", b"content")
    eventually(lambda: toy_app.calls("on_blob", container=container.container_name), what="first event")

    blob.set_blob_metadata({"targetlanguages": "es"})  # a new ETag, and no BlobCreated in Azure
    time.sleep(1.0)
    assert len(toy_app.calls("on_blob", container=container.container_name)) == 1

    # The same bytes written again (Put Blob, with the metadata it now has): Azure raises BlobCreated.
    container.upload_blob("meta.txt", b"content", overwrite=True, metadata={"targetlanguages": "es"})
    eventually(lambda: at_least(2, toy_app.calls("on_blob", container=container.container_name)), what="rewrite")


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_each_event_is_delivered_n_times_when_asked(start_host, container, concurrent):
    start_host(watch=True, watch_interval=0.1, event_deliveries=3, concurrent_deliveries=concurrent)

    container.upload_blob("once.txt", b"12345")

    calls = eventually(
        lambda: at_least(3, toy_app.calls("on_blob", container=container.container_name)),
        what="three deliveries",
    )
    assert {call.details["blob"] for call in calls} == {"once.txt"}


def test_timer_fires_with_a_timer_request(start_host):
    already = len(toy_app.calls("tick"))
    start_host()

    calls = eventually(lambda: toy_app.calls("tick")[already:], timeout=10, what="a timer tick")

    assert issubclass(calls[0].argument_type, func.TimerRequest)


def _queue(azurite: Azurite, name: str, *, base64_encoded: bool) -> QueueClient:
    policy = TextBase64EncodePolicy() if base64_encoded else None
    client = QueueClient.from_connection_string(azurite.connection_string, name, message_encode_policy=policy)
    try:
        client.create_queue()
    except Exception:  # created by the host already
        pass
    return client


def _waiting_messages(client: QueueClient) -> list[str]:
    # Peeked content is the raw text stored in the queue (no decode policy on these clients).
    return [message.content for message in client.peek_messages(max_messages=32)]


def test_base64_message_is_decoded_and_deleted_after_success(start_host, azurite, toy_env):
    queue = _queue(azurite, toy_env["TOY_QUEUE"], base64_encoded=True)
    start_host()

    queue.send_message('{"job": "ok-1"}')

    [call] = eventually(lambda: toy_app.calls("on_message", queue_body=b'{"job": "ok-1"}'), what="the message")
    assert issubclass(call.argument_type, func.QueueMessage)
    assert call.details["dequeue_count"] == 1
    eventually(lambda: queue.get_queue_properties().approximate_message_count == 0, what="the message deleted")


def test_failing_message_is_retried_then_moved_to_poison(start_host, azurite, toy_env):
    queue = _queue(azurite, toy_env["TOY_QUEUE"], base64_encoded=True)
    plain_poison = QueueClient.from_connection_string(azurite.connection_string, toy_env["TOY_QUEUE"] + "-poison")
    start_host(host_json=FAST_QUEUES)

    queue.send_message("please fail 7")

    poisoned = eventually(
        lambda: _waiting_messages(plain_poison) if _poison_exists(plain_poison) else None, what="the poison queue"
    )
    assert poisoned == [base64.b64encode(b"please fail 7").decode()]
    calls = toy_app.calls("on_message", queue_body=b"please fail 7")
    assert [call.details["dequeue_count"] for call in calls] == [1, 2]
    assert queue.get_queue_properties().approximate_message_count == 0


def test_plain_text_message_goes_to_poison_without_invoking(start_host, azurite, toy_env):
    plain = _queue(azurite, toy_env["TOY_QUEUE"], base64_encoded=False)
    poison = QueueClient.from_connection_string(azurite.connection_string, toy_env["TOY_QUEUE"] + "-poison")
    start_host(host_json=FAST_QUEUES)

    plain.send_message("not base64: plain text!")

    poisoned = eventually(lambda: _waiting_messages(poison) if _poison_exists(poison) else None, what="poison")
    assert poisoned == ["not base64: plain text!"]
    assert all(b"plain text" not in call.details["queue_body"] for call in toy_app.calls("on_message"))


def _poison_exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
    except Exception:
        return False
    return True


def test_a_timer_tick_is_skipped_while_the_previous_run_is_still_going(toy_env, caplog):
    host = LocalFunctionsHost(toy_app.app, env=toy_env)
    never_finishing: Future = Future()
    submitted = []
    stop = Event()

    def submit(function, argument, subject):
        submitted.append(argument)
        return never_finishing

    runner = TimerRunner(host.function("tick"), submit, stop=stop)
    thread = Thread(target=runner.run, daemon=True)
    with caplog.at_level("WARNING", logger="devstack.host.timers"):
        thread.start()
        try:
            eventually(lambda: "still going; skipping" in caplog.text, timeout=10, what="a skipped tick")
        finally:
            stop.set()
            thread.join(5)

    assert len(submitted) == 1
    assert isinstance(submitted[0], func.TimerRequest)


def test_a_container_scan_blob_trigger_gets_the_content_as_an_input_stream(azurite, toy_env, container):
    scan_app = func.FunctionApp()
    received: list[tuple[str, bytes, int]] = []

    @scan_app.blob_trigger(arg_name="stream", path="%TOY_CONTAINER%/in/{name}", connection="TRANSLATION_STORAGE")
    def scanned(stream: func.InputStream) -> None:
        received.append((stream.name, stream.read(), stream.length))

    container.upload_blob("in/a.txt", b"abc")
    container.upload_blob("elsewhere.txt", b"not watched")

    with LocalFunctionsHost(scan_app, env=toy_env, watch_interval=0.1):
        eventually(lambda: received, what="the scanned blob")

    assert received == [(f"{container.container_name}/in/a.txt", b"abc", 3)]
