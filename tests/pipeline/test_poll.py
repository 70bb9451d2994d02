"""The poller on Azurite with a scripted service: due checks, lost answers, versions, sick records."""

import pytest

from shared.pipeline import poll as poll_module
from shared.pipeline.lifecycle import SourceVersion, claim
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.record_table import State
from shared.translator import AuthenticationError, RateLimitedError, SubmissionUncertainError
from tests.pipeline.conftest import drain_results, read_target, upload

pytestmark = pytest.mark.integration


def record_all(ctx):
    return [record_outcome(text, ctx) for text in drain_results(ctx)]


def later(clock, seconds: float = 60) -> None:
    clock.advance(seconds)


def test_running_jobs_are_asked_about_in_groups_not_one_by_one(ctx, service, clock, monkeypatch):
    monkeypatch.setattr(poll_module, "IDS_PER_CALL", 3)
    for index in range(7):
        submit_dropped_blob(upload(ctx, f"doc{index}.txt", b"Hello"), ctx)
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert summary.polled == 7
    assert service.calls["list"] == 3  # ceil(7 / 3) list calls, no per-job reads


def test_a_tick_with_nothing_due_asks_the_service_nothing(ctx, service, clock):
    submit_dropped_blob(upload(ctx, "young.txt", b"Hello"), ctx)
    poll_outstanding_jobs(ctx)  # submitted a moment ago: its first check is not due yet
    assert service.calls.get("list", 0) == 0
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).polled == 1
    assert poll_outstanding_jobs(ctx).polled == 0  # just looked: next check later


def test_a_finished_job_is_handed_to_the_results_queue_once(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "done.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).finished == 1
    assert ctx.records.get_open(result.key).state == State.FINISHING
    assert len(drain_results(ctx)) == 1
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).finished == 0  # not handed over twice


def test_progress_of_many_jobs_is_written_back(ctx, service, clock):
    results = [submit_dropped_blob(upload(ctx, f"p{index}.txt", b"Hello"), ctx) for index in range(5)]
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    for result in results:
        record = ctx.records.get_open(result.key)
        assert record.service_status == "Running" and record.last_polled_at is not None


def test_a_lost_hand_over_is_repeated_after_the_requeue_delay(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "lost.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    drain_results(ctx)  # the message was lost
    later(clock, poll_module.REQUEUE_AFTER.total_seconds() + 1)
    assert poll_outstanding_jobs(ctx).requeued == 1
    assert len(drain_results(ctx)) == 1


def test_poll_cost_does_not_grow_with_recorded_files(ctx, service, clock):
    for index in range(5):
        result = submit_dropped_blob(upload(ctx, f"old{index}.txt", b"Hello"), ctx)
        service.finish(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    record_all(ctx)
    service.calls.clear()
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.outstanding, service.calls) == (0, {})


def test_a_job_the_service_forgot_is_recorded_from_what_it_wrote(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "gone.txt", b"Hello"), ctx)
    service.finish(result.job_id, failures={"de": ("X", "y")})  # fr written, de not
    service.forgotten.add(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    [final] = record_all(ctx)
    by_language = {outcome.language: outcome for outcome in final.language_outcomes}
    assert by_language["fr"].status == "Succeeded" and by_language["fr"].published
    assert by_language["de"].error_code == "JobNotFound"
    assert final.outcome == "PartiallySucceeded"


def test_an_unknown_status_is_followed_but_flagged(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "odd.txt", b"Hello"), ctx)
    service.jobs[result.job_id].status = "Paused"
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    record = ctx.records.get_open(result.key)
    assert summary.flagged == 1
    assert record.state == State.SUBMITTED and record.needs_attention
    assert "Paused" in record.attention_reason


def test_a_lost_answer_is_adopted_not_submitted_again(ctx, service, clock):
    service.create_then_fail = SubmissionUncertainError("answer lost", status_code=502)
    result = submit_dropped_blob(upload(ctx, "adopt.txt", b"Hello"), ctx)
    [created] = service.jobs
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.reconciled, summary.resubmitted) == (1, 0)
    assert ctx.records.get_open(result.key).job_id == created
    assert len(service.start_calls) == 1


def test_a_lost_answer_is_never_matched_to_the_previous_versions_job(ctx, service, clock):
    first = submit_dropped_blob(upload(ctx, "v.txt", b"Version one"), ctx)
    service.finish(first.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    record_all(ctx)  # version one is recorded: its job is no longer followed by anyone
    later(clock, 1)
    service.create_then_fail = SubmissionUncertainError("answer lost", status_code=503)
    second = submit_dropped_blob(upload(ctx, "v.txt", b"Version two"), ctx)
    second_job = next(job for job in service.jobs if job != first.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    assert ctx.records.get_open(second.key).job_id == second_job


def test_an_uncertain_attempt_without_a_job_is_submitted_again_only_after_the_delay(ctx, service, clock):
    service.fail_next_start = SubmissionUncertainError("answer lost", status_code=503)
    result = submit_dropped_blob(upload(ctx, "again.txt", b"Hello"), ctx)
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).resubmitted == 0  # the attempt might still create its job
    later(clock, ctx.settings.submit_reconcile_after_seconds)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    record = ctx.records.get_open(result.key)
    assert record.state == State.SUBMITTED and record.attempt == 2
    assert ".inflight/" + result.key + "-2/" in service.start_calls[-1][0].targets[0].url
    assert len(service.start_calls) == 2  # the lost one and the one that counted


def test_a_crash_after_the_claim_is_recovered_after_the_reconcile_delay(ctx, service, clock):
    blob = upload(ctx, "crash.txt", b"Hello")
    properties = blob.get_blob_properties()
    source = SourceVersion(
        ctx.settings.source_container, "crash.txt", properties.etag.strip('"'), properties.last_modified, 5
    )
    claimed = claim(ctx, source)  # ... and then the process died
    assert poll_outstanding_jobs(ctx).resubmitted == 0  # the submitter may still be running
    later(clock, ctx.settings.submit_reconcile_after_seconds + 1)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    assert ctx.records.get_open(claimed.key).state == State.SUBMITTED
    assert submit_dropped_blob(blob, ctx).action == "duplicate"  # the redelivered event changes nothing
    assert len(service.start_calls) == 1


def test_a_record_waiting_for_credentials_carries_on_once_they_work(ctx, service, clock):
    service.refuse_everything = AuthenticationError("Access denied", status_code=401, code="Unauthorized")
    result = submit_dropped_blob(upload(ctx, "key.txt", b"Hello"), ctx)
    for _ in range(8):  # refused again and again: it keeps waiting, flagged, never fails
        later(clock, 400)
        poll_outstanding_jobs(ctx)
    assert ctx.records.get_open(result.key).state == State.WAITING
    service.refuse_everything = None  # the operator fixed the key
    later(clock, 400)
    poll_outstanding_jobs(ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.SUBMITTED and not record.needs_attention


def test_submission_gives_up_after_the_maximum_attempts(ctx, service, clock, monkeypatch):
    monkeypatch.setattr(poll_module, "MAX_SUBMIT_ATTEMPTS", 2)
    service.fail_next_start = RateLimitedError("too many requests", status_code=429)
    result = submit_dropped_blob(upload(ctx, "never.txt", b"Hello"), ctx)
    service.fail_next_start = RateLimitedError("too many requests", status_code=429)
    later(clock, 60)
    poll_outstanding_jobs(ctx)  # attempt 2, refused again
    later(clock, 60)
    poll_outstanding_jobs(ctx)  # gives up
    record = ctx.records.get_open(result.key)
    assert (record.state, record.outcome, record.reason_code) == (State.FINISHING, "Failed", "SubmissionFailed")


def test_a_newer_version_supersedes_the_one_in_flight(ctx, service, clock):
    first = submit_dropped_blob(upload(ctx, "letter.txt", b"First"), ctx)
    later(clock, 1)
    second = submit_dropped_blob(upload(ctx, "letter.txt", b"Second"), ctx)
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert summary.superseded == 1
    assert service.jobs[first.job_id].status == "Cancelled"
    service.finish(second.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    finals = {final.key: final for final in record_all(ctx)}
    assert finals[first.key].outcome == "Superseded" and finals[first.key].superseded_by == second.key
    assert finals[second.key].outcome == "Succeeded"
    _, metadata = read_target(ctx, "fr/letter.txt")
    assert metadata["translatedfrom"] == ctx.records.get_final(second.key).source_etag


def test_a_job_running_too_long_is_flagged_with_its_age(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "slow.txt", b"Hello"), ctx)
    later(clock, ctx.settings.stuck_job_after_minutes * 60 + 60)
    assert poll_outstanding_jobs(ctx).flagged == 1
    record = ctx.records.get_open(result.key)
    assert record.needs_attention and f"after {ctx.settings.stuck_job_after_minutes + 1} minutes" in (
        record.attention_reason
    )
    service.finish(result.job_id)
    later(clock, 120)
    poll_outstanding_jobs(ctx)
    [final] = record_all(ctx)
    assert final.outcome == "Succeeded" and not final.needs_attention  # the cause passed


def test_one_failing_record_does_not_fail_the_poll_for_the_others(ctx, service, clock, monkeypatch):
    bad = submit_dropped_blob(upload(ctx, "bad.txt", b"Hello"), ctx)
    good = submit_dropped_blob(upload(ctx, "good.txt", b"Hello"), ctx)
    service.finish(bad.job_id)
    service.finish(good.job_id)
    table = ctx.records
    update, update_many = table.update, table.update_many

    def refuse(record):
        if record.key == bad.key and record.state == State.FINISHING:
            raise RuntimeError("PropertyValueTooLarge (simulated)")

    def failing_update(record):
        refuse(record)
        return update(record)

    def failing_update_many(records):
        for record in records:
            refuse(record)
        return update_many(records)

    monkeypatch.setattr(table, "update", failing_update)
    monkeypatch.setattr(table, "update_many", failing_update_many)
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert summary.failures == [bad.key] and summary.finished == 1
    assert "PropertyValueTooLarge" in ctx.records.get_open(bad.key).last_error
    assert ctx.records.get_open(good.key).state == State.FINISHING


def test_the_poll_reports_how_old_the_oldest_record_is(ctx, service, clock):
    submit_dropped_blob(upload(ctx, "aged.txt", b"Hello"), ctx)
    later(clock, 90)
    assert poll_outstanding_jobs(ctx).oldest_age_seconds == pytest.approx(90, abs=1)
