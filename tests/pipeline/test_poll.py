import pytest

from shared.pipeline import poll as poll_module
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.job_table import State
from shared.translator import SubmissionUncertainError
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def test_running_jobs_are_asked_about_in_groups_not_one_by_one(ctx, service, monkeypatch):
    monkeypatch.setattr(poll_module, "IDS_PER_CALL", 3)
    for index in range(7):
        submit_dropped_blob(upload(ctx, f"doc{index}.txt", b"Hello"), ctx)
    summary = poll_outstanding_jobs(ctx)
    assert summary.polled == 7
    assert service.list_calls == 3  # ceil(7 / 3) list calls, no per-job reads


def test_a_finished_job_is_handed_to_the_results_queue_once(ctx, service):
    result = submit_dropped_blob(upload(ctx, "done.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    assert poll_outstanding_jobs(ctx).finished == 1
    assert ctx.jobs.get_open(result.key).state == State.FINISHING
    assert len(drain_results(ctx)) == 1
    assert poll_outstanding_jobs(ctx).finished == 0  # not handed over twice


def test_a_handed_over_job_still_open_after_the_requeue_delay_is_handed_over_again(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "lost.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    poll_outstanding_jobs(ctx)
    drain_results(ctx)  # the message was lost
    clock.advance(poll_module.REQUEUE_AFTER.total_seconds() + 1)
    assert poll_outstanding_jobs(ctx).requeued == 1
    assert len(drain_results(ctx)) == 1


def test_poll_cost_does_not_grow_with_finished_jobs(ctx, service):
    from tests.pipeline.test_record import record_all

    for index in range(5):
        result = submit_dropped_blob(upload(ctx, f"old{index}.txt", b"Hello"), ctx)
        service.finish(result.job_id)
    poll_outstanding_jobs(ctx)
    record_all(ctx)
    service.list_calls = 0
    summary = poll_outstanding_jobs(ctx)
    assert (summary.outstanding, service.list_calls) == (0, 0)


def test_a_job_the_service_no_longer_knows_ends_failed_with_that_reason(ctx, service):
    result = submit_dropped_blob(upload(ctx, "gone.txt", b"Hello"), ctx)
    del service.jobs[result.job_id]
    poll_outstanding_jobs(ctx)
    record = ctx.jobs.get_open(result.key)
    assert (record.state, record.outcome, record.reason_code) == (State.FINISHING, "Failed", "JobNotFound")


def test_an_unknown_status_is_followed_but_flagged(ctx, service):
    result = submit_dropped_blob(upload(ctx, "odd.txt", b"Hello"), ctx)
    service.jobs[result.job_id].status = "Paused"
    summary = poll_outstanding_jobs(ctx)
    record = ctx.jobs.get_open(result.key)
    assert summary.unknown_status == [result.job_id]
    assert record.state == State.SUBMITTED and record.needs_attention
    assert "Paused" in record.attention_reason


def test_an_uncertain_submission_that_created_a_batch_is_adopted_not_resubmitted(ctx, service):
    service.create_then_fail = SubmissionUncertainError("answer lost", status_code=502)
    result = submit_dropped_blob(upload(ctx, "adopt.txt", b"Hello"), ctx)
    [created] = service.jobs
    summary = poll_outstanding_jobs(ctx)
    assert (summary.reconciled, summary.resubmitted) == (1, 0)
    assert ctx.jobs.get_open(result.key).job_id == created
    assert len(service.start_calls) == 1


def test_an_uncertain_submission_without_a_batch_is_submitted_again_once(ctx, service):
    service.fail_next_start = SubmissionUncertainError("answer lost", status_code=503)
    result = submit_dropped_blob(upload(ctx, "again.txt", b"Hello"), ctx)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    record = ctx.jobs.get_open(result.key)
    assert record.state == State.SUBMITTED and record.attempt == 2
    assert poll_outstanding_jobs(ctx).resubmitted == 0
    assert len(service.start_calls) == 2  # the lost one and the one that counted


def test_a_crash_after_the_claim_is_recovered_after_the_reconcile_delay(ctx, service, clock):
    from dataclasses import replace

    from shared.storage.job_table import OpenJob

    blob = upload(ctx, "crash.txt", b"Hello")
    # What a crash right after the claim leaves: an open record with no job id.
    properties = blob.get_blob_properties()
    from shared.storage.job_table import source_key

    etag = properties.etag.strip('"')
    claim = OpenJob(
        key=source_key(ctx.settings.source_container, "crash.txt", etag),
        source_container=ctx.settings.source_container,
        source_name="crash.txt",
        source_etag=etag,
        source_url=ctx.access.blob_url(ctx.settings.source_container, "crash.txt"),
        content_length=5,
        languages=["fr"],
        state=State.SUBMITTING,
        intent_at=clock(),
    )
    ctx.jobs.claim(replace(claim))
    assert poll_outstanding_jobs(ctx).resubmitted == 0  # the submitter may still be running
    clock.advance(ctx.settings.submit_reconcile_after_seconds + 1)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    assert ctx.jobs.get_open(claim.key).state == State.SUBMITTED
    assert submit_dropped_blob(blob, ctx).action == "duplicate"  # the redelivered event changes nothing
    assert len(service.start_calls) == 1


def test_submission_gives_up_after_the_maximum_attempts(ctx, service, monkeypatch):
    monkeypatch.setattr(poll_module, "MAX_SUBMIT_ATTEMPTS", 2)
    service.fail_next_start = SubmissionUncertainError("lost", status_code=503)
    result = submit_dropped_blob(upload(ctx, "never.txt", b"Hello"), ctx)
    service.fail_next_start = SubmissionUncertainError("lost again", status_code=503)
    poll_outstanding_jobs(ctx)  # attempt 2, uncertain again
    poll_outstanding_jobs(ctx)  # gives up
    record = ctx.jobs.get_open(result.key)
    assert (record.state, record.outcome, record.reason_code) == (State.FINISHING, "Failed", "SubmissionFailed")
