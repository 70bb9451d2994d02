"""The poller on Azurite with a scripted service: what is due, lost answers, versions, sick entries."""

from __future__ import annotations

import pytest

from shared.pipeline import grouping, lifecycle
from shared.pipeline import poll as poll_module
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import plan_for, submit_dropped_blob
from shared.storage.records import SourceVersion, State
from shared.storage.schedule_table import Member, SubmissionState
from shared.translator import AuthenticationError, RateLimitedError, SubmissionUncertainError
from tests.pipeline.conftest import drain_results, job_of, read_target, record_all, submission_of, upload

pytestmark = pytest.mark.integration


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


def test_a_tick_with_nothing_due_asks_the_service_nothing_and_reads_one_query(ctx, service, clock, monkeypatch):
    submit_dropped_blob(upload(ctx, "young.txt", b"Hello"), ctx)
    queries = []
    table = ctx.storage.records_table
    original = table.query_entities
    monkeypatch.setattr(table, "query_entities", lambda *a, **k: queries.append(a) or original(*a, **k))
    poll_outstanding_jobs(ctx)  # submitted a moment ago: its first look is not due yet
    assert service.calls.get("list", 0) == 0 and len(queries) == 1
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).polled == 1
    assert poll_outstanding_jobs(ctx).polled == 0  # just looked: next look later


def test_a_finished_job_is_handed_to_the_results_queue_once(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "done.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).finished == 1
    record = ctx.records.get_open(result.key)
    assert record.state == State.FINISHING and record.job_id == result.job_id
    assert [document.status for document in record.documents] == ["Succeeded", "Succeeded"]
    assert len(drain_results(ctx)) == 1
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).finished == 0  # not handed over twice


def test_a_look_at_a_running_job_is_written_to_its_submission_not_its_files(ctx, service, clock):
    results = [submit_dropped_blob(upload(ctx, f"p{index}.txt", b"Hello"), ctx) for index in range(3)]
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    for result in results:
        submission = submission_of(ctx, result.key)
        assert submission.job_status == "Running" and submission.last_polled_at is not None
        assert submission.summary.total == 2


def test_a_hand_over_cut_off_is_repeated(ctx, service, clock, monkeypatch):
    result = submit_dropped_blob(upload(ctx, "lost.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    sent = lifecycle.hand_over_members
    monkeypatch.setattr(lifecycle, "hand_over_members", lambda *args: (_ for _ in ()).throw(RuntimeError("died")))
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).failures  # the process died while handing over
    assert drain_results(ctx) == []
    monkeypatch.setattr(lifecycle, "hand_over_members", sent)
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).finished == 0  # not before the hand-over's retry delay
    later(clock, 120)
    assert poll_outstanding_jobs(ctx).finished == 1
    assert len(drain_results(ctx)) == 1


def test_a_member_never_recorded_is_handed_over_again_after_the_requeue_delay(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "unrecorded.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    drain_results(ctx)  # the message went (a queue purged by hand, say)
    later(clock, lifecycle.REQUEUE_AFTER.total_seconds() + 1)
    assert poll_outstanding_jobs(ctx).requeued == 1
    [message] = drain_results(ctx)
    record_outcome(message, ctx)
    later(clock, lifecycle.REQUEUE_AFTER.total_seconds() + 1)
    poll_outstanding_jobs(ctx)
    assert ctx.schedule.submissions() == []  # every member recorded: the submission is gone


def test_a_member_whose_message_still_waits_is_not_handed_over_again(ctx, service, clock):
    # A bulk's hand-overs can outlast REQUEUE_AFTER on the queue: the record step is behind, the
    # hand-over is not lost, and a second message would only lengthen the queue.
    result = submit_dropped_blob(upload(ctx, "behind.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    later(clock, lifecycle.REQUEUE_AFTER.total_seconds() + 1)
    assert poll_outstanding_jobs(ctx).requeued == 0
    [message] = drain_results(ctx)  # taken, and its recording lost
    later(clock, lifecycle.REQUEUE_AFTER.total_seconds() + 1)
    assert poll_outstanding_jobs(ctx).requeued == 1
    assert len(drain_results(ctx)) == 1
    record_outcome(message, ctx)


def test_poll_cost_does_not_grow_with_recorded_files(ctx, service, clock):
    for index in range(5):
        result = submit_dropped_blob(upload(ctx, f"old{index}.txt", b"Hello"), ctx)
        service.finish(result.job_id)
    later(clock, 5)
    poll_outstanding_jobs(ctx)
    record_all(ctx)
    later(clock, lifecycle.REQUEUE_AFTER.total_seconds() + 1)
    poll_outstanding_jobs(ctx)  # each submission sees its files recorded, and goes
    service.calls.clear()
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.due, service.calls) == (0, {})


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
    submission = submission_of(ctx, result.key)
    assert summary.flagged == 1
    assert submission.state == SubmissionState.SUBMITTED and submission.needs_attention
    assert "Paused" in submission.attention_reason
    later(clock, 60)
    assert poll_outstanding_jobs(ctx).polled == 1  # still followed


def test_a_lost_answer_is_adopted_not_submitted_again(ctx, service, clock):
    service.create_then_fail = SubmissionUncertainError("answer lost", status_code=502)
    result = submit_dropped_blob(upload(ctx, "adopt.txt", b"Hello"), ctx)
    [created] = service.jobs
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.reconciled, summary.resubmitted) == (1, 0)
    assert job_of(ctx, result.key) == created
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
    assert job_of(ctx, second.key) == second_job


def test_an_uncertain_attempt_without_a_job_is_submitted_again_only_after_the_delay(ctx, service, clock):
    service.fail_next_start = SubmissionUncertainError("answer lost", status_code=503)
    result = submit_dropped_blob(upload(ctx, "again.txt", b"Hello"), ctx)
    later(clock, 5)
    assert poll_outstanding_jobs(ctx).resubmitted == 0  # the attempt might still create its job
    later(clock, ctx.settings.submit_reconcile_after_seconds)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    submission = submission_of(ctx, result.key)
    assert submission.state == SubmissionState.SUBMITTED and submission.members[0].attempt == 2
    assert ".inflight/" + result.key + "-2/" in service.start_calls[-1][0].targets[0].url
    assert len(service.start_calls) == 2  # the lost one and the one that counted


def test_a_crash_before_the_start_call_is_recovered_after_the_reconcile_delay(ctx, service, clock):
    blob = upload(ctx, "crash.txt", b"Hello")
    properties = blob.get_blob_properties()
    source = SourceVersion.of(blob.container_name, blob.blob_name, properties)
    plan = plan_for(ctx, source, properties.metadata)
    member = Member(source.key, source.name, source.size, 1)
    _, submission = grouping.start_alone(ctx, plan, member, source.container)
    lifecycle.claim(ctx, source, state=State.GROUPED, plan=plan, submission=submission.id, attempts=1)
    # ... and then the process died, before its start call
    assert poll_outstanding_jobs(ctx).resubmitted == 0  # the submitter may still be running
    later(clock, ctx.settings.submit_reconcile_after_seconds + 1)
    assert poll_outstanding_jobs(ctx).resubmitted == 1
    assert submission_of(ctx, source.key).state == SubmissionState.SUBMITTED
    assert submit_dropped_blob(blob, ctx).action == "duplicate"  # the redelivered event changes nothing
    assert len(service.start_calls) == 1


def test_a_record_waiting_for_credentials_carries_on_once_they_work(ctx, service, clock):
    service.refuse_everything = AuthenticationError("Access denied", status_code=401, code="Unauthorized")
    result = submit_dropped_blob(upload(ctx, "key.txt", b"Hello"), ctx)
    for _ in range(8):  # refused again and again: it keeps waiting, flagged, never fails
        later(clock, 400)
        poll_outstanding_jobs(ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.WAITING and record.needs_attention
    service.refuse_everything = None  # the operator fixed the key
    later(clock, 400)
    poll_outstanding_jobs(ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.GROUPED and not record.needs_attention
    assert submission_of(ctx, result.key).state == SubmissionState.SUBMITTED


def test_a_submission_refused_with_credentials_waits_flagged_and_goes_once_they_work(ctx, service, clock):
    service.fail_next_start = AuthenticationError("Access denied", status_code=401, code="Unauthorized")
    result = submit_dropped_blob(upload(ctx, "refused.txt", b"Hello"), ctx)
    submission = submission_of(ctx, result.key)
    assert submission.state == SubmissionState.WAITING and submission.needs_attention
    later(clock, 10)
    poll_outstanding_jobs(ctx)
    submission = submission_of(ctx, result.key)
    assert submission.state == SubmissionState.SUBMITTED and not submission.needs_attention


def test_submission_gives_up_after_the_maximum_attempts(ctx, service, clock, monkeypatch):
    monkeypatch.setattr(grouping, "MAX_SUBMIT_ATTEMPTS", 2)
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
    submission = submission_of(ctx, result.key)
    assert submission.needs_attention
    assert f"after {ctx.settings.stuck_job_after_minutes + 1} minutes" in submission.attention_reason
    later(clock, 60)
    assert poll_outstanding_jobs(ctx).flagged == 0  # flagged once
    service.finish(result.job_id)
    later(clock, 120)
    poll_outstanding_jobs(ctx)
    [final] = record_all(ctx)
    assert final.outcome == "Succeeded" and not final.needs_attention  # the cause passed


def test_one_failing_entry_does_not_fail_the_poll_for_the_others(ctx, service, clock, monkeypatch):
    bad = submit_dropped_blob(upload(ctx, "bad.txt", b"Hello"), ctx)
    good = submit_dropped_blob(upload(ctx, "good.txt", b"Hello"), ctx)
    service.finish(bad.job_id)
    service.finish(good.job_id)
    from shared.pipeline import finishing

    hand_over = finishing.hand_over

    def failing(ctx, submission, **options):
        if submission.job_id == bad.job_id:
            raise RuntimeError("PropertyValueTooLarge (simulated)")
        return hand_over(ctx, submission, **options)

    monkeypatch.setattr(finishing, "hand_over", failing)
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert len(summary.failures) == 1 and summary.finished == 1
    assert ctx.records.get_open(good.key).state == State.FINISHING
    monkeypatch.setattr(finishing, "hand_over", hand_over)
    later(clock, 125)
    poll_outstanding_jobs(ctx)  # the failed one is looked at again and goes through
    assert ctx.records.get_open(bad.key).state == State.FINISHING


def test_the_poll_reports_how_old_the_oldest_job_it_looked_at_is(ctx, service, clock):
    submit_dropped_blob(upload(ctx, "aged.txt", b"Hello"), ctx)
    later(clock, 90)
    assert poll_outstanding_jobs(ctx).oldest_age_seconds == pytest.approx(90, abs=1)


def test_a_busy_tick_hands_shards_to_the_queue_and_a_shard_does_the_work(ctx, service, clock, monkeypatch):
    monkeypatch.setattr(poll_module, "INLINE_ENTRIES", 3)
    monkeypatch.setattr(poll_module, "SHARD_ENTRIES", 2)
    results = [submit_dropped_blob(upload(ctx, f"busy{index}.txt", b"Hello"), ctx) for index in range(5)]
    for result in results:
        service.finish(result.job_id)
    later(clock, 5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.shards, summary.polled, service.calls.get("list", 0)) == (3, 0, 0)
    assert poll_outstanding_jobs(ctx).due == 0  # the next tick does not hand them out again
    messages = [message.content for message in ctx.storage.poll_shards_queue.receive_messages(max_messages=32)]
    assert len(messages) == 3
    handed = sum(poll_module.poll_shard(ctx, text).finished for text in messages)
    assert handed == 5 and len(drain_results(ctx)) == 5
