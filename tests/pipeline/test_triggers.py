"""The trigger adapters hand their binding to the pipeline, and let failures reach the host."""

import pytest
from azure.functions.queue import QueueMessage

from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import submit_dropped_blob
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
