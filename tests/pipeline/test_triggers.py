"""The trigger adapters hand their binding to the pipeline, and let failures reach the host."""

from pathlib import Path

import httpx
import pytest
from azure.functions.queue import QueueMessage

from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.record_keys import record_key, unquoted_etag
from shared.triggers import record_outcome as record_trigger
from shared.triggers import record_poisoned_result as poisoned_result_trigger
from shared.triggers import submit_on_drop as submit_trigger
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def queue_message(text: str, dequeue_count: int = 1) -> QueueMessage:
    # The worker builds this implementation class (func.QueueMessage is its abstract base).
    return QueueMessage(id="m1", body=text.encode(), dequeue_count=dequeue_count)


@pytest.fixture
def use_context(ctx, monkeypatch):
    for trigger in (record_trigger, submit_trigger, poisoned_result_trigger):
        monkeypatch.setattr(trigger, "get_context", lambda: ctx)
    return ctx


def test_the_blob_trigger_hands_the_blob_client_to_submit(use_context, service):
    blob = upload(use_context, "via-trigger.txt", b"Hello")
    submit_trigger.submit_on_drop(blob)
    assert len(service.start_calls) == 1


def test_a_recording_failure_reaches_the_host_which_retries_then_poisons(use_context, service, clock, monkeypatch):
    result = submit_dropped_blob(upload(use_context, "retry.txt", b"Hello"), use_context)
    service.finish(result.job_id)
    clock.advance(5)
    poll_outstanding_jobs(use_context)
    [text] = drain_results(use_context)
    from shared.pipeline import publish

    monkeypatch.setattr(publish, "publish_translation", lambda *args: (_ for _ in ()).throw(RuntimeError("broken")))
    with pytest.raises(RuntimeError):
        record_trigger.record_outcome(queue_message(text))
    poisoned_result_trigger.record_poisoned_result(queue_message(text))
    record = use_context.records.get_open(result.key)
    assert record.needs_attention


def test_a_storage_blip_through_four_immediate_retries_still_ends_with_the_drop_recorded(
    use_context, azurite, monkeypatch
):
    """The project's host.json on the local host: the blob trigger's retries follow the Blobs
    extension (poisonBlobThreshold 5, at once), not extensions.queues (30 s apart)."""
    import azure.functions as func
    from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError
    from azure.storage.queue import QueueClient

    from devstack.host import LocalFunctionsHost
    from devstack.host.config import load_host_json
    from devstack.host.webhook import blob_created_event
    from shared.pipeline import lifecycle
    from tests.integration.host.hostkit import eventually

    settings = use_context.settings
    env = {"TRANSLATION_STORAGE": azurite.connection_string, "SOURCE_CONTAINER": settings.source_container}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the worker's SDK-type converter reads its own environment
    attempts: list[int] = []
    real_claim = lifecycle.claim

    def claim_after_a_blip(*args, **kwargs):
        attempts.append(len(attempts) + 1)
        if len(attempts) <= 4:
            raise ServiceRequestError("storage unreachable (a blip longer than the SDK's own retries)")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "claim", claim_after_a_blip)
    app = func.FunctionApp()
    app.register_functions(submit_trigger.bp)
    blob = upload(use_context, "blip.txt", b"Hello")
    etag = blob.get_blob_properties().etag
    host_json = load_host_json(Path(__file__).resolve().parents[2])
    with LocalFunctionsHost(app, env=env, host_json=host_json, watch=False) as host:
        httpx.post(
            host.webhook_url("submit_on_drop"),
            headers={"aeg-event-type": "Notification"},
            json=[blob_created_event(blob.url, etag=etag, size=5)],
        ).raise_for_status()
        key = record_key(settings.source_container, "blip.txt", unquoted_etag(etag))
        eventually(lambda: use_context.records.get_open(key), what="the drop recorded after the blip")
    assert len(attempts) == 5  # four failed invocations, the fifth (the threshold's last) claims it
    poison = QueueClient.from_connection_string(azurite.connection_string, "webjobs-blobtrigger-poison")
    try:
        poisoned = [m for m in poison.peek_messages(max_messages=32) if "blip.txt" in m.content]
    except ResourceNotFoundError:
        poisoned = []
    assert poisoned == []


def test_drops_through_the_local_host_leave_no_bound_client_in_the_worker_cache(
    use_context, azurite, service, monkeypatch
):
    """The worker 4.x keeps each SDK object it binds, per blob, for the life of the process; the
    trigger lets its own go, so a bulk of drops does not hold a client per file."""
    import azure.functions as func

    from devstack.host import LocalFunctionsHost
    from devstack.host.config import load_host_json
    from devstack.host.invoke import worker_bindings_cache
    from devstack.host.webhook import blob_created_event
    from tests.integration.host.hostkit import eventually

    settings = use_context.settings
    env = {"TRANSLATION_STORAGE": azurite.connection_string, "SOURCE_CONTAINER": settings.source_container}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the worker's SDK-type converter reads its own environment
    app = func.FunctionApp()
    app.register_functions(submit_trigger.bp)
    blobs = [upload(use_context, f"bulk/{index}.txt", b"Hello") for index in range(5)]
    host_json = load_host_json(Path(__file__).resolve().parents[2])
    with LocalFunctionsHost(app, env=env, host_json=host_json, watch=False) as host:
        events = [blob_created_event(blob.url, etag=blob.get_blob_properties().etag, size=5) for blob in blobs]
        httpx.post(
            host.webhook_url("submit_on_drop"), headers={"aeg-event-type": "Notification"}, json=events
        ).raise_for_status()
        # A drop is claimed after its trigger took the blob's name.
        eventually(lambda: len(list(use_context.records.outstanding())) == 5, what="the five drops claimed")
    assert [key for key in worker_bindings_cache() if key[3] == "submit_on_drop"] == []
    assert service.start_calls  # the drops were submitted through the app's own clients
