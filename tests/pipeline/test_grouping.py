"""Files that land together share a job, on Azurite with a scripted service: grouping, the window,
refusals split apart, lost answers, dead groupers, and versions inside a shared job."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shared.pipeline import grouping
from shared.pipeline.lifecycle import claim
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import plan_for, submit_dropped_blob
from shared.storage.records import SourceVersion, State
from shared.storage.schedule_table import Lease, SubmissionState
from shared.translator import SubmissionUncertainError
from tests.pipeline.conftest import (
    job_of,
    read_target,
    real_time,
    record_all,
    slow_start,
    submission_of,
    upload,
)
from tests.pipeline.fake_service import source_name

pytestmark = pytest.mark.integration


def jobs_by_file(service) -> Counter[str]:
    """Source name -> how many jobs the service was asked to translate it in."""
    return Counter(source_name(item) for job in service.jobs.values() for item in job.inputs)


def plan_of(ctx, blob):
    properties = blob.get_blob_properties()
    return plan_for(ctx, SourceVersion.of(blob.container_name, blob.blob_name, properties), properties.metadata)


def hold_lease(ctx, blob, *, holder: str = "someone else", seconds: float = 60) -> Lease:
    """Another instance groups this plan's files (the drops made meanwhile wait)."""
    plan = plan_of(ctx, blob)
    lease = ctx.schedule.acquire(plan.digest, holder, ctx.now() + timedelta(seconds=seconds), ctx.now())
    assert lease is not None
    return lease


def test_files_that_land_while_a_start_call_runs_share_one_job(ctx, service, monkeypatch):
    real_time(ctx)
    slow_start(service, monkeypatch)
    blobs = [upload(ctx, f"bulk/{index:03d}.txt", b"Hello") for index in range(60)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda blob: submit_dropped_blob(blob, ctx), blobs))

    assert Counter(result.action for result in results) == {"submitted": 1, "waiting": 59}
    assert sorted(len(job.inputs) for job in service.jobs.values()) == [1, 59]
    assert set(jobs_by_file(service).values()) == {1}  # every file in exactly one job
    for result in results:
        record = ctx.records.get_open(result.key)
        assert record.state == State.GROUPED and submission_of(ctx, result.key).state == SubmissionState.SUBMITTED


def test_a_grouper_waiting_for_a_bulk_reads_each_waiting_row_about_once(ctx, service, monkeypatch):
    # Not once a second while the bulk keeps coming: the rows claimed since the last look, then one
    # whole read before the job is cut.
    real_time(ctx)
    slow_start(service, monkeypatch, seconds=0.2)
    rows_read = []
    original = ctx.schedule.waiting
    monkeypatch.setattr(
        ctx.schedule, "waiting", lambda *a, **k: rows_read.append(len(found := original(*a, **k))) or found
    )
    blobs = [upload(ctx, f"trickle/{index:02d}.txt", b"Hello") for index in range(40)]

    def drop(index: int):
        time.sleep(index * 0.1)  # one every 100 ms for 4 s
        return submit_dropped_blob(blobs[index], ctx)

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(drop, range(len(blobs))))
    assert set(jobs_by_file(service).values()) == {1}
    assert len(rows_read) >= 4  # it looked again and again while they came
    assert sum(rows_read) <= 3 * len(blobs)


def test_a_file_dropped_alone_is_submitted_at_once_without_waiting(ctx, service):
    result = submit_dropped_blob(upload(ctx, "alone.txt", b"Hello"), ctx)
    assert result.action == "submitted" and result.job_id in service.jobs
    assert ctx.schedule.waiting(ctx.records.get_open(result.key).plan, limit=10) == []
    assert ctx.schedule.lease(ctx.records.get_open(result.key).plan) is None  # let go once done


def test_a_group_is_cut_at_the_window_while_files_keep_arriving(make_context, service, monkeypatch):
    ctx = make_context(GROUPING_WINDOW_SECONDS="1")
    real_time(ctx)
    slow_start(service, monkeypatch, seconds=0.1)
    blobs = [upload(ctx, f"stream/{index:02d}.txt", b"Hello") for index in range(60)]

    def drop(index: int):
        time.sleep(index * 0.05)  # one every 50 ms for 3 s: always arriving, never quiet
        return submit_dropped_blob(blobs[index], ctx)

    with ThreadPoolExecutor(60) as pool:
        results = list(pool.map(drop, range(len(blobs))))
    assert 3 <= len(service.jobs) <= 8  # grouped, and cut by the window (about one job a second)
    assert set(jobs_by_file(service).values()) == {1}
    for result in results:
        record = ctx.records.get_open(result.key)
        waited = (submission_of(ctx, result.key).submitted_at - record.claimed_at).total_seconds()
        assert waited < 1 + 1.0, f"{record.source_name} waited {waited:.1f}s for its job"


def test_files_that_trickle_in_slower_than_a_start_call_each_go_at_once(ctx, service, monkeypatch):
    real_time(ctx)
    slow_start(service, monkeypatch, seconds=0.05)
    results = []
    for index in range(5):
        results.append(submit_dropped_blob(upload(ctx, f"trickle/{index}.txt", b"Hello"), ctx))
        time.sleep(0.1)
    assert {result.action for result in results} == {"submitted"}


def test_later_jobs_of_a_bulk_still_arriving_wait_longer_up_to_the_bound(make_context):
    seconds = [grouping.window_after(make_context(), made).total_seconds() for made in range(6)]
    assert seconds == [5, 10, 20, 30, 30, 30]  # the default bound is 30 s
    assert grouping.window_after(make_context(GROUPING_WINDOW_SECONDS="3"), 0).total_seconds() == 3
    assert grouping.window_after(make_context(GROUPING_WINDOW_SECONDS="0"), 4).total_seconds() == 0


def test_a_file_whose_plan_is_grouped_in_this_process_waits_without_asking_the_table(ctx, service, monkeypatch):
    blobs = [upload(ctx, f"here/{index}.txt", b"Hello") for index in range(3)]
    lease = grouping.acquire(ctx, plan_of(ctx, blobs[0]).digest)
    assert lease is not None and ctx.leases_here.holds(lease.plan, ctx.now())

    def asked(*args, **kwargs):
        raise AssertionError("the table was asked who groups a plan this process groups")

    monkeypatch.setattr(ctx.schedule, "acquire", asked)
    monkeypatch.setattr(grouping.submissions, "create", asked)
    results = [submit_dropped_blob(blob, ctx) for blob in blobs[1:]]
    assert {result.action for result in results} == {"waiting"}
    monkeypatch.undo()

    assert grouping.keep_grouping(ctx, lease, patient=False) == 1
    assert not ctx.leases_here.holds(lease.plan, ctx.now())  # unmarked before it was let go
    assert ctx.schedule.lease(lease.plan) is None
    [job] = service.jobs.values()
    assert sorted(source_name(item) for item in job.inputs) == ["here/1.txt", "here/2.txt"]


def test_a_lease_held_here_by_an_invocation_that_died_counts_only_until_it_expires(ctx, service, clock):
    blobs = [upload(ctx, f"died/{index}.txt", b"Hello") for index in range(2)]
    lease = grouping.acquire(ctx, plan_of(ctx, blobs[0]).digest)
    assert lease is not None
    assert submit_dropped_blob(blobs[0], ctx).action == "waiting"  # its holder died without letting go

    clock.advance(grouping.LEASE_TIME.total_seconds() + 1)
    assert not ctx.leases_here.holds(lease.plan, ctx.now())
    submit_dropped_blob(blobs[1], ctx)  # the next drop takes the plan over, and groups what waited
    [job] = service.jobs.values()
    assert sorted(source_name(item) for item in job.inputs) == ["died/0.txt", "died/1.txt"]


def test_a_group_refused_as_a_whole_is_split_so_only_the_bad_file_fails(ctx, service):
    blobs = [upload(ctx, f"split/{index}.txt", b"Hello") for index in range(8)]
    lease = hold_lease(ctx, blobs[0])
    results = [submit_dropped_blob(blob, ctx) for blob in blobs]
    assert {result.action for result in results} == {"waiting"}
    service.refuse_sources = {"split/5.txt"}
    grouping.keep_grouping(ctx, Lease(lease.plan, "someone else", lease.expires_at, lease.etag), patient=False)

    bad = ctx.records.get_open(results[5].key)
    assert bad.state == State.FINISHING and bad.reason_code == "InvalidSourceUrl"
    for index, result in enumerate(results):
        if index != 5:
            assert submission_of(ctx, result.key).state == SubmissionState.SUBMITTED
    # 1 refused call for 8, then halves: at most 2 refused calls a level, each level halving the group.
    assert len(service.start_calls) <= 1 + 2 * 3
    assert set(jobs_by_file(service).values()) == {1}
    assert "split/5.txt" not in jobs_by_file(service)


def test_waiting_files_whose_grouper_died_are_grouped_by_the_poll(ctx, service, clock):
    blobs = [upload(ctx, f"orphans/{index}.txt", b"Hello") for index in range(5)]
    hold_lease(ctx, blobs[0], holder="a dead instance", seconds=20)
    results = [submit_dropped_blob(blob, ctx) for blob in blobs]
    assert service.start_calls == []
    assert poll_outstanding_jobs(ctx).grouped == 0  # not due yet: the grouper may be working

    clock.advance((grouping.BACKSTOP_AFTER + timedelta(seconds=grouping.BACKSTOP_BUCKET_SECONDS + 1)).total_seconds())
    assert poll_outstanding_jobs(ctx).grouped == 1
    [job] = service.jobs.values()
    assert len(job.inputs) == 5
    assert {job_of(ctx, result.key) for result in results} == {job.id}


def test_a_lost_answer_to_a_group_start_call_is_found_by_its_staging_names(ctx, service, clock):
    blobs = [upload(ctx, f"lost/{index}.txt", b"Hello") for index in range(4)]
    lease = hold_lease(ctx, blobs[0])
    results = [submit_dropped_blob(blob, ctx) for blob in blobs]
    service.create_then_fail = SubmissionUncertainError("answer lost", status_code=502)
    grouping.keep_grouping(ctx, Lease(lease.plan, "someone else", lease.expires_at, lease.etag), patient=False)
    [created] = service.jobs
    assert submission_of(ctx, results[0].key).state == SubmissionState.UNCERTAIN

    clock.advance(5)
    summary = poll_outstanding_jobs(ctx)
    assert (summary.reconciled, summary.resubmitted) == (1, 0)
    assert {job_of(ctx, result.key) for result in results} == {created}
    assert len(service.start_calls) == 1


def test_a_newer_version_of_one_file_leaves_its_neighbours_job_alone(ctx, service, clock):
    blobs = [upload(ctx, f"shared/{index}.txt", f"Hello {index}".encode()) for index in range(3)]
    lease = hold_lease(ctx, blobs[0])
    first = [submit_dropped_blob(blob, ctx) for blob in blobs]
    grouping.keep_grouping(ctx, Lease(lease.plan, "someone else", lease.expires_at, lease.etag), patient=False)
    [shared_job] = service.jobs

    clock.advance(1)  # versions are ordered by Last-Modified, then by when they were claimed
    newer = submit_dropped_blob(upload(ctx, "shared/1.txt", b"Hello again"), ctx)
    assert newer.action == "submitted" and newer.job_id != shared_job
    assert service.calls.get("cancel", 0) == 0  # two files of that job still need it
    assert ctx.records.get_open(first[1].key).superseded_by == newer.key

    service.finish(shared_job)
    service.finish(newer.job_id)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    finals = {final.key: final for final in record_all(ctx)}
    assert finals[first[0].key].outcome == "Succeeded" and finals[first[2].key].outcome == "Succeeded"
    assert finals[first[1].key].outcome == "Superseded"
    # Its job carried on for the other two files, and succeeded: not "cancelled".
    message = finals[first[1].key].reason_message
    assert f"its job {shared_job} ended Succeeded" in message and "cancel" not in message
    assert finals[newer.key].outcome == "Succeeded"
    _, metadata = read_target(ctx, "fr/shared/1.txt")
    assert metadata["translatedfrom"] == ctx.records.get_final(newer.key).source_etag


def test_a_job_whose_every_file_was_superseded_is_cancelled(ctx, service, clock):
    first = submit_dropped_blob(upload(ctx, "cancel-me.txt", b"Hello"), ctx)
    clock.advance(1)
    second = submit_dropped_blob(upload(ctx, "cancel-me.txt", b"Hello again"), ctx)
    assert service.calls["cancel"] == 1
    assert service.jobs[first.job_id].status == "Cancelled"
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    finals = {final.key: final for final in record_all(ctx)}
    assert finals[first.key].outcome == "Superseded"
    assert f"its job {first.job_id} was cancelled" in finals[first.key].reason_message
    assert second.key not in finals  # its own job still runs


def test_a_claim_whose_claimer_died_before_it_waited_is_grouped_when_its_event_comes_again(ctx, service):
    blob = upload(ctx, "half-claimed.txt", b"Hello")
    properties = blob.get_blob_properties()
    source = SourceVersion.of(blob.container_name, blob.blob_name, properties)
    plan = plan_of(ctx, blob)
    claimed = claim(ctx, source, state=State.WAITING, plan=plan)  # ... then the process died
    assert claimed is not None
    hold_lease(ctx, blob)  # someone else groups: the redelivery must make it wait for them

    result = submit_dropped_blob(blob, ctx)
    assert result.action == "waiting"
    [waiting] = ctx.schedule.waiting(plan.digest, limit=10)
    assert waiting.key == claimed.key


def test_a_job_refused_at_validation_ends_only_the_file_that_was_deleted(ctx, service, clock):
    blobs = [upload(ctx, f"validation/{index}.txt", b"Hello") for index in range(4)]
    lease = hold_lease(ctx, blobs[0])
    results = [submit_dropped_blob(blob, ctx) for blob in blobs]
    grouping.keep_grouping(ctx, Lease(lease.plan, "someone else", lease.expires_at, lease.etag), patient=False)
    [job_id] = service.jobs
    blobs[2].delete_blob()
    service.finish(job_id, status="ValidationFailed", write=False)
    clock.advance(5)
    poll_outstanding_jobs(ctx)

    gone = ctx.records.get_open(results[2].key)
    assert gone.state == State.FINISHING and gone.reason_code == "SourceDeleted"
    resubmitted = {job_of(ctx, result.key) for index, result in enumerate(results) if index != 2}
    assert len(resubmitted) == 1 and job_id not in resubmitted
    assert len(service.jobs[resubmitted.pop()].inputs) == 3
