"""A job is looked at when its translations are written (Event Grid on the staging names), about
once a second however many are written at once; the poll stays the backstop."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from azure.storage.blob import BlobClient

from shared.pipeline import finishing
from shared.pipeline import translation_written as written
from shared.pipeline.poll import poll_outstanding_jobs, poll_shard
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.pipeline.translation_written import Notice, notice_translation_written
from shared.storage.blob_names import staging_blob_name
from shared.storage.records import State
from tests.pipeline.conftest import drain_results, real_time, slow_start, submission_of, upload
from tests.pipeline.fake_service import source_name

pytestmark = pytest.mark.integration


def staging(ctx, key: str, language: str, name: str, attempt: int = 1) -> str:
    return staging_blob_name(key, attempt, language, name)


def write_translation(service, job_id: str, name: str, language: str, *, final: bool = True) -> None:
    """The service writes one document (and, unless `final` is False, says so in its status)."""
    job = service.jobs[job_id]
    for item, target in job.documents():
        if source_name(item) == name and target.language == language:
            BlobClient.from_blob_url(target.url).upload_blob(f"[{language}] translated".encode(), overwrite=True)
            if final:
                job.document_status[(name, language)] = "Succeeded"
            return
    raise AssertionError(f"{name}:{language} is not in job {job_id}")


def end_job(service, job_id: str) -> None:
    job = service.jobs[job_id]
    if all(status in ("Succeeded", "Failed") for status in job.document_status.values()):
        job.status = "Succeeded"


@pytest.fixture
def promises(monkeypatch) -> list[str]:
    """The promised looks sent to the poll-shards queue (still invisible there until due)."""
    sent: list[str] = []
    original = written._send_follow_up

    def send(ctx, submission_id, at, now):
        sent.append(written.follow_up_message(submission_id, at))
        original(ctx, submission_id, at, now)

    monkeypatch.setattr(written, "_send_follow_up", send)
    return sent


def shared_job(ctx, service, clock, monkeypatch, names: list[str]):
    """Files that land together while a start call runs: the first goes alone, the others share a job.
    Returns the shared job's id and its files' submit results (the clock is the test's again)."""
    real_time(ctx)
    slow_start(service, monkeypatch)
    blobs = [upload(ctx, name, b"Hello") for name in names]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda blob: submit_dropped_blob(blob, ctx), blobs))
    job = max(service.jobs.values(), key=lambda job: len(job.inputs))
    members = {source_name(item) for item in job.inputs}
    ctx.now, ctx.sleep = clock, clock.sleep
    clock.moment = datetime.now(UTC)
    shared = [(result, name) for result, name in zip(results, names, strict=True) if name in members]
    return job.id, shared


def test_a_file_whose_translations_are_all_written_ends_its_job_with_one_document_list(ctx, service):
    result = submit_dropped_blob(upload(ctx, "letter.txt", b"Hello"), ctx)
    write_translation(service, result.job_id, "letter.txt", "fr")
    assert notice_translation_written(ctx, staging(ctx, result.key, "fr", "letter.txt")) is Notice.FILE_NOT_WRITTEN
    assert "documents" not in service.calls  # half written: the service is not asked
    write_translation(service, result.job_id, "letter.txt", "de")
    end_job(service, result.job_id)

    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "letter.txt")) is Notice.LOOKED

    record = ctx.records.get_open(result.key)
    assert record.state is State.FINISHING and record.job_status == "Succeeded"
    assert [document.status for document in record.documents] == ["Succeeded", "Succeeded"]
    # One call: the document list was the look and the hand-over's list at once.
    assert service.calls.get("documents") == 1 and "get_job" not in service.calls and "list" not in service.calls
    [message] = drain_results(ctx)
    assert record_outcome(message, ctx).outcome.value == "Succeeded"
    # A late or repeated event for a recorded file asks nothing.
    assert notice_translation_written(ctx, staging(ctx, result.key, "fr", "letter.txt")) is Notice.NOT_FOLLOWED
    assert service.calls.get("documents") == 1


def test_the_documents_decide_even_before_the_job_status_says_it_ended(ctx, service):
    result = submit_dropped_blob(upload(ctx, "early.txt", b"Hello"), ctx)
    write_translation(service, result.job_id, "early.txt", "fr")
    write_translation(service, result.job_id, "early.txt", "de")
    assert service.jobs[result.job_id].status == "Running"  # the job's own status lags its documents

    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "early.txt")) is Notice.LOOKED

    record = ctx.records.get_open(result.key)
    # Every document final and none cancelled: the job ends Succeeded, as the service will say.
    assert record.state is State.FINISHING and record.job_status == "Succeeded"


def test_an_event_before_the_documents_status_promises_one_follow_up_that_finishes_the_job(
    ctx, service, clock, promises
):
    result = submit_dropped_blob(upload(ctx, "soon.txt", b"Hello"), ctx)
    clock.advance(2)
    write_translation(service, result.job_id, "soon.txt", "fr")
    write_translation(service, result.job_id, "soon.txt", "de", final=False)  # written, not yet Succeeded

    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "soon.txt")) is Notice.LOOKED
    assert ctx.records.get_open(result.key).state is State.GROUPED
    [promise] = promises  # its end is near: a look of its own follows
    assert json.loads(promise)["look"] == submission_of(ctx, result.key).id

    service.jobs[result.job_id].document_status[("soon.txt", "de")] = "Succeeded"
    end_job(service, result.job_id)
    clock.advance(1)
    assert poll_shard(ctx, promise).polled == 1
    assert ctx.records.get_open(result.key).state is State.FINISHING
    assert service.calls["documents"] == 2


def test_many_files_written_at_once_make_one_look_that_hands_them_over_before_the_job_ends(
    ctx, service, clock, monkeypatch, promises
):
    job_id, files = shared_job(ctx, service, clock, monkeypatch, [f"bulk/doc{index}.txt" for index in range(8)])
    assert len(files) == 7
    clock.advance(3)
    for _, name in files[:6]:
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")

    notices = [notice_translation_written(ctx, staging(ctx, result.key, "de", name)) for result, name in files[:6]]

    # The first event's look lists the job: the six files written are handed over at once, while the
    # job runs on for the seventh; the other five events find their file with the record step.
    assert notices == [Notice.LOOKED] + [Notice.NOT_FOLLOWED] * 5
    assert service.calls["documents"] == 1
    assert [ctx.records.get_open(result.key).state for result, _ in files] == [State.FINISHING] * 6 + [State.GROUPED]
    assert ctx.records.get_open(files[0][0].key).job_status == "Succeeded"
    assert len(promises) == 1  # its end is near: a look of its own follows

    last, last_name = files[6]
    write_translation(service, job_id, last_name, "fr")
    write_translation(service, job_id, last_name, "de")
    end_job(service, job_id)
    # The same promise covers it, and it is a second away: this event waits for it and looks.
    assert notice_translation_written(ctx, staging(ctx, last.key, "de", last_name)) is Notice.LOOKED_WHEN_PROMISED
    assert len(promises) == 1
    assert {ctx.records.get_open(result.key).state for result, _ in files} == {State.FINISHING}
    assert service.calls["documents"] == 2
    assert poll_shard(ctx, promises[0]).polled == 0  # the queue's copy of the promise finds it kept
    assert service.calls["documents"] == 2
    # The job's end hands over the last file, and the six again (not recorded yet: harmless).
    assert {json.loads(text)["key"] for text in drain_results(ctx)} == {result.key for result, _ in files}


def test_a_promised_look_is_dropped_when_a_look_started_after_it_was_promised(
    ctx, service, clock, monkeypatch, promises
):
    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["a.txt", "b.txt", "c.txt", "d.txt"])
    (first, first_name), (second, second_name), (third, third_name) = files
    clock.advance(3)
    for _, name in files[:2]:
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")
    assert notice_translation_written(ctx, staging(ctx, first.key, "de", first_name)) is Notice.LOOKED
    assert notice_translation_written(ctx, staging(ctx, second.key, "de", second_name)) is Notice.NOT_FOLLOWED
    [promise] = promises

    # Before the promise is taken up, the last file is written and another instance looks.
    clock.advance(40)
    write_translation(service, job_id, third_name, "fr")
    write_translation(service, job_id, third_name, "de")
    end_job(service, job_id)
    ctx.looks_here.__init__()  # what another instance remembers: nothing
    assert notice_translation_written(ctx, staging(ctx, third.key, "de", third_name)) is Notice.LOOKED
    calls = service.calls["documents"]

    assert poll_shard(ctx, promise).polled == 0
    assert service.calls["documents"] == calls


def test_a_job_of_more_documents_than_one_page_is_looked_at_by_its_status(ctx, service, clock, monkeypatch):
    monkeypatch.setattr(finishing, "DOCUMENTS_PER_PAGE", 3)
    monkeypatch.setattr(written, "LISTED_LOOK_PAGES", 1)
    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["w.txt", "x.txt", "y.txt"])
    clock.advance(3)
    for _, name in files:
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")
    end_job(service, job_id)
    before = service.calls.get("documents", 0)

    result, name = files[-1]
    assert notice_translation_written(ctx, staging(ctx, result.key, "de", name)) is Notice.LOOKED

    assert service.calls["get_job"] == 1  # one status read for the look...
    assert service.calls["documents"] - before == 2  # ...then the 4 documents, 3 a page, for the hand-over
    assert {ctx.records.get_open(result.key).state for result, _ in files} == {State.FINISHING}


def test_a_job_with_cancelled_documents_is_read_for_its_own_status(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "gone.txt", b"Hello"), ctx)
    clock.advance(2)
    write_translation(service, result.job_id, "gone.txt", "fr")
    write_translation(service, result.job_id, "gone.txt", "de")
    job = service.jobs[result.job_id]
    job.document_status[("gone.txt", "de")] = "Cancelled"
    job.status = "Cancelled"

    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "gone.txt")) is Notice.LOOKED

    assert service.calls["get_job"] == 1
    assert ctx.records.get_open(result.key).job_status == "Cancelled"


def test_events_for_another_attempt_or_names_outside_staging_ask_nothing(ctx, service):
    result = submit_dropped_blob(upload(ctx, "other.txt", b"Hello"), ctx)
    assert notice_translation_written(ctx, "fr/other.txt") is Notice.NOT_STAGING
    assert notice_translation_written(ctx, staging(ctx, result.key, "fr", "other.txt", attempt=7)) is (
        Notice.NOT_FOLLOWED
    )
    assert service.calls.get("documents") is None and service.calls.get("get_job") is None


def test_lost_events_leave_the_job_to_the_poll_and_the_looks_record_goes_with_the_submission(
    ctx, service, clock, promises
):
    result = submit_dropped_blob(upload(ctx, "quiet.txt", b"Hello"), ctx)
    clock.advance(2)
    write_translation(service, result.job_id, "quiet.txt", "fr")
    write_translation(service, result.job_id, "quiet.txt", "de", final=False)
    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "quiet.txt")) is Notice.LOOKED
    submission = submission_of(ctx, result.key)
    assert ctx.schedule.get_look(submission.id) is not None
    assert promises  # the promised look is lost too: it is never taken up

    service.finish(result.job_id)
    clock.advance(60)
    assert poll_outstanding_jobs(ctx).finished == 1  # the backstop
    for message in drain_results(ctx):
        record_outcome(message, ctx)
    clock.advance(600)
    poll_outstanding_jobs(ctx)  # the submission's last look: every file recorded, it goes
    assert ctx.schedule.get_submission(submission.id) is None
    assert ctx.schedule.get_look(submission.id) is None


def test_a_document_the_service_sits_on_costs_a_few_promised_looks_then_waits_for_the_poll(
    ctx, service, clock, promises
):
    result = submit_dropped_blob(upload(ctx, "stuck.txt", b"Hello"), ctx)
    clock.advance(2)
    write_translation(service, result.job_id, "stuck.txt", "fr")
    write_translation(service, result.job_id, "stuck.txt", "de", final=False)  # and it stays Running
    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "stuck.txt")) is Notice.LOOKED

    gaps = []
    taken = 0
    while taken < len(promises) and taken < 20:
        promise = json.loads(promises[taken])
        gaps.append((datetime.fromisoformat(promise["at"]) - clock()).total_seconds())
        clock.moment = datetime.fromisoformat(promise["at"])
        assert poll_shard(ctx, promises[taken]).polled == 1
        taken += 1

    assert gaps == [1, 2, 4, 8]  # the event's look promised one, and each promised look one more, backing off
    assert service.calls["documents"] == 1 + 4
    assert ctx.records.get_open(result.key).state is State.GROUPED  # the poll's backstop takes it from here


def test_a_translation_written_before_the_job_id_is_on_record_promises_a_look_for_once_it_is(
    ctx, service, clock, promises, monkeypatch
):
    from shared.pipeline import submissions

    # The service writes both translations while its start call's answer is still on its way.
    recorded = submissions.submitted
    early: list[str] = []

    def submitted_after_the_writes(ctx_, submission, job_id):
        for member in submission.members:
            for language in submission.languages:
                write_translation(service, job_id, member.name, language)
            early.append(notice_translation_written(ctx_, staging(ctx_, member.key, "de", member.name)))
        return recorded(ctx_, submission, job_id)

    monkeypatch.setattr(submissions, "submitted", submitted_after_the_writes)
    result = submit_dropped_blob(upload(ctx, "quick.txt", b"Hello"), ctx)
    end_job(service, result.job_id)

    assert early == [Notice.LOOKED]  # it found no job id on record yet...
    [promise] = promises  # ...so it promised a look for a second later
    clock.advance(1)
    assert poll_shard(ctx, promise).polled == 1
    assert ctx.records.get_open(result.key).state is State.FINISHING


def test_documents_ending_between_promised_looks_keep_them_a_second_apart(make_context, service, clock, promises):
    ctx = make_context(TARGET_LANGUAGES="fr,de,es")
    result = submit_dropped_blob(upload(ctx, "pace.txt", b"Hello"), ctx)
    clock.advance(2)
    for language in ("fr", "de", "es"):  # all written; the service says so one document at a time
        write_translation(service, result.job_id, "pace.txt", language, final=language == "fr")
    assert notice_translation_written(ctx, staging(ctx, result.key, "es", "pace.txt")) is Notice.LOOKED

    def take_promise(index: int) -> float:
        promise = json.loads(promises[index])
        gap = (datetime.fromisoformat(promise["at"]) - clock()).total_seconds()
        clock.moment = datetime.fromisoformat(promise["at"])
        assert poll_shard(ctx, promises[index]).polled == 1
        return gap

    gaps = [take_promise(0)]  # fr done: a second later
    gaps.append(take_promise(1))  # nothing new since: backing off (2 s)...
    service.jobs[result.job_id].document_status[("pace.txt", "de")] = "Succeeded"
    gaps.append(take_promise(2))  # ...and 4 s; this look finds de done since:
    gaps.append(take_promise(3))  # the back-off is over: a second again, not 8 s
    assert [round(gap, 1) for gap in gaps] == [1, 2, 4, 1]


def test_files_recorded_before_their_job_ends_are_not_handed_over_again_at_its_end(
    ctx, service, clock, monkeypatch, promises
):
    from tests.pipeline.conftest import record_all

    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["p.txt", "q.txt", "r.txt", "s.txt"])
    clock.advance(3)
    for _, name in files[:2]:
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")
    assert notice_translation_written(ctx, staging(ctx, files[0][0].key, "de", files[0][1])) is Notice.LOOKED
    early = record_all(ctx)
    assert sorted(final.source_name for final in early) == sorted(name for _, name in files[:2])
    assert {final.outcome.value for final in early} == {"Succeeded"}

    last, last_name = files[2]
    write_translation(service, job_id, last_name, "fr")
    write_translation(service, job_id, last_name, "de")
    end_job(service, job_id)
    clock.advance(5)
    ctx.looks_here.__init__()
    assert notice_translation_written(ctx, staging(ctx, last.key, "de", last_name)) is Notice.LOOKED

    assert [json.loads(text)["key"] for text in drain_results(ctx)] == [last.key]  # only the one still open
    assert ctx.records.get_final(last.key) is None and ctx.records.get_open(last.key).state is State.FINISHING


def test_an_event_waits_for_no_promised_look_further_than_a_second_away(ctx, service, clock, monkeypatch, promises):
    monkeypatch.setattr(finishing, "DOCUMENTS_PER_PAGE", 3)
    monkeypatch.setattr(written, "LISTED_LOOK_PAGES", 1)
    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["p.txt", "q.txt", "r.txt", "s.txt"])
    clock.advance(30)
    (first, first_name), (second, second_name) = files[:2]
    for name in (first_name, second_name):
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")
    assert notice_translation_written(ctx, staging(ctx, first.key, "de", first_name)) is Notice.LOOKED
    # One of three files done in 30 s: the next look is 10 s on (a third of the 60 s still needed,
    # at most 10 s while its documents keep ending).
    before = clock()

    assert notice_translation_written(ctx, staging(ctx, second.key, "de", second_name)) is Notice.LOOK_PROMISED

    assert clock() == before  # it did not wait: the queue message takes that look
    assert len(promises) == 1 and service.calls["get_job"] == 1


def test_an_instance_that_had_every_language_s_event_does_not_list_the_staging_folder(ctx, service, monkeypatch):
    from azure.storage.blob import ContainerClient

    listings: list[str] = []
    real_list_blobs = ContainerClient.list_blobs

    def counted(self, *args, **kwargs):
        listings.append(self.container_name)
        return real_list_blobs(self, *args, **kwargs)

    monkeypatch.setattr(ContainerClient, "list_blobs", counted)
    result = submit_dropped_blob(upload(ctx, "both.txt", b"Hello"), ctx)
    write_translation(service, result.job_id, "both.txt", "fr")
    assert notice_translation_written(ctx, staging(ctx, result.key, "fr", "both.txt")) is Notice.FILE_NOT_WRITTEN
    assert listings.count(ctx.settings.target_container) == 1  # de's event may go to another instance
    write_translation(service, result.job_id, "both.txt", "de")
    end_job(service, result.job_id)

    assert notice_translation_written(ctx, staging(ctx, result.key, "de", "both.txt")) is Notice.LOOKED

    assert listings.count(ctx.settings.target_container) == 1  # both events came here: no listing
    assert ctx.records.get_open(result.key).state is State.FINISHING


def test_once_an_instance_saw_every_file_of_a_job_written_its_pace_no_longer_delays_the_look(
    ctx, service, clock, monkeypatch, promises
):
    monkeypatch.setattr(finishing, "DOCUMENTS_PER_PAGE", 3)
    monkeypatch.setattr(written, "LISTED_LOOK_PAGES", 1)
    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["t.txt", "u.txt", "v.txt", "w.txt"])
    clock.advance(30)
    (first, first_name), (second, second_name), (last, last_name) = files
    for name in (first_name, second_name):
        write_translation(service, job_id, name, "fr")
        write_translation(service, job_id, name, "de")
    assert notice_translation_written(ctx, staging(ctx, first.key, "de", first_name)) is Notice.LOOKED
    assert notice_translation_written(ctx, staging(ctx, second.key, "de", second_name)) is Notice.LOOK_PROMISED
    looked_at = clock()  # its pace set the next look 10 s on
    write_translation(service, job_id, last_name, "fr")
    write_translation(service, job_id, last_name, "de")
    end_job(service, job_id)

    # The last file's event: this instance saw all three written, so the look is a second after the last.
    assert notice_translation_written(ctx, staging(ctx, last.key, "de", last_name)) is Notice.LOOKED_WHEN_PROMISED

    assert (clock() - looked_at).total_seconds() == 1
    assert {ctx.records.get_open(result.key).state for result, _ in files} == {State.FINISHING}


def test_a_large_job_whose_documents_keep_ending_is_looked_at_within_ten_seconds_and_a_stuck_one_is_left(
    ctx, service, clock, monkeypatch, promises
):
    monkeypatch.setattr(finishing, "DOCUMENTS_PER_PAGE", 3)
    monkeypatch.setattr(written, "LISTED_LOOK_PAGES", 1)
    job_id, files = shared_job(ctx, service, clock, monkeypatch, ["k.txt", "l.txt", "m.txt", "n.txt"])
    clock.advance(30)
    first, first_name = files[0]
    write_translation(service, job_id, first_name, "fr")
    write_translation(service, job_id, first_name, "de")
    assert notice_translation_written(ctx, staging(ctx, first.key, "de", first_name)) is Notice.LOOKED

    # Its pace says 20 s (a third of the 60 s it seems to need still); its events may be spread over
    # instances that each see a few, so it promises itself a look 10 s on.
    assert len(promises) == 1
    gaps = []
    for _ in range(4):  # the job then sits on its documents: each promised look finds nothing new
        at = datetime.fromisoformat(json.loads(promises[-1])["at"])
        gaps.append((at - clock()).total_seconds())
        clock.moment = at
        before = len(promises)
        assert poll_shard(ctx, promises[-1]).polled == 1
        if len(promises) == before:
            break
    # The promised look found nothing new: paced again (27 s), so no look of its own; events or the poll.
    assert gaps == [10]
    assert len(promises) == 1
