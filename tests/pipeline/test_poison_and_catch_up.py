"""Every drop ends with a record: poison messages and lost events, on Azurite."""

import json
import logging

import pytest

from shared.pipeline.catch_up import catch_up_missed_drops
from shared.pipeline.poison import MalformedPoisonMessage, PoisonedBlob, record_poisoned_drop, record_poisoned_result
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.record_keys import record_key, unquoted_etag
from shared.storage.records import State
from shared.storage.results_queue import MalformedResultMessage
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def poison_message(ctx, name: str, etag: str) -> str:
    return json.dumps(
        {
            "Type": "BlobTrigger",
            "FunctionId": "Host.Functions.submit_on_drop",
            "BlobType": "BlockBlob",
            "ContainerName": ctx.settings.source_container,
            "BlobName": name,
            "ETag": f'"{etag}"',
        }
    )


def test_a_drop_whose_trigger_gave_up_before_its_claim_gets_a_record_and_is_submitted(ctx, service, clock):
    blob = upload(ctx, "unlucky.txt", b"Hello")
    etag = unquoted_etag(blob.get_blob_properties().etag)
    record_poisoned_drop(poison_message(ctx, "unlucky.txt", etag), ctx)
    key = record_key(ctx.settings.source_container, "unlucky.txt", etag)
    record = ctx.records.get_open(key)
    assert record.state == State.WAITING and record.needs_attention
    assert "blob trigger failed" in record.attention_reason
    clock.advance(10)
    poll_outstanding_jobs(ctx)
    record = ctx.records.get_open(key)
    assert record.state == State.GROUPED and not record.needs_attention
    assert len(service.start_calls) == 1


def test_a_poisoned_drop_of_a_deleted_file_is_recorded_as_such(ctx, service):
    blob = upload(ctx, "deleted.txt", b"Hello")
    etag = unquoted_etag(blob.get_blob_properties().etag)
    blob.delete_blob()
    record_poisoned_drop(poison_message(ctx, "deleted.txt", etag), ctx)
    [final] = [record_outcome(text, ctx) for text in drain_results(ctx)]
    assert (final.outcome, final.reason_code) == ("Cancelled", "SourceDeleted")


def test_a_poisoned_drop_already_claimed_is_flagged_not_submitted_twice(ctx, service):
    blob = upload(ctx, "claimed.txt", b"Hello")
    result = submit_dropped_blob(blob, ctx)
    etag = unquoted_etag(blob.get_blob_properties().etag)
    record_poisoned_drop(poison_message(ctx, "claimed.txt", etag), ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.GROUPED and record.needs_attention
    assert len(service.start_calls) == 1


def test_a_poisoned_result_flags_its_record_and_is_handed_over_again_later(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "stuck.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    [text] = drain_results(ctx)
    record_poisoned_result(text, ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.FINISHING and record.needs_attention
    clock.advance(60 * 30)
    assert poll_outstanding_jobs(ctx).requeued == 0  # not hammered while the cause may persist
    clock.advance(60 * 31)
    assert poll_outstanding_jobs(ctx).requeued == 1
    [again] = drain_results(ctx)
    assert record_outcome(again, ctx).outcome == "Succeeded"


def test_a_poison_message_that_is_not_ours_is_dropped_with_a_log(ctx, caplog):
    record_poisoned_result("garbage", ctx)
    assert "not ours" in caplog.text


def test_catch_up_submits_a_blob_whose_event_never_came_once(make_context, service, clock):
    ctx = make_context(CATCH_UP_AFTER_SECONDS="60")
    handled = upload(ctx, "handled.txt", b"Hello")
    submit_dropped_blob(handled, ctx)
    upload(ctx, "missed.txt", b"Hello")
    assert catch_up_missed_drops(ctx).submitted == 0  # too recent: its event may still come
    clock.advance(120)
    summary = catch_up_missed_drops(ctx)
    assert (summary.examined, summary.submitted) == (2, 1)
    assert [call[0].source_url.split("?")[0].rsplit("/", 1)[-1] for call in service.start_calls] == [
        "handled.txt",
        "missed.txt",
    ]
    clock.advance(600)
    assert catch_up_missed_drops(ctx).submitted == 0  # looked at again (clock overlap), found recorded
    clock.advance(600)
    again = catch_up_missed_drops(ctx)
    assert (again.examined, again.submitted, again.record_reads) == (0, 0, 0)  # behind the watermark now


def test_a_listing_that_fails_is_flagged_retried_and_cleared_and_skips_nothing(make_context, service, clock, caplog):
    # Azurite answers 500 to a listing that would hold this name (it cannot write \x01 into XML).
    ctx = make_context(CATCH_UP_AFTER_SECONDS="60")
    for name in ("a-before.txt", "b\x01unlistable.txt", "c-after.txt", "d-after.txt"):
        upload(ctx, name, b"Hello")
    clock.advance(120)
    with caplog.at_level(logging.ERROR, logger="shared.pipeline.catch_up"):
        failed = catch_up_missed_drops(ctx)
    assert failed.listing_failed and "HttpResponseError" in failed.listing_failed
    [alert] = [record for record in caplog.records if record.name == "shared.pipeline.catch_up"]
    assert alert.levelno == logging.ERROR and alert.event == "translation.needs_attention"
    assert alert.reason_code == "CatchUpListingFailed"
    trouble = ctx.records.state.get_trouble("catch-up-failing")
    assert trouble is not None and trouble.since == clock() and "HttpResponseError" in trouble.reason
    assert ctx.records.state.get_moment("catch-up-watermark") is None  # the window is looked at again

    clock.advance(300)
    catch_up_missed_drops(ctx)
    again = ctx.records.state.get_trouble("catch-up-failing")
    assert again is not None and again.since == trouble.since and again.last_attempt == clock()

    ctx.storage.container(ctx.settings.source_container).delete_blob("b\x01unlistable.txt")
    clock.advance(300)
    recovered = catch_up_missed_drops(ctx)
    assert recovered.listing_failed is None and ctx.records.state.get_trouble("catch-up-failing") is None
    submitted = sorted(call[0].source_url.split("?")[0].rsplit("/", 1)[-1] for call in service.start_calls)
    assert submitted == ["a-before.txt", "c-after.txt", "d-after.txt"]


@pytest.mark.parametrize("text", ["not json", json.dumps({"BlobName": "a.txt"}), json.dumps(["ContainerName"])])
def test_a_blob_trigger_poison_message_not_the_extensions_is_named_for_that_queue(text):
    with pytest.raises(MalformedPoisonMessage) as raised:
        PoisonedBlob.from_text(text)
    # Not a results message: the two queues' strangers are told apart by their type.
    assert not isinstance(raised.value, MalformedResultMessage)
