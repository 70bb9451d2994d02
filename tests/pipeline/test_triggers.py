"""The trigger adapters: what they hand to the pipeline and what they do on the last failure."""

import pytest
from azure.functions.queue import QueueMessage

from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import submit_dropped_blob
from shared.runtime import max_dequeue_count
from shared.triggers import record_outcome as record_trigger
from shared.triggers import submit_on_drop as submit_trigger
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def queue_message(text: str, dequeue_count: int) -> QueueMessage:
    # The worker builds this implementation class (func.QueueMessage is its abstract base).
    return QueueMessage(id="m1", body=text.encode(), dequeue_count=dequeue_count)


@pytest.fixture
def use_context(ctx, monkeypatch):
    monkeypatch.setattr(record_trigger, "get_context", lambda: ctx)
    monkeypatch.setattr(submit_trigger, "get_context", lambda: ctx)
    return ctx


def test_the_blob_trigger_hands_the_blob_client_to_submit(use_context, service):
    blob = upload(use_context, "via-trigger.txt", b"Hello")
    submit_trigger.submit_on_drop(blob)
    assert len(service.start_calls) == 1


def test_a_failure_before_the_last_attempt_only_raises(use_context, service, monkeypatch):
    result = submit_dropped_blob(upload(use_context, "retry.txt", b"Hello"), use_context)
    service.finish(result.job_id)
    poll_outstanding_jobs(use_context)
    [text] = drain_results(use_context)
    monkeypatch.setattr(service, "list_documents", lambda job_id: (_ for _ in ()).throw(RuntimeError("flaky")))
    with pytest.raises(RuntimeError):
        record_trigger.record_outcome(queue_message(text, 1))
    assert not use_context.jobs.get_open(result.key).needs_attention


def test_the_last_failure_marks_the_job_before_the_message_goes_to_the_poison_queue(use_context, service, monkeypatch):
    result = submit_dropped_blob(upload(use_context, "poisoned.txt", b"Hello"), use_context)
    service.finish(result.job_id)
    poll_outstanding_jobs(use_context)
    [text] = drain_results(use_context)
    monkeypatch.setattr(service, "list_documents", lambda job_id: (_ for _ in ()).throw(RuntimeError("broken")))
    with pytest.raises(RuntimeError):
        record_trigger.record_outcome(queue_message(text, max_dequeue_count()))
    record = use_context.jobs.get_open(result.key)
    assert record.needs_attention and "broken" in record.attention_reason


def test_max_dequeue_count_comes_from_host_json(tmp_path):
    host_json = tmp_path / "host.json"
    host_json.write_text('{"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 3}}}')
    assert max_dequeue_count.__wrapped__(host_json) == 3
    assert max_dequeue_count.__wrapped__(tmp_path / "missing.json") == 5
