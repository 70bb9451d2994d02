import json

import pytest

from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import RecordNotFound, mark_needs_attention, record_outcome
from shared.pipeline.submit import TRANSLATED_FROM_METADATA_KEY, submit_dropped_blob
from shared.storage.results_queue import MalformedResultMessage
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def record_all(ctx):
    return [record_outcome(text, ctx) for text in drain_results(ctx)]


def finished(ctx, service, name, **finish):
    result = submit_dropped_blob(upload(ctx, name, b"Hello world"), ctx)
    target = ctx.storage.container(ctx.settings.target_container)
    for language in ("fr", "de"):
        if language not in finish.get("failures", {}):
            target.upload_blob(f"{language}/{name}", b"translated", overwrite=True)
    service.finish(result.job_id, **finish)
    poll_outstanding_jobs(ctx)
    return result


def test_a_succeeded_job_gets_a_final_record_a_report_and_stamped_translations(ctx, service):
    result = finished(ctx, service, "ok.txt")
    [record] = record_all(ctx)

    assert record.outcome == "Succeeded"
    assert (record.total, record.succeeded, record.failed, record.characters_charged) == (2, 2, 0, 200)
    assert [doc.target_path.rsplit("/", 2)[-2:] for doc in record.documents] == [["de", "ok.txt"], ["fr", "ok.txt"]]
    assert ctx.jobs.get_open(result.key) is None
    assert ctx.jobs.get_final(result.key).outcome == "Succeeded"
    report = json.loads(ctx.storage.container(ctx.settings.reports_container).download_blob("ok.txt.json").readall())
    assert report["outcome"] == "Succeeded" and report["job_id"] == result.job_id
    assert {doc["language"] for doc in report["documents"]} == {"fr", "de"}
    target = ctx.storage.container(ctx.settings.target_container)
    stamp = target.get_blob_client("fr/ok.txt").get_blob_properties().metadata[TRANSLATED_FROM_METADATA_KEY]
    assert stamp == record.source_etag


def test_some_documents_failing_is_partial_success_with_each_reason(ctx, service):
    finished(ctx, service, "part.txt", failures={"de": ("TargetFileAlreadyExists", "exists")})
    [record] = record_all(ctx)
    assert record.outcome == "PartiallySucceeded"
    by_language = {doc.language: doc for doc in record.documents}
    assert by_language["de"].error_code == "TargetFileAlreadyExists"
    assert by_language["fr"].status == "Succeeded"


def test_every_document_failing_is_failed(ctx, service):
    failures = {"fr": ("NoTranslatableText", "empty"), "de": ("NoTranslatableText", "empty")}
    finished(ctx, service, "fail.txt", failures=failures)
    [record] = record_all(ctx)
    assert (record.outcome, record.reason_code) == ("Failed", "NoTranslatableText")


def test_a_rejection_is_recorded_by_the_same_function(ctx, service):
    result = submit_dropped_blob(upload(ctx, "bad.exe", b"MZ"), ctx)
    [record] = record_all(ctx)
    assert (record.outcome, record.reason_code) == ("Rejected", "UnsupportedFormat")
    assert ctx.jobs.get_final(result.key).reason_code == "UnsupportedFormat"


def test_recording_twice_is_harmless(ctx, service):
    finished(ctx, service, "twice.txt")
    [text] = drain_results(ctx)
    first = record_outcome(text, ctx)
    assert first.outcome == "Succeeded"
    assert record_outcome(text, ctx) is None


def test_a_message_for_an_unknown_record_fails_so_it_reaches_the_poison_queue(ctx):
    with pytest.raises(RecordNotFound):
        record_outcome('{"key": "nope", "source": "x.txt"}', ctx)
    with pytest.raises(MalformedResultMessage):
        record_outcome("not json", ctx)


def test_a_message_failing_for_the_last_time_marks_the_job_as_needing_attention(ctx, service):
    result = finished(ctx, service, "poison.txt")
    [text] = drain_results(ctx)
    mark_needs_attention(text, RuntimeError("storage down"), ctx)
    record = ctx.jobs.get_open(result.key)
    assert record.needs_attention and "poison queue" in record.attention_reason
    # A flagged record is not handed over again and again by the poller.
    assert poll_outstanding_jobs(ctx).requeued == 0
